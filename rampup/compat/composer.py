"""MosaicML composer schedulers (``composer:``): the ``*WithWarmupScheduler`` family.

composer is not installed here (it does not install beside torch 2.13): the
formulas are from ``mosaicml/composer`` ``composer/optim/scheduler.py`` and the
tests check them against those formulas.  A composer scheduler returns a
multiplier ``α(state)`` of the optimizer's LR; the Trainer compiles it into a
``LambdaLR`` (``compile_composer_scheduler``) that it steps after every batch,
with ``state.timestamp`` already advanced, so update ``t + 1`` uses ``α(t)``
with ``t`` in batches: rampup's ``schedule(t)``.  Times: ``100`` or ``'100ba'``
(batches = steps), ``'2ep'`` (needs steps_per_epoch) or ``'0.5dur'`` (a fraction
of the run, truncated as composer does: ``int(0.5 · total_steps)``); ``t_max``
defaults to ``'1dur'``, the whole run.  ``scale_schedule_ratio`` is 1.

>>> from rampup import parse
>>> parse("composer:cosine_annealing_with_warmup(t_warmup=2, t_max=6)")(range(7)).round(4).tolist()
[0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

from ..core.params import REQUIRED, Param
from ..core.phases import register
from ..core.units import RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, XParam, fmt, pow_

__all__: list[str] = []

_T_WARMUP = XParam("time", REQUIRED, "t_warmup: warmup time")
_T_MAX = XParam("time", "1dur", "t_max: duration of the scheduler (default '1dur', the whole run)")
_SCALE = Param("bool", False, "scale_warmup: no effect with scale_schedule_ratio = 1")


class _Composer(CompatPhase):
    library = "composer"
    source = "composer/optim/scheduler.py"
    step_rule = "update t+1 uses α(t) (a LambdaLR stepped after every batch, t in batches)"

    def times(self, run: RunInfo) -> tuple[int, int]:
        from ._base import _composer_time

        w = self.n("t_warmup", run)
        t_max = _composer_time(f"{self.name}: t_max", self.args["t_max"])
        tm = t_max.to_steps(run, f"{self.name}: t_max")
        if run.total_steps is not None and tm < run.total_steps:
            raise ValueError(
                f"{self.name}: t_max {t_max} = {tm} steps must be greater than or equal to max_duration "
                f"(total_steps={run.total_steps}), as composer requires"
            )
        return w, tm

    def horizon(self, run: RunInfo) -> int | None:
        return run.total_steps or self.times(run)[1]

    def frac(self, w: int, tm: int) -> Any:
        """composer's ``frac_of_total``: ``min(1, (t − W)/(T − W))``, 0 when ``T <= W``."""

        def fn(t: Any, xp: Any) -> Any:
            if tm > w:
                return xp.minimum(1.0, (t - w) / (tm - w))
            return t * 0.0

        return fn

    def pieces(self, w: int, tm: int, top: float, after: Any) -> list[Piece]:
        """Warmup ``0 → top`` as composer's ``LinearScheduler(0, top, t_warmup)``, then ``after``."""

        def warm(t: Any, xp: Any) -> Any:
            return 0.0 + xp.minimum(1.0, t / w) * (top - 0.0)

        return [Piece(w, "warmup", warm), Piece(max(tm, w), "decay", after), Piece(INF, "decay", after)]

    def warmup_quirks(self, w: int) -> list[str]:
        if w == 0:
            return ["t_warmup is 0: no warmup (composer warns 'The warmup duration is 0' at every step)"]
        return [f"the warmup is t/t_warmup: the first batch uses LR 0 and the peak comes at step {w}"]


@register
class LinearWithWarmup(_Composer):
    r"""composer ``LinearWithWarmupScheduler``: ``α = α_i·t/W`` for ``t < W``, then ``α_i + f·(α_f − α_i)``.

    ``f = min(1, (t − W)/(T − W))`` (0 if ``T <= W``): the end ``α_f`` is reached
    at ``t = t_max`` and held.

    >>> from rampup import parse
    >>> parse("composer:linear_with_warmup(t_warmup=2, t_max=6)")(range(7)).tolist()
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    name = "composer:linear_with_warmup"
    api = "composer.optim.LinearWithWarmupScheduler"
    params = {
        "alpha_i": Param("nonneg", 1.0, "alpha_i: multiplier after the warmup"),
        "alpha_f": Param("nonneg", 0.0, "alpha_f: final multiplier"),
        "scale_warmup": _SCALE,
    }
    xparams = {"t_warmup": _T_WARMUP, "t_max": _T_MAX}

    def plan(self, ctx: Ctx) -> Plan:
        w, tm = self.times(ctx.run)
        ai, af = float(self.args["alpha_i"]), float(self.args["alpha_f"])
        frac = self.frac(w, tm)

        def after(t: Any, xp: Any) -> Any:
            return ai + frac(t, xp) * (af - ai)

        q = [*self.warmup_quirks(w), f"alpha_f is reached at step t_max={tm}, one step after the last of {tm} batches"]
        sug = None
        if ai == 1.0 and af <= 1.0 and tm > w:
            sug = f"{f'linear({w}) -> ' if w else ''}linear({tm - w}{', floor=' + fmt(af) if af else ''})"
        return Plan(self.pieces(w, tm, ai, after), q, sug)


@register
class CosineAnnealingWithWarmup(_Composer):
    r"""composer ``CosineAnnealingWithWarmupScheduler``: warmup ``t/W``, then ``α_f + (1 − α_f)(1 + cos(πf))/2``.

    ``f = min(1, (t − W)/(T − W))`` (0 if ``T <= W``); ``α_f`` from ``t = t_max`` on.

    >>> from rampup import parse
    >>> parse("composer:cosine_annealing_with_warmup(t_warmup=0, t_max=2, alpha_f=0.1)")(range(4)).round(4).tolist()
    [1.0, 0.55, 0.1, 0.1]
    """

    name = "composer:cosine_annealing_with_warmup"
    api = "composer.optim.CosineAnnealingWithWarmupScheduler"
    params = {"alpha_f": Param("fraction", 0.0, "alpha_f: final multiplier"), "scale_warmup": _SCALE}
    xparams = {"t_warmup": _T_WARMUP, "t_max": _T_MAX}

    def plan(self, ctx: Ctx) -> Plan:
        w, tm = self.times(ctx.run)
        af = float(self.args["alpha_f"])
        frac = self.frac(w, tm)

        def after(t: Any, xp: Any) -> Any:
            x = xp.clip(frac(t, xp), 0.0, 1.0)
            return af + (1.0 - af) * (1.0 + xp.cos(x * math.pi)) / 2.0

        q = [*self.warmup_quirks(w), f"alpha_f is reached at step t_max={tm}, one step after the last of {tm} batches"]
        sug = (
            f"{f'linear({w}) -> ' if w else ''}cosine({tm - w}{', floor=' + fmt(af) if af else ''})" if tm > w else None
        )
        return Plan(self.pieces(w, tm, 1.0, after), q, sug)


@register
class PolynomialWithWarmup(_Composer):
    r"""composer ``PolynomialWithWarmupScheduler``: warmup ``t/W``, then ``α_f + (1 − α_f)(1 − f)^power``.

    ``power`` defaults to 2; ``f`` as in ``composer:linear_with_warmup``.

    >>> from rampup import parse
    >>> parse("composer:polynomial_with_warmup(t_warmup=0, t_max=2)")(range(4)).tolist()
    [1.0, 0.25, 0.0, 0.0]
    """

    name = "composer:polynomial_with_warmup"
    api = "composer.optim.PolynomialWithWarmupScheduler"
    params = {
        "power": Param("nonneg", 2.0, "power of the decay"),
        "alpha_f": Param("fraction", 0.0, "alpha_f: final multiplier"),
        "scale_warmup": _SCALE,
    }
    xparams = {"t_warmup": _T_WARMUP, "t_max": _T_MAX}

    def plan(self, ctx: Ctx) -> Plan:
        w, tm = self.times(ctx.run)
        af, p = float(self.args["alpha_f"]), float(self.args["power"])
        frac = self.frac(w, tm)

        def after(t: Any, xp: Any) -> Any:
            return af + pow_(xp, 1.0 - frac(t, xp), p) * (1.0 - af)

        q = [*self.warmup_quirks(w), f"alpha_f is reached at step t_max={tm}, one step after the last of {tm} batches"]
        sug = None
        if tm > w and p > 0:
            sug = f"{f'linear({w}) -> ' if w else ''}poly({tm - w}, power={fmt(p)}{', floor=' + fmt(af) if af else ''})"
        return Plan(self.pieces(w, tm, 1.0, after), q, sug)


@register
class ConstantWithWarmup(_Composer):
    r"""composer ``ConstantWithWarmupScheduler``: warmup ``α·t/W``, then ``α`` for ever.

    composer's docstring says the multiplier returns to 1.0 after ``t_max``; its
    code (a ``LinearWithWarmupScheduler`` from ``α`` to ``α``) keeps ``α``: the
    code is what runs, and what this spec does.

    >>> from rampup import parse
    >>> parse("composer:constant_with_warmup(t_warmup=2, alpha=0.5, t_max=4)")(range(6)).tolist()
    [0.0, 0.25, 0.5, 0.5, 0.5, 0.5]
    """

    name = "composer:constant_with_warmup"
    api = "composer.optim.ConstantWithWarmupScheduler"
    params = {"alpha": Param("nonneg", 1.0, "alpha: the held multiplier"), "scale_warmup": _SCALE}
    xparams = {"t_warmup": _T_WARMUP, "t_max": _T_MAX}

    def plan(self, ctx: Ctx) -> Plan:
        w, tm = self.times(ctx.run)
        a = float(self.args["alpha"])
        frac = self.frac(w, tm)

        def after(t: Any, xp: Any) -> Any:
            return a + frac(t, xp) * (a - a)

        q = self.warmup_quirks(w)
        if a != 1.0:
            q.append(
                f"the multiplier stays alpha={a:g} after t_max (composer's docstring says 1.0; its code keeps alpha)"
            )
        sug = (f"linear({w}) -> constant" if w else "constant") if a == 1.0 else None
        return Plan(self.pieces(w, tm, a, after), q, sug)
