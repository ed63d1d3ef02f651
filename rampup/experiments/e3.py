"""E3 — large-batch SGD needs a *gradual* warmup (Goyal et al. 2017).

Setup: scikit-learn's bundled 8×8 digits, stratified 70/30 split; the
:class:`~rampup.experiments.models.TinyResNet` (BatchNorm, γ = 0 on the last BN
of each residual block); SGD with Nesterov momentum 0.9, weight decay 1e-4 not
on BN parameters or biases; the linear scaling rule from batch 32 at LR 0.2 to
batch 512 at LR 3.2; 30 epochs; LR ÷ 10 at 1/3, 2/3 and 8/9 of training.
Arms at batch 512: no warmup; *constant* warmup (5 epochs at the small-batch
LR 0.2, then the jump to 3.2); *gradual* warmup (linear from 0.2 to 3.2 over 5
epochs).  Baseline: batch 32 at LR 0.2, no warmup.  Every epoch uses
``n_train // batch`` full batches (the last partial batch is dropped).

Reference: Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet
in 1 Hour", arXiv:1706.02677 (§2.2, Fig. 2 and Table 1).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from .. import parse
from ..support.optional import pyplot
from .auto_runs import auto_gaps, auto_job, auto_report
from .common import (
    Job,
    cell_code,
    fmt_ms,
    header,
    mean_std,
    results_head,
    run_jobs,
    smooth,
    timed,
    write_outputs,
)
from .data import load_digits
from .train import DigitsConfig

NAME = "e3"
TITLE = "large-batch SGD needs a gradual warmup (Goyal et al. 2017)"
CLAIM = (
    "at batch 512 with the linear scaling rule (LR 3.2), the test error orders as constant warmup > no warmup > "
    "gradual warmup, and the gradual warmup comes closest to the batch-32 baseline (Goyal et al. 2017, Table 1)."
)


def arms(epochs: int = 30, warmup_epochs: float = 5.0) -> list[tuple[str, str, DigitsConfig]]:
    large = DigitsConfig(batch=512, epochs=epochs, warmup_epochs=warmup_epochs)
    return [
        ("baseline", "batch 32, LR 0.2, no warmup", replace(large, batch=32, warmup="none")),
        ("none", "batch 512, LR 3.2, no warmup", replace(large, warmup="none")),
        ("constant", f"batch 512, constant warmup {warmup_epochs:g} ep at LR 0.2", replace(large, warmup="constant")),
        ("gradual", f"batch 512, gradual warmup {warmup_epochs:g} ep from LR 0.2", replace(large, warmup="gradual")),
    ]


def steps_of(cfg: DigitsConfig) -> int:
    return cfg.epochs * (load_digits().y_train.size // cfg.batch)


def post_warmup_spike(run: dict[str, Any]) -> dict[str, float]:
    """The loss right after the warmup ends: max over the next epoch / mean over the warmup's last epoch."""
    w, spe = run["warmup_steps"], run["steps_per_epoch"]
    loss = np.asarray(run["train_loss"], dtype=float)
    if w == 0 or w >= loss.size:
        return {"before": float("nan"), "after_max": float("nan"), "ratio": float("nan")}
    before = float(np.mean(loss[max(0, w - spe) : w]))
    after = float(np.max(loss[w : w + spe]))
    return {"before": before, "after_max": after, "ratio": after / before}


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E3 and write ``results.json``, ``report.md``, ``error.png``, ``loss_curves.png``, ``schedules.png``."""
    t0 = time.perf_counter()
    arm_list = arms(3, 1.0) if quick else arms()
    jobs = [Job("digits", cfg, seed, name, steps_of(cfg)) for seed in range(seeds) for name, _, cfg in arm_list]
    none_cfg = dict((n, c) for n, _, c in arm_list)["none"]  # batch 512, LR 3.2: the decay alone
    auto_jobs = [auto_job(none_cfg, seed, "auto", steps_of(none_cfg)) for seed in range(seeds)]
    every = run_jobs(jobs + auto_jobs, workers, desc=f"E3 ({len(jobs) + len(auto_jobs)} runs)", progress=progress)
    runs, auto_runs = every[: len(jobs)], every[len(jobs) :]
    for r in every:
        r["post_warmup"] = post_warmup_spike(r)
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "data": load_digits().info(),
        "arms": [{"name": n, "label": lab, "spec": _spec(runs, n), "config": c.to_dict()} for n, lab, c in arm_list],
        "runs": runs,
    }
    results["summary"] = summarize(runs, [n for n, _, _ in arm_list])
    results["outcome"] = outcome(results["summary"])
    results["auto"] = auto_results(auto_runs, results["summary"])
    results["wall_s"] = timed(t0)
    figs = {
        "error.png": plot_error(results),
        "loss_curves.png": plot_curves(results),
        "schedules.png": plot_schedules_used(results),
    }
    write_outputs(out, results, report(results), figs)
    return results


def _spec(runs: list[dict[str, Any]], arm: str) -> str:
    return str(next(r["spec"] for r in runs if r["arm"] == arm))


def summarize(runs: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n in names:
        rs = [r for r in runs if r["arm"] == n]
        err = [r["final_test_error"] for r in rs]
        m, sd, _ = mean_std(err)
        ratios = [r["post_warmup"]["ratio"] for r in rs]
        s[n] = {
            "test_error": err,
            "test_error_mean": m,
            "test_error_std": sd,
            "diverged": sum(r["diverged"] for r in rs),
            "post_warmup_ratio": ratios,
            "post_warmup_ratio_mean": mean_std(ratios)[0],
        }
    return s


AUTO_FIXED = ["none", "constant", "gradual"]  # the batch-512 arms; the batch-32 baseline is not a warmup of this run


def auto_results(auto_runs: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """The auto arm (AutoWarmup at its defaults, then the multistep decay, batch 512): runs, summary, gaps in points."""
    s = summarize(auto_runs, ["auto"])
    values = {**{n: v["test_error"] for n, v in summary.items()}, "auto": s["auto"]["test_error"]}
    return {
        "arms": [{"name": "auto", "label": "batch 512, LR 3.2, auto warmup (default)", "method": "update"}],
        "runs": auto_runs,
        "summary": s,
        "warmup_steps": {"auto": [r["warmup_steps"] for r in auto_runs]},
        "gaps": {"auto": auto_gaps(values, "auto", AUTO_FIXED, "none", "pt")},
    }


def outcome(summary: dict[str, Any]) -> dict[str, Any]:
    m = {k: v["test_error_mean"] for k, v in summary.items()}
    ok = bool(m["constant"] > m["none"] > m["gradual"])
    return {
        "criterion": "mean test error: constant > none > gradual (batch 512)",
        "reproduced": ok,
        "order": sorted(m, key=lambda k: -m[k]),
    }


def report(results: dict[str, Any]) -> str:
    lines = header(results)
    d = results["data"]
    lines.insert(-1, f"- data: {d['source']}; {d['n_train']} train / {d['n_test']} test images")
    lines += [
        "| arm | spec (rampup; steps) | peak LR | test error | loss after warmup / before |",
        "|---|---|---|---|---|",
    ]
    for a in results["arms"]:
        s = results["summary"][a["name"]]
        ratio = s["post_warmup_ratio"]
        rtxt = fmt_ms(ratio, 2) + "×" if np.isfinite(np.asarray(ratio, dtype=float)).any() else "—"
        lines.append(
            f"| {a['label']} | {cell_code(a['spec'])} | {a['config']['peak_lr']:g} | {fmt_ms(s['test_error'], 1, 100, '%')} | "
            f"{rtxt} |"
        )
    o = results["outcome"]
    lines += [
        "",
        "test error after the last epoch, mean ± std over seeds. *loss after warmup / before* = the largest training "
        "loss in the epoch after the warmup ends over the mean loss of the warmup's last epoch (> 1: a spike).",
        "",
        f"**Outcome**: order (highest error first) {' > '.join(o['order'])} → "
        f"{'reproduced' if o['reproduced'] else 'NOT reproduced'} ({o['criterion']}).",
        "",
        *auto_report(
            results["auto"],
            "Gaps of the final test error in percentage points; *best fixed* = the batch-512 arm (none, constant "
            "or gradual warmup) with the lowest seed mean.",
        ),
        "![test error](error.png)",
        "",
        "![loss curves](loss_curves.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot_error(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for i, a in enumerate(results["arms"]):
        e = 100 * np.asarray(results["summary"][a["name"]]["test_error"], dtype=float)
        ax.bar(i, e.mean(), color=f"C{i}", alpha=0.7)
        ax.plot(np.full(e.size, i), e, "k.", ms=6)
    ax.set_xticks(range(len(results["arms"])), [a["label"].replace(", ", "\n") for a in results["arms"]], fontsize=7)
    ax.set_ylabel("test error (%)")
    ax.set_title("E3: digits test error (bar = mean, dots = seeds)", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_curves(results: dict[str, Any]) -> Any:
    """Training loss of the batch-512 arms per step (seed 0), with the LR on a second axis."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    lx = ax.twinx()
    for i, a in enumerate(results["arms"]):
        if a["name"] == "baseline":
            continue
        r = next(r for r in results["runs"] if r["arm"] == a["name"])
        ax.plot(smooth(r["train_loss"], 2), color=f"C{i}", lw=1.4, label=a["label"])
        lx.plot(r["lr"], color=f"C{i}", lw=0.8, ls=":")
        if r["warmup_steps"]:
            ax.axvline(r["warmup_steps"] - 0.5, color=f"C{i}", lw=0.6, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step (batch 512)")
    ax.set_ylabel("training loss (2-step average, log)")
    lx.set_ylabel("learning rate (dotted)")
    ax.set_title("E3: batch-512 training loss, seed 0 (dashed: end of warmup)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    from ..tools.plot import plot_schedules

    arms_ = [a for a in results["arms"] if a["name"] != "baseline"]
    r0 = next(r for r in results["runs"] if r["arm"] == arms_[0]["name"])
    total = r0["total_steps"]
    scheds = [parse(a["spec"], total_steps=total, peak_lr=a["config"]["peak_lr"]) for a in arms_]
    return plot_schedules(
        scheds, [f"{a['label']}: {a['spec']}" for a in arms_], total, title=f"E3 schedules at batch 512 ({total} steps)"
    )
