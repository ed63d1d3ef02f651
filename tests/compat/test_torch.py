"""torch: specs against torch.optim.lr_scheduler, stepped as in a training loop (recursive forms included)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import rampup

from .helpers import arg_text, assert_close, compat_curve, make_opt, step_torch

torch = pytest.importorskip("torch")
S = torch.optim.lr_scheduler

N_CONFIGS = 60


def _groups(rng: np.random.Generator) -> list[float]:
    return [float(x) for x in 10.0 ** rng.uniform(-4, 0, int(rng.integers(1, 4)))]


def _spec(name: str, kw: dict) -> str:
    return f"torch:{name}({', '.join(f'{k}={arg_text(v)}' for k, v in kw.items())})"


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
    if kind in ("linear_lr", "polynomial_lr") and kw["total_iters"] == 0:
        kw["total_iters"] = 1  # after a milestone torch divides by 0 (refused, see test_errors_name_the_argument)
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
        spec = f"torch:sequential_lr(schedulers=[{', '.join(_spec(n, kw) for n, _, kw in subs)}], milestones={arg_text(ms)})"
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
    with pytest.raises(ValueError, match="chained_scheduler works in torch's SequentialLR only as the first"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:step_lr(step_size=2), "
            "torch:chained_scheduler(schedulers=[torch:step_lr(step_size=2)])], milestones=[3])"
        )
    with pytest.raises(ValueError, match=r"schedulers\[1\]: torch:linear_lr\(total_iters=0\): at its milestone"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:step_lr(step_size=2), torch:linear_lr(total_iters=0)], milestones=[3])"
        )
    s = rampup.parse(
        "torch:sequential_lr(schedulers=[torch:step_lr(step_size=2), torch:constant_lr(factor=0.5, total_iters=0)], "
        "milestones=[3])"
    )
    opt = make_opt([1.0])
    want = step_torch(
        opt,
        S.SequentialLR(opt, [S.StepLR(opt, step_size=2), S.ConstantLR(opt, factor=0.5, total_iters=0)], milestones=[3]),
        8,
    )
    assert s(np.arange(8)).tolist() == want[:, 0].tolist() == [1.0, 1.0, 0.1, 1.0, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="polynomial_lr with total_iters=0"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:chained_scheduler(schedulers=[torch:polynomial_lr(total_iters=0)])"
            ", torch:step_lr(step_size=2)], milestones=[3])"
        )
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


def _cyclic(rng: np.random.Generator, lr: float, i: int) -> dict:
    up = [1, 2000][i] if i < 2 else int(rng.integers(1, 60))
    kw: dict[str, Any] = {
        "base_lr": float(lr * rng.choice([0.0, rng.uniform(0, 1), 1.0])),
        "max_lr": lr,
        "step_size_up": float(up) + (0.5 if i % 5 == 4 else 0.0),
        "mode": str(rng.choice(["triangular", "triangular2", "exp_range"])),
    }
    if i % 3:
        kw["step_size_down"] = int(rng.choice([0, 1, rng.integers(1, 60)]))
    if kw["mode"] == "exp_range":
        kw["gamma"] = float(rng.choice([1.0, 0.0, rng.uniform(0.95, 1.0)]))
    return kw


def test_cyclic_matches_torch() -> None:
    rng = np.random.default_rng(21)
    for i in range(N_CONFIGS):
        lr = float(10 ** rng.uniform(-4, 0))
        kw = _cyclic(rng, lr, i)
        steps = int(rng.integers(1, 300))
        opt = make_opt([lr, lr])
        want = step_torch(opt, S.CyclicLR(opt, **kw, cycle_momentum=False), steps)
        spec = _spec("cyclic_lr", {**kw, "cycle_momentum": False})
        got = rampup.parse(spec)(np.arange(steps))  # absolute: no peak_lr needed
        assert_close(np.stack([got, got], axis=1), want, lr, spec)


def _chainable(rng: np.random.Generator, lrs: list[float]) -> tuple[str, Any, dict]:
    kind = str(rng.choice(["linear_lr", "constant_lr", "step_lr", "multi_step_lr", "exponential_lr", "polynomial_lr"]))
    cls, kw = _random(rng, kind, 5, lrs)
    return kind, cls, kw


def test_chained_matches_torch() -> None:
    rng = np.random.default_rng(22)
    for _ in range(N_CONFIGS):
        lrs = _groups(rng)
        subs = [_chainable(rng, lrs) for _ in range(int(rng.integers(1, 4)))]
        steps = int(rng.integers(1, 300))
        opt = make_opt(lrs)
        want = step_torch(opt, S.ChainedScheduler([cls(opt, **kw) for _, cls, kw in subs]), steps)
        spec = f"torch:chained_scheduler(schedulers=[{', '.join(_spec(n, kw) for n, _, kw in subs)}])"
        # a growing factor (gamma > 1) is refused without a run length: the run is the loop's steps
        assert_close(compat_curve(spec, lrs, steps, total_steps=steps), want, max(lrs), spec)
        s = rampup.Spec.parse(spec)
        assert str(s) == spec and rampup.Spec.from_dict(s.to_dict()) == s


def _step_until_error(opt: Any, sched: Any, n: int) -> np.ndarray:
    """Like step_torch, but stops where torch raises (OneCycleLR stepped past its total_steps)."""
    import warnings

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            out.append([float(g["lr"]) for g in opt.param_groups])
            try:
                sched.step()
            except ValueError:
                # torch raised stepping past a OneCycleLR's total_steps: the last value is its extrapolation at
                # total_steps, which rampup replaces by the last update's LR (docs/compat.md, torch:one_cycle_lr)
                out.pop()
                break
    return np.asarray(out)


def test_sequential_with_one_cycle_cyclic_and_nesting_matches_torch() -> None:
    """one_cycle_lr / cyclic_lr anywhere, and a nested sequential_lr first, constructed in list order as users do."""
    rng = np.random.default_rng(23)
    kinds_seen = set()
    for i in range(N_CONFIGS):
        lr = float(10 ** rng.uniform(-4, 0))
        k = int(rng.integers(2, 4))
        ms = sorted(int(x) for x in rng.choice(np.arange(1, 120), k - 1, replace=False))
        opt = make_opt([lr])
        texts, scheds = [], []
        nested = i % 4 == 0
        chained_first = i % 4 == 2
        for j in range(k):
            if nested and j == 0:
                a, b = _chainable(rng, [lr]), _sub(rng, [lr])
                if a[0] == "polynomial_lr" and a[2]["total_iters"] == 0:
                    a[2]["total_iters"] = 7  # refused first in a nested sequential_lr (torch divides by 0)
                m = int(rng.integers(1, 20))
                inner = S.SequentialLR(opt, [a[1](opt, **a[2]), b[1](opt, **b[2])], milestones=[m])
                texts.append(
                    f"torch:sequential_lr(schedulers=[{_spec(a[0], a[2])}, {_spec(b[0], b[2])}], milestones=[{m}])"
                )
                scheds.append(inner)
                kinds_seen.add("nested")
                continue
            if chained_first and j == 0:
                subs = [_chainable(rng, [lr]) for _ in range(int(rng.integers(1, 4)))]
                for sub in subs:
                    if sub[0] == "polynomial_lr" and sub[2]["total_iters"] == 0:
                        sub[2]["total_iters"] = 7  # refused here: torch divides by 0 (see the errors test)
                scheds.append(S.ChainedScheduler([cls(opt, **kw) for _, cls, kw in subs]))
                texts.append(f"torch:chained_scheduler(schedulers=[{', '.join(_spec(n, kw) for n, _, kw in subs)}])")
                kinds_seen.add("chained")
                continue
            choice = int(rng.integers(0, 4)) if not nested else 0
            if choice == 1 and not any("one_cycle" in t for t in texts):
                kw: dict[str, Any] = {
                    "total_steps": int(rng.integers(2, 100)),
                    "pct_start": float(rng.uniform(0.1, 0.9)),
                    "anneal_strategy": str(rng.choice(["cos", "linear"])),
                    "div_factor": float(rng.uniform(2, 30)),
                }
                scheds.append(S.OneCycleLR(opt, max_lr=lr, **kw, cycle_momentum=False))
                texts.append(_spec("one_cycle_lr", kw))
                kinds_seen.add("one_cycle")
            elif choice == 2:
                kw = _cyclic(rng, lr, 7)
                scheds.append(S.CyclicLR(opt, **kw, cycle_momentum=False))
                texts.append(_spec("cyclic_lr", {**kw, "cycle_momentum": False}))
                kinds_seen.add("cyclic")
            else:
                name, cls, kw = _sub(rng, [lr])
                if j == 0 and name == "torch:cosine_annealing_lr":
                    name, cls, kw = "step_lr", S.StepLR, {"step_size": 3, "gamma": 0.5}
                scheds.append(cls(opt, **kw))
                texts.append(_spec(name, kw))
        if texts[0].startswith("torch:cosine_annealing_lr") and any("one_cycle" in t for t in texts[1:]):
            continue  # refused (see test_errors_name_the_argument)
        spec = f"torch:sequential_lr(schedulers=[{', '.join(texts)}], milestones={arg_text(ms)})"
        want = _step_until_error(opt, S.SequentialLR(opt, schedulers=scheds, milestones=ms), int(rng.integers(50, 250)))
        if not want.any():  # torch's LR is 0 for the whole loop (exponential_lr(gamma=0)): refused as training nothing
            with pytest.raises(ValueError, match="0 at every step of the run"):
                rampup.parse(spec, peak_lr=lr, total_steps=len(want))
            continue
        got = rampup.parse(spec, peak_lr=lr, total_steps=len(want))(np.arange(len(want)))  # the loop is the run
        assert_close(got[:, None], want, lr, spec)
        s = rampup.Spec.parse(spec)
        assert str(s) == spec and rampup.Spec.from_dict(s.to_dict()) == s
    assert kinds_seen == {"nested", "one_cycle", "cyclic", "chained"}


def test_nested_specs_round_trip_exactly() -> None:
    """str and dict forms read back to the same spec; a nested call without arguments keeps its '()'."""
    texts = [
        "torch:sequential_lr(schedulers=[torch:linear_lr(), torch:step_lr(step_size=3)], milestones=[5])",
        "torch:sequential_lr(schedulers=[torch:sequential_lr(schedulers=[torch:linear_lr(), "
        "torch:exponential_lr(gamma=0.5)], milestones=[2]), torch:constant_lr()], milestones=[7])",
        "torch:chained_scheduler(schedulers=[torch:linear_lr(), torch:chained_scheduler(schedulers=["
        "torch:exponential_lr(gamma=0.9), torch:constant_lr()])])",
        "torch:cyclic_lr(base_lr=0.001, max_lr=0.01, step_size_up=4.5, cycle_momentum=false)",
    ]
    for text in texts:
        spec = rampup.Spec.parse(text)
        assert str(spec) == text
        assert rampup.Spec.parse(str(spec)) == spec
        d = spec.to_dict()
        assert rampup.Spec.from_dict(d) == spec and rampup.Spec.from_dict(d).to_dict() == d
        assert str(rampup.Spec.from_dict(d)) == text


def test_every_torch_scheduler_is_covered_or_refused_with_a_reason() -> None:
    import inspect
    import re

    from rampup.core.phases import NOT_CLOSED_FORM, WHOLES

    names = [
        n
        for n, c in vars(S).items()
        if inspect.isclass(c) and issubclass(c, S.LRScheduler) and not n.startswith("_") and n != "LRScheduler"
    ]
    assert "CyclicLR" in names and "ChainedScheduler" in names
    for n in names:
        snake = "torch:" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", n).lower().replace("_l_r", "_lr")
        snake = snake.replace("reduce_lron_plateau", "reduce_lr_on_plateau")
        assert snake in WHOLES or snake in NOT_CLOSED_FORM, (n, snake)
    for name, why in NOT_CLOSED_FORM.items():
        if name.startswith("torch:"):
            with pytest.raises(ValueError, match=re.escape(why[:40])):
                rampup.parse(f"{name}(x=1)")
    with pytest.raises(ValueError, match="driven by a validation metric"):
        rampup.Spec.from_dict({"decay": [{"phase": "torch:reduce_lr_on_plateau"}]})
    with pytest.raises(ValueError, match="arbitrary Python callable"):
        rampup.parse("torch:sequential_lr(schedulers=[torch:lambda_lr()], milestones=[])")


def test_new_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"cycle_momentum: got true .* accepted: false"):
        rampup.parse("torch:cyclic_lr(base_lr=0.001, max_lr=0.01)")
    with pytest.raises(ValueError, match=r"step_size_up: got 0; accepted: a number > 0"):
        rampup.parse("torch:cyclic_lr(base_lr=0.001, max_lr=0.01, step_size_up=0, cycle_momentum=false)")
    with pytest.raises(ValueError, match=r"step_size_up: got 1e\+308 with step_size_down=1e\+308"):
        rampup.parse(
            "torch:cyclic_lr(base_lr=0.0, max_lr=0.01, step_size_up=1e308, step_size_down=1e308, cycle_momentum=false)"
        )
    with pytest.raises(ValueError, match=r"step_size_up: got 1e-300 with step_size_down=None; accepted: a cycle"):
        rampup.parse("torch:cyclic_lr(base_lr=0.0, max_lr=0.01, step_size_up=1e-300, cycle_momentum=false)")
    with pytest.raises(ValueError, match=r"base_lr: got 0\.1 above max_lr=0\.01"):
        rampup.parse("torch:cyclic_lr(base_lr=0.1, max_lr=0.01, cycle_momentum=false)")
    with pytest.raises(ValueError, match=r"gamma: got '?1\.5'?"):
        rampup.parse("torch:cyclic_lr(base_lr=0.001, max_lr=0.01, mode=exp_range, gamma=1.5, cycle_momentum=false)")
    with pytest.raises(ValueError, match="cosine_annealing_lr is not supported inside chained_scheduler"):
        rampup.parse("torch:chained_scheduler(schedulers=[torch:cosine_annealing_lr(T_max=5)])")
    with pytest.raises(ValueError, match="schedulers: got \\[\\]"):
        rampup.parse("torch:chained_scheduler(schedulers=[])")
    with pytest.raises(ValueError, match="works in torch only as the first scheduler"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:constant_lr(), torch:sequential_lr(schedulers=[torch:linear_lr()], "
            "milestones=[])], milestones=[3])"
        )
    with pytest.raises(ValueError, match="got several torch:one_cycle_lr; accepted: at most one"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:one_cycle_lr(total_steps=9), torch:one_cycle_lr(total_steps=9)], "
            "milestones=[3])"
        )
    with pytest.raises(ValueError, match="cosine_annealing_lr before a one_cycle_lr"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:cosine_annealing_lr(T_max=5), torch:one_cycle_lr(total_steps=9)], "
            "milestones=[3])"
        )
    with pytest.raises(ValueError, match=r"max_lr=0\.01 is an absolute LR"):
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:constant_lr(), torch:cyclic_lr(base_lr=0.0, max_lr=0.01, "
            "cycle_momentum=false)], milestones=[3])"
        )


def test_explain_names_the_torch_quirks() -> None:
    from rampup.tools.explain import explain

    e = explain(
        rampup.parse("torch:cyclic_lr(base_lr=0.001, max_lr=0.01, step_size_up=5, cycle_momentum=false)"),
        total_steps=30,
    )
    assert any("cycle_momentum" in n for n in e.notes), e.notes
    e = explain(
        rampup.parse(
            "torch:sequential_lr(schedulers=[torch:one_cycle_lr(total_steps=10), torch:exponential_lr(gamma=0.9)], "
            "milestones=[10])",
            peak_lr=0.1,
        ),
        total_steps=30,
    )
    assert any("runs off 0.04×LR" in n for n in e.notes), e.notes
    e = explain(
        rampup.parse("torch:chained_scheduler(schedulers=[torch:linear_lr(), torch:exponential_lr(gamma=0.9)])"),
        total_steps=30,
    )
    assert any("factors multiply" in n for n in e.notes), e.notes


def test_new_specs_stay_finite_at_extreme_steps() -> None:
    for text in (
        "torch:cyclic_lr(base_lr=0.0, max_lr=0.01, step_size_up=3, mode=triangular2, cycle_momentum=false)",
        "torch:cyclic_lr(base_lr=0.001, max_lr=0.01, step_size_up=0.5, step_size_down=0.5, mode=exp_range, "
        "gamma=0.0, cycle_momentum=false)",
        "torch:chained_scheduler(schedulers=[torch:polynomial_lr(total_iters=3, power=0.5), torch:exponential_lr(gamma=0.5)])",
        "torch:sequential_lr(schedulers=[torch:one_cycle_lr(total_steps=9), torch:exponential_lr(gamma=0.9)], milestones=[9])",
    ):
        s = rampup.parse(text, peak_lr=0.01)
        v = s(np.array([0.0, 1.0, 2.0, 3.0, 1e6, 2.0**53, 1e308]))
        assert np.all(np.isfinite(v)) and np.all(v >= 0.0) and v.max() <= 0.01 * (1 + 1e-12), (text, v)
        assert [s(float(t)) for t in (0.0, 1.0, 1e308)] == [v[0], v[1], v[-1]]


def test_one_cycle_takes_torchs_cycle_momentum_argument() -> None:
    # copied from a torch call: the argument is accepted either way and does not change the LR curve
    plain = rampup.parse("torch:one_cycle_lr(total_steps=50)", peak_lr=0.1)(np.arange(50))
    for v in ("false", "true"):
        s = rampup.parse(f"torch:one_cycle_lr(total_steps=50, cycle_momentum={v})", peak_lr=0.1)
        assert s(np.arange(50)).tolist() == plain.tolist()
        assert str(s.spec) == f"torch:one_cycle_lr(total_steps=50, cycle_momentum={v})"
