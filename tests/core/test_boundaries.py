"""Step semantics at every boundary, with exact expected values (docs/semantics.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rampup
from rampup import parse


def curve(spec: str, n: int, **kw: object) -> list[float]:
    return parse(spec, total_steps=kw.pop("total_steps", n), **kw)(np.arange(n)).tolist()  # type: ignore[arg-type]


class TestIssueExample:
    def test_linear_cosine_first_peak_floor_end(self) -> None:
        s = parse("linear(10) -> cosine(floor=0.1)", total_steps=100, peak_lr=1.0)
        v = s(np.arange(100))
        assert len(v) == 100
        assert v[0] == 0.1  # first update is not wasted: peak/T_w
        assert v.max() == 1.0 and int(np.argmax(v)) == 9  # peak exactly, at the last warmup step
        assert v[99] == 0.1  # floor exactly at the last update
        assert s(100) == s(10**12) == 0.1  # held past the end
        assert v[10] < 1.0  # decay starts right after the peak
        assert np.all(np.diff(v[:10]) > 0) and np.all(np.diff(v[9:]) < 0)


class TestWarmups:
    def test_linear_values(self) -> None:
        assert curve("linear(4) -> constant", 6) == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]

    def test_linear_start_fraction(self) -> None:
        # Goyal: gradual warmup from the small-batch LR (1/32 of the peak)
        v = curve("linear(4, start=0.5) -> constant", 5)
        assert v == [0.625, 0.75, 0.875, 1.0, 1.0]

    def test_linear_start_lr_absolute_needs_peak(self) -> None:
        s = parse("linear(2, start_lr=0.1) -> constant", total_steps=4, peak_lr=0.4)
        assert [s(i) for i in range(4)] == [pytest.approx(0.25), 0.4, 0.4, 0.4]
        with pytest.raises(ValueError, match=r"start_lr=0.1 is an absolute LR and needs the peak LR"):
            parse("linear(2, start_lr=0.1) -> constant", total_steps=4)

    def test_start_lr_above_peak(self) -> None:
        with pytest.raises(ValueError, match=r"start_lr=0.5 is above the peak LR 0.4"):
            parse("linear(2, start_lr=0.5) -> constant", total_steps=4, peak_lr=0.4)

    def test_constant_warmup_jump(self) -> None:
        assert curve("constant(3, start=0.1) -> constant", 5) == [0.1, 0.1, 0.1, 1.0, 1.0]

    def test_constant_warmup_zero_start_rejected(self) -> None:
        with pytest.raises(ValueError, match=r"constant: start: got 0.0"):
            parse("constant(3, start=0) -> constant")

    def test_cosine_warmup(self) -> None:
        v = curve("cosine(4) -> constant", 5)
        expect = [0.5 * (1 - math.cos(math.pi * k / 4)) for k in (1, 2, 3, 4)] + [1.0]
        assert v == pytest.approx(expect, abs=1e-15)
        assert v[3] == 1.0

    def test_poly_warmup(self) -> None:
        assert curve("poly(4, power=3) -> constant", 4) == [1 / 64, 8 / 64, 27 / 64, 1.0]

    def test_exponential_truncated_jumps_to_peak(self) -> None:
        # The jump to the peak is at the warmup's last step (t = T_w - 1), like every phase's end value.
        v = curve("exponential(3, tau=1) -> constant", 4)
        assert v[:2] == pytest.approx([1 - math.exp(-1), 1 - math.exp(-2)], rel=1e-15)
        assert v[2:] == [1.0, 1.0]

    def test_exponential_default_tau(self) -> None:
        s = parse("exponential(50) -> constant")
        assert s(48) == pytest.approx(1 - math.exp(-49 / 10), rel=1e-14)
        assert s(49) == 1.0

    def test_exponential_warmup_reaches_the_peak_before_a_decay(self) -> None:
        # issue 11 item 9: the peak was never reached (0.99326 at t = 99, then the cosine's 0.999997).
        s = parse("exponential(100) -> cosine", total_steps=1000)
        v = s(np.arange(1000))
        assert v.max() == 1.0 and v[99] == 1.0 and int(np.argmax(v)) == 99
        for steps in (np.arange(1000), np.arange(1000.0)[::-1]):
            assert s(steps).max() == 1.0

    @pytest.mark.parametrize(("beta2", "length"), [(0.999, 2000), (0.98, 100), (0.95, 40), (0.9, 20)])
    def test_untuned_linear_length(self, beta2: float, length: int) -> None:
        s = parse(f"untuned_linear(beta2={beta2}) -> constant")
        assert s.warmup_steps == length
        assert s(length - 1) == 1.0 and s(length - 2) < 1.0
        assert s(0) == pytest.approx(1 / length, rel=1e-15)

    def test_zero_warmup_is_skipped(self) -> None:
        s = parse("linear(0) -> cosine", total_steps=4)
        assert s.warmup_steps == 0
        assert s(np.arange(4)).tolist() == pytest.approx([0.8535533905932737, 0.5, 0.14644660940672627, 0.0], abs=1e-16)

    def test_warmup_equal_total(self) -> None:
        s = parse("linear(4) -> cosine(floor=0.1)", total_steps=4)
        assert s(np.arange(6)).tolist() == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]

    def test_warmup_longer_than_run(self) -> None:
        with pytest.raises(ValueError, match=r"warmup of 5 steps is longer than the run \(total_steps=4\)"):
            parse("linear(5) -> cosine", total_steps=4)


class TestDecays:
    def test_cosine_floor_exact_at_last_step(self) -> None:
        s = parse("linear(3) -> cosine(floor=0.2)", total_steps=10)
        v = s(np.arange(12))
        assert v[2] == 1.0 and v[9] == 0.2 and v[10] == 0.2 and v[11] == 0.2
        # cosine at relative step s uses p = (s+1)/7
        assert v[3] == pytest.approx(0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi / 7)), rel=1e-15)

    def test_cosine_floor_lr(self) -> None:
        s = parse("linear(3) -> cosine(floor_lr=1e-5)", total_steps=10, peak_lr=1e-3)
        assert s(9) == pytest.approx(1e-5, rel=1e-14) and s(2) == 1e-3

    def test_floor_above_peak(self) -> None:
        with pytest.raises(ValueError, match=r"cosine: floor: got 1.5; accepted: a fraction of the peak in \[0, 1\]"):
            rampup.decay.cosine(floor=1.5)
        with pytest.raises(ValueError, match=r"floor_lr=0.01 is above the peak LR 0.001"):
            parse("cosine(floor_lr=0.01)", total_steps=10, peak_lr=1e-3)

    def test_linear_decay(self) -> None:
        assert curve("linear", 4) == [0.75, 0.5, 0.25, 0.0]

    def test_poly_decay(self) -> None:
        assert curve("poly(power=2, floor=0.1)", 4) == pytest.approx(
            [0.1 + 0.9 * 0.75**2, 0.1 + 0.9 * 0.25, 0.1 + 0.9 * 0.0625, 0.1], rel=1e-15
        )

    def test_invsqrt_matches_vaswani(self) -> None:
        s = parse("linear(4) -> invsqrt")
        assert s(3) == 1.0 and s(15) == 0.5 and s(63) == 0.25
        assert s(10**6) == pytest.approx(math.sqrt(4 / (10**6 + 1)), rel=1e-14)
        assert s.end_step == math.inf

    def test_invsqrt_needs_timescale_without_warmup(self) -> None:
        with pytest.raises(ValueError, match="invsqrt: timescale: needed when no warmup precedes it"):
            parse("invsqrt")

    def test_exponential_rate_every_floor(self) -> None:
        s = parse("exponential(rate=0.5, every=2, floor=0.3)")
        assert s(np.arange(5)).tolist() == pytest.approx([0.5**0.5, 0.5, 0.5**1.5, 0.3, 0.3], rel=1e-15)

    def test_exponential_staircase(self) -> None:
        assert curve("exponential(rate=0.5, every=2, staircase=true)", 5) == [1.0, 0.5, 0.5, 0.25, 0.25]

    def test_step_and_multistep(self) -> None:
        assert curve("step(every=2, gamma=0.5)", 5) == [1.0, 1.0, 0.5, 0.5, 0.25]
        s = parse("linear(2) -> multistep(milestones=[4, 6], gamma=0.1)")
        assert s(np.arange(8)).tolist() == pytest.approx([0.5, 1, 1, 1, 0.1, 0.1, 0.01, 0.01], rel=1e-15)

    def test_multistep_milestone_inside_warmup(self) -> None:
        with pytest.raises(ValueError, match=r"milestones: step 1 falls before this phase starts \(step 2\)"):
            parse("linear(2) -> multistep(milestones=[1, 6])")

    def test_multistep_percent_milestones(self) -> None:
        s = parse("linear(5) -> multistep(milestones=[30%, 60%], gamma=0.5)", total_steps=100)
        assert s(29) == 1.0 and s(30) == 0.5 and s(59) == 0.5 and s(60) == 0.25

    @pytest.mark.parametrize(
        ("shape", "expect"),
        [
            ("linear", [1.0, 1.0, 1.0, 0.55, 0.1]),
            ("cosine", [1.0, 1.0, 1.0, 0.55, 0.1]),
            ("1-sqrt", [1.0, 1.0, 1.0, 1.0 - 0.9 * math.sqrt(0.5), 0.1]),
            ("exponential", [1.0, 1.0, 1.0, math.sqrt(0.1), 0.1]),
        ],
    )
    def test_wsd_shapes(self, shape: str, expect: list[float]) -> None:
        v = curve(f"wsd(cooldown=2, shape={shape}, floor=0.1)", 5)
        assert v == pytest.approx(expect, rel=1e-14)
        assert v[-1] == 0.1

    def test_wsd_exponential_needs_floor(self) -> None:
        with pytest.raises(ValueError, match="an exponential cooldown needs a floor > 0"):
            parse("wsd(cooldown=2, shape=exponential)", total_steps=5)

    def test_wsd_cooldown_fraction_of_run(self) -> None:
        s = parse("linear(10) -> wsd(cooldown=10%)", total_steps=100)
        v = s(np.arange(100))
        assert v[89] == 1.0 and v[90] < 1.0 and v[99] == 0.0

    def test_restarts_cycles_and_decay(self) -> None:
        v = curve("restarts(cycle=2, cycle_decay=0.5)", 6)
        assert v == pytest.approx([0.5, 0.0, 0.25, 0.0, 0.125, 0.0], abs=1e-16)

    def test_restarts_rewarm(self) -> None:
        s = parse("linear(2) -> restarts(cycle=4, rewarm=2, floor=0.1)", total_steps=14)
        v = s(np.arange(14))
        # cycle 0: steps 2..5 cosine, floor at 5; cycle 1: re-warm 6,7 then cosine 8,9
        assert v[5] == pytest.approx(0.1, abs=1e-15)
        assert v[6] == pytest.approx(0.55, rel=1e-14) and v[7] == 1.0
        assert v[9] == pytest.approx(0.1, abs=1e-15) and v[13] == pytest.approx(0.1, abs=1e-15)

    def test_restarts_cycle_mult_boundaries(self) -> None:
        s = parse("restarts(cycle=2, cycle_mult=2)", total_steps=14)
        v = s(np.arange(14))
        # cycles: [0,2), [2,6), [6,14): floor at the last step of each
        for end in (1, 5, 13):
            assert v[end] == pytest.approx(0.0, abs=1e-15)
        for start in (2, 6):
            assert v[start] > 0.8
        assert [s(i) for i in range(14)] == v.tolist()

    def test_constant_no_total(self) -> None:
        assert parse("constant")(123456) == 1.0

    def test_decay_without_total_needs_length(self) -> None:
        with pytest.raises(ValueError, match=r"cosine: needs a length or total_steps"):
            parse("linear(10) -> cosine")

    def test_explicit_lengths_without_total(self) -> None:
        s = parse("linear(2) -> cosine(4, floor=0.5)")
        assert s.end_step == 6
        assert s(5) == 0.5 and s(100) == 0.5

    def test_only_last_phase_may_omit_length(self) -> None:
        with pytest.raises(ValueError, match="only the last phase may omit its length"):
            parse("linear(2) -> constant -> cosine", total_steps=10)

    def test_multiple_decays_chain_levels(self) -> None:
        s = parse("linear(2) -> constant(3) -> cosine(floor=0.1)", total_steps=10)
        v = s(np.arange(10))
        assert v[1:5].tolist() == [1.0] * 4 and v[9] == 0.1

    def test_phases_longer_than_run(self) -> None:
        with pytest.raises(ValueError, match=r"phases add up to 12 steps, more than the run \(total_steps=10\)"):
            parse("linear(2) -> cosine(10)", total_steps=10)


class TestWholeAndModifiers:
    def test_noam_values(self) -> None:
        s = parse("noam(d_model=512, warmup=4000)")
        assert s(0) == pytest.approx(512**-0.5 * 4000**-1.5, rel=1e-14)
        assert s(3999) == pytest.approx(512**-0.5 * 4000**-0.5, rel=1e-14)
        assert s(15999) == pytest.approx(512**-0.5 * 16000**-0.5, rel=1e-14)
        assert s(np.arange(8000)).argmax() == 3999

    def test_noam_peak_lr_is_factor(self) -> None:
        s = parse("noam(d_model=512, warmup=4000)", peak_lr=2.0)
        assert s(3999) == pytest.approx(2 * 512**-0.5 * 4000**-0.5, rel=1e-14)

    def test_noam_cannot_join(self) -> None:
        with pytest.raises(ValueError, match="'noam' is a whole schedule"):
            parse("linear(10) -> noam(d_model=512, warmup=4000)")

    def test_rewarm(self) -> None:
        s = parse("linear(2) -> constant | rewarm(at=5, length=4, start=0.2)")
        assert s(np.arange(11)).tolist() == pytest.approx([0.5, 1, 1, 1, 1, 0.4, 0.6, 0.8, 1, 1, 1], rel=1e-15)

    def test_rewarm_method_equals_spec(self) -> None:
        a = parse("linear(2) -> cosine(floor=0.1)", total_steps=20).rewarm(at=8, length=3)
        b = parse("linear(2) -> cosine(floor=0.1) | rewarm(at=8, length=3)", total_steps=20)
        assert a == b and np.array_equal(a(np.arange(20)), b(np.arange(20)))
        assert a(7) > 0 and a(8) == pytest.approx(b(8)) and a(8) < a(7)

    def test_asymptotic_and_untuned_exponential(self) -> None:
        s = parse("constant | untuned_exponential(beta2=0.999)")
        assert s(999) == pytest.approx(1 - math.exp(-1), rel=1e-12)
        assert s(0) > 0 and s(10**6) < 1.0 + 1e-15
        t = parse("constant | asymptotic_exponential(tau=10)")
        assert t(9) == pytest.approx(1 - math.exp(-1), rel=1e-15)

    def test_radam_factor(self) -> None:
        s = parse("constant | radam(beta2=0.999)")
        # offset: first t with rho_t > 4 is 6 for beta2 = 0.999
        rho_inf = 2 / (1 - 0.999) - 1

        def r(t: int) -> float:
            b = 0.999**t
            rho = rho_inf - 2 * t * b / (1 - b)
            return math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))

        def rho(t: int) -> float:
            b = 0.999**t
            return rho_inf - 2 * t * b / (1 - b)

        offset = next(t for t in range(1, 100) if rho(t) > 4)  # pytorch_warmup's get_offset
        assert s(0) == pytest.approx(r(offset), rel=1e-12) and s(0) > 0
        assert s(100) == pytest.approx(r(100 + offset), rel=1e-12)
        assert 0.99 < s(50000) <= 1.0

    def test_radam_beta2_range(self) -> None:
        with pytest.raises(ValueError, match=r"radam: beta2: got 0.5; accepted: a number in \(0.6, 1\)"):
            parse("constant | radam(beta2=0.5)")


class TestUnits:
    def test_percent_epochs_tokens(self) -> None:
        s = parse("linear(2%) -> constant", total_steps=1000)
        assert s.warmup_steps == 20
        s = parse("linear(0.5ep) -> constant", steps_per_epoch=300)
        assert s.warmup_steps == 150
        s = parse("linear(10Mtok) -> constant", tokens_per_step=2**17)
        assert s.warmup_steps == round(10e6 / 2**17)

    @pytest.mark.parametrize(
        ("spec", "missing"),
        [
            ("linear(2%) -> constant", "total_steps"),
            ("linear(1ep) -> constant", "steps_per_epoch"),
            ("linear(1Mtok) -> constant", "tokens_per_step"),
        ],
    )
    def test_missing_information(self, spec: str, missing: str) -> None:
        with pytest.raises(ValueError, match=rf"needs {missing}; pass {missing}="):
            parse(spec)

    def test_fraction_rounding_to_zero_warns(self) -> None:
        with pytest.warns(rampup.LengthRoundingWarning, match=r"'0.1%' is 0.3 steps, which rounds to 0 steps"):
            s = parse("linear(0.1%) -> cosine", total_steps=300)
        assert s.warmup_steps == 0 and s(0) < 1.0

    @pytest.mark.parametrize(
        ("value", "err", "msg"),
        [
            (-5, ValueError, r"got -5; accepted: a length >= 0 steps"),
            (2.5, ValueError, r"got 2.5; lengths are whole steps"),
            (float("inf"), ValueError, r"got inf; accepted: a finite length"),
            (2**53 + 1, ValueError, r"accepted: a length of at most 2\*\*53"),
            ("2.5", ValueError, r"a length in steps must be a whole number"),
            ("abc", ValueError, r"cannot read 'abc' as a length"),
            ("150%", ValueError, r"between 0% and 100%"),
            (True, TypeError, r"got True"),
            ([1], TypeError, r"got list"),
        ],
    )
    def test_bad_lengths(self, value: object, err: type[Exception], msg: str) -> None:
        with pytest.raises(err, match=msg):
            rampup.warmup.linear(value)

    def test_bad_run_info(self) -> None:
        with pytest.raises(ValueError, match=r"total_steps: got 0; accepted: a positive int"):
            parse("constant", total_steps=0)
        with pytest.raises(ValueError, match=r"total_steps: got 10.5, which is not a whole number"):
            parse("constant", total_steps=10.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"total_steps: got str '10'"):
            parse("constant", total_steps="10")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"peak_lr: got nan; accepted: a finite number > 0"):
            parse("constant", peak_lr=float("nan"))


class TestSteps:
    def test_step_types(self) -> None:
        s = parse("linear(4) -> constant")
        assert isinstance(s(1), float) and s(1) == 0.5
        assert s(np.int64(1)) == 0.5 and type(s(np.int64(1))) is float and s(1.0) == 0.5
        assert s([0, 1]).tolist() == [0.25, 0.5]
        assert s(np.arange(3, dtype=np.int32)).dtype == np.float64

    @pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf")])
    def test_bad_scalar_steps(self, bad: float) -> None:
        with pytest.raises(ValueError, match="step: got"):
            parse("linear(4) -> constant")(bad)

    def test_bad_array_steps(self) -> None:
        s = parse("linear(4) -> constant")
        with pytest.raises(ValueError, match=r"step: got -1.0; accepted: steps >= 0"):
            s(np.array([0, -1]))
        with pytest.raises(ValueError, match="non-finite"):
            s(np.array([0.0, np.nan]))
        with pytest.raises(TypeError, match="dtype bool"):
            s(np.array([True, False]))
        with pytest.raises(TypeError, match="step: got"):
            s(True)
        with pytest.raises(TypeError, match=r"step: got builtins.str"):
            s("3")  # type: ignore[arg-type]

    def test_fractional_steps_interpolate(self) -> None:
        s = parse("linear(4) -> constant")
        assert s(0.5) == 0.375

    def test_empty_array(self) -> None:
        assert parse("linear(4) -> constant")(np.array([], dtype=np.int64)).shape == (0,)

    def test_2d_array(self) -> None:
        s = parse("linear(4) -> cosine", total_steps=10)
        t = np.arange(10).reshape(2, 5)
        assert np.array_equal(s(t), s(np.arange(10)).reshape(2, 5))
