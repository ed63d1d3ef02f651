"""Modifiers: multiplicative factors on the whole schedule, on absolute steps (after ``|``).

Step semantics and the registry: :mod:`rampup.core.phases.base`.
"""

from __future__ import annotations

from typing import Any

from .. import shapes
from ..params import REQUIRED, Param
from ..units import RunInfo
from .base import Phase, register

__all__ = ["AsymptoticExponential", "Modifier", "RAdamWarmup", "Rewarm", "UntunedExponential"]


class Modifier(Phase):
    """Base of the modifiers: ``build_factor`` returns a factor ``f(t, xp)`` of the absolute step."""

    role = "modifier"

    def build_factor(self, run: RunInfo, peak_lr: float | None) -> Any:
        raise NotImplementedError  # pragma: no cover


class _RewarmFactor:
    __slots__ = ("a", "at", "cos", "length")

    def __init__(self, at: int, length: int, a: float, cos: bool) -> None:
        self.at, self.length, self.a, self.cos = float(at), float(length), a, cos

    def __call__(self, t: Any, xp: Any) -> Any:
        p = shapes.progress(t - self.at + 1.0, self.length, xp)
        w = shapes.w_cosine(p, xp) if self.cos else p
        inside = self.a * (1.0 - w) + w
        return xp.where(t < self.at, 1.0, inside)


@register
class Rewarm(Modifier):
    r"""Re-warmup from step ``at``: multiply the schedule by a ramp from ``start`` to 1 over ``length`` steps.

    Factor: 1 for ``t < at``; ``start + (1 − start)·w((t − at + 1)/length)`` for
    ``at ≤ t < at + length`` (``w`` linear or cosine); 1 afterwards.  Use it when
    fine-tuning loads pretrained weights with a freshly initialized head, or after
    resetting the optimizer state: both want a short low-LR phase again.

    >>> from rampup import parse
    >>> parse("constant | rewarm(at=2, length=2)")(range(5)).tolist()
    [1.0, 1.0, 0.5, 1.0, 1.0]
    """

    name = "rewarm"
    params = {
        "at": Param("length", REQUIRED, "step at which the re-warmup starts"),
        "length": Param("length", REQUIRED, "re-warmup length"),
        "start": Param("fraction", 0.0, "factor at the start (fraction of the scheduled LR)"),
        "shape": Param("choice", "linear", "ramp shape", ("linear", "cosine")),
    }
    reference = "Gupta et al. 2023, 'Continual Pre-Training of Large Language Models', arXiv:2308.04014"

    def build_factor(self, run: RunInfo, peak_lr: float | None) -> Any:
        length = self.steps("length", run)
        if length <= 0:
            raise ValueError(f"rewarm: length: got {self.args['length']} = {length} steps; accepted: >= 1 step")
        return _RewarmFactor(self.steps("at", run), length, float(self.args["start"]), self.args["shape"] == "cosine")


class _ExpFactor:
    __slots__ = ("tau",)

    def __init__(self, tau: float) -> None:
        self.tau = tau

    def __call__(self, t: Any, xp: Any) -> Any:
        return shapes.exp_rise(t + 1.0, self.tau, xp)


@register
class AsymptoticExponential(Modifier):
    r"""Asymptotic exponential warmup: multiply the schedule by ``1 − e^{−(t+1)/τ}`` for the whole run.

    Never exactly 1; after ``5τ`` steps it is within 0.7 %.  For the form truncated
    at ``T_w``, use the warmup ``exponential(T_w, tau=…)``.

    Reference: Ma & Yarats 2019, arXiv:1910.04209.

    >>> from rampup import parse
    >>> round(parse("constant | asymptotic_exponential(tau=10)")(9), 4)
    0.6321
    """

    name = "asymptotic_exponential"
    params = {"tau": Param("positive", REQUIRED, "time constant τ in steps")}
    reference = "Ma & Yarats 2019, arXiv:1910.04209"

    def build_factor(self, run: RunInfo, peak_lr: float | None) -> Any:
        return _ExpFactor(float(self.args["tau"]))


@register
class UntunedExponential(Modifier):
    r"""Untuned exponential warmup: factor ``1 − e^{−(1 − β2)(t+1)}`` (τ = 1/(1 − β2)), for the whole run.

    τ matches the time constant of Adam's second-moment bias correction ``1 − β2^t``.

    Reference: Ma & Yarats 2019, arXiv:1910.04209.

    >>> from rampup import parse
    >>> round(parse("constant | untuned_exponential(beta2=0.999)")(999), 4)
    0.6321
    """

    name = "untuned_exponential"
    params = {"beta2": Param("beta", REQUIRED, "Adam's β2")}
    reference = "Ma & Yarats 2019, arXiv:1910.04209"

    def build_factor(self, run: RunInfo, peak_lr: float | None) -> Any:
        return _ExpFactor(1.0 / (1.0 - float(self.args["beta2"])))


class _RAdamFactor:
    __slots__ = ("beta2", "offset")

    def __init__(self, beta2: float) -> None:
        self.beta2 = beta2
        self.offset = shapes.radam_offset(beta2)

    def __call__(self, t: Any, xp: Any) -> Any:
        return shapes.radam_rectifier(t + 1.0, self.beta2, self.offset, xp)


@register
class RAdamWarmup(Modifier):
    r"""RAdam's rectification term ``r_t`` as a warmup factor for Adam (Liu et al. 2020).

    ``ρ_∞ = 2/(1 − β2) − 1``, ``ρ_t = ρ_∞ − 2tβ2^t/(1 − β2^t)``,
    ``r_t = sqrt((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))``, defined for ρ_t > 4.
    The factor at update ``n = t + 1`` is ``r_{n+δ−1}`` with δ the first iteration
    where ρ_δ > 4 (δ = 5 for β2 ≳ 0.774), so no update is wasted — as in
    pytorch_warmup's ``RAdamWarmup``.  torch's ``RAdam`` optimizer applies the
    same r_t inside its update (and plain momentum SGD while ρ_t ≤ 5); use this
    factor with ``Adam``/``AdamW``, not with ``RAdam`` (it would warm up twice).
    Requires β2 > 0.6.

    Reference: Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond", arXiv:1908.03265.

    >>> from rampup import parse
    >>> round(parse("constant | radam(beta2=0.999)")(0), 5)
    0.01731
    """

    name = "radam"
    params = {"beta2": Param("beta", REQUIRED, "Adam's β2 (> 0.6)")}
    reference = "Liu et al. 2020, arXiv:1908.03265"

    def check(self) -> None:
        if not self.args["beta2"] > 0.6:
            raise ValueError(f"radam: beta2: got {self.args['beta2']!r}; accepted: a number in (0.6, 1)")

    def build_factor(self, run: RunInfo, peak_lr: float | None) -> Any:
        return _RAdamFactor(float(self.args["beta2"]))
