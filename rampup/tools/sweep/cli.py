"""``rampup sweep``: the command line over :func:`rampup.tools.sweep.sweep`, its summary files and its
markdown report."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any

from .driver import BACKENDS, sweep
from .grid import DEFAULT_SPEC
from .results import load_results
from .summary import SweepResult, mean_pm_std

__all__ = ["add_arguments", "report", "run_cli"]


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _parse_seeds(text: str) -> Any:
    if "," in text:
        try:
            return [int(x) for x in _split(text)]
        except ValueError:
            raise ValueError(f"--seeds: got {text!r}; accepted: a count (3) or a comma list of ints (0,1,7)") from None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--seeds: got {text!r}; accepted: a count (3) or a comma list of ints (0,1,7)") from None


def _parse_lrs(text: str) -> list[float]:
    try:
        return [float(x) for x in _split(text)]
    except ValueError:
        raise ValueError(f"--peak-lr: got {text!r}; accepted: a comma list of numbers, e.g. 1e-3,3e-3") from None


def _parse_set(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items or []:
        k, eq, v = it.partition("=")
        if not eq or not k.strip():
            raise ValueError(f"--set: got {it!r}; accepted: KEY=VALUE (VALUE read as JSON when it parses, else text)")
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def add_arguments(p: Any) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--script", help="Python file defining the train function (default name: train)")
    src.add_argument("--entry", help="importable train function, 'package.module:function'")
    p.add_argument("--function", default=None, help="name of the function in --script (default train)")
    p.add_argument(
        "--warmup", required=True, help="comma list of warmup lengths, e.g. 0,0.5%%,1%%,2%%,5%% or 0,100,500"
    )
    p.add_argument("--seeds", default="3", help="a count (3 = seeds 0,1,2) or a comma list (0,1,7); default 3")
    p.add_argument("--peak-lr", default=None, help="comma list of peak LRs to sweep too (default: the script's own)")
    p.add_argument("--spec", default=DEFAULT_SPEC, help="spec template with {warmup} (default %(default)s)")
    p.add_argument("--total-steps", type=int, default=None, help="run length: resolves %% warmups to steps up front")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed config entry for every trial (repeat)")
    p.add_argument("--metric", default="loss", help="metric the train function returns that decides (default loss)")
    p.add_argument("--mode", choices=("min", "max"), default="min", help="lower or higher is better (default min)")
    p.add_argument("--backend", choices=BACKENDS, default="local", help="local worker processes or Ray Tune")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel trials (default 2; Ray: the cluster's CPUs, 2 for a local instance)",
    )
    p.add_argument(
        "--out", default="sweep-output", help="output folder: sweep.jsonl, summary.json, sweep.png, report.md"
    )
    p.add_argument("--retry-failed", action="store_true", help="rerun trials recorded as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_cli(a: Any) -> int:
    """``rampup sweep``: exit 0 when a warmup could be recommended, 1 when no warmup ran on every seed."""
    workers = a.workers if a.workers is not None else (2 if a.backend == "local" else None)
    os.makedirs(a.out, exist_ok=True)
    train = a.script if a.script is not None else a.entry
    if a.script is not None and a.function:
        train = f"{a.script}:{a.function}"
    results = os.path.join(a.out, "sweep.jsonl")
    try:
        res = _cli_sweep(a, train, workers, results)
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM: the workers are gone, the finished trials are on disk
        from ..pool import interrupted_exit_code

        n = len({r["trial"] for r in load_results(results)})
        print(
            f"rampup sweep: interrupted ({e or 'SIGINT'}); {n} finished trials are in {results}: "
            "run the same command to resume",
            file=sys.stderr,
        )
        return interrupted_exit_code(e)
    return _cli_summary(a, res, train)


def _cli_sweep(a: Any, train: str, workers: int | None, results: str) -> SweepResult:
    return sweep(
        train,
        _split(a.warmup),
        _parse_lrs(a.peak_lr) if a.peak_lr else None,
        _parse_seeds(a.seeds),
        spec=a.spec,
        total_steps=a.total_steps,
        params=_parse_set(a.set),
        metric=a.metric,
        mode=a.mode,
        backend=a.backend,
        workers=workers,
        address=a.address,
        results=results,
        plot=os.path.join(a.out, "sweep.png"),
        retry_failed=a.retry_failed,
        progress=not a.no_progress,
    )


def _cli_summary(a: Any, res: SweepResult, train: str) -> int:
    from ...support.io import atomic_write_text

    summary = os.path.join(a.out, "summary.json")
    res.files["summary"] = summary
    res.files["report"] = os.path.join(a.out, "report.md")
    atomic_write_text(summary, json.dumps(res.to_dict(), indent=2) + "\n")
    atomic_write_text(res.files["report"], report(res, train))
    if a.json:
        print(json.dumps(res.to_dict(), indent=2))
    else:
        print(res.table())
        latest = {r["trial"]: r for r in res.records}  # a retried trial: its last record only
        failed = [r for r in latest.values() if r.get("status") != "ok"]
        for r in failed[:5]:
            print(f"failed: {r.get('name', r['trial'])}: {r.get('error')}")
        print(f"wrote {', '.join(res.files[k] for k in ('results', 'summary', 'plot', 'report'))}")
    return 0 if res.recommended is not None else 1


def report(res: SweepResult, train: str) -> str:
    """The markdown report: the command's table, the verdict and the plot."""
    lines = [
        "# rampup sweep",
        "",
        f"train function: `{train}`; metric: `{res.metric}` ({res.mode}); trials: {len(res.records)}; "
        f"python {platform.python_version()}, {platform.machine()}",
        "",
        f"| warmup | steps | peak LR | {res.metric} mean ± std | n | failed | diverged |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in res.cells:
        ms = mean_pm_std(c.mean, c.std) if c.mean is not None else "—"
        star = " **(recommended)**" if c is res.recommended else ""
        lr = f"{c.peak_lr:g}" if c.peak_lr is not None else "—"
        steps = c.warmup_steps if c.warmup_steps is not None else "—"
        lines.append(f"| {c.warmup}{star} | {steps} | {lr} | {ms} | {len(c.values)} | {c.failed} | {c.diverged} |")
    lines += ["", res.verdict(), "", "![sweep](sweep.png)", ""]
    return "\n".join(lines)
