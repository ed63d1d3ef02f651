"""The auto-warmup runs are the experiments' loops with another LR plan: a fixed arm is train_lm/train_digits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from rampup.experiments.auto_runs import Arm, digits_then, run_digits, run_lm
from rampup.experiments.train import DigitsConfig, LMConfig, train_digits, train_lm
from rampup.tools.pool import torch_threads


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with torch_threads(1):  # tiny models: one thread is fastest and leaves the other core to the other tests
        yield


TINY_LM = LMConfig(
    spec="linear(4) -> cosine(floor=0.1)",
    n_layers=1,
    d_model=16,
    n_heads=2,
    seq_len=16,
    batch=4,
    steps=12,
    eval_windows=8,
    eval_every=10**9,
    corpus_bytes=200_000,
)


def test_run_lm_with_a_fixed_arm_is_train_lm():
    ref = train_lm(TINY_LM, seed=3)
    got = run_lm(TINY_LM, 3, Arm("fixed", "f", spec=TINY_LM.spec))
    assert got["train_loss"] == ref["train_loss"] and got["lr"] == ref["lr"]
    assert got["final_val_loss"] == ref["final_val_loss"]


def test_run_digits_with_a_fixed_arm_is_train_digits():
    cfg = DigitsConfig(epochs=3, warmup="gradual", warmup_epochs=0.5, width=4)
    ref = train_digits(cfg, seed=1)
    got = run_digits(cfg, 1, Arm("fixed", "f", spec=ref["spec"]))
    assert got["train_loss"] == ref["train_loss"] and got["final_test_error"] == ref["final_test_error"]
    then, total, spe = digits_then(cfg)
    assert then.startswith("multistep(") and total == 3 * spe


def test_run_lm_auto_arm_records_the_decision():
    cfg = replace(TINY_LM, spec="cosine(floor=0.1)")  # for an auto arm, cfg.spec is what follows the warmup
    r = run_lm(cfg, 0, Arm("auto", "auto_update", method="update", start=0.05))
    assert r["auto_done"] and r["spec"].startswith("piecewise(") and 1 <= r["warmup_steps"] <= 6  # 50 % of 12
    assert r["warmup_steps"] == r["events"][-1]["warmup_steps"]
    assert r["lr"][0] == pytest.approx((0.05 + 0.95 / 6) * TINY_LM.peak_lr)  # linear(6, start=0.05) at t = 0
    assert any(e.get("event") == "warmup_end" for e in r["events"])
