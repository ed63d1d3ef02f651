"""``rampup bench torch``: the per-step cost of ``scheduler.step()``, rampup vs the usual torch schedulers.

Every scheduler drives the same curve — linear warmup over 1 % of the run, then
cosine to 0 (``linear(1%) -> cosine``) — on its own one-parameter SGD
optimizer.  The schedulers run *interleaved*: chunks of ``step()`` calls in
round-robin (the order rotates every round), so a noisy neighbour slows all of
them alike; the figure is the median over chunks of µs per ``step()`` call.

Competitors (each as its documentation recommends for per-update stepping):

* HF ``get_cosine_schedule_with_warmup`` (a ``LambdaLR``);
* torch ``SequentialLR(LinearLR, CosineAnnealingLR)``;
* torch ``LambdaLR`` with the same closed form hand-written in the lambda;
* timm ``CosineLRScheduler`` driven by ``step_update(num_updates)``;
* pytorch_warmup ``LinearWarmup`` + ``CosineAnnealingLR`` inside ``dampening()``.

Two references that are not schedulers: writing a precomputed float into
``param_groups`` (what any scheduler must at least do) and the empty loop.

Targets for rampup's ``WarmupScheduler``: ≤ 0.7× the fastest competitor and
≤ 1.0 µs per ``step()``.

Each scheduler's LR is also sampled at chunk boundaries and compared with
rampup's closed form (``max_dev`` as a fraction of the peak; ``first_lr`` is
the LR of the first update — 0 for schedulers that waste it).

The compile check runs ``torch.compile`` (backend ``eager``: recompiles are
decided by dynamo's guards, whatever the backend) for a few steps with each
scheduler updating the LR, once with a float LR and once with a tensor LR, in
two patterns: ``opt_step`` (the optimizer step compiled alone, ``sched.step()``
outside) and ``opt_step_and_sched_step`` (both in one compiled function, torch's
recipe "compiling the optimizer with an LR scheduler"), and counts graphs via
``torch._dynamo.utils.counters``.
"""

from __future__ import annotations

import gc
import itertools
import math
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

from ..support.optional import import_skipping_package_init

__all__ = ["COMPETITORS", "COMPILE_PATTERNS", "bench_torch", "format_torch"]

PEAK_LR = 1e-3
# torch.compile patterns: the optimizer step alone, and optimizer + scheduler step in one compiled function.
COMPILE_PATTERNS = ("opt_step", "opt_step_and_sched_step")
TARGET_RATIO = 0.7
TARGET_US = 1.0

Stepper = Callable[[], Any]
# name -> (label, factory(optimizer, warmup_steps, total_steps) -> step callable)
Factory = Callable[[Any, int, int], Stepper]


def _import_timm_scheduler() -> Any:
    # timm's package __init__ pulls torchvision (absent or broken beside this torch); its scheduler needs only torch.
    return import_skipping_package_init("timm", "scheduler.cosine_lr")


def _rampup(opt: Any, w: int, n: int) -> Stepper:
    from .scheduler import WarmupScheduler

    return WarmupScheduler(opt, f"linear({w}) -> cosine", total_steps=n).step  # type: ignore[no-any-return]


def _hf(opt: Any, w: int, n: int) -> Stepper:
    from transformers.optimization import get_cosine_schedule_with_warmup

    return get_cosine_schedule_with_warmup(opt, w, n).step  # type: ignore[no-any-return]


def _torch_sequential(opt: Any, w: int, n: int) -> Stepper:
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    # start 1/w, +1/w per step: the peak at update w (as rampup); cosine over the rest.
    warm = LinearLR(opt, start_factor=1.0 / w, end_factor=1.0, total_iters=max(1, w - 1))
    cos = CosineAnnealingLR(opt, T_max=n - w, eta_min=0.0)
    return SequentialLR(opt, [warm, cos], milestones=[w]).step


def _torch_lambda(opt: Any, w: int, n: int) -> Stepper:
    from torch.optim.lr_scheduler import LambdaLR

    def factor(t: int) -> float:  # rampup's linear(w) -> cosine, hand-written
        if t < w:
            return (t + 1) / w
        p = min(1.0, (t - w + 1) / (n - w))
        return 0.5 * (1.0 + math.cos(math.pi * p))

    return LambdaLR(opt, factor).step


def _timm(opt: Any, w: int, n: int) -> Stepper:
    mod = _import_timm_scheduler()
    sched = mod.CosineLRScheduler(
        opt, t_initial=n - w, lr_min=0.0, warmup_t=w, warmup_lr_init=0.0, warmup_prefix=True, t_in_epochs=False
    )
    updates = itertools.count(1)  # timm's train loop passes num_updates after each optimizer step
    step_update = sched.step_update
    return lambda: step_update(next(updates))


def _pytorch_warmup(opt: Any, w: int, n: int) -> Stepper:
    import pytorch_warmup
    from torch.optim.lr_scheduler import CosineAnnealingLR

    cos = CosineAnnealingLR(opt, T_max=n)  # the pytorch_warmup README's pairing
    warm = pytorch_warmup.LinearWarmup(opt, warmup_period=w)
    cos_step, dampening = cos.step, warm.dampening

    def step() -> None:
        with dampening():
            cos_step()

    return step


COMPETITORS: dict[str, tuple[str, Factory]] = {
    "hf_cosine": ("HF get_cosine_schedule_with_warmup", _hf),
    "torch_sequential": ("torch SequentialLR(LinearLR, CosineAnnealingLR)", _torch_sequential),
    "torch_lambda": ("torch LambdaLR (hand-written closed form)", _torch_lambda),
    "timm_cosine": ("timm CosineLRScheduler.step_update", _timm),
    "pytorch_warmup": ("pytorch_warmup LinearWarmup + CosineAnnealingLR", _pytorch_warmup),
}


def _precomputed(values: list[float]) -> Factory:
    def make(opt: Any, w: int, n: int) -> Stepper:
        groups = opt.param_groups
        for g in groups:
            g["lr"] = values[0]
        it = iter([*values[1:], values[-1]])

        def step() -> None:
            v = next(it)
            for g in groups:
                g["lr"] = v

        return step

    return make


def _empty(opt: Any, w: int, n: int) -> Stepper:
    return lambda: None


def _make_opt(torch: Any, lr: Any, adam: bool = False) -> Any:
    p = torch.nn.Parameter(torch.zeros(4))
    return (torch.optim.Adam if adam else torch.optim.SGD)([p], lr=lr)


def _trace(torch: Any, factory: Factory, w: int, n: int, values: list[float]) -> dict[str, float]:
    """Untimed pass on a fresh instance: the LR of every update vs rampup's closed form."""
    opt = _make_opt(torch, PEAK_LR)
    step = factory(opt, w, n)
    group = opt.param_groups[0]
    first = float(group["lr"])
    dev = 0.0
    for t in range(n):
        dev = max(dev, abs(float(group["lr"]) - values[t]))
        step()
    return {"first_lr": first, "max_dev": dev / PEAK_LR}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in ("torch", "transformers", "timm", "pytorch_warmup"):
        try:
            from importlib.metadata import version

            out[mod] = version(mod.replace("_", "-"))
        except Exception:
            out[mod] = "not installed"
    return out


def _compile_check(
    torch: Any, entries: dict[str, tuple[str, Factory]], w: int, n: int, steps: int, adam: bool
) -> dict[str, Any]:
    """``{pattern: {scheduler: {"float" | "tensor": {"graphs", "recompiles", ...} or {"error"}}}}``."""
    return {p: _compile_pattern(torch, entries, w, n, steps, adam, p) for p in COMPILE_PATTERNS}


def _compile_pattern(
    torch: Any, entries: dict[str, tuple[str, Factory]], w: int, n: int, steps: int, adam: bool, pattern: str
) -> dict[str, Any]:
    from torch._dynamo.utils import counters

    together = pattern == "opt_step_and_sched_step"
    results: dict[str, Any] = {}
    for key, (_, factory) in entries.items():
        row: dict[str, Any] = {}
        for kind in ("float", "tensor"):
            torch._dynamo.reset()
            counters.clear()
            lr0 = torch.tensor(PEAK_LR) if kind == "tensor" else PEAK_LR
            opt = _make_opt(torch, lr0, adam=adam)
            opt.param_groups[0]["params"][0].grad = torch.ones(4)
            lr_obj = opt.param_groups[0]["lr"]
            try:
                step = factory(opt, w, n)
            except Exception as e:  # e.g. a scheduler that rejects tensor LRs
                row[kind] = {"error": f"{type(e).__name__}: {e}"}
                continue

            if adam:

                def opt_step(opt: Any = opt) -> None:
                    opt.step()

            else:  # a tiny SGD step that reads group["lr"] exactly as torch's optimizers do

                @torch.no_grad()
                def opt_step(opt: Any = opt) -> None:
                    for g in opt.param_groups:
                        for p in g["params"]:
                            p.sub_(p.grad * g["lr"])

            if together:

                def both(opt_step: Stepper = opt_step, step: Stepper = step) -> None:
                    opt_step()
                    step()

                compiled, after = torch.compile(both, backend="eager"), None
            else:
                compiled, after = torch.compile(opt_step, backend="eager"), step
            first = 0
            try:
                for i in range(steps):
                    compiled()
                    if after is not None:
                        after()
                    if i == 0:
                        first = int(counters["stats"]["unique_graphs"])
            except Exception as e:
                row[kind] = {"error": f"{type(e).__name__}: {e}"}
                continue
            graphs = int(counters["stats"]["unique_graphs"])
            row[kind] = {
                "graphs": graphs,
                "recompiles": graphs - first,
                "lr_type_after": type(opt.param_groups[0]["lr"]).__name__,
            }
            if kind == "tensor":
                row[kind]["tensor_kept"] = opt.param_groups[0]["lr"] is lr_obj
        results[key] = row
    torch._dynamo.reset()
    return results


def bench_torch(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns plain data (see :func:`format_torch`)."""
    import torch

    from .. import parse

    # Short chunks (≤ ~1 ms even for the slowest scheduler): on a loaded machine a chunk that spans
    # a time slice is preempted, and long chunks would be preempted more often than short ones.
    n, chunk, compile_steps = (2_000, 50, 3) if quick else (100_000, 100, 12)
    w = max(1, n // 100)
    spec = f"linear({w}) -> cosine"
    closed = parse(spec, total_steps=n, peak_lr=PEAK_LR)
    values: list[float] = closed(range(n)).tolist()

    entries: dict[str, tuple[str, Factory]] = {"rampup": ("rampup WarmupScheduler", _rampup)}
    entries.update(COMPETITORS)
    refs: dict[str, tuple[str, Factory]] = {
        "precomputed_write": ("write a precomputed float into param_groups", _precomputed(values)),
        "empty_loop": ("empty loop (call overhead)", _empty),
    }
    steppers: dict[str, Stepper] = {}
    rows: dict[str, dict[str, Any]] = {}
    with warnings.catch_warnings():
        # torch warns when scheduler.step() runs without optimizer.step(); timing needs only the schedulers.
        warnings.simplefilter("ignore")
        for key, (label, factory) in {**entries, **refs}.items():
            try:
                steppers[key] = factory(_make_opt(torch, PEAK_LR), w, n)
                if key != "empty_loop":
                    rows[key] = {"label": label, "available": True, **_trace(torch, factory, w, n, values)}
                else:
                    rows[key] = {"label": label, "available": True}
            except Exception as e:
                if key == "rampup":
                    raise
                steppers.pop(key, None)
                rows[key] = {"label": label, "available": False, "reason": f"{type(e).__name__}: {e}"}

        keys = list(steppers)
        times: dict[str, list[float]] = {k: [] for k in keys}
        gc_was = gc.isenabled()
        gc.disable()
        try:
            for r in range(n // chunk):
                for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
                    step = steppers[k]
                    t0 = time.perf_counter()
                    for _ in range(chunk):
                        step()
                    times[k].append((time.perf_counter() - t0) / chunk)
        finally:
            if gc_was:
                gc.enable()

    for k in keys:
        rows[k]["us_per_step"] = statistics.median(times[k]) * 1e6
    avail = [k for k in COMPETITORS if rows[k].get("available")]
    fastest = min(avail, key=lambda k: rows[k]["us_per_step"]) if avail else None
    for k in keys:
        if fastest is not None:
            rows[k]["ratio_to_fastest"] = rows[k]["us_per_step"] / rows[fastest]["us_per_step"]
    ours = rows["rampup"]["us_per_step"]
    ratio = rows["rampup"].get("ratio_to_fastest")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compile_entries = {k: v for k, v in entries.items() if rows[k].get("available")}
        # quick mode: a hand-written SGD step traces in a fraction of Adam.step's time
        compile_rows = _compile_check(torch, compile_entries, w, n, compile_steps, adam=not quick)

    return {
        "bench": "torch",
        "spec": spec,
        "steps": n,
        "warmup_steps": w,
        "peak_lr": PEAK_LR,
        "chunk": chunk,
        "chunks_per_scheduler": n // chunk,
        "schedulers": rows,
        "fastest_competitor": fastest,
        "rampup_us_per_step": ours,
        "rampup_ratio_to_fastest": ratio,
        "targets": {"ratio_to_fastest": TARGET_RATIO, "us_per_step": TARGET_US},
        "meets_targets": bool(ratio is not None and ratio <= TARGET_RATIO and ours <= TARGET_US),
        "compile": {
            "backend": "eager",
            "optimizer": "hand-written SGD" if quick else "Adam",
            "steps": compile_steps,
            "patterns": list(COMPILE_PATTERNS),
            "results": compile_rows,
        },
        "versions": _versions(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def format_torch(r: dict[str, Any]) -> str:
    lines = [
        f"rampup bench torch — scheduler.step() over {r['steps']:,} steps of '{r['spec']}' "
        f"(median of {r['chunks_per_scheduler']} interleaved chunks of {r['chunk']})",
        f"  {'scheduler':50s} {'us/step':>8s} {'x fastest':>9s} {'first LR':>9s} {'max dev':>8s}",
    ]
    for row in r["schedulers"].values():
        if not row.get("available"):
            lines.append(f"  {row['label']:50s} unavailable: {row['reason']}")
            continue
        ratio = row.get("ratio_to_fastest")
        dev = row.get("max_dev")
        lines.append(
            f"  {row['label']:50s} {row['us_per_step']:8.3f} "
            + (f"{ratio:8.2f}x " if ratio is not None else f"{'':9s} ")
            + (f"{row['first_lr']:9.2e} {dev:8.1e}" if dev is not None else "")
        )
    t = r["targets"]
    ratio = r["rampup_ratio_to_fastest"]
    verdict = "meets" if r["meets_targets"] else "MISSES"
    lines.append(
        f"  rampup: {r['rampup_us_per_step']:.3f} us/step = "
        + (f"{ratio:.2f}x the fastest competitor ({r['fastest_competitor']})" if ratio is not None else "no competitor")
        + f"; targets <= {t['ratio_to_fastest']}x and <= {t['us_per_step']} us: {verdict}"
    )
    c = r["compile"]
    titles = {
        "opt_step": f"torch.compile({c['optimizer']} step) alone, sched.step() outside",
        "opt_step_and_sched_step": f"torch.compile({c['optimizer']} step; sched.step()) together (torch's recipe)",
    }
    for pattern, results in c["results"].items():
        lines.append(f"  {titles[pattern]}, backend={c['backend']}, {c['steps']} steps — graphs (recompiles)")
        for k, row in results.items():
            cells = []
            for kind in ("float", "tensor"):
                x = row.get(kind, {})
                if "error" in x:
                    cells.append(f"{kind} LR: error {x['error'][:60]}")
                else:
                    kept = x.get("tensor_kept", True)
                    extra = "" if kept else f", LR tensor replaced by a new {x['lr_type_after']}"
                    cells.append(f"{kind} LR: {x['graphs']} ({x['recompiles']}{extra})")
            lines.append(f"    {r['schedulers'][k]['label']:48s} " + "; ".join(cells))
    v = r["versions"]
    lines.append("  " + ", ".join(f"{k} {val}" for k, val in v.items()) + f", {r['machine']}")
    return "\n".join(lines)
