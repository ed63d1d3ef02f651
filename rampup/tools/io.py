"""Atomic file output: a crash or a full disk never leaves a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_with", "fsync_dir"]


def atomic_write_with(path: str, write: Callable[[BinaryIO], object], *, sync_dir: bool = False) -> None:
    """Write ``path`` by calling ``write(f)`` on a temporary file in the same folder, then ``os.replace``.

    The data is flushed and fsynced before the rename, so ``path`` is either the old file or the
    whole new one.  ``sync_dir=True`` also fsyncs the folder, making the rename itself durable (a
    checkpoint that must survive a power cut).  ``write`` streams, so large objects (``torch.save``)
    need no copy in memory.
    """
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    # mkstemp creates 0600; give the file the permissions a plain open() would (0666 minus umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(d)


def atomic_write_bytes(path: str, data: bytes) -> None:
    atomic_write_with(path, lambda f: f.write(data))


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_dir(d: str) -> None:
    """Make a rename or a deletion in folder ``d`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
