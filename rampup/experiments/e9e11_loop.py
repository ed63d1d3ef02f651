"""The training loop of E9, E10 and E11: E1's byte-LM loop with what those three need on top.

:func:`rampup.experiments.train.train_lm` (and :func:`rampup.torch.auto_runs.run_lm`
for the automatic warmup) cover the earlier experiments; E9–E11 need three things
those loops do not take, so they run here (one loop for all three; the loops are
being unified, see issue 13 — this one may fold into that):

* E9: ``WarmupScheduler(..., weight_decay=MODE)`` (co-scheduled weight decay) and
  the global weight norm ‖w‖₂ over all parameters during the run;
* E10: fine-tuning on only the first ``train_bytes`` bytes of the train split (a
  smaller fine-tuning set), from pretrained weights with a fresh output layer;
* E11: fp16 autocast with a ``torch.amp.GradScaler`` (its initial scale given),
  counting the updates the scaler skipped (inf/NaN gradients) and its scale.

Every arm — a fixed rampup spec or the automatic warmup
(:class:`rampup.torch.AutoWarmup` at its defaults, ``method="update"``, then
``lm.spec`` as the decay: the ``Arm("auto", method="update")`` of the auto-warmup
comparison) — runs in this same loop, so the arms differ only in the LR plan.
Without these extras a fixed arm reproduces ``train_lm`` loss for loss (tested).

The LR (and weight decay) of update ``t`` is set before it; the scheduler steps
after every batch, a batch whose update the GradScaler skipped included — as in
the usual AMP loop (``scaler.step(opt); scaler.update(); scheduler.step()``):
a skipped update still uses up its step of the warmup.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import parse
from ..tools.pool import report, run_tasks, torch_threads
from .common import Job, check_workers, progress_bar
from .data import lm_batch_starts, load_corpus, val_window_starts, windows
from .models import TinyLM
from .train import LMConfig, evaluate_lm, make_lm_optimizer

__all__ = ["WD_MODES", "XConfig", "auto_gaps", "fmt_gaps", "quick_lm", "run_x_jobs", "train_x", "weight_norm"]

WD_MODES = ("none", "warmup", "lr")  # WarmupScheduler's weight_decay modes (docs/torch.md)


@dataclass(frozen=True)
class XConfig:
    """One run of E9–E11: an :class:`LMConfig` (``lm.spec`` = the whole fixed schedule, or the decay after
    the automatic warmup) and the extras.

    ``weight_decay_mode``: how the optimizer's weight decay follows the schedule (``"none"``: fixed;
    ``"warmup"``: × the warmup factor; ``"lr"``: × lr/peak).  ``auto``: the LR comes from
    ``AutoWarmup(method="update")`` followed by ``lm.spec``.  ``amp``: fp16 autocast and a GradScaler
    starting at ``init_scale``.  ``train_bytes``: use only the first N bytes of the train split.
    ``norm_every``: record ‖w‖₂ every N updates (0: at the start, at the end of ``norm_at`` and at the end).
    """

    lm: LMConfig
    weight_decay_mode: str = "none"
    auto: bool = False
    amp: bool = False
    init_scale: float = 2.0**16
    train_bytes: int | None = None
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
        if self.train_bytes is not None and self.train_bytes <= self.lm.seq_len + 1:
            raise ValueError(
                f"train_bytes: got {self.train_bytes}; accepted: None or more than seq_len + 1 = {self.lm.seq_len + 1}"
            )
        if self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"device: got {self.device!r}; accepted: 'cpu' or 'cuda[:N]'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def weight_norm(model: torch.nn.Module) -> float:
    """‖w‖₂ over all parameters (every parameter is decayed by E1's AdamW)."""
    with torch.no_grad():
        return float(torch.sqrt(sum((p.detach().float() ** 2).sum() for p in model.parameters())))  # type: ignore[arg-type]


def train_x(
    cfg: XConfig, seed: int, init_state: bytes | None = None, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Train :class:`TinyLM` under ``cfg`` from ``seed`` (or from ``init_state``); plain data back.

    Returns per-update training loss, LR and weight decay, the weight norms recorded, the validation
    loss at the start and the end, and with ``amp`` the updates the GradScaler skipped and its scale.
    """
    t0 = time.perf_counter()
    lm = cfg.lm
    corpus = load_corpus(lm.corpus_bytes, lm.corpus_part)
    train = corpus.train if cfg.train_bytes is None else corpus.train[: cfg.train_bytes]
    total = lm.schedule_total()
    parse(lm.spec, total_steps=total)  # validated before any work
    dev = torch.device(cfg.device)
    torch.manual_seed(seed)
    model = TinyLM(lm.n_layers, lm.d_model, lm.n_heads, lm.seq_len, post_ln=lm.post_ln, qk_norm=lm.qk_norm)
    if init_state is not None:
        model.load_state_dict(torch.load(io.BytesIO(init_state), weights_only=True))
        if lm.reset_head:
            model.reset_head()
    vstarts = val_window_starts(corpus.val.size, lm.eval_windows, lm.seq_len)
    val_init = evaluate_lm(model, corpus.val, vstarts, lm.seq_len)  # on the CPU: evaluate_lm builds CPU batches
    model.to(dev)
    opt = make_lm_optimizer(model, lm)
    sched: Any
    if cfg.auto:
        from ..torch import AutoWarmup

        sched = AutoWarmup(opt, then=lm.spec, total_steps=total, method="update", announce=False)
    else:
        from ..torch import WarmupScheduler

        sched = WarmupScheduler(opt, lm.spec, total_steps=total, weight_decay=cfg.weight_decay_mode)
    scaler = torch.amp.GradScaler(dev.type, init_scale=float(cfg.init_scale), enabled=cfg.amp)
    starts = lm_batch_starts(train.size, lm.steps, lm.batch, lm.seq_len, lm.data_seed)
    norms = [(0, weight_norm(model))]
    losses: list[float] = []
    lrs: list[float] = []
    wds: list[float] = []
    skipped: list[int] = []
    scales: list[float] = []
    diverged_at: int | None = None
    done = 0
    for t in range(lm.steps):
        g = opt.param_groups[0]
        lr, wd = float(g["lr"]), float(g["weight_decay"])
        w = torch.from_numpy(windows(train, starts[t], lm.seq_len)).to(dev)
        with torch.autocast(dev.type, dtype=torch.float16, enabled=cfg.amp):
            logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
        lv = loss.item()
        losses.append(lv)
        lrs.append(lr)
        wds.append(wd)
        if not math.isfinite(lv):
            diverged_at = t
            break
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if lm.clip is not None:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), lm.clip)
        if cfg.amp:
            before = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            if scaler.get_scale() < before:  # the scaler backs off only after inf/NaN gradients: update skipped
                skipped.append(t)
            scales.append(scaler.get_scale())
        else:
            opt.step()
        if cfg.auto:
            sched.step(lv)
        else:
            sched.step()
        if (cfg.norm_every and (t + 1) % cfg.norm_every == 0) or t + 1 == cfg.norm_at:
            norms.append((t + 1, weight_norm(model)))
        if progress is not None and (t + 1) % 10 == 0:
            progress(t + 1 - done)
            done = t + 1
    if progress is not None and lm.steps > done:
        progress(lm.steps - done)  # a diverged run counts as done
    final = math.nan
    if diverged_at is None:
        final = evaluate_lm(model.cpu(), corpus.val, vstarts, lm.seq_len)
        final = final if math.isfinite(final) else math.nan
    if norms[-1][0] != len(losses):
        norms.append((len(losses), weight_norm(model)))
    out: dict[str, Any] = {
        "seed": seed,
        "train_loss": losses,
        "lr": lrs,
        "weight_decay": wds,
        "weight_norm": norms,
        "val_loss_init": val_init,
        "final_val_loss": final,
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
    }
    if cfg.amp:
        out.update(skipped_steps=skipped, n_skipped=len(skipped), scale=scales)
    if cfg.auto:
        out.update(warmup_steps=sched.warmup_steps, auto_done=bool(sched.done))
        out["spec"] = sched.export_spec() if sched.done else None
        sched.close()
    else:
        s = parse(lm.spec, total_steps=total)
        out.update(spec=str(s.spec), warmup_steps=int(s.warmup_steps))
    out["wall_s"] = time.perf_counter() - t0
    return out


def _init_worker() -> None:
    import torch  # once per worker

    torch.set_num_threads(1)


def _worker(job: Job) -> dict[str, Any]:
    if job.kind != "x":
        raise ValueError(f"job.kind: got {job.kind!r}; accepted: 'x' (an XConfig run)")
    return train_x(job.cfg, job.seed, job.init_state, report)


def run_x_jobs(
    jobs: Sequence[Job], workers: int = 2, desc: str = "runs", progress: bool = True
) -> list[dict[str, Any]]:
    """:func:`rampup.experiments.common.run_jobs` for :class:`XConfig` runs (``Job("x", XConfig, ...)``).

    The same pool, order (longest first) and progress bar; results in the order of ``jobs``, tagged
    with ``arm``, ``seed`` and ``tags``.
    """
    check_workers(workers)
    jobs = list(jobs)
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = progress_bar(sum(j.steps for j in jobs), desc, progress)
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].steps)

    def done(k: int, r: dict[str, Any]) -> None:
        results[order[k]] = r

    try:
        items = [jobs[i] for i in order]
        if workers == 1 or len(jobs) <= 1:
            with torch_threads(1):
                run_tasks(_worker, items, 1, done, on_message=lambda k, n: bar.update(n))
        else:
            run_tasks(
                _worker,
                items,
                workers,
                done,
                on_message=lambda k, n: bar.update(n),
                initializer=_init_worker,
                noun="run",
            )
    finally:
        bar.close()
    out = []
    for j, r in zip(jobs, results):
        assert r is not None
        r.update({"arm": j.arm, "seed": j.seed, **j.tags})
        out.append(r)
    return out


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
