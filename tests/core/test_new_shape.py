"""A new shape costs its formula and its phase class only: everything else reads the registries.

A throwaway warmup is registered here (and unregistered after): the parser, the dict
form, the factories, the error messages and the hypothesis strategies all know it,
without any other file changing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import find, settings

import rampup
from rampup.core import Spec, SpecSyntaxError
from rampup.core.params import REQUIRED, Param
from rampup.core.phases import WARMUPS, Ramp, Warmup, register, unregister

from . import strategies

NAME = "throwaway_cubic"


def _w_cubic(p: Any, xp: Any) -> Any:  # the formula: w(p) = p^3
    return p * p * p


class ThrowawayCubicWarmup(Warmup):
    """The phase class: ``η_t = η_0 + (η_max − η_0)·((t + 1)/T_w)^3``."""

    name = NAME
    params = {
        "length": Param("length", REQUIRED, "warmup length T_w"),
        "start": Param("fraction", None, "start value as a fraction of the peak (default 0)"),
    }

    def segment(self, a: float, length: int) -> Any:
        return Ramp(a, length, _w_cubic)


@pytest.fixture
def shape() -> Iterator[type[Warmup]]:
    register(ThrowawayCubicWarmup)
    try:
        yield ThrowawayCubicWarmup
    finally:
        unregister(ThrowawayCubicWarmup)
    assert NAME not in WARMUPS


def test_parses_evaluates_and_round_trips(shape: type[Warmup]) -> None:
    text = f"{NAME}(4, start=0.1) -> cosine(floor=0.1)"
    spec = Spec.parse(text)
    assert isinstance(spec.warmup, shape) and str(spec) == text
    assert Spec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["warmup"] == {"phase": NAME, "length": 4, "start": 0.1}
    s = rampup.parse(text, total_steps=20)
    assert s.warmup_steps == 4
    assert s(np.arange(4)).tolist() == pytest.approx([0.1 + 0.9 * (k / 4) ** 3 for k in (1, 2, 3, 4)], abs=1e-15)
    assert s(3) == 1.0  # the peak exactly at the warmup's last step, as every warmup
    assert [s(k) for k in range(4)] == s(np.arange(4)).tolist()  # scalar and vectorized agree
    # the Python API's factory reads the registry too
    assert getattr(rampup.warmup, NAME)(4, start=0.1) == spec.warmup
    assert NAME in dir(rampup.warmup)


def test_listed_where_the_core_lists_accepted_names(shape: type[Warmup]) -> None:
    with pytest.raises(SpecSyntaxError, match=rf"unknown warmup 'nosuch'; accepted: .*\b{NAME}\b"):
        Spec.parse("nosuch(4) -> cosine")
    with pytest.raises(ValueError, match=rf"warmup: unknown phase 'nosuch'; accepted: .*\b{NAME}\b"):
        Spec.from_dict({"warmup": {"phase": "nosuch"}, "decay": [{"phase": "cosine"}]})
    with pytest.raises(AttributeError, match=rf"no warmup named 'nosuch'; accepted: .*\b{NAME}\b"):
        rampup.warmup.nosuch  # noqa: B018
    # its arguments are checked by the one argument system, with the one message format
    with pytest.raises(ValueError, match=rf"{NAME}: start: got '1.5'; accepted: a fraction of the peak in \[0, 1\]"):
        Spec.parse(f"{NAME}(4, start=1.5) -> cosine")


def test_drawn_by_the_strategies(shape: type[Warmup]) -> None:
    # The strategies read the registry when they draw: the new shape turns up with valid arguments.
    text = find(
        strategies.warmup(200),
        lambda w: w is not None and w.startswith(NAME),
        settings=settings(database=None, max_examples=5000),
    )
    assert Spec.parse(f"{text} -> constant").warmup.name == NAME
    text, total = find(
        strategies.spec_and_total(),
        lambda st_: st_[0].startswith(NAME),
        settings=settings(database=None, max_examples=5000),
    )
    assert rampup.parse(text, total_steps=total).warmup_steps >= 1


def test_register_refuses_a_second_class_under_the_same_name(shape: type[Warmup]) -> None:
    class Other(ThrowawayCubicWarmup):
        pass

    with pytest.raises(ValueError, match=rf"phase name '{NAME}' is already registered for role 'warmup'"):
        register(Other)
    unregister(Other)  # not the registered class: nothing happens
    assert WARMUPS[NAME] is shape
