"""``make_scheduler(optimizer, spec, ...)``: the scheduler a spec asks for, fixed or automatic.

A fixed spec (``"linear(2%) -> cosine(floor=0.1)"``) gives a
:class:`~rampup.torch.WarmupScheduler`; a spec whose warmup is ``auto`` or
``auto(...)`` (``"auto -> cosine(floor=0.1)"``) gives a
:class:`~rampup.torch.AutoWarmup`, a warmup decided online.  This module is the
only one that knows both, so that the fixed scheduler never imports the
automatic controller.

>>> import torch
>>> from rampup.torch import make_scheduler
>>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
>>> type(make_scheduler(opt, "linear(4) -> cosine", total_steps=10)).__name__
'WarmupScheduler'
>>> type(make_scheduler(opt, "auto -> cosine(floor=0.1)", total_steps=10, announce=False)).__name__
'AutoWarmup'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch.optim import Optimizer

from .auto_spec import is_auto_spec
from .scheduler import WarmupScheduler

if TYPE_CHECKING:
    from .auto import AutoWarmup

__all__ = ["make_scheduler"]

# WarmupScheduler arguments that an automatic warmup does not take, and their "not given" values.
_FIXED_ONLY = {
    "steps_per_epoch": None,
    "tokens_per_step": None,
    "group_schedules": None,
    "lr_mult": None,
    "weight_decay": "none",
    "momentum": None,
    "on_mismatch": "error",
    "last_step": -1,
}


def make_scheduler(optimizer: Optimizer, spec: Any, **kwargs: Any) -> WarmupScheduler | AutoWarmup:
    """A :class:`WarmupScheduler` for a fixed spec, an :class:`AutoWarmup` for an ``auto``/``auto(...)`` spec.

    ``kwargs`` are the chosen class's keyword arguments (``total_steps=`` for both).  For an
    automatic warmup, a ``WarmupScheduler``-only argument (``lr_mult``, ``group_schedules``,
    ``weight_decay``, ``momentum``, ...) raises ``ValueError`` naming it unless it has its
    default value.
    """
    if not is_auto_spec(spec):
        return WarmupScheduler(optimizer, spec, **kwargs)
    auto_kwargs = {}
    for k, v in kwargs.items():
        if k not in _FIXED_ONLY:
            auto_kwargs[k] = v
        elif v is not _FIXED_ONLY[k] and v != _FIXED_ONLY[k]:
            raise ValueError(
                f"{k}: got {v!r} with the automatic warmup {spec!r}; accepted: {_FIXED_ONLY[k]!r} — an "
                "'auto' warmup is a rampup.torch.AutoWarmup, which takes total_steps and its own options "
                "(method, start, min_warmup, max_warmup, interval, ...); export_spec() its curve into a "
                "WarmupScheduler for those"
            )
    from .auto import AutoWarmup  # on first use: `import rampup.torch` stays as light as the fixed scheduler

    return AutoWarmup(optimizer, spec, **auto_kwargs)
