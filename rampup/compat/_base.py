"""What every compat spec shares: argument kinds, the piecewise build, levels, quirks.

A compat spec (``hf:cosine(...)``, ``torch:cosine_annealing_lr(...)``, ...) is a
``'whole'`` phase whose curve is another library's formula, evaluated at the
optimizer step with the same ``xp`` namespace as every native shape (so it runs
on floats, NumPy, torch and jax alike).  A subclass writes one method,
:meth:`CompatPhase.plan`, that returns

* the **pieces**: consecutive step ranges ``[begin, end)`` of the run, each
  with a role (``'warmup'`` / ``'decay'``) and a function ``fn(t, xp)`` of the
  *absolute* step ``t`` — the library's own formula, with the library's own
  branch points as piece boundaries (so ``rampup explain`` shows its phases);
  the last piece is open-ended: values past the end are the library's too
  (HF's cosine rising again, torch's periodic ``CosineAnnealingLR``);
* the **quirks** this configuration shows, and a native rampup spec that
  avoids them.

Levels.  A compat curve is a multiple of a *reference LR*: the optimizer's
LR for libraries that scale ``param_groups[i]["lr"]`` (HF, torch, timm,
composer, pytorch_warmup) — rampup's ``peak_lr`` — or the spec's own peak for
libraries whose API takes absolute values (optax ``peak_value``, Keras
``warmup_target``, torch ``OneCycleLR(max_lr=)``, fairseq ``lr``): such a spec
gives the library's values when ``peak_lr`` is left out (or equal to its
peak), and is scaled to peak at ``peak_lr`` otherwise.  Arguments
that are absolute LRs (timm ``lr_min``, HF ``lr_end``, torch ``eta_min``) are
divided by the reference LR; a non-zero one without a reference LR is an error
that says to pass ``peak_lr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..core.backend import SCALAR
from ..core.params import Param, convert, register_kind, to_json, to_text
from ..core.phases import INF, Built, Phase
from ..core.units import Length, RunInfo

__all__ = ["INF", "CompatPhase", "Ctx", "Piece", "Plan", "as_list", "const", "fmt", "pow_", "refuse"]

Fn = Callable[[Any, Any], Any]


# The argument kinds only compat specs take, read by the core's one convert() (rampup.core.params):
# ``phases`` (a list of compat specs of one prefix, written as nested calls) and
# ``pairs`` (optax's ``boundaries_and_scales``); composer's ``time`` and ``times`` are registered in
# compat/composer.py, beside the parser of composer's time strings.  The number kinds ``int``, ``ints``, ``count`` and
# ``numbers`` are the core's.
_INT = Param("int")
_COUNT = Param("count")


def _pairs(where: str, v: Any, xp: Param) -> tuple[tuple[int, float], ...] | None:
    """optax's ``boundaries_and_scales``: ``{step: scale}`` as ``((step, scale), ...)`` (steps ints >= 0, scales >= 0)."""
    if v is None and xp.default is None:
        return None
    if isinstance(v, dict):
        v = list(v.items())
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
        raise TypeError(f"{where}: got {v!r:.80}; accepted: {xp.accepts()}")
    out = []
    for i, e in enumerate(v):
        if isinstance(e, (str, bytes)) or not isinstance(e, (list, tuple)) or len(e) != 2:
            raise TypeError(f"{where}[{i}]: got {e!r:.60}; accepted: a [step, scale] pair, e.g. [100, 0.5]")
        b = convert(f"{where}[{i}] step", e[0], _INT)
        sc = float(convert(f"{where}[{i}] scale", e[1], _COUNT))
        if sc < 0:
            raise ValueError(f"{where}[{i}] scale: got {e[1]!r}; accepted: a number >= 0 (optax raises)")
        out.append((b, sc))
    steps = [b for b, _ in out]
    if len(set(steps)) != len(steps):
        raise ValueError(
            f"{where}: step {sorted(b for b in steps if steps.count(b) > 1)[0]} given twice; a dict keeps one"
        )
    return tuple(out)


def _sub_phase(where: str, v: Any, prefix: str) -> Phase:
    from ..core.phases import NOT_CLOSED_FORM, WHOLES

    if isinstance(v, CompatPhase) and v.name.startswith(prefix):
        return v
    if isinstance(v, dict) and isinstance(v.get("phase"), str):
        name = v["phase"]
        cls = WHOLES.get(name)
        if cls is None and name in NOT_CLOSED_FORM:
            raise ValueError(f"{where}: {NOT_CLOSED_FORM[name]}")
        if cls is None or not name.startswith(prefix) or not issubclass(cls, CompatPhase):
            known = sorted(n for n in WHOLES if n.startswith(prefix))
            raise ValueError(f"{where}: unknown {prefix} spec {name!r}; accepted: {', '.join(known)}")
        return cls(**{k: x for k, x in v.items() if k != "phase"})
    raise TypeError(f"{where}: got {v!r:.80}; accepted: a {prefix} spec written as a call, e.g. {prefix}linear_lr(...)")


def as_list(where: str, v: Any, p: Param) -> list[Any] | tuple[Any, ...]:
    """A list argument of kind ``p`` (a list or tuple; never a string or a dict)."""
    if isinstance(v, (str, bytes, dict)) or not isinstance(v, (list, tuple)):
        raise TypeError(f"{where}: got {v!r:.80}; accepted: {p.accepts()}")
    return v


def _phases(where: str, v: Any, p: Param) -> tuple[Phase, ...]:
    return tuple(_sub_phase(f"{where}[{i}]", e, p.prefix) for i, e in enumerate(as_list(where, v, p)))


register_kind("phases", "a list of {prefix} specs, e.g. [{prefix}linear_lr(total_iters=5)]", _phases)
register_kind(
    "pairs", "a list of [step, scale] pairs (a dict {step: scale} from Python), e.g. [[100, 0.5], [200, 0.1]]", _pairs
)


@dataclass
class Piece:
    """Steps ``[previous end, end)`` of the run follow ``fn(t, xp)`` (``t`` = absolute step)."""

    end: float
    role: str
    fn: Fn


@dataclass
class Plan:
    """What a compat spec resolves to for one run: its pieces, quirks and the native spec that fixes them."""

    pieces: list[Piece]
    quirks: list[str] = field(default_factory=list)
    suggestion: str | None = None


@dataclass
class Ctx:
    """What the build knows: the run, rampup's ``peak_lr`` and the reference LR of absolute arguments."""

    run: RunInfo
    peak_lr: float | None
    ref: float | None  # the LR that curves are multiples of (None: unknown, multiples of 1)


class _Seg:
    """A piece placed at ``begin``: rampup passes the relative step ``s``; the formula wants ``t = begin + s``."""

    __slots__ = ("begin", "fn", "scale")

    def __init__(self, fn: Fn, begin: float, scale: float) -> None:
        self.fn, self.begin, self.scale = fn, begin, scale

    def __call__(self, s: Any, xp: Any) -> Any:
        v = self.fn(s + self.begin, xp)
        return v if self.scale == 1.0 else v * self.scale


def const(v: float) -> Fn:
    """A piece that holds ``v`` (shaped like ``t``)."""

    def fn(t: Any, xp: Any) -> Any:
        return t * 0.0 + v

    return fn


def pow_(xp: Any, x: Any, y: Any) -> Any:
    """``x ** y`` rounded as Python's ``**`` (libm ``pow``) for floats and NumPy arrays.

    The libraries compute powers with Python's ``**``.  NumPy's ``power`` takes a
    SIMD path for float64 that differs from libm in the last bit for ~5 % of
    inputs; ``float_power`` calls libm.  One ulp matters where a library then
    cancels digits (RAdam's ``ρ_t − 4``).  Other namespaces use their ``power``.
    """
    name = getattr(xp, "name", "")
    if name == "scalar":
        return float(np.float_power(x, y))
    if name == "numpy":
        return np.float_power(x, y)
    return xp.power(x, y)


def refuse(name: str, api: str, why: str = "it is driven by a metric (it reads the validation loss)") -> None:
    """Record a scheduler of another library that rampup cannot reproduce: the parser gives this reason."""
    from ..core.phases import NOT_CLOSED_FORM

    NOT_CLOSED_FORM[name] = (
        f"{name} ({api}) is not supported: {why}, not a closed form of the step, so no fixed curve reproduces it"
    )


def fmt(x: float) -> str:
    """A number for a suggested spec: short, and exact enough to read back."""
    return f"{x:.10g}"


class CompatPhase(Phase):
    """Base of every ``prefix:name`` spec; see the module docstring."""

    role = "whole"
    positional = ()
    library: ClassVar[str] = ""  # e.g. 'transformers 5.x'
    api: ClassVar[str] = ""  # the function/class it reproduces
    source: ClassVar[str] = ""  # the file the formula was read from
    step_rule: ClassVar[str] = ""  # which library value is rampup's schedule(t)
    own_peak: ClassVar[str | None] = None  # the argument that is this spec's own absolute peak LR

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TypeError(
                f"{self.name}: takes named arguments only, as {self.api or self.library} does; "
                f"accepted: {', '.join(self.params) or 'none'}"
            )
        for k in kwargs:  # every unknown name first, before any value is read
            if k not in self.params:
                raise TypeError(f"{self.name}: unknown argument {k!r}; accepted: {', '.join(self.params) or 'none'}")
        super().__init__(**kwargs)
        self.validate()

    def validate(self) -> None:
        """Cross-argument checks (override); runs once every argument is converted."""

    # ---- serialization: nested phases serialize as their dict form -------
    def to_dict(self) -> dict[str, Any]:
        def js(v: Any) -> Any:
            if isinstance(v, Phase):
                return v.to_dict()
            if isinstance(v, tuple):
                return [js(x) for x in v]
            return to_json(v)

        return {"phase": self.name, **{k: js(v) for k, v in self.given.items()}}

    def to_text(self) -> str:
        # A nested spec is always written as a call: the parser reads a list element only as ``name(...)``,
        # so ``[torch:linear_lr()]`` must not print back as ``[torch:linear_lr]``.
        def txt(v: Any) -> str:
            if isinstance(v, Phase):
                t = v.to_text()
                return t if t.endswith(")") else t + "()"
            if isinstance(v, tuple):
                return "[" + ", ".join(txt(x) for x in v) + "]"
            return to_text(v)

        parts = [f"{k}={txt(v)}" for k, v in self.given.items()]
        return f"{self.name}({', '.join(parts)})" if parts else self.name

    # ---- to override ---------------------------------------------------------
    def plan(self, ctx: Ctx) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError

    def horizon(self, run: RunInfo) -> int | None:
        """The run length the library schedule is written for (``num_training_steps``, ...), if it has one."""
        return None

    def own_peak_value(self) -> float | None:
        return None if self.own_peak is None else self.args.get(self.own_peak)

    # ---- helpers ---------------------------------------------------------------
    def n(self, key: str, run: RunInfo) -> int:
        """A step count argument in steps (``Length`` or plain int)."""
        v = self.args[key]
        if isinstance(v, Length):
            return v.to_steps(run, f"{self.name}: {key}")
        return int(v)

    def run_total(self, key: str, run: RunInfo) -> int:
        """``key`` if given, else the run's ``total_steps`` (the library needs one of them)."""
        if self.args.get(key) is not None:
            return self.n(key, run)
        if run.total_steps is None:
            raise ValueError(f"{self.name}: {key}: missing; give {key}=N or pass total_steps= (--total-steps)")
        return run.total_steps

    def lv(self, key: str, ctx: Ctx, why: str = "") -> float:
        """An absolute-LR argument as a multiple of the reference LR."""
        v = float(self.args[key])
        return self.level_of(key, v, ctx, why)

    def level_of(self, key: str, v: float, ctx: Ctx, why: str = "") -> float:
        if ctx.ref is None:
            if v == 0.0:
                return 0.0
            raise ValueError(
                f"{self.name}: {key}={v!r} is an absolute LR{' (' + why + ')' if why else ''}; pass peak_lr= "
                f"(--peak-lr: the LR {self.library} scales, param_groups[i]['lr']) so rampup can express it "
                "relative to it, or give it as 0"
            )
        x = v / ctx.ref
        if not math.isfinite(x):  # e.g. eta_min=1e-5 with peak_lr=1e-320
            raise ValueError(
                f"{self.name}: {key}={v!r} is {x!r} times the reference LR {ctx.ref!r}; accepted: a {key} and "
                "peak_lr whose ratio is finite"
            )
        return x

    def _reference(self, peak_lr: float | None) -> tuple[float | None, float]:
        own = self.own_peak_value()
        if own is None:
            return peak_lr, 1.0
        # The spec's absolute LRs are read relative to its own peak; peak_lr, when given, is the peak (as for
        # every spec), so the curve is the library's scaled by peak_lr / own — the library's own values when
        # peak_lr is left out or equal (the CLI's default --peak-lr 1 shows the curve as multiples of its peak).
        return float(own), (1.0 if peak_lr is not None else float(own))

    def context(self, run: RunInfo, peak_lr: float | None) -> Ctx:
        return Ctx(run, peak_lr, self._reference(peak_lr)[0])

    def build_whole(self, run: RunInfo, peak_lr: float | None) -> list[Built]:
        ref, scale = self._reference(peak_lr)
        plan = self.plan(Ctx(run, peak_lr, ref))
        out: list[Built] = []
        begin = 0
        for p in plan.pieces:
            end = p.end if p.end == INF else max(int(p.end), begin)
            if end != INF and end == begin:
                continue
            seg = _Seg(p.fn, float(begin), scale)
            if end == INF:
                out.append(Built(INF, seg, 0.0, p.role))
                return out
            length = end - begin
            out.append(Built(length, seg, float(seg(float(length - 1), SCALAR)), p.role))
            begin = int(end)
        raise AssertionError(f"{self.name}: the last piece must be open-ended")  # pragma: no cover

    def quirks(self, schedule: Any, values: Any) -> tuple[list[str], str | None]:
        """The library quirks this configuration shows, and a native rampup spec that avoids them."""
        plan = self.plan(self.context(schedule.run, schedule.peak_lr))
        quirks = list(plan.quirks)
        if schedule.spec.modifiers:  # a modifier (e.g. a pw: warmup) may supply the warmup this spec lacks
            quirks = [q for q in quirks if not q.startswith("no warmup")]
        return quirks, plan.suggestion
