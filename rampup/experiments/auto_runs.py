"""Training runs of the auto-warmup comparison: the E1/E2/E3 setups with a pluggable LR plan.

The loops are those of :mod:`rampup.experiments.train` (same model, data order,
optimizer, evaluation; a test checks that a fixed spec gives the same losses as
``train_lm``/``train_digits``), except that the LR of each update comes from an
*arm*:

* ``Arm("fixed", spec=...)`` — a fixed rampup spec, ``lr = peak · schedule(t)``;
* ``Arm("auto", method=..., options=...)`` — :class:`rampup.torch.AutoWarmup`
  deciding the warmup online, followed by the experiment's decay.

Every run returns plain data: per-step training loss and LR, final validation
loss (LM) or test error (digits), whether it diverged or collapsed, the warmup
length used and, for auto arms, the exported spec and the decision events.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import parse
from ..torch.auto import AutoWarmup
from .data import lm_batch_starts, load_corpus, load_digits, val_window_starts, windows
from .models import TinyLM, TinyResNet, decay_groups
from .train import DigitsConfig, LMConfig, digits_spec, evaluate_lm, make_lm_optimizer

__all__ = ["Arm", "run_digits", "run_lm"]


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


class _Plan:
    """The LR of each update and the step hook, for either kind of arm."""

    def __init__(self, arm: Arm, opt: torch.optim.Optimizer, peak: float, then: str, total: int) -> None:
        self.arm = arm
        self.opt = opt
        self.peak = peak
        self.auto: AutoWarmup | None = None
        self.sched = None
        for g in opt.param_groups:
            g["lr"] = peak
        if arm.kind == "fixed":
            self.sched = parse(arm.spec, total_steps=total)  # type: ignore[arg-type]
        else:
            max_warmup = arm.max_warmup
            if isinstance(max_warmup, float):  # a fraction of the run, shortened to fit `then` like the default
                probe = AutoWarmup(opt, then=then, total_steps=total)
                max_warmup = probe._longest_fit(min(total - 1, max(2, round(max_warmup * total))))
                probe.close()
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

    def set_lr(self, t: int) -> float:
        if self.sched is not None:
            lr = self.peak * float(self.sched(t))
            for g in self.opt.param_groups:
                g["lr"] = lr
            return lr
        return float(self.opt.param_groups[0]["lr"])

    def after_step(self, loss: float) -> None:
        if self.auto is not None:
            self.auto.step(loss)

    def info(self) -> dict[str, Any]:
        if self.auto is None:
            assert self.sched is not None
            return {"spec": str(self.sched.spec), "warmup_steps": int(self.sched.warmup_steps)}
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


def run_lm(cfg: LMConfig, seed: int, arm: Arm, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:func:`rampup.experiments.train.train_lm` with the LR plan of ``arm`` (the decay part is ``cfg.spec``)."""
    t0 = time.perf_counter()
    corpus = load_corpus(cfg.corpus_bytes, cfg.corpus_part)
    total = cfg.schedule_total()
    torch.manual_seed(seed)
    model = TinyLM(cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.seq_len, post_ln=cfg.post_ln, qk_norm=cfg.qk_norm)
    opt = make_lm_optimizer(model, cfg)
    plan = _Plan(arm, opt, cfg.peak_lr, cfg.spec, total)
    starts = lm_batch_starts(corpus.train.size, cfg.steps, cfg.batch, cfg.seq_len, cfg.data_seed)
    vstarts = val_window_starts(corpus.val.size, cfg.eval_windows, cfg.seq_len)
    params = list(model.parameters())
    l0 = evaluate_lm(model, corpus.val, vstarts, cfg.seq_len)
    losses: list[float] = []
    lrs: list[float] = []
    diverged_at: int | None = None
    done = 0
    for t in range(cfg.steps):
        lr = plan.set_lr(t)
        w = torch.from_numpy(windows(corpus.train, starts[t], cfg.seq_len))
        logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
        lv = loss.item()
        losses.append(lv)
        lrs.append(lr)
        if not math.isfinite(lv):
            diverged_at = t
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        opt.step()
        plan.after_step(lv)
        if progress is not None and (t + 1) % 10 == 0:
            progress(t + 1 - done)
            done = t + 1
    if progress is not None and cfg.steps > done:
        progress(cfg.steps - done)
    final = math.nan
    if diverged_at is None:
        final = evaluate_lm(model, corpus.val, vstarts, cfg.seq_len)
        final = final if math.isfinite(final) else math.nan
    return {
        "seed": seed,
        "arm": arm.name,
        "train_loss": losses,
        "lr": lrs,
        "val_loss_init": l0,
        "final_val_loss": final,
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "wall_s": time.perf_counter() - t0,
        **plan.info(),
    }


def _digits_error(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        err = float((model(x).argmax(1) != y).float().mean())
    model.train()
    return err


def digits_then(cfg: DigitsConfig) -> tuple[str, int, int]:
    """The decay of a digits run (its multistep part), its total steps and steps per epoch."""
    n = load_digits().y_train.size
    spe = n // cfg.batch
    spec, total = digits_spec(replace(cfg, warmup="none"), spe)
    return spec, total, spe


def run_digits(cfg: DigitsConfig, seed: int, arm: Arm, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:func:`rampup.experiments.train.train_digits` with the LR plan of ``arm``."""
    t0 = time.perf_counter()
    d = load_digits()
    n = d.y_train.size
    then, total, spe = digits_then(cfg)
    torch.manual_seed(seed)
    model = TinyResNet(cfg.width)
    opt = torch.optim.SGD(
        decay_groups(model, cfg.weight_decay), lr=cfg.peak_lr, momentum=cfg.momentum, nesterov=cfg.nesterov
    )
    plan = _Plan(arm, opt, cfg.peak_lr, then, total)
    xtr, ytr = torch.from_numpy(d.x_train), torch.from_numpy(d.y_train)
    xte, yte = torch.from_numpy(d.x_test), torch.from_numpy(d.y_test)
    rng = np.random.default_rng(cfg.data_seed)
    losses: list[float] = []
    lrs: list[float] = []
    test_err: list[float] = []
    diverged_at: int | None = None
    t = 0
    for _ in range(cfg.epochs):
        perm = torch.from_numpy(rng.permutation(n))
        for b in range(spe):
            lr = plan.set_lr(t)
            idx = perm[b * cfg.batch : (b + 1) * cfg.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            lv = loss.item()
            losses.append(lv)
            lrs.append(lr)
            if not math.isfinite(lv) and diverged_at is None:
                diverged_at = t
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            plan.after_step(lv)
            t += 1
        test_err.append(_digits_error(model, xte, yte))
        if progress is not None:
            progress(spe)
    return {
        "seed": seed,
        "arm": arm.name,
        "train_loss": losses,
        "lr": lrs,
        "test_error_per_epoch": test_err,
        "final_test_error": test_err[-1],
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "wall_s": time.perf_counter() - t0,
        **plan.info(),
    }
