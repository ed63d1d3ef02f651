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
import numbers
import re
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_STEPS", "Length", "LengthRoundingWarning", "RunInfo", "whole_number"]

# The largest step count a run may have: 2**53 is where float64 -- the dtype every
# formula runs in -- stops telling consecutive steps apart (2**53 + 1 == 2**53).
MAX_STEPS = 2**53


def whole_number(where: str, value: Any, accepts: str) -> int:
    """``value`` as a Python int: the one rule for every whole-number argument.

    Accepted: an ``int``, a NumPy integer scalar, or a float (Python or NumPy)
    with no fractional part (``500.0`` is 500, as ``'500.0'`` is in a spec
    string).  ``bool`` and non-numbers are a ``TypeError``; ``500.5``, NaN and
    inf are a ``ValueError``.  Range checks are the caller's.

    >>> import numpy as np
    >>> whole_number("length", 500.0, "an int"), whole_number("length", np.int64(7), "an int")
    (500, 7)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy's bool_ is not Real either
        raise TypeError(f"{where}: got {type(value).__name__} {value!r:.40}; accepted: {accepts}")
    if isinstance(value, numbers.Integral):
        return int(value)
    x = float(value)
    if not math.isfinite(x) or not x.is_integer():
        raise ValueError(f"{where}: got {value!r}, which is not a whole number; accepted: {accepts}")
    return int(x)


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
            accepts = f"a positive int (at most 2**53 = {MAX_STEPS}) or None"
            n = whole_number(name, v, accepts)
            if not 0 < n <= MAX_STEPS:
                raise ValueError(f"{name}: got {v!r:.40}; accepted: {accepts}")
            object.__setattr__(self, name, n)  # normal form: np.int64(100) and 100.0 are stored as 100


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
        if isinstance(value, numbers.Real):  # int, 500.0, np.int64: the rule of every whole-number argument
            try:
                steps = whole_number(name, value, "")
            except ValueError:
                if not math.isfinite(value):
                    raise ValueError(f"{name}: got {value!r}; accepted: a finite length") from None
                raise ValueError(
                    f"{name}: got {value!r}; lengths are whole steps: write an int, "
                    f"or a fraction of the run as a percent string like '{float(value) * 100:g}%'"
                ) from None
            return Length(_check_steps(name, value, steps), "steps")
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
            steps = _check_steps(name, value, int(num))
            return Length(steps, "steps", None if unit_txt == "" and text == str(steps) else text)
        if unit_txt == "%":
            if num > 100:
                raise ValueError(f"{name}: got {value!r}; accepted: a percent of the run between 0% and 100%")
            return Length(_int_if_whole(num), "%", text)
        if unit_txt.startswith("ep"):
            return Length(_int_if_whole(num), "ep", text)
        scale = _SCALE[unit_txt[0]] if unit_txt[0] in _SCALE and unit_txt[0] != "t" else 1
        if not math.isfinite(num * scale):  # 1e308Btok
            raise ValueError(f"{name}: got {value!r}; accepted: a finite length")
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
            exact = float(run.steps_per_epoch) * self.value
        else:
            if run.tokens_per_step is None:
                raise ValueError(f"{name}: '{self}' is in tokens and needs tokens_per_step; pass tokens_per_step=")
            exact = self.value / float(run.tokens_per_step)
        if not exact <= MAX_STEPS:  # also inf and NaN (e.g. 1e308ep)
            raise ValueError(
                f"{name}: '{self}' is {exact:.4g} steps; accepted: a length of at most 2**53 = {MAX_STEPS} steps"
            )
        steps = math.floor(exact + 0.5)
        if steps == 0 and self.value > 0:
            warnings.warn(
                f"{name}: '{self}' is {exact:.3g} steps, which rounds to 0 steps: that phase is skipped",
                LengthRoundingWarning,
                stacklevel=3,
            )
        return steps


def _check_steps(name: str, value: Any, steps: int) -> int:
    if steps < 0:
        raise ValueError(f"{name}: got {value!r}; accepted: a length >= 0 steps")
    if steps > MAX_STEPS:
        raise ValueError(f"{name}: got {value!r:.40}; accepted: a length of at most 2**53 = {MAX_STEPS} steps")
    return steps


def _int_if_whole(x: float) -> float:
    return int(x) if float(x).is_integer() else x
