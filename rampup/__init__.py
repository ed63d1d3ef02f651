"""rampup: learning-rate warmup that is correct, automatic and evident.

A schedule is a pure, closed-form function of the optimizer step::

    >>> import rampup
    >>> lr = rampup.parse("linear(10) -> cosine(floor=0.1)", total_steps=100, peak_lr=3e-4)
    >>> round(lr(0), 12), lr(9), round(lr(99), 12)
    (3e-05, 0.0003, 3e-05)

``import rampup`` needs only NumPy; torch, jax, keras and matplotlib are used
only by the adapters and tools that need them.
"""

from __future__ import annotations

from typing import Any

# Registers every compat spec (hf:, torch:, timm:, ...): they are pure NumPy math like the core, and
# registering them here, at the facade, means any `import rampup` / `import rampup.X` knows them.
from . import compat  # noqa: F401
from .core import (
    DECAYS,
    MODIFIERS,
    WARMUPS,
    WHOLES,
    Length,
    LengthRoundingWarning,
    Phase,
    RunInfo,
    Schedule,
    Spec,
    SpecSyntaxError,
)

__version__ = "0.1.0"

__all__ = [
    "DECAYS",
    "MODIFIERS",
    "WARMUPS",
    "WHOLES",
    "Length",
    "LengthRoundingWarning",
    "Phase",
    "RunInfo",
    "Schedule",
    "Spec",
    "SpecSyntaxError",
    "__version__",
    "decay",
    "modifier",
    "parse",
    "schedule",
    "warmup",
]


def parse(
    spec: str | dict[str, Any] | Spec,
    total_steps: int | None = None,
    peak_lr: float | None = None,
    steps_per_epoch: int | None = None,
    tokens_per_step: int | None = None,
) -> Schedule:
    """Build a :class:`Schedule` from a spec string, a spec dict or a :class:`Spec`.

    ``peak_lr`` scales the schedule (default: none, i.e. the schedule returns
    multiples of the peak, which is what a per-param-group adapter wants).
    Lengths in ``%`` need ``total_steps``; ``ep`` needs ``steps_per_epoch``;
    ``tok`` needs ``tokens_per_step``.

    >>> parse("linear(2%) -> cosine", total_steps=1000)(19)
    1.0
    """
    if isinstance(spec, Spec):
        s = spec
    elif isinstance(spec, str):
        s = Spec.parse(spec)
    elif isinstance(spec, dict):
        s = Spec.from_dict(spec)
    else:
        raise TypeError(f"spec: got {type(spec).__name__}; accepted: a spec string, a spec dict or a rampup.Spec")
    return s.resolve(total_steps, peak_lr, steps_per_epoch, tokens_per_step)


def schedule(
    warmup: Phase | None = None,
    decay: Phase | list[Phase] | tuple[Phase, ...] | None = None,
    modifiers: list[Phase] | tuple[Phase, ...] = (),
    **run: Any,
) -> Schedule:
    """Build a schedule from phase objects: ``schedule(warmup.linear("2%"), decay.cosine(floor=0.1), total_steps=N)``.

    >>> s = schedule(warmup.linear(4), decay.constant(), total_steps=8)
    >>> s(0), s(3)
    (0.25, 1.0)
    """
    if decay is None:
        decay = DECAYS["constant"]()
    d = (decay,) if isinstance(decay, Phase) else tuple(decay)
    return Spec(warmup, d, tuple(modifiers)).resolve(**run)


class _Factory:
    """``rampup.warmup.linear(...)`` etc.: attribute access to a phase registry."""

    def __init__(self, table: dict[str, type[Phase]], role: str, extra: dict[str, type[Phase]] | None = None) -> None:
        self._tables = [table] + ([extra] if extra is not None else [])
        self._role = role

    def __getattr__(self, name: str) -> type[Phase]:
        if name.startswith("__"):
            raise AttributeError(name)
        for t in self._tables:
            if name in t:
                return t[name]
        raise AttributeError(f"no {self._role} named {name!r}; accepted: {', '.join(dir(self))}")

    def __dir__(self) -> list[str]:
        return sorted(k for t in self._tables for k in t if ":" not in k)


warmup = _Factory(WARMUPS, "warmup")
decay = _Factory(DECAYS, "decay", WHOLES)
modifier = _Factory(MODIFIERS, "modifier")
