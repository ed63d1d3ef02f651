"""The demo's verdicts on the README's claims, from known numbers (its quick run end to end: test_quick.py)."""

from __future__ import annotations

from typing import Any


def _e1(final: dict[str, float]) -> dict[str, Any]:
    return {
        "reference_levels": {"unigram": 3.17},
        "collapse_margin": 0.1,
        "runs": [{"arm": k, "seed": 0, "final_val_loss": v} for k, v in final.items()]
        + [{"arm": k, "seed": 1, "final_val_loss": 9.0} for k in final],  # other seeds are not the demo's
    }


def test_demo_verdicts_on_the_readme_figures_and_on_a_failed_run() -> None:
    from rampup.experiments.demo import CLAIMS, verdict_text, verdicts

    # seed 0 on the README's machine: every claim holds
    ok = _e1({"post_warmup": 2.443, "post_none": 3.151, "pre_warmup": 2.186, "pre_none": 2.317})
    rows = verdicts(ok, {"final_val_loss": 2.190})
    assert [r["ok"] for r in rows] == [True] * len(CLAIMS)
    assert [r["value"] for r in rows] == ["3.151; unigram 3.17", "2.443", "+0.708", "+0.131", "2.190 vs 2.443"]
    text = verdict_text(rows, quick=False, machine="AMD EPYC")
    assert text.splitlines()[0].endswith("this run: seed 0 on AMD EPYC.")
    assert "5/5 verdicts agree with the README." in text
    # a run where warmup did not help: every claim that depends on it says NO, with its figure
    bad = _e1({"post_warmup": 3.10, "post_none": 3.151, "pre_warmup": 2.186, "pre_none": 2.50})
    rows = verdicts(bad, {"final_val_loss": float("nan")})
    assert [r["ok"] for r in rows] == [True, False, False, False, False]
    assert "1/5 verdicts agree" in verdict_text(rows, quick=True, machine="x")
    assert "  !! Post-LN with a 100-step warmup learns" in verdict_text(rows, quick=True, machine="x")
