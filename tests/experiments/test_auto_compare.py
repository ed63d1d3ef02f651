"""auto-compare: bounds and tables from known numbers, the quick comparison end to end, the cache fingerprint."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from rampup.experiments.auto_compare import QUICK_TASKS, Task, code_fingerprint, report, run_compare, summarize
from rampup.tools.pool import torch_threads


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with torch_threads(1):  # the quick comparison's in-process runs set one thread: restored after each test
        yield


def _lm(task, arm, seed, v, lr=None, l0=5.5, ws=None):
    return {
        "task": task,
        "arm": arm,
        "seed": seed,
        "final_val_loss": v,
        "lr_grid": lr,
        "val_loss_init": l0,
        "warmup_steps": ws,
    }


def test_summary_bounds_and_report_from_known_numbers():
    e1 = Task("e1", "lm", "E1", (0, 50), 0.0, near=(45, 55), near_of=50)
    e2 = Task("e2", "lm", "E2", (0, 50), 0.0, lrs=(1e-3, 1e-2))
    e3 = Task("e3", "digits", "E3", (0, 5), 1 / 16)
    rs = [
        _lm("e1", "fixed_0", 0, 3.2),
        _lm("e1", "fixed_0", 1, 3.1),
        _lm("e1", "fixed_50", 0, 2.30),
        _lm("e1", "fixed_50", 1, 2.40),
        _lm("e1", "auto_update", 0, 2.32, ws=60),
        _lm("e1", "auto_update", 1, 2.50, ws=70),  # +0.9 %, +4.2 %
        # neighbours of fixed_50, outside the sweep even where they beat it (near_55, seed 1)
        _lm("e1", "near_45", 0, 2.323),
        _lm("e1", "near_45", 1, 2.40),
        _lm("e1", "near_55", 0, 2.3),
        _lm("e1", "near_55", 1, 2.28),
        _lm("e2", "fixed_0", 0, 3.0, 1e-3),
        _lm("e2", "fixed_0", 0, float("nan"), 1e-2),
        _lm("e2", "fixed_50", 0, 3.0, 1e-3),
        _lm("e2", "fixed_50", 0, 2.5, 1e-2),
        _lm("e2", "auto_update", 0, 2.9, 1e-3, ws=12),
        _lm("e2", "auto_update", 0, 2.6, 1e-2, ws=30),
        {"task": "e3", "arm": "fixed_0", "seed": 0, "final_test_error": 0.10, "lr_grid": None},
        {"task": "e3", "arm": "fixed_5", "seed": 0, "final_test_error": 0.04, "lr_grid": None},
        {"task": "e3", "arm": "auto_update", "seed": 0, "final_test_error": 0.045, "lr_grid": None, "warmup_steps": 7},
    ]
    s = summarize(rs, [e1, e2, e3], ["update"])
    t1 = s["tasks"]["e1"]
    assert t1["best_fixed"] == "fixed_50"
    assert t1["collapsed"]["fixed_0"] == {"0": True, "1": True}
    c = t1["checks"]["update"]["per_seed"]
    assert c["0"]["within_bound"] and not c["1"]["within_bound"] and not t1["checks"]["update"]["holds"]
    assert c["0"]["gap"] == pytest.approx(0.02 / 2.30)
    assert "near_55" not in t1["arms"] and t1["resolution"]["anchor"] == "fixed_50"
    assert t1["resolution"]["gaps"]["near_45"] == {"0": pytest.approx(0.01), "1": 0.0}
    assert t1["resolution"]["gaps"]["near_55"]["1"] == pytest.approx(-0.05)
    t2 = s["tasks"]["e2"]
    # sensitivity: mean of min(l, l0) minus the best; NaN counts as l0 = 5.5
    assert t2["sensitivity"]["fixed_0"]["0"] == pytest.approx((3.0 + 5.5) / 2 - 3.0)
    assert t2["sensitivity"]["fixed_50"]["0"] == pytest.approx(0.25)
    assert t2["best_fixed"] == "fixed_50"
    assert t2["sensitivity"]["auto_update"]["0"] == pytest.approx(0.15) and t2["checks"]["update"]["holds"]
    t3 = s["tasks"]["e3"]
    assert t3["checks"]["update"]["holds"] and t3["checks"]["update"]["per_seed"]["0"]["gap"] == pytest.approx(0.005)
    text = report(s)
    assert "| auto_update | 2.320 [60] | 2.500 [70] | 2.410 |" in text
    assert "`auto_update` vs `fixed_50`: seed 0: +0.9%, seed 1: +4.2% → bound **does not hold**." in text
    assert "| fixed_0 (seed 0) | 3.000 | NaN | 1.250 |" in text
    assert t2["warmup_steps"]["auto_update"] == {"0": {"0.001": 12, "0.01": 30}}
    assert "| auto_update (seed 0) | 2.900 [12] | 2.600 [30] | 0.150 |" in text
    assert "near_" not in text.split("Resolution")[0]
    assert (
        "- Resolution: fixed warmups of 45 and 55 steps, near `fixed_50` and not in the sweep, differ from it by "
        "seed 0: 45 steps +1.0%, 55 steps +0.0%; seed 1: 45 steps +0.0%, 55 steps -5.0%." in text
    )
    assert math.isclose(s["unigram"], 3.17, abs_tol=0.2)


def test_near_arms_need_a_fixed_anchor():
    with pytest.raises(ValueError, match=r"near_of: got 0; accepted: one of the fixed lengths > 0 in \(0, 50\)"):
        Task("e1", "lm", "E1", (0, 50), 0.0, near=(45, 55))


def test_quick_compare_writes_outputs_and_resumes(tmp_path):
    # one tiny task, one method: the real code path end to end, single process
    summary = run_compare(str(tmp_path), quick=True, workers=1, methods=["update"], tasks=["e3"], progress=False)
    t = summary["tasks"]["e3"]
    assert t["arms"] == ["fixed_0", "fixed_2", "fixed_3", "auto_update"] and t["seeds"] == [0]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["tasks"]["e3"]["best_fixed"] in ("fixed_0", "fixed_2", "fixed_3")
    assert "## e3" in (tmp_path / "report.md").read_text() and (tmp_path / "auto_compare.png").stat().st_size > 1000
    n_runs = len(list((tmp_path / "runs").iterdir()))
    assert n_runs == 4
    runs = sorted((tmp_path / "runs").iterdir())
    assert {json.loads(f.read_text())["code"] for f in runs} == {code_fingerprint()}
    assert all(f.name.startswith("quick-e3-") for f in runs)  # never mixed with a full comparison's runs
    # a run cached by other code is run again; the others come from the cache (untouched files)
    # a run cached by other code, or with other settings, is run again; the others come from the cache
    for key in ("code", "settings"):
        stale = json.loads(runs[0].read_text())
        good = stale[key]
        stale[key], stale["final_test_error"] = "0" * 16, 0.999
        runs[0].write_text(json.dumps(stale))
        mtimes = {f.name: f.stat().st_mtime_ns for f in runs[1:]}
        again = run_compare(str(tmp_path), quick=True, workers=1, methods=["update"], tasks=["e3"], progress=False)
        assert again["tasks"]["e3"]["final"] == t["final"]
        assert json.loads(runs[0].read_text())[key] == good
        assert {f.name: f.stat().st_mtime_ns for f in runs[1:]} == mtimes
    assert QUICK_TASKS[2].name == "e3"
    with pytest.raises(ValueError, match="methods: got 'magic'"):
        run_compare(str(tmp_path), quick=True, methods=["magic"])
    with pytest.raises(ValueError, match=r"tasks: got \['e9'\]"):
        run_compare(str(tmp_path), quick=True, tasks=["e9"])


def test_e2_bound_names_the_sweep_winner_the_least_sensitive_arm_and_the_per_lr_oracle():
    e2 = Task("e2", "lm", "E2", (0, 50, 100), 0.0, lrs=(1e-3, 1e-2, 1e-1))
    grid = {
        "fixed_0": (2.9, 2.6, 3.0),  # best 2.6, sensitivity (2.9+2.6+3.0)/3 - 2.6 = 0.2333
        "fixed_50": (2.9, 2.5, 2.8),  # best 2.5 (the lowest loss: the sweep's winner), sensitivity 0.2333
        "fixed_100": (2.95, 2.55, 2.75),  # best 2.55, sensitivity 0.2 (the least LR-sensitive)
        "auto_update": (2.9, 2.45, 2.9),  # best 2.45, sensitivity 0.30
        "auto_loss": (2.9, 2.6, 5.6),  # collapses at 0.1 (≥ unigram − 0.1) where fixed_50 does not
    }
    rs = [_lm("e2", a, 0, v, lr) for a, vs in grid.items() for v, lr in zip(vs, e2.lrs)]
    t = summarize(rs, [e2], ["update", "loss"])["tasks"]["e2"]
    assert t["best_fixed"] == "fixed_50" and t["least_sensitive_fixed"] == "fixed_100"
    assert t["best_loss"]["fixed_50"]["0"] == pytest.approx(2.5)
    # oracle: per LR the best fixed value (2.9, 2.5, 2.75) -> mean 2.7167 - 2.5
    assert t["oracle_sensitivity"]["0"] == pytest.approx((2.9 + 2.5 + 2.75) / 3 - 2.5)
    c = t["checks"]["update"]
    assert c["sensitivity_vs_best_fixed"]["0"] == (pytest.approx(0.30), pytest.approx(0.7 / 3))
    assert c["sensitivity_vs_least_sensitive_fixed"]["0"] == (pytest.approx(0.30), pytest.approx(0.2))
    assert not c["holds"] and not c["holds_strict"] and c["new_collapse"] == []
    cl = t["checks"]["loss"]
    assert cl["new_collapse"] == [("0.1", 0)] and not cl["holds"]
    assert c["mean_curve"] == (pytest.approx(0.30), pytest.approx(0.7 / 3), pytest.approx(0.2))
    assert t["oracle_sensitivity_mean_curve"] == pytest.approx(t["oracle_sensitivity"]["0"])
    text = report({"tasks": {"e2": t}, "unigram": 3.17})
    assert "vs the best fixed arm `fixed_50`" in text and "stricter reading, vs the least LR-sensitive" in text
    assert "Per-LR oracle" in text and "collapses where `fixed_50` does not: [('0.1', 0)]" in text


def test_e2_primary_bound_uses_the_seed_mean_curve_and_counts_seeds():
    e2 = Task("e2", "lm", "E2", (0, 50), 0.0, lrs=(1e-3, 1e-2))
    grid = {  # (seed 0 curve, seed 1 curve)
        "fixed_0": ((2.9, 2.7), (2.9, 2.7)),  # sensitivity 0.1 on both seeds; best 2.7
        "fixed_50": ((2.9, 2.5), (2.9, 2.5)),  # sensitivity 0.2; best 2.5: the sweep's winner
        "auto_update": ((2.9, 2.4), (2.7, 2.5)),  # per seed 0.25 (fails), 0.1 (holds); mean curve (2.8, 2.45): 0.175
    }
    rs = [
        _lm("e2", a, seed, v, lr)
        for a, curves in grid.items()
        for seed, c in enumerate(curves)
        for v, lr in zip(c, e2.lrs)
    ]
    t = summarize(rs, [e2], ["update"])["tasks"]["e2"]
    c = t["checks"]["update"]
    assert t["best_fixed"] == "fixed_50" and t["least_sensitive_fixed"] == "fixed_0"
    assert t["sensitivity_mean_curve"]["auto_update"] == pytest.approx(0.175)
    assert c["holds"] and c["seeds_holding"] == 1 and not c["holds_strict"]
    assert "(1 of 2 seeds hold)" in report({"tasks": {"e2": t}, "unigram": 3.17})


def test_missing_runs_are_named_not_hidden():
    e1 = Task("e1", "lm", "E1", (0, 50), 0.0)
    e2 = Task("e2", "lm", "E2", (0, 50), 0.0, lrs=(1e-3, 1e-2))
    rs = [
        _lm("e1", "fixed_0", 0, 3.0),
        _lm("e1", "fixed_0", 1, 3.0),
        _lm("e1", "fixed_50", 0, 2.3),
        _lm("e1", "fixed_50", 1, 2.3),
        _lm("e1", "auto_update", 0, 2.3),  # seed 1 missing
        _lm("e2", "fixed_0", 0, 3.0, 1e-3),
        _lm("e2", "fixed_0", 0, 2.8, 1e-2),
        _lm("e2", "fixed_50", 0, 2.9, 1e-3),  # the 1e-2 run is missing
        _lm("e2", "auto_update", 0, 2.9, 1e-3),
        _lm("e2", "auto_update", 0, 2.7, 1e-2),
    ]
    rs.append(_lm("e1", "fixed_25", 0, 2.0))  # the best value, but seed 1 is missing: not the best arm
    s = summarize(rs, [e1, e2], ["update", "loss"])
    assert s["tasks"]["e1"]["best_fixed"] == "fixed_50" and s["tasks"]["e1"]["incomplete_fixed"] == ["fixed_25"]
    c1 = s["tasks"]["e1"]["checks"]
    assert not c1["update"]["holds"] and "lacks runs" in c1["update"]["incomplete"]
    assert not c1["loss"]["holds"] and "`auto_loss` lacks runs" in c1["loss"]["incomplete"]  # never run
    t2 = s["tasks"]["e2"]
    assert t2["incomplete_fixed"] == ["fixed_50"] and t2["best_fixed"] == "fixed_0"
    text = report(s)
    assert "Left out for missing runs (rerun the command to complete): ['fixed_50']" in text
    assert "`auto_update`: `auto_update` lacks runs of the 2 seed(s) → bound **not checked**" in text


def test_code_fingerprint_ignores_prose_and_sees_code(tmp_path, monkeypatch):
    import rampup.experiments.auto_compare as ac

    root = tmp_path / "rampup"
    (root / "core").mkdir(parents=True)
    (root / "core" / "a.py").write_text('"""Doc."""\n\nX = 1  # a comment\n')
    monkeypatch.setattr(ac, "_FINGERPRINTED", ("core",))
    first = ac.code_fingerprint(str(root))
    (root / "core" / "a.py").write_text('"""Other words."""\nX = 1\n')  # prose and formatting only
    assert ac.code_fingerprint(str(root)) == first
    (root / "core" / "a.py").write_text('"""Doc."""\nX = 2\n')  # code
    assert ac.code_fingerprint(str(root)) != first
