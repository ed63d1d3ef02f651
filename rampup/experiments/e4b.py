"""E4b — a larger batch needs a longer warmup.

The E3 setup (digits, TinyResNet, SGD Nesterov, linear scaling rule from batch
32 at LR 0.2, 30 epochs, LR ÷ 10 at 1/3, 2/3, 8/9) at batch 64, 128, 256 and
512, each with a gradual (linear) warmup from the small-batch LR of 0, 1, 2, 5
and 10 epochs.  For each batch size: the shortest warmup whose mean test error
*matches* the batch-32 baseline, i.e. is at most ``MATCH_TOL`` (1 percentage
point) above it.

Reference: Goyal et al. 2017, arXiv:1706.02677 (§2.2, §5.2: the gradual warmup
that suffices at batch 8k fails beyond it).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from typing import Any

from ..support.optional import pyplot
from .auto_runs import auto_gaps, auto_job, auto_report
from .common import Job, fmt_ms, header, mean_std, results_head, run_jobs, timed, write_outputs
from .data import load_digits
from .e3 import steps_of
from .train import DigitsConfig

NAME = "e4b"
TITLE = "a larger batch needs a longer warmup (digits, linear scaling rule)"
CLAIM = "the shortest gradual warmup that matches the small-batch baseline grows with the batch size."
BATCHES = (64, 128, 256, 512)
WARMUP_EPOCHS = (0, 1, 2, 5, 10)
MATCH_TOL = 0.01


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E4b and write ``results.json``, ``report.md``, ``grid.png``."""
    t0 = time.perf_counter()
    epochs = 3 if quick else 30
    batches = (64, 512) if quick else BATCHES
    warmups = (0, 1) if quick else WARMUP_EPOCHS
    base = DigitsConfig(epochs=epochs, warmup="gradual")
    cells: list[tuple[str, int, float, DigitsConfig]] = [("baseline", 32, 0, replace(base, batch=32, warmup="none"))]
    for b in batches:
        for w in warmups:
            cfg = replace(base, batch=b, warmup_epochs=float(w), warmup="gradual" if w else "none")
            cells.append((f"b{b}_w{w}", b, w, cfg))
    jobs = [
        Job("digits", c, seed, n, steps_of(c), tags={"batch": b, "warmup_epochs": w})
        for seed in range(seeds)
        for n, b, w, c in cells
    ]
    nones = {b: c for _, b, w, c in cells if w == 0 and b != 32}  # per batch: the decay alone
    auto_jobs = [
        auto_job(c, seed, f"b{b}_auto", steps_of(c), tags={"batch": b})
        for seed in range(seeds)
        for b, c in nones.items()
    ]
    every = run_jobs(jobs + auto_jobs, workers, desc=f"E4b ({len(jobs) + len(auto_jobs)} runs)", progress=progress)
    runs, auto_runs = every[: len(jobs)], every[len(jobs) :]
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "data": load_digits().info(),
        "batches": list(batches),
        "warmup_epochs": list(warmups),
        "match_tolerance": MATCH_TOL,
        "arms": [
            {
                "name": n,
                "batch": b,
                "warmup_epochs": w,
                "spec": next(r["spec"] for r in runs if r["arm"] == n),
                "config": c.to_dict(),
            }
            for n, b, w, c in cells
        ],
        "runs": [{k: v for k, v in r.items() if k not in ("train_loss", "lr")} for r in runs],
    }
    results["summary"] = summarize(runs, cells, list(batches), list(warmups))
    results["outcome"] = outcome(results["summary"], list(batches))
    results["auto"] = auto_results(auto_runs, results["summary"], list(batches), list(warmups))
    results["wall_s"] = timed(t0)
    write_outputs(out, results, report(results), {"grid.png": plot_grid(results)})
    return results


def summarize(runs: list[dict[str, Any]], cells: list[Any], batches: list[int], warmups: list[int]) -> dict[str, Any]:
    err = {n: [r["final_test_error"] for r in runs if r["arm"] == n] for n, _, _, _ in cells}
    base = mean_std(err["baseline"])[0]
    shortest: dict[str, float | None] = {}
    for b in batches:
        ok = [w for w in warmups if mean_std(err[f"b{b}_w{w}"])[0] <= base + MATCH_TOL]
        shortest[str(b)] = float(min(ok)) if ok else None
    return {
        "baseline_error_mean": base,
        "test_error": err,
        "test_error_mean": {n: mean_std(v)[0] for n, v in err.items()},
        "shortest_matching_warmup_epochs": shortest,  # None = no warmup of the grid matched
    }


def auto_results(
    auto_runs: list[dict[str, Any]], summary: dict[str, Any], batches: list[int], warmups: list[int]
) -> dict[str, Any]:
    """The auto arm per batch (AutoWarmup at its defaults, then the multistep decay): test error and its gap (in
    points) to the best warmup length of that batch's row and to no warmup."""
    err = {n: v for n, v in summary["test_error"].items()}
    arms, gaps, warm = [], {}, {}
    for b in batches:
        name = f"b{b}_auto"
        rs = sorted((r for r in auto_runs if r["arm"] == name), key=lambda r: r["seed"])
        err[name] = [r["final_test_error"] for r in rs]
        arms.append({"name": name, "label": f"batch {b}, auto warmup (default)", "batch": b, "method": "update"})
        gaps[name] = auto_gaps(err, name, [f"b{b}_w{w}" for w in warmups], f"b{b}_w0", "pt")
        warm[name] = [r["warmup_steps"] for r in rs]
    return {
        "arms": arms,
        "runs": [{k: v for k, v in r.items() if k not in ("train_loss", "lr")} for r in auto_runs],
        "test_error": {a["name"]: err[a["name"]] for a in arms},
        "warmup_steps": warm,
        "gaps": gaps,
    }


def outcome(summary: dict[str, Any], batches: list[int]) -> dict[str, Any]:
    w = [_inf(summary["shortest_matching_warmup_epochs"][str(b)]) for b in batches]
    nondecreasing = all(a <= b for a, b in itertools.pairwise(w))
    return {
        "criterion": "the shortest matching warmup is non-decreasing in the batch size and longer for the largest "
        "batch than for the smallest",
        "shortest_by_batch": {str(b): summary["shortest_matching_warmup_epochs"][str(b)] for b in batches},
        "reproduced": bool(nondecreasing and w[-1] > w[0]),
    }


def _inf(x: float | None) -> float:
    return math.inf if x is None else x


def _w(x: float | None) -> str:
    return "none of the grid" if x is None else f"{x:g} ep"


def report(results: dict[str, Any]) -> str:
    s = results["summary"]
    lines = header(results)
    lines.insert(-1, f"- data: {results['data']['source']}")
    ws = results["warmup_epochs"]
    lines += [
        f"Baseline (batch 32, LR 0.2, no warmup): test error {fmt_ms(s['test_error']['baseline'], 1, 100, '%')}.",
        "",
        "| batch (peak LR) | " + " | ".join(f"warmup {w} ep" for w in ws) + " | shortest matching warmup |",
        "|---|" + "---|" * len(ws) + "---|",
    ]
    for b in results["batches"]:
        cells = [fmt_ms(s["test_error"][f"b{b}_w{w}"], 1, 100, "%") for w in ws]
        lines.append(
            f"| {b} ({0.2 * b / 32:g}) | "
            + " | ".join(cells)
            + f" | {_w(s['shortest_matching_warmup_epochs'][str(b)])} |"
        )
    o = results["outcome"]
    lines += [
        "",
        f"Test error, mean ± std over seeds. *Matching* = mean error at most {100 * MATCH_TOL:g} percentage point above "
        "the baseline's mean. Specs: `linear(W, start=32/batch) -> multistep(...)` in steps, see results.json.",
        "",
        "**Outcome**: shortest matching warmup by batch: "
        + ", ".join(f"{b}: {_w(v)}" for b, v in o["shortest_by_batch"].items())
        + f" → {'reproduced' if o['reproduced'] else 'NOT reproduced'} ({o['criterion']}).",
        "",
        *auto_report(
            results["auto"],
            "Gaps of the final test error in percentage points; *best fixed* = the gradual warmup length of the "
            "same batch's row (0 = none) with the lowest seed mean.",
        ),
        "![grid](grid.png)",
        "",
    ]
    return "\n".join(lines)


def plot_grid(results: dict[str, Any]) -> Any:
    plt = pyplot()
    s = results["summary"]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ws = results["warmup_epochs"]
    for i, b in enumerate(results["batches"]):
        m = [100 * s["test_error_mean"][f"b{b}_w{w}"] for w in ws]
        ax.plot(range(len(ws)), m, "o-", color=f"C{i}", label=f"batch {b}")
    base = 100 * s["baseline_error_mean"]
    low = 0.5 * min([base, *(100 * v for v in s["test_error_mean"].values() if v is not None and v > 0)])
    ax.axhline(base, color="k", lw=0.8, label=f"batch 32 baseline {base:.1f}%")
    ax.axhspan(
        low, base + 100 * MATCH_TOL, color="green", alpha=0.08, label=f"matches (≤ baseline + {100 * MATCH_TOL:g} pt)"
    )
    ax.set_ylim(bottom=low)
    ax.set_xticks(range(len(ws)), [f"{w}" for w in ws])
    ax.set_xlabel("gradual warmup length (epochs)")
    ax.set_ylabel("test error (%), mean over seeds")
    ax.set_yscale("log")
    ax.set_title("E4b: test error vs warmup length per batch size", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    fig.tight_layout()
    return fig
