"""The results store: one JSONL record per trial, appended under an exclusive lock and fsynced, read back
for resume (a line cut short by a crash is skipped with a warning)."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from .grid import Trial

__all__ = ["append_result", "crash_record", "load_results"]


def append_result(path: str, record: dict[str, Any]) -> None:
    """Append one record as one line: exclusive lock, one ``write``, flush, ``fsync``.

    Concurrent writers (two sweeps on one file, several drivers) never
    interleave; a line cut short by a crash is closed with a newline before the
    next record, so it stays one unreadable line (skipped with a warning on load).
    """
    line = (json.dumps(record, allow_nan=False, sort_keys=True) + "\n").encode("utf-8")
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with _locked(fd):
            size = os.fstat(fd).st_size
            if size:
                with open(path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: O_APPEND single writes, no advisory lock
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def load_results(path: str) -> list[dict[str, Any]]:
    """Every readable record of a results file (none if it does not exist); unreadable lines warn."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(
                    f"{path}:{i}: unreadable line skipped (cut short by a crash?)", RuntimeWarning, stacklevel=2
                )
                continue
            if isinstance(rec, dict) and "trial" in rec:
                out.append(rec)
    return out


def crash_record(t: Trial, msg: str, backend: str) -> dict[str, Any]:
    return {
        "trial": t.key,
        "config": t.config,
        "backend": backend,
        "status": "error",
        "metrics": {},
        "nonfinite": [],
        "error": msg,
        "wall_s": None,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
