"""Schedule invariants over random valid specs (hypothesis)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rampup import Spec, parse

from .strategies import spec_and_total as _spec_and_total


@st.composite
def spec_and_total(draw: st.DrawFn) -> tuple[str, int]:
    """Valid specs only: phases whose explicit lengths overflow the drawn run are rejected, nothing else."""
    text, total = draw(_spec_and_total())
    try:
        parse(text, total_steps=total)
    except ValueError as e:
        assume("than the run" not in str(e) and "more than the run" not in str(e))
        raise
    return text, total


PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _max_configured(spec: Spec) -> float:
    # Everything is a fraction of the peak (<= 1) except noam, whose peak is d^-1/2 T_w^-1/2.
    d = spec.decay[0]
    if d.name == "noam":
        return float(d.args["d_model"]) ** -0.5 * int(d.args["warmup"].value) ** -0.5
    return 1.0


@PROFILE
@given(spec_and_total(), st.sampled_from([None, 3e-4, 1.0, 7.0]))
def test_finite_nonnegative_bounded(st_: tuple[str, int], peak: float | None) -> None:
    text, total = st_
    s = parse(text, total_steps=total, peak_lr=peak)
    t = np.arange(total + 20)
    v = s(t)
    assert np.isfinite(v).all()
    assert (v >= 0).all()
    bound = _max_configured(s.spec) * (peak or 1.0)
    assert v.max() <= bound * (1 + 1e-12)


@PROFILE
@given(spec_and_total(), st.lists(st.integers(0, 10**7), min_size=1, max_size=30))
def test_scalar_and_vectorized_agree_exactly(st_: tuple[str, int], extra: list[int]) -> None:
    text, total = st_
    s = parse(text, total_steps=total, peak_lr=3e-4)
    steps = list(range(min(total + 5, 400))) + extra
    vec = s(np.asarray(steps)).tolist()
    sca = [s(i) for i in steps]
    assert vec == sca  # bit-for-bit
    # the sorted fast path and the general path agree too
    assert s(np.asarray(steps[::-1])).tolist() == sca[::-1]


@PROFILE
@given(spec_and_total())
def test_warmup_monotone_and_reaches_peak(st_: tuple[str, int]) -> None:
    text, total = st_
    spec = Spec.parse(text)
    assume(spec.warmup is not None)
    s = Spec(spec.warmup, spec.decay).resolve(total_steps=total)  # the warmup itself, without the modifiers
    assume(s.warmup_steps > 0)
    w = s.warmup_steps
    v = s(np.arange(w))
    assert np.all(np.diff(v) >= 0)
    if s.spec.warmup.name != "constant":  # a constant warmup holds its start and jumps to the peak after T_w
        assert v[-1] == 1.0
    assert v[0] > 0  # the first update is never wasted at LR 0


@PROFILE
@given(spec_and_total())
def test_continuous_joins(st_: tuple[str, int]) -> None:
    """Where both shapes are continuous, the jump at a join is no larger than the next phase's steepest step."""
    text, total = st_
    s = parse(text, total_steps=total)
    # invsqrt is continuous in the limit only for timescales of many steps (its first step is 1 - sqrt(τ/(τ+1)))
    continuous = {"linear", "cosine", "poly", "untuned_linear", "wsd"}
    v = s(np.arange(total))
    segs = s.segments
    for a, b in itertools.pairwise(segs):
        if a.name not in continuous or b.name not in continuous or b.length < 2 or s.spec.modifiers:
            continue
        j = b.begin
        after = np.abs(np.diff(v[j : j + int(min(b.length, total - j))]))
        before = np.abs(np.diff(v[a.begin : j]))
        steepest = max(after.max() if after.size else 0.0, before.max() if before.size else 0.0)
        # O(1/L): the join moves by at most about one step's worth of the steeper neighbour
        # (a shape whose slope is largest at its start, e.g. poly power 2, moves up to 2x its next step).
        assert abs(v[j] - v[j - 1]) <= 2 * steepest + 1e-12


@PROFILE
@given(spec_and_total())
def test_round_trips_exact(st_: tuple[str, int]) -> None:
    text, total = st_
    spec = Spec.parse(text)
    assert Spec.parse(str(spec)) == spec
    assert str(Spec.parse(str(spec))) == str(spec)
    d = json.loads(json.dumps(spec.to_dict()))
    assert Spec.from_dict(d) == spec
    s = parse(text, total_steps=total, peak_lr=1e-3)
    s2 = type(s).from_dict(json.loads(json.dumps(s.to_dict())))
    assert s2 == s
    t = np.arange(total + 3)
    assert np.array_equal(s(t), s2(t))


@PROFILE
@given(spec_and_total())
def test_past_the_end_holds(st_: tuple[str, int]) -> None:
    text, total = st_
    s = parse(text, total_steps=total)
    if math.isinf(s.end_step):  # open-ended (noam without total_steps ...): held past 2**53
        assert s(2**53) == s(1e308) == s(10**400)
        return
    # modifiers are evaluated at the held step too, so asymptotic ones stop moving as well
    last = s(int(s.end_step) - 1)
    assert s(int(s.end_step)) == last and s(int(s.end_step) + 10**6) == last == s(1e308) == s(10**400)
