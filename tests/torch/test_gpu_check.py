"""``python -m rampup.torch.gpu_check``: the CPU dry run passes, no CUDA is a clean skip, a failure exits 1."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch

from rampup.torch import gpu_check


def test_dry_run_on_cpu_passes_every_check_that_applies(capsys: pytest.CaptureFixture[str]) -> None:
    rc = gpu_check.main(["--device", "cpu", "--steps", "6"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.split(" ", 1)[0] in ("PASS", "FAIL", "SKIP")]
    assert rc == 0
    assert [ln.split(": ", 1)[0] for ln in lines] == [
        "PASS fused",
        "SKIP capturable",  # torch refuses capturable=True for CPU parameters
        "PASS compile:opt_step",
        "PASS compile:opt_step_and_sched_step",
        "PASS resume",
        "PASS monitor",
        "PASS guard",
    ]
    assert "1 graph, 0 recompiles, LRs exact" in lines[3]
    assert "both orders" in lines[4]


def test_without_cuda_it_skips_with_exit_0(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert capsys.readouterr().out == (
        "SKIP gpu_check: no CUDA device (torch.cuda.is_available() is False); nothing was run\n"
    )


def test_a_failing_check_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(device: str, steps: int, backend: str) -> str:
        raise AssertionError("LR 0.1 at step 3, expected 0.2")

    checks = {"broken": broken, "monitor": gpu_check.CHECKS["monitor"]}
    monkeypatch.setattr(gpu_check, "CHECKS", checks)
    out = io.StringIO()
    assert gpu_check.run_checks("cpu", 4, "eager", out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("FAIL broken: AssertionError: LR 0.1 at step 3, expected 0.2 (")
    assert lines[1].startswith("PASS monitor: 4 rows")
    assert lines[2] == "gpu_check on cpu: 1 of 2 checks did not fail"


def test_bad_steps_is_a_usage_error() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "rampup.torch.gpu_check", "--device", "cpu", "--steps", "2"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--steps: got 2; accepted: an int >= 4" in r.stderr
