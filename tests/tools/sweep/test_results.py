"""tools/sweep/results.py: the JSONL store (one locked, fsynced line per trial; a line cut short is skipped)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from rampup.tools.sweep import (
    append_result,
    load_results,
)

# ---------------------------------------------------------------------------------------------
# Results file
# ---------------------------------------------------------------------------------------------


def _writer(path: str, who: int, n: int) -> None:
    for i in range(n):
        append_result(path, {"trial": f"{who}-{i}", "pad": "x" * 200_000})  # > PIPE_BUF: atomicity needs the lock


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = str(tmp_path / "r.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 25)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = Path(path).read_text().splitlines()
    assert len(lines) == 75
    recs = [json.loads(line) for line in lines]  # every line is one whole record
    assert sorted(r["trial"] for r in recs) == sorted(f"{w}-{i}" for w in range(3) for i in range(25))


def test_a_line_cut_short_is_skipped_and_closed(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    append_result(str(path), {"trial": "a", "v": 1})
    with open(path, "a") as f:
        f.write('{"trial": "b", "v"')  # a crash in the middle of a write
    append_result(str(path), {"trial": "c", "v": 3})
    with pytest.warns(RuntimeWarning, match=r"r.jsonl:2: unreadable line skipped"):
        recs = load_results(str(path))
    assert [r["trial"] for r in recs] == ["a", "c"]
    with pytest.raises(ValueError):
        append_result(str(path), {"trial": "d", "v": float("nan")})  # never NaN in the file
    assert load_results(str(tmp_path / "none.jsonl")) == []
