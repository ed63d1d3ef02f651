"""Shared helpers for the torch adapter tests: optimizers with float or tensor LRs, tiny training problems."""

from __future__ import annotations

from typing import Any

import torch


def make_opt(lrs: list[float], tensor: bool, cls: Any = torch.optim.SGD, **kw: Any) -> torch.optim.Optimizer:
    """An optimizer with one 2-element parameter per group; LRs as floats or 0-dim float64 tensors."""
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": torch.tensor(lr, dtype=torch.float64) if tensor else lr}
        for lr in lrs
    ]
    return cls(groups, **kw)


def lrs_of(opt: torch.optim.Optimizer) -> list[float]:
    """The current LRs as Python floats (tensor LRs read exactly)."""
    return [float(g["lr"]) for g in opt.param_groups]


def make_problem(seed: int = 0, n: int = 256, d: int = 8, hidden: int = 16):
    """A small MLP regression: (model, x, y) with a fixed teacher; deterministic from ``seed``."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(n, d, generator=g)
    teacher = torch.randn(d, 1, generator=g)
    y = torch.tanh(x @ teacher) + 0.05 * torch.randn(n, 1, generator=g)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))
    return model, x, y


def batch(x: torch.Tensor, y: torch.Tensor, t: int, size: int = 32):
    i = (t * size) % x.shape[0]
    return x[i : i + size], y[i : i + size]
