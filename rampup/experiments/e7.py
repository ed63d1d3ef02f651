"""E7 — do Pre-LN and careful initialization (DeepNorm, ReZero, Fixup) shorten the warmup a high LR needs?

Transformers: E1's byte LM (4 layers, d_model 64, 4 heads, batch 16; sequence 32 and 300 updates to fit the
time budget), AdamW (0.9, 0.98), weight decay 0.01, no clipping, E1's high peak LR 1e-2, cosine to 10 %, as
Post-LN, Pre-LN, DeepNorm and ReZero (:mod:`.e5e7_runs`), with a linear warmup of 0, 10, 25, 50 or 100
updates and the automatic warmup (``AutoWarmup`` at its defaults).  Digits: E3's large-batch SGD (batch
512, peak LR 3.2, 30 epochs = 60 updates, LR ÷ 10 at 1/3, 2/3, 8/9) on :class:`TinyResNet` (BatchNorm, γ = 0
on each block's last BN) and on the same ResNet without BatchNorm with Fixup, with a gradual warmup of 0, 1,
2, 5 or 10 epochs from the small-batch LR (E4b's grid) and the automatic warmup from the same start.

*Shortest stable warmup* (:func:`~rampup.experiments.e5e7_runs.shortest_stable`, fixed before the run): the
shortest warmup of the grid with no failed seed whose seed mean is within a tolerance of the best such
warmup of the same model.  Transformers: failed = diverged or final validation loss within 0.1 of the
unigram level (E1's collapse), tolerance 0.05 nats.  Digits: failed = diverged or final test error ≥ 10 %,
tolerance 1 percentage point.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..support.optional import pyplot
from .auto_runs import Arm, auto_gaps, fmt_gap
from .common import fmt_ms, header, mean_std, results_head, run_jobs, smooth, timed, write_outputs
from .data import load_corpus, load_digits, reference_levels
from .e5e7_runs import deepnorm_constants, shortest_stable, variant_job
from .train import DigitsConfig, LMConfig, digits_spec

NAME = "e7"
TITLE = "architecture and initialization: Post-LN vs Pre-LN, DeepNorm, ReZero (LM) and Fixup (digits ResNet)"
CLAIM = (
    "Pre-Norm and careful initialization (Fixup, DeepNorm, ReZero) reduce the warmup length required but "
    "rarely make it safe to omit."
)
ARCHS = ("post_ln", "pre_ln", "deepnorm", "rezero")
ARCH_LABELS = {"post_ln": "Post-LN", "pre_ln": "Pre-LN", "deepnorm": "DeepNorm", "rezero": "ReZero"}
INITS = ("default", "fixup")
INIT_LABELS = {"default": "ResNet, BatchNorm (default)", "fixup": "ResNet, Fixup (no BatchNorm)"}
LM_WARMUPS = (0, 10, 25, 50, 100)  # updates
DIGITS_WARMUPS = (0, 1, 2, 5, 10)  # epochs (2 updates each at batch 512)
LM_STEPS = 300
PEAK_LR = 1e-2
DECAY = "cosine(floor=0.1)"
LM_TOL = 0.05  # nats
#: E5/E7's best fixed warmup: the lowest seed mean among the warmups with no failed seed (all if none).
BEST_MEANING = "the fixed warmup with the lowest seed mean among those with no failed seed (all if every one failed)"
COLLAPSE_MARGIN = 0.1  # E1's collapse: a final val loss within this of the unigram level
DIGITS_TOL = 0.01  # 1 percentage point of test error
DIGITS_FAIL = 0.10  # a final test error at or above 10 % is a failed run (the baseline is ~1 %)
CRITERION = (
    "shortest stable warmup W* per model (LM grid 0/10/25/50/100 updates: stable = no seed diverged or "
    f"collapsed and seed mean within {LM_TOL} nats of the best; digits grid 0/1/2/5/10 epochs: no seed "
    f"diverged or at >= {DIGITS_FAIL:.0%} test error and seed mean within {100 * DIGITS_TOL:g} point of the "
    "best; none of the grid = longer than all). (a) reduce: W* is shorter than the baseline's (Post-LN for "
    "Pre-LN, DeepNorm, ReZero; BatchNorm default for Fixup) for at least 3 of the 4 variants; (b) rarely "
    "safe to omit: W* = 0 for at most 1 of the 4. Reproduced = (a) and (b); partly = one; not reproduced = neither."
)
BASELINE = {"pre_ln": "post_ln", "deepnorm": "post_ln", "rezero": "post_ln", "fixup": "default"}


def lm_config(quick: bool = False) -> LMConfig:
    if quick:
        return LMConfig(spec=DECAY, n_layers=2, d_model=16, n_heads=2, seq_len=16, batch=4, steps=16, eval_windows=16)
    return LMConfig(
        spec=DECAY, n_layers=4, d_model=64, n_heads=4, seq_len=32, batch=16, steps=LM_STEPS, peak_lr=PEAK_LR
    )


def digits_config(quick: bool = False) -> DigitsConfig:
    return DigitsConfig(width=4, epochs=6) if quick else DigitsConfig()  # E3's batch 512 at LR 3.2


def cells(quick: bool = False) -> list[dict[str, Any]]:
    """Every (model, arm): ``kind`` lm/digits, ``variant``, ``warmup`` (updates / epochs; None = auto), plan."""
    out: list[dict[str, Any]] = []
    cfg = lm_config(quick)
    for arch in ARCHS:
        for w in (0, 4) if quick else LM_WARMUPS:
            spec = DECAY if w == 0 else f"linear({w}) -> {DECAY}"
            out.append(
                {"kind": "lm", "variant": arch, "warmup": w, "arm": Arm("fixed", f"w{w}", spec=spec), "cfg": cfg}
            )
        out.append(
            {"kind": "lm", "variant": arch, "warmup": None, "arm": Arm("auto", "auto", method="update"), "cfg": cfg}
        )
    dcfg = digits_config(quick)
    spe = load_digits().y_train.size // dcfg.batch
    for init in INITS:
        for e in (0, 1) if quick else DIGITS_WARMUPS:
            dc = replace(dcfg, warmup="gradual" if e else "none", warmup_epochs=float(e))
            spec, _ = digits_spec(dc, spe)
            out.append(
                {"kind": "digits", "variant": init, "warmup": e, "arm": Arm("fixed", f"w{e}", spec=spec), "cfg": dc}
            )
        auto = Arm("auto", "auto", method="update")  # start: the small-batch LR, as the fixed warmups (in the loop)
        out.append({"kind": "digits", "variant": init, "warmup": None, "arm": auto, "cfg": dcfg})
    for c in out:
        c["name"] = f"{c['variant']}_{'auto' if c['warmup'] is None else 'w' + str(c['warmup'])}"
    return out


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E7 and write ``results.json``, ``report.md``, ``warmup_lm.png``, ``warmup_digits.png``, ``loss_curves.png``."""
    t0 = time.perf_counter()
    cell_list = cells(quick)
    jobs = [
        variant_job(
            c["kind"], c["cfg"], c["variant"], s, c["arm"], _steps(c), tags={"cell": c["name"], "kind": c["kind"]}
        )
        for s in range(seeds)
        for c in cell_list
    ]
    runs = run_jobs(jobs, workers, desc=f"E7 ({len(jobs)} runs)", progress=progress)
    for r in runs:
        r.pop("events", None)
    refs = reference_levels()
    n_layers = cell_list[0]["cfg"].n_layers
    alpha, beta = deepnorm_constants(n_layers)
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "reference_levels": refs,
        "criterion": CRITERION,
        "deepnorm": {"n_layers": n_layers, "alpha": alpha, "beta": beta},
        "cells": [
            {
                "name": c["name"],
                "kind": c["kind"],
                "variant": c["variant"],
                "warmup": c["warmup"],
                "plan": c["arm"].to_dict(),
                "config": c["cfg"].to_dict(),
            }
            for c in cell_list
        ],
        "runs": runs,
    }
    results["summary"] = summarize(results, refs["unigram"])
    results["outcome"] = outcome(results)
    results["wall_s"] = timed(t0)
    figs = {
        "warmup_lm.png": plot_sweep(results, "lm"),
        "warmup_digits.png": plot_sweep(results, "digits"),
        "loss_curves.png": plot_curves(results),
    }
    write_outputs(out, results, report(results), figs)
    return results


def _steps(c: dict[str, Any]) -> int:
    if c["kind"] == "lm":
        return int(c["cfg"].steps)
    return int(c["cfg"].epochs * (load_digits().y_train.size // c["cfg"].batch))


def _metric(r: dict[str, Any]) -> float:
    v = r["final_val_loss"] if r["kind"] == "lm" else r["final_test_error"]
    return math.nan if r["diverged"] or v is None else float(v)


def summarize(results: dict[str, Any], unigram: float) -> dict[str, Any]:
    per_cell: dict[str, Any] = {}
    for c in results["cells"]:
        rs = sorted((r for r in results["runs"] if r["cell"] == c["name"]), key=lambda r: r["seed"])
        v = [_metric(r) for r in rs]
        limit = unigram - COLLAPSE_MARGIN if c["kind"] == "lm" else DIGITS_FAIL
        per_cell[c["name"]] = {
            "metric": v,
            "failed": [not math.isfinite(x) or x >= limit for x in v],
            "warmup_steps": [r["warmup_steps"] for r in rs],
            "spec": [r["spec"] for r in rs],
        }
    models: dict[str, Any] = {}
    for variant in (*ARCHS, *INITS):
        grid = [c for c in results["cells"] if c["variant"] == variant and c["warmup"] is not None]
        kind = grid[0]["kind"]
        w_star, best = shortest_stable(
            {c["warmup"]: per_cell[c["name"]]["metric"] for c in grid},
            {c["warmup"]: per_cell[c["name"]]["failed"] for c in grid},
            LM_TOL if kind == "lm" else DIGITS_TOL,
        )
        means = {c["name"]: float(np.mean(per_cell[c["name"]]["metric"])) for c in grid}
        ok = [c for c in grid if not any(per_cell[c["name"]]["failed"])] or grid
        best_cell = min(ok, key=lambda c: means[c["name"]] if math.isfinite(means[c["name"]]) else math.inf)
        arms = (f"{variant}_auto", best_cell["name"], f"{variant}_w0")
        models[variant] = {
            "kind": kind,
            "shortest_stable_warmup": w_star,
            "best_mean": best,
            "best_fixed_warmup": best_cell["warmup"],
            "auto": auto_gaps(
                {a: per_cell[a]["metric"] for a in arms},
                arms[0],
                arms[1:2],
                arms[2],
                "%" if kind == "lm" else "pt",
                best_meaning=BEST_MEANING,
            ),
            "gap_unit": "% of the final val loss" if kind == "lm" else "percentage points of test error",
        }
    return {"cells": per_cell, "models": models}


def outcome(results: dict[str, Any]) -> dict[str, Any]:
    m = results["summary"]["models"]

    def w(v: str) -> float:
        x = m[v]["shortest_stable_warmup"]
        return math.inf if x is None else float(x)

    reduces = {v: bool(w(v) < w(b)) for v, b in BASELINE.items()}
    omit_safe = {v: bool(w(v) == 0) for v in BASELINE}
    a = sum(reduces.values()) >= 3
    b = sum(omit_safe.values()) <= 1
    verdict = "reproduced" if a and b else "partly reproduced" if a or b else "not reproduced"
    return {
        "criterion": CRITERION,
        "shortest_stable_warmup": {v: m[v]["shortest_stable_warmup"] for v in m},
        "reduces": reduces,
        "safe_to_omit": omit_safe,
        "reduce_part_holds": a,
        "rarely_omit_part_holds": b,
        "verdict": verdict,
        "reproduced": verdict == "reproduced",
    }


def _label(variant: str) -> str:
    return ARCH_LABELS.get(variant) or INIT_LABELS[variant]


def _fmt(kind: str, v: list[float]) -> tuple[str, str]:
    if kind == "lm":
        return fmt_ms(v), ", ".join("diverged" if not math.isfinite(x) else f"{x:.3f}" for x in v)
    return fmt_ms(v, 1, 100, " %"), ", ".join("diverged" if not math.isfinite(x) else f"{100 * x:.1f}" for x in v)


def report(results: dict[str, Any]) -> str:
    o = results["outcome"]
    s = results["summary"]
    dn = results["deepnorm"]
    lines = header(results)
    lines += [
        f"**Criterion** (fixed before the run): {o['criterion']}",
        "",
        f"DeepNorm for {dn['n_layers']} layers: α = (2N)^(1/4) = {dn['alpha']:.4f}, β = (8N)^(−1/4) = {dn['beta']:.4f}.",
        "",
        "| model | warmup | spec (seed 0) | final metric | per seed | failed |",
        "|---|---|---|---|---|---|",
    ]
    for c in results["cells"]:
        p = s["cells"][c["name"]]
        unit = "updates" if c["kind"] == "lm" else "epochs"
        w = (
            f"{c['warmup']} {unit}"
            if c["warmup"] is not None
            else (f"auto (default): {', '.join(str(x) for x in p['warmup_steps'])} updates")
        )
        spec = (
            p["spec"][0] if c["warmup"] is not None else "auto -> " + (DECAY if c["kind"] == "lm" else "multistep(…)")
        )
        mean, seeds = _fmt(c["kind"], p["metric"])
        lines.append(
            f"| {_label(c['variant'])} | {w} | `{spec.replace('|', chr(92) + '|')}` | {mean} | {seeds} | "
            f"{sum(p['failed'])}/{len(p['failed'])} |"
        )
    lines += [
        "",
        "Final metric: validation loss (nats/byte) for the transformers, test error for the ResNets.",
        "",
        "| model | shortest stable warmup | best fixed | auto vs best fixed: mean (per seed) | auto vs no warmup: mean (per seed) | gap unit |",
        "|---|---|---|---|---|---|",
    ]
    for v, mm in s["models"].items():
        unit = "updates" if mm["kind"] == "lm" else "epochs"
        wst = "none of the grid" if mm["shortest_stable_warmup"] is None else f"{mm['shortest_stable_warmup']} {unit}"
        lines.append(
            f"| {_label(v)} | {wst} | {mm['best_fixed_warmup']} {unit} | {fmt_gap(mm['auto'], 'best')} | "
            f"{fmt_gap(mm['auto'], 'none')} | {mm['gap_unit']} |"
        )
    red = ", ".join(f"{_label(v)} {'yes' if x else 'no'}" for v, x in o["reduces"].items())
    omit = ", ".join(f"{_label(v)} {'yes' if x else 'no'}" for v, x in o["safe_to_omit"].items())
    lines += [
        "",
        f"**Outcome**: shorter warmup than the baseline — {red} → reduce part "
        f"{'holds' if o['reduce_part_holds'] else 'does not hold'}; safe without warmup — {omit} → "
        f"'rarely safe to omit' {'holds' if o['rarely_omit_part_holds'] else 'does not hold'}. **{o['verdict']}**.",
        "",
        "![transformers: final loss vs warmup](warmup_lm.png)",
        "",
        "![digits ResNet: test error vs warmup](warmup_digits.png)",
        "",
        "![training loss without and with warmup](loss_curves.png)",
        "",
    ]
    return "\n".join(lines)


def plot_sweep(results: dict[str, Any], kind: str) -> Any:
    plt = pyplot()
    s = results["summary"]
    fig, ax = plt.subplots(figsize=(8, 4.4), dpi=110)
    variants = ARCHS if kind == "lm" else INITS
    scale = 1.0 if kind == "lm" else 100.0
    for i, v in enumerate(variants):
        grid = [c for c in results["cells"] if c["variant"] == v and c["warmup"] is not None]
        if not grid:
            continue
        xs = [c["warmup"] for c in grid]
        for c in grid:
            y = np.asarray(s["cells"][c["name"]]["metric"], dtype=float) * scale
            ax.plot([c["warmup"]] * y.size, y, "o", color=f"C{i}", alpha=0.45, ms=4)
        means = [mean_std(s["cells"][c["name"]]["metric"])[0] * scale for c in grid]  # NaN when every seed diverged
        ax.plot(xs, means, "-", color=f"C{i}", label=_label(v))
        w = s["models"][v]["shortest_stable_warmup"]
        if w is not None:
            ax.axvline(w, color=f"C{i}", ls=":", lw=1)
    if kind == "lm":
        ax.axhline(results["reference_levels"]["unigram"], color="gray", ls="--", lw=0.8, label="unigram level")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("linear warmup (updates; dotted = shortest stable)")
        ax.set_ylabel("final validation loss (nats/byte)")
        ax.set_title(f"E7: transformers at peak LR {PEAK_LR:g} (dots = seeds; diverged runs missing)", fontsize=9)
    else:
        ax.set_xlabel("gradual warmup (epochs; dotted = shortest stable)")
        ax.set_ylabel("final test error (%)")
        ax.set_title("E7: digits ResNet, batch 512 at LR 3.2 (dots = seeds; diverged runs missing)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_curves(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharey=True)
    lm = [c for c in results["cells"] if c["kind"] == "lm" and c["warmup"] is not None]
    longest = max(c["warmup"] for c in lm)
    for ax, w in ((axes[0], 0), (axes[1], longest)):
        for i, v in enumerate(ARCHS):
            r = next((r for r in results["runs"] if r["cell"] == f"{v}_w{w}" and r["seed"] == 0), None)
            if r is not None:
                ax.plot(smooth(r["train_loss"], 5), lw=1.1, color=f"C{i}", label=_label(v))
        ax.axhline(results["reference_levels"]["unigram"], color="gray", ls="--", lw=0.8)
        ax.set_title(f"E7: training loss, warmup {w} updates (seed 0, 5-step average)", fontsize=9)
        ax.set_xlabel("optimizer step")
        ax.set_ylim(1.5, 6.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("cross-entropy (nats/byte)")
    fig.tight_layout()
    return fig
