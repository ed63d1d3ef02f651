"""Phase types: warmups, decays, whole schedules and modifiers — the base and the registries.

A phase is a small immutable description (its name and validated arguments).
:meth:`Phase.build` turns it, given what is known about the run, into a
*segment*: a callable ``seg(s, xp)`` of the phase's own relative step ``s``
(0 at the phase's first step, clipped to ``[0, L − 1]`` by the caller) that
returns the LR as a multiple of the peak.  All formulas come from
:mod:`rampup.core.shapes`.

Step semantics (stated once, here and in ``docs/semantics.md``):

* ``schedule(t)`` is the LR used by update number ``t + 1``: ``t = 0`` is the
  first optimizer update.  It is never 0 unless asked for explicitly.
* A phase of length ``L`` covers steps ``b … b + L − 1`` and reaches its end
  value *exactly* at its last step ``b + L − 1``: a warmup of 100 steps is at
  the peak at ``t = 99``; a decay that fills the run is at its floor at
  ``t = total_steps − 1`` (the last update).
* Progress within a phase is ``p = (s + 1) / L``: the first update of a
  warmup from 0 already uses ``peak / L``.
* Past the end of the run the final value is held (never periodic, never an
  error).

This module holds what every phase shares: :class:`Phase` (validated, comparable,
serializable arguments), :class:`Built` (a resolved phase), the registries
(``WARMUPS``, ``DECAYS``, ``WHOLES``, ``MODIFIERS``) and :func:`register`, which
a new shape's class is decorated with — the registries are the one list of
names that the parser, the dict form, the CLI and the tests read.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..auto_spec import AUTO
from ..params import REQUIRED, Param, convert, to_json, to_text
from ..units import Length, RunInfo

__all__ = [
    "DECAYS",
    "INF",
    "MODIFIERS",
    "NOT_CLOSED_FORM",
    "WARMUPS",
    "WHOLES",
    "Built",
    "Hold",
    "Phase",
    "register",
    "unregister",
]

INF = math.inf


class Built:
    """A resolved phase: its length in steps (``inf`` for open-ended) and its segment."""

    __slots__ = ("end", "length", "role", "seg")

    def __init__(self, length: float, seg: Any, end: float, role: str | None = None) -> None:
        self.length = length
        self.seg = seg
        self.end = end  # value at the phase's last step (the next phase's start level)
        self.role = role  # for whole schedules: 'warmup' / 'decay' of each of their segments


class Phase:
    """Base class: validated, immutable, comparable, serializable arguments."""

    name: ClassVar[str]
    role: ClassVar[str]  # 'warmup' | 'decay' | 'whole' | 'modifier'
    params: ClassVar[dict[str, Param]] = {}
    positional: ClassVar[tuple[str, ...]] = ()
    exclusive: ClassVar[tuple[tuple[str, str], ...]] = ()
    reference: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(self.positional):
            raise TypeError(
                f"{self.name}: takes {len(self.positional)} positional argument(s) "
                f"({', '.join(self.positional) or 'none'}); got {len(args)}"
            )
        raw = dict(zip(self.positional, args))
        for k, v in kwargs.items():
            if k in raw:
                raise TypeError(f"{self.name}: {k} given twice")
            raw[k] = v
        given: dict[str, Any] = {}
        for k, v in raw.items():
            if k not in self.params:
                raise TypeError(f"{self.name}: unknown argument {k!r}; accepted: {', '.join(self.params) or 'none'}")
            given[k] = convert(f"{self.name}: {k}", v, self.params[k])
        for a, b in self.exclusive:
            if a in given and b in given:
                raise ValueError(f"{self.name}: give {a} or {b}, not both (got {a}={raw[a]!r}, {b}={raw[b]!r})")
        for k, p in self.params.items():
            if p.default is REQUIRED and k not in given and not self._optional_required(k, given):
                raise TypeError(f"{self.name}: missing argument {k!r} ({p.accepts()})")
        self.given = given
        self.args = {
            k: (
                convert(k, p.default, p)
                if p.kind in ("length", "lengths") and p.default not in (None, REQUIRED)
                else p.default
            )
            for k, p in self.params.items()
        }
        self.args.update(given)
        self.check()

    def _optional_required(self, key: str, given: dict[str, Any]) -> bool:
        # An exclusive pair (a, b) is satisfied by either member.
        for a, b in self.exclusive:
            if key in (a, b) and (a in given or b in given):
                return True
        return False

    def check(self) -> None:
        """Cross-argument validation (override)."""

    # -- identity and serialization -------------------------------------
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.given == self.given  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.given.items()))))

    def __repr__(self) -> str:
        return self.to_text()

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.name, **{k: to_json(v) for k, v in self.given.items()}}

    def to_text(self) -> str:
        parts = []
        rest = dict(self.given)
        for k in self.positional:
            if k in rest:
                parts.append(to_text(rest.pop(k)))
            else:
                break
        parts += [f"{k}={to_text(v)}" for k, v in rest.items()]
        return f"{self.name}({', '.join(parts)})" if parts else self.name

    # -- helpers for build -------------------------------------------------
    def steps(self, key: str, run: RunInfo) -> int:
        v = self.args[key]
        assert isinstance(v, Length)
        return v.to_steps(run, f"{self.name}: {key}")

    def level(self, frac_key: str, lr_key: str, peak_lr: float | None, default: float) -> float:
        """A level as a fraction of the peak, from ``frac_key`` or the absolute ``lr_key``."""
        if lr_key in self.given:
            if peak_lr is None:
                raise ValueError(
                    f"{self.name}: {lr_key}={self.given[lr_key]!r} is an absolute LR and needs the peak LR; "
                    f"pass peak_lr=, or give {frac_key}= as a fraction of the peak"
                )
            x = float(self.given[lr_key]) / peak_lr
            if x > 1.0:
                raise ValueError(
                    f"{self.name}: {lr_key}={self.given[lr_key]!r} is above the peak LR {peak_lr!r}; "
                    f"accepted: an LR <= the peak"
                )
            return x
        v = self.args.get(frac_key)
        return default if v is None else float(v)


WARMUPS: dict[str, type[Phase]] = {}
DECAYS: dict[str, type[Phase]] = {}
WHOLES: dict[str, type[Phase]] = {}
MODIFIERS: dict[str, type[Phase]] = {}
# Other libraries' schedulers that are not a closed form of the step (e.g. driven by a metric): name -> why
# rampup refuses them.  The parser gives this reason instead of "unknown phase" (filled by rampup.compat).
NOT_CLOSED_FORM: dict[str, str] = {}
_BY_ROLE = {"warmup": WARMUPS, "decay": DECAYS, "whole": WHOLES, "modifier": MODIFIERS}


def register(cls: type[Phase]) -> type[Phase]:
    """Add a phase type to the registry of its role (used by compat modules too)."""
    table = _BY_ROLE[cls.role]
    if cls.role == "warmup" and cls.name == AUTO:
        raise ValueError(f"phase name {AUTO!r} is reserved for the automatic warmup (rampup.core.AutoWarmupSpec)")
    if cls.name in table and table[cls.name] is not cls:
        raise ValueError(f"phase name {cls.name!r} is already registered for role {cls.role!r}")
    table[cls.name] = cls
    return cls


def unregister(cls: type[Phase]) -> None:
    """Remove a phase type added by :func:`register` (e.g. a shape registered by a test)."""
    table = _BY_ROLE[cls.role]
    if table.get(cls.name) is cls:
        del table[cls.name]


class Hold:
    """Segment: the constant ``v`` (shaped like ``s``)."""

    __slots__ = ("v",)

    def __init__(self, v: float) -> None:
        self.v = v

    def __call__(self, s: Any, xp: Any) -> Any:
        return s * 0.0 + self.v
