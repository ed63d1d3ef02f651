r"""Batch-size scaling rules for the learning rate, and the matching gradual warmup.

When the batch grows from ``base_batch`` to ``batch`` (``k = batch / base_batch``):

=========  ==============================  =========================================  ==========================
rule       peak LR                         warmup starts at (fraction of the peak)    usual optimizer
=========  ==============================  =========================================  ==========================
linear     ``base_lr · k``                 ``1/k = base_batch / batch``               SGD (+ momentum)
sqrt       ``base_lr · √k``                ``1/√k = √(base_batch / batch)``           Adam, AdamW, LAMB
=========  ==============================  =========================================  ==========================

The warmup starts from the small-batch LR ``base_lr`` and reaches the scaled
LR after ``warmup`` (Goyal et al.'s *gradual warmup*): in rampup's spec
language ``linear(warmup, start=1/k)``.  With rampup's step semantics the
start level is the value just before the first update, the first update uses
``start + (1 − start)/T_w`` of the peak, and the peak is reached at update ``T_w``
(step ``T_w − 1``).

References:
  * Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
    arXiv:1706.02677 (linear scaling rule, gradual warmup over 5 epochs).
  * Krizhevsky 2014, "One weird trick for parallelizing convolutional neural networks",
    arXiv:1404.5997, and Hoffer et al. 2017, "Train longer, generalize better",
    arXiv:1705.08741 (square-root scaling from the gradient-noise variance).
  * Malladi et al. 2022, "On the SDEs and Scaling Rules for Adaptive Gradient Algorithms",
    arXiv:2205.10287 (square-root rule for Adam/RMSprop; their full rule also rescales
    β1, β2 and ε — see ``docs/scaling.md``).

>>> scale_lr(0.1, 256, 8192)
3.2
>>> gradual_warmup(0.1, 256, 8192, "5ep", decay="cosine")
(3.2, 'linear(5ep, start=0.03125) -> cosine')
"""

from __future__ import annotations

import math
from typing import Any

from .schedule import Spec
from .spec_text import SpecSyntaxError
from .units import Length

__all__ = ["RULES", "gradual_warmup", "scale_lr"]

RULES = ("linear", "sqrt")


def _check(base_lr: Any, base_batch: Any, batch: Any, rule: Any) -> None:
    if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)):
        raise TypeError(f"base_lr: got {base_lr!r} ({type(base_lr).__name__}); accepted: a finite number > 0")
    if not (math.isfinite(base_lr) and base_lr > 0):
        raise ValueError(f"base_lr: got {base_lr!r}; accepted: a finite number > 0")
    for name, b in (("base_batch", base_batch), ("batch", batch)):
        if isinstance(b, bool) or not isinstance(b, int):
            raise TypeError(f"{name}: got {b!r} ({type(b).__name__}); accepted: a batch size as an int >= 1")
        if b < 1:
            raise ValueError(f"{name}: got {b!r}; accepted: a batch size as an int >= 1")
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"rule: got {rule!r}; accepted: {', '.join(repr(r) for r in RULES)}")


def _factor(base_batch: int, batch: int, rule: str) -> float:
    k = batch / base_batch
    return k if rule == "linear" else math.sqrt(k)


def scale_lr(base_lr: float, base_batch: int, batch: int, rule: str = "linear") -> float:
    """The learning rate for ``batch``, from ``base_lr`` tuned at ``base_batch``.

    ``rule="linear"``: ``base_lr · batch/base_batch`` (Goyal et al. 2017, for SGD).
    ``rule="sqrt"``: ``base_lr · √(batch/base_batch)`` (Hoffer et al. 2017; Malladi et al.
    2022 for Adam-type optimizers).  Works in both directions (a smaller batch gives a
    smaller LR).  Units: the LR's, whatever they are; batch sizes in samples (or tokens,
    as long as both are in the same unit).

    >>> scale_lr(0.1, 256, 1024)
    0.4
    >>> scale_lr(1e-4, 256, 1024, rule="sqrt")
    0.0002
    >>> scale_lr(0.4, 1024, 256)
    0.1
    """
    _check(base_lr, base_batch, batch, rule)
    return float(base_lr) * _factor(base_batch, batch, rule)


def gradual_warmup(
    base_lr: float,
    base_batch: int,
    batch: int,
    warmup: int | str,
    rule: str = "linear",
    decay: str = "constant",
) -> tuple[float, str]:
    """The scaled peak LR and a spec that warms up to it from the small-batch LR.

    Returns ``(peak_lr, spec)`` with ``peak_lr = scale_lr(base_lr, base_batch, batch, rule)``
    and ``spec = "linear(WARMUP, start=S) -> DECAY"`` where ``S = base_lr / peak_lr``
    (``base_batch/batch`` for the linear rule, its square root for ``sqrt``).  Pass both to
    :func:`rampup.parse`.  ``warmup`` is a length: steps as an int, or ``"2%"``,
    ``"5ep"`` (Goyal et al. use 5 epochs), ``"10Mtok"``.  ``decay`` is the rest of the
    spec after the warmup (default ``"constant"``).  When ``batch == base_batch`` the
    LR does not change and the spec is ``decay`` alone.

    Reference: Goyal et al. 2017, arXiv:1706.02677, §2.2.

    >>> peak, spec = gradual_warmup(0.1, 256, 1024, 500)
    >>> peak, spec
    (0.4, 'linear(500, start=0.25) -> constant')
    >>> import rampup
    >>> lr = rampup.parse(spec, peak_lr=peak)
    >>> round(lr(0), 6), lr(499)
    (0.1006, 0.4)
    >>> gradual_warmup(3e-4, 512, 2048, "2%", rule="sqrt", decay="cosine(floor=0.1)")
    (0.0006, 'linear(2%, start=0.5) -> cosine(floor=0.1)')
    """
    _check(base_lr, base_batch, batch, rule)
    if batch < base_batch:
        raise ValueError(
            f"batch: got {batch} < base_batch {base_batch}; a gradual warmup from the small-batch LR needs "
            "batch >= base_batch (for a smaller batch use scale_lr and an ordinary warmup)"
        )
    length = Length.parse(warmup, "warmup")  # names `warmup` in its errors
    if length.value <= 0:
        raise ValueError(f"warmup: got {warmup!r}; accepted: a length > 0 (steps, '2%', '5ep', '10Mtok')")
    if not isinstance(decay, str):
        raise TypeError(f"decay: got {decay!r} ({type(decay).__name__}); accepted: a spec string such as 'cosine'")
    peak = float(base_lr) * _factor(base_batch, batch, rule)
    if batch == base_batch:
        spec = decay.strip()
    else:
        start = 1.0 / _factor(base_batch, batch, rule)
        spec = f"linear({length}, start={start!r}) -> {decay.strip()}"
    try:
        parsed = Spec.parse(spec)
    except (SpecSyntaxError, ValueError, TypeError) as e:
        raise ValueError(f"decay: got {decay!r}, which does not continue a spec after the warmup: {e}") from None
    if batch == base_batch and parsed.warmup is not None:
        raise ValueError(f"decay: got {decay!r}; accepted: decay phases only (the warmup is built here)")
    return peak, spec
