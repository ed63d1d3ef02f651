"""The command line: outputs, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


# ---- rampup curve on large runs: streamed in chunks, bounded memory, --every ---------------------

CURVE_SPECS = [
    ("linear(10) -> cosine(floor=0.1)", 100),
    ("linear(3%) -> wsd(cooldown=20%, shape=1-sqrt)", 1000),
    ("exponential(7) -> constant(5) -> linear(floor=0.01)", 61),
    ("constant", 1),
]


@pytest.mark.parametrize(("spec", "total"), CURVE_SPECS)
@pytest.mark.parametrize("chunk", [7, 1 << 16])
def test_curve_streamed_output_is_the_unstreamed_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, spec: str, total: int, chunk: int
) -> None:
    # The text the command printed before it streamed: json.dump of two whole lists, and the CSV lines.
    import numpy as np

    import rampup
    import rampup.cli

    monkeypatch.setattr(rampup.cli, "_CURVE_CHUNK", chunk)  # 7: many chunk boundaries, a short last chunk
    steps = np.arange(total)
    lr = rampup.parse(spec, total, 3e-4)(steps)
    rc, out, _ = run(capsys, "curve", spec, "--total-steps", str(total), "--peak-lr", "3e-4", "--json")
    assert rc == 0
    assert out == json.dumps({"step": steps.tolist(), "lr": lr.tolist()}) + "\n"
    assert json.loads(out)["lr"] == lr.tolist()
    rc, out, _ = run(capsys, "curve", spec, "--total-steps", str(total), "--peak-lr", "3e-4")
    assert rc == 0
    assert out == "step,lr\n" + "".join(f"{i},{v!r}\n" for i, v in zip(steps.tolist(), lr.tolist()))


@pytest.mark.parametrize(
    ("total", "every", "steps"),
    [(10, 4, [0, 4, 8, 9]), (9, 4, [0, 4, 8]), (5, 1, [0, 1, 2, 3, 4]), (3, 100, [0, 2]), (1, 5, [0])],
)
def test_curve_every_k_steps_and_the_last(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, total: int, every: int, steps: list[int]
) -> None:
    import rampup
    import rampup.cli

    monkeypatch.setattr(rampup.cli, "_CURVE_CHUNK", 2)
    sched = rampup.parse("cosine(floor=0.1)", total, 1.0)
    rc, out, _ = run(capsys, "curve", "cosine(floor=0.1)", "--total-steps", str(total), "--every", str(every), "--json")
    assert rc == 0 and json.loads(out) == {"step": steps, "lr": [sched(t) for t in steps]}
    rc, out, _ = run(capsys, "curve", "cosine(floor=0.1)", "--total-steps", str(total), "--every", str(every))
    assert rc == 0 and out.splitlines() == ["step,lr", *(f"{t},{sched(t)!r}" for t in steps)]


def test_curve_steps_beyond_int64_are_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Before: an OverflowError traceback from np.arange.
    rc, out, err = run(capsys, "curve", "constant", "--total-steps", str(10**20), "--every", str(10**19), "--json")
    assert rc == 2 and out == ""
    assert f"total_steps: got {10**20}; accepted: a positive int (at most 2**53 = {2**53})" in err
    assert len(err.strip().splitlines()) == 1
    rc, out, _ = run(capsys, "curve", "constant", "--total-steps", str(2**53), "--every", str(2**52), "--json")
    assert rc == 0 and json.loads(out) == {"step": [0, 2**52, 2**53 - 1], "lr": [1.0, 1.0, 1.0]}


@pytest.mark.parametrize("every", ["0", "-3"])
def test_curve_every_must_be_positive(capsys: pytest.CaptureFixture[str], every: str) -> None:
    rc, out, err = run(capsys, "curve", "constant", "--total-steps", "10", "--every", every)
    assert rc == 2 and out == ""
    assert f"--every: got {every}; accepted: an int >= 1" in err


def test_curve_checks_every_value_before_writing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A value that is not finite (a schedule bug) is an error before the first byte: never half a document.
    import numpy as np

    import rampup.cli

    real = rampup.cli._schedule

    def broken(spec: str, a: Any) -> Any:
        s = real(spec, a)
        return lambda t: np.where(np.asarray(t) == 150_000, np.nan, s(t))

    monkeypatch.setattr(rampup.cli, "_schedule", broken)
    rc, out, err = run(capsys, "curve", "linear(10) -> cosine", "--total-steps", "200000", "--json")
    assert rc == 2 and out == ""
    assert "the schedule gives nan at step 150000" in err


def test_curve_memory_does_not_grow_with_the_run() -> None:
    # Peak RSS of a 10^6-step JSON curve written to /dev/null vs a 10^3-step one: the unstreamed
    # command grew by ~94 MB (two Python lists of 10^6 items), the streamed one by a few MB.
    code = (
        "import resource, sys\n"
        "from rampup.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    rss = []
    for n in (1_000, 1_000_000):
        r = subprocess.run(
            [sys.executable, "-c", code, "curve", "linear(10) -> cosine", "--total-steps", str(n), "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        rss.append(int(r.stderr.split()[-1]))  # KiB on Linux
    assert rss[1] - rss[0] < 40_000, rss


def test_curve_into_a_closed_pipe_exits_quietly() -> None:
    # `rampup curve ... | head -c 100`: exit 0, nothing on stderr (no BrokenPipeError at exit).
    p = subprocess.Popen(
        [sys.executable, "-m", "rampup.cli", "curve", "linear(10) -> cosine", "--total-steps", "10000000", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdout is not None and p.stderr is not None
    head = p.stdout.read(100)
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0
    assert head.startswith(b'{"step": [0, 1, 2, ') and err == b""
