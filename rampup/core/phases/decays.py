"""Phase types: warmups, decays, whole schedules and modifiers.

A phase is a small immutable description (its name and validated arguments).
:meth:`Phase.build` turns it, given what is known about the run, into a
*segment*: a callable ``seg(s, xp)`` of the phase's own relative step ``s``
(0 at the phase's first step, clipped to ``[0, L − 1]`` by the caller) that
returns the LR as a multiple of the peak.  All formulas come from
:mod:`rampup.core.shapes`.

Step semantics (stated once, here and in ``docs/semantics.md``):

* ``schedule(t)`` is the LR used by update number ``t + 1``: ``t = 0`` is the
  first optimizer update.  It is never 0 unless asked for explicitly.
* A phase of length ``L`` covers steps ``b … b + L − 1`` and reaches its end
  value *exactly* at its last step ``b + L − 1``: a warmup of 100 steps is at
  the peak at ``t = 99``; a decay that fills the run is at its floor at
  ``t = total_steps − 1`` (the last update).
* Progress within a phase is ``p = (s + 1) / L``: the first update of a
  warmup from 0 already uses ``peak / L``.
* Past the end of the run the final value is held (never periodic, never an
  error).
"""

from __future__ import annotations

import bisect
import math
from typing import Any, ClassVar

from .. import shapes
from ..params import REQUIRED, Param, convert, to_json, to_text
from ..units import Length, RunInfo

__all__ = ["DECAYS", "MODIFIERS", "NOT_CLOSED_FORM", "WARMUPS", "WHOLES", "Built", "Phase", "register"]

INF = math.inf


class Built:
    """A resolved phase: its length in steps (``inf`` for open-ended) and its segment."""

    __slots__ = ("end", "length", "role", "seg")

    def __init__(self, length: float, seg: Any, end: float, role: str | None = None) -> None:
        self.length = length
        self.seg = seg
        self.end = end  # value at the phase's last step (the next phase's start level)
        self.role = role  # for whole schedules: 'warmup' / 'decay' of each of their segments


class Phase:
    """Base class: validated, immutable, comparable, serializable arguments."""

    name: ClassVar[str]
    role: ClassVar[str]  # 'warmup' | 'decay' | 'whole' | 'modifier'
    params: ClassVar[dict[str, Param]] = {}
    positional: ClassVar[tuple[str, ...]] = ()
    exclusive: ClassVar[tuple[tuple[str, str], ...]] = ()
    reference: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(self.positional):
            raise TypeError(
                f"{self.name}: takes {len(self.positional)} positional argument(s) "
                f"({', '.join(self.positional) or 'none'}); got {len(args)}"
            )
        raw = dict(zip(self.positional, args))
        for k, v in kwargs.items():
            if k in raw:
                raise TypeError(f"{self.name}: {k} given twice")
            raw[k] = v
        given: dict[str, Any] = {}
        for k, v in raw.items():
            if k not in self.params:
                raise TypeError(f"{self.name}: unknown argument {k!r}; accepted: {', '.join(self.params) or 'none'}")
            given[k] = convert(f"{self.name}: {k}", v, self.params[k])
        for a, b in self.exclusive:
            if a in given and b in given:
                raise ValueError(f"{self.name}: give {a} or {b}, not both (got {a}={raw[a]!r}, {b}={raw[b]!r})")
        for k, p in self.params.items():
            if p.default is REQUIRED and k not in given and not self._optional_required(k, given):
                raise TypeError(f"{self.name}: missing argument {k!r} ({p.accepts()})")
        self.given = given
        self.args = {
            k: (
                convert(k, p.default, p)
                if p.kind in ("length", "lengths") and p.default not in (None, REQUIRED)
                else p.default
            )
            for k, p in self.params.items()
        }
        self.args.update(given)
        self.check()

    def _optional_required(self, key: str, given: dict[str, Any]) -> bool:
        # An exclusive pair (a, b) is satisfied by either member.
        for a, b in self.exclusive:
            if key in (a, b) and (a in given or b in given):
                return True
        return False

    def check(self) -> None:
        """Cross-argument validation (override)."""

    # -- identity and serialization -------------------------------------
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.given == self.given  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.given.items()))))

    def __repr__(self) -> str:
        return self.to_text()

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.name, **{k: to_json(v) for k, v in self.given.items()}}

    def to_text(self) -> str:
        parts = []
        rest = dict(self.given)
        for k in self.positional:
            if k in rest:
                parts.append(to_text(rest.pop(k)))
            else:
                break
        parts += [f"{k}={to_text(v)}" for k, v in rest.items()]
        return f"{self.name}({', '.join(parts)})" if parts else self.name

    # -- helpers for build -------------------------------------------------
    def steps(self, key: str, run: RunInfo) -> int:
        v = self.args[key]
        assert isinstance(v, Length)
        return v.to_steps(run, f"{self.name}: {key}")

    def level(self, frac_key: str, lr_key: str, peak_lr: float | None, default: float) -> float:
        """A level as a fraction of the peak, from ``frac_key`` or the absolute ``lr_key``."""
        if lr_key in self.given:
            if peak_lr is None:
                raise ValueError(
                    f"{self.name}: {lr_key}={self.given[lr_key]!r} is an absolute LR and needs the peak LR; "
                    f"pass peak_lr=, or give {frac_key}= as a fraction of the peak"
                )
            x = float(self.given[lr_key]) / peak_lr
            if x > 1.0:
                raise ValueError(
                    f"{self.name}: {lr_key}={self.given[lr_key]!r} is above the peak LR {peak_lr!r}; "
                    f"accepted: an LR <= the peak"
                )
            return x
        v = self.args.get(frac_key)
        return default if v is None else float(v)


WARMUPS: dict[str, type[Phase]] = {}
DECAYS: dict[str, type[Phase]] = {}
WHOLES: dict[str, type[Phase]] = {}
MODIFIERS: dict[str, type[Phase]] = {}
# Other libraries' schedulers that are not a closed form of the step (e.g. driven by a metric): name -> why
# rampup refuses them.  The parser gives this reason instead of "unknown phase" (filled by rampup.compat).
NOT_CLOSED_FORM: dict[str, str] = {}
_BY_ROLE = {"warmup": WARMUPS, "decay": DECAYS, "whole": WHOLES, "modifier": MODIFIERS}


def register(cls: type[Phase]) -> type[Phase]:
    """Add a phase type to the registry of its role (used by compat modules too)."""
    table = _BY_ROLE[cls.role]
    if cls.name in table and table[cls.name] is not cls:
        raise ValueError(f"phase name {cls.name!r} is already registered for role {cls.role!r}")
    table[cls.name] = cls
    return cls


_START = Param("fraction", None, "start value as a fraction of the peak (default 0)")
_START_LR = Param("lr", None, "start value as an absolute LR (needs peak_lr)")
_FLOOR = Param("fraction", None, "end value as a fraction of the peak (default 0)")
_FLOOR_LR = Param("lr", None, "end value as an absolute LR (needs peak_lr)")


# =========================================================================
# Warmups: from the start level to the peak (1.0) over ``length`` steps.
# =========================================================================


class _Ramp:
    """Segment: ``lerp(a, 1, w((s + 1) / L))``."""

    __slots__ = ("a", "extra", "length", "w")

    def __init__(self, a: float, length: int, w: Any, extra: Any = None) -> None:
        self.a, self.length, self.w, self.extra = a, float(max(length, 1)), w, extra

    def __call__(self, s: Any, xp: Any) -> Any:
        # Exactly 1.0 at the last step in every backend, XLA included (see shapes.progress).
        p = shapes.progress(s + 1.0, self.length, xp, lower=False)  # s >= 0
        w = self.w(p, xp) if self.extra is None else self.w(p, self.extra, xp)
        return self.a * (1.0 - w) + w


class _Warmup(Phase):
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
class LinearWarmup(_Warmup):
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
        return _Ramp(a, length, shapes.w_linear)


@register
class ConstantWarmup(_Warmup):
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
        return _Hold(a)


class _Hold:
    __slots__ = ("v",)

    def __init__(self, v: float) -> None:
        self.v = v

    def __call__(self, s: Any, xp: Any) -> Any:
        return s * 0.0 + self.v


@register
class CosineWarmup(_Warmup):
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
        return _Ramp(a, length, shapes.w_cosine)


@register
class PolyWarmup(_Warmup):
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
        return _Ramp(a, length, shapes.w_poly_rise, float(self.args["power"]))


class _ExpRamp:
    __slots__ = ("a", "length", "tau")

    def __init__(self, a: float, tau: float, length: int) -> None:
        self.a, self.tau, self.length = a, tau, float(length)

    def __call__(self, s: Any, xp: Any) -> Any:
        # Truncated at the last step: w = 1 there, so the warmup ends exactly on the peak like every phase.
        w = xp.where(s + 1.0 >= self.length, 1.0, shapes.exp_rise(s + 1.0, self.tau, xp))
        return self.a * (1.0 - w) + w


@register
class ExponentialWarmup(_Warmup):
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
class UntunedLinearWarmup(_Warmup):
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
        return _Ramp(a, length, shapes.w_linear)


class _Knots:
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
class PiecewiseWarmup(_Warmup):
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
        return Built(int(ks[-1]) + 1, _Knots(ks, vs), 1.0)


# =========================================================================
# Decays: from the level the previous phase ended at (the peak after a
# warmup) towards a floor.  ``length`` omitted = the rest of the run.
# =========================================================================


class _Decay(Phase):
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


class _InterpDecay(_Decay):
    exclusive = (("floor", "floor_lr"),)
    weight: ClassVar[Any] = None

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        length = self.decay_steps(run, remaining)
        f = self.floor_level(peak_lr, a)
        return Built(length, _Interp(a, f, max(length, 1), type(self).weight, self._extra()), f)

    def _extra(self) -> Any:
        return None


@register
class ConstantDecay(_Decay):
    r"""Constant: hold the level (the peak after a warmup): ``η_t = η_max``.

    >>> from rampup import parse
    >>> parse("constant")(1000)
    1.0
    """

    name = "constant"
    params = {"length": _LEN_OPT}
    open_ended = True

    def build(self, run: RunInfo, peak_lr: float | None, a: float, begin: int, remaining: float) -> Built:
        return Built(self.decay_steps(run, remaining), _Hold(a), a)


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
class InvSqrtDecay(_Decay):
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
        end = seg(length - 1, shapes_scalar()) if length != INF else f
        return Built(length, seg, end)


def shapes_scalar() -> Any:
    from ..backend import SCALAR

    return SCALAR


class _ExpDecay:
    __slots__ = ("a", "every", "f", "log_rate", "staircase")

    def __init__(self, a: float, f: float, rate: float, every: float, staircase: bool) -> None:
        self.a, self.f, self.log_rate, self.every, self.staircase = a, f, math.log(rate), every, staircase

    def __call__(self, s: Any, xp: Any) -> Any:
        n = shapes.floor_div(s + 1.0, self.every, xp) if self.staircase else (s + 1.0) / self.every
        return xp.maximum(self.a * xp.exp(n * self.log_rate), self.f)


@register
class ExponentialDecay(_Decay):
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
        end = seg(length - 1, shapes_scalar()) if length != INF else f
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
class StepDecay(_Decay):
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
        end = seg(length - 1, shapes_scalar()) if length != INF else 0.0
        return Built(length, seg, end)


@register
class MultiStepDecay(_Decay):
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
        end = seg(length - 1, shapes_scalar()) if length != INF else a * float(self.args["gamma"]) ** len(ms)
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
class WSDDecay(_Decay):
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
class CosineRestarts(_Decay):
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
        end = seg(float(length - 1), shapes_scalar()) if length != INF else f
        return Built(length, seg, end)


# =========================================================================
# Whole schedules (a warmup and decay that belong together).
# =========================================================================


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
        return [Built(w, up, up(float(w - 1), shapes_scalar()), "warmup"), decay]


# =========================================================================
# Modifiers: multiplicative factors on the whole schedule, on absolute steps.
# =========================================================================


class _Modifier(Phase):
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
class Rewarm(_Modifier):
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
class AsymptoticExponential(_Modifier):
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
class UntunedExponential(_Modifier):
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
class RAdamWarmup(_Modifier):
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
