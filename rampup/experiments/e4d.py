"""E4d — re-warmup helps fine-tuning with a fresh output layer or a reset optimizer state.

Setup: the E1 Post-LN model.  Pretraining: the first half of the corpus
(``part="a"``, its own 90/10 split), 400 steps, ``linear(100) ->
cosine(floor=0.1)`` at peak 1e-2.  Fine-tuning: the second half (``part="b"``),
200 steps at peak 1e-2, always with a fresh AdamW (the optimizer state is not
carried over), either with a new output layer or with the pretrained one, and
either with a re-warmup (``linear(50) -> cosine(floor=0.1)``) or without
(``cosine(floor=0.1)``).  Reference arm: the same 200 steps from scratch on
part b, with the warmup.  Data order and pretrained weights are shared across
arms of a seed.

Reference: Gupta et al. 2023, "Continual Pre-Training of Large Language Models:
How to (re)warm your model?", arXiv:2308.04014; Kumar et al. 2022, "Fine-Tuning
can Distort Pretrained Features", arXiv:2202.10054 (a fresh head's large early
gradients damage the features).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from .. import parse
from ..support.optional import pyplot
from .auto_runs import auto_gaps, auto_job, auto_report
from .common import Job, cell_code, fmt_ms, header, mean_std, results_head, run_jobs, smooth, timed, write_outputs
from .data import load_corpus, reference_levels
from .train import LMConfig

NAME = "e4d"
TITLE = "re-warmup helps fine-tuning with a fresh head or a reset optimizer state"
CLAIM = (
    "fine-tuning a pretrained Post-LN model at the pretraining peak LR with a new output layer and a fresh "
    "optimizer ends lower with a re-warmup than without."
)


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E4d and write ``results.json``, ``report.md``, ``finetune.png``, ``schedules.png``."""
    t0 = time.perf_counter()
    pre_steps, ft_steps = (20, 20) if quick else (400, 200)
    n_val, every = (32, 10**9) if quick else (512, 50)
    pre = LMConfig(
        spec=f"linear({pre_steps // 4}) -> cosine(floor=0.1)",
        steps=pre_steps,
        corpus_part="a",
        keep_state=True,
        eval_windows=n_val,
        eval_every=every,
    )
    ft = LMConfig(steps=ft_steps, corpus_part="b", data_seed=4321, eval_windows=n_val, eval_every=every)
    rw = f"linear({ft_steps // 4}) -> cosine(floor=0.1)"
    no = "cosine(floor=0.1)"
    arm_list = [
        ("new_head_rewarm", "new head, fresh optimizer, re-warmup", replace(ft, spec=rw, reset_head=True)),
        ("new_head_none", "new head, fresh optimizer, no re-warmup", replace(ft, spec=no, reset_head=True)),
        ("same_head_rewarm", "pretrained head, fresh optimizer, re-warmup", replace(ft, spec=rw)),
        ("same_head_none", "pretrained head, fresh optimizer, no re-warmup", replace(ft, spec=no)),
        ("scratch", "from scratch on part b, warmup (reference)", replace(ft, spec=rw)),
    ]
    pre_runs = run_jobs(
        [Job("lm", pre, seed, "pretrain", pre_steps) for seed in range(seeds)],
        workers,
        desc=f"E4d pretrain ({seeds} runs)",
        progress=progress,
    )
    states = {r["seed"]: r.pop("state") for r in pre_runs}
    jobs = [
        Job("lm", c, seed, n, ft_steps, init_state=None if n == "scratch" else states[seed])
        for seed in range(seeds)
        for n, _, c in arm_list
    ]
    cfgs = {n: c for n, _, c in arm_list}
    auto_jobs = [  # the no-re-warmup config: its spec is the decay alone; same pretrained state and data
        auto_job(cfgs[none], seed, n, ft_steps, init_state=states[seed])
        for seed in range(seeds)
        for n, (_, none, _) in AUTO_ARMS.items()
    ]
    every_run = run_jobs(
        jobs + auto_jobs, workers, desc=f"E4d fine-tune ({len(jobs) + len(auto_jobs)} runs)", progress=progress
    )
    runs, auto_runs = every_run[: len(jobs)], every_run[len(jobs) :]
    refs = reference_levels(part="b")
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "reference_levels_part_b": refs,
        "pretrain": {
            "spec": pre.spec,
            "config": pre.to_dict(),
            "final_val_loss_part_a": [r["final_val_loss"] for r in pre_runs],
        },
        "arms": [{"name": n, "label": lab, "spec": c.spec, "config": c.to_dict()} for n, lab, c in arm_list],
        "runs": runs,
    }
    results["summary"] = summarize(runs, [n for n, _, _ in arm_list], seeds)
    results["outcome"] = outcome(results["summary"])
    results["auto"] = auto_results(auto_runs, results["summary"], seeds)
    results["wall_s"] = timed(t0)
    figs = {"finetune.png": plot_curves(results), "schedules.png": plot_schedules_used(results)}
    write_outputs(out, results, report(results), figs)
    return results


# The auto arms (issue 15): AutoWarmup at its defaults as the re-warmup, then the same cosine; each against
# the fine-tuning arms of its own head (re-warmup or none); the from-scratch reference is not a fine-tuning arm.
AUTO_ARMS = {
    "new_head_auto": (
        "new head, fresh optimizer, auto re-warmup (default)",
        "new_head_none",
        ["new_head_rewarm", "new_head_none"],
    ),
    "same_head_auto": (
        "pretrained head, fresh optimizer, auto re-warmup (default)",
        "same_head_none",
        ["same_head_rewarm", "same_head_none"],
    ),
}


def auto_results(auto_runs: list[dict[str, Any]], summary: dict[str, Any], seeds: int) -> dict[str, Any]:
    """The auto arms: runs, summary, gaps of the final val loss (in %) to the best fixed arm and to no re-warmup."""
    s = summarize(auto_runs, list(AUTO_ARMS), seeds)
    values = {**{n: v["final_val_loss"] for n, v in summary.items()}, **{n: v["final_val_loss"] for n, v in s.items()}}
    return {
        "arms": [
            {"name": n, "label": lab, "method": "update", "then": "cosine(floor=0.1)"}
            for n, (lab, _, _) in AUTO_ARMS.items()
        ],
        "runs": auto_runs,
        "summary": s,
        "warmup_steps": {
            n: [r["warmup_steps"] for r in sorted(auto_runs, key=lambda r: r["seed"]) if r["arm"] == n]
            for n in AUTO_ARMS
        },
        "gaps": {n: auto_gaps(values, n, fixed, none, "%") for n, (_, none, fixed) in AUTO_ARMS.items()},
    }


def summarize(runs: list[dict[str, Any]], names: list[str], seeds: int) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n in names:
        rs = sorted((r for r in runs if r["arm"] == n), key=lambda r: r["seed"])
        final = [r["final_val_loss"] for r in rs]
        first = [float(np.max(r["train_loss"][: max(1, len(r["train_loss"]) // 4)])) for r in rs]
        s[n] = {
            "final_val_loss": final,
            "final_val_loss_mean": mean_std(final)[0],
            "val_loss_at_start": [r["val_loss_init"] for r in rs],
            "max_train_loss_first_quarter": first,
        }
    return s


def outcome(summary: dict[str, Any]) -> dict[str, Any]:
    a, b = summary["new_head_rewarm"]["final_val_loss"], summary["new_head_none"]["final_val_loss"]
    c, d = summary["same_head_rewarm"]["final_val_loss"], summary["same_head_none"]["final_val_loss"]
    wins_new = sum(1 for x, y in zip(a, b) if x < y)
    wins_same = sum(1 for x, y in zip(c, d) if x < y)
    return {
        "criterion": "new head + fresh optimizer: mean final val loss with re-warmup < without",
        "new_head_gain": mean_std(b)[0] - mean_std(a)[0],
        "same_head_gain": mean_std(d)[0] - mean_std(c)[0],
        "new_head_seeds_better_with_rewarm": wins_new,
        "same_head_seeds_better_with_rewarm": wins_same,
        "reproduced": bool(mean_std(a)[0] < mean_std(b)[0]),
    }


def report(results: dict[str, Any]) -> str:
    lines = header(results)
    refs = results["reference_levels_part_b"]
    p = results["pretrain"]
    lines += [
        f"Pretraining on part a: `{p['spec']}`, {p['config']['steps']} steps; final val loss on part a "
        f"{fmt_ms(p['final_val_loss_part_a'])}.",
        "",
        "| fine-tuning arm | spec (rampup) | val loss at start | max train loss, first quarter | final val loss (part b) |",
        "|---|---|---|---|---|",
    ]
    for a in results["arms"]:
        s = results["summary"][a["name"]]
        lines.append(
            f"| {a['label']} | {cell_code(a['spec'])} | {fmt_ms(s['val_loss_at_start'], 2)} | "
            f"{fmt_ms(s['max_train_loss_first_quarter'], 2)} | {fmt_ms(s['final_val_loss'])} |"
        )
    o = results["outcome"]
    n = len(results["seeds"])
    lines += [
        "",
        f"Part b reference levels: unigram {refs['unigram']:.2f}, bigram {refs['bigram']:.2f}. Mean ± std over seeds.",
        "",
        f"**Outcome**: re-warmup gain (no re-warmup − re-warmup, nats): new head {o['new_head_gain']:+.3f} "
        f"({o['new_head_seeds_better_with_rewarm']}/{n} seeds better), pretrained head {o['same_head_gain']:+.3f} "
        f"({o['same_head_seeds_better_with_rewarm']}/{n}) → {'reproduced' if o['reproduced'] else 'NOT reproduced'} "
        f"({o['criterion']}).",
        "",
        *auto_report(
            results["auto"],
            "Gaps of the final val loss (part b) in %; *best fixed* = the fine-tuning arm of the same head "
            "(re-warmup or none) with the lowest seed mean.",
        ),
        "![fine-tuning](finetune.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot_curves(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels_part_b"]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    for i, a in enumerate(results["arms"]):
        rs = [r for r in results["runs"] if r["arm"] == a["name"]]
        n = min(len(r["train_loss"]) for r in rs)
        m = np.mean([r["train_loss"][:n] for r in rs], axis=0)
        ax.plot(smooth(m, 5), color=f"C{i}", lw=1.3, ls="--" if a["name"] == "scratch" else "-", label=a["label"])
    for k, ls in (("unigram", "--"), ("bigram", ":")):
        ax.axhline(refs[k], color="gray", lw=0.8, ls=ls)
        ax.text(0, refs[k], f" {k} {refs[k]:.2f}", fontsize=7, color="gray", va="bottom")
    ax.set_ylim(1.5, 6.0)
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("train loss on part b (seed mean, 5-step avg)")
    ax.set_title("E4d: fine-tuning a pretrained Post-LN model at peak LR 1e-2", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    from ..tools.plot import plot_schedules

    c = results["arms"][0]["config"]
    specs = sorted({a["spec"] for a in results["arms"]})
    scheds = [parse(s, total_steps=c["steps"], peak_lr=c["peak_lr"]) for s in specs]
    return plot_schedules(scheds, specs, c["steps"], title=f"E4d fine-tuning schedules ({c['steps']} steps)")
