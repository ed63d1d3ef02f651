"""Checkpoint/resume: plain-data state, bit-identical continuation, explicit mismatch policies."""

from __future__ import annotations

import io
import json
import pickle
import re
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rampup
from rampup.torch import WarmupScheduler
from tests.core.strategies import spec_and_total

from .helpers import lrs_of, make_opt


def roundtrip(sd: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)  # what HF Trainer and Lightning do


def build(spec: str, total: int, lrs: list[float], tensor: bool, group_spec: str | None) -> tuple[Any, Any]:
    opt = make_opt(lrs, tensor, cls=torch.optim.AdamW, weight_decay=0.01)
    groups: list[str | None] = [None] * len(lrs)
    if group_spec is not None:
        groups[-1] = group_spec
    sched = WarmupScheduler(opt, spec, total_steps=total, group_schedules=groups, weight_decay="lr")
    return opt, sched


@settings(max_examples=250, deadline=None)
@given(
    case=spec_and_total(),
    lrs=st.lists(st.sampled_from([1e-3, 3e-4, 0.1, 1.0, 7e-5]), min_size=1, max_size=3),
    tensor=st.booleans(),
    own=st.booleans(),
    data=st.data(),
)
def test_resume_at_any_step_is_bit_identical(
    case: tuple[str, int], lrs: list[float], tensor: bool, own: bool, data: st.DataObject
) -> None:
    spec, total = case
    n = min(total + 3, 120)
    cut = data.draw(st.integers(0, n), label="interruption")
    rewarm_at = data.draw(st.one_of(st.none(), st.integers(0, n - 1)), label="rewarm step")
    rewarm = (
        data.draw(st.integers(1, 30)),
        data.draw(st.sampled_from([0.0, 0.1])),
        data.draw(st.sampled_from(["linear", "cosine"])),
    )
    optimizer_first = data.draw(st.booleans(), label="load the optimizer state before building the scheduler")
    group_spec = "linear(3) -> constant" if own else None

    def trace(opt: Any, sched: Any, start: int, stop: int) -> list[tuple[list[float], list[float]]]:
        out = []
        for t in range(start, stop):
            if t == rewarm_at:
                sched.rewarm(*rewarm)
            out.append((lrs_of(opt), [float(g["weight_decay"]) for g in opt.param_groups]))
            sched.step()
        return out

    ref_opt, ref = build(spec, total, lrs, tensor, group_spec)
    expected = trace(ref_opt, ref, 0, n)

    opt, sched = build(spec, total, lrs, tensor, group_spec)
    first = trace(opt, sched, 0, cut)
    saved_sched, saved_opt = roundtrip(sched.state_dict()), roundtrip(opt.state_dict())
    opt2 = make_opt(lrs, tensor, cls=torch.optim.AdamW, weight_decay=0.01)
    if optimizer_first:
        opt2.load_state_dict(saved_opt)
        sched2 = build_on(opt2, spec, total, len(lrs), group_spec)
    else:
        sched2 = build_on(opt2, spec, total, len(lrs), group_spec)
        opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    assert sched2.last_epoch == cut
    assert first + trace(opt2, sched2, cut, n) == expected


def build_on(opt: Any, spec: str, total: int, n: int, group_spec: str | None) -> WarmupScheduler:
    groups: list[str | None] = [None] * n
    if group_spec is not None:
        groups[-1] = group_spec
    return WarmupScheduler(opt, spec, total_steps=total, group_schedules=groups, weight_decay="lr")


def test_state_dict_is_plain_data() -> None:
    opt = make_opt([1e-3, 2e-3], tensor=True, cls=torch.optim.Adam)
    sched = WarmupScheduler(
        opt,
        "linear(10%) -> cosine(floor=0.1)",
        total_steps=100,
        group_schedules=[None, "constant"],
        momentum="constant",
    )
    for _ in range(7):
        sched.step()
    sched.rewarm("5%", start=0.1)
    sd = sched.state_dict()
    assert sd == json.loads(json.dumps(sd)) == pickle.loads(pickle.dumps(sd)) == roundtrip(sd)
    assert sd["format"] == "rampup.torch.WarmupScheduler/1"
    assert sd["last_epoch"] == 7
    assert sd["schedule"] == rampup.parse("linear(10%) -> cosine(floor=0.1)", total_steps=100).to_dict()
    assert sd["groups"][0] == {
        "schedule": None,
        "base_lr": pytest.approx(1e-3, rel=1e-7),  # a float32 tensor LR, read once
        "lr_mult": 1.0,
        "base_weight_decay": None,
        "base_momentum": 0.9,
    }
    assert sd["groups"][1]["schedule"] == rampup.parse("constant", total_steps=100).to_dict()
    assert sd["rewarms"] == [{"at": 7, "length": "5%", "start": 0.1, "shape": "linear", "groups": [0, 1]}]
    assert "optimizer" not in sd


def test_load_into_scheduler_built_on_a_fresh_optimizer_sets_the_lrs() -> None:
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, "linear(10) -> constant")
    for _ in range(3):
        sched.step()
    opt2 = make_opt([1.0], tensor=False)
    sched2 = WarmupScheduler(opt2, "linear(10) -> constant")
    sched2.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]["lr"] == 0.4 and sched2.get_last_lr() == [0.4]


# ---- mismatch policies -------------------------------------------------------------------


def _saved(total: int = 100, lr: float = 1.0, steps: int = 60) -> dict[str, Any]:
    opt = make_opt([lr], tensor=False)
    sched = WarmupScheduler(opt, "linear(10) -> cosine(floor=0.0)", total_steps=total)
    for _ in range(steps):
        sched.step()
    return sched.state_dict()


def test_mismatch_raises_naming_every_difference() -> None:
    opt = make_opt([2.0], tensor=False)
    sched = WarmupScheduler(opt, "linear(20) -> cosine(floor=0.0)", total_steps=200)
    before = opt.param_groups[0]["lr"]
    msg = (
        "load_state_dict: the saved plan differs from this scheduler's:\n"
        "  schedule.spec: saved 'linear(10) -> cosine(floor=0.0)', new 'linear(20) -> cosine(floor=0.0)'\n"
        "  schedule.total_steps: saved 100, new 200\n"
        "  groups[0].base_lr: saved 1.0, new 2.0\n"
        "pass on_mismatch= 'keep_saved' (continue the saved plan), 'use_new' (this scheduler's plan from the saved "
        "step), 'replan' (this scheduler's schedules with the saved per-group peaks)"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        sched.load_state_dict(_saved())
    assert sched.last_epoch == 0 and opt.param_groups[0]["lr"] == before  # nothing changed


@pytest.mark.parametrize("tensor", [False, True], ids=["float-lr", "tensor-lr"])
def test_each_policy(tensor: bool) -> None:
    old = rampup.parse("linear(10) -> cosine(floor=0.0)", total_steps=100)
    new = rampup.parse("linear(10) -> cosine(floor=0.0)", total_steps=200)
    expected = {
        "keep_saved": 1.0 * old(60),  # the saved run continues exactly
        "use_new": 2.0 * new(60),  # the new peak and the new total
        "replan": 1.0 * new(60),  # the new total, the saved peak
    }
    for policy, lr in expected.items():
        opt = make_opt([2.0], tensor)  # the config's peak LR changed from 1.0 to 2.0 ...
        sched = WarmupScheduler(opt, "linear(10) -> cosine(floor=0.0)", total_steps=200)  # ... and so did the budget
        sched.load_state_dict(_saved(), on_mismatch=policy)
        assert sched.last_epoch == 60
        assert lrs_of(opt) == [lr], policy
        sched.step()
        total = 100 if policy == "keep_saved" else 200
        peak = 2.0 if policy == "use_new" else 1.0
        assert lrs_of(opt) == [peak * rampup.parse("linear(10) -> cosine(floor=0.0)", total_steps=total)(61)]
        again = sched.state_dict()
        assert again["schedule"]["total_steps"] == total and again["groups"][0]["base_lr"] == peak


def test_policy_set_on_the_constructor_and_overridden_per_call() -> None:
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, "linear(10) -> cosine(floor=0.0)", total_steps=200, on_mismatch="replan")
    sched.load_state_dict(_saved())  # what Lightning and HF Trainer call
    assert sched.state_dict()["schedule"]["total_steps"] == 200
    with pytest.raises(ValueError, match=re.escape("schedule.total_steps: saved 100, new 200")):
        sched.load_state_dict(_saved(), on_mismatch="error")
    with pytest.raises(ValueError, match=re.escape("on_mismatch: got 'new'; accepted: 'error', 'keep_saved'")):
        sched.load_state_dict(_saved(), on_mismatch="new")


def test_replan_extending_wsd_budget_keeps_the_lr_continuous() -> None:
    spec = "linear(10) -> wsd(cooldown=20%, floor=0.0)"
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, spec, total_steps=100)
    for _ in range(50):
        sched.step()
    sd = sched.state_dict()
    opt2 = make_opt([1.0], tensor=False)
    sched2 = WarmupScheduler(opt2, spec, total_steps=300)
    sched2.load_state_dict(sd, on_mismatch="replan")
    seq = []
    for _ in range(250):
        seq.append(opt2.param_groups[0]["lr"])
        sched2.step()
    ref = rampup.parse(spec, total_steps=300)
    assert seq == [ref(t) for t in range(50, 300)]
    assert seq[0] == 1.0 and seq[-1] == 0.0 and seq[189] == 1.0  # stable until the new cooldown (step 240)


def test_mismatch_in_group_settings_and_momentum() -> None:
    opt = make_opt([1.0, 1.0], tensor=False, cls=torch.optim.AdamW)
    sched = WarmupScheduler(opt, "constant", group_schedules=[None, "linear(3) -> constant"], lr_mult=[1.0, 0.5])
    sd = sched.state_dict()
    opt2 = make_opt([1.0, 1.0], tensor=False, cls=torch.optim.AdamW)
    sched2 = WarmupScheduler(opt2, "constant", lr_mult=[1.0, 0.25], weight_decay="lr", momentum="constant")
    with pytest.raises(ValueError) as err:
        sched2.load_state_dict(sd)
    lines = str(err.value).splitlines()[1:-1]
    assert lines == [
        "  weight_decay: saved 'none', new 'lr'",
        "  momentum: saved None, new 'constant'",
        "  groups[0].base_weight_decay: saved None, new 0.01",
        "  groups[0].base_momentum: saved None, new 0.9",
        "  groups[1].schedule: saved 'linear(3) -> constant', new the main schedule",
        "  groups[1].lr_mult: saved 0.5, new 0.25",
        "  groups[1].base_weight_decay: saved None, new 0.01",
        "  groups[1].base_momentum: saved None, new 0.9",
    ]


def test_bad_states_are_rejected() -> None:
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, "constant")
    torch_state = torch.optim.lr_scheduler.LambdaLR(make_opt([1.0], False), lambda t: 1.0).state_dict()
    with pytest.raises(ValueError, match=re.escape("(this looks like a torch.optim.lr_scheduler state)")):
        sched.load_state_dict(torch_state)
    with pytest.raises(TypeError, match=re.escape("load_state_dict: got list; accepted: the dict")):
        sched.load_state_dict([])  # type: ignore[arg-type]
    bad = sched.state_dict()
    bad["last_epoch"] = -3
    with pytest.raises(ValueError, match=re.escape("load_state_dict: last_epoch: got -3; accepted: an int >= 0")):
        sched.load_state_dict(bad)
    two = WarmupScheduler(make_opt([1.0, 1.0], False), "constant").state_dict()
    with pytest.raises(
        ValueError,
        match=re.escape("the saved state schedules 2 param groups, the optimizer has 1; add the missing groups"),
    ):
        sched.load_state_dict(two)


def test_group_added_before_loading_a_state_that_had_it() -> None:
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, "linear(4) -> constant")
    sched.step()
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.5})
    sched.rewarm(2, groups=[1])
    sd = roundtrip(sched.state_dict())
    ref = []
    for _ in range(4):
        sched.step()
        ref.append(lrs_of(opt))

    opt2 = make_opt([1.0], tensor=False)
    sched2 = WarmupScheduler(opt2, "linear(4) -> constant")
    opt2.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.5})
    sched2.load_state_dict(sd)
    got = []
    for _ in range(4):
        sched2.step()
        got.append(lrs_of(opt2))
    assert got == ref
    assert ref[0] == [0.75, 0.5 * 0.75 * 1.0]  # the rewarm of group 1 ended at step 2


# ---- a new peak LR at resume: the same result whichever is built first ----------------------------


def _run_to_checkpoint(lr: Any, steps: int = 30) -> tuple[dict[str, Any], dict[str, Any], list[float]]:
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, foreach=False)
    sched = WarmupScheduler(opt, "linear(10) -> cosine(floor=0.1)", total_steps=100)
    for _ in range(steps):
        opt.step()
        sched.step()
    return roundtrip(opt.state_dict()), roundtrip(sched.state_dict()), lrs_of(opt)


def _resume(order: str, lr: Any, saved_opt: dict[str, Any], saved_sched: dict[str, Any], policy: str) -> Any:
    opt = torch.optim.AdamW(torch.nn.Linear(2, 1).parameters(), lr=lr, foreach=False)
    if order == "optimizer state first":
        opt.load_state_dict(saved_opt)
        sched = WarmupScheduler(opt, "linear(10) -> cosine(floor=0.1)", total_steps=100)
    else:
        sched = WarmupScheduler(opt, "linear(10) -> cosine(floor=0.1)", total_steps=100)
        opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched, on_mismatch=policy)
    return opt, sched


ORDERS = ["optimizer state first", "scheduler first"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("tensor", [False, True])
def test_new_peak_lr_at_resume_is_seen_in_both_orders(order: str, tensor: bool) -> None:
    # Before: with the optimizer's state loaded first, torch restored the saved group (lr and
    # rampup_base_lr) and the new peak 2e-3 was dropped without a word, even with "use_new".
    def lr(x: float) -> Any:
        return torch.tensor(x, dtype=torch.float64) if tensor else x

    saved_opt, saved_sched, _ = _run_to_checkpoint(lr(1e-3))
    m30 = rampup.parse("linear(10) -> cosine(floor=0.1)", total_steps=100)(30)
    with pytest.raises(ValueError, match=r"groups\[0\]\.base_lr: saved 0\.001, new 0\.002"):
        _resume(order, lr(2e-3), saved_opt, saved_sched, "error")
    opt, sched = _resume(order, lr(2e-3), saved_opt, saved_sched, "use_new")
    assert sched.get_last_lr() == lrs_of(opt) == [2e-3 * m30]
    assert sched.state_dict()["groups"][0]["base_lr"] == 2e-3
    opt, sched = _resume(order, lr(2e-3), saved_opt, saved_sched, "keep_saved")
    assert sched.get_last_lr() == lrs_of(opt) == [1e-3 * m30]
    opt, sched = _resume(order, lr(2e-3), saved_opt, saved_sched, "replan")
    assert sched.get_last_lr() == [1e-3 * m30]


@pytest.mark.parametrize("order", ORDERS)
def test_same_peak_at_resume_continues_exactly_in_both_orders(order: str) -> None:
    saved_opt, saved_sched, lrs30 = _run_to_checkpoint(1e-3)
    opt, sched = _resume(order, 1e-3, saved_opt, saved_sched, "error")
    assert lrs_of(opt) == lrs30 and sched.last_epoch == 30


def test_a_group_with_its_own_lr_keeps_the_saved_peak_when_the_optimizer_state_comes_first() -> None:
    # The documented limit: a group's own lr (given in its param-group dict) is replaced by torch's
    # load_state_dict before the scheduler exists, so that order continues the saved peak; a group
    # that took the optimizer's lr= sees the new one.
    def make(head_lr: float, lr: float) -> torch.optim.Optimizer:
        a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
        return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": head_lr}], lr=lr)

    opt = make(0.5, 0.1)
    sched = WarmupScheduler(opt, "constant")
    assert [g["rampup_uses_optimizer_lr"] for g in opt.param_groups] == [True, False]
    saved_opt, saved_sched = roundtrip(opt.state_dict()), roundtrip(sched.state_dict())
    opt2 = make(0.7, 0.2)
    opt2.load_state_dict(saved_opt)
    sched2 = WarmupScheduler(opt2, "constant")
    assert sched2.base_lrs == [0.2, 0.5]
    with pytest.raises(ValueError, match=r"groups\[0\]\.base_lr: saved 0\.1, new 0\.2"):
        sched2.load_state_dict(saved_sched)


def test_an_optimizer_state_without_the_marker_keeps_the_saved_peak() -> None:
    # Optimizer states written before rampup_uses_optimizer_lr existed: the recorded peak, as before.
    saved_opt, saved_sched, lrs30 = _run_to_checkpoint(1e-3)
    for g in saved_opt["param_groups"]:
        del g["rampup_uses_optimizer_lr"]
    opt, sched = _resume("optimizer state first", 2e-3, saved_opt, saved_sched, "error")
    assert lrs_of(opt) == lrs30 and sched.base_lrs == [1e-3]
