"""rampup sweep: the grid, the JSONL results (atomic lines, locking, resume), failing and crashing trials, the
summary and recommendation, the CLI, and the Ray Tune backend on a local instance."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import rampup
from rampup.cli import main
from rampup.tools.sweep import (
    TrainFn,
    append_result,
    load_results,
    make_trials,
    summarize,
    sweep,
    synthetic_train,
)
from tests.tools.procs import children, survivors

# A train script the workers load from its file: records every call (to count reruns), can fail or crash a trial.
SCRIPT = textwrap.dedent(
    """
    import os, json, time
    from rampup.tools.sweep import synthetic_train

    def train(config):
        with open(config["calls"], "a") as f:
            f.write(config["trial"] + "\\n")
        if config["seed"] in config.get("fail_seeds", []) and config["warmup"] == config.get("fail_warmup"):
            raise RuntimeError("injected failure")
        if config["seed"] in config.get("crash_seeds", []) and config["warmup"] == config.get("crash_warmup"):
            os._exit(3)  # a worker that dies (segfault, OOM kill)
        if config.get("crash_once") == config["warmup"] and not os.path.exists(config["calls"] + ".crashed"):
            open(config["calls"] + ".crashed", "w").close()
            os.kill(os.getpid(), 9)  # killed once (the OOM killer), fine when retried
        t0 = time.monotonic()
        while config.get("hold") == config["warmup"] and not os.path.exists(config["release"]):
            time.sleep(0.02)  # a long trial, until the test releases it
            assert time.monotonic() - t0 < 60
        out = synthetic_train(config)
        out["omp"] = os.environ.get("OMP_NUM_THREADS")
        if config.get("nan"):
            out["loss"] = float("nan")
        return out

    def other(config):
        return {"loss": 1.0}
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    p = tmp_path / "train.py"
    p.write_text(SCRIPT)
    return p


def calls(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


# ---------------------------------------------------------------------------------------------
# The grid
# ---------------------------------------------------------------------------------------------


def test_grid_configs_and_specs() -> None:
    trials = make_trials([0, "0.5%", 100], peak_lr=[1e-3, 3e-3], seeds=2, total_steps=1000, params={"steps": 50})
    assert len(trials) == 12 and len({t.key for t in trials}) == 12
    c = trials[0].config
    assert c == {
        "warmup": "0",
        "peak_lr": 1e-3,
        "seed": 0,
        "spec": "cosine(floor=0.1)",
        "total_steps": 1000,
        "warmup_steps": 0,
        "trial": trials[0].key,
        "steps": 50,
    }
    by = {(t.config["warmup"], t.config["peak_lr"], t.config["seed"]): t for t in trials}
    assert by[("0.5%", 3e-3, 1)].config["spec"] == "linear(0.5%) -> cosine(floor=0.1)"
    assert by[("0.5%", 3e-3, 1)].config["warmup_steps"] == 5
    assert by[("100", 1e-3, 0)].name == "warmup=100 peak_lr=0.001 seed=0"
    for t in trials:  # every spec is valid and means what it says
        assert rampup.parse(t.config["spec"], total_steps=1000).warmup_steps == t.config["warmup_steps"]
    # keys are stable across calls (resume relies on it) and change with what the trial means
    again = make_trials([0, "0.5%", 100], peak_lr=[1e-3, 3e-3], seeds=2, total_steps=1000, params={"steps": 50})
    assert [t.key for t in again] == [t.key for t in trials]
    other = make_trials([0], peak_lr=[1e-3], seeds=1, total_steps=1000, params={"steps": 51})
    assert other[0].key != trials[0].key


def test_grid_template_and_seeds() -> None:
    t = make_trials(["2%"], seeds=[7], spec="cosine({warmup}) -> wsd(cooldown=20%) | radam(beta2=0.95)")
    assert t[0].config["spec"] == "cosine(2%) -> wsd(cooldown=20%) | radam(beta2=0.95)"
    assert t[0].config["peak_lr"] is None and t[0].config["seed"] == 7 and "warmup_steps" not in t[0].config
    assert make_trials([0], seeds=1, spec="cosine({warmup}) -> wsd(cooldown=20%)")[0].config["spec"] == (
        "wsd(cooldown=20%)"
    )
    # no warmup before a chain of decays: the chain keeps a 0-step warmup, so its text reads back as the same chain
    chain = make_trials([0], seeds=1, spec="linear({warmup}) -> constant(50%) -> cosine", total_steps=100)[0]
    assert chain.config["spec"] == "linear(0) -> constant(50%) -> cosine"
    assert chain.config["warmup_steps"] == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"warmup": "1%"}, TypeError, "warmup: got '1%'; accepted: a non-empty list"),
        ({"warmup": ["1%", "1%"]}, ValueError, "repeats a value"),
        ({"warmup": ["1%"], "spec": "linear(1%) -> cosine"}, ValueError, "spec template with '{warmup}'"),
        ({"warmup": ["abc"]}, ValueError, "warmup: cannot read 'abc' as a length"),
        ({"warmup": ["0.01%"], "total_steps": 1000}, ValueError, r"warmup: '0.01%' is 0 steps of total_steps=1000"),
        ({"warmup": [1], "seeds": 0}, ValueError, "seeds: got 0"),
        ({"warmup": [1], "seeds": [1, 1]}, ValueError, "repeats a seed"),
        ({"warmup": [1], "peak_lr": [0.1, -1]}, ValueError, "peak_lr: got -1"),
        ({"warmup": [1], "params": {"seed": 3}}, ValueError, r"params: \['seed'\] are set by the sweep itself"),
        ({"warmup": [1], "params": {"x": object()}}, ValueError, "params: must be JSON data"),
    ],
)
def test_grid_errors(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make_trials(**kwargs)


def test_train_fn_references(script: Path) -> None:
    assert TrainFn.of(str(script)).function == "train"
    assert TrainFn.of(f"{script}:other").resolve()({}) == {"loss": 1.0}
    assert TrainFn.of("rampup.tools.sweep:synthetic_train").resolve() is synthetic_train
    with pytest.raises(ValueError, match=r"no function 'nope'; it defines: other, train"):
        TrainFn.of(f"{script}:nope")
    with pytest.raises(ValueError, match=r"script '.*missing\.py' does not exist"):
        TrainFn.of(str(script.parent / "missing.py"))
    with pytest.raises(TypeError, match="cannot be sent to worker processes"):
        TrainFn.of(lambda c: {"loss": 0.0})
    with pytest.raises(ValueError, match="entry: cannot import 'no_such_module'"):
        TrainFn.of("no_such_module:f")


# ---------------------------------------------------------------------------------------------
# Results file
# ---------------------------------------------------------------------------------------------


def _writer(path: str, who: int, n: int) -> None:
    for i in range(n):
        append_result(path, {"trial": f"{who}-{i}", "pad": "x" * 200_000})  # > PIPE_BUF: atomicity needs the lock


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = str(tmp_path / "r.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 25)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = Path(path).read_text().splitlines()
    assert len(lines) == 75
    recs = [json.loads(line) for line in lines]  # every line is one whole record
    assert sorted(r["trial"] for r in recs) == sorted(f"{w}-{i}" for w in range(3) for i in range(25))


def test_a_line_cut_short_is_skipped_and_closed(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    append_result(str(path), {"trial": "a", "v": 1})
    with open(path, "a") as f:
        f.write('{"trial": "b", "v"')  # a crash in the middle of a write
    append_result(str(path), {"trial": "c", "v": 3})
    with pytest.warns(RuntimeWarning, match=r"r.jsonl:2: unreadable line skipped"):
        recs = load_results(str(path))
    assert [r["trial"] for r in recs] == ["a", "c"]
    with pytest.raises(ValueError):
        append_result(str(path), {"trial": "d", "v": float("nan")})  # never NaN in the file
    assert load_results(str(tmp_path / "none.jsonl")) == []


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


def test_synthetic_train_has_the_reported_shape() -> None:
    def loss(w: str, lr: float = 1e-2) -> float:
        return (
            sum(
                synthetic_train(
                    {
                        "spec": f"linear({w}) -> cosine" if w != "0" else "cosine",
                        "total_steps": 1000,
                        "seed": s,
                        "peak_lr": lr,
                    }
                )["loss"]
                for s in range(3)
            )
            / 3
        )

    assert loss("0") > loss("0.5%") + 0.1 > loss("2%") + 0.1  # short warmups spike
    assert loss("20%") > loss("2%")  # long warmups cost updates at low LR
    assert loss("0", 3e-2) - loss("2%", 3e-2) > loss("0", 3e-3) - loss("2%", 3e-3)  # worse at high LR


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


def test_docstring_examples() -> None:
    import doctest
    import importlib
    import pkgutil

    import rampup.tools.sweep as pkg

    attempted = 0
    for name in ["rampup.tools.sweep"] + [f"rampup.tools.sweep.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]:
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert res.failed == 0, name
        attempted += res.attempted
    assert attempted >= 4


def test_bench_is_registered_and_runs_quick() -> None:
    from rampup.tools.bench import BENCHES, run_bench
    from rampup.tools.sweep import bench_sweep, bench_train, format_bench

    assert "sweep" in BENCHES
    r = bench_sweep(quick=True)
    assert r["trials"] == 4 and r["ray"] == "skipped (--quick)"
    for k in ("sequential_s", "local_cold_s", "local_warm_s", "local_in_process_s"):
        assert r[k] > 0, k
    assert r["speedup_warm"] == pytest.approx(r["sequential_s"] / r["local_warm_s"])
    assert r["speedup_cold"] == pytest.approx((r["import_torch_s"] + r["sequential_s"]) / r["local_cold_s"])
    text = format_bench(r)
    assert text.startswith("rampup bench sweep — 4 trials of bench_train (50 updates")
    assert "local, 2 workers, warm" in text and "ray: skipped (--quick)" in text
    assert bench_train({"steps": 5, "seed": 1}) == bench_train({"steps": 5, "seed": 1})  # a function of its config
    ray_line = format_bench({**r, "ray": {"init_s": 4.0, "sweep_s": 6.0}})
    assert f"ray: ray.init 4.00 s, then 2 workers 6.00 s (speedup {r['sequential_s'] / 6:.2f}x" in ray_line
    assert callable(BENCHES["sweep"][0]) and run_bench  # the CLI entry: rampup bench sweep
