"""optax schedules (``optax:``): every closed-form schedule of ``optax.schedules``.

Read from ``optax/schedules/_schedule.py`` and ``_join.py`` (optax 0.2.x).  An
optax schedule is a function of the optimizer's update count, which is 0 for
the first update: rampup's ``schedule(t)`` is optax's ``schedule(t)`` as its
optimizers evaluate it — inside ``jit``, with the count an int32
(``scale_by_schedule``, ``inject_hyperparams``), so ``count / T`` is float32
and XLA computes it as ``count · f32(1/T)``.  That matters where optax floors it
(``staircase=True``: one stair short at some multiples of ``T``, reproduced) and
where it takes a non-integer power of ``1 − count/T`` (NaN past the end for many
``T``: rampup holds the end value and ``explain`` says so); elsewhere it is a
last-bit difference.  ``optax.contrib.reduce_on_plateau`` reads the loss and is
refused.  Its
arguments are absolute values, so these specs are complete: they return the
optax values when ``peak_lr`` is left out (or equals ``peak_value``; another
``peak_lr`` rescales the curve to peak there).  Each phase of a
join sees its own step, ``t − boundary``.

>>> from rampup import parse
>>> s = parse("optax:warmup_cosine_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=6)")
>>> [round(float(v), 4) for v in s(range(8))]
[0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from ..core.params import REQUIRED, Param
from ..core.phases import register
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, const, fmt, pow_, refuse

__all__: list[str] = []

refuse("optax:reduce_on_plateau", "optax.contrib.reduce_on_plateau")

_RULE = "update t+1 uses schedule(t): optax's count is the number of updates already applied"
_SRC = "optax/schedules/_schedule.py"
_INIT = Param("nonneg", REQUIRED, "init_value: the LR of the first update")
_PEAK = Param("lr", REQUIRED, "peak_value: the LR at the end of the warmup")
_WARM = Param("length", REQUIRED, "warmup_steps: length of the linear warmup")


class _Optax(CompatPhase):
    library = "optax"
    source = _SRC
    step_rule = _RULE
    own_peak: ClassVar[str | None] = "peak_value"


def _linear(init: float, peak: float, w: int) -> Any:
    """optax ``linear_schedule(init, peak, w)`` (``polynomial_schedule`` with power 1); ``w <= 0``: ``init``."""

    def fn(t: Any, xp: Any) -> Any:
        if w <= 0:
            return t * 0.0 + init
        count = xp.clip(t, 0.0, float(w))
        frac = 1.0 - count / w
        return (init - peak) * frac + peak

    return fn


def _cosine(peak: float, d: int, alpha: float, exponent: float, begin: float) -> Any:
    """optax ``cosine_decay_schedule(peak, d, alpha, exponent)`` at ``t − begin``."""

    def fn(t: Any, xp: Any) -> Any:
        count = xp.minimum(t - begin, float(d))
        cd = 0.5 * (1.0 + xp.cos(math.pi * count / d))
        return peak * ((1.0 - alpha) * pow_(xp, cd, exponent) + alpha)

    return fn


def _wcd_pieces(init: float, peak: float, w: int, d: int, end: float, exponent: float, begin: int) -> list[Piece]:
    """``warmup_cosine_decay_schedule`` placed at ``begin`` (values in units of the reference LR)."""
    if not d - w > 0:
        raise ValueError(
            f"optax:warmup_cosine_decay_schedule: decay_steps - warmup_steps = {d - w}; optax's cosine_decay_schedule "
            "requires positive decay_steps (decay_steps includes the warmup): accepted: decay_steps > warmup_steps"
        )
    alpha = 0.0 if peak == 0.0 else end / peak
    lin = _linear(init, peak, w)

    def warm(t: Any, xp: Any) -> Any:
        return lin(t - begin, xp)

    return [
        Piece(begin + w, "warmup", warm),
        Piece(begin + d, "decay", _cosine(peak, d - w, alpha, exponent, float(begin + w))),
    ]


def _xla_floor_div(dc: Any, ts: int, xp: Any) -> Any:
    """``floor(dc / ts)`` as optax's ``staircase`` gets it inside ``jit``: ``floor(f32(dc) · f32(1/ts))``.

    optax's optimizers keep ``count`` as an int32 (``scale_by_schedule``, ``inject_hyperparams``), so
    ``count / transition_steps`` is float32 even with ``jax_enable_x64``, and XLA rewrites the division by a
    constant as a multiplication by its reciprocal: ``41 · f32(1/41)`` is ``0.99999994``, whose floor is 0, not 1
    (steps 41, 82, 164, 287, … for ``transition_steps=41``).  A power of two is exact.
    """
    r = np.float32(1.0) / np.float32(ts)
    # optax's int32 count saturates at 2**31 − 1: farther steps are the same stair (and a float32 cast stays finite)
    dc = xp.minimum(xp.maximum(dc, -(2.0**31)), 2.0**31 - 1.0)
    name = getattr(xp, "name", "")
    if name == "scalar":
        return float(np.floor(np.float32(dc) * r))
    if name == "numpy":
        return np.floor(np.asarray(dc).astype(np.float32) * r).astype(np.float64)
    # torch / jax: float32 arithmetic, as under jit (r is a float32 value, exact as a Python float)
    return xp.cast_like(xp.floor(xp.to_float32(dc) * float(r)), dc)


def _stair_quirks(ts: int, stair: bool, begin: int, horizon: int | None) -> list[str]:
    """The steps where optax's staircase under jit differs from the exact floor (within the run)."""
    if not stair or ts <= 0:
        return []
    n = min(horizon or 100 * ts, 2**24)
    ks = np.arange(ts, n - begin + 1, ts, dtype=np.int64)
    short = ks[np.floor(ks.astype(np.float32) * (np.float32(1.0) / np.float32(ts))) < ks // ts]
    if short.size == 0:
        return []
    at = ", ".join(str(int(k) + begin) for k in short[:4])
    return [
        f"staircase inside jit (as optax's optimizers run it): count / transition_steps is float32 and XLA computes it "
        f"as count·(1/{ts}), so at step{'s' if short.size > 1 else ''} {at}{', …' if short.size > 4 else ''} the "
        "floor lands one stair short (rampup gives optax's values; optax called outside jit floors exactly)"
    ]


def _exp_decay(init: float, ts: int, rate: float, begin: float, stair: bool, end: float | None) -> Any:
    """optax ``exponential_decay(init, ts, rate, transition_begin, staircase, end_value)`` at ``t − begin``."""

    def fn(t: Any, xp: Any) -> Any:
        dc = t - begin
        p = _xla_floor_div(dc, ts, xp) if stair else dc / ts
        v = xp.where(dc <= 0.0, init, init * pow_(xp, rate, p))
        if end is not None:
            v = xp.maximum(v, end) if rate < 1.0 else xp.minimum(v, end)
        return v

    return fn


def _poly(init: float, end: float, power: float, ts: int, begin: float) -> Any:
    """optax ``polynomial_schedule``: ``(init − end)(1 − clip(t − begin, 0, T)/T)^power + end``; ``T <= 0``: init."""

    def fn(t: Any, xp: Any) -> Any:
        if ts <= 0:
            return t * 0.0 + init
        count = xp.clip(t - begin, 0.0, float(ts))
        return (init - end) * pow_(xp, 1.0 - count / ts, power) + end

    return fn


def _growth_check(name: str, rate: float, end: float | None) -> None:
    if rate > 1.0 and end is None:
        raise ValueError(
            f"{name}: decay_rate: got {rate!r} with no end_value; a rate > 1 grows without bound (to inf): give "
            "end_value= (the cap), or a decay_rate <= 1"
        )


@register
class WarmupCosineDecay(_Optax):
    r"""optax ``warmup_cosine_decay_schedule``: linear ``init → peak`` over ``warmup_steps``, cosine to ``end_value``.

    ``t < W``: ``(init − peak)(1 − t/W) + peak``; then with ``c = min(t − W, D − W)``:
    ``peak·((1 − α)·(½(1 + cos(πc/(D − W))))^exponent + α)``, ``α = end/peak``.
    ``decay_steps`` (``D``) includes the warmup; ``end_value`` is reached at
    ``t = D`` and held.

    >>> from rampup import parse
    >>> s = parse("optax:warmup_cosine_decay_schedule(init_value=0.1, peak_value=1.0, warmup_steps=2, decay_steps=4)")
    >>> s(range(6)).round(4).tolist()
    [0.1, 0.55, 1.0, 0.5, 0.0, 0.0]
    """

    name = "optax:warmup_cosine_decay_schedule"
    api = "optax.warmup_cosine_decay_schedule"
    params = {
        "init_value": _INIT,
        "peak_value": _PEAK,
        "warmup_steps": _WARM,
        "decay_steps": Param("length", REQUIRED, "decay_steps: total length, warmup included"),
        "end_value": Param("nonneg", 0.0, "end_value: the final LR"),
        "exponent": Param("positive", 1.0, "exponent of the cosine factor"),
    }

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or self.n("decay_steps", run)

    def plan(self, ctx: Ctx) -> Plan:
        ref = float(self.args["peak_value"])
        w, d = self.n("warmup_steps", ctx.run), self.n("decay_steps", ctx.run)
        init, end = float(self.args["init_value"]) / ref, float(self.args["end_value"]) / ref
        ex = float(self.args["exponent"])
        pieces = _wcd_pieces(init, 1.0, w, d, end, ex, 0)
        q = []
        if w > 0:
            if init == 0.0:
                q.append("init_value=0: the first update uses LR 0")
            q.append(f"the warmup reaches peak_value at step {w}, after {w} updates below it")
        q.append(f"end_value is reached at step decay_steps={d}, one step after the last of {d} updates")
        sug = None
        if ex == 1.0 and end <= 1.0:
            start = f", start={fmt(init)}" if init else ""
            floor = f", floor={fmt(end)}" if end else ""
            sug = f"{f'linear({w}{start}) -> ' if w else ''}cosine({d - w}{floor})"
        return Plan([*pieces, Piece(INF, "decay", const(end))], q, sug)


@register
class WarmupExponentialDecay(_Optax):
    r"""optax ``warmup_exponential_decay_schedule``: linear warmup, then ``peak·decay_rate^((t − W − begin)/T)``.

    After the warmup (``t' = t − W``): ``peak`` while ``t' − transition_begin ≤ 0``,
    else ``peak·rate^p`` with ``p = (t' − begin)/transition_steps`` (floored if
    ``staircase``), clipped at ``end_value`` (a lower bound when ``rate < 1``, an
    upper bound otherwise).  ``transition_steps <= 0`` or ``decay_rate == 0``:
    optax (silently, with a log line) keeps ``peak_value`` for ever.

    >>> from rampup import parse
    >>> s = parse("optax:warmup_exponential_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=1, "
    ...           "transition_steps=1, decay_rate=0.5)")
    >>> s(range(4)).tolist()
    [0.0, 1.0, 0.5, 0.25]
    """

    name = "optax:warmup_exponential_decay_schedule"
    api = "optax.warmup_exponential_decay_schedule"
    params = {
        "init_value": _INIT,
        "peak_value": _PEAK,
        "warmup_steps": _WARM,
        "transition_steps": Param("length", REQUIRED, "transition_steps: steps per factor of decay_rate"),
        "decay_rate": Param("nonneg", REQUIRED, "decay_rate"),
        "transition_begin": Param("length", 0, "transition_begin: steps after the warmup before decaying"),
        "staircase": Param("bool", False, "staircase: decay in jumps"),
        "end_value": Param("nonneg", None, "end_value: bound of the decay"),
    }

    def validate(self) -> None:
        _growth_check(self.name, float(self.args["decay_rate"]), self.args["end_value"])

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps

    def plan(self, ctx: Ctx) -> Plan:
        ref = float(self.args["peak_value"])
        w = self.n("warmup_steps", ctx.run)
        ts, b = self.n("transition_steps", ctx.run), float(self.n("transition_begin", ctx.run))
        rate, stair = float(self.args["decay_rate"]), bool(self.args["staircase"])
        init = float(self.args["init_value"]) / ref
        end = None if self.args["end_value"] is None else float(self.args["end_value"]) / ref
        q = []
        if w > 0 and init == 0.0:
            q.append("init_value=0: the first update uses LR 0")
        if ts <= 0 or rate == 0.0:
            decay: Any
            q.append(
                f"{'transition_steps <= 0' if ts <= 0 else 'decay_rate == 0'}: optax only logs it and keeps "
                "peak_value for ever (a silent fallback)"
            )
            decay = const(1.0)
        else:
            decay = _exp_decay(1.0, ts, rate, float(w) + b, stair, end)
            q += _stair_quirks(ts, stair, w + int(b), self.horizon(ctx.run))

        sug = None
        if ts > 0 and 0.0 < rate < 1.0:
            start = f", start={fmt(init)}" if init else ""
            hold = f"constant({int(b) + 1}) -> " if b > 0 else ""
            floor = f", floor={fmt(end)}" if end else ""
            st = ", staircase=true" if stair else ""
            chain = f"{hold}exponential(rate={fmt(rate)}, every={ts}{st}{floor})"
            sug = f"linear({w}{start}) -> {chain}" if w else (chain if not hold else None)
        return Plan([Piece(w, "warmup", _linear(init, 1.0, w)), Piece(INF, "decay", decay)], q, sug)


def _interp_pieces(kind: str, init: float, bounds_scales: dict[int, float]) -> list[Piece]:
    """optax ``piecewise_interpolate_schedule(kind, init, {step: scale})`` as pieces (values as given)."""
    items = sorted(bounds_scales.items())
    bounds = [0] + [k for k, _ in items]
    values = np.cumprod(np.array([init] + [v for _, v in items], dtype=np.float64)).tolist()
    pieces = []
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        size = float(max(hi - lo, 1))
        a, b = values[i], values[i + 1]

        def fn(t: Any, xp: Any, lo: float = float(lo), size: float = size, a: float = a, b: float = b) -> Any:
            pct = (t - lo) / size
            if kind == "linear":
                return (b - a) * pct + a
            return b + (a - b) / 2.0 * (xp.cos(math.pi * pct) + 1.0)

        pieces.append(Piece(hi, "warmup" if b > a and i == 0 else "decay", fn))
    pieces.append(Piece(INF, "decay", const(values[-1])))
    return pieces


class _OneCycle(_Optax):
    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or self.n("transition_steps", run)

    def check_steps(self, run: RunInfo) -> int:
        n = self.n("transition_steps", run)
        if n <= 0:
            raise ValueError(f"{self.name}: transition_steps: got {n}; accepted: > 0 (optax raises)")
        return n


@register
class LinearOneCycle(_OneCycle):
    r"""optax ``linear_onecycle_schedule``: linear ``peak/div → peak → peak/div → peak/(div·final_div)``.

    Knots at ``int(pct_start·T)``, ``int(pct_final·T)`` and ``T`` (an optax
    ``piecewise_interpolate_schedule``; knots that truncate to the same step
    collapse, the later scale winning, as in the dict optax builds).

    >>> from rampup import parse
    >>> s = parse("optax:linear_onecycle_schedule(transition_steps=10, peak_value=1.0, div_factor=10.0)")
    >>> s(range(4)).round(4).tolist()
    [0.1, 0.4, 0.7, 1.0]
    """

    name = "optax:linear_onecycle_schedule"
    api = "optax.linear_onecycle_schedule"
    params = {
        "transition_steps": Param("length", REQUIRED, "transition_steps: length of the cycle"),
        "peak_value": _PEAK,
        "pct_start": Param("fraction", 0.3, "pct_start: fraction of the cycle spent increasing"),
        "pct_final": Param("fraction", 0.85, "pct_final: fraction of the cycle spent before the last phase"),
        "div_factor": Param("positive", 25.0, "initial value = peak_value / div_factor"),
        "final_div_factor": Param("positive", 1e4, "final value = initial value / final_div_factor"),
    }

    def plan(self, ctx: Ctx) -> Plan:
        n = self.check_steps(ctx.run)
        div, fdiv = float(self.args["div_factor"]), float(self.args["final_div_factor"])
        ps, pf = float(self.args["pct_start"]), float(self.args["pct_final"])
        b1, b2 = int(ps * n), int(pf * n)
        pieces = _interp_pieces("linear", 1.0 / div, {b1: div, b2: 1.0 / div, n: 1.0 / fdiv})
        q = [
            f"the knots are truncated with int(): the peak is at step int(pct_start·T) = {b1}, the second knot at {b2}",
            f"the first update uses peak_value/div_factor = peak/{div:g}",
        ]
        if len({b1, b2, n}) < 3:
            q.append("two knots truncate to the same step: optax's dict keeps only the later scale")
        sug = None
        if 0 < b1 < b2 < n:
            sug = (
                f"linear({b1 + 1}, start={fmt(1.0 / div)}) -> linear({b2 - b1}, floor={fmt(1.0 / div)}) -> "
                f"linear({n - b2}, floor={fmt(1.0 / (div * fdiv))})"
            )
        return Plan(pieces, q, sug)


@register
class CosineOneCycle(_OneCycle):
    r"""optax ``cosine_onecycle_schedule``: cosine ``peak/div → peak`` until ``int(pct_start·T)``, then to ``peak/(div·final_div)``.

    >>> from rampup import parse
    >>> s = parse("optax:cosine_onecycle_schedule(transition_steps=4, peak_value=1.0, pct_start=0.5, div_factor=10.0)")
    >>> s(range(3)).round(4).tolist()
    [0.1, 0.55, 1.0]
    """

    name = "optax:cosine_onecycle_schedule"
    api = "optax.cosine_onecycle_schedule"
    params = {
        "transition_steps": Param("length", REQUIRED, "transition_steps: length of the cycle"),
        "peak_value": _PEAK,
        "pct_start": Param("fraction", 0.3, "pct_start: fraction of the cycle spent increasing"),
        "div_factor": Param("positive", 25.0, "initial value = peak_value / div_factor"),
        "final_div_factor": Param("positive", 1e4, "final value = initial value / final_div_factor"),
    }

    def plan(self, ctx: Ctx) -> Plan:
        n = self.check_steps(ctx.run)
        div, fdiv = float(self.args["div_factor"]), float(self.args["final_div_factor"])
        b1 = int(float(self.args["pct_start"]) * n)
        pieces = _interp_pieces("cosine", 1.0 / div, {b1: div, n: 1.0 / (div * fdiv)})
        q = [
            f"the peak is at step int(pct_start·T) = {b1} (truncated); the first update uses peak_value/{div:g}",
            f"the final value is reached at step transition_steps={n}, one step after the last of {n} updates",
        ]
        if b1 == n:
            q.append("pct_start·T truncates to T: optax's dict keeps only the final scale")
        sug = None
        if 0 < b1 < n:
            sug = f"cosine({b1 + 1}, start={fmt(1.0 / div)}) -> cosine({n - b1 - 1}, floor={fmt(1.0 / (div * fdiv))})"
        return Plan(pieces, q, sug)


@register
class SGDR(_Optax):
    r"""optax ``sgdr_schedule``: ``warmup_cosine_decay_schedule`` cycles joined end to end.

    Written with nested calls, one per entry of optax's ``cosine_kwargs``:
    ``optax:sgdr_schedule(cosine_kwargs=[optax:warmup_cosine_decay_schedule(...), ...])``.
    Cycle ``j`` starts at the sum of the previous ``decay_steps`` and sees its
    own step; the last cycle's end value is held.

    >>> from rampup import parse
    >>> c = "optax:warmup_cosine_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=1, decay_steps=3)"
    >>> parse(f"optax:sgdr_schedule(cosine_kwargs=[{c}, {c}])")(range(7)).round(4).tolist()
    [0.0, 1.0, 0.5, 0.0, 1.0, 0.5, 0.0]
    """

    name = "optax:sgdr_schedule"
    api = "optax.sgdr_schedule"
    params = {
        "cosine_kwargs": Param(
            "phases", REQUIRED, "cosine_kwargs: one optax:warmup_cosine_decay_schedule per cycle", prefix="optax:"
        )
    }

    def validate(self) -> None:
        cyc = self.args["cosine_kwargs"]
        if not cyc:
            raise ValueError("optax:sgdr_schedule: cosine_kwargs: got []; accepted: at least one cycle")
        for i, c in enumerate(cyc):
            if c.name != WarmupCosineDecay.name:
                raise ValueError(
                    f"optax:sgdr_schedule: cosine_kwargs[{i}]: got {c.name}; accepted: {WarmupCosineDecay.name}(...)"
                )

    def own_peak_value(self) -> float | None:
        return max(float(c.args["peak_value"]) for c in self.args["cosine_kwargs"])

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or sum(c.n("decay_steps", run) for c in self.args["cosine_kwargs"])

    def plan(self, ctx: Ctx) -> Plan:
        assert ctx.ref is not None
        pieces: list[Piece] = []
        begin = 0
        q = ["every cycle restarts from its init_value: a jump, then the cycle's own warmup"]
        for c in self.args["cosine_kwargs"]:
            a = c.args
            w, d = c.n("warmup_steps", ctx.run), c.n("decay_steps", ctx.run)
            pieces += _wcd_pieces(
                float(a["init_value"]) / ctx.ref,
                float(a["peak_value"]) / ctx.ref,
                w,
                d,
                float(a["end_value"]) / ctx.ref,
                float(a["exponent"]),
                begin,
            )
            begin += d
        # The last cycle holds its end value: its cosine clips its count at decay_steps.
        return Plan([*pieces, Piece(INF, "decay", pieces[-1].fn)], q, None)


def _chain(pieces: list[Piece]) -> Any:
    """One function of the step from a plan's pieces (each ``[previous end, end)`` follows its ``fn``)."""

    def fn(t: Any, xp: Any) -> Any:
        v = pieces[-1].fn(t, xp)
        for p in reversed(pieces[:-1]):
            v = xp.where(t < p.end, p.fn(t, xp), v)
        return v

    return fn


def _cumulative(init: float, pairs: Any) -> list[float]:
    """optax's ``cumprod((init,) + scales)`` over the sorted boundaries, checked finite."""
    out = [init]
    for _, sc in sorted(pairs or ()):
        out.append(out[-1] * sc)
    return out


class _Absolute(_Optax):
    """An optax schedule whose own peak is the largest value it takes (no ``peak_value`` argument)."""

    own_peak = None

    def peak(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def own_peak_value(self) -> float | None:
        return self.peak()

    def validate(self) -> None:
        p = self.peak()
        if not math.isfinite(p):
            raise ValueError(f"{self.name}: the values overflow (largest {p!r}); accepted: finite values")
        if not p > 0.0:
            raise ValueError(f"{self.name}: every value is 0: this schedule trains nothing; give a positive value")

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps


@register
class ConstantSchedule(_Absolute):
    r"""optax ``constant_schedule(value)``: ``value`` at every step.

    >>> from rampup import parse
    >>> parse("optax:constant_schedule(value=0.001)")(range(3)).tolist()
    [0.001, 0.001, 0.001]
    """

    name = "optax:constant_schedule"
    api = "optax.constant_schedule"
    params = {"value": Param("lr", REQUIRED, "value: the LR")}

    def peak(self) -> float:
        return float(self.args["value"])

    def plan(self, ctx: Ctx) -> Plan:
        return Plan([Piece(INF, "decay", const(1.0))], ["no warmup"], "constant")


@register
class PolynomialSchedule(_Absolute):
    r"""optax ``polynomial_schedule``: ``(init − end)(1 − c/T)^power + end``, ``c = clip(t − transition_begin, 0, T)``.

    ``init_value`` until ``transition_begin``, ``end_value`` from ``transition_begin + transition_steps`` on;
    ``transition_steps <= 0``: optax logs it and keeps ``init_value`` (a silent constant).

    >>> from rampup import parse
    >>> s = parse("optax:polynomial_schedule(init_value=1.0, end_value=0.0, power=2.0, transition_steps=2)")
    >>> s(range(4)).tolist()
    [1.0, 0.25, 0.0, 0.0]
    """

    name = "optax:polynomial_schedule"
    api = "optax.polynomial_schedule"
    params = {
        "init_value": Param("nonneg", REQUIRED, "init_value: the LR at the start"),
        "end_value": Param("nonneg", REQUIRED, "end_value: the LR at the end"),
        "power": Param("nonneg", REQUIRED, "power of the polynomial"),
        "transition_steps": Param("length", REQUIRED, "transition_steps: length of the transition"),
        "transition_begin": Param("length", 0, "transition_begin: steps before it starts"),
    }

    def power(self) -> float:
        return float(self.args["power"])

    def peak(self) -> float:
        return max(float(self.args["init_value"]), float(self.args["end_value"]))

    def plan(self, ctx: Ctx) -> Plan:
        ref = self.peak()
        ts, b = self.n("transition_steps", ctx.run), self.n("transition_begin", ctx.run)
        init, end = float(self.args["init_value"]) / ref, float(self.args["end_value"]) / ref
        fn = _poly(init, end, self.power(), ts, float(b))
        q = []
        if ts <= 0:
            q.append("transition_steps <= 0: optax only logs it and keeps init_value for ever (a silent fallback)")
            return Plan([Piece(INF, "decay", fn)], q, None)
        role = "warmup" if end > init else "decay"
        p = self.power()
        if not float(p).is_integer() and Fraction(float(np.float32(1.0) / np.float32(ts))) * ts > 1:
            # XLA turns 1 − count/T into one fused multiply-add with the float32 reciprocal of T; where that
            # reciprocal is rounded up, 1 − T·(1/T) is a tiny negative number and its non-integer power NaN.
            q.append(
                f"inside jit optax gives NaN from step {b + ts} on: 1 − count/{ts} is computed as 1 − count·f32(1/{ts}) "
                f"(one fused multiply-add), which is −{float(Fraction(float(np.float32(1.0) / np.float32(ts))) * ts) - 1:.1g} "
                f"at the end, and its power {p:g} is NaN; rampup holds end_value there"
            )
        if b:
            q.append(f"init_value is held for transition_begin = {b} steps")
        q.append(f"end_value is reached at step {b + ts}, one step after the last of the {ts} transition updates")
        if role == "warmup" and init == 0.0 and b == 0:
            q.append("init_value=0: the first update uses LR 0")
        return Plan([Piece(b, "decay", fn), Piece(b + ts, role, fn), Piece(INF, "decay", fn)], q, None)


@register
class LinearSchedule(PolynomialSchedule):
    r"""optax ``linear_schedule``: ``polynomial_schedule`` with ``power=1``.

    >>> from rampup import parse
    >>> parse("optax:linear_schedule(init_value=0.0, end_value=1.0, transition_steps=4)")(range(6)).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    name = "optax:linear_schedule"
    api = "optax.linear_schedule"
    params = {k: v for k, v in PolynomialSchedule.params.items() if k != "power"}

    def power(self) -> float:
        return 1.0


@register
class WarmupConstant(_Optax):
    r"""optax ``warmup_constant_schedule``: linear ``init_value → peak_value`` over ``warmup_steps``, then held.

    >>> from rampup import parse
    >>> parse("optax:warmup_constant_schedule(init_value=0.0, peak_value=1.0, warmup_steps=2)")(range(4)).tolist()
    [0.0, 0.5, 1.0, 1.0]
    """

    name = "optax:warmup_constant_schedule"
    api = "optax.warmup_constant_schedule"
    params = {"init_value": _INIT, "peak_value": _PEAK, "warmup_steps": _WARM}

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps

    def plan(self, ctx: Ctx) -> Plan:
        w = self.n("warmup_steps", ctx.run)
        init = float(self.args["init_value"]) / float(self.args["peak_value"])
        fn = _linear(init, 1.0, w)
        q = []
        if w > 0:
            if init == 0.0:
                q.append("init_value=0: the first update uses LR 0")
            q.append(f"the warmup reaches peak_value at step {w}, after {w} updates below it")
        sug = f"linear({w}{', start=' + fmt(init) if init else ''}) -> constant" if w and init <= 1.0 else None
        return Plan([Piece(w, "warmup", fn), Piece(INF, "decay", fn)], q, sug)


@register
class ExponentialDecay(_Absolute):
    r"""optax ``exponential_decay``: ``init·decay_rate^(c/T)``, ``c = t − transition_begin`` (``init`` while ``c <= 0``).

    ``staircase`` floors ``c/T`` as optax's optimizers get it inside ``jit`` (see
    ``optax:warmup_exponential_decay_schedule``); ``end_value`` bounds the decay (a lower bound when
    ``decay_rate < 1``, else an upper bound, required then); ``transition_steps <= 0`` or ``decay_rate == 0``:
    optax logs it and keeps ``init_value``.

    >>> from rampup import parse
    >>> parse("optax:exponential_decay(init_value=1.0, transition_steps=1, decay_rate=0.5)")(range(4)).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """

    name = "optax:exponential_decay"
    api = "optax.exponential_decay"
    params = {
        "init_value": Param("lr", REQUIRED, "init_value: the LR at the start"),
        "transition_steps": Param("length", REQUIRED, "transition_steps: steps per factor of decay_rate"),
        "decay_rate": Param("nonneg", REQUIRED, "decay_rate"),
        "transition_begin": Param("length", 0, "transition_begin: steps before decaying"),
        "staircase": Param("bool", False, "staircase: decay in jumps"),
        "end_value": Param("nonneg", None, "end_value: bound of the decay"),
    }

    def validate(self) -> None:
        _growth_check(self.name, float(self.args["decay_rate"]), self.args["end_value"])
        super().validate()

    def peak(self) -> float:
        init, end = float(self.args["init_value"]), self.args["end_value"]
        return max(init, float(end)) if float(self.args["decay_rate"]) > 1.0 and end is not None else init

    def plan(self, ctx: Ctx) -> Plan:
        ref = self.peak()
        ts, b = self.n("transition_steps", ctx.run), self.n("transition_begin", ctx.run)
        rate, stair = float(self.args["decay_rate"]), bool(self.args["staircase"])
        init = float(self.args["init_value"]) / ref
        end = None if self.args["end_value"] is None else float(self.args["end_value"]) / ref
        q = ["no warmup"]
        if ts <= 0 or rate == 0.0:
            q.append(
                f"{'transition_steps <= 0' if ts <= 0 else 'decay_rate == 0'}: optax only logs it and keeps "
                "init_value for ever (a silent fallback)"
            )
            return Plan([Piece(INF, "decay", const(init))], q, None)
        q += _stair_quirks(ts, stair, b, ctx.run.total_steps)
        fn = _exp_decay(init, ts, rate, float(b), stair, end)
        return Plan([Piece(b + 1, "decay", fn), Piece(INF, "decay", fn)], q, None)


@register
class CosineDecay(_Absolute):
    r"""optax ``cosine_decay_schedule``: ``init·((1 − α)(½(1 + cos(π·min(t, D)/D)))^exponent + α)``.

    >>> from rampup import parse
    >>> parse("optax:cosine_decay_schedule(init_value=1.0, decay_steps=2)")(range(4)).round(4).tolist()
    [1.0, 0.5, 0.0, 0.0]
    """

    name = "optax:cosine_decay_schedule"
    api = "optax.cosine_decay_schedule"
    params = {
        "init_value": Param("lr", REQUIRED, "init_value: the LR at the start"),
        "decay_steps": Param("length", REQUIRED, "decay_steps: length of the decay (> 0)"),
        "alpha": Param("nonneg", 0.0, "alpha: the final value as a multiple of init_value"),
        "exponent": Param("positive", 1.0, "exponent of the cosine factor"),
    }

    def peak(self) -> float:
        return float(self.args["init_value"]) * max(1.0, float(self.args["alpha"]))

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or self.n("decay_steps", run)

    def plan(self, ctx: Ctx) -> Plan:
        ref = self.peak()
        d = self.n("decay_steps", ctx.run)
        if d <= 0:
            raise ValueError(f"{self.name}: decay_steps: got {d}; accepted: > 0 (optax raises)")
        init, a, ex = float(self.args["init_value"]) / ref, float(self.args["alpha"]), float(self.args["exponent"])
        fn = _cosine(init, d, a, ex, 0.0)
        q = ["no warmup", f"the final value is reached at step decay_steps={d}, one step after the last of {d} updates"]
        sug = f"cosine({d}{', floor=' + fmt(a) if a else ''})" if ex == 1.0 and a <= 1.0 and init == 1.0 else None
        return Plan([Piece(d, "decay", fn), Piece(INF, "decay", fn)], q, sug)


@register
class PiecewiseConstant(_Absolute):
    r"""optax ``piecewise_constant_schedule``: ``init_value`` times every scale whose boundary ``<= t``.

    ``boundaries_and_scales`` is optax's dict ``{step: scale}``, written as pairs: ``[[100, 0.5], [200, 0.1]]``.

    >>> from rampup import parse
    >>> parse("optax:piecewise_constant_schedule(init_value=1.0, boundaries_and_scales=[[2, 0.5]])")(range(4)).tolist()
    [1.0, 1.0, 0.5, 0.5]
    """

    name = "optax:piecewise_constant_schedule"
    api = "optax.piecewise_constant_schedule"
    params = {
        "init_value": Param("lr", REQUIRED, "init_value: the LR before the first boundary"),
        "boundaries_and_scales": Param("pairs", None, "boundaries_and_scales: [[step, scale], ...]"),
    }

    def peak(self) -> float:
        return max(_cumulative(float(self.args["init_value"]), self.args["boundaries_and_scales"]))

    def plan(self, ctx: Ctx) -> Plan:
        ref = self.peak()
        pairs = sorted(self.args["boundaries_and_scales"] or ())
        init = float(self.args["init_value"]) / ref

        def fn(t: Any, xp: Any) -> Any:
            v: Any = t * 0.0 + init
            for b, sc in pairs:
                v = xp.where(t >= b, v * sc, v)
            return v

        cuts = sorted({b for b, _ in pairs if b > 0})
        pieces = [Piece(c, "decay", fn) for c in cuts] + [Piece(INF, "decay", fn)]
        q = ["no warmup; the LR jumps at every boundary"]
        return Plan(pieces, q, None)


@register
class PiecewiseInterpolate(_Absolute):
    r"""optax ``piecewise_interpolate_schedule``: linear or cosine interpolation between the cumulative scales.

    Knot ``i`` at ``boundaries[i]`` has value ``init·scale_0···scale_i``; between knots the value is
    interpolated over ``max(hi − lo, 1)`` steps; the last value is held.

    >>> from rampup import parse
    >>> s = parse("optax:piecewise_interpolate_schedule(interpolate_type=linear, init_value=1.0, "
    ...           "boundaries_and_scales=[[2, 0.5]])")
    >>> s(range(4)).tolist()
    [1.0, 0.75, 0.5, 0.5]
    """

    name = "optax:piecewise_interpolate_schedule"
    api = "optax.piecewise_interpolate_schedule"
    params = {
        "interpolate_type": Param("choice", REQUIRED, "interpolate_type", ("linear", "cosine")),
        "init_value": Param("lr", REQUIRED, "init_value: the LR at step 0"),
        "boundaries_and_scales": Param("pairs", None, "boundaries_and_scales: [[step, scale], ...]"),
    }

    def peak(self) -> float:
        return max(_cumulative(float(self.args["init_value"]), self.args["boundaries_and_scales"]))

    def plan(self, ctx: Ctx) -> Plan:
        ref = self.peak()
        pairs = dict(self.args["boundaries_and_scales"] or ())
        pieces = _interp_pieces(self.args["interpolate_type"], float(self.args["init_value"]) / ref, pairs)
        return Plan(pieces, ["the knots are reached one step after the last update that interpolates to them"], None)


@register
class JoinSchedules(_Optax):
    r"""optax ``join_schedules(schedules, boundaries)``: from ``boundaries[i]`` on, ``schedules[i+1](t − boundaries[i])``.

    The schedules are nested ``optax:`` specs; each sees its own step (``t − boundary``); where boundaries are
    out of order, the later one in the list wins, as in optax's loop.

    >>> from rampup import parse
    >>> s = parse("optax:join_schedules(schedules=[optax:linear_schedule(init_value=0.0, end_value=1.0, "
    ...           "transition_steps=2), optax:cosine_decay_schedule(init_value=1.0, decay_steps=2)], boundaries=[2])")
    >>> s(range(5)).round(4).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """

    name = "optax:join_schedules"
    api = "optax.join_schedules"
    own_peak = None
    params = {
        "schedules": Param("phases", REQUIRED, "schedules: the optax: specs to join", prefix="optax:"),
        "boundaries": Param("ints", REQUIRED, "boundaries: the step at which each next schedule starts"),
    }

    def validate(self) -> None:
        sc, b = self.args["schedules"], self.args["boundaries"]
        if not sc:
            raise ValueError(f"{self.name}: schedules: got []; accepted: at least one optax: spec")
        if len(b) != len(sc) - 1:
            raise ValueError(
                f"{self.name}: boundaries: got {len(b)} for {len(sc)} schedules; accepted: one fewer boundary than "
                "schedules (optax zips them and silently drops the extra)"
            )

    def own_peak_value(self) -> float | None:
        return max(float(s.own_peak_value()) for s in self.args["schedules"])

    def horizon(self, run: RunInfo) -> int | None:
        if run.total_steps:
            return run.total_steps
        last = self.args["schedules"][-1].horizon(run)
        return (max(self.args["boundaries"], default=0) + last) if last else None

    def plan(self, ctx: Ctx) -> Plan:
        assert ctx.ref is not None
        fns = []
        q: list[str] = []
        for sub in self.args["schedules"]:
            sctx = sub.context(ctx.run, None)
            sp = sub.plan(sctx)
            scale = float(sctx.ref or 1.0) / ctx.ref
            f = _chain(sp.pieces)
            fns.append(f if scale == 1.0 else (lambda t, xp, f=f, c=scale: f(t, xp) * c))
            q += [x for x in sp.quirks if "staircase" in x]
        bounds = list(self.args["boundaries"])

        def fn(t: Any, xp: Any) -> Any:
            out = fns[0](t, xp)
            for b, f in zip(bounds, fns[1:]):
                out = xp.where(t < b, out, f(xp.maximum(t - b, 0.0), xp))
            return out

        cuts = sorted({b for b in bounds if b > 0})
        q.insert(0, "each schedule restarts its own clock at its boundary (a jump where the values differ)")
        return Plan([Piece(c, "decay", fn) for c in cuts] + [Piece(INF, "decay", fn)], q, None)
