"""keras: specs against the installed Keras 3 (jax backend), evaluated as ``model.fit`` evaluates them.

``model.fit`` runs the train step under ``jax.jit`` and the optimizer calls ``schedule(iterations)`` there,
with ``iterations`` an int32.  The reference is therefore ``jax.jit(jax.vmap(schedule))`` of int32 steps in
Keras' default float32 (checked against a real ``model.fit`` below, with an optimizer that records the LR
each update is given).  XLA rewrites ``step / c`` into ``step · (1/c)`` and fuses ``a·b + c``: the specs do
the same, so staircase drops and restarts land on the same step as in Keras.

Tolerance.  Arithmetic is reproduced exactly; XLA's float32 ``cos``/``pow``/``log`` are not correctly
rounded, and the specs evaluate them in float64 and round, so a value may differ by a float32 ulp or two
(relative ~1e-7), and next to a zero of ``1 + cos`` by that much of the peak.  On top of the tolerance,
most values must be bit-identical (``MIN_EXACT``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import rampup
from rampup.tools.explain import explain

from .helpers import arg_text

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
jax = pytest.importorskip("jax")
keras = pytest.importorskip("keras")
jnp = jax.numpy
KS = keras.optimizers.schedules
if keras.backend.backend() != "jax":  # pragma: no cover - tests/keras/conftest.py selects jax before Keras loads
    pytest.skip(
        f"the keras: specs reproduce Keras on JAX; this process runs {keras.backend.backend()}", allow_module_level=True
    )

N_CONFIGS = 40
N_EVAL = 1500
F32_REL = 2.5e-7  # ~4 float32 ulps of the value
F32_PEAK = 3e-7  # ~5 float32 ulps of the peak (the cos argument carries the rounding of step·(1/D)·π)
TINY = 2.0**-126  # XLA flushes float32 subnormals to zero
MIN_EXACT = 0.8


@pytest.fixture(autouse=True, scope="module")
def _float32():
    """Keras' defaults: floatx float32, jax without x64 (tests elsewhere may have changed them)."""
    old_x64, old_floatx = jax.config.jax_enable_x64, keras.config.floatx()
    jax.config.update("jax_enable_x64", False)
    keras.config.set_floatx("float32")
    yield
    keras.config.set_floatx(old_floatx)
    jax.config.update("jax_enable_x64", old_x64)


def _spec(name: str, kw: dict) -> str:
    return f"keras:{name}({', '.join(f'{k}={arg_text(v)}' for k, v in kw.items())})"


def _jit_values(sched: Any, n: int) -> np.ndarray:
    return np.asarray(jax.jit(jax.vmap(sched))(jnp.arange(n, dtype=jnp.int32)), dtype=np.float64)


def _steps(rng: np.random.Generator) -> float:
    """A decay length: a whole number, or a float with two decimals (Keras accepts both)."""
    return float(rng.choice([int(rng.integers(1, 300)), round(float(rng.uniform(0.1, 100)), 2), 41, 1]))


def _random(rng: np.random.Generator, kind: str, i: int) -> tuple[Any, dict]:
    """(Keras class, kwargs) of a random configuration; the first ones are edge cases."""
    init = float(10 ** rng.uniform(-5, 0))
    if kind == "cosine_decay":
        kw: dict[str, Any] = {
            "initial_learning_rate": init,
            "decay_steps": [1, 2][i] if i < 2 else int(rng.integers(1, 500)),
        }
        kw["alpha"] = float(rng.choice([0.0, 1.0, rng.uniform(0, 1)]))
        if i % 3:
            kw["initial_learning_rate"] = float(rng.choice([0.0, init]))
            kw["warmup_target"] = init * float(rng.uniform(1, 3))
            kw["warmup_steps"] = [0, 1][i % 2] if i < 6 else int(rng.integers(0, 300))
        return KS.CosineDecay, kw
    if kind == "cosine_decay_restarts":
        return KS.CosineDecayRestarts, {
            "initial_learning_rate": init,
            "first_decay_steps": 1.0 if i == 0 else _steps(rng),
            "t_mul": float(rng.choice([1.0, 2.0, 3.0, rng.uniform(1.01, 3)])),
            "m_mul": float(rng.choice([1.0, 0.0, rng.uniform(0, 1)])),
            "alpha": float(rng.choice([0.0, rng.uniform(0, 1)])),
        }
    if kind == "exponential_decay":
        return KS.ExponentialDecay, {
            "initial_learning_rate": init,
            "decay_steps": _steps(rng),
            "decay_rate": float(rng.choice([0.0, 1.0, 0.5, rng.uniform(0, 1)])),
            "staircase": bool(i % 2),
        }
    if kind == "inverse_time_decay":
        return KS.InverseTimeDecay, {
            "initial_learning_rate": init,
            "decay_steps": _steps(rng),
            "decay_rate": float(rng.choice([0.0, 0.5, rng.uniform(0, 20)])),
            "staircase": bool(i % 2),
        }
    if kind == "polynomial_decay":
        return KS.PolynomialDecay, {
            "initial_learning_rate": float(rng.choice([0.0, init])) if i > 3 else init,
            "decay_steps": _steps(rng),
            "end_learning_rate": float(init * rng.choice([0.0, rng.uniform(0, 1), rng.uniform(1, 2)])),
            "power": float(rng.choice([1.0, 2.0, 0.5, 0.0, rng.uniform(0, 4)])),
            "cycle": bool(i % 2),
        }
    if kind == "piecewise_constant_decay":
        nb = int(rng.integers(1, 6))
        b = sorted(
            float(rng.choice([int(rng.integers(0, N_EVAL)), round(float(rng.uniform(0, N_EVAL)), 1)]))
            for _ in range(nb)
        )
        if i == 0:
            b = [0.0, 0.0, 5.0]  # a repeated boundary and one at step 0
        vals = [float(rng.choice([0.0, 10 ** rng.uniform(-5, 0)])) for _ in range(len(b) + 1)]
        vals[int(rng.integers(0, len(vals)))] = init
        return KS.PiecewiseConstantDecay, {"boundaries": b, "values": vals}
    raise AssertionError(kind)


KINDS = [
    "cosine_decay",
    "cosine_decay_restarts",
    "exponential_decay",
    "inverse_time_decay",
    "polynomial_decay",
    "piecewise_constant_decay",
]


def _peak(kind: str, kw: dict) -> float:
    if kind == "piecewise_constant_decay":
        return max(kw["values"])
    if kind == "polynomial_decay":
        return max(kw["initial_learning_rate"], kw["end_learning_rate"])
    return kw.get("warmup_target") or kw["initial_learning_rate"]


def _cycle_starts(kw: dict, n: int) -> set[int]:
    """CosineDecayRestarts with t_mul != 1: the steps where a cycle starts, in exact arithmetic."""
    d, m = float(np.float32(kw["first_decay_steps"])), float(np.float32(kw["t_mul"]))
    out, k = set(), 1
    while m != 1.0 and k < 200:
        s = d * (m**k - 1.0) / (m - 1.0)
        if s > n:
            break
        if abs(s - round(s)) < 1e-4 * max(1.0, s):
            out.add(round(s))
        k += 1
    return out


def _amplification(kind: str, kw: dict) -> float:
    """CosineDecayRestarts computes ``(1 − t_mul^i)/(1 − t_mul)``: XLA's float32 ``pow`` differs from a
    correctly rounded one by an ulp, and the division by ``1 − t_mul`` amplifies that by ``1/(t_mul − 1)``."""
    if kind == "cosine_decay_restarts" and kw["t_mul"] != 1.0:
        return max(1.0, 0.5 / (kw["t_mul"] - 1.0))
    return 1.0


def _compare(
    got: np.ndarray, want: np.ndarray, peak: float, what: str, knife: set[int] = frozenset(), amp: float = 1.0
) -> int:
    """Asserts the tolerance; returns how many values are bit-identical.

    ``knife``: steps where Keras decides a cycle with ``⌊log(u)/log(t_mul)⌋`` at an exact integer; XLA's
    float32 ``log`` is not correctly rounded, so there Keras may restart one step late (or on time).
    """
    assert np.all(np.isfinite(got)) and np.all(got >= 0.0), what
    err = np.abs(got - want)
    tol = F32_REL * np.abs(want) + F32_PEAK * amp * peak + TINY
    bad = np.array([t for t in np.flatnonzero(err > tol) if t not in knife], dtype=int)
    assert bad.size == 0, f"{what}: step {bad[0]}: rampup {got[bad[0]]!r} vs keras {want[bad[0]]!r}"
    return int(np.sum(got == want))


@pytest.mark.parametrize("kind", KINDS)
def test_matches_keras_under_jit(kind: str) -> None:
    rng = np.random.default_rng(KINDS.index(kind) + 11)
    exact = total = refused = 0
    for i in range(N_CONFIGS):
        cls, kw = _random(rng, kind, i)
        spec = _spec(kind, kw)
        want = _jit_values(cls(**kw), N_EVAL)
        try:
            s = rampup.parse(spec)
        except ValueError as e:
            # Refused only where Keras itself gives no usable LR: NaN or negative from decay_steps on, or 0.
            assert kind == "polynomial_decay", (spec, e)
            if "train nothing" in str(e):
                assert np.all(want == 0.0), (spec, e)
            else:
                assert "decay_steps" in str(e) and (np.isnan(want).any() or (want < 0).any()), (spec, e)
            refused += 1
            continue
        got = s(np.arange(N_EVAL))
        knife = _cycle_starts(kw, N_EVAL) if kind == "cosine_decay_restarts" else set()
        exact += _compare(got, want, _peak(kind, kw), spec, knife, _amplification(kind, kw))
        total += N_EVAL
        # scalar evaluation is the same curve, bit for bit
        for t in (0, 1, int(rng.integers(0, N_EVAL)), N_EVAL - 1):
            assert s(t) == got[t], (spec, t)
    assert exact >= MIN_EXACT * total, (kind, exact / total)
    # most random configurations are valid (the core also refuses those that are 0 over the whole run)
    assert refused <= N_CONFIGS * 3 // 10


class _LRProbe(keras.optimizers.Optimizer):
    """An optimizer whose update writes the LR it was given into the weight: the LR each update used."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        self.assign(variable, keras.ops.full((1, 1), keras.ops.cast(learning_rate, "float32")))


def _fit_lrs(sched: Any, n: int) -> np.ndarray:
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=_LRProbe(learning_rate=sched), loss="mse")
    seen: list[float] = []

    def record(batch: int, logs: Any) -> None:
        model.jax_state_sync()
        seen.append(float(np.asarray(model.layers[0].kernel.value)[0, 0]))

    x = np.zeros((n, 1), np.float32)
    model.fit(
        x,
        x,
        batch_size=1,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=record)],
    )
    return np.asarray(seen)


def test_model_fit_uses_the_jit_values() -> None:
    """A real ``model.fit``: update t + 1 uses schedule(t) as jit computes it (the staircase drops late at 41)."""
    sched = KS.ExponentialDecay(1.0, 41, 0.5, staircase=True)
    lrs = _fit_lrs(sched, 90)
    spec = rampup.parse(
        "keras:exponential_decay(initial_learning_rate=1.0, decay_steps=41, decay_rate=0.5, staircase=true)"
    )
    assert lrs.tolist() == spec(np.arange(90)).tolist()
    assert lrs[41] == 1.0 and lrs[42] == 0.5  # step·(1/41) < 1 at step 41 under XLA; 41/41 = 1 in Python
    assert float(sched(41)) == 0.5  # eager Keras divides exactly: the jit value is the one training uses
    rng = np.random.default_rng(5)
    for kind in KINDS:
        cls, kw = _random(rng, kind, 7)
        try:
            s = rampup.parse(_spec(kind, kw))
        except ValueError:
            continue
        got = s(np.arange(60))
        knife = _cycle_starts(kw, 60) if kind == "cosine_decay_restarts" else set()
        _compare(got, _fit_lrs(cls(**kw), 60), _peak(kind, kw), _spec(kind, kw), knife, _amplification(kind, kw))


def test_float64_dtype() -> None:
    """dtype=float64: Keras with floatx float64 and jax x64 (its cosine stays float32 under JAX)."""
    jax.config.update("jax_enable_x64", True)
    keras.config.set_floatx("float64")
    try:
        rng = np.random.default_rng(3)
        for kind in KINDS:
            for i in range(10):
                cls, kw = _random(rng, kind, i + 6)
                kw64 = {k: (np.float64(v) if k == "initial_learning_rate" else v) for k, v in kw.items()}
                want = np.asarray(jax.jit(jax.vmap(cls(**kw64)))(jnp.arange(400)), dtype=np.float64)
                try:
                    s = rampup.parse(_spec(kind, {**kw, "dtype": "float64"}))
                except ValueError:
                    assert kind == "polynomial_decay" and (np.isnan(want).any() or (want <= 0).all())
                    continue
                got = s(np.arange(400))
                peak = _peak(kind, kw)
                tol = (5e-7 * _amplification(kind, kw) if "cosine" in kind else 1e-14) * peak + 1e-14 * np.abs(want)
                knife = _cycle_starts(kw, 400) if kind == "cosine_decay_restarts" else set()
                bad = [t for t in np.flatnonzero(np.abs(got - want) > tol) if t not in knife]
                assert not bad, (kind, kw, bad[:5], got[bad[:5]], want[bad[:5]])
    finally:
        keras.config.set_floatx("float32")
        jax.config.update("jax_enable_x64", False)


def test_optimizer_uses_schedule_of_iterations() -> None:
    """The step rule: a Keras optimizer's LR before update t+1 is schedule(iterations = t)."""
    sched = KS.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=4)
    opt = keras.optimizers.SGD(learning_rate=sched)
    v = keras.Variable(np.zeros(1, np.float32))
    s = rampup.parse("keras:cosine_decay(initial_learning_rate=0.0, decay_steps=10, warmup_target=0.1, warmup_steps=4)")
    for t in range(6):
        assert float(opt.learning_rate) == pytest.approx(s(t), rel=F32_REL, abs=F32_PEAK * 0.1)
        opt.apply_gradients([(keras.ops.ones(1), v)])


def test_round_trip_and_quirks() -> None:
    for kind in KINDS:
        rng = np.random.default_rng(1)
        _, kw = _random(rng, kind, 9)
        try:
            spec = rampup.Spec.parse(_spec(kind, kw))
        except ValueError:
            continue
        assert rampup.Spec.parse(str(spec)) == spec
        assert rampup.Spec.from_dict(spec.to_dict()) == spec
    e = explain(
        rampup.parse(
            "keras:exponential_decay(initial_learning_rate=0.1, decay_steps=41, decay_rate=0.5, staircase=true)"
        ),
        total_steps=200,
    )
    assert any("one step late at step(s) 41, 82" in n for n in e.notes), e.notes
    assert any("float32" in n for n in e.notes)
    e = explain(rampup.parse("keras:piecewise_constant_decay(boundaries=[2.7], values=[0.1, 0.01])"))
    assert any("2.7 act as whole steps" in n for n in e.notes), e.notes


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"initial_learning_rate: got 0\.0 without warmup_target"):
        rampup.parse("keras:cosine_decay(initial_learning_rate=0.0, decay_steps=10)")
    with pytest.raises(ValueError, match=r"t_mul: got 0\.5; accepted: a number in \[1, 1e6\]"):
        rampup.parse("keras:cosine_decay_restarts(initial_learning_rate=0.1, first_decay_steps=10, t_mul=0.5)")
    with pytest.raises(ValueError, match=r"m_mul: got 1\.5; accepted: a number in \[0, 1\]"):
        rampup.parse("keras:cosine_decay_restarts(initial_learning_rate=0.1, first_decay_steps=10, m_mul=1.5)")
    with pytest.raises(ValueError, match=r"decay_rate: got 1\.5; accepted: a number in \[0, 1\]"):
        rampup.parse("keras:exponential_decay(initial_learning_rate=0.1, decay_steps=10, decay_rate=1.5)")
    with pytest.raises(ValueError, match=r"decay_steps: got '0'"):
        rampup.parse("keras:inverse_time_decay(initial_learning_rate=0.1, decay_steps=0, decay_rate=1.0)")
    with pytest.raises(ValueError, match=r"boundaries: got 1 for 3 values"):
        rampup.parse("keras:piecewise_constant_decay(boundaries=[5], values=[0.1, 0.01, 0.001])")
    with pytest.raises(ValueError, match=r"boundaries: got \[\]"):
        rampup.parse("keras:piecewise_constant_decay(boundaries=[], values=[0.1])")
    with pytest.raises(ValueError, match=r"values\[1\]: got -0\.01"):
        rampup.parse("keras:piecewise_constant_decay(boundaries=[5], values=[0.1, -0.01])")
    with pytest.raises(ValueError, match=r"boundaries: got \[5\.0, 3\.0\]; accepted: non-decreasing"):
        rampup.parse("keras:piecewise_constant_decay(boundaries=[5, 3], values=[0.1, 0.01, 0.001])")
    with pytest.raises(ValueError, match=r"got 0\.0 with end_learning_rate=0\.0"):
        rampup.parse("keras:polynomial_decay(initial_learning_rate=0.0, decay_steps=10, end_learning_rate=0.0)")
    # Keras under jit: 1 − 79·(1/79) < 0 in float32, so (negative)^0.5 is NaN from step 79 on.
    with pytest.raises(ValueError, match=r"decay_steps: got 79\.0; .* LR is NaN .* e\.g\. 77"):
        rampup.parse("keras:polynomial_decay(initial_learning_rate=0.1, decay_steps=79, power=0.5)")
    with pytest.raises(ValueError, match="dtype: got 'float16'"):
        rampup.parse(
            "keras:exponential_decay(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, dtype=float16)"
        )


def test_extreme_arguments_are_refused_not_nan() -> None:
    """Arguments Keras would overflow, flush to 0 or turn into NaN are refused with the argument named."""
    with pytest.raises(
        ValueError, match=r"decay_rate: got 1e\+300; accepted: 0 or a magnitude in \[1\.2e-38, 3\.4e38\]"
    ):
        rampup.parse("keras:inverse_time_decay(initial_learning_rate=0.1, decay_steps=1, decay_rate=1e300)")
    with pytest.raises(ValueError, match=r"initial_learning_rate: got 1e-320"):
        rampup.parse("keras:exponential_decay(initial_learning_rate=1e-320, decay_steps=1, decay_rate=0.5)")
    with pytest.raises(ValueError, match=r"give LR nan at step 0 \(as Keras would\)"):
        rampup.parse(
            "keras:inverse_time_decay(initial_learning_rate=0.1, decay_steps=1e-300, decay_rate=1e300, dtype=float64)"
        )
    with pytest.raises(ValueError, match=r"give LR nan at step"):
        rampup.parse("keras:cosine_decay_restarts(initial_learning_rate=0.1, first_decay_steps=1e-37, t_mul=1.0)")


def test_values_are_kerass_float32_values() -> None:
    """Without peak_lr a spec gives Keras's own numbers, the float32 peak included."""
    s = rampup.parse("keras:exponential_decay(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)")
    want = _jit_values(KS.ExponentialDecay(0.1, 3, 0.5), 7)
    assert s(0) == float(np.float32(0.1)) == want[0]
    assert s(np.arange(7)).tolist() == want.tolist()
    # peak_lr rescales the curve to peak there, as for every spec
    assert rampup.parse(str(s.spec), peak_lr=0.1)(0) == 0.1


def test_extreme_steps_hold_a_finite_value() -> None:
    """Past Keras' int32 counter the value of step 2^31 − 1 is held; nothing overflows."""
    for spec in (
        "keras:polynomial_decay(initial_learning_rate=0.1, decay_steps=10, cycle=true, power=0.5)",
        "keras:inverse_time_decay(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.0)",
        "keras:cosine_decay_restarts(initial_learning_rate=0.1, first_decay_steps=3, t_mul=3.0)",
        "keras:exponential_decay(initial_learning_rate=0.1, decay_steps=7, decay_rate=1.0)",
    ):
        s = rampup.parse(spec)
        v = s(np.array([0.0, 2.0**31 - 1, 2.0**31, 1e20, 1e308]))
        assert np.all(np.isfinite(v)) and np.all(v >= 0) and v[2] == v[1] == v[3] == v[4], (spec, v)
        assert s(1e308) == v[4]
