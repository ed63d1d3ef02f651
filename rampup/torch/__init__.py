"""PyTorch adapter: a rampup schedule driving an optimizer's param groups.

>>> import torch
>>> from rampup.torch import WarmupScheduler
>>> opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=1e-3)
>>> sched = WarmupScheduler(opt, "linear(100) -> cosine(floor=0.1)", total_steps=1000)
>>> opt.param_groups[0]["lr"]  # the LR of the first update: peak / 100
1e-05

``RampupLR`` is the same class under a torch-style name.  ``make_scheduler(opt, spec, ...)``
returns a ``WarmupScheduler`` for a fixed spec and an ``AutoWarmup`` for an automatic
one (``"auto -> cosine(floor=0.1)"``).  Import this module
only where torch is installed; ``import rampup`` never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .factory import make_scheduler
from .groups import layerwise_lr_decay, write_group_value
from .scheduler import WarmupScheduler

RampupLR = WarmupScheduler

# The other torch tools load on first use (PEP 562), so that the scheduler never depends on them.
_LAZY = {
    "AutoWarmup": "auto",
    "LAMB": "lamb",
    "lamb_param_groups": "lamb",
    "plot_trust_ratios": "lamb",
    "LossStats": "stats",
    "Monitor": "monitor",
    "UpdateProbe": "probe",
    "plot_monitor": "monitor",
    "SpikeGuard": "guard",
}

__all__ = ["RampupLR", "WarmupScheduler", "layerwise_lr_decay", "make_scheduler", "write_group_value", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rampup.torch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
