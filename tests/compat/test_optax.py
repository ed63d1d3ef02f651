"""optax: specs against the installed optax, in float64 (jax_enable_x64) on the CPU."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rampup

from .helpers import assert_close

os.environ.setdefault("JAX_PLATFORMS", "cpu")
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

N_CONFIGS = 60


@pytest.fixture(autouse=True, scope="module")
def _x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


N_EVAL = 512  # one array shape for every call: jax compiles each primitive once, then reuses it


def _curve(fn, n: int) -> np.ndarray:
    """optax's schedule at counts 0 … n − 1 (count 0 is the first update), in float64."""
    assert n <= N_EVAL
    out = np.asarray(jax.vmap(fn)(jax.numpy.arange(N_EVAL, dtype=jax.numpy.int64)), dtype=np.float64)
    return np.broadcast_to(out, (N_EVAL,))[:n].copy()


def _kw(d: dict) -> str:
    def t(v):
        return ("true" if v else "false") if isinstance(v, bool) else repr(v)

    return ", ".join(f"{k}={t(v)}" for k, v in d.items())


def _wcd(rng: np.random.Generator, i: int) -> dict:
    peak = float(10 ** rng.uniform(-4, 0))
    w = [0, 5][i] if i < 2 else int(rng.integers(0, 100))
    return {
        "init_value": float(rng.choice([0.0, peak * rng.uniform(0, 1)])),
        "peak_value": peak,
        "warmup_steps": w,
        "decay_steps": w + int(rng.integers(1, 150)),
        "end_value": float(rng.choice([0.0, peak * rng.uniform(0, 0.5)])),
        "exponent": float(rng.choice([1.0, rng.uniform(0.5, 3)])),
    }


def test_warmup_cosine_decay_matches_optax() -> None:
    rng = np.random.default_rng(300)
    for i in range(N_CONFIGS):
        kw = _wcd(rng, i)
        n = kw["decay_steps"] + int(rng.integers(0, 60))
        want = _curve(optax.warmup_cosine_decay_schedule(**kw), n)
        spec = f"optax:warmup_cosine_decay_schedule({_kw(kw)})"
        assert_close(rampup.parse(spec)(np.arange(n)), want, kw["peak_value"], spec)
        # peak_lr may be given when it is the same peak
        assert_close(rampup.parse(spec, peak_lr=kw["peak_value"])(np.arange(n)), want, kw["peak_value"], spec)


def test_warmup_exponential_decay_matches_optax() -> None:
    rng = np.random.default_rng(301)
    for _ in range(N_CONFIGS):
        peak = float(10 ** rng.uniform(-4, 0))
        rate = float(rng.choice([0.0, rng.uniform(0.05, 0.99), rng.uniform(1.0, 1.1)]))
        staircase = bool(rng.random() < 0.5)
        # Eagerly (here) optax floors count / T exactly; inside jit, as its optimizers run it, XLA's count·(1/T)
        # lands one stair short at some multiples, and the spec reproduces that (test_optax_jit.py): the two
        # agree for a power of two.
        ts = int(rng.choice([0, 2 ** rng.integers(0, 6)])) if staircase else int(rng.choice([0, rng.integers(1, 50)]))
        kw = {
            "init_value": float(rng.choice([0.0, peak * rng.uniform(0, 1)])),
            "peak_value": peak,
            "warmup_steps": int(rng.integers(0, 80)),
            "transition_steps": ts,
            "decay_rate": rate,
            "transition_begin": int(rng.integers(0, 40)),
            "staircase": staircase,
        }
        if rate > 1.0 or rng.random() < 0.5:  # a growing decay needs its cap (else it reaches inf)
            kw["end_value"] = float(peak * (rng.uniform(0, 0.5) if rate < 1 else rng.uniform(1, 2)))
        n = int(rng.integers(1, 300))
        want = _curve(optax.warmup_exponential_decay_schedule(**kw), n)
        spec = f"optax:warmup_exponential_decay_schedule({_kw(kw)})"
        # total_steps bounds the run: an open-ended growing curve (decay_rate > 1) is refused as it overflows
        assert_close(rampup.parse(spec, total_steps=n)(np.arange(n)), want, peak, spec)


@pytest.mark.parametrize("kind", ["linear_onecycle_schedule", "cosine_onecycle_schedule"])
def test_onecycle_matches_optax(kind: str) -> None:
    rng = np.random.default_rng(302 + len(kind))
    for i in range(N_CONFIGS):
        kw = {
            "transition_steps": [1, 2, 3][i] if i < 3 else int(rng.integers(1, 250)),
            "peak_value": float(10 ** rng.uniform(-4, 0)),
            "pct_start": float(rng.choice([0.3, 0.0, 1.0, rng.uniform(0, 1)])),
            "div_factor": float(rng.uniform(1, 50)),
            "final_div_factor": float(10 ** rng.uniform(0, 5)),
        }
        if kind == "linear_onecycle_schedule":
            kw["pct_final"] = float(rng.choice([0.85, rng.uniform(kw["pct_start"], 1)]))
        n = kw["transition_steps"] + int(rng.integers(0, 50))
        want = _curve(getattr(optax, kind)(**kw), n)
        spec = f"optax:{kind}({_kw(kw)})"
        assert_close(rampup.parse(spec)(np.arange(n)), want, kw["peak_value"], spec)


def test_sgdr_matches_optax() -> None:
    rng = np.random.default_rng(304)
    for i in range(N_CONFIGS):
        cycles = [_wcd(rng, i + j) for j in range(int(rng.integers(1, 4)))]
        n = min(N_EVAL, sum(c["decay_steps"] for c in cycles) + int(rng.integers(0, 40)))
        want = _curve(optax.sgdr_schedule(cycles), n)
        spec = (
            "optax:sgdr_schedule(cosine_kwargs=["
            + ", ".join(f"optax:warmup_cosine_decay_schedule({_kw(c)})" for c in cycles)
            + "])"
        )
        assert_close(rampup.parse(spec)(np.arange(n)), want, max(c["peak_value"] for c in cycles), spec)


def test_optax_specs_are_absolute() -> None:
    spec = "optax:warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.001, warmup_steps=10, decay_steps=100)"
    s = rampup.parse(spec)
    assert s(10) == pytest.approx(1e-3, rel=1e-15)
    # peak_lr is the peak: another value rescales the curve (the CLI's default --peak-lr 1 shows multiples)
    assert np.allclose(rampup.parse(spec, peak_lr=1.0)(np.arange(200)), s(np.arange(200)) * 1000.0, rtol=1e-14)
    with pytest.raises(ValueError, match="accepted: decay_steps > warmup_steps"):
        rampup.parse(
            "optax:warmup_cosine_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=10)"
        )
