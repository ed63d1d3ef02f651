"""optax schedules (``optax:``): warmup + cosine/exponential decay, one-cycle, SGDR.

Read from ``optax/schedules/_schedule.py`` and ``_join.py`` (optax 0.2.x).  An
optax schedule is a function of the optimizer's update count, which is 0 for
the first update: rampup's ``schedule(t)`` is optax's ``schedule(t)``.  Its
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
from typing import Any

import numpy as np

from ..core.params import REQUIRED, Param
from ..core.phases import register
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, XParam, const, fmt, pow_

__all__: list[str] = []

_RULE = "update t+1 uses schedule(t): optax's count is the number of updates already applied"
_SRC = "optax/schedules/_schedule.py"
_INIT = Param("nonneg", REQUIRED, "init_value: the LR of the first update")
_PEAK = Param("lr", REQUIRED, "peak_value: the LR at the end of the warmup")
_WARM = Param("length", REQUIRED, "warmup_steps: length of the linear warmup")


class _Optax(CompatPhase):
    library = "optax"
    source = _SRC
    step_rule = _RULE
    own_peak = "peak_value"


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
            q.append(
                f"{'transition_steps <= 0' if ts <= 0 else 'decay_rate == 0'}: optax only logs it and keeps "
                "peak_value for ever (a silent fallback)"
            )
            decay = const(1.0)
        else:

            def decay(t: Any, xp: Any) -> Any:
                dc = t - w - b
                p = dc / ts
                if stair:
                    p = xp.floor(p)
                v = xp.where(dc <= 0.0, 1.0, pow_(xp, rate, p))
                if end is not None:
                    v = xp.maximum(v, end) if rate < 1.0 else xp.minimum(v, end)
                return v

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
    params = {}
    xparams = {
        "cosine_kwargs": XParam(
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
