r"""Optimizers beside AdamW for the experiments (E6 compares them): Lion and GI-Adam (small, tested implementations), and factories.

* :class:`Lion` — Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
  arXiv:2302.06675, Algorithm 2.  Per parameter, with gradient ``g``, momentum ``m``
  (zeros at the start), LR ``η`` and decoupled weight decay ``λ``::

      c = β1·m + (1 − β1)·g            # interpolation of momentum and gradient
      θ ← θ·(1 − η·λ) − η·sign(c)      # every coordinate moves by exactly η (sign(0) = 0)
      m ← β2·m + (1 − β2)·g            # the momentum tracks the gradient more slowly

  Defaults β = (0.9, 0.99), as in the paper.  The update has the same size in every
  coordinate, from the first step on: there is no second moment to warm up.
* :class:`GIAdamW` — GI-Adam (Kalra & Barkeshli 2024, "Why Warmup the Learning Rate?",
  arXiv:2406.09405): AdamW whose second moment starts at the square of the first
  gradient, ``v_0 = g_1²``, instead of 0; everything else — the update
  ``v_t = β2·v_{t−1} + (1 − β2)·g_t²``, both bias corrections, decoupled weight decay — is
  torch's AdamW.  With the bias correction kept, ``v̂_t = v_t/(1 − β2^t)`` is inflated by
  ``1/(1 − β2^t)`` while ``v_0`` still dominates, so for gradients of steady size the first
  updates are ``sqrt(1 − β2^t)`` times Adam's (0.14 at t = 1 for β2 = 0.98): a built-in
  warmup over ~1/(1 − β2) steps, and no sign-descent first step (Adam's first update is
  ``η·sign(g_1)`` in every coordinate).

:func:`make_optimizer` builds any of ``adamw``, ``adafactor`` (``torch.optim.Adafactor``,
torch ≥ 2.5), ``lion``, ``gi_adamw`` from a name, a peak LR and E1's hyperparameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["OPTIMIZERS", "GIAdamW", "Lion", "lm_optimizer", "make_optimizer"]

OPTIMIZERS = ("adamw", "adafactor", "lion", "gi_adamw")


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023): ``θ ← θ(1 − ηλ) − η·sign(β1·m + (1 − β1)·g)``, then ``m ← β2·m + (1 − β2)·g``.

    >>> p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.0]))
    >>> opt = Lion([p], lr=0.1, weight_decay=0.5)
    >>> p.grad = torch.tensor([0.3, -0.1, 0.0])
    >>> opt.step()
    >>> [round(x, 6) for x in p.tolist()]  # 1·(1 − 0.05) − 0.1, −2·0.95 + 0.1, 0
    [0.85, -1.8, 0.0]
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr: got {lr!r}; accepted: a number > 0")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"betas[{i}]: got {b!r}; accepted: a number in [0, 1)")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay: got {weight_decay!r}; accepted: a number >= 0")
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), wd = float(group["lr"]), group["betas"], float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                c = m.mul(b1).add_(p.grad, alpha=1.0 - b1)
                if wd:
                    p.mul_(1.0 - lr * wd)  # decoupled, as AdamW: the decay scales with the LR
                p.add_(c.sign_(), alpha=-lr)
                m.mul_(b2).add_(p.grad, alpha=1.0 - b2)
        return loss


class GIAdamW(torch.optim.AdamW):
    """AdamW with the second moment initialised to the first gradient's square (GI-Adam, Kalra & Barkeshli 2024).

    Only the initial state differs from :class:`torch.optim.AdamW` (``exp_avg_sq = g²`` instead of zeros);
    ``amsgrad``, ``fused`` and ``capturable`` are not supported (the state is created here, not by torch).

    >>> p = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = GIAdamW([p], lr=0.1, betas=(0.9, 0.98), weight_decay=0.0)
    >>> p.grad = torch.tensor([2.0])
    >>> opt.step()
    >>> round(1.0 - p.item(), 6)  # 0.1 · 2 / sqrt((0.98·4 + 0.02·4) / 0.02) = 0.1 · sqrt(0.02)
    0.014142
    """

    def __init__(self, params: Iterable[Any], **kwargs: Any) -> None:
        for k in ("amsgrad", "fused", "capturable"):
            if kwargs.get(k):
                raise ValueError(f"{k}: got {kwargs[k]!r}; accepted: False (GIAdamW creates the state itself)")
        super().__init__(params, **kwargs)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and not self.state[p]:
                    # torch's own layout of AdamW's state (step on the CPU as float32), with v_0 = g² (not 0)
                    self.state[p].update(
                        step=torch.tensor(0.0, dtype=torch.float32),
                        exp_avg=torch.zeros_like(p, memory_format=torch.preserve_format),
                        exp_avg_sq=p.grad.square().clone(memory_format=torch.preserve_format),
                    )
        return super().step(closure)  # type: ignore[no-any-return]


def make_optimizer(
    name: str,
    params: Iterable[Any],
    lr: float,
    betas: tuple[float, float] = (0.9, 0.98),
    eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> torch.optim.Optimizer:
    """One of :data:`OPTIMIZERS` at peak LR ``lr``.

    ``betas``, ``eps`` and ``weight_decay`` are AdamW's (and GI-Adam's).  Lion keeps its own β = (0.9, 0.99) and
    gets 10× the weight decay (Chen et al.: with a 3–10× smaller LR, use a 3–10× larger λ; at Lion's base LR
    1e-3 the decay per step ``lr · λ`` is then AdamW's at E1's 1e-2).  Adafactor is torch's (relative step size
    ``min(lr, 1/sqrt(t)) · RMS(θ)``, its own β2 schedule ``1 − t^-0.8``, update clipping at RMS 1, no momentum),
    with ``lr · weight_decay`` per step as well.

    >>> type(make_optimizer("lion", [torch.nn.Parameter(torch.zeros(2))], 1e-3)).__name__
    'Lion'
    """
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "gi_adamw":
        return GIAdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "lion":
        return Lion(params, lr=lr, weight_decay=10.0 * weight_decay)
    if name == "adafactor":
        return torch.optim.Adafactor(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer: got {name!r}; accepted: {', '.join(OPTIMIZERS)}")


def lm_optimizer(name: str, model: torch.nn.Module, cfg: Any) -> torch.optim.Optimizer:
    """:func:`make_optimizer` ``name`` for an LM config (its peak LR, betas, eps, weight decay).

    ``partial(lm_optimizer, name)`` is :func:`rampup.experiments.train.lm_loop`'s ``optimizer=`` factory.
    """
    return make_optimizer(name, model.parameters(), cfg.peak_lr, (cfg.beta1, cfg.beta2), cfg.eps, cfg.weight_decay)
