"""Every spec the grammar accepts is a finite, non-negative, round-tripping schedule (issue 11, item 4).

The specs are drawn from the registries (see ``tests/core/grammar.py``): every
warmup, decay, whole schedule, modifier and compat spec, nested
``torch:sequential_lr``, ``piecewise``, ``multistep``, lengths in every unit, with
argument values at and beyond their bounds and runs from 1 step to 2**53.  What
must hold for each draw:

* building it raises nothing but ``ValueError``/``TypeError``;
* an accepted schedule is finite, >= 0 and <= its maximum level at every step up
  to 1e308 (and 10**400 as a Python int), and > 0 somewhere in the run;
* its string and dict forms read back to the same spec and the same values;
* a scalar step and the same step in a NumPy array give the same value, bit for bit.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rampup import Schedule, Spec
from rampup.core.units import LengthRoundingWarning

from .grammar import EVERY_NAME, NESTING, STEPS, runs, spec_parts

LIMIT = float(np.finfo(np.float32).max)
PROFILE = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same draws in CI every time: a failure is reproducible, never flaky
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def _max_level(s: Schedule) -> float:
    """The largest value the spec may reach, as a multiple of peak_lr (or of 1 without it)."""
    d = s.spec.decay[0]
    if d.name.partition(":")[1]:  # a compat spec: the library's own levels (StepLR may grow); float32-sized
        return math.inf
    if d.name == "noam":
        return float(d.args["d_model"]) ** -0.5 * s.warmup_steps**-0.5
    return 1.0


def _probe_steps(s: Schedule) -> list[float]:
    steps = set()
    for seg in s.segments:
        b = float(seg.begin)
        steps.update((b, b + 1.0))
        if seg.length != math.inf:
            steps.update((b + seg.length // 2, float(seg.end_step) - 1.0, float(seg.end_step)))
    if s.run.total_steps is not None:
        steps.update(float(t) for t in (s.run.total_steps - 1, s.run.total_steps))
    return sorted(t for t in steps | {float(t) for t in STEPS} if t <= 1.7976931348623157e308)


@pytest.mark.parametrize("focus", EVERY_NAME, ids=[f"{r}:{n}" for r, n in EVERY_NAME])
@settings(PROFILE, max_examples=6)
@given(data=st.data())
def test_every_registered_phase(focus: tuple[str, str], data: st.DataObject) -> None:
    """Each registered name (compat specs included) in a few random specs and runs."""
    _check(data.draw(spec_parts(focus)), data.draw(runs))


@pytest.mark.parametrize("focus", NESTING, ids=[f"{r}:{n}" for r, n in NESTING])
@settings(PROFILE, max_examples=20)
@given(data=st.data())
def test_nested_specs(focus: tuple[str, str], data: st.DataObject) -> None:
    """Specs that take specs (``torch:sequential_lr(schedulers=[...])``), nested two deep."""
    _check(data.draw(spec_parts(focus)), data.draw(runs))


@PROFILE
@given(spec_parts(), runs)
def test_every_accepted_spec_is_a_finite_round_tripping_schedule(parts: tuple, run: dict) -> None:
    """Random combinations of everything."""
    _check(parts, run)


def _check(parts: tuple, run: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LengthRoundingWarning)
        _check_quiet(parts, run)


def _check_quiet(parts: tuple, run: dict) -> None:
    warm, decays, mods = parts
    try:
        spec = Spec(warm, decays, mods)
        s = spec.resolve(**run)
    except (TypeError, ValueError):
        event("refused at resolve")
        return  # refused with a clean error: the property holds for this draw
    kind = "compat" if ":" in decays[0].name else ("warmup -> decay" if warm else decays[0].role)
    event(f"accepted: {kind}{' | modifier' if mods else ''}")
    # -- values --------------------------------------------------------------
    steps = _probe_steps(s)
    sca = [s(t) for t in steps]
    assert all(type(v) is float for v in sca)
    v = np.asarray(sca)
    peak = s.peak_lr if s.peak_lr is not None else 1.0
    assert np.isfinite(v).all(), (str(spec), run, dict(zip(steps, sca)))
    assert (v >= 0).all(), (str(spec), run)
    assert v.max() <= min(_max_level(s) * peak * (1 + 1e-12), LIMIT), (str(spec), run, v.max())
    assert v.max() > 0, (str(spec), run)
    assert s(10**400) == s(1.7976931348623157e308) == s(2**53)  # past 2**53 the value is held
    # -- scalar == array, bit for bit (general and sorted fast path) --------------
    arr = s(np.asarray(steps))
    assert arr.dtype == np.float64 and arr.tolist() == sca, (str(spec), run)
    dense = np.concatenate([np.arange(300.0), np.asarray(steps)])
    dense.sort()
    assert s(dense).tolist() == [s(float(t)) for t in dense], (str(spec), run)
    # -- round trips -----------------------------------------------------------
    text = str(spec)
    back = Spec.parse(text)
    assert back == spec and str(back) == text, (text, str(back))
    d = json.loads(json.dumps(spec.to_dict()))
    assert Spec.from_dict(d) == spec, (text, d)
    s2 = Schedule.from_dict(json.loads(json.dumps(s.to_dict())))
    assert s2 == s and s2(np.asarray(steps)).tolist() == sca


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 2**53), st.sampled_from([1, 7, 100, 2**31, 2**53]))
def test_steps_past_the_end_hold_whatever_the_step(t: int, total: int) -> None:
    """Native schedules hold their final value past the end, up to 1e308 and as huge Python ints."""
    for text in ("linear(1) -> cosine(floor=0.1)", "constant | radam(beta2=0.999)", "step(every=1, gamma=0)"):
        s = Spec.parse(text).resolve(total_steps=total)
        last = s(total - 1)
        for x in (total, total + t, 1e308, 10**400):
            assert s(x) == last
