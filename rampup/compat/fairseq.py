"""fairseq LR schedulers (``fairseq:``): ``inverse_sqrt`` and ``tri_stage``.

fairseq is not installed here: the formulas are from
``facebookresearch/fairseq`` ``fairseq/optim/lr_scheduler/inverse_square_root_schedule.py``
(``InverseSquareRootLRScheduleConfig``) and ``tri_stage_lr_scheduler.py``
(``TriStageLRScheduleConfig``, with ``phase_ratio``), and the tests check them
against those formulas.  The fairseq trainer calls ``lr_scheduler.step_update(0)``
when it builds the optimizer and ``step_update(num_updates)`` after every
update (``trainer.py``), so update ``t + 1`` uses ``step_update(t)``: rampup's
``schedule(t)``.  ``lr`` is fairseq's ``--lr`` (rampup's ``peak_lr``; give
``lr=`` to make the spec absolute).

>>> from rampup import parse
>>> parse("fairseq:inverse_sqrt(warmup_updates=4)")([0, 2, 4, 16]).tolist()
[0.0, 0.5, 1.0, 0.5]
"""

from __future__ import annotations

import math
from typing import Any

from ..core.params import Param
from ..core.phases import register
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, const, fmt, pow_

__all__: list[str] = []

_RULE = "update t+1 uses step_update(t) (step_update(0) when the trainer builds the optimizer)"
_LR = Param("lr", None, "lr: fairseq's --lr, the peak (default: peak_lr)")


class _Fairseq(CompatPhase):
    library = "fairseq"
    step_rule = _RULE
    own_peak = "lr"


@register
class InverseSqrt(_Fairseq):
    r"""fairseq ``inverse_sqrt``: linear ``warmup_init_lr → lr`` over ``W`` updates, then ``lr·sqrt(W)/sqrt(t)``.

    ``t < W``: ``warmup_init_lr + t·(lr − warmup_init_lr)/W``; ``t ≥ W``:
    ``lr·W^0.5·t^−0.5`` (exactly ``lr`` at ``t = W``).  ``warmup_init_lr < 0``
    (the default, −1) means 0 when ``W > 0``.  ``warmup_updates = 0`` crashes
    fairseq (a division by zero), so it is refused.

    Source: ``fairseq/optim/lr_scheduler/inverse_square_root_schedule.py``.

    >>> from rampup import parse
    >>> parse("fairseq:inverse_sqrt(warmup_updates=2)")(range(5)).round(4).tolist()
    [0.0, 0.5, 1.0, 0.8165, 0.7071]
    """

    name = "fairseq:inverse_sqrt"
    api = "fairseq --lr-scheduler inverse_sqrt"
    source = "fairseq/optim/lr_scheduler/inverse_square_root_schedule.py"
    params = {
        "warmup_updates": Param("length", 4000, "warmup_updates: warmup length"),
        "warmup_init_lr": Param("number", -1.0, "warmup_init_lr: LR at the start (< 0: 0)"),
        "lr": _LR,
    }

    def plan(self, ctx: Ctx) -> Plan:
        w = self.n("warmup_updates", ctx.run)
        if w <= 0:
            raise ValueError(
                "fairseq:inverse_sqrt: warmup_updates: got 0; accepted: >= 1 (fairseq divides by warmup_updates: "
                "ZeroDivisionError)"
            )
        wi = float(self.args["warmup_init_lr"])
        init = 0.0 if wi < 0 else self.level_of("warmup_init_lr", wi, ctx)
        step = (1.0 - init) / w
        decay_factor = 1.0 * w**0.5

        def warm(t: Any, xp: Any) -> Any:
            return init + t * step

        def decay(t: Any, xp: Any) -> Any:
            return decay_factor * pow_(xp, t, -0.5)

        q = []
        if init == 0.0:
            q.append("warmup_init_lr defaults to 0: the first update uses LR 0")
        q.append(f"the peak lr is reached at update {w}, after {w} warmup updates below it; the decay never ends")
        sug = f"linear({w}{', start=' + fmt(init) if init else ''}) -> invsqrt(timescale={w})"
        return Plan([Piece(w, "warmup", warm), Piece(INF, "decay", decay)], q, sug)


@register
class TriStage(_Fairseq):
    r"""fairseq ``tri_stage``: linear warmup from ``init_lr_scale·lr``, hold ``lr``, exponential decay to ``final_lr_scale·lr``.

    ``t < W``: ``init + t·(lr − init)/W``; ``t < W + H``: ``lr``;
    ``t ≤ W + H + D``: ``lr·exp(−(t − W − H)·(−ln final_lr_scale)/D)``; then
    ``final_lr_scale·lr``.  With ``phase_ratio=[a, b, c]`` (summing to 1) the
    stage lengths are ``int(max_update·a)`` etc. (``max_update`` defaults to
    the run's total_steps).  ``decay_steps = 0`` crashes fairseq (a division by
    zero), so it is refused.

    Source: ``fairseq/optim/lr_scheduler/tri_stage_lr_scheduler.py``.

    >>> from rampup import parse
    >>> s = parse("fairseq:tri_stage(warmup_steps=2, hold_steps=1, decay_steps=2, init_lr_scale=0.5, final_lr_scale=0.25)")
    >>> s(range(7)).tolist()
    [0.5, 0.75, 1.0, 1.0, 0.5, 0.25, 0.25]
    """

    name = "fairseq:tri_stage"
    api = "fairseq --lr-scheduler tri_stage"
    source = "fairseq/optim/lr_scheduler/tri_stage_lr_scheduler.py"
    params = {
        "warmup_steps": Param("length", 0, "warmup_steps"),
        "hold_steps": Param("length", 0, "hold_steps"),
        "decay_steps": Param("length", 0, "decay_steps"),
        "phase_ratio": Param("fractions", None, "phase_ratio: [warmup, hold, decay] fractions of max_update"),
        "max_update": Param("length", None, "max_update (default: total_steps), used with phase_ratio"),
        "init_lr_scale": Param("fraction", 0.01, "init_lr_scale: warmup start as a fraction of lr"),
        "final_lr_scale": Param("fraction", 0.01, "final_lr_scale: final LR as a fraction of lr"),
        "lr": _LR,
    }

    def stages(self, run: RunInfo) -> tuple[int, int, int]:
        ratio = self.args["phase_ratio"]
        if ratio is None:
            w, h, d = (self.n(k, run) for k in ("warmup_steps", "hold_steps", "decay_steps"))
        else:
            if len(ratio) != 3 or sum(ratio) != 1:
                raise ValueError(
                    f"fairseq:tri_stage: phase_ratio: got {list(ratio)}; accepted: three fractions that add up to 1 "
                    "(fairseq asserts sum(phase_ratio) == 1)"
                )
            m = self.run_total("max_update", run)
            w, h, d = (int(m * r) for r in ratio)
        if w + h + d <= 0:
            raise ValueError("fairseq:tri_stage: please specify steps or phase_ratio (fairseq asserts it)")
        return w, h, d

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or sum(self.stages(run))

    def plan(self, ctx: Ctx) -> Plan:
        w, h, d = self.stages(ctx.run)
        fs = float(self.args["final_lr_scale"])
        if d <= 0 or fs <= 0.0:
            raise ValueError(
                f"fairseq:tri_stage: {'decay_steps' if d <= 0 else 'final_lr_scale'}: got 0; accepted: > 0 "
                "(fairseq computes -log(final_lr_scale) / decay_steps)"
            )
        init = float(self.args["init_lr_scale"])
        rate = (1.0 - init) / w if w != 0 else 0.0
        decay_factor = -math.log(fs) / d

        def warm(t: Any, xp: Any) -> Any:
            return init + rate * t

        def decay(t: Any, xp: Any) -> Any:
            return xp.exp(-decay_factor * (t - w - h))

        q = [
            f"the warmup starts at init_lr_scale={init:g}×lr and reaches lr only at step {w} (the hold stage)",
            f"the decay stage is {d + 1} steps long (t ≤ warmup + hold + decay): final_lr_scale is reached at "
            f"step {w + h + d}",
        ]
        parts = [f"linear({w}, start={fmt(init)})"] if w else []
        if h:
            parts.append(f"constant({h})" if parts else f"linear(0) -> constant({h})")
        if fs < 1.0:
            parts.append(f"exponential({d + 1}, rate={fmt(fs)}, every={d + 1})")
        sug = " -> ".join(parts) if parts and fs < 1.0 else None
        if sug is not None and not w and not h:
            sug = parts[-1]
        return Plan(
            [
                Piece(w, "warmup", warm),
                Piece(w + h, "decay", const(1.0)),
                Piece(w + h + d + 1, "decay", decay),
                Piece(INF, "decay", const(fs)),
            ],
            q,
            sug,
        )
