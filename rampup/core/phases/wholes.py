"""Whole schedules: a warmup and a decay that belong together (e.g. ``noam``).

Step semantics and the registry: :mod:`rampup.core.phases.base`.
"""

from __future__ import annotations

from typing import Any

from ..backend import SCALAR
from ..params import REQUIRED, Param
from ..units import RunInfo
from .base import INF, Built, Phase, register

__all__ = ["Noam"]


class _Noam:
    __slots__ = ("offset", "scale", "w15")

    def __init__(self, d_model: float, warmup: int, begin: int = 0) -> None:
        self.scale = d_model**-0.5
        self.w15 = warmup**-1.5
        self.offset = float(begin) + 1.0  # n = t + 1 for the segment that begins at step `begin`

    def __call__(self, s: Any, xp: Any) -> Any:
        n = s + self.offset
        return self.scale * xp.minimum(1.0 / xp.sqrt(n), n * self.w15)


@register
class Noam(Phase):
    r"""The Transformer schedule: ``η_t = peak_lr · d_model^(−1/2) · min(n^(−1/2), n·T_w^(−3/2))``, ``n = t + 1``.

    ``peak_lr`` (default 1) plays the role of the Annotated Transformer's
    ``factor``; the curve peaks at ``t = T_w − 1`` with ``d_model^(−1/2)·T_w^(−1/2)``
    (7.0e-4 for d_model 512, T_w 4000) and decays as ``1/sqrt(n)`` for ever.

    Reference: Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762 (§5.3).

    >>> from rampup import parse
    >>> s = parse("noam(d_model=512, warmup=4000)")
    >>> round(s(3999), 7), round(s(15999), 7)
    (0.0006988, 0.0003494)
    """

    name = "noam"
    role = "whole"
    params = {
        "d_model": Param("posint", REQUIRED, "model width"),
        "warmup": Param("length", REQUIRED, "warmup length T_w"),
    }
    reference = "Vaswani et al. 2017, arXiv:1706.03762"

    def build_whole(self, run: RunInfo, peak_lr: float | None) -> list[Built]:
        w = self.steps("warmup", run)
        if w <= 0:
            raise ValueError(f"noam: warmup: got {self.args['warmup']} = {w} steps; accepted: >= 1 step")
        total = run.total_steps
        if total is not None and w > total:  # the rule of every warmup (Schedule checks the others)
            raise ValueError(
                f"noam: warmup of {w} steps is longer than the run (total_steps={total}); "
                "accepted: a warmup <= total_steps"
            )
        # Two segments of the one formula, so that the warmup is a warmup (Schedule.warmup_steps, explain).
        d = float(self.args["d_model"])
        up = _Noam(d, w)
        decay = Built(total - w if total is not None else INF, _Noam(d, w, w), 0.0, "decay")
        return [Built(w, up, up(float(w - 1), SCALAR), "warmup"), decay]
