"""One spec string, three frameworks, one LR sequence.

The same spec drives a real torch optimizer (``rampup.torch.WarmupScheduler``), an optax
optimizer inside ``jax.jit`` (``rampup.optax.schedule``) and a Keras optimizer inside
``model.fit`` on the JAX backend (``rampup.keras.WarmupSchedule``).  Each run is SGD on a
gradient of magnitude 1, so every update moves the parameter by exactly the LR it used:
the sequences compared are the updates themselves, not what a scheduler reports.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pytest

import rampup

SPEC = "linear(5) -> constant(3) -> cosine(floor=0.1)"
TOTAL = 20
UPDATES = 24  # past the end of the schedule: the floor is held
PEAK = 0.1


def torch_updates() -> np.ndarray:
    torch = pytest.importorskip("torch")
    from rampup.torch import WarmupScheduler

    p = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=PEAK)  # lr= is the peak
    sched = WarmupScheduler(opt, SPEC, total_steps=TOTAL)
    moved = []
    for _ in range(UPDATES):
        before = float(p.detach())
        p.grad = torch.ones((), dtype=torch.float64)
        opt.step()
        sched.step()
        moved.append(before - float(p.detach()))
    return np.array(moved)


def optax_updates() -> np.ndarray:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from rampup.optax import schedule

    opt = optax.sgd(learning_rate=schedule(SPEC, total_steps=TOTAL, peak_lr=PEAK))

    def step(carry: Any, _: Any) -> Any:
        p, state = carry
        updates, state = opt.update(jnp.ones_like(p), state, p)
        return (optax.apply_updates(p, updates), state), -updates

    p0 = jnp.zeros(())
    _, moved = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), None, length=UPDATES))(p0, opt.init(p0))
    return np.asarray(moved, dtype=np.float64)


def keras_updates() -> np.ndarray:
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "jax"  # read once, at the first `import keras`
    keras = pytest.importorskip("keras")
    if keras.config.backend() != "jax":
        pytest.skip(f"keras runs the {keras.config.backend()!r} backend in this process")
    from rampup.keras import WarmupSchedule

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(WarmupSchedule(SPEC, total_steps=TOTAL, peak_lr=PEAK)), loss="mae")
    weights: list[float] = []

    class Record(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            # self.model (not the closure's model): on JAX it syncs the weights out of the jitted train state.
            weights.append(float(self.model.layers[0].kernel.numpy()[0, 0]))

    # MAE against targets of ±1000 in turn: the gradient of the weight is ∓1, and the weight stays near 0.
    x = np.ones((UPDATES, 1), np.float32)
    y = np.array([[1000.0], [-1000.0]] * (UPDATES // 2), np.float32)
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0, callbacks=[Record()])
    return np.abs(np.diff([0.0, *weights]))


def test_same_lr_sequence_in_torch_optax_and_keras() -> None:
    expected = rampup.parse(SPEC, total_steps=TOTAL, peak_lr=PEAK)(np.arange(UPDATES))
    assert expected[4] == PEAK and expected[TOTAL - 1] == expected[-1] == 0.1 * PEAK  # what is compared
    got = {"torch": torch_updates(), "optax": optax_updates(), "keras": keras_updates()}
    # torch runs in float64: its updates are the NumPy values up to the rounding of p - lr.
    np.testing.assert_allclose(got["torch"], expected, rtol=1e-14, atol=0)
    # jax and Keras run in float32: within a few float32 ulps of the LR.
    for name in ("optax", "keras"):
        np.testing.assert_allclose(got[name], expected, rtol=2e-6, atol=0, err_msg=name)
    np.testing.assert_allclose(got["optax"], got["keras"], rtol=2e-6, atol=0)
