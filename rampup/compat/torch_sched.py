"""PyTorch ``torch.optim.lr_scheduler`` schedules (``torch:``), as stepping them produces.

Read from ``torch/optim/lr_scheduler.py`` (torch 2.13).  Constructing a
scheduler sets the LR of update 1; the ``k``-th ``scheduler.step()`` (after the
``k``-th ``optimizer.step()``) sets the LR of update ``k + 1``.  So rampup's
``schedule(t)`` is the LR after ``t`` calls of ``scheduler.step()``.

Most torch schedulers compute that LR *recursively* from the previous one
(``group["lr"] * gamma``, a ratio of cosines, ...).  Mathematically the
recursion telescopes to the closed forms below; in floating point the two
agree to a few units in the last place per step, except where the recursion
itself changes the curve, which these specs reproduce:

* ``CosineAnnealingLR`` is periodic (period ``2·T_max``).  torch computes
  ``eta_min + (lr − eta_min)·(1 + cos(πt/T))/(1 + cos(π(t−1)/T))`` and, on the
  step after each trough (where that ratio would divide by 0), adds
  ``(base − eta_min)(1 − cos(π/T))/2`` to the trough value.  The spec restarts
  from that value after every trough, as torch does:
  ``eta_min + D·(1 + cos(πt/T))/(1 + cos(πs/T))`` with ``s`` the step after the
  trough.  Near a trough ``lr − eta_min`` is tiny, so the rounding of each
  recursive step is amplified by ``eta_min/(lr − eta_min)`` and then carried up
  to the next peak: with ``eta_min > 0`` stepping torch drifts from any closed
  form (its own ``_get_closed_form_lr`` included) by ~1e-12 relative per period
  for ``T_max`` ~ 1000 (measured: 2e-12 after 6 periods of ``T_max = 1000``,
  ``eta_min = 0.3·base``; the closed form is off by 9e-12 there).  Within the
  first period, and for ``eta_min = 0``, the spec matches stepping to ~1e-14.
* ``LinearLR``/``ConstantLR``/``PolynomialLR`` with ``total_iters=0`` keep the
  first value for ever (the recursion never reaches the step where it would
  change); the closed forms would divide by zero.
* ``OneCycleLR`` raises when stepped past ``total_steps``; the spec holds the
  final value (at ``t = total_steps − 1``) from ``t = total_steps`` on, where
  torch extrapolates a value that no update uses (negative for some
  configurations).

``torch:cyclic_lr`` is ``CyclicLR`` (LR only: ``cycle_momentum=false``), and
``torch:chained_scheduler`` is ``ChainedScheduler``, the product of its
multiplicative sub-schedulers.  ``LambdaLR``/``MultiplicativeLR`` (a Python
callable) and ``ReduceLROnPlateau`` (metric-driven) cannot be specs: their
names are refused with that reason.

``torch:sequential_lr(schedulers=[...], milestones=[...])`` is ``SequentialLR``:
scheduler ``j`` starts at milestone ``m_{j−1}`` from its own step 0 (torch
calls its closed form at step 0 there, then steps it recursively), so it is the
piecewise join of the sub-specs, each on its own clock.

>>> from rampup import parse
>>> s = parse("torch:sequential_lr(schedulers=[torch:linear_lr(start_factor=0.25, total_iters=3), "
...           "torch:cosine_annealing_lr(T_max=4)], milestones=[3])")
>>> [round(float(v), 4) for v in s(range(9))]
[0.25, 0.5, 0.75, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.1464]
"""

from __future__ import annotations

import math
from typing import Any

from ..core.backend import SCALAR
from ..core.params import REQUIRED, Param
from ..core.phases import NOT_CLOSED_FORM, register
from ..core.shapes import floor_div
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, const, fmt, pow_

__all__: list[str] = []

_SRC = "torch/optim/lr_scheduler.py"
_RULE = "update t+1 uses the LR after t calls of scheduler.step() (t = 0: after construction)"


class _Torch(CompatPhase):
    library = "torch"
    source = _SRC
    step_rule = _RULE

    def native(self, ctx: Ctx, length: float) -> list[str] | None:
        """Native phases for the first ``length`` steps (``inf``: open-ended), for suggestions; None if none fit."""
        return None

    def suggestion(self, ctx: Ctx, length: float) -> str | None:
        parts = self.native(ctx, length)
        return " -> ".join(parts) if parts else None


def _eta(self: CompatPhase, ctx: Ctx) -> float:
    return self.lv("eta_min", ctx, "torch uses the same eta_min for every param group")


@register
class LinearLR(_Torch):
    r"""torch ``LinearLR``: ``factor = start + (end − start)·min(t, T)/T`` (``T = total_iters``).

    A warmup when ``start_factor < end_factor``.  Defaults: ``start_factor=1/3``,
    ``end_factor=1``, ``total_iters=5``.  The peak ``end_factor`` is reached at
    ``t = T`` (``T + 1`` values).  ``total_iters=0`` keeps ``start_factor`` for ever.

    >>> from rampup import parse
    >>> parse("torch:linear_lr(start_factor=0.25, total_iters=3)")(range(5)).tolist()
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    name = "torch:linear_lr"
    api = "torch.optim.lr_scheduler.LinearLR"
    params = {
        "start_factor": Param("fraction", 1.0 / 3, "start_factor in (0, 1]"),
        "end_factor": Param("fraction", 1.0, "end_factor in [0, 1]"),
        "total_iters": Param("length", 5, "total_iters: steps from start_factor to end_factor"),
    }

    def validate(self) -> None:
        if self.args["start_factor"] == 0.0:
            raise ValueError(
                "torch:linear_lr: start_factor: got 0.0; accepted: a number in (0, 1] "
                "(torch: 'Starting multiplicative factor expected to be greater than 0 and less or equal to 1.')"
            )

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps

    def plan(self, ctx: Ctx) -> Plan:
        a, b = float(self.args["start_factor"]), float(self.args["end_factor"])
        n = self.n("total_iters", ctx.run)
        role = "warmup" if b > a else "decay"
        if n == 0:
            return Plan(
                [Piece(INF, role, const(a))],
                [f"total_iters=0: torch's recursive LinearLR keeps start_factor={a:g} for ever"],
            )

        def ramp(t: Any, xp: Any) -> Any:
            return a + (b - a) * t / n

        q = []
        if role == "warmup":
            q.append(
                f"the first update uses start_factor={fmt(a)}×LR; end_factor is reached at step {n} ({n} steps later)"
            )
        return Plan([Piece(n + 1, role, ramp), Piece(INF, "decay", const(b))], q, self.suggestion(ctx, INF))

    def native(self, ctx: Ctx, length: float) -> list[str] | None:
        a, b = float(self.args["start_factor"]), float(self.args["end_factor"])
        n = self.n("total_iters", ctx.run)
        if b != 1.0 or not a < 1.0 or n == 0:
            return None
        # rampup's linear(n + 1, start=a') passes a at its step 0 only if a' is chosen so; keep it simple:
        # n + 1 steps from a to the peak, the first one at a + (1 − a)/(n + 1).
        if length == INF:
            return [f"linear({n}, start={fmt(a)})", "constant"]
        if length <= n:
            return [f"linear({int(length)}, start={fmt(a)})"]
        return [f"linear({n}, start={fmt(a)})", f"constant({int(length) - n})"]


@register
class ConstantLR(_Torch):
    r"""torch ``ConstantLR``: ``factor`` for ``t < total_iters``, then 1.

    ``total_iters=0`` keeps ``factor`` for ever (torch's recursion never multiplies it back).

    >>> from rampup import parse
    >>> parse("torch:constant_lr(factor=0.5, total_iters=2)")(range(4)).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """

    name = "torch:constant_lr"
    api = "torch.optim.lr_scheduler.ConstantLR"
    params = {
        "factor": Param("fraction", 1.0 / 3, "factor in (0, 1] while t < total_iters"),
        "total_iters": Param("length", 5, "total_iters"),
    }

    def validate(self) -> None:
        if self.args["factor"] == 0.0:
            raise ValueError(
                "torch:constant_lr: factor: got 0.0; accepted: a number in (0, 1] (torch multiplies by 1/factor at "
                "total_iters: ZeroDivisionError)"
            )

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps

    def plan(self, ctx: Ctx) -> Plan:
        f, n = float(self.args["factor"]), self.n("total_iters", ctx.run)
        if n == 0:
            return Plan([Piece(INF, "decay", const(f))], [f"total_iters=0: torch keeps factor={f:g} for ever"])
        back = f * (1.0 / f)  # torch multiplies the held LR by 1/factor: exactly 1 up to one rounding
        return Plan(
            [Piece(n, "warmup", const(f)), Piece(INF, "decay", const(back))],
            [f"a constant warmup: factor={fmt(f)} for {n} steps, then a jump to the full LR"],
            f"constant({n}, start={fmt(f)}) -> constant",
        )


@register
class StepLR(_Torch):
    r"""torch ``StepLR``: ``gamma^⌊t/step_size⌋``.

    >>> from rampup import parse
    >>> parse("torch:step_lr(step_size=2, gamma=0.5)")(range(5)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    name = "torch:step_lr"
    api = "torch.optim.lr_scheduler.StepLR"
    params = {
        "step_size": Param("length", REQUIRED, "step_size: steps per level"),
        "gamma": Param("nonneg", 0.1, "gamma: factor per drop"),
    }

    def plan(self, ctx: Ctx) -> Plan:
        k, g = self.n("step_size", ctx.run), float(self.args["gamma"])
        if k == 0:
            raise ValueError("torch:step_lr: step_size: got 0; accepted: >= 1 step (torch: ZeroDivisionError)")

        def fn(t: Any, xp: Any) -> Any:
            return pow_(xp, g, floor_div(t, k, xp))

        return Plan(
            [Piece(INF, "decay", fn)], ["no warmup: the first update runs at the full LR"], self.suggestion(ctx, INF)
        )

    def native(self, ctx: Ctx, length: float) -> list[str] | None:
        g = float(self.args["gamma"])
        if not g <= 1.0:
            return None
        n = "" if length == INF else f"{int(length)}, "
        return [f"step({n}every={self.n('step_size', ctx.run)}, gamma={fmt(g)})"]


@register
class MultiStepLR(_Torch):
    r"""torch ``MultiStepLR``: ``gamma^(number of milestones ≤ t)`` (a repeated milestone counts twice).

    >>> from rampup import parse
    >>> parse("torch:multi_step_lr(milestones=[1, 3], gamma=0.5)")(range(4)).tolist()
    [1.0, 0.5, 0.5, 0.25]
    """

    name = "torch:multi_step_lr"
    api = "torch.optim.lr_scheduler.MultiStepLR"
    params = {
        "gamma": Param("nonneg", 0.1, "gamma: factor per milestone"),
        "milestones": Param("ints", REQUIRED, "milestones: steps at which the LR drops"),
    }

    def plan(self, ctx: Ctx) -> Plan:
        ms, g = sorted(self.args["milestones"]), float(self.args["gamma"])

        def fn(t: Any, xp: Any) -> Any:
            k: Any = t * 0.0
            for m in ms:
                k = k + xp.where(t >= m, 1.0, 0.0)
            return pow_(xp, g, k)

        sug = None
        if ms and ms[0] > 0 and g <= 1.0 and len(set(ms)) == len(ms):
            sug = f"multistep(milestones=[{', '.join(str(m) for m in ms)}], gamma={fmt(g)})"
        return Plan([Piece(INF, "decay", fn)], ["no warmup: the first update runs at the full LR"], sug)


@register
class ExponentialLR(_Torch):
    r"""torch ``ExponentialLR``: ``gamma^t`` (for ever).

    >>> from rampup import parse
    >>> parse("torch:exponential_lr(gamma=0.5)")(range(4)).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """

    name = "torch:exponential_lr"
    api = "torch.optim.lr_scheduler.ExponentialLR"
    params = {"gamma": Param("nonneg", REQUIRED, "gamma: factor per step")}

    def plan(self, ctx: Ctx) -> Plan:
        g = float(self.args["gamma"])

        def fn(t: Any, xp: Any) -> Any:
            return pow_(xp, g, t)

        return Plan(
            [Piece(INF, "decay", fn)],
            ["no warmup: the first update runs at the full LR; the decay never ends"],
            self.suggestion(ctx, INF),
        )

    def native(self, ctx: Ctx, length: float) -> list[str] | None:
        g = float(self.args["gamma"])
        if not 0.0 < g < 1.0:
            return None
        n = "" if length == INF else f"{int(length)}, "
        # rampup's exponential uses rate^((s + 1)/every): the first step is already one factor down.
        return [f"exponential({n}rate={fmt(g)})"]


class _CosineRecursion:
    """CosineAnnealingLR as torch's recursion produces it (see the module docstring)."""

    def __init__(self, t_max: int, eta: float) -> None:
        self.T, self.eta = float(t_max), eta
        # After each trough (t = (2k+1)·T, where 1 + cos = 0 exactly) torch adds (base − eta)(1 − cos(π/T))/2 ...
        d = (1.0 - eta) * (1.0 - math.cos(math.pi / t_max)) / 2.0
        # ... to the LR (= eta) and later subtracts eta again: D keeps that rounding.
        self.D = (eta + d) - eta
        self.den = 1.0 + SCALAR.cos(math.pi * (self.T + 1.0) / self.T)  # 1 + cos at the step after a trough

    def first(self, t: Any, xp: Any) -> Any:
        return self.eta + (1.0 - self.eta) * (1.0 + xp.cos(math.pi * t / self.T)) / 2.0

    def later(self, t: Any, xp: Any) -> Any:
        T = self.T
        k = xp.floor((t - T - 1.0) / (2.0 * T))
        # cos has period 2T in t: evaluated at t − 2kT (exact for whole steps below 2**53), not at t, whose
        # product π·t/T loses the phase at large t (the ratio below gave 19.8 × the base LR at 2**53).  The
        # step after the last trough, (2k + 1)T + 1, reduces to T + 1 (self.den).
        r = t - 2.0 * k * T
        return self.eta + self.D * ((1.0 + xp.cos(math.pi * r / T)) / self.den)


@register
class CosineAnnealingLR(_Torch):
    r"""torch ``CosineAnnealingLR``: ``η_min + (base − η_min)(1 + cos(πt/T_max))/2``, **periodic** past ``T_max``.

    The LR is ``eta_min`` at ``t = T_max`` and rises back to the base LR at
    ``2·T_max`` (and so on): torch never stops at the floor.  ``eta_min`` is an
    absolute LR, the same for every param group.  After the first trough the
    values follow torch's recursion (see the module docstring).

    >>> from rampup import parse
    >>> parse("torch:cosine_annealing_lr(T_max=2)")(range(6)).round(3).tolist()
    [1.0, 0.5, 0.0, 0.5, 1.0, 0.5]
    """

    name = "torch:cosine_annealing_lr"
    api = "torch.optim.lr_scheduler.CosineAnnealingLR"
    params = {
        "T_max": Param("length", REQUIRED, "T_max: steps from the base LR to eta_min"),
        "eta_min": Param("nonneg", 0.0, "eta_min: the floor, an absolute LR"),
    }

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or self.n("T_max", run)

    def plan(self, ctx: Ctx) -> Plan:
        n, eta = self.n("T_max", ctx.run), _eta(self, ctx)
        if n == 0:
            raise ValueError("torch:cosine_annealing_lr: T_max: got 0; accepted: >= 1 step (torch: ZeroDivisionError)")
        rec = _CosineRecursion(n, eta)
        q = [
            "no warmup: the first update runs at the full LR",
            f"eta_min is reached at step T_max={n}, one step after the last of {n} updates; past it the LR rises "
            f"again (period {2 * n} steps): torch's cosine never stops at the floor",
        ]
        if self.args["eta_min"]:
            q.append("eta_min is an absolute LR: every param group gets the same floor")
        return Plan([Piece(n + 1, "decay", rec.first), Piece(INF, "decay", rec.later)], q, self.suggestion(ctx, INF))

    def native(self, ctx: Ctx, length: float) -> list[str] | None:
        n, eta = self.n("T_max", ctx.run), _eta(self, ctx)
        floor = f", floor={fmt(eta)}" if eta else ""
        if eta > 1.0:
            return None
        parts = [f"cosine({n}{floor})"]
        if length != INF and length > n:
            parts.append(f"constant({int(length) - n})")
        return parts


@register
class CosineAnnealingWarmRestarts(_Torch):
    r"""torch ``CosineAnnealingWarmRestarts``: cosine cycles of ``T_0·T_mult^k`` steps, each from the base LR.

    ``η_min + (base − η_min)(1 + cos(π·T_cur/T_i))/2``; a restart jumps straight
    back to the base LR.  ``T_mult`` is an int >= 1, as torch requires.

    >>> from rampup import parse
    >>> parse("torch:cosine_annealing_warm_restarts(T_0=2, T_mult=2)")(range(7)).round(3).tolist()
    [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]
    """

    name = "torch:cosine_annealing_warm_restarts"
    api = "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts"
    params = {
        "T_0": Param("length", REQUIRED, "T_0: length of the first cycle"),
        "T_mult": Param("posint", 1, "T_mult: cycle length factor (an int >= 1)"),
        "eta_min": Param("nonneg", 0.0, "eta_min: the floor, an absolute LR"),
    }

    def plan(self, ctx: Ctx) -> Plan:
        t0, m, eta = self.n("T_0", ctx.run), int(self.args["T_mult"]), _eta(self, ctx)
        if t0 == 0:
            raise ValueError("torch:cosine_annealing_warm_restarts: T_0: got 0; accepted: a positive int (as torch)")
        fm = float(m)
        log_m = math.log(fm) if m > 1 else 1.0

        def fn(t: Any, xp: Any) -> Any:
            if m == 1:
                k = floor_div(t, t0, xp)
                start = k * t0
                ti = t * 0.0 + t0
            else:
                k = xp.floor(xp.log(1.0 + t * (fm - 1.0) / t0) / log_m)
                # Repair the float log at exact cycle starts with exact integer arithmetic.
                start = t0 * (pow_(xp, fm, k) - 1.0) / (fm - 1.0)
                k = xp.where(start > t, k - 1.0, k)
                nxt = t0 * (pow_(xp, fm, k + 1.0) - 1.0) / (fm - 1.0)
                k = xp.where(nxt <= t, k + 1.0, k)
                start = t0 * (pow_(xp, fm, k) - 1.0) / (fm - 1.0)
                ti = t0 * pow_(xp, fm, k)
            return eta + (1.0 - eta) * (1.0 + xp.cos(math.pi * (t - start) / ti)) / 2.0

        q = [
            "no warmup: the first update runs at the full LR, and every restart jumps straight back to it",
            "the floor eta_min is never used: each cycle restarts one step before it would reach it",
        ]
        sug = None
        if eta <= 1.0:
            floor = f", floor={fmt(eta)}" if eta else ""
            sug = f"restarts(cycle={t0}, cycle_mult={m}{floor})"
        return Plan([Piece(INF, "decay", fn)], q, sug)


@register
class PolynomialLR(_Torch):
    r"""torch ``PolynomialLR``: ``(1 − min(t, T)/T)^power`` (``T = total_iters``): 0 from ``t = T`` on.

    >>> from rampup import parse
    >>> parse("torch:polynomial_lr(total_iters=4, power=2.0)")(range(6)).tolist()
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    name = "torch:polynomial_lr"
    api = "torch.optim.lr_scheduler.PolynomialLR"
    params = {
        "total_iters": Param("length", 5, "total_iters: steps to decay to 0"),
        "power": Param("nonneg", 1.0, "power of the polynomial"),
    }

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or self.n("total_iters", run)

    def plan(self, ctx: Ctx) -> Plan:
        n, p = self.n("total_iters", ctx.run), float(self.args["power"])
        if n == 0:
            return Plan([Piece(INF, "decay", const(1.0))], ["total_iters=0: torch keeps the LR unchanged for ever"])

        def fn(t: Any, xp: Any) -> Any:
            return pow_(xp, 1.0 - t / n, p)

        q = [
            "no warmup: the first update runs at the full LR",
            f"the LR reaches 0 at step total_iters={n}: if the run is longer, every later update runs at LR 0",
        ]
        end = float(0.0**p)
        return Plan([Piece(n + 1, "decay", fn), Piece(INF, "decay", const(end))], q, self.suggestion(ctx, INF))

    def native(self, ctx: Ctx, length: float) -> list[str] | None:
        n, p = self.n("total_iters", ctx.run), float(self.args["power"])
        if n == 0 or p <= 0:
            return None
        parts = [f"poly({n}, power={fmt(p)})"]
        if length != INF and length > n:
            parts.append(f"constant({int(length) - n})")
        return parts


@register
class OneCycleLR(_Torch):
    r"""torch ``OneCycleLR``: from ``max_lr/div_factor`` up to ``max_lr`` and down to ``initial/final_div_factor``.

    Phase ends (float steps, as torch): ``pct_start·T − 1`` and ``T − 1`` (or,
    with ``three_phase``, ``pct_start·T − 1``, ``2·pct_start·T − 2``, ``T − 1``);
    inside a phase ``pct = (t − start)/(end − start)`` with ``cos``
    (``end + (start − end)/2·(cos(π·pct) + 1)``) or ``linear`` annealing.  The
    values are multiples of ``max_lr`` (rampup's ``peak_lr``; give ``max_lr=``
    to make the spec absolute).  At ``t = total_steps`` (after the last update)
    torch extrapolates the last phase (``pct > 1``, negative for some
    configurations); past it torch raises.  The spec holds the final value (the
    one at ``t = total_steps − 1``) from ``t = total_steps`` on.

    >>> from rampup import parse
    >>> s = parse("torch:one_cycle_lr(total_steps=10, pct_start=0.3, anneal_strategy=linear, div_factor=4.0)")
    >>> s(range(3)).tolist()
    [0.25, 0.625, 1.0]
    """

    name = "torch:one_cycle_lr"
    api = "torch.optim.lr_scheduler.OneCycleLR"
    own_peak = "max_lr"
    params = {
        "max_lr": Param("lr", None, "max_lr: the peak LR (default: peak_lr)"),
        "total_steps": Param("length", None, "total_steps (default: epochs × steps_per_epoch, or the run's)"),
        "epochs": Param("posint", None, "epochs (with steps_per_epoch)"),
        "steps_per_epoch": Param("posint", None, "steps_per_epoch (with epochs)"),
        "pct_start": Param("fraction", 0.3, "pct_start: fraction of the cycle spent increasing"),
        "anneal_strategy": Param("choice", "cos", "anneal_strategy", ("cos", "linear")),
        "div_factor": Param("positive", 25.0, "initial LR = max_lr / div_factor"),
        "final_div_factor": Param("positive", 1e4, "min LR = initial LR / final_div_factor"),
        "three_phase": Param("bool", False, "three_phase: up, down to the initial LR, then annihilate"),
        # accepted as torch spells the call; either value gives the same LR curve (the momentum is not scheduled)
        "cycle_momentum": Param("bool", True, "cycle_momentum: momentum cycling, not part of the LR curve"),
    }

    def total(self, run: RunInfo) -> int:
        if self.args["total_steps"] is not None:
            n = self.n("total_steps", run)
        elif self.args["epochs"] is not None and self.args["steps_per_epoch"] is not None:
            n = int(self.args["epochs"]) * int(self.args["steps_per_epoch"])
        elif run.total_steps is not None:
            n = run.total_steps
        else:
            raise ValueError(
                "torch:one_cycle_lr: give total_steps= or epochs= and steps_per_epoch= (or pass total_steps=), as torch"
            )
        if n <= 0:
            raise ValueError(f"torch:one_cycle_lr: total_steps: got {n}; accepted: a positive int (as torch)")
        return n

    def horizon(self, run: RunInfo) -> int | None:
        return self.total(run)

    def phases(self, run: RunInfo) -> list[tuple[float, float, float]]:
        """(end_step, start level, end level) per phase, levels as multiples of max_lr."""
        n, p = self.total(run), float(self.args["pct_start"])
        init = 1.0 / float(self.args["div_factor"])
        low = init / float(self.args["final_div_factor"])
        if self.args["three_phase"]:
            return [
                (float(p * n) - 1.0, init, 1.0),
                (float(2.0 * p * n) - 2.0, 1.0, init),
                (float(n - 1), init, low),
            ]
        return [(float(p * n) - 1.0, init, 1.0), (float(n - 1), 1.0, low)]

    def plan(self, ctx: Ctx) -> Plan:
        n = self.total(ctx.run)
        phases = self.phases(ctx.run)
        cos = self.args["anneal_strategy"] == "cos"
        # torch puts step s in the first phase with s <= end (the last phase takes the rest) and divides by
        # that phase's end - start: refuse the configurations where a used phase has zero length.
        start, highest = 0.0, -math.inf
        for i, (end, _, _) in enumerate(phases):
            first = (
                0 if highest == -math.inf else max(0, math.floor(highest) + 1)
            )  # the first step no earlier phase takes
            used = first <= n and (i == len(phases) - 1 or first <= end)
            if used and end == start:
                raise ValueError(
                    f"torch:one_cycle_lr: phase {i + 1} of the cycle has zero length (pct_start="
                    f"{self.args['pct_start']!r}, total_steps={n}): torch divides by zero there; "
                    "accepted: a pct_start that gives every used phase a non-zero length"
                )
            start, highest = end, max(highest, end)

        pieces: list[Piece] = []
        begin = 0.0
        for i, (end, a, b) in enumerate(phases):
            last = i == len(phases) - 1
            lo, span = begin, end - begin

            def fn(t: Any, xp: Any, lo: float = lo, span: float = span, a: float = a, b: float = b) -> Any:
                pct = (t - lo) / span
                if cos:
                    return b + (a - b) / 2.0 * (xp.cos(math.pi * pct) + 1.0)
                return (b - a) * pct + a

            stop = n if last else min(math.floor(end) + 1, n)  # the updates are t < n; the final LR holds after
            pieces.append(Piece(max(stop, 0), "warmup" if i == 0 else "decay", fn))
            begin = end
        at_n = float(pieces[-1].fn(float(n), SCALAR))
        # the piece that covers the last update t = n − 1 (not the last phase when pct_start leaves it unused)
        tail = float(next(p for p in pieces if p.end > n - 1).fn(float(n - 1), SCALAR))
        pieces.append(Piece(INF, "decay", const(tail)))
        div, fdiv = float(self.args["div_factor"]), float(self.args["final_div_factor"])
        q = [
            f"the first update uses max_lr/div_factor = max_lr/{div:g}; the LR climbs until step "
            f"pct_start·total_steps − 1 = {phases[0][0]:g}",
            f"at step total_steps={n} (after the last update) torch extrapolates the last phase to "
            f"{at_n:.4g}×max_lr{' (negative)' if at_n < 0 else ''}; stepped further it raises an error: "
            f"rampup holds the final LR {tail:.4g}×max_lr from step {n} on (no update uses step {n})",
            "cycle_momentum (momentum/beta1 cycling) is not part of the LR curve",
        ]
        sug = None
        if not self.args["three_phase"]:
            w = max(1, math.floor(phases[0][0]) + 1)
            shape = "cosine" if cos else "linear"
            sug = f"{shape}({w}, start={fmt(1.0 / div)}) -> {shape}({n - w}, floor={fmt(1.0 / (div * fdiv))})"
        return Plan(pieces, q, sug if n > 1 else None)


@register
class CyclicLR(_Torch):
    r"""torch ``CyclicLR``: triangles between ``base_lr`` and ``max_lr``, ``step_size_up`` steps up, ``step_size_down`` down.

    With ``T = up + down``: ``cycle = ⌊1 + t/T⌋``, ``x = 1 + t/T − cycle``,
    ``s = x/(up/T)`` while ``x <= up/T``, else ``(x − 1)/(up/T − 1)``; the LR is
    ``base + (max − base)·s·f`` with ``f = 1`` (``triangular``),
    ``1/2^(cycle − 1)`` (``triangular2``) or ``gamma^t`` (``exp_range``).
    ``base_lr`` and ``max_lr`` are absolute LRs (torch overwrites the groups'
    LR with ``base_lr``), so the spec is complete; another ``peak_lr`` rescales
    it to peak there.  rampup schedules the LR only: torch's default
    ``cycle_momentum=True`` also cycles momentum (or Adam's beta1), which a
    rampup schedule does not, so the spec takes ``cycle_momentum=false`` only.
    A custom ``scale_fn`` is a Python callable, which a spec cannot hold.

    >>> from rampup import parse
    >>> s = parse("torch:cyclic_lr(base_lr=0.1, max_lr=1.0, step_size_up=2, cycle_momentum=false)")
    >>> s(range(6)).round(4).tolist()
    [0.1, 0.55, 1.0, 0.55, 0.1, 0.55]
    """

    name = "torch:cyclic_lr"
    api = "torch.optim.lr_scheduler.CyclicLR"
    own_peak = "max_lr"
    params = {
        "base_lr": Param("nonneg", REQUIRED, "base_lr: the bottom of each cycle, an absolute LR"),
        "max_lr": Param("lr", REQUIRED, "max_lr: the top of each cycle, an absolute LR"),
        "mode": Param("choice", "triangular", "mode", ("triangular", "triangular2", "exp_range")),
        "gamma": Param("fraction", 1.0, "gamma: exp_range's factor per step, in [0, 1]"),
        "cycle_momentum": Param("bool", True, "cycle_momentum: must be false (rampup schedules the LR only)"),
        "step_size_up": Param("count", 2000, "step_size_up: steps from base_lr up to max_lr (> 0)"),
        "step_size_down": Param("count", None, "step_size_down: steps back down (default: step_size_up)"),
    }

    def validate(self) -> None:
        if self.args["cycle_momentum"]:
            raise ValueError(
                "torch:cyclic_lr: cycle_momentum: got true (torch's default); accepted: false. torch's CyclicLR with "
                "cycle_momentum=True also cycles the optimizer's momentum (or Adam's beta1) inversely to the LR, "
                "which a rampup schedule (an LR curve) does not do: pass cycle_momentum=false here, and to torch for "
                "the same training"
            )
        if not float(self.args["step_size_up"]) > 0:
            raise ValueError(
                f"torch:cyclic_lr: step_size_up: got {self.args['step_size_up']!r}; accepted: a number > 0 "
                "(torch divides by it: ZeroDivisionError)"
            )
        up = float(self.args["step_size_up"])
        down = self.args["step_size_down"]
        total = up + (up if down is None else float(down))
        if not 1.0 <= total <= 1e300 or not up / total > 0.0:
            raise ValueError(
                f"torch:cyclic_lr: step_size_up: got {self.args['step_size_up']!r} with step_size_down={down!r}; "
                "accepted: a cycle (their sum) of 1 to 1e300 steps, of which step_size_up is not a vanishing part "
                "(else t/cycle or 0/0 overflows to NaN)"
            )
        b, m = float(self.args["base_lr"]), float(self.args["max_lr"])
        if b > m:
            raise ValueError(f"torch:cyclic_lr: base_lr: got {b!r} above max_lr={m!r}; accepted: base_lr <= max_lr")

    def plan(self, ctx: Ctx) -> Plan:
        up = float(self.args["step_size_up"])
        down = float(self.args["step_size_down"]) if self.args["step_size_down"] is not None else up
        total = up + down
        ratio = up / total
        b, m = float(self.args["base_lr"]), float(self.args["max_lr"])
        mode, g = self.args["mode"], float(self.args["gamma"])
        height = m - b

        def fn(t: Any, xp: Any) -> Any:
            q = t / total
            cycle = xp.floor(1.0 + q)
            x = 1.0 + q - cycle
            s_up = x / ratio
            s = xp.where(x <= ratio, s_up, (x - 1.0) / (ratio - 1.0)) if ratio != 1.0 else s_up
            h = height * s
            if mode == "triangular2":
                h = h * (1.0 / pow_(xp, 2.0, cycle - 1.0))
            elif mode == "exp_range":
                h = h * pow_(xp, g, t)
            return (b + h) / m

        q = [
            f"the first update uses base_lr = {fmt(b / m)}×max_lr; max_lr is reached at step step_size_up={fmt(up)}",
            "torch's default cycle_momentum=True also cycles momentum; this spec is CyclicLR(..., "
            "cycle_momentum=False), the LR only",
        ]
        if mode == "triangular2":
            q.append("triangular2: each cycle's height is half the previous one")
        return Plan([Piece(INF, "warmup" if up > 0 and b < m else "decay", fn)], q, None)


# The schedulers whose step is ``group["lr"] *= factor(t)/factor(t−1)`` (torch's "chainable" form):
# in a ChainedScheduler their factors multiply.
_CHAINABLE = (
    "torch:linear_lr",
    "torch:constant_lr",
    "torch:step_lr",
    "torch:multi_step_lr",
    "torch:exponential_lr",
    "torch:polynomial_lr",
    "torch:chained_scheduler",
)


@register
class ChainedScheduler(_Torch):
    r"""torch ``ChainedScheduler``: every sub-scheduler steps the same LR each step, so their factors multiply.

    ``lr(t) = base · Π_j f_j(t)`` for torch's multiplicative ("chainable")
    schedulers: ``linear_lr``, ``constant_lr``, ``step_lr``,
    ``multi_step_lr``, ``exponential_lr``, ``polynomial_lr`` (and a nested
    ``chained_scheduler``).  Schedulers that set the LR from their own base
    (``cosine_annealing_lr``, whose recursion restarts from the base LR after
    each trough, ``cosine_annealing_warm_restarts``, ``cyclic_lr``,
    ``one_cycle_lr``) would overwrite the others' factors: refused.

    >>> from rampup import parse
    >>> s = parse("torch:chained_scheduler(schedulers=[torch:constant_lr(factor=0.5, total_iters=2), "
    ...           "torch:exponential_lr(gamma=0.5)])")
    >>> s(range(4)).tolist()
    [0.5, 0.25, 0.25, 0.125]
    """

    name = "torch:chained_scheduler"
    api = "torch.optim.lr_scheduler.ChainedScheduler"
    params = {"schedulers": Param("phases", REQUIRED, "schedulers: torch: specs stepped together", prefix="torch:")}

    def validate(self) -> None:
        subs = self.args["schedulers"]
        if not subs:
            raise ValueError(
                "torch:chained_scheduler: schedulers: got []; accepted: at least one torch: spec (as torch)"
            )
        for i, sub in enumerate(subs):
            if sub.name not in _CHAINABLE:
                why = (
                    "its recursion restarts from the base LR after each trough, dropping the other factors"
                    if sub.name == "torch:cosine_annealing_lr"
                    else "it sets the LR from its own base, overwriting the other schedulers' factors"
                )
                raise ValueError(
                    f"torch:chained_scheduler: schedulers[{i}]: {sub.name} is not supported inside chained_scheduler "
                    f"({why}); accepted: {', '.join(_CHAINABLE)}"
                )

    def horizon(self, run: RunInfo) -> int | None:
        hs = [h for h in (s.horizon(run) for s in self.args["schedulers"]) if h]
        return run.total_steps or (max(hs) if hs else None)

    def plan(self, ctx: Ctx) -> Plan:
        plans = [s.plan(ctx) for s in self.args["schedulers"]]
        ends = sorted({float(p.end) for sp in plans for p in sp.pieces if p.end != INF})
        fns = [_piecewise(sp.pieces) for sp in plans]

        def product(t: Any, xp: Any) -> Any:
            v = fns[0](t, xp)
            for f in fns[1:]:
                v = v * f(t, xp)
            return v

        role = "warmup" if any(p.pieces[0].role == "warmup" for p in plans) else "decay"
        pieces = [Piece(e, role if i == 0 else "decay", product) for i, e in enumerate(ends)]
        pieces.append(Piece(INF, "decay", product))
        quirks = [
            f"schedulers[{j}] ({s.name}): {x}"
            for j, (s, sp) in enumerate(zip(self.args["schedulers"], plans))
            for x in sp.quirks
        ]
        quirks.append("chained: the sub-schedulers' factors multiply at every step")
        return Plan(pieces, quirks, None)


def _piecewise(pieces: list[Piece]) -> Any:
    """One function of the absolute step from consecutive pieces (for products of whole curves)."""
    if len(pieces) == 1:
        return pieces[0].fn

    begins = [0.0] + [float(p.end) for p in pieces[:-1]]

    def fn(t: Any, xp: Any) -> Any:
        out = pieces[-1].fn(xp.maximum(t, begins[-1]), xp)
        for p, lo in zip(reversed(pieces[:-1]), reversed(begins[:-1])):
            # each piece is evaluated inside its own range only (past it a formula may be undefined, e.g. a
            # negative base to a fractional power), and the where picks it where it applies
            inside = xp.clip(t, lo, max(lo, float(p.end) - 1.0))
            out = xp.where(t < p.end, p.fn(inside, xp), out)
        return out

    return fn


NOT_CLOSED_FORM.update(
    {
        "torch:lambda_lr": "torch's LambdaLR multiplies the LR by an arbitrary Python callable lr_lambda(epoch), which a "
        "spec (data) cannot hold: write the curve as a rampup spec, e.g. 'linear(500) -> cosine'",
        "torch:multiplicative_lr": "torch's MultiplicativeLR multiplies the LR by an arbitrary Python callable "
        "lr_lambda(epoch) every step, which a spec (data) cannot hold: write the curve as a rampup spec; a constant "
        "factor is torch:exponential_lr(gamma=...)",
        "torch:reduce_lr_on_plateau": "torch's ReduceLROnPlateau is driven by a validation metric, not by the step, "
        "so it is not a function of the step: keep it in torch, or use a step-based spec",
    }
)

_SEQUENTIAL_OK = (
    "torch:linear_lr",
    "torch:constant_lr",
    "torch:step_lr",
    "torch:multi_step_lr",
    "torch:exponential_lr",
    "torch:cosine_annealing_lr",
    "torch:cosine_annealing_warm_restarts",
    "torch:polynomial_lr",
    "torch:one_cycle_lr",
    "torch:cyclic_lr",
    "torch:sequential_lr",
    "torch:chained_scheduler",
)
# Schedulers whose first value in a SequentialLR is the group's LR times their factor (torch steps their
# recursive form from ``group["lr"] = group["initial_lr"]`` at construction); the others read their base
# from ``base_lrs`` or their own absolute LRs.
_FROM_GROUP_LR = (
    "torch:linear_lr",
    "torch:constant_lr",
    "torch:step_lr",
    "torch:multi_step_lr",
    "torch:exponential_lr",
    "torch:cosine_annealing_lr",
    "torch:polynomial_lr",
)
_ABSOLUTE = ("torch:one_cycle_lr", "torch:cyclic_lr")


@register
class SequentialLR(_Torch):
    r"""torch ``SequentialLR``: scheduler ``j`` runs from milestone ``m_{j−1}`` on, on its own clock.

    Written with nested calls:
    ``torch:sequential_lr(schedulers=[torch:linear_lr(...), torch:cosine_annealing_lr(...)], milestones=[m])``.
    At a milestone torch restarts the next scheduler at its step 0 (its closed
    form) and steps it from there, so the curve is the sub-specs joined at the
    milestones, each seeing ``t − m_{j−1}``.  The schedulers are taken to be
    constructed in list order (``SequentialLR(opt, [A(opt), B(opt)], ...)``),
    which decides their base LR in torch:

    * ``one_cycle_lr`` overwrites the groups' ``initial_lr`` with
      ``max_lr/div_factor``, and ``cyclic_lr`` sets it to ``base_lr`` when it
      is constructed first: every scheduler constructed after them runs off that
      LR instead of the optimizer's, and the first scheduler (stepped from
      ``group["lr"] = initial_lr``) off the last one.
    * A nested ``sequential_lr`` works in torch only as the first scheduler
      (past a milestone torch calls ``get_lr()`` on it: ``NotImplementedError``),
      and there its clock runs one step ahead of its schedulers: each of its
      milestones takes effect one step early, and its first scheduler takes
      an extra, non-initial step at construction (``ExponentialLR``
      multiplies by ``gamma`` once more, ``PolynomialLR`` by
      ``(T/(T+1))^power``).  The same holds for a ``chained_scheduler``: first
      only, and each of its schedulers takes that extra step.

    >>> from rampup import parse
    >>> s = parse("torch:sequential_lr(schedulers=[torch:constant_lr(factor=0.5, total_iters=9), "
    ...           "torch:exponential_lr(gamma=0.5)], milestones=[2])")
    >>> s(range(5)).tolist()
    [0.5, 0.5, 1.0, 0.5, 0.25]
    """

    name = "torch:sequential_lr"
    api = "torch.optim.lr_scheduler.SequentialLR"
    params = {
        "schedulers": Param("phases", REQUIRED, "schedulers: torch: specs, one per stage", prefix="torch:"),
        "milestones": Param("ints", REQUIRED, "milestones: the steps where the next scheduler starts"),
    }

    def validate(self) -> None:
        subs, ms = self.args["schedulers"], self.args["milestones"]
        if not subs:
            raise ValueError("torch:sequential_lr: schedulers: got []; accepted: at least one torch: spec (as torch)")
        names = [x.name for x in subs]
        for i, sub in enumerate(subs):
            where = f"torch:sequential_lr: schedulers[{i}]"
            if sub.name == "torch:chained_scheduler" and i > 0:
                raise ValueError(
                    f"{where}: a torch:chained_scheduler works in torch's SequentialLR only as the first scheduler: at "
                    "its milestone torch calls its get_lr() and raises NotImplementedError; accepted: it first, or "
                    "its product written as one scheduler"
                )
            if sub.name not in _SEQUENTIAL_OK:
                raise ValueError(
                    f"{where}: {sub.name} is not supported inside sequential_lr; accepted: {', '.join(_SEQUENTIAL_OK)}"
                )
            if sub.name == "torch:sequential_lr":
                if i > 0:
                    raise ValueError(
                        f"{where}: a nested torch:sequential_lr works in torch only as the first scheduler: at its "
                        "milestone torch calls its get_lr() and raises NotImplementedError; accepted: write its "
                        "schedulers into this list, with its milestones shifted by the milestone before it"
                    )
                inner = [x.name for x in sub.args["schedulers"]]
                first = sub.args["schedulers"][0]
                if first.name == "torch:cosine_annealing_lr" or (
                    first.name == "torch:polynomial_lr" and str(first.args["total_iters"]) == "0"
                ):
                    raise ValueError(
                        f"{where}: a nested torch:sequential_lr may not start with {first.to_text()}: torch gives its "
                        "first scheduler an extra, non-initial step at construction (a cosine ratio, or a division "
                        "by total_iters=0); accepted: another first scheduler"
                    )
                if any(n in _ABSOLUTE or n in ("torch:sequential_lr", "torch:chained_scheduler") for n in inner) or any(
                    n in _ABSOLUTE for n in names
                ):
                    raise ValueError(
                        f"{where}: a nested torch:sequential_lr may not hold, or sit next to, one_cycle_lr, cyclic_lr "
                        "or another sequential_lr or chained_scheduler (their effect on torch's base LRs through nesting is not "
                        "reproduced); accepted: one level of nesting of the other schedulers"
                    )
        for i, sub in enumerate(subs[1:], 1):
            if sub.name in ("torch:linear_lr", "torch:polynomial_lr") and str(sub.args["total_iters"]) == "0":
                raise ValueError(
                    f"torch:sequential_lr: schedulers[{i}]: {sub.to_text()}: at its milestone torch computes its "
                    "closed form, which divides by total_iters=0 (ZeroDivisionError); accepted: total_iters >= 1"
                )
        if names[0] == "torch:chained_scheduler" and _has_zero_poly(subs[0]):
            raise ValueError(
                "torch:sequential_lr: schedulers[0]: a chained_scheduler first in a sequential_lr may not hold a "
                "polynomial_lr with total_iters=0: torch steps it once more at construction and divides by "
                "total_iters (ZeroDivisionError); accepted: total_iters >= 1"
            )
        if names.count("torch:one_cycle_lr") > 1:
            raise ValueError(
                "torch:sequential_lr: schedulers: got several torch:one_cycle_lr; accepted: at most one (torch keeps "
                "OneCycleLR's initial/max/min LR in the param groups, so the last one constructed overrides the "
                "others' max_lr, div_factor and final_div_factor)"
            )
        if names[0] == "torch:cosine_annealing_lr" and "torch:one_cycle_lr" in names[1:]:
            raise ValueError(
                "torch:sequential_lr: schedulers[0]: torch:cosine_annealing_lr before a one_cycle_lr is not "
                "supported: torch steps the cosine from one_cycle's initial LR but restarts it from its own base "
                "after the trough; accepted: another first scheduler, or one_cycle_lr first"
            )
        if len(ms) != len(subs) - 1:
            raise ValueError(
                f"torch:sequential_lr: milestones: got {len(ms)} for {len(subs)} schedulers; accepted: one fewer "
                "milestone than schedulers (as torch)"
            )
        if any(m <= 0 for m in ms) or list(ms) != sorted(set(ms)):
            raise ValueError(f"torch:sequential_lr: milestones: got {list(ms)}; accepted: increasing steps >= 1")

    def horizon(self, run: RunInfo) -> int | None:
        if run.total_steps is not None:
            return run.total_steps
        last = self.args["schedulers"][-1].horizon(run)
        ms = self.args["milestones"]
        return None if last is None else (ms[-1] if ms else 0) + last

    def bases(self, ctx: Ctx) -> list[float]:
        """The level each scheduler's curve multiplies (see the class docstring), in list order."""
        init: float | None = None
        out = []
        for sub in self.args["schedulers"]:
            if sub.name == "torch:one_cycle_lr":
                top = 1.0 if sub.args["max_lr"] is None else sub.level_of("max_lr", float(sub.args["max_lr"]), ctx)
                init = top / float(sub.args["div_factor"])
            elif sub.name == "torch:cyclic_lr" and init is None:
                init = sub.lv("base_lr", ctx)
            elif init is None:
                init = 1.0
            out.append(init)
        subs = self.args["schedulers"]
        if subs[0].name in _FROM_GROUP_LR or subs[0].name in ("torch:sequential_lr", "torch:chained_scheduler"):
            out[0] = float(init if init is not None else 1.0)
        return out

    def scale_of(self, sub: CompatPhase, base: float, ctx: Ctx) -> float:
        """What multiplies ``sub.plan``'s values: its base, or its own peak for absolute schedulers."""
        if sub.name == "torch:one_cycle_lr":
            return 1.0 if sub.args["max_lr"] is None else sub.level_of("max_lr", float(sub.args["max_lr"]), ctx)
        if sub.name == "torch:cyclic_lr":
            return sub.level_of("max_lr", float(sub.args["max_lr"]), ctx)
        return base

    def plan(self, ctx: Ctx) -> Plan:
        subs, ms = self.args["schedulers"], list(self.args["milestones"])
        return self.join(ctx, subs, ms, [self.scale_of(s, b, ctx) for s, b in zip(subs, self.bases(ctx))])

    def join(self, ctx: Ctx, subs: Any, ms: list[int], scales: list[float]) -> Plan:
        starts, ends = [0, *ms], [*ms, INF]
        pieces: list[Piece] = []
        quirks: list[str] = []
        natives: list[str] | None = []
        for j, (sub, lo, hi, k) in enumerate(zip(subs, starts, ends, scales)):
            if hi <= lo:
                continue  # a milestone at step 0 (a nested sequential_lr): this scheduler is never used
            if sub.name == "torch:sequential_lr":
                # torch's nested SequentialLR counts one step ahead of its schedulers (see the class docstring)
                inner_ms = [m - 1 for m in sub.args["milestones"]]
                inner_scales = [k] * len(sub.args["schedulers"])
                inner_scales[0] *= _extra_first_step(sub.args["schedulers"][0], ctx)
                sp = sub.join(ctx, sub.args["schedulers"], inner_ms, inner_scales)
                sp.quirks.insert(0, "a nested sequential_lr's milestones take effect one step early (torch's clock)")
                k = 1.0
            elif j > 0 and sub.name == "torch:constant_lr" and str(sub.args["total_iters"]) == "0":
                # torch restarts it with its closed form, factor + (0 >= 0)·(1 − factor) = 1, and its recursion
                # then never changes it (alone, the recursion keeps factor for ever)
                sp = Plan([Piece(INF, "decay", const(1.0))], ["total_iters=0 after a milestone: the full LR"])
            else:
                sp = sub.plan(ctx)
                if sub.name == "torch:chained_scheduler":
                    # as the first scheduler torch steps each of its schedulers once more, non-initially
                    k *= _extra_first_step(sub, ctx)
                    sp.quirks.insert(0, "first in a sequential_lr, its schedulers take an extra step at construction")
            if k != 1.0 and sub.name in ("torch:cosine_annealing_lr", "torch:cosine_annealing_warm_restarts"):
                eta = _eta(sub, ctx)
                if eta != 0.0 and eta != 1.0:
                    # eta_min is absolute: torch anneals between it and the base k, eta + (k − eta)·c(t);
                    # the sub-plan gives eta + (1 − eta)·c(t)
                    sp.pieces = [Piece(p.end, p.role, _rebase(p.fn, eta, k)) for p in sp.pieces]
                    k = 1.0
            begin: float = lo
            for p in sp.pieces:
                end = min(lo + p.end, hi) if p.end != INF else hi
                if end <= begin:
                    continue
                pieces.append(Piece(end, p.role if j == 0 else "decay", _shift(p.fn, float(lo), k)))
                begin = end
                if end == hi:
                    break
            quirks += [f"schedulers[{j}] ({sub.name}): {x}" for x in sp.quirks if "first update" not in x or j == 0]
            if k != 1.0 and sub.name not in _ABSOLUTE:
                quirks.append(
                    f"schedulers[{j}] ({sub.name}) runs off {k:.4g}×LR: a one_cycle_lr or cyclic_lr in this list "
                    "set the groups' initial_lr, which torch takes as its base"
                )
            if natives is not None:
                part = sub.native(ctx, hi - lo) if isinstance(sub, _Torch) and k == 1.0 else None
                natives = None if part is None else natives + part
        jumps = []
        for m in ms:
            if m <= 0 or not pieces:
                continue
            before = pieces_value(pieces, m - 1)
            after = pieces_value(pieces, m)
            if not math.isclose(before, after, rel_tol=0.05):
                jumps.append(f"step {m} ({before:.4g} -> {after:.4g} × LR)")
        if jumps:
            quirks.append(
                "each scheduler restarts its own clock at its milestone, so the LR jumps at " + ", ".join(jumps)
            )
        sug = None
        # A native chain of several phases must start with a warmup.
        if natives and (len(natives) == 1 or natives[0].startswith(("linear(", "constant("))):
            sug = " -> ".join(natives)
        return Plan(pieces, quirks, sug)


def _rebase(fn: Any, eta: float, k: float) -> Any:
    def g(t: Any, xp: Any) -> Any:
        return eta + (k - eta) * ((fn(t, xp) - eta) / (1.0 - eta))

    return g


def _has_zero_poly(sub: CompatPhase) -> bool:
    if sub.name == "torch:polynomial_lr":
        return str(sub.args["total_iters"]) == "0"
    return any(_has_zero_poly(x) for x in sub.args.get("schedulers") or ())


def _extra_first_step(sub: CompatPhase, ctx: Ctx) -> float:
    """The factor of the non-initial step torch gives the first scheduler of a nested SequentialLR at step 0."""
    if sub.name == "torch:exponential_lr":
        return float(sub.args["gamma"])
    if sub.name == "torch:chained_scheduler":
        return math.prod(_extra_first_step(x, ctx) for x in sub.args["schedulers"])
    if sub.name == "torch:polynomial_lr":
        n = sub.n("total_iters", ctx.run)
        return float(((1.0 - 0 / n) / (1.0 - (0 - 1) / n)) ** float(sub.args["power"]))
    return 1.0  # linear, constant, step, multi_step: their step-0 branch tests last_epoch == 0, not the mode


def pieces_value(pieces: list[Piece], t: int) -> float:
    prev = 0.0
    for p in pieces:
        if prev <= t < p.end:
            return float(p.fn(float(t), SCALAR))
        prev = p.end
    return float(pieces[-1].fn(float(t), SCALAR))  # pragma: no cover


def _shift(fn: Any, lo: float, k: float = 1.0) -> Any:
    if k == 1.0:

        def g(t: Any, xp: Any) -> Any:
            return fn(t - lo, xp)

        return g

    def gk(t: Any, xp: Any) -> Any:
        return fn(t - lo, xp) * k

    return gk
