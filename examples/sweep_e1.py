"""Sweep the warmup fraction on the E1 Post-LN setup: where does the collapse stop?

E1 (``rampup experiment e1``): a 4-layer byte-level Post-LN transformer, AdamW
β = (0.9, 0.98), peak LR 1e-2, cosine to 10 % — without warmup it collapses
towards the unigram loss (~3.2 nats), with a 100-step warmup it reaches ~2.25.
This sweep varies the warmup length as a fraction of the run and reports the
final validation loss, whether the run collapsed (final loss within 0.1 of the
unigram level) and the number of loss spikes (training loss > 1.5x its running
median over the previous 20 steps), so the table shows the spike/collapse
boundary.

Either run this file (small settings: 5 warmups x 2 seeds of the 400-step run, ~2-3 minutes on 2 free cores)::

    python examples/sweep_e1.py

or use the CLI with any grid (the script exposes ``train(config)``)::

    rampup sweep --script examples/sweep_e1.py --warmup 0,0.5%,1%,2%,5%,10%,25% --seeds 3 \\
        --total-steps 400 --set steps=400 --out sweep-e1

Config keys besides the sweep's own: ``steps`` (updates; default total_steps),
``post_ln`` (default true), ``eval_windows`` (validation windows, default 128).
"""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any


def _spikes(losses: list[float], window: int = 20, factor: float = 1.5) -> int:
    n = 0
    for t in range(window, len(losses)):
        if losses[t] > factor * statistics.median(losses[t - window : t]):
            n += 1
    return n


def train(config: dict[str, Any]) -> dict[str, Any]:
    from rampup.experiments.data import reference_levels
    from rampup.experiments.train import LMConfig, train_lm

    total = int(config.get("total_steps") or 400)
    steps = int(config.get("steps", total))
    cfg = LMConfig(
        spec=config["spec"],
        steps=steps,
        total_steps=total,
        peak_lr=float(config.get("peak_lr") or 1e-2),
        post_ln=bool(config.get("post_ln", True)),
        eval_windows=int(config.get("eval_windows", 128)),
        eval_every=10**9,  # only the final validation loss
    )
    r = train_lm(cfg, seed=int(config["seed"]))
    unigram = reference_levels()["unigram"]
    final = r["final_val_loss"]
    return {
        "loss": final,  # NaN (diverged) is recorded as null and counted as diverged
        "collapsed": bool(final == final and abs(final - unigram) < 0.1),
        "spikes": _spikes(r["train_loss"]),
        "diverged": r["diverged"],
        "unigram": unigram,
        "wall_s": r["wall_s"],
    }


def main(argv: list[str]) -> int:
    from rampup.tools.plot import save_figure
    from rampup.tools.sweep import plot_sweep, sweep

    out = argv[0] if argv else "sweep-e1"
    total = 400  # E1's run length; small settings = 2 seeds, 64 validation windows
    res = sweep(
        os.path.abspath(__file__) + ":train",
        warmup=[0, "2.5%", "5%", "10%", "25%"],
        seeds=2,
        total_steps=total,
        params={"eval_windows": 64},
        results=os.path.join(out, "sweep.jsonl"),
        workers=2,
    )
    save_figure(
        plot_sweep(res, title=f"E1 Post-LN, AdamW peak 1e-2, {total} steps: final val loss vs warmup"),
        os.path.join(out, "sweep.png"),
    )
    print(res.table())
    for c in res.cells:
        recs = [r for r in res.records if r["config"]["warmup"] == c.warmup and r["status"] == "ok"]
        collapsed = sum(bool(r["metrics"].get("collapsed")) for r in recs)
        spikes = [r["metrics"].get("spikes", 0) for r in recs]
        print(f"warmup {c.warmup:>4}: collapsed {collapsed}/{len(recs)}, spikes per run {spikes}")
    print(f"wrote {out}/sweep.jsonl, {out}/sweep.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
