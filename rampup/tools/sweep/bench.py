"""``rampup bench sweep``: the local backend against a plain sequential loop (and Ray's overhead), measured,
never asserted."""

from __future__ import annotations

import logging
import os
import platform
import time
from typing import Any

from .driver import sweep
from .grid import make_trials

__all__ = ["BENCH_STEPS", "bench_sweep", "bench_train", "format_bench"]


BENCH_STEPS = 3000  # updates of bench_train: about 1 CPU-second on the 2-core reference machine


def bench_train(config: dict[str, Any]) -> dict[str, Any]:
    """The trial of ``rampup bench sweep``: a small torch training run, ``config["steps"]`` SGD updates of an MLP
    64-256-64 on one fixed batch of 32 (``BENCH_STEPS`` by default: about 1 CPU-second), seeded by
    ``config["seed"]``.  It imports torch, as a real train function does."""
    import torch

    g = torch.Generator().manual_seed(int(config.get("seed", 0)))
    w1 = torch.randn(64, 256, generator=g).mul_(0.1).requires_grad_()
    w2 = torch.randn(256, 64, generator=g).mul_(0.1).requires_grad_()
    x, y = torch.randn(32, 64, generator=g), torch.randn(32, 64, generator=g)
    opt = torch.optim.SGD([w1, w2], lr=float(config.get("peak_lr") or 1e-2))
    loss = torch.zeros(())
    for _ in range(int(config.get("steps", BENCH_STEPS))):
        loss = ((torch.tanh(x @ w1) @ w2 - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"loss": float(loss.detach())}


def bench_sweep(quick: bool = False) -> dict[str, Any]:
    """The local backend against a plain sequential loop, on the same trials, in one run.

    18 trials of :func:`bench_train` (about 1 CPU-second each; ``quick``: 4 tiny ones).  *Cold*:
    ``sweep(workers=2)`` of all of them with no workers yet (spawn + imports in each worker).  Then, in 3
    interleaved rounds of a third of the trials each (so that a neighbour's load falls on all of them alike):
    *sequential*, a loop in this process with one torch thread (the fastest plain loop for a small model); *warm*,
    ``sweep(workers=2)`` on the reused workers; *in-process*, ``sweep(workers=1)``.  Speedups: the sequential
    loop with its ``import torch`` and first update (a loop in a fresh process pays them once) / cold, and
    sequential / warm.
    """
    import tempfile

    from .. import pool

    n, steps = (4, 50) if quick else (18, BENCH_STEPS)
    rounds = 2 if quick else 3
    warmups = [f"{i}%" for i in range(1, n + 1)]
    trials = make_trials(warmups, seeds=1, total_steps=1000, params={"steps": steps})
    out: dict[str, Any] = {"bench": "sweep", "trials": n, "steps_per_trial": steps, "cpus": os.cpu_count()}
    # other processes on the machine take cores from the workers: the load average makes the figures readable
    out["load_average_1min"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    import torch

    bench_train({"steps": 1})  # the first update imports more of torch (torch._dynamo: seconds), once
    out["import_torch_s"] = time.perf_counter() - t0  # ~0 when this process had used torch already
    kw: dict[str, Any] = dict(seeds=1, total_steps=1000, params={"steps": steps}, progress=False)
    with tempfile.TemporaryDirectory() as d:
        pool.shutdown()  # no warm workers: the cold figure includes their start
        t0 = time.perf_counter()
        sweep(bench_train, warmups, workers=2, results=os.path.join(d, "cold.jsonl"), **kw)
        out["local_cold_s"] = time.perf_counter() - t0
        times = {"sequential_s": 0.0, "local_warm_s": 0.0, "local_in_process_s": 0.0}
        for r in range(rounds):
            part = warmups[r::rounds]
            with pool.torch_threads(1):
                t0 = time.perf_counter()
                for t in trials[r::rounds]:
                    bench_train(t.config)
                times["sequential_s"] += time.perf_counter() - t0
            for key, workers in (("local_warm_s", 2), ("local_in_process_s", 1)):
                t0 = time.perf_counter()
                sweep(bench_train, part, workers=workers, results=os.path.join(d, f"{key}{r}.jsonl"), **kw)
                times[key] += time.perf_counter() - t0
        out.update(times)
        out["ray"] = "skipped (--quick)" if quick else _bench_ray(warmups, steps, d)
    pool.shutdown()
    out["trial_s"] = out["sequential_s"] / n
    out["speedup_cold"] = (out["import_torch_s"] + out["sequential_s"]) / out["local_cold_s"]
    out["speedup_warm"] = out["sequential_s"] / out["local_warm_s"]
    out["speedup_in_process"] = out["sequential_s"] / out["local_in_process_s"]
    out["load_average_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out["python"] = platform.python_version()
    out["machine"] = platform.machine()
    out["torch"] = torch.__version__
    return out


def _bench_ray(warmups: list[str], steps: int, d: str) -> dict[str, Any]:
    try:
        import ray
    except ImportError:
        return {"skipped": "ray is not installed (pip install 'rampup[ray]')"}
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    init_s = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        sweep(
            bench_train,
            warmups,
            seeds=1,
            total_steps=1000,
            params={"steps": steps},
            backend="ray",
            workers=2,
            results=os.path.join(d, "ray.jsonl"),
            progress=False,
        )
        wall = time.perf_counter() - t0
    finally:
        ray.shutdown()
    return {"init_s": init_s, "sweep_s": wall}


def format_bench(r: dict[str, Any]) -> str:
    n = r["trials"]
    seq_cold = r["import_torch_s"] + r["sequential_s"]
    lines = [
        f"rampup bench sweep — {n} trials of bench_train ({r['steps_per_trial']} updates, "
        f"{r['trial_s']:.2f} s each in a loop), {r['cpus']} CPUs",
        f"  sequential loop, 1 thread     : {r['sequential_s']:7.2f} s   (+ import torch, first update "
        f"{r['import_torch_s']:.2f} s "
        f"= {seq_cold:.2f} s)",
        f"  local, 2 workers, cold        : {r['local_cold_s']:7.2f} s   speedup {r['speedup_cold']:.2f}x "
        "(vs the loop with its imports; target >= 1x: never slower)",
        f"  local, 2 workers, warm        : {r['local_warm_s']:7.2f} s   speedup {r['speedup_warm']:.2f}x "
        "(reused workers, vs the loop; target >= 1.7x on 2 idle cores)",
        f"  local, --workers 1 (in-process): {r['local_in_process_s']:6.2f} s   speedup {r['speedup_in_process']:.2f}x",
    ]
    ray = r["ray"]
    if isinstance(ray, dict) and "sweep_s" in ray:
        lines.append(
            f"  ray: ray.init {ray['init_s']:.2f} s, then 2 workers {ray['sweep_s']:.2f} s "
            f"(speedup {r['sequential_s'] / ray['sweep_s']:.2f}x without ray.init)"
        )
    else:
        lines.append(f"  ray: {ray if isinstance(ray, str) else ray.get('skipped')}")
    load, end = r.get("load_average_1min"), r.get("load_average_1min_end")
    lines.append(
        f"  python {r['python']}, torch {r.get('torch', '?')}, {r['machine']}"
        + (
            f", load average {load:.2f} at the start, {end:.2f} at the end"
            if load is not None and end is not None
            else ""
        )
    )
    return "\n".join(lines)
