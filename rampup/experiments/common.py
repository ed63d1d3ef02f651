"""What every reference experiment shares: parallel runs with a progress bar, statistics, output files.

The arms × seeds of an experiment are independent runs ("jobs").  They run in
``workers`` processes of the project's pool (:mod:`rampup.tools.pool`: warm
workers that die with this process; a run whose worker is killed is retried
once), each with ``torch.set_num_threads(1)`` (tiny models are fastest
single-threaded; two processes use two cores).  Workers report finished steps
to the driver, so the progress bar counts optimizer steps of all jobs
together.  ``workers=1`` runs the jobs in this process.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..support.io import atomic_write_text, json_safe
from ..support.optional import pyplot, require
from ..tools.pool import report, run_tasks, torch_threads

__all__ = [
    "Job",
    "cell_code",
    "check_seeds",
    "check_workers",
    "environment",
    "fmt_ms",
    "mean_std",
    "progress_bar",
    "run_jobs",
    "smooth",
    "write_outputs",
]


@dataclass
class Job:
    """One training run: ``kind`` 'lm' or 'digits', its config, the seed, and labels to find it again.

    ``kind`` 'call' runs any module-level function: ``cfg`` is ``(function, kwargs)`` (both picklable,
    for the pool's workers) and the run is ``function(**kwargs, progress=...)``, which returns the run's
    result dict and reports finished steps through ``progress``; :meth:`call` makes one (the experiments'
    auto arms are such jobs: :func:`~rampup.experiments.auto_runs.auto_job`).
    ``steps`` is what the progress bar counts (and longer jobs start first).
    """

    kind: str
    cfg: Any
    seed: int
    arm: str
    steps: int
    init_state: bytes | None = None
    tags: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def call(
        cls,
        function: Callable[..., dict[str, Any]],
        kwargs: dict[str, Any],
        *,
        arm: str,
        seed: int,
        steps: int,
        tags: dict[str, Any] | None = None,
    ) -> Job:
        """A job running ``function(**kwargs, progress=...)``, labelled ``arm``/``seed``/``tags`` in its result.

        >>> j = Job.call(dict, {"x": 1}, arm="a", seed=0, steps=10)
        >>> j.kind, j.cfg, j.arm
        ('call', (<class 'dict'>, {'x': 1}), 'a')
        """
        if not callable(function):
            raise TypeError(f"function: got {function!r}; accepted: a module-level function (picklable)")
        return cls("call", (function, dict(kwargs)), seed, arm, steps, tags=dict(tags or {}))


def _init_worker() -> None:
    import torch  # once per worker, while the other workers start too

    torch.set_num_threads(1)


def _execute(job: Job, progress: Callable[[int], None] | None) -> dict[str, Any]:
    from .train import train_digits, train_lm

    if job.kind == "lm":
        return train_lm(job.cfg, job.seed, job.init_state, progress)
    if job.kind == "digits":
        return train_digits(job.cfg, job.seed, progress)
    if job.kind == "call":
        function, kwargs = job.cfg
        return function(**kwargs, progress=progress)
    raise ValueError(f"job.kind: got {job.kind!r}; accepted: 'lm', 'digits' or 'call'")


def _worker(job: Job) -> dict[str, Any]:
    return _execute(job, report)  # finished steps go to the driver's progress bar


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    tqdm = require("tqdm", extra="progress", purpose="the experiments' progress bar").tqdm
    return tqdm(
        total=total, desc=desc, unit="step", disable=not enabled, file=sys.stderr, dynamic_ncols=True, smoothing=0.05
    )


def check_workers(workers: int) -> int:
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers: got {workers!r}; accepted: an integer >= 1 (processes running arms in parallel)")
    return workers


def check_seeds(seeds: int) -> int:
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"seeds: got {seeds!r}; accepted: an integer >= 1")
    return seeds


def run_jobs(jobs: Sequence[Job], workers: int = 2, desc: str = "runs", progress: bool = True) -> list[dict[str, Any]]:
    """Run every job; results in the order of ``jobs``, each tagged with ``arm``, ``seed`` and ``tags``.

    Longer jobs start first, so two workers finish close together.
    """
    check_workers(workers)
    jobs = list(jobs)
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = progress_bar(sum(j.steps for j in jobs), desc, progress)
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].steps)

    def done(k: int, r: dict[str, Any]) -> None:
        results[order[k]] = r

    try:
        items = [jobs[i] for i in order]
        if workers == 1 or len(jobs) <= 1:  # in this process, one thread as in a worker
            with torch_threads(1):
                run_tasks(_worker, items, 1, done, on_message=lambda k, n: bar.update(n))
        else:  # the project's pool: warm workers, killed with this process; a failed run stops the experiment
            run_tasks(
                _worker,
                items,
                workers,
                done,
                on_message=lambda k, n: bar.update(n),
                initializer=_init_worker,
                noun="run",
            )
    finally:
        bar.close()
    out = []
    for j, r in zip(jobs, results):
        assert r is not None
        r.update({"arm": j.arm, "seed": j.seed, **j.tags})
        out.append(r)
    return out


def environment() -> dict[str, Any]:
    """Date, machine and versions, recorded with every result."""
    import torch

    from .. import __version__

    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "rampup": __version__,
        "command": "rampup " + " ".join(sys.argv[1:])
        if os.path.basename(sys.argv[0]) == "rampup"
        else " ".join(sys.argv),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mean_std(values: npt.ArrayLike) -> tuple[float, float, int]:
    """Mean and sample standard deviation (ddof = 1; 0 for one value) of the finite values, and how many were not finite."""
    a = np.asarray(values, dtype=np.float64)
    ok = a[np.isfinite(a)]
    if ok.size == 0:
        return math.nan, math.nan, int(a.size)
    return float(ok.mean()), float(ok.std(ddof=1)) if ok.size > 1 else 0.0, int(a.size - ok.size)


def fmt_ms(values: Sequence[float], digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
    """``"2.251 ± 0.013"`` (± = sample std over seeds); non-finite runs are counted, not averaged."""
    m, s, bad = mean_std(values)
    if math.isnan(m):
        return f"diverged ({bad}/{len(values)})"
    n_ok = len(values) - bad
    txt = f"{m * scale:.{digits}f}{unit}" + (f" ± {s * scale:.{digits}f}{unit}" if n_ok > 1 else "")
    return txt + (f" ({bad} diverged)" if bad else "")


def cell_code(text: str) -> str:
    r"""Inline code for a GitHub-flavoured markdown table cell: a ``|`` in a spec must not end the cell.

    >>> print(cell_code("cosine | radam(beta2=0.98)"))
    `cosine \| radam(beta2=0.98)`
    """
    return "`" + text.replace("|", "\\|") + "`"


def smooth(y: npt.ArrayLike, k: int = 10) -> np.ndarray:
    """Trailing moving average over ``k`` steps (the first values average what exists)."""
    a = np.asarray(y, dtype=np.float64)
    if a.size == 0 or k <= 1:
        return a
    c = np.cumsum(np.insert(a, 0, 0.0))
    n = np.minimum(np.arange(1, a.size + 1), k)
    return (c[1:] - c[np.arange(1, a.size + 1) - n]) / n


def write_outputs(out: str, results: dict[str, Any], report: str, figures: dict[str, Any]) -> list[str]:
    """Write ``results.json``, ``report.md`` and the figures (PNG) into ``out``, each atomically."""
    from ..tools.plot import save_figure

    os.makedirs(out, exist_ok=True)
    plt = pyplot()
    paths = []
    for name, fig in figures.items():
        p = os.path.join(out, name)
        save_figure(fig, p)
        plt.close(fig)
        paths.append(p)
    results["files"] = sorted([*figures, "results.json", "report.md"])
    atomic_write_text(
        os.path.join(out, "results.json"), json.dumps(json_safe(results, source="results"), indent=1) + "\n"
    )
    atomic_write_text(os.path.join(out, "report.md"), report)
    return [os.path.join(out, "results.json"), os.path.join(out, "report.md"), *paths]


def results_head(name: str, title: str, claim: str, quick: bool, seeds: int) -> dict[str, Any]:
    """The fields every experiment's ``results.json`` starts with: what ran, in which mode, on which machine."""
    return {
        "experiment": name,
        "title": title,
        "claim": claim,
        "quick": quick,
        "seeds": list(range(seeds)),
        "environment": environment(),
    }


def header(results: dict[str, Any]) -> list[str]:
    """The first lines of every report: what ran, where, on which corpus."""
    env = results["environment"]
    lines = [
        f"# {results['experiment'].upper()}: {results['title']}",
        "",
        f"Claim: {results['claim']}",
        "",
        f"- command: `{env['command']}`",
        f"- finished: {env['date']}; machine: {env['processor']}, {env['cpu_count']} CPUs, {env['platform']}",
        f"- Python {env['python']}, torch {env['torch']}, rampup {env['rampup']}; "
        f"seeds: {results['seeds']}; wall time {results['wall_s']:.0f} s"
        + ("; **quick mode** (smoke test: too short to show the effect)" if results["quick"] else ""),
    ]
    if "corpus" in results:
        c = results["corpus"]
        lines.append(f"- corpus: {c['n_bytes']:,} bytes of Python {c['python']} stdlib, sha256 {c['sha256'][:16]}…")
    lines.append("")
    return lines


def timed(t0: float) -> float:
    return round(time.perf_counter() - t0, 1)
