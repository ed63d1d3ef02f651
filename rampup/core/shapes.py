"""The formulas.  Each shape is written exactly once, here, against ``xp``.

A *shape* maps progress ``p`` in [0, 1] to a weight ``w`` in [0, 1]; a phase
then interpolates ``value = a·(1 − w) + b·w`` between its start level ``a`` and
its end level ``b``.  That form is exact at both ends in floating point
(``w = 0`` gives ``a``, ``w = 1`` gives ``b`` bit for bit), which is why the
peak of a warmup is *exactly* the peak LR and a cosine ends *exactly* on its
floor.

``xp`` is one of the namespaces of :mod:`rampup.core.backend`, so the same
line of code runs on a Python float, a NumPy array, a torch tensor or a
traced jax array.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "exp_rise",
    "inv_sqrt",
    "lerp",
    "radam_offset",
    "radam_rectifier",
    "w_cosine",
    "w_linear",
    "w_one_minus_sqrt",
    "w_poly_fall",
    "w_poly_rise",
]


def lerp(a: float, b: float, w: Any) -> Any:
    """``a·(1 − w) + b·w``: exact at ``w = 0`` and ``w = 1``."""
    return a * (1.0 - w) + b * w


def progress(n: Any, length: float, xp: Any, lower: bool = True) -> Any:
    """``n / length`` clipped to [0, 1], and exactly 1.0 once ``n >= length``.

    The pin is for XLA: ``jax.jit`` (and eager jax) rewrites ``x / c`` for a
    constant ``c`` into ``x * (1/c)``, which is not correctly rounded
    (``41 * (1/41)`` is ``0.99999994`` in float32, ``49 * (1/49)`` is
    ``0.9999999999999999`` in float64), so without it a warmup would stop an
    ulp short of the peak and a decay an ulp above its floor — and
    ``(1 − p)^0.5`` turns that ulp into 2e-4.  The comparison is exact.
    Python floats and NumPy divide correctly rounded (``L / L`` is exactly 1.0),
    so they skip the pin: it would cost a third of a whole-curve evaluation.
    ``lower=False`` skips the clip at 0 where the caller guarantees ``n >= 0``.
    """
    if xp.name in ("scalar", "numpy"):
        p = n / length
        return xp.clip(p, 0.0, 1.0) if lower else xp.minimum(p, 1.0)
    return xp.where(n >= length, 1.0, xp.clip(n / length, 0.0, 1.0))


def floor_div(x: Any, c: float, xp: Any) -> Any:
    """``⌊x / c⌋`` for ``x ≥ 0`` and a whole number ``c ≥ 1``, exact in every backend.

    ``floor(x / c)`` alone is one too low under XLA at exact multiples
    (``floor(47 · (1/47)) = 0`` in float32, see :func:`progress`); the two
    corrections compare ``x`` with products of whole numbers, exact below
    2^24 (float32) and 2^53 (float64).
    """
    k = xp.floor(x / c)
    k = xp.where((k + 1.0) * c <= x, k + 1.0, k)
    return xp.where(k * c > x, k - 1.0, k)


def w_linear(p: Any, xp: Any) -> Any:
    """Linear: ``w = p``."""
    return p


def w_cosine(p: Any, xp: Any) -> Any:
    """Half cosine: ``w = (1 − cos πp) / 2`` (Loshchilov & Hutter 2017, SGDR)."""
    return 0.5 * (1.0 - xp.cos(math.pi * p))


def w_poly_rise(p: Any, power: float, xp: Any) -> Any:
    """Polynomial rise: ``w = p^power`` (power 1 is linear, 2 is quadratic)."""
    return xp.power(p, power)


def w_poly_fall(p: Any, power: float, xp: Any) -> Any:
    """Polynomial decay weight: ``w = 1 − (1 − p)^power`` (HF/torch ``PolynomialLR``)."""
    return 1.0 - xp.power(1.0 - p, power)


def w_one_minus_sqrt(p: Any, xp: Any) -> Any:
    """WSD "1 − sqrt" cooldown weight: value ``a + (b − a)·sqrt(p)`` i.e. ``w = sqrt(p)``
    (Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations")."""
    return xp.sqrt(p)


def exp_rise(n: Any, tau: float, xp: Any) -> Any:
    """Exponential warmup factor after ``n`` updates: ``1 − exp(−n/τ)``."""
    return 1.0 - xp.exp(-n / tau)


def inv_sqrt(n: Any, timescale: float, xp: Any) -> Any:
    """Inverse square root decay factor after ``n`` updates: ``sqrt(τ / (τ + n))``.

    With ``τ`` equal to the warmup length this is Vaswani et al.'s
    ``sqrt(T_w) / sqrt(step_num)`` with ``step_num = T_w + n``.
    """
    if xp.name not in ("scalar", "numpy"):
        # float32 (torch, jax): a timescale above 3.4e38 is inf there, and inf/inf is NaN; 1/sqrt(1 + n/τ)
        # is the same factor and gives 1 for τ = inf.
        return 1.0 / xp.sqrt(1.0 + n / timescale)
    return xp.sqrt(timescale / (timescale + n))


def _rho(n: Any, beta2: float, rho_inf: float, xp: Any) -> Any:
    # 1 − β2^n via expm1: direct subtraction loses most digits in float32 for small n.
    x = n * math.log(beta2)
    return rho_inf - 2.0 * n * xp.exp(x) / -xp.expm1(x)


def radam_offset(beta2: float) -> int:
    """The smallest iteration δ ≥ 1 with ρ_δ > 4 (Liu et al. 2020): 5 for β2 ≳ 0.774, up to 11 near β2 = 0.61."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    d = 1
    while _rho(float(d), beta2, rho_inf, math) <= 4.0:  # ends: ρ_t → ρ_∞ > 4 for β2 > 0.6
        d += 1
    return d


def radam_rectifier(n: Any, beta2: float, offset: int, xp: Any) -> Any:
    """RAdam's variance rectification term as a warmup factor (Liu et al. 2020).

    With ρ_∞ = 2/(1 − β2) − 1 and ρ_t = ρ_∞ − 2tβ2^t / (1 − β2^t),
    r_t = sqrt((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t)), defined where ρ_t > 4.
    ``n`` counts updates from 1; it is shifted by ``offset − 1`` so the first update
    already uses a defined, positive r (the convention of Ma & Yarats 2019 and
    pytorch_warmup's ``RAdamWarmup``).
    """
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    if xp.name not in ("scalar", "numpy"):
        # torch/jax often run float32: there ρ − 4 cancels to 0 (or an ulp of 4, 1e4 times too large) for
        # β2 just above 0.6, and (ρ − 4)(ρ − 2)ρ_∞ overflows for β2 near 1.  The same r_t as a product of
        # ratios, with ρ − c = (ρ_∞ − c) − g taken from constants computed in float64, stays in range.  For
        # β2 within ~1e-6 of 1 float32 cannot resolve ρ_t at all; r_t lies in [0, 1], so it is kept there.
        m = n + (offset - 1)
        x = m * math.log(beta2)
        g = 2.0 * m * xp.exp(x) / -xp.expm1(x)  # ρ_∞ − ρ_t
        r = ((rho_inf - 4.0) - g) / (rho_inf - 4.0) * (((rho_inf - 2.0) - g) / (rho_inf - 2.0))
        r = r * (rho_inf / (rho_inf - g))
        return xp.sqrt(xp.where(r > 0.0, xp.minimum(r, 1.0), 0.0))  # NaN (0/0 in float32) is not > 0
    rho = _rho(n + (offset - 1), beta2, rho_inf, xp)
    num = (rho - 4.0) * (rho - 2.0) * rho_inf
    den = (rho_inf - 4.0) * (rho_inf - 2.0) * rho
    return xp.sqrt(num / den)
