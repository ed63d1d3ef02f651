"""Lengths in steps, percent of the run, epochs or tokens — converted to steps once.

A :class:`Length` remembers the unit the user wrote; :meth:`Length.to_steps`
turns it into whole optimizer steps given a :class:`RunInfo`.  The conversion
happens exactly once, when a spec is resolved into a schedule, and it fails
with a message naming what is missing (``total_steps`` for ``2%``,
``steps_per_epoch`` for ``3ep``, ``tokens_per_step`` for ``10Mtok``).

Written forms (the spec string and the dict form use the same text):

==============  ==========================================  ===============
text            meaning                                     needs
==============  ==========================================  ===============
``500``         500 optimizer steps                         —
``2%``          2 % of ``total_steps``, rounded to nearest  ``total_steps``
``3ep``         3 epochs (``0.5ep`` allowed)                ``steps_per_epoch``
``10Mtok``      10 million tokens (``k``, ``M``, ``B``)     ``tokens_per_step``
==============  ==========================================  ===============
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["Length", "LengthRoundingWarning", "RunInfo"]


class LengthRoundingWarning(UserWarning):
    """A non-zero length rounded to 0 steps (e.g. ``0.1%`` of a 300-step run)."""


_SCALE = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9}
_LEN_RE = re.compile(
    r"^(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"(?P<unit>%|ep|epochs?|steps?|[kKMBG]?tok(?:ens)?)?$"
)


@dataclass(frozen=True)
class RunInfo:
    """What is known about the run; needed to turn relative lengths into steps.

    >>> RunInfo(total_steps=1000).total_steps
    1000
    """

    total_steps: int | None = None
    steps_per_epoch: int | None = None
    tokens_per_step: int | None = None

    def __post_init__(self) -> None:
        for name in ("total_steps", "steps_per_epoch", "tokens_per_step"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name}: got {v!r} ({type(v).__name__}); accepted: a positive int or None")
            if v <= 0:
                raise ValueError(f"{name}: got {v!r}; accepted: a positive int or None")


@dataclass(frozen=True)
class Length:
    """A phase length in the unit the user wrote it in.

    >>> Length.parse("2%").to_steps(RunInfo(total_steps=1000))
    20
    >>> Length.parse(500).to_steps(RunInfo())
    500
    >>> Length.parse("0.5ep").to_steps(RunInfo(steps_per_epoch=300))
    150
    >>> str(Length.parse("10Mtok"))
    '10Mtok'
    """

    value: float
    unit: str = "steps"  # 'steps' | '%' | 'ep' | 'tok'
    text: str | None = None  # the original spelling, kept for exact round trips

    @staticmethod
    def parse(value: Any, name: str = "length") -> Length:
        if isinstance(value, Length):
            return value
        if isinstance(value, bool):
            raise TypeError(f"{name}: got {value!r}; accepted: steps as an int, or a string like '2%', '3ep', '10Mtok'")
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"{name}: got {value}; accepted: a length >= 0 steps")
            return Length(value, "steps")
        if isinstance(value, float):
            if value.is_integer() and value >= 0:
                raise TypeError(
                    f"{name}: got the float {value!r}; accepted: steps as an int ({int(value)}), "
                    "or a string like '2%', '3ep', '10Mtok'"
                )
            raise TypeError(
                f"{name}: got {value!r}; lengths are whole steps: write an int, "
                f"or a fraction of the run as a percent string like '{value * 100:g}%'"
            )
        if not isinstance(value, str):
            raise TypeError(
                f"{name}: got {type(value).__name__} {value!r:.40}; accepted: an int number of steps "
                "or a string like '2%', '3ep', '10Mtok'"
            )
        text = value.strip()
        m = _LEN_RE.match(text)
        if not m:
            raise ValueError(
                f"{name}: cannot read {value!r} as a length; accepted: '500' (steps), '2%' (of total_steps), "
                "'3ep' (epochs), '10Mtok' (tokens)"
            )
        num = float(m.group("num"))
        unit_txt = m.group("unit") or ""
        if not math.isfinite(num):
            raise ValueError(f"{name}: got {value!r}; accepted: a finite length")
        if unit_txt in ("", "step", "steps"):
            if not num.is_integer():
                raise ValueError(f"{name}: got {value!r}; a length in steps must be a whole number")
            return Length(int(num), "steps", None if unit_txt == "" and text == str(int(num)) else text)
        if unit_txt == "%":
            if num > 100:
                raise ValueError(f"{name}: got {value!r}; accepted: a percent of the run between 0% and 100%")
            return Length(_int_if_whole(num), "%", text)
        if unit_txt.startswith("ep"):
            return Length(_int_if_whole(num), "ep", text)
        scale = _SCALE[unit_txt[0]] if unit_txt[0] in _SCALE and unit_txt[0] != "t" else 1
        return Length(_int_if_whole(num * scale), "tok", text)

    def __str__(self) -> str:
        if self.text is not None:
            return self.text
        if self.unit == "steps":
            return str(int(self.value))
        if self.unit == "%":
            return f"{self.value!r}%"
        if self.unit == "ep":
            return f"{self.value!r}ep"
        return f"{self.value!r}tok"

    def __eq__(self, other: object) -> bool:
        # The spelling is presentation only: '1000tok' == '1ktok'.
        return isinstance(other, Length) and (self.value, self.unit) == (other.value, other.unit)

    def __hash__(self) -> int:
        return hash((self.value, self.unit))

    def to_json(self) -> int | str:
        """The dict-form value: an int for steps, else the string."""
        return int(self.value) if self.unit == "steps" and self.text is None else str(self)

    def to_steps(self, run: RunInfo, name: str = "length") -> int:
        """Whole optimizer steps; rounds to nearest and warns when a positive length rounds to 0."""
        if self.unit == "steps":
            return int(self.value)
        if self.unit == "%":
            if run.total_steps is None:
                raise ValueError(f"{name}: '{self}' is a fraction of the run and needs total_steps; pass total_steps=")
            exact = run.total_steps * self.value / 100.0
        elif self.unit == "ep":
            if run.steps_per_epoch is None:
                raise ValueError(f"{name}: '{self}' is in epochs and needs steps_per_epoch; pass steps_per_epoch=")
            exact = run.steps_per_epoch * self.value
        else:
            if run.tokens_per_step is None:
                raise ValueError(f"{name}: '{self}' is in tokens and needs tokens_per_step; pass tokens_per_step=")
            exact = self.value / run.tokens_per_step
        steps = math.floor(exact + 0.5)
        if steps == 0 and self.value > 0:
            warnings.warn(
                f"{name}: '{self}' is {exact:.3g} steps, which rounds to 0 steps: that phase is skipped",
                LengthRoundingWarning,
                stacklevel=3,
            )
        return steps


def _int_if_whole(x: float) -> float:
    return int(x) if float(x).is_integer() else x
