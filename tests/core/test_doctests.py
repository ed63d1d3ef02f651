"""Every docstring example in the core runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rampup",
    "rampup.core.backend",
    "rampup.core.units",
    "rampup.core.phases.warmups",
    "rampup.core.phases.decays",
    "rampup.core.phases.wholes",
    "rampup.core.phases.modifiers",
    "rampup.core.schedule",
    "rampup.core.spec_text",
    "rampup.core.auto_spec",
    "rampup.tools.explain",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"{name} has no examples"
    assert res.failed == 0
