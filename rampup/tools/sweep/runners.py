"""Running trials: one trial (:func:`run_trial`, the same in a worker process, a Ray actor or in-process) and
the local backend (:func:`run_local`: the warm worker processes of :mod:`rampup.tools.pool`)."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ...support.io import json_safe
from .grid import Trial
from .results import crash_record
from .train_fn import TrainFn

__all__ = ["run_local", "run_trial"]


def run_trial(ref: TrainFn, config: dict[str, Any], threads: int | None, backend: str) -> dict[str, Any]:
    if threads is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)  # tiny models: one thread per worker is fastest
    rec: dict[str, Any] = {
        "trial": config["trial"],
        "config": config,
        "backend": backend,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    t0 = time.perf_counter()
    try:
        fn = ref.resolve()
        out = fn(dict(config))
        if not isinstance(out, dict):
            raise TypeError(f"train_fn returned {type(out).__name__}; accepted: a dict of metrics like {{'loss': 2.3}}")
        nonfinite: list[str] = []
        rec["metrics"] = json_safe(out, nonfinite=nonfinite, source="train_fn's returned metrics")
        rec["nonfinite"] = nonfinite  # NaN/inf metrics (a diverged run) are stored as null and listed here
        rec["status"] = "ok"
        rec["error"] = None
    except Exception as e:
        rec.update(status="error", metrics={}, nonfinite=[], error=f"{type(e).__name__}: {e}")
        rec["traceback"] = traceback.format_exc(limit=20)
    rec["wall_s"] = time.perf_counter() - t0
    rec["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return rec


def _load(ref: TrainFn) -> None:
    ref.resolve()


def _ignore(*args: Any) -> None:
    pass


def run_local(
    ref: TrainFn,
    trials: list[Trial],
    workers: int,
    threads: int | None,
    on_result: Callable[[Trial, dict[str, Any]], None],
) -> None:
    """``workers`` warm worker processes of :mod:`rampup.tools.pool` (``workers=1``: in this process, with the
    threads of a worker).  A trial that kills its worker is retried once, alone; a second
    death is recorded as its error (the pool's policy, the same as the Ray backend's)."""
    from ..pool import run_tasks

    if workers > 1:
        # Each worker loads the train function before any trial is handed out (the imports it pays once, as it
        # must); an error in it (no such function, an ImportError) is raised here as TrainFn.of would raise it.
        # A worker that dies loading it is left to the trials, which record it.
        n = min(workers, len(trials))
        run_tasks(_load, [ref] * n, workers, _ignore, on_died=_ignore, threads=threads, noun="train function load")
    with _threads_here(threads) if workers == 1 else contextlib.nullcontext():
        run_tasks(
            functools.partial(run_trial, ref, threads=threads, backend="local"),
            [t.config for t in trials],
            workers,
            lambda i, rec: on_result(trials[i], rec),
            on_died=lambda i, msg: on_result(trials[i], crash_record(trials[i], msg, "local")),
            threads=threads,
            noun="trial",
        )


@contextmanager
def _threads_here(threads: int | None) -> Iterator[None]:
    """In-process trials get the threads of a worker (a small model on 2 busy cores runs many times slower with 2
    threads than with 1); a torch loaded before gets its thread count back afterwards."""
    if threads is None:
        yield
        return
    from ..pool import thread_env

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        with thread_env(threads):  # a torch first imported by a trial starts with `threads` threads
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)
