"""``rampup explain``: a schedule in words, computed from the closed form.

The facts are read off the curve over ``0 … total_steps − 1`` (one vectorized
evaluation), and the phase table comes from the resolved segments, so what is
printed is what the optimizer will get.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.schedule import Schedule

__all__ = ["Explanation", "explain", "run_length"]


@dataclass
class Explanation:
    spec: str
    total_steps: int
    first_lr: float
    peak_lr: float
    peak_step: int
    floor_lr: float
    floor_step: int
    end_lr: float
    phases: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    suggestion: str | None = None
    held_after_end: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def text(self) -> str:
        g = _fmt
        lines = [
            f"schedule: {self.spec}",
            f"  run: {self.total_steps} steps (step 0 is the first optimizer update)",
            f"  first update: lr {g(self.first_lr)}",
            f"  peak: lr {g(self.peak_lr)} first reached at step {self.peak_step}",
            f"  floor: lr {g(self.floor_lr)} first reached at step {self.floor_step} (lowest value after the peak)",
            f"  end: lr {g(self.end_lr)} at step {self.total_steps - 1}; "
            + (
                "held after the end"
                if self.held_after_end
                else "NOT held after the end: the LR changes later (see notes)"
            ),
            "  phases:",
        ]
        for p in self.phases:
            span = f"steps {p['begin']}..{p['end'] - 1}" if p["length"] > 0 else "0 steps"
            if p["role"] == "modifier":
                lines.append(f"    modifier {p['name']} (multiplies every step)")
                continue
            lines.append(f"    {p['role']:<8} {p['name']:<24} {span:<22} ({p['length']} steps)")
        if self.notes:
            lines.append("  notes:")
            lines += [f"    - {n}" for n in self.notes]
        if self.suggestion:
            lines.append(f"  suggested rampup spec: {self.suggestion}")
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def run_length(schedule: Schedule, total_steps: int | None = None) -> int:
    """The steps to show: ``total_steps``, else the run's, else the schedule's end, else a compat spec's own length.

    A compat spec (``hf:cosine(num_warmup_steps=…, num_training_steps=N)``) is open-ended, as its library is
    (HF's cosine rises again past ``N``), but it names its run length: ``horizon(run)``.

    >>> from rampup import parse
    >>> run_length(parse("hf:linear(num_warmup_steps=10, num_training_steps=300)"))
    300
    """
    if total_steps is not None:
        return int(total_steps)
    if schedule.run.total_steps is not None:
        return schedule.run.total_steps
    if schedule.end_step != math.inf:
        return int(schedule.end_step)
    for ph in schedule.spec.decay:
        n = ph.horizon(schedule.run) if hasattr(ph, "horizon") else None
        if n:
            return int(n)
    raise ValueError("total_steps: this schedule is open-ended; pass total_steps (--total-steps) to explain it")


def explain(schedule: Schedule, total_steps: int | None = None) -> Explanation:
    """Describe ``schedule`` over ``total_steps`` (default: the schedule's own run length).

    >>> from rampup import parse
    >>> e = explain(parse("linear(10) -> cosine(floor=0.1)", total_steps=100, peak_lr=1.0))
    >>> e.first_lr, e.peak_step, e.floor_step, e.end_lr
    (0.1, 9, 99, 0.1)
    """
    t_total = run_length(schedule, total_steps)
    v = np.asarray(schedule(np.arange(t_total)), dtype=np.float64)
    peak_step = int(np.argmax(v))
    after = v[peak_step:]
    floor_rel = int(np.argmin(after))
    phases = []
    for seg in schedule.segments:
        if seg.begin >= t_total and seg.begin > 0:
            continue  # a phase after the explained steps (e.g. a compat spec's behaviour past its end)
        length = int(min(seg.length, t_total - seg.begin)) if seg.length != math.inf else t_total - seg.begin
        phases.append(
            {"role": seg.role, "name": seg.name, "begin": seg.begin, "end": seg.begin + length, "length": length}
        )
    for m in schedule.spec.modifiers:
        phases.append({"role": "modifier", "name": m.to_text(), "begin": 0, "end": t_total, "length": t_total})
    notes: list[str] = []
    suggestion = None
    for ph in [schedule.spec.warmup, *schedule.spec.decay, *schedule.spec.modifiers]:
        if ph is not None and hasattr(ph, "quirks"):
            q, sug = ph.quirks(schedule, v)
            notes += q
            suggestion = sug or suggestion
    if v[0] == 0.0:
        notes.append("the first optimizer update uses LR 0: that update is wasted")
    # Native schedules hold their last value; compat specs do what their library does (HF's cosine rises).
    later = np.asarray(schedule(np.linspace(t_total, 4 * t_total, 97).round()), dtype=np.float64)
    return Explanation(
        spec=str(schedule.spec),
        total_steps=t_total,
        first_lr=float(v[0]),
        peak_lr=float(v[peak_step]),
        peak_step=peak_step,
        floor_lr=float(after[floor_rel]),
        floor_step=peak_step + floor_rel,
        end_lr=float(v[-1]),
        phases=phases,
        notes=notes,
        suggestion=suggestion,
        held_after_end=bool(np.all(later == v[-1])),
    )
