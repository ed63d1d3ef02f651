"""Keras 3 schedules (``keras:``): ``CosineDecay`` with its linear warmup.

Read from ``keras/src/optimizers/schedules/learning_rate_schedule.py`` (Keras 3.x).
A Keras optimizer asks its schedule for the LR at ``optimizer.iterations``,
the number of updates already applied, so update ``t + 1`` uses
``schedule(t)``: rampup's ``schedule(t)`` is Keras's.  The arguments are
absolute LRs, so the spec is complete: leave ``peak_lr`` out (or pass the
peak, ``warmup_target`` or ``initial_learning_rate`` without a warmup); another
``peak_lr`` rescales the curve to peak there.

Precision: Keras computes in the dtype of ``initial_learning_rate`` (float32
for a Python float under Keras' default floatx), and its cosine is always
float32: ``keras.ops.cos`` promotes a float64 tensor with a Python float to
float32 under the JAX backend (Keras 3.15).  A real Keras run therefore carries
float32 rounding in the decay factor (~3e-7 of the peak); this spec computes in
float64.  The warmup part agrees to ~1e-16 with float64 inputs.

>>> from rampup import parse
>>> s = parse("keras:cosine_decay(initial_learning_rate=0.0, decay_steps=4, warmup_target=1.0, warmup_steps=2)")
>>> [round(float(v), 4) for v in s(range(8))]
[0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

from ..core.params import REQUIRED, Param
from ..core.phases import register
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, const, fmt

__all__: list[str] = []


@register
class CosineDecay(CompatPhase):
    r"""Keras ``CosineDecay``: optional linear warmup ``initial → warmup_target``, then cosine to ``alpha``×peak.

    Without ``warmup_target``: ``init·((1 − α)·½(1 + cos(π·min(t, D)/D)) + α)``.
    With it: ``(target − init)·t/W + init`` for ``t < W``, then
    ``target·((1 − α)·½(1 + cos(π·min(t − W, D)/D)) + α)``.  The floor
    ``α·peak`` is reached at ``t = W + D`` and held.

    >>> from rampup import parse
    >>> parse("keras:cosine_decay(initial_learning_rate=1.0, decay_steps=2, alpha=0.1)")(range(4)).round(4).tolist()
    [1.0, 0.55, 0.1, 0.1]
    """

    name = "keras:cosine_decay"
    library = "keras"
    api = "keras.optimizers.schedules.CosineDecay"
    source = "keras/src/optimizers/schedules/learning_rate_schedule.py"
    step_rule = "update t+1 uses schedule(optimizer.iterations = t)"
    params = {
        "initial_learning_rate": Param(
            "nonneg", REQUIRED, "initial_learning_rate: the start (the peak without warmup)"
        ),
        "decay_steps": Param("length", REQUIRED, "decay_steps: length of the cosine"),
        "alpha": Param("fraction", 0.0, "alpha: the floor as a fraction of the peak"),
        "warmup_target": Param("lr", None, "warmup_target: the peak after the warmup"),
        "warmup_steps": Param("length", 0, "warmup_steps: length of the linear warmup"),
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

    def horizon(self, run: RunInfo) -> int | None:
        w = self.n("warmup_steps", run) if self.args["warmup_target"] is not None else 0
        return run.total_steps or w + self.n("decay_steps", run)

    def plan(self, ctx: Ctx) -> Plan:
        d = self.n("decay_steps", ctx.run)
        if d <= 0:
            raise ValueError(f"keras:cosine_decay: decay_steps: got {d}; accepted: > 0 (Keras raises)")
        alpha = float(self.args["alpha"])
        warm = self.args["warmup_target"] is not None
        w = self.n("warmup_steps", ctx.run) if warm else 0
        init = float(self.args["initial_learning_rate"]) / float(self.own_peak_value() or 1.0)

        def up(t: Any, xp: Any) -> Any:
            return (1.0 - init) * (t / w) + init

        def down(t: Any, xp: Any) -> Any:
            c = xp.minimum(t - w, float(d))
            return (1.0 - alpha) * (0.5 * (1.0 + xp.cos(math.pi * (c / d)))) + alpha

        q = []
        if warm and w > 0:
            q.append(
                "initial_learning_rate is the start of the warmup, not the peak (warmup_target is): "
                + ("the first update uses LR 0" if init == 0.0 else f"the first update uses {fmt(init)}×peak")
            )
            q.append(f"the peak is reached at step warmup_steps={w}, after {w} updates below it")
        elif self.args["warmup_steps"] != 0 and not warm:
            q.append("warmup_steps is ignored without warmup_target: there is no warmup")
        q.append(f"the floor alpha×peak is reached at step {w + d}, one step after the last of {w + d} updates")
        floor = f", floor={fmt(alpha)}" if alpha else ""
        start = f", start={fmt(init)}" if init else ""
        sug = f"{f'linear({w}{start}) -> ' if w else ''}cosine({d}{floor})"
        return Plan([Piece(w, "warmup", up), Piece(w + d, "decay", down), Piece(INF, "decay", const(alpha))], q, sug)
