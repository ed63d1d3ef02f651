"""tools/sweep/grid.py: the grid warmup × peak_lr × seeds, its specs, keys and errors."""

from __future__ import annotations

from typing import Any

import pytest

import rampup
from rampup.tools.sweep import (
    make_trials,
)

# ---------------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------------


def test_grid_configs_and_specs() -> None:
    trials = make_trials([0, "0.5%", 100], peak_lr=[1e-3, 3e-3], seeds=2, total_steps=1000, params={"steps": 50})
    assert len(trials) == 12 and len({t.key for t in trials}) == 12
    c = trials[0].config
    assert c == {
        "warmup": "0",
        "peak_lr": 1e-3,
        "seed": 0,
        "spec": "cosine(floor=0.1)",
        "total_steps": 1000,
        "warmup_steps": 0,
        "trial": trials[0].key,
        "steps": 50,
    }
    by = {(t.config["warmup"], t.config["peak_lr"], t.config["seed"]): t for t in trials}
    assert by[("0.5%", 3e-3, 1)].config["spec"] == "linear(0.5%) -> cosine(floor=0.1)"
    assert by[("0.5%", 3e-3, 1)].config["warmup_steps"] == 5
    assert by[("100", 1e-3, 0)].name == "warmup=100 peak_lr=0.001 seed=0"
    for t in trials:  # every spec is valid and means what it says
        assert rampup.parse(t.config["spec"], total_steps=1000).warmup_steps == t.config["warmup_steps"]
    # keys are stable across calls (resume relies on it) and change with what the trial means
    again = make_trials([0, "0.5%", 100], peak_lr=[1e-3, 3e-3], seeds=2, total_steps=1000, params={"steps": 50})
    assert [t.key for t in again] == [t.key for t in trials]
    other = make_trials([0], peak_lr=[1e-3], seeds=1, total_steps=1000, params={"steps": 51})
    assert other[0].key != trials[0].key


def test_grid_template_and_seeds() -> None:
    t = make_trials(["2%"], seeds=[7], spec="cosine({warmup}) -> wsd(cooldown=20%) | radam(beta2=0.95)")
    assert t[0].config["spec"] == "cosine(2%) -> wsd(cooldown=20%) | radam(beta2=0.95)"
    assert t[0].config["peak_lr"] is None and t[0].config["seed"] == 7 and "warmup_steps" not in t[0].config
    assert make_trials([0], seeds=1, spec="cosine({warmup}) -> wsd(cooldown=20%)")[0].config["spec"] == (
        "wsd(cooldown=20%)"
    )
    # no warmup before a chain of decays: the chain keeps a 0-step warmup, so its text reads back as the same chain
    chain = make_trials([0], seeds=1, spec="linear({warmup}) -> constant(50%) -> cosine", total_steps=100)[0]
    assert chain.config["spec"] == "linear(0) -> constant(50%) -> cosine"
    assert chain.config["warmup_steps"] == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"warmup": "1%"}, TypeError, "warmup: got '1%'; accepted: a non-empty list"),
        ({"warmup": ["1%", "1%"]}, ValueError, "repeats a value"),
        ({"warmup": ["1%"], "spec": "linear(1%) -> cosine"}, ValueError, "spec template with '{warmup}'"),
        ({"warmup": ["abc"]}, ValueError, "warmup: cannot read 'abc' as a length"),
        ({"warmup": ["0.01%"], "total_steps": 1000}, ValueError, r"warmup: '0.01%' is 0 steps of total_steps=1000"),
        ({"warmup": [1], "seeds": 0}, ValueError, "seeds: got 0"),
        ({"warmup": [1], "seeds": [1, 1]}, ValueError, "repeats a seed"),
        ({"warmup": [1], "peak_lr": [0.1, -1]}, ValueError, "peak_lr: got -1"),
        ({"warmup": [1], "params": {"seed": 3}}, ValueError, r"params: \['seed'\] are set by the sweep itself"),
        ({"warmup": [1], "params": {"x": object()}}, ValueError, "params: must be JSON data"),
    ],
)
def test_grid_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make_trials(**kwargs)
