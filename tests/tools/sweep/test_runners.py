"""tools/sweep/runners.py: the local backend — a killed worker is retried once, a dead pool is given up on, the
script is loaded in the workers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from rampup.cli import main
from rampup.tools.sweep import (
    load_results,
    sweep,
)
from tests.tools.sweep.scripts import SCRIPT, calls


def test_a_killed_worker_is_retried_once_then_recorded(tmp_path: Path, script: Path) -> None:
    log = tmp_path / "calls.txt"
    r = sweep(
        str(script),
        ["1%", "2%", "5%"],
        seeds=[0, 1],
        total_steps=1000,
        workers=2,
        progress=False,
        results=str(tmp_path / "r.jsonl"),
        params={"calls": str(log), "crash_seeds": [1], "crash_warmup": "1%", "crash_once": "5%"},
    )
    seen = [(x["config"]["warmup"], x["config"]["seed"], x["status"], x.get("error")) for x in r.records]
    errors = [x for x in r.records if x["status"] == "error"]
    assert len(errors) == 1, seen
    (bad,) = errors
    assert (bad["config"]["warmup"], bad["config"]["seed"]) == ("1%", 1)
    assert bad["error"] == "worker process died running this trial, twice (the second time alone)"
    # the trial killed once is retried and finishes; the trials beside the crashes are not blamed
    assert sum(x["status"] == "ok" for x in r.records) == 5 and len(r.records) == 6
    ran = calls(log)
    assert ran.count(bad["trial"]) == 2
    assert r.recommended is not None and r.recommended.warmup == "2%"


class _DiesOnArrival:
    """A train function whose unpickling kills the worker: the pool dies before any trial starts."""

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"loss": 0.0}

    def __reduce__(self) -> Any:
        return (os._exit, (3,))


def test_a_pool_that_dies_before_any_trial_starts_is_given_up_on(tmp_path: Path) -> None:
    r = sweep(_DiesOnArrival(), ["1%"], seeds=1, workers=2, progress=False, results=str(tmp_path / "r.jsonl"))
    (rec,) = r.records
    assert rec["error"] == "worker processes died 3 times before this trial could start"


def test_the_script_is_loaded_in_the_workers_not_here(
    tmp_path: Path, script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A --script with heavy imports (torch: seconds) is loaded once in each worker, not first in this process too;
    # an error in it still stops the sweep before any trial, with the same message.
    loads = tmp_path / "loads.txt"
    script.write_text(f"import os\nopen({str(loads)!r}, 'a').write(f'{{os.getpid()}}\\n')\n" + SCRIPT)
    argv = ["sweep", "--script", str(script), "--warmup", "0,1%,2%", "--seeds", "2", "--total-steps", "1000"]
    argv += ["--no-progress", "--workers", "2", "--set", f"calls={tmp_path / 'c.txt'}"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    pids = loads.read_text().split()
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2 and len(set(pids)) == len(pids)
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "o2"), "--function", "nope"]) == 2
    assert "no function 'nope'; it defines: other, train" in capsys.readouterr().err
    assert load_results(str(tmp_path / "o2" / "sweep.jsonl")) == []
    bad = tmp_path / "bad.py"
    bad.write_text("import no_such_module_xyz\n\ndef train(config):\n    return {}\n")
    assert main([*argv, "--out", str(tmp_path / "o3"), "--script", str(bad)]) == 2
    assert "No module named 'no_such_module_xyz'" in capsys.readouterr().err
