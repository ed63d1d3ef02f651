"""rampup.tools.pool: the one process pool (sweep, experiments, auto-compare) — results, progress, the retry policy
for a killed worker, exceptions, in-process runs, warm reuse, and workers that die with their driver (kill -9,
SIGTERM, Ctrl-C), checked on real processes through /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from rampup.tools import pool
from rampup.tools.pool import WorkerDied, report, run_tasks
from tests.tools.procs import children, survivors

linux = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


# Task functions: module level, so spawned workers import them from this file.


def square(x: int) -> int:
    report(x)
    return x * x


def dies_once(arg: tuple[int, str]) -> int:
    """Task 2 kills its worker the first time it runs (an OOM kill that a retry survives); the others sleep a little
    so that they are in flight beside it."""
    i, marker = arg
    with open(marker + ".calls", "a") as f:
        f.write(f"{i}\n")
    if i == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return i


def always_dies(i: int) -> int:
    if i == 1:
        os._exit(3)
    return i


def crash_beside(arg: tuple[int, str, bool]) -> int:
    """Task 0 kills its worker as soon as task 1 is running beside it, every time; task 1 (the bystander, whose
    worker the broken pool stops — with SIGKILL after 2 s if it ignores SIGTERM, as some training code does) then
    kills its own worker once, the second time it runs (an OOM kill), and succeeds the third time."""
    i, d, ignore_term = arg
    with open(os.path.join(d, "calls"), "a") as f:
        f.write(f"{i}\n")
    if i == 0:
        t0 = time.monotonic()
        while not os.path.exists(os.path.join(d, "1-started")) and time.monotonic() - t0 < 10:
            time.sleep(0.01)
        os._exit(3)
    if not os.path.exists(os.path.join(d, "1-started")):
        if ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(os.path.join(d, "1-started"), "w").close()
        time.sleep(30)  # stopped with the pool when task 0's worker dies
    elif not os.path.exists(os.path.join(d, "1-killed")):
        open(os.path.join(d, "1-killed"), "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return i


def raises(i: int) -> int:
    if i == 0:
        raise ArithmeticError("task 0 fails")
    time.sleep(30)  # cancelled / killed with the pool, never waited for
    return i


def pid_of(_: Any) -> int:
    return os.getpid()


def test_results_progress_and_in_process() -> None:
    for workers in (1, 2):
        got: dict[int, int] = {}
        msgs: list[tuple[int, Any]] = []
        run_tasks(square, [3, 4, 5], workers, got.__setitem__, on_message=lambda i, v, m=msgs: m.append((i, v)))
        assert got == {0: 9, 1: 16, 2: 25}
        assert sorted(msgs) == [(0, 3), (1, 4), (2, 5)]
    here: dict[int, int] = {}
    run_tasks(pid_of, [0, 1], 1, here.__setitem__)
    assert here == {0: os.getpid(), 1: os.getpid()}  # workers=1: in this process
    run_tasks(square, [], 2, got.__setitem__)  # nothing to do: no pool
    with pytest.raises(ValueError, match="workers: got 0; accepted: an int >= 1"):
        run_tasks(square, [1], 0, got.__setitem__)


def test_workers_are_reused_warm() -> None:
    first: dict[int, int] = {}
    run_tasks(pid_of, range(6), 2, first.__setitem__)
    assert pool._SHARED is not None
    workers = set(pool._SHARED.ex._processes)  # under load one worker can take every task: compare to the pool's
    second: dict[int, int] = {}
    run_tasks(pid_of, range(6), 2, second.__setitem__)
    assert set(first.values()) | set(second.values()) <= workers  # the same processes, not new ones
    assert os.getpid() not in first.values()
    pool.shutdown()
    third: dict[int, int] = {}
    run_tasks(pid_of, range(2), 2, third.__setitem__)
    assert not set(third.values()) & set(first.values())
    pool.shutdown()


def test_a_pool_that_breaks_while_a_batch_is_submitted_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker can die between two submissions of one batch; the executor then refuses the rest
    # (BrokenProcessPool from submit()), which escaped run_tasks before.
    from concurrent.futures.process import BrokenProcessPool

    calls = {"n": 0}
    real = pool._Executor.submit

    def flaky(self: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] in (2, 3):  # the second submission of the batch, then the first one of the retry
            raise BrokenProcessPool("a child process terminated abruptly")
        return real(self, *args)

    monkeypatch.setattr(pool._Executor, "submit", flaky)
    got: dict[int, int] = {}
    run_tasks(pid_of, range(4), 2, got.__setitem__)
    assert sorted(got) == [0, 1, 2, 3]
    pool.shutdown()


def test_a_killed_worker_is_retried_and_the_task_succeeds(tmp_path: Path) -> None:
    marker = str(tmp_path / "crashed")
    got: dict[int, int] = {}
    run_tasks(dies_once, [(i, marker) for i in range(6)], 2, got.__setitem__)
    assert got == {i: i for i in range(6)}
    ran = [int(x) for x in Path(marker + ".calls").read_text().split()]
    assert ran.count(2) == 2  # the killed task, once more
    assert all(ran.count(i) <= 2 for i in range(6)) and len(ran) <= 8  # only what was in flight beside it


def test_a_task_that_kills_its_worker_twice_is_given_up() -> None:
    got: dict[int, int] = {}
    died: dict[int, str] = {}
    run_tasks(always_dies, [0, 1, 2, 3], 2, got.__setitem__, on_died=died.__setitem__, noun="run")
    assert got == {0: 0, 2: 2, 3: 3}
    assert died == {1: "worker process died running this run, twice (the second time alone)"}
    with pytest.raises(WorkerDied, match=r"task 1: worker process died running this task, twice"):
        run_tasks(always_dies, [0, 1], 2, got.__setitem__)


@pytest.mark.parametrize("ignore_term", [False, True])
def test_a_bystander_of_a_dead_worker_is_not_charged_with_its_death(
    tmp_path: Path, ignore_term: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One death breaks the executor, which stops every other worker; the task running beside it did nothing
    # wrong.  Charged with that death (as before), its own first kill would have been its second strike.
    seen: list[tuple[Any, Any, bool]] = []  # (pid, exit status, judged to have died by itself), for the message

    def spy(proc: Any, real: Any = pool._died_by_itself) -> bool:
        out = bool(real(proc))
        seen.append((getattr(proc, "pid", None), getattr(proc, "exitcode", None), out))
        return out

    monkeypatch.setattr(pool, "_died_by_itself", spy)
    got: dict[int, int] = {}
    died: dict[int, str] = {}
    items = [(0, str(tmp_path), ignore_term), (1, str(tmp_path), ignore_term)]
    run_tasks(crash_beside, items, 2, got.__setitem__, on_died=died.__setitem__)
    ran = (tmp_path / "calls").read_text().split()
    assert died == {0: "worker process died running this task, twice (the second time alone)"}, (ran, seen)
    assert got == {1: 1}
    assert (ran.count("0"), ran.count("1")) == (2, 3), (ran, seen)


def test_an_exception_stops_the_pool_and_is_raised() -> None:
    t0 = time.monotonic()
    with pytest.raises(ArithmeticError, match="task 0 fails") as e:
        run_tasks(raises, [0, 1, 2], 2, lambda i, r: None)
    assert time.monotonic() - t0 < 20  # the 30-s task beside it was killed, not waited for
    assert "Traceback" in str(e.value.__cause__)  # the worker's traceback


DRIVER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {tests!r})
    from rampup.tools.pool import run_tasks, signals_as_interrupts, interrupted_exit_code
    import test_pool_tasks

    def done(i, r):
        with open({out!r}, "a") as f:
            f.write(f"{{i}}\\n")

    if __name__ == "__main__":
        try:
            with signals_as_interrupts():
                run_tasks(test_pool_tasks.nap, [0.0, 0.0, 60.0], 3, done)  # one worker busy, two idle
        except KeyboardInterrupt as e:
            print("interrupted", e, file=sys.stderr)
            sys.exit(interrupted_exit_code(e))
    """
)

TASKS = textwrap.dedent(
    """
    import time

    def nap(s):
        time.sleep(s)
        return s
    """
)


@linux
@pytest.mark.parametrize(
    ("sig", "code", "group"),
    [
        (signal.SIGKILL, -9, False),
        (signal.SIGTERM, 143, False),
        (signal.SIGINT, 130, False),
        (signal.SIGINT, 130, True),
    ],
)
def test_workers_die_with_their_driver(tmp_path: Path, sig: int, code: int, group: bool) -> None:
    # group: Ctrl-C in a terminal, which signals the driver and its workers alike
    (tmp_path / "test_pool_tasks.py").write_text(TASKS)
    out = tmp_path / "done.txt"
    (tmp_path / "driver.py").write_text(DRIVER.format(tests=str(tmp_path), out=str(out)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py")],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # its own process group: driver and workers, nothing else
    )
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and len(out.read_text().split()) == 2):  # the two short tasks are finished
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        time.sleep(0.3)  # the long task has started
        kids = children(proc.pid)
        assert len(kids) >= 3  # three workers (and multiprocessing's resource tracker)
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        assert proc.wait(30) == code
        assert survivors(kids, within=5.0) == []  # no worker outlives the driver (they would sleep 60 s)
        assert sorted(out.read_text().split()) == ["0", "1"]  # the finished tasks stay recorded
        if sig != signal.SIGKILL:
            err = proc.stderr.read() if proc.stderr else ""
            assert err.strip().splitlines() == ["interrupted" if sig == signal.SIGINT else "interrupted SIGTERM"], err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@linux
@pytest.mark.parametrize(
    "command",
    [
        ["experiment", "e1", "--quick", "--workers", "2", "--no-progress"],
        ["auto-compare", "--quick", "--tasks", "e3", "--methods", "update", "--workers", "2"],
    ],
)
def test_experiment_and_auto_compare_workers_die_on_sigterm(tmp_path: Path, command: list[str]) -> None:
    # Their pools are the same pool: SIGTERM ends the command with one line and 143, and takes the workers along.
    proc = subprocess.Popen(
        [sys.executable, "-m", "rampup.cli", *command, "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        kids: list[int] = []
        while len(kids) < 2:  # both workers are up
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
            kids = children(proc.pid)
        time.sleep(0.5)
        kids = children(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 143
        assert survivors(kids, within=5.0) == []
        err = proc.stderr.read() if proc.stderr else ""
        assert "Traceback" not in err
        assert (
            err.strip().splitlines()[-1] == f"rampup {command[0]}: interrupted (SIGTERM); finished work is kept on disk"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_docstring_examples() -> None:
    import doctest

    res = doctest.testmod(pool)
    assert res.attempted >= 2 and res.failed == 0
