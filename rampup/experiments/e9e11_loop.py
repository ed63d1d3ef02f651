"""E9's, E10's and E11's runs: :func:`rampup.experiments.train.lm_loop` (E1's byte-LM loop) with what they add.

:func:`train_x` describes an :class:`XConfig` run to the one loop:

* E9: weight decay co-scheduled with the LR, an LR-plan option
  (``FixedPlan(..., weight_decay=MODE)``: :class:`rampup.torch.WarmupScheduler`'s own
  ``weight_decay`` modes), and the global weight norm ‖w‖₂ during the run (the observer
  :class:`rampup.experiments.observers.WeightNorms`);
* E10: fine-tuning on only the first N bytes of the train split (``LMConfig.train_bytes``),
  from pretrained weights with a fresh output layer (``reset_head``);
* E11: fp16 autocast with a ``torch.amp.GradScaler`` (its initial scale given), counting the
  updates the scaler skipped (:class:`rampup.experiments.train.AmpStep`, the loop's ``step=``).

Every arm — a fixed rampup spec or the automatic warmup (:class:`rampup.torch.AutoWarmup` at its
defaults, ``method="update"``, then ``lm.spec`` as the decay: the ``Arm("auto", method="update")``
of the auto-warmup comparison) — runs in the same loop, so the arms differ only in the LR plan.
Every run records the weight decay each update used (:class:`~rampup.experiments.observers.WeightDecays`).
A skipped AMP update still uses up its step of the warmup (the usual AMP loop:
``scaler.step(opt); scaler.update(); scheduler.step()``).  :func:`x_job` makes a run a
:class:`rampup.experiments.common.Job` for :func:`~rampup.experiments.common.run_jobs`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

from .. import parse
from .auto_runs import Arm, plan_for
from .common import Job
from .observers import WeightDecays, WeightNorms
from .train import AmpStep, FixedPlan, LMConfig, LMStep, Observer, lm_loop, lm_step

__all__ = ["WD_MODES", "XConfig", "quick_lm", "train_x", "x_job"]

WD_MODES = ("none", "warmup", "lr")  # WarmupScheduler's weight_decay modes (docs/torch.md)


@dataclass(frozen=True)
class XConfig:
    """One run of E9–E11: an :class:`LMConfig` (``lm.spec`` = the whole fixed schedule, or the decay after
    the automatic warmup; ``lm.train_bytes``: the smaller fine-tuning set of E10) and the extras.

    ``weight_decay_mode``: how the optimizer's weight decay follows the schedule (``"none"``: fixed;
    ``"warmup"``: × the warmup factor; ``"lr"``: × lr/peak).  ``auto``: the LR comes from
    ``AutoWarmup(method="update")`` followed by ``lm.spec``.  ``amp``: fp16 autocast and a GradScaler
    starting at ``init_scale``.  ``norm_every``: record ‖w‖₂ every N updates (0: at the start, at the
    end of ``norm_at`` and at the end).
    """

    lm: LMConfig
    weight_decay_mode: str = "none"
    auto: bool = False
    amp: bool = False
    init_scale: float = 2.0**16
    norm_every: int = 0
    norm_at: int | None = None  # also record ‖w‖ after this many updates (E9: the end of the warmup)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.weight_decay_mode not in WD_MODES:
            raise ValueError(
                f"weight_decay_mode: got {self.weight_decay_mode!r}; accepted: {', '.join(map(repr, WD_MODES))}"
            )
        if self.auto and self.weight_decay_mode != "none":
            raise ValueError("weight_decay_mode: the automatic warmup runs with a fixed weight decay ('none')")
        if not (isinstance(self.init_scale, (int, float)) and self.init_scale > 0 and math.isfinite(self.init_scale)):
            raise ValueError(f"init_scale: got {self.init_scale!r}; accepted: a finite number > 0")
        if self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"device: got {self.device!r}; accepted: 'cpu' or 'cuda[:N]'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_x(
    cfg: XConfig, seed: int, init_state: bytes | None = None, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Train :class:`TinyLM` under ``cfg`` from ``seed`` (or from ``init_state``); plain data back.

    Returns per-update training loss, LR and weight decay, the weight norms recorded, the validation
    loss at the start and the end, and with ``amp`` the updates the GradScaler skipped and its scale.
    """
    t0 = time.perf_counter()
    lm = cfg.lm
    parse(lm.spec, total_steps=lm.schedule_total())  # validated before any work
    observers: list[Observer] = [WeightDecays(), WeightNorms(cfg.norm_every, cfg.norm_at)]
    step: LMStep = lm_step
    if cfg.amp:
        amp = AmpStep(cfg.init_scale)
        step = amp
        observers.append(amp)
    if cfg.auto:
        plan = plan_for(Arm("auto", "auto", method="update"), lm.spec)
    else:
        plan = partial(FixedPlan, lm.spec, weight_decay=cfg.weight_decay_mode)
    device = None if cfg.device == "cpu" else cfg.device
    r = lm_loop(lm, seed, plan, init_state, progress, step=step, observers=observers, device=device)
    out: dict[str, Any] = {
        "seed": seed,
        **{k: r[k] for k in ("train_loss", "lr", "weight_decay", "weight_norm", "val_loss_init", "final_val_loss")},
        "diverged": r["diverged"],
        "diverged_at": r["diverged_at"],
    }
    if cfg.amp:
        out.update({k: r[k] for k in ("skipped_steps", "n_skipped", "scale")})
    info = r["plan"]
    if cfg.auto:
        out.update(warmup_steps=info["warmup_steps"], auto_done=bool(info["auto_done"]))
        out["spec"] = info.get("spec")  # the exported spec; None if the warmup never ended
    else:
        out.update(spec=info["spec"], warmup_steps=info["warmup_steps"])
    out["wall_s"] = time.perf_counter() - t0
    return out


def x_job(cfg: XConfig, seed: int, arm: str, init_state: bytes | None = None) -> Job:
    """A run of :func:`train_x` as a :class:`~rampup.experiments.common.Job` for ``run_jobs`` (``cfg.lm.steps`` steps)."""
    kwargs = {"cfg": cfg, "seed": seed, "init_state": init_state}
    return Job.call(train_x, kwargs, arm=arm, seed=seed, steps=cfg.lm.steps)


def quick_lm(lm: LMConfig) -> LMConfig:
    """The quick mode's evaluation: 32 validation windows, none during the run."""
    return replace(lm, eval_windows=32, eval_every=10**9)
