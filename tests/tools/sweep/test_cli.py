"""tools/sweep/cli.py: rampup sweep — its output files, failures and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rampup.cli import main
from rampup.tools.sweep import (
    load_results,
)

# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def test_cli_outputs(tmp_path: Path, script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    rc = main(
        [
            "sweep",
            "--script",
            str(script),
            "--warmup",
            "0,2%",
            "--peak-lr",
            "0.003,0.03",
            "--seeds",
            "0,5",
            "--total-steps",
            "1000",
            "--out",
            str(out),
            "--no-progress",
            "--json",
            "--workers",
            "2",
            "--set",
            f"calls={tmp_path / 'c.txt'}",
        ]
    )
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert len(d["cells"]) == 4 and d["trials"] == 8 and d["ran"] == 8
    assert {(c["warmup"], c["peak_lr"]) for c in d["cells"]} == {("0", 0.003), ("0", 0.03), ("2%", 0.003), ("2%", 0.03)}
    assert d["recommended"]["warmup"] == "2%" and d["margin"] > 0
    for name in ("sweep.jsonl", "summary.json", "sweep.png", "report.md"):
        assert (out / name).exists(), name
    assert json.loads((out / "summary.json").read_text())["verdict"] == d["verdict"]
    report = (out / "report.md").read_text()
    assert "| 2% **(recommended)** | 20 |" in report and "![sweep](sweep.png)" in report
    assert {r["config"]["seed"] for r in load_results(str(out / "sweep.jsonl"))} == {0, 5}


def test_retry_failed_prints_each_failure_once(
    tmp_path: Path, script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sweep", "--script", str(script), "--warmup", "0,2%", "--seeds", "2", "--total-steps", "1000"]
    argv += ["--out", str(tmp_path / "o"), "--no-progress", "--workers", "1", "--set", f"calls={tmp_path / 'c.txt'}"]
    argv += ["--set", "fail_seeds=[1]", "--set", 'fail_warmup="0"']
    for extra in ([], ["--retry-failed"]):
        main([*argv, *extra])
        out = capsys.readouterr().out
        assert out.count("failed: warmup=0 seed=1: RuntimeError: injected failure") == 1, out


def test_cli_errors(tmp_path: Path, script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["sweep", "--script", str(script), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*base, "--warmup", "1%", "--seeds", "x"]) == 2
    assert "--seeds: got 'x'" in capsys.readouterr().err
    assert main([*base, "--warmup", "1%", "--peak-lr", "1e-3,abc"]) == 2
    assert "--peak-lr: got '1e-3,abc'" in capsys.readouterr().err
    assert main([*base, "--warmup", "1%", "--set", "novalue"]) == 2
    assert "--set: got 'novalue'; accepted: KEY=VALUE" in capsys.readouterr().err
    assert main([*base, "--warmup", "1%", "--address", "auto"]) == 2
    assert "address: got 'auto' with backend 'local'" in capsys.readouterr().err
