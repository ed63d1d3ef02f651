"""The entry point :func:`sweep`: make the grid, skip what the results file has, run the rest on a backend,
record each trial as it finishes, summarize."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .grid import DEFAULT_SPEC, Trial, make_trials
from .results import append_result, load_results
from .runners import run_local
from .summary import SweepResult, check_metric, plot_sweep, summarize
from .synthetic import synthetic_train  # noqa: F401  (the doctest's train function)
from .train_fn import TrainFn

__all__ = ["BACKENDS", "sweep"]


BACKENDS = ("local", "ray")


class _Progress:
    """tqdm bar with ETA (``rampup[progress]``); plain lines on stderr when tqdm is missing."""

    def __init__(self, total: int, done: int, enabled: bool, metric: str) -> None:
        self.metric, self.enabled, self.done, self.total = metric, enabled, done, total
        self.bar: Any = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(
                    total=total, initial=done, desc="sweep", unit="trial", dynamic_ncols=True, file=sys.stderr
                )
            except ImportError:
                print(f"sweep: {done}/{total} trials done (pip install tqdm for a progress bar)", file=sys.stderr)

    def update(self, name: str, rec: dict[str, Any]) -> None:
        self.done += 1
        v = rec.get("metrics", {}).get(self.metric)
        what = f"{self.metric}={v:.4g}" if isinstance(v, (int, float)) else rec.get("status", "?")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{name}: {what}", refresh=False)
            self.bar.update(1)
        elif self.enabled:
            print(f"sweep: {self.done}/{self.total} {name}: {what}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# =========================================================================
# The entry point.
# =========================================================================


def sweep(
    train_fn: Any,
    warmup: Sequence[Any],
    peak_lr: Any = None,
    seeds: Any = 3,
    *,
    spec: str = DEFAULT_SPEC,
    total_steps: int | None = None,
    params: dict[str, Any] | None = None,
    metric: str = "loss",
    mode: str = "min",
    backend: str = "local",
    workers: int | None = 2,
    address: str | None = None,
    results: str = "sweep.jsonl",
    plot: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    threads_per_worker: int | None = 1,
    function: str | None = None,
) -> SweepResult:
    """Run ``train_fn(config)`` over ``warmup × peak_lr × seeds`` and summarize; see the module docstring.

    ``train_fn``: a module-level callable, ``'train.py'`` (its ``train``),
    ``'train.py:func'`` or ``'module:func'``.  ``seeds``: a count (3 → 0, 1, 2) or
    a list.  ``metric``/``mode``: which returned metric decides and whether lower
    (``'min'``) or higher is better.  ``backend``: ``'local'`` (``workers``
    warm worker processes, ``threads_per_worker`` threads each; 1: in this process) or ``'ray'`` (Ray Tune;
    ``address`` of a running cluster, or a local instance with ``workers`` CPUs).
    ``results``: the JSONL file; trials already recorded there are not rerun
    (failed ones are, with ``retry_failed=True``).  ``plot``: an image path.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> r = sweep(synthetic_train, ["0", "2%"], seeds=2, total_steps=1000, workers=1,
    ...           results=os.path.join(d, "s.jsonl"), progress=False)
    >>> r.recommended.warmup, len(r.records)
    ('2%', 4)
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: got {backend!r}; accepted: {', '.join(BACKENDS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers: got {workers!r}; accepted: an int >= 1")
    if workers is None and backend == "local":
        raise ValueError("workers: got None; accepted: an int >= 1 for the local backend")
    if address is not None and backend != "ray":
        raise ValueError(f"address: got {address!r} with backend {backend!r}; accepted: only with backend='ray'")
    if mode not in ("min", "max"):
        raise ValueError(f"mode: got {mode!r}; accepted: 'min' or 'max'")
    if not isinstance(metric, str) or not metric:
        raise TypeError(f"metric: got {metric!r}; accepted: the name of a metric train_fn returns, e.g. 'loss'")
    if total_steps is not None and (
        isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1
    ):
        raise ValueError(f"total_steps: got {total_steps!r}; accepted: an int >= 1")
    # The local pool checks the train function in its workers, while they start (see run_local).
    ref = TrainFn.of(train_fn, function, load=not (backend == "local" and workers is not None and workers > 1))
    trials = make_trials(warmup, peak_lr, seeds, spec, total_steps, params)
    records = load_results(results)
    done = {r["trial"] for r in records if r.get("status") == "ok" or not retry_failed}
    todo = [t for t in trials if t.key not in done]
    bar = _Progress(len(trials), len(trials) - len(todo), progress, metric)

    def on_result(t: Trial, rec: dict[str, Any]) -> None:
        rec["name"] = t.name
        rec["sweep"] = {"fn": ref.describe(), "spec": spec, "metric": metric}
        append_result(results, rec)
        records.append(rec)
        bar.update(t.name, rec)
        if rec.get("status") == "ok":
            check_metric(records, metric)  # stop at the first finished trial when --metric is misspelt

    try:
        if todo:
            if backend == "local":
                assert workers is not None
                run_local(ref, todo, workers, threads_per_worker, on_result)
            else:
                from .ray import run_ray

                run_ray(
                    ref,
                    todo,
                    workers,
                    address,
                    threads_per_worker,
                    on_result,
                )
    finally:
        bar.close()
    out = summarize(trials, records, metric, mode)
    out.ran = len(todo)
    out.files["results"] = results
    if plot is not None:
        from ..plot import save_figure

        save_figure(plot_sweep(out), plot)
        out.files["plot"] = plot
    return out
