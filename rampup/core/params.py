"""Argument kinds shared by every phase: one validator per kind, one message style.

Every error names the argument, the value received and what is accepted, e.g.
``cosine: floor: got 1.5; accepted: a fraction of the peak in [0, 1] (0.1 or '10%')``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .units import MAX_STEPS, Length, whole_number

__all__ = ["ACCEPTS", "REQUIRED", "Param", "convert", "register_kind"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# kind -> human description of what is accepted
ACCEPTS = {
    "length": "steps as an int, or '2%', '3ep', '10Mtok'",
    "lengths": "a list of lengths, e.g. [30%, 60%] or [3000, 6000]",
    "fraction": "a fraction of the peak in [0, 1] (0.1 or '10%')",
    "fractions": "a list of fractions of the peak in [0, 1], e.g. [0.01, 0.5, 1.0]",
    "lr": "an absolute learning rate > 0",
    "positive": "a finite number > 0",
    "nonneg": "a finite number >= 0",
    "beta": "a number strictly between 0 and 1",
    "posint": "an int >= 1",
    "bool": "true or false",
    "choice": "one of {choices}",
    "number": "a finite number",
    # kinds other libraries' APIs need (compat specs): whole numbers kept ints, counts, lists of numbers
    "int": "an int >= 0",
    "ints": "a list of ints >= 0, e.g. [30, 60]",
    "count": "a number >= 0",
    "numbers": "a list of finite numbers, e.g. [0.1, 0.4, 0.5]",
}

# Kinds whose reading lives above the core (a composer time, a list of nested compat specs, ...):
# kind -> converter(where, value, param), added by register_kind.
_CONVERTERS: dict[str, Callable[[str, Any, Param], Any]] = {}


def register_kind(kind: str, accepts: str, converter: Callable[[str, Any, Param], Any]) -> None:
    """Add an argument kind: ``accepts`` is its description (``{prefix}`` / ``{choices}`` are filled in),
    ``converter(where, value, param)`` validates a value and returns its normal form (compat adds
    ``time``, ``times``, ``phases`` and ``pairs`` this way, so one :func:`convert` reads every argument)."""
    if kind in ACCEPTS and _CONVERTERS.get(kind) is not converter:
        raise ValueError(f"argument kind {kind!r} is already defined")
    ACCEPTS[kind] = accepts
    _CONVERTERS[kind] = converter


@dataclass(frozen=True)
class Param:
    """One argument of a phase: its kind, default and documentation."""

    kind: str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()
    prefix: str = ""  # kind 'phases': the accepted spec-name prefix, e.g. 'torch:'

    def accepts(self) -> str:
        return ACCEPTS[self.kind].format(choices=", ".join(self.choices), prefix=self.prefix)


def _err(where: str, value: Any, param: Param, cls: type[Exception] = ValueError) -> Exception:
    return cls(f"{where}: got {value!r}; accepted: {param.accepts()}")


def _number(where: str, value: Any, param: Param, keep_int: bool = False) -> float | int:
    """A finite number (a string is read too: ``'10%'`` for a fraction).  ``keep_int``: an int, or a
    string of digits, stays an int, as other libraries keep it (the compat kinds ``int`` / ``count``)."""
    shown = value
    x: Any
    if isinstance(value, str):
        txt = value.strip()
        try:
            if keep_int and txt.lstrip("+-").isdigit():
                x = int(txt)
            elif txt.endswith("%") and param.kind == "fraction":
                x = float(txt[:-1]) / 100.0
            else:
                x = float(txt)
        except ValueError:
            raise _err(where, value, param) from None
        if keep_int:
            shown = x  # the compat kinds name the number read
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy scalars are Real too
        raise _err(where, value, param, TypeError)
    else:
        x = value
    if not math.isfinite(x):
        raise _err(where, shown, param)
    return int(x) if keep_int and isinstance(x, numbers.Integral) else float(x)  # np.int64(3) -> 3


_INT = Param("int")


def convert(where: str, value: Any, param: Param) -> Any:
    """Validate ``value`` for ``param`` and return its normal form."""
    k = param.kind
    if k in _CONVERTERS:
        return _CONVERTERS[k](where, value, param)
    if k in ("int", "count"):
        x = _number(where, value, param, keep_int=True)
        if k == "int":
            # The one rule for whole numbers: 10, 10.0 and np.int64(10) are 10; 10.5 is refused.
            x = whole_number(where, x, param.accepts())
            if x > MAX_STEPS:
                raise ValueError(
                    f"{where}: got {value!r:.40}; accepted: {param.accepts()}, at most 2**53 = {MAX_STEPS}"
                )
        if x < 0:
            raise ValueError(f"{where}: got {value!r}; accepted: {param.accepts()}")
        return x
    if k in ("ints", "numbers"):
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}: got {value!r:.80}; accepted: {param.accepts()}")
        if k == "ints":
            return tuple(convert(f"{where}[{i}]", e, _INT) for i, e in enumerate(value))
        return tuple(float(_number(f"{where}[{i}]", e, param, keep_int=True)) for i, e in enumerate(value))
    if k == "length":
        return Length.parse(value, where)
    if k == "lengths":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _err(where, value, param, TypeError)
        return tuple(Length.parse(v, f"{where}[{i}]") for i, v in enumerate(value))
    if k == "fractions":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _err(where, value, param, TypeError)
        one = Param("fraction")
        return tuple(convert(f"{where}[{i}]", v, one) for i, v in enumerate(value))
    if k == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _err(where, value, param, TypeError)
    if k == "choice":
        if not isinstance(value, str) or value not in param.choices:
            raise _err(where, value, param, TypeError if not isinstance(value, str) else ValueError)
        return value
    if k == "posint":
        if isinstance(value, str):
            txt = value.strip()
            try:  # '512' and '512.0' read as the number, then the one int rule
                value = int(txt) if txt.isdigit() else float(txt)
            except ValueError:
                raise _err(where, value, param) from None
        n = whole_number(where, value, param.accepts())
        if n < 1:
            raise _err(where, value, param)
        if n > MAX_STEPS:  # float64, which every formula runs in, counts whole numbers exactly up to 2**53
            raise ValueError(f"{where}: got {value!r:.40}; accepted: {param.accepts()}, at most 2**53 = {MAX_STEPS}")
        return n
    x = _number(where, value, param)
    if k == "fraction" and not 0.0 <= x <= 1.0:
        raise _err(where, value, param)
    if k in ("lr", "positive") and not x > 0.0:
        raise _err(where, value, param)
    if k == "nonneg" and not x >= 0.0:
        raise _err(where, value, param)
    if k == "beta" and not 0.0 < x < 1.0:
        raise _err(where, value, param)
    return x


def to_json(value: Any) -> Any:
    """The dict-form (JSON) value of a normalized argument."""
    if isinstance(value, Length):
        return value.to_json()
    if isinstance(value, tuple):
        return [to_json(v) for v in value]
    return value


def to_text(value: Any) -> str:
    """The spec-string form of a normalized argument (round-trips through :func:`convert`)."""
    if isinstance(value, Length):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(to_text(v) for v in value) + "]"
    if callable(getattr(value, "to_text", None)):  # a nested phase: always a call, as the parser reads it
        text = str(value.to_text())
        return text if text.endswith(")") else text + "()"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
