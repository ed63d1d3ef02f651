"""AutoWarmup: exact export, envelope, resume bit-identity, policies, errors; the piecewise phase."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rampup
from rampup.torch import WarmupScheduler
from rampup.torch.auto import METHODS, AutoWarmup

from .helpers import batch, make_problem

TOTAL = 120


def _run(method: str, steps: int = TOTAL, resume_at: int | None = None, tensor_lr: bool = False, make=None, **kw):
    """Train the toy problem; optionally rebuild everything from a checkpoint at ``resume_at``.

    ``make(optimizer)`` builds the scheduler instead of ``AutoWarmup(..., method=method, **kw)``.
    """
    model, x, y = make_problem()
    lr = torch.tensor(0.05) if tensor_lr else 0.05
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    if make is None:

        def make(o):
            return AutoWarmup(o, "auto -> cosine(floor=0.1)", total_steps=TOTAL, method=method, **kw)

    sched = make(opt)
    lrs: list[float] = []
    done_at_resume = None
    for t in range(steps):
        if t == resume_at:
            buf = io.BytesIO()
            torch.save({"m": model.state_dict(), "o": opt.state_dict(), "s": sched.state_dict()}, buf)
            done_at_resume = sched.done
            sched.close()
            buf.seek(0)
            ck = torch.load(buf, weights_only=True)
            model, _, _ = make_problem(seed=99)  # other weights: the checkpoint must restore them
            opt = torch.optim.AdamW(model.parameters(), lr=lr)
            sched = make(opt)
            model.load_state_dict(ck["m"])
            opt.load_state_dict(ck["o"])
            sched.load_state_dict(ck["s"])
        lrs.append(float(opt.param_groups[0]["lr"]))
        xb, yb = batch(x, y, t)
        loss = (model(xb) - yb).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step(loss)
    return lrs, model, sched, done_at_resume


@pytest.mark.parametrize("method", sorted(METHODS))
def test_export_spec_reproduces_every_lr_bit_for_bit(method):
    lrs, _, sched, _ = _run(method)
    assert sched.done and 1 <= sched.warmup_steps <= TOTAL // 2
    spec = sched.export_spec()
    assert spec.startswith("piecewise(steps=[0, ") and spec.endswith("-> cosine(floor=0.1)")
    opt = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    fixed = WarmupScheduler(opt, spec, total_steps=TOTAL)
    replay = []
    for _ in range(TOTAL):
        replay.append(float(opt.param_groups[0]["lr"]))
        fixed.step()
    assert replay == lrs  # exact equality, not approx
    # and the pure schedule agrees on a NumPy array too
    assert (0.05 * rampup.parse(spec, total_steps=TOTAL)(np.arange(TOTAL))).tolist() == lrs


@pytest.mark.parametrize("method", sorted(METHODS))
def test_levels_stay_in_the_envelope_and_never_fall(method):
    lrs, _, sched, _ = _run(method, min_warmup=6, max_warmup=30, start=0.05)
    m = [v / 0.05 for v in lrs[: sched.warmup_steps]]
    lo = [0.05 + 0.95 * min(1.0, (t + 1) / 30) for t in range(len(m))]
    hi = [0.05 + 0.95 * min(1.0, (t + 1) / 6) for t in range(len(m))]
    ks = [k for k, _ in sched.knots]
    # the first update uses the slow envelope's first value, linear(30, start=0.05) at t = 0
    assert sched.knots[0] == (0, pytest.approx(0.05 + 0.95 / 30, rel=1e-15))
    for k, v in sched.knots:
        assert lo[k] - 1e-12 <= v <= hi[k] + 1e-12
    assert all(b >= a for a, b in itertools.pairwise(m))
    assert lrs[0] == 0.05 * sched.knots[0][1] and lrs[sched.warmup_steps - 1] == 0.05 and sched.warmup_steps <= 30
    assert ks[0] == 0 and all(b - a <= sched.interval for a, b in itertools.pairwise(ks))
    end = [e for e in sched.events if e.get("event") == "warmup_end"]
    assert len(end) == 1 and end[0]["warmup_steps"] == sched.warmup_steps and end[0]["reason"]
    assert f"warmup ended at step {sched.warmup_steps - 1}" in sched.explain()


@pytest.mark.parametrize(("method", "at"), [("update", 13), ("loss", 12), ("catapult", 9)])
def test_resume_in_the_automatic_phase_is_bit_identical(method, at):
    ref_lrs, ref_model, ref_sched, _ = _run(method, steps=60, interval=4)
    lrs, model, sched, done_then = _run(method, steps=60, resume_at=at, interval=4)
    assert done_then is False  # the checkpoint was taken inside the automatic phase
    assert lrs == ref_lrs
    assert sched.knots == ref_sched.knots and sched.events == ref_sched.events
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert torch.equal(p, q)


def test_tensor_lr_keeps_its_identity():
    model, _, _ = make_problem()
    lr = torch.tensor(0.05)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = AutoWarmup(opt, then="constant", total_steps=40, max_warmup=10)
    # start 0: the first update uses linear(10)'s first value, 1/10 of the peak
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.05 * 0.1)
    ref, _, _, _ = _run("update", steps=20, tensor_lr=True)
    fl, _, _, _ = _run("update", steps=20)
    assert ref == pytest.approx(fl, rel=1e-6)  # a float32 tensor LR
    sched.close()


def test_update_policy_waits_for_the_relative_update_to_fall():
    # A cap of 100 % of the first relative update never binds: the warmup is as fast as allowed.
    _, _, fast, _ = _run("update", cap_ratio=1.0, min_warmup=4, max_warmup=30, interval=2)
    # A tiny cap always binds: the warmup runs to max_warmup.
    _, _, slow, _ = _run("update", cap_ratio=1e-6, min_warmup=4, max_warmup=30, interval=2)
    assert fast.warmup_steps <= 6 < 30 == slow.warmup_steps
    assert "under the cap" in fast.events[-1]["reason"]
    assert "capped" in slow.events[1]["reason"] and "max_warmup" in slow.events[1]["reason"]
    assert slow.events[0]["q"] > 0


def test_max_warmup_of_one_step_is_done_before_the_first_update():
    opt = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    sched = AutoWarmup(opt, "auto -> cosine(floor=0.1)", total_steps=10, max_warmup=1)
    assert sched.done and sched.warmup_steps == 1 and opt.param_groups[0]["lr"] == 0.05
    assert sched.export_spec() == "piecewise(steps=[0], values=[1.0]) -> cosine(floor=0.1)"
    ref = rampup.parse("linear(1) -> cosine(floor=0.1)", total_steps=10)  # the decay follows the 1-step warmup
    for t in range(10):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * float(ref(t)), rel=1e-12)
        opt.step()
        sched.step()
    assert "max_warmup = 1 step" in sched.explain()


@pytest.mark.parametrize("start", [1.0, 1.5, -0.1])
def test_start_outside_0_1_is_refused(start):
    opt = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    with pytest.raises(ValueError, match=rf"start: got {start!r}; accepted: a number in \[0, 1\)"):
        AutoWarmup(opt, "auto -> constant", total_steps=10, start=start)


def test_a_format_1_state_is_refused_with_the_reason():
    opt = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    sched = AutoWarmup(opt, "auto -> constant", total_steps=40)
    state = dict(sched.state_dict(), format="rampup.torch.AutoWarmup/1")
    with pytest.raises(ValueError, match=r"AutoWarmup/1 state; accepted: /2\. In /2 `start` is where"):
        sched.load_state_dict(state)


class _LossIgnored:
    def __init__(self, sched):
        self.sched = sched

    def step(self, loss):
        self.sched.step()


@pytest.mark.parametrize("start", [0.0, 1 / 16])
def test_a_run_held_on_the_slow_envelope_is_exactly_linear_max_warmup(start):
    # A tiny cap always binds: every knot sits on the slow envelope, so the curve is rampup's
    # own linear(30, start=…) -> cosine, exactly at the knots and to a unit in the last place
    # between them; training with either gives the same weights.
    lrs, model, auto, _ = _run("update", cap_ratio=1e-6, max_warmup=30, start=start)
    spec = f"linear(30, start={start!r}) -> cosine(floor=0.1)"
    ref = (0.05 * rampup.parse(spec, total_steps=TOTAL)(np.arange(TOTAL))).tolist()
    assert auto.warmup_steps == 30
    for k, v in auto.knots:
        assert lrs[k] == ref[k] and 0.05 * v == ref[k]
    assert lrs == pytest.approx(ref, rel=1e-15, abs=0)
    assert lrs[30:] == ref[30:]
    _, fixed_model, _, _ = _run("update", make=lambda o: _LossIgnored(WarmupScheduler(o, spec, total_steps=TOTAL)))
    for p, q in zip(model.parameters(), fixed_model.parameters()):
        assert torch.equal(p, q)


def test_update_policy_hysteresis_confirm_and_margin():
    from rampup.torch.auto_policies import UpdateCap

    pol = UpdateCap(max_update=0.01)  # confirm=2, margin=0.1
    # the first interval decides alone: a q far under the cap ends the warmup at once
    level, why = pol.decide(0.1, {"q": 0.001, "envelope": 0.2})
    assert level == 1.0 and "under the cap" in why
    pol = UpdateCap(max_update=0.01)
    assert pol.decide(0.1, {"q": 0.04, "envelope": 0.2})[0] == pytest.approx(0.25)
    assert pol.decide(0.1, {"q": 0.001, "envelope": 0.2})[0] == pytest.approx(0.25)  # max(0.04, 0.001)
    # then the largest q of the last two intervals sets the level
    level, why = pol.decide(0.1, {"q": 0.02, "envelope": 0.2})  # max(0.001, 0.02) = 0.02
    assert level == pytest.approx(0.5) and "level = cap/q (the largest of the last 2 intervals) = 0.01/0.02" in why
    level, why = pol.decide(0.5, {"q": 0.04, "envelope": 0.2})
    assert level == pytest.approx(0.25) and "= 0.01/0.04" in why
    # within 10 % of the envelope: follow the envelope instead of a noisy few % above it
    level, why = pol.decide(0.5, {"q": 0.0455, "envelope": 0.2})  # max(0.04, 0.0455) -> 0.2198 < 0.22
    assert level == 0.2 and "within 10% of the envelope" in why
    level, why = pol.decide(0.5, {"q": 0.001, "envelope": 0.15})  # max(0.0455, 0.001): 0.2198 > 1.1 x 0.15
    assert level == pytest.approx(0.01 / 0.0455) and "level = cap/q" in why
    # below the envelope: the cap's level, which the controller then raises to the envelope
    level, why = pol.decide(0.5, {"q": 0.1, "envelope": 0.2})
    assert level == pytest.approx(0.1) and "within" not in why
    # margin=0, confirm=1: the plain cap of Kosson et al.
    plain = UpdateCap(max_update=0.01, confirm=1, margin=0.0)
    assert plain.decide(0.1, {"q": 0.045, "envelope": 0.2})[0] == pytest.approx(0.01 / 0.045)
    assert "level = cap/q = 0.01/0.045" in plain.decide(0.1, {"q": 0.045, "envelope": 0.2})[1]
    with pytest.raises(ValueError, match=r"confirm \(method='update'\): got 1.5; accepted: a whole number of .* >= 1"):
        UpdateCap(confirm=1.5)
    with pytest.raises(ValueError, match=r"confirm \(method='update'\): got 0; accepted: a number in \[1, 100\]"):
        UpdateCap(confirm=0)
    with pytest.raises(ValueError, match=r"margin \(method='update'\): got -0.5; accepted: a number in \[0, 10\]"):
        UpdateCap(margin=-0.5)
    with pytest.raises(ValueError, match=r"margin \(method='update'\): got None; accepted: a number in \[0, 10\]"):
        UpdateCap(margin=None)
    assert UpdateCap(cap_ratio=None).opts["cap_ratio"] is None  # an option that is off by default may stay off


def test_loss_policy_holds_when_the_loss_stops_improving():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = AutoWarmup(
        opt,
        then="constant",
        total_steps=10_000,
        method="loss",
        growth=2.0,
        smooth=1,
        start=0.01,  # the slow envelope then rises by only 0.0002 a step: it never binds here
        max_warmup=5000,
        min_warmup=2,
        interval=1,
    )
    levels = []
    for loss in [5.0, 4.0, 3.0, 3.5, 3.6, 2.0]:
        opt.step()
        sched.step(loss)
        levels.append(sched.knots[-1][1] if sched.next_knot is None else sched.next_knot[1])
    # grow (x2) while improving, hold at 3.5 and 3.6, grow again at 2.0 (levels to 4 digits)
    f = sched.knots[0][1]
    assert f == pytest.approx(0.01 + 0.99 / 5000)
    assert levels == pytest.approx([2 * f, 4 * f, 8 * f, 8 * f, 8 * f, 16 * f], rel=5e-4)
    assert levels[3] == levels[4] == levels[2] < levels[5]


def test_catapult_policy_holds_on_a_jump_and_resumes_after_recovery():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = AutoWarmup(
        opt,
        then="constant",
        total_steps=10_000,
        method="catapult",
        growth=2.0,
        jump=0.1,
        start=0.01,
        max_warmup=5000,
        min_warmup=2,
        interval=1,
    )
    levels = []
    for loss in [5.0, 4.0, 4.6, 4.5, 3.9]:
        opt.step()
        sched.step(loss)
        levels.append(sched.next_knot[1])
    f = sched.knots[0][1]
    assert levels == pytest.approx([2 * f, 4 * f, 4 * f, 4 * f, 8 * f], rel=5e-4)
    assert levels[1] == levels[2] == levels[3]
    assert "catapult" in sched.events[2]["reason"]


def test_loss_methods_need_the_loss():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = AutoWarmup(opt, then="constant", total_steps=100, method="loss", interval=1)
    opt.step()
    sched.step()  # one decision without a loss: held (a framework may report it a step late)
    assert sched.next_knot[0] == 1 and "no loss observed" in sched.events[0]["reason"]
    opt.step()
    with pytest.raises(ValueError, match=r"needs the training loss: call step\(loss\)"):
        sched.step()


def test_rewarm_during_and_after_the_automatic_phase_is_exported():
    model, x, y = make_problem()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    sched = AutoWarmup(opt, then="cosine(floor=0.1)", total_steps=TOTAL, interval=3)
    lrs = []
    for t in range(TOTAL):
        if t in (5, 70):
            sched.rewarm(4, start=0.25)
        lrs.append(float(opt.param_groups[0]["lr"]))
        xb, yb = batch(x, y, t)
        loss = (model(xb) - yb).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    spec = sched.export_spec()
    assert spec.endswith("| rewarm(at=5, length=4, start=0.25) | rewarm(at=70, length=4, start=0.25)")
    assert (0.05 * rampup.parse(spec, total_steps=TOTAL)(np.arange(TOTAL))).tolist() == lrs
    base = rampup.parse(spec.split(" | ")[0], total_steps=TOTAL)
    # the rewarm factor at its first step is start + (1 - start) / length = 0.4375
    assert lrs[5] == pytest.approx(0.05 * base(5) * 0.4375, rel=1e-12)
    assert lrs[71] == pytest.approx(0.05 * base(71) * 0.625, rel=1e-12)
    assert lrs[4] == 0.05 * base(4) and lrs[9] == 0.05 * base(9)


def test_spec_forms_and_errors():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    s = AutoWarmup(opt, "auto(method=loss, growth=3) -> constant", total_steps=100)
    assert s.method == "loss" and s.policy.opts["growth"] == 3.0
    with pytest.raises(ValueError, match=r"method: got 'magic'; accepted: 'update', 'loss', 'catapult'"):
        AutoWarmup(opt, then="constant", total_steps=100, method="magic")
    with pytest.raises(TypeError, match=r"method='update': unknown option 'growth'"):
        AutoWarmup(opt, then="constant", total_steps=100, growth=2)
    with pytest.raises(ValueError, match=r"then: got 'cosine \| radam\(beta2=0.9\)' with modifiers"):
        AutoWarmup(opt, then="cosine | radam(beta2=0.9)", total_steps=100)
    with pytest.raises(ValueError, match=r"min_warmup: got 60 = 60 steps, more than max_warmup = 50 steps"):
        AutoWarmup(opt, then="constant", total_steps=100, min_warmup=60)
    with pytest.raises(ValueError, match=r"max_warmup: got 30 = 30 steps; a warmup that long does not fit before"):
        AutoWarmup(opt, then="multistep(milestones=[20], gamma=0.1)", total_steps=100, max_warmup=30)
    # the default envelope is shortened to fit before the first milestone
    assert AutoWarmup(opt, then="multistep(milestones=[20], gamma=0.1)", total_steps=100).max_warmup == 20
    with pytest.raises(ValueError, match=r"max_warmup: needed when total_steps is not given"):
        AutoWarmup(opt, then="constant")
    with pytest.raises(
        ValueError, match=r"schedule: got 'linear\(5\) -> constant'; accepted: a spec whose warmup is 'auto'"
    ):
        AutoWarmup(opt, "linear(5) -> constant", total_steps=100)
    with pytest.raises(ValueError, match=r"cap_ratio \(method='update'\): got 0; accepted: a number in \(0, 1\]"):
        AutoWarmup(opt, then="constant", total_steps=100, cap_ratio=0)
    s2 = AutoWarmup(opt, then="constant", total_steps=100)
    with pytest.raises(ValueError, match="export_spec: the automatic warmup has not ended yet"):
        s2.export_spec()
    other = AutoWarmup(opt, then="constant", total_steps=200)
    with pytest.raises(ValueError, match=r"total_steps: saved 100, new 200"):
        other.load_state_dict(s2.state_dict())


def test_state_dict_is_plain_data():
    import json

    _, _, sched, _ = _run("loss", steps=10)
    sd = sched.state_dict()
    assert json.loads(json.dumps(sd)) == sd


# ---- the core piecewise phase ------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=6), st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6))
def test_piecewise_scalar_numpy_torch_agree_and_hit_every_knot(gaps, vals):
    ks = [0]
    for g in gaps:
        ks.append(ks[-1] + g)
    vs = [round(v, 4) for v in vals[: len(ks) - 1]] + [1.0]
    spec = f"piecewise(steps={ks}, values={vs}) -> cosine(floor=0.1)"
    s = rampup.parse(spec, total_steps=ks[-1] + 20)
    t = np.arange(ks[-1] + 20)
    arr = s(t)
    assert [s(int(i)) for i in t] == arr.tolist()
    assert s(torch.arange(ks[-1] + 20, dtype=torch.float64)).tolist() == arr.tolist()
    for k, v in zip(ks, vs):
        assert s(k) == v
    assert s.warmup_steps == ks[-1] + 1


def test_piecewise_errors():
    with pytest.raises(ValueError, match=r"accepted: 1.0 \(a warmup ends at the peak\)"):
        rampup.parse("piecewise(steps=[0, 3], values=[0.1, 0.9]) -> constant")
    with pytest.raises(ValueError, match="strictly increasing"):
        rampup.parse("piecewise(steps=[0, 3, 3], values=[0.1, 0.5, 1.0]) -> constant")
    with pytest.raises(ValueError, match="same length"):
        rampup.parse("piecewise(steps=[0, 3], values=[1.0]) -> constant")
    assert math.isclose(rampup.parse("piecewise(steps=[0, 10%], values=[0.5, 1]) -> constant", total_steps=50)(2), 0.7)


def test_scheduler_factory_with_an_auto_spec_is_the_automatic_warmup():
    import copy

    from rampup.torch import make_scheduler

    lrs_auto, _, _, _ = _run("update")
    lrs, _, sched, _ = _run("update", make=lambda o: make_scheduler(o, "auto -> cosine(floor=0.1)", total_steps=TOTAL))
    assert isinstance(sched, AutoWarmup) and not isinstance(sched, WarmupScheduler)
    assert lrs == lrs_auto  # the same controller, the same decisions, bit for bit
    # auto(...) options travel in the string; the loss method needs the loss
    opt2 = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    assert make_scheduler(opt2, "auto(method=loss, growth=2) -> constant", total_steps=50).policy.name == "loss"
    # arguments that only a WarmupScheduler has are refused, naming the argument
    for kw in ({"lr_mult": [2.0]}, {"weight_decay": "lr"}, {"steps_per_epoch": 10}, {"last_step": 5}):
        opt3 = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
        with pytest.raises(ValueError, match=f"{next(iter(kw))}: got .* with the automatic warmup"):
            make_scheduler(opt3, "auto -> cosine", total_steps=50, **kw)
    # AutoWarmup's own options pass through; an unknown keyword is AutoWarmup's TypeError
    opt5 = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    assert make_scheduler(opt5, "auto -> cosine", total_steps=50, max_warmup=10).max_warmup == 10
    with pytest.raises(TypeError, match="unknown option 'no_such'"):
        make_scheduler(opt5, "auto -> cosine", total_steps=50, no_such=1)
    # a fixed spec builds a WarmupScheduler, which copy/pickle can rebuild without arguments
    opt4 = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    fixed = make_scheduler(opt4, "linear(5) -> cosine", total_steps=50)
    assert type(fixed) is WarmupScheduler and type(copy.copy(fixed)) is WarmupScheduler
    assert fixed.get_last_lr() == WarmupScheduler(opt4, "linear(5) -> cosine", total_steps=50).get_last_lr()


def test_warmup_scheduler_refuses_an_auto_spec_and_names_the_factory():
    opt = torch.optim.AdamW(make_problem()[0].parameters(), lr=0.05)
    for spec in ("auto -> cosine(floor=0.1)", "auto(method=loss) -> constant"):
        with pytest.raises(
            ValueError, match=r"schedule: got .*auto.*use rampup\.torch\.make_scheduler\(.*rampup\.torch\.AutoWarmup\("
        ):
            WarmupScheduler(opt, spec, total_steps=50)
    assert opt.param_groups[0]["lr"] == 0.05  # refused before touching the optimizer
    assert "rampup_base_lr" not in opt.param_groups[0]
    # the pure-math parser points to the adapter
    with pytest.raises(ValueError, match="'auto' is decided online"):
        rampup.parse("auto -> cosine(floor=0.1)")
