"""``rampup auto-compare``: the automatic warmups against a sweep of fixed warmup lengths.

Tasks (the setups of :mod:`rampup.experiments`, run by :mod:`rampup.experiments.auto_runs`):

* ``e1`` — Post-LN byte transformer, AdamW (0.9, 0.98), peak LR 1e-2, 400 steps,
  cosine to 10 %; fixed warmups of 0, 25, 50, 100, 200 steps (linear from 0).
* ``e2`` — Pre-LN, AdamW (0.9, 0.95), clip 1.0, 300 steps, the peak-LR grid
  3e-4 … 3e-1; fixed warmups of 0, 20, 40, 75, 150 steps; the LR sensitivity of
  Wortsman et al. 2023 per arm and seed.
* ``e3`` — digits ResNet, SGD at batch 512 (LR 3.2), 60 steps (30 epochs),
  multistep decay; fixed gradual warmups (linear from the small-batch LR, 1/16 of
  the peak) of 0, 2, 5, 10, 15, 20 steps (0 … 10 epochs; 20 ends at the first milestone).
* ``beyond`` — small settings the method was not designed on: a 2-layer d=32
  Post-LN LM with β2 = 0.98 and with β2 = 0.999, a 2-layer Pre-LN LM at batch 64
  and LR 3e-2, digits at batch 256; fixed warmups of 0 … 50 % of the run (see
  :data:`TASKS`; the longest equals the default's longest allowed warmup).

The auto arms are the :data:`CANDIDATES` (``auto_update_abs50`` is AutoWarmup's
default), whose ramps start where the fixed arms' do (``start``, as in
``linear(n, start=…)``).  The ``near_N`` arms (E1, E3) are fixed warmups a few steps
either side of the best length, outside the sweep: the benchmark's resolution.  Every run is
cached as ``OUT/runs/*.json``: a second call continues where the first stopped.
Outputs: ``results.json``, ``report.md`` (the tables), ``auto_compare.png``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..support.io import atomic_write_text, json_safe
from ..support.optional import pyplot
from ..tools.pool import run_tasks

__all__ = ["TASKS", "run_compare"]

# Candidates: name -> (method, options, max_warmup as a fraction of the run; None = AutoWarmup's default).
# ``update_abs50`` is AutoWarmup's default (absolute cap 0.003, envelope up to 50 % of the run).
CANDIDATES: dict[str, tuple[str, dict[str, Any], float | None]] = {
    "update_abs50": ("update", {"max_update": 0.003}, 0.5),
    # the default without its hysteresis (confirm=1, margin=0): the plain cap of Kosson et al.
    "update_plain50": ("update", {"max_update": 0.003, "confirm": 1, "margin": 0.0}, 0.5),
    # the default with the earlier cap, 0.005, with and without the hysteresis
    "update_cap5_50": ("update", {"max_update": 0.005}, 0.5),
    "update_plain_cap5_50": ("update", {"max_update": 0.005, "confirm": 1, "margin": 0.0}, 0.5),
    "update_abs": ("update", {"max_update": 0.005}, 0.25),
    "update": ("update", {"cap_ratio": 0.05}, 0.25),
    "loss": ("loss", {}, 0.25),
    "catapult": ("catapult", {}, 0.25),
}
METHODS_DEFAULT = (
    "update_abs50",
    "update_plain50",
    "update_cap5_50",
    "update_plain_cap5_50",
    "update_abs",
    "update",
    "loss",
    "catapult",
)


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # "lm" | "digits"
    title: str
    fixed: tuple[int, ...]  # warmup lengths in steps
    start: float  # where the gradual warmups' ramps start, as in linear(n, start=start), for every arm
    lrs: tuple[float, ...] = ()  # an LR grid (E2) or () = the config's own
    params: tuple[tuple[str, Any], ...] = ()  # config overrides
    group: str = "main"
    # Fixed warmups just either side of `near_of` (the sweep's best length): not in the sweep; they
    # measure how much the final metric moves when the curve moves a little (the benchmark's resolution).
    near: tuple[int, ...] = ()
    near_of: int = 0

    def __post_init__(self) -> None:
        if self.near and (self.near_of <= 0 or self.near_of not in self.fixed):
            raise ValueError(
                f"near_of: got {self.near_of!r}; accepted: one of the fixed lengths > 0 in {self.fixed} "
                f"(the arm that near={self.near} surround)"
            )


TASKS: tuple[Task, ...] = (
    Task("e1", "lm", "E1 Post-LN, AdamW, LR 1e-2, 400 steps", (0, 25, 50, 100, 200), 0.0, near=(190, 210), near_of=200),
    Task(
        "e2",
        "lm",
        "E2 Pre-LN LR grid, AdamW (0.9, 0.95), clip 1, 300 steps",
        (0, 20, 40, 75, 150),
        0.0,
        lrs=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1),
    ),
    Task(
        "e3",
        "digits",
        "E3 digits ResNet, SGD batch 512, LR 3.2, 60 steps",
        (0, 2, 5, 10, 15, 20),
        1 / 16,
        near=(18, 19),
        near_of=20,
    ),
    Task(
        "b_postln_small",
        "lm",
        "Post-LN 2×32, β2 0.98, LR 1e-2, 200 steps",
        (0, 5, 10, 25, 50, 100),
        0.0,
        params=(("n_layers", 2), ("d_model", 32), ("steps", 200)),
        group="beyond",
    ),
    Task(
        "b_beta2_999",
        "lm",
        "Post-LN 2×32, β2 0.999, LR 1e-2, 200 steps",
        (0, 5, 10, 25, 50, 100),
        0.0,
        params=(("n_layers", 2), ("d_model", 32), ("steps", 200), ("beta2", 0.999)),
        group="beyond",
    ),
    Task(
        "b_preln_b64",
        "lm",
        "Pre-LN 2×32, batch 64, LR 3e-2, 200 steps",
        (0, 5, 10, 25, 50, 100),
        0.0,
        params=(("n_layers", 2), ("d_model", 32), ("steps", 200), ("batch", 64), ("post_ln", False), ("peak_lr", 3e-2)),
        group="beyond",
    ),
    Task(
        "b_digits_b256",
        "digits",
        "digits ResNet, SGD batch 256, LR 1.6, 120 steps",
        (0, 4, 10, 20, 30, 40),
        1 / 8,
        params=(("batch", 256),),
        group="beyond",
    ),
)

QUICK_TASKS: tuple[Task, ...] = (
    Task(
        "e1",
        "lm",
        "E1 (quick: 2×32, 60 steps)",
        (0, 5, 15),
        0.0,
        params=(("n_layers", 2), ("d_model", 32), ("steps", 60), ("eval_windows", 32)),
    ),
    Task(
        "e2",
        "lm",
        "E2 (quick: 2×32, 60 steps, 3 LRs)",
        (0, 5, 15),
        0.0,
        lrs=(1e-3, 1e-2, 1e-1),
        params=(("n_layers", 2), ("d_model", 32), ("steps", 60), ("eval_windows", 32)),
    ),
    Task("e3", "digits", "E3 (quick: 6 epochs)", (0, 2, 3), 1 / 16, params=(("epochs", 6),)),
)


def _lm_cfg(task: Task, lr: float | None) -> Any:
    from .e2 import WD_INDEPENDENT
    from .train import LMConfig

    if task.name.startswith("e2"):
        assert lr is not None
        cfg = LMConfig(
            spec="cosine(floor=0.1)",
            post_ln=False,
            steps=300,
            peak_lr=lr,
            beta2=0.95,
            clip=1.0,
            weight_decay=WD_INDEPENDENT / lr,
            eval_every=10**9,
        )
    else:
        cfg = LMConfig(spec="cosine(floor=0.1)", eval_every=10**9)
    cfg = replace(cfg, **dict(task.params))
    if lr is not None and task.name.startswith("e2"):
        cfg = replace(cfg, peak_lr=lr, weight_decay=WD_INDEPENDENT / lr)
    return cfg


def _digits_cfg(task: Task) -> Any:
    from .train import DigitsConfig

    return replace(DigitsConfig(warmup="none"), **dict(task.params))


def _arms(task: Task, methods: Sequence[str]) -> list[Any]:
    from .auto_runs import Arm

    if task.kind == "lm":
        then = "cosine(floor=0.1)"
    else:
        from .auto_runs import digits_then

        then = digits_then(_digits_cfg(task))[0]
    arms = []
    start = f", start={task.start!r}" if task.start else ""
    for n in task.fixed:
        if n == 0:
            arms.append(Arm("fixed", "fixed_0", spec=then))
        else:
            arms.append(Arm("fixed", f"fixed_{n}", spec=f"linear({n}{start}) -> {then}"))
    for n in task.near:
        arms.append(Arm("fixed", f"near_{n}", spec=f"linear({n}{start}) -> {then}"))
    for m in methods:
        method, options, max_frac = CANDIDATES[m]
        arms.append(
            Arm("auto", f"auto_{m}", method=method, options=dict(options), start=task.start, max_warmup=max_frac)
        )
    return arms


def _job_key(task: Task, arm: Any, seed: int, lr: float | None, quick: bool = False) -> str:
    lr_part = f"-lr{lr:g}" if lr is not None else ""
    return f"{'quick-' if quick else ''}{task.name}-{arm.name}{lr_part}-s{seed}"


def _settings(task: Task, arm: Any, seed: int, lr: float | None) -> str:
    """sha256 (16 hex digits) of everything that defines a run: the training config, the arm, seed and LR."""
    import hashlib
    from dataclasses import asdict

    cfg = _lm_cfg(task, lr) if task.kind == "lm" else _digits_cfg(task)
    blob = json.dumps(
        {"kind": task.kind, "cfg": asdict(cfg), "arm": arm.to_dict(), "seed": seed, "lr": lr},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# The modules whose code decides a run's numbers; a cached run records their fingerprint.
_FINGERPRINTED = (
    "core",
    "torch/auto.py",
    "torch/monitor.py",
    "experiments/auto_runs.py",
    "experiments/train.py",
    "experiments/models.py",
    "experiments/data.py",
)


def code_fingerprint(root: str | None = None) -> str:
    """sha256 (16 hex digits) of the code that decides a run's numbers, comments and docstrings left out.

    Each module is parsed and its AST dumped without docstrings, so editing prose or formatting keeps
    the cache, and any change to the code re-runs what depends on it.
    """
    import ast
    import hashlib

    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the rampup package
    files: list[str] = []
    for rel in _FINGERPRINTED:
        path = os.path.join(root, rel)
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".py"))
        else:
            files.append(path)
    h = hashlib.sha256()
    for path in files:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(body, list)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body.pop(0)  # the docstring
        h.update(os.path.relpath(path, root).encode() + b"\0" + ast.dump(tree).encode() + b"\0")
    return h.hexdigest()[:16]


def _run_job(job: tuple[Task, Any, int, float | None, str, str, str]) -> tuple[str, dict[str, Any]]:
    import torch

    task, arm, seed, lr, path, code, settings = job
    torch.set_num_threads(1)
    from .auto_runs import run_digits, run_lm

    if task.kind == "lm":
        r = run_lm(_lm_cfg(task, lr), seed, arm)
        r["peak_lr"] = lr if lr is not None else _lm_cfg(task, lr).peak_lr
    else:
        r = run_digits(_digits_cfg(task), seed, arm)
    r["task"], r["lr_grid"] = task.name, lr
    # The fingerprint of the code as the caller loaded it (not of the files when the run ends).
    r["code"], r["settings"] = code, settings
    atomic_write_text(path, json.dumps(json_safe(r, source="run")) + "\n")
    return path, r


def run_compare(
    out: str,
    seeds: int | None = None,
    quick: bool = False,
    workers: int = 2,
    methods: Sequence[str] = METHODS_DEFAULT,
    tasks: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or continue) the comparison into ``out``; return the results dict (also written as JSON)."""
    for m in methods:
        if m not in CANDIDATES:
            raise ValueError(f"methods: got {m!r}; accepted: {', '.join(CANDIDATES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: got {workers!r}; accepted: an int >= 1")
    pool_tasks = QUICK_TASKS if quick else TASKS
    if tasks is not None:
        known = {t.name for t in pool_tasks} | {t.group for t in pool_tasks}
        bad = [t for t in tasks if t not in known]
        if bad:
            raise ValueError(f"tasks: got {bad}; accepted: {', '.join(sorted(known))}")
        pool_tasks = tuple(t for t in pool_tasks if t.name in tasks or t.group in tasks)
    n_seeds = {t.name: (1 if quick else _default_seeds(t)) for t in pool_tasks}
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ValueError(f"seeds: got {seeds!r}; accepted: an int >= 1")
        n_seeds = {t.name: seeds for t in pool_tasks}
    os.makedirs(os.path.join(out, "runs"), exist_ok=True)
    code = code_fingerprint()
    jobs = []
    for task in pool_tasks:
        for arm in _arms(task, methods):
            for seed in range(n_seeds[task.name]):
                for lr in task.lrs or (None,):
                    path = os.path.join(out, "runs", _job_key(task, arm, seed, lr, quick) + ".json")
                    jobs.append((task, arm, seed, lr, path, code, _settings(task, arm, seed, lr)))
    results: list[dict[str, Any]] = []
    todo = []
    stale = legacy = 0
    for j in jobs:
        if os.path.exists(j[4]):
            with open(j[4], encoding="utf-8") as f:
                r = json.load(f)
            if "code" not in r:
                legacy += 1  # cached before runs carried a fingerprint: kept (see docs/auto.md)
            elif r["code"] != code or r.get("settings") != j[6]:
                stale += 1  # other code or other settings: its numbers may differ, run it again
                todo.append(j)
                continue
            results.append(r)
        else:
            todo.append(j)
    if stale:
        _say(progress, f"auto-compare: {stale} cached runs come from other code or settings: re-running them")
    if legacy:
        _say(
            progress,
            f"auto-compare: {legacy} cached runs carry no code fingerprint (cached before 2026-11-30); "
            f"delete {os.path.join(out, 'runs')} to recompute everything",
        )
    # Cheap, decisive tasks first (a partial run is still useful), slow jobs first within a task.
    order = {"e3": 0, "e1": 1, "beyond": 2, "e2": 3}
    todo.sort(key=lambda j: (order.get(j[0].name, order.get(j[0].group, 2)), -_cost(j[0])))
    t0 = time.perf_counter()
    if todo:
        _say(progress, f"auto-compare: {len(todo)} runs to do ({len(results)} cached) with {workers} workers")
        finished = [0]

        def done(k: int, path_result: tuple[str, dict[str, Any]]) -> None:
            results.append(path_result[1])
            finished[0] += 1
            name = os.path.basename(path_result[0])
            _say(progress, f"  [{finished[0]}/{len(todo)}] {name}  {time.perf_counter() - t0:.0f}s")

        # The project's pool (workers=1: in this process): each finished run is on disk as soon as it ends, the
        # workers die with this process, and a run whose worker is killed is retried once.
        run_tasks(_run_job, todo, workers, done, noun="run")
    summary = summarize(results, pool_tasks, methods)
    summary["command"] = (
        "rampup auto-compare"
        + (" --quick" if quick else "")
        + (f" --seeds {seeds}" if seeds is not None else "")
        + (f" --methods {','.join(methods)}" if tuple(methods) != METHODS_DEFAULT else "")
        + (f" --tasks {','.join(tasks)}" if tasks is not None else "")
    )
    summary["environment"] = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "wall_s_this_call": round(time.perf_counter() - t0, 1),
    }
    atomic_write_text(
        os.path.join(out, "results.json"), json.dumps(json_safe(summary, source="summary"), indent=1) + "\n"
    )
    atomic_write_text(os.path.join(out, "report.md"), report(summary))
    try:
        fig = plot(summary, results)
    except ImportError:  # pragma: no cover - matplotlib missing
        fig = None
    if fig is not None:
        from ..tools.plot import save_figure

        save_figure(fig, os.path.join(out, "auto_compare.png"), dpi=100)
    return summary


def _default_seeds(task: Task) -> int:
    return {"e1": 3, "e2": 3, "e3": 3}.get(task.name, 2)


def _cost(task: Task) -> float:
    p = dict(task.params)
    if task.kind == "digits":
        return 0.3
    steps = p.get("steps", 300 if task.name == "e2" else 400)
    width = p.get("d_model", 64) * p.get("n_layers", 4) * p.get("batch", 16)
    return steps * width / (400 * 64 * 4 * 16)


def _say(on: bool, msg: str) -> None:
    if on:
        print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Summaries and bounds
# ---------------------------------------------------------------------------------------------


def _metric(r: dict[str, Any], l0: float | None = None) -> float:
    if "final_test_error" in r:
        v = r["final_test_error"]
        return math.nan if v is None else float(v)
    v = r.get("final_val_loss")
    return math.nan if v is None else float(v)


def summarize(results: list[dict[str, Any]], tasks: Sequence[Task], methods: Sequence[str]) -> dict[str, Any]:
    """Per task: the metric of every arm and seed, the best fixed arm, and the bounds of issue 6 for each method."""
    from .data import reference_levels
    from .e2 import sensitivity

    unigram = reference_levels()["unigram"]
    out: dict[str, Any] = {"tasks": {}, "methods": list(methods), "unigram": unigram}
    for task in tasks:
        rs = [r for r in results if r.get("task") == task.name]
        if not rs:
            continue
        every_arm = sorted({r["arm"] for r in rs}, key=_arm_order)
        arms = [a for a in every_arm if not a.startswith("near_")]
        near = [a for a in every_arm if a.startswith("near_")]
        seeds = sorted({r["seed"] for r in rs})
        t: dict[str, Any] = {"title": task.title, "kind": task.kind, "arms": arms, "seeds": seeds, "group": task.group}
        if task.lrs:
            grid: dict[str, dict[int, dict[float, float]]] = {}
            l0s: dict[int, float] = {}
            for r in rs:
                grid.setdefault(r["arm"], {}).setdefault(r["seed"], {})[float(r["lr_grid"])] = _metric(r)
                l0s[r["seed"]] = float(r["val_loss_init"])
            sens = {
                a: {
                    s: sensitivity(grid[a][s], l0s[s])
                    for s in seeds
                    if s in grid[a] and len(grid[a][s]) == len(task.lrs)
                }
                for a in arms
            }
            t["grid"] = {
                a: {str(s): {f"{lr:g}": v for lr, v in d.items()} for s, d in g.items()} for a, g in grid.items()
            }
            t["sensitivity"] = {a: {str(s): v for s, v in d.items()} for a, d in sens.items()}

            # The protocol on the seed-mean loss curve (each seed's loss capped at its l0 first): the
            # comparison's primary figure; the per-seed sensitivities are shown beside it.
            curves = {a: _mean_curve(grid[a], l0s, seeds, task.lrs) for a in arms}
            sens_mean = {a: sensitivity(c, math.inf) for a, c in curves.items() if c is not None}
            t["sensitivity_mean_curve"] = sens_mean
            fixed = [a for a in arms if a.startswith("fixed_") and a in sens_mean]
            # A fixed arm with a missing run (an interrupted call) cannot be compared: named, not hidden.
            t["incomplete_fixed"] = [a for a in arms if a.startswith("fixed_") and a not in sens_mean]
            # "The best fixed warmup" is the sweep's winner, as on E1/E3: the lowest loss (at its best LR,
            # mean over seeds).  The stricter reading — the least LR-sensitive fixed arm — is reported too.
            best_loss = {
                a: {s: _min_finite(grid[a][s].values()) for s in seeds if s in grid[a]} for a in arms if a in grid
            }
            best = min(fixed, key=lambda a: _mean_or_inf(best_loss[a].values())) if fixed else None
            least = min(fixed, key=sens_mean.__getitem__) if fixed else None
            t["best_fixed"] = best
            t["least_sensitive_fixed"] = least
            t["best_loss"] = {a: {str(s): v for s, v in d.items()} for a, d in best_loss.items()}
            # The oracle: at every LR the best of the fixed arms (a per-LR choice of warmup length, which is
            # all a warmup controller can do) — its sensitivity bounds what any such choice reaches.
            oracle = {}
            for s in seeds:
                per_lr = {
                    lr: _min_finite(grid[a][s].get(lr, math.nan) for a in fixed if s in grid[a]) for lr in task.lrs
                }
                oracle[s] = sensitivity(per_lr, l0s[s])
            t["oracle_sensitivity"] = {str(s): v for s, v in oracle.items()}
            fixed_curves = [curves[a] for a in fixed]
            t["oracle_sensitivity_mean_curve"] = (
                sensitivity({lr: min(c[lr] for c in fixed_curves if c) for lr in task.lrs}, math.inf)
                if fixed_curves
                else math.nan
            )
            # per arm, seed and LR: the warmup length the run used (an automatic arm's choice)
            t["warmup_steps"] = {a: {} for a in arms}
            for r in rs:
                if r["arm"] in t["warmup_steps"]:
                    by_seed = t["warmup_steps"][r["arm"]].setdefault(str(r["seed"]), {})
                    by_seed[f"{float(r['lr_grid']):g}"] = r.get("warmup_steps")
            checks = {}
            for m in methods:
                a = f"auto_{m}"
                if best is None or least is None:
                    continue
                if a not in sens_mean:
                    checks[m] = _incomplete(a, task, seeds)
                    continue
                per_seed = {str(s): (sens[a].get(s, math.nan), sens[best].get(s, math.nan)) for s in seeds}
                strict = {str(s): (sens[a].get(s, math.nan), sens[least].get(s, math.nan)) for s in seeds}
                # no collapse/divergence at an (LR, seed) where the best fixed arm has none
                new_collapse = [
                    (f"{lr:g}", s)
                    for s in seeds
                    for lr in task.lrs
                    if _collapsed(task, grid[a].get(s, {}).get(lr, math.nan), unigram)
                    and not _collapsed(task, grid[best].get(s, {}).get(lr, math.nan), unigram)
                ]
                checks[m] = {
                    "mean_curve": (sens_mean[a], sens_mean[best], sens_mean[least]),
                    "sensitivity_vs_best_fixed": per_seed,
                    "seeds_holding": sum(x <= y + 1e-12 for x, y in per_seed.values()),
                    "sensitivity_vs_least_sensitive_fixed": strict,
                    "new_collapse": new_collapse,
                    "holds": sens_mean[a] <= sens_mean[best] + 1e-12 and not new_collapse,
                    "holds_strict": sens_mean[a] <= sens_mean[least] + 1e-12 and not new_collapse,
                }
            t["checks"] = checks
        else:
            vals = {a: {r["seed"]: _metric(r) for r in rs if r["arm"] == a} for a in every_arm}
            t["final"] = {a: {str(s): v for s, v in d.items()} for a, d in vals.items()}
            t["warmup_steps"] = {a: {str(r["seed"]): r.get("warmup_steps") for r in rs if r["arm"] == a} for a in arms}
            t["specs"] = {a: {str(r["seed"]): r.get("spec") for r in rs if r["arm"] == a} for a in arms}
            fixed = [a for a in arms if a.startswith("fixed_") and set(vals[a]) == set(seeds)]
            t["incomplete_fixed"] = [a for a in arms if a.startswith("fixed_") and a not in fixed]

            means = {a: _mean_or_inf(vals[a].values()) for a in fixed}
            best = min(fixed, key=means.__getitem__) if fixed else None
            t["best_fixed"] = best
            collapse = {a: {s: _collapsed(task, v, unigram) for s, v in vals[a].items()} for a in arms}
            t["collapsed"] = {a: {str(s): c for s, c in d.items()} for a, d in collapse.items()}
            checks = {}
            for m in methods:
                a = f"auto_{m}"
                if best is None:
                    continue
                if a not in vals or set(vals[a]) != set(seeds):
                    checks[m] = _incomplete(a, task, seeds)
                    continue
                rows = {}
                for s in seeds:
                    x, y = vals[a].get(s, math.nan), vals[best].get(s, math.nan)
                    oracle_v = min((vals[f].get(s, math.inf) for f in fixed), default=math.nan)
                    gap = _gap(task, x, y)
                    ok = math.isfinite(x) and (x <= y * 1.01 if task.kind == "lm" else x <= y + 0.01)
                    no_new_collapse = not collapse[a][s] or collapse[best][s]
                    rows[str(s)] = {
                        "auto": x,
                        "best_fixed": y,
                        "per_seed_oracle": oracle_v,
                        "gap": gap,
                        "within_bound": ok,
                        "no_new_collapse": no_new_collapse,
                    }
                checks[m] = {
                    "per_seed": rows,
                    "holds": all(r["within_bound"] and r["no_new_collapse"] for r in rows.values()),
                }
            t["checks"] = checks
            anchor = f"fixed_{task.near_of}"
            if near and anchor in vals:
                t["resolution"] = {
                    "anchor": anchor,
                    "gaps": {
                        a: {str(s): _gap(task, vals[a][s], vals[anchor][s]) for s in seeds if s in vals[a]}
                        for a in near
                    },
                }
        out["tasks"][task.name] = t
    return out


def _mean_curve(
    per_seed: dict[int, dict[float, float]], l0s: dict[int, float], seeds: Sequence[int], lrs: Sequence[float]
) -> dict[float, float] | None:
    """Loss vs LR averaged over seeds, each loss first capped at its seed's ℓ0 (NaN counts as ℓ0); None if incomplete."""
    if any(s not in per_seed or len(per_seed[s]) != len(lrs) for s in seeds):
        return None
    return {
        lr: float(
            np.mean([l0s[s] if not math.isfinite(per_seed[s][lr]) else min(per_seed[s][lr], l0s[s]) for s in seeds])
        )
        for lr in lrs
    }


def _gap(task: Task, x: float, y: float) -> float:
    """``x`` vs ``y`` as the bound reads it: relative for LM losses, absolute (points) for test errors."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return math.nan
    return (x - y) / y if task.kind == "lm" else x - y


def _incomplete(arm: str, task: Task, seeds: Sequence[int]) -> dict[str, Any]:
    what = f"{len(seeds)} seed(s)" + (f" x {len(task.lrs)} LRs" if task.lrs else "")
    return {"holds": False, "holds_strict": False, "incomplete": f"`{arm}` lacks runs of the {what}"}


def _min_finite(values: Any) -> float:
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    return min(xs) if xs else math.nan


def _mean_or_inf(values: Any) -> float:
    xs = [v if math.isfinite(v) else math.inf for v in values]
    return float(np.mean(xs)) if xs else math.inf


def _collapsed(task: Task, v: float, unigram: float) -> bool:
    if not math.isfinite(v):
        return True
    if task.kind == "lm":
        return v >= unigram - 0.1  # stuck at (or above) the unigram level: context ignored
    return v > 0.5  # digits: worse than half wrong


def _arm_order(a: str) -> tuple[int, float, str]:
    if a.startswith("fixed_"):
        return (0, float(a.split("_")[1]), a)
    if a.startswith("near_"):
        return (2, float(a.split("_")[1]), a)
    return (1, 0.0, a)


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NaN"
    return f"{v:.{digits}f}"


def report(summary: dict[str, Any]) -> str:
    """The markdown tables: per task, every arm per seed, the best fixed arm, the bound for each method."""
    lines = [
        "# Automatic warmup vs a sweep of fixed warmup lengths",
        "",
        f"Command: `{summary.get('command', 'rampup auto-compare')}`; "
        f"{summary.get('environment', {}).get('date', '')}, python {summary.get('environment', {}).get('python', '')}, "
        f"{summary.get('environment', {}).get('machine', '')}.",
        "",
        "LM tasks: final validation loss (nats/byte, lower is better); digits: final test error. "
        "`fixed_N` = linear warmup of N steps; `auto_M` = AutoWarmup(method=M), its chosen warmup length in brackets. "
        "Bound (issue 6): auto within 1 % (LM) / 1 point (digits) of the best fixed arm (best mean over seeds) "
        "on every seed and no collapse where that arm has none; on E2 an LR sensitivity no higher than the best "
        "fixed arm's (the arm with the lowest loss at its best LR), and — the stricter reading — than the least "
        "LR-sensitive fixed arm's.",
        "",
    ]
    for name, t in summary["tasks"].items():
        lines += [f"## {name}: {t['title']}", ""]
        seeds = t["seeds"]
        if "grid" in t:
            lrs = sorted({float(lr) for g in t["grid"].values() for d in g.values() for lr in d})
            lines.append("| arm | " + " | ".join(f"η={lr:g}" for lr in lrs) + " | LR sensitivity |")
            lines.append("|---" * (len(lrs) + 2) + "|")
            for a in t["arms"]:
                for s in seeds:
                    d = t["grid"].get(a, {}).get(str(s), {})
                    ws = t["warmup_steps"].get(a, {}).get(str(s), {})
                    cells = []
                    for lr in lrs:
                        v = d.get(f"{lr:g}")
                        extra = f" [{ws.get(f'{lr:g}')}]" if a.startswith("auto_") and ws.get(f"{lr:g}") else ""
                        cells.append(_f(v) + extra)
                    sv = t["sensitivity"].get(a, {}).get(str(s))
                    marks = [
                        m
                        for m, k in (("best fixed", "best_fixed"), ("least sensitive", "least_sensitive_fixed"))
                        if a == t.get(k)
                    ]
                    mark = f" ({', '.join(marks)})" if marks else ""
                    lines.append(f"| {a}{mark} (seed {s}) | " + " | ".join(cells) + f" | {_f(sv)} |")
            sm = t.get("sensitivity_mean_curve", {})
            if sm:
                lines.append("")
                lines.append(
                    "LR sensitivity of the seed-mean curve: "
                    + ", ".join(f"`{a}` {_f(sm[a])}" for a in t["arms"] if a in sm)
                    + "."
                )
        else:
            digits = 3 if t["kind"] == "lm" else 4
            lines.append("| arm | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |")
            lines.append("|---" * (len(seeds) + 2) + "|")
            for a in t["arms"]:
                vals = t["final"].get(a, {})
                ws = t["warmup_steps"].get(a, {})
                cells = []
                for s in seeds:
                    v = vals.get(str(s))
                    c = _f(v, digits)
                    if a.startswith("auto_") and ws.get(str(s)) is not None:
                        c += f" [{ws[str(s)]}]"
                    if t["collapsed"].get(a, {}).get(str(s)):
                        c += " ✗"
                    cells.append(c)
                finite = [v for v in vals.values() if v is not None and math.isfinite(v)]
                mean = _f(float(np.mean(finite)), digits) if len(finite) == len(vals) and finite else "NaN"
                mark = " (best fixed)" if a == t["best_fixed"] else ""
                lines.append(f"| {a}{mark} | " + " | ".join(cells) + f" | {mean} |")
            lines.append("")
            lines.append("✗ = collapsed (LM: within 0.1 nats of the unigram level or NaN; digits: error > 50 %).")
        lines.append("")
        if t.get("incomplete_fixed"):
            lines.append(f"- Left out for missing runs (rerun the command to complete): {t['incomplete_fixed']}.")
        for m, c in t.get("checks", {}).items():
            if "incomplete" in c:
                lines.append(f"- `auto_{m}`: {c['incomplete']} → bound **not checked** (rerun the command).")
                continue
            verdict = "holds" if c["holds"] else "**does not hold**"
            if "per_seed" in c:
                gaps = ", ".join(
                    f"seed {s}: {'+' if r['gap'] >= 0 else ''}{r['gap'] * 100:.1f}"
                    + ("%" if t["kind"] == "lm" else " pt")
                    for s, r in c["per_seed"].items()
                    if r["gap"] is not None and math.isfinite(r["gap"])
                )
                lines.append(f"- `auto_{m}` vs `{t['best_fixed']}`: {gaps} → bound {verdict}.")
            else:
                xa, xb, xl = c["mean_curve"]
                pairs = ", ".join(
                    f"seed {s}: {_f(x)} vs {_f(y)}" for s, (x, y) in c["sensitivity_vs_best_fixed"].items()
                )
                coll = (
                    f"; collapses where `{t['best_fixed']}` does not: {c['new_collapse']}" if c["new_collapse"] else ""
                )
                n_seeds = len(c["sensitivity_vs_best_fixed"])
                lines.append(
                    f"- `auto_{m}` LR sensitivity (seed-mean curve) {_f(xa)} vs the best fixed arm "
                    f"`{t['best_fixed']}` {_f(xb)}{coll} → bound {verdict}; per seed {pairs} "
                    f"({c['seeds_holding']} of {n_seeds} seeds hold)."
                )
                strict = "holds" if c["holds_strict"] else "does not hold"
                lines.append(
                    f"  - stricter reading, vs the least LR-sensitive fixed arm `{t['least_sensitive_fixed']}` "
                    f"{_f(xl)}: {strict}."
                )
        if "resolution" in t:
            res = t["resolution"]
            unit = "%" if t["kind"] == "lm" else " pt"
            per_seed = "; ".join(
                f"seed {s}: "
                + ", ".join(
                    f"{a.split('_')[1]} steps {'+' if g[s] >= 0 else ''}{g[s] * 100:.1f}{unit}"
                    for a, g in res["gaps"].items()
                    if s in g and g[s] is not None and math.isfinite(g[s])
                )
                for s in map(str, seeds)
            )
            names = " and ".join(a.split("_")[1] for a in res["gaps"])
            lines.append(
                f"- Resolution: fixed warmups of {names} steps, near `{res['anchor']}` and not in the sweep, differ "
                f"from it "
                f"by {per_seed}. A curve that moves this little moves the final metric this much."
            )
        if "oracle_sensitivity" in t:
            ors = ", ".join(f"seed {s}: {_f(v)}" for s, v in t["oracle_sensitivity"].items())
            lines.append(
                f"- Per-LR oracle (at every LR the best fixed arm: what choosing the warmup length per LR from this "
                f"sweep reaches): LR sensitivity {_f(t.get('oracle_sensitivity_mean_curve'))} on the seed-mean "
                f"curve; per seed {ors}."
            )
        lines.append("")
    return "\n".join(lines)


def plot(summary: dict[str, Any], results: list[dict[str, Any]]) -> Any:
    """One panel per task: the metric of every arm (dots per seed), or loss vs LR for the grid task."""
    plt = pyplot("the auto-compare plot")
    names = list(summary["tasks"])
    if not names:
        return None
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        t = summary["tasks"][name]
        if "grid" in t:
            for a in t["arms"]:
                for s, d in t["grid"].get(a, {}).items():
                    lrs = sorted(float(k) for k in d)
                    ys = [d[f"{lr:g}"] if d[f"{lr:g}"] is not None else np.nan for lr in lrs]
                    ax.plot(
                        lrs,
                        ys,
                        "o-" if a.startswith("auto") else ".--",
                        lw=1.5 if a.startswith("auto") else 0.8,
                        label=a if s == str(t["seeds"][0]) else None,
                    )
            ax.set_xscale("log")
            ax.axhline(summary["unigram"], color="gray", lw=0.6, ls=":")
            ax.set_xlabel("peak LR")
            ax.set_ylabel("final val loss")
        else:
            for i, a in enumerate(t["arms"]):
                vals = [v for v in t["final"][a].values() if v is not None]
                xs = [i] * len(vals)
                ax.plot(
                    xs,
                    [v if math.isfinite(v) else np.nan for v in vals],
                    "o",
                    color="C3" if a.startswith("auto") else "C0",
                    alpha=0.8,
                )
            ax.set_xticks(range(len(t["arms"])))
            ax.set_xticklabels(t["arms"], rotation=45, ha="right", fontsize=7)
            ax.set_ylabel("final val loss" if t["kind"] == "lm" else "test error")
            if t["kind"] == "lm":
                ax.axhline(summary["unigram"], color="gray", lw=0.6, ls=":")
        ax.set_title(f"{name}: {t['title']}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    handles, labels = axes.flat[names.index("e2")].get_legend_handles_labels() if "e2" in names else ([], [])
    if handles:
        fig.legend(handles, labels, fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def add_arguments(p: Any) -> None:
    p.add_argument("--quick", action="store_true", help="tiny settings, 1 seed (tests; about a minute)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per task (default: e1 3, e2 3, e3 3, others 2)")
    p.add_argument("--out", default="auto-compare-output", help="output folder (runs are cached there)")
    p.add_argument("--workers", type=int, default=2, help="parallel worker processes (default 2)")
    p.add_argument(
        "--methods",
        default=",".join(METHODS_DEFAULT),
        help=f"auto candidates, comma-separated: {', '.join(CANDIDATES)}",
    )
    p.add_argument("--tasks", default=None, help="comma-separated: e1,e2,e3,beyond or single task names")


def cli(a: Any) -> int:
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    tasks = None if a.tasks is None else [t.strip() for t in a.tasks.split(",") if t.strip()]
    summary = run_compare(a.out, seeds=a.seeds, quick=a.quick, workers=a.workers, methods=methods, tasks=tasks)
    print(report(summary))
    print(f"wrote {os.path.join(a.out, 'results.json')}, report.md, auto_compare.png")
    return 0
