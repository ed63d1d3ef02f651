"""Shared helpers for the torch adapter tests: optimizers with float or tensor LRs."""

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
