"""The Ray Tune backend of ``rampup sweep``: the same trials, on a local Ray instance or a cluster.

Each trial is one Tune trial of a function trainable that runs the same
``run_trial`` as the local backend (so errors are caught and recorded the same
way).  The driver appends each record to the results file as Tune reports the
trial complete, so resume works exactly as for the local backend.  Actors are
reused between trials (``reuse_actors=True``): starting a fresh actor per trial
costs about a second each.

A trial whose worker dies (OOM kill, segfault) is retried once, as on the local
backend (:mod:`rampup.tools.pool`; Tune's ``max_failures=1``); a second death is
recorded with Ray's own sentence inline (exit code, signal), not a path into
Ray's temporary files, and Tune's tracebacks are not printed.  Tune's
bookkeeping lives in a temporary folder outside the output folder, removed
afterwards.

``address=None`` starts a local instance with ``workers`` CPUs (no dashboard)
and shuts it down afterwards; ``address="auto"`` or ``"ray://host:10001"``
connects to a running cluster (which must have rampup and the train function's
imports installed; a ``--script`` file's source travels with the trial).  An
already initialized Ray (e.g. in a test) is used as it is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from .grid import Trial
from .results import crash_record
from .runners import run_trial
from .train_fn import TrainFn

__all__ = ["run_ray"]

MAX_RETRIES = 1  # a trial whose worker dies is run once more: the local pool's policy


def _death(trial: Any) -> str:
    """What killed the trial's worker, in one line: Ray's own words (exit type and detail), not a file path."""
    text = ""
    try:  # Tune has just written the error beside the trial (synchronously); its storage copy may lag
        path = trial.error_file
        if path and os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        else:
            text = str(trial.get_error() or "")
    except Exception:  # pragma: no cover - Ray's trial API changes between versions
        text = ""
    last = re.split(r"Failure # \d+ \(occurred at [^)]*\)", text)[-1]  # the second death
    why = " ".join(last.split()) or "no error recorded by Ray"
    if len(why) > 400:
        why = why[:400] + " …"
    return f"worker process died running this trial, twice (Ray: {why})"


@contextmanager
def _quiet_tune() -> Any:
    # Tune's default CSV/JSON/TensorBoard loggers and its console table are noise here: our JSONL is the record.
    keys = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "RAY_AIR_NEW_OUTPUT": "0", "TUNE_PRINT_ALL_TRIAL_ERRORS": "0"}
    saved = {k: os.environ.get(k) for k in keys}
    for k, v in keys.items():
        os.environ.setdefault(k, v)
    tune_log = logging.getLogger("ray.tune.tune")  # "Trials did not complete: [...]": the JSONL says which and why
    level = tune_log.level
    tune_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        tune_log.setLevel(level)
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def run_ray(
    ref: TrainFn,
    trials: list[Trial],
    workers: int | None,
    address: str | None,
    threads: int | None,
    on_result: Callable[[Trial, dict[str, Any]], None],
) -> None:
    from ...support.optional import require

    tune: Any = require("ray.tune", extra="ray", purpose="backend='ray' (Ray Tune)")
    ray = require("ray", extra="ray", purpose="backend='ray' (Ray Tune)")

    started = False
    if not ray.is_initialized():
        if address is not None:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or 2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        started = True
    configs = [t.config for t in trials]

    def trainable(config: dict[str, Any]) -> dict[str, Any]:
        rec = run_trial(ref, configs[config["i"]], threads, "ray")
        return {"record_json": json.dumps(rec, allow_nan=False)}

    class _Report(tune.Callback):  # type: ignore[misc]
        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            t = trials_by_index[trial.config["i"]]
            rec_json = (trial.last_result or {}).get("record_json")
            if rec_json is None:
                on_result(t, crash_record(t, "ray: the trial finished without a result", "ray"))
            else:
                on_result(t, json.loads(rec_json))

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
            t = trials_by_index[trial.config["i"]]
            on_result(t, crash_record(t, _death(trial), "ray"))

    trials_by_index = dict(enumerate(trials))
    # Not in the output folder: a sweep killed with SIGKILL cannot remove it, and the output is the user's.
    storage = tempfile.mkdtemp(prefix="rampup-ray-tune-")
    try:
        with _quiet_tune():
            tuner = tune.Tuner(
                tune.with_resources(trainable, {"cpu": 1}),
                param_space={"i": tune.grid_search(list(range(len(trials))))},
                tune_config=tune.TuneConfig(max_concurrent_trials=workers, reuse_actors=True),
                run_config=tune.RunConfig(
                    name="rampup-sweep",
                    storage_path=storage,
                    verbose=0,
                    callbacks=[_Report()],
                    failure_config=tune.FailureConfig(max_failures=MAX_RETRIES, fail_fast=False),
                ),
            )
            tuner.fit()
    finally:
        import shutil

        shutil.rmtree(storage, ignore_errors=True)
        if started:
            ray.shutdown()
