"""rampup.core.resolve: the one spec resolver of the torch, optax and keras adapters."""

from __future__ import annotations

import pytest

import rampup
from rampup.core.resolve import RUN_KEYS, describe, resolve, resolve_multiples, schedule_from_dict

KW = {"where": "spec", "framework": "rampup.optax.schedule", "native": "write it as a spec"}
RUN = {"total_steps": 10, "steps_per_epoch": None, "tokens_per_step": None}


def test_resolve_gives_absolute_values_from_every_spec_form() -> None:
    ref = rampup.parse("linear(4) -> cosine", total_steps=10, peak_lr=0.5)
    for value in ("linear(4) -> cosine", ref.spec.to_dict(), ref.spec):
        s = resolve(value, peak_lr=0.5, **RUN, **KW)
        assert [s(t) for t in range(10)] == [ref(t) for t in range(10)]
    assert resolve(ref, peak_lr=None, total_steps=None, steps_per_epoch=None, tokens_per_step=None, **KW) is ref


def test_resolve_refuses_a_missing_peak_and_a_second_run_argument() -> None:
    with pytest.raises(ValueError, match=r"peak_lr: missing; rampup.optax.schedule uses"):
        resolve("linear(4) -> cosine", peak_lr=None, **RUN, **KW)
    ref = rampup.parse("linear(4) -> cosine", total_steps=10, peak_lr=0.5)
    with pytest.raises(
        ValueError, match=r"total_steps: got 20, but spec is a rampup.Schedule that is already resolved"
    ):
        resolve(ref, peak_lr=None, total_steps=20, steps_per_epoch=None, tokens_per_step=None, **KW)
    with pytest.raises(TypeError, match=r"spec: got the function .*; accepted: a spec string"):
        resolve(lambda step: 0.1, peak_lr=0.5, **RUN, **KW)


def test_resolve_multiples_is_relative_to_the_peak() -> None:
    s = resolve_multiples("linear(4) -> constant", where="schedule", run=RUN, owner="WarmupScheduler")
    assert s.peak_lr is None and s(0) == 0.25 and s(3) == 1.0
    assert schedule_from_dict(s.to_dict(), "schedule") == s
    assert resolve_multiples(s.to_dict(), where="schedule", run=RUN) == s


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (
            "linear(4) -> cosine(floor_lr=1e-5)",
            ValueError,
            r"schedule: cosine: floor_lr=1e-05 is an absolute LR; "
            r"WarmupScheduler multiplies each param group's own peak LR",
        ),
        (3, TypeError, r"schedule: got int; accepted: a spec string, a spec dict, a rampup.Spec or a rampup.Schedule"),
        ("lnear(4)", ValueError, r"^schedule: "),
    ],
)
def test_resolve_multiples_names_the_argument(value: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        resolve_multiples(value, where="schedule", run=RUN, owner="WarmupScheduler")


def test_a_resolved_schedule_keeps_its_run_and_refuses_a_peak() -> None:
    s = rampup.parse("linear(2%) -> cosine", total_steps=100)
    with pytest.raises(
        ValueError,
        match=r"total_steps: got 50, but the Schedule given as schedule was resolved "
        r"with total_steps=100; give total_steps once \(in the Schedule or to WarmupScheduler\)",
    ):
        resolve_multiples(s, where="schedule", run={"total_steps": 50}, owner="WarmupScheduler")
    with pytest.raises(ValueError, match=r"got a Schedule with peak_lr=0.1, whose values are absolute LRs"):
        resolve_multiples(rampup.parse("constant", peak_lr=0.1), where="schedule", run={})


def test_names() -> None:
    assert RUN_KEYS == ("total_steps", "steps_per_epoch", "tokens_per_step")
    assert describe(3) == "builtins.int"
