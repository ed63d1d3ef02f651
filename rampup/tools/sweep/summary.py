"""The summary of a sweep: mean ± std per (warmup, peak LR) cell, the recommended warmup with its margin over
the runner-up, and the plot."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from .grid import Trial

__all__ = ["Cell", "SweepResult", "check_metric", "mean_pm_std", "plot_sweep", "summarize"]


def mean_pm_std(mean: float | None, std: float | None) -> str:
    """``mean ± std`` with significant digits: the std to 2 of them, the mean to the same decimal place (5
    significant digits when the std is 0, e.g. one seed); scientific notation for magnitudes >= 1e6.

    >>> mean_pm_std(2.27591, 0.00403), mean_pm_std(0.0032154, 0.0000123), mean_pm_std(3.1503, 0.5216)
    ('2.2759 ± 0.0040', '0.003215 ± 0.000012', '3.15 ± 0.52')
    >>> mean_pm_std(0.0032154, 0.0), mean_pm_std(1234.5, 56.0), mean_pm_std(2.5e7, 3.1e5)
    ('0.0032154 ± 0', '1234 ± 56', '2.500e+07 ± 3.1e+05')
    """
    if mean is None or std is None:
        return "—"
    if not (math.isfinite(mean) and math.isfinite(std)):
        return f"{mean} ± {std}"
    if std == 0:
        return f"{mean:.5g} ± 0"
    if max(abs(mean), std) >= 1e6:
        digits = max(1, math.floor(math.log10(abs(mean))) - math.floor(math.log10(std)) + 1) if mean else 1
        return f"{mean:.{digits}e} ± {std:.1e}"
    decimals = max(0, 1 - math.floor(math.log10(std)))
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


@dataclass
class Cell:
    """All seeds of one (warmup, peak_lr) point."""

    warmup: str
    peak_lr: float | None
    warmup_steps: int | None
    n: int  # trials in the grid
    values: list[float]  # finite metric values of the successful trials
    failed: int  # trials that raised
    diverged: int  # trials whose metric is NaN/inf (or missing)
    pending: int  # not run yet

    @property
    def complete(self) -> bool:
        return len(self.values) == self.n

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        if not self.values:
            return None
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.update(mean=self.mean, std=self.std, complete=self.complete)
        return d


@dataclass
class SweepResult:
    metric: str
    mode: str
    cells: list[Cell]
    records: list[dict[str, Any]]
    recommended: Cell | None
    runner_up: Cell | None
    files: dict[str, str] = field(default_factory=dict)
    ran: int = 0  # trials run by this call (the rest were already in the results file)

    @property
    def margin(self) -> float | None:
        if self.recommended is None or self.runner_up is None:
            return None
        return abs(self.runner_up.mean - self.recommended.mean)  # type: ignore[operator]

    @property
    def margin_se(self) -> float | None:
        """Standard error of the difference of the two means (0 with a single seed)."""
        a, b = self.recommended, self.runner_up
        if a is None or b is None:
            return None
        return math.sqrt((a.std or 0.0) ** 2 / len(a.values) + (b.std or 0.0) ** 2 / len(b.values))

    def table(self) -> str:
        lrs = {c.peak_lr for c in self.cells}
        head = f"{'warmup':>10} {'steps':>7} " + (f"{'peak_lr':>9} " if lrs != {None} else "")
        head += f"{self.metric + ' mean ± std':>24} {'n':>3} {'failed':>6} {'diverged':>8}"
        lines = [head]
        for c in self.cells:
            ms = mean_pm_std(c.mean, c.std) if c.mean is not None else "—"
            mark = " *" if c is self.recommended else ""
            row = f"{c.warmup:>10} {c.warmup_steps if c.warmup_steps is not None else '':>7} "
            row += f"{c.peak_lr:>9.3g} " if lrs != {None} else ""
            row += f"{ms:>24} {len(c.values):>3} {c.failed:>6} {c.diverged:>8}"
            if c.pending:
                row += f"  ({c.pending} not run)"
            lines.append(row + mark)
        lines.append("")
        lines.append(self.verdict())
        return "\n".join(lines)

    def verdict(self) -> str:
        r, u = self.recommended, self.runner_up
        if r is None:
            return f"no recommendation: no warmup has a finite {self.metric} on every seed"
        at = f" at peak_lr {r.peak_lr:g}" if r.peak_lr is not None else ""
        text = f"recommended warmup: {r.warmup}{at} ({self.metric} {mean_pm_std(r.mean, r.std)}, n={len(r.values)})"
        if u is None:
            return text + "; no runner-up with every seed finite"
        margin, se = self.margin, self.margin_se
        assert margin is not None and se is not None
        noise = f"{margin / se:.1f} standard errors" if se > 0 else "single seed: no error estimate"
        within = "; within noise: run more seeds" if se > 0 and margin < 2 * se else ""
        at_u = f" at peak_lr {u.peak_lr:g}" if u.peak_lr is not None else ""
        shown = mean_pm_std(u.mean, u.std).partition(" ± ")[0]  # as precise as the table shows it
        gap = mean_pm_std(margin, se).partition(" ± ")[0]  # to the precision of its standard error
        return text + f"; margin over the runner-up {u.warmup}{at_u} ({shown}): {gap} ({noise}){within}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mode": self.mode,
            "cells": [c.to_dict() for c in self.cells],
            "recommended": self.recommended.to_dict() if self.recommended else None,
            "runner_up": self.runner_up.to_dict() if self.runner_up else None,
            "margin": self.margin,
            "margin_se": self.margin_se,
            "verdict": self.verdict(),
            "trials": len(self.records),
            "ran": self.ran,
            "files": dict(self.files),
        }


def check_metric(records: list[dict[str, Any]], metric: str) -> None:
    """Raise when trials finished but none returned ``metric`` (a misspelt ``--metric``): the message names the
    metrics they did return.  A trial that returns the metric as NaN/inf (a diverged run) has it."""
    ok = [r for r in records if r.get("status") == "ok" and isinstance(r.get("metrics"), dict)]
    if ok and not any(metric in r["metrics"] for r in ok):
        keys = sorted({k for r in ok for k in r["metrics"]})
        raise ValueError(
            f"metric: got {metric!r}, which the train function did not return ({len(ok)} finished trials); "
            f"accepted: one of the metrics it returned: {', '.join(keys) or 'none (it returned empty dicts)'}"
        )


def summarize(
    trials: list[Trial], records: list[dict[str, Any]], metric: str = "loss", mode: str = "min"
) -> SweepResult:
    """Group the records of ``trials`` into cells and pick the best warmup (all seeds finite, best mean)."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode: got {mode!r}; accepted: 'min' or 'max'")
    by_key = {r["trial"]: r for r in records}  # the last record of a trial wins (a retried failure)
    check_metric(list(by_key.values()), metric)
    cells: dict[tuple[str, float | None], Cell] = {}
    for t in trials:
        k = (t.config["warmup"], t.config["peak_lr"])
        c = cells.get(k)
        if c is None:
            c = cells[k] = Cell(t.config["warmup"], t.config["peak_lr"], t.config.get("warmup_steps"), 0, [], 0, 0, 0)
        c.n += 1
        rec = by_key.get(t.key)
        if rec is None:
            c.pending += 1
        elif rec.get("status") != "ok":
            c.failed += 1
        else:
            v = rec.get("metrics", {}).get(metric)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                c.values.append(float(v))
            else:
                c.diverged += 1
    ordered = list(cells.values())
    sign = 1.0 if mode == "min" else -1.0
    ranked = sorted((c for c in ordered if c.complete), key=lambda c: sign * c.mean)  # type: ignore[operator]
    best = ranked[0] if ranked else None
    runner = next((c for c in ranked[1:] if best is not None and c.warmup != best.warmup), None)
    mine = {t.key for t in trials}
    return SweepResult(metric, mode, ordered, [r for r in records if r["trial"] in mine], best, runner)


# =========================================================================
# Plot.
# =========================================================================


def plot_sweep(result: SweepResult, title: str | None = None) -> Any:
    """Final metric vs warmup length (every seed, mean ± std per peak LR); beside it, metric vs peak LR per
    warmup (LR-sensitivity curves, Wortsman et al. 2023) when the LR was swept."""
    from ...support.optional import pyplot

    plt = pyplot("plotting")
    warmups = list(dict.fromkeys(c.warmup for c in result.cells))
    lrs = list(dict.fromkeys(c.peak_lr for c in result.cells))
    two = len(lrs) > 1
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(12 if two else 7, 4.5), dpi=110, squeeze=False)
    ax = axes[0][0]
    xs = {w: i for i, w in enumerate(warmups)}
    finite = [v for c in result.cells for v in c.values]
    top = max(finite) if finite else 1.0
    for j, lr in enumerate(lrs):
        cs = [c for c in result.cells if c.peak_lr == lr]
        off = (j - (len(lrs) - 1) / 2) * 0.08
        label = f"peak_lr {lr:g}" if lr is not None else None
        mx = [xs[c.warmup] + off for c in cs if c.mean is not None]
        my = [c.mean for c in cs if c.mean is not None]
        sd = [c.std for c in cs if c.mean is not None]
        line = ax.errorbar(mx, my, yerr=sd, marker="o", capsize=3, lw=1.4, label=label)
        color = line[0].get_color()
        for c in cs:
            ax.scatter([xs[c.warmup] + off] * len(c.values), c.values, s=10, alpha=0.45, color=color)
            if c.failed + c.diverged:
                ax.scatter([xs[c.warmup] + off], [top], marker="x", s=40, color=color)
    for w in warmups:  # one note per warmup: how many of its trials failed or diverged
        bad = sum(c.failed + c.diverged for c in result.cells if c.warmup == w)
        if bad:
            ax.annotate(
                f"{bad} failed/diverged",
                (xs[w], top),
                fontsize=7,
                ha="center",
                textcoords="offset points",
                xytext=(0, 6),
            )
    if result.recommended is not None:
        ax.axvline(xs[result.recommended.warmup], color="0.5", lw=0.8, ls=":")
    ticks = []
    for w in warmups:
        first = _first(result.cells, w)
        ticks.append(w if first is None or first.warmup_steps is None else f"{w}\n({first.warmup_steps})")
    ax.set_xticks(range(len(warmups)), ticks)
    ax.set_xlabel("warmup length" + (" (steps)" if any(c.warmup_steps is not None for c in result.cells) else ""))
    ax.set_ylabel(f"final {result.metric}")
    ax.grid(alpha=0.3)
    if two or lrs != [None]:
        ax.legend(fontsize=7)
    ax.set_title(title or f"{result.metric} vs warmup length (dots: seeds; bars: mean ± std)", fontsize=9)
    if two:
        ax2 = axes[0][1]
        for w in warmups:
            pts = sorted(
                (float(c.peak_lr), float(c.mean), float(c.std or 0.0))
                for c in result.cells
                if c.warmup == w and c.mean is not None and c.peak_lr is not None
            )
            if not pts:
                continue
            x, y, s = (list(v) for v in zip(*pts))
            (ln,) = ax2.plot(x, y, marker="o", lw=1.4, label=f"warmup {w}")
            ax2.fill_between(
                x, [a - b for a, b in zip(y, s)], [a + b for a, b in zip(y, s)], color=ln.get_color(), alpha=0.15
            )
        ax2.set_xscale("log")
        ax2.set_xticks([lr for lr in lrs if lr is not None], [f"{lr:g}" for lr in lrs if lr is not None])
        ax2.minorticks_off()
        ax2.set_xlabel("peak learning rate")
        ax2.set_ylabel(f"final {result.metric}")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=7)
        ax2.set_title("LR sensitivity per warmup (mean ± std)", fontsize=9)
    fig.tight_layout()
    return fig


def _first(cells: list[Cell], warmup: str) -> Cell | None:
    return next((c for c in cells if c.warmup == warmup), None)
