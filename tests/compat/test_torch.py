"""torch: specs against torch.optim.lr_scheduler, stepped as in a training loop (recursive forms included)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import rampup

from .helpers import assert_close, compat_curve, make_opt, step_torch

torch = pytest.importorskip("torch")
S = torch.optim.lr_scheduler

N_CONFIGS = 60


def _groups(rng: np.random.Generator) -> list[float]:
    return [float(x) for x in 10.0 ** rng.uniform(-4, 0, int(rng.integers(1, 4)))]


def _txt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_txt(x) for x in v) + "]"
    return v if isinstance(v, str) else repr(v)


def _spec(name: str, kw: dict) -> str:
    return f"torch:{name}({', '.join(f'{k}={_txt(v)}' for k, v in kw.items())})"


def _random(rng: np.random.Generator, kind: str, i: int, lrs: list[float]) -> tuple[Any, dict]:
    """(torch class, kwargs) of a random configuration; the first ones are the edge cases."""
    if kind == "linear_lr":
        kw = {
            "start_factor": float(rng.uniform(0.01, 1.0)),
            "end_factor": float(rng.choice([1.0, rng.uniform(0, 1)])),
            "total_iters": [0, 1][i] if i < 2 else int(rng.integers(0, 150)),
        }
        return S.LinearLR, kw
    if kind == "constant_lr":
        return S.ConstantLR, {"factor": float(rng.uniform(0.01, 1.0)), "total_iters": int(rng.integers(0, 150))}
    if kind == "step_lr":
        return S.StepLR, {
            "step_size": int(rng.integers(1, 60)),
            "gamma": float(rng.choice([0.0, 0.1, rng.uniform(0, 1.2)])),
        }
    if kind == "multi_step_lr":
        ms = sorted(int(x) for x in rng.integers(0, 200, int(rng.integers(0, 5))))  # repeats and 0 allowed
        return S.MultiStepLR, {"milestones": ms, "gamma": float(rng.uniform(0, 1))}
    if kind == "exponential_lr":
        return S.ExponentialLR, {"gamma": float(rng.choice([0.0, 1.0, rng.uniform(0.9, 1.0), rng.uniform(0.5, 1.01)]))}
    if kind == "cosine_annealing_lr":
        eta = 0.0 if i % 3 == 0 else float(min(lrs) * rng.uniform(0, 0.5))
        return S.CosineAnnealingLR, {"T_max": [1, 2][i] if i < 2 else int(rng.integers(1, 120)), "eta_min": eta}
    if kind == "cosine_annealing_warm_restarts":
        eta = 0.0 if i % 3 == 0 else float(min(lrs) * rng.uniform(0, 0.5))
        return S.CosineAnnealingWarmRestarts, {
            "T_0": int(rng.integers(1, 60)),
            "T_mult": int(rng.choice([1, 1, 2, 3])),
            "eta_min": eta,
        }
    if kind == "polynomial_lr":
        return S.PolynomialLR, {"total_iters": int(rng.integers(0, 150)), "power": float(rng.uniform(0, 3))}
    raise AssertionError(kind)


KINDS = [
    "linear_lr",
    "constant_lr",
    "step_lr",
    "multi_step_lr",
    "exponential_lr",
    "cosine_annealing_lr",
    "cosine_annealing_warm_restarts",
    "polynomial_lr",
]


@pytest.mark.parametrize("kind", KINDS)
def test_matches_torch(kind: str) -> None:
    rng = np.random.default_rng(KINDS.index(kind))
    for i in range(N_CONFIGS):
        lrs = _groups(rng)
        cls, kw = _random(rng, kind, i, lrs)
        steps = int(rng.integers(1, 300))
        opt = make_opt(lrs)
        want = step_torch(opt, cls(opt, **kw), steps)
        spec = _spec(kind, kw)
        # total_steps bounds the run: an open-ended growing curve (gamma > 1) is refused as it overflows
        assert_close(compat_curve(spec, lrs, steps, total_steps=steps), want, max(lrs), spec)


def test_cosine_annealing_over_several_periods() -> None:
    """Periodic past T_max, and within tolerance of torch's recursion over 4 periods (see the module docstring)."""
    for eta in (0.0, 0.3, 0.999):
        lrs, t_max, steps = [1.0, 0.25], 250, 2000
        opt = make_opt(lrs)
        want = step_torch(opt, S.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta * 0.25), steps)
        spec = f"torch:cosine_annealing_lr(T_max={t_max}, eta_min={eta * 0.25!r})"
        assert_close(compat_curve(spec, lrs, steps), want, 1.0, spec)
        assert want[2 * t_max, 0] == pytest.approx(1.0)  # back at the base LR after one period


def test_one_cycle_matches_torch() -> None:
    rng = np.random.default_rng(99)
    n_ok = 0
    for i in range(N_CONFIGS * 2):
        lrs = _groups(rng)
        total = int(rng.integers(1, 250))
        kw: dict[str, Any] = {
            "pct_start": float(rng.choice([0.3, rng.uniform(0, 1), 0.5])),
            "anneal_strategy": str(rng.choice(["cos", "linear"])),
            "div_factor": float(rng.uniform(1, 50)),
            "final_div_factor": float(10 ** rng.uniform(0, 5)),
            "three_phase": bool(rng.random() < 0.4),
        }
        if i % 3 == 0:
            ep = int(rng.integers(1, 10))
            kw_len = {"epochs": ep, "steps_per_epoch": max(1, total // ep)}
            total = ep * kw_len["steps_per_epoch"]
        else:
            kw_len = {"total_steps": total}
        opt = make_opt(lrs)
        try:
            sched = S.OneCycleLR(opt, max_lr=lrs, **kw_len, **kw, cycle_momentum=False)
            want = step_torch(opt, sched, total + 1)  # torch computes the value at t = total_steps, then raises
        except ZeroDivisionError:
            with pytest.raises(ValueError, match="zero length"):
                rampup.parse(_spec("one_cycle_lr", {**kw_len, **kw}))
            continue
        n_ok += 1
        spec = _spec("one_cycle_lr", {**kw_len, **kw})
        got = compat_curve(spec, lrs, total + 1)
        # every update's LR is torch's; at t = total_steps (no update uses it) torch extrapolates, possibly
        # below 0, and the spec holds the last LR instead (never negative)
        assert_close(got[:total], want[:total], max(lrs), spec)
        assert (got[total] == got[total - 1]).all() and (got >= 0).all()
        # max_lr given: the spec is absolute, peak_lr is not needed
        one = rampup.parse(_spec("one_cycle_lr", {"max_lr": lrs[0], **kw_len, **kw}))
        assert_close(one(np.arange(total)), want[:total, 0], lrs[0], spec)
    assert n_ok >= 50


def _sub(rng: np.random.Generator, lrs: list[float]) -> tuple[str, Any, dict]:
    kind = str(rng.choice(KINDS))
    cls, kw = _random(rng, kind, 5, lrs)
    if kind == "cosine_annealing_lr":
        kw["eta_min"] = 0.0 if rng.random() < 0.5 else kw["eta_min"]
    return kind, cls, kw


def test_sequential_matches_torch() -> None:
    rng = np.random.default_rng(7)
    for _ in range(N_CONFIGS):
        lrs = _groups(rng)
        k = int(rng.integers(1, 4))
        subs = [_sub(rng, lrs) for _ in range(k)]
        ms = sorted(set(int(x) for x in rng.integers(1, 200, k - 1)))
        while len(ms) < k - 1:
            ms = sorted(set(ms) | {int(rng.integers(1, 200))})
        steps = int(rng.integers(1, 300))
        opt = make_opt(lrs)
        scheds = [cls(opt, **kw) for _, cls, kw in subs]
        want = step_torch(opt, S.SequentialLR(opt, schedulers=scheds, milestones=ms), steps)
        spec = (
            f"torch:sequential_lr(schedulers=[{', '.join(_spec(n, kw) for n, _, kw in subs)}], milestones={_txt(ms)})"
        )
        assert_close(compat_curve(spec, lrs, steps), want, max(lrs), spec)


def test_sequential_spec_round_trips_and_explains() -> None:
    text = (
        "torch:sequential_lr(schedulers=[torch:linear_lr(start_factor=0.1, total_iters=10), "
        "torch:cosine_annealing_lr(T_max=90)], milestones=[10])"
    )
    spec = rampup.Spec.parse(text)
    assert str(spec) == text
    assert rampup.Spec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["decay"][0]["schedulers"][0] == {
        "phase": "torch:linear_lr",
        "start_factor": 0.1,
        "total_iters": 10,
    }
    s = rampup.parse(text)
    assert [seg.role for seg in s.segments][:1] == ["warmup"]
    assert s(10) == 1.0 and s(100) == 0.0 and s(190) == pytest.approx(1.0)


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"milestones: got 0 for 2 schedulers"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:step_lr(step_size=2), torch:step_lr(step_size=3)], milestones=[])"
        )
    with pytest.raises(ValueError, match="torch:one_cycle_lr is not supported inside sequential_lr"):
        rampup.parse("torch:sequential_lr(schedulers=[torch:one_cycle_lr(total_steps=9)], milestones=[])")
    with pytest.raises(ValueError, match=r"unknown torch: spec 'hf:linear'"):
        rampup.parse("torch:sequential_lr(schedulers=[hf:linear(num_warmup_steps=1)], milestones=[])")
    with pytest.raises(ValueError, match="a nested call takes named arguments only"):
        rampup.parse("torch:sequential_lr(schedulers=[torch:step_lr(2)], milestones=[])")
    with pytest.raises(ValueError, match=r"factor: got 0\.0"):
        rampup.parse("torch:constant_lr(factor=0)")
    with pytest.raises(ValueError, match=r"eta_min=0\.01 is an absolute LR"):
        rampup.parse("torch:cosine_annealing_lr(T_max=10, eta_min=0.01)")
    a = rampup.parse("torch:one_cycle_lr(max_lr=0.1, total_steps=10)")(np.arange(11))
    b = rampup.parse("torch:one_cycle_lr(max_lr=0.1, total_steps=10)", peak_lr=0.2)(np.arange(11))
    assert np.allclose(b, 2.0 * a, rtol=1e-14)  # peak_lr is the peak: it rescales an absolute spec
    with pytest.raises(ValueError, match="T_mult: got 0"):
        rampup.parse("torch:cosine_annealing_warm_restarts(T_0=5, T_mult=0)")
