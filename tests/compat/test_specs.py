"""Every compat spec: registered, round-trips, evaluates alike on every backend, explains itself, suggests a fix."""

from __future__ import annotations

import doctest
import importlib
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import rampup
import rampup.compat
from rampup.cli import main
from rampup.tools.explain import explain

from .helpers import assert_close

# One configuration per compat spec (lengths small, so every phase shows in 0 … 119).
SAMPLES = {
    "hf:linear": "hf:linear(num_warmup_steps=10, num_training_steps=100)",
    "hf:cosine": "hf:cosine(num_warmup_steps=10, num_training_steps=100)",
    "hf:cosine_with_restarts": "hf:cosine_with_restarts(num_warmup_steps=10, num_training_steps=100, num_cycles=3)",
    "hf:polynomial": "hf:polynomial(num_warmup_steps=10, num_training_steps=100, lr_end=0.0, power=2.0)",
    "hf:constant": "hf:constant",
    "hf:constant_with_warmup": "hf:constant_with_warmup(num_warmup_steps=10)",
    "hf:inverse_sqrt": "hf:inverse_sqrt(num_warmup_steps=10)",
    "hf:cosine_with_min_lr": "hf:cosine_with_min_lr(num_warmup_steps=10, num_training_steps=100, min_lr_rate=0.1)",
    "hf:cosine_warmup_with_min_lr": (
        "hf:cosine_warmup_with_min_lr(num_warmup_steps=10, num_training_steps=100, min_lr_rate=0.1)"
    ),
    "hf:warmup_stable_decay": "hf:warmup_stable_decay(num_warmup_steps=10, num_decay_steps=20, num_training_steps=100)",
    "torch:linear_lr": "torch:linear_lr(start_factor=0.1, total_iters=10)",
    "torch:constant_lr": "torch:constant_lr(factor=0.5, total_iters=10)",
    "torch:step_lr": "torch:step_lr(step_size=30, gamma=0.5)",
    "torch:multi_step_lr": "torch:multi_step_lr(milestones=[30, 60], gamma=0.5)",
    "torch:exponential_lr": "torch:exponential_lr(gamma=0.98)",
    "torch:cosine_annealing_lr": "torch:cosine_annealing_lr(T_max=50)",
    "torch:cosine_annealing_warm_restarts": "torch:cosine_annealing_warm_restarts(T_0=20, T_mult=2)",
    "torch:polynomial_lr": "torch:polynomial_lr(total_iters=80, power=2.0)",
    "torch:one_cycle_lr": "torch:one_cycle_lr(total_steps=100)",
    "torch:sequential_lr": (
        "torch:sequential_lr(schedulers=[torch:linear_lr(start_factor=0.1, total_iters=10), "
        "torch:cosine_annealing_lr(T_max=90)], milestones=[10])"
    ),
    "timm:cosine": "timm:cosine(t_initial=100, warmup_t=10, t_in_epochs=false)",
    "timm:tanh": "timm:tanh(t_initial=100, warmup_t=10, t_in_epochs=false)",
    "timm:step": "timm:step(decay_t=30, decay_rate=0.5, warmup_t=10, t_in_epochs=false)",
    "timm:multistep": "timm:multistep(decay_t=[30, 60], decay_rate=0.5, warmup_t=10, t_in_epochs=false)",
    "timm:poly": "timm:poly(t_initial=100, warmup_t=10, warmup_prefix=true, t_in_epochs=false)",
    "timm:wsd": "timm:wsd(t_initial=90, decay_t=20, warmup_t=10, t_in_epochs=false)",
    "pw:linear": "constant | pw:linear(warmup_period=10)",
    "pw:exponential": "constant | pw:exponential(warmup_period=10)",
    "pw:untuned_linear": "hf:constant | pw:untuned_linear(beta2=0.98)",
    "pw:untuned_exponential": "constant | pw:untuned_exponential(beta2=0.95)",
    "pw:radam": "torch:exponential_lr(gamma=0.99) | pw:radam(beta2=0.98)",
    "optax:warmup_cosine_decay_schedule": (
        "optax:warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.001, warmup_steps=10, decay_steps=100)"
    ),
    "optax:warmup_exponential_decay_schedule": (
        "optax:warmup_exponential_decay_schedule(init_value=0.0, peak_value=0.001, warmup_steps=10, "
        "transition_steps=10, decay_rate=0.8)"
    ),
    "optax:linear_onecycle_schedule": "optax:linear_onecycle_schedule(transition_steps=100, peak_value=0.001)",
    "optax:cosine_onecycle_schedule": "optax:cosine_onecycle_schedule(transition_steps=100, peak_value=0.001)",
    "optax:sgdr_schedule": (
        "optax:sgdr_schedule(cosine_kwargs=[optax:warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.001, "
        "warmup_steps=5, decay_steps=50), optax:warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.0005, "
        "warmup_steps=5, decay_steps=50)])"
    ),
    "optax:constant_schedule": "optax:constant_schedule(value=0.001)",
    "optax:polynomial_schedule": (
        "optax:polynomial_schedule(init_value=0.001, end_value=0.0001, power=2.0, transition_steps=100)"
    ),
    "optax:linear_schedule": "optax:linear_schedule(init_value=0.0, end_value=0.001, transition_steps=10)",
    "optax:warmup_constant_schedule": "optax:warmup_constant_schedule(init_value=0.0, peak_value=0.001, warmup_steps=10)",
    "optax:exponential_decay": (
        "optax:exponential_decay(init_value=0.001, transition_steps=41, decay_rate=0.5, staircase=true)"
    ),
    "optax:cosine_decay_schedule": "optax:cosine_decay_schedule(init_value=0.001, decay_steps=100, alpha=0.1)",
    "optax:piecewise_constant_schedule": (
        "optax:piecewise_constant_schedule(init_value=0.001, boundaries_and_scales=[[30, 0.5], [60, 0.1]])"
    ),
    "optax:piecewise_interpolate_schedule": (
        "optax:piecewise_interpolate_schedule(interpolate_type=cosine, init_value=0.0001, "
        "boundaries_and_scales=[[10, 10.0], [100, 0.01]])"
    ),
    "optax:join_schedules": (
        "optax:join_schedules(schedules=[optax:linear_schedule(init_value=0.0, end_value=0.001, transition_steps=10), "
        "optax:cosine_decay_schedule(init_value=0.001, decay_steps=90)], boundaries=[10])"
    ),
    "keras:cosine_decay": (
        "keras:cosine_decay(initial_learning_rate=0.0, decay_steps=90, warmup_target=0.001, warmup_steps=10)"
    ),
    "keras:cosine_decay_restarts": (
        "keras:cosine_decay_restarts(initial_learning_rate=0.001, first_decay_steps=20, t_mul=2.0, m_mul=0.9, alpha=0.1)"
    ),
    "keras:exponential_decay": (
        "keras:exponential_decay(initial_learning_rate=0.001, decay_steps=41, decay_rate=0.5, staircase=true)"
    ),
    "keras:inverse_time_decay": "keras:inverse_time_decay(initial_learning_rate=0.001, decay_steps=10, decay_rate=0.5)",
    "keras:piecewise_constant_decay": (
        "keras:piecewise_constant_decay(boundaries=[10, 60.5], values=[0.0001, 0.001, 0.0001])"
    ),
    "keras:polynomial_decay": (
        "keras:polynomial_decay(initial_learning_rate=0.001, decay_steps=80, end_learning_rate=0.0, power=2.0)"
    ),
    "torch:cyclic_lr": "torch:cyclic_lr(base_lr=0.0001, max_lr=0.001, step_size_up=20, cycle_momentum=false)",
    "torch:chained_scheduler": (
        "torch:chained_scheduler(schedulers=[torch:linear_lr(start_factor=0.1, total_iters=10), "
        "torch:exponential_lr(gamma=0.98)])"
    ),
    "fairseq:inverse_sqrt": "fairseq:inverse_sqrt(warmup_updates=10)",
    "fairseq:tri_stage": "fairseq:tri_stage(warmup_steps=10, hold_steps=40, decay_steps=50)",
    "composer:linear_with_warmup": "composer:linear_with_warmup(t_warmup=10ba, t_max=100ba)",
    "composer:cosine_annealing_with_warmup": "composer:cosine_annealing_with_warmup(t_warmup=10ba, t_max=100ba)",
    "composer:polynomial_with_warmup": "composer:polynomial_with_warmup(t_warmup=10ba, t_max=100ba)",
    "composer:constant_with_warmup": "composer:constant_with_warmup(t_warmup=10ba, t_max=100ba)",
    "composer:multi_step_with_warmup": "composer:multi_step_with_warmup(t_warmup=10ba, milestones=[30ba, 60ba])",
    "composer:step": "composer:step(step_size=30ba, gamma=0.5)",
    "composer:multi_step": "composer:multi_step(milestones=[30ba, 60ba], gamma=0.5)",
    "composer:constant": "composer:constant(alpha=0.5, t_max=10ba)",
    "composer:linear": "composer:linear(alpha_i=1.0, alpha_f=0.1, t_max=100ba)",
    "composer:exponential": "composer:exponential(gamma=0.98, decay_period=1ba)",
    "composer:cosine_annealing": "composer:cosine_annealing(t_max=100ba, alpha_f=0.1)",
    "composer:cosine_annealing_warm_restarts": "composer:cosine_annealing_warm_restarts(t_0=20ba, t_mult=2.0)",
    "composer:polynomial": "composer:polynomial(power=2.0, t_max=100ba)",
}
STEPS = np.arange(120)
MODULES = ["composer", "fairseq", "hf", "keras_sched", "optax_sched", "pytorch_warmup", "timm_sched", "torch_sched"]


def _compat_names() -> set[str]:
    return {n for t in (rampup.WHOLES, rampup.MODIFIERS) for n in t if ":" in n}


def test_every_compat_spec_has_a_sample() -> None:
    assert _compat_names() == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trips(name: str) -> None:
    spec = rampup.Spec.parse(SAMPLES[name])
    assert rampup.Spec.parse(str(spec)) == spec
    assert rampup.Spec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    s = rampup.parse(spec)
    t = pickle.loads(pickle.dumps(s))
    assert np.array_equal(t(STEPS), s(STEPS))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_scalar_numpy_torch_jax_agree(name: str) -> None:
    s = rampup.parse(SAMPLES[name])
    v = s(STEPS)
    assert v.dtype == np.float64 and np.all(np.isfinite(v)) and np.all(v >= 0.0)
    assert [s(int(t)) for t in STEPS] == v.tolist()  # the scalar path is the same arithmetic, bit for bit
    torch = pytest.importorskip("torch")
    tv = s(torch.arange(120, dtype=torch.float64))
    assert isinstance(tv, torch.Tensor)
    assert_close(tv.numpy(), v, float(v.max()), f"{name} on torch")


def test_jax_agrees() -> None:
    import os

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    jax = pytest.importorskip("jax")
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        for name in sorted(SAMPLES):
            s = rampup.parse(SAMPLES[name])
            jv = np.asarray(jax.jit(s)(jax.numpy.arange(120.0)))
            if name.startswith("keras:"):
                # Keras specs round every step to float32, as Keras does: a last-bit difference between XLA's
                # float64 cos/log/pow and NumPy's can flip that rounding, so they agree to a few float32 ulps.
                v = s(STEPS)
                np.testing.assert_allclose(jv, v, rtol=1e-6, atol=3e-7 * v.max(), err_msg=f"{name} under jax.jit")
                continue
            assert_close(jv, s(STEPS), float(s(STEPS).max()), f"{name} under jax.jit")
    finally:
        jax.config.update("jax_enable_x64", old)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_explain_quirks_and_suggestion(name: str) -> None:
    s = rampup.parse(SAMPLES[name])
    e = explain(s, 120)
    assert e.notes or name == "pw:linear", f"{name}: no quirk reported"  # pw:linear over a constant LR has none
    if e.suggestion is not None:
        fixed = rampup.parse(e.suggestion)  # a native spec that parses without total_steps
        v = fixed(STEPS)
        assert np.all(np.isfinite(v)) and 0.0 < v.max() <= 1.0 + 1e-12
        assert not any(":" in p.name for p in [*fixed.spec.decay, *fixed.spec.modifiers])


def test_explain_uses_the_compat_run_length() -> None:
    e = explain(rampup.parse("hf:cosine(num_warmup_steps=100, num_training_steps=1000)", peak_lr=3e-4))
    assert e.total_steps == 1000 and e.first_lr == 0.0 and e.peak_step == 100
    assert not e.held_after_end
    assert e.suggestion == "linear(100) -> cosine(900)"
    assert any("rises again" in n for n in e.notes)
    native = explain(rampup.parse(e.suggestion, peak_lr=3e-4))
    assert native.held_after_end and native.first_lr > 0 and native.peak_step == 99


def test_cli_curve_explain_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = "hf:linear(num_warmup_steps=2, num_training_steps=6)"
    assert main(["curve", spec, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lr"] == [0.0, 0.5, 1.0, 0.75, 0.5, 0.25]
    assert main(["explain", "timm:cosine(t_initial=100, warmup_t=10, t_in_epochs=false)", "--peak-lr", "1"]) == 0
    text = capsys.readouterr().out
    assert "the peak LR is never reached" in text and "suggested rampup spec: linear(10) -> cosine(90)" in text
    assert main(["explain", "constant | pw:untuned_linear(beta2=0.999)", "--total-steps", "3000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["suggestion"] == "constant | rewarm(at=0, length=2000)"
    pytest.importorskip("matplotlib")
    png = tmp_path / "lr.png"
    assert (
        main(["plot", spec, "optax:cosine_onecycle_schedule(transition_steps=6, peak_value=1.0)", "-o", str(png)]) == 0
    )
    assert png.stat().st_size > 1000
    assert main(["curve", "timm:cosine(t_initial=10)"]) == 2  # epochs need --steps-per-epoch
    assert "pass steps_per_epoch=" in capsys.readouterr().err


def test_nested_calls_in_the_spec_language() -> None:
    with pytest.raises(rampup.SpecSyntaxError, match="a nested call takes named arguments only") as e:
        rampup.Spec.parse("torch:sequential_lr(schedulers=[torch:step_lr(2)], milestones=[])")
    assert e.value.pos == len("torch:sequential_lr(schedulers=[torch:step_lr(")
    with pytest.raises(rampup.SpecSyntaxError, match=re.escape("step_size: got dict {'phase': 'torch:step_lr'")):
        rampup.Spec.parse("torch:step_lr(step_size=torch:step_lr(step_size=2))")
    with pytest.raises(ValueError, match=r"schedulers\[0\]: unknown torch: spec 'torch:nope'"):
        rampup.Spec.parse("torch:sequential_lr(schedulers=[torch:nope(a=1)], milestones=[])")


@pytest.mark.parametrize("module", MODULES)
def test_doctests(module: str) -> None:
    mod = importlib.import_module(f"rampup.compat.{module}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def test_docs_table_lists_every_spec() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "compat.md").read_text(encoding="utf-8")
    missing = [n for n in sorted(_compat_names()) if f"`{n}" not in text]
    assert not missing, f"docs/compat.md does not list {missing}"
