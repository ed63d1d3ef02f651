"""E1 — Adam at a high LR needs warmup in a Post-LN transformer, much less in Pre-LN.

Setup (issue 5): the byte-level :class:`~rampup.experiments.models.TinyLM`
(4 layers, d_model 64, 4 heads, seq 64, batch 16) on the stdlib corpus, AdamW
β = (0.9, 0.98), no clipping, peak LR 1e-2, 400 steps, cosine to 10 % of the
peak; warmup 100 steps vs none, in Post-LN and Pre-LN; for Post-LN also the
RAdam optimizer without warmup and rampup's untuned / RAdam-derived warmup
factors on AdamW.  ``untuned_linear(beta2=0.98)`` is 2/(1 − 0.98) = 100 steps,
the same schedule as the 100-step warmup, so it is that arm (checked, not assumed).

References: Xiong et al. 2020, arXiv:2002.04745 (Post-LN needs warmup);
Liu et al. 2020, arXiv:1908.03265 (RAdam); Ma & Yarats 2019, arXiv:1910.04209 (untuned warmup).
"""

from __future__ import annotations

import textwrap
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

NAME = "e1"
TITLE = "Adam at a high LR needs warmup in a Post-LN transformer, much less in Pre-LN"
CLAIM = (
    "with AdamW at peak LR 1e-2, a Post-LN byte transformer without warmup ends >= 0.5 nats worse than with a "
    "100-step warmup (it collapses towards the unigram level); in Pre-LN the gap is < 0.2 nats."
)
COLLAPSE_MARGIN = 0.1  # a run has collapsed when its final val loss is within this of the unigram level


def arms(steps: int = 400) -> list[tuple[str, str, LMConfig]]:
    """(name, label, config) of every arm; the warmup is ``steps // 4`` (100 of 400)."""
    w = steps // 4
    decay = "cosine(floor=0.1)"
    base = LMConfig(steps=steps, spec=decay)
    return [
        ("post_warmup", f"Post-LN, AdamW, linear warmup {w}", replace(base, spec=f"linear({w}) -> {decay}")),
        ("post_none", "Post-LN, AdamW, no warmup", base),
        ("post_radam", "Post-LN, RAdam optimizer, no warmup", replace(base, optimizer="radam")),
        (
            "post_untuned_exp",
            "Post-LN, AdamW, untuned exponential (τ = 50)",
            replace(base, spec=f"{decay} | untuned_exponential(beta2=0.98)"),
        ),
        (
            "post_radam_factor",
            "Post-LN, AdamW, RAdam-derived warmup factor",
            replace(base, spec=f"{decay} | radam(beta2=0.98)"),
        ),
        (
            "pre_warmup",
            f"Pre-LN, AdamW, linear warmup {w}",
            replace(base, post_ln=False, spec=f"linear({w}) -> {decay}"),
        ),
        ("pre_none", "Pre-LN, AdamW, no warmup", replace(base, post_ln=False)),
    ]


# The auto arms (issue 15): rampup's automatic warmup at its defaults, then the same cosine; each is compared
# with the fixed arms of its own architecture (the AdamW schedules; the RAdam *optimizer* arm is not a warmup).
AUTO_ARMS = {
    "post_auto": (
        "Post-LN, AdamW, auto warmup (default)",
        "post_none",
        ["post_warmup", "post_none", "post_untuned_exp", "post_radam_factor"],
    ),
    "pre_auto": ("Pre-LN, AdamW, auto warmup (default)", "pre_none", ["pre_warmup", "pre_none"]),
}


def quick_config(cfg: LMConfig) -> LMConfig:
    """``cfg`` as ``--quick`` runs it: 32 validation windows, no evaluation during training."""
    return replace(cfg, eval_windows=32, eval_every=10**9)


def run(
    out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True, auto: bool = True
) -> dict[str, Any]:
    """Run E1 and write ``results.json``, ``report.md``, ``loss_curves.png``, ``final_loss.png``, ``schedules.png``.

    ``auto=False`` leaves out the auto arms (the demo: it runs its own automatic warmup on E1's Post-LN arm).
    """
    t0 = time.perf_counter()
    steps = 24 if quick else 400
    arm_list = [(n, lab, quick_config(c) if quick else c) for n, lab, c in arms(steps)]
    jobs = [Job("lm", cfg, seed, name, cfg.steps) for seed in range(seeds) for name, _, cfg in arm_list]
    cfgs = {n: c for n, _, c in arm_list}
    auto_jobs = [
        auto_job(cfgs[none], seed, name, cfgs[none].steps)  # the no-warmup config: its spec is the decay
        for seed in range(seeds)
        for name, (_, none, _) in AUTO_ARMS.items()
        if auto
    ]
    every = run_jobs(jobs + auto_jobs, workers, desc=f"E1 ({len(jobs) + len(auto_jobs)} runs)", progress=progress)
    runs, auto_runs = every[: len(jobs)], every[len(jobs) :]
    corpus = load_corpus()
    refs = reference_levels()
    # rampup's untuned linear warmup for β2 = 0.98 is the 100-step warmup itself: verify, don't assume.
    untuned = parse("untuned_linear(beta2=0.98) -> cosine(floor=0.1)", total_steps=400)
    w100 = parse("linear(100) -> cosine(floor=0.1)", total_steps=400)
    same = bool(np.array_equal(untuned(np.arange(400)), w100(np.arange(400))))
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": corpus.info(),
        "reference_levels": refs,
        "collapse_margin": COLLAPSE_MARGIN,
        "untuned_linear_equals_warmup_100": same,
        "arms": [{"name": n, "label": lab, "spec": c.spec, "config": c.to_dict()} for n, lab, c in arm_list],
        "runs": [_strip(r) for r in runs],
    }
    results["summary"] = summarize(runs, [n for n, _, _ in arm_list], refs["unigram"])
    results["outcome"] = outcome(results["summary"])
    if auto:
        results["auto"] = auto_results(auto_runs, results["summary"], refs["unigram"])
    results["wall_s"] = timed(t0)
    figs = {
        "loss_curves.png": plot_curves(results),
        "final_loss.png": plot_final(results),
        "schedules.png": plot_schedules_used(results),
    }
    write_outputs(out, results, report(results), figs)
    return results


def _strip(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in ("state", "adam_psi")}


def auto_results(auto_runs: list[dict[str, Any]], summary: dict[str, Any], unigram: float) -> dict[str, Any]:
    """The auto arms: their runs, summary, and gaps (in %) to the best fixed arm and to no warmup."""
    s = summarize(auto_runs, list(AUTO_ARMS), unigram)
    values = {**{n: v["final_val_loss"] for n, v in summary.items()}, **{n: v["final_val_loss"] for n, v in s.items()}}
    return {
        "arms": [
            {"name": n, "label": lab, "method": "update", "then": "cosine(floor=0.1)"}
            for n, (lab, _, _) in AUTO_ARMS.items()
        ],
        "runs": [_strip(r) for r in auto_runs],
        "summary": s,
        "warmup_steps": {n: [r["warmup_steps"] for r in auto_runs if r["arm"] == n] for n in AUTO_ARMS},
        "gaps": {n: auto_gaps(values, n, fixed, none, "%") for n, (_, none, fixed) in AUTO_ARMS.items()},
    }


def summarize(runs: list[dict[str, Any]], names: list[str], unigram: float) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n in names:
        rs = [r for r in runs if r["arm"] == n]
        vals = [r["final_val_loss"] for r in rs]
        m, sd, bad = mean_std(vals)
        collapsed = sum(1 for v in vals if not np.isfinite(v) or v >= unigram - COLLAPSE_MARGIN)
        s[n] = {
            "final_val_loss_mean": m,
            "final_val_loss_std": sd,
            "final_val_loss": vals,
            "diverged": bad,
            "collapsed": collapsed,
            "n": len(vals),
        }
    return s


def outcome(summary: dict[str, Any]) -> dict[str, Any]:
    m = {k: v["final_val_loss_mean"] for k, v in summary.items()}
    post_gap = m["post_none"] - m["post_warmup"]
    pre_gap = m["pre_none"] - m["pre_warmup"]
    ok = bool(post_gap >= 0.5 and abs(pre_gap) < 0.2)
    return {
        "criterion": "Post-LN: mean(no warmup) >= mean(warmup) + 0.5 nats, and Pre-LN: |mean(no warmup) - mean(warmup)| < 0.2",
        "post_ln_gap": post_gap,
        "pre_ln_gap": pre_gap,
        "reproduced": ok,
    }


def table(results: dict[str, Any]) -> str:
    refs = results["reference_levels"]
    lines = [
        "| arm | spec (rampup) | optimizer | final val loss (nats/byte) | collapsed |",
        "|---|---|---|---|---|",
    ]
    for a in results["arms"]:
        s = results["summary"][a["name"]]
        lines.append(
            f"| {a['label']} | {cell_code(a['spec'])} | {a['config']['optimizer']} | {fmt_ms(s['final_val_loss'])} | "
            f"{s['collapsed']}/{s['n']} |"
        )
    lines.append(
        f"| *reference levels* | | | uniform {refs['uniform']:.2f}, unigram {refs['unigram']:.2f}, "
        f"bigram {refs['bigram']:.2f} | |"
    )
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    o = results["outcome"]
    lines = header(results)
    lines += [
        table(results),
        "",
        f"mean ± sample std over seeds; *collapsed* = final val loss within {COLLAPSE_MARGIN} of the unigram "
        f"level or above it. `untuned_linear(beta2=0.98)` resolves to the same 100-step warmup: "
        f"{results['untuned_linear_equals_warmup_100']}.",
        "",
        f"**Outcome**: Post-LN gap (no warmup − warmup) = {o['post_ln_gap']:+.3f} nats, Pre-LN gap = "
        f"{o['pre_ln_gap']:+.3f} nats → {'reproduced' if o['reproduced'] else 'NOT reproduced'} "
        f"({o['criterion']}).",
        "",
        *(
            auto_report(
                results["auto"],
                "Gaps of the final val loss in %; *best fixed* = the fixed arm of the same architecture with the "
                "lowest seed mean (Post-LN: the four AdamW schedules, not the RAdam optimizer; Pre-LN: warmup or none).",
            )
            if "auto" in results
            else []
        ),
        "![loss curves](loss_curves.png)",
        "",
        "![final loss](final_loss.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def _mean_curve(runs: list[dict[str, Any]], key: str = "train_loss") -> np.ndarray:
    n = max(len(r[key]) for r in runs)
    a = np.full((len(runs), n), np.nan)
    for i, r in enumerate(runs):
        a[i, : len(r[key])] = r[key]
    return np.nanmean(a, axis=0)


def plot_curves(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharey=True)
    for ax, prefix, title in ((axes[0], "post_", "Post-LN"), (axes[1], "pre_", "Pre-LN")):
        for a in results["arms"]:
            if not a["name"].startswith(prefix):
                continue
            rs = [r for r in results["runs"] if r["arm"] == a["name"]]
            ax.plot(smooth(_mean_curve(rs), 10), lw=1.3, label=a["label"].split(", ", 1)[1])
        for k, ls in (("unigram", "--"), ("bigram", ":")):  # in the legend: a text on the line hid the curves
            ax.axhline(refs[k], color="gray", lw=0.8, ls=ls, label=f"{k} level {refs[k]:.2f}")
        ax.set_title(f"{title}: train loss (mean over seeds, 10-step average)", fontsize=9)
        ax.set_xlabel("optimizer step")
        ax.set_ylim(1.5, 4.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("cross-entropy (nats/byte)")
    fig.tight_layout()
    return fig


def plot_final(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    names = [a["name"] for a in results["arms"]]
    for i, n in enumerate(names):
        s = results["summary"][n]
        v = np.asarray(s["final_val_loss"], dtype=float)
        ax.plot(np.full(v.size, i), v, "o", color="C0", alpha=0.6, ms=5)
        ax.errorbar(
            [i], [s["final_val_loss_mean"]], yerr=[s["final_val_loss_std"]], fmt="_", color="k", ms=18, capsize=4
        )
    for k, ls in (("unigram", "--"), ("bigram", ":")):
        ax.axhline(refs[k], color="gray", lw=0.8, ls=ls, label=f"{k} {refs[k]:.2f}")
    # one line per part of the label, each wrapped narrow enough that neighbouring ticks never overlap
    ticks = ["\n".join(textwrap.fill(p, 19) for p in a["label"].split(", ")) for a in results["arms"]]
    ax.set_xticks(range(len(names)), ticks, fontsize=7)
    ax.set_ylabel("final validation loss (nats/byte)")
    ax.set_title("E1: final validation loss per arm (dots = seeds, bar = mean ± std)", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    """Every distinct schedule of the experiment, as the LR (peak 1e-2) per step."""
    from ..tools.plot import plot_schedules

    seen: dict[str, str] = {}
    for a in results["arms"]:
        seen.setdefault(a["spec"], a["label"].split(", ", 2)[-1])
    total = results["arms"][0]["config"]["steps"]
    peak = results["arms"][0]["config"]["peak_lr"]
    scheds = [parse(s, total_steps=total, peak_lr=peak) for s in seen]
    return plot_schedules(
        scheds,
        [f"{lab}: {s}" for s, lab in seen.items()],
        total,
        title=f"E1 schedules ({total} steps, peak LR {peak:g})",
    )
