"""Native rampup specs against optax's own schedule factories, at random configurations.

optax's factories evaluate ``schedule(count)`` with a warmup that starts at
``init_value`` for ``count = 0`` and reaches the peak at ``count = warmup_steps``;
rampup's first update already uses ``init + (peak - init)/W`` and the peak is at
``t = W - 1``.  The documented mapping (docs/jax.md) is therefore an index shift
of one: ``native(t) == optax(t + 1)`` for every ``t >= 0``.  Compared in float64
(``jax.enable_x64``), on one fixed grid of counts so that eager jax compiles each
operation once for all configurations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import rampup  # noqa: E402

N_CONFIGS = 60
GRID = 400  # counts 0 .. GRID; every configuration below ends before GRID - 20, so the held tail is compared too


@pytest.fixture
def x64() -> Iterator[None]:
    with jax.enable_x64(True):
        yield


def _level(rng: np.random.Generator, peak: float) -> float:
    """0 (the factories' default) a third of the time, else a random level below the peak."""
    return 0.0 if rng.random() < 1 / 3 else float(peak * rng.uniform(0.0, 1.0))


def _compare(optax_fn: Any, native: rampup.Schedule, peak: float, config: dict[str, Any]) -> None:
    counts = jnp.arange(GRID + 1)
    theirs = np.asarray(optax_fn(counts), dtype=np.float64)
    assert theirs.dtype == np.float64
    ours = native(np.arange(GRID))
    np.testing.assert_allclose(ours, theirs[1:], rtol=0, atol=1e-13 * peak, err_msg=str(config))


def _cosine_config(rng: np.random.Generator) -> tuple[dict[str, Any], rampup.Schedule]:
    peak = float(10 ** rng.uniform(-5, 0))
    warmup = int(rng.integers(0, 80))
    decay_steps = warmup + int(rng.integers(1, 300))
    init, end = _level(rng, peak), _level(rng, peak)
    cfg = dict(init_value=init, peak_value=peak, warmup_steps=warmup, decay_steps=decay_steps, end_value=end)
    native = rampup.parse(
        f"linear({warmup}, start={init / peak!r}) -> cosine(floor={end / peak!r})",
        total_steps=decay_steps,
        peak_lr=peak,
    )
    return cfg, native


def _exponential_config(rng: np.random.Generator) -> tuple[dict[str, Any], rampup.Schedule]:
    peak = float(10 ** rng.uniform(-5, 0))
    warmup, begin = int(rng.integers(0, 60)), int(rng.integers(0, 60))
    staircase = bool(rng.random() < 0.5)
    # A staircase period is a power of two: optax floors count / transition_steps, which XLA evaluates as
    # count * (1 / transition_steps), one stair too low at exact multiples of e.g. 49 (rampup's NumPy
    # evaluation is exact there).
    every = int(2 ** rng.integers(0, 6)) if staircase else int(rng.integers(1, 50))
    rate = float(rng.uniform(0.05, 0.999))
    init = _level(rng, peak)
    end = None if rng.random() < 0.3 else float(peak * rng.uniform(0.0, 0.5))
    cfg = dict(
        init_value=init,
        peak_value=peak,
        warmup_steps=warmup,
        transition_steps=every,
        decay_rate=rate,
        transition_begin=begin,
        staircase=staircase,
        end_value=end,
    )
    floor = "" if end is None else f", floor={end / peak!r}"
    native = rampup.parse(
        f"linear({warmup}, start={init / peak!r}) -> constant({begin}) -> "
        f"exponential(rate={rate!r}, every={every}, staircase={str(staircase).lower()}{floor})",
        peak_lr=peak,
    )
    return cfg, native


def _sgdr_config(rng: np.random.Generator) -> tuple[dict[str, Any], rampup.Schedule]:
    # The SGDR family a native spec reproduces: a first cycle with its own warmup, then equal cycles that
    # re-warm from the floor over W >= 1 steps, with peaks decaying by a constant factor.  (With W = 0 optax
    # jumps to the next peak at the step where rampup still shows the previous cycle's floor.)
    peak = float(10 ** rng.uniform(-5, 0))
    w0, cycle, n = int(rng.integers(0, 30)), int(rng.integers(2, 90)), int(rng.integers(1, 5))
    rewarm = int(rng.integers(1, cycle))
    decay = 1.0 if rng.random() < 1 / 3 else float(rng.uniform(0.3, 1.0))
    floor = 0.0 if rng.random() < 1 / 3 else float(rng.uniform(0.0, 0.5))
    init0 = _level(rng, peak)
    cycles = [dict(init_value=init0, peak_value=peak, warmup_steps=w0, decay_steps=w0 + cycle, end_value=floor * peak)]
    cycles += [
        dict(
            init_value=floor * peak,
            peak_value=peak * decay**k,
            warmup_steps=rewarm,
            decay_steps=cycle,
            end_value=floor * peak,
        )
        for k in range(1, n)
    ]
    native = rampup.parse(
        f"linear({w0}, start={init0 / peak!r}) -> "
        f"restarts(cycle={cycle}, rewarm={rewarm}, cycle_decay={decay!r}, floor={floor!r})",
        total_steps=w0 + n * cycle,
        peak_lr=peak,
    )
    return {"cosine_kwargs": cycles}, native


FACTORIES = {
    "warmup_cosine_decay_schedule": (optax.warmup_cosine_decay_schedule, _cosine_config, 1),
    "warmup_exponential_decay_schedule": (optax.warmup_exponential_decay_schedule, _exponential_config, 2),
    "sgdr_schedule": (optax.sgdr_schedule, _sgdr_config, 3),
}


def _args(cfg: dict[str, Any]) -> str:
    def text(v: Any) -> str:
        return (
            "[" + ", ".join(f"optax:warmup_cosine_decay_schedule({_args(c)})" for c in v) + "]"
            if isinstance(v, list)
            else repr(v)
        )

    return ", ".join(f"{k}={text(v)}" for k, v in cfg.items() if v is not None)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_native_spec_is_optax_shifted_by_one(name: str, x64: None) -> None:
    factory, make, seed = FACTORIES[name]
    rng = np.random.default_rng(20240600 + seed)
    for _ in range(N_CONFIGS):
        cfg, native = make(rng)
        _compare(factory(**cfg), native, native.peak_lr, cfg)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_compat_spec_is_optax_without_a_shift(name: str, x64: None) -> None:
    # The 'optax:' compat specs (rampup/compat/optax_sched.py) keep optax's own convention, count for count,
    # for every configuration (also those without a native equivalent: see the sgdr rewarm of 0 below).
    rampup.parse("constant")  # loads the compat registry
    assert f"optax:{name}" in rampup.WHOLES, f"the compat spec optax:{name} is not registered"
    factory, make, seed = FACTORIES[name]
    rng = np.random.default_rng(20240610 + seed)
    counts = np.arange(GRID)
    for i in range(N_CONFIGS):
        cfg, native = make(rng)
        if name == "sgdr_schedule" and i % 2:
            for c in cfg["cosine_kwargs"]:
                c["warmup_steps"] = 0
        compat = rampup.parse(f"optax:{name}({_args(cfg)})")
        theirs = np.asarray(factory(**cfg)(jnp.asarray(counts)))
        np.testing.assert_allclose(compat(counts), theirs, rtol=0, atol=1e-13 * native.peak_lr, err_msg=str(cfg))  # type: ignore[operator]


def test_compat_spec_through_the_adapter_under_jit() -> None:
    # Any compat spec is an optax schedule too (no peak_lr: its values are optax's absolute values).
    rampup.parse("constant")
    assert "optax:warmup_cosine_decay_schedule" in rampup.WHOLES, "the optax: compat specs are not registered"
    import rampup.optax as ro

    cfg = dict(init_value=1e-5, peak_value=3e-4, warmup_steps=16, decay_steps=128, end_value=3e-5)
    lr = ro.schedule(f"optax:warmup_cosine_decay_schedule({_args(cfg)})")
    counts = jnp.arange(140)
    ours = np.asarray(jax.jit(lr)(counts))
    assert ours.dtype == np.float32
    theirs = np.asarray(jax.jit(optax.warmup_cosine_decay_schedule(**cfg))(counts))  # type: ignore[arg-type]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * 3e-4)


def test_the_shift_is_needed() -> None:
    # The mapping is a shift, not an identity: without it the two curves differ by a whole warmup step.
    theirs = np.asarray(optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100)(jnp.arange(101)))
    ours = rampup.parse("linear(10) -> cosine", total_steps=100, peak_lr=1.0)(np.arange(100))
    assert theirs[0] == 0.0 and ours[0] == 0.1  # optax's first update has LR 0
    assert theirs[10] == ours[9] == 1.0  # the peak: count 10 there, t = 9 here
    np.testing.assert_allclose(ours, theirs[1:], atol=1e-6)
    assert np.abs(ours - theirs[:-1]).max() > 0.09
