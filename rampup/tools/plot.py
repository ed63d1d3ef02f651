"""``rampup plot``: schedules drawn with matplotlib, peak and floor points annotated."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.schedule import Schedule
from .explain import explain
from .io import atomic_write_with

__all__ = ["plot_schedules", "save_figure"]


def plot_schedules(
    schedules: Sequence[Schedule],
    labels: Sequence[str] | None = None,
    total_steps: int | None = None,
    title: str | None = None,
    logy: bool = False,
) -> Any:
    """Return a matplotlib Figure with every schedule overlaid over ``0 … total_steps − 1``."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'rampup[plot]'") from exc
    if not schedules:
        raise ValueError("schedules: got none; accepted: at least one schedule")
    labels = list(labels) if labels is not None else [str(s.spec) for s in schedules]
    if len(labels) != len(schedules):
        raise ValueError(f"labels: got {len(labels)} for {len(schedules)} schedules; accepted: one per schedule")
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for i, (s, lab) in enumerate(zip(schedules, labels)):
        e = explain(s, total_steps)
        t = np.arange(e.total_steps)
        v = s(t)
        (line,) = ax.plot(t, v, lw=1.6, label=lab)
        c = line.get_color()
        ax.plot([0], [e.first_lr], "o", color=c, ms=4)
        ax.plot([e.peak_step], [e.peak_lr], "^", color=c, ms=6)
        ax.plot([e.floor_step], [e.floor_lr], "v", color=c, ms=6)
        dy = 10 + 12 * i
        if len(schedules) > 3:  # markers only: text for many curves is unreadable
            continue
        ax.annotate(
            f"peak {e.peak_lr:.3g} @ {e.peak_step}",
            (e.peak_step, e.peak_lr),
            textcoords="offset points",
            xytext=(6, -dy),
            fontsize=7,
            color=c,
        )
        ax.annotate(
            f"floor {e.floor_lr:.3g} @ {e.floor_step}",
            (e.floor_step, e.floor_lr),
            textcoords="offset points",
            xytext=(-90, 6 + 10 * i),
            fontsize=7,
            color=c,
        )
        wu = s.warmup_steps
        if wu > 0:
            ax.axvline(wu - 0.5, color=c, lw=0.6, ls=":")
    ax.set_xlabel("optimizer step (0 = first update)")
    ax.set_ylabel("learning rate")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: float | None = None) -> None:
    """Write atomically: a crash never leaves a half-written image.  The format follows the extension (PNG if none)."""
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    atomic_write_with(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi if dpi is not None else "figure"))
