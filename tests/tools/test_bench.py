"""tools/bench.py: a registry of bench targets that imports nothing above tools."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from rampup.tools import bench
from rampup.tools.bench import BENCHES, register_bench, run_bench


def test_the_tools_targets_are_registered() -> None:
    assert {"curve", "torch", "sweep"} <= set(BENCHES)
    assert all(callable(b.run) and callable(b.format) for b in BENCHES.values())


def test_register_run_and_refuse_a_second_target_under_one_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "BENCHES", dict(BENCHES))  # the module's registry, restored after the test

    def run(quick: bool = False) -> dict[str, Any]:
        return {"bench": "toy", "quick": quick}

    def fmt(r: dict[str, Any]) -> str:
        return f"toy quick={r['quick']}"

    register_bench("toy", run, fmt)
    register_bench("toy", run, fmt)  # the same target again: a no-op
    assert run_bench("toy", quick=True) == "toy quick=True"
    with pytest.raises(ValueError, match="bench: 'toy' is already registered"):
        register_bench("toy", run, lambda r: "other")
    with pytest.raises(ValueError, match=r"name: got 'a b'; accepted: a benchmark name"):
        register_bench("a b", run, fmt)
    with pytest.raises(TypeError, match="run and format must be callables"):
        register_bench("toy2", run, "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"bench: unknown benchmark 'nope'; accepted: curve, .*toy"):
        run_bench("nope")


def test_tools_never_import_experiments() -> None:
    code = (
        "import sys, rampup.tools.bench, rampup.tools.sweep, rampup.tools.advisor, rampup.tools.plot, "
        "rampup.tools.explain, rampup.tools.pool; "
        "print(sorted(m for m in sys.modules if m.startswith('rampup.experiments') or m == 'rampup.cli'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_cli_adds_the_experiments_bench_without_importing_it() -> None:
    code = (
        "import sys; from rampup.cli import build_parser; build_parser(); from rampup.tools.bench import BENCHES; "
        "print('monitor' in BENCHES, any(m.startswith('rampup.experiments.auto_bench') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]
