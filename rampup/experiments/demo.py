"""``rampup demo`` — the main job.

Runs the reference experiment E1 (Adam at a high LR needs warmup in Post-LN,
much less in Pre-LN) at one seed per arm, and explains and plots the standard
warmup schedules, into ``demo-output/``: ``report.md`` (the tables and plots),
``demo.json``, ``e1/`` (``results.json``, ``report.md``, loss curves, final
losses, every schedule E1 used) and ``schedules.png`` / ``noam.png`` /
``schedules.json``, and the same E1 Post-LN run with the automatic warmup
(``e1/auto.json``, ``e1/auto.png``).  About 1–2 minutes on 2 cores; ``--quick`` is a smoke test.
The full experiments (3+ seeds) are ``rampup experiment e1 … e4d``.

Every phase prints a ``==> demo i/4:`` line (and the runs a progress bar), and the demo ends with
its verdict on each of the README's claims (:data:`CLAIMS`) beside the README's own 3-seed verdict,
so a reader on another CPU sees at a glance whether the results agree: exact digits differ between
CPUs (float summation order), the verdicts should not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from typing import Any

from ..support.io import atomic_write_text, json_safe
from ..support.optional import pyplot

STANDARD = [
    ("linear warmup + cosine", "linear(5%) -> cosine(floor=0.1)"),
    ("cosine warmup + cosine", "cosine(5%) -> cosine(floor=0.1)"),
    ("untuned linear (beta2=0.999) + linear", "untuned_linear(beta2=0.999) -> linear(floor=0.1)"),
    ("WSD, 1-sqrt cooldown", "linear(2%) -> wsd(cooldown=20%, shape=1-sqrt)"),
    ("restarts with re-warmup", "linear(2%) -> restarts(cycle=25%, rewarm=2%, cycle_decay=0.7, floor=0.05)"),
    ("constant warmup (Goyal, brittle)", "constant(5%, start=0.1) -> multistep(milestones=[33%, 67%, 89%])"),
]


# The README's claims about E1, each checked by the demo on its own run (seed 0).  The README quotes the
# same sentences with its 3-seed verdicts (README_VERDICTS); tests/test_docs.py keeps the two in step.
CLAIMS: list[tuple[str, str]] = [
    ("post_none_collapses", "Post-LN without warmup collapses to the unigram level"),
    ("post_warmup_learns", "Post-LN with a 100-step warmup learns (ends below the unigram level)"),
    ("post_gap", "Post-LN: no warmup ends >= 0.5 nats worse than the 100-step warmup"),
    ("pre_gap", "Pre-LN barely needs warmup: its gap is < 0.2 nats"),
    ("auto_beats_100", "the automatic warmup (no length given) ends below the 100-step warmup"),
]
README_VERDICTS: dict[str, str] = {
    "post_none_collapses": "yes, 3/3 seeds",
    "post_warmup_learns": "yes, 3/3 seeds",
    "post_gap": "yes: +0.543 on the mean (2/3 seeds)",
    "pre_gap": "yes: +0.179 on the mean (2/3 seeds)",
    "auto_beats_100": "yes, 3/3 seeds",
}
PHASES = 4


def phase(i: int, text: str) -> None:
    """One line per phase of the demo, so a reader always knows what is running."""
    print(f"==> demo {i}/{PHASES}: {text}", flush=True)


def run_demo(out: str, quick: bool = False, workers: int = 2) -> int:
    t0 = time.perf_counter()
    e1_lines, e1_summary = _run_e1(out, quick, workers)
    phase(3, "the standard schedules: explain and plot (schedules.png, noam.png)")
    rc = _standard_schedules(out, e1_lines)
    summary = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "quick": quick,
        "e1": e1_summary,
        "files": sorted(os.listdir(out)),
    }
    atomic_write_text(os.path.join(out, "demo.json"), json.dumps(summary, indent=2) + "\n")
    phase(4, "verdicts: the README's claims, checked on this run")
    if e1_summary is not None:
        print(verdict_text(e1_summary["verdicts"], quick, e1_summary["machine"]))
    print(f"demo finished in {summary['wall_s']:.0f} s")
    return rc


def verdicts(e1_res: dict[str, Any], auto: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of :data:`CLAIMS` judged on seed 0 of ``e1_res`` and the automatic-warmup run ``auto``.

    A run has *collapsed* when its final validation loss is NaN or within E1's ``collapse_margin``
    (0.1 nats) of the unigram level, the definition E1 itself uses.
    """
    import math

    unigram = float(e1_res["reference_levels"]["unigram"])
    margin = float(e1_res["collapse_margin"])
    final = {r["arm"]: float(r["final_val_loss"]) for r in e1_res["runs"] if r["seed"] == 0}
    auto_v = float(auto["final_val_loss"])

    def collapsed(v: float) -> bool:
        return not math.isfinite(v) or v >= unigram - margin

    post_gap = final["post_none"] - final["post_warmup"]
    pre_gap = final["pre_none"] - final["pre_warmup"]
    checks = {
        "post_none_collapses": (collapsed(final["post_none"]), f"{final['post_none']:.3f}; unigram {unigram:.2f}"),
        "post_warmup_learns": (not collapsed(final["post_warmup"]), f"{final['post_warmup']:.3f}"),
        "post_gap": (post_gap >= 0.5, f"{post_gap:+.3f}"),
        "pre_gap": (abs(pre_gap) < 0.2, f"{pre_gap:+.3f}"),
        "auto_beats_100": (auto_v < final["post_warmup"], f"{auto_v:.3f} vs {final['post_warmup']:.3f}"),
    }
    return [
        {"claim": text, "key": key, "ok": bool(checks[key][0]), "value": checks[key][1], "readme": README_VERDICTS[key]}
        for key, text in CLAIMS
    ]


def verdict_text(rows: list[dict[str, Any]], quick: bool, machine: str) -> str:
    """The verdict lines the demo prints last: each claim, then the README's verdict and this run's."""
    agree = sum(r["ok"] for r in rows)  # every README verdict is "yes"
    lines = [f"Verdicts. README: 3 seeds on an Intel Xeon (docs/experiments.md); this run: seed 0 on {machine}."]
    for r in rows:
        lines += [
            f"  {'ok' if r['ok'] else '!!'} {r['claim']}",
            f"       README: {r['readme']}  |  this run: {'yes' if r['ok'] else 'NO'} ({r['value']})",
        ]
    lines.append(
        f"{agree}/{len(rows)} verdicts agree with the README."
        + (
            " Quick mode: 24 steps are too short to show the effect; only a full run is comparable."
            if quick
            else " Losses differ between CPUs by up to ~0.08 nats (float summation order); the verdicts should not."
        )
    )
    return "\n".join(lines)


def _run_e1(out: str, quick: bool, workers: int) -> tuple[list[str], dict[str, Any] | None]:
    """E1 at one seed per arm into ``out/e1``; the lines it adds to the demo report."""
    if importlib.util.find_spec("torch") is None:
        msg = "E1 skipped: it needs torch (pip install 'rampup[torch]'); `make demo` installs it."
        print(msg)
        return [f"> {msg}", ""], None
    from . import e1

    n_arms = len(e1.arms())
    phase(
        1,
        f"E1, {n_arms} arms x 1 seed x {24 if quick else 400} steps in {workers} worker process(es); "
        "then its table and plots (e1/)",
    )
    # auto=False: the demo's automatic warmup is phase 2 (one run on the Post-LN arm), not E1's auto arms
    res = e1.run(os.path.join(out, "e1"), seeds=1, quick=quick, workers=workers, auto=False)
    phase(2, "the automatic warmup on E1's Post-LN arm, seed 0: one more run, on one thread (e1/auto.png)")
    auto_lines, auto_summary = _run_auto(out, quick, res)
    checks = verdicts(res, auto_summary)
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
        "## Verdicts: the README's claims on this run",
        "",
        "```text",
        verdict_text(checks, quick, env["processor"]),
        "```",
        "",
    ]
    summary = {"outcome": o, "summary": res["summary"], "wall_s": res["wall_s"], "auto": auto_summary}
    return lines, json_safe({**summary, "verdicts": checks, "machine": env["processor"] or "unknown CPU"})


AUTO_SPEC = "auto -> cosine(floor=0.1)"


def _run_auto(out: str, quick: bool, e1_res: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """E1's Post-LN arm with the automatic warmup (no length given), beside E1's fixed arms.

    The run is :func:`rampup.experiments.auto_runs.run_lm` — E1's loop, with the LR from
    ``AutoWarmup(opt, "auto -> cosine(floor=0.1)")`` (the automatic warmup that spec asks for)
    — at seed 0; writes ``e1/auto.json`` and ``e1/auto.png``.
    """

    from . import e1
    from .auto_runs import Arm, run_lm
    from .common import progress_bar

    steps = int(e1_res["arms"][0]["config"]["steps"])  # the run length E1 used (24 in quick mode)
    cfg = dict((n, c) for n, _, c in e1.arms(steps))["post_none"]  # Post-LN, AdamW, the decay alone
    cfg = e1.quick_config(cfg) if quick else cfg
    from ..tools.pool import torch_threads

    bar = progress_bar(cfg.steps, "automatic warmup (1 run)", True)
    try:
        with torch_threads(1):  # as E1's runs: the float summation order, hence the run, is the same
            r = run_lm(cfg, 0, Arm("auto", "auto", method="update"), progress=bar.update)
    finally:
        bar.close()
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
    atomic_write_text(
        os.path.join(e1_dir, "auto.json"),
        json.dumps(json_safe({**summary, "run": r}, source="auto run"), indent=1) + "\n",
    )
    from ..tools.plot import save_figure

    fig = plot_auto(e1_res, r)
    save_figure(fig, os.path.join(e1_dir, "auto.png"))
    pyplot().close(fig)
    vs = ", ".join(f"{_label(e1_res, n)}: {v:.3f}" for n, v in summary["vs"].items())
    lines = [
        "## Automatic warmup on E1 (no warmup length given)",
        "",
        f'`AutoWarmup(opt, "{AUTO_SPEC}", total_steps={steps})` — the automatic warmup capping the relative '
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


def plot_auto(e1_res: dict[str, Any], r: dict[str, Any]) -> Any:
    """``e1/auto.png``: the LR each update used and the training loss, automatic warmup beside E1's seed 0."""
    import numpy as np

    from .common import smooth

    fixed = {x["arm"]: x for x in e1_res["runs"] if x["seed"] == 0}
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
    unigram = e1_res["reference_levels"]["unigram"]
    bx.axhline(unigram, color="gray", ls=":", lw=0.8, label=f"unigram level {unigram:.2f} (collapsed)")
    ax.legend(fontsize=7)
    bx.legend(fontsize=7)
    for a in (ax, bx):
        a.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _label(res: dict[str, Any], name: str) -> str:
    return next((a["label"] for a in res["arms"] if a["name"] == name), name)


def _standard_schedules(out: str, head: list[str]) -> int:
    from .. import parse
    from ..tools.explain import explain
    from ..tools.plot import plot_schedules, save_figure

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
