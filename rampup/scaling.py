"""Batch-size scaling rules for the learning rate (public path; the math lives in :mod:`rampup.core.scaling`).

``rampup.scaling`` is the documented import path (``docs/scaling.md``); the rules
are pure math on the core, so they are defined in the core and re-exported here.

>>> from rampup.scaling import gradual_warmup, scale_lr
>>> scale_lr(0.1, 256, 1024, rule="sqrt")
0.2
>>> gradual_warmup(0.1, 256, 8192, "5ep", decay="cosine")
(3.2, 'linear(5ep, start=0.03125) -> cosine')
"""

from __future__ import annotations

from .core.scaling import RULES, gradual_warmup, scale_lr

__all__ = ["RULES", "gradual_warmup", "scale_lr"]
