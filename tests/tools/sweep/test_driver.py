"""tools/sweep/driver.py: sweep() end to end — failures, resume, a killed sweep, diverged trials, argument errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rampup.cli import main
from rampup.tools.sweep import (
    load_results,
    sweep,
    synthetic_train,
)
from tests.tools.procs import children, survivors
from tests.tools.sweep.scripts import calls

# ---------------------------------------------------------------------------------------------
# Local backend
# ---------------------------------------------------------------------------------------------


def test_local_sweep_failure_resume_and_threads(tmp_path: Path, script: Path) -> None:
    log, results = tmp_path / "calls.txt", str(tmp_path / "out" / "sweep.jsonl")
    kw: dict[str, Any] = dict(
        warmup=[0, "0.5%", "2%"],
        seeds=2,
        total_steps=1000,
        results=results,
        progress=False,
        params={"calls": str(log), "fail_seeds": [1], "fail_warmup": "0.5%"},
    )
    r = sweep(str(script), workers=2, plot=str(tmp_path / "out" / "sweep.png"), **kw)
    assert r.ran == 6 and len(calls(log)) == 6
    failed = [x for x in r.records if x["status"] == "error"]
    assert len(failed) == 1 and failed[0]["error"] == "RuntimeError: injected failure"
    assert failed[0]["config"]["seed"] == 1 and "Traceback" in failed[0]["traceback"]
    ok = [x for x in r.records if x["status"] == "ok"]
    assert len(ok) == 5 and {x["metrics"]["omp"] for x in ok} == {"1"}  # one thread per worker
    assert len({x["pid"] for x in ok}) <= 2
    assert r.recommended is not None and r.recommended.warmup == "2%"
    assert (tmp_path / "out" / "sweep.png").stat().st_size > 10_000
    assert len(Path(results).read_text().splitlines()) == 6
    # resume: nothing reruns, not even the failure (unless asked)
    again = sweep(str(script), workers=2, **kw)
    assert again.ran == 0 and len(calls(log)) == 6 and again.recommended.warmup == "2%"
    retried = sweep(str(script), workers=1, retry_failed=True, **kw)
    assert retried.ran == 1 and len(calls(log)) == 7
    assert retried.cells[1].failed == 1  # the last record of a trial counts
    # a larger grid reruns only what is new
    more = sweep(str(script), workers=2, **{**kw, "seeds": 3})
    assert more.ran == 3 and len(calls(log)) == 10 and len(more.records) == 9 + 1  # the retried failure too


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGKILL, -9), (signal.SIGTERM, 143)])
def test_a_killed_sweep_takes_its_workers_and_resumes(tmp_path: Path, script: Path, sig: int, code: int) -> None:
    out, log, release = tmp_path / "out", tmp_path / "calls.txt", tmp_path / "release"
    argv = [sys.executable, "-m", "rampup.cli", "sweep", "--script", str(script), "--warmup", "0,1%,2%,5%"]
    argv += ["--seeds", "1", "--total-steps", "1000", "--workers", "2", "--out", str(out), "--no-progress"]
    argv += ["--set", f"calls={log}", "--set", f"release={release}", "--set", "hold=2%"]
    results = out / "sweep.jsonl"
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(load_results(str(results))) < 3:  # 0, 1%, 5% finish; 2% runs until released
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        kids = children(proc.pid)
        assert len(kids) >= 2
        os.kill(proc.pid, sig)
        assert proc.wait(30) == code
        assert survivors(kids, within=5.0) == []  # the worker holding 2% died with the sweep
        if sig == signal.SIGTERM:
            err = proc.stderr.read() if proc.stderr else ""
            assert err.strip().splitlines() == [
                f"rampup sweep: interrupted (SIGTERM); 3 finished trials are in {results}: run the same command "
                "to resume"
            ]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sorted(r["config"]["warmup"] for r in load_results(str(results))) == ["0", "1%", "5%"]
    release.touch()
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    recs = load_results(str(results))
    assert sorted(r["config"]["warmup"] for r in recs) == ["0", "1%", "2%", "5%"]  # each trial once
    key = {r["config"]["warmup"]: r["trial"] for r in recs}
    assert sorted(calls(log)) == sorted([key["0"], key["1%"], key["2%"], key["2%"], key["5%"]])  # 2% ran again


def test_diverged_trials_are_recorded_as_null_and_nothing_is_recommended(
    tmp_path: Path, script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    rc = main(
        [
            "sweep",
            "--script",
            str(script),
            "--warmup",
            "1%,2%",
            "--seeds",
            "1",
            "--total-steps",
            "1000",
            "--out",
            str(out),
            "--no-progress",
            "--workers",
            "2",
            "--set",
            f"calls={tmp_path / 'c.txt'}",
            "--set",
            "nan=true",
        ]
    )
    assert rc == 1 and "no recommendation: no warmup has a finite loss on every seed" in capsys.readouterr().out
    recs = load_results(str(out / "sweep.jsonl"))
    assert len(recs) == 2
    for rec in recs:
        assert rec["status"] == "ok" and rec["metrics"]["loss"] is None and rec["nonfinite"] == ["loss"]
    assert json.loads((out / "summary.json").read_text())["cells"][0]["diverged"] == 1


def test_api_argument_errors(tmp_path: Path) -> None:
    r = str(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="backend: got 'slurm'; accepted: local, ray"):
        sweep(synthetic_train, ["1%"], backend="slurm", results=r)
    with pytest.raises(ValueError, match="workers: got 0; accepted: an int >= 1"):
        sweep(synthetic_train, ["1%"], workers=0, results=r)
    with pytest.raises(ValueError, match="mode: got 'lowest'"):
        sweep(synthetic_train, ["1%"], mode="lowest", results=r)
    assert not os.path.exists(r)
