"""E6 — optimizers said to reduce the need for warmup: Adafactor, Lion and GI-Adam against AdamW.

Setup: E1's Post-LN model, data and AdamW settings (4 layers, d_model 64, cosine to
10 %, weight decay 0.01, no clipping), run for **300** updates (E1: 400; the 5-minute
budget), with the 75-step linear warmup (a quarter, as E1's 100 of 400) and without, for four
optimizers (:mod:`rampup.experiments.optimizers`): AdamW (0.9, 0.98); torch's
Adafactor (relative step ``min(lr, 1/sqrt(t))·RMS(θ)``, β2 schedule ``1 − t^-0.8``,
update clipping, no momentum); Lion (Chen et al. 2023, β = (0.9, 0.99), 10× the
weight decay); GI-Adam (Kalra & Barkeshli 2024: AdamW with ``v_0 = g_1²``).

**Each at its own tuned LR, by a fixed rule.**  AdamW, Adafactor and Lion (:data:`TUNED`)
have a nominal LR ``BASE_LR`` (AdamW: E1's 1e-2; Adafactor: torch's default 1e-2, its
largest relative step; Lion: 1e-3, the paper's 3–10× below AdamW) and a half-decade
grid below it, ``base × {0.1, 0.316, 1}``.  Seed 0 runs the whole grid, with and
without warmup; with warmup and without, each optimizer then uses the grid LR of
its lowest seed-0 final validation loss, and seeds 1, 2 run at that LR only (the
5-minute budget: 18 + 12 runs instead of 54).  Seed 0 chose the LR, so it is not
an independent sample; seeds 1 and 2 are.  **GI-Adam** changes one thing in AdamW
(``v_0``), and its paper's claim is that this lets a user drop the warmup at the LR
they have: it runs with and without warmup at **AdamW's tuned warmup LR**, on every
seed (no grid of its own).  The automatic warmup (``AutoWarmup`` at its defaults,
then the cosine) runs with AdamW at AdamW's warmup LR on every seed.

The criterion, fixed before the first full run: the *need for warmup* of an
optimizer is the seed-mean final validation loss without warmup minus with it,
each at its own tuned LR (a diverged run scores the loss at initialization, as in E2).  The claim holds for an optimizer when its need is below
AdamW's (reduces) and above ``MIN_NEED`` nats (does not eliminate).  Reproduced if
it holds for both Adafactor and Lion; partly if for one; not reproduced otherwise.
GI-Adam is reported beside them, outside the verdict.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from .. import parse
from ..support.optional import pyplot
from .auto_runs import fmt_gaps
from .common import cell_code, fmt_ms, header, mean_std, results_head, run_jobs, smooth, timed, write_outputs
from .data import load_corpus, reference_levels
from .e6e8_runs import ExtraRun, run_job, warmup_gaps
from .optimizers import OPTIMIZERS
from .train import LMConfig

NAME = "e6"
TITLE = "Adafactor, Lion and GI-Adam vs AdamW, with and without warmup, each at its tuned LR (Post-LN)"
CLAIM = "Adafactor and Lion reduce the need for warmup in some regimes but do not eliminate it."
BASE_LR = {"adamw": 1e-2, "adafactor": 1e-2, "lion": 1e-3}
TUNED = tuple(BASE_LR)  # the optimizers with an LR grid of their own; GI-Adam runs at AdamW's warmup LR
STEPS = 300
GRID = (0.1, 10**-0.5, 1.0)  # × BASE_LR: a half-decade grid up to the nominal LR
MIN_NEED = 0.02  # nats: a need for warmup below this counts as eliminated
LABELS = {"adamw": "AdamW", "adafactor": "Adafactor", "lion": "Lion", "gi_adamw": "GI-Adam (v0 = g1²)"}
CRITERION = (
    "need(o) = mean final val loss without warmup − with warmup, each at o's tuned LR (a diverged run scores the "
    "loss at initialization); the claim holds for o "
    f"when need(o) < need(AdamW) and need(o) > {MIN_NEED:g} nats. Reproduced: holds for Adafactor and Lion; "
    "partly: for one of them; not reproduced: for neither (GI-Adam reported, not judged)."
)


def grid(opt: str) -> list[float]:
    """The LR grid of ``opt``: ``BASE_LR[opt] × GRID``, rounded to 3 significant digits.

    >>> grid("lion")
    [0.0001, 0.000316, 0.001]
    """
    return [float(f"{BASE_LR[opt] * f:.3g}") for f in GRID]


def configs(steps: int = STEPS) -> dict[str, LMConfig]:
    """The warmup (``steps // 4``) and no-warmup configs at peak 1e-2 (the LR is set per run)."""
    decay = "cosine(floor=0.1)"
    base = LMConfig(steps=steps, spec=decay)
    return {"warmup": replace(base, spec=f"linear({steps // 4}) -> {decay}"), "none": base}


def pick_lr(values: dict[float, float]) -> float:
    """The LR with the lowest final loss; a diverged run (NaN) counts as the worst; ties: the smaller LR.

    >>> pick_lr({1e-3: 2.5, 3e-3: 2.3, 1e-2: float("nan")})
    0.003
    """
    return min(values, key=lambda lr: (values[lr] if math.isfinite(values[lr]) else math.inf, lr))


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E6 and write ``results.json``, ``report.md``, ``lr_grid.png``, ``final_loss.png``, ``loss_curves.png``,
    ``schedules.png``."""
    t0 = time.perf_counter()
    steps = 24 if quick else STEPS
    cfgs = configs(steps)
    if quick:
        cfgs = {k: replace(c, eval_windows=32) for k, c in cfgs.items()}
    # Phase 1: seed 0 over every optimizer's grid, with and without warmup.
    tune = [
        ExtraRun(replace(c, peak_lr=lr), 0, f"{o}_{w}", optimizer=o, tags={"lr": lr, "phase": "grid"})
        for o in TUNED
        for w, c in cfgs.items()
        for lr in grid(o)
    ]
    res = run_jobs(
        [run_job(r) for r in tune], workers, desc=f"E6 LR grid, seed 0 ({len(tune)} runs)", progress=progress
    )
    chosen = {
        f"{o}_{w}": pick_lr({r["lr"]: r["final_val_loss"] for r in res if r["arm"] == f"{o}_{w}"})
        for o in TUNED
        for w in cfgs
    }
    auto_lr = chosen["adamw_warmup"]
    chosen |= {f"gi_adamw_{w}": auto_lr for w in cfgs}
    # Phase 2: the other seeds at the chosen LRs; GI-Adam (at AdamW's warmup LR) and the automatic warmup (AdamW
    # at that LR) on every seed.
    more = [
        ExtraRun(replace(c, peak_lr=chosen[f"{o}_{w}"]), s, f"{o}_{w}", optimizer=o, tags={"lr": chosen[f"{o}_{w}"]})
        for s in range(seeds)
        for o in OPTIMIZERS
        for w, c in cfgs.items()
        if s > 0 or o not in TUNED
    ]
    more += [
        ExtraRun(replace(cfgs["none"], peak_lr=auto_lr), s, "adamw_auto", auto=True, tags={"lr": auto_lr})
        for s in range(seeds)
    ]
    res += run_jobs(
        [run_job(r) for r in more], workers, desc=f"E6 tuned LRs and auto ({len(more)} runs)", progress=progress
    )
    for r in res:
        r.setdefault("phase", "tuned")
    refs = reference_levels()
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "reference_levels": refs,
        "base_lr": BASE_LR,
        "grid_factors": list(GRID),
        "grids": {o: grid(o) for o in TUNED},
        "lr_rule": "per optimizer and warmup: the grid LR with the lowest seed-0 final val loss (NaN = worst); "
        "GI-Adam, with and without warmup: AdamW's warmup LR",
        "min_need": MIN_NEED,
        "chosen_lr": chosen,
        "arms": [
            {
                "name": f"{o}_{w}",
                "label": f"{LABELS[o]}, {'linear warmup ' + str(steps // 4) if w == 'warmup' else 'no warmup'}",
                "optimizer": o,
                "warmup": w,
                "spec": c.spec,
                "lr": chosen[f"{o}_{w}"],
                "config": replace(c, peak_lr=chosen[f"{o}_{w}"]).to_dict(),
            }
            for o in OPTIMIZERS
            for w, c in cfgs.items()
        ],
        "auto_arms": [
            {
                "name": "adamw_auto",
                "label": "AdamW, automatic warmup (defaults)",
                "optimizer": "adamw",
                "spec": f"auto -> {cfgs['none'].spec}",
                "lr": auto_lr,
                "config": replace(cfgs["none"], peak_lr=auto_lr).to_dict(),
            }
        ],
        "runs": res,
    }
    results["summary"] = summarize(results, refs["unigram"])
    results["auto"] = warmup_gaps(results["summary"], "adamw_auto", "adamw_warmup", "adamw_none")
    results["outcome"] = outcome(results["summary"])
    results["wall_s"] = timed(t0)
    figs = {
        "lr_grid.png": plot_grid(results),
        "final_loss.png": plot_final(results),
        "loss_curves.png": plot_curves(results),
        "schedules.png": plot_schedules_used(results),
    }
    write_outputs(out, results, report(results), figs)
    return results


def _tuned(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The runs of arm ``name`` at its chosen LR, by seed (seed 0's is the grid run at that LR)."""
    lr = next(a["lr"] for a in results["arms"] + results["auto_arms"] if a["name"] == name)
    return sorted((r for r in results["runs"] if r["arm"] == name and r["lr"] == lr), key=lambda r: r["seed"])


def summarize(results: dict[str, Any], unigram: float) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for a in results["arms"] + results["auto_arms"]:
        rs = _tuned(results, a["name"])
        final = [r["final_val_loss"] for r in rs]
        m, sd, bad = mean_std(final)
        # a diverged run (NaN) scores the loss at initialization, as in E2, so that it cannot drop out of a mean
        scored = [v if np.isfinite(v) else r["val_loss_init"] for v, r in zip(final, rs)]
        s[a["name"]] = {
            "lr": a["lr"],
            "final_val_loss": final,
            "final_val_loss_scored_mean": mean_std(scored)[0],
            "final_val_loss_mean": m,
            "final_val_loss_std": sd,
            "diverged": bad,
            "collapsed": sum(1 for v in final if not np.isfinite(v) or v >= unigram - 0.1),
            "warmup_steps": [r.get("warmup_steps") for r in rs],
            "n": len(rs),
        }
    s["grid_seed0"] = {
        a["name"]: {
            str(r["lr"]): r["final_val_loss"] for r in results["runs"] if r["arm"] == a["name"] and r["seed"] == 0
        }
        for a in results["arms"]
        if a["optimizer"] in TUNED
    }
    s["need"] = {
        o: s[f"{o}_none"]["final_val_loss_scored_mean"] - s[f"{o}_warmup"]["final_val_loss_scored_mean"]
        for o in OPTIMIZERS
    }
    return s


def outcome(summary: dict[str, Any]) -> dict[str, Any]:
    need = summary["need"]
    holds = {}
    for o in ("adafactor", "lion", "gi_adamw"):
        holds[o] = {
            "reduces": bool(need[o] < need["adamw"]),
            "not_eliminated": bool(need[o] > MIN_NEED),
        }
        holds[o]["holds"] = holds[o]["reduces"] and holds[o]["not_eliminated"]
    n = sum(holds[o]["holds"] for o in ("adafactor", "lion"))
    verdict = "reproduced" if n == 2 else "partly" if n == 1 else "not reproduced"
    return {
        "criterion": CRITERION,
        "need": need,
        "per_optimizer": holds,
        "verdict": verdict,
        "reproduced": verdict == "reproduced",
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        "| optimizer | warmup | spec (rampup) | tuned peak LR | final val loss | per seed | collapsed |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in results["arms"] + results["auto_arms"]:
        s = results["summary"][a["name"]]
        ws = s["warmup_steps"]
        spec = cell_code(a["spec"]) + (f" (warmup {', '.join(str(x) for x in ws)} steps)" if ws[0] is not None else "")
        lab = a["label"].split(", ", 1)
        lines.append(
            f"| {lab[0]} | {lab[1]} | {spec} | {a['lr']:g} | {fmt_ms(s['final_val_loss'])} | "
            f"{', '.join('diverged' if not np.isfinite(v) else f'{v:.3f}' for v in s['final_val_loss'])} | "
            f"{s['collapsed']}/{s['n']} |"
        )
    return "\n".join(lines)


def grid_table(results: dict[str, Any]) -> str:
    lines = ["| optimizer | warmup | " + " | ".join(["LR (seed 0 final val loss)"] * 3) + " |", "|---|---|---|---|---|"]
    for a in results["arms"]:
        if a["name"] not in results["summary"]["grid_seed0"]:
            continue  # GI-Adam: AdamW's warmup LR, no grid
        g = results["summary"]["grid_seed0"][a["name"]]
        cells = [
            (f"**{lr} → {v:.3f}**" if float(lr) == a["lr"] else f"{lr} → {v:.3f}")
            if v is not None and np.isfinite(v)
            else f"{lr} → diverged"
            for lr, v in g.items()
        ]
        lab = a["label"].split(", ", 1)
        lines.append(f"| {lab[0]} | {lab[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    o = results["outcome"]
    need = o["need"]
    lines = header(results)
    lines += [
        table(results),
        "",
        "mean ± sample std over seeds, each arm at its own tuned LR (seed 0 chose it from the grid below; GI-Adam "
        "at AdamW's warmup LR); "
        f"*collapsed* = final val loss within 0.1 of the unigram level ({results['reference_levels']['unigram']:.2f}).",
        "",
        "LR grid on seed 0 (bold: the chosen LR):",
        "",
        grid_table(results),
        "",
        "Need for warmup (mean final val loss, no warmup − warmup, each at its tuned LR): "
        + ", ".join(f"{LABELS[k]} {v:+.3f}" for k, v in need.items())
        + " nats.",
        "",
        f"Automatic warmup (AdamW at LR {results['auto_arms'][0]['lr']:g}, AutoWarmup at its defaults, then "
        f"`cosine(floor=0.1)`): {fmt_gaps(results['auto'], 'AdamW, fixed warmup')}",
        "",
        "**Outcome**: "
        + "; ".join(
            f"{LABELS[k]}: reduces {'yes' if v['reduces'] else 'no'}, not eliminated "
            f"{'yes' if v['not_eliminated'] else 'no'}"
            for k, v in o["per_optimizer"].items()
        )
        + f" → verdict: **{o['verdict']}** ({o['criterion']})",
        "",
        "![LR grid](lr_grid.png)",
        "",
        "![final loss](final_loss.png)",
        "",
        "![loss curves](loss_curves.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot_grid(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    fig, axes = plt.subplots(1, len(TUNED), figsize=(10, 3.8), dpi=110, sharey=True)
    for ax, o in zip(axes, TUNED):
        for w, ls in (("warmup", "-"), ("none", "--")):
            g = results["summary"]["grid_seed0"][f"{o}_{w}"]
            lrs = [float(k) for k in g]
            ax.plot(lrs, [np.nan if v is None else v for v in g.values()], "o" + ls, label=w)
        ax.axhline(refs["unigram"], color="gray", lw=0.8, ls=":", label=f"unigram {refs['unigram']:.2f}")
        ax.set_xscale("log")
        ax.set_title(f"{LABELS[o]}", fontsize=9)
        ax.set_xlabel("peak LR")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("seed-0 final val loss (nats/byte)")
    steps = results["arms"][0]["config"]["steps"]
    fig.suptitle(f"E6: the LR grid on seed 0 (linear warmup {steps // 4} vs none)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_final(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    arms = results["arms"] + results["auto_arms"]
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=110)
    for i, a in enumerate(arms):
        s = results["summary"][a["name"]]
        v = np.asarray([np.nan if x is None else x for x in s["final_val_loss"]], dtype=float)
        ax.plot(np.full(v.size, i), v, "o", color="C0", alpha=0.6, ms=5)
        ax.errorbar([i], [s["final_val_loss_mean"]], yerr=[s["final_val_loss_std"]], fmt="_", color="k", ms=18)
    ax.axhline(refs["unigram"], color="gray", lw=0.8, ls="--", label=f"unigram {refs['unigram']:.2f}")
    ticks = [a["label"].replace(", ", "\n").replace(" (v0 = g1²)", "") + f"\nLR {a['lr']:g}" for a in arms]
    ax.set_xticks(range(len(arms)), ticks, fontsize=6)
    ax.set_ylabel("final validation loss (nats/byte)")
    ax.set_title("E6: final validation loss at each arm's tuned LR (dots = seeds, bar = mean ± std)", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_curves(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    fig, axes = plt.subplots(1, len(OPTIMIZERS), figsize=(13, 3.8), dpi=110, sharey=True)
    for ax, o in zip(axes, OPTIMIZERS):
        for a in results["arms"] + results["auto_arms"]:
            if a["optimizer"] != o:
                continue
            rs = _tuned(results, a["name"])
            n = max(len(r["train_loss"]) for r in rs)
            c = np.full((len(rs), n), np.nan)
            for i, r in enumerate(rs):
                c[i, : len(r["train_loss"])] = r["train_loss"]
            ax.plot(smooth(np.nanmean(c, axis=0), 10), lw=1.2, label=f"{a['label'].split(', ', 1)[1]}, LR {a['lr']:g}")
        ax.axhline(refs["unigram"], color="gray", lw=0.8, ls="--")
        ax.set_title(LABELS[o], fontsize=9)
        ax.set_xlabel("optimizer update")
        ax.set_ylim(1.5, 4.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("train loss (mean over seeds, 10-step avg)")
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    """The two fixed schedules and, per seed, the curve the automatic warmup exported (as a fraction of the peak)."""
    from ..tools.plot import plot_schedules

    steps = results["arms"][0]["config"]["steps"]
    specs = {a["spec"]: a["spec"] for a in results["arms"]}
    for r in results["runs"]:
        if r.get("exported_spec"):
            specs.setdefault(r["exported_spec"], f"AdamW auto, seed {r['seed']}: {r['warmup_steps']} steps")
    scheds = [parse(s, total_steps=steps) for s in specs]
    return plot_schedules(scheds, list(specs.values()), steps, title=f"E6 schedules ({steps} steps, × the tuned peak)")
