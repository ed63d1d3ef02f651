"""``rampup demo`` — the main job.

Runs the reference experiment E1 (Adam at a high LR needs warmup in Post-LN,
much less in Pre-LN) at one seed per arm, and explains and plots the standard
warmup schedules, into ``demo-output/``: ``report.md`` (the tables and plots),
``demo.json``, ``e1/`` (``results.json``, ``report.md``, loss curves, final
losses, every schedule E1 used) and ``schedules.png`` / ``noam.png`` /
``schedules.json``, and the same E1 Post-LN run with the automatic warmup
(``e1/auto.json``, ``e1/auto.png``).  About 1–2 minutes on 2 cores; ``--quick`` is a smoke test.
The full experiments (3+ seeds) are ``rampup experiment e1 … e4d``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
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


def run_demo(out: str, quick: bool = False, workers: int = 2) -> int:
    t0 = time.perf_counter()
    e1_lines, e1_summary = _run_e1(out, quick, workers)
    rc = _standard_schedules(out, e1_lines)
    summary = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "quick": quick,
        "e1": e1_summary,
        "files": sorted(os.listdir(out)),
    }
    atomic_write_text(os.path.join(out, "demo.json"), json.dumps(summary, indent=2) + "\n")
    print(f"demo finished in {summary['wall_s']:.0f} s")
    return rc


def _run_e1(out: str, quick: bool, workers: int) -> tuple[list[str], dict[str, Any] | None]:
    """E1 at one seed per arm into ``out/e1``; the lines it adds to the demo report."""
    if importlib.util.find_spec("torch") is None:
        msg = "E1 skipped: it needs torch (pip install 'rampup[torch]'); `make demo` installs it."
        print(msg)
        return [f"> {msg}", ""], None
    from ..experiments import e1
    from ..experiments.common import jsonable

    res = e1.run(os.path.join(out, "e1"), seeds=1, quick=quick, workers=workers)
    auto_lines, auto_summary = _run_auto(out, quick, res)
    o = res["outcome"]
    env = res["environment"]
    lines = [
        f"## E1 — {e1.TITLE}",
        "",
        f"{env['date']}, {env['processor']} ({env['cpu_count']} CPUs), Python {env['python']}, torch {env['torch']}; "
        f"corpus sha256 {res['corpus']['sha256'][:16]}…; 1 seed per arm"
        + (" (**quick mode**: too short to show the effect)" if quick else "")
        + f"; {res['wall_s']:.0f} s.",
        "",
        e1.table(res),
        "",
        f"Post-LN gap (no warmup − warmup): {o['post_ln_gap']:+.3f} nats; Pre-LN gap: {o['pre_ln_gap']:+.3f} nats "
        f"(the claim: ≥ 0.5 and < 0.2; `rampup experiment e1` checks it on 3 seeds).",
        "",
        "![E1 loss curves](e1/loss_curves.png)",
        "",
        "![E1 schedules](e1/schedules.png)",
        "",
        *auto_lines,
    ]
    return lines, jsonable({"outcome": o, "summary": res["summary"], "wall_s": res["wall_s"], "auto": auto_summary})


AUTO_SPEC = "auto -> cosine(floor=0.1)"


def _run_auto(out: str, quick: bool, e1_res: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """E1's Post-LN arm with the automatic warmup (no length given), beside E1's fixed arms.

    The run is :func:`rampup.torch.auto_runs.run_lm` — E1's loop, with the LR from
    ``AutoWarmup(opt, "auto -> cosine(floor=0.1)")`` (what ``WarmupScheduler`` builds for that
    spec) — at seed 0; writes ``e1/auto.json`` and ``e1/auto.png``.
    """
    import numpy as np

    from ..experiments import e1
    from ..experiments.common import jsonable, pyplot, smooth
    from ..torch.auto_runs import Arm, run_lm

    steps = int(e1_res["arms"][0]["config"]["steps"])  # the run length E1 used (24 in quick mode)
    cfg = dict((n, c) for n, _, c in e1.arms(steps))["post_none"]  # Post-LN, AdamW, the decay alone
    cfg = e1._quick(cfg) if quick else cfg
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as E1's runs: the float summation order, hence the run, is the same
    try:
        r = run_lm(cfg, 0, Arm("auto", "auto", method="update"))
    finally:
        torch.set_num_threads(threads)
    fixed = {x["arm"]: x for x in e1_res["runs"] if x["seed"] == 0}
    end: dict[str, Any] = next((e for e in r["events"] if e.get("event") == "warmup_end"), {})
    summary = {
        "spec": AUTO_SPEC,
        "warmup_steps": r["warmup_steps"],
        "final_val_loss": r["final_val_loss"],
        "exported_spec": r.get("spec"),
        "why": end.get("reason"),
        "vs": {n: fixed[n]["final_val_loss"] for n in ("post_warmup", "post_none") if n in fixed},
    }
    e1_dir = os.path.join(out, "e1")
    atomic_write_text(os.path.join(e1_dir, "auto.json"), json.dumps(jsonable({**summary, "run": r}), indent=1) + "\n")
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=110)
    curves = [("automatic warmup", r)] + [
        (_label(e1_res, n), fixed[n]) for n in ("post_warmup", "post_none") if n in fixed
    ]
    for i, (label, run) in enumerate(curves):
        ax.plot(np.asarray(run["lr"]), color=f"C{i}", lw=1.2, label=label)
        bx.plot(smooth(np.asarray(run["train_loss"], dtype=float)), color=f"C{i}", lw=1.0, label=label)
    ax.set(xlabel="optimizer update", ylabel="learning rate", title="LR each update used")
    bx.set(xlabel="optimizer update", ylabel="training loss (smoothed)", title="E1 Post-LN, AdamW, LR 1e-2, seed 0")
    bx.axhline(e1_res["reference_levels"]["unigram"], color="gray", ls=":", lw=0.8)
    ax.legend(fontsize=7)
    for a in (ax, bx):
        a.grid(alpha=0.3)
    fig.tight_layout()
    from .plot import save_figure

    save_figure(fig, os.path.join(e1_dir, "auto.png"))
    plt.close(fig)
    vs = ", ".join(f"{_label(e1_res, n)}: {v:.3f}" for n, v in summary["vs"].items())
    lines = [
        "## Automatic warmup on E1 (no warmup length given)",
        "",
        f'`WarmupScheduler(opt, "{AUTO_SPEC}", total_steps={steps})` — an `AutoWarmup` capping the relative '
        f"update size — on E1's Post-LN arm, seed 0: it warmed up for **{summary['warmup_steps']} steps** and "
        f"ended at a final val loss of **{summary['final_val_loss']:.3f}** nats/byte ({vs}).",
        "",
        f"Why it ended there: {summary['why'] or 'the run ended inside the warmup'}.",
        "",
        "![automatic warmup on E1](e1/auto.png)",
        "",
        "The comparison against a sweep of fixed warmup lengths on E1–E3 (3 seeds) is `rampup auto-compare`; "
        "see docs/auto.md.",
        "",
    ]
    return lines, summary


def _label(res: dict[str, Any], name: str) -> str:
    return next((a["label"] for a in res["arms"] if a["name"] == name), name)


def _standard_schedules(out: str, head: list[str]) -> int:
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
    fig = plot_schedules(
        scheds, [lab for lab, _ in STANDARD], title=f"rampup standard schedules, {total} steps, peak 1e-3"
    )
    save_figure(fig, os.path.join(out, "schedules.png"))
    noam = parse("noam(d_model=512, warmup=4000)", total_steps=100_000)
    save_figure(plot_schedules([noam], ["noam(d_model=512, warmup=4000)"]), os.path.join(out, "noam.png"))
    atomic_write_text(os.path.join(out, "schedules.json"), json.dumps(rows, indent=2) + "\n")
    lines = [
        "# rampup demo",
        "",
        *head,
        "## Standard schedules",
        "",
        "| schedule | spec | first LR | peak @ step | floor @ step |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | `{r['spec']}` | {r['first_lr']:.3g} | {r['peak_lr']:.3g} @ {r['peak_step']} | "
            f"{r['floor_lr']:.3g} @ {r['floor_step']} |"
        )
    lines += ["", "![schedules](schedules.png)", ""]
    report = "\n".join(lines)
    atomic_write_text(os.path.join(out, "report.md"), report)
    print(report)
    print(
        f"wrote {out}/report.md, {out}/demo.json, {out}/schedules.png, {out}/noam.png, {out}/schedules.json"
        + (f", {out}/e1/" if os.path.isdir(os.path.join(out, "e1")) else "")
    )
    return 0
