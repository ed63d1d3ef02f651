from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

# The quick smoke tests check each experiment's pipeline — its arms, specs, output files and their fields —
# not its training, which tests/experiments/test_training.py checks.  With E1's 4-layer, 64-wide model
# they were half of the suite's slowest tests; with this model they take seconds (training ~1/250 the cost).
TINY_LM = {"n_layers": 1, "d_model": 16, "n_heads": 2, "seq_len": 16, "batch": 4}
TINY_DIGITS = {"width": 4}


@pytest.fixture
def tiny_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every in-process run (``workers=1``, the demo's automatic-warmup run) trains a tiny model.

    Yields the kinds of runs made, so a test can check that the fixture was in effect.
    """
    from rampup.experiments import auto_runs, train

    made: list[str] = []
    lm, digits, auto_lm = train.train_lm, train.train_digits, auto_runs.run_lm
    exp_lm_auto, exp_digits_auto = auto_runs.train_lm_auto, auto_runs.train_digits_auto

    def tiny_lm(cfg: Any, *a: Any, **k: Any) -> Any:
        made.append("lm")
        return lm(replace(cfg, **TINY_LM), *a, **k)

    def tiny_digits(cfg: Any, *a: Any, **k: Any) -> Any:
        made.append("digits")
        return digits(replace(cfg, **TINY_DIGITS), *a, **k)

    def tiny_auto(cfg: Any, *a: Any, **k: Any) -> Any:
        made.append("auto")
        return auto_lm(replace(cfg, **TINY_LM), *a, **k)

    def tiny_lm_auto(cfg: Any, *a: Any, **k: Any) -> Any:  # the experiments' auto arms (auto_runs.auto_job)
        made.append("lm_auto")
        return exp_lm_auto(replace(cfg, **TINY_LM), *a, **k)

    def tiny_digits_auto(cfg: Any, *a: Any, **k: Any) -> Any:
        made.append("digits_auto")
        return exp_digits_auto(replace(cfg, **TINY_DIGITS), *a, **k)

    monkeypatch.setattr(train, "train_lm", tiny_lm)
    monkeypatch.setattr(auto_runs, "train_lm_auto", tiny_lm_auto)
    monkeypatch.setattr(auto_runs, "train_digits_auto", tiny_digits_auto)
    monkeypatch.setattr(train, "train_digits", tiny_digits)
    monkeypatch.setattr(auto_runs, "run_lm", tiny_auto)
    yield made
