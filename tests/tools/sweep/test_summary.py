"""tools/sweep/summary.py: mean ± std per cell, the recommendation, its margin, the metric check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rampup.cli import main
from rampup.tools.sweep import (
    load_results,
    make_trials,
    summarize,
)

# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


def _rec(t: Any, loss: float | None, status: str = "ok") -> dict[str, Any]:
    return {"trial": t.key, "status": status, "metrics": {} if loss is None else {"loss": loss}}


def test_summary_mean_std_recommendation_and_margin() -> None:
    trials = make_trials([0, "1%", "2%"], seeds=3)
    w = {x: [t for t in trials if t.config["warmup"] == x] for x in ("0", "1%", "2%")}
    recs = [_rec(t, v) for t, v in zip(w["0"], [3.0, 3.2, 3.4])]
    recs += [_rec(t, v) for t, v in zip(w["1%"], [2.3, 2.4, 2.5])]
    recs += [_rec(w["2%"][0], 2.0), _rec(w["2%"][1], None), {**_rec(w["2%"][2], None), "status": "error"}]
    r = summarize(trials, recs)
    c0, c1, c2 = r.cells
    assert (c0.mean, c0.std, len(c0.values)) == (pytest.approx(3.2), pytest.approx(0.2), 3)
    assert (c2.failed, c2.diverged, c2.complete) == (1, 1, False)
    # 2% has the lowest mean but not every seed finished: it cannot be recommended
    assert r.recommended is c1 and r.runner_up is c0
    assert r.margin == pytest.approx(0.8) and r.margin_se == pytest.approx((0.04 / 3 + 0.01 / 3) ** 0.5)
    assert "recommended warmup: 1% (loss 2.40 ± 0.10, n=3); margin over the runner-up 0 (3.20): 0.80 (6.2 standard" in (
        r.table()
    )
    assert summarize(trials, recs, mode="max").recommended.warmup == "0"
    pending = summarize(trials, recs[:3])
    assert pending.recommended is pending.cells[0] and pending.runner_up is None and pending.cells[1].pending == 3
    assert "no runner-up" in pending.verdict()
    assert summarize(trials, []).verdict() == "no recommendation: no warmup has a finite loss on every seed"


def test_small_metrics_keep_their_significant_digits() -> None:
    trials = make_trials([0, "1%"], seeds=3)
    vals = {"0": [0.0032, 0.00321, 0.00319], "1%": [0.0031, 0.0031, 0.0031]}
    recs = [_rec(t, vals[t.config["warmup"]][t.config["seed"]]) for t in trials]
    table = summarize(trials, recs).table()
    assert "0.003200 ± 0.000010" in table and "0.0031 ± 0 " in table and "± 0.0000 " not in table
    assert "recommended warmup: 1% (loss 0.0031 ± 0, n=3); margin over the runner-up 0 (0.003200): 0.0001000 (17.3" in (
        table
    )


def test_a_misspelt_metric_names_the_metrics_returned(
    tmp_path: Path, script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trials = make_trials([0, "1%"], seeds=1)
    recs = [{"trial": t.key, "status": "ok", "metrics": {"loss": 2.0, "acc": 0.5}} for t in trials]
    with pytest.raises(ValueError, match=r"metric: got 'los', which the train function did not return \(2 finished"):
        summarize(trials, recs, metric="los")
    out = tmp_path / "o"
    argv = ["sweep", "--script", str(script), "--warmup", "0,1%,2%,5%", "--seeds", "2", "--total-steps", "1000"]
    argv += ["--out", str(out), "--no-progress", "--metric", "los", "--set", f"calls={tmp_path / 'c.txt'}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "accepted: one of the metrics it returned: collapsed, loss, omp, spike, warmup_steps" in err
    assert "diverged" not in err
    assert 1 <= len(load_results(str(out / "sweep.jsonl"))) <= 2  # stopped at the first result, not after all 8
