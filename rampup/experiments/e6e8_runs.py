r"""E6's and E8's runs: :func:`rampup.experiments.train.lm_loop` (E1's byte-LM loop) with any of E6's
optimizers, the automatic warmup, and a recorder of the largest attention logit.

:func:`train_run` describes a run to the one loop: the optimizer is one of
:data:`rampup.experiments.optimizers.OPTIMIZERS` (``optimizer=partial(lm_optimizer, name)``); ``auto=True``
replaces the spec's warmup by :class:`rampup.torch.AutoWarmup` at its defaults (``cfg.spec`` is then the
decay that follows: the plan of ``Arm("auto", method="update")`` in :mod:`rampup.experiments.auto_runs`);
``record_logits=True`` adds the observer :class:`rampup.experiments.observers.AttentionLogits` (the
largest pre-softmax attention logit of every layer, per update).  :func:`run_job` makes a run a
:class:`rampup.experiments.common.Job` for :func:`~rampup.experiments.common.run_jobs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .. import parse
from .auto_runs import Arm, auto_gaps, plan_for
from .common import Job
from .observers import AttentionLogits
from .optimizers import lm_optimizer
from .train import FixedPlan, LMConfig, Observer, lm_loop

__all__ = ["ExtraRun", "run_job", "train_run", "warmup_gaps"]

# AutoWarmup at its defaults (method "update", ramps from 0, its own warmup bounds), then cfg.spec
AUTO_ARM = Arm("auto", "auto", method="update")


@dataclass(frozen=True)
class ExtraRun:
    """One run: E1's config (model, data, ``spec``, ``peak_lr``, betas, weight decay), an optimizer, and labels."""

    cfg: LMConfig
    seed: int
    arm: str
    optimizer: str = "adamw"
    auto: bool = False  # AutoWarmup at its defaults, then cfg.spec
    record_logits: bool = False
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.cfg.steps


def train_run(run: ExtraRun, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Train :class:`TinyLM` for ``run``; the fields of ``train_lm``'s result (but ``val``), ``optimizer``, and
    when asked ``max_logit`` (per update, per layer) or the automatic warmup's ``warmup_steps``/``auto_done``/
    ``exported_spec``."""
    cfg = run.cfg
    t0 = time.perf_counter()
    spec = str(parse(cfg.spec, total_steps=cfg.schedule_total()).spec)  # a bad spec fails before any work
    observers: list[Observer] = [AttentionLogits()] if run.record_logits else []
    plan = plan_for(AUTO_ARM, cfg.spec) if run.auto else partial(FixedPlan, cfg.spec)
    r = lm_loop(
        cfg, run.seed, plan, progress=progress, optimizer=partial(lm_optimizer, run.optimizer), observers=observers
    )
    out: dict[str, Any] = {
        "seed": run.seed,
        "spec": spec,
        "optimizer": run.optimizer,
        **{k: r[k] for k in ("train_loss", "lr", "val_loss_init", "final_val_loss", "diverged", "diverged_at")},
    }
    if run.record_logits:
        out["max_logit"] = r["max_logit"]  # (updates, layers)
    if run.auto:
        info = r["plan"]
        out.update(warmup_steps=info["warmup_steps"], auto_done=info["auto_done"])
        if info["auto_done"]:
            out["exported_spec"] = info["spec"]
    out["wall_s"] = time.perf_counter() - t0
    return out


def run_job(run: ExtraRun) -> Job:
    """``run`` as a :class:`~rampup.experiments.common.Job` (:func:`train_run` with ``run``), for ``run_jobs``."""
    return Job.call(train_run, {"run": run}, arm=run.arm, seed=run.seed, steps=run.steps, tags=run.tags)


def warmup_gaps(summary: dict[str, Any], auto: str, fixed: str, none: str) -> dict[str, Any]:
    """:func:`~rampup.experiments.auto_runs.auto_gaps` of the final validation losses in ``summary``, the best fixed
    arm being the experiment's one fixed warmup ``fixed`` (E6, E8 have one warmup per optimizer / model)."""
    values = {k: summary[k]["final_val_loss"] for k in (auto, fixed, none)}
    return auto_gaps(values, auto, [fixed], none, "%", best_meaning=f"the experiment's fixed warmup arm {fixed}")
