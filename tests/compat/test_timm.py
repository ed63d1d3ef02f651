"""timm: specs against the installed timm schedulers (imported without timm's package __init__).

timm's training loop (train.py): ``step_update(num_updates)`` after every update, ``step(epoch + 1)`` after
every epoch; each scheduler reacts to one of the two (``t_in_epochs``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import rampup

from .helpers import arg_text, assert_close, compat_curve, import_timm_scheduler, make_opt

torch = pytest.importorskip("torch")

N_CONFIGS = 60

CLASSES = {
    "cosine": ("cosine_lr", "CosineLRScheduler"),
    "tanh": ("tanh_lr", "TanhLRScheduler"),
    "step": ("step_lr", "StepLRScheduler"),
    "multistep": ("multistep_lr", "MultiStepLRScheduler"),
    "poly": ("poly_lr", "PolyLRScheduler"),
    "wsd": ("wsd_lr", "WSDLRScheduler"),
}


def run_timm(sched: Any, opt: Any, n: int, spe: int | None) -> np.ndarray:
    """LRs of ``n`` updates as timm's train.py produces them."""
    out = np.empty((n, len(opt.param_groups)))
    for t in range(n):
        out[t] = [float(g["lr"]) for g in opt.param_groups]
        sched.step_update(num_updates=t + 1)
        if spe is not None and (t + 1) % spe == 0:
            sched.step((t + 1) // spe)
    return out


def _random(rng: np.random.Generator, kind: str, i: int, lrs: list[float]) -> dict:
    lo = min(lrs)
    warm: dict[str, Any] = {"warmup_t": [0, 1, 5][i] if i < 3 else int(rng.choice([0, rng.integers(1, 60)]))}
    if rng.random() < 0.5:
        warm["warmup_lr_init"] = float(lo * rng.uniform(0, 0.5))
    if kind in ("cosine", "poly", "tanh"):
        kw: dict[str, Any] = {
            "t_initial": int(rng.integers(1, 150)),
            "lr_min": float(rng.choice([0.0, lo * rng.uniform(0, 0.5)])),
            # cycle_mul just above 1: timm's libm log decides the restart step to the last bit
            "cycle_mul": float(rng.choice([1.0, 1.0, 1.5, 2.0, 3.0, 1.05, round(rng.uniform(1.0, 1.3), 2)])),
            "cycle_decay": float(rng.choice([1.0, rng.uniform(0.3, 1)])),
            "cycle_limit": int(rng.choice([0, 1, 1, 2, 5, 40])),
            "warmup_prefix": bool(i % 2),
            **warm,
        }
        if kw["cycle_mul"] != 1.0 or kw["t_initial"] < 5:
            kw["t_initial"] = int(rng.choice([1, 2, 3, kw["t_initial"]]))  # short cycles: many restarts
        if kind != "tanh" and rng.random() < 0.3:
            kw["k_decay"] = float(rng.uniform(0.5, 2))
        if kind == "poly":
            kw["power"] = float(rng.uniform(0.1, 3))
        if kind == "tanh":
            kw["lb"], kw["ub"] = float(rng.uniform(-8, -2)), float(rng.uniform(1, 4))
        return kw
    if kind == "step":
        # one-decimal decay_t: Python's t // 1.1 is not floor(t / 1.1)
        d = float(rng.choice([int(rng.integers(1, 50)), rng.uniform(0.5, 30), round(rng.uniform(0.1, 6), 1)]))
        return {"decay_t": d, "decay_rate": float(rng.uniform(0, 1)), "warmup_prefix": bool(i % 3), **warm}
    if kind == "multistep":
        ms = sorted(int(x) for x in rng.integers(0, 150, int(rng.integers(0, 4))))
        return {"decay_t": ms, "decay_rate": float(rng.uniform(0, 1)), "warmup_prefix": bool(i % 3), **warm}
    if kind == "wsd":
        ti = int(rng.integers(1, 150))
        kw = {
            "t_initial": ti,
            "decay_t": int(rng.integers(1, ti + 1)),
            "lr_min": float(rng.choice([0.0, lo * rng.uniform(0, 0.5)])),
            "stable_fn": str(rng.choice(["constant", "constant", "rsqrt", "power"])),
            "decay_fn": str(rng.choice(["linear", "1-sqrt", "cosine", "power", "exp"])),
            "decay_power": float(rng.uniform(0.2, 3)),
            "decay_ratio": float(rng.uniform(0.01, 0.9)),
            "stable_power": float(rng.uniform(0.2, 1.5)),
            **warm,
        }
        if kw["stable_fn"] != "constant" and (not kw["warmup_t"] or rng.random() < 0.5):
            kw["stable_timescale"] = float(rng.uniform(1, 50))
        return kw
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_matches_timm(kind: str) -> None:
    cls = import_timm_scheduler(*CLASSES[kind])
    rng = np.random.default_rng(sorted(CLASSES).index(kind) + 100)
    for i in range(N_CONFIGS):
        lrs = [float(x) for x in 10.0 ** rng.uniform(-4, 0, int(rng.integers(1, 4)))]
        kw = _random(rng, kind, i, lrs)
        spe = int(rng.integers(1, 8)) if i % 4 == 3 else None  # a quarter of the configs count epochs
        n = int(rng.integers(1, 300))
        opt = make_opt(lrs)
        want = run_timm(cls(opt, t_in_epochs=spe is not None, **kw), opt, n, spe)
        args = {**kw, "t_in_epochs": spe is not None}
        spec = f"timm:{kind}({', '.join(f'{k}={arg_text(v)}' for k, v in args.items())})"
        if not np.any(want):  # timm's LR is 0 for every update (e.g. cycle_limit=0, lr_min=0): rampup refuses it
            with pytest.raises(ValueError, match="0 at every step"):
                compat_curve(spec, lrs, n, steps_per_epoch=spe)
            continue
        got = compat_curve(spec, lrs, n, steps_per_epoch=spe)
        assert_close(got, want, max(lrs), spec)


def test_warmup_prefix_false_never_reaches_the_peak() -> None:
    s = rampup.parse("timm:cosine(t_initial=100, warmup_t=10, t_in_epochs=false)")
    v = s(np.arange(100))
    assert v.max() < 0.99
    quirks, sug = s.spec.decay[0].quirks(s, v)
    assert any("the peak LR is never reached" in q for q in quirks)
    assert sug == "linear(10) -> cosine(90)"
    fixed = rampup.parse("timm:cosine(t_initial=100, warmup_t=10, warmup_prefix=true, t_in_epochs=false)")
    assert fixed(10) == 1.0


def test_epochs_need_steps_per_epoch() -> None:
    with pytest.raises(ValueError, match=r"t_in_epochs=true .* pass steps_per_epoch="):
        rampup.parse("timm:cosine(t_initial=10)")
    s = rampup.parse("timm:cosine(t_initial=10, warmup_t=2, warmup_lr_init=0.01)", steps_per_epoch=3, peak_lr=1.0)
    assert s(np.arange(7)).tolist()[:6] == [0.01, 0.01, 0.01, 0.505, 0.505, 0.505]


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"warmup_lr_init=0\.001 is an absolute LR"):
        rampup.parse("timm:cosine(t_initial=10, warmup_t=2, warmup_lr_init=0.001, t_in_epochs=false)")
    with pytest.raises(ValueError, match=r"cycle_mul: got 0\.5"):
        rampup.parse("timm:cosine(t_initial=10, cycle_mul=0.5, t_in_epochs=false)")
    with pytest.raises(ValueError, match=r"decay_t: got 20; accepted: an int in \(0, t_initial\]"):
        rampup.parse("timm:wsd(t_initial=10, decay_t=20, t_in_epochs=false)")
    with pytest.raises(ValueError, match=r"t_initial: got 10\.5, which is not a whole number; accepted: an int >= 0"):
        rampup.parse("timm:cosine(t_initial=10.5)")
    # the one rule for whole numbers: 10.0 and np.int64(10) are 10
    assert rampup.WHOLES["timm:cosine"](t_initial=10.0) == rampup.WHOLES["timm:cosine"](t_initial=np.int64(10))
    with pytest.raises(ValueError, match="decay_t: got \\[3, 1\\]; accepted: sorted milestones"):
        rampup.parse("timm:multistep(decay_t=[3, 1], t_in_epochs=false)")


def test_python_floor_division_of_a_fractional_decay_t() -> None:
    # timm computes t // decay_t with Python floats: 11 // 1.1 == 9.0 (floor(11 / 1.1) would be 10)
    s = rampup.parse("timm:step(decay_t=1.1, decay_rate=0.5, t_in_epochs=false)")
    assert s(11) == 0.5**9 == s(np.arange(12))[11]
    assert s(np.arange(40)).tolist() == [0.5 ** (t // 1.1) if t else 1.0 for t in range(40)]


def test_restart_with_cycle_mul_just_above_one() -> None:
    # math.log(1.05) is one ulp above NumPy's: with libm's log the second cycle starts at step 2, as in timm
    spec = "timm:cosine(t_initial=1, cycle_mul=1.05, cycle_limit=2, t_in_epochs=false)"
    s = rampup.parse(spec)
    assert s(2) == s(np.arange(3))[2] > 0.0
    cls = import_timm_scheduler("cosine_lr", "CosineLRScheduler")
    opt = make_opt([1.0])
    want = run_timm(cls(opt, t_initial=1, cycle_mul=1.05, cycle_limit=2, t_in_epochs=False), opt, 6, None)
    assert s(np.arange(6)).tolist() == want[:, 0].tolist()
    assert [s(t) for t in range(6)] == want[:, 0].tolist()


def test_cycle_limit_zero_is_lr_min_after_the_warmup() -> None:
    s = rampup.parse("timm:cosine(t_initial=10, warmup_t=2, cycle_limit=0, t_in_epochs=false)")
    assert s(np.arange(5)).tolist() == [0.0, 0.5, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"cycle_limit: got '-1'; accepted: an int >= 0"):
        rampup.parse("timm:cosine(t_initial=10, cycle_limit=-1, t_in_epochs=false)")


def test_plateau_is_refused_as_metric_driven() -> None:
    with pytest.raises(
        ValueError, match=r"timm:plateau \(timm.scheduler.PlateauLRScheduler\) is not supported: .*metric"
    ):
        rampup.parse("timm:plateau(decay_rate=0.1)")
    with pytest.raises(ValueError, match=r"decay: timm:plateau .* metric"):
        rampup.Spec.from_dict({"decay": [{"phase": "timm:plateau"}]})
