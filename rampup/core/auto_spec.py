"""``auto`` / ``auto(NAME=VALUE, ...)``: the warmup of a spec that is decided while training.

The spec grammar reads ``"auto(method=loss, growth=2) -> cosine(floor=0.1)"``
like any other spec; its warmup is an :class:`AutoWarmupSpec` instead of a
:class:`~rampup.core.phases.Phase`, because no closed form of the step exists
before the run: :meth:`Spec.resolve() <rampup.core.schedule.Spec.resolve>`
refuses it, and ``rampup.torch.AutoWarmup`` (or the factory
``rampup.torch.make_scheduler(optimizer, spec, ...)``) runs it.  The core reads the
options' *syntax* only; their names and values are checked by ``AutoWarmup``.

Option values are read as the grammar reads every argument: a whole number is an
``int``, another finite number a ``float``, ``true`` / ``false`` a ``bool``, any
other word (``loss``, ``2%``) stays a ``str``.

>>> from rampup.core import AutoWarmupSpec, Spec
>>> s = Spec.parse("auto(method=loss, growth=2) -> cosine(floor=0.1)")
>>> s.warmup
AutoWarmupSpec(options={'method': 'loss', 'growth': 2})
>>> str(s), s.to_dict()["warmup"]
('auto(method=loss, growth=2) -> cosine(floor=0.1)', {'phase': 'auto', 'method': 'loss', 'growth': 2})
>>> Spec(AutoWarmupSpec(), s.decay) == Spec.parse("auto -> cosine(floor=0.1)")
True
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["AUTO", "AutoWarmupSpec", "read_atom"]

AUTO = "auto"  # the warmup name the grammar reserves for an automatic warmup

# What the tokenizer reads as one atom (spec_text._TOKEN's atom group), and an option name.
_ATOM = re.compile(r"(?:[A-Za-z0-9_.+%:]|-(?!>))+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[+-]?[0-9]+")


def read_atom(text: str) -> int | float | bool | str:
    """An option value as the spec grammar reads a word: int, finite float, bool, else the word itself.

    >>> read_atom("2"), read_atom("1e-3"), read_atom("true"), read_atom("loss"), read_atom("2%")
    (2, 0.001, True, 'loss', '2%')
    """
    if _INT.fullmatch(text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    try:
        x = float(text)
    except ValueError:
        return text
    return x if math.isfinite(x) else text  # 'inf' / 'nan' are words: no argument accepts them as numbers


def _option_text(value: int | float | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class AutoWarmupSpec:
    """The warmup ``auto(NAME=VALUE, ...)`` of a spec: decided online by ``rampup.torch.AutoWarmup``.

    ``options`` maps each option name to its value (int, float, bool or str), in the
    order written.  A str value is read as the grammar reads it (``"2"`` becomes
    ``2``), so that the text and dict forms round-trip exactly.
    """

    options: dict[str, Any] = field(default_factory=dict)

    name: ClassVar[str] = AUTO
    role: ClassVar[str] = "warmup"

    def __post_init__(self) -> None:
        if not isinstance(self.options, dict):
            raise TypeError(
                f"auto: options: got {type(self.options).__name__}; accepted: a dict of NAME: VALUE, e.g. "
                "{'method': 'loss'}"
            )
        out: dict[str, Any] = {}
        for k, v in self.options.items():
            if not isinstance(k, str) or not _NAME.fullmatch(k):
                raise ValueError(f"auto: option name: got {k!r}; accepted: an identifier such as method or growth")
            out[k] = self._value(k, v)
        object.__setattr__(self, "options", out)

    @staticmethod
    def _value(key: str, v: Any) -> int | float | bool | str:
        accepted = "a number, true/false or a word (e.g. 2, 0.5, true, loss)"
        if isinstance(v, bool):
            return v
        if isinstance(v, str):
            if not _ATOM.fullmatch(v):
                raise ValueError(f"auto: {key}: got {v!r}; accepted: {accepted}")
            return read_atom(v)
        if isinstance(v, numbers.Integral):
            return int(v)
        if isinstance(v, numbers.Real):
            x = float(v)
            if not math.isfinite(x):
                raise ValueError(f"auto: {key}: got {v!r}; accepted: {accepted}")
            return x
        raise TypeError(f"auto: {key}: got {v!r:.60}; accepted: {accepted}")

    def __hash__(self) -> int:
        return hash((AUTO, tuple(self.options.items())))

    def to_text(self) -> str:
        """``auto`` or ``auto(NAME=VALUE, ...)``, which the parser reads back to an equal object."""
        if not self.options:
            return AUTO
        return f"{AUTO}({', '.join(f'{k}={_option_text(v)}' for k, v in self.options.items())})"

    def to_dict(self) -> dict[str, Any]:
        return {"phase": AUTO, **self.options}
