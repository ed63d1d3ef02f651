"""pytorch_warmup warmups (``pw:``) as modifiers: a factor ``ω_t`` on whatever schedule they follow.

Read from ``pytorch_warmup/{base,untuned,radam}.py`` (pytorch-warmup 0.2.0).
pytorch_warmup dampens the LR the scheduler set: construction applies ``ω(0)``
and every ``with warmup.dampening(): scheduler.step()`` restores the undampened
LR, steps the scheduler and applies ``ω(k)``.  So update ``t + 1`` uses
``scheduler_lr(t)·ω(t)``: in rampup a ``pw:`` warmup is a modifier (after
``|``) on any schedule, e.g. ``constant | pw:linear(warmup_period=100)`` (the
warmup over a constant LR) or, as in pytorch_warmup's README,
``torch:cosine_annealing_lr(T_max=1000) | pw:untuned_linear(beta2=0.999)``.

``beta2`` (default 0.999, Adam's) stands for ``optimizer.param_groups[i]["betas"][1]``,
which pytorch_warmup reads per group.

>>> from rampup import parse
>>> parse("constant | pw:linear(warmup_period=4)")(range(6)).tolist()
[0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..core.params import REQUIRED, Param
from ..core.phases import Phase, register
from ..core.units import RunInfo
from ._base import pow_

__all__: list[str] = []

_BETA2 = Param("beta", 0.999, "beta2: the optimizer's betas[1] (Adam's default 0.999)")


class _PW(Phase):
    role = "modifier"
    library: ClassVar[str] = "pytorch_warmup"
    api: ClassVar[str] = ""
    source: ClassVar[str] = "pytorch_warmup/base.py"
    step_rule: ClassVar[str] = "update t+1 uses scheduler_lr(t)·ω(t) (ω(0) at construction, ω(k) after k dampenings)"

    def period(self) -> int:
        return int(self.args["warmup_period"])

    def factor(self, run: RunInfo) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def build_factor(self, run: RunInfo, peak_lr: float | None) -> Any:
        return self.factor(run)

    def native(self) -> str | None:
        """The native modifier with the same (or the fixed) factor."""
        return None

    def own_quirks(self) -> list[str]:
        return []

    def quirks(self, schedule: Any, values: Any) -> tuple[list[str], str | None]:
        spec = schedule.spec
        base = None
        for ph in [spec.warmup, *spec.decay]:
            if ph is not None and hasattr(ph, "quirks"):
                base = ph.quirks(schedule, values)[1] or base
        if base is None:
            chain = ([spec.warmup] if spec.warmup is not None else []) + list(spec.decay)
            if all(not hasattr(ph, "plan") for ph in chain):
                base = " -> ".join(ph.to_text() for ph in chain)
        sug = None
        mods = [m.native() if isinstance(m, _PW) else m.to_text() for m in spec.modifiers]
        if base is not None and all(mods):
            sug = base + "".join(f" | {m}" for m in mods)
        q = self.own_quirks()
        base_moves = any(not (ph.name in ("constant", "hf:constant") and not ph.given) for ph in spec.decay)
        if spec.warmup is not None or base_moves:
            q.append(
                "the warmup factor multiplies the scheduler's LR from step 0: the decay runs underneath the warmup "
                "(they overlap) instead of after it"
            )
        return q, sug


class _Linear:
    __slots__ = ("p",)

    def __init__(self, p: int) -> None:
        self.p = float(p)

    def __call__(self, t: Any, xp: Any) -> Any:
        return xp.minimum(1.0, (t + 1.0) / self.p)


class _Expo:
    __slots__ = ("p",)

    def __init__(self, p: int) -> None:
        self.p = float(p)

    def __call__(self, t: Any, xp: Any) -> Any:
        return 1.0 - xp.exp(-(t + 1.0) / self.p)


@register
class LinearWarmup(_PW):
    r"""pytorch_warmup ``LinearWarmup``: ``ω_t = min(1, (t + 1)/τ)`` (``τ = warmup_period``).

    The same factor as rampup's ``| rewarm(at=0, length=τ)``; over a constant LR
    it is ``linear(τ) -> constant``.

    >>> from rampup import parse
    >>> parse("constant | pw:linear(warmup_period=2)")(range(3)).tolist()
    [0.5, 1.0, 1.0]
    """

    name = "pw:linear"
    api = "pytorch_warmup.LinearWarmup"
    params = {"warmup_period": Param("posint", REQUIRED, "warmup_period τ: steps to reach the full LR")}

    def factor(self, run: RunInfo) -> Any:
        return _Linear(self.period())

    def native(self) -> str | None:
        return f"rewarm(at=0, length={self.period()})"


@register
class ExponentialWarmup(_PW):
    r"""pytorch_warmup ``ExponentialWarmup``: ``ω_t = 1 − exp(−(t + 1)/τ)``, for the whole run (never exactly 1).

    >>> from rampup import parse
    >>> round(parse("constant | pw:exponential(warmup_period=10)")(9), 4)
    0.6321
    """

    name = "pw:exponential"
    api = "pytorch_warmup.ExponentialWarmup"
    params = {"warmup_period": Param("posint", REQUIRED, "warmup_period τ: the time constant")}

    def factor(self, run: RunInfo) -> Any:
        return _Expo(self.period())

    def own_quirks(self) -> list[str]:
        return [f"the factor 1 − exp(−(t+1)/{self.period()}) never reaches 1: the LR stays below the schedule for ever"]

    def native(self) -> str | None:
        return f"asymptotic_exponential(tau={self.period()})"


@register
class UntunedLinearWarmup(_PW):
    r"""pytorch_warmup ``UntunedLinearWarmup``: linear over ``τ = int(2/(1 − β2))`` steps.

    ``int()`` truncates after a floating-point division: β2 = 0.999 gives
    ``2/(1 − 0.999) = 1999.9999999999998`` and τ = **1999**, not 2000.

    >>> from rampup import parse
    >>> s = parse("constant | pw:untuned_linear(beta2=0.999)")
    >>> s(1998), s(1997) < 1.0
    (1.0, True)
    """

    name = "pw:untuned_linear"
    api = "pytorch_warmup.UntunedLinearWarmup"
    source = "pytorch_warmup/untuned.py"
    params = {"beta2": _BETA2}

    def period(self) -> int:
        return int(2.0 / (1.0 - float(self.args["beta2"])))

    def factor(self, run: RunInfo) -> Any:
        return _Linear(self.period())

    def own_quirks(self) -> list[str]:
        b2 = float(self.args["beta2"])
        exact = 2.0 / (1.0 - b2)
        if float(self.period()) == round(exact):
            return []
        return [
            f"the warmup period is int(2/(1 − β2)) = int({exact!r}) = {self.period()}, one step short of "
            f"{round(exact)} (floating-point truncation)"
        ]

    def native(self) -> str | None:
        return f"rewarm(at=0, length={max(1, round(2.0 / (1.0 - float(self.args['beta2']))))})"


@register
class UntunedExponentialWarmup(_PW):
    r"""pytorch_warmup ``UntunedExponentialWarmup``: ``1 − exp(−(t + 1)/τ)`` with ``τ = int(1/(1 − β2))``.

    ``int()`` truncates: β2 = 0.999 gives τ = 999 (``1/(1 − 0.999) = 999.9999999999998``).

    >>> from rampup import parse
    >>> round(parse("constant | pw:untuned_exponential(beta2=0.999)")(998), 6)
    0.632121
    """

    name = "pw:untuned_exponential"
    api = "pytorch_warmup.UntunedExponentialWarmup"
    source = "pytorch_warmup/untuned.py"
    params = {"beta2": _BETA2}

    def period(self) -> int:
        return int(1.0 / (1.0 - float(self.args["beta2"])))

    def factor(self, run: RunInfo) -> Any:
        return _Expo(self.period())

    def own_quirks(self) -> list[str]:
        b2 = float(self.args["beta2"])
        exact = 1.0 / (1.0 - b2)
        q = [f"the factor never reaches 1: the LR stays below the schedule for ever (τ = {self.period()})"]
        if float(self.period()) != round(exact):
            q.append(f"τ = int(1/(1 − β2)) = int({exact!r}) = {self.period()} (floating-point truncation)")
        return q

    def native(self) -> str | None:
        return f"untuned_exponential(beta2={self.args['beta2']!r})"


def _rho(t: int, beta2: float, rho_inf: float) -> float:
    b2t = beta2**t
    return rho_inf - 2 * t * b2t / (1 - b2t)


class _RAdam:
    __slots__ = ("b2", "den", "offset", "rho_inf")

    def __init__(self, beta2: float) -> None:
        self.b2 = beta2
        self.rho_inf = 2.0 / (1 - beta2) - 1
        offset = 1
        while not _rho(offset, beta2, self.rho_inf) > 4:  # pytorch_warmup's get_offset
            offset += 1
        self.offset = offset
        self.den = (self.rho_inf - 4) * (self.rho_inf - 2)

    def __call__(self, t: Any, xp: Any) -> Any:
        n = t + self.offset
        b2t = pow_(xp, self.b2, n)
        rho = self.rho_inf - 2.0 * n * b2t / (1.0 - b2t)
        return xp.sqrt(((rho - 4.0) * (rho - 2.0) * self.rho_inf) / (self.den * rho))


@register
class RAdamWarmup(_PW):
    r"""pytorch_warmup ``RAdamWarmup``: RAdam's rectification ``r_{t+δ}`` as the factor (β2 > 0.6).

    ``ρ_∞ = 2/(1 − β2) − 1``, ``ρ_n = ρ_∞ − 2nβ2^n/(1 − β2^n)``,
    ``ω_t = sqrt((ρ_n − 4)(ρ_n − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_n))`` at
    ``n = t + δ``, ``δ`` the first iteration with ``ρ_δ > 4``.

    >>> from rampup import parse
    >>> round(parse("constant | pw:radam(beta2=0.999)")(0), 5)
    0.01731
    """

    name = "pw:radam"
    api = "pytorch_warmup.RAdamWarmup"
    source = "pytorch_warmup/radam.py"
    params = {"beta2": Param("beta", 0.999, "beta2: the optimizer's betas[1] (> 0.6)")}

    def check(self) -> None:
        if not self.args["beta2"] > 0.6:
            raise ValueError(
                f"pw:radam: beta2: got {self.args['beta2']!r}; accepted: a number in (0.6, 1) (as pytorch_warmup)"
            )

    def factor(self, run: RunInfo) -> Any:
        return _RAdam(float(self.args["beta2"]))

    def own_quirks(self) -> list[str]:
        return [
            "the factor approaches 1 only asymptotically; use it with Adam/AdamW, not with torch's RAdam (it would warm up twice)"
        ]

    def native(self) -> str | None:
        return f"radam(beta2={self.args['beta2']!r})"
