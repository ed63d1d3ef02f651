"""The command line: outputs, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rampup.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_curve_json_issue_example(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys, "curve", "linear(10) -> cosine(floor=0.1)", "--total-steps", "100", "--peak-lr", "1", "--json"
    )
    assert rc == 0
    d = json.loads(out)
    assert d["step"] == list(range(100)) and len(d["lr"]) == 100
    assert d["lr"][0] > 0 and max(d["lr"]) == 1.0 and 0.1 <= d["lr"][-1] <= 0.1 + 1e-9


def test_curve_csv(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "curve", "linear(4) -> constant", "--total-steps", "5", "--peak-lr", "0.5")
    assert rc == 0
    assert out.splitlines() == ["step,lr", "0,0.125", "1,0.25", "2,0.375", "3,0.5", "4,0.5"]


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "explain", "linear(10) -> cosine(floor=0.1)", "--total-steps", "100", "--peak-lr", "1")
    assert rc == 0
    assert "first update: lr 0.1" in out
    assert "peak: lr 1 first reached at step 9" in out
    assert "floor: lr 0.1 first reached at step 99" in out
    assert "warmup   linear" in out and "steps 0..9" in out and "steps 10..99" in out
    rc, out, _ = run(capsys, "explain", "linear(2%) -> cosine", "--total-steps", "1000", "--json")
    d = json.loads(out)
    assert d["peak_step"] == 19 and d["floor_step"] == 999 and d["first_lr"] == 0.05


def test_explain_flags_wasted_first_update(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys, "explain", "linear(10, start=0) -> constant | rewarm(at=0, length=5)", "--total-steps", "20"
    )
    assert rc == 0 and "uses LR 0" not in out
    rc, out, _ = run(capsys, "explain", "constant | rewarm(at=0, length=5)", "--total-steps", "20")
    assert "modifier rewarm(at=0, length=5)" in out


def test_plot_writes_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "sub" / "lr.png"
    rc, _stdout, _ = run(
        capsys,
        "plot",
        "linear(500) -> cosine",
        "noam(d_model=512, warmup=400)",
        "--total-steps",
        "2000",
        "-o",
        str(out),
    )
    assert rc == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["curve", "linear(2%) -> cosin", "--total-steps", "10"], "unknown decay phase 'cosin'"),
        (["curve", "linear(2%) -> cosine"], "needs total_steps"),
        (["curve", "linear(10) -> invsqrt"], "--total-steps: this schedule is open-ended"),
        (["explain", "cosine(floor=2)", "--total-steps", "10"], "cosine: floor: got '2'"),
        (["curve", "constant", "--total-steps", "-3"], "total_steps: got -3"),
        (["curve", "constant", "--total-steps", "x"], "invalid int value: 'x'"),
        (["bench", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_errors_exit_2_without_traceback(argv: list[str], message: str) -> None:
    r = subprocess.run([sys.executable, "-m", "rampup.cli", *argv], capture_output=True, text=True)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.parametrize("cmd", ["curve", "explain", "plot", "bench", "demo"])
def test_help_has_examples(cmd: str) -> None:
    r = subprocess.run([sys.executable, "-m", "rampup.cli", cmd, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "examples:" in r.stdout


def test_console_script_installed() -> None:
    exe = Path(sys.executable).with_name("rampup")
    if not exe.exists():
        pytest.skip("rampup console script not installed in this environment")
    r = subprocess.run(
        [str(exe), "curve", "linear(2) -> constant", "--total-steps", "3"], capture_output=True, text=True
    )
    assert r.stdout.splitlines() == ["step,lr", "0,0.5", "1,1.0", "2,1.0"]


def test_bench_curve_quick(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "bench", "curve", "--quick", "--json", str(tmp_path / "b.json"))
    assert rc == 0 and "vectorized NumPy" in out
    d = json.loads((tmp_path / "b.json").read_text())
    assert d["steps"] == 100_000 and d["vectorized_ms"] > 0 and d["scalar_us_decay"] > 0
