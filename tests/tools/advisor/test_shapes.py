"""The advisor reads shapes off the core registries: a phase class registered in a test (and removed after) is
understood without touching the advisor's code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rampup import MODIFIERS, WARMUPS, Spec
from rampup.core import register
from rampup.tools.advisor import advise
from rampup.tools.advisor.shapes import (
    beta2_derived,
    holds_level,
    modifier_warmup_steps,
    ramps_from_start,
    warmup_profile,
)
from tests.tools.advisor.helpers import checks


@pytest.fixture
def registered() -> Iterator[dict[str, type[Any]]]:
    """Three throwaway shapes: a gradual warmup, a warmup that holds its level, a β2-derived warmup factor."""

    class SquareRamp(WARMUPS["linear"]):  # type: ignore[misc,valid-type]
        name = "test_square_ramp"

        def segment(self, a: float, length: int) -> Any:  # a quadratic rise: neither linear nor any built-in
            inner = super().segment(a, length)
            return lambda s, xp: a + (1.0 - a) * ((inner(s, xp) - a) / (1.0 - a)) ** 2 if a < 1.0 else inner(s, xp)

    class Plateau(WARMUPS["constant"]):  # type: ignore[misc,valid-type]
        name = "test_plateau"

    class Beta2Factor(MODIFIERS["untuned_exponential"]):  # type: ignore[misc,valid-type]
        name = "test_beta2_factor"

    classes = {c.name: c for c in (SquareRamp, Plateau, Beta2Factor)}
    before = {name: dict(table) for name, table in (("w", WARMUPS), ("m", MODIFIERS))}
    for c in classes.values():
        register(c)
    try:
        yield classes
    finally:
        for c in classes.values():
            (WARMUPS if c.role == "warmup" else MODIFIERS).pop(c.name, None)
        assert dict(WARMUPS) == before["w"] and dict(MODIFIERS) == before["m"]


def test_builtin_shapes_are_classified_from_their_curves() -> None:
    assert {n: warmup_profile(n) for n in WARMUPS} == {
        "linear": "ramp",
        "constant": "hold",
        "cosine": "ramp",
        "poly": "ramp",
        "exponential": "ramp",
        "untuned_linear": "ramp",
        "piecewise": None,  # its knots say its shape: not classified, never assumed linear
    }
    assert warmup_profile("no_such_shape") is None and warmup_profile(None) is None
    assert not ramps_from_start("no_such_shape") and not holds_level("no_such_shape")


def test_warmup_modifiers_are_read_off_their_factor() -> None:
    spec = "constant | radam(beta2=0.999) | asymptotic_exponential(tau=50) | rewarm(at=10, length=5)"
    assert [modifier_warmup_steps(m, 10_000) for m in Spec.parse(spec).modifiers] == [2000, 100, None]
    # a compat factor with neither β2 nor τ (pytorch_warmup's, warmup_period=w): read off its curve
    compat = "constant | pw:linear(warmup_period=100) | pw:exponential(warmup_period=100)"
    assert [modifier_warmup_steps(m, 10_000) for m in Spec.parse(compat).modifiers] == [100, 200]
    # so the advisor sees that warmup (before: none, and an error for pretraining without warmup)
    a = advise("cosine | pw:linear(warmup_period=2000)", total_steps=100_000, optimizer="sgd", task="pretrain")
    assert (a.setup.warmup_steps, a.setup.warmup_shape, list(a)) == (2000, "pw:linear", [])


def test_a_registered_gradual_warmup_is_recognised(registered: dict[str, type[Any]]) -> None:
    assert warmup_profile("test_square_ramp") == "ramp" and ramps_from_start("test_square_ramp")
    # too short for pretraining: the suggestion keeps the user's shape with the advisor's length
    a = advise("test_square_ramp(0.1%) -> cosine", total_steps=100_000, optimizer="sgd", task="pretrain")
    assert a.setup.warmup_shape == "test_square_ramp" and a.setup.warmup_steps == 100
    assert [f.check for f in a] == ["pretrain-warmup-fraction"]
    assert a.suggested_spec == "test_square_ramp(2%) -> cosine"
    # a large batch: the gradual warmup should start from the small-batch LR (the check reads the shape's curve)
    b = advise(
        "test_square_ramp(2%) -> cosine",
        total_steps=100_000,
        optimizer="sgd",
        task="pretrain",
        batch_size=1024,
        base_batch_size=256,
    )
    assert "gradual-warmup-start" in [f.check for f in b]
    assert b.suggested_spec == "test_square_ramp(2%, start=0.25) -> cosine"


def test_a_registered_holding_warmup_is_recognised(registered: dict[str, type[Any]]) -> None:
    assert holds_level("test_plateau") and not ramps_from_start("test_plateau")
    a = advise("test_plateau(2%, start=0.01) -> cosine", total_steps=10_000, optimizer="sgd", task="pretrain")
    [f] = a
    assert (f.check, f.severity) == ("constant-warmup-gap", "warning")
    assert f.message.startswith("test_plateau warmup at 0.01x the peak, then a jump of 100x")
    assert a.suggested_spec == "linear(2%, start=0.01) -> cosine"


def test_a_registered_beta2_modifier_is_recognised(registered: dict[str, type[Any]]) -> None:
    [m] = Spec.parse("constant | test_beta2_factor(beta2=0.999)").modifiers
    assert beta2_derived(m) and modifier_warmup_steps(m) == 2000
    a = advise(
        "cosine | test_beta2_factor(beta2=0.999)", total_steps=100_000, optimizer="adamw", beta2=0.999, task="pretrain"
    )
    assert (a.setup.warmup_steps, a.setup.warmup_shape) == (2000, "test_beta2_factor")
    assert [f.check for f in a] == []
    # its β2 is the optimizer's: a mismatch is found, and the fix gives the factor the optimizer's β2
    b = advise(
        "cosine | test_beta2_factor(beta2=0.99)", total_steps=100_000, optimizer="adamw", beta2=0.999, task="pretrain"
    )
    assert "untuned-beta2-mismatch" in [f.check for f in b]
    assert b.suggested_spec is not None and "test_beta2_factor(beta2=0.999)" in b.suggested_spec


def test_the_registries_are_left_as_they_were() -> None:
    assert not {"test_square_ramp", "test_plateau"} & set(WARMUPS) and "test_beta2_factor" not in MODIFIERS


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
