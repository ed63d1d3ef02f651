"""Decays: from the level the previous phase ended at (the peak after a warmup) towards a floor.

``length`` omitted = the rest of the run.  Step semantics and the registry:
:mod:`rampup.core.phases.base`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .. import shapes
from ..backend import SCALAR
from ..params import REQUIRED, Param
from ..units import RunInfo
from .base import INF, Built, Hold, Phase, register

__all__ = [
    "ConstantDecay",
    "CosineDecay",
    "CosineRestarts",
    "Decay",
    "ExponentialDecay",
    "InvSqrtDecay",
    "LinearDecay",
    "MultiStepDecay",
    "PolyDecay",
    "StepDecay",
    "WSDDecay",
]

_FLOOR = Param("fraction", None, "end value as a fraction of the peak (default 0)")
_FLOOR_LR = Param("lr", None, "end value as an absolute LR (needs peak_lr)")


class Decay(Phase):
    """Base of the decays: from the level the previous phase ended at, over ``length`` (default: the rest)."""

    role = "decay"
    positional = ("length",)
    open_ended: ClassVar[bool] = False  # may run without a length or total_steps

    def decay_steps(self, run: RunInfo, remaining: float) -> float:
        if self.args.get("length") is not None:
            return self.steps("length", run)
        if remaining == INF and not self.open_ended:
            raise ValueError(
                f"{self.name}: needs a length or total_steps to know where it ends; "
                f"pass total_steps= (or --total-steps), or write {self.name}(LENGTH, ...)"
            )
        return remaining

    def floor_level(self, peak_lr: float | None, a: float) -> float:
        f = self.level("floor", "floor_lr", peak_lr, 0.0)
        if f > a + 1e-15:
            raise ValueError(
                f"{self.name}: floor {f!r} (as a fraction of the peak) is above the level this phase starts at ({a!r}); "
                "accepted: a floor <= the start level"
            )
        return f

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        raise NotImplementedError  # pragma: no cover


_LEN_OPT = Param("length", None, "phase length (default: the rest of the run)")


class _Interp:
    """Segment: ``lerp(a, f, w((s + 1) / L))``."""

    __slots__ = ("a", "extra", "f", "length", "w")

    def __init__(self, a: float, f: float, length: float, w: Any, extra: Any = None) -> None:
        self.a, self.f, self.w, self.extra = a, f, w, extra
        self.length = float(length)

    def __call__(self, s: Any, xp: Any) -> Any:
        p = shapes.progress(s + 1.0, self.length, xp, lower=False)  # s >= 0
        w = self.w(p, xp) if self.extra is None else self.w(p, self.extra, xp)
        return self.a * (1.0 - w) + self.f * w


class _InterpDecay(Decay):
    exclusive = (("floor", "floor_lr"),)
    weight: ClassVar[Any] = None

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        f = self.floor_level(peak_lr, a)
        return Built(length, _Interp(a, f, max(length, 1), type(self).weight, self._extra()), f)

    def _extra(self) -> Any:
        return None


@register
class ConstantDecay(Decay):
    r"""Constant: hold the level (the peak after a warmup): ``η_t = η_max``.

    >>> from rampup import parse
    >>> parse("constant")(1000)
    1.0
    """

    name = "constant"
    params = {"length": _LEN_OPT}
    open_ended = True

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        return Built(self.decay_steps(run, remaining), Hold(a), a)


@register
class CosineDecay(_InterpDecay):
    r"""Cosine to a floor: ``η = f + (η_max − f)·(1 + cos(π·p))/2`` with ``p = (s + 1)/L``.

    The floor ``f`` is ``floor`` × peak (default 0) or the absolute ``floor_lr``;
    it is reached exactly at the phase's last step (``total_steps − 1`` when the
    phase fills the run) and held afterwards — the curve never rises again.

    Reference: Loshchilov & Hutter 2017, "SGDR", arXiv:1608.03983.

    >>> from rampup import parse
    >>> parse("cosine(floor=0.1)", total_steps=4)(range(6)).round(4).tolist()
    [0.8682, 0.55, 0.2318, 0.1, 0.1, 0.1]
    """

    name = "cosine"
    params = {"length": _LEN_OPT, "floor": _FLOOR, "floor_lr": _FLOOR_LR}
    weight = staticmethod(shapes.w_cosine)
    reference = "Loshchilov & Hutter 2017, arXiv:1608.03983"


@register
class LinearDecay(_InterpDecay):
    r"""Linear to a floor: ``η = η_max + (f − η_max)·p`` with ``p = (s + 1)/L``.

    >>> from rampup import parse
    >>> parse("linear", total_steps=4)(range(4)).tolist()
    [0.75, 0.5, 0.25, 0.0]
    """

    name = "linear"
    params = {"length": _LEN_OPT, "floor": _FLOOR, "floor_lr": _FLOOR_LR}
    weight = staticmethod(shapes.w_linear)
    reference = "e.g. Devlin et al. 2019 (BERT), arXiv:1810.04805"


@register
class PolyDecay(_InterpDecay):
    r"""Polynomial decay: ``η = f + (η_max − f)·(1 − p)^power`` with ``p = (s + 1)/L``.

    Same curve as HF ``get_polynomial_decay_schedule_with_warmup`` and torch
    ``PolynomialLR`` (up to their step offsets; see the ``hf:``/``torch:`` specs).

    >>> from rampup import parse
    >>> parse("poly(power=2)", total_steps=4)(range(4)).tolist()
    [0.5625, 0.25, 0.0625, 0.0]
    """

    name = "poly"
    params = {
        "length": _LEN_OPT,
        "power": Param("positive", 1.0, "exponent"),
        "floor": _FLOOR,
        "floor_lr": _FLOOR_LR,
    }
    weight = staticmethod(shapes.w_poly_fall)
    reference = "Chen et al. 2017 (DeepLab 'poly'), arXiv:1606.00915"

    def _extra(self) -> Any:
        return float(self.args["power"])


class _InvSqrt:
    __slots__ = ("a", "f", "tau")

    def __init__(self, a: float, f: float, tau: float) -> None:
        self.a, self.f, self.tau = a, f, tau

    def __call__(self, s: Any, xp: Any) -> Any:
        return xp.maximum(self.a * shapes.inv_sqrt(s + 1.0, self.tau, xp), self.f)


@register
class InvSqrtDecay(Decay):
    r"""Inverse square root: ``η = max(f, η_max·sqrt(τ/(τ + s + 1)))``.

    With ``τ`` = the warmup length (the default when a warmup precedes it) this
    is the decay of Vaswani et al. and fairseq's ``inverse_sqrt``:
    ``η_max·sqrt(T_w)/sqrt(t + 1)``.  Open-ended: it may run without
    ``total_steps``.

    Reference: Vaswani et al. 2017, arXiv:1706.03762 (§5.3).

    >>> from rampup import parse
    >>> s = parse("linear(4) -> invsqrt")
    >>> s(3), s(15)
    (1.0, 0.5)
    """

    name = "invsqrt"
    params = {
        "length": _LEN_OPT,
        "timescale": Param("positive", None, "τ in steps (default: the warmup length)"),
        "floor": _FLOOR,
        "floor_lr": _FLOOR_LR,
    }
    exclusive = (("floor", "floor_lr"),)
    open_ended = True
    reference = "Vaswani et al. 2017, arXiv:1706.03762"

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        tau = self.args["timescale"]
        if tau is None:
            if begin <= 0:
                raise ValueError(
                    "invsqrt: timescale: needed when no warmup precedes it; accepted: a number of steps > 0"
                )
            tau = begin
        f = self.floor_level(peak_lr, a)
        seg = _InvSqrt(a, f, float(tau))
        end = seg(length - 1, SCALAR) if length != INF else f
        return Built(length, seg, end)


class _ExpDecay:
    __slots__ = ("a", "every", "f", "log_rate", "staircase")

    def __init__(self, a: float, f: float, rate: float, every: float, staircase: bool) -> None:
        self.a, self.f, self.log_rate, self.every, self.staircase = a, f, math.log(rate), every, staircase

    def __call__(self, s: Any, xp: Any) -> Any:
        n = shapes.floor_div(s + 1.0, self.every, xp) if self.staircase else (s + 1.0) / self.every
        return xp.maximum(self.a * xp.exp(n * self.log_rate), self.f)


@register
class ExponentialDecay(Decay):
    r"""Exponential decay: ``η = max(f, η_max·rate^((s + 1)/every))``.

    Give ``rate`` (and ``every``, default 1 step) or ``half_life`` (steps to
    halve; ``rate = 0.5``, ``every = half_life``).  ``staircase=true`` decays in
    whole jumps every ``every`` steps.  The floor is a lower bound, reached at
    the first step the curve would cross it.  Open-ended.

    Reference: optax ``exponential_decay``; Keras ``ExponentialDecay``.

    >>> from rampup import parse
    >>> parse("exponential(half_life=2)")(range(4)).round(4).tolist()
    [0.7071, 0.5, 0.3536, 0.25]
    """

    name = "exponential"
    params = {
        "length": _LEN_OPT,
        "rate": Param("beta", None, "decay factor per `every` steps, in (0, 1)"),
        "every": Param("length", None, "steps per factor of `rate` (default 1)"),
        "half_life": Param("length", None, "steps to halve the LR"),
        "staircase": Param("bool", False, "decay in jumps"),
        "floor": _FLOOR,
        "floor_lr": _FLOOR_LR,
    }
    exclusive = (("floor", "floor_lr"), ("rate", "half_life"), ("every", "half_life"))
    open_ended = True
    reference = "optax.exponential_decay"

    def check(self) -> None:
        if "rate" not in self.given and "half_life" not in self.given:
            raise TypeError(
                "exponential: give rate= (with every=) or half_life=; accepted: rate in (0, 1), half_life a length"
            )

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        if self.args["half_life"] is not None:
            rate, every = 0.5, self.steps("half_life", run)
        else:
            rate = float(self.args["rate"])
            every = self.steps("every", run) if self.args["every"] is not None else 1
        if every <= 0:
            raise ValueError(f"exponential: every/half_life: got {every} steps; accepted: >= 1 step")
        f = self.floor_level(peak_lr, a)
        seg = _ExpDecay(a, f, rate, float(every), bool(self.args["staircase"]))
        end = seg(length - 1, SCALAR) if length != INF else f
        return Built(length, seg, end)


class _StepDecay:
    __slots__ = ("a", "every", "log_gamma", "milestones")

    def __init__(self, a: float, gamma: float, every: float, milestones: tuple[int, ...]) -> None:
        # Floats, not ints: jax would make a Python int an int32 and overflow past 2^31 steps.
        self.a, self.every, self.milestones = a, every, tuple(float(m) for m in milestones)
        self.log_gamma = math.log(gamma) if gamma > 0 else -INF

    def __call__(self, s: Any, xp: Any) -> Any:
        if self.milestones:
            n: Any = s * 0.0
            for m in self.milestones:
                n = n + xp.where(s >= m, 1.0, 0.0)
        else:
            n = shapes.floor_div(s, self.every, xp)
        if self.log_gamma == -INF:
            # γ = 0: the level until the first drop, then 0.  exp(n·log γ) would be exp(0·(−inf)) = NaN at n = 0.
            return xp.where(n >= 1.0, 0.0, s * 0.0 + self.a)
        return self.a * xp.exp(n * self.log_gamma)


@register
class StepDecay(Decay):
    r"""Step decay: ``η = η_max·γ^⌊s/every⌋`` — each level is held for exactly ``every`` steps.

    Unlike the continuous shapes, steps hold the start level for the first
    ``every`` steps of the phase (torch ``StepLR`` semantics).  Open-ended.

    >>> from rampup import parse
    >>> parse("step(every=2, gamma=0.5)")(range(5)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    name = "step"
    params = {
        "length": _LEN_OPT,
        "every": Param("length", REQUIRED, "steps per level"),
        "gamma": Param("fraction", 0.1, "factor per drop, in [0, 1]"),
    }
    open_ended = True
    reference = "He et al. 2016; torch.optim.lr_scheduler.StepLR"

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        every = self.steps("every", run)
        if every <= 0:
            raise ValueError(f"step: every: got {self.args['every']} = {every} steps; accepted: >= 1 step")
        seg = _StepDecay(a, float(self.args["gamma"]), float(every), ())
        end = seg(length - 1, SCALAR) if length != INF else 0.0
        return Built(length, seg, end)


@register
class MultiStepDecay(Decay):
    r"""Multi-step decay: ``η = η_max·γ^(number of milestones ≤ t)``.

    Milestones are steps **of the run** (counted from step 0, like torch's
    ``MultiStepLR`` and Goyal et al.'s "÷10 at epochs 30, 60, 80"), in any unit:
    ``milestones=[30ep, 60ep, 80ep]`` or ``[33%, 67%]``.  A milestone inside a
    preceding warmup is an error.  Open-ended.

    >>> from rampup import parse
    >>> parse("multistep(milestones=[2, 4], gamma=0.5)")(range(6)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    name = "multistep"
    params = {
        "length": _LEN_OPT,
        "milestones": Param("lengths", REQUIRED, "steps of the run at which the LR drops"),
        "gamma": Param("fraction", 0.1, "factor per drop, in [0, 1]"),
    }
    open_ended = True
    reference = "Goyal et al. 2017; torch.optim.lr_scheduler.MultiStepLR"

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        ms = [m.to_steps(run, f"multistep: milestones[{i}]") for i, m in enumerate(self.args["milestones"])]
        if ms != sorted(ms):
            raise ValueError(f"multistep: milestones: got {ms} steps; accepted: increasing steps")
        for m in ms:
            if m < begin:
                raise ValueError(
                    f"multistep: milestones: step {m} falls before this phase starts (step {begin}); "
                    "milestones count from step 0 of the run and must be >= the warmup length"
                )
        seg = _StepDecay(a, float(self.args["gamma"]), 1.0, tuple(m - begin for m in ms))
        end = seg(length - 1, SCALAR) if length != INF else a * float(self.args["gamma"]) ** len(ms)
        return Built(length, seg, end)


class _WSD:
    __slots__ = ("a", "cool", "f", "log_ratio", "shape", "stable")

    def __init__(self, a: float, f: float, stable: int, cool: int, shape: str) -> None:
        self.a, self.f, self.stable, self.shape = a, f, float(stable), shape
        self.cool = float(max(cool, 1))
        self.log_ratio = math.log(f / a) if shape == "exponential" else 0.0

    def __call__(self, s: Any, xp: Any) -> Any:
        q = shapes.progress(s - self.stable + 1.0, self.cool, xp)
        if self.shape == "linear":
            w = q
        elif self.shape == "cosine":
            w = shapes.w_cosine(q, xp)
        elif self.shape == "1-sqrt":
            w = shapes.w_one_minus_sqrt(q, xp)
        else:
            # a·(f/a)^q; pinned to f at q = 1 so the floor is exact, not f·(1 ± ulp).
            return xp.where(q >= 1.0, self.f, self.a * xp.exp(q * self.log_ratio))
        return self.a * (1.0 - w) + self.f * w


@register
class WSDDecay(Decay):
    r"""Warmup-stable-decay's "stable + cooldown": hold the peak, then cool down over the last ``cooldown`` steps.

    For a phase of ``L`` steps and a cooldown of ``C``: ``η = η_max`` for
    ``s < L − C``, then with ``q = (s − (L − C) + 1)/C``:

    * ``linear``: ``η_max + (f − η_max)·q``
    * ``cosine``: ``η_max + (f − η_max)·(1 − cos πq)/2``
    * ``1-sqrt``: ``η_max + (f − η_max)·sqrt(q)`` (Hägele et al. 2024)
    * ``exponential``: ``η_max·(f/η_max)^q`` (needs a floor > 0)

    ``cooldown`` is a length: ``10%`` is 10 % of the run, ``2000`` is steps.
    The floor is reached at the phase's last step.

    References: Hu et al. 2024 (MiniCPM), arXiv:2404.06395; Hägele et al. 2024, arXiv:2405.18392.

    >>> from rampup import parse
    >>> parse("wsd(cooldown=2)", total_steps=5)(range(5)).tolist()
    [1.0, 1.0, 1.0, 0.5, 0.0]
    """

    name = "wsd"
    params = {
        "length": _LEN_OPT,
        "cooldown": Param("length", REQUIRED, "cooldown length (e.g. 10% or 2000)"),
        "shape": Param("choice", "linear", "cooldown shape", ("linear", "cosine", "1-sqrt", "exponential")),
        "floor": _FLOOR,
        "floor_lr": _FLOOR_LR,
    }
    exclusive = (("floor", "floor_lr"),)
    reference = "Hu et al. 2024, arXiv:2404.06395; Hägele et al. 2024, arXiv:2405.18392"

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        cool = self.steps("cooldown", run)
        if cool > length:
            raise ValueError(
                f"wsd: cooldown: {self.args['cooldown']} = {cool} steps is longer than the phase ({length} steps)"
            )
        f = self.floor_level(peak_lr, a)
        shape = self.args["shape"]
        if shape == "exponential" and f <= 0.0:
            raise ValueError("wsd: floor: an exponential cooldown needs a floor > 0 (it decays by a ratio); got 0")
        return Built(length, _WSD(a, f, int(length) - cool, cool, shape), f if cool > 0 else a)


class _Restarts:
    __slots__ = ("a", "cycle", "decay", "f", "log_mult", "mult", "rewarm")

    def __init__(self, a: float, f: float, cycle: int, mult: float, rewarm: int, decay: float) -> None:
        self.a, self.f, self.cycle, self.mult, self.rewarm, self.decay = a, f, float(cycle), mult, rewarm, decay
        self.log_mult = math.log(mult)

    def __call__(self, s: Any, xp: Any) -> Any:
        c, m = self.cycle, self.mult
        if m == 1.0:
            k = shapes.floor_div(s, c, xp)
            start = k * c
            clen = s * 0.0 + c
        else:
            k = xp.floor(xp.log(1.0 + s * (m - 1.0) / c) / self.log_mult)
            # Repair rounding at cycle boundaries that fall on a whole step.  The tolerance is relative:
            # float32 (jax, torch) evaluates m^k to ~1 ppm, and an absolute 1e-9 put the first step of a
            # cycle into the previous one.
            tol = 4e-6 * (s + 1.0)
            start = c * (xp.exp(k * self.log_mult) - 1.0) / (m - 1.0)
            k = xp.where(start > s + tol, k - 1.0, k)
            nxt = c * (xp.exp((k + 1.0) * self.log_mult) - 1.0) / (m - 1.0)
            k = xp.where(nxt <= s + tol, k + 1.0, k)
            start = c * (xp.exp(k * self.log_mult) - 1.0) / (m - 1.0)
            clen = c * xp.exp(k * self.log_mult)
        r = s - start
        peak = self.a * xp.exp(k * math.log(self.decay)) if self.decay != 1.0 else s * 0.0 + self.a
        w_rw = 0.0 if self.rewarm == 0 else xp.where(k > 0.0, 1.0, 0.0) * self.rewarm
        # re-warm: floor -> cycle peak over `rewarm` steps (not in cycle 0)
        p_up = shapes.progress(r + 1.0, float(max(self.rewarm, 1)), xp)
        up = self.f * (1.0 - p_up) + peak * p_up
        p = xp.clip((r - w_rw + 1.0) / xp.maximum(clen - w_rw, 1.0), 0.0, 1.0)
        w = shapes.w_cosine(p, xp)
        down = peak * (1.0 - w) + self.f * w
        if self.rewarm == 0:
            return down
        return xp.where(r < w_rw, up, down)


@register
class CosineRestarts(Decay):
    r"""Cosine with warm restarts (SGDR), where every restart can re-warm and cycle peaks can decay.

    Cycle ``k`` (from 0) lasts ``cycle·cycle_mult^k`` steps and peaks at
    ``η_max·cycle_decay^k``.  Cycles after the first begin with a linear
    re-warmup of ``rewarm`` steps from the floor to their peak, then a cosine to
    the floor that is reached exactly at the cycle's last step.  Past the end of
    the run the final value is held.

    Reference: Loshchilov & Hutter 2017, "SGDR", arXiv:1608.03983.

    >>> from rampup import parse
    >>> parse("restarts(cycle=2, cycle_decay=0.5)")(range(6)).round(3).tolist()
    [0.5, 0.0, 0.25, 0.0, 0.125, 0.0]
    """

    name = "restarts"
    params = {
        "length": _LEN_OPT,
        "cycle": Param("length", REQUIRED, "length of the first cycle"),
        "cycle_mult": Param("positive", 1.0, "each cycle is this many times longer than the one before (>= 1)"),
        "cycle_decay": Param("fraction", 1.0, "each cycle's peak is this fraction of the previous peak"),
        "rewarm": Param("length", 0, "re-warmup steps at the start of each cycle after the first"),
        "floor": _FLOOR,
        "floor_lr": _FLOOR_LR,
    }
    exclusive = (("floor", "floor_lr"),)
    open_ended = True
    reference = "Loshchilov & Hutter 2017, arXiv:1608.03983"

    def check(self) -> None:
        if self.args["cycle_mult"] < 1.0:
            raise ValueError(f"restarts: cycle_mult: got {self.args['cycle_mult']!r}; accepted: a number >= 1")
        if self.args["cycle_decay"] == 0.0:
            raise ValueError("restarts: cycle_decay: got 0.0; accepted: a fraction in (0, 1]")

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        cycle = self.steps("cycle", run)
        rewarm = self.steps("rewarm", run)
        if cycle <= 0:
            raise ValueError(f"restarts: cycle: got {self.args['cycle']} = {cycle} steps; accepted: >= 1 step")
        if rewarm >= cycle:
            raise ValueError(f"restarts: rewarm: {rewarm} steps must be shorter than the cycle ({cycle} steps)")
        f = self.floor_level(peak_lr, a)
        seg = _Restarts(a, f, cycle, float(self.args["cycle_mult"]), rewarm, float(self.args["cycle_decay"]))
        end = seg(float(length - 1), SCALAR) if length != INF else f
        return Built(length, seg, end)
