"""E4a — how short may a warmup be?  Loss spikes and final loss against the warmup fraction.

Setup: the E1 Post-LN run (AdamW (0.9, 0.98), peak LR 1e-2, 400 steps, cosine
to 10 %), with a linear warmup of 0, 0.25, 0.5, 1, 2.5, 5, 10 and 25 % of the
run (0, 1, 2, 4, 10, 20, 40, 100 steps).

A *spike* is an update whose training loss exceeds ``SPIKE_RATIO`` (1.5) times
the median of the ``SPIKE_WINDOW`` (20) losses before it, counted from step 20
on.  The claim under test (the seed's practical advice): warmups shorter than
0.5 % of training produce loss spikes while 1–5 % do not.
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
from .data import load_corpus, reference_levels
from .train import LMConfig

NAME = "e4a"
TITLE = "warmup length sweep: loss spikes and final loss vs the warmup fraction (Post-LN)"
CLAIM = "a warmup shorter than 0.5 % of training produces loss spikes, while 1–5 % does not."
FRACTIONS = (0.0, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
QUICK_FRACTIONS = (0.0, 0.05, 0.25)
SPIKE_RATIO = 1.5
SPIKE_WINDOW = 20


def count_spikes(
    loss: list[float] | np.ndarray, ratio: float = SPIKE_RATIO, window: int = SPIKE_WINDOW
) -> dict[str, Any]:
    """Steps ``t >= window`` whose loss is above ``ratio`` × the median of the ``window`` losses before ``t``.

    A non-finite loss counts as a spike.

    >>> count_spikes([1.0] * 25 + [2.0] + [1.0] * 5, window=20)["count"]
    1
    """
    a = np.asarray(loss, dtype=float)
    steps, worst = [], 0.0
    for t in range(window, a.size):
        med = float(np.median(a[t - window : t]))
        r = a[t] / med if np.isfinite(a[t]) else np.inf
        worst = max(worst, r)
        if r > ratio:
            steps.append(t)
    return {"count": len(steps), "steps": steps, "max_ratio": worst}


def spec_for(w: int) -> str:
    return "cosine(floor=0.1)" if w == 0 else f"linear({w}) -> cosine(floor=0.1)"


def run(
    out: str,
    seeds: int = 3,
    quick: bool = False,
    workers: int = 2,
    progress: bool = True,
    steps: int | None = None,
    fractions: tuple[float, ...] | None = None,
) -> dict[str, Any]:
    """Run E4a and write ``results.json``, ``report.md``, ``sweep.png``, ``loss_curves.png``, ``schedules.png``.

    ``steps`` (default 400, quick 40) and ``fractions`` change the horizon and the
    sweep, e.g. to ask whether a fraction of the run or a number of steps matters.
    """
    t0 = time.perf_counter()
    steps = (40 if quick else 400) if steps is None else steps
    fracs = (QUICK_FRACTIONS if quick else FRACTIONS) if fractions is None else fractions
    base = LMConfig(steps=steps)
    if quick:
        base = replace(base, eval_windows=32, eval_every=10**9)
    arm_list = []
    for f in fracs:
        w = round(f * steps)
        arm_list.append((f"w{w}", f"{100 * f:g}% = {w} steps", f, replace(base, spec=spec_for(w))))
    jobs = [Job("lm", c, seed, n, steps, tags={"fraction": f}) for seed in range(seeds) for n, _, f, c in arm_list]
    none_cfg = replace(base, spec=spec_for(0))  # the decay alone; AutoWarmup decides the warmup online
    auto_jobs = [auto_job(none_cfg, seed, "auto", steps) for seed in range(seeds)]
    every = run_jobs(jobs + auto_jobs, workers, desc=f"E4a ({len(jobs) + len(auto_jobs)} runs)", progress=progress)
    runs, auto_runs = every[: len(jobs)], every[len(jobs) :]
    refs = reference_levels()
    for r in every:
        r["spikes"] = count_spikes(r["train_loss"])
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "reference_levels": refs,
        "spike_definition": {
            "ratio": SPIKE_RATIO,
            "window": SPIKE_WINDOW,
            "text": f"loss_t > {SPIKE_RATIO} × median(loss over the {SPIKE_WINDOW} steps before t)",
        },
        "arms": [
            {"name": n, "label": lab, "fraction": f, "spec": c.spec, "config": c.to_dict()} for n, lab, f, c in arm_list
        ],
        "runs": runs,
    }
    results["summary"] = summarize(runs, arm_list, refs["unigram"])
    results["outcome"] = outcome(results["summary"], arm_list)
    results["auto"] = auto_results(auto_runs, results["summary"], arm_list, none_cfg, refs["unigram"])
    results["wall_s"] = timed(t0)
    figs = {
        "sweep.png": plot_sweep(results),
        "loss_curves.png": plot_curves(results),
        "schedules.png": plot_schedules_used(results),
    }
    write_outputs(out, results, report(results), figs)
    return results


def auto_results(
    auto_runs: list[dict[str, Any]], summary: dict[str, Any], arm_list: list[Any], cfg: LMConfig, unigram: float
) -> dict[str, Any]:
    """The auto arm (AutoWarmup at its defaults, then the cosine): runs, summary, gaps (in %) to the best warmup
    of the sweep and to no warmup."""
    label = "auto warmup (default)"
    s = summarize(auto_runs, [("auto", label, float("nan"), cfg)], unigram)
    fixed = [n for n, _, _, _ in arm_list]
    values = {**{n: summary[n]["final_val_loss"] for n in fixed}, "auto": s["auto"]["final_val_loss"]}
    none = next(n for n, _, f, _ in arm_list if f == 0.0) if any(f == 0.0 for _, _, f, _ in arm_list) else fixed[0]
    return {
        "arms": [{"name": "auto", "label": label, "method": "update", "then": cfg.spec}],
        "runs": auto_runs,
        "summary": s,
        "warmup_steps": {"auto": [r["warmup_steps"] for r in auto_runs]},
        "gaps": {"auto": auto_gaps(values, "auto", fixed, none, "%")},
    }


def summarize(runs: list[dict[str, Any]], arm_list: list[Any], unigram: float) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n, _, f, _ in arm_list:
        rs = [r for r in runs if r["arm"] == n]
        spikes = [r["spikes"]["count"] for r in rs]
        final = [r["final_val_loss"] for r in rs]
        s[n] = {
            "fraction": f,
            "spikes": spikes,
            "spikes_mean": float(np.mean(spikes)),
            "runs_with_spikes": sum(1 for x in spikes if x > 0),
            "max_ratio": [r["spikes"]["max_ratio"] for r in rs],
            "final_val_loss": final,
            "final_val_loss_mean": mean_std(final)[0],
            "collapsed": sum(1 for v in final if not np.isfinite(v) or v >= unigram - 0.1),
            "n": len(rs),
        }
    return s


def outcome(summary: dict[str, Any], arm_list: list[Any]) -> dict[str, Any]:
    short = [n for n, _, f, _ in arm_list if f < 0.005]
    mid = [n for n, _, f, _ in arm_list if 0.01 <= f <= 0.05]
    short_spiky = sum(summary[n]["runs_with_spikes"] for n in short)
    mid_spiky = sum(summary[n]["runs_with_spikes"] for n in mid)
    return {
        "criterion": "runs with spikes: some with warmup < 0.5 %, none with warmup in 1–5 %",
        "runs_with_spikes_below_0.5pct": short_spiky,
        "runs_with_spikes_1_to_5pct": mid_spiky,
        "reproduced": bool(short_spiky > 0 and mid_spiky == 0) if short and mid else False,
    }


def report(results: dict[str, Any]) -> str:
    lines = header(results)
    lines += [
        "| warmup | spec (rampup) | spikes per run | runs with spikes | worst loss / median | final val loss | collapsed |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in results["arms"]:
        s = results["summary"][a["name"]]
        lines.append(
            f"| {a['label']} | {cell_code(a['spec'])} | {fmt_ms(s['spikes'], 1)} | {s['runs_with_spikes']}/{s['n']} | "
            f"{fmt_ms(s['max_ratio'], 2)} | {fmt_ms(s['final_val_loss'])} | {s['collapsed']}/{s['n']} |"
        )
    o = results["outcome"]
    lines += [
        "",
        f"Spike: {results['spike_definition']['text']}, from step {SPIKE_WINDOW} on. *collapsed* = final val loss "
        f"within 0.1 of the unigram level ({results['reference_levels']['unigram']:.2f}) or above.",
        "",
        f"**Outcome**: runs with spikes — warmup < 0.5 %: {o['runs_with_spikes_below_0.5pct']}, warmup 1–5 %: "
        f"{o['runs_with_spikes_1_to_5pct']} → {'reproduced' if o['reproduced'] else 'NOT reproduced'} "
        f"({o['criterion']}).",
        "",
        *auto_report(
            results["auto"],
            "Gaps of the final val loss in %; *best fixed* = the warmup length of this sweep with the lowest seed "
            "mean; *no warmup* = the 0 % arm.",
        ),
        "![sweep](sweep.png)",
        "",
        "![loss curves](loss_curves.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot_sweep(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    x = np.arange(len(results["arms"]))
    labels = [f"{100 * a['fraction']:g}%" for a in results["arms"]]
    for i, a in enumerate(results["arms"]):
        s = results["summary"][a["name"]]
        v = np.asarray(s["final_val_loss"], dtype=float)
        ax.plot(np.full(v.size, i), v, "o", color="C0", alpha=0.6)
        bx.plot(np.full(len(s["spikes"]), i), s["spikes"], "o", color="C3", alpha=0.6)
    ax.plot(x, [results["summary"][a["name"]]["final_val_loss_mean"] for a in results["arms"]], "k-", lw=1)
    bx.plot(x, [results["summary"][a["name"]]["spikes_mean"] for a in results["arms"]], "k-", lw=1)
    for k, ls in (("unigram", "--"), ("bigram", ":")):
        ax.axhline(refs[k], color="gray", lw=0.8, ls=ls, label=f"{k} {refs[k]:.2f}")
    ax.set_xticks(x, labels)
    bx.set_xticks(x, labels)
    ax.set_xlabel("warmup length (fraction of the run)")
    bx.set_xlabel("warmup length (fraction of the run)")
    ax.set_ylabel("final validation loss (nats/byte)")
    bx.set_ylabel(f"spikes per run (loss > {SPIKE_RATIO}× running median)")
    ax.set_title("E4a: final loss vs warmup fraction (dots = seeds)", fontsize=9)
    bx.set_title("E4a: loss spikes vs warmup fraction", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    bx.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_curves(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    for i, a in enumerate(results["arms"]):
        r = next(r for r in results["runs"] if r["arm"] == a["name"])
        ax.plot(
            smooth(r["train_loss"], 5),
            lw=1.1,
            color=plt.cm.viridis(i / max(1, len(results["arms"]) - 1)),
            label=a["label"],
        )
    ax.axhline(results["reference_levels"]["unigram"], color="gray", lw=0.8, ls="--")
    ax.set_ylim(1.5, 6.0)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (5-step average)")
    ax.set_title("E4a: Post-LN training loss per warmup length (seed 0)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    from ..tools.plot import plot_schedules

    c = results["arms"][0]["config"]
    scheds = [parse(a["spec"], total_steps=c["steps"], peak_lr=c["peak_lr"]) for a in results["arms"]]
    return plot_schedules(
        scheds,
        [a["spec"] for a in results["arms"]],
        c["steps"],
        title=f"E4a schedules ({c['steps']} steps, peak LR {c['peak_lr']:g})",
    )
