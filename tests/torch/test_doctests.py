"""The docstring examples of the monitor, auto-warmup and guard modules run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "rampup.torch.monitor",
        "rampup.torch.stats",
        "rampup.torch.auto",
        "rampup.torch.auto_policies",
        "rampup.torch.auto_spec",
        "rampup.torch.factory",
        "rampup.torch.guard",
        "rampup.torch.scheduler_state",
        "rampup.torch.checks",
        "rampup.core.resolve",
    ],
)
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"{name} has no examples"
    assert res.failed == 0
