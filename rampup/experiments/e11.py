"""E11 — mixed precision: does a longer warmup tolerate a mis-scaled initial loss scale?

Claim: "longer warmup helps tolerate the initial mis-scaling of the loss-scaling
factor".  fp16 autocast with a ``torch.amp.GradScaler`` (both run on the CPU in
torch ≥ 2.3: ``torch.autocast("cpu", dtype=torch.float16)``, ``GradScaler("cpu")``).
A GradScaler that starts too high overflows the fp16 gradients: it skips those
updates and halves its scale until the gradients fit.  In the usual AMP loop the
LR scheduler steps on every batch, skipped or not, so the skipped batches use up
the start of the warmup: a warmup no longer than the skipped stretch is gone, and
the first update that is applied runs at the full peak LR.  Arms: linear warmups
of 0, 24 and 96 updates (of 240; 24 ≈ the updates a 2^40 start skips) and the
automatic warmup, each with torch's default initial scale 2^16 and a deliberately
large 2^40.  Measured: the skipped updates (inf/NaN gradients), the LR of the
first applied update, the final validation loss.

**Where it runs.** fp16 matmuls are slow on CPUs without native fp16 arithmetic:
the E1 model (4 layers, d_model 64, seq 64) took 670 ms per update in fp16 against
39 ms in fp32 on the 2-core machine of these experiments (1 thread), so the 24 runs
× 400 updates of E1's setting would take ~50 min of 2 cores.  The default here is a
smaller Post-LN model (2 layers, d_model 32, 2 heads, seq 32; ~67 ms per fp16
update) that fits the 5-minute budget; ``python -m rampup.experiments.e11 --size
e1 --device cuda`` runs E1's model (on a GPU, where fp16 is fast; not run here:
no GPU was available to this work).
"""

from __future__ import annotations

import argparse
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

NAME = "e11"
TITLE = "mixed precision: a longer warmup vs a mis-scaled initial loss scale"
CLAIM = "longer warmup helps tolerate the initial mis-scaling of the loss-scaling factor."
SCALES = (2.0**16, 2.0**40)  # torch's default initial scale; a deliberately large one
WARMUPS = (0, 24, 96)
STEPS = 240
SIZES = {  # model sizes: "small" (the CPU default), "e1" (E1's model, for a GPU)
    "small": {"n_layers": 2, "d_model": 32, "n_heads": 2, "seq_len": 32, "batch": 16},
    "e1": {"n_layers": 4, "d_model": 64, "n_heads": 4, "seq_len": 64, "batch": 16},
}
# Fixed before the first full run (never edited after seeing results):
MARGIN = 0.02  # nats
CRITERION = (
    "harm H(w) = seed mean of the paired difference final val loss (initial scale 2^40) − (2^16) at warmup w. "
    f"Reproduced: H(longest warmup) + {MARGIN} <= H(w) for every shorter warmup w (0 and 24); partly: for one of "
    "them; not reproduced: for neither."
)


def arms(
    steps: int = STEPS, warmups: tuple[int, ...] = WARMUPS, size: str = "small", device: str = "cpu"
) -> list[tuple[str, str, XConfig]]:
    decay = "cosine(floor=0.1)"
    m = SIZES[size]
    lm = LMConfig(
        steps=steps,
        spec=decay,
        eval_windows=256,
        eval_every=10**9,
        n_layers=m["n_layers"],
        d_model=m["d_model"],
        n_heads=m["n_heads"],
        seq_len=m["seq_len"],
        batch=m["batch"],
    )
    out = []
    for sc in SCALES:
        e = int(np.log2(sc))
        base = XConfig(lm, amp=True, init_scale=sc, device=device)
        for w in warmups:
            spec = f"linear({w}) -> {decay}" if w else decay
            out.append((f"w{w}_s{e}", f"warmup {w}, initial scale 2^{e}", replace(base, lm=replace(lm, spec=spec))))
        out.append((f"auto_s{e}", f"automatic warmup, initial scale 2^{e}", replace(base, auto=True)))
    return out


def run(
    out: str,
    seeds: int = 3,
    quick: bool = False,
    workers: int = 2,
    progress: bool = True,
    size: str = "small",
    device: str = "cpu",
) -> dict[str, Any]:
    """Run E11 and write ``results.json``, ``report.md``, ``skipped.png``, ``schedules.png``."""
    if size not in SIZES:
        raise ValueError(f"size: got {size!r}; accepted: {', '.join(SIZES)}")
    t0 = time.perf_counter()
    steps, warmups = (16, (0, 2, 8)) if quick else (STEPS, WARMUPS)
    arm_list = [
        (n, lab, replace(c, lm=quick_lm(c.lm)) if quick else c) for n, lab, c in arms(steps, warmups, size, device)
    ]
    jobs = [x_job(c, seed, n) for seed in range(seeds) for n, _, c in arm_list]
    runs = run_jobs(jobs, workers, desc=f"E11 ({len(jobs)} runs)", progress=progress)
    for r in runs:  # the LR of the first update the scaler applied (the skipped ones come first)
        first = next((t for t in range(len(r["lr"])) if t not in set(r["skipped_steps"])), None)
        r["first_applied_step"] = first
        r["first_applied_lr"] = None if first is None else r["lr"][first]
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "criterion": CRITERION,
        "margin": MARGIN,
        "model_size": size,
        "device": device,
        "corpus": load_corpus().info(),
        "reference_levels": reference_levels(),
        "warmups": list(warmups),
        "scales": list(SCALES),
        "arms": [
            {"name": n, "label": lab, "spec": c.lm.spec, "init_scale": c.init_scale, "config": c.to_dict()}
            for n, lab, c in arm_list
        ],
        "runs": runs,
    }
    results["summary"] = summarize(runs, [n for n, _, _ in arm_list])
    results["outcome"] = outcome(results["summary"], list(warmups))
    results["wall_s"] = timed(t0)
    figs = {"skipped.png": plot(results), "schedules.png": plot_schedules_used(results)}
    write_outputs(out, results, report(results), figs)
    return results


def summarize(runs: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n in names:
        rs = sorted((r for r in runs if r["arm"] == n), key=lambda r: r["seed"])
        f = [r["final_val_loss"] for r in rs]
        s[n] = {
            "final_val_loss": f,
            "final_val_loss_mean": mean_std(f)[0],
            "n_skipped": [r["n_skipped"] for r in rs],
            "first_applied_step": [r["first_applied_step"] for r in rs],
            "first_applied_lr": [r["first_applied_lr"] for r in rs],
            "final_scale": [r["scale"][-1] if r["scale"] else None for r in rs],
            "warmup_steps": [r["warmup_steps"] for r in rs],
        }
    return s


def harm(summary: dict[str, Any], arm: str) -> tuple[float, list[float]]:
    """Seed mean and per-seed ``loss(2^40) − loss(2^16)`` of the arm ``w{N}`` or ``auto``."""
    hi = np.asarray(summary[f"{arm}_s40"]["final_val_loss"], dtype=float)
    lo = np.asarray(summary[f"{arm}_s16"]["final_val_loss"], dtype=float)
    d = hi - lo
    return float(d.mean()), [float(x) for x in d]


def outcome(summary: dict[str, Any], warmups: list[int]) -> dict[str, Any]:
    h = {w: harm(summary, f"w{w}") for w in warmups}
    longest = max(warmups)
    better = [w for w in warmups if w != longest and h[longest][0] + MARGIN <= h[w][0]]
    n_short = len(warmups) - 1
    verdict = "reproduced" if len(better) == n_short else ("partly" if better else "not reproduced")
    gaps = {}
    for sc in ("s16", "s40"):
        finals = {f"w{w}": summary[f"w{w}_{sc}"]["final_val_loss"] for w in warmups} | {
            "auto": summary[f"auto_{sc}"]["final_val_loss"]
        }
        gaps[sc] = auto_gaps(finals, "auto", [f"w{w}" for w in warmups if w], "w0")
    return {
        "criterion": CRITERION,
        "harm_mean": {str(w): h[w][0] for w in warmups},
        "harm_per_seed": {str(w): h[w][1] for w in warmups},
        "harm_auto_mean": harm(summary, "auto")[0],
        "harm_auto_per_seed": harm(summary, "auto")[1],
        "longest_better_than": better,
        "auto": gaps,
        "verdict": verdict,
        "reproduced": verdict == "reproduced",
    }


def report(results: dict[str, Any]) -> str:
    lines = header(results)
    m = SIZES[results["model_size"]]
    lines += [
        f"Post-LN byte transformer, {m['n_layers']} layers, d_model {m['d_model']}, {m['n_heads']} heads, seq "
        f"{m['seq_len']}, batch {m['batch']}; AdamW (0.9, 0.98), weight decay 0.01, peak LR 1e-2; fp16 autocast on "
        f"`{results['device']}` with a GradScaler (growth interval 2000, backoff 0.5). Criterion (fixed before "
        f"running): {results['criterion']}",
        "",
        "| arm | spec (rampup) | skipped updates | first applied update (LR) | final val loss | per seed |",
        "|---|---|---|---|---|---|",
    ]
    for a in results["arms"]:
        s = results["summary"][a["name"]]
        spec = ("auto -> " if a["name"].startswith("auto") else "") + a["spec"]
        first = ", ".join(
            "–" if t is None else f"{t} ({lr:.2g})" for t, lr in zip(s["first_applied_step"], s["first_applied_lr"])
        )
        lines.append(
            f"| {a['label']} | {cell_code(spec)} | {', '.join(str(k) for k in s['n_skipped'])} | {first} | "
            f"{fmt_ms(s['final_val_loss'])} | " + ", ".join(f"{v:.3f}" for v in s["final_val_loss"]) + " |"
        )
    o = results["outcome"]
    lines += ["", "Harm of the large initial scale, H(w) = loss(2^40) − loss(2^16), paired by seed:", ""]
    for w, hm in o["harm_mean"].items():
        lines.append(
            f"- warmup {w}: {hm:+.3f} nats (per seed " + ", ".join(f"{x:+.3f}" for x in o["harm_per_seed"][w]) + ")"
        )
    lines.append(
        f"- automatic warmup: {o['harm_auto_mean']:+.3f} (per seed "
        + ", ".join(f"{x:+.3f}" for x in o["harm_auto_per_seed"])
        + ")"
    )
    lines.append("")
    for sc, g in o["auto"].items():
        lines.append(f"- initial scale 2^{sc[1:]}: " + fmt_gaps(g, f"warmup {g['best_fixed'][1:]}"))
    lines += [
        "",
        f"**Outcome**: the longest warmup's harm is at least {MARGIN} nats below that of warmups "
        f"{o['longest_better_than'] or 'none'} → **{o['verdict']}**.",
        "",
        "![skipped updates and loss](skipped.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for i, a in enumerate(results["arms"]):
        rs = [r for r in results["runs"] if r["arm"] == a["name"]]
        ls = "-" if a["init_scale"] > 2.0**20 else ":"
        n = min(len(r["train_loss"]) for r in rs)
        axes[0].plot(
            smooth(np.mean([r["train_loss"][:n] for r in rs], axis=0), 10),
            color=f"C{i % 4}",
            ls=ls,
            lw=1.2,
            label=a["label"],
        )
        r0 = rs[0]
        applied = np.array([0.0 if t in set(r0["skipped_steps"]) else 1.0 for t in range(len(r0["lr"]))])
        axes[1].plot(np.asarray(r0["lr"]) * applied, color=f"C{i % 4}", ls=ls, lw=1.2, label=a["label"])
    axes[0].set_ylim(1.5, 4.5)
    axes[0].set_ylabel("train loss (seed mean, 10-step average)")
    axes[1].set_ylabel("LR of the applied update (0 = skipped), seed 0")
    axes[1].set_xlim(0, min(150, len(results["runs"][0]["lr"])))
    for ax in axes:
        ax.set_xlabel("batch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    axes[0].set_title("E11: training loss; dotted = initial scale 2^16, solid = 2^40", fontsize=9)
    axes[1].set_title("E11: the skipped batches use up the warmup", fontsize=9)
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    from ..tools.plot import plot_schedules

    c = results["arms"][0]["config"]["lm"]
    specs = sorted({a["spec"] for a in results["arms"]})
    scheds = [parse(s, total_steps=c["steps"], peak_lr=c["peak_lr"]) for s in specs]
    return plot_schedules(
        scheds, specs, c["steps"], title=f"E11 LR schedules ({c['steps']} batches; auto: decided online)"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m rampup.experiments.e11 [--size e1] [--device cuda]``: E11 where the CLI's CPU default is too small."""
    p = argparse.ArgumentParser(prog="python -m rampup.experiments.e11", description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=list(SIZES), default="small", help="model size (default small; e1 = E1's model)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="processes (use 1 on a single GPU)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default="experiment-output/e11")
    a = p.parse_args(argv)
    run(a.out, seeds=a.seeds, quick=a.quick, workers=a.workers, size=a.size, device=a.device)
    with open(f"{a.out}/report.md", encoding="utf-8") as f:
        print(f.read())
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line
    raise SystemExit(main())
