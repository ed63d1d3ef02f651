"""docs/torch.md: every Python block runs and prints what its comments say; the framework examples are verbatim."""

from __future__ import annotations

import contextlib
import functools
import io
import re
from pathlib import Path
from unittest import mock

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "torch.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)
EXAMPLES = {p.name: p.read_text() for p in sorted((ROOT / "examples").glob("*.py"))}
SNIPPETS = [b for b in BLOCKS if b not in EXAMPLES.values()]


def test_every_example_file_is_in_the_docs_verbatim() -> None:
    assert len(BLOCKS) == len(SNIPPETS) + 4
    for name in ("torch_loop.py", "lightning_warmup.py", "hf_trainer_warmup.py", "accelerate_warmup.py"):
        assert EXAMPLES[name] in BLOCKS, f"docs/torch.md lacks examples/{name} (copy it verbatim)"


def _expected_prints(block: str) -> list[str]:
    out = []
    for line in block.splitlines():
        if line.lstrip().startswith("print(") and "  # " in line:
            comment = line.split("  # ", 1)[1]
            out.append(comment[1:-1] if comment.startswith('"') and comment.endswith('"') else comment)
    return out


@pytest.mark.parametrize("i", range(len(SNIPPETS)))
def test_snippet_runs_and_prints_what_it_says(i: int) -> None:
    block = SNIPPETS[i]
    buf = io.StringIO()
    # Inductor's C++ build takes about a minute on a small CPU; Dynamo's guards (what the
    # snippet is about) are the same with the eager backend.
    eager = functools.partial(torch.compile, backend="eager")
    with contextlib.redirect_stdout(buf), mock.patch("torch.compile", eager):
        exec(compile(block, f"docs/torch.md block {i}", "exec"), {"__name__": "docs_snippet"})
    printed = buf.getvalue().splitlines()
    expected = _expected_prints(block)
    assert len(printed) == len(expected)
    for out, comment in zip(printed, expected):
        assert comment == out or (comment.startswith(out) and not comment[len(out)].isalnum()), (out, comment)
