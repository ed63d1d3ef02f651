"""`rampup bench torch --quick`: runs once, writes JSON, reports every field (no timing asserts)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

EXPECTED = {
    "rampup",
    "hf_cosine",
    "torch_sequential",
    "torch_lambda",
    "timm_cosine",
    "pytorch_warmup",
    "precomputed_write",
    "empty_loop",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    from rampup.tools.bench import run_bench

    path = tmp_path_factory.mktemp("bench") / "torch.json"
    text = run_bench("torch", json_path=str(path), quick=True)
    return json.loads(Path(path).read_text()), text


def test_fields_and_units(result: tuple[dict[str, Any], str]) -> None:
    r, _ = result
    assert r["bench"] == "torch"
    assert r["steps"] == 2000 and r["warmup_steps"] == 20 and r["spec"] == "linear(20) -> cosine"
    assert r["chunks_per_scheduler"] == r["steps"] // r["chunk"]
    assert set(r["schedulers"]) == EXPECTED
    for key, row in r["schedulers"].items():
        assert row["available"] is True, (key, row.get("reason"))
        assert math.isfinite(row["us_per_step"]) and row["us_per_step"] > 0
    fastest = r["fastest_competitor"]
    assert fastest in EXPECTED - {"rampup", "precomputed_write", "empty_loop"}
    assert r["schedulers"][fastest]["ratio_to_fastest"] == 1.0
    assert r["rampup_us_per_step"] == r["schedulers"]["rampup"]["us_per_step"]
    ratio = r["rampup_us_per_step"] / r["schedulers"][fastest]["us_per_step"]
    assert r["rampup_ratio_to_fastest"] == pytest.approx(ratio, rel=1e-12)
    assert r["targets"] == {"ratio_to_fastest": 0.7, "us_per_step": 1.0}
    assert r["meets_targets"] == (r["rampup_ratio_to_fastest"] <= 0.7 and r["rampup_us_per_step"] <= 1.0)
    assert r["versions"]["torch"].startswith("2.")


def test_same_curve(result: tuple[dict[str, Any], str]) -> None:
    rows = result[0]["schedulers"]
    peak, w = result[0]["peak_lr"], result[0]["warmup_steps"]
    # rampup's scheduler and the hand-written LambdaLR follow rampup's closed form exactly.
    for key in ("rampup", "torch_lambda", "precomputed_write"):
        assert rows[key]["max_dev"] < 1e-12, key
        assert rows[key]["first_lr"] == pytest.approx(peak / w, rel=1e-12)
    # HF and timm give the first update LR 0: one warmup step late, by 1/w of the peak.
    for key in ("hf_cosine", "timm_cosine"):
        assert rows[key]["first_lr"] == 0.0
        assert rows[key]["max_dev"] == pytest.approx(1 / w, rel=1e-9)
    # the others follow the same shape closely (cosine offset by a step, or over the whole run)
    for key in ("torch_sequential", "pytorch_warmup"):
        assert 0 < rows[key]["max_dev"] < 0.02


def test_compile_report(result: tuple[dict[str, Any], str]) -> None:
    c = result[0]["compile"]
    assert c["backend"] == "eager" and c["steps"] == 3
    assert c["patterns"] == ["opt_step", "opt_step_and_sched_step"] == list(c["results"])
    for pattern, results in c["results"].items():
        assert set(results) == EXPECTED - {"precomputed_write", "empty_loop"}
        # a tensor LR filled in place: one graph, never recompiled, in both patterns (before, rampup's
        # scheduler traced inside the compiled function recompiled at every step: 3 graphs in 3 steps)
        for key in ("rampup", "torch_lambda", "hf_cosine"):
            tensor = results[key]["tensor"]
            assert tensor == {"graphs": 1, "recompiles": 0, "lr_type_after": "Tensor", "tensor_kept": True}, (
                pattern,
                key,
            )
        for key, row in results.items():
            for kind in ("float", "tensor"):
                assert "error" not in row[kind], (pattern, key, kind, row[kind])
                assert row[kind]["graphs"] >= 1 and row[kind]["recompiles"] >= 0


def test_text_report(result: tuple[dict[str, Any], str]) -> None:
    r, text = result
    assert text.startswith("rampup bench torch — scheduler.step() over 2,000 steps of 'linear(20) -> cosine'")
    for row in r["schedulers"].values():
        assert row["label"] in text
    assert ("meets" if r["meets_targets"] else "MISSES") in text
    assert "torch.compile(hand-written SGD step) alone, sched.step() outside" in text
    assert "torch.compile(hand-written SGD step; sched.step()) together (torch's recipe)" in text


def test_bench_module_imports_without_torch() -> None:
    # `rampup bench curve` must not need torch: the torch bench is imported only when run.
    code = "import sys, rampup.tools.bench as b; assert 'torch' in b.BENCHES; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
