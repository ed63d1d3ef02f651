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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from .. import parse
from .auto_runs import Arm, plan_for
from .common import Job
from .observers import WeightDecays, WeightNorms
from .train import AmpStep, FixedPlan, LMConfig, LMStep, Observer, lm_loop, lm_step

__all__ = ["WD_MODES", "XConfig", "auto_gaps", "fmt_gaps", "quick_lm", "train_x", "x_job"]

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


def auto_gaps(finals: dict[str, list[float]], fixed: Sequence[str], none: str, auto: str) -> dict[str, Any]:
    """The automatic warmup's gap to the best fixed warmup (best on the seed mean) and to no warmup.

    ``finals``: arm → per-seed final losses (lower is better).  Gaps are ``(auto − other) / other`` in %,
    on the seed means and per seed (positive: auto is worse).  A diverged run (NaN) gives a NaN gap.

    >>> g = auto_gaps({"a": [2.0, 2.2], "b": [2.1, 2.1], "n": [2.5, 2.5], "x": [2.02, 2.2]}, ["a", "b"], "n", "x")
    >>> g["best_fixed"], round(g["gap_to_best_mean_pct"], 2), [round(v, 2) for v in g["gap_to_best_per_seed_pct"]]
    ('a', 0.48, [1.0, 0.0])
    """

    def mean(v: list[float]) -> float:
        a = np.asarray(v, dtype=float)
        return float(a.mean()) if np.isfinite(a).all() else math.nan

    means = {k: mean(finals[k]) for k in fixed}
    finite = {k: m for k, m in means.items() if math.isfinite(m)}
    best = min(finite, key=finite.__getitem__) if finite else fixed[0]
    a = np.asarray(finals[auto], dtype=float)

    def pct(other: list[float]) -> tuple[float, list[float]]:
        o = np.asarray(other, dtype=float)
        return 100.0 * (mean(finals[auto]) / mean(other) - 1.0), [float(x) for x in 100.0 * (a / o - 1.0)]

    gb, gbs = pct(finals[best])
    gn, gns = pct(finals[none])
    return {
        "best_fixed": best,
        "gap_to_best_mean_pct": gb,
        "gap_to_best_per_seed_pct": gbs,
        "gap_to_none_mean_pct": gn,
        "gap_to_none_per_seed_pct": gns,
    }


def fmt_gaps(g: dict[str, Any], best_label: str) -> str:
    """One sentence with :func:`auto_gaps`' numbers, for the reports."""

    def seeds(v: list[float]) -> str:
        return ", ".join(f"{x:+.2f}" for x in v)

    return (
        f"automatic warmup vs the best fixed warmup ({best_label}): {g['gap_to_best_mean_pct']:+.2f} % on the seed "
        f"mean (per seed {seeds(g['gap_to_best_per_seed_pct'])} %); vs no warmup: {g['gap_to_none_mean_pct']:+.2f} % "
        f"(per seed {seeds(g['gap_to_none_per_seed_pct'])} %). Positive = auto ends higher (worse)."
    )
