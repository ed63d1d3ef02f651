"""tools/advisor/checks.py: each check fires on the setup it is about (and not on a compliant one)."""

from __future__ import annotations

from typing import Any

import pytest

import rampup
from rampup.cli import main
from rampup.tools.advisor import REFERENCES, Finding, advise
from tests.tools.advisor.helpers import checks, finding

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
