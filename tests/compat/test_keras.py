"""keras: specs against the installed Keras 3 (jax backend).

Tolerance.  Keras computes ``CosineDecay`` in the dtype of ``initial_learning_rate``, except its cosine:
``keras.ops.cos`` promotes a float64 tensor with a Python float to **float32** under the JAX backend
(Keras 3.15, ``backend/jax/numpy.py``), so the decay factor ``(1 − α)·½(1 + cos) + α`` always carries
float32 rounding.  Even with float64 inputs (jax x64, floatx float64, as here) the decay part can only be
compared to ~3e-7 of the peak (a few float32 ulps: the cast of π·t/D to float32, cos, two roundings); the
warmup part is float64 and is compared at 1e-12.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import rampup

from .helpers import assert_close

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
jax = pytest.importorskip("jax")
keras = pytest.importorskip("keras")

N_CONFIGS = 60
N_EVAL = 512
F32_DECAY_ATOL = 5e-7  # Keras' cosine is float32 (see the module docstring)


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """Keras computes in the dtype of initial_learning_rate: float64 inputs, x64 jax and floatx float64."""
    old_x64, old_floatx = jax.config.jax_enable_x64, keras.config.floatx()
    jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(old_floatx)
    jax.config.update("jax_enable_x64", old_x64)


def test_cosine_decay_matches_keras() -> None:
    rng = np.random.default_rng(400)
    for i in range(N_CONFIGS):
        peak = float(10 ** rng.uniform(-4, 0))
        kw: dict = {"decay_steps": int(rng.integers(1, 200)), "alpha": float(rng.choice([0.0, rng.uniform(0, 1)]))}
        if i % 3:
            kw["initial_learning_rate"] = float(rng.choice([0.0, peak * rng.uniform(0, 1)]))
            kw["warmup_target"] = peak
            kw["warmup_steps"] = [0, 1][i % 2] if i < 6 else int(rng.integers(0, 100))
        else:
            kw["initial_learning_rate"] = peak
        sched = keras.optimizers.schedules.CosineDecay(
            **{k: (np.float64(v) if isinstance(v, float) and k != "alpha" else v) for k, v in kw.items()}
        )
        want = np.asarray(jax.vmap(sched)(jax.numpy.arange(N_EVAL)), dtype=np.float64)
        assert want.dtype == np.float64
        w = kw.get("warmup_steps", 0)
        n = min(N_EVAL, w + kw["decay_steps"] + int(rng.integers(0, 60)))
        spec = f"keras:cosine_decay({', '.join(f'{k}={v!r}' for k, v in kw.items())})"
        got = rampup.parse(spec)(np.arange(n))
        assert_close(got[:w], want[:w], peak, spec)  # float64 in Keras too
        err = np.abs(got[w:] - want[w:n])
        assert err.max(initial=0.0) <= F32_DECAY_ATOL * peak, (spec, err.max() / peak)


def test_optimizer_uses_schedule_of_iterations() -> None:
    """The step rule: a Keras optimizer's LR before update t+1 is schedule(iterations = t)."""
    sched = keras.optimizers.schedules.CosineDecay(np.float64(0.0), 10, warmup_target=np.float64(0.1), warmup_steps=4)
    opt = keras.optimizers.SGD(learning_rate=sched)
    v = keras.Variable(np.zeros(1))
    spec = "keras:cosine_decay(initial_learning_rate=0.0, decay_steps=10, warmup_target=0.1, warmup_steps=4)"
    s = rampup.parse(spec)
    for t in range(6):
        assert float(opt.learning_rate) == pytest.approx(s(t), rel=1e-12 if t < 4 else 0.0, abs=F32_DECAY_ATOL * 0.1)
        opt.apply_gradients([(keras.ops.ones(1), v)])


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"initial_learning_rate: got 0\.0 without warmup_target"):
        rampup.parse("keras:cosine_decay(initial_learning_rate=0.0, decay_steps=10)")
