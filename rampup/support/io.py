"""Atomic file output (a crash or a full disk never leaves a half-written file: text, bytes, figures) and the one JSON sanitizer."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_with", "fsync_dir", "json_safe", "save_figure"]


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


def json_safe(x: Any, *, where: str = "", nonfinite: list[str] | None = None, source: str = "value") -> Any:
    """Plain JSON data from ``x``: the one sanitizer for every JSON file rampup writes.

    Dicts (keys as ``str``), lists and tuples recurse; NumPy, torch and jax scalars become Python
    numbers (``.item()``) and arrays lists (``.tolist()``); NaN and ±inf become ``null`` (JSON has
    no NaN: ``null`` means diverged or undefined), and where they were is appended to
    ``nonfinite`` when a list is given.  Anything else is a ``TypeError`` naming ``source`` and
    the place.

    >>> import numpy as np
    >>> bad: list[str] = []
    >>> json_safe({"loss": np.float32(0.5), "curve": np.array([1.0, np.nan])}, nonfinite=bad)
    {'loss': 0.5, 'curve': [1.0, None]}
    >>> bad
    ['curve[1]']
    """
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        if math.isfinite(x):
            return float(x)
        if nonfinite is not None:
            nonfinite.append(where)
        return None
    if isinstance(x, dict):
        return {
            str(k): json_safe(v, where=f"{where}.{k}" if where else str(k), nonfinite=nonfinite, source=source)
            for k, v in x.items()
        }
    if isinstance(x, (list, tuple)):
        return [json_safe(v, where=f"{where}[{i}]", nonfinite=nonfinite, source=source) for i, v in enumerate(x)]
    item = getattr(x, "item", None)  # NumPy / torch / jax scalars
    if callable(item) and getattr(x, "ndim", None) == 0:
        return json_safe(item(), where=where, nonfinite=nonfinite, source=source)
    tolist = getattr(x, "tolist", None)  # arrays
    if callable(tolist):
        return json_safe(tolist(), where=where, nonfinite=nonfinite, source=source)
    raise TypeError(
        f"{source}: got {type(x).__name__} at {where or 'the top level'}; accepted: JSON-like data "
        "(dicts, lists, str, bool, None, numbers, NumPy/torch scalars and arrays)"
    )


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: float | None = None) -> None:
    """Write atomically: a crash never leaves a half-written image.  The format follows the extension (PNG if none).

    ``fig`` is a matplotlib Figure (only its ``savefig`` is called, so this module needs no matplotlib);
    ``dpi`` defaults to the figure's own.
    """
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    atomic_write_with(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi if dpi is not None else "figure"))
