"""``rampup plot``: schedules drawn with matplotlib, peak and floor points annotated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.schedule import Schedule
from ..support.io import save_figure
from .explain import explain

__all__ = ["plot_schedules", "save_figure"]


# Peaks further apart than this make the smaller curves unreadable (noam peaks at 7e-4 beside 1.0),
# so the curves are drawn normalized to their own peaks instead.
NORMALIZE_RATIO = 10.0


def plot_schedules(
    schedules: Sequence[Schedule],
    labels: Sequence[str] | None = None,
    total_steps: int | None = None,
    title: str | None = None,
    logy: bool = False,
    normalize: bool | None = None,
) -> Any:
    """Return a matplotlib Figure with every schedule overlaid over ``0 … total_steps − 1``.

    Each curve marks its first update (●), peak (▲) and floor (▼); with up to three curves the peak and
    floor are labelled with their values.  ``normalize=None`` (the default) draws every curve divided
    by its own peak when the peaks differ by more than :data:`NORMALIZE_RATIO` (10×) on a linear axis;
    the y label says so and each legend entry gives its peak.  ``True``/``False`` force it.  The legend
    sits below the axes, so it never covers a warmup.

    >>> import rampup
    >>> a = rampup.parse("linear(2%) -> cosine", total_steps=20_000)
    >>> b = rampup.parse("noam(d_model=512, warmup=4000)", total_steps=20_000)
    >>> fig = plot_schedules([a, b])
    >>> fig.axes[0].get_ylabel()
    'LR ÷ its own peak (peaks differ 1431×)'
    """
    from ..support.optional import pyplot

    plt = pyplot("plotting")
    if not schedules:
        raise ValueError("schedules: got none; accepted: at least one schedule")
    if normalize not in (None, True, False):
        raise TypeError(f"normalize: got {normalize!r}; accepted: None (automatic), True or False")
    labels = list(labels) if labels is not None else [str(s.spec) for s in schedules]
    if len(labels) != len(schedules):
        raise ValueError(f"labels: got {len(labels)} for {len(schedules)} schedules; accepted: one per schedule")
    infos = [explain(s, total_steps) for s in schedules]
    peaks = [e.peak_lr for e in infos]
    positive = [p for p in peaks if p > 0]
    ratio = max(positive) / min(positive) if positive else 1.0
    if normalize is None:
        normalize = not logy and ratio > NORMALIZE_RATIO
    fig, ax = plt.subplots(figsize=(8, 4.6 + 0.17 * len(schedules)), dpi=110, layout="constrained")
    annotate = len(schedules) <= 3  # markers only beyond that: text for many curves is unreadable
    for i, (s, lab, e) in enumerate(zip(schedules, labels, infos)):
        scale = 1.0 / e.peak_lr if normalize and e.peak_lr > 0 else 1.0
        t = np.arange(e.total_steps)
        v = np.asarray(s(t), dtype=float) * scale
        (line,) = ax.plot(t, v, lw=1.6, label=f"{lab}  (peak {e.peak_lr:.3g})" if normalize else lab)
        c = line.get_color()
        first, peak, floor = e.first_lr * scale, e.peak_lr * scale, e.floor_lr * scale
        ax.plot([0], [first], "o", color=c, ms=4)
        ax.plot([e.peak_step], [peak], "^", color=c, ms=6)
        ax.plot([e.floor_step], [floor], "v", color=c, ms=6)
        if s.warmup_steps > 0:
            ax.axvline(s.warmup_steps - 0.5, color=c, lw=0.6, ls=":")
        if not annotate:
            continue
        # Labels sit above their marker, stacked by curve, and lean away from the plot's edges.
        right = e.peak_step > 0.7 * e.total_steps
        ax.annotate(
            f"peak {e.peak_lr:.3g} @ {e.peak_step}",
            (e.peak_step, peak),
            textcoords="offset points",
            xytext=(-6 if right else 6, 6 + 11 * i),
            ha="right" if right else "left",
            fontsize=8,
            color=c,
        )
        left = e.floor_step < 0.3 * e.total_steps
        ax.annotate(
            f"floor {e.floor_lr:.3g} @ {e.floor_step}",
            (e.floor_step, floor),
            textcoords="offset points",
            xytext=(6 if left else -6, 6 + 11 * i),
            ha="left" if left else "right",
            fontsize=8,
            color=c,
        )
    ax.set_xlabel("optimizer step (0 = first update)")
    ax.set_ylabel(f"LR ÷ its own peak (peaks differ {ratio:.0f}×)" if normalize else "learning rate")
    if logy:
        ax.set_yscale("log")
    else:
        ax.margins(y=0.06 + 0.04 * len(schedules) if annotate else 0.05)  # room for the stacked labels
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.12), frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return fig
