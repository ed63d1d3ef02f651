"""E9, E10, E11 (issue 15) in --quick mode, and the loop they share (rampup/experiments/e9e11_loop.py)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import rampup
from rampup.experiments import run_experiment

from .conftest import TINY_LM
from .test_quick import check_outputs


@pytest.fixture
def tiny_x(monkeypatch: pytest.MonkeyPatch, tiny_models: list[str]) -> Iterator[list[str]]:
    """The E9–E11 loop trains the tiny model too (with ``tiny_models`` for E10's pretraining)."""
    from rampup.experiments import e9e11_loop

    train_x = e9e11_loop.train_x

    def tiny(cfg: Any, *a: Any, **k: Any) -> Any:
        tiny_models.append("x")
        return train_x(replace(cfg, lm=replace(cfg.lm, **TINY_LM)), *a, **k)

    monkeypatch.setattr(e9e11_loop, "train_x", tiny)
    yield tiny_models


def _tiny(**kw: Any) -> Any:
    from rampup.experiments.train import LMConfig

    return LMConfig(**{**TINY_LM, "eval_windows": 8, "steps": 20, **kw})


def test_the_loop_reproduces_train_lm_and_the_auto_arm_of_run_lm() -> None:
    from rampup.experiments.auto_runs import Arm, run_lm
    from rampup.experiments.e9e11_loop import XConfig, train_x
    from rampup.experiments.train import train_lm

    cfg = _tiny(spec="linear(5) -> cosine(floor=0.1)")
    a, b = train_lm(cfg, 0), train_x(XConfig(cfg), 0)
    assert a["train_loss"] == b["train_loss"] and a["lr"] == b["lr"] and a["final_val_loss"] == b["final_val_loss"]
    assert b["weight_decay"] == [0.01] * 20 and b["warmup_steps"] == 5
    c = _tiny(spec="cosine(floor=0.1)")
    a, b = run_lm(c, 1, Arm("auto", "auto", method="update")), train_x(XConfig(c, auto=True), 1)
    assert a["train_loss"] == b["train_loss"] and a["warmup_steps"] == b["warmup_steps"] and a["spec"] == b["spec"]


def test_co_scheduled_weight_decay_and_weight_norms() -> None:
    from rampup.experiments.e9e11_loop import XConfig, train_x

    cfg = _tiny(spec="linear(5) -> cosine(floor=0.1)", weight_decay=0.1)
    r = train_x(XConfig(cfg, weight_decay_mode="warmup", norm_every=4, norm_at=5), 0)
    m = rampup.parse(cfg.spec, total_steps=20)
    assert r["weight_decay"][:6] == pytest.approx([0.1 * float(m(t)) for t in range(5)] + [0.1])
    assert r["weight_decay"][-1] == pytest.approx(0.1)  # "warmup": the decay part leaves it alone
    r2 = train_x(XConfig(cfg, weight_decay_mode="lr"), 0)
    assert r2["weight_decay"][-1] == pytest.approx(0.1 * float(m(19)))
    assert [s for s, _ in r["weight_norm"]] == [0, 4, 5, 8, 12, 16, 20] and all(v > 0 for _, v in r["weight_norm"])


def test_a_smaller_fine_tuning_set_and_the_grad_scaler() -> None:
    from rampup.experiments.e9e11_loop import XConfig, train_x

    cfg = _tiny(spec="linear(4) -> constant", steps=12)
    r = train_x(XConfig(cfg, amp=True, init_scale=2.0**40), 0)
    # every skipped update halves the scale (no growth within 2000 updates), and only those are counted
    assert r["n_skipped"] >= 1 and r["scale"][-1] == 2.0 ** (40 - r["n_skipped"])
    assert r["skipped_steps"] == sorted(r["skipped_steps"]) and r["lr"][0] == pytest.approx(1e-2 / 4)
    few = train_x(XConfig(replace(cfg, train_bytes=200)), 0)
    assert math.isfinite(few["final_val_loss"]) and few["train_loss"] != train_x(XConfig(cfg), 0)["train_loss"]


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"weight_decay_mode": "always"}, "weight_decay_mode: got 'always'; accepted: 'none', 'warmup', 'lr'"),
        ({"auto": True, "weight_decay_mode": "lr"}, "automatic warmup runs with a fixed weight decay"),
        ({"init_scale": 0.0}, "init_scale: got 0.0; accepted: a finite number > 0"),
        ({"device": "tpu"}, "device: got 'tpu'; accepted: 'cpu' or 'cuda"),
    ],
)
def test_bad_configs(kw: dict[str, Any], needle: str) -> None:
    from rampup.experiments.e9e11_loop import XConfig

    with pytest.raises(ValueError, match=re.escape(needle)):
        XConfig(_tiny(), **kw)


def test_the_smaller_fine_tuning_set_is_an_lm_config_field() -> None:
    with pytest.raises(
        ValueError, match=re.escape("train_bytes: got 10; accepted: None or more than seq_len + 1 = 17")
    ):
        _tiny(train_bytes=10)


def test_e9_quick(tmp_path: Path, tiny_x: list[str]) -> None:
    run_experiment("e9", str(tmp_path), quick=True, workers=1, progress=False)
    assert tiny_x == ["x"] * 6
    res = check_outputs(tmp_path, "e9", 1)
    assert [a["name"] for a in res["arms"]] == ["fixed_long", "warmup_long", "lr_long", "fixed_short", "none", "auto"]
    assert [a["weight_decay_mode"] for a in res["arms"]][:3] == ["none", "warmup", "lr"]
    by = {r["arm"]: r for r in res["runs"]}
    assert by["fixed_long"]["weight_decay"] == [0.1] * 24 and by["warmup_long"]["weight_decay"][0] == pytest.approx(
        0.1 / 12
    )
    assert (
        res["outcome"]["verdict"] in ("reproduced", "partly", "not reproduced") and "gain >= 0.01" in res["criterion"]
    )
    s = res["summary"]["warmup_long"]
    assert len(s["weight_norm_end_of_warmup"]) == 1 and s["weight_norm_end_of_warmup"][0] > 0
    assert set(res["outcome"]["auto"]) >= {"best_fixed", "gap_best_mean", "gap_none_per_seed", "goal_met"}
    assert res["outcome"]["auto"]["best_fixed"] in ("fixed_long", "fixed_short")


def test_e10_quick(tmp_path: Path, tiny_x: list[str]) -> None:
    run_experiment("e10", str(tmp_path), quick=True, workers=1, progress=False)
    assert tiny_x == ["lm"] + ["x"] * 13  # pretraining, then 4 + 4 + 5 fine-tuning arms
    res = check_outputs(tmp_path, "e10", 1)
    assert [s["train_bytes"] for s in res["sizes"]] == [4096, 6144, 8192]
    assert [a["warmup"] for a in res["arms"] if a["steps"] == 16] == [0, 2, 4, 8, None]
    assert all(a["config"]["lm"]["reset_head"] and a["config"]["lm"]["corpus_part"] == "b" for a in res["arms"])
    assert res["pretrain"]["config"]["corpus_part"] == "a"
    o = res["outcome"]
    assert len(o["best_warmup_per_size"]) == 3 and all(
        b in t for b, t in zip(o["best_warmup_per_size"], o["tied_per_size"])
    )


def test_e10_best_length_and_ties() -> None:
    from rampup.experiments.e10 import best_and_ties

    # a diverged run (NaN) loses; the standard error of the paired difference widens the tie
    assert best_and_ties({0: [math.nan, 2.0], 10: [2.5, 2.5], 20: [2.52, 2.6]}) == (10, [10])
    assert best_and_ties({0: [2.7, 2.4], 10: [2.5, 2.5]}) == (10, [0, 10])


def test_e11_quick_from_its_own_command_line(
    tmp_path: Path, tiny_x: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from rampup.experiments.e11 import main

    assert main(["--quick", "--workers", "1", "--out", str(tmp_path), "--seeds", "1"]) == 0
    assert "# E11: " in capsys.readouterr().out and tiny_x == ["x"] * 8
    res = check_outputs(tmp_path, "e11", 1)
    assert res["device"] == "cpu" and res["model_size"] == "small" and res["scales"] == [2.0**16, 2.0**40]
    for r in res["runs"]:
        n = r["n_skipped"]
        assert len(r["scale"]) == 16 and r["scale"][-1] == (2.0**40 if "s40" in r["arm"] else 2.0**16) / 2.0**n
        if r["first_applied_step"] is not None:
            assert r["first_applied_step"] not in r["skipped_steps"]
    s = res["summary"]
    assert sum(s["w0_s40"]["n_skipped"]) >= sum(s["w0_s16"]["n_skipped"])
    assert set(res["outcome"]["harm_mean"]) == {"0", "2", "8"} and res["outcome"]["verdict"] in (
        "reproduced",
        "partly",
        "not reproduced",
    )
