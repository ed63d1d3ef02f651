"""E8 — large early steps trigger exploding pre-softmax attention logits; qk-layernorm removes most of the need.

Setup: E1's Post-LN run (AdamW (0.9, 0.98), weight decay 0.01, no clipping, peak
LR 1e-2, 400 steps, cosine to 10 %), with the 100-step linear warmup and without,
each with and without qk-layernorm (a LayerNorm on each head's queries and keys
before the dot product: Wortsman et al. 2023, arXiv:2309.14322, §3.1; Dehghani et
al. 2023), and rampup's automatic warmup at its defaults on both models.  After
every update's forward pass, the largest attention logit of every layer,
``max |q_i · k_j| / sqrt(d_head)`` over the batch, the heads and the causal pairs
``j ≤ i`` (:func:`rampup.experiments.observers.max_attention_logit`, measured by
forward hooks on the queries and keys that enter the softmax).

The criterion, fixed before the first full run (constants below):

* (a) *logits explode without warmup*: the seed mean of each run's largest logit
  over the first ``WINDOW`` updates is at least ``LOGIT_RATIO`` times larger without
  warmup than with it (no qk-layernorm);
* (b) *qk-layernorm removes most of the need*: the need for warmup (seed-mean final
  validation loss without warmup minus with it) is at least ``MIN_NEED`` nats
  without qk-layernorm and at most ``QK_NEED_FRACTION`` of that with it.

Both: reproduced; one: partly; neither: not reproduced.
"""

from __future__ import annotations

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
from .train import LMConfig

NAME = "e8"
TITLE = "exploding attention logits without warmup, and qk-layernorm (Post-LN, AdamW at 1e-2)"
CLAIM = (
    "large early steps (no warmup at a high LR) trigger exploding pre-softmax attention logits; "
    "qk-layernorm (Wortsman et al. 2023) removes most of the need for warmup."
)
WINDOW = 100  # "the first steps": the updates the 100-step warmup covers
LOGIT_RATIO = 2.0  # (a): max logit over the window, no warmup / warmup, seed means, at least this
MIN_NEED = 0.1  # (b): the plain model needs warmup: no warmup ends at least this many nats worse
QK_NEED_FRACTION = 0.5  # (b): with qk-layernorm the need is at most this fraction of the plain model's
CRITERION = (
    f"(a) mean over seeds of the largest attention logit over updates 0–{WINDOW - 1}: no warmup >= "
    f"{LOGIT_RATIO:g} × warmup (no qk-layernorm); (b) need = mean final val loss(no warmup) − mean(warmup): "
    f">= {MIN_NEED:g} nats without qk-layernorm and <= {QK_NEED_FRACTION:g} × that with it. "
    "Both: reproduced; one: partly; neither: not reproduced."
)


def arms(steps: int = 400) -> tuple[list[tuple[str, str, LMConfig]], list[tuple[str, str, LMConfig]]]:
    """(name, label, config) of the fixed arms and of the automatic-warmup arms; warmup ``steps // 4``."""
    w = steps // 4
    decay = "cosine(floor=0.1)"
    base = LMConfig(steps=steps, spec=decay)
    qk = replace(base, qk_norm=True)
    fixed = [
        ("plain_warmup", f"no qk-norm, linear warmup {w}", replace(base, spec=f"linear({w}) -> {decay}")),
        ("plain_none", "no qk-norm, no warmup", base),
        ("qk_warmup", f"qk-layernorm, linear warmup {w}", replace(qk, spec=f"linear({w}) -> {decay}")),
        ("qk_none", "qk-layernorm, no warmup", qk),
    ]
    auto = [
        ("plain_auto", "no qk-norm, automatic warmup (defaults)", base),
        ("qk_auto", "qk-layernorm, automatic warmup (defaults)", qk),
    ]
    return fixed, auto


def run(out: str, seeds: int = 3, quick: bool = False, workers: int = 2, progress: bool = True) -> dict[str, Any]:
    """Run E8 and write ``results.json``, ``report.md``, ``logits.png``, ``loss_curves.png``, ``schedules.png``."""
    t0 = time.perf_counter()
    steps = 24 if quick else 400
    window = min(WINDOW, steps // 4) if quick else WINDOW
    fixed, auto = arms(steps)
    if quick:
        fixed = [(n, lab, replace(c, eval_windows=32)) for n, lab, c in fixed]
        auto = [(n, lab, replace(c, eval_windows=32)) for n, lab, c in auto]
    runs = [ExtraRun(c, s, n, record_logits=True) for s in range(seeds) for n, _, c in fixed]
    runs += [ExtraRun(c, s, n, auto=True, record_logits=True) for s in range(seeds) for n, _, c in auto]
    res = run_jobs([run_job(r) for r in runs], workers, desc=f"E8 ({len(runs)} runs)", progress=progress)
    refs = reference_levels()
    results: dict[str, Any] = {
        **results_head(NAME, TITLE, CLAIM, quick, seeds),
        "corpus": load_corpus().info(),
        "reference_levels": refs,
        "window": window,
        "constants": {
            "window": WINDOW,
            "logit_ratio": LOGIT_RATIO,
            "min_need": MIN_NEED,
            "qk_need_fraction": QK_NEED_FRACTION,
        },
        "logit_definition": "max |q_i·k_j| / sqrt(d_head) over batch, heads and causal pairs j <= i, per layer, "
        "measured in the forward pass of every update (queries and keys after qk-layernorm where there is one)",
        "arms": [{"name": n, "label": lab, "spec": c.spec, "config": c.to_dict()} for n, lab, c in fixed],
        "auto_arms": [
            {"name": n, "label": lab, "spec": f"auto -> {c.spec}", "config": c.to_dict()} for n, lab, c in auto
        ],
        "runs": res,
    }
    results["summary"] = summarize(res, [n for n, _, _ in fixed + auto], window, refs["unigram"])
    results["auto"] = {
        "plain": warmup_gaps(results["summary"], "plain_auto", "plain_warmup", "plain_none"),
        "qk": warmup_gaps(results["summary"], "qk_auto", "qk_warmup", "qk_none"),
    }
    results["outcome"] = outcome(results["summary"])
    results["wall_s"] = timed(t0)
    figs = {
        "logits.png": plot_logits(results),
        "loss_curves.png": plot_curves(results),
        "schedules.png": plot_schedules_used(results),
    }
    write_outputs(out, results, report(results), figs)
    return results


def summarize(runs: list[dict[str, Any]], names: list[str], window: int, unigram: float) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for n in names:
        rs = sorted((r for r in runs if r["arm"] == n), key=lambda r: r["seed"])
        final = [r["final_val_loss"] for r in rs]
        early = [float(np.nanmax(np.asarray(r["max_logit"])[:window])) for r in rs]
        whole = [float(np.nanmax(np.asarray(r["max_logit"]))) for r in rs]
        s[n] = {
            "final_val_loss": final,
            "final_val_loss_mean": mean_std(final)[0],
            "final_val_loss_std": mean_std(final)[1],
            "max_logit_window": early,
            "max_logit_window_mean": mean_std(early)[0],
            "max_logit_run": whole,
            "max_logit_run_mean": mean_std(whole)[0],
            "collapsed": sum(1 for v in final if not np.isfinite(v) or v >= unigram - 0.1),
            "warmup_steps": [r.get("warmup_steps") for r in rs],
            "n": len(rs),
        }
    return s


def outcome(summary: dict[str, Any]) -> dict[str, Any]:
    ratio = summary["plain_none"]["max_logit_window_mean"] / summary["plain_warmup"]["max_logit_window_mean"]
    need_plain = summary["plain_none"]["final_val_loss_mean"] - summary["plain_warmup"]["final_val_loss_mean"]
    need_qk = summary["qk_none"]["final_val_loss_mean"] - summary["qk_warmup"]["final_val_loss_mean"]
    a = bool(ratio >= LOGIT_RATIO)
    b = bool(need_plain >= MIN_NEED and need_qk <= QK_NEED_FRACTION * need_plain)
    verdict = "reproduced" if a and b else "partly" if a or b else "not reproduced"
    return {
        "criterion": CRITERION,
        "logit_ratio": ratio,
        "logits_explode": a,
        "need_plain": need_plain,
        "need_qk": need_qk,
        "qk_removes_need": b,
        "verdict": verdict,
        "reproduced": verdict == "reproduced",
    }


def table(results: dict[str, Any]) -> str:
    w = results["window"]
    lines = [
        f"| arm | spec (rampup) | max logit, updates 0–{w - 1} | per seed | max logit, whole run | "
        "final val loss | per seed | collapsed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in results["arms"] + results["auto_arms"]:
        s = results["summary"][a["name"]]
        ws = s["warmup_steps"]
        spec = cell_code(a["spec"]) + (f" (warmup {', '.join(str(x) for x in ws)} steps)" if ws[0] is not None else "")
        lines.append(
            f"| {a['label']} | {spec} | {fmt_ms(s['max_logit_window'], 1)} | "
            f"{', '.join(f'{v:.1f}' for v in s['max_logit_window'])} | {fmt_ms(s['max_logit_run'], 1)} | "
            f"{fmt_ms(s['final_val_loss'])} | {', '.join(f'{v:.3f}' for v in s['final_val_loss'])} | "
            f"{s['collapsed']}/{s['n']} |"
        )
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    o = results["outcome"]
    lines = header(results)
    lines += [
        table(results),
        "",
        f"Max logit: {results['logit_definition']}; the largest over the layers and the updates named. "
        f"*collapsed* = final val loss within 0.1 of the unigram level ({results['reference_levels']['unigram']:.2f}).",
        "",
        f"Automatic warmup (AutoWarmup at its defaults, then `cosine(floor=0.1)`), final val loss: "
        f"no qk-norm: {fmt_gaps(results['auto']['plain'])} qk-layernorm: {fmt_gaps(results['auto']['qk'])}",
        "",
        f"**Outcome**: (a) max logit over updates 0–{results['window'] - 1}, no warmup / warmup = "
        f"{o['logit_ratio']:.2f}× → {'met' if o['logits_explode'] else 'not met'}; (b) need for warmup "
        f"{o['need_plain']:+.3f} nats without qk-layernorm, {o['need_qk']:+.3f} with it → "
        f"{'met' if o['qk_removes_need'] else 'not met'}; verdict: **{o['verdict']}** ({o['criterion']})",
        "",
        "![attention logits](logits.png)",
        "",
        "![loss curves](loss_curves.png)",
        "",
        "![schedules](schedules.png)",
        "",
    ]
    return "\n".join(lines)


def _curves(results: dict[str, Any], name: str, key: str) -> np.ndarray:
    rs = [r for r in results["runs"] if r["arm"] == name]
    if key == "max_logit":
        ys = [np.nanmax(np.asarray(r[key], dtype=float), axis=1) for r in rs]
    else:
        ys = [np.asarray(r[key], dtype=float) for r in rs]
    n = max(len(y) for y in ys)
    a = np.full((len(ys), n), np.nan)
    for i, y in enumerate(ys):
        a[i, : len(y)] = y
    return a


def _all_arms(results: dict[str, Any]) -> list[dict[str, Any]]:
    return list(results["arms"]) + list(results["auto_arms"])


def plot_logits(results: dict[str, Any]) -> Any:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharey=True)
    for ax, prefix, title in ((axes[0], "plain_", "no qk-layernorm"), (axes[1], "qk_", "qk-layernorm")):
        for i, a in enumerate(x for x in _all_arms(results) if x["name"].startswith(prefix)):
            c = _curves(results, a["name"], "max_logit")
            for k, y in enumerate(c):
                ax.plot(y, lw=0.8, color=f"C{i}", alpha=0.7, label=a["label"].split(", ", 1)[1] if k == 0 else None)
        ax.axvline(results["window"], color="gray", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("optimizer update")
        ax.set_title(f"E8, {title}: largest attention logit per update (lines = seeds)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("max |q·k| / sqrt(d_head), over layers")
    fig.tight_layout()
    return fig


def plot_curves(results: dict[str, Any]) -> Any:
    plt = pyplot()
    refs = results["reference_levels"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharey=True)
    for ax, prefix, title in ((axes[0], "plain_", "no qk-layernorm"), (axes[1], "qk_", "qk-layernorm")):
        for a in (x for x in _all_arms(results) if x["name"].startswith(prefix)):
            c = _curves(results, a["name"], "train_loss")
            ax.plot(smooth(np.nanmean(c, axis=0), 10), lw=1.3, label=a["label"].split(", ", 1)[1])
        for k, ls in (("unigram", "--"), ("bigram", ":")):
            ax.axhline(refs[k], color="gray", lw=0.8, ls=ls, label=f"{k} level {refs[k]:.2f}")
        ax.set_title(f"E8, {title}: train loss (mean over seeds, 10-step average)", fontsize=9)
        ax.set_xlabel("optimizer update")
        ax.set_ylim(1.5, 4.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("cross-entropy (nats/byte)")
    fig.tight_layout()
    return fig


def plot_schedules_used(results: dict[str, Any]) -> Any:
    """The fixed schedules and, per seed, the curve the automatic warmup exported."""
    from ..tools.plot import plot_schedules

    c = results["arms"][0]["config"]
    specs = {a["spec"]: a["spec"] for a in results["arms"]}
    for r in results["runs"]:
        if r.get("exported_spec"):
            specs.setdefault(r["exported_spec"], f"{r['arm']}, seed {r['seed']}: auto → {r['warmup_steps']} steps")
    scheds = [parse(s, total_steps=c["steps"], peak_lr=c["peak_lr"]) for s in specs]
    return plot_schedules(
        scheds, list(specs.values()), c["steps"], title=f"E8 schedules ({c['steps']} steps, peak LR {c['peak_lr']:g})"
    )
