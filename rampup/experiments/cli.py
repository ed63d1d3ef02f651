"""``rampup experiment NAME``: the arguments and the command (torch is imported only when it runs)."""

from __future__ import annotations

import argparse
import os

from . import EXPERIMENTS, run_experiment

__all__ = ["HELP", "add_experiment_arguments", "cmd_experiment"]

HELP = "run a reference experiment (e1 e2 e3 e4a e4b e4c e4d e5 e7): seeds, results JSON, plots, report"


def add_experiment_arguments(p: argparse.ArgumentParser) -> None:
    names = "; ".join(f"{k}: {d}" for k, (_, d) in EXPERIMENTS.items())
    p.add_argument("name", choices=list(EXPERIMENTS), help=f"which experiment ({names})")
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="number of seeds (default 3; e4c 5; --quick 1, e4c 2); the seed varies the initialization",
    )
    p.add_argument("--quick", action="store_true", help="tiny, fast smoke test (too short to show the effect)")
    p.add_argument("--out", default=None, help="output folder (default experiment-output/NAME)")
    p.add_argument("--workers", type=int, default=2, help="parallel worker processes, 1 thread each (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_experiment(a: argparse.Namespace) -> int:
    out = a.out if a.out is not None else os.path.join("experiment-output", a.name)
    results = run_experiment(a.name, out, seeds=a.seeds, quick=a.quick, workers=a.workers, progress=not a.no_progress)
    with open(os.path.join(out, "report.md"), encoding="utf-8") as f:
        print(f.read())
    print(f"wrote {', '.join(os.path.join(out, x) for x in results['files'])}")
    return 0
