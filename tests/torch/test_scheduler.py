"""WarmupScheduler: exact per-group values, tensor LRs, groups, rewarm, weight decay, momentum, errors."""

from __future__ import annotations

import doctest
import importlib
import re
import warnings

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

import rampup
from rampup.torch import RampupLR, WarmupScheduler, layerwise_lr_decay

from .helpers import lrs_of, make_opt

SPEC = "linear(4) -> cosine(floor=0.1)"


@pytest.fixture(params=[False, True], ids=["float-lr", "tensor-lr"])
def tensor(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def run(opt: torch.optim.Optimizer, sched: WarmupScheduler, n: int) -> list[list[float]]:
    """The LRs each of n updates uses (read before the update, stepped after it)."""
    out = []
    for _ in range(n):
        out.append(lrs_of(opt))
        sched.step()
    return out


# ---- values --------------------------------------------------------------------------


def test_each_group_is_its_peak_times_the_schedule(tensor: bool) -> None:
    opt = make_opt([1.0, 0.3, 2e-4], tensor)
    sched = WarmupScheduler(opt, SPEC, total_steps=20)
    m = rampup.parse(SPEC, total_steps=20)
    got = run(opt, sched, 25)
    assert got == [[peak * m(t) for peak in (1.0, 0.3, 2e-4)] for t in range(25)]
    # Boundary points of the step semantics: first update, peak, floor, held past the end.
    assert got[0][0] == 0.25 and got[3][0] == 1.0 and got[19][0] == pytest.approx(0.1, abs=1e-15)
    assert got[24] == got[19]
    assert sched.last_epoch == 25
    assert sched.get_last_lr() == [p * m(25) for p in (1.0, 0.3, 2e-4)]
    assert all(type(x) is float for x in sched.get_last_lr())
    assert sched.base_lrs == [1.0, 0.3, 2e-4]


def test_float_lr_stays_float_and_tensor_lr_is_filled_in_place() -> None:
    opt = make_opt([0.5], tensor=False)
    WarmupScheduler(opt, SPEC, total_steps=20).step()
    assert type(opt.param_groups[0]["lr"]) is float

    lr = torch.tensor(0.5)  # float32, as users write it
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    sched = WarmupScheduler(opt, SPEC, total_steps=20)
    for t in range(1, 6):
        sched.step()
        assert opt.param_groups[0]["lr"] is lr
        assert lr.dtype == torch.float32
        assert lr.item() == torch.tensor(0.5 * rampup.parse(SPEC, total_steps=20)(t), dtype=torch.float32).item()


def test_construction_sets_the_first_updates_lr_and_does_not_touch_optimizer_step() -> None:
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, "linear(10) -> constant")
    assert opt.param_groups[0]["lr"] == 0.1  # m(0) = 1/10: the first update never uses 0
    assert opt.param_groups[0]["rampup_base_lr"] == 1.0
    assert "step" not in vars(opt)  # no wrapper instance attribute, unlike torch schedulers
    assert not hasattr(opt.step, "_wrapped_by_lr_sched")
    assert isinstance(sched, LRScheduler) and RampupLR is WarmupScheduler
    assert sched.optimizer is opt and sched.last_epoch == 0


def test_last_step_resumes_like_torch_last_epoch(tensor: bool) -> None:
    opt = make_opt([2.0], tensor)
    sched = WarmupScheduler(opt, SPEC, total_steps=20, last_step=4)  # 5 updates done
    assert sched.last_epoch == 5
    assert lrs_of(opt) == [2.0 * rampup.parse(SPEC, total_steps=20)(5)]


def test_second_scheduler_keeps_the_recorded_peak() -> None:
    opt = make_opt([1.0], tensor=False)
    WarmupScheduler(opt, "linear(10) -> constant")
    assert opt.param_groups[0]["lr"] == 0.1
    WarmupScheduler(opt, "linear(5) -> constant")  # the peak is still 1.0, not the 0.1 now in "lr"
    assert opt.param_groups[0]["lr"] == 0.2


def test_schedule_given_as_spec_dict_spec_and_schedule_objects() -> None:
    expected = [0.25, 0.5, 0.75, 1.0, 1.0]
    for s in (
        "linear(4) -> constant",
        rampup.Spec.parse("linear(4) -> constant"),
        rampup.Spec.parse("linear(4) -> constant").to_dict(),
        rampup.parse("linear(4) -> constant"),
        rampup.parse("linear(4) -> constant").to_dict(),
    ):
        opt = make_opt([1.0], tensor=False)
        assert [x[0] for x in run(opt, WarmupScheduler(opt, s), 5)] == expected


# ---- GradScaler, no call-order warnings ----------------------------------------------


def _scaled_loop(sched_factory: object, steps: int = 4) -> tuple[list[float], list[bool]]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = sched_factory(opt)  # type: ignore[operator]
    scaler = torch.amp.GradScaler("cpu", enabled=True)
    lrs, skipped = [], []
    for i in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        loss = model(torch.ones(2, 3)).sum()
        if i == 0:
            loss = loss * float("inf")  # overflow: GradScaler skips this optimizer step
        before = model.weight.detach().clone()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        skipped.append(bool(torch.equal(before, model.weight)))
        sched.step()
    return lrs, skipped


def test_no_warning_when_gradscaler_skips_the_first_step() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lrs, skipped = _scaled_loop(lambda opt: WarmupScheduler(opt, "linear(4) -> constant"))
    assert skipped == [True, False, False, False]
    assert lrs == [0.25, 0.5, 0.75, 1.0]
    # The same loop with a torch scheduler warns: the check above can fail.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match=re.escape("before `optimizer.step()`")):
            _scaled_loop(lambda opt: LambdaLR(opt, lambda t: 1.0))


def test_scheduler_without_any_optimizer_step_does_not_warn() -> None:
    opt = make_opt([1.0], tensor=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = WarmupScheduler(opt, "linear(4) -> constant")
        for _ in range(3):
            sched.step()
    assert opt.param_groups[0]["lr"] == 1.0


# ---- param groups ----------------------------------------------------------------------


def test_group_schedules_head_warms_up_backbone_does_not(tensor: bool) -> None:
    opt = make_opt([1e-4, 1e-3, 1e-3], tensor)
    sched = WarmupScheduler(
        opt,
        "linear(4) -> linear(floor=0.0)",
        total_steps=10,
        group_schedules=["constant", None, "linear(2) -> linear(floor=0.0)"],
    )
    main = rampup.parse("linear(4) -> linear(floor=0.0)", total_steps=10)
    short = rampup.parse("linear(2) -> linear(floor=0.0)", total_steps=10)
    got = run(opt, sched, 10)
    assert [g[0] for g in got] == [1e-4] * 10
    assert [g[1] for g in got] == [1e-3 * main(t) for t in range(10)]
    assert [g[2] for g in got] == [1e-3 * short(t) for t in range(10)]
    assert got[1][2] == 1e-3 and got[3][1] == 1e-3  # each group's own warmup ends at its own step


def test_lr_mult_scales_each_groups_peak(tensor: bool) -> None:
    opt = make_opt([1.0, 1.0], tensor)
    sched = WarmupScheduler(opt, "linear(2) -> constant", lr_mult=[1.0, 0.25])
    assert run(opt, sched, 3) == [[0.5, 0.125], [1.0, 0.25], [1.0, 0.25]]
    assert sched.base_lrs == [1.0, 0.25]


def test_layerwise_lr_decay_groups_keep_their_ratio_through_warmup(tensor: bool) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    groups = layerwise_lr_decay(list(net), lr=1e-3, decay=0.8, weight_decay=0.05)
    assert [g["lr"] for g in groups] == [1e-3 * 0.8**2, 1e-3 * 0.8, 1e-3]
    assert all(g["weight_decay"] == 0.05 for g in groups)
    assert [len(g["params"]) for g in groups] == [2, 2, 2]
    if tensor:
        for g in groups:
            g["lr"] = torch.tensor(g["lr"], dtype=torch.float64)
    opt = torch.optim.AdamW(groups)
    sched = WarmupScheduler(opt, "linear(4) -> constant")
    for t in range(6):
        peaks = [1e-3 * 0.8**2, 1e-3 * 0.8, 1e-3]
        assert lrs_of(opt) == [p * min(1.0, (t + 1) / 4) for p in peaks]
        sched.step()


def test_layerwise_lr_decay_errors() -> None:
    lin = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=re.escape("layers: got Linear; accepted: a non-empty list of modules")):
        layerwise_lr_decay(lin, lr=1e-3, decay=0.8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("decay: got 1.5; accepted: a number in (0, 1]")):
        layerwise_lr_decay([lin], lr=1e-3, decay=1.5)
    with pytest.raises(ValueError, match=re.escape("lr: got 0; accepted: a finite number > 0 (the head's LR)")):
        layerwise_lr_decay([lin], lr=0, decay=0.5)
    with pytest.raises(ValueError, match=re.escape("layers[1]: shares a parameter with layers[0]")):
        layerwise_lr_decay([lin, [lin.weight]], lr=1e-3, decay=0.5)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=re.escape("layers[0]: has no parameters")):
        layerwise_lr_decay([torch.nn.ReLU()], lr=1e-3, decay=0.5)


def test_group_added_later_is_scheduled_from_the_next_step(tensor: bool) -> None:
    opt = make_opt([1.0], tensor)
    sched = WarmupScheduler(opt, "linear(4) -> constant")
    sched.step()
    new_lr = torch.tensor(0.5, dtype=torch.float64) if tensor else 0.5
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": new_lr})
    assert lrs_of(opt) == [0.5, 0.5]  # not yet seen: nothing happens behind the user's back
    sched.step()  # last_epoch 2: m = 3/4
    assert lrs_of(opt) == [0.75, 0.375]
    assert sched.base_lrs == [1.0, 0.5] and len(sched.get_last_lr()) == 2
    assert opt.param_groups[1]["rampup_base_lr"] == 0.5
    if tensor:
        assert opt.param_groups[1]["lr"] is new_lr


def test_unfreezing_with_rewarm_of_the_new_group_only(tensor: bool) -> None:
    opt = make_opt([1.0], tensor)
    sched = WarmupScheduler(opt, "constant")
    sched.step()
    sched.step()
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1})
    sched.rewarm(4, groups=[1])  # picks the group up and warms it up from the next update on
    got = run(opt, sched, 5)
    assert [g[0] for g in got] == [1.0] * 5
    assert [g[1] for g in got] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1], abs=0, rel=1e-15)


# ---- rewarm ------------------------------------------------------------------------------


def test_rewarm_equals_the_core_rewarm_modifier(tensor: bool) -> None:
    opt = make_opt([3e-4, 1e-3], tensor)
    spec = "linear(5) -> cosine(floor=0.1)"
    sched = WarmupScheduler(opt, spec, total_steps=40)
    run(opt, sched, 12)
    sched.rewarm(6, start=0.1, shape="cosine")
    got = run(opt, sched, 30)
    ref = rampup.parse(spec + " | rewarm(at=12, length=6, start=0.1, shape=cosine)", total_steps=40)
    assert got == [[p * ref(12 + i) for p in (3e-4, 1e-3)] for i in range(30)]
    assert got[0][0] < got[5][0] == 3e-4 * rampup.parse(spec, total_steps=40)(17)


def test_rewarm_takes_effect_immediately_and_accepts_relative_lengths() -> None:
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, "constant", total_steps=100)
    sched.step()
    sched.rewarm("5%")
    assert opt.param_groups[0]["lr"] == 0.2
    assert sched.get_last_lr() == [0.2]


def test_rewarm_errors() -> None:
    opt = make_opt([1.0, 1.0], tensor=False)
    sched = WarmupScheduler(opt, "constant")
    with pytest.raises(ValueError, match=re.escape("groups: got 2; accepted: param group indices 0..1")):
        sched.rewarm(4, groups=[2])
    with pytest.raises(ValueError, match=re.escape("groups: index 0 given twice")):
        sched.rewarm(4, groups=[0, 0])
    with pytest.raises(TypeError, match=re.escape("length: got 2.5; accepted: steps as an int")):
        sched.rewarm(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rewarm: length"):
        sched.rewarm(0)
    with pytest.raises(ValueError, match="rewarm: shape"):
        sched.rewarm(3, shape="square")
    assert opt.param_groups[0]["lr"] == 1.0
    assert sched.state_dict()["rewarms"] == []  # a rejected rewarm leaves nothing behind


# ---- weight decay and momentum ---------------------------------------------------------


def test_weight_decay_follows_lr_or_warmup_only() -> None:
    spec = "linear(4) -> linear(floor=0.0)"
    m = rampup.parse(spec, total_steps=8)
    for mode, expect in (
        ("lr", [0.1 * m(t) for t in range(10)]),
        ("warmup", [0.1 * min(1.0, (t + 1) / 4) for t in range(10)]),
        ("none", [0.1] * 10),
    ):
        opt = make_opt([1e-3], tensor=False, cls=torch.optim.AdamW, weight_decay=0.1)
        sched = WarmupScheduler(opt, spec, total_steps=8, weight_decay=mode)
        wds = []
        for _ in range(10):
            wds.append(opt.param_groups[0]["weight_decay"])
            sched.step()
        assert wds == expect, mode


def test_weight_decay_warmup_factor_includes_rewarm_and_modifiers() -> None:
    opt = make_opt([1.0], tensor=False, cls=torch.optim.AdamW, weight_decay=0.2)
    sched = WarmupScheduler(opt, "linear(2) -> cosine | radam(beta2=0.9)", total_steps=20, weight_decay="warmup")
    radam = rampup.parse("constant | radam(beta2=0.9)")
    warm = rampup.parse("linear(2) -> constant")
    wds = []
    for _ in range(8):
        wds.append(opt.param_groups[0]["weight_decay"])
        sched.step()
    assert wds == [0.2 * (warm(t) * radam(t)) for t in range(8)]
    sched.rewarm(4)
    rewarm = rampup.parse("constant | rewarm(at=8, length=4)")
    assert opt.param_groups[0]["weight_decay"] == 0.2 * (1.0 * (radam(8) * rewarm(8)))


def test_momentum_schedule_on_betas_and_on_sgd_momentum(tensor: bool) -> None:
    mom = "linear(4, start=0.5) -> constant"
    mm = rampup.parse(mom)
    opt = make_opt([1e-3], tensor, cls=torch.optim.Adam, betas=(0.9, 0.99))
    sched = WarmupScheduler(opt, "constant", momentum=mom)
    for t in range(6):
        assert opt.param_groups[0]["betas"] == (0.9 * mm(t), 0.99)
        sched.step()
    opt = make_opt([1e-3], tensor, cls=torch.optim.SGD, momentum=0.8)
    sched = WarmupScheduler(opt, "constant", momentum=mom)
    sched.step()
    assert opt.param_groups[0]["momentum"] == 0.8 * mm(1)
    assert opt.param_groups[0]["rampup_base_momentum"] == 0.8


# ---- errors --------------------------------------------------------------------------------


def test_error_messages() -> None:
    opt = make_opt([1.0, 1.0], tensor=False)
    cases: list[tuple[type[Exception], str, dict[str, object]]] = [
        (TypeError, "optimizer: got list; accepted: a torch.optim.Optimizer", {"optimizer": []}),
        (
            ValueError,
            "group_schedules: got 3 entries for 2 param groups; accepted: one entry per param group "
            "(None = the main schedule)",
            {"group_schedules": ["constant", None, None]},
        ),
        (
            TypeError,
            "group_schedules: got str; accepted: a list with one entry per param group",
            {"group_schedules": "constant"},
        ),
        (
            ValueError,
            "lr_mult: got 1 entries for 2 param groups; accepted: one multiplier per param group",
            {"lr_mult": [1.0]},
        ),
        (ValueError, "lr_mult[1]: got -1.0; accepted: a finite number >= 0", {"lr_mult": [1.0, -1.0]}),
        (ValueError, "weight_decay: got 'cosine'; accepted: 'none', 'warmup', 'lr'", {"weight_decay": "cosine"}),
        (
            ValueError,
            "on_mismatch: got 'newest'; accepted: 'error', 'keep_saved', 'use_new', 'replan'",
            {"on_mismatch": "newest"},
        ),
        (ValueError, "last_step: got -2; accepted: an int >= -1", {"last_step": -2}),
        (
            TypeError,
            "schedule: got int; accepted: a spec string, a spec dict, a rampup.Spec or a rampup.Schedule",
            {"schedule": 3},
        ),
        (
            ValueError,
            "schedule: got a Schedule with peak_lr=0.001, whose values are absolute LRs",
            {"schedule": rampup.parse("constant", peak_lr=1e-3)},
        ),
        (
            ValueError,
            "schedule: cosine: floor_lr=1e-05 is an absolute LR; WarmupScheduler multiplies each param group's "
            "own peak LR by the schedule, so give levels as fractions of the peak (floor=...)",
            {"schedule": "linear(2) -> cosine(floor_lr=1e-5)", "total_steps": 10},
        ),
        (
            ValueError,
            "total_steps: got 20, but the Schedule given as schedule was resolved with total_steps=10",
            {"schedule": rampup.parse("cosine", total_steps=10), "total_steps": 20},
        ),
        (ValueError, "schedule: linear: length", {"schedule": "linear(2%) -> cosine"}),
        (ValueError, "group_schedules[1]: ", {"group_schedules": [None, "linear(-> cosine"]}),
        (
            ValueError,
            "momentum: optimizer.param_groups[0] has neither 'betas' nor 'momentum'",
            {"optimizer": torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]), "momentum": "constant"},
        ),
    ]
    for exc, msg, kw in cases:
        args = {"optimizer": opt, "schedule": "constant", **kw}
        with pytest.raises(exc, match=re.escape(msg)):
            WarmupScheduler(args.pop("optimizer"), args.pop("schedule"), **args)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("weight_decay: got 0.01; accepted: 'none', 'warmup', 'lr' (how")):
        WarmupScheduler(opt, "constant", weight_decay=0.01)  # type: ignore[arg-type]
    sched = WarmupScheduler(opt, "constant")
    with pytest.raises(TypeError, match=re.escape("step: got epoch=3; accepted: step() without arguments")):
        sched.step(3)
    other = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)
    with pytest.raises(TypeError, match=re.escape("WarmupScheduler cannot be chained with torch's SequentialLR")):
        torch.optim.lr_scheduler.SequentialLR(opt, [sched, other], milestones=[5])


def test_repr_names_the_plan() -> None:
    opt = make_opt([1.0], tensor=False)
    sched = WarmupScheduler(opt, "linear(2) -> cosine", total_steps=10)
    assert repr(sched) == "WarmupScheduler('linear(2) -> cosine', total_steps=10, last_epoch=0, groups=1)"


@pytest.mark.parametrize("name", ["rampup.torch", "rampup.torch.scheduler", "rampup.torch.groups"])
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
