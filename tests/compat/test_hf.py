"""hf: specs against the installed transformers (each HF schedule is a LambdaLR stepped per update)."""

from __future__ import annotations

import numpy as np
import pytest

import rampup

from .helpers import assert_close, compat_curve, make_opt, step_torch

torch = pytest.importorskip("torch")
opt_mod = pytest.importorskip("transformers.optimization")

N_CONFIGS = 60


def _lengths(rng: np.random.Generator, i: int) -> tuple[int, int, int]:
    """(warmup, training steps, curve length): the first configs are the edge cases."""
    n = int(rng.integers(1, 200))
    w = [0, n, int(rng.integers(0, n + 1)), int(rng.integers(0, n + 1))][i % 4]
    if i == 1:
        w, n = 5, 5  # warmup = total
    if i == 2:
        w, n = 0, 1
    steps = n + int(rng.integers(0, 100))  # always past the end too
    return w, n, steps


def _groups(rng: np.random.Generator) -> list[float]:
    k = int(rng.integers(1, 4))  # 1 to 3 param groups with different LRs
    return [float(x) for x in 10.0 ** rng.uniform(-5, 0, k)]


def _check(fn, kwargs: dict, spec: str, lrs: list[float], steps: int) -> None:
    opt = make_opt(lrs)
    sched = fn(opt, **kwargs)
    want = step_torch(opt, sched, steps)
    got = compat_curve(spec, lrs, steps)
    assert_close(got, want, max(lrs), spec)


def _kw(d: dict) -> str:
    return ", ".join(f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v}" for k, v in d.items())


CASES = {
    "linear": (opt_mod.get_linear_schedule_with_warmup, lambda rng, w, n: {}),
    "cosine": (
        opt_mod.get_cosine_schedule_with_warmup,
        lambda rng, w, n: {"num_cycles": float(rng.choice([0.5, 0.5, 0.25, 1.0, 1.7]))},
    ),
    "cosine_with_restarts": (
        opt_mod.get_cosine_with_hard_restarts_schedule_with_warmup,
        lambda rng, w, n: {"num_cycles": int(rng.integers(1, 5))},
    ),
    "constant_with_warmup": (opt_mod.get_constant_schedule_with_warmup, None),
    "inverse_sqrt": (opt_mod.get_inverse_sqrt_schedule, None),
    "cosine_with_min_lr": (
        opt_mod.get_cosine_with_min_lr_schedule_with_warmup,
        lambda rng, w, n: {"num_cycles": float(rng.choice([0.5, 0.5, 1.0])), "min_lr_rate": float(rng.uniform(0, 0.5))},
    ),
    "cosine_warmup_with_min_lr": (
        opt_mod.get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
        lambda rng, w, n: {
            "min_lr_rate": float(rng.uniform(0, 0.5)),
            **({"warmup_lr_rate": float(rng.uniform(0, 0.5))} if rng.random() < 0.5 else {}),
        },
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_matches_transformers(kind: str) -> None:
    fn, extra = CASES[kind]
    rng = np.random.default_rng(sorted(CASES).index(kind))
    for i in range(N_CONFIGS):
        w, n, steps = _lengths(rng, i)
        lrs = _groups(rng)
        if kind in ("constant_with_warmup", "inverse_sqrt"):
            kwargs = {"num_warmup_steps": w}
            if kind == "inverse_sqrt" and rng.random() < 0.5:
                kwargs["timescale"] = int(rng.integers(1, 300))
        else:
            kwargs = {"num_warmup_steps": w, "num_training_steps": n, **extra(rng, w, n)}
        _check(fn, kwargs, f"hf:{kind}({_kw(kwargs)})", lrs, steps)


def test_polynomial_matches_transformers() -> None:
    rng = np.random.default_rng(11)
    for i in range(N_CONFIGS):
        w, n, steps = _lengths(rng, i)
        if w == n:
            w = max(0, n - 1) if i % 2 else n + 3  # w == n crashes HF; w > n is allowed
        lrs = _groups(rng)
        lr_end = float(rng.choice([0.0, 1e-7, lrs[0] * rng.uniform(0, 0.9)]))
        kwargs = {"num_warmup_steps": w, "num_training_steps": n, "lr_end": lr_end, "power": float(rng.uniform(0.3, 3))}
        opt = make_opt(lrs)  # defaults['lr'] = lrs[0]: the other groups show HF's lr_end/defaults quirk
        want = step_torch(opt, opt_mod.get_polynomial_decay_schedule_with_warmup(opt, **kwargs), steps)
        spec = f"hf:polynomial({_kw(kwargs)}, defaults_lr={lrs[0]!r})"
        assert_close(compat_curve(spec, lrs, steps), want, max(lrs), spec)


def test_cosine_with_min_lr_absolute_matches_transformers() -> None:
    rng = np.random.default_rng(12)
    for i in range(N_CONFIGS):
        w, n, steps = _lengths(rng, i)
        lrs = _groups(rng)
        kwargs = {"num_warmup_steps": w, "num_training_steps": n, "min_lr": float(lrs[0] * rng.uniform(0, 0.5))}
        for fn, name in (
            (opt_mod.get_cosine_with_min_lr_schedule_with_warmup, "cosine_with_min_lr"),
            (opt_mod.get_cosine_with_min_lr_schedule_with_warmup_lr_rate, "cosine_warmup_with_min_lr"),
        ):
            opt = make_opt(lrs)
            want = step_torch(opt, fn(opt, **kwargs), steps)
            spec = f"hf:{name}({_kw(kwargs)}, defaults_lr={lrs[0]!r})"
            assert_close(compat_curve(spec, lrs, steps), want, max(lrs), spec)


def test_wsd_matches_transformers() -> None:
    rng = np.random.default_rng(13)
    for i in range(N_CONFIGS * 2):
        w, d, s = (int(x) for x in rng.integers(0, 60, 3))
        if i % 5 == 0:
            w = 0
        if i % 7 == 0:
            d = 0
        kwargs: dict = {
            "num_warmup_steps": w,
            "num_decay_steps": d,
            "warmup_type": str(rng.choice(["linear", "cosine", "1-sqrt"])),
            "decay_type": str(rng.choice(["linear", "cosine", "1-sqrt"])),
            "min_lr_ratio": float(rng.choice([0.0, rng.uniform(0, 0.5)])),
            "num_cycles": float(rng.choice([0.5, 0.5, 0.3])),
        }
        if i % 2:
            kwargs["num_stable_steps"] = s
        else:
            kwargs["num_training_steps"] = w + d + s - int(rng.integers(0, 3))  # sometimes a negative stable phase
        lrs = _groups(rng)
        steps = w + d + s + int(rng.integers(1, 60))
        _check(opt_mod.get_wsd_schedule, kwargs, f"hf:warmup_stable_decay({_kw(kwargs)})", lrs, steps)


def test_constant_matches_transformers() -> None:
    lrs = [0.1, 0.003]
    opt = make_opt(lrs)
    want = step_torch(opt, opt_mod.get_constant_schedule(opt), 20)
    assert_close(compat_curve("hf:constant", lrs, 20), want, 0.1, "hf:constant")


def test_get_scheduler_names_are_the_spec_names() -> None:
    """Every SchedulerType with a closed form has an hf: spec of the same name."""
    closed = {t.value for t in opt_mod.SchedulerType} - {"reduce_lr_on_plateau", "greedy"}
    assert closed <= {n[3:] for n in rampup.WHOLES if n.startswith("hf:")}


def test_first_update_and_past_the_end() -> None:
    s = rampup.parse("hf:cosine(num_warmup_steps=10, num_training_steps=100)", peak_lr=1.0)
    assert s(0) == 0.0  # HF's first update runs at LR 0
    assert s(10) == 1.0
    assert s(100) == 0.0
    assert s(145) == pytest.approx(0.5)  # the cosine rises again past num_training_steps
    assert s(190) == pytest.approx(1.0)


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="num_warmup_steps == num_training_steps"):
        rampup.parse("hf:polynomial(num_warmup_steps=5, num_training_steps=5, lr_end=0)")
    with pytest.raises(ValueError, match="lr_end=1e-07 is an absolute LR"):
        rampup.parse("hf:polynomial(num_warmup_steps=5, num_training_steps=50)")
    with pytest.raises(ValueError, match=r"lr_end \(0.5\) must be smaller than initial lr \(0.1\)"):
        rampup.parse("hf:polynomial(num_warmup_steps=5, num_training_steps=50, lr_end=0.5)", peak_lr=0.1)
    with pytest.raises(ValueError, match="give min_lr= or min_lr_rate="):
        rampup.parse("hf:cosine_with_min_lr(num_warmup_steps=5, num_training_steps=50)")
    with pytest.raises(ValueError, match="give min_lr or min_lr_rate, not both"):
        rampup.parse("hf:cosine_with_min_lr(num_warmup_steps=5, num_training_steps=50, min_lr=0.1, min_lr_rate=0.1)")
    with pytest.raises(ValueError, match="num_training_steps: missing"):
        rampup.parse("hf:linear(num_warmup_steps=5)")
    with pytest.raises(ValueError, match="takes named arguments only"):
        rampup.parse("hf:linear(5, 50)")
    with pytest.raises(ValueError, match="unknown argument 'warmup'; accepted: num_warmup_steps, num_training_steps"):
        rampup.parse("hf:linear(warmup=5)")
    # num_training_steps defaults to the run's total_steps
    s = rampup.parse("hf:linear(num_warmup_steps=5)", total_steps=50)
    assert (s(5), s(50)) == (1.0, 0.0)
