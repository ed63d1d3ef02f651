"""E5 — a wider model needs a longer warmup at the same peak LR; and do short warmups spike there?

Setup: E1's Pre-LN byte transformer cut to 2 layers (so three widths fit the time budget), d_model 32, 64
and 128 (heads of 16 dimensions: 2, 4, 8), sequence 64, batch 16, AdamW (0.9, 0.98), weight decay 0.01,
no clipping, peak LR 1e-2 for every width, 300 updates, cosine to 10 %.  A linear warmup of 0, 10, 25, 50 or
100 updates at each width, and the automatic warmup (``AutoWarmup`` at its defaults, method ``update``).
At the largest width also 1 and 3 updates, for E4a's spike claim: warmups below 0.5 % of the run
(0 and 1 updates) against 1–5 % (3 and 10 updates).

*Shortest stable warmup* (:func:`~rampup.experiments.e5e7_runs.shortest_stable`, fixed before the run):
the shortest warmup of the grid with no failed seed (diverged, or a final validation loss within
``COLLAPSE_MARGIN`` of the unigram level: E1's collapse) whose seed mean is within ``TOL`` nats of the best
such warmup at that width.  A spike is E4a's (:func:`~rampup.experiments.e4a.count_spikes`): a loss above
1.5 × the median of the 20 losses before it.

References: Kaplan et al. 2020 / Xiong et al. 2020 (warmup and width); E4a of this project.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import numpy as np

from .. import parse
from ..support.optional import pyplot
from .auto_runs import Arm, auto_gaps, fmt_gap
from .common import fmt_ms, header, results_head, run_jobs, smooth, timed, write_outputs
from .data import load_corpus, reference_levels
from .e4a import SPIKE_RATIO, SPIKE_WINDOW, count_spikes
from .e5e7_runs import shortest_stable, variant_job
from .train import LMConfig

NAME = "e5"
TITLE = "a wider model needs a longer warmup at the same peak LR (Pre-LN, AdamW 1e-2)"
CLAIM = (
    "increase T_w when scaling model size; warmups shorter than 0.5 % of training produce loss spikes "
    "'especially at large model widths' (E4a's condition), while 1–5 % does not."
)
WIDTHS = (32, 64, 128)
WARMUPS = (0, 10, 25, 50, 100)  # the grid of the shortest stable warmup, in updates
SPIKE_WARMUPS = (1, 3)  # extra arms at the largest width: 0.33 % and 1 % of 300 updates
SHORT_FRACTION, MID_FRACTIONS = 0.005, (0.01, 0.05)  # E4a's "< 0.5 %" and "1–5 %"
STEPS = 300
PEAK_LR = 1e-2
DECAY = "cosine(floor=0.1)"
TOL = 0.05  # nats: a warmup is as good as the best when its seed mean is within this
#: E5/E7's best fixed warmup: the lowest seed mean among the warmups with no failed seed (all if none).
BEST_MEANING = "the fixed warmup with the lowest seed mean among those with no failed seed (all if every one failed)"
COLLAPSE_MARGIN = 0.1  # E1's: a final val loss within this of the unigram level is a collapse
CRITERION = (
    f"(a) size: the shortest stable warmup (grid {list(WARMUPS)} updates; stable = no seed diverged or collapsed "
    f"and seed mean within {TOL} nats of the best) does not decrease with the width and is longer at d_model "
    f"{WIDTHS[-1]} than at {WIDTHS[0]} (none of the grid = longer than all); (b) spikes, at d_model {WIDTHS[-1]}: "
    "some run with a warmup < 0.5 % of training has a spike and no run with 1–5 % has one. "
    "Reproduced = (a) and (b); partly = one of them; not reproduced = neither."
)


def spec_for(w: int) -> str:
    return DECAY if w == 0 else f"linear({w}) -> {DECAY}"


def arms(quick: bool = False) -> list[dict[str, Any]]:
    """Every (width, arm): ``name`` ``d{width}_w{W}`` or ``d{width}_auto``, the config and the LR plan."""
    steps = 24 if quick else STEPS
    widths = (16, 32) if quick else WIDTHS
    grid = (0, 2, 6) if quick else WARMUPS
    extra = (1,) if quick else SPIKE_WARMUPS
    out = []
    for d in widths:
        cfg = LMConfig(
            spec=DECAY,
            post_ln=False,
            n_layers=1 if quick else 2,
            d_model=d,
            n_heads=d // 16 if d >= 32 else 2,
            seq_len=16 if quick else 64,
            batch=4 if quick else 16,
            steps=steps,
            peak_lr=PEAK_LR,
            eval_windows=32 if quick else 512,
        )
        ws = list(grid) + (list(extra) if d == widths[-1] else [])
        for w in sorted(ws):
            arm = Arm("fixed", f"w{w}", spec=spec_for(w))
            out.append({"name": f"d{d}_w{w}", "width": d, "warmup": w, "grid": w in grid, "arm": arm, "cfg": cfg})
        auto = Arm("auto", "auto", method="update")  # the shipped default, not tuned here
        out.append({"name": f"d{d}_auto", "width": d, "warmup": None, "grid": False, "arm": auto, "cfg": cfg})
    return out


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E5 and write ``results.json``, ``report.md``, ``warmup_vs_width.png``, ``spikes.png``, ``schedules.png``."""
    t0 = time.perf_counter()
    arm_list = arms(quick)
    jobs = [
        variant_job(
            "lm", a["cfg"], "pre_ln", s, a["arm"], a["cfg"].steps, tags={"cell": a["name"], "width": a["width"]}
        )
        for s in range(seeds)
        for a in arm_list
    ]
    runs = run_jobs(jobs, workers, desc=f"E5 ({len(jobs)} runs)", progress=progress)
    refs = reference_levels()
    for r in runs:
        r["spikes"] = count_spikes(r["train_loss"])
        r.pop("events", None)
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "reference_levels": refs,
        "criterion": CRITERION,
        "tolerance_nats": TOL,
        "collapse_margin": COLLAPSE_MARGIN,
        "spike_definition": f"loss_t > {SPIKE_RATIO} × median(loss over the {SPIKE_WINDOW} steps before t), t >= "
        f"{SPIKE_WINDOW} (E4a's count_spikes)",
        "widths": sorted({a["width"] for a in arm_list}),
        "arms": [
            {
                "name": a["name"],
                "width": a["width"],
                "warmup": a["warmup"],
                "in_grid": a["grid"],
                "plan": a["arm"].to_dict(),
                "config": a["cfg"].to_dict(),
            }
            for a in arm_list
        ],
        "runs": runs,
    }
    results["summary"] = summarize(results, refs["unigram"])
    results["outcome"] = outcome(results)
    results["wall_s"] = timed(t0)
    figs = {"warmup_vs_width.png": plot_sweep(results), "spikes.png": plot_spikes(results)}
    figs["schedules.png"] = plot_schedules_used(results)
    write_outputs(out, results, report(results), figs)
    return results


def _cell(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return sorted((r for r in results["runs"] if r["cell"] == name), key=lambda r: r["seed"])


def summarize(results: dict[str, Any], unigram: float) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for a in results["arms"]:
        rs = _cell(results, a["name"])
        v = [r["final_val_loss"] for r in rs]
        cells[a["name"]] = {
            "final_val_loss": v,
            "failed": [not math.isfinite(x) or x >= unigram - COLLAPSE_MARGIN for x in v],
            "spikes": [r["spikes"]["count"] for r in rs],
            "max_ratio": [r["spikes"]["max_ratio"] for r in rs],
            "warmup_steps": [r["warmup_steps"] for r in rs],
        }
    per_width: dict[str, Any] = {}
    for d in results["widths"]:
        grid = [a for a in results["arms"] if a["width"] == d and a["in_grid"]]
        w_star, best = shortest_stable(
            {a["warmup"]: cells[a["name"]]["final_val_loss"] for a in grid},
            {a["warmup"]: cells[a["name"]]["failed"] for a in grid},
            TOL,
        )
        means = {a["warmup"]: float(np.mean(cells[a["name"]]["final_val_loss"])) for a in grid}
        ok = [a for a in grid if not any(cells[a["name"]]["failed"])]
        best_arm = min(ok, key=lambda a: means[a["warmup"]]) if ok else min(grid, key=lambda a: means[a["warmup"]])
        arms = (f"d{d}_auto", best_arm["name"], f"d{d}_w0")
        per_width[str(d)] = {
            "shortest_stable_warmup": w_star,
            "best_mean": best,
            "best_fixed_warmup": best_arm["warmup"],
            "auto": auto_gaps(
                {a: cells[a]["final_val_loss"] for a in arms},
                arms[0],
                arms[1:2],
                arms[2],
                "%",
                best_meaning=BEST_MEANING,
            ),
            "auto_warmup_steps": cells[f"d{d}_auto"]["warmup_steps"],
        }
    return {"cells": cells, "per_width": per_width}


def outcome(results: dict[str, Any]) -> dict[str, Any]:
    s = results["summary"]
    widths = results["widths"]
    ws = [s["per_width"][str(d)]["shortest_stable_warmup"] for d in widths]
    inf = [math.inf if w is None else w for w in ws]
    size_ok = bool(all(a <= b for a, b in itertools.pairwise(inf)) and inf[-1] > inf[0])
    big = widths[-1]
    steps = next(a for a in results["arms"] if a["width"] == big)["config"]["steps"]
    fixed = [a for a in results["arms"] if a["width"] == big and a["warmup"] is not None]
    short = [a["name"] for a in fixed if a["warmup"] / steps < SHORT_FRACTION]
    mid = [a["name"] for a in fixed if MID_FRACTIONS[0] <= a["warmup"] / steps <= MID_FRACTIONS[1]]
    short_spiky = sum(1 for n in short for c in s["cells"][n]["spikes"] if c > 0)
    mid_spiky = sum(1 for n in mid for c in s["cells"][n]["spikes"] if c > 0)
    spikes_ok = bool(short and mid and short_spiky > 0 and mid_spiky == 0)
    verdict = (
        "reproduced" if size_ok and spikes_ok else "partly reproduced" if size_ok or spikes_ok else "not reproduced"
    )
    return {
        "criterion": CRITERION,
        "shortest_stable_warmup": dict(zip(map(str, widths), ws)),
        "size_part_holds": size_ok,
        "spike_arms_below_0.5pct": short,
        "spike_arms_1_to_5pct": mid,
        "runs_with_spikes_below_0.5pct": short_spiky,
        "runs_with_spikes_1_to_5pct": mid_spiky,
        "spike_part_holds": spikes_ok,
        "verdict": verdict,
        "reproduced": verdict == "reproduced",
    }


def _seeds(v: list[float], digits: int = 3) -> str:
    return ", ".join("diverged" if not math.isfinite(x) else f"{x:.{digits}f}" for x in v)


def table(results: dict[str, Any]) -> str:
    s = results["summary"]
    lines = [
        "| d_model | warmup (updates) | spec | final val loss | per seed | failed | runs with spikes | worst loss / median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in results["arms"]:
        c = s["cells"][a["name"]]
        w = "auto (default)" if a["warmup"] is None else str(a["warmup"]) + ("" if a["in_grid"] else " (spike arm)")
        if a["warmup"] is None:
            w += f": {', '.join(str(x) for x in c['warmup_steps'])} updates"
        spec = "`auto -> cosine(floor=0.1)`" if a["warmup"] is None else f"`{spec_for(a['warmup'])}`"
        lines.append(
            f"| {a['width']} | {w} | {spec} | {fmt_ms(c['final_val_loss'])} | {_seeds(c['final_val_loss'])} | "
            f"{sum(c['failed'])}/{len(c['failed'])} | {sum(1 for x in c['spikes'] if x > 0)}/{len(c['spikes'])} | "
            f"{fmt_ms(c['max_ratio'], 2)} |"
        )
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    o = results["outcome"]
    s = results["summary"]
    lines = header(results)
    lines += [f"**Criterion** (fixed before the run): {o['criterion']}", "", table(results), ""]
    lines += [
        "| d_model | shortest stable warmup | best fixed | auto vs best fixed: mean (per seed) | auto vs no warmup: mean (per seed) |",
        "|---|---|---|---|---|",
    ]
    for d in results["widths"]:
        p = s["per_width"][str(d)]
        w = "none of the grid" if p["shortest_stable_warmup"] is None else f"{p['shortest_stable_warmup']} updates"
        lines.append(
            f"| {d} | {w} | {p['best_fixed_warmup']} | {fmt_gap(p['auto'], 'best')} | {fmt_gap(p['auto'], 'none')} |"
        )
    lines += [
        "",
        f"*failed* = diverged or final val loss within {COLLAPSE_MARGIN} of the unigram level "
        f"({results['reference_levels']['unigram']:.2f}). Spike: {results['spike_definition']}. Gaps: "
        "100·(auto − reference)/reference of the final val loss, positive = auto worse.",
        "",
        f"**Outcome**: shortest stable warmup per width {o['shortest_stable_warmup']} → size part "
        f"{'holds' if o['size_part_holds'] else 'does not hold'}; at the largest width, runs with spikes: warmup "
        f"< 0.5 %: {o['runs_with_spikes_below_0.5pct']}, 1–5 %: {o['runs_with_spikes_1_to_5pct']} → spike part "
        f"{'holds' if o['spike_part_holds'] else 'does not hold'}. **{o['verdict']}**.",
        "",
        "![final loss vs warmup per width](warmup_vs_width.png)",
        "",
        "![short warmups at the largest width](spikes.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot_sweep(results: dict[str, Any]) -> Any:
    plt = pyplot()
    s = results["summary"]
    fig, ax = plt.subplots(figsize=(8, 4.4), dpi=110)
    for i, d in enumerate(results["widths"]):
        grid = [a for a in results["arms"] if a["width"] == d and a["warmup"] is not None]
        xs = [a["warmup"] for a in grid]
        for a in grid:
            v = s["cells"][a["name"]]["final_val_loss"]
            ax.plot([a["warmup"]] * len(v), v, "o", color=f"C{i}", alpha=0.45, ms=4)
        ax.plot(
            xs,
            [np.nanmean(s["cells"][a["name"]]["final_val_loss"]) for a in grid],
            "-",
            color=f"C{i}",
            label=f"d_model {d}",
        )
        auto = s["cells"][f"d{d}_auto"]
        ax.plot(auto["warmup_steps"], auto["final_val_loss"], "*", color=f"C{i}", ms=11, mec="k", mew=0.5)
        w = s["per_width"][str(d)]["shortest_stable_warmup"]
        if w is not None:
            ax.axvline(w, color=f"C{i}", ls=":", lw=1)
    ax.axhline(results["reference_levels"]["unigram"], color="gray", ls="--", lw=0.8, label="unigram level")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("linear warmup (updates; ★ = automatic warmup at the length it chose; dotted = shortest stable)")
    ax.set_ylabel("final validation loss (nats/byte)")
    ax.set_title(f"E5: final loss vs warmup per width (Pre-LN, peak LR {PEAK_LR:g}; dots = seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_spikes(results: dict[str, Any]) -> Any:
    plt = pyplot()
    d = results["widths"][-1]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    fixed = [a for a in results["arms"] if a["width"] == d and a["warmup"] is not None]
    for i, a in enumerate(fixed):
        r = _cell(results, a["name"])[0]
        ax.plot(
            smooth(r["train_loss"], 1),
            lw=0.9,
            color=plt.cm.viridis(i / max(1, len(fixed) - 1)),
            label=f"warmup {a['warmup']}",
        )
    ax.set_ylim(1.5, 6.0)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (raw)")
    ax.set_title(f"E5: training loss at d_model {d} per warmup length (seed 0)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    from ..tools.plot import plot_schedules

    c = results["arms"][0]["config"]
    specs = sorted({spec_for(a["warmup"]) for a in results["arms"] if a["warmup"] is not None}, key=len)
    scheds = [parse(sp, total_steps=c["steps"], peak_lr=c["peak_lr"]) for sp in specs]
    return plot_schedules(
        scheds, specs, c["steps"], title=f"E5 fixed schedules ({c['steps']} steps, peak LR {c['peak_lr']:g})"
    )
