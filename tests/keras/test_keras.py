"""rampup.keras.WarmupSchedule: values, serialization, model.fit on the JAX backend, parity with CosineDecay."""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
if keras.config.backend() != "jax":  # tests/keras/conftest.py asks for jax unless keras was imported before
    pytest.skip(f"keras runs the {keras.config.backend()!r} backend in this process", allow_module_level=True)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import rampup  # noqa: E402
import rampup.keras as rk  # noqa: E402
from rampup.keras import WarmupSchedule  # noqa: E402

PEAK = 0.1


def _model() -> Any:
    """One weight, no bias: y = w·x."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    return model


def _data(n: int) -> tuple[np.ndarray, np.ndarray]:
    # x = 1 and targets of ±1000 in turn: with the MAE loss the gradient of w is ∓1 at every update, so an SGD
    # update moves w by exactly the LR it used, and w stays near 0 (its float32 ulp far below the LR).
    x = np.ones((n, 1), np.float32)
    y = np.array([[1000.0], [-1000.0]] * (n // 2), np.float32)
    return x, y


class RecordLR(keras.callbacks.Callback):  # type: ignore[misc]
    """The LR of each update (read before it) and the weight after it."""

    def __init__(self) -> None:
        super().__init__()
        self.lrs: list[float] = []
        self.weights: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.lrs.append(float(self.model.optimizer.learning_rate))

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.weights.append(float(self.model.layers[0].kernel.numpy()[0, 0]))


def test_values_match_numpy() -> None:
    steps = np.arange(140)
    for spec in ("linear(16) -> cosine(floor=0.1)", "cosine(8, start=0.01) -> wsd(cooldown=32, shape=1-sqrt)"):
        lr = WarmupSchedule(spec, total_steps=128, peak_lr=PEAK)
        ref = rampup.parse(spec, total_steps=128, peak_lr=PEAK)(steps)
        out = np.asarray(lr(steps))
        assert out.dtype == np.float32 and keras.config.floatx() == "float32"
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6 * PEAK)
        # Inside jit too (XLA fuses the formula: the same values to an ulp).
        np.testing.assert_allclose(np.asarray(jax.jit(lr)(jnp.asarray(steps))), out, rtol=2.5e-7, atol=0)
    lr = WarmupSchedule("linear(16) -> cosine(floor=0.1)", total_steps=128, peak_lr=PEAK)
    assert float(lr(15)) == np.float32(PEAK) and float(lr(127)) == float(lr(10**6)) == np.float32(0.1) * np.float32(
        PEAK
    )
    assert (lr.peak_lr, lr.total_steps, lr.warmup_steps) == (PEAK, 128, 16)


def test_config_round_trip() -> None:
    lr = WarmupSchedule(
        "linear(2%) -> cosine(floor_lr=1e-5) | rewarm(at=50%, length=10)", total_steps=1000, peak_lr=3e-4
    )
    cfg = lr.get_config()
    assert cfg == {
        "spec": "linear(2%) -> cosine(floor_lr=1e-05) | rewarm(at=50%, length=10)",
        "total_steps": 1000,
        "peak_lr": 3e-4,
    }
    assert json.loads(json.dumps(cfg)) == cfg  # plain JSON
    again = WarmupSchedule.from_config(cfg)
    assert again.schedule == lr.schedule and again.get_config() == cfg
    ser = keras.optimizers.schedules.serialize(lr)
    assert ser["registered_name"] == "rampup>WarmupSchedule"
    back = keras.optimizers.schedules.deserialize(json.loads(json.dumps(ser)))
    assert isinstance(back, WarmupSchedule) and back.schedule == lr.schedule
    # Other ways to give the same schedule: a spec dict, a Spec, a resolved Schedule, another WarmupSchedule.
    for other in (
        WarmupSchedule(lr.schedule.spec.to_dict(), total_steps=1000, peak_lr=3e-4),
        WarmupSchedule(lr.schedule.spec, total_steps=1000, peak_lr=3e-4),
        WarmupSchedule(lr.schedule),
        WarmupSchedule(lr),
    ):
        assert other.get_config() == cfg
    assert repr(lr).startswith("rampup.keras.WarmupSchedule(Schedule('linear(2%)")


def test_fit_records_the_lr_of_every_update() -> None:
    # The tested example of docs/keras.md: model.fit on the JAX backend (a jitted train step), the LR per step
    # recorded by a callback.  Two checks: the LR Keras reports before each update, and the update itself.
    spec, total = "linear(3) -> cosine(floor=0.1)", 8
    model = _model()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=WarmupSchedule(spec, total_steps=total, peak_lr=PEAK)), loss="mae"
    )
    rec = RecordLR()
    x, y = _data(total)
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    ref = rampup.parse(spec, total_steps=total, peak_lr=PEAK)(np.arange(total))
    np.testing.assert_allclose(rec.lrs, ref, rtol=0, atol=1e-6 * PEAK)
    steps_taken = np.abs(np.diff([0.0, *rec.weights]))  # |Δw| = the LR used inside the compiled step
    np.testing.assert_allclose(steps_taken, ref, rtol=2e-6)
    assert rec.lrs[2] == np.float32(PEAK)  # the peak at the last warmup step, t = 2
    assert int(model.optimizer.iterations) == total


def test_model_save_and_load_round_trip(tmp_path: Path) -> None:
    spec, total = "linear(3) -> cosine(floor=0.1)", 12
    model = _model()
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=WarmupSchedule(spec, total_steps=total, peak_lr=PEAK)),
        loss="mae",
    )
    x, y = _data(4)
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    sched = loaded.optimizer._learning_rate
    assert isinstance(sched, WarmupSchedule) and sched.schedule == rampup.parse(spec, total_steps=total, peak_lr=PEAK)
    assert int(loaded.optimizer.iterations) == 4
    # Resuming continues the schedule from the saved step: the next update is update 5, t = 4.
    assert float(loaded.optimizer.learning_rate) == pytest.approx(sched.schedule(4), rel=1e-6)


def test_parity_with_keras_cosine_decay() -> None:
    # Keras' CosineDecay(initial_learning_rate=i, decay_steps=D, alpha=a, warmup_target=P, warmup_steps=W)
    # is the native spec linear(W, start=i/P) -> cosine(floor=a), total_steps=W+D, peak_lr=P, shifted by
    # one step: keras(t + 1) == rampup(t); the keras:cosine_decay compat spec is keras(t) == compat(t).
    # Keras' own __call__ is evaluated for 60 random configurations at
    # once: its arguments become traced values (set after construction, which validates constants only), so
    # jit compiles once.
    rng = np.random.default_rng(20240605)
    n_cfg, grid = 60, 420
    peak = 10 ** rng.uniform(-5, 0, n_cfg)
    warmup = rng.integers(0, 100, n_cfg)
    decay = rng.integers(1, 300, n_cfg)
    init = np.where(rng.random(n_cfg) < 1 / 3, 0.0, peak * rng.uniform(0, 1, n_cfg)).tolist()
    alpha = np.where(rng.random(n_cfg) < 1 / 3, 0.0, rng.uniform(0, 1, n_cfg)).tolist()
    peak, warmup, decay = peak.tolist(), warmup.tolist(), decay.tolist()

    def cosine_decay(i: Any, p: Any, a: Any, w: Any, d: Any, step: Any) -> Any:
        k = keras.optimizers.schedules.CosineDecay(1.0, 1, warmup_target=1.0)
        k.initial_learning_rate, k.warmup_target, k.alpha, k.warmup_steps, k.decay_steps = i, p, a, w, d
        return k(step)

    per_step = jax.vmap(cosine_decay, in_axes=(None, None, None, None, None, 0))
    theirs = jax.jit(jax.vmap(per_step, in_axes=(0, 0, 0, 0, 0, None)))(
        *(jnp.asarray(v, jnp.float32) for v in (init, peak, alpha, warmup, decay)), jnp.arange(grid + 1)
    )
    theirs = np.asarray(theirs, np.float64)
    rampup.parse("constant")  # loads the compat registry
    compat = "keras:cosine_decay" in rampup.WHOLES
    for j in range(n_cfg):
        cfg = dict(i=init[j], P=peak[j], W=warmup[j], D=decay[j], a=alpha[j])
        ours = WarmupSchedule(
            f"linear({cfg['W']}, start={init[j] / peak[j]!r}) -> cosine(floor={alpha[j]!r})",
            total_steps=cfg["W"] + cfg["D"],
            peak_lr=peak[j],
        )
        np.testing.assert_allclose(
            np.asarray(ours(np.arange(grid)), np.float64), theirs[j, 1:], rtol=0, atol=1e-6 * peak[j], err_msg=str(cfg)
        )
        if compat:  # the keras: compat spec keeps Keras' convention: no shift, and no peak_lr needed
            args = f"initial_learning_rate={init[j]!r}, decay_steps={decay[j]}, alpha={alpha[j]!r}"
            same = WarmupSchedule(f"keras:cosine_decay({args}, warmup_target={peak[j]!r}, warmup_steps={warmup[j]})")
            np.testing.assert_allclose(
                np.asarray(same(np.arange(grid)), np.float64), theirs[j, :-1], rtol=0, atol=1e-6 * peak[j]
            )


def test_doctests() -> None:
    res = doctest.testmod(rk, optionflags=doctest.ELLIPSIS)
    assert res.attempted >= 4 and res.failed == 0


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_schedules_of_other_frameworks_are_refused() -> None:
    import optax

    import rampup.optax as ro

    theirs = ro.schedule("linear(10) -> cosine", total_steps=100, peak_lr=1e-3)
    with pytest.raises(TypeError, match=r"spec: got rampup\.optax\.OptaxSchedule, the adapter of another framework"):
        WarmupSchedule(theirs)
    with pytest.raises(TypeError, match=r"spec: got the function optax\..*, a function of the step"):
        WarmupSchedule(optax.linear_schedule(0.0, 1e-3, 10))
    with pytest.raises(TypeError, match=r"spec_or_schedule: got rampup\.keras\.WarmupSchedule, .* pass its \.schedule"):
        ro.schedule(WarmupSchedule("linear(10) -> cosine", total_steps=100, peak_lr=1e-3))
    with pytest.raises(TypeError, match=r"spec_or_schedule: got keras\.src\..*CosineDecay, a Keras object"):
        ro.schedule(keras.optimizers.schedules.CosineDecay(1e-3, 100))
    # A rampup.optax schedule given to a Keras optimizer: Keras calls a callable LR without the step.
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=theirs), loss="mae")
    with pytest.raises(TypeError, match=r"count: missing; .* for Keras use rampup\.keras\.WarmupSchedule"):
        model.fit(*_data(2), batch_size=1, verbose=0)


def test_torch_objects_are_refused() -> None:
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match=r"spec: got torch\.optim\.lr_scheduler\.StepLR, a PyTorch object"):
        WarmupSchedule(torch.optim.lr_scheduler.StepLR(opt, 10), peak_lr=0.1)
    lr = WarmupSchedule("constant", peak_lr=0.1)
    with pytest.raises(TypeError, match=r"step: got torch\.Tensor but Keras runs the 'jax' backend"):
        lr(torch.tensor(3))


def test_bad_steps_and_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    lr = WarmupSchedule("linear(10) -> cosine", total_steps=100, peak_lr=1e-3)
    with pytest.raises(TypeError, match=r"step: got True; accepted"):
        lr(True)
    with pytest.raises(TypeError, match=r"step: got a tensor of dtype bool"):
        lr(jnp.zeros(3, bool))
    with pytest.raises(TypeError, match=r"step: got a tensor of dtype complex64"):
        lr(jnp.zeros(3, jnp.complex64))
    with pytest.raises(ValueError, match=r"step: got -1; accepted: a finite step >= 0"):
        lr(-1)
    with pytest.raises(ValueError, match=r"peak_lr: missing; rampup\.keras\.WarmupSchedule uses"):
        WarmupSchedule("linear(10) -> cosine", total_steps=100)
    with pytest.raises(
        ValueError, match=r"total_steps: got 5, but spec is a rampup\.Schedule that is already resolved"
    ):
        WarmupSchedule(lr.schedule, total_steps=5)
    monkeypatch.setattr(keras.config, "backend", lambda: "tensorflow")
    with pytest.raises(ValueError, match=r"KERAS_BACKEND: got 'tensorflow'; accepted: 'jax', 'torch', 'numpy'"):
        WarmupSchedule("constant", peak_lr=1e-3)


def test_torch_backend(tmp_path: Path) -> None:
    # The same schedule on Keras' torch backend (its own process: Keras reads KERAS_BACKEND once).
    pytest.importorskip("torch")
    script = textwrap.dedent(
        """
        import numpy as np, keras, rampup
        from rampup.keras import WarmupSchedule
        assert keras.config.backend() == "torch"
        spec = "linear(3) -> cosine(floor=0.1)"
        lr = WarmupSchedule(spec, total_steps=6, peak_lr=0.1)
        x = np.ones((6, 1), "float32"); y = np.array([[1000.0], [-1000.0]] * 3, "float32")
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mae")
        w = []
        cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: w.append(float(model.layers[0].kernel.numpy()[0, 0])))
        model.fit(x, y, batch_size=1, shuffle=False, verbose=0, callbacks=[cb])
        ref = rampup.parse(spec, total_steps=6, peak_lr=0.1)(np.arange(6))
        np.testing.assert_allclose(np.abs(np.diff([0.0] + w)), ref, rtol=2e-6)
        print("ok", type(lr(3)).__module__)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", "torch"]


def test_import_without_a_usable_backend_says_what_to_set(tmp_path: Path) -> None:
    # Keras 3 defaults to TensorFlow; without it `import keras` fails, and rampup.keras says what to do.
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("tensorflow is installed: keras imports, and WarmupSchedule refuses the backend instead")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    out = subprocess.run(
        [sys.executable, "-c", "import rampup.keras"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode != 0
    assert "ImportError: rampup.keras: importing keras failed" in out.stderr
    assert "set KERAS_BACKEND=jax (or torch) before the first `import keras`" in out.stderr
