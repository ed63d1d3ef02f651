"""Training runs of the auto-warmup comparison: the E1/E2/E3 setups with the LR plan of an *arm*.

The loops are :func:`rampup.experiments.train.lm_loop` and
:func:`~rampup.experiments.train.digits_loop`, the experiments' own (same model, data order,
optimizer, evaluation); an arm only chooses the LR plan:

* ``Arm("fixed", spec=...)`` — a fixed rampup spec, ``lr = peak · schedule(t)``
  (:class:`~rampup.experiments.train.FixedPlan`; the runs equal ``train_lm``/``train_digits``);
* ``Arm("auto", method=..., options=...)`` — :class:`rampup.torch.AutoWarmup` deciding the
  warmup online, followed by the experiment's decay (:class:`AutoPlan`).

Every run returns plain data: per-step training loss and LR, final validation loss (LM) or
test error (digits), whether it diverged or collapsed, the warmup length used and, for auto
arms, the exported spec and the decision events.  A digits run goes on after a non-finite
loss (``digits_loop(stop_at_nonfinite=False)``), so each epoch has a test error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import torch

from ..torch.auto import AutoWarmup
from .train import (
    DigitsConfig,
    FixedPlan,
    LMConfig,
    PlanFactory,
    digits_loop,
    digits_spec,
    digits_steps_per_epoch,
    lm_loop,
)

__all__ = ["Arm", "AutoPlan", "digits_then", "plan_for", "run_digits", "run_lm"]


@dataclass(frozen=True)
class Arm:
    """One LR plan: a fixed spec, or an automatic warmup (method + options) followed by ``then``."""

    kind: str  # "fixed" | "auto"
    name: str
    spec: str | None = None  # fixed: the whole spec
    method: str | None = None  # auto
    options: dict[str, Any] = field(default_factory=dict)
    start: float = 0.0  # where the ramps start, as in linear(n, start=…)
    max_warmup: int | str | float | None = None  # AutoWarmup's default (50 %), or a fraction of the run
    min_warmup: int | str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "auto"):
            raise ValueError(f"kind: got {self.kind!r}; accepted: 'fixed' or 'auto'")
        if self.kind == "fixed" and self.spec is None:
            raise ValueError(f"spec: a fixed arm ({self.name!r}) needs a spec")
        if self.kind == "auto" and self.method is None:
            raise ValueError(f"method: an auto arm ({self.name!r}) needs a method")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AutoPlan:
    """:class:`rampup.torch.AutoWarmup` deciding the warmup of ``arm`` online, then the decay ``then``.

    ``arm.max_warmup`` as a float is a fraction of the run, shortened (like AutoWarmup's own
    default) to the longest warmup after which ``then`` still parses.  ``info()`` gives the
    warmup length, the decision events, whether the warmup ended and, if so, the exported spec.
    """

    def __init__(self, arm: Arm, then: str, opt: torch.optim.Optimizer, total: int) -> None:
        max_warmup = arm.max_warmup
        if isinstance(max_warmup, float):  # a fraction of the run, shortened to fit `then` like the default
            probe = AutoWarmup(opt, then=then, total_steps=total)
            max_warmup = probe.longest_fit(min(total - 1, max(2, round(max_warmup * total))))
            probe.close()
        self.opt = opt
        self.auto = AutoWarmup(
            opt,
            then=then,
            total_steps=total,
            method=arm.method,
            start=arm.start,
            max_warmup=max_warmup,
            min_warmup=arm.min_warmup,
            announce=False,  # the runs report the warmup in their results; 478 lines would be noise
            **arm.options,
        )

    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])

    def step(self, loss: float) -> None:
        self.auto.step(loss)

    def info(self) -> dict[str, Any]:
        a = self.auto
        out: dict[str, Any] = {
            "warmup_steps": a.warmup_steps,
            "events": a.events,
            "auto_done": a.done,
        }
        if a.done:
            out["spec"] = a.export_spec()
        a.close()
        return out


def plan_for(arm: Arm, then: str) -> PlanFactory:
    """The LR plan of ``arm``: its fixed spec, or an automatic warmup followed by ``then``."""
    if arm.kind == "fixed":
        assert arm.spec is not None  # Arm checks it
        return partial(FixedPlan, arm.spec)
    return partial(AutoPlan, arm, then)


def run_lm(cfg: LMConfig, seed: int, arm: Arm, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:func:`rampup.experiments.train.train_lm` with the LR plan of ``arm`` (the decay part is ``cfg.spec``)."""
    t0 = time.perf_counter()
    r = lm_loop(cfg, seed, plan_for(arm, cfg.spec), progress=progress)
    keys = ("train_loss", "lr", "val", "val_loss_init", "final_val_loss", "diverged", "diverged_at")
    return {"seed": seed, "arm": arm.name, **{k: r[k] for k in keys}, "wall_s": time.perf_counter() - t0, **r["plan"]}


def digits_then(cfg: DigitsConfig) -> tuple[str, int, int]:
    """The decay of a digits run (its multistep part), its total steps and steps per epoch."""
    spe = digits_steps_per_epoch(cfg)
    spec, total = digits_spec(replace(cfg, warmup="none"), spe)
    return spec, total, spe


def run_digits(cfg: DigitsConfig, seed: int, arm: Arm, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:func:`rampup.experiments.train.train_digits` with the LR plan of ``arm``; the run goes on after a non-finite loss."""
    t0 = time.perf_counter()
    then = digits_then(cfg)[0]
    r = digits_loop(cfg, seed, plan_for(arm, then), progress, stop_at_nonfinite=False)
    keys = ("train_loss", "lr", "test_error_per_epoch", "final_test_error", "diverged", "diverged_at")
    return {"seed": seed, "arm": arm.name, **{k: r[k] for k in keys}, "wall_s": time.perf_counter() - t0, **r["plan"]}
