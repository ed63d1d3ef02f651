"""Benchmarks (``rampup bench``): measured, never asserted in unit tests.

:data:`BENCHES` is the registry of targets (``curve``, ``torch``, ``sweep`` here; a layer above adds its own
with :func:`register_bench`: ``rampup.cli`` adds the experiments' ``monitor``).

``rampup bench curve`` times the two core targets on this machine:

* a 10^6-step ``linear(1%) -> cosine(floor=0.1)`` curve evaluated in one
  vectorized NumPy call (target ≤ 20 ms on the 2-core reference machine), next
  to the same curve hand-written as a NumPy closed form;
* one scalar evaluation ``schedule(step)`` (target ≤ 1 µs).

Each figure is the median of interleaved repeats (robust to a noisy neighbour).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["BENCHES", "Bench", "bench_curve", "format_curve", "register_bench", "run_bench"]


def _timeit(fn: Callable[[], Any], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def bench_curve(quick: bool = False) -> dict[str, Any]:
    from .. import parse

    steps, repeats, scalar_calls = (100_000, 3, 3_000) if quick else (1_000_000, 15, 200_000)
    warm = max(1, steps // 100)
    sched = parse("linear(1%) -> cosine(floor=0.1)", total_steps=steps, peak_lr=3e-4)
    t = np.arange(steps)

    def hand() -> np.ndarray:
        w = np.minimum((t + 1.0) / warm, 1.0)
        p = np.clip((t - warm + 1.0) / (steps - warm), 0.0, 1.0)
        c = 0.1 + 0.9 * 0.5 * (1.0 + np.cos(np.pi * p))
        return np.where(t < warm, w, c) * 3e-4

    assert np.allclose(hand(), sched(t), rtol=1e-12, atol=0)
    vec, ref, sca_w, sca_d = [], [], [], []
    for _ in range(repeats):  # interleaved
        vec.append(_timeit(lambda: sched(t), 1))
        ref.append(_timeit(hand, 1))
        sca_w.append(_timeit(lambda: sched(warm // 2), scalar_calls // repeats))
        sca_d.append(_timeit(lambda: sched(steps // 2), scalar_calls // repeats))
    return {
        "bench": "curve",
        "spec": str(sched.spec),
        "steps": steps,
        "vectorized_ms": statistics.median(vec) * 1e3,
        "hand_numpy_ms": statistics.median(ref) * 1e3,
        "scalar_us_warmup": statistics.median(sca_w) * 1e6,
        "scalar_us_decay": statistics.median(sca_d) * 1e6,
        "targets": {"vectorized_ms": 20.0, "scalar_us": 1.0},
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def format_curve(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"rampup bench curve — {r['spec']} over {r['steps']:,} steps (median of interleaved repeats)",
            f"  vectorized NumPy, whole curve : {r['vectorized_ms']:8.2f} ms   (target <= {r['targets']['vectorized_ms']:.0f} ms)",
            f"  hand-written NumPy closed form: {r['hand_numpy_ms']:8.2f} ms   (reference)",
            f"  scalar call, in warmup        : {r['scalar_us_warmup']:8.3f} us   (target <= {r['targets']['scalar_us']:.0f} us)",
            f"  scalar call, in decay         : {r['scalar_us_decay']:8.3f} us",
            f"  python {r['python']}, numpy {r['numpy']}, {r['machine']}",
        ]
    )


def _bench_torch(quick: bool = False) -> dict[str, Any]:
    # Imported here so that `rampup bench curve` (and this module) work without torch.
    try:
        from ..torch.bench import bench_torch
    except ImportError as e:
        raise ImportError(f"rampup bench torch needs torch: pip install 'rampup[torch]' ({e})") from e
    return bench_torch(quick=quick)


def _format_torch(r: dict[str, Any]) -> str:
    from ..torch.bench import format_torch

    return format_torch(r)


def _bench_sweep(quick: bool = False) -> dict[str, Any]:
    from .sweep import bench_sweep  # lazily: process pools, Ray

    return bench_sweep(quick=quick)


def _format_sweep(r: dict[str, Any]) -> str:
    from .sweep import format_bench

    return format_bench(r)


class Bench(NamedTuple):
    """A benchmark target: ``run(quick=...)`` returns the figures as a JSON-able dict, ``format`` prints them."""

    run: Callable[..., dict[str, Any]]
    format: Callable[[dict[str, Any]], str]


# name -> target.  The tools' own targets are here; a layer above adds its own with register_bench (rampup.cli adds
# the experiments' `monitor` bench): this module imports nothing above tools.
BENCHES: dict[str, Bench] = {}


def register_bench(name: str, run: Callable[..., dict[str, Any]], format: Callable[[dict[str, Any]], str]) -> Bench:
    """Add a ``rampup bench NAME`` target; registering the same functions again is a no-op, other ones an error.

    ``run`` is called as ``run(quick=...)`` (``quick``: a smoke test) and imports what it needs lazily, so that
    listing the targets (``rampup bench --help``) imports none of them.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name: got {name!r}; accepted: a benchmark name such as 'curve' (letters, digits, _)")
    if not callable(run) or not callable(format):
        raise TypeError(f"bench {name!r}: run and format must be callables; got {run!r}, {format!r}")
    bench = Bench(run, format)
    old = BENCHES.get(name)
    if old is not None and old != bench:
        raise ValueError(f"bench: {name!r} is already registered (to {old.run.__module__}.{old.run.__qualname__})")
    BENCHES[name] = bench
    return bench


register_bench("curve", bench_curve, format_curve)
register_bench("torch", _bench_torch, _format_torch)  # scheduler.step() cost vs HF/torch/timm/pytorch_warmup
register_bench("sweep", _bench_sweep, _format_sweep)  # local backend speedup, Ray's overhead per trial


def run_bench(name: str, json_path: str | None = None, quick: bool = False) -> str:
    if name not in BENCHES:
        raise ValueError(f"bench: unknown benchmark {name!r}; accepted: {', '.join(sorted(BENCHES))}")
    fn, fmt = BENCHES[name]
    result = fn(quick=quick)
    if json_path:
        from ..support.io import atomic_write_text

        atomic_write_text(json_path, json.dumps(result, indent=2) + "\n")
    return fmt(result)
