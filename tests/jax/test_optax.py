"""rampup.optax: the core's closed form as an optax schedule, under jit, vmap, inject_hyperparams and chains."""

from __future__ import annotations

import doctest
import pickle
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import rampup  # noqa: E402
import rampup.optax as ro  # noqa: E402

PEAK = 3e-4
TOTAL = 160
# Lengths are powers of two where a phase boundary ends on a division: XLA turns x / c into x * (1/c),
# which is exact only for such c (the other lengths are the core bug in test_core_jax.py).
SPECS = [
    "linear(16) -> cosine(floor=0.1)",
    "linear(8) -> cosine",
    "cosine(8, start=0.01) -> linear(floor=0.05)",
    "poly(16, power=2) -> poly(power=2, floor=0.01)",
    "exponential(30) -> invsqrt",
    "linear(8) -> exponential(rate=0.97, every=4, staircase=true, floor=0.01)",
    "linear(8) -> constant(24) -> step(every=32, gamma=0.5)",
    "linear(4) -> multistep(milestones=[64, 128], gamma=0.3)",
    "linear(8) -> wsd(cooldown=32, shape=1-sqrt, floor=0.05)",
    "linear(8) -> restarts(cycle=64, rewarm=8, cycle_decay=0.7, floor=0.1)",
    "noam(d_model=512, warmup=32)",
    "linear(8) -> cosine | rewarm(at=96, length=16)",
]
STEPS = np.arange(TOTAL + 20)  # past the end too: the final value is held


@pytest.fixture(scope="module")
def f32_values() -> dict[str, np.ndarray]:
    # One jitted evaluation per spec, shared by the tests below (compiling is the slow part on CPU).
    counts = jnp.asarray(STEPS, dtype=jnp.int32)
    return {spec: np.asarray(jax.jit(ro.schedule(spec, total_steps=TOTAL, peak_lr=PEAK))(counts)) for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS)
def test_float32_under_jit_matches_numpy(spec: str, f32_values: dict[str, np.ndarray]) -> None:
    ref = rampup.parse(spec, total_steps=TOTAL, peak_lr=PEAK)(STEPS)
    out = f32_values[spec]
    assert out.dtype == np.float32
    # Within 1e-6 of the peak everywhere; relative to each value where it is not far below the peak
    # (a cosine that ends at 0 has values of 1e-4·peak whose float32 cos carries 1e-7·peak of error).
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6 * PEAK)
    big = ref >= 0.05 * PEAK
    np.testing.assert_allclose(out[big], ref[big], rtol=3e-6, atol=0)


def test_float32_anchors_are_exact(f32_values: dict[str, np.ndarray]) -> None:
    # The peak at the last warmup step and the floor at the last step are exact in float32 too: the
    # multiple of the peak is exactly 1 and exactly float32(0.1), times float32(peak_lr).
    out = f32_values["linear(16) -> cosine(floor=0.1)"]
    assert out[15] == np.float32(PEAK)
    assert out[TOTAL - 1] == out[TOTAL + 19] == np.float32(0.1) * np.float32(PEAK)
    assert out[0] == np.float32(PEAK / 16)


def test_float64_mode_matches_numpy() -> None:
    # With jax_enable_x64 the count becomes float64 and so does every formula.  Not bit-for-bit: XLA
    # rewrites x / c as x * (1/c) and has its own cos/exp/pow, a few ulps from NumPy's.
    counts = np.arange(TOTAL + 20)
    with jax.enable_x64(True):
        for spec in SPECS[:6]:
            lr = ro.schedule(spec, total_steps=TOTAL, peak_lr=PEAK)
            out = np.asarray(jax.jit(lr)(jnp.asarray(counts)))
            assert out.dtype == np.float64, spec
            ref = rampup.parse(spec, total_steps=TOTAL, peak_lr=PEAK)(counts)
            np.testing.assert_allclose(out, ref, rtol=0, atol=2e-15 * PEAK, err_msg=spec)
            if spec == SPECS[0]:
                assert out[15] == PEAK and out[TOTAL - 1] == out[-1] == 0.1 * PEAK


def test_vmap_and_shapes() -> None:
    lr = ro.schedule("linear(8) -> cosine(floor=0.1)", total_steps=64, peak_lr=1.0)
    ref = rampup.parse("linear(8) -> cosine(floor=0.1)", total_steps=64, peak_lr=1.0)(np.arange(64))
    by_vmap = jax.jit(jax.vmap(lr))(jnp.arange(64))
    np.testing.assert_allclose(np.asarray(by_vmap), ref, atol=1e-6)
    grid = jax.vmap(jax.vmap(lr))(jnp.arange(64).reshape(8, 8))
    assert grid.shape == (8, 8)
    np.testing.assert_allclose(np.asarray(grid).ravel(), ref, atol=1e-6)
    assert lr(7).shape == () and float(lr(7)) == 1.0
    # Python and NumPy counts evaluate through jax as well (what optax itself does with an int count).
    assert isinstance(lr(np.int64(3)), jax.Array) and float(lr(3.0)) == float(lr(3))


def test_adamw_training_loop_under_jit() -> None:
    spec = "linear(8) -> cosine(floor=0.1)"
    n = 64
    lr = ro.schedule(spec, total_steps=n, peak_lr=0.3)
    opt = optax.inject_hyperparams(optax.adamw)(learning_rate=lr, weight_decay=1e-4)
    x = jax.random.normal(jax.random.PRNGKey(0), (32, 4))
    w_true = jnp.array([1.0, -2.0, 0.5, 3.0])
    y = x @ w_true

    def loss_fn(w: jax.Array) -> jax.Array:
        return jnp.mean((x @ w - y) ** 2)

    def step(carry, _):  # type: ignore[no-untyped-def]
        w, state = carry
        loss, g = jax.value_and_grad(loss_fn)(w)
        updates, state = opt.update(g, state, w)
        return (optax.apply_updates(w, updates), state), (loss, state.hyperparams["learning_rate"])

    w0 = jnp.zeros(4)
    (_, state), (losses, used) = jax.jit(lambda w, s: jax.lax.scan(step, (w, s), None, length=n))(w0, opt.init(w0))
    # inject_hyperparams records the LR each update used: update t+1 used schedule(t).
    ref = rampup.parse(spec, total_steps=n, peak_lr=0.3)(np.arange(n))
    np.testing.assert_allclose(np.asarray(used), ref, rtol=0, atol=1e-6 * 0.3)
    assert int(state.count) == n
    assert float(losses[-1]) < 1e-2 * float(losses[0])


def test_inject_hyperparams_schedules_weight_decay() -> None:
    # A second spec schedules the weight decay (0.04 -> 0.4, as in DINO).  With zero gradients AdamW's update
    # is the decay alone, p <- p·(1 - lr_t·wd_t): the product checks both schedules at every update, in jit.
    n = 40
    lr_spec, wd_spec = "linear(8) -> cosine(floor=0.1)", "cosine(40, start=0.1) -> constant"
    opt = optax.inject_hyperparams(optax.adamw)(
        learning_rate=ro.schedule(lr_spec, total_steps=n, peak_lr=0.1),
        weight_decay=ro.schedule(wd_spec, peak_lr=0.4),
        b1=ro.schedule("linear(4, start=0.5) -> constant", peak_lr=0.9),
    )

    def step(carry, _):  # type: ignore[no-untyped-def]
        p, state = carry
        updates, state = opt.update(jnp.zeros_like(p), state, p)
        return (optax.apply_updates(p, updates), state), state.hyperparams

    p0 = jnp.ones(3)
    (p, _), hp = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), None, length=n))(p0, opt.init(p0))
    lr_ref = rampup.parse(lr_spec, total_steps=n, peak_lr=0.1)(np.arange(n))
    wd_ref = rampup.parse(wd_spec, peak_lr=0.4)(np.arange(n))
    np.testing.assert_allclose(np.asarray(hp["learning_rate"]), lr_ref, atol=1e-7)
    np.testing.assert_allclose(np.asarray(hp["weight_decay"]), wd_ref, atol=1e-6)
    assert np.asarray(hp["weight_decay"], np.float64)[[0, 39]].round(6).tolist() == [0.040555, 0.4]
    np.testing.assert_allclose(np.asarray(hp["b1"])[:5], [0.5625, 0.675, 0.7875, 0.9, 0.9], atol=1e-7)
    np.testing.assert_allclose(np.asarray(p), np.prod(1.0 - lr_ref * wd_ref) * np.ones(3), rtol=1e-5)


def test_reduce_on_plateau_composed_on_top() -> None:
    # SGD on a gradient of ones: each update is -lr_t · scale_t, where scale_t is reduce_on_plateau's factor.
    n = 24
    spec = "linear(4) -> cosine(floor=0.1)"
    opt = optax.chain(
        optax.inject_hyperparams(optax.sgd)(learning_rate=ro.schedule(spec, total_steps=n, peak_lr=0.1)),
        optax.contrib.reduce_on_plateau(factor=0.5, patience=3),
    )

    def step(carry, _):  # type: ignore[no-untyped-def]
        p, state = carry
        updates, state = opt.update(jnp.ones_like(p), state, p, value=jnp.float32(1.0))  # a flat loss
        return (optax.apply_updates(p, updates), state), (updates[0], state[1].scale)

    p0 = jnp.zeros(2)
    _, (deltas, scales) = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), None, length=n))(p0, opt.init(p0))
    lr_ref = rampup.parse(spec, total_steps=n, peak_lr=0.1)(np.arange(n))
    scales = np.asarray(scales)
    assert scales[0] == 1.0 and scales[-1] < 0.1  # the plateau did cut the LR, several times
    np.testing.assert_allclose(np.asarray(deltas), -lr_ref * scales, rtol=1e-6)


def test_optax_schedule_objects() -> None:
    lr = ro.schedule("linear(10) -> cosine(floor=0.1)", total_steps=100, peak_lr=3e-4)
    assert (lr.peak_lr, lr.warmup_steps, lr.total_steps) == (3e-4, 10, 100)
    again = pickle.loads(pickle.dumps(lr))
    assert again == lr and hash(again) == hash(lr) and float(again(42)) == float(lr(42))
    assert ro.schedule(lr) == lr  # an OptaxSchedule passes through
    assert ro.schedule(lr.schedule) == lr  # so does a resolved Schedule
    assert repr(lr).startswith("rampup.optax.OptaxSchedule(Schedule('linear(10)")
    # Whole schedules carry their own scale: no peak_lr needed.
    noam = ro.schedule("noam(d_model=512, warmup=4000)")
    assert float(noam(3999)) == pytest.approx(6.988e-4, rel=1e-3)


def test_doctests() -> None:
    res = doctest.testmod(ro, optionflags=doctest.ELLIPSIS)
    assert res.attempted >= 6 and res.failed == 0


# ---------------------------------------------------------------------------
# Bad input: a clear TypeError/ValueError that names the argument, never a tracer error
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lr() -> ro.OptaxSchedule:
    return ro.schedule("linear(10) -> cosine", total_steps=100, peak_lr=1e-3)


@pytest.mark.parametrize("dtype", [jnp.bool_, jnp.complex64])
def test_wrong_count_dtype_is_a_type_error(lr: ro.OptaxSchedule, dtype: object) -> None:
    count = jnp.zeros((3,), dtype=dtype)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"count: got an array of dtype (bool|complex64); accepted: an int >= 0"):
        lr(count)
    with pytest.raises(TypeError, match=r"count: got an array of dtype"):  # at trace time, inside jit
        jax.jit(lr)(count)
    with pytest.raises(TypeError, match=r"count: got True"):
        lr(True)


def test_bad_counts(lr: ro.OptaxSchedule) -> None:
    with pytest.raises(ValueError, match=r"count: got -1; accepted: a finite count >= 0"):
        lr(-1)
    with pytest.raises(ValueError, match=r"count: got -2; accepted: counts >= 0"):
        lr(jnp.array([3, -2]))
    with pytest.raises(ValueError, match=r"count: got a non-finite value"):
        lr(np.array([np.nan]))
    with pytest.raises(TypeError, match=r"count: got builtins.str"):
        lr("3")
    with pytest.raises(TypeError, match=r"count: missing; .* for Keras use rampup.keras.WarmupSchedule"):
        lr()
    # Half-precision counts are evaluated in float32: bfloat16 alone cannot even count to 257.
    assert float(lr(jnp.asarray(9, jnp.bfloat16))) == 1e-3 * np.float32(1.0)


def test_torch_objects_are_refused() -> None:
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    with pytest.raises(TypeError, match=r"spec_or_schedule: got torch\.optim\.lr_scheduler\.LambdaLR, a PyTorch"):
        ro.schedule(sched, total_steps=10, peak_lr=0.1)
    from rampup.torch import WarmupScheduler

    ours = WarmupScheduler(opt, "linear(2) -> constant", total_steps=10)
    with pytest.raises(TypeError, match=r"got rampup\.torch\..*WarmupScheduler, rampup's PyTorch adapter"):
        ro.schedule(ours)
    lr = ro.schedule("constant", peak_lr=0.1)
    with pytest.raises(TypeError, match=r"count: got torch\.Tensor; .* rampup\.torch\.WarmupScheduler"):
        lr(torch.tensor(3))


def test_other_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"spec_or_schedule: got the function optax\..*, a function of the step"):
        ro.schedule(optax.cosine_decay_schedule(1e-3, 100))
    with pytest.raises(TypeError, match=r"spec_or_schedule: got builtins\.int; accepted: a spec string"):
        ro.schedule(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"peak_lr: missing; rampup\.optax\.schedule uses .*\(1\.0 at the peak\)"):
        ro.schedule("linear(10) -> cosine", total_steps=100)
    s = rampup.parse("linear(10) -> cosine", total_steps=100, peak_lr=1e-3)
    with pytest.raises(ValueError, match=r"total_steps: got 200, but spec_or_schedule is a rampup\.Schedule"):
        ro.schedule(s, total_steps=200)
    with pytest.raises(ValueError, match=r"cosine: needs a length or total_steps"):
        ro.schedule("linear(10) -> cosine", peak_lr=1e-3)


def test_import_rampup_optax_imports_neither_keras_nor_torch() -> None:
    code = (
        "import sys, rampup; assert 'jax' not in sys.modules; import rampup.optax; "
        "bad = [m for m in ('torch', 'keras', 'tensorflow') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
