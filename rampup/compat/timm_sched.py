"""timm schedulers (``timm:``): cosine, tanh, step, multistep, poly and wsd, with their warmups.

Read from ``timm/scheduler/{scheduler,cosine_lr,tanh_lr,step_lr,multistep_lr,poly_lr,wsd_lr}.py``
(timm 1.0.x).  A timm scheduler is a closed form ``_get_lr(u)`` of its own
counter ``u``: updates with ``t_in_epochs=false`` (``step_update(num_updates)``
after every update) or epochs with ``t_in_epochs=true``, timm's default
(``step(epoch + 1)`` after every epoch).  The optimizer's LR before the first
call is the one the constructor leaves: ``warmup_lr_init`` with a warmup, else
the untouched base LR.  So rampup's ``schedule(t)`` is ``_get_lr(u)`` with
``u = t`` (updates) or ``u = ⌊t / steps_per_epoch⌋`` (epochs), except that the
first update (the first epoch) uses that initial LR.

``warmup_lr_init`` and ``lr_min`` are absolute LRs, the same for every param
group (pass ``peak_lr`` = the group's LR when they are not 0).  Noise
(``noise_range_t``) and ``lr_scale`` are not modelled.

>>> from rampup import parse
>>> s = parse("timm:cosine(t_initial=4, warmup_t=2, warmup_prefix=true, t_in_epochs=false)")
>>> s(range(8)).tolist()
[0.0, 0.5, 1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 0.0, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.backend import NUMPY, SCALAR
from ..core.params import REQUIRED, Param
from ..core.phases import register
from ..core.shapes import floor_div
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, const, fmt, pow_, refuse

__all__: list[str] = []

refuse("timm:plateau", "timm.scheduler.PlateauLRScheduler")

_RULE = (
    "update t+1 uses _get_lr(t) (t_in_epochs=false) or _get_lr(⌊t/steps_per_epoch⌋) (epochs); "
    "the first update/epoch uses the LR the constructor leaves (warmup_lr_init, or the base LR)"
)

_COMMON = {
    "warmup_lr_init": Param("nonneg", 0.0, "warmup_lr_init: the LR at the start of the warmup (absolute)"),
    "t_in_epochs": Param("bool", True, "t_in_epochs: count t_initial/warmup_t in epochs (timm's default)"),
}
_CYCLE = {
    "lr_min": Param("nonneg", 0.0, "lr_min: the floor (absolute)"),
    "cycle_mul": Param("positive", 1.0, "cycle_mul: each cycle is this many times longer"),
    "cycle_decay": Param("nonneg", 1.0, "cycle_decay: each cycle's peak is this times the previous one"),
}
# timm accepts cycle_limit=0 (every step after the warmup is lr_min), so an int >= 0, not the core's posint.
_CYCLE_X = {"cycle_limit": Param("int", 1, "cycle_limit: number of cycles, then lr_min (0: lr_min at once)")}

# The cycle lengths every timm scheduler takes, and the warmup of the step schedulers.
_WARMUP_T = {"warmup_t": Param("int", 0, "warmup_t: warmup length, in timm units")}
_TIMM_X = {"t_initial": Param("int", REQUIRED, "t_initial: length of the (first) cycle, in timm units"), **_WARMUP_T}


class _Timm(CompatPhase):
    library = "timm"
    step_rule = _RULE
    params = _TIMM_X
    warmup_prefix_default = False

    def unit(self, run: RunInfo) -> int:
        """Steps per timm unit: 1 (updates) or steps_per_epoch (epochs)."""
        if not self.args["t_in_epochs"]:
            return 1
        if run.steps_per_epoch is None:
            raise ValueError(
                f"{self.name}: t_in_epochs=true (timm's default) counts t_initial and warmup_t in epochs: pass "
                "steps_per_epoch= (--steps-per-epoch), or give t_in_epochs=false to count updates"
            )
        return run.steps_per_epoch

    def prefix(self) -> bool:
        v = self.args.get("warmup_prefix")
        return self.warmup_prefix_default if v is None else bool(v)

    def cycle_units(self) -> float:
        """timm's ``get_cycle_length()`` in timm units (warmup included when it is a prefix)."""
        ti, m, lim = (
            self.args["t_initial"],
            float(self.args.get("cycle_mul", 1.0)),
            int(self.args.get("cycle_limit", 1)),
        )
        cycles = max(1, lim)
        t = ti * cycles if m == 1.0 else math.floor(-ti * (m**cycles - 1) / (1 - m))
        return t + self.args["warmup_t"] if self.prefix() else t

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or int(self.cycle_units()) * self.unit(run)

    def lr_of(self, u: Any, xp: Any, ctx: Ctx) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def warmup_slope(self, ctx: Ctx) -> float:
        init, w = self.lv("warmup_lr_init", ctx), self.args["warmup_t"]
        return (1.0 - init) / w

    def timm_plan(self, ctx: Ctx, quirks: list[str], suggestion: str | None) -> Plan:
        """Pieces from ``_get_lr`` (``lr_of``) on timm's counter, plus the initial-LR rule and the warmup quirks."""
        k = self.unit(ctx.run)
        w = self.args["warmup_t"]
        init = self.lv("warmup_lr_init", ctx, "timm uses it for every param group")
        slope = self.warmup_slope(ctx) if w else 0.0
        lr_of = self.lr_of

        def warm(t: Any, xp: Any) -> Any:
            u = floor_div(t, k, xp) if k != 1 else t
            return init + u * slope

        def main(t: Any, xp: Any) -> Any:
            u = floor_div(t, k, xp) if k != 1 else t
            return lr_of(u, xp, ctx)

        pieces = []
        if w:
            pieces.append(Piece(w * k, "warmup", warm))
        else:
            # The constructor leaves the base LR for the first update (epoch); _get_lr(0) may differ (tanh).
            pieces.append(Piece(k, "decay", const(1.0)))
        end = self.cycle_units()
        if end * k > max(w, 1) * k:
            pieces.append(Piece(end * k, "decay", main))
        pieces.append(Piece(INF, "decay", main))
        q = list(quirks)
        if w:
            if init == 0.0:
                q.insert(0, "warmup_lr_init=0: the first update uses LR 0")
            if self.prefix():
                q.insert(
                    1 if init == 0.0 else 0,
                    f"the warmup climbs (LR − warmup_lr_init)/warmup_t per {'epoch' if k > 1 else 'update'} and "
                    f"reaches the LR only at step {w * k}, after the warmup",
                )
        if self.args["warmup_lr_init"] or self.args.get("lr_min"):
            q.append("warmup_lr_init and lr_min are absolute LRs: every param group gets the same ones")
        if k > 1:
            q.append(f"t_in_epochs=true: the LR changes once per epoch ({k} updates), a staircase")
        return Plan(pieces, q, suggestion)

    def warm_text(self, ctx: Ctx, k: int) -> str:
        w = self.args["warmup_t"]
        if not w:
            return ""
        init = self.lv("warmup_lr_init", ctx)
        return f"linear({w * k}{', start=' + fmt(init) if init else ''}) -> "


def _libm_log(x: Any, xp: Any) -> Any:
    """``math.log`` elementwise: the C library's log, which timm calls, for floats, NumPy and torch arrays.

    NumPy's SIMD ``log`` differs from libm's in the last bit for some inputs (``log(1.05)`` is one ulp lower),
    and one ulp decides ``floor(log x / log m)`` where ``x`` is a power of ``m``: the restart step.  NumPy
    values are computed with NumPy and the few within 1e-9 of a cycle boundary recomputed with ``math.log``.
    jax (traced under jit) has no libm: there XLA's log is used and a boundary may land one step off.
    """
    name = getattr(xp, "name", "")
    if name == "scalar":
        return math.log(x)
    if name == "numpy":
        return _np_libm_log(np.asarray(x, dtype=np.float64))
    if name == "torch":
        return xp.asarray(_np_libm_log(np.asarray(xp.to_numpy(x), dtype=np.float64)), x)
    return xp.log(x)


def _np_libm_log(v: np.ndarray) -> np.ndarray:
    flat = v.reshape(-1)
    return np.fromiter((math.log(e) if e > 0 else -math.inf for e in flat.tolist()), np.float64, flat.size).reshape(
        v.shape
    )


def _cycle_index(self: _Timm, x: Any, xp: Any) -> Any:
    """timm's ``math.floor(math.log(x, cycle_mul))`` (``log x / log m`` with libm's log, as CPython computes it)."""
    lm = math.log(float(self.args["cycle_mul"]))
    name = getattr(xp, "name", "")
    if name == "scalar":
        return float(math.floor(math.log(x) / lm)) if x > 0 else -math.inf
    if name == "numpy":
        x = np.asarray(x, dtype=np.float64)
        r = np.log(x) / lm
        near = np.abs(r - np.round(r)) <= 1e-9 * np.maximum(1.0, np.abs(r))
        if near.any():
            r = np.where(near, _np_libm_log(np.where(near, x, 1.0)) / lm, r)
        return np.floor(r)
    return xp.floor(_libm_log(x, xp) / lm)


def _cycle(self: _Timm, u: Any, xp: Any) -> tuple[Any, Any, Any]:
    """(cycle index i, t_curr, t_i) exactly as timm computes them (``math.log(x, m)`` is ``log x / log m``)."""
    ti, m = float(self.args["t_initial"]), float(self.args["cycle_mul"])
    if self.prefix():
        u = u - self.args["warmup_t"]
    if m != 1.0:
        # u < 0 (inside a warmup that is not a prefix... never: the warmup piece covers it) would give log of <= 0.
        i = _cycle_index(self, xp.maximum(1.0 - u / ti * (1.0 - m), 1.0), xp)
        mi = pow_(xp, m, i)
        return i, u - (1.0 - mi) / (1.0 - m) * ti, mi * ti
    i = xp.floor(u / ti)
    return i, u - ti * i, u * 0.0 + ti


def _cycle_args(self: _Timm) -> None:
    if self.args["t_initial"] <= 0:
        raise ValueError(
            f"{self.name}: t_initial: got {self.args['t_initial']}; accepted: an int > 0 (timm asserts it)"
        )
    if self.args["cycle_mul"] < 1.0:
        raise ValueError(
            f"{self.name}: cycle_mul: got {self.args['cycle_mul']!r}; accepted: a number >= 1 (with shrinking cycles "
            "timm takes the log of a negative number, a math domain error, once all cycles are over)"
        )


def _cycle_quirks(self: _Timm, ctx: Ctx, what: str) -> list[str]:
    w, k = self.args["warmup_t"], self.unit(ctx.run)
    q = []
    if w and not self.prefix():
        best = max(
            float(self.lr_of(float(w), SCALAR, ctx)),
            float(self.lv("warmup_lr_init", ctx) + (w - 1) * self.warmup_slope(ctx)),
        )
        q.append(
            f"warmup_prefix=false (timm's default): the {what} clock includes the warmup, so at step {w * k} the "
            f"{what} is already {w}/{self.args['t_initial']} of its way down: the peak LR is never reached "
            f"(highest: {best:.4g}×LR)"
        )
    if float(self.args["cycle_mul"]) != 1.0:
        q.append(
            "cycle_mul != 1: the cycle index is timm's floor(math.log(x, cycle_mul)) with the C library's log, "
            "reproduced bit for bit (NumPy's log can differ by an ulp and move a restart by one step)"
        )
    if int(self.args["cycle_limit"]) == 0:
        q.append("cycle_limit=0: after the warmup every step is lr_min (timm accepts it; no decay is scheduled)")
    elif int(self.args["cycle_limit"]) == 1:
        q.append(
            f"lr_min is reached at step {int(self.cycle_units()) * k}, one step after the last scheduled step "
            "(the last update is still above it)"
        )
    else:
        q.append("every cycle restarts at its peak without a re-warmup")
    return q


def _py_floordiv(u: Any, d: float, xp: Any) -> Any:
    """Python's float ``u // d`` (timm's ``t // decay_t``), elementwise, for ``d > 0``.

    CPython does not floor the quotient: it computes ``div = (u − fmod(u, d)) / d`` and rounds ``div`` to the
    nearest whole number, so ``11 // 1.1`` is ``9.0`` (``fmod(11, 1.1)`` is 1.0999…, as ``1.1`` is a bit
    above 11/10) while ``floor(11 / 1.1)`` is ``10.0``.  ``fmod`` is exact in IEEE arithmetic, so every
    backend gets the same whole numbers.
    """
    name = getattr(xp, "name", "")
    if name == "scalar":
        return float(u // d)
    mod = xp.fmod(u, d)
    div = (u - mod) / d
    div = xp.where(mod < 0.0, div - 1.0, div)  # a negative u (d > 0): CPython moves mod into [0, d)
    fl = xp.floor(div)
    return xp.where(div - fl > 0.5, fl + 1.0, fl)


@register
class Cosine(_Timm):
    r"""timm ``CosineLRScheduler``: ``lr_min + ½(lr_max − lr_min)(1 + cos(π·t_curr^k/t_i^k))`` per cycle.

    Cycle ``i`` lasts ``t_i = t_initial·cycle_mul^i`` and peaks at
    ``LR·cycle_decay^i``; after ``cycle_limit`` cycles the LR is ``lr_min``.
    Warmup: ``warmup_lr_init + u·(LR − warmup_lr_init)/warmup_t`` for
    ``u < warmup_t``; with ``warmup_prefix=false`` (the default) the cosine's
    clock starts at 0, not at the end of the warmup.

    >>> from rampup import parse
    >>> parse("timm:cosine(t_initial=4, t_in_epochs=false)")(range(6)).tolist()
    [1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 0.0, 0.0]
    """

    name = "timm:cosine"
    api = "timm.scheduler.CosineLRScheduler"
    source = "timm/scheduler/cosine_lr.py"
    params = {
        **_CYCLE,
        **_COMMON,
        "warmup_prefix": Param("bool", False, "warmup_prefix: start the cosine after the warmup"),
        "k_decay": Param("positive", 1.0, "k_decay: exponent on t_curr and t_i"),
        **_TIMM_X,
        **_CYCLE_X,
    }

    def validate(self) -> None:
        _cycle_args(self)

    def lr_of(self, u: Any, xp: Any, ctx: Ctx) -> Any:
        lo, k = self.lv("lr_min", ctx), float(self.args["k_decay"])
        i, tc, ti = _cycle(self, u, xp)
        top = pow_(xp, float(self.args["cycle_decay"]), i)
        v = lo + 0.5 * (top - lo) * (1.0 + xp.cos(math.pi * pow_(xp, tc, k) / pow_(xp, ti, k)))
        return xp.where(i < int(self.args["cycle_limit"]), v, lo)

    def plan(self, ctx: Ctx) -> Plan:
        k = self.unit(ctx.run)
        q = _cycle_quirks(self, ctx, "cosine")
        sug = None
        if int(self.args["cycle_limit"]) == 1 and float(self.args["k_decay"]) == 1.0:
            w, ti, lo = self.args["warmup_t"], self.args["t_initial"], self.lv("lr_min", ctx)
            n = ti if self.prefix() else ti - w
            if n > 0 and lo <= 1.0:
                sug = f"{self.warm_text(ctx, k)}cosine({n * k}{', floor=' + fmt(lo) if lo else ''})"
        return self.timm_plan(ctx, q, sug)


@register
class Poly(_Timm):
    r"""timm ``PolyLRScheduler``: ``lr_min + (lr_max − lr_min)(1 − t_curr^k/t_i^k)^power`` per cycle.

    Cycles, warmup and ``warmup_prefix`` as in ``timm:cosine``; ``power`` defaults to 0.5.

    >>> from rampup import parse
    >>> parse("timm:poly(t_initial=4, power=1.0, t_in_epochs=false)")(range(6)).tolist()
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    name = "timm:poly"
    api = "timm.scheduler.PolyLRScheduler"
    source = "timm/scheduler/poly_lr.py"
    params = {
        "power": Param("nonneg", 0.5, "power of the decay"),
        **_CYCLE,
        **_COMMON,
        "warmup_prefix": Param("bool", False, "warmup_prefix: start the decay after the warmup"),
        "k_decay": Param("positive", 1.0, "k_decay: exponent on t_curr and t_i"),
        **_TIMM_X,
        **_CYCLE_X,
    }

    def validate(self) -> None:
        _cycle_args(self)

    def lr_of(self, u: Any, xp: Any, ctx: Ctx) -> Any:
        lo, k, p = self.lv("lr_min", ctx), float(self.args["k_decay"]), float(self.args["power"])
        i, tc, ti = _cycle(self, u, xp)
        top = pow_(xp, float(self.args["cycle_decay"]), i)
        v = lo + (top - lo) * pow_(xp, 1.0 - pow_(xp, tc, k) / pow_(xp, ti, k), p)
        return xp.where(i < int(self.args["cycle_limit"]), v, lo)

    def plan(self, ctx: Ctx) -> Plan:
        k = self.unit(ctx.run)
        q = _cycle_quirks(self, ctx, "decay")
        sug = None
        p = float(self.args["power"])
        if int(self.args["cycle_limit"]) == 1 and float(self.args["k_decay"]) == 1.0 and p > 0:
            w, ti, lo = self.args["warmup_t"], self.args["t_initial"], self.lv("lr_min", ctx)
            n = ti if self.prefix() else ti - w
            if n > 0 and lo <= 1.0:
                sug = f"{self.warm_text(ctx, k)}poly({n * k}, power={fmt(p)}{', floor=' + fmt(lo) if lo else ''})"
        return self.timm_plan(ctx, q, sug)


@register
class Tanh(_Timm):
    r"""timm ``TanhLRScheduler``: ``lr_min + ½(lr_max − lr_min)(1 − tanh(lb(1 − r) + ub·r))``, ``r = t_curr/t_i``.

    ``1 − tanh(z)`` is evaluated as ``2/(1 + e^{2z})`` (timm's ``1 − math.tanh(z)``
    cancels digits when ``ub`` is large; the two agree to ~1e-16 absolute).
    Without ``warmup_prefix`` the warmup ramps to the tanh curve's value at
    ``warmup_t`` (not to the LR), so there is no jump.

    >>> from rampup import parse
    >>> [round(float(v), 4) for v in parse("timm:tanh(t_initial=4, t_in_epochs=false)")(range(6))]
    [1.0, 0.9999, 0.982, 0.2689, 0.0, 0.0]
    """

    name = "timm:tanh"
    api = "timm.scheduler.TanhLRScheduler"
    source = "timm/scheduler/tanh_lr.py"
    params = {
        "lb": Param("number", -7.0, "lb: tanh argument at the cycle start"),
        "ub": Param("number", 3.0, "ub: tanh argument at the cycle end"),
        **_CYCLE,
        **_COMMON,
        "warmup_prefix": Param("bool", False, "warmup_prefix: start the curve after the warmup"),
        **_TIMM_X,
        **_CYCLE_X,
    }

    def validate(self) -> None:
        _cycle_args(self)
        if not self.args["lb"] < self.args["ub"]:
            raise ValueError(f"timm:tanh: lb={self.args['lb']!r} must be < ub={self.args['ub']!r} (timm asserts it)")

    def lr_of(self, u: Any, xp: Any, ctx: Ctx) -> Any:
        lo, lb, ub = self.lv("lr_min", ctx), float(self.args["lb"]), float(self.args["ub"])
        i, tc, ti = _cycle(self, u, xp)
        top = pow_(xp, float(self.args["cycle_decay"]), i)
        r = tc / ti
        z2 = xp.minimum(2.0 * (lb * (1.0 - r) + ub * r), 700.0)  # e^{2z} overflows past 709; 1/(1+e^700) is 0
        v = lo + (top - lo) / (1.0 + xp.exp(z2))
        return xp.where(i < int(self.args["cycle_limit"]), v, lo)

    def warmup_slope(self, ctx: Ctx) -> float:
        init, w = self.lv("warmup_lr_init", ctx), self.args["warmup_t"]
        target = 1.0 if self.prefix() else float(self.lr_of(float(w), SCALAR, ctx))
        return (target - init) / w

    def plan(self, ctx: Ctx) -> Plan:
        q = []
        if not self.args["warmup_t"]:
            first = float(self.lr_of(0.0, SCALAR, ctx))
            q.append(
                f"no warmup: the first {'epoch' if self.unit(ctx.run) > 1 else 'update'} uses the untouched LR, then the "
                f"curve starts at {first:.6g}×LR (tanh(lb) ≠ −1), a small jump"
            )
        elif not self.prefix():
            q.append("warmup_prefix=false: the warmup ends on the tanh curve's value at warmup_t, below the LR")
        q.append("lr_min is reached at the end of the cycle only in the limit (tanh(ub) ≠ 1)")
        return self.timm_plan(ctx, q, None)


class _StepBase(_Timm):
    warmup_prefix_default = True
    params = _WARMUP_T

    def cycle_units(self) -> float:
        return float(self.args["warmup_t"])

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps


@register
class Step(_StepBase):
    r"""timm ``StepLRScheduler``: ``LR·decay_rate^⌊u/decay_t⌋`` (``u`` counted after the warmup by default).

    >>> from rampup import parse
    >>> parse("timm:step(decay_t=2, decay_rate=0.5, t_in_epochs=false)")(range(5)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    name = "timm:step"
    api = "timm.scheduler.StepLRScheduler"
    source = "timm/scheduler/step_lr.py"
    params = {
        "decay_rate": Param("nonneg", 1.0, "decay_rate: factor per decay_t"),
        **_COMMON,
        "warmup_prefix": Param("bool", True, "warmup_prefix: count decay_t after the warmup"),
        "decay_t": Param("count", REQUIRED, "decay_t: units per drop (may be fractional)"),
        **_WARMUP_T,
    }

    def validate(self) -> None:
        if not self.args["decay_t"] > 0:
            raise ValueError("timm:step: decay_t: got 0; accepted: a number > 0 (timm: ZeroDivisionError)")

    def lr_of(self, u: Any, xp: Any, ctx: Ctx) -> Any:
        d, g = float(self.args["decay_t"]), float(self.args["decay_rate"])
        if self.prefix():
            u = u - self.args["warmup_t"]
        return pow_(xp, g, _py_floordiv(u, d, xp))

    def plan(self, ctx: Ctx) -> Plan:
        k, d, g = self.unit(ctx.run), self.args["decay_t"], float(self.args["decay_rate"])
        q = []
        if self.args["warmup_t"] and not self.prefix():
            q.append("warmup_prefix=false: the decay_t clock includes the warmup")
        if not float(d).is_integer():
            n = (ctx.run.total_steps or 1000 * k) // k
            us = np.arange(n, dtype=np.float64)
            odd = us[_py_floordiv(us, float(d), NUMPY) != np.floor(us / float(d))]
            if odd.size:
                at = ", ".join(f"{int(u)}" for u in odd[:3])
                q.append(
                    f"decay_t={d!r} is not whole: timm computes Python's t // {d!r}, which at t = {at}"
                    f"{', …' if odd.size > 3 else ''} is one less than ⌊t / {d!r}⌋ (e.g. 11 // 1.1 = 9.0): the "
                    "decay comes one unit late there"
                )
        sug = None
        if float(d).is_integer() and g <= 1.0 and (self.prefix() or not self.args["warmup_t"]):
            sug = f"{self.warm_text(ctx, k)}step(every={int(d) * k}, gamma={fmt(g)})"
        return self.timm_plan(ctx, q, sug)


@register
class MultiStep(_StepBase):
    r"""timm ``MultiStepLRScheduler``: ``LR·decay_rate^(number of milestones ≤ u + 1)``.

    timm compares the milestones with ``u + 1``: a milestone of 10 takes effect at
    ``u = 9``, one step before torch's ``MultiStepLR`` would.

    >>> from rampup import parse
    >>> parse("timm:multistep(decay_t=[2, 4], decay_rate=0.5, t_in_epochs=false)")(range(5)).tolist()
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    name = "timm:multistep"
    api = "timm.scheduler.MultiStepLRScheduler"
    source = "timm/scheduler/multistep_lr.py"
    params = {
        "decay_rate": Param("nonneg", 1.0, "decay_rate: factor per milestone"),
        **_COMMON,
        "warmup_prefix": Param("bool", True, "warmup_prefix: count the milestones after the warmup"),
        "decay_t": Param("ints", REQUIRED, "decay_t: the milestones (sorted), in timm units"),
        **_WARMUP_T,
    }

    def validate(self) -> None:
        ms = list(self.args["decay_t"])
        if ms != sorted(ms):
            raise ValueError(f"timm:multistep: decay_t: got {ms}; accepted: sorted milestones (timm bisects them)")

    def lr_of(self, u: Any, xp: Any, ctx: Ctx) -> Any:
        g = float(self.args["decay_rate"])
        if self.prefix():
            u = u - self.args["warmup_t"]
        n: Any = u * 0.0
        for m in self.args["decay_t"]:
            n = n + xp.where(u + 1.0 >= m, 1.0, 0.0)
        return pow_(xp, g, n)

    def plan(self, ctx: Ctx) -> Plan:
        k, g = self.unit(ctx.run), float(self.args["decay_rate"])
        w = self.args["warmup_t"]
        off = w if self.prefix() else 0
        q = ["the milestones are compared with u + 1: each drop comes one unit earlier than torch's MultiStepLR"]
        steps = [(m - 1 + off) * k for m in self.args["decay_t"]]
        sug = None
        if g <= 1.0 and steps and steps[0] >= w * k and len(set(steps)) == len(steps):
            sug = f"{self.warm_text(ctx, k)}multistep(milestones=[{', '.join(map(str, steps))}], gamma={fmt(g)})"
        return self.timm_plan(ctx, q, sug)


_STABLE = ("constant", "rsqrt", "power")
_DECAY = ("linear", "1-sqrt", "cosine", "power", "exp")


@register
class WSD(_Timm):
    r"""timm ``WSDLRScheduler``: warmup (always a prefix), stable, then a decay to ``lr_min`` over ``decay_t``.

    ``lr(u) = lr_min + (max(LR·stable(t_s), lr_min) − lr_min)·decay(frac)`` with
    ``t_s = u − warmup_t`` and ``frac = min((t_s − (t_initial − decay_t))/decay_t, 1)``
    (no decay while ``frac ≤ 0``).  stable: ``constant`` 1, ``rsqrt``
    ``(1 + t_s/τ)^−0.5``, ``power`` ``(1 + t_s/τ)^−stable_power``; decay:
    ``linear`` ``1 − f``, ``1-sqrt`` ``1 − sqrt f``, ``cosine`` ``½(1 + cos πf)``,
    ``power`` ``1 − f^decay_power``, ``exp`` ``(r^f − r)/(1 − r)``.  ``lr_min`` is
    reached at ``u = warmup_t + t_initial``.

    >>> from rampup import parse
    >>> parse("timm:wsd(t_initial=4, decay_t=2, decay_fn=linear, t_in_epochs=false)")(range(6)).tolist()
    [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    """

    name = "timm:wsd"
    api = "timm.scheduler.WSDLRScheduler"
    source = "timm/scheduler/wsd_lr.py"
    params = {
        "lr_min": Param("nonneg", 0.0, "lr_min: the floor (absolute)"),
        "stable_fn": Param("choice", "constant", "stable_fn", _STABLE),
        "stable_timescale": Param("positive", None, "stable_timescale (default warmup_t)"),
        "stable_power": Param("positive", 0.5, "stable_power"),
        "decay_fn": Param("choice", "1-sqrt", "decay_fn", _DECAY),
        "decay_power": Param("positive", 0.5, "decay_power"),
        "decay_ratio": Param("beta", 0.1, "decay_ratio (exp decay)"),
        **_COMMON,
        "t_initial": Param("int", REQUIRED, "t_initial: stable + decay length, in timm units"),
        "decay_t": Param("int", REQUIRED, "decay_t: decay length, in timm units"),
        "warmup_t": Param("int", 0, "warmup_t: warmup length, in timm units"),
    }
    warmup_prefix_default = True

    def validate(self) -> None:
        ti, d = self.args["t_initial"], self.args["decay_t"]
        if ti <= 0:
            raise ValueError(f"timm:wsd: t_initial: got {ti}; accepted: an int > 0 (as timm)")
        if not 0 < d <= ti:
            raise ValueError(
                f"timm:wsd: decay_t: got {d}; accepted: an int in (0, t_initial] w/ t_initial={ti} (as timm)"
            )
        if self.args["stable_fn"] != "constant":
            tau = self.args["stable_timescale"] if self.args["stable_timescale"] is not None else self.args["warmup_t"]
            if not tau > 0:
                raise ValueError(
                    f"timm:wsd: stable_fn={self.args['stable_fn']} requires a positive stable_timescale, it defaults "
                    f"to warmup_t ({self.args['warmup_t']}), set it explicitly when there is no warmup (as timm)"
                )

    def cycle_units(self) -> float:
        return float(self.args["warmup_t"] + self.args["t_initial"])

    def lr_of(self, u: Any, xp: Any, ctx: Ctx) -> Any:
        lo, w = self.lv("lr_min", ctx), self.args["warmup_t"]
        ti, d = self.args["t_initial"], float(self.args["decay_t"])
        sf, df = self.args["stable_fn"], self.args["decay_fn"]
        ts = u - w
        if sf == "constant":
            st: Any = ts * 0.0 + 1.0
        else:
            tau = float(self.args["stable_timescale"] if self.args["stable_timescale"] is not None else w)
            pw = 0.5 if sf == "rsqrt" else float(self.args["stable_power"])
            st = pow_(xp, 1.0 + ts / tau, -pw)
        stable = xp.maximum(st, lo)
        td = ts - (ti - d)
        f = xp.minimum(xp.maximum(td, 0.0) / d, 1.0)
        if df == "linear":
            dec = 1.0 - f
        elif df == "1-sqrt":
            dec = 1.0 - xp.sqrt(f)
        elif df == "cosine":
            dec = 0.5 * (1.0 + xp.cos(math.pi * f))
        elif df == "power":
            dec = 1.0 - pow_(xp, f, float(self.args["decay_power"]))
        else:
            r = float(self.args["decay_ratio"])
            dec = (pow_(xp, r, f) - r) / (1.0 - r)
        return xp.where(td <= 0.0, stable, lo + (stable - lo) * dec)

    def plan(self, ctx: Ctx) -> Plan:
        k = self.unit(ctx.run)
        lo = self.lv("lr_min", ctx)
        q = [
            f"lr_min is reached at step {int(self.cycle_units()) * k}, one step after the last scheduled step: the "
            "last update is one decay step short of it (timm's own docstring says so)"
        ]
        sug = None
        shape = {"linear": "linear", "1-sqrt": "1-sqrt", "cosine": "cosine"}.get(self.args["decay_fn"])
        if self.args["stable_fn"] == "constant" and shape and lo <= 1.0:
            ti, d = self.args["t_initial"], self.args["decay_t"]
            sug = f"{self.warm_text(ctx, k)}wsd({ti * k}, cooldown={d * k}, shape={shape}{', floor=' + fmt(lo) if lo else ''})"
        return self.timm_plan(ctx, q, sug)
