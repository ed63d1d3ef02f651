"""``rampup demo`` — the main job.

Explains and plots the standard warmup schedules into ``demo-output/``; the
reference experiments (E1 …) are added to the demo by ``rampup.experiments``
when it is installed with torch.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .io import atomic_write_text

STANDARD = [
    ("linear warmup + cosine", "linear(5%) -> cosine(floor=0.1)"),
    ("cosine warmup + cosine", "cosine(5%) -> cosine(floor=0.1)"),
    ("untuned linear (beta2=0.999) + linear", "untuned_linear(beta2=0.999) -> linear(floor=0.1)"),
    ("WSD, 1-sqrt cooldown", "linear(2%) -> wsd(cooldown=20%, shape=1-sqrt)"),
    ("restarts with re-warmup", "linear(2%) -> restarts(cycle=25%, rewarm=2%, cycle_decay=0.7, floor=0.05)"),
    ("constant warmup (Goyal, brittle)", "constant(5%, start=0.1) -> multistep(milestones=[33%, 67%, 89%])"),
]


def run_demo(out: str, quick: bool = False) -> int:
    from .. import parse
    from .explain import explain
    from .plot import plot_schedules, save_figure

    total = 10_000
    os.makedirs(out, exist_ok=True)
    rows: list[dict[str, Any]] = []
    scheds = []
    for label, spec in STANDARD:
        s = parse(spec, total_steps=total, peak_lr=1e-3)
        scheds.append(s)
        e = explain(s)
        rows.append({"label": label, **e.to_dict()})
    fig = plot_schedules(scheds, [lab for lab, _ in STANDARD], title=f"rampup standard schedules, {total} steps, peak 1e-3")
    save_figure(fig, os.path.join(out, "schedules.png"))
    noam = parse("noam(d_model=512, warmup=4000)", total_steps=100_000)
    save_figure(plot_schedules([noam], ["noam(d_model=512, warmup=4000)"]), os.path.join(out, "noam.png"))
    atomic_write_text(os.path.join(out, "schedules.json"), json.dumps(rows, indent=2) + "\n")
    lines = ["# rampup demo", "", "| schedule | spec | first LR | peak @ step | floor @ step |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['label']} | `{r['spec']}` | {r['first_lr']:.3g} | {r['peak_lr']:.3g} @ {r['peak_step']} | "
            f"{r['floor_lr']:.3g} @ {r['floor_step']} |"
        )
    lines += ["", "![schedules](schedules.png)", ""]
    report = "\n".join(lines)
    atomic_write_text(os.path.join(out, "report.md"), report)
    print(report)
    print(f"wrote {out}/schedules.png, {out}/noam.png, {out}/schedules.json, {out}/report.md")
    return 0
