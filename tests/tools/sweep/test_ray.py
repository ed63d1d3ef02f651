"""tools/sweep/ray.py: the Ray Tune backend on a local instance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rampup.tools.sweep import (
    sweep,
    synthetic_train,
)
from tests.tools.sweep.scripts import calls

# ---------------------------------------------------------------------------------------------
# Ray Tune backend (local instance, 2 CPUs)
# ---------------------------------------------------------------------------------------------


def test_ray_backend(tmp_path: Path, script: Path, capfd: pytest.CaptureFixture[str]) -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.tune")
    log, results = tmp_path / "calls.txt", str(tmp_path / "ray.jsonl")
    kw: dict[str, Any] = dict(
        warmup=[0, "1%", "2%"],
        seeds=2,
        total_steps=1000,
        results=results,
        progress=False,
        params={
            "calls": str(log),
            "fail_seeds": [1],
            "fail_warmup": "0",
            "crash_seeds": [1],
            "crash_warmup": "1%",
            "crash_once": "2%",
        },
    )
    if ray.is_initialized():  # pragma: no cover - another test left Ray running: use it as it is
        r = sweep(str(script), backend="ray", workers=2, **kw)
    else:
        # no Ray running: the sweep starts a local instance (2 CPUs, no dashboard) and shuts it down
        r = sweep(str(script), backend="ray", workers=2, **kw)
        assert not ray.is_initialized()
    assert r.ran == 6 and len(r.records) == 6 and {x["backend"] for x in r.records} == {"ray"}
    bad = {x["config"]["warmup"]: x for x in r.records if x["status"] == "error"}
    assert sorted(bad) == ["0", "1%"]
    assert bad["0"]["error"] == "RuntimeError: injected failure"
    # a worker killed twice: the same policy and the same words as the local backend, Ray's reason inline
    died = bad["1%"]["error"]
    assert died.startswith("worker process died running this trial, twice (Ray: ") and "exit" in died, died
    assert "\n" not in died and "ray_results" not in died and "/tmp" not in died
    # the trial killed once was retried, as it is locally, and finished
    assert r.recommended is not None and r.recommended.warmup == "2%" and r.runner_up is None
    assert calls(log).count(bad["1%"]["trial"]) == 2
    assert not list(tmp_path.glob(".ray-tune-*")) and not list(tmp_path.glob("**/rampup-ray-tune-*"))
    assert "Traceback" not in capfd.readouterr().err  # Tune's tracebacks are not printed
    # the same file resumes on either backend: nothing reruns
    n = len(calls(log))
    again = sweep(str(script), backend="local", workers=1, **kw)
    assert again.ran == 0 and len(calls(log)) == n
    # and the metrics are the train function's, for the config each trial was given
    for x in r.records:
        if x["status"] == "ok":
            assert x["metrics"]["loss"] == synthetic_train(x["config"])["loss"]
