"""Keras 3 schedules (``keras:``): every built-in closed-form ``LearningRateSchedule``.

Read from ``keras/src/optimizers/schedules/learning_rate_schedule.py`` (Keras 3.15):
``CosineDecay`` (with its linear warmup), ``CosineDecayRestarts``,
``ExponentialDecay``, ``PiecewiseConstantDecay``, ``PolynomialDecay`` and
``InverseTimeDecay``.  A Keras optimizer asks its schedule for the LR at
``optimizer.iterations``, the number of updates already applied, so update
``t + 1`` uses ``schedule(t)``: rampup's ``schedule(t)`` is Keras's.  The
arguments are absolute LRs, so a spec is complete: leave ``peak_lr`` out (or
pass the spec's own peak); another ``peak_lr`` rescales the curve to peak there.

Arithmetic.  The specs reproduce the value Keras computes in ``model.fit``, op
by op, and not the float64 formula in its docstrings:

* **float32.**  Keras computes in the dtype of ``initial_learning_rate``, which
  is ``floatx`` (float32 unless changed) for a Python float; the step
  (``optimizer.iterations``, an int32) is cast to it too.  Every intermediate
  result is rounded to float32 here as in Keras (arithmetic exactly; ``cos``,
  ``pow`` and ``log`` to within one or two float32 ulps of XLA's).  With
  ``dtype=float64`` (Keras with ``floatx`` float64 and ``jax_enable_x64``) the
  rounding is float64.
* **XLA's division.**  ``model.fit`` runs the train step under ``jax.jit``,
  where XLA rewrites ``step / c`` for a constant ``c`` into ``step · (1/c)``,
  which is not correctly rounded: ``41 · (1/41)`` is ``0.99999994`` in float32.
  So a ``staircase`` drops, or a cosine restarts, one step late at some
  multiples of ``decay_steps``, and ``PolynomialDecay`` can stop an ulp of its
  progress short of ``end_learning_rate`` (``(1 − p)^power`` turns that ulp into
  ~2e-4 for ``power = 0.5``).  The specs do the same multiplication, and
  ``rampup explain`` names the steps where it matters.  XLA's CPU backend also
  fuses ``a·b + c`` into one multiply-add (one rounding); so do the specs.
* **int32 steps.**  The iteration counter is an int32: past step 2^31 − 1 Keras
  would wrap around; the specs hold the value of step 2^31 − 1.

>>> from rampup import parse
>>> s = parse("keras:cosine_decay(initial_learning_rate=0.0, decay_steps=4, warmup_target=1.0, warmup_steps=2)")
>>> [round(float(v), 4) for v in s(range(8))]
[0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from ..core.backend import NUMPY
from ..core.params import REQUIRED, Param
from ..core.phases import register
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, const, fmt, pow_

__all__: list[str] = []

_SRC = "keras/src/optimizers/schedules/learning_rate_schedule.py"
_RULE = "update t+1 uses schedule(optimizer.iterations = t)"
_INT32_MAX = 2.0**31 - 1.0  # the last value of Keras' int32 iteration counter
_DTYPE = Param(
    "choice",
    "float32",
    "dtype: the float type Keras computes in (floatx; float64 needs jax_enable_x64 under JAX)",
    ("float32", "float64"),
)


def _f32(x: Any, xp: Any) -> Any:
    """``x`` rounded to float32 (and back to its own float type), in any namespace."""
    if isinstance(x, (int, float)):
        return float(np.float32(x))
    name = getattr(xp, "name", "")
    if name == "numpy":
        return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float64)
    if name == "torch":
        torch = sys.modules["torch"]
        return x.to(torch.float32).to(x.dtype)
    if name == "jax":
        jnp = sys.modules["jax.numpy"]
        return x.astype(jnp.float32).astype(x.dtype)
    return float(np.float32(x))  # pragma: no cover


def _f64(x: Any, xp: Any) -> Any:
    return x


class _Keras(CompatPhase):
    library = "keras"
    source = _SRC
    step_rule = _RULE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._check_range()

    def _check_range(self) -> None:
        """Refuse what Keras would overflow, flush to 0, or turn into NaN (probed over the whole step range)."""
        f32 = self.args["dtype"] == "float32"
        values = [(k, v) for k, v in self.args.items() if isinstance(v, float) and not isinstance(v, bool)]
        values += [
            (f"{k}[{i}]", x)
            for k, p in self.params.items()
            if p.kind == "numbers"
            for i, x in enumerate(self.args[k] or ())
        ]
        for key, v in values:
            if f32 and v != 0.0 and not 2.0**-126 <= abs(v) <= float(np.finfo(np.float32).max):
                raise ValueError(
                    f"{self.name}: {key}: got {v!r}; accepted: 0 or a magnitude in [1.2e-38, 3.4e38] (Keras computes "
                    "in float32, where it would overflow or be flushed to 0; dtype=float64 for float64 Keras)"
                )
        probe = np.array([0.0, 1.0, 2.0, 3.0, 1e3, 1e6, _INT32_MAX - 1.0, _INT32_MAX, 1e308])
        try:
            plan = self.plan(Ctx(RunInfo(), None, None))
        except ValueError:
            return  # a length in epochs or a run fraction: checked when the run is known
        begin = 0.0
        with np.errstate(all="ignore"):
            for p in plan.pieces:
                inside = probe[(probe >= begin) & (probe < p.end)]
                lrs = np.asarray(p.fn(inside, NUMPY), dtype=np.float64)
                bad = ~np.isfinite(lrs) | (lrs < 0)
                if bad.any():
                    raise ValueError(
                        f"{self.name}: these arguments give LR {float(lrs[bad][0])!r} at step {inside[bad][0]:.0f} (as Keras "
                        f"would): {self.to_text()}; accepted: arguments whose products stay within "
                        f"{self.args['dtype']} (e.g. a smaller decay_rate, a longer decay_steps)"
                    )
                begin = p.end

    def rounder(self) -> Any:
        return _f32 if self.args["dtype"] == "float32" else _f64

    def step_in(self, t: Any, xp: Any) -> Any:
        """``ops.cast(iterations, dtype)``: the int32 step in the compute dtype."""
        return self.rounder()(xp.minimum(t, _INT32_MAX), xp)

    def c(self, v: float) -> float:
        """A Python constant cast to the compute dtype."""
        return float(self.rounder()(float(v), None))

    def recip(self, d: float) -> float:
        """``1/d`` as XLA folds it for ``x / d`` (``d`` already in the compute dtype)."""
        return self.c(1.0 / d)

    def own_level(self) -> float:
        """The spec's own peak as Keras holds it (in its dtype): the curves are multiples of it."""
        own = self.own_peak_value()
        return self.c(float(own)) if own else 1.0

    def _reference(self, peak_lr: float | None) -> tuple[float | None, float]:
        # Without peak_lr the values are Keras's own, peak included (0.1 is 0.10000000149 in float32).
        ref, scale = super()._reference(peak_lr)
        own = self.own_level()
        return (own if ref is not None and self.own_peak_value() else ref), (scale if peak_lr is not None else own)

    def late_multiples(self, d: float, upto: int, limit: int = 3) -> list[int]:
        """Steps ``k·d`` (k >= 1, below ``upto``) where ``(k·d)·(1/d)`` rounds below ``k``."""
        if not float(d).is_integer():
            return []
        r, inv = self.rounder(), self.recip(self.c(d))
        out: list[int] = []
        k = 1
        while k * d < upto and k <= 100_000 and len(out) < limit:
            if math.floor(r(r(k * d, None) * inv, None)) < k:
                out.append(int(k * d))
            k += 1
        return out


def _check_number(name: str, key: str, v: float, ok: bool, accepted: str) -> None:
    if not ok:
        raise ValueError(f"{name}: {key}: got {v!r}; accepted: {accepted}")


@register
class CosineDecay(_Keras):
    r"""Keras ``CosineDecay``: optional linear warmup ``initial → warmup_target``, then cosine to ``alpha``×peak.

    Without ``warmup_target``: ``init·((1 − α)·½(1 + cos(π·min(t, D)/D)) + α)``.
    With it: ``(target − init)·t/W + init`` for ``t < W``, then
    ``target·((1 − α)·½(1 + cos(π·min(t − W, D)/D)) + α)``.  The floor
    ``α·peak`` is reached at ``t = W + D`` and held.  In float32 (see the module).

    >>> from rampup import parse
    >>> parse("keras:cosine_decay(initial_learning_rate=1.0, decay_steps=2, alpha=0.1)")(range(4)).round(4).tolist()
    [1.0, 0.55, 0.1, 0.1]
    """

    name = "keras:cosine_decay"
    api = "keras.optimizers.schedules.CosineDecay"
    params = {
        "initial_learning_rate": Param(
            "nonneg", REQUIRED, "initial_learning_rate: the start (the peak without warmup)"
        ),
        "decay_steps": Param("length", REQUIRED, "decay_steps: length of the cosine"),
        "alpha": Param("fraction", 0.0, "alpha: the floor as a fraction of the peak"),
        "warmup_target": Param("lr", None, "warmup_target: the peak after the warmup"),
        "warmup_steps": Param("length", 0, "warmup_steps: length of the linear warmup"),
        "dtype": _DTYPE,
    }

    def own_peak_value(self) -> float | None:
        t = self.args["warmup_target"]
        return float(t) if t is not None else float(self.args["initial_learning_rate"])

    def validate(self) -> None:
        if self.args["warmup_target"] is None and self.args["initial_learning_rate"] == 0.0:
            raise ValueError(
                "keras:cosine_decay: initial_learning_rate: got 0.0 without warmup_target; accepted: an LR > 0 "
                "(without a warmup it is the peak)"
            )
        t, i = self.args["warmup_target"], float(self.args["initial_learning_rate"])
        if t is not None and i > t:
            raise ValueError(
                f"keras:cosine_decay: initial_learning_rate: got {i!r} above warmup_target={t!r}; accepted: an LR "
                "<= warmup_target (the warmup rises from initial_learning_rate to warmup_target)"
            )

    def horizon(self, run: RunInfo) -> int | None:
        w = self.n("warmup_steps", run) if self.args["warmup_target"] is not None else 0
        return run.total_steps or w + self.n("decay_steps", run)

    def plan(self, ctx: Ctx) -> Plan:
        d = self.n("decay_steps", ctx.run)
        if d <= 0:
            raise ValueError(f"keras:cosine_decay: decay_steps: got {d}; accepted: > 0 (Keras raises)")
        r, c = self.rounder(), self.c
        alpha = float(self.args["alpha"])
        warm = self.args["warmup_target"] is not None
        w = self.n("warmup_steps", ctx.run) if warm else 0
        own = self.own_level()
        init = c(self.args["initial_learning_rate"])
        top = c(self.args["warmup_target"]) if warm else init
        dd, ww = c(d), c(w)
        inv_d = self.recip(dd)
        inv_w = self.recip(ww) if w > 0 else 0.0
        delta = c(top - init) if warm else 0.0
        # XLA folds the constant factors: step·(1/W)·delta, step·(1/D)·π and ½·(1 − alpha) are one multiply each.
        k_up = c(inv_w * delta)
        k_arg = c(inv_d * c(math.pi))
        k_half = c(0.5 * c(1.0 - alpha))
        a32 = c(alpha)
        hold = c(dd + ww)

        def clip(t: Any, xp: Any) -> Any:
            return xp.minimum(self.step_in(t, xp), hold)

        def up(t: Any, xp: Any) -> Any:
            return r(clip(t, xp) * k_up + init, xp) / own  # one fused multiply-add

        def down(t: Any, xp: Any) -> Any:
            cos = r(xp.cos(r(r(clip(t, xp) - ww, xp) * k_arg, xp)), xp)
            decayed = r(r(cos + 1.0, xp) * k_half + a32, xp)
            return r(decayed * top, xp) / own

        lv0 = init / own
        q = []
        if warm and w > 0:
            q.append(
                "initial_learning_rate is the start of the warmup, not the peak (warmup_target is): "
                + ("the first update uses LR 0" if lv0 == 0.0 else f"the first update uses {fmt(lv0)}×peak")
            )
            q.append(f"the peak is reached at step warmup_steps={w}, after {w} updates below it")
        elif self.args["warmup_steps"] != 0 and not warm:
            q.append("warmup_steps is ignored without warmup_target: there is no warmup")
        q.append(f"the floor alpha×peak is reached at step {w + d}, one step after the last of {w + d} updates")
        q += self.precision_quirks()
        floor = f", floor={fmt(alpha)}" if alpha else ""
        start = f", start={fmt(lv0)}" if lv0 else ""
        sug = f"{f'linear({w}{start}) -> ' if w else ''}cosine({d}{floor})"
        return Plan([Piece(w, "warmup", up), Piece(INF, "decay", down)], q, sug)

    def precision_quirks(self) -> list[str]:
        if self.args["dtype"] == "float32":
            return ["Keras computes in float32 (floatx): the LR carries float32 rounding (~6e-8 relative)"]
        return []


@register
class CosineDecayRestarts(_Keras):
    r"""Keras ``CosineDecayRestarts`` (SGDR): cosine cycles, the ``i``-th ``t_mul^i·D`` steps long at ``m_mul^i``×peak.

    ``f = t/D``; ``i = ⌊f⌋`` and ``f' = f − i`` for ``t_mul = 1``, else
    ``i = ⌊log(1 − f(1 − t_mul))/log(t_mul)⌋`` and
    ``f' = (f − (1 − t_mul^i)/(1 − t_mul))/t_mul^i``; the LR is
    ``init·((1 − α)·½·m_mul^i(1 + cos(π f')) + α)``.  Each cycle restarts one
    step before it would reach the floor.  ``t_mul >= 1`` and ``m_mul <= 1``
    (other values shrink the cycles to nothing, or grow the LR without bound).

    >>> from rampup import parse
    >>> s = parse("keras:cosine_decay_restarts(initial_learning_rate=1.0, first_decay_steps=2, t_mul=1.0)")
    >>> s(range(5)).round(4).tolist()
    [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    name = "keras:cosine_decay_restarts"
    api = "keras.optimizers.schedules.CosineDecayRestarts"
    own_peak = "initial_learning_rate"
    params = {
        "initial_learning_rate": Param("lr", REQUIRED, "initial_learning_rate: the peak of the first cycle"),
        "first_decay_steps": Param("positive", REQUIRED, "first_decay_steps: length of the first cycle (steps)"),
        "t_mul": Param("number", 2.0, "t_mul: cycle length factor (>= 1)"),
        "m_mul": Param("number", 1.0, "m_mul: peak factor per restart in [0, 1]"),
        "alpha": Param("fraction", 0.0, "alpha: the floor as a fraction of initial_learning_rate"),
        "dtype": _DTYPE,
    }

    def validate(self) -> None:
        tm = float(self.args["t_mul"])
        _check_number(self.name, "t_mul", tm, 1.0 <= tm <= 1e6, "a number in [1, 1e6] (t_mul < 1 ends the cycles)")
        mm = float(self.args["m_mul"])
        _check_number(self.name, "m_mul", mm, 0.0 <= mm <= 1.0, "a number in [0, 1] (m_mul > 1 grows without bound)")

    def plan(self, ctx: Ctx) -> Plan:
        r, c = self.rounder(), self.c
        own = self.own_level()
        init, fd = c(self.args["initial_learning_rate"]), c(self.args["first_decay_steps"])
        alpha, tm, mm = c(self.args["alpha"]), c(self.args["t_mul"]), c(self.args["m_mul"])
        inv_fd, pi = self.recip(fd), c(math.pi)
        one_m_a = c(1.0 - alpha)  # 1 - alpha with alpha a tensor: one rounding
        geometric = tm != 1.0
        one_m_t = c(1.0 - tm)
        # XLA's folded constants: step·(1/D)·(1 − t_mul), 1/log(t_mul), 1/(1 − t_mul); x/t_mul^i is x·t_mul^−i.
        k_log = c(inv_fd * one_m_t)
        inv_log_t = self.recip(c(math.log(tm))) if geometric else 0.0
        inv_one_m_t = self.recip(one_m_t) if geometric else 0.0

        def fn(t: Any, xp: Any) -> Any:
            x = self.step_in(t, xp)
            f = r(x * inv_fd, xp)
            if geometric:
                lg = r(xp.log(r(1.0 - x * k_log, xp)), xp)
                i = xp.floor(r(lg * inv_log_t, xp))
                sum_r = r(r(1.0 - r(pow_(xp, tm, i), xp), xp) * inv_one_m_t, xp)
                f = r(r(f - sum_r, xp) * r(pow_(xp, tm, -i), xp), xp)
            else:
                i = xp.floor(f)
                f = r(f - i, xp)
            half_m = r(r(pow_(xp, mm, i), xp) * 0.5, xp)
            cosd = r(half_m * r(r(xp.cos(r(f * pi, xp)), xp) + 1.0, xp), xp)
            return r(r(cosd * one_m_a + alpha, xp) * init, xp) / own

        q = [
            "no warmup: the first update runs at the full LR, and every restart jumps straight back to m_mul^i×peak",
            "the floor alpha×peak is never used: each cycle restarts one step before it would reach it",
        ]
        late = self.late_multiples(fd, 10**6) if not geometric else []
        if late:
            q.append(
                "under jit (model.fit) XLA computes step·(1/first_decay_steps), so the restart comes one step late "
                f"at step(s) {', '.join(map(str, late))}"
            )
        q += CosineDecay.precision_quirks(self)  # type: ignore[arg-type]
        sug = None
        if float(self.args["first_decay_steps"]).is_integer() and float(self.args["t_mul"]).is_integer():
            floor = f", floor={fmt(float(self.args['alpha']))}" if self.args["alpha"] else ""
            if self.args["m_mul"] == 1.0:
                sug = f"restarts(cycle={int(fd)}, cycle_mult={int(tm)}{floor})"
        return Plan([Piece(INF, "decay", fn)], q, sug)


@register
class ExponentialDecay(_Keras):
    r"""Keras ``ExponentialDecay``: ``init · rate^(t/D)`` (``rate^⌊t/D⌋`` with ``staircase``).

    ``decay_rate`` in [0, 1] (a rate above 1 grows the LR without bound).

    >>> from rampup import parse
    >>> s = parse("keras:exponential_decay(initial_learning_rate=1.0, decay_steps=2, decay_rate=0.5, staircase=true)")
    >>> s(range(5)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    name = "keras:exponential_decay"
    api = "keras.optimizers.schedules.ExponentialDecay"
    own_peak = "initial_learning_rate"
    params = {
        "initial_learning_rate": Param("lr", REQUIRED, "initial_learning_rate: the LR of the first update"),
        "decay_steps": Param("positive", REQUIRED, "decay_steps: steps per factor decay_rate"),
        "decay_rate": Param("number", REQUIRED, "decay_rate: the factor per decay_steps, in [0, 1]"),
        "staircase": Param("bool", False, "staircase: decay in whole steps of decay_steps"),
        "dtype": _DTYPE,
    }

    def validate(self) -> None:
        g = float(self.args["decay_rate"])
        _check_number(
            self.name, "decay_rate", g, 0.0 <= g <= 1.0, "a number in [0, 1] (a rate > 1 grows without bound)"
        )

    def plan(self, ctx: Ctx) -> Plan:
        r, c = self.rounder(), self.c
        own = self.own_level()
        init, d, rate = c(self.args["initial_learning_rate"]), c(self.args["decay_steps"]), c(self.args["decay_rate"])
        inv, stair = self.recip(d), bool(self.args["staircase"])

        def fn(t: Any, xp: Any) -> Any:
            p = r(self.step_in(t, xp) * inv, xp)
            if stair:
                p = xp.floor(p)
            return r(r(pow_(xp, rate, p), xp) * init, xp) / own

        q = ["no warmup: the first update runs at the full LR"]
        late = self.late_multiples(d, 10**6) if stair else []
        if late:
            q.append(
                "under jit (model.fit) XLA computes step·(1/decay_steps), so the staircase drops one step late at "
                f"step(s) {', '.join(map(str, late))}"
            )
        q += CosineDecay.precision_quirks(self)  # type: ignore[arg-type]
        sug = None
        rate_f = float(self.args["decay_rate"])
        if stair and float(self.args["decay_steps"]).is_integer() and 0.0 < rate_f <= 1.0:
            sug = f"step(every={int(d)}, gamma={fmt(rate_f)})"
        return Plan([Piece(INF, "decay", fn)], q, sug)


@register
class InverseTimeDecay(_Keras):
    r"""Keras ``InverseTimeDecay``: ``init / (1 + rate·t/D)`` (``⌊t/D⌋`` with ``staircase``).

    >>> from rampup import parse
    >>> s = parse("keras:inverse_time_decay(initial_learning_rate=1.0, decay_steps=1, decay_rate=0.5)")
    >>> s(range(4)).tolist()
    [1.0, 0.6666666865348816, 0.5, 0.4000000059604645]
    """

    name = "keras:inverse_time_decay"
    api = "keras.optimizers.schedules.InverseTimeDecay"
    own_peak = "initial_learning_rate"
    params = {
        "initial_learning_rate": Param("lr", REQUIRED, "initial_learning_rate: the LR of the first update"),
        "decay_steps": Param("positive", REQUIRED, "decay_steps: steps per unit of t/decay_steps"),
        "decay_rate": Param("nonneg", REQUIRED, "decay_rate: how fast the LR falls"),
        "staircase": Param("bool", False, "staircase: decay in whole steps of decay_steps"),
        "dtype": _DTYPE,
    }

    def plan(self, ctx: Ctx) -> Plan:
        r, c = self.rounder(), self.c
        own = self.own_level()
        init, d, rate = c(self.args["initial_learning_rate"]), c(self.args["decay_steps"]), c(self.args["decay_rate"])
        inv, stair = self.recip(d), bool(self.args["staircase"])

        k_rate = c(inv * rate)  # XLA folds step·(1/D)·rate into one multiply (no staircase)

        def fn(t: Any, xp: Any) -> Any:
            x = self.step_in(t, xp)
            den = r(xp.floor(r(x * inv, xp)) * rate + 1.0, xp) if stair else r(x * k_rate + 1.0, xp)
            return r(init / den, xp) / own

        q = ["no warmup: the first update runs at the full LR", "the LR never reaches a floor: it falls as 1/t"]
        late = self.late_multiples(d, 10**6) if stair else []
        if late:
            q.append(
                "under jit (model.fit) XLA computes step·(1/decay_steps), so the staircase drops one step late at "
                f"step(s) {', '.join(map(str, late))}"
            )
        q += CosineDecay.precision_quirks(self)  # type: ignore[arg-type]
        return Plan([Piece(INF, "decay", fn)], q, None)


@register
class PolynomialDecay(_Keras):
    r"""Keras ``PolynomialDecay``: ``(init − end)·(1 − t/D)^power + end``, ``t`` held at ``D``.

    With ``cycle``: ``D`` is replaced by ``D·⌈t/D⌉`` (``D`` at ``t = 0``), so
    the LR jumps back up at every multiple of ``D`` after the first.

    >>> from rampup import parse
    >>> s = parse("keras:polynomial_decay(initial_learning_rate=1.0, decay_steps=4, end_learning_rate=0.0)")
    >>> s(range(6)).tolist()
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    name = "keras:polynomial_decay"
    api = "keras.optimizers.schedules.PolynomialDecay"
    params = {
        "initial_learning_rate": Param("nonneg", REQUIRED, "initial_learning_rate: the LR of the first update"),
        "decay_steps": Param("positive", REQUIRED, "decay_steps: steps from initial to end"),
        "end_learning_rate": Param("nonneg", 0.0001, "end_learning_rate: the LR from decay_steps on"),
        "power": Param("nonneg", 1.0, "power of the polynomial"),
        "cycle": Param("bool", False, "cycle: restart at every multiple of decay_steps"),
        "dtype": _DTYPE,
    }

    def own_peak_value(self) -> float | None:
        return max(float(self.args["initial_learning_rate"]), float(self.args["end_learning_rate"]))

    def validate(self) -> None:
        if self.own_peak_value() == 0.0:
            raise ValueError(
                "keras:polynomial_decay: initial_learning_rate: got 0.0 with end_learning_rate=0.0; accepted: "
                "an LR > 0 in one of them (this schedule would train nothing)"
            )

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or math.ceil(float(self.args["decay_steps"]))

    def check_end(self, rest: float, diff: float, power: float, end: float) -> None:
        """Refuse a decay_steps whose held value is NaN or negative in Keras (see the plan)."""
        if self.args["cycle"] or rest >= 0.0:
            return
        with np.errstate(invalid="ignore"):
            held = diff * float(np.float_power(rest, power)) + end
        if math.isfinite(held) and held >= 0.0:
            return
        d = float(self.args["decay_steps"])
        r, ok = self.rounder(), []
        for cand in sorted(range(math.floor(d) - 5, math.ceil(d) + 6), key=lambda x: abs(x - d)):
            cd = self.c(cand)
            if cand > 0 and r(1.0 - cd * self.recip(cd), None) >= 0.0 and cand not in ok:
                ok.append(cand)
        raise ValueError(
            f"{self.name}: decay_steps: got {self.args['decay_steps']!r}; under jit (model.fit) Keras computes "
            f"1 − decay_steps·(1/decay_steps) = {rest:.3g} in {self.args['dtype']}, so from step decay_steps on its "
            f"LR is {'NaN' if not math.isfinite(held) else 'negative'} (power={self.args['power']!r}); accepted: a "
            f"decay_steps without that rounding, e.g. {', '.join(map(str, ok[:2])) or 'another value'}, or cycle=true"
        )

    def plan(self, ctx: Ctx) -> Plan:
        r, c = self.rounder(), self.c
        own = self.own_level()
        init, end, d = (
            c(self.args["initial_learning_rate"]),
            c(self.args["end_learning_rate"]),
            c(self.args["decay_steps"]),
        )
        power, diff, cyc = c(self.args["power"]), c(init - end), bool(self.args["cycle"])
        # ops.ceil(step / self.decay_steps) divides by the Python float: XLA folds 1/decay_steps in float32
        inv = self.recip(d)

        def fn(t: Any, xp: Any) -> Any:
            s = self.step_in(t, xp)
            if cyc:
                mult = xp.where(s == 0.0, 1.0, -xp.floor(-r(s * inv, xp)))
                # step·(1/decay_steps) can round down to an integer just above a multiple of decay_steps: then
                # 1 − p < 0 and Keras takes a negative number to the power (NaN); rampup gives end there.
                om = xp.maximum(r(1.0 - r(s / r(mult * d, xp), xp), xp), 0.0)
            else:
                om = r(1.0 - xp.minimum(s, d) * inv, xp)  # a fused multiply-add: 1 − p exactly, then rounded
            return r(r(pow_(xp, om, power), xp) * diff + end, xp) / own

        q = ["no warmup: the first update runs at the full LR"]
        rest = r(1.0 - d * inv, None)  # 1 - p at t >= decay_steps, one rounding (fused) as XLA
        self.check_end(rest, diff, power, end)
        if not cyc and rest != 0.0 and init != end:
            miss = abs(float(diff) * float(np.float_power(abs(rest), power)))
            q.append(
                f"under jit (model.fit) XLA computes 1 − step·(1/decay_steps) = {rest:.3g} at step decay_steps, so the "
                f"LR stops {miss:.3g} from end_learning_rate and stays there"
            )
        if cyc:
            q.append(
                "cycle=true: the LR jumps back up at every multiple of decay_steps, each decay longer than the last"
            )
        q += CosineDecay.precision_quirks(self)  # type: ignore[arg-type]
        sug = None
        if not cyc and init > end and float(self.args["decay_steps"]).is_integer() and power > 0:
            floor = f", floor={fmt(end / init)}" if end else ""
            sug = f"poly({int(d)}, power={fmt(float(self.args['power']))}{floor})"
        return Plan([Piece(INF, "decay", fn)], q, sug)


@register
class PiecewiseConstantDecay(_Keras):
    r"""Keras ``PiecewiseConstantDecay``: ``values[0]`` for ``t <= b_0``, ``values[i]`` for ``b_{i−1} < t <= b_i``.

    Keras casts the boundaries to the int32 step type, so a boundary ``2.7``
    acts as ``2``.  The boundaries must not decrease (Keras would add two
    values, or give 0, between decreasing ones).

    >>> from rampup import parse
    >>> s = parse("keras:piecewise_constant_decay(boundaries=[1, 3], values=[1.0, 0.5, 0.25])")
    >>> s(range(5)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    name = "keras:piecewise_constant_decay"
    api = "keras.optimizers.schedules.PiecewiseConstantDecay"
    params = {
        "dtype": _DTYPE,
        "boundaries": Param("numbers", REQUIRED, "boundaries: the last step of each value but the last"),
        "values": Param("numbers", REQUIRED, "values: the LRs, one more than boundaries"),
    }

    def own_peak_value(self) -> float | None:
        return max(self.args["values"])

    def validate(self) -> None:
        b, v = self.args["boundaries"], self.args["values"]
        if not b:
            raise ValueError(f"{self.name}: boundaries: got []; accepted: at least one boundary (Keras raises)")
        if len(b) != len(v) - 1:
            raise ValueError(
                f"{self.name}: boundaries: got {len(b)} for {len(v)} values; accepted: one fewer boundary than "
                "values (Keras raises)"
            )
        for i, x in enumerate(v):
            _check_number(self.name, f"values[{i}]", x, x >= 0.0, "an LR >= 0")
        if max(v) == 0.0:
            raise ValueError(f"{self.name}: values: got {list(v)}; accepted: at least one LR > 0 (this trains nothing)")
        for i, x in enumerate(b):
            _check_number(self.name, f"boundaries[{i}]", x, abs(x) < 2.0**31, "a step in the int32 range")
        if list(b) != sorted(b):
            raise ValueError(f"{self.name}: boundaries: got {list(b)}; accepted: non-decreasing steps")

    def horizon(self, run: RunInfo) -> int | None:
        b = self.args["boundaries"]
        return run.total_steps or (max(int(b[-1]) + 2, 1) if b else None)

    def plan(self, ctx: Ctx) -> Plan:
        own = self.own_level()
        vals = [self.c(x) for x in self.args["values"]]
        # ops.cast(boundary, int32) truncates toward zero; steps are >= 0.
        bounds = [float(math.trunc(x)) for x in self.args["boundaries"]]
        pieces: list[Piece] = []
        begin = 0.0
        for j, b in enumerate(bounds):
            end = max(b + 1.0, begin)
            if end > begin:
                pieces.append(
                    Piece(end, "warmup" if vals[j] < vals[j + 1] and not pieces else "decay", const(vals[j] / own))
                )
                begin = end
        pieces.append(Piece(INF, "decay", const(vals[-1] / own)))
        q = []
        frac = [x for x in self.args["boundaries"] if not float(x).is_integer()]
        if frac:
            q.append(
                f"Keras casts boundaries to int32 steps: {', '.join(map(repr, frac))} act as whole steps (truncated)"
            )
        q.append("each boundary is the last step of its value: the new value starts at boundary + 1")
        q += CosineDecay.precision_quirks(self)  # type: ignore[arg-type]
        return Plan(pieces, q, None)
