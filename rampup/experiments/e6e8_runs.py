r"""E6's and E8's training runs: E1's byte-LM loop with any of E6's optimizers, the automatic warmup, and a
recorder of the largest attention logit.

:func:`train_run` is :func:`rampup.experiments.train.train_lm` (same model, data order,
evaluation, :func:`~rampup.experiments.train.lm_step`, :class:`rampup.torch.WarmupScheduler`;
a test checks that AdamW with a fixed spec gives train_lm's losses bit for bit) with three
additions: the optimizer is one of :data:`rampup.experiments.e6_optim.OPTIMIZERS`; ``auto=True``
replaces the spec's warmup by :class:`rampup.torch.AutoWarmup` at its defaults (``cfg.spec``
is then the decay that follows, as ``Arm("auto", method="update")`` in
:mod:`rampup.torch.auto_runs`); ``record_logits=True`` records, for every update, the largest
pre-softmax attention logit of every layer (:class:`AttentionLogits`).  :func:`run_runs` runs
them in the project's pool, as :func:`rampup.experiments.common.run_jobs` runs ``Job``\ s
(whose loop is fixed to train_lm/train_digits).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import parse
from ..tools.pool import report, run_tasks, torch_threads
from ..torch import AutoWarmup, WarmupScheduler
from .common import check_workers, mean_std, progress_bar
from .data import lm_batch_starts, load_corpus, val_window_starts, windows
from .e6_optim import make_optimizer
from .models import TinyLM
from .train import LMConfig, evaluate_lm, lm_step

__all__ = ["AttentionLogits", "ExtraRun", "auto_gaps", "fmt_gaps", "max_attention_logit", "run_runs", "train_run"]


def max_attention_logit(q: torch.Tensor, k: torch.Tensor) -> float:
    r"""``max |q_i · k_j| / sqrt(d_head)`` over batch, heads and the causal pairs ``j ≤ i``.

    ``q``, ``k``: ``(batch, heads, seq, d_head)``, what ``scaled_dot_product_attention`` receives; the
    pairs ``j > i`` are masked out by the causal attention and never reach the softmax.

    >>> q = torch.tensor([[[[1.0, 0.0], [0.0, 2.0]]]]); k = torch.tensor([[[[3.0, 0.0], [0.0, -5.0]]]])
    >>> max_attention_logit(q, k)  # pairs (0,0): 3, (1,0): 0, (1,1): -10; (0,1) is masked
    7.0710678...
    """
    s = (q @ k.transpose(-1, -2)).abs_() / math.sqrt(q.shape[-1])
    t = s.shape[-1]
    causal = torch.ones(t, t, dtype=torch.bool, device=s.device).tril_()
    return float(s.masked_fill_(~causal, 0.0).max())


class AttentionLogits:
    """Forward hooks on every layer's ``q_norm``/``k_norm`` (an ``Identity`` without qk-layernorm), so they see
    the queries and keys that enter the softmax, after qk-layernorm when there is one.

    While the model is in training mode, each forward pass sets :attr:`last` to the largest attention logit of
    each layer (:func:`max_attention_logit`); evaluation passes (``model.eval()``) are not recorded.
    """

    def __init__(self, model: TinyLM) -> None:
        self.last: list[float] = [math.nan] * len(model.blocks)
        self._q: dict[int, torch.Tensor] = {}
        self._handles = []
        for i, blk in enumerate(model.blocks):
            attn: Any = blk.attn  # a _Block's _Attention (nn.ModuleList types its items as Module)
            self._handles.append(attn.q_norm.register_forward_hook(self._keep_q(i)))
            self._handles.append(attn.k_norm.register_forward_hook(self._measure(i)))

    def _keep_q(self, i: int) -> Callable[..., None]:
        def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor) -> None:
            if mod.training:
                self._q[i] = out.detach()

        return hook

    def _measure(self, i: int) -> Callable[..., None]:
        def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor) -> None:
            if mod.training:  # q_norm(q) is evaluated before k_norm(k): the call's arguments go left to right
                self.last[i] = max_attention_logit(self._q.pop(i), out.detach())

        return hook

    def close(self) -> None:
        for h in self._handles:
            h.remove()


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
    """Train :class:`TinyLM` for ``run``; the fields of ``train_lm``'s result, ``optimizer``, and when asked
    ``max_logit`` (per update, per layer) or the automatic warmup's ``warmup_steps``/``exported_spec``."""
    cfg = run.cfg
    t0 = time.perf_counter()
    corpus = load_corpus(cfg.corpus_bytes, cfg.corpus_part)
    total = cfg.schedule_total()
    spec = str(parse(cfg.spec, total_steps=total).spec)
    torch.manual_seed(run.seed)
    model = TinyLM(cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.seq_len, post_ln=cfg.post_ln, qk_norm=cfg.qk_norm)
    opt = make_optimizer(
        run.optimizer, model.parameters(), cfg.peak_lr, (cfg.beta1, cfg.beta2), cfg.eps, cfg.weight_decay
    )
    sched: Any
    if run.auto:
        sched = AutoWarmup(opt, then=cfg.spec, total_steps=total, announce=False)
    else:
        sched = WarmupScheduler(opt, cfg.spec, total_steps=total)
    rec = AttentionLogits(model) if run.record_logits else None
    starts = lm_batch_starts(corpus.train.size, cfg.steps, cfg.batch, cfg.seq_len, cfg.data_seed)
    vstarts = val_window_starts(corpus.val.size, cfg.eval_windows, cfg.seq_len)
    l0 = evaluate_lm(model, corpus.val, vstarts, cfg.seq_len)
    losses: list[float] = []
    lrs: list[float] = []
    logits: list[list[float]] = []
    diverged_at: int | None = None
    done = 0
    for t in range(cfg.steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        lv = lm_step(model, opt, torch.from_numpy(windows(corpus.train, starts[t], cfg.seq_len)), cfg.clip)
        losses.append(lv)
        if rec is not None:
            logits.append(list(rec.last))
        if not math.isfinite(lv):
            diverged_at = t
            break
        if run.auto:
            sched.step(lv)
        else:
            sched.step()
        if progress is not None and (t + 1) % 10 == 0:
            progress(t + 1 - done)
            done = t + 1
    if progress is not None and cfg.steps > done:
        progress(cfg.steps - done)  # a diverged run counts as done
    final = math.nan
    if diverged_at is None:
        final = evaluate_lm(model, corpus.val, vstarts, cfg.seq_len)
        final = final if math.isfinite(final) else math.nan
    out: dict[str, Any] = {
        "seed": run.seed,
        "spec": spec,
        "optimizer": run.optimizer,
        "train_loss": losses,
        "lr": lrs,
        "val_loss_init": l0,
        "final_val_loss": final,
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
    }
    if rec is not None:
        rec.close()
        out["max_logit"] = np.asarray(logits, dtype=np.float64)  # (updates, layers)
    if run.auto:
        out["warmup_steps"] = sched.warmup_steps
        out["auto_done"] = sched.done
        if sched.done:
            out["exported_spec"] = sched.export_spec()
        sched.close()
    out["wall_s"] = time.perf_counter() - t0
    return out


def _init_worker() -> None:
    torch.set_num_threads(1)


def _worker(run: ExtraRun) -> dict[str, Any]:
    return train_run(run, report)  # finished steps go to the driver's progress bar


def run_runs(
    runs: Sequence[ExtraRun], workers: int = 2, desc: str = "runs", progress: bool = True
) -> list[dict[str, Any]]:
    """Every run in ``workers`` processes of the project's pool (1: in this process, one thread), longest first;
    results in the order of ``runs``, each tagged with ``arm``, ``seed`` and ``tags``."""
    check_workers(workers)
    runs = list(runs)
    results: list[dict[str, Any] | None] = [None] * len(runs)
    order = sorted(range(len(runs)), key=lambda i: -runs[i].steps)
    bar = progress_bar(sum(r.steps for r in runs), desc, progress)

    def done(k: int, r: dict[str, Any]) -> None:
        results[order[k]] = r

    try:
        items = [runs[i] for i in order]
        if workers == 1 or len(runs) <= 1:
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
    for run, r in zip(runs, results):
        assert r is not None
        r.update({"arm": run.arm, "seed": run.seed, **run.tags})
        out.append(r)
    return out


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
