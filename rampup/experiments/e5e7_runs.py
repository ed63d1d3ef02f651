"""E5 and E7: the model variants, their runs on the one training loop per task, and the shortest stable warmup.

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

Runs: the variants are model factories (:func:`lm_variant`, :func:`resnet_variant`) for the one LM loop
:func:`rampup.experiments.train.lm_loop` and the one digits loop :func:`~rampup.experiments.train.digits_loop`
(same data order, optimizer, step and evaluation as every other experiment), with the LR plan of an
:class:`~rampup.experiments.auto_runs.Arm` (:func:`~rampup.experiments.auto_runs.plan_for`: a fixed spec, or
the automatic warmup :class:`~rampup.experiments.auto_runs.AutoPlan`).  :func:`run_variant_lm` and
:func:`run_variant_digits` are one run each; :func:`variant_job` makes one a
:class:`~rampup.experiments.common.Job` for the one job runner, :func:`~rampup.experiments.common.run_jobs`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .auto_runs import Arm, plan_for
from .common import Job
from .models import TinyLM, TinyResNet
from .train import DigitsConfig, LMConfig, digits_loop, digits_spec, digits_steps_per_epoch, lm_loop

__all__ = [
    "LM_ARCHS",
    "RESNET_INITS",
    "DeepNormLM",
    "FixupResNet",
    "ReZeroLM",
    "deepnorm_constants",
    "lm_variant",
    "make_lm",
    "make_resnet",
    "resnet_variant",
    "run_variant_digits",
    "run_variant_lm",
    "shortest_stable",
    "variant_job",
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


def lm_variant(arch: str, cfg: LMConfig) -> nn.Module:
    """The transformer ``arch`` at ``cfg``'s size: :func:`lm_loop`'s ``model=`` as ``partial(lm_variant, arch)``.

    ``cfg.post_ln``/``qk_norm`` are ignored (``arch`` says it).
    """
    return make_lm(arch, cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.seq_len)


def resnet_variant(init: str, cfg: DigitsConfig) -> nn.Module:
    """The digits ResNet ``init`` of ``cfg.width``: :func:`digits_loop`'s ``model=`` as ``partial(resnet_variant, init)``."""
    return make_resnet(init, cfg.width)


def _auto_spec(arm: Arm, then: str, info: dict[str, Any]) -> dict[str, Any]:
    # An automatic warmup that never ended has no exported spec; E5/E7 report what it was asked to do.
    if "spec" not in info:
        info = {**info, "spec": f"auto(method={arm.method}) -> {then}"}
    return info


def run_variant_lm(
    cfg: LMConfig, arch: str, seed: int, arm: Arm, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """:func:`~rampup.experiments.train.lm_loop` for the transformer ``arch``, with the LR plan of ``arm``.

    ``cfg.spec`` is the decay an automatic warmup (:class:`~rampup.experiments.auto_runs.AutoPlan`) hands
    over to; ``cfg.post_ln``/``qk_norm`` are ignored (``arch`` says it); no evaluation between start and
    end (it changes nothing in the run).  Returns ``seed``, ``train_loss``, ``lr``, ``val_loss_init``,
    ``final_val_loss``, ``diverged``/``diverged_at``, ``wall_s`` and the plan's ``spec``/``warmup_steps``
    (an auto arm: also ``auto_done`` and ``events``).
    """
    t0 = time.perf_counter()
    loop_cfg = replace(cfg, eval_every=cfg.steps)  # only the evaluations at the start and the end
    r = lm_loop(loop_cfg, seed, plan_for(arm, cfg.spec), progress=progress, model=partial(lm_variant, arch))
    keys = ("train_loss", "lr", "val_loss_init", "final_val_loss", "diverged", "diverged_at")
    return {
        "seed": seed,
        **{k: r[k] for k in keys},
        "wall_s": time.perf_counter() - t0,
        **_auto_spec(arm, cfg.spec, r["plan"]),
    }


def run_variant_digits(
    cfg: DigitsConfig, init: str, seed: int, arm: Arm, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """:func:`~rampup.experiments.train.digits_loop` for the ResNet ``init``, with the LR plan of ``arm``.

    A fixed arm's spec is in whole steps (:func:`~rampup.experiments.train.digits_spec`); the automatic
    warmup starts where the fixed warmups start, at the small-batch LR (``base_batch / batch`` of the
    peak, whatever ``arm.start`` says), and hands over to ``cfg``'s step decay.
    """
    t0 = time.perf_counter()
    then, _ = digits_spec(replace(cfg, warmup="none"), digits_steps_per_epoch(cfg))
    if arm.kind == "auto":
        arm = replace(arm, start=cfg.base_batch / cfg.batch)
    r = digits_loop(cfg, seed, plan_for(arm, then), progress, model=partial(resnet_variant, init))
    keys = ("train_loss", "lr", "test_error_per_epoch", "final_test_error", "diverged", "diverged_at")
    return {
        "seed": seed,
        "steps_per_epoch": r["steps_per_epoch"],
        "total_steps": r["total_steps"],
        "peak_lr": cfg.peak_lr,
        **{k: r[k] for k in keys},
        "wall_s": time.perf_counter() - t0,
        **_auto_spec(arm, then, r["plan"]),
    }


def variant_job(
    kind: str, cfg: Any, variant: str, seed: int, arm: Arm, steps: int, tags: dict[str, Any] | None = None
) -> Job:
    """One E5/E7 run for :func:`~rampup.experiments.common.run_jobs`: :func:`run_variant_lm` (``kind`` 'lm',
    ``variant`` = the arch) or :func:`run_variant_digits` ('digits', ``variant`` = the init).

    Its result is tagged with ``arm`` (the arm's name), ``seed``, ``variant`` and ``tags``.
    """
    runners: dict[str, Callable[..., dict[str, Any]]] = {"lm": run_variant_lm, "digits": run_variant_digits}
    if kind not in runners:
        raise ValueError(f"kind: got {kind!r}; accepted: 'lm' or 'digits'")
    kwargs = {"cfg": cfg, ("arch" if kind == "lm" else "init"): variant, "seed": seed, "arm": arm}
    return Job.call(
        runners[kind], kwargs, arm=arm.name, seed=seed, steps=steps, tags={"variant": variant, **(tags or {})}
    )


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
