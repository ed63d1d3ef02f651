"""Hugging Face transformers schedules (``hf:``): every ``SchedulerType`` with a closed form.

Read from ``transformers/optimization.py`` (transformers 5.x, installed here).
Each HF schedule is a ``torch.optim.lr_scheduler.LambdaLR``: the LR of group
``i`` is ``base_lr_i · λ(current_step)``.  ``LambdaLR`` applies ``λ(0)`` when it
is constructed and ``λ(k)`` after the ``k``-th ``scheduler.step()``; the
Trainer steps the scheduler after every optimizer update, so **update ``t + 1``
uses ``λ(t)``**: rampup's ``schedule(t)`` is ``λ(t)`` (times ``peak_lr``).
Past ``num_training_steps`` the formulas go on exactly as HF evaluates them.

>>> from rampup import parse
>>> s = parse("hf:cosine(num_warmup_steps=2, num_training_steps=6)")
>>> [round(float(v), 4) for v in s(range(9))]
[0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.1464, 0.5]
"""

from __future__ import annotations

import math
from typing import Any

from ..core.params import REQUIRED, Param
from ..core.phases import register
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, const, fmt, pow_

__all__: list[str] = []

_SRC = "transformers/optimization.py"
_RULE = "LambdaLR: update t+1 uses base_lr·λ(t) (λ(0) at construction, λ(k) after the k-th scheduler.step())"
_W = Param("length", REQUIRED, "num_warmup_steps: linear warmup from 0 over this many steps")
_N = Param("length", None, "num_training_steps (default: the run's total_steps)")
_CYC = Param("positive", 0.5, "num_cycles: cosine waves over the decay (0.5 = one half-cosine down)")
_DEF_LR = Param("lr", None, "optimizer.defaults['lr'], which HF divides absolute LRs by (default: peak_lr)")


def _warmup_ramp(w: int) -> Any:
    """HF's warmup: ``current_step / max(1, num_warmup_steps)`` (0 at the first update)."""
    inv = float(max(1, w))

    def fn(t: Any, xp: Any) -> Any:
        return t / inv

    return fn


class _HF(CompatPhase):
    library = "transformers"
    source = _SRC
    step_rule = _RULE

    def horizon(self, run: RunInfo) -> int | None:
        if "num_training_steps" in self.params and self.args.get("num_training_steps") is not None:
            return self.n("num_training_steps", run)
        return run.total_steps

    def warmup_quirks(self, w: int) -> list[str]:
        if w <= 0:
            return []
        return [
            f"HF's warmup is current_step/num_warmup_steps: the first update uses LR 0 and the peak is reached at "
            f"step {w}, after {w} warmup updates that all stay below it (rampup's linear({w}) starts at peak/{w} "
            f"and reaches the peak at step {w - 1})"
        ]

    @staticmethod
    def warm(w: int, start: float | None = None) -> str:
        if w <= 0:
            return ""
        return f"linear({w}{'' if not start else ', start=' + fmt(start)}) -> "


@register
class Linear(_HF):
    r"""HF ``get_linear_schedule_with_warmup``: ``λ = t/W`` for ``t < W``, then ``max(0, (N − t)/max(1, N − W))``.

    Reaches 0 at ``t = N`` (one step after the last of ``N`` updates) and stays 0.

    >>> from rampup import parse
    >>> parse("hf:linear(num_warmup_steps=2, num_training_steps=6)")(range(8)).tolist()
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    name = "hf:linear"
    api = "transformers.get_linear_schedule_with_warmup"
    params = {"num_warmup_steps": _W, "num_training_steps": _N}

    def plan(self, ctx: Ctx) -> Plan:
        w, n = self.n("num_warmup_steps", ctx.run), self.run_total("num_training_steps", ctx.run)
        inv = float(max(1, n - w))

        def decay(t: Any, xp: Any) -> Any:
            return xp.maximum(0.0, (n - t) / inv)

        q = [
            *self.warmup_quirks(w),
            f"the decay reaches 0 at step {n}, one step after the last of num_training_steps={n} updates: "
            f"the last update still uses 1/{max(1, n - w)} of the peak",
        ]
        sug = f"{self.warm(w)}linear({n - w})" if n > w else None
        return Plan([Piece(w, "warmup", _warmup_ramp(w)), Piece(INF, "decay", decay)], q, sug)


class _CosineBase(_HF):
    def cosine_quirks(self, w: int, n: int, cycles: float, floor: float) -> list[str]:
        q = []
        if cycles == 0.5:
            q.append(
                f"past num_training_steps={n} the cosine continues: the LR rises again, back to the peak at step "
                f"{2 * n - w} (HF computes cos(π·progress) for progress > 1; rampup holds the floor)"
            )
        else:
            q.append(
                f"num_cycles={cycles:g}: the curve is {2 * cycles:g} half-waves over the decay and is periodic after"
            )
        level = "LR 0" if floor == 0.0 else f"the floor {fmt(floor)}×LR"
        q.append(
            f"{level} is reached at step {n}, one step after the last of {n} updates"
            if cycles == 0.5
            else "the decay does not end at its floor at num_training_steps"
        )
        return q


@register
class Cosine(_CosineBase):
    r"""HF ``get_cosine_schedule_with_warmup``: warmup ``t/W``, then ``max(0, ½(1 + cos(2π·c·p)))``.

    ``p = (t − W)/max(1, N − W)``, ``c = num_cycles`` (0.5: one half-cosine to
    0 at ``t = N``).  Past ``N`` the cosine goes on: the LR rises again.

    >>> from rampup import parse
    >>> parse("hf:cosine(num_warmup_steps=0, num_training_steps=4)")(range(7)).round(4).tolist()
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.1464, 0.5]
    """

    name = "hf:cosine"
    api = "transformers.get_cosine_schedule_with_warmup"
    params = {"num_warmup_steps": _W, "num_training_steps": _N, "num_cycles": _CYC}

    def plan(self, ctx: Ctx) -> Plan:
        w, n = self.n("num_warmup_steps", ctx.run), self.run_total("num_training_steps", ctx.run)
        c = float(self.args["num_cycles"])
        k = math.pi * c * 2.0  # HF's operation order: math.pi * float(num_cycles) * 2.0 * progress
        inv = float(max(1, n - w))

        def decay(t: Any, xp: Any) -> Any:
            return xp.maximum(0.0, 0.5 * (1.0 + xp.cos(k * ((t - w) / inv))))

        q = self.warmup_quirks(w) + self.cosine_quirks(w, n, c, 0.0)
        sug = f"{self.warm(w)}cosine({n - w})" if c == 0.5 and n > w else None
        return Plan([Piece(w, "warmup", _warmup_ramp(w)), Piece(INF, "decay", decay)], q, sug)


@register
class CosineWithRestarts(_HF):
    r"""HF ``get_cosine_with_hard_restarts_schedule_with_warmup``: ``num_cycles`` hard restarts, then 0.

    After the warmup ``t/W``: ``p = (t − W)/max(1, N − W)``; ``0`` for ``p ≥ 1``,
    else ``max(0, ½(1 + cos(π·((c·p) mod 1))))``.

    >>> from rampup import parse
    >>> parse("hf:cosine_with_restarts(num_warmup_steps=0, num_training_steps=4, num_cycles=2)")(range(6)).tolist()
    [1.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    name = "hf:cosine_with_restarts"
    api = "transformers.get_cosine_with_hard_restarts_schedule_with_warmup"
    params = {
        "num_warmup_steps": _W,
        "num_training_steps": _N,
        "num_cycles": Param("positive", 1.0, "num_cycles: number of cosine cycles (hard restarts)"),
    }

    def plan(self, ctx: Ctx) -> Plan:
        w, n = self.n("num_warmup_steps", ctx.run), self.run_total("num_training_steps", ctx.run)
        c = float(self.args["num_cycles"])
        inv = float(max(1, n - w))

        def decay(t: Any, xp: Any) -> Any:
            x = c * ((t - w) / inv)
            frac = x - xp.floor(x)  # HF: (num_cycles * progress) % 1.0, exact for x >= 0
            v = xp.maximum(0.0, 0.5 * (1.0 + xp.cos(math.pi * frac)))
            return xp.where((t - w) / inv >= 1.0, 0.0, v)

        # Past the end HF returns 0 for ever: a piece of its own from the step where progress reaches 1.
        end = w + max(1, n - w)
        q = [
            *self.warmup_quirks(w),
            f"every restart jumps from (nearly) 0 straight back to the peak, with no re-warmup; past step {end} "
            "the LR is 0 for ever",
        ]
        cyc = (n - w) / c
        sug = None
        if n > w and float(cyc).is_integer():
            sug = f"{self.warm(w)}restarts({n - w}, cycle={int(cyc)})"
        return Plan(
            [Piece(w, "warmup", _warmup_ramp(w)), Piece(end, "decay", decay), Piece(INF, "decay", const(0.0))], q, sug
        )


@register
class Polynomial(_HF):
    r"""HF ``get_polynomial_decay_schedule_with_warmup``: from the peak to ``lr_end`` as ``(1 − p)^power``.

    After the warmup ``t/W``, for ``W ≤ t ≤ N``:
    ``λ = ((lr_init − lr_end)·(1 − (t − W)/(N − W))^power + lr_end)/lr_init``;
    for ``t > N``: ``lr_end/lr_init``.  ``lr_init`` is ``optimizer.defaults['lr']``
    (``defaults_lr``, default ``peak_lr``): every group's floor is ``lr_end``
    scaled by its own LR over ``lr_init``.

    >>> from rampup import parse
    >>> s = parse("hf:polynomial(num_warmup_steps=0, num_training_steps=4, lr_end=0.0, power=2.0)")
    >>> s(range(6)).tolist()
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    name = "hf:polynomial"
    api = "transformers.get_polynomial_decay_schedule_with_warmup"
    params = {
        "num_warmup_steps": _W,
        "num_training_steps": _N,
        "lr_end": Param("nonneg", 1e-7, "lr_end: the end LR (absolute, relative to optimizer.defaults['lr'])"),
        "power": Param("positive", 1.0, "power of the decay"),
        "defaults_lr": _DEF_LR,
    }

    def plan(self, ctx: Ctx) -> Plan:
        w, n = self.n("num_warmup_steps", ctx.run), self.run_total("num_training_steps", ctx.run)
        lr_end, power = float(self.args["lr_end"]), float(self.args["power"])
        lr_init = self.args["defaults_lr"] if self.args["defaults_lr"] is not None else ctx.peak_lr
        if lr_init is None:
            if lr_end != 0.0:
                raise ValueError(
                    f"hf:polynomial: lr_end={lr_end!r} is an absolute LR that HF divides by optimizer.defaults['lr']; "
                    "pass peak_lr= (the optimizer's lr) or defaults_lr=, or give lr_end=0"
                )
            lr_init = 1.0
        lr_init = float(lr_init)
        if not lr_init > lr_end:
            raise ValueError(f"hf:polynomial: lr_end ({lr_end}) must be smaller than initial lr ({lr_init}), as in HF")
        if w == n:
            raise ValueError(
                f"hf:polynomial: num_warmup_steps == num_training_steps == {n}: HF divides by "
                "num_training_steps - num_warmup_steps = 0 at step num_training_steps (ZeroDivisionError); "
                "accepted: num_warmup_steps != num_training_steps"
            )
        lr_range, decay_steps = lr_init - lr_end, n - w

        def decay(t: Any, xp: Any) -> Any:
            pct = 1.0 - (t - w) / decay_steps
            return (lr_range * pow_(xp, pct, power) + lr_end) / lr_init

        tail = lr_end / lr_init
        q = [
            *self.warmup_quirks(w),
            f"lr_end={lr_end:g} is taken relative to optimizer.defaults['lr']={lr_init:g}: a param group with another "
            "LR ends at lr_end × its LR / defaults['lr'], not at lr_end",
            f"lr_end is reached at step {n}, one step after the last of {n} updates",
        ]
        floor = f", floor={fmt(tail)}" if tail else ""
        sug = f"{self.warm(w)}poly({n - w}, power={fmt(power)}{floor})" if n > w else None
        return Plan(
            [Piece(w, "warmup", _warmup_ramp(w)), Piece(n + 1, "decay", decay), Piece(INF, "decay", const(tail))],
            q,
            sug,
        )


@register
class Constant(_HF):
    r"""HF ``get_constant_schedule``: ``λ = 1`` (the optimizer's LR, unchanged).

    >>> from rampup import parse
    >>> parse("hf:constant")(5)
    1.0
    """

    name = "hf:constant"
    api = "transformers.get_constant_schedule"
    params = {}

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps

    def plan(self, ctx: Ctx) -> Plan:
        return Plan([Piece(INF, "decay", const(1.0))], ["no warmup: the first update runs at the full LR"], "constant")


@register
class ConstantWithWarmup(_HF):
    r"""HF ``get_constant_schedule_with_warmup``: ``λ = t/max(1, W)`` for ``t < W``, then 1.

    >>> from rampup import parse
    >>> parse("hf:constant_with_warmup(num_warmup_steps=4)")(range(6)).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    name = "hf:constant_with_warmup"
    api = "transformers.get_constant_schedule_with_warmup"
    params = {"num_warmup_steps": _W}

    def plan(self, ctx: Ctx) -> Plan:
        w = self.n("num_warmup_steps", ctx.run)
        return Plan(
            [Piece(w, "warmup", _warmup_ramp(w)), Piece(INF, "decay", const(1.0))],
            self.warmup_quirks(w),
            f"{self.warm(w)}constant",
        )


@register
class InverseSqrt(_HF):
    r"""HF ``get_inverse_sqrt_schedule``: warmup ``t/W``, then ``1/sqrt((t + τ − W)/τ)``.

    ``τ = timescale`` (default ``num_warmup_steps``, or 10 000 without warmup).
    Never ends.

    >>> from rampup import parse
    >>> parse("hf:inverse_sqrt(num_warmup_steps=4)")([4, 9, 16]).tolist()
    [1.0, 0.6666666666666666, 0.5]
    """

    name = "hf:inverse_sqrt"
    api = "transformers.get_inverse_sqrt_schedule"
    params = {
        "num_warmup_steps": _W,
        "timescale": Param("positive", None, "timescale τ (default num_warmup_steps, or 10000 without warmup)"),
    }

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps

    def plan(self, ctx: Ctx) -> Plan:
        w = self.n("num_warmup_steps", ctx.run)
        ts = self.args["timescale"]
        tau = float(ts) if ts is not None else float(w or 10_000)
        shift = tau - w

        def decay(t: Any, xp: Any) -> Any:
            return 1.0 / xp.sqrt((t + shift) / tau)

        q = self.warmup_quirks(w)
        if ts is None and w == 0:
            q.append("no warmup and no timescale: HF uses timescale=10000")
        sug = f"{self.warm(w)}invsqrt(timescale={fmt(tau)})" if w > 0 or ts is not None else None
        return Plan([Piece(w, "warmup", _warmup_ramp(w)), Piece(INF, "decay", decay)], q, sug)


class _MinLR(_CosineBase):
    exclusive = (("min_lr", "min_lr_rate"),)

    def validate(self) -> None:
        if self.args["min_lr"] is None and self.args["min_lr_rate"] is None:
            raise TypeError(f"{self.name}: give min_lr= or min_lr_rate= (HF requires one of them)")

    def rate(self, ctx: Ctx) -> float:
        if self.args["min_lr_rate"] is not None:
            return float(self.args["min_lr_rate"])
        lr = self.args["defaults_lr"] if self.args["defaults_lr"] is not None else ctx.peak_lr
        if lr is None:
            raise ValueError(
                f"{self.name}: min_lr={self.args['min_lr']!r} is an absolute LR that HF divides by "
                "optimizer.defaults['lr']; pass peak_lr= (the optimizer's lr) or defaults_lr=, or give min_lr_rate="
            )
        return float(self.args["min_lr"]) / float(lr)

    def min_lr_quirk(self) -> list[str]:
        if self.args["min_lr"] is None:
            return []
        return [
            "min_lr is divided by optimizer.defaults['lr']: a param group with another LR floors at "
            "min_lr × its LR / defaults['lr'], not at min_lr"
        ]


_MIN_PARAMS = {
    "num_warmup_steps": _W,
    "num_training_steps": _N,
    "num_cycles": _CYC,
    "min_lr": Param("nonneg", None, "min_lr: the floor as an absolute LR (divided by optimizer.defaults['lr'])"),
    "min_lr_rate": Param("fraction", None, "min_lr_rate: the floor as a fraction of the LR"),
    "defaults_lr": _DEF_LR,
}


@register
class CosineWithMinLR(_MinLR):
    r"""HF ``get_cosine_with_min_lr_schedule_with_warmup``: cosine to ``min_lr_rate`` instead of 0.

    After the warmup ``t/W``: ``f = ½(1 + cos(2π·c·p))``, ``λ = max(0, f·(1 − r) + r)``
    with ``p = (t − W)/max(1, N − W)`` and ``r = min_lr_rate`` (or ``min_lr /
    optimizer.defaults['lr']``).  Past ``N`` the cosine rises again.

    >>> from rampup import parse
    >>> parse("hf:cosine_with_min_lr(num_warmup_steps=0, num_training_steps=2, min_lr_rate=0.1)")(range(4)).round(4).tolist()
    [1.0, 0.55, 0.1, 0.55]
    """

    name = "hf:cosine_with_min_lr"
    api = "transformers.get_cosine_with_min_lr_schedule_with_warmup"
    params = dict(_MIN_PARAMS)

    def plan(self, ctx: Ctx) -> Plan:
        w, n = self.n("num_warmup_steps", ctx.run), self.run_total("num_training_steps", ctx.run)
        c, r = float(self.args["num_cycles"]), self.rate(ctx)
        k = math.pi * c * 2.0
        inv = float(max(1, n - w))

        def decay(t: Any, xp: Any) -> Any:
            f = 0.5 * (1.0 + xp.cos(k * ((t - w) / inv)))
            return xp.maximum(0.0, f * (1.0 - r) + r)

        q = self.warmup_quirks(w) + self.cosine_quirks(w, n, c, r) + self.min_lr_quirk()
        sug = f"{self.warm(w)}cosine({n - w}, floor={fmt(r)})" if c == 0.5 and n > w else None
        return Plan([Piece(w, "warmup", _warmup_ramp(w)), Piece(INF, "decay", decay)], q, sug)


@register
class CosineWarmupWithMinLR(_MinLR):
    r"""HF ``get_cosine_with_min_lr_schedule_with_warmup_lr_rate``: warmup that starts above 0, cosine to ``r``.

    Warmup (``t < W``): ``(t + 1)/max(1, W)``, or with ``warmup_lr_rate = a``:
    ``a + (1 − a)·t/max(1, W − 1)``.  Then ``p = (t − W + 1)/max(1, N − W)``,
    ``λ = max(0, ½(1 + cos(2π·c·p))·(1 − r) + r)``: the floor is reached at the
    last update ``t = N − 1``; past it the cosine rises again.

    >>> from rampup import parse
    >>> s = parse("hf:cosine_warmup_with_min_lr(num_warmup_steps=2, num_training_steps=4, min_lr_rate=0.1)")
    >>> s(range(6)).round(4).tolist()
    [0.5, 1.0, 0.55, 0.1, 0.55, 1.0]
    """

    name = "hf:cosine_warmup_with_min_lr"
    api = "transformers.get_cosine_with_min_lr_schedule_with_warmup_lr_rate"
    params = {**_MIN_PARAMS, "warmup_lr_rate": Param("fraction", None, "warmup_lr_rate: the first warmup value")}

    def plan(self, ctx: Ctx) -> Plan:
        w, n = self.n("num_warmup_steps", ctx.run), self.run_total("num_training_steps", ctx.run)
        c, r = float(self.args["num_cycles"]), self.rate(ctx)
        a = self.args["warmup_lr_rate"]
        k = math.pi * c * 2.0
        wf, nf = float(w), float(n)
        inv_w = max(1.0, wf)
        inv = max(1.0, nf - wf)

        if a is None:

            def warm(t: Any, xp: Any) -> Any:
                return (t + 1.0) / inv_w

        else:
            a = float(a)
            inv_w1 = float(max(1, wf - 1.0))

            def warm(t: Any, xp: Any) -> Any:
                return a + (1.0 - a) * t / inv_w1

        def decay(t: Any, xp: Any) -> Any:
            f = 0.5 * (1.0 + xp.cos(k * ((t - wf + 1.0) / inv)))
            return xp.maximum(0.0, f * (1.0 - r) + r)

        q = []
        if c == 0.5:
            q.append(
                f"past the last update (step {n - 1}) the cosine continues: the LR rises again, back to the peak "
                f"at step {2 * n - w - 1}"
            )
        if a is not None and w > 1:
            q.append(f"with warmup_lr_rate the peak is reached at step {w - 1} (like rampup's linear(W, start=a))")
        q += self.min_lr_quirk()
        # Without warmup_lr_rate this is exactly rampup's linear(W) -> cosine(N - W, floor=r) up to step N - 1.
        start = f", start={fmt(a)}" if a is not None else ""
        wtxt = f"linear({w}{start}) -> " if w > 0 else ""
        sug = f"{wtxt}cosine({n - w}, floor={fmt(r)})" if c == 0.5 and n > w else None
        return Plan([Piece(w, "warmup", warm), Piece(INF, "decay", decay)], q, sug)


@register
class WarmupStableDecay(_HF):
    r"""HF ``get_wsd_schedule``: warmup, stable at the peak, decay to ``min_lr_ratio``, then hold it.

    With ``m = min_lr_ratio`` and ``S`` stable steps (``num_stable_steps``, or
    ``N − W − D``): warmup ``p = t/max(1, W)`` shaped ``linear`` (``p``),
    ``cosine`` (``½(1 − cos πp)``) or ``1-sqrt`` (``1 − sqrt(1 − p)``), as
    ``max(0, w(p)·(1 − m) + m)``; 1 for ``W ≤ t < W + S``; decay
    ``p = (t − W − S)/max(1, D)`` shaped ``linear`` (``1 − p``), ``cosine``
    (``½(1 + cos 2πcp)``) or ``1-sqrt`` (``1 − sqrt p``), as
    ``max(0, d(p)·(1 − m) + m)``; ``m`` from ``W + S + D`` on.

    >>> from rampup import parse
    >>> s = parse("hf:warmup_stable_decay(num_warmup_steps=2, num_decay_steps=2, num_stable_steps=1, decay_type=linear)")
    >>> s(range(7)).tolist()
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 0.0]
    """

    name = "hf:warmup_stable_decay"
    api = "transformers.get_wsd_schedule"
    params = {
        "num_warmup_steps": _W,
        "num_decay_steps": Param("length", REQUIRED, "num_decay_steps: length of the decay"),
        "num_training_steps": _N,
        "num_stable_steps": Param("length", None, "num_stable_steps (default N − W − D)"),
        "warmup_type": Param("choice", "linear", "warmup shape", ("linear", "cosine", "1-sqrt")),
        "decay_type": Param("choice", "cosine", "decay shape", ("linear", "cosine", "1-sqrt")),
        "min_lr_ratio": Param("fraction", 0.0, "min_lr_ratio: start of the warmup and end of the decay"),
        "num_cycles": _CYC,
    }

    def horizon(self, run: RunInfo) -> int | None:
        w, d = self.n("num_warmup_steps", run), self.n("num_decay_steps", run)
        if self.args["num_stable_steps"] is not None:
            return w + self.n("num_stable_steps", run) + d
        return self.run_total("num_training_steps", run)

    def plan(self, ctx: Ctx) -> Plan:
        run = ctx.run
        w, d = self.n("num_warmup_steps", run), self.n("num_decay_steps", run)
        q: list[str] = []
        if self.args["num_stable_steps"] is not None:
            s = self.n("num_stable_steps", run)
            if self.args["num_training_steps"] is not None:
                q.append("both num_training_steps and num_stable_steps given: HF uses num_stable_steps (and warns)")
        else:
            if self.args["num_training_steps"] is None and run.total_steps is None:
                raise ValueError(
                    "hf:warmup_stable_decay: give num_training_steps= or num_stable_steps= "
                    "(or pass total_steps=), as HF requires one of them"
                )
            s = self.run_total("num_training_steps", run) - w - d
        m, c = float(self.args["min_lr_ratio"]), float(self.args["num_cycles"])
        wt, dt = self.args["warmup_type"], self.args["decay_type"]
        inv_w, inv_d = float(max(1, w)), float(max(1, d))
        k = math.pi * c * 2.0

        def warm(t: Any, xp: Any) -> Any:
            p = t / inv_w
            if wt == "linear":
                f = p
            elif wt == "cosine":
                f = 0.5 * (1.0 - xp.cos(math.pi * p))
            else:
                f = 1.0 - xp.sqrt(1.0 - p)
            return xp.maximum(0.0, f * (1.0 - m) + m)

        def decay(t: Any, xp: Any) -> Any:
            p = (t - w - s) / inv_d
            if dt == "linear":
                f = 1.0 - p
            elif dt == "cosine":
                f = 0.5 * (1.0 + xp.cos(k * p))
            else:
                f = 1.0 - xp.sqrt(p)
            return xp.maximum(0.0, f * (1.0 - m) + m)

        if w > 0:
            q.append(
                f"the warmup starts at min_lr_ratio={m:g} (0: the first update uses LR 0) and reaches the peak at "
                f"step {w}"
            )
        if s < 0:
            q.append(f"num_training_steps is shorter than warmup + decay: the stable phase is {s} steps")
        q.append(f"the decay ends at min_lr_ratio at step {w + s + d}, one step after the last decay update")
        sug = None
        if s >= 0 and d > 0 and (dt != "cosine" or c == 0.5):
            shape = {"linear": "linear", "cosine": "cosine", "1-sqrt": "1-sqrt"}[dt]
            wshape = {"linear": "linear", "cosine": "cosine", "1-sqrt": "linear"}[wt]
            start = f", start={fmt(m)}" if m > 0 else ""
            wtxt = f"{wshape}({w}{start}) -> " if w > 0 else ""
            floor = f", floor={fmt(m)}" if m else ""
            sug = f"{wtxt}wsd({s + d}, cooldown={d}, shape={shape}{floor})"
        return Plan(
            [
                Piece(w, "warmup", warm),
                Piece(w + max(s, 0), "decay", const(1.0)),
                Piece(w + s + d, "decay", decay),
                Piece(INF, "decay", const(m)),
            ],
            q,
            sug,
        )
