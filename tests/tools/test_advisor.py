"""rampup advise: each check fires on the setup it is about (and not on a compliant one), inputs from flags,
specs and config files agree or fail loudly, and the suggested spec parses and clears the errors."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import rampup
from rampup.cli import main
from rampup.tools import advisor as advisor_mod
from rampup.tools.advisor import REFERENCES, Advice, Finding, advise, normalize_optimizer, read_config
from rampup.tools.advisor.recommend import length_ok

DATA = Path(__file__).parent / "data"


def checks(a: Advice) -> dict[str, str]:
    return {f.check: f.severity for f in a}


def finding(a: Advice, check: str) -> Finding:
    (f,) = [f for f in a if f.check == check]
    return f


# ---------------------------------------------------------------------------------------------
# Each check
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("warmup", "expected"),
    [
        (0, "error"),
        (30, "warning"),  # 0.3%
        (70, "info"),  # 0.7%
        (100, None),  # 1%
        (500, None),  # 5%
        (1000, "info"),  # 10%
        (3000, "warning"),  # 30%
    ],
)
def test_pretrain_fraction_thresholds(warmup: int, expected: str | None) -> None:
    a = advise(total_steps=10_000, warmup=warmup, task="pretrain", optimizer="sgd")
    assert checks(a).get("pretrain-warmup-fraction") == expected
    if expected is not None:
        f = finding(a, "pretrain-warmup-fraction")
        assert f.citation and f.reason
        if warmup:
            assert f"{warmup} of 10000 steps" in f.message


def test_warmup_longer_than_run_is_an_error() -> None:
    a = advise(total_steps=100, warmup=100, optimizer="sgd")
    assert checks(a)["warmup-longer-than-run"] == "error"
    assert a.has_errors
    assert rampup.parse(a.suggested_spec, total_steps=100).warmup_steps == 2  # 2% of 100


@pytest.mark.parametrize(
    ("warmup", "expected"), [(0, "warning"), (20, "info"), (50, None), (300, None), (2000, "info")]
)
def test_finetune_steps(warmup: int, expected: str | None) -> None:
    a = advise(total_steps=5000, warmup=warmup, task="finetune", optimizer="sgd")
    assert checks(a).get("finetune-warmup-steps") == expected
    assert "pretrain-warmup-fraction" not in checks(a)


def test_finetune_suggestion_is_six_percent_clipped_to_50_500() -> None:
    assert advise(total_steps=5000, warmup=0, task="finetune", optimizer="sgd").suggested_spec == (
        "linear(300) -> cosine(floor=0.1)"
    )
    assert advise(total_steps=100_000, warmup=0, task="finetune", optimizer="sgd").suggested_spec.startswith(
        "linear(500)"
    )
    assert advise(total_steps=400, warmup=0, task="finetune", optimizer="sgd").suggested_spec.startswith("linear(50)")


def test_post_ln() -> None:
    a = advise(total_steps=10_000, warmup=0, norm="post", optimizer="adamw", beta2=0.98)
    assert checks(a)["post-ln-warmup"] == "error"
    assert "Xiong et al. 2020" in finding(a, "post-ln-warmup").citation
    # Post-LN is a risk factor: the long end of the range, 5%
    assert a.suggested_spec == "linear(5%) -> cosine(floor=0.1)"
    a = advise(total_steps=10_000, warmup=50, norm="post", optimizer="adamw", beta2=0.98)
    assert checks(a)["post-ln-warmup"] == "warning"
    assert checks(advise(total_steps=10_000, warmup=300, norm="post", optimizer="adamw", beta2=0.98)) == {}
    assert checks(advise(total_steps=10_000, warmup=0, norm="pre", optimizer="sgd", task="finetune")) == {
        "pre-ln-no-warmup": "info",
        "finetune-warmup-steps": "warning",
    }


def test_adam_beta2_floor() -> None:
    a = advise(total_steps=100_000, warmup=1000, optimizer="adamw", beta2=0.999)
    f = finding(a, "adam-beta2-warmup")
    assert f.severity == "warning"
    assert "2/(1-β2) = 2000 steps" in f.message
    assert f.suggestion == "untuned_linear(beta2=0.999) -> cosine(floor=0.1)"
    assert rampup.parse(f.suggestion, total_steps=100_000).warmup_steps == 2000
    assert a.suggested_spec == "linear(2%) -> cosine(floor=0.1)"  # 2% of 100k = 2000 steps: clears the floor
    assert "adam-beta2-warmup" not in checks(advise(total_steps=100_000, warmup=1000, optimizer="adamw", beta2=0.95))
    # SGD has no second moment: no floor
    assert "adam-beta2-warmup" not in checks(advise(total_steps=100_000, warmup=1000, optimizer="sgd"))


def test_adam_default_beta2_is_stated_not_hidden() -> None:
    a = advise(total_steps=100_000, warmup=1000, optimizer="adamw_torch_fused")
    assert a.setup.beta2 == 0.999 and a.setup.sources["beta2"] == "default"
    assert any("beta2=0.999 (torch.optim.AdamW default)" in x for x in a.assumptions)


def test_adam_floor_in_a_short_run_suggests_a_smaller_beta2() -> None:
    a = advise(total_steps=3000, warmup=60, optimizer="adam", beta2=0.999)
    f = finding(a, "adam-beta2-warmup")
    # 2/(1-β2) = 2000 steps is 67% of the run: the floor gives way to the 1-5% range and says why
    assert f.severity == "info" and f.suggestion is None
    assert "would be 66.7% of this 3000-step run, beyond the 150 steps (5%)" in f.reason
    assert "lower β2 instead (β2 = 0.95: 2/(1-β2) = 40 steps)" in f.reason
    assert a.suggested_spec == "linear(60) -> cosine(floor=0.1)"  # 2%: in range, kept


def test_issue_10k_adamw_with_a_2_percent_warmup_is_not_told_to_warm_up_for_20_percent() -> None:
    # issue 12 item 10: 10k-step AdamW pretraining with a 2% warmup got a WARNING and the suggestion linear(2000)
    a = advise(total_steps=10_000, warmup="2%", optimizer="adamw", task="pretrain")
    assert checks(a) == {"adam-beta2-warmup": "info"} and not a.has_errors
    assert a.suggested_spec == "linear(2%) -> cosine(floor=0.1)"
    again = advise(a.suggested_spec, total_steps=10_000, optimizer="adamw", task="pretrain")
    assert "pretrain-warmup-fraction" not in checks(again) and again.setup.warmup_steps == 200
    # a too-short warmup in the same run is raised to the top of the 1-5% range, not to 2/(1-β2) = 20%
    a = advise(total_steps=10_000, warmup=10, optimizer="adamw", task="pretrain")
    assert checks(a)["pretrain-warmup-fraction"] == "warning"
    assert a.suggested_spec == "linear(5%) -> cosine(floor=0.1)"
    assert finding(a, "adam-beta2-warmup").severity == "info"
    # where 2/(1-β2) fits in 1-5% it is still the floor: a warning, and the suggestion meets it
    a = advise(total_steps=100_000, warmup="1%", optimizer="adamw", task="pretrain")
    f = finding(a, "adam-beta2-warmup")
    assert f.severity == "warning" and f.suggestion == "untuned_linear(beta2=0.999) -> cosine(floor=0.1)"
    assert a.suggested_spec == "linear(2%) -> cosine(floor=0.1)"  # 2000 steps


def test_fp16_floor_and_fine_tuning_ranges_are_reconciled() -> None:
    # fp16's 100 steps do not fit a 1000-step pretraining run's 5% (50 steps): an info that says why
    a = advise(total_steps=1000, warmup=30, optimizer="sgd", precision="fp16", task="pretrain")
    f = finding(a, "mixed-precision-warmup")
    assert f.severity == "info" and "beyond the 50 steps the warmup guidance allows" in f.reason
    assert checks(a).get("pretrain-warmup-fraction") is None
    # ... but they do fit a fine-tuning run of 2000 steps: a warning, and the suggestion is 120 (6%) >= 100
    a = advise(total_steps=2000, warmup=60, optimizer="sgd", precision="fp16", task="finetune")
    assert finding(a, "mixed-precision-warmup").severity == "warning"
    assert a.suggested_spec == "linear(120) -> cosine(floor=0.1)"
    a = advise(total_steps=1000, warmup=0, optimizer="sgd", precision="fp16", task="finetune")
    assert a.suggested_spec == "linear(100) -> cosine(floor=0.1)"  # 6% = 60, raised to fp16's 100
    # a 100-step fine-tuning run has no room for 50 steps: 25 (a quarter) is not called short
    a = advise(total_steps=100, warmup=0, optimizer="sgd", task="finetune")
    assert a.suggested_spec == "linear(25) -> cosine(floor=0.1)"
    assert "finetune-warmup-steps" not in checks(
        advise(a.suggested_spec, total_steps=100, optimizer="sgd", task="finetune")
    )


def test_radam_alternative_and_double_warmup() -> None:
    a = advise(total_steps=10_000, warmup=0, optimizer="adamw", beta2=0.98)
    f = finding(a, "radam-alternative")
    assert f.severity == "info" and f.suggestion == "cosine(floor=0.1) | radam(beta2=0.98)"
    assert rampup.parse(f.suggestion, total_steps=10_000).warmup_steps == 0
    assert advise(f.suggestion, total_steps=10_000, optimizer="adamw", beta2=0.98).setup.warmup_steps == 100  # 1%
    # RAdam's 100 steps would be 0.1% of a 100k-step run (a warning): not offered there
    assert "radam-alternative" not in checks(advise(total_steps=100_000, warmup=0, optimizer="adamw", beta2=0.98))
    a = advise("linear(2%) -> cosine | radam(beta2=0.999)", total_steps=10_000, optimizer="radam")
    assert checks(a)["radam-double-warmup"] == "warning"
    assert "radam(" not in a.suggested_spec


def test_untuned_beta2_mismatch() -> None:
    a = advise("untuned_linear(beta2=0.999) -> cosine", total_steps=100_000, optimizer="adamw", beta2=0.95)
    assert checks(a)["untuned-beta2-mismatch"] == "warning"
    assert "untuned-beta2-mismatch" not in checks(
        advise("untuned_linear(beta2=0.95) -> cosine", total_steps=100_000, optimizer="adamw", beta2=0.95)
    )
    # the suggestion follows the optimizer's β2, and fed back it draws no warning (was: the spec unchanged)
    for spec, want in [
        ("constant | radam(beta2=0.999)", "constant | radam(beta2=0.98)"),
        (
            "linear(2%) -> cosine | untuned_exponential(beta2=0.999)",
            "linear(2%) -> cosine | untuned_exponential(beta2=0.98)",
        ),
    ]:
        a = advise(spec, total_steps=10_000, optimizer="adamw", beta2=0.98)
        assert checks(a)["untuned-beta2-mismatch"] == "warning" and a.suggested_spec == want
        again = advise(a.suggested_spec, total_steps=10_000, optimizer="adamw", beta2=0.98)
        assert not [f for f in again if f.severity in ("warning", "error")], again


def test_schedule_free_still_wants_warmup() -> None:
    a = advise(total_steps=10_000, warmup=0, optimizer="schedule_free_adamw", beta2=0.95, task="pretrain")
    assert checks(a)["schedule-free-warmup"] == "warning"
    assert "Defazio et al. 2024" in finding(a, "schedule-free-warmup").citation


def test_linear_scaling_rule_for_sgd() -> None:
    kw: dict[str, Any] = dict(total_steps=450_000, warmup="5%", optimizer="sgd", batch_size=8192, base_batch_size=256)
    assert "batch-lr-scaling" not in checks(advise(base_lr=0.1, peak_lr=3.2, **kw))  # 0.1 x 32
    f = finding(advise(base_lr=0.1, peak_lr=0.4, **kw), "batch-lr-scaling")
    assert f.severity == "warning" and "gives (3.2)" in f.message and "0.125x" in f.message
    f = finding(advise(base_lr=0.1, **kw), "batch-lr-scaling")
    assert f.severity == "info" and "peak LR 3.2 from base LR 0.1" in f.message


def test_sqrt_scaling_rule_for_adam() -> None:
    a = advise(
        total_steps=100_000,
        warmup="2%",
        optimizer="adamw",
        beta2=0.95,
        batch_size=4096,
        base_batch_size=256,
        base_lr=1e-3,
    )
    assert "peak LR 0.004 from base LR 0.001" in finding(a, "batch-lr-scaling").message  # sqrt(16) = 4


def test_large_batch_needs_gradual_warmup_from_the_small_batch_lr() -> None:
    a = advise(total_steps=10_000, warmup=0, optimizer="sgd", batch_size=8192, base_batch_size=256)
    assert checks(a)["large-batch-warmup"] == "warning"
    assert checks(a)["batch-size-warmup-length"] == "info"
    # batch 32x the base is a risk factor (5%), and the ramp starts from the small-batch LR: 1/32
    assert a.suggested_spec == "linear(5%, start=0.03125) -> cosine(floor=0.1)"
    a = advise(total_steps=10_000, warmup=200, optimizer="sgd", batch_size=1024, base_batch_size=256)
    assert "start=0.25" in finding(a, "gradual-warmup-start").message
    assert a.suggested_spec == "linear(200, start=0.25) -> cosine(floor=0.1)"


def test_constant_warmup_gap() -> None:
    a = advise("constant(5%, start=0.01) -> cosine", total_steps=10_000, optimizer="sgd")
    f = finding(a, "constant-warmup-gap")
    assert f.severity == "warning" and "jump of 100x" in f.message
    assert f.suggestion == "linear(5%, start=0.01) -> cosine"
    assert a.suggested_spec == "linear(5%, start=0.01) -> cosine"
    assert checks(advise("constant(5%, start=0.5) -> cosine", total_steps=10_000, optimizer="sgd")) == {
        "constant-warmup-gap": "info"
    }


def test_model_size() -> None:
    a = advise(total_steps=100_000, warmup="0.5%", optimizer="adamw", beta2=0.95, model_params="7B")
    assert checks(a)["model-size-warmup"] == "warning"
    assert a.suggested_spec == "linear(5%) -> cosine(floor=0.1)"
    assert "model-size-warmup" not in checks(
        advise(total_steps=100_000, warmup="0.5%", optimizer="adamw", beta2=0.95, model_params="125M")
    )


def test_precision_and_parallelism() -> None:
    kw: dict[str, Any] = dict(total_steps=100_000, optimizer="sgd")
    assert checks(advise(warmup=50, precision="fp16", **kw))["mixed-precision-warmup"] == "warning"
    assert checks(advise(warmup=2000, precision="16-mixed", **kw)) == {"mixed-precision-warmup": "info"}
    assert checks(advise(warmup=2000, precision="bf16", **kw)) == {}
    a = advise(warmup=2000, parallelism="fsdp,pipeline", **kw)
    assert checks(a) == {"distributed-warmup": "info"}
    assert "fsdp/pipeline" in a[0].message


def test_weight_decay_during_warmup() -> None:
    kw: dict[str, Any] = dict(total_steps=100_000, warmup=2000, optimizer="adamw", beta2=0.95, weight_decay=0.1)
    assert checks(advise(wd_mode="independent", **kw)) == {"weight-decay-warmup": "warning"}
    assert checks(advise(wd_mode="lr", **kw)) == {}
    f = finding(advise(**kw), "weight-decay-warmup")
    assert f.severity == "info" and "λ_t = λ·schedule(t)/peak_lr" in f.reason
    assert "Loshchilov & Hutter 2019" in f.citation


def test_rewarm_after_loading_and_after_a_reset() -> None:
    a = advise(total_steps=5000, warmup=0, optimizer="sgd", from_pretrained=True)
    assert a.setup.task == "finetune"  # loaded weights: the fine-tuning guidance
    assert checks(a)["rewarm-after-loading"] == "warning"
    a = advise("linear(2%) -> cosine", total_steps=10_000, optimizer="sgd", reset_optimizer_at=5000)
    f = finding(a, "rewarm-after-reset")
    assert f.suggestion == "linear(2%) -> cosine | rewarm(at=5000, length=100)"
    assert a.suggested_spec == f.suggestion
    ok = advise(
        "linear(2%) -> cosine | rewarm(at=50%, length=100)",
        total_steps=10_000,
        optimizer="sgd",
        reset_optimizer_at=5000,
    )
    assert "rewarm-after-reset" not in checks(ok)


def test_hf_constant_scheduler_ignores_warmup() -> None:
    a = advise(config={"max_steps": 1000, "warmup_steps": 50, "lr_scheduler_type": "constant", "optim": "sgd"})
    f = finding(a, "hf-constant-ignores-warmup")
    assert f.severity == "error" and "constant_with_warmup" in f.reason
    assert a.suggested_spec == "linear(50) -> constant"


def test_every_finding_has_a_known_severity_and_a_citation() -> None:
    a = advise(
        total_steps=10_000,
        warmup=0,
        optimizer="adamw",
        norm="post",
        precision="fp16",
        parallelism="fsdp",
        weight_decay=0.1,
        model_params="2B",
        batch_size=4096,
        base_batch_size=256,
        base_lr=1e-3,
        peak_lr=1e-3,
    )
    assert len(a) >= 8
    for f in a:
        assert f.severity in ("error", "warning", "info") and f.citation and f.reason and f.message
    assert [f.severity for f in a] == sorted((f.severity for f in a), key=["error", "warning", "info"].index)
    with pytest.raises(ValueError, match="severity: got 'fatal'"):
        Finding("x", "fatal", "m", "r", REFERENCES["goyal"])


# ---------------------------------------------------------------------------------------------
# The suggested spec
# ---------------------------------------------------------------------------------------------


def test_spec_input_reads_the_warmup_off_the_resolved_schedule() -> None:
    a = advise("linear(2%) -> cosine(floor=0.1)", total_steps=10_000, optimizer="sgd")
    assert a.setup.warmup_steps == 200 and a.setup.sources["warmup_steps"] == "spec"
    assert checks(a) == {} and a.suggested_spec == "linear(2%) -> cosine(floor=0.1)"
    n = advise("noam(d_model=512, warmup=4000)", total_steps=100_000, optimizer="adam", beta2=0.98)
    assert n.setup.warmup_steps == 4000 and checks(n) == {}
    n = advise("noam(d_model=512, warmup=100)", total_steps=100_000, optimizer="adam", beta2=0.98)
    assert n.suggested_spec == "noam(d_model=512, warmup=2%)"
    r = advise("constant | radam(beta2=0.999)", total_steps=100_000, optimizer="adamw", beta2=0.999)
    assert r.setup.warmup_steps == 2000 and "adam-beta2-warmup" not in checks(r)


def test_a_spec_needs_what_its_lengths_need() -> None:
    with pytest.raises(ValueError, match="needs total_steps"):
        advise("linear(2%) -> cosine(floor=0.1)")


LENGTH_CHECKS = set(advisor_mod.LENGTH_CHECKS)

SETUPS = st.fixed_dictionaries(
    {
        "total_steps": st.one_of(st.integers(2, 400), st.integers(400, 2_000_000)),
        "warmup": st.one_of(
            st.integers(0, 5000),
            st.sampled_from(["0.1%", "0.5%", "1%", "2%", "3%", "5%", "10%", "30%"]),
        ),
        "optimizer": st.sampled_from(
            ["sgd", "adamw", "adam", "radam", "lion", "lamb", "schedule_free_adamw", "rmsprop", "adafactor"]
        ),
        "beta2": st.sampled_from([0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999]),
        "task": st.sampled_from(["pretrain", "finetune", None]),
        "norm": st.sampled_from(["pre", "post", None]),
        "precision": st.sampled_from(["fp32", "bf16", "fp16", "fp8"]),
        "batch_size": st.sampled_from([256, 1024, 8192]),
        "base_batch_size": st.just(256),
        "model_params": st.sampled_from(["10M", "1B", "70B"]),
        "parallelism": st.sampled_from(["ddp", "fsdp", "pipeline"]),
        "from_pretrained": st.booleans(),
    },
    optional={
        # the warmup written as a spec instead of a length: each shape the advisor treats specially
        "spec": st.sampled_from(
            [
                "constant({w}, start=0.01) -> cosine",
                "cosine({w}, start=0.1) -> linear",
                "poly({w}, power=2) -> cosine(floor=0.1)",
                "exponential({w}) -> constant",
                "untuned_linear(beta2=0.999) -> cosine",
                "linear({w}) -> cosine | radam(beta2=0.999)",
                "noam(d_model=512, warmup={w})",
            ]
        ),
        "reset_optimizer_at": st.sampled_from(["50%", "75%"]),
    },
)


def _length_complaints(a: Advice) -> list[str]:
    return [f"{f.severity} {f.check}: {f.message}" for f in a if f.check in LENGTH_CHECKS and f.severity != "info"]


@settings(max_examples=300, deadline=None)
@given(SETUPS)
def test_every_suggested_spec_passes_the_advisors_own_checks(setup: dict[str, Any]) -> None:
    """Item 10: for every recommendation (the suggested spec and each finding's 'try:'), re-running the advisor on it
    gives no error or warning about the warmup length; and the one place that reconciles the rules (the length range)
    agrees with the checks on the user's own warmup."""
    T = setup["total_steps"]
    if isinstance(setup["warmup"], int) and setup["warmup"] >= T:
        setup["warmup"] = T - 1
    if "spec" in setup:
        w = setup.pop("warmup")
        setup["spec"] = setup["spec"].format(w=w if w != 0 else 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rampup.LengthRoundingWarning)  # the user's '0.1%' of 200 steps
        try:
            a = advise(**setup)
        except ValueError as e:  # the user's own spec does not fit the run (untuned_linear(0.999) in 100 steps)
            assert "longer than the run" in str(e) or "accepted: >= 1 step" in str(e), e
            reject()
    # the checks and the reconciled range agree on the user's warmup
    assert length_ok(a.setup) == (not _length_complaints(a)), (_length_complaints(a), a.setup)
    rest = {k: v for k, v in setup.items() if k not in ("warmup", "spec")}
    suggestions = [("suggested", a.suggested_spec)] + [(f.check, f.suggestion) for f in a if f.suggestion]
    if a.suggested_spec is None:
        assert T < 2 or any("no room" in x for x in a.assumptions)
    for where, text in suggestions:
        if text is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", rampup.LengthRoundingWarning)  # a suggestion never rounds to 0 steps
            rampup.parse(text, total_steps=T)
            again = advise(text, **rest)
        assert not _length_complaints(again), (where, text, _length_complaints(again))
        # (unless RAdam's own rectification, 2/(1-β2) steps, is longer than the chosen warmup: no spec changes that
        # length, so the info about it stands)
        builtin_longer = (again.setup.builtin_warmup or 0) > (again.setup.warmup_steps or 0)
        if where == "suggested" and not length_ok(a.setup) and not builtin_longer:
            # a length the advisor chose sits inside the range it recommends: not even an info about the fraction
            assert not {"pretrain-warmup-fraction", "finetune-warmup-steps"} & {f.check for f in again}, (text, again)
    if "radam-alternative" in checks(a):  # item 11: "switch the optimizer to RAdam" is advice that passes
        radam = advise(**{**rest, "optimizer": "radam", "warmup": 0, "reset_optimizer_at": None})
        assert not radam.has_errors and not _length_complaints(radam), _length_complaints(radam)
    if length_ok(a.setup) and a.suggested_spec is not None and "untuned-beta2-mismatch" not in checks(a):
        again = advise(a.suggested_spec, **rest)
        assert again.setup.warmup_steps == a.setup.warmup_steps  # nothing to fix: the length is kept


def test_a_warmup_that_rounds_to_0_steps_is_left_out_of_the_suggestions() -> None:
    # found by the property test: 0.1% of 390 steps rounds to 0 (skipped); "try RAdam" repeated that warmup, so
    # the suggestion itself warned when parsed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rampup.LengthRoundingWarning)  # the user's own spec
        a = advise("constant(0.1%, start=0.01) -> cosine", total_steps=390, optimizer="adamw", beta2=0.9)
        b = advise(
            "constant(0.1%, start=0.01) -> constant(50) -> cosine", total_steps=390, optimizer="adamw", beta2=0.9
        )
    assert finding(a, "radam-alternative").suggestion == "cosine | radam(beta2=0.9)"
    assert finding(b, "radam-alternative").suggestion == "linear(0) -> constant(50) -> cosine | radam(beta2=0.9)"
    with warnings.catch_warnings():
        warnings.simplefilter("error", rampup.LengthRoundingWarning)
        for x in (a, b):
            rampup.parse(finding(x, "radam-alternative").suggestion, total_steps=390)


def test_suggestion_grid_no_length_complaints() -> None:
    # the same property over a fixed grid, so a regression shows without hypothesis' luck
    import itertools

    grid = itertools.product(
        [2, 3, 10, 20, 100, 1000, 10_000, 20_000, 100_000, 1_000_000],
        ["adamw", "sgd"],
        [0.95, 0.999],
        ["bf16", "fp16"],
        ["pretrain", "finetune"],
        [0, "2%", "20%"],
    )
    for total, optimizer, beta2, precision, task, warmup in grid:
        kw: dict[str, Any] = dict(total_steps=total, optimizer=optimizer, beta2=beta2, precision=precision, task=task)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rampup.LengthRoundingWarning)
            a = advise(warmup=warmup, **kw)
        assert a.suggested_spec is not None
        again = advise(a.suggested_spec, **kw)
        assert not _length_complaints(again), (kw, warmup, a.suggested_spec, _length_complaints(again))


# ---------------------------------------------------------------------------------------------
# Inputs: config files, contradictions, unknown values
# ---------------------------------------------------------------------------------------------


def test_hugging_face_training_arguments_json() -> None:
    # data/hf_training_args.json is TrainingArguments(...).to_json_string() from transformers 5.24 (output_dir
    # shortened), with max_steps=2000, warmup_steps=0.05 (a ratio), batch 8 x accumulation 4, cosine, adam_beta2 0.98.
    a = advise(config=str(DATA / "hf_training_args.json"), task="finetune")
    s = a.setup
    assert (s.total_steps, s.warmup_steps, s.batch_size) == (2000, 100, 32)  # ceil(2000 x 0.05); 8 x 4 x 1 device
    assert (s.optimizer, s.beta2, s.peak_lr, s.weight_decay) == ("adamw", 0.98, 2e-5, 0.01)
    assert s.decay == "cosine" and s.hf_scheduler == "cosine"
    assert s.sources["warmup_steps"] == "config hf_training_args.json: warmup_steps=0.05 x total steps"
    assert any("world size unknown" in x for x in a.assumptions)
    assert checks(a) == {"weight-decay-warmup": "info"}
    assert a.suggested_spec == "linear(100) -> cosine"


def test_old_hf_warmup_ratio_and_steps_must_agree() -> None:
    base = {"max_steps": 1000, "optim": "sgd"}
    assert advise(config={**base, "warmup_ratio": 0.1, "warmup_steps": 0}).setup.warmup_steps == 100
    assert advise(config={**base, "warmup_ratio": 0.0, "warmup_steps": 30}).setup.warmup_steps == 30
    assert advise(config={**base, "warmup_ratio": 0.1, "warmup_steps": 100}).setup.warmup_steps == 100
    with pytest.raises(ValueError) as e:
        advise(config={**base, "warmup_ratio": 0.05, "warmup_steps": 100})
    assert str(e.value) == (
        "warmup: config: warmup_steps=100 and config: warmup_ratio=0.05 = 50 of 1000 steps disagree "
        "(Hugging Face silently uses warmup_steps); set only one of them"
    )


def test_lightning_hydra_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        """
trainer:
  max_steps: 50000
  precision: 16-mixed
  strategy: fsdp
  devices: 4
  accumulate_grad_batches: 2
model:
  norm_first: false
  optimizer:
    _target_: torch.optim.AdamW
    lr: 3.0e-4
    betas: [0.9, 0.95]
    weight_decay: 0.1
  scheduler:
    warmup_steps: 100
data:
  batch_size: 32
"""
    )
    a = advise(config=str(path), task="pretrain")
    s = a.setup
    assert (s.total_steps, s.warmup_steps, s.batch_size, s.optimizer, s.beta2) == (50000, 100, 256, "adamw", 0.95)
    assert (s.precision, s.parallelism, s.norm, s.peak_lr) == ("fp16", ("fsdp",), "post", 3e-4)
    assert s.sources["batch_size"] == (
        "config config.yaml: data.batch_size x trainer.accumulate_grad_batches x trainer.devices"
    )
    assert checks(a) == {
        "pretrain-warmup-fraction": "warning",  # 0.2%
        "post-ln-warmup": "warning",
        "distributed-warmup": "info",
        "mixed-precision-warmup": "info",
        "weight-decay-warmup": "info",
    }
    assert a.suggested_spec == "linear(5%) -> cosine(floor=0.1)"


def test_gpt_neox_style_config() -> None:
    # The Pythia 410M settings as GPT-NeoX writes them: hyphenated keys, warmup as a fraction, fp16 as a block.
    cfg = {
        "train-iters": 143000,
        "lr-decay-iters": 143000,
        "warmup": 0.01,
        "lr-decay-style": "cosine",
        "optimizer": {"type": "Adam", "params": {"lr": 0.0003, "betas": [0.9, 0.95], "eps": 1e-8}},
        "fp16": {"enabled": True, "loss_scale": 0},
        "weight-decay": 0.1,
        "pipe-parallel-size": 1,
    }
    a = advise(config=cfg, task="pretrain")
    s = a.setup
    assert (s.total_steps, s.warmup_steps, s.optimizer, s.beta2, s.peak_lr) == (143000, 1430, "adam", 0.95, 3e-4)
    assert s.precision == "fp16" and s.sources["precision"] == "config: fp16.enabled"
    assert checks(a) == {"mixed-precision-warmup": "info", "weight-decay-warmup": "info"}


def test_contradictions_are_errors_not_guesses() -> None:
    with pytest.raises(ValueError, match=r"peak_lr: --peak-lr gives 0\.001 but config: learning_rate gives 0\.01"):
        advise(peak_lr=1e-3, config={"learning_rate": 1e-2})
    with pytest.raises(ValueError, match=r"warmup: --warmup gives 300 \(300 steps\) but the spec .* 200 steps"):
        advise("linear(200) -> cosine", total_steps=10_000, warmup=300)
    assert advise("linear(200) -> cosine", total_steps=10_000, warmup="2%").setup.warmup_steps == 200
    with pytest.raises(ValueError, match="at most one of bf16 / fp16"):
        read_config({"bf16": True, "fp16": True})
    with pytest.raises(ValueError, match=r"lr: config: model\.lr gives 0\.1 but config: optimizer\.lr gives 0\.2"):
        read_config({"model": {"lr": 0.1}, "optimizer": {"lr": 0.2}})


def test_unknown_values_list_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"optimizer: got 'adamm'; accepted: adafactor, adagrad, adam, .*sgd"):
        advise(optimizer="adamm")
    with pytest.raises(ValueError, match="precision: got 'fp4'; accepted: fp32, bf16, fp16, fp8"):
        advise(precision="fp4")
    with pytest.raises(ValueError, match="task: got 'rl'; accepted: pretrain, finetune"):
        advise(task="rl")
    with pytest.raises(TypeError, match=r"advise: unknown argument\(s\) \['warmup_ratio'\]"):
        advise(warmup_ratio=0.1)
    with pytest.raises(ValueError, match="config: no recognizable training setting"):
        read_config({"foo": 1})
    with pytest.raises(ValueError, match="lr_scheduler_type: got 'cosine_annealing'; accepted: linear, cosine"):
        read_config({"lr_scheduler_type": "cosine_annealing"})
    with pytest.raises(ValueError, match=r"has extension '\.toml'; accepted: \.json, \.yaml, \.yml"):
        read_config("train.toml")
    with pytest.raises(ValueError, match=r"'missing\.json' does not exist"):
        read_config("missing.json")


def test_optimizer_names() -> None:
    assert normalize_optimizer("torch.optim.AdamW") == "adamw"
    assert normalize_optimizer("paged_adamw_8bit") == "adamw"
    assert normalize_optimizer("SGD") == "sgd"
    assert normalize_optimizer("schedule_free_adamw") == "schedule_free_adamw"


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def test_cli_exit_codes_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc = main(["advise", "--total-steps", "10000", "--warmup", "0", "--optimizer", "adamw", "--norm", "post"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "ERROR   post-ln-warmup" in out and "suggested rampup spec: linear(5%) -> cosine(floor=0.1)" in out
    rc = main(
        [
            "advise",
            "linear(2%) -> cosine",
            "--total-steps",
            "10000",
            "--optimizer",
            "adamw",
            "--beta2",
            "0.95",
            "--task",
            "pretrain",
            "--json",
        ]
    )
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["exit_code"] == 0 and d["findings"] == [] and d["suggested_spec"] == "linear(2%) -> cosine"
    assert d["inputs"]["warmup_steps"] == 200
    rc = main(["advise", "--optimizer", "nope"])
    assert rc == 2 and "optimizer: got 'nope'" in capsys.readouterr().err
    assert main(["advise"]) == 2
    assert "nothing to check" in capsys.readouterr().err
    cfg = tmp_path / "args.json"
    cfg.write_text(json.dumps({"max_steps": 10000, "warmup_ratio": 0.03, "optim": "adamw_torch", "adam_beta2": 0.95}))
    rc = main(["advise", "--config", str(cfg), "--task", "pretrain", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["inputs"]["warmup_steps"] == 300 and d["counts"] == {"error": 0, "warning": 0, "info": 0}


def test_docstring_examples() -> None:
    import doctest
    import importlib
    import pkgutil

    attempted = {}
    for name in ["rampup.tools.advisor"] + [
        f"rampup.tools.advisor.{m.name}" for m in pkgutil.iter_modules(advisor_mod.__path__)
    ]:
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert res.failed == 0, name
        attempted[name] = res.attempted
    for name in ("rampup.tools.advisor", "rampup.tools.advisor.engine", "rampup.tools.advisor.inputs"):
        assert attempted[name] > 0, name


# ---------------------------------------------------------------------------------------------
# Each subcommand's --help shows its own examples
# ---------------------------------------------------------------------------------------------


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    return capsys.readouterr().out


def test_each_subcommand_help_shows_examples_of_itself_only(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from rampup.cli import COMMANDS

    names = [c[0] for c in COMMANDS]
    assert {"curve", "explain", "plot", "advise", "sweep", "bench", "demo", "experiment", "auto-compare"} <= set(names)
    for name in names:
        out = _help([name, "--help"], capsys)
        assert "examples:" in out, name
        shown = re.findall(r"^\s+rampup (\S+)", out.split("examples:", 1)[1], flags=re.M)
        assert shown and set(shown) == {name}, (name, shown)
    # the top-level help still lists the spec-language examples
    assert "rampup curve" in _help(["--help"], capsys)


# ---------------------------------------------------------------------------------------------
# RAdam: its rectification is a built-in warmup (item 11)
# ---------------------------------------------------------------------------------------------


def test_radam_without_warmup_is_fine_and_consistent_with_the_switch_to_radam_advice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = advise(total_steps=10_000, warmup=0, optimizer="radam", task="pretrain")
    assert checks(a) == {} and not a.has_errors
    assert a.setup.builtin_warmup == 2000  # 2/(1-β2) at torch's default β2 = 0.999
    assert a.suggested_spec == "cosine(floor=0.1)"  # nothing to add: no explicit warmup
    assert (
        main(["advise", "--total-steps", "10000", "--warmup", "0", "--optimizer", "radam", "--task", "pretrain"]) == 0
    )
    capsys.readouterr()
    # the same setup with AdamW: no warmup is an error, and "switch to RAdam" is offered - and RAdam passes
    adam = advise(total_steps=10_000, warmup=0, optimizer="adamw", beta2=0.98, task="pretrain")
    assert checks(adam)["pretrain-warmup-fraction"] == "error"
    assert "switch the optimizer to RAdam" in finding(adam, "radam-alternative").reason
    assert checks(advise(total_steps=10_000, warmup=0, optimizer="radam", beta2=0.98, task="pretrain")) == {}
    # Post-LN / large batch / loaded weights: RAdam's rectification counts as the warmup for those too
    assert not advise(
        total_steps=10_000, warmup=0, optimizer="radam", norm="post", batch_size=4096, base_batch_size=256
    ).has_errors
    # the rectification is judged like the '| radam(beta2)' factor: 20 steps in a 1M-step run is short
    a = advise(total_steps=1_000_000, warmup=0, optimizer="radam", beta2=0.9, task="pretrain")
    f = finding(a, "pretrain-warmup-fraction")
    assert f.severity == "warning" and f.message.startswith("RAdam's rectification (about 2/(1-β2) = 20 steps)")


# ---------------------------------------------------------------------------------------------
# Item 12: run length from epochs, units on flags, every config key has a flag, fine-tune configs
# ---------------------------------------------------------------------------------------------


def test_real_hf_training_arguments_with_epochs_and_steps_per_epoch(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=3,
        per_device_train_batch_size=16,
        gradient_accumulation_steps=2,
        warmup_steps=0.06,  # transformers >= 5: a float below 1 is a ratio
        learning_rate=2e-5,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        fp16=False,
        report_to=[],
    )
    path = tmp_path / "training_args.json"
    path.write_text(args.to_json_string())
    assert json.loads(path.read_text())["max_steps"] == -1  # the run length is num_train_epochs only
    a = advise(config=str(path), steps_per_epoch=1234, world_size=4, task="finetune")
    s = a.setup
    assert s.total_steps == 3702 and s.sources["total_steps"].endswith("num_train_epochs x --steps-per-epoch")
    assert s.warmup_steps == 223  # transformers: ceil(3702 x 0.06) = ceil(222.12)
    assert s.batch_size == 16 * 2 * 4 and s.decay == "linear"
    assert checks(a) == {"adam-beta2-warmup": "info", "weight-decay-warmup": "info"}
    # the warmup fraction is checked now that the run length is known: the same JSON as pretraining
    a = advise(config=str(path), steps_per_epoch=1234, task="pretrain")
    assert checks(a).get("pretrain-warmup-fraction") == "info"  # 6% is above 1-5%
    assert a.setup.warmup_steps / a.setup.total_steps == pytest.approx(223 / 3702)
    # the CLI: --steps-per-epoch with the JSON; a count with a unit works there too
    rc = main(["advise", "--config", str(path), "--steps-per-epoch", "1.2k", "--task", "finetune", "--json"])
    assert rc == 0
    # without --steps-per-epoch the advisor says what is missing
    a = advise(config=str(path), task="finetune")
    assert a.setup.total_steps is None and a.setup.warmup_steps is None
    assert any("num_train_epochs=3" in x and "pass --steps-per-epoch or --total-steps" in x for x in a.assumptions)
    assert any("warmup_steps=0.06 is a ratio of the run" in x for x in a.assumptions)


def test_flags_take_the_spec_languages_units() -> None:
    a = advise(total_steps="90ep", steps_per_epoch=5004, warmup="5ep", optimizer="sgd")
    assert (a.setup.total_steps, a.setup.warmup_steps) == (450_360, 25_020)
    a = advise(total_steps="1.2Btok", tokens_per_step="3.2M", warmup="1%", optimizer="sgd")
    assert (a.setup.total_steps, a.setup.warmup_steps) == (375, 4)
    a = advise(total_steps="100k", warmup="2%", optimizer="sgd", model_params="1.3B", batch_size="1k")
    assert (a.setup.total_steps, a.setup.model_params, a.setup.batch_size) == (100_000, 1.3e9, 1000)
    assert advise(total_steps="90ep", steps_per_epoch="1.5k", warmup=0, optimizer="sgd").setup.total_steps == 135_000
    with pytest.raises(ValueError, match=r"total_steps: got '2%'; a run length cannot be a fraction of itself"):
        advise(total_steps="2%")
    with pytest.raises(ValueError, match=r"total_steps: '90ep' is in epochs and needs steps_per_epoch"):
        advise(total_steps="90ep")
    with pytest.raises(ValueError, match=r"tokens_per_step: got '3\.2', not a whole number; accepted: an int >= 1"):
        advise(total_steps=100, tokens_per_step="3.2")
    with pytest.raises(ValueError, match=r"total_steps: got 'abc'; accepted: steps \(10000, '100k'\), epochs"):
        advise(total_steps="abc")
    # a flag's '2000' and a config's 2000 are one fact, not a contradiction
    assert advise(total_steps="2000", config={"max_steps": 2000, "optim": "sgd"}).setup.total_steps == 2000


def test_every_config_key_and_every_field_has_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from rampup.tools.advisor import inputs

    out = _help(["advise", "--help"], capsys)
    flags = set(re.findall(r"--[a-z0-9-]+", out))
    # each config target -> the flag that sets the same fact
    same_fact = {
        "warmup_steps": "--warmup",
        "warmup_ratio": "--warmup",
        "micro_batch": "--micro-batch-size",
        "devices": "--world-size",
        "num_nodes": "--world-size",
        "betas": "--beta2",
        "bf16": "--precision",
        "fp16": "--precision",
        "strategy": "--parallelism",
        "fsdp": "--parallelism",
        "deepspeed": "--parallelism",
        "pipeline": "--parallelism",
        "norm_first": "--norm",
        "pretrained": "--from-pretrained",
        "init_from": "--from-pretrained",
        "adapter": "--from-pretrained",
        "finetune_flag": "--task",
        "stage": "--task",
        "hf_scheduler": "--lr-scheduler-type",
        "lr_scheduler_name": "--lr-scheduler-type",
        "hf_scheduler_kwargs": "--decay",
        "spec": "--spec",
    }
    for target in set(inputs.CONFIG_KEYS.values()):
        flag = same_fact.get(target, "--" + target.replace("_", "-"))
        assert flag in flags, (target, flag)
    for name in inputs.FIELDS:
        flag = same_fact.get(name, "--" + name.replace("_", "-"))
        assert flag in flags, (name, flag)
    # and the new flags reach the advisor
    rc = main(
        ["advise", "--total-steps", "1000", "--warmup", "0", "--optimizer", "sgd", "--lr-scheduler-type", "constant"]
    )
    assert rc == 1 and "suggested rampup spec: linear(2%) -> constant" in capsys.readouterr().out
    rc = main(["advise", "--epochs", "3", "--steps-per-epoch", "100", "--warmup", "6", "--optimizer", "sgd"])
    assert rc == 0 and "total_steps=300 [--epochs x --steps-per-epoch]" in capsys.readouterr().out
    rc = main(["advise", "--micro-batch-size", "8", "--grad-accum", "4", "--world-size", "8", "--optimizer", "sgd"])
    assert rc == 0 and "batch_size=256 [--micro-batch-size x --grad-accum x --world-size]" in capsys.readouterr().out


def test_hand_written_fp16_fine_tune_configs_are_fine_tuning(tmp_path: Path) -> None:
    # axolotl-style YAML: base_model + a LoRA adapter, num_epochs, lr_scheduler by its HF name
    path = tmp_path / "lora.yaml"
    path.write_text(
        "base_model: meta-llama/Llama-2-7b-hf\nadapter: lora\nfp16: true\nnum_epochs: 3\nmicro_batch_size: 4\n"
        "gradient_accumulation_steps: 8\nlearning_rate: 2e-4\noptimizer: adamw_torch\nlr_scheduler: cosine\n"
        "warmup_steps: 10\n"
    )
    a = advise(config=str(path), steps_per_epoch=400)
    s = a.setup
    assert (s.task, s.from_pretrained, s.precision, s.total_steps, s.batch_size) == ("finetune", True, "fp16", 1200, 32)
    assert "pretrain-warmup-fraction" not in checks(a) and checks(a)["finetune-warmup-steps"] == "info"
    assert checks(a)["mixed-precision-warmup"] == "warning"  # fp16 with 10 steps; 100 fit in this run
    assert a.suggested_spec == "linear(100) -> cosine"
    # LLaMA-Factory: stage sft; Megatron-style: finetune: true; BERT: init_checkpoint
    for cfg in (
        {"stage": "sft", "fp16": True, "max_steps": 1000, "warmup_steps": 30},
        {"finetune": True, "fp16": True, "train_iters": 1000, "warmup_steps": 30},
        {"init_checkpoint": "bert_model.ckpt", "fp16": True, "max_steps": 1000, "warmup_steps": 30},
    ):
        a = advise(config=cfg, optimizer="adamw")
        assert a.setup.task == "finetune" and "pretrain-warmup-fraction" not in checks(a), cfg


def test_unknown_warmup_shapes_are_read_off_the_registry_not_turned_into_linear_silently() -> None:
    a = advise("piecewise(steps=[5, 10], values=[0.1, 1.0]) -> cosine", total_steps=10_000, optimizer="sgd")
    assert checks(a)["pretrain-warmup-fraction"] == "warning"  # 10 steps = 0.1%
    assert a.suggested_spec == "linear(2%) -> cosine"
    assert any("replaces piecewise(" in x and "piecewise takes no length" in x for x in a.assumptions)
    # a shape with a length keeps its form and arguments
    a = advise("exponential(10, tau=3) -> cosine", total_steps=10_000, optimizer="sgd")
    assert a.suggested_spec == "exponential(2%, tau=3.0) -> cosine"
    a = advise("poly(10, power=3) -> cosine", total_steps=10_000, optimizer="sgd")
    assert a.suggested_spec == "poly(2%, power=3.0) -> cosine"
