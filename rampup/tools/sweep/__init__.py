"""``rampup sweep``: the warmup length as a hyperparameter, swept in one command.

The grid is ``warmup × peak_lr × seeds``.  Each trial calls ``train_fn(config)``
with ::

    config = {"warmup": "1%", "peak_lr": 0.01, "seed": 0,
              "spec": "linear(1%) -> cosine(floor=0.1)",       # the spec this warmup implies
              "total_steps": 400, "warmup_steps": 4,          # when total_steps is given
              "trial": "3f2a…", **params}

and expects a dict of metrics back (``{"loss": 2.31, …}``).  Trials run in the
warm worker processes of :mod:`rampup.tools.pool` (default; one thread each;
they die with the sweep; ``workers=1``: in this process) or on Ray Tune
(``backend="ray"``, a local instance or a cluster at ``address``); the same
sweep runs unchanged on both, and a trial whose worker is killed is retried
once on both.

Results are appended to a JSONL file as trials finish — one line per trial,
written under an exclusive lock, flushed and fsynced — so an interrupted sweep
resumes without rerunning finished trials, and a failing trial is recorded with
its error without stopping the others.  The summary is a table (mean ± std
per warmup), the recommended warmup with its margin over the runner-up, and a
plot of the final metric vs warmup length (plus metric vs peak LR curves when
the LR is swept too).

>>> from rampup.tools.sweep import make_trials
>>> [t.config["spec"] for t in make_trials([0, "1%"], seeds=1, total_steps=1000)]
['cosine(floor=0.1)', 'linear(1%) -> cosine(floor=0.1)']

The package, one idea per module (each imports only those above it)::

    train_fn.py   TrainFn: the train function as a reference every worker can load
    grid.py       Trial, make_trials: the grid warmup × peak_lr × seeds
    results.py    append_result, load_results: the JSONL store (lock, fsync, resume)
    runners.py    run_trial, run_local: one trial; the local process-pool backend
    ray.py        run_ray: the Ray Tune backend
    summary.py    Cell, SweepResult, summarize, plot_sweep: mean ± std, the recommendation
    synthetic.py  synthetic_train: a closed-form stand-in for a training run
    driver.py     sweep(): the entry point
    cli.py        rampup sweep
    bench.py      rampup bench sweep
"""

from __future__ import annotations

from .bench import BENCH_STEPS, bench_sweep, bench_train, format_bench
from .cli import add_arguments, report, run_cli
from .driver import BACKENDS, sweep
from .grid import DEFAULT_SPEC, Trial, make_trials
from .results import append_result, crash_record, load_results
from .runners import run_local, run_trial
from .summary import Cell, SweepResult, check_metric, mean_pm_std, plot_sweep, summarize
from .synthetic import synthetic_train
from .train_fn import TrainFn

__all__ = [
    "BACKENDS",
    "BENCH_STEPS",
    "DEFAULT_SPEC",
    "Cell",
    "SweepResult",
    "TrainFn",
    "Trial",
    "add_arguments",
    "append_result",
    "bench_sweep",
    "bench_train",
    "check_metric",
    "crash_record",
    "format_bench",
    "load_results",
    "make_trials",
    "mean_pm_std",
    "plot_sweep",
    "report",
    "run_cli",
    "run_local",
    "run_trial",
    "summarize",
    "sweep",
    "synthetic_train",
]
