"""tools/sweep/bench.py: rampup bench sweep."""

from __future__ import annotations

import pytest


def test_bench_is_registered_and_runs_quick() -> None:
    from rampup.tools.bench import BENCHES, run_bench
    from rampup.tools.sweep import bench_sweep, bench_train, format_bench

    assert "sweep" in BENCHES
    r = bench_sweep(quick=True)
    assert r["trials"] == 4 and r["ray"] == "skipped (--quick)"
    for k in ("sequential_s", "local_cold_s", "local_warm_s", "local_in_process_s"):
        assert r[k] > 0, k
    assert r["speedup_warm"] == pytest.approx(r["sequential_s"] / r["local_warm_s"])
    assert r["speedup_cold"] == pytest.approx((r["import_torch_s"] + r["sequential_s"]) / r["local_cold_s"])
    text = format_bench(r)
    assert text.startswith("rampup bench sweep — 4 trials of bench_train (50 updates")
    assert "local, 2 workers, warm" in text and "ray: skipped (--quick)" in text
    assert bench_train({"steps": 5, "seed": 1}) == bench_train({"steps": 5, "seed": 1})  # a function of its config
    ray_line = format_bench({**r, "ray": {"init_s": 4.0, "sweep_s": 6.0}})
    assert f"ray: ray.init 4.00 s, then 2 workers 6.00 s (speedup {r['sequential_s'] / 6:.2f}x" in ray_line
    assert callable(BENCHES["sweep"][0]) and run_bench  # the CLI entry: rampup bench sweep
