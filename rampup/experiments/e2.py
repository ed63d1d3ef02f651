"""E2 — warmup lowers the LR sensitivity (the protocol of Wortsman et al. 2023).

Setup: the E1 byte LM in Pre-LN without qk-layernorm, AdamW β = (0.9, 0.95),
ε = 1e-8, gradient clipping at global norm 1.0, 300 steps, cosine to 10 % of
the peak, peak LR on the grid {3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1}.
Weight decay is *independent* of the LR as in the paper: 1e-4 per step at the
peak (torch's AdamW multiplies ``weight_decay`` by the LR, so it gets
``1e-4 / peak_lr``); no z-loss.  Arms: no warmup; the untuned warmup
``untuned_linear(beta2=0.95)`` = 2/(1 − 0.95) = 40 steps; a 75-step warmup.

LR sensitivity (Wortsman et al. §3.1): with ℓ(η) the final validation loss at
peak LR η and ℓ0 the loss at initialization (NaN counted as ℓ0),
``S = mean_η min(ℓ(η), ℓ0) − min_η ℓ(η)``, per seed.

Reference: Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer
training instabilities", arXiv:2309.14322.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .. import parse
from ..support.optional import pyplot
from .auto_runs import auto_gaps, auto_job, auto_report
from .common import Job, cell_code, fmt_ms, header, mean_std, results_head, run_jobs, timed, write_outputs
from .data import load_corpus, reference_levels
from .train import LMConfig

NAME = "e2"
TITLE = "warmup lowers the LR sensitivity (Wortsman et al. 2023 protocol)"
CLAIM = (
    "over a peak-LR grid from 3e-4 to 3e-1, a Pre-LN transformer trained with warmup has a lower LR sensitivity "
    "than without, on every seed (Wortsman et al. 2023, Fig. 8: warmup reduces sensitivity)."
)
GRID = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
QUICK_GRID = (1e-3, 1e-2, 1e-1)
WD_INDEPENDENT = 1e-4


def arms(steps: int = 300) -> list[tuple[str, str, str]]:
    """(name, label, spec) per arm; the 75-step warmup scales with ``steps`` (75 of 300)."""
    d = "cosine(floor=0.1)"
    w = max(1, steps // 4)
    return [
        ("none", "no warmup", d),
        ("untuned_40", "untuned 2/(1−β2) = 40 steps", f"untuned_linear(beta2=0.95) -> {d}"),
        (f"linear_{w}", f"linear warmup {w} steps", f"linear({w}) -> {d}"),
    ]


def config(spec: str, peak_lr: float, steps: int, quick: bool) -> LMConfig:
    return LMConfig(
        spec=spec,
        post_ln=False,
        qk_norm=False,
        steps=steps,
        peak_lr=peak_lr,
        beta2=0.95,
        clip=1.0,
        weight_decay=WD_INDEPENDENT / peak_lr,
        eval_windows=32 if quick else 512,
        eval_every=10**9,
    )


def sensitivity(losses: dict[float, float], l0: float) -> float:
    """``mean_η min(ℓ(η), ℓ0) − min_η ℓ(η)``; a NaN (diverged) ℓ(η) counts as ℓ0.

    >>> sensitivity({1e-3: 3.0, 1e-2: 2.0, 1e-1: float("nan")}, 5.5)
    1.5
    """
    if not losses:
        raise ValueError("losses: got none; accepted: the final loss for each peak LR of the grid")
    v = np.array([l0 if not math.isfinite(x) else min(x, l0) for x in losses.values()])
    return float(v.mean() - v.min())


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E2 and write ``results.json``, ``report.md``, ``loss_vs_lr.png``, ``sensitivity.png``, ``schedules.png``."""
    t0 = time.perf_counter()
    steps = 40 if quick else 300  # the untuned warmup is 40 steps: the quick run must hold it
    grid = QUICK_GRID if quick else GRID
    arm_list = arms(steps)
    jobs = [
        Job("lm", config(spec, lr, steps, quick), seed, name, steps, tags={"peak_lr": lr})
        for seed in range(seeds)
        for name, _, spec in arm_list
        for lr in grid
    ]
    d = dict((n, sp) for n, _, sp in arm_list)["none"]  # the decay alone; AutoWarmup decides the warmup
    auto_jobs = [
        auto_job(config(d, lr, steps, quick), seed, "auto", steps, tags={"peak_lr": lr})
        for seed in range(seeds)
        for lr in grid
    ]
    every = run_jobs(jobs + auto_jobs, workers, desc=f"E2 ({len(jobs) + len(auto_jobs)} runs)", progress=progress)
    runs, auto_runs = every[: len(jobs)], every[len(jobs) :]
    refs = reference_levels()
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "reference_levels": refs,
        "grid": list(grid),
        "arms": [
            {"name": n, "label": lab, "spec": s, "config": config(s, 1e-2, steps, quick).to_dict()}
            for n, lab, s in arm_list
        ],
        "runs": runs,
    }
    results["summary"] = summarize(runs, [n for n, _, _ in arm_list], list(grid), seeds)
    results["outcome"] = outcome(results["summary"], [n for n, _, _ in arm_list])
    results["auto"] = auto_results(auto_runs, runs, [n for n, _, _ in arm_list], list(grid), seeds)
    results["wall_s"] = timed(t0)
    figs = {"loss_vs_lr.png": plot_loss_vs_lr(results), "schedules.png": plot_schedules_used(results)}
    write_outputs(out, results, report(results), figs)
    return results


def summarize(runs: list[dict[str, Any]], names: list[str], grid: list[float], seeds: int) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n in names:
        per_seed, curves, best = [], [], []
        for seed in range(seeds):
            rs = {r["peak_lr"]: r for r in runs if r["arm"] == n and r["seed"] == seed}
            losses = {lr: rs[lr]["final_val_loss"] for lr in grid}
            l0 = rs[grid[0]]["val_loss_init"]  # the same init for every LR of a seed
            per_seed.append(sensitivity(losses, l0))
            curves.append([losses[lr] for lr in grid])
            finite = {lr: v for lr, v in losses.items() if math.isfinite(v)}
            best.append(min(finite, key=lambda k: finite[k]) if finite else math.nan)
        c = np.asarray(curves, dtype=float)
        with np.errstate(all="ignore"):
            mean_curve = [mean_std(c[:, j])[0] for j in range(len(grid))]
        finite_mean = {lr: v for lr, v in zip(grid, mean_curve) if math.isfinite(v)}
        s[n] = {
            "sensitivity": per_seed,
            "sensitivity_mean": mean_std(per_seed)[0],
            "sensitivity_std": mean_std(per_seed)[1],
            "loss_per_lr": curves,  # [seed][lr]; null = diverged
            "loss_per_lr_mean": mean_curve,
            "diverged_per_lr": [int(np.sum(~np.isfinite(c[:, j]))) for j in range(len(grid))],
            "best_lr_per_seed": best,
            "best_lr_of_mean": min(finite_mean, key=lambda k: finite_mean[k]) if finite_mean else math.nan,
            "best_loss_mean": min(finite_mean.values()) if finite_mean else math.nan,
        }
    return s


def auto_results(
    auto_runs: list[dict[str, Any]], runs: list[dict[str, Any]], names: list[str], grid: list[float], seeds: int
) -> dict[str, Any]:
    """The auto arm (AutoWarmup at its defaults, then the cosine) at every peak LR of the grid: its sensitivity,
    and per LR its gap (in %) to the best fixed arm at that LR and to no warmup (a diverged run counts as ℓ0)."""
    s = summarize(auto_runs, ["auto"], grid, seeds)["auto"]

    def loss(rs: list[dict[str, Any]], arm: str, lr: float) -> list[float]:
        sel = sorted((r for r in rs if r["arm"] == arm and r["peak_lr"] == lr), key=lambda r: r["seed"])
        return [r["final_val_loss"] if math.isfinite(r["final_val_loss"]) else r["val_loss_init"] for r in sel]

    arms, gaps, warm = [], {}, {}
    for lr in grid:
        key = f"auto@{lr:g}"
        values = {n: loss(runs, n, lr) for n in names}
        values[key] = loss(auto_runs, "auto", lr)
        arms.append({"name": key, "label": f"auto warmup (default), peak LR {lr:g}", "peak_lr": lr, "method": "update"})
        gaps[key] = auto_gaps(values, key, names, "none", "%")
        warm[key] = [r["warmup_steps"] for r in sorted(auto_runs, key=lambda r: r["seed"]) if r["peak_lr"] == lr]
    return {"arms": arms, "runs": auto_runs, "summary": s, "warmup_steps": warm, "gaps": gaps}


def outcome(summary: dict[str, Any], names: list[str]) -> dict[str, Any]:
    base = summary["none"]["sensitivity"]
    per_arm = {}
    for n in names:
        if n == "none":
            continue
        per_arm[n] = all(w < b for w, b in zip(summary[n]["sensitivity"], base))
    return {
        "criterion": "LR sensitivity with warmup < without, on every seed (each warmup arm against no warmup)",
        "lower_on_every_seed": per_arm,
        "reproduced": bool(all(per_arm.values())),
    }


def report(results: dict[str, Any]) -> str:
    grid = results["grid"]
    lines = header(results)
    lines += [
        "| arm | spec (rampup) | LR sensitivity | best peak LR (of the mean) | best loss | "
        + " | ".join(f"ℓ({lr:g})" for lr in grid)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(grid),
    ]
    for a in results["arms"]:
        s = results["summary"][a["name"]]
        cells = []
        for j in range(len(grid)):
            col = [row[j] for row in s["loss_per_lr"]]
            cells.append(fmt_ms(col, 2))
        lines.append(
            f"| {a['label']} | {cell_code(a['spec'])} | {fmt_ms(s['sensitivity'])} | {s['best_lr_of_mean']:g} | "
            f"{s['best_loss_mean']:.3f} | " + " | ".join(cells) + " |"
        )
    o = results["outcome"]
    refs = results["reference_levels"]
    per_seed = "; ".join(
        f"{a['label']}: " + ", ".join(f"{v:.3f}" for v in results["summary"][a["name"]]["sensitivity"])
        for a in results["arms"]
    )
    lines += [
        "",
        f"ℓ(η) = final validation loss (nats/byte), mean ± std over seeds; a diverged run (NaN) counts as ℓ0 in the "
        f"sensitivity. Reference levels: unigram {refs['unigram']:.2f}, bigram {refs['bigram']:.2f}, "
        f"ln 256 = {refs['uniform']:.2f}.",
        "",
        f"Sensitivity per seed: {per_seed}.",
        "",
        f"**Outcome**: {'reproduced' if o['reproduced'] else 'NOT reproduced'} — lower on every seed: "
        + ", ".join(f"{k}: {v}" for k, v in o["lower_on_every_seed"].items())
        + f" ({o['criterion']}).",
        "",
        *auto_report(
            results["auto"],
            "Gaps of the final val loss in % at each peak LR (a diverged run counts as its loss at init); *best "
            f"fixed* = the fixed arm (none, untuned, linear) with the lowest seed mean at that LR. Auto's LR "
            f"sensitivity: {fmt_ms(results['auto']['summary']['sensitivity'])} (the fixed arms: table above).",
        ),
        "![loss vs LR](loss_vs_lr.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot_loss_vs_lr(results: dict[str, Any]) -> Any:
    """Final loss vs peak LR (log x) per arm with ℓ0/unigram/bigram lines, and the sensitivity beside it."""
    plt = pyplot()
    refs = results["reference_levels"]
    grid = np.asarray(results["grid"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, gridspec_kw={"width_ratios": [2.2, 1]})
    l0s = [r["val_loss_init"] for r in results["runs"]]
    l0 = float(np.mean(l0s))
    for i, a in enumerate(results["arms"]):
        s = results["summary"][a["name"]]
        c = np.asarray(s["loss_per_lr"], dtype=float)
        shown = np.where(np.isfinite(c), np.minimum(c, l0), l0)  # what the sensitivity counts
        m, sd = shown.mean(axis=0), shown.std(axis=0, ddof=1) if shown.shape[0] > 1 else np.zeros(grid.size)
        (line,) = ax.plot(grid, m, "o-", lw=1.5, ms=4, label=f"{a['label']} (S = {s['sensitivity_mean']:.3f})")
        ax.fill_between(grid, m - sd, m + sd, color=line.get_color(), alpha=0.15)
        bad = np.asarray(s["diverged_per_lr"]) > 0
        if bad.any():
            ax.plot(grid[bad], m[bad], "x", color=line.get_color(), ms=8)
        sens = np.asarray(s["sensitivity"], dtype=float)
        bx.bar(i, sens.mean(), color=line.get_color(), alpha=0.7)
        bx.plot(np.full(sens.size, i), sens, "k.", ms=5)
    for name, val, ls in (("ℓ0 (init)", l0, "-"), ("unigram", refs["unigram"], "--"), ("bigram", refs["bigram"], ":")):
        ax.axhline(val, color="gray", lw=0.8, ls=ls)
        ax.text(grid[0], val, f" {name} {val:.2f}", fontsize=7, color="gray", va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("peak learning rate")
    ax.set_ylabel("final validation loss (nats/byte), min(ℓ, ℓ0)")
    ax.set_title("E2: loss vs peak LR (mean ± std over seeds; × = a seed diverged)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    bx.set_xticks(range(len(results["arms"])), [a["label"] for a in results["arms"]], fontsize=6, rotation=15)
    bx.set_ylabel("LR sensitivity (nats)")
    bx.set_title("sensitivity (bar = mean, dots = seeds)", fontsize=9)
    bx.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    from ..tools.plot import plot_schedules

    total = results["arms"][0]["config"]["steps"]
    scheds = [parse(a["spec"], total_steps=total) for a in results["arms"]]
    return plot_schedules(
        scheds,
        [f"{a['label']}: {a['spec']}" for a in results["arms"]],
        total,
        title=f"E2 schedules as multiples of the peak LR ({total} steps)",
    )
