"""E9 — weight decay co-scheduled with a long warmup (AdamW).

Claim (the practical guidance of the warmup literature): "some recipes scale weight
decay by the same factor used for the LR during warmup".  What a user wants to know
is whether doing so changes anything.  Tested: AdamW on the E1 Pre-LN byte
transformer at peak LR 1e-2 with a strong weight decay (0.1, all parameters, as in
E1) and a long warmup (``linear(200)`` of 400 steps, then cosine to 10 %), the
weight decay either fixed (``WarmupScheduler(weight_decay="none")``), scaled by the
warmup factor (``"warmup"``) or by lr/peak throughout (``"lr"``); the final
validation loss and the global weight norm ‖w‖₂ (at the end of the warmup and at
the end).  torch's AdamW decays by ``lr · weight_decay`` per update, so with a
*fixed* weight decay the decay already follows the warmup factor ``m(t)``;
co-scheduling makes it follow ``m(t)²`` during the warmup.  Reference arms: a
50-step warmup and none (fixed weight decay), and the automatic warmup.

References: Loshchilov & Hutter 2019, arXiv:1711.05101 (decoupled weight decay,
multiplied by the schedule multiplier η_t); Wortsman et al. 2023, arXiv:2309.14322
(weight decay independent of the LR).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from .. import parse
from ..support.optional import pyplot
from .auto_runs import auto_gaps, fmt_gaps
from .common import cell_code, fmt_ms, header, mean_std, results_head, run_jobs, smooth, timed, write_outputs
from .data import load_corpus, reference_levels
from .e9e11_loop import XConfig, quick_lm, x_job
from .train import LMConfig

NAME = "e9"
TITLE = "weight decay co-scheduled with a long warmup (AdamW)"
CLAIM = (
    "some recipes scale weight decay by the same factor used for the LR during warmup; tested: with AdamW and a "
    "long warmup, co-scheduling the weight decay with the warmup lowers the final loss compared with a fixed "
    "weight decay."
)
# Fixed before the first full run (never edited after seeing results):
GAIN_MIN = 0.01  # nats: the smallest mean gain counted as "lowers the final loss"
CRITERION = (
    f"gain = mean final val loss (fixed weight decay) − mean (weight decay × warmup factor), both with the "
    f"200-step warmup. Reproduced: gain >= {GAIN_MIN} nats and the co-scheduled arm is lower on every seed; "
    f"partly: gain > 0 but not both; not reproduced: gain <= 0."
)
WEIGHT_DECAY = 0.1


def arms(steps: int = 400) -> list[tuple[str, str, XConfig]]:
    """(name, label, config): warmup = ``steps // 2`` (200 of 400), the short warmup ``steps // 8`` (50)."""
    w, ws = steps // 2, steps // 8
    decay = "cosine(floor=0.1)"
    lm = LMConfig(steps=steps, spec=f"linear({w}) -> {decay}", post_ln=False, weight_decay=WEIGHT_DECAY)
    norm_every = max(1, steps // 20)
    base = XConfig(lm, norm_every=norm_every, norm_at=w)
    return [
        ("fixed_long", f"warmup {w}, weight decay fixed", base),
        ("warmup_long", f"warmup {w}, weight decay × warmup factor", replace(base, weight_decay_mode="warmup")),
        ("lr_long", f"warmup {w}, weight decay × lr/peak", replace(base, weight_decay_mode="lr")),
        (
            "fixed_short",
            f"warmup {ws}, weight decay fixed",
            replace(base, lm=replace(lm, spec=f"linear({ws}) -> {decay}")),
        ),
        ("none", "no warmup, weight decay fixed", replace(base, lm=replace(lm, spec=decay))),
        ("auto", "automatic warmup (update), weight decay fixed", replace(base, lm=replace(lm, spec=decay), auto=True)),
    ]


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E9 and write ``results.json``, ``report.md``, ``weight_norm.png``, ``loss_curves.png``, ``schedules.png``."""
    t0 = time.perf_counter()
    steps = 24 if quick else 400
    arm_list = [(n, lab, replace(c, lm=quick_lm(c.lm)) if quick else c) for n, lab, c in arms(steps)]
    jobs = [x_job(c, seed, n) for seed in range(seeds) for n, _, c in arm_list]
    runs = run_jobs(jobs, workers, desc=f"E9 ({len(jobs)} runs)", progress=progress)
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "criterion": CRITERION,
        "gain_min": GAIN_MIN,
        "corpus": load_corpus().info(),
        "reference_levels": reference_levels(),
        "warmup_steps": steps // 2,
        "arms": [
            {
                "name": n,
                "label": lab,
                "spec": c.lm.spec,
                "weight_decay_mode": c.weight_decay_mode,
                "config": c.to_dict(),
            }
            for n, lab, c in arm_list
        ],
        "runs": runs,
    }
    results["summary"] = summarize(runs, [n for n, _, _ in arm_list], steps // 2)
    results["outcome"] = outcome(results["summary"])
    results["wall_s"] = timed(t0)
    figs = {
        "weight_norm.png": plot_norms(results),
        "loss_curves.png": plot_curves(results),
        "schedules.png": plot_schedules_used(results),
    }
    write_outputs(out, results, report(results), figs)
    return results


def _norm_at(r: dict[str, Any], step: int) -> float:
    return float(dict((int(s), v) for s, v in r["weight_norm"]).get(step, np.nan))


def summarize(runs: list[dict[str, Any]], names: list[str], warmup: int) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n in names:
        rs = sorted((r for r in runs if r["arm"] == n), key=lambda r: r["seed"])
        final = [r["final_val_loss"] for r in rs]
        s[n] = {
            "final_val_loss": final,
            "final_val_loss_mean": mean_std(final)[0],
            "final_val_loss_std": mean_std(final)[1],
            "weight_norm_init": [r["weight_norm"][0][1] for r in rs],
            "weight_norm_end_of_warmup": [_norm_at(r, warmup) for r in rs],
            "weight_norm_final": [r["weight_norm"][-1][1] for r in rs],
            "warmup_steps": [r["warmup_steps"] for r in rs],
        }
    return s


def outcome(summary: dict[str, Any]) -> dict[str, Any]:
    fixed, co = summary["fixed_long"]["final_val_loss"], summary["warmup_long"]["final_val_loss"]
    gain = mean_std(fixed)[0] - mean_std(co)[0]
    every = all(c < f for f, c in zip(fixed, co))
    verdict = "reproduced" if gain >= GAIN_MIN and every else ("partly" if gain > 0 else "not reproduced")
    nf, nc = summary["fixed_long"]["weight_norm_end_of_warmup"], summary["warmup_long"]["weight_norm_end_of_warmup"]
    finals = {k: v["final_val_loss"] for k, v in summary.items()}
    return {
        "criterion": CRITERION,
        "gain_warmup_mode": gain,
        "gain_lr_mode": mean_std(fixed)[0] - mean_std(summary["lr_long"]["final_val_loss"])[0],
        "seeds_lower_with_warmup_mode": sum(1 for f, c in zip(fixed, co) if c < f),
        # the mechanism, reported beside the verdict: less decay while the LR is small leaves larger weights
        "norm_end_of_warmup_larger_with_warmup_mode_every_seed": bool(all(c > f for f, c in zip(nf, nc))),
        "auto": auto_gaps(finals, "auto", ["fixed_long", "fixed_short"], "none"),
        "verdict": verdict,
        "reproduced": verdict == "reproduced",
    }


def report(results: dict[str, Any]) -> str:
    lines = header(results)
    w = results["warmup_steps"]
    lines += [
        f"Pre-LN byte transformer (E1), AdamW (0.9, 0.98), weight decay {WEIGHT_DECAY} on every parameter, peak LR "
        f"1e-2. Criterion (fixed before running): {results['criterion']}",
        "",
        f"| arm | spec (rampup) | weight decay mode | final val loss | per seed | ‖w‖ at start | ‖w‖ at step {w} "
        "| ‖w‖ at the end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in results["arms"]:
        s = results["summary"][a["name"]]
        spec = a["spec"] if a["name"] != "auto" else "auto -> " + a["spec"]
        lines.append(
            f"| {a['label']} | {cell_code(spec)} | {a['weight_decay_mode']} | {fmt_ms(s['final_val_loss'])} | "
            + ", ".join(f"{v:.3f}" for v in s["final_val_loss"])
            + f" | {fmt_ms(s['weight_norm_init'], 1)} | {fmt_ms(s['weight_norm_end_of_warmup'], 1)} | "
            f"{fmt_ms(s['weight_norm_final'], 1)} |"
        )
    o = results["outcome"]
    auto_w = results["summary"]["auto"]["warmup_steps"]
    n = len(results["seeds"])
    best = next(a["label"] for a in results["arms"] if a["name"] == o["auto"]["best_fixed"])
    lines += [
        "",
        f"Mean ± sample std over seeds. The automatic warmup chose {auto_w} steps (per seed).",
        "",
        fmt_gaps(o["auto"], best),
        "",
        f"**Outcome**: gain of co-scheduling (fixed − × warmup factor) = {o['gain_warmup_mode']:+.4f} nats, lower on "
        f"{o['seeds_lower_with_warmup_mode']}/{n} seeds (× lr/peak: {o['gain_lr_mode']:+.4f}); ‖w‖ at the end of the "
        f"warmup larger with co-scheduling on every seed: {o['norm_end_of_warmup_larger_with_warmup_mode_every_seed']}"
        f" → **{o['verdict']}**.",
        "",
        "![weight norm](weight_norm.png)",
        "",
        "![loss curves](loss_curves.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot_norms(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for i, a in enumerate(results["arms"]):
        rs = [r for r in results["runs"] if r["arm"] == a["name"]]
        steps = [int(s) for s, _ in rs[0]["weight_norm"]]
        m = np.mean([[v for _, v in r["weight_norm"]][: len(steps)] for r in rs], axis=0)
        axes[0].plot(steps, m, color=f"C{i}", lw=1.3, label=a["label"])
        wd = np.mean([r["weight_decay"] for r in rs], axis=0)
        lr = np.mean([r["lr"] for r in rs], axis=0)
        axes[1].plot(np.asarray(lr) * np.asarray(wd), color=f"C{i}", lw=1.3, label=a["label"])
    axes[0].axvline(results["warmup_steps"], color="gray", lw=0.8, ls=":")
    axes[0].set_xlabel("optimizer step")
    axes[0].set_ylabel("‖w‖₂ over all parameters (seed mean)")
    axes[0].set_title("E9: weight norm", fontsize=9)
    axes[1].set_xlabel("optimizer step")
    axes[1].set_ylabel("decay per update, lr × weight_decay (seed mean)")
    axes[1].set_title("E9: effective weight decay (AdamW: w ← w·(1 − lr·wd))", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_curves(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    for i, a in enumerate(results["arms"]):
        rs = [r for r in results["runs"] if r["arm"] == a["name"]]
        n = min(len(r["train_loss"]) for r in rs)
        ax.plot(smooth(np.mean([r["train_loss"][:n] for r in rs], axis=0), 10), color=f"C{i}", lw=1.2, label=a["label"])
    for k, ls in (("unigram", "--"), ("bigram", ":")):
        ax.axhline(refs[k], color="gray", lw=0.8, ls=ls, label=f"{k} level {refs[k]:.2f}")
    ax.set_ylim(1.5, 4.5)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("train loss (seed mean, 10-step average)")
    ax.set_title("E9: training loss", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    from ..tools.plot import plot_schedules

    c = results["arms"][0]["config"]["lm"]
    specs = sorted({a["spec"] for a in results["arms"]})
    scheds = [parse(s, total_steps=c["steps"], peak_lr=c["peak_lr"]) for s in specs]
    return plot_schedules(
        scheds, specs, c["steps"], title=f"E9 LR schedules ({c['steps']} steps; auto: decided online)"
    )
