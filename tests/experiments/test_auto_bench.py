"""``rampup bench monitor``: the step-time cost of Monitor and AutoWarmup on the E1 model (quick mode)."""

from __future__ import annotations

import math


def test_bench_monitor_quick_reports_paired_overheads_for_every_variant():
    from rampup.experiments.auto_bench import bench_monitor, format_monitor

    r = bench_monitor(quick=True)
    variants = ["monitor", "monitor_update_every_1", "monitor_off", "auto_warming", "auto_done"]
    assert sorted(r["overhead_pct"]) == sorted(variants) and sorted(r["overhead_iqr_pct"]) == sorted(variants)
    for v in variants:
        lo, hi = r["overhead_iqr_pct"][v]
        assert lo <= hi and math.isfinite(r["overhead_pct"][v])
    assert r["direct_ms"]["monitor"] > 0 and r["direct_ms"]["monitor_all"] > r["direct_ms"]["monitor"] * 0.5
    assert r["step_ms"]["plain"] > 0 and r["targets_pct"] == {"monitor": 3.0, "auto_warming": 5.0}
    text = format_monitor(r)
    assert "Monitor() (as shipped)" in text and "(target <= 3 %)" in text
