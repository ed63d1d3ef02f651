"""Every experiment runs end to end in --quick mode and writes its files with the documented fields."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import rampup
from rampup.cli import main
from rampup.experiments import EXPERIMENTS, run_experiment

PNG = b"\x89PNG\r\n\x1a\n"


def check_outputs(out: Path, name: str, seeds: int) -> dict[str, Any]:
    res = json.loads((out / "results.json").read_text())
    assert res["experiment"] == name and res["quick"] is True and res["seeds"] == list(range(seeds))
    env = res["environment"]
    assert env["python"] and env["torch"] and env["date"] and env["cpu_count"] >= 1
    assert isinstance(res["outcome"]["reproduced"], bool) and res["outcome"]["criterion"]
    assert res["wall_s"] > 0 and res["summary"]
    for f in res["files"]:
        assert (out / f).is_file(), f
    pngs = [f for f in res["files"] if f.endswith(".png")]
    assert pngs and all((out / f).read_bytes()[:8] == PNG for f in pngs)
    for a in res["arms"]:  # every schedule is a rampup spec that parses and round-trips
        assert str(rampup.parse(a["spec"], total_steps=10_000).spec) == a["spec"]
    report = (out / "report.md").read_text()
    assert report.startswith(f"# {name.upper()}: ") and "quick mode" in report and "|---|" in report
    assert "**Outcome**" in report and all(f"({p})" in report for p in pngs)
    if "corpus" in res:
        assert len(res["corpus"]["sha256"]) == 64 and res["corpus"]["python"] == env["python"]
    return res


def check_auto(out: Path, res: dict[str, Any], names: list[str], unit: str, made: list[str]) -> dict[str, Any]:
    """The auto arm(s): AutoWarmup at its defaults in the same loop, and the gaps as documented (issue 15)."""
    auto = res["auto"]
    assert [a["name"] for a in auto["arms"]] == names and all(a["method"] == "update" for a in auto["arms"])
    assert ("lm_auto" in made) != ("digits_auto" in made)  # the tiny model ran them too
    for n in names:
        g = auto["gaps"][n]
        assert g["unit"] == unit and g["auto"] == n and g["best_fixed"] in g["best_fixed_meaning"]
        a, k = g["auto_values"], len(res["seeds"])
        assert len(a) == len(g["gap_best_per_seed"]) == len(g["gap_none_per_seed"]) == k
        assert all(math.isfinite(x) for x in [g["gap_best_mean"], g["gap_none_mean"], *g["gap_best_per_seed"]])
        assert g["goal_met"] == (g["gap_best_mean"] <= 1 and max(g["gap_best_per_seed"]) <= 2)
        assert len(auto["warmup_steps"][n]) == k and all(w >= 1 for w in auto["warmup_steps"][n])
    assert all(r["auto_done"] and r["spec"].startswith("piecewise(") for r in auto["runs"])
    report = (out / "report.md").read_text()
    assert "## The automatic warmup (reported, not judged)" in report and "best fixed" in report
    return auto


def test_e1_quick_auto_arms(tmp_path: Path, tiny_models: list[str]) -> None:
    run_experiment("e1", str(tmp_path), quick=True, workers=1, progress=False)
    res = check_outputs(tmp_path, "e1", 1)
    assert len(res["runs"]) == 7  # the fixed arms as before; the auto arms apart
    auto = check_auto(tmp_path, res, ["post_auto", "pre_auto"], "%", tiny_models)
    g = auto["gaps"]["post_auto"]
    best = res["summary"][g["best_fixed"]]["final_val_loss"][0]
    assert g["gap_best_mean"] == pytest.approx(100 * (g["auto_values"][0] - best) / best)
    assert g["best_fixed"] != "post_radam" and auto["gaps"]["pre_auto"]["no_warmup"] == "pre_none"
    assert tiny_models.count("lm_auto") == 2


def test_demo_quick_runs_e1_and_the_standard_schedules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_models: list[str]
) -> None:
    from rampup.experiments.demo import CLAIMS, run_demo

    assert run_demo(str(tmp_path), quick=True, workers=1) == 0
    assert tiny_models == ["lm"] * 7 + ["auto"]
    out, err = capsys.readouterr()
    printed = out
    assert "| Post-LN, AdamW, no warmup | `cosine(floor=0.1)` | adamw |" in printed and "demo finished in" in printed
    # every phase says what it is doing, in order; the runs show progress bars (stderr)
    heads = [line.split(":")[0] for line in printed.splitlines() if line.startswith("==> demo ")]
    assert heads == ["==> demo 1/4", "==> demo 2/4", "==> demo 3/4", "==> demo 4/4"]
    assert "E1 (7 runs)" in err and "automatic warmup (1 run): 100%" in err
    # the verdicts close the output: one per README claim, then the agreement line
    tail = printed.splitlines()[-2 * len(CLAIMS) - 3 :]
    assert tail[0].startswith("Verdicts. README: 3 seeds on an Intel Xeon") and tail[-1].startswith("demo finished")
    assert [line[5:] for line in tail[1:-2:2]] == [c for _, c in CLAIMS]
    assert "verdicts agree with the README. Quick mode" in tail[-2]
    for f in ("report.md", "demo.json", "schedules.png", "noam.png", "schedules.json"):
        assert (tmp_path / f).is_file(), f
    demo = json.loads((tmp_path / "demo.json").read_text())
    assert demo["quick"] is True and set(demo["e1"]["summary"]) == {
        "post_warmup",
        "post_none",
        "post_radam",
        "post_untuned_exp",
        "post_radam_factor",
        "pre_warmup",
        "pre_none",
    }
    report = (tmp_path / "report.md").read_text()
    assert "## E1" in report and "(e1/loss_curves.png)" in report and "## Standard schedules" in report
    res = check_outputs(tmp_path / "e1", "e1", 1)
    assert len(res["runs"]) == 7 and res["untuned_linear_equals_warmup_100"] is True
    # the automatic warmup beside E1's fixed arms: the same loop, no warmup length given
    auto = demo["e1"]["auto"]
    assert auto["spec"] == "auto -> cosine(floor=0.1)" and 1 <= auto["warmup_steps"] <= 12  # envelope: half of 24
    assert auto["exported_spec"].startswith("piecewise(steps=[0, ") and set(auto["vs"]) == {"post_warmup", "post_none"}
    assert "relative update" in auto["why"] and math.isfinite(auto["final_val_loss"])
    assert (tmp_path / "e1" / "auto.png").is_file() and (tmp_path / "e1" / "auto.json").is_file()
    assert "## Automatic warmup on E1" in report and f"**{auto['warmup_steps']} steps**" in report
    assert "## Verdicts: the README's claims on this run" in report
    assert [v["claim"] for v in demo["e1"]["verdicts"]] == [c for _, c in CLAIMS]
    assert {r["arm"] for r in res["runs"]} == set(demo["e1"]["summary"])
    assert all(len(r["train_loss"]) == 24 and len(r["lr"]) == 24 for r in res["runs"])
    u = res["reference_levels"]["unigram"]
    for s in res["summary"].values():  # the collapse indicator agrees with its definition
        v = s["final_val_loss"][0]
        assert s["collapsed"] == int(v >= u - 0.1)
    assert res["runs"][0]["spec"] == res["arms"][0]["spec"] == "linear(6) -> cosine(floor=0.1)"


def test_e2_quick(tmp_path: Path, tiny_models: list[str]) -> None:
    res = (
        check_outputs(tmp_path, "e2", 1)
        if run_experiment("e2", str(tmp_path), quick=True, workers=1, progress=False)
        else {}
    )
    assert res["grid"] == [1e-3, 1e-2, 1e-1] and len(res["runs"]) == 9
    assert [a["spec"] for a in res["arms"]] == [
        "cosine(floor=0.1)",
        "untuned_linear(beta2=0.95) -> cosine(floor=0.1)",
        "linear(10) -> cosine(floor=0.1)",
    ]
    for a in res["arms"]:
        s = res["summary"][a["name"]]
        assert len(s["sensitivity"]) == 1 and s["sensitivity"][0] >= 0 and len(s["loss_per_lr"][0]) == 3
    cfg = next(r for r in res["arms"])["config"]
    assert cfg["beta2"] == 0.95 and cfg["clip"] == 1.0 and cfg["post_ln"] is False and cfg["qk_norm"] is False
    auto = check_auto(tmp_path, res, ["auto@0.001", "auto@0.01", "auto@0.1"], "%", tiny_models)
    assert len(auto["summary"]["sensitivity"]) == 1 and auto["gaps"]["auto@0.01"]["no_warmup"] == "none"


def test_e3_quick(tmp_path: Path, tiny_models: list[str]) -> None:
    run_experiment("e3", str(tmp_path), quick=True, workers=1, progress=False)
    res = check_outputs(tmp_path, "e3", 1)
    assert [a["name"] for a in res["arms"]] == ["baseline", "none", "constant", "gradual"]
    peaks = {a["name"]: a["config"]["peak_lr"] for a in res["arms"]}
    assert peaks == {"baseline": 0.2, "none": 3.2, "constant": 3.2, "gradual": 3.2}
    const = next(r for r in res["runs"] if r["arm"] == "constant")
    assert const["spec"].startswith("constant(2, start=0.0625) -> multistep(") and const["lr"][0] == pytest.approx(0.2)
    assert set(const["post_warmup"]) == {"before", "after_max", "ratio"}
    assert all(0 <= r["final_test_error"] <= 1 for r in res["runs"])
    g = check_auto(tmp_path, res, ["auto"], "pt", tiny_models)["gaps"]["auto"]
    best = res["summary"][g["best_fixed"]]["test_error"][0]
    assert g["best_fixed"] != "baseline" and g["gap_best_mean"] == pytest.approx(100 * (g["auto_values"][0] - best))


def test_e4a_quick(tmp_path: Path, tiny_models: list[str]) -> None:
    run_experiment("e4a", str(tmp_path), quick=True, workers=1, progress=False)
    res = check_outputs(tmp_path, "e4a", 1)
    assert [a["spec"] for a in res["arms"]] == [
        "cosine(floor=0.1)",
        "linear(2) -> cosine(floor=0.1)",
        "linear(10) -> cosine(floor=0.1)",
    ]
    assert all(set(r["spikes"]) == {"count", "steps", "max_ratio"} for r in res["runs"])
    assert res["spike_definition"]["ratio"] == 1.5
    g = check_auto(tmp_path, res, ["auto"], "%", tiny_models)["gaps"]["auto"]
    assert g["no_warmup"] == "w0" and g["best_fixed"] in {"w0", "w2", "w10"}


def test_e4b_quick(tmp_path: Path, tiny_models: list[str]) -> None:
    run_experiment("e4b", str(tmp_path), quick=True, workers=1, progress=False)
    res = check_outputs(tmp_path, "e4b", 1)
    assert res["batches"] == [64, 512] and len(res["runs"]) == 1 + 2 * 2
    assert set(res["summary"]["shortest_matching_warmup_epochs"]) == {"64", "512"}
    auto = check_auto(tmp_path, res, ["b64_auto", "b512_auto"], "pt", tiny_models)
    assert auto["gaps"]["b512_auto"]["best_fixed"] in {"b512_w0", "b512_w1"}


def test_e4c_quick_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_models: list[str]) -> None:
    rc = main(["experiment", "e4c", "--quick", "--workers", "1", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0 and "# E4C: " in capsys.readouterr().out
    res = check_outputs(tmp_path, "e4c", 2)
    assert set(res["per_step"]) == {"data/warmup", "data/none", "init/warmup", "init/none"}
    for d in res["per_step"].values():
        assert len(d["spread"]) == len(d["relative_spread"]) == 20 and min(d["spread"]) > 0
    assert "adam_psi" not in res["runs"][0] and len(res["runs"]) == 2 * 2 * 2
    by = {(r["variant"], r["replicate"], r["arm"]): r for r in res["runs"]}
    assert by[("data", 0, "none")]["seed"] == by[("data", 1, "none")]["seed"] == 0  # same init, other data
    assert by[("init", 1, "none")]["seed"] == 1
    auto = check_auto(tmp_path, res, ["auto_data", "auto_init"], "%", tiny_models)
    assert sorted((r["variant"], r["replicate"], r["seed"]) for r in auto["runs"]) == [
        ("data", 0, 0),
        ("data", 1, 0),
        ("init", 0, 0),
        ("init", 1, 1),
    ]


def test_e4d_quick(tmp_path: Path, tiny_models: list[str]) -> None:
    run_experiment("e4d", str(tmp_path), quick=True, workers=1, progress=False)
    res = check_outputs(tmp_path, "e4d", 1)
    assert len(res["runs"]) == 5 and res["pretrain"]["config"]["corpus_part"] == "a"
    assert all(a["config"]["corpus_part"] == "b" for a in res["arms"])
    assert {a["name"]: a["config"]["reset_head"] for a in res["arms"]}["new_head_none"] is True
    auto = check_auto(tmp_path, res, ["new_head_auto", "same_head_auto"], "%", tiny_models)
    assert auto["gaps"]["new_head_auto"]["best_fixed"] in {"new_head_rewarm", "new_head_none"}


def test_workers_give_the_same_results_as_in_process() -> None:
    from rampup.experiments.common import Job, run_jobs
    from rampup.experiments.train import LMConfig

    cfg = LMConfig(
        spec="linear(2) -> constant", steps=4, n_layers=1, d_model=16, n_heads=2, seq_len=16, batch=4, eval_windows=8
    )
    jobs = [Job("lm", cfg, seed, "a", 4) for seed in (0, 1)]
    par = run_jobs(jobs, workers=2, progress=False)
    seq = run_jobs(jobs, workers=1, progress=False)
    assert [r["seed"] for r in par] == [0, 1]
    assert [r["train_loss"] for r in par] == [r["train_loss"] for r in seq]
    assert par[0]["train_loss"] != par[1]["train_loss"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["experiment", "e1", "--seeds", "0"], "seeds: got 0"),
        (["experiment", "e1", "--workers", "0"], "workers: got 0"),
        (["experiment", "e4c", "--seeds", "1"], "seeds: got 1"),
    ],
)
def test_cli_rejects_bad_arguments(
    args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--out", str(tmp_path), "--no-progress"]) == 2
    assert needle in capsys.readouterr().err


def test_unknown_experiment() -> None:
    with pytest.raises(ValueError, match="experiment: got 'e99'; accepted: e1, e2"):
        run_experiment("e99", "x")
    assert list(EXPERIMENTS) == [
        "e1",
        "e2",
        "e3",
        "e4a",
        "e4b",
        "e4c",
        "e4d",
        "e5",
        "e6",
        "e7",
        "e8",
        "e9",
        "e10",
        "e11",
    ]


def test_a_failing_run_stops_the_experiment_with_its_error() -> None:
    from rampup.experiments.common import Job, run_jobs

    with pytest.raises(ValueError, match=r"job\.kind: got 'bad'; accepted: 'lm', 'digits' or 'call'"):
        run_jobs([Job("bad", None, 0, "a", 1)], workers=1, progress=False)
    with pytest.raises(ValueError, match="workers: got 0"):
        run_jobs([], workers=0, progress=False)
