"""E10 — does the best fine-tuning warmup grow with the size of the fine-tuning set?

Claim: "50 to 500 steps is typical; the optimal length scales with the size of the
dataset".  Setting: E4d's fine-tuning — the E1 Post-LN model pretrained on the first
half of the corpus (part a; 400 steps, ``linear(100) -> cosine(floor=0.1)``, peak
1e-2), then fine-tuned on the second half (part b) at peak 1e-2 with a new output
layer and a fresh AdamW (E4d's arm where the re-warmup mattered).  Three
fine-tuning sets: the first 20,480 / 61,440 / 184,320 bytes of part b's train split,
each fine-tuned for 2 epochs' worth of windows (batch 16 × 64 bytes: 40 / 120 / 360
updates) — as in practice, a larger set means a longer fine-tuning run.  At each
size a sweep of linear warmups of 0, 10, 20, 40, 80, 160 updates (those up to half
the run) followed by cosine to 10 %, and the automatic warmup.  Validation: part
b's validation split (the same for every size).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..support.optional import pyplot
from .auto_runs import auto_gaps, fmt_gaps
from .common import Job, cell_code, fmt_ms, header, mean_std, results_head, run_jobs, timed, write_outputs
from .data import load_corpus, reference_levels
from .e9e11_loop import XConfig, quick_lm, x_job
from .train import LMConfig

NAME = "e10"
TITLE = "the best fine-tuning warmup vs the size of the fine-tuning set"
CLAIM = "50 to 500 steps is typical; the optimal (fine-tuning warmup) length scales with the size of the dataset."
EPOCHS = 2  # fine-tuning passes over each set (in windows' worth of bytes)
SIZES_STEPS = (40, 120, 360)  # fine-tuning updates per size; the set is steps · batch · seq_len / EPOCHS bytes
GRID = (0, 10, 20, 40, 80, 160)  # warmup lengths (updates); each size runs those <= half its run
# Fixed before the first full run (never edited after seeing results):
TIE_MIN = 0.01  # nats
CRITERION = (
    "best length at a size = the warmup with the lowest seed-mean final val loss; tied with it = every length whose "
    f"mean is within max({TIE_MIN} nats, the standard error over seeds of its paired difference to the best). "
    "Reproduced: the best length does not decrease from size to size, is longer at the largest size than at the "
    "smallest, and every length tied at the largest size is longer than every length tied at the smallest; partly: "
    "the first two only; not reproduced: otherwise."
)


def plan(quick: bool) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(updates per size, warmup grid, pretraining updates)."""
    return ((8, 12, 16), (0, 2, 4, 8), 20) if quick else (SIZES_STEPS, GRID, 400)


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E10 and write ``results.json``, ``report.md``, ``loss_vs_warmup.png``."""
    t0 = time.perf_counter()
    sizes, grid, pre_steps = plan(quick)
    pre = LMConfig(
        spec=f"linear({pre_steps // 4}) -> cosine(floor=0.1)", steps=pre_steps, corpus_part="a", keep_state=True
    )
    ft = LMConfig(corpus_part="b", data_seed=4321, reset_head=True, eval_every=10**9)
    if quick:
        pre, ft = quick_lm(pre), quick_lm(ft)
    pre_runs = run_jobs(
        [Job("lm", pre, seed, "pretrain", pre_steps) for seed in range(seeds)],
        workers,
        desc=f"E10 pretrain ({seeds} runs)",
        progress=progress,
    )
    states = {r["seed"]: r.pop("state") for r in pre_runs}
    arm_list: list[dict[str, Any]] = []
    for steps in sizes:
        nbytes = steps * ft.batch * ft.seq_len // EPOCHS
        lm = replace(ft, steps=steps, spec="cosine(floor=0.1)")
        for w in [w for w in grid if w <= steps // 2]:
            spec = f"linear({w}) -> cosine(floor=0.1)" if w else "cosine(floor=0.1)"
            arm_list.append(
                _arm(f"s{steps}_w{w}", steps, nbytes, w, XConfig(replace(lm, spec=spec, train_bytes=nbytes)))
            )
        arm_list.append(
            _arm(f"s{steps}_auto", steps, nbytes, None, XConfig(replace(lm, train_bytes=nbytes), auto=True))
        )
    jobs = [x_job(a["cfg"], seed, a["name"], init_state=states[seed]) for seed in range(seeds) for a in arm_list]
    runs = run_jobs(jobs, workers, desc=f"E10 fine-tune ({len(jobs)} runs)", progress=progress)
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "criterion": CRITERION,
        "tie_min": TIE_MIN,
        "corpus": load_corpus().info(),
        "reference_levels_part_b": reference_levels(part="b"),
        "pretrain": {
            "spec": pre.spec,
            "config": pre.to_dict(),
            "final_val_loss_part_a": [r["final_val_loss"] for r in pre_runs],
        },
        "sizes": [{"steps": s, "train_bytes": s * ft.batch * ft.seq_len // EPOCHS, "epochs": EPOCHS} for s in sizes],
        "arms": [{k: v for k, v in a.items() if k != "cfg"} | {"config": a["cfg"].to_dict()} for a in arm_list],
        "runs": runs,
    }
    results["summary"] = summarize(runs, arm_list, sizes, seeds)
    results["outcome"] = outcome(results["summary"], sizes)
    results["wall_s"] = timed(t0)
    write_outputs(out, results, report(results), {"loss_vs_warmup.png": plot(results)})
    return results


def _arm(name: str, steps: int, nbytes: int, w: int | None, cfg: XConfig) -> dict[str, Any]:
    return {"name": name, "steps": steps, "train_bytes": nbytes, "warmup": w, "spec": cfg.lm.spec, "cfg": cfg}


def _finals(runs: list[dict[str, Any]], name: str) -> list[float]:
    return [r["final_val_loss"] for r in sorted((r for r in runs if r["arm"] == name), key=lambda r: r["seed"])]


def best_and_ties(finals: dict[int, list[float]]) -> tuple[int, list[int]]:
    """The best warmup (lowest seed mean; a diverged run counts as +inf) and the lengths tied with it.

    >>> best_and_ties({0: [3.0, 3.1, 3.2], 10: [2.5, 2.6, 2.7], 20: [2.505, 2.61, 2.69]})
    (10, [10, 20])
    """
    a = {
        w: np.where(np.isfinite(v), v, np.inf) for w, v in ((w, np.asarray(v, dtype=float)) for w, v in finals.items())
    }
    best = min(a, key=lambda w: (float(np.mean(a[w])), w))
    ties = []
    for w, v in a.items():
        d = v - a[best]
        if not np.all(np.isfinite(d)):
            continue
        se = float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
        if float(np.mean(d)) <= max(TIE_MIN, se):
            ties.append(w)
    return best, sorted(ties)


def summarize(
    runs: list[dict[str, Any]], arm_list: list[dict[str, Any]], sizes: tuple[int, ...], seeds: int
) -> dict[str, Any]:
    s: dict[str, Any] = {"per_arm": {}, "per_size": {}}
    for a in arm_list:
        f = _finals(runs, a["name"])
        rs = sorted((r for r in runs if r["arm"] == a["name"]), key=lambda r: r["seed"])
        s["per_arm"][a["name"]] = {
            "final_val_loss": f,
            "final_val_loss_mean": mean_std(f)[0],
            "final_val_loss_std": mean_std(f)[1],
            "warmup_steps": [r["warmup_steps"] for r in rs],
        }
    for steps in sizes:
        fixed = {
            a["warmup"]: _finals(runs, a["name"]) for a in arm_list if a["steps"] == steps and a["warmup"] is not None
        }
        best, ties = best_and_ties(fixed)
        finals = {f"w{w}": v for w, v in fixed.items()} | {"auto": _finals(runs, f"s{steps}_auto")}
        warm = [f"w{w}" for w in fixed if w > 0]
        s["per_size"][str(steps)] = {
            "best_warmup": best,
            "tied": ties,
            "auto": auto_gaps(finals, "auto", warm, "w0"),
        }
    return s


def outcome(summary: dict[str, Any], sizes: tuple[int, ...]) -> dict[str, Any]:
    ps = [summary["per_size"][str(s)] for s in sizes]
    best = [p["best_warmup"] for p in ps]
    grows = all(a <= b for a, b in itertools.pairwise(best)) and best[-1] > best[0]
    apart = min(ps[-1]["tied"]) > max(ps[0]["tied"])
    verdict = "reproduced" if grows and apart else ("partly" if grows else "not reproduced")
    return {
        "criterion": CRITERION,
        "best_warmup_per_size": best,
        "tied_per_size": [p["tied"] for p in ps],
        "best_grows": grows,
        "ties_apart": apart,
        "verdict": verdict,
        "reproduced": verdict == "reproduced",
    }


def report(results: dict[str, Any]) -> str:
    lines = header(results)
    p = results["pretrain"]
    refs = results["reference_levels_part_b"]
    lines += [
        f"Pretraining on part a: `{p['spec']}`, {p['config']['steps']} updates; final val loss on part a "
        f"{fmt_ms(p['final_val_loss_part_a'])}. Fine-tuning on part b: new output layer, fresh AdamW, peak 1e-2, "
        f"{EPOCHS} epochs of each set. Criterion (fixed before running): {results['criterion']}",
        "",
        "| fine-tuning set (bytes) | updates | warmup | spec (rampup) | final val loss (part b) | per seed |",
        "|---|---|---|---|---|---|",
    ]
    summ = results["summary"]
    for a in results["arms"]:
        s = summ["per_arm"][a["name"]]
        ps = summ["per_size"][str(a["steps"])]
        if a["warmup"] is None:
            w = "auto (" + ", ".join(str(x) for x in s["warmup_steps"]) + ")"
            spec = "auto -> " + a["spec"]
        else:
            w = str(a["warmup"]) + (" **best**" if a["warmup"] == ps["best_warmup"] else "")
            w += " (tied)" if a["warmup"] in ps["tied"] and a["warmup"] != ps["best_warmup"] else ""
            spec = a["spec"]
        lines.append(
            f"| {a['train_bytes']:,} | {a['steps']} | {w} | {cell_code(spec)} | {fmt_ms(s['final_val_loss'])} | "
            + ", ".join(f"{v:.3f}" for v in s["final_val_loss"])
            + " |"
        )
    o = results["outcome"]
    lines += ["", f"Part b reference levels: unigram {refs['unigram']:.2f}, bigram {refs['bigram']:.2f}.", ""]
    for sz in results["sizes"]:
        ps = summ["per_size"][str(sz["steps"])]
        lines.append(
            f"- {sz['train_bytes']:,} bytes ({sz['steps']} updates): "
            + fmt_gaps(ps["auto"], f"warmup {ps['auto']['best_fixed'][1:]}")
        )
    lines += [
        "",
        f"**Outcome**: best warmup per size {o['best_warmup_per_size']} updates, tied {o['tied_per_size']}; best grows: "
        f"{o['best_grows']}, tied sets of the smallest and largest size apart: {o['ties_apart']} → **{o['verdict']}**.",
        "",
        "![loss vs warmup](loss_vs_warmup.png)",
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    summ = results["summary"]
    for i, sz in enumerate(results["sizes"]):
        arms = [a for a in results["arms"] if a["steps"] == sz["steps"] and a["warmup"] is not None]
        x = np.array([max(a["warmup"], 1) for a in arms], dtype=float)  # 0 drawn at 1 on the log axis
        m = np.array([summ["per_arm"][a["name"]]["final_val_loss_mean"] for a in arms])
        sd = np.array([summ["per_arm"][a["name"]]["final_val_loss_std"] for a in arms])
        lab = f"{sz['train_bytes']:,} bytes, {sz['steps']} updates"
        ax.errorbar(x, m, yerr=sd, color=f"C{i}", marker="o", ms=4, capsize=3, lw=1.2, label=lab)
        au = summ["per_arm"][f"s{sz['steps']}_auto"]
        ax.plot(
            [max(float(np.mean(au["warmup_steps"])), 1)],
            [au["final_val_loss_mean"]],
            "*",
            color=f"C{i}",
            ms=11,
            label=f"auto ({lab})",
        )
    ax.set_xscale("log")
    ax.set_xlabel("warmup length (updates; 0 drawn at 1)")
    ax.set_ylabel("final val loss on part b (seed mean ± std)")
    ax.set_title("E10: fine-tuning warmup sweep at three fine-tuning set sizes", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
