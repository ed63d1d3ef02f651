"""composer: specs against composer's formulas (composer does not install beside torch 2.13).

The reference functions transcribe ``__call__`` of ``LinearWithWarmupScheduler``,
``CosineAnnealingWithWarmupScheduler``, ``PolynomialWithWarmupScheduler`` and ``ConstantWithWarmupScheduler``
from ``mosaicml/composer`` ``composer/optim/scheduler.py`` (with ``_cosine_anneal`` and the
``LinearScheduler`` warmup), with times in batches and ``ssr = 1``; the Trainer's ``LambdaLR`` is stepped after
every batch, so batch ``t`` (0-based) uses ``α(t)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import rampup

from .helpers import assert_close

N_CONFIGS = 60


def _warm(t: int, t_warmup: int, alpha_f: float) -> float:
    # LinearScheduler(alpha_i=0.0, alpha_f=alpha_f, t_max=t_warmup)
    frac_of_total = min(1.0, t / t_warmup)
    return 0.0 + frac_of_total * (alpha_f - 0.0)


def _frac(t: int, t_warmup: int, t_max: int) -> float:
    frac_of_total = ((t - t_warmup) / (t_max - t_warmup)) if (t_max > t_warmup) else 0.0
    return min(1.0, frac_of_total)


def _cosine_anneal(x: float, min_y: float = 0.0, max_y: float = 1.0) -> float:
    x = min(max(x, 0.0), 1.0)
    return min_y + (max_y - min_y) * (1 + math.cos(x * math.pi)) / 2


def composer(kind: str, t: int, t_warmup: int, t_max: int, **kw: float) -> float:
    top = {"linear": kw.get("alpha_i", 1.0), "constant": kw.get("alpha", 1.0)}.get(kind, 1.0)
    if t < t_warmup:
        return _warm(t, t_warmup, top)
    f = _frac(t, t_warmup, t_max)
    if kind == "linear":
        return kw["alpha_i"] + f * (kw["alpha_f"] - kw["alpha_i"])
    if kind == "cosine":
        return _cosine_anneal(x=f, min_y=kw["alpha_f"])
    if kind == "poly":
        coeff = (1 - f) ** kw["power"]
        return kw["alpha_f"] + coeff * (1.0 - kw["alpha_f"])
    return kw["alpha"] + f * (kw["alpha"] - kw["alpha"])


NAMES = {
    "linear": "linear_with_warmup",
    "cosine": "cosine_annealing_with_warmup",
    "poly": "polynomial_with_warmup",
    "constant": "constant_with_warmup",
}


@pytest.mark.parametrize("kind", sorted(NAMES))
def test_matches_composer(kind: str) -> None:
    rng = np.random.default_rng(600 + sorted(NAMES).index(kind))
    for i in range(N_CONFIGS):
        total = int(rng.integers(1, 200))
        w = [0, total][i] if i < 2 else int(rng.integers(0, total + 1))
        kw = {
            "linear": {"alpha_i": float(rng.uniform(0, 1.5)), "alpha_f": float(rng.uniform(0, 1))},
            "cosine": {"alpha_f": float(rng.uniform(0, 1))},
            "poly": {"power": float(rng.uniform(0.2, 3)), "alpha_f": float(rng.uniform(0, 1))},
            "constant": {"alpha": float(rng.uniform(0.1, 1.5))},
        }[kind]
        lr = float(10 ** rng.uniform(-5, 0))
        t_max_txt, t_max = (
            ("1dur", total) if i % 3 == 0 else (f"{total + (e := int(rng.integers(0, 50)))}ba", total + e)
        )
        w_txt = f"{w}ba" if i % 2 else str(w)
        n = total + int(rng.integers(0, 80))
        want = [lr * composer(kind, t, w, t_max, **kw) for t in range(n)]
        spec = (
            f"composer:{NAMES[kind]}(t_warmup={w_txt}, t_max={t_max_txt}, "
            + ", ".join(f"{k}={v!r}" for k, v in kw.items())
            + ")"
        )
        got = rampup.parse(spec, peak_lr=lr, total_steps=total)(np.arange(n))
        assert_close(got, want, lr, spec)


def test_composer_times() -> None:
    # '0.15dur' of 50 batches is int(7.5) = 7 (composer truncates; rampup's '15%' would round to 8)
    s = rampup.parse("composer:cosine_annealing_with_warmup(t_warmup=0.15dur)", total_steps=50)
    assert s.segments[0].length == 7 and s(7) == 1.0
    e = rampup.parse("composer:linear_with_warmup(t_warmup=1ep, t_max=10ep)", steps_per_epoch=4, total_steps=40)
    assert (e(4), e(40)) == (1.0, 0.0)
    spec = rampup.Spec.parse("composer:linear_with_warmup(t_warmup=100ba, t_max=0.5dur)")
    assert str(spec) == "composer:linear_with_warmup(t_warmup=100ba, t_max=0.5dur)"
    assert rampup.Spec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="must be greater than or equal to max_duration"):
        rampup.parse("composer:linear_with_warmup(t_warmup=5, t_max=50)", total_steps=60)
    with pytest.raises(ValueError, match="missing argument 't_warmup'"):
        rampup.parse("composer:linear_with_warmup(t_max=50)")
    with pytest.raises(ValueError, match="cannot read '5sp' as a composer time"):
        rampup.parse("composer:linear_with_warmup(t_warmup=5sp)", total_steps=60)
