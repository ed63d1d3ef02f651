"""Argument checks of the torch layer: a bad value raises ``TypeError``/``ValueError`` naming the argument,
the value and what is accepted.

>>> as_float(0.5, "lr_mult[0]"), check_int(3, "window", 3), number_in(0.1, "start", 0.0, 1.0)
(0.5, 3, 0.1)
>>> check_choice("lr", "weight_decay", ("none", "warmup", "lr"))
'lr'
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

__all__ = ["as_float", "check_choice", "check_int", "is_number", "number_in"]


def is_number(x: Any) -> bool:
    """An int or a float, not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def as_float(value: Any, where: str) -> float:
    """A finite number >= 0 from a Python number or a one-element tensor."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{where}: got a tensor of shape {tuple(value.shape)}; accepted: a number or a 1-element tensor"
            )
        x = float(value.item())
    elif is_number(value):
        x = float(value)
    else:
        raise TypeError(f"{where}: got {value!r} ({type(value).__name__}); accepted: a finite number >= 0")
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{where}: got {value!r}; accepted: a finite number >= 0")
    return x


def check_choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; else a ValueError naming ``where`` and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{where}: got {value!r}; accepted: {', '.join(repr(c) for c in choices)}")
    return value


def check_int(value: Any, where: str, lo: int) -> int:
    """``value`` if it is an int >= ``lo``; else ``TypeError``/``ValueError`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: got {value!r} ({type(value).__name__}); accepted: an int >= {lo}")
    if value < lo:
        raise ValueError(f"{where}: got {value!r}; accepted: an int >= {lo}")
    return value


def number_in(value: Any, where: str, lo: float, hi: float = math.inf, lo_open: bool = False) -> float:
    """``float(value)`` if it is a finite number in ``(lo, hi]`` (``[lo, hi]`` with ``lo_open=False``); else a TypeError/ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where}: got {value!r} ({type(value).__name__}); accepted: a number")
    x = float(value)
    ok = (x > lo if lo_open else x >= lo) and x <= hi and math.isfinite(x)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
        raise ValueError(f"{where}: got {value!r}; accepted: a number in {rng}")
    return x
