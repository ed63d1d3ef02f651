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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .. import parse
from .auto_runs import Arm, plan_for
from .common import Job, mean_std
from .observers import AttentionLogits
from .optimizers import lm_optimizer
from .train import FixedPlan, LMConfig, Observer, lm_loop

__all__ = ["ExtraRun", "auto_gaps", "fmt_gaps", "run_job", "train_run"]

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


def _pct(a: float, b: float) -> float:
    return float(100.0 * (a - b) / b) if np.isfinite(a) and np.isfinite(b) else math.nan


def auto_gaps(summary: dict[str, Any], auto: str, fixed: str, none: str) -> dict[str, Any]:
    """The automatic warmup's final validation loss against the best fixed warmup and against no warmup, in %.

    ``100 · (auto − other) / other`` on the seed means and seed by seed (same seed); positive = auto is worse.

    >>> s = {"a": {"final_val_loss": [2.02, 2.2]}, "f": {"final_val_loss": [2.0, 2.0]}, "n": {"final_val_loss": [3.0, 2.0]}}
    >>> g = auto_gaps(s, "a", "f", "n")
    >>> round(g["vs_fixed_mean_pct"], 3), [round(x, 3) for x in g["vs_fixed_per_seed_pct"]]
    (5.5, [1.0, 10.0])
    """
    a, f, n = (np.asarray(summary[k]["final_val_loss"], dtype=float) for k in (auto, fixed, none))
    return {
        "auto": auto,
        "fixed": fixed,
        "none": none,
        "vs_fixed_mean_pct": _pct(mean_std(a)[0], mean_std(f)[0]),
        "vs_fixed_per_seed_pct": [_pct(x, y) for x, y in zip(a, f)],
        "vs_none_mean_pct": _pct(mean_std(a)[0], mean_std(n)[0]),
        "vs_none_per_seed_pct": [_pct(x, y) for x, y in zip(a, n)],
    }


def fmt_gaps(g: dict[str, Any]) -> str:
    """``"+1.2 % vs the fixed warmup (per seed +0.5, +2.0, +1.1 %), −20.1 % vs none (…)"``."""

    def seeds(v: list[float]) -> str:
        return ", ".join("diverged" if not np.isfinite(x) else f"{x:+.1f}" for x in v)

    return (
        f"{g['vs_fixed_mean_pct']:+.1f} % vs the fixed warmup (per seed {seeds(g['vs_fixed_per_seed_pct'])} %), "
        f"{g['vs_none_mean_pct']:+.1f} % vs no warmup (per seed {seeds(g['vs_none_per_seed_pct'])} %)"
    )
