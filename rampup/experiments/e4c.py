"""E4c — Adam's adaptive learning rate is high-variance in the first steps (Liu et al. 2020).

Setup: the E1 Post-LN run (AdamW (0.9, 0.98), peak 1e-2, schedule over 400
steps), the first 200 updates, with the 100-step warmup and without.  After
every update, for a fixed random sample of 4,096 parameter coordinates (the
same for all runs), the effective per-parameter step
``ψ_t = η_t / (sqrt(v̂_t) + ε)`` with ``v̂_t = v_t / (1 − β2^t)`` (η_t the LR
of that update).  Across replicates, per coordinate: the standard deviation of
ψ_t (*spread*, in LR units) and of ``1 / (sqrt(v̂_t) + ε)`` relative to its mean
(*relative spread*, std/mean, independent of η_t); the median over the
coordinates is reported per step.

Two sources of variation, measured apart: ``data`` — the replicates share the
initialization (model seed 0) and differ in the data order (the sampling noise
of the few gradients v̂ has averaged, Liu et al.'s setting); ``init`` — they
share the data order and differ in the initialization (the project's usual
seed).  Both arms of a replicate see the same data and the same init.

Reference: Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and
Beyond", arXiv:1908.03265 (§3, Fig. 3).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..support.optional import pyplot
from .auto_runs import auto_gaps, auto_job, auto_report
from .common import Job, cell_code, header, results_head, run_jobs, timed, write_outputs
from .data import load_corpus
from .train import LMConfig

NAME = "e4c"
TITLE = "Adam's adaptive LR is high-variance in the first steps; warmup damps the spread of its effective step"
CLAIM = (
    "the relative spread of Adam's adaptive LR 1/sqrt(v̂_t) across seeds is largest in the first steps, and a "
    "warmup keeps the spread of the effective step η_t/sqrt(v̂_t) small exactly then (Liu et al. 2020)."
)
N_COORDS = 4096
WINDOWS = ((0, 10), (10, 50), (50, 100), (100, 200))


VARIANTS = (
    ("data", "replicates differ in data order (init fixed)"),
    ("init", "replicates differ in initialization (data fixed)"),
)


def run(out: str, seeds: int = 5, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E4c (``seeds`` replicates per variant and arm) and write ``results.json``, ``report.md``, ``spread.png``."""
    if seeds < 2:
        raise ValueError(f"seeds: got {seeds}; accepted: >= 2 (E4c measures a spread across seeds)")
    t0 = time.perf_counter()
    total, steps = (40, 20) if quick else (400, 200)
    w = total // 4
    base = LMConfig(
        steps=steps, total_steps=total, record_adam=N_COORDS, eval_windows=32 if quick else 512, eval_every=10**9
    )
    arm_list = [
        ("warmup", f"linear warmup {w}", replace(base, spec=f"linear({w}) -> cosine(floor=0.1)")),
        ("none", "no warmup", replace(base, spec="cosine(floor=0.1)")),
    ]
    jobs = []
    for variant, _ in VARIANTS:
        for k in range(seeds):
            for n, _, c in arm_list:
                model_seed, data_seed = (0, 1234 + k) if variant == "data" else (k, 1234)
                cfg = replace(c, data_seed=data_seed)
                jobs.append(Job("lm", cfg, model_seed, n, steps, tags={"variant": variant, "replicate": k}))
    none_cfg = dict((n, c) for n, _, c in arm_list)["none"]  # the decay alone; AutoWarmup decides the warmup
    auto_jobs = []
    for variant, _ in VARIANTS:
        for k in range(seeds):
            model_seed, data_seed = (0, 1234 + k) if variant == "data" else (k, 1234)
            cfg = replace(none_cfg, data_seed=data_seed)
            auto_jobs.append(auto_job(cfg, model_seed, "auto", steps, tags={"variant": variant, "replicate": k}))
    every = run_jobs(jobs + auto_jobs, workers, desc=f"E4c ({len(jobs) + len(auto_jobs)} runs)", progress=progress)
    runs, auto_runs = every[: len(jobs)], every[len(jobs) :]
    per_step = {}
    for variant, _ in VARIANTS:
        for n, _, _ in arm_list:
            rs = [r for r in runs if r["arm"] == n and r["variant"] == variant]
            per_step[f"{variant}/{n}"] = spread([r["adam_psi"] for r in rs], [r["lr"] for r in rs])
    windows = [(a, min(b, steps)) for a, b in WINDOWS if a < steps]
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "n_coordinates": N_COORDS,
        "variants": dict(VARIANTS),
        "arms": [{"name": n, "label": lab, "spec": c.spec, "config": c.to_dict()} for n, lab, c in arm_list],
        "runs": [{k: v for k, v in r.items() if k != "adam_psi"} for r in runs],
        "per_step": per_step,
    }
    results["summary"] = summarize(per_step, windows)
    results["outcome"] = outcome(results["summary"], windows)
    results["auto"] = auto_results(auto_runs, runs)
    results["wall_s"] = timed(t0)
    write_outputs(out, results, report(results), {"spread.png": plot_spread(results)})
    return results


def spread(psis: list[np.ndarray], lrs: list[list[float]]) -> dict[str, list[float]]:
    """Per step, the median over coordinates of the across-seed std of ψ, of mean ψ, and of the CV of ψ/η.

    ``psis[k]`` is seed k's array (steps, coords).  A run that diverged early is
    cut to the shortest length.
    """
    n = min(p.shape[0] for p in psis)
    a = np.stack([p[:n] for p in psis]).astype(np.float64)  # (seeds, steps, coords)
    eta = np.asarray([lr[:n] for lr in lrs], dtype=np.float64)[:, :, None]
    inv = a / eta  # 1 / (sqrt(v̂) + ε): the adaptive part alone
    std_psi = np.median(a.std(axis=0, ddof=1), axis=1)
    mean_psi = np.median(a.mean(axis=0), axis=1)
    cv = np.median(inv.std(axis=0, ddof=1) / inv.mean(axis=0), axis=1)
    return {"spread": std_psi.tolist(), "mean": mean_psi.tolist(), "relative_spread": cv.tolist()}


def summarize(per_step: dict[str, Any], windows: list[tuple[int, int]]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n, d in per_step.items():
        s[n] = {
            f"{a}-{b}": {
                "spread": float(np.mean(d["spread"][a:b])),
                "relative_spread": float(np.mean(d["relative_spread"][a:b])),
            }
            for a, b in windows
        }
    return s


def outcome(summary: dict[str, Any], windows: list[tuple[int, int]]) -> dict[str, Any]:
    first, last = f"{windows[0][0]}-{windows[0][1]}", f"{windows[-1][0]}-{windows[-1][1]}"
    none, warm = summary["data/none"], summary["data/warmup"]
    early_high = none[first]["relative_spread"] > none[last]["relative_spread"]
    damped = warm[first]["spread"] < none[first]["spread"]
    return {
        "criterion": f"data-order replicates, no warmup: relative spread of 1/sqrt(v̂) in steps {first} > in steps "
        f"{last}; and the spread of the effective step in steps {first} is smaller with warmup than without",
        "relative_spread_early_over_late": none[first]["relative_spread"] / none[last]["relative_spread"],
        "relative_spread_early_gt_late": bool(early_high),
        "warmup_damps_early_spread": bool(damped),
        "spread_ratio_none_over_warmup_first_window": none[first]["spread"] / warm[first]["spread"],
        "reproduced": bool(early_high and damped),
    }


def auto_results(auto_runs: list[dict[str, Any]], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The auto arm (AutoWarmup at its defaults, then the cosine) per variant: final val loss (after the first
    half of the 400-step schedule) and its gap (in %) to the better of warmup/none and to none, per replicate."""

    def finals(rs: list[dict[str, Any]], arm: str, variant: str) -> list[float]:
        sel = sorted((r for r in rs if r["arm"] == arm and r["variant"] == variant), key=lambda r: r["replicate"])
        return [r["final_val_loss"] for r in sel]

    arms, gaps, warm, summary = [], {}, {}, {}
    for variant, text in VARIANTS:
        name = f"auto_{variant}"
        values = {n: finals(runs, n, variant) for n in ("warmup", "none")}
        values[name] = finals(auto_runs, "auto", variant)
        arms.append({"name": name, "label": f"auto warmup (default), {text}", "method": "update"})
        gaps[name] = auto_gaps(values, name, ["warmup", "none"], "none", "%")
        warm[name] = [
            r["warmup_steps"] for r in sorted(auto_runs, key=lambda r: r["replicate"]) if r["variant"] == variant
        ]
        summary[name] = {n: v for n, v in values.items()}
    return {
        "arms": arms,
        "runs": [{k: v for k, v in r.items() if k != "adam_psi"} for r in auto_runs],
        "final_val_loss": summary,
        "warmup_steps": warm,
        "gaps": gaps,
    }


def report(results: dict[str, Any]) -> str:
    lines = header(results)
    s = results["summary"]
    wins = list(next(iter(s.values())))
    labels = {a["name"]: a for a in results["arms"]}
    lines += [
        "| replicates differ in | arm | spec (rampup) | "
        + " | ".join(f"spread ψ, steps {w}" for w in wins)
        + " | "
        + " | ".join(f"rel. spread, steps {w}" for w in wins)
        + " |",
        "|---|---|---|" + "---|" * (2 * len(wins)),
    ]
    for key, d in s.items():
        variant, arm = key.split("/")
        a = labels[arm]
        lines.append(
            f"| {variant} | {a['label']} | {cell_code(a['spec'])} | "
            + " | ".join(f"{d[w]['spread']:.3g}" for w in wins)
            + " | "
            + " | ".join(f"{d[w]['relative_spread']:.3f}" for w in wins)
            + " |"
        )
    o = results["outcome"]
    lines += [
        "",
        "*spread ψ*: across-replicate standard deviation of the effective step ψ = η_t/(sqrt(v̂_t)+ε), median over "
        f"{results['n_coordinates']} coordinates, mean over the updates of the window (updates counted from 0). "
        "*rel. spread*: the same for 1/(sqrt(v̂_t)+ε) as std/mean (independent of the LR). *data*: same init, "
        "different data order; *init*: same data order, different init.",
        "",
        f"**Outcome**: data-order replicates without warmup: relative spread early / late = "
        f"{o['relative_spread_early_over_late']:.2f} (early > late: {o['relative_spread_early_gt_late']}); warmup "
        f"damps the early spread of ψ: {o['warmup_damps_early_spread']} "
        f"(×{o['spread_ratio_none_over_warmup_first_window']:.1f} smaller) → "
        f"{'reproduced' if o['reproduced'] else 'NOT reproduced'}.",
        "",
        *auto_report(
            results["auto"],
            "Gaps of the final val loss (after 200 of the 400 scheduled steps) in %, per replicate; *best fixed* = "
            "the better of the linear warmup and no warmup on the replicate mean, for the same variant.",
        ),
        "![spread](spread.png)",
        "",
    ]
    return "\n".join(lines)


def plot_spread(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    color = {a["name"]: f"C{i}" for i, a in enumerate(results["arms"])}
    label = {a["name"]: a["label"] for a in results["arms"]}
    for key, d in results["per_step"].items():
        variant, arm = key.split("/")
        ls = "-" if variant == "data" else "--"
        t = np.arange(len(d["spread"]))
        ax.plot(t, d["spread"], color=color[arm], lw=1.2, ls=ls, label=f"{label[arm]}, {variant}")
        bx.plot(t, d["relative_spread"], color=color[arm], lw=1.2, ls=ls, label=f"{label[arm]}, {variant}")
    ax.set_yscale("log")
    ax.set_ylabel("std of ψ = η/(sqrt(v̂)+ε) across replicates")
    ax.set_title("E4c: spread of Adam's effective step (median over coordinates)", fontsize=9)
    bx.set_ylabel("std/mean of 1/(sqrt(v̂)+ε) across replicates")
    bx.set_title("E4c: relative spread of the adaptive LR (solid: data order, dashed: init)", fontsize=9)
    for x in (ax, bx):
        x.set_xlabel("update t (0 = first)")
        x.grid(alpha=0.3)
        x.legend(fontsize=7)
    fig.tight_layout()
    return fig
