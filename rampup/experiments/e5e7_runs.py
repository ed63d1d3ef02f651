"""E5 and E7: the model variants, one training loop per task for every arm, and the runner.

Models (E7):

* :class:`DeepNormLM` — Post-LN with DeepNorm (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000
  Layers", arXiv:2203.00555): each sublayer computes ``x = LN(α·x + f(x))`` and the weights of the value
  projection, the attention output projection and both MLP layers are initialised ``β`` times smaller;
  for an ``N``-layer decoder-only (or encoder-only) model ``α = (2N)^(1/4)``, ``β = (8N)^(−1/4)``
  (:func:`deepnorm_constants`).
* :class:`ReZeroLM` — ReZero (Bachlechner et al. 2020, "ReZero is All You Need", arXiv:2003.04887): no
  LayerNorm at all; each layer computes ``x = x + a·f(x)`` for both sublayers, with one learnable scalar
  ``a`` per layer initialised to 0, so every layer is the identity at initialization.
* :class:`FixupResNet` — :class:`~rampup.experiments.models.TinyResNet`'s topology without BatchNorm, with
  Fixup (Zhang, Dauphin & Ma 2019, "Fixup Initialization", arXiv:1901.09321): the last convolution of each
  residual branch and the classifier start at 0, the branch's first convolution is He-initialised and scaled
  by ``L^(−1/(2m−2)) = L^(−1/2)`` (``L`` = 3 branches of ``m`` = 2 layers), a scalar bias before each
  convolution, activation and the classifier, and a scalar multiplier (1) on each branch.

The transformers start from :class:`~rampup.experiments.models.TinyLM`'s initialization with the same seed
(DeepNorm rescales it, ReZero drops the LayerNorms), so the variants of one seed differ only by what
defines them.

Loops: :func:`train_variant_lm` and :func:`train_variant_digits` are
:func:`rampup.experiments.train.train_lm` / ``train_digits`` (same data order, optimizer, step and
evaluation; the losses of a fixed spec are identical, tested) with the model chosen by name and the LR plan
of an :class:`~rampup.experiments.auto_runs.Arm`: a fixed spec through :class:`rampup.torch.WarmupScheduler`, or
the automatic warmup :class:`rampup.torch.AutoWarmup`.  ``run_jobs`` of :mod:`.common` runs only
``train_lm``/``train_digits``; :func:`run_variant_jobs` is its counterpart for these loops, on the same
process pool.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import parse
from ..tools.pool import report, run_tasks, torch_threads
from ..torch import AutoWarmup, WarmupScheduler
from .auto_runs import Arm
from .common import progress_bar
from .data import lm_batch_starts, load_corpus, load_digits, val_window_starts, windows
from .models import TinyLM, TinyResNet, decay_groups
from .train import DigitsConfig, LMConfig, digits_spec, evaluate_lm, lm_step, make_lm_optimizer, sgd_step

__all__ = [
    "LM_ARCHS",
    "RESNET_INITS",
    "DeepNormLM",
    "FixupResNet",
    "ReZeroLM",
    "VariantJob",
    "auto_gaps",
    "deepnorm_constants",
    "make_lm",
    "make_resnet",
    "run_variant_jobs",
    "shortest_stable",
    "train_variant_digits",
    "train_variant_lm",
]

LM_ARCHS = ("post_ln", "pre_ln", "deepnorm", "rezero")
RESNET_INITS = ("default", "fixup")


def deepnorm_constants(n_layers: int) -> tuple[float, float]:
    """DeepNorm's ``(α, β) = ((2N)^(1/4), (8N)^(−1/4))`` for ``N`` layers (decoder-only or encoder-only).

    >>> [round(v, 4) for v in deepnorm_constants(4)]
    [1.6818, 0.4204]
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers: got {n_layers!r}; accepted: an integer >= 1")
    return (2 * n_layers) ** 0.25, (8 * n_layers) ** -0.25


class DeepNormLM(TinyLM):
    """Post-LN :class:`TinyLM` with DeepNorm's residual scale ``α`` and init scale ``β``.

    >>> m = DeepNormLM(n_layers=2, d_model=16, n_heads=2, seq_len=8)
    >>> m(torch.zeros(1, 8, dtype=torch.long)).shape, round(m.alpha, 3)
    (torch.Size([1, 8, 256]), 1.414)
    """

    def __init__(self, n_layers: int = 4, d_model: int = 64, n_heads: int = 4, seq_len: int = 64) -> None:
        super().__init__(n_layers, d_model, n_heads, seq_len, post_ln=True)
        self.alpha, self.beta = deepnorm_constants(n_layers)
        blocks: list[Any] = list(self.blocks)  # TinyLM's blocks: .ln1, .attn, .ln2, .mlp (typed as Module)
        with torch.no_grad():
            for blk in blocks:
                blk.attn.qkv.weight[2 * d_model :].mul_(self.beta)  # v only: q and k keep gain 1 (DeepNet §3)
                for lin in (blk.attn.proj, blk.mlp[0], blk.mlp[2]):
                    lin.weight.mul_(self.beta)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos.weight[: idx.shape[1]]
        blocks: list[Any] = list(self.blocks)
        for blk in blocks:
            x = blk.ln1(self.alpha * x + blk.attn(x))
            x = blk.ln2(self.alpha * x + blk.mlp(x))
        return self.head(x)


class ReZeroLM(TinyLM):
    """:class:`TinyLM` without LayerNorm; ``x = x + a_l·f(x)`` with a learnable ``a_l`` per layer, 0 at init.

    At initialization every layer is the identity, so the logits are ``head(token + position embedding)``.
    """

    def __init__(self, n_layers: int = 4, d_model: int = 64, n_heads: int = 4, seq_len: int = 64) -> None:
        super().__init__(n_layers, d_model, n_heads, seq_len, post_ln=True)  # post_ln: no final LN
        for blk in self.blocks:
            blk.ln1, blk.ln2 = nn.Identity(), nn.Identity()
        self.res_weight = nn.Parameter(torch.zeros(n_layers))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos.weight[: idx.shape[1]]
        blocks: list[Any] = list(self.blocks)
        for a, blk in zip(self.res_weight, blocks):
            x = x + a * blk.attn(x)
            x = x + a * blk.mlp(x)
        return self.head(x)


def make_lm(arch: str, n_layers: int, d_model: int, n_heads: int, seq_len: int) -> TinyLM:
    """The transformer ``arch`` (one of :data:`LM_ARCHS`); ``post_ln``/``pre_ln`` are E1's :class:`TinyLM`."""
    if arch in ("post_ln", "pre_ln"):
        return TinyLM(n_layers, d_model, n_heads, seq_len, post_ln=arch == "post_ln")
    if arch == "deepnorm":
        return DeepNormLM(n_layers, d_model, n_heads, seq_len)
    if arch == "rezero":
        return ReZeroLM(n_layers, d_model, n_heads, seq_len)
    raise ValueError(f"arch: got {arch!r}; accepted: {', '.join(repr(a) for a in LM_ARCHS)}")


class _FixupBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, n_branches: int) -> None:
        super().__init__()
        self.bias1a, self.bias1b, self.bias2a, self.bias2b = (nn.Parameter(torch.zeros(1)) for _ in range(4))
        self.scale = nn.Parameter(torch.ones(1))
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        # He init scaled by L^(-1/(2m-2)), m = 2 layers per branch; the branch's last layer at 0 (Fixup rules 1-2)
        nn.init.normal_(self.conv1.weight, std=math.sqrt(2.0 / (c_out * 9)) * n_branches**-0.5)
        nn.init.zeros_(self.conv2.weight)
        self.short: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.short = nn.Conv2d(c_in, c_out, 1, stride, bias=False)
            nn.init.normal_(self.short.weight, std=math.sqrt(2.0 / c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv1(x + self.bias1a) + self.bias1b)
        y = self.conv2(y + self.bias2a) * self.scale + self.bias2b
        return F.relu(y + (x if self.short is None else self.short(x + self.bias1a)))


class FixupResNet(nn.Module):
    """:class:`TinyResNet`'s stem and three blocks (``width``, 2×, 4× channels) without BatchNorm, Fixup init.

    >>> FixupResNet(4)(torch.zeros(2, 1, 8, 8)).abs().max().item()  # the classifier starts at 0
    0.0
    """

    def __init__(self, width: int = 16, n_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.stem = nn.Conv2d(1, w, 3, 1, 1, bias=False)
        nn.init.kaiming_normal_(self.stem.weight, mode="fan_out", nonlinearity="relu")  # as TinyResNet's stem
        self.bias_stem = nn.Parameter(torch.zeros(1))
        self.layers = nn.Sequential(
            _FixupBlock(w, w, 1, 3), _FixupBlock(w, 2 * w, 2, 3), _FixupBlock(2 * w, 4 * w, 2, 3)
        )
        self.bias_fc = nn.Parameter(torch.zeros(1))
        self.fc = nn.Linear(4 * w, n_classes)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(F.relu(self.stem(x) + self.bias_stem))
        return self.fc(y.mean(dim=(2, 3)) + self.bias_fc)


def make_resnet(init: str, width: int) -> nn.Module:
    """The digits ResNet: ``default`` = :class:`TinyResNet` (BatchNorm, γ = 0 on each block's last BN); ``fixup``."""
    if init == "default":
        return TinyResNet(width)
    if init == "fixup":
        return FixupResNet(width)
    raise ValueError(f"init: got {init!r}; accepted: {', '.join(repr(a) for a in RESNET_INITS)}")


class _Plan:
    """The LR plan of an arm over ``total`` updates after ``then``: ``step(loss)`` after each ``optimizer.step()``."""

    def __init__(self, arm: Arm, opt: torch.optim.Optimizer, then: str, total: int, start: float = 0.0) -> None:
        self.sched: WarmupScheduler | None = None
        self.auto: AutoWarmup | None = None
        if arm.kind == "fixed":
            assert arm.spec is not None
            self.resolved = parse(arm.spec, total_steps=total)  # validated before any work
            self.sched = WarmupScheduler(opt, arm.spec, total_steps=total)
        else:  # the controller at its defaults (not tuned here): envelope up to 50 % of the run
            self.auto = AutoWarmup(
                opt, then=then, total_steps=total, method=arm.method, start=start, announce=False, **arm.options
            )

    def step(self, loss: float) -> None:
        if self.sched is not None:
            self.sched.step()
        else:
            assert self.auto is not None
            self.auto.step(loss)

    def info(self) -> dict[str, Any]:
        if self.sched is not None:
            return {"spec": str(self.resolved.spec), "warmup_steps": int(self.resolved.warmup_steps)}
        a = self.auto
        assert a is not None
        out: dict[str, Any] = {"warmup_steps": a.warmup_steps, "auto_done": a.done, "events": a.events}
        out["spec"] = a.export_spec() if a.done else f"auto(method={a.method}) -> {a.then}"
        a.close()
        return out


def train_variant_lm(
    cfg: LMConfig, arch: str, seed: int, arm: Arm, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """:func:`~rampup.experiments.train.train_lm` for the transformer ``arch``, with the LR plan of ``arm``.

    ``cfg.spec`` is the decay an automatic warmup hands over to; ``cfg.post_ln``/``qk_norm`` are ignored
    (``arch`` says it); no evaluation between start and end (it changes nothing in the run).
    """
    t0 = time.perf_counter()
    corpus = load_corpus(cfg.corpus_bytes, cfg.corpus_part)
    total = cfg.schedule_total()
    torch.manual_seed(seed)
    model = make_lm(arch, cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.seq_len)
    opt = make_lm_optimizer(model, cfg)
    plan = _Plan(arm, opt, cfg.spec, total)
    starts = lm_batch_starts(corpus.train.size, cfg.steps, cfg.batch, cfg.seq_len, cfg.data_seed)
    vstarts = val_window_starts(corpus.val.size, cfg.eval_windows, cfg.seq_len)
    l0 = evaluate_lm(model, corpus.val, vstarts, cfg.seq_len)
    losses: list[float] = []
    lrs: list[float] = []
    diverged_at: int | None = None
    done = 0
    for t in range(cfg.steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        lv = lm_step(model, opt, torch.from_numpy(windows(corpus.train, starts[t], cfg.seq_len)), cfg.clip)
        losses.append(lv)
        if not math.isfinite(lv):
            diverged_at = t
            break
        plan.step(lv)
        if progress is not None and (t + 1) % 10 == 0:
            progress(t + 1 - done)
            done = t + 1
    if progress is not None and cfg.steps > done:
        progress(cfg.steps - done)  # a diverged run counts as done
    final = math.nan
    if diverged_at is None:
        final = evaluate_lm(model, corpus.val, vstarts, cfg.seq_len)
        final = final if math.isfinite(final) else math.nan
    return {
        "seed": seed,
        "train_loss": losses,
        "lr": lrs,
        "val_loss_init": l0,
        "final_val_loss": final,
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "wall_s": time.perf_counter() - t0,
        **plan.info(),
    }


def train_variant_digits(
    cfg: DigitsConfig, init: str, seed: int, arm: Arm, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """:func:`~rampup.experiments.train.train_digits` for the ResNet ``init``, with the LR plan of ``arm``.

    A fixed arm's spec is in whole steps (:func:`~rampup.experiments.train.digits_spec`); the automatic
    warmup starts where the fixed warmups start, at the small-batch LR (``base_batch / batch`` of the peak).
    """
    t0 = time.perf_counter()
    d = load_digits()
    n = d.y_train.size
    spe = n // cfg.batch
    then, total = digits_spec(replace(cfg, warmup="none"), spe)
    torch.manual_seed(seed)
    model = make_resnet(init, cfg.width)
    opt = torch.optim.SGD(
        decay_groups(model, cfg.weight_decay), lr=cfg.peak_lr, momentum=cfg.momentum, nesterov=cfg.nesterov
    )
    plan = _Plan(arm, opt, then, total, start=cfg.base_batch / cfg.batch)
    xtr, ytr = torch.from_numpy(d.x_train), torch.from_numpy(d.y_train)
    xte, yte = torch.from_numpy(d.x_test), torch.from_numpy(d.y_test)
    rng = np.random.default_rng(cfg.data_seed)
    losses: list[float] = []
    lrs: list[float] = []
    test_err: list[float] = []
    diverged_at: int | None = None
    for _ in range(cfg.epochs):
        perm = torch.from_numpy(rng.permutation(n))
        for b in range(spe):
            lrs.append(float(opt.param_groups[0]["lr"]))
            idx = perm[b * cfg.batch : (b + 1) * cfg.batch]
            lv = sgd_step(model, opt, xtr[idx], ytr[idx])
            losses.append(lv)
            if not math.isfinite(lv):
                diverged_at = len(losses) - 1
                break
            plan.step(lv)
        with torch.no_grad():
            model.eval()
            test_err.append(float((model(xte).argmax(1) != yte).float().mean()))
            model.train()
        if progress is not None:
            progress(spe)
        if diverged_at is not None:
            if progress is not None:
                progress(total - len(test_err) * spe)
            break
    return {
        "seed": seed,
        "steps_per_epoch": spe,
        "total_steps": total,
        "peak_lr": cfg.peak_lr,
        "train_loss": losses,
        "lr": lrs,
        "test_error_per_epoch": test_err,
        "final_test_error": test_err[-1],
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "wall_s": time.perf_counter() - t0,
        **plan.info(),
    }


@dataclass
class VariantJob:
    """One run of :func:`train_variant_lm` (``kind`` 'lm') or :func:`train_variant_digits` ('digits')."""

    kind: str
    cfg: Any
    variant: str  # the arch (lm) or the init (digits)
    seed: int
    arm: Arm
    steps: int
    tags: dict[str, Any] = field(default_factory=dict)


def _execute(job: VariantJob, progress: Callable[[int], None] | None) -> dict[str, Any]:
    if job.kind == "lm":
        return train_variant_lm(job.cfg, job.variant, job.seed, job.arm, progress)
    if job.kind == "digits":
        return train_variant_digits(job.cfg, job.variant, job.seed, job.arm, progress)
    raise ValueError(f"job.kind: got {job.kind!r}; accepted: 'lm' or 'digits'")


def _worker(job: VariantJob) -> dict[str, Any]:
    return _execute(job, report)  # finished steps go to the driver's progress bar


def _init_worker() -> None:
    torch.set_num_threads(1)


def run_variant_jobs(
    jobs: Sequence[VariantJob], workers: int = 2, desc: str = "runs", progress: bool = True
) -> list[dict[str, Any]]:
    """:func:`.common.run_jobs` for :class:`VariantJob`: results in order, tagged with arm, variant and tags."""
    jobs = list(jobs)
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = progress_bar(sum(j.steps for j in jobs), desc, progress)
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].steps)  # longest first: workers finish together

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
        r.update({"arm": j.arm.name, "variant": j.variant, "seed": j.seed, **j.tags})
        out.append(r)
    return out


# ---------------------------------------------------------------------------------------------
# The one definition of "the shortest stable warmup" and of the automatic warmup's gaps (E5, E7)
# ---------------------------------------------------------------------------------------------


def shortest_stable(
    grid: dict[int, list[float]], failed: dict[int, list[bool]], tol: float
) -> tuple[int | None, float]:
    """The shortest warmup ``W`` of ``grid`` (W → per-seed metric, lower is better) that is *stable*.

    Stable: no seed of ``W`` failed (``failed[W]``: diverged, collapsed, …) and its seed mean is within
    ``tol`` of the best seed mean among the warmups with no failed seed.  Returns ``(W, best mean)``;
    ``(None, nan)`` when every warmup has a failed seed.

    >>> shortest_stable({0: [3.1, 3.1], 50: [2.3, 2.4], 100: [2.3, 2.3]}, {0: [True, True], 50: [False] * 2, 100: [False] * 2}, 0.05)
    (50, 2.3)
    """
    ok = {w: float(np.mean(v)) for w, v in grid.items() if not any(failed[w])}
    if not ok:
        return None, math.nan
    best = min(ok.values())
    return min(w for w, m in ok.items() if m <= best + tol), best


def auto_gaps(auto: list[float], ref: list[float], scale: str) -> dict[str, Any]:
    """The automatic warmup's gap to a reference arm, on the seed mean and per seed (paired by seed).

    ``scale='percent'``: ``100·(auto − ref)/ref`` (losses); ``'points'``: ``100·(auto − ref)`` (error rates).
    Positive = auto is worse.  A non-finite value gives a NaN gap.
    """
    if scale not in ("percent", "points"):
        raise ValueError(f"scale: got {scale!r}; accepted: 'percent' or 'points'")

    def gap(a: float, r: float) -> float:
        return 100.0 * (a - r) / r if scale == "percent" else 100.0 * (a - r)

    a, r = np.asarray(auto, dtype=float), np.asarray(ref, dtype=float)
    return {"mean": gap(float(a.mean()), float(r.mean())), "per_seed": [gap(x, y) for x, y in zip(a, r)]}
