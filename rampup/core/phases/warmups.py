"""Warmups: from the start level to the peak (1.0) over ``length`` steps.

Step semantics and the registry: :mod:`rampup.core.phases.base`.
"""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

from .. import shapes
from ..params import REQUIRED, Param
from ..units import RunInfo
from .base import Built, Hold, Phase, register

__all__ = [
    "ConstantWarmup",
    "CosineWarmup",
    "ExponentialWarmup",
    "Knots",
    "LinearWarmup",
    "PiecewiseWarmup",
    "PolyWarmup",
    "Ramp",
    "UntunedLinearWarmup",
    "Warmup",
]

_START = Param("fraction", None, "start value as a fraction of the peak (default 0)")
_START_LR = Param("lr", None, "start value as an absolute LR (needs peak_lr)")


class Ramp:
    """Segment: ``lerp(a, 1, w((s + 1) / L))``."""

    __slots__ = ("a", "extra", "length", "w")

    def __init__(self, a: float, length: int, w: Any, extra: Any = None) -> None:
        self.a, self.length, self.w, self.extra = a, float(max(length, 1)), w, extra

    def __call__(self, s: Any, xp: Any) -> Any:
        # Exactly 1.0 at the last step in every backend, XLA included (see shapes.progress).
        p = shapes.progress(s + 1.0, self.length, xp, lower=False)  # s >= 0
        w = self.w(p, xp) if self.extra is None else self.w(p, self.extra, xp)
        return self.a * (1.0 - w) + w


class Warmup(Phase):
    """Base of the warmups: ``length`` steps (the first argument) from ``start`` / ``start_lr`` to the peak.

    A new warmup shape subclasses it, sets ``name`` and ``params`` and returns its segment from
    :meth:`segment` (usually ``Ramp(a, length, w)`` with its weight ``w(p, xp)`` from :mod:`rampup.core.shapes`).
    """

    role = "warmup"
    positional: ClassVar[tuple[str, ...]] = ("length",)
    exclusive = (("start", "start_lr"),)

    def start_level(self, peak_lr: float | None) -> float:
        return self.level("start", "start_lr", peak_lr, 0.0)

    def warmup_steps(self, run: RunInfo) -> int:
        return self.steps("length", run)

    def build(self, run: RunInfo, peak_lr: float | None) -> Built:
        length = self.warmup_steps(run)
        a = self.start_level(peak_lr)
        return Built(length, self.segment(a, length), 1.0)

    def segment(self, a: float, length: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@register
class LinearWarmup(Warmup):
    r"""Linear warmup: ``η_t = η_0 + (η_max − η_0)·min(1, (t + 1)/T_w)``.

    ``start`` is η_0 as a fraction of the peak (default 0; Goyal et al.'s gradual
    warmup starts at the small-batch LR, e.g. ``start=1/32``), or ``start_lr``
    as an absolute LR.  The first update uses ``η_0 + (η_max − η_0)/T_w``; the
    peak is reached at ``t = T_w − 1``.

    Reference: Goyal et al. 2017, "Accurate, Large Minibatch SGD" (§2.2).

    >>> from rampup import parse
    >>> parse("linear(4) -> constant")(range(6)).round(3).tolist()
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    """

    name = "linear"
    params = {"length": Param("length", REQUIRED, "warmup length T_w"), "start": _START, "start_lr": _START_LR}
    reference = "Goyal et al. 2017, arXiv:1706.02677"

    def segment(self, a: float, length: int) -> Any:
        return Ramp(a, length, shapes.w_linear)


@register
class ConstantWarmup(Warmup):
    r"""Constant warmup: ``η_t = η_0`` for ``t < T_w``, then the jump to ``η_max``.

    ``start`` (or ``start_lr``) is required and must be > 0: a constant warmup at
    0 would waste its updates.  He et al. 2016 used 0.01 for 400 iterations
    (ResNet-110); Goyal et al. show the jump makes it brittle at large batch.

    Reference: He et al. 2016, "Deep Residual Learning" (§4.2); Goyal et al. 2017 (§2.2).

    >>> from rampup import parse
    >>> parse("constant(3, start=0.1) -> constant")(range(5)).tolist()
    [0.1, 0.1, 0.1, 1.0, 1.0]
    """

    name = "constant"
    params = {
        "length": Param("length", REQUIRED, "warmup length T_w"),
        "start": Param("fraction", REQUIRED, "the held value as a fraction of the peak"),
        "start_lr": _START_LR,
    }
    reference = "He et al. 2016, arXiv:1512.03385; Goyal et al. 2017"

    def check(self) -> None:
        if "start" in self.given and self.given["start"] == 0.0:
            raise ValueError(
                "constant: start: got 0.0; accepted: a fraction of the peak in (0, 1] (0 would waste T_w updates)"
            )

    def segment(self, a: float, length: int) -> Any:
        return Hold(a)


@register
class CosineWarmup(Warmup):
    r"""Half-cosine warmup: ``η_t = η_0 + (η_max − η_0)·(1 − cos(π·min(1, (t+1)/T_w)))/2``.

    Starts flatter than linear and eases into the peak (zero slope at the peak).

    Reference: the cosine ramp of Loshchilov & Hutter 2017 run upwards, as in timm/fairseq.

    >>> from rampup import parse
    >>> parse("cosine(4) -> constant")(range(5)).round(3).tolist()
    [0.146, 0.5, 0.854, 1.0, 1.0]
    """

    name = "cosine"
    params = {"length": Param("length", REQUIRED, "warmup length T_w"), "start": _START, "start_lr": _START_LR}
    reference = "Loshchilov & Hutter 2017, arXiv:1608.03983"

    def segment(self, a: float, length: int) -> Any:
        return Ramp(a, length, shapes.w_cosine)


@register
class PolyWarmup(Warmup):
    r"""Polynomial warmup: ``η_t = η_0 + (η_max − η_0)·min(1, (t+1)/T_w)^power``.

    ``power`` 1 is linear; 2 (default) starts gentler.

    >>> from rampup import parse
    >>> parse("poly(4, power=2) -> constant")(range(5)).round(4).tolist()
    [0.0625, 0.25, 0.5625, 1.0, 1.0]
    """

    name = "poly"
    params = {
        "length": Param("length", REQUIRED, "warmup length T_w"),
        "power": Param("positive", 2.0, "exponent of the ramp"),
        "start": _START,
        "start_lr": _START_LR,
    }
    reference = "polynomial ramp, e.g. Gotmare et al. 2019, arXiv:1810.13243"

    def segment(self, a: float, length: int) -> Any:
        return Ramp(a, length, shapes.w_poly_rise, float(self.args["power"]))


class _ExpRamp:
    __slots__ = ("a", "length", "tau")

    def __init__(self, a: float, tau: float, length: int) -> None:
        self.a, self.tau, self.length = a, tau, float(length)

    def __call__(self, s: Any, xp: Any) -> Any:
        # Truncated at the last step: w = 1 there, so the warmup ends exactly on the peak like every phase.
        w = xp.where(s + 1.0 >= self.length, 1.0, shapes.exp_rise(s + 1.0, self.tau, xp))
        return self.a * (1.0 - w) + w


@register
class ExponentialWarmup(Warmup):
    r"""Exponential warmup, **truncated** at ``T_w``: ``η_t = η_0 + (η_max − η_0)·(1 − e^{−(t+1)/τ})``
    for ``t < T_w − 1``, and ``η_max`` from ``t = T_w − 1`` on.

    The curve does not reach the peak by itself; at its last step ``T_w − 1``
    it jumps the remaining ``e^{−T_w/τ}`` of the way (0.7 % with the default
    ``τ = T_w/5``), so that, like every phase, it ends exactly on its end value.
    For the **asymptotic** form that multiplies the whole run and never ends,
    use the modifier ``| asymptotic_exponential(tau=…)``.

    Reference: Ma & Yarats 2019, "On the adequacy of untuned warmup", arXiv:1910.04209.

    >>> from rampup import parse
    >>> parse("exponential(3, tau=1) -> constant")(range(4)).round(4).tolist()
    [0.6321, 0.8647, 1.0, 1.0]
    """

    name = "exponential"
    params = {
        "length": Param("length", REQUIRED, "warmup length T_w (where it is truncated)"),
        "tau": Param("positive", None, "time constant τ in steps (default T_w / 5)"),
        "start": _START,
        "start_lr": _START_LR,
    }
    reference = "Ma & Yarats 2019, arXiv:1910.04209"

    def segment(self, a: float, length: int) -> Any:
        tau = self.args["tau"]
        return _ExpRamp(a, float(tau) if tau is not None else length / 5.0, length)


@register
class UntunedLinearWarmup(Warmup):
    r"""Untuned linear warmup for Adam-type optimizers: linear over ``T_w = round(2/(1 − β2))`` steps.

    ``2/(1 − β2)`` is twice the time constant of Adam's second-moment estimate
    (Ma & Yarats 2019): β2 = 0.999 gives 2000 steps, 0.98 gives 100, 0.95 gives 40.
    (pytorch_warmup truncates with ``int()``, which gives 1999 for β2 = 0.999;
    ``pw:untuned_linear`` reproduces that.)

    Reference: Ma & Yarats 2019, arXiv:1910.04209.

    >>> from rampup import parse
    >>> s = parse("untuned_linear(beta2=0.98) -> constant")
    >>> s(0), s(99)
    (0.01, 1.0)
    """

    name = "untuned_linear"
    positional = ()
    params = {"beta2": Param("beta", REQUIRED, "Adam's β2"), "start": _START, "start_lr": _START_LR}
    reference = "Ma & Yarats 2019, arXiv:1910.04209"

    def warmup_steps(self, run: RunInfo) -> int:
        return max(1, round(2.0 / (1.0 - float(self.args["beta2"]))))

    def segment(self, a: float, length: int) -> Any:
        return Ramp(a, length, shapes.w_linear)


class Knots:
    """Segment: linear interpolation through knots ``(k_i, v_i)``, each value exact at its knot."""

    __slots__ = ("ks", "vs")

    def __init__(self, ks: tuple[float, ...], vs: tuple[float, ...]) -> None:
        self.ks, self.vs = ks, vs

    def __call__(self, s: Any, xp: Any) -> Any:
        ks, vs = self.ks, self.vs
        if getattr(xp, "name", "") == "scalar":  # one segment, found by bisection: same formula, O(log n)
            i = bisect.bisect_left(ks, s)
            if i == 0:
                return vs[0]
            if i == len(ks):
                return vs[-1]
            w = (s - ks[i - 1]) / (ks[i] - ks[i - 1])
            return shapes.lerp(vs[i - 1], vs[i], w)
        out = s * 0.0 + vs[0]
        for i in range(1, len(ks)):
            w = shapes.progress(s - ks[i - 1], ks[i] - ks[i - 1], xp)
            out = xp.where(s > ks[i - 1], shapes.lerp(vs[i - 1], vs[i], w), out)
        return out


@register
class PiecewiseWarmup(Warmup):
    r"""Piecewise-linear warmup through knots: ``η_t = v_i`` at step ``t = k_i``, linear in between.

    ``steps=[k_0, …, k_m]`` (strictly increasing) and ``values=[v_0, …, v_m]``
    (fractions of the peak, ``v_m = 1``): ``η_t = v_0`` for ``t ≤ k_0``,
    ``η_t = v_{i−1}·(1 − w) + v_i·w`` with ``w = (t − k_{i−1})/(k_i − k_{i−1})``
    for ``k_{i−1} < t ≤ k_i``.  Each ``v_i`` is reached exactly at ``k_i``; the
    peak at the last knot ``k_m``, which is the warmup's last step (length
    ``k_m + 1``).  The values need not rise monotonically.

    This is the exact form of a curve decided online:
    ``rampup.torch.AutoWarmup.export_spec()`` writes the warmup it chose as
    ``piecewise(...)`` so that the run can be repeated without the controller.

    >>> from rampup import parse
    >>> parse("piecewise(steps=[0, 2, 3], values=[0.1, 0.5, 1.0]) -> constant")(range(5)).tolist()
    [0.1, 0.3, 0.5, 1.0, 1.0]
    """

    name = "piecewise"
    positional = ()
    params = {
        "steps": Param("lengths", REQUIRED, "knot steps k_0 < k_1 < … (the last one is the warmup's last step)"),
        "values": Param("fractions", REQUIRED, "value at each knot as a fraction of the peak (the last is 1)"),
    }
    reference = "rampup.torch.AutoWarmup.export_spec"

    def check(self) -> None:
        ks, vs = self.args["steps"], self.args["values"]
        if len(ks) != len(vs) or not ks:
            raise ValueError(
                f"piecewise: steps and values: got {len(ks)} steps and {len(vs)} values; "
                "accepted: two non-empty lists of the same length"
            )
        if vs[-1] != 1.0:
            raise ValueError(
                f"piecewise: values: the last value is {vs[-1]!r}; accepted: 1.0 (a warmup ends at the peak)"
            )

    def knots(self, run: RunInfo) -> tuple[tuple[float, ...], tuple[float, ...]]:
        ks = tuple(float(k.to_steps(run, f"piecewise: steps[{i}]")) for i, k in enumerate(self.args["steps"]))
        for i in range(1, len(ks)):
            if not ks[i] > ks[i - 1]:
                raise ValueError(
                    f"piecewise: steps: got {ks[i - 1]:g} then {ks[i]:g} steps; accepted: strictly increasing steps"
                )
        return ks, tuple(float(v) for v in self.args["values"])

    def warmup_steps(self, run: RunInfo) -> int:
        return int(self.knots(run)[0][-1]) + 1

    def build(self, run: RunInfo, peak_lr: float | None) -> Built:
        ks, vs = self.knots(run)
        return Built(int(ks[-1]) + 1, Knots(ks, vs), 1.0)
