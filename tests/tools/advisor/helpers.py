"""Helpers of the advisor tests: the findings of an Advice by check, one finding, the data folder."""

from __future__ import annotations

from pathlib import Path

from rampup.tools.advisor import Advice, Finding

DATA = Path(__file__).parent.parent / "data"


def checks(a: Advice) -> dict[str, str]:
    return {f.check: f.severity for f in a}


def finding(a: Advice, check: str) -> Finding:
    (f,) = [f for f in a if f.check == check]
    return f
