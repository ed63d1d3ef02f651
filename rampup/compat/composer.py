"""MosaicML composer schedulers (``composer:``): every closed-form scheduler of ``composer.optim``.

Read from ``mosaicml/composer`` ``composer/optim/scheduler.py``, ``composer/core/time.py`` and the training
loop in ``composer/trainer/trainer.py`` (0.17 to 0.32 alike).  A composer scheduler returns a multiplier
``α(state)`` of the optimizer's LR; the Trainer wraps it in a ``LambdaLR`` (``compile_composer_scheduler``),
built when the Trainer is, and in ``_train_loop`` calls ``scheduler.step()`` after each batch **before** it
advances ``state.timestamp`` (``to_next_batch``).  So with ``k`` the batches already counted when α is
evaluated:

=====================  ==============================  =========================
optimizer update       LR set by                       α evaluated at
=====================  ==============================  =========================
1 (rampup ``t = 0``)   the ``LambdaLR`` constructor    ``k = 0``
2 (``t = 1``)          ``step()`` after batch 1        ``k = 0`` (not yet advanced)
``t + 1``              ``step()`` after batch ``t``    ``k = t − 1``
=====================  ==============================  =========================

rampup's ``schedule(t)`` is ``α(max(t − 1, 0))``: the first two updates share ``α(0)`` and every value comes
one update later than the formula's time suggests (a warmup of ``W`` batches peaks at update ``W + 2``).

Times are composer's: ``'100ba'`` (or ``100``) batches, ``'2ep'`` epochs (``× steps_per_epoch``, the
dataloader length), ``'6400sp'`` samples (``× batch_size``, the global batch size in samples: every batch
full), ``'1e6tok'`` tokens (``× tokens_per_step``), ``'0.5dur'`` a fraction of ``max_duration``, converted as
composer's ``_convert_time`` does: ``int(v · dataloader_len · epochs)`` batches when ``max_duration`` is in
epochs (``0.7 · 3 · 10 = 20.99… → 20``, where ``int(0.7 · 30)`` would be 21), ``int(v · max_duration)`` in
``max_duration``'s unit otherwise.  ``max_duration`` defaults to the run's ``total_steps`` batches.  A time
in samples or tokens is compared in that unit (``k · batch_size < t_warmup``), as composer's ``Timestamp``
does.  ``scale_schedule_ratio`` is 1.

>>> from rampup import parse
>>> parse("composer:cosine_annealing_with_warmup(t_warmup=2, t_max=6)")(range(8)).round(4).tolist()
[0.0, 0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0]
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.params import REQUIRED, Param, register_kind
from ..core.phases import register
from ..core.units import MAX_STEPS, Length, RunInfo
from ._base import INF, CompatPhase, Ctx, Piece, Plan, as_list, fmt, pow_

__all__: list[str] = []

_UNITS = {"ba": "batches", "ep": "epochs", "sp": "samples", "tok": "tokens", "dur": "a fraction of max_duration"}
_TIME_RE = re.compile(r"^(?P<num>[0-9.eE+-]+?)(?P<unit>ba|ep|sp|tok|dur)$", re.IGNORECASE)
_ACCEPTS = (
    "batches (100 or '100ba'), epochs ('2ep'), samples ('6400sp', needs batch_size), tokens ('1e6tok', needs "
    "tokens_per_step) or a fraction of max_duration ('0.5dur')"
)


class ComposerTime(Length):
    """A composer ``Time`` as written (``'100ba'``, ``'2ep'``, ``'6400sp'``, ``'1e6tok'``, ``'0.5dur'``).

    ``unit`` is composer's (``ba``/``ep``/``sp``/``tok``/``dur``); :meth:`convert` does ``_convert_time``.
    """

    def to_steps(self, run: RunInfo, name: str = "length") -> int:
        return _Clock(run, None, None).batches(self, name)

    def to_json(self) -> int | str:
        return str(self)


def parse_time(where: str, v: Any) -> ComposerTime:
    """A composer time from an int (batches) or a time string, validated as composer's ``Time`` does."""
    if isinstance(v, ComposerTime):
        return v
    if isinstance(v, Length):  # a rampup length handed over in Python: only whole steps are composer batches
        if v.unit == "steps":
            return ComposerTime(int(v.value), "ba", f"{int(v.value)}ba")
        raise ValueError(f"{where}: got {v}; accepted: {_ACCEPTS}")
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise TypeError(f"{where}: got {v!r:.60}; accepted: {_ACCEPTS}")
    if isinstance(v, int):
        if v < 0:
            raise ValueError(f"{where}: got {v}; accepted: {_ACCEPTS}, >= 0")
        return ComposerTime(v, "ba", str(v))
    txt = v.strip()
    if txt.isdigit():
        return ComposerTime(int(txt), "ba", txt)
    m = _TIME_RE.match(txt)
    if m is None:
        raise ValueError(f"{where}: cannot read {v!r} as a composer time; accepted: {_ACCEPTS}")
    unit = m.group("unit").lower()
    try:
        x = float(m.group("num"))
    except ValueError:
        raise ValueError(f"{where}: cannot read {v!r} as a composer time; accepted: {_ACCEPTS}") from None
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{where}: got {v!r}; accepted: {_ACCEPTS}, >= 0 and finite")
    if unit == "dur":
        return ComposerTime(x, "dur", txt)
    if not x.is_integer():
        raise ValueError(f"{where}: got {v!r}; composer's {_UNITS[unit]} are whole numbers (its Time raises)")
    if x >= 2.0**53:
        raise ValueError(f"{where}: got {v!r}; accepted: a count below 2**53")
    return ComposerTime(int(x), unit, txt)


# composer's times as argument kinds of the core's one convert(): ``time`` and ``times`` (a list of them).
def _time(where: str, v: Any, p: Param) -> ComposerTime | None:
    return None if v is None and p.default is None else parse_time(where, v)


def _times(where: str, v: Any, p: Param) -> tuple[ComposerTime, ...]:
    return tuple(parse_time(f"{where}[{i}]", e) for i, e in enumerate(as_list(where, v, p)))


register_kind(
    "time", "batches (100 or '100ba'), epochs ('2ep'), samples ('64sp'), tokens ('1e6tok') or '0.5dur'", _time
)
register_kind("times", "a list of composer times, e.g. ['30ep', '60ep'] or [1000, 2000]", _times)


@dataclass(frozen=True)
class _Time:
    """A converted time: a whole count in the unit composer compares it in (ba, sp or tok)."""

    value: int
    unit: str


def _whole(x: float, t: ComposerTime, where: str) -> int:
    """``int(x)`` as composer truncates, refused past 2**53 (also inf: ``1e308dur``) instead of an OverflowError."""
    if not x <= MAX_STEPS:
        raise ValueError(f"{where}: '{t}' is {float(x):.4g} units; accepted: at most 2**53 = {MAX_STEPS}")
    return int(x)


class _Clock:
    """composer's ``_convert_time`` and ``Timestamp`` for one run: times to counts, batches to counts."""

    def __init__(self, run: RunInfo, max_duration: ComposerTime | None, batch_size: int | None) -> None:
        self.run, self.batch_size = run, batch_size
        self.max = max_duration

    def per_batch(self, unit: str, where: str) -> int:
        """How many of ``unit`` one batch advances the timestamp by."""
        if unit == "ba":
            return 1
        if unit == "sp":
            if self.batch_size is None:
                raise ValueError(f"{where}: a time in samples ('sp') needs batch_size= (samples per batch)")
            return self.batch_size
        if self.run.tokens_per_step is None:
            raise ValueError(f"{where}: a time in tokens ('tok') needs tokens_per_step= (--tokens-per-step)")
        return self.run.tokens_per_step

    def loader_len(self, where: str, what: str) -> int:
        if self.run.steps_per_epoch is None:
            raise ValueError(
                f"{where}: {what} needs steps_per_epoch= (--steps-per-epoch), the dataloader length composer uses"
            )
        return self.run.steps_per_epoch

    def max_duration(self, where: str) -> ComposerTime:
        if self.max is not None:
            return self.max
        if self.run.total_steps is None:
            raise ValueError(
                f"{where}: a fraction of the run ('dur') needs max_duration= (composer's Trainer max_duration) or "
                "total_steps= (--total-steps)"
            )
        return ComposerTime(self.run.total_steps, "ba", f"{self.run.total_steps}ba")

    def convert(self, t: ComposerTime, where: str) -> _Time:
        """composer's ``_convert_time`` (ssr = 1): epochs to batches, ``dur`` through ``max_duration``."""
        if t.unit == "dur":
            mx = self.max_duration(where)
            if mx.unit == "ep":
                # int(time.value * int(state.dataloader_len) * state.max_duration.value), left to right
                x = float(t.value) * self.loader_len(where, f"'{t}' with max_duration in epochs") * mx.value
                return _Time(_whole(x, t, where), "ba")
            return _Time(_whole(float(t.value) * mx.value, t, where), str(mx.unit))
        if t.unit == "ep":
            return _Time(_whole(int(t.value) * self.loader_len(where, f"'{t}'"), t, where), "ba")
        return _Time(_whole(t.value, t, where), str(t.unit))

    def batches(self, t: ComposerTime, where: str) -> int:
        """The first batch count ``k`` at which the timestamp reaches ``t`` (``k · per_batch >= t``)."""
        c = self.convert(t, where)
        return -(-c.value // self.per_batch(c.unit, where))

    def total(self, where: str) -> int | None:
        """The run's length in batches from ``max_duration`` (checked against ``total_steps`` when both are known)."""
        if self.max is None:
            return self.run.total_steps
        mx = self.max
        if mx.unit == "ep":
            n = int(mx.value) * self.loader_len(where, f"max_duration='{mx}'")
        else:
            n = self.batches(mx, where)
        if self.run.total_steps is not None and self.run.total_steps != n:
            raise ValueError(
                f"{where}: max_duration='{mx}' is {n} batches, but total_steps is {self.run.total_steps}: give one "
                "of them, or make them agree"
            )
        return n


def _counter(clock: _Clock, unit: str, where: str) -> Any:
    """The timestamp in ``unit`` after ``k`` batches: ``k · per_batch`` (``k`` a float or array)."""
    c = float(clock.per_batch(unit, where))
    return lambda k: k * c if c != 1.0 else k


def _cosine_anneal(x: Any, xp: Any, min_y: float) -> Any:
    """composer's ``_cosine_anneal``: ``min_y + (1 − min_y)(1 + cos(πx))/2`` with ``x`` clipped to ``[0, 1]``."""
    x = xp.minimum(xp.maximum(x, 0.0), 1.0)
    return min_y + (1.0 - min_y) * (1.0 + xp.cos(x * math.pi)) / 2.0


def _t_edge(k: int) -> int:
    """The rampup step from which ``α(k' ≥ k)`` is used: ``α(max(t − 1, 0))`` reaches ``k`` at ``t = k + 1``."""
    return k + 1 if k > 0 else 0


_T_MAX = Param("time", "1dur", "t_max: duration of the scheduler (default '1dur', the whole run)")
_MAXDUR = Param("time", None, "max_duration: the Trainer's max_duration (default: total_steps batches)")
_BATCH = Param("posint", None, "batch_size: samples per batch (global), for times in 'sp'")
_GAMMA = Param("fraction", 0.1, "gamma: multiplicative decay factor in [0, 1]")
# What every composer scheduler takes (batch_size first, max_duration last), and the warmup schedulers' times.
_COMPOSER = {"batch_size": _BATCH}
_COMPOSER_X = {"max_duration": _MAXDUR}
_WARMUP_X = {"t_warmup": Param("time", REQUIRED, "t_warmup: warmup time"), "t_max": _T_MAX, **_COMPOSER_X}


class _Composer(CompatPhase):
    library = "composer"
    source = "composer/optim/scheduler.py"
    step_rule = (
        "update t+1 uses α(max(t−1, 0)): the Trainer steps the LambdaLR after each batch before it advances the "
        "timestamp, so the first two updates share α(0)"
    )
    params = {**_COMPOSER, **_COMPOSER_X}

    def validate(self) -> None:
        mx = self.args.get("max_duration")
        if mx is not None and mx.unit == "dur":
            raise ValueError(f"{self.name}: max_duration: got '{mx}'; accepted: 'Nep', 'Nba', 'Nsp' or 'Ntok'")
        if mx is not None and mx.value == 0:
            raise ValueError(f"{self.name}: max_duration: got '{mx}'; accepted: a duration > 0")

    def clock(self, run: RunInfo) -> _Clock:
        return _Clock(run, self.args.get("max_duration"), self.args.get("batch_size"))

    def time(self, key: str) -> ComposerTime:
        return parse_time(f"{self.name}: {key}", self.args[key])

    def conv(self, key: str, clock: _Clock) -> _Time:
        return clock.convert(self.time(key), f"{self.name}: {key}")

    def horizon(self, run: RunInfo) -> int | None:
        return self.clock(run).total(self.name)

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:  # pragma: no cover - abstract
        """``(α(k, xp), [(first batch count k of a piece, role), ...])``."""
        raise NotImplementedError

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        return [], None

    def plan(self, ctx: Ctx) -> Plan:
        clock = self.clock(ctx.run)
        clock.total(self.name)  # max_duration and total_steps agree
        alpha, breaks = self.alpha(clock)

        def fn(t: Any, xp: Any) -> Any:
            return alpha(xp.maximum(t - 1.0, 0.0), xp)

        pieces = []
        edges = [(_t_edge(k), role) for k, role in breaks]
        for i, (begin, role) in enumerate(edges):
            end = edges[i + 1][0] if i + 1 < len(edges) else INF
            if end == INF or end > begin:
                pieces.append(Piece(end, role, fn))
        q, sug = self.quirks_for(clock)
        q = [
            "composer's Trainer steps the scheduler after each batch before it advances the timestamp: the first "
            "two updates both use α(0), and every later value comes one update after its time",
            *q,
        ]
        q += self.dur_quirks(clock)
        return Plan(pieces, q, sug)

    def dur_quirks(self, clock: _Clock) -> list[str]:
        mx = clock.max
        if mx is None or mx.unit != "ep" or clock.run.steps_per_epoch is None:
            return []
        out = []
        total = int(mx.value) * clock.run.steps_per_epoch
        # the times first (in their declared order), then the other arguments
        time_keys = [k for k, p in self.params.items() if p.kind in ("time", "times")]
        for k in [*time_keys, *(k for k in self.params if k not in time_keys)]:
            v = self.args.get(k)
            times = v if isinstance(v, tuple) else (v,)
            for t in times:
                if isinstance(t, str):
                    t = parse_time(k, t)
                if isinstance(t, ComposerTime) and t.unit == "dur" and k != "max_duration":
                    got = clock.convert(t, k).value
                    if got != int(float(t.value) * total):
                        out.append(
                            f"{k}='{t}' is int({t.value}·{clock.run.steps_per_epoch}·{mx.value}) = {got} batches "
                            f"(composer multiplies by the dataloader length, then the epochs): "
                            f"not int({t.value}·{total}) = {int(float(t.value) * total)}"
                        )
        return out

    def warmup_alpha(self, clock: _Clock, top: float) -> tuple[_Time, Any]:
        """composer's warmup ``LinearScheduler(0, top, t_warmup)``: ``top · min(1, now / t_warmup)``."""
        w = self.conv("t_warmup", clock)
        now = _counter(clock, w.unit, f"{self.name}: t_warmup")

        def warm(k: Any, xp: Any) -> Any:
            return 0.0 + xp.minimum(1.0, now(k) / w.value) * (top - 0.0) if w.value > 0 else k * 0.0

        return w, warm

    def warmup_quirks(self, clock: _Clock) -> list[str]:
        w = self.conv("t_warmup", clock)
        if w.value == 0:
            return ["t_warmup is 0: no warmup (composer warns 'The warmup duration is 0' at every step)"]
        kw = clock.batches(self.time("t_warmup"), self.name)
        return [f"the warmup is t/t_warmup from 0: the first two updates use LR 0 and the peak comes at step {kw + 1}"]


class _WithWarmup(_Composer):
    """``*WithWarmupScheduler``: ``t_warmup`` and ``t_max`` in the same unit, ``t_max >= max_duration``."""

    params = {**_COMPOSER, **_WARMUP_X}
    top_key: str | None = None

    def times(self, clock: _Clock) -> tuple[_Time, _Time]:
        w, tm = self.conv("t_warmup", clock), self.conv("t_max", clock)
        if w.unit != tm.unit:
            raise ValueError(
                f"{self.name}: t_warmup '{self.args['t_warmup']}' is in {_UNITS[w.unit]} and t_max "
                f"'{self.args['t_max']}' in {_UNITS[tm.unit]}; composer raises: they must use the same unit"
            )
        if clock.max is None and clock.run.total_steps is None:
            return w, tm  # an open-ended run: no max_duration to check t_max against
        mx = clock.max_duration(self.name)
        # composer's _raise_if_max_duration_exceeds_t_max: compared where the units are comparable
        need = None
        if mx.unit == tm.unit:
            need = int(mx.value)
        elif tm.unit == "ba" and mx.unit == "ep" and clock.run.steps_per_epoch is not None:
            need = int(mx.value) * clock.run.steps_per_epoch
        if need is not None and tm.value < need:
            raise ValueError(
                f"{self.name}: t_max '{self.args['t_max']}' = {tm.value} {_UNITS[tm.unit]} must be greater than or "
                f"equal to max_duration '{mx}', as composer requires"
            )
        return w, tm

    def decay_alpha(self, clock: _Clock) -> tuple[Any, Any]:
        """(``f(k, xp)``: composer's ``frac_of_total`` ``min(1, (now − W)/(T − W))``, 0 if ``T <= W``; warmup)."""
        w, tm = self.times(clock)
        now = _counter(clock, w.unit, f"{self.name}: t_warmup")

        def frac(k: Any, xp: Any) -> Any:
            if tm.value > w.value:
                return xp.minimum(1.0, (now(k) - w.value) / (tm.value - w.value))
            return k * 0.0

        return frac, (w, tm)

    def build(self, clock: _Clock, top: float, after: Any) -> tuple[Any, list[tuple[int, str]]]:
        w, warm = self.warmup_alpha(clock, top)
        frac, (_, tm) = self.decay_alpha(clock)
        now = _counter(clock, w.unit, self.name)

        def alpha(k: Any, xp: Any) -> Any:
            return xp.where(now(k) < w.value, warm(k, xp), after(frac(k, xp), xp))

        kw = -(-w.value // clock.per_batch(w.unit, self.name))
        kt = -(-tm.value // clock.per_batch(tm.unit, self.name))
        return alpha, [(0, "warmup"), (kw, "decay"), (max(kt, kw), "decay")]

    def native(self, clock: _Clock, decay: str) -> str | None:
        """``linear(W) -> decay(T − W, ...)`` in batches: the same shape, with rampup's step convention."""
        kw, kt = clock.batches(self.time("t_warmup"), self.name), clock.batches(self.time("t_max"), self.name)
        if kt <= kw:
            return None
        return f"{f'linear({kw}) -> ' if kw else ''}{decay.format(n=kt - kw)}"

    def end_quirk(self, clock: _Clock, what: str = "alpha_f") -> str:
        kt = clock.batches(self.time("t_max"), self.name)
        return f"{what} is reached at batch count t_max = {kt}, used from step {kt + 1} on"


@register
class LinearWithWarmup(_WithWarmup):
    r"""composer ``LinearWithWarmupScheduler``: ``α_i·k/W`` for ``k < W``, then ``α_i + f·(α_f − α_i)``.

    ``f = min(1, (k − W)/(T − W))`` (0 if ``T <= W``), ``k`` the batches counted; ``schedule(t) = α(max(t − 1, 0))``.

    >>> from rampup import parse
    >>> parse("composer:linear_with_warmup(t_warmup=2, t_max=6)")(range(8)).tolist()
    [0.0, 0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    name = "composer:linear_with_warmup"
    api = "composer.optim.LinearWithWarmupScheduler"
    params = {
        "alpha_i": Param("nonneg", 1.0, "alpha_i: multiplier after the warmup"),
        "alpha_f": Param("nonneg", 0.0, "alpha_f: final multiplier"),
        "scale_warmup": Param("bool", False, "scale_warmup: no effect with scale_schedule_ratio = 1"),
        **_COMPOSER,
        **_WARMUP_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        ai, af = float(self.args["alpha_i"]), float(self.args["alpha_f"])
        return self.build(clock, ai, lambda f, xp: ai + f * (af - ai))

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        q = [*self.warmup_quirks(clock), self.end_quirk(clock)]
        ai, af = float(self.args["alpha_i"]), float(self.args["alpha_f"])
        sug = (
            self.native(clock, "linear({n}" + (f", floor={fmt(af)}" if af else "") + ")")
            if ai == 1.0 and af <= 1.0
            else None
        )
        return q, sug


@register
class CosineAnnealingWithWarmup(_WithWarmup):
    r"""composer ``CosineAnnealingWithWarmupScheduler``: warmup ``k/W``, then ``α_f + (1 − α_f)(1 + cos(πf))/2``.

    ``f = min(1, (k − W)/(T − W))`` (0 if ``T <= W``); ``schedule(t) = α(max(t − 1, 0))``.

    >>> from rampup import parse
    >>> parse("composer:cosine_annealing_with_warmup(t_warmup=0, t_max=2, alpha_f=0.1)")(range(5)).round(4).tolist()
    [1.0, 1.0, 0.55, 0.1, 0.1]
    """

    name = "composer:cosine_annealing_with_warmup"
    api = "composer.optim.CosineAnnealingWithWarmupScheduler"
    params = {
        "alpha_f": Param("fraction", 0.0, "alpha_f: final multiplier"),
        "scale_warmup": Param("bool", False, "scale_warmup: no effect with scale_schedule_ratio = 1"),
        **_COMPOSER,
        **_WARMUP_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        af = float(self.args["alpha_f"])
        return self.build(clock, 1.0, lambda f, xp: _cosine_anneal(f, xp, af))

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        af = float(self.args["alpha_f"])
        sug = self.native(clock, "cosine({n}" + (f", floor={fmt(af)}" if af else "") + ")")
        return [*self.warmup_quirks(clock), self.end_quirk(clock)], sug


@register
class PolynomialWithWarmup(_WithWarmup):
    r"""composer ``PolynomialWithWarmupScheduler``: warmup ``k/W``, then ``α_f + (1 − α_f)(1 − f)^power``.

    ``power`` defaults to 2; ``f`` as in ``composer:linear_with_warmup``.

    >>> from rampup import parse
    >>> parse("composer:polynomial_with_warmup(t_warmup=0, t_max=2)")(range(5)).tolist()
    [1.0, 1.0, 0.25, 0.0, 0.0]
    """

    name = "composer:polynomial_with_warmup"
    api = "composer.optim.PolynomialWithWarmupScheduler"
    params = {
        "power": Param("nonneg", 2.0, "power of the decay"),
        "alpha_f": Param("fraction", 0.0, "alpha_f: final multiplier"),
        "scale_warmup": Param("bool", False, "scale_warmup: no effect with scale_schedule_ratio = 1"),
        **_COMPOSER,
        **_WARMUP_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        af, p = float(self.args["alpha_f"]), float(self.args["power"])
        return self.build(clock, 1.0, lambda f, xp: af + pow_(xp, 1.0 - f, p) * (1.0 - af))

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        af, p = float(self.args["alpha_f"]), float(self.args["power"])
        floor = f", floor={fmt(af)}" if af else ""
        sug = self.native(clock, f"poly({{n}}, power={fmt(p)}{floor})") if p > 0 else None
        return [*self.warmup_quirks(clock), self.end_quirk(clock)], sug


@register
class ConstantWithWarmup(_WithWarmup):
    r"""composer ``ConstantWithWarmupScheduler``: warmup ``α·k/W``, then ``α`` for ever.

    composer's docstring says the multiplier returns to 1.0 after ``t_max``; its code (a
    ``LinearWithWarmupScheduler`` from ``α`` to ``α``) keeps ``α``: the code is what runs, and what this spec does.

    >>> from rampup import parse
    >>> parse("composer:constant_with_warmup(t_warmup=2, alpha=0.5, t_max=4)")(range(6)).tolist()
    [0.0, 0.0, 0.25, 0.5, 0.5, 0.5]
    """

    name = "composer:constant_with_warmup"
    api = "composer.optim.ConstantWithWarmupScheduler"
    params = {
        "alpha": Param("nonneg", 1.0, "alpha: the held multiplier"),
        "scale_warmup": Param("bool", False, "scale_warmup: no effect with scale_schedule_ratio = 1"),
        **_COMPOSER,
        **_WARMUP_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        a = float(self.args["alpha"])
        return self.build(clock, a, lambda f, xp: a + f * (a - a))

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        q = self.warmup_quirks(clock)
        a = float(self.args["alpha"])
        if a != 1.0:
            q.append(
                f"the multiplier stays alpha={a:g} after t_max (composer's docstring says 1.0; its code keeps alpha)"
            )
        return q, None


@register
class MultiStepWithWarmup(_Composer):
    r"""composer ``MultiStepWithWarmupScheduler``: warmup ``k/W``, then ``γ`` once per milestone reached.

    >>> from rampup import parse
    >>> parse("composer:multi_step_with_warmup(t_warmup=2, milestones=[4], gamma=0.5)")(range(7)).tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0, 0.5, 0.5]
    """

    name = "composer:multi_step_with_warmup"
    api = "composer.optim.MultiStepWithWarmupScheduler"
    params = {
        "gamma": _GAMMA,
        "scale_warmup": Param("bool", False, "scale_warmup: no effect with scale_schedule_ratio = 1"),
        **_COMPOSER,
        "t_warmup": Param("time", REQUIRED, "t_warmup: warmup time"),
        "milestones": Param("times", REQUIRED, "milestones: times at which the LR is multiplied by gamma"),
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        w, warm = self.warmup_alpha(clock, 1.0)
        now = _counter(clock, w.unit, self.name)
        steps, breaks = _multistep(self, clock)
        kw = -(-w.value // clock.per_batch(w.unit, self.name))

        def alpha(k: Any, xp: Any) -> Any:
            return xp.where(now(k) < w.value, warm(k, xp), steps(k, xp))

        return alpha, [(0, "warmup"), *((max(k, kw), "decay") for k in [kw, *breaks])]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        q = self.warmup_quirks(clock)
        kw = clock.batches(self.time("t_warmup"), self.name)
        if any(clock.batches(m, self.name) < kw for m in self.args["milestones"]):
            q.append("a milestone before the end of the warmup takes effect only when the warmup ends")
        return q, None


def _multistep(self: _Composer, clock: _Clock) -> tuple[Any, list[int]]:
    """composer's ``MultiStepScheduler``: ``factor *= gamma`` for every milestone the timestamp has reached."""
    g = float(self.args["gamma"])
    ms = []
    for i, m in enumerate(self.args["milestones"]):
        c = clock.convert(m, f"{self.name}: milestones[{i}]")
        ms.append((c.value, _counter(clock, c.unit, f"{self.name}: milestones[{i}]")))

    def fn(k: Any, xp: Any) -> Any:
        v: Any = k * 0.0 + 1.0
        for val, now in ms:
            v = xp.where(now(k) >= val, v * g, v)  # repeated products, as composer's loop (not g ** n)
        return v

    breaks = sorted({clock.batches(m, self.name) for m in self.args["milestones"]})
    return fn, breaks


@register
class Step(_Composer):
    r"""composer ``StepScheduler``: ``γ^int(now / step_size)``.

    >>> from rampup import parse
    >>> parse("composer:step(step_size=2, gamma=0.5)")(range(6)).tolist()
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    """

    name = "composer:step"
    api = "composer.optim.StepScheduler"
    params = {
        "gamma": _GAMMA,
        **_COMPOSER,
        "step_size": Param("time", REQUIRED, "step_size: time between decays"),
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        s = self.conv("step_size", clock)
        if s.value == 0:
            raise ValueError(f"{self.name}: step_size: got {self.args['step_size']} = 0; composer divides by it")
        g, now = float(self.args["gamma"]), _counter(clock, s.unit, self.name)

        def alpha(k: Any, xp: Any) -> Any:
            return pow_(xp, g, xp.floor(now(k) / s.value))  # int() of a ratio >= 0 is its floor

        return alpha, [(0, "decay")]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        return ["no warmup"], None


@register
class MultiStep(_Composer):
    r"""composer ``MultiStepScheduler``: ``γ`` once per milestone reached.

    >>> from rampup import parse
    >>> parse("composer:multi_step(milestones=[2, 3], gamma=0.5)")(range(6)).tolist()
    [1.0, 1.0, 1.0, 0.5, 0.25, 0.25]
    """

    name = "composer:multi_step"
    api = "composer.optim.MultiStepScheduler"
    params = {
        "gamma": _GAMMA,
        **_COMPOSER,
        "milestones": Param("times", REQUIRED, "milestones: times at which the LR is multiplied by gamma"),
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        fn, breaks = _multistep(self, clock)
        return fn, [(0, "decay"), *((k, "decay") for k in breaks if k > 0)]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        return ["no warmup"], None


@register
class Constant(_Composer):
    r"""composer ``ConstantScheduler``: ``alpha`` while ``now < t_max``, then 1.0.

    >>> from rampup import parse
    >>> parse("composer:constant(alpha=0.5, t_max=2)")(range(5)).tolist()
    [0.5, 0.5, 0.5, 1.0, 1.0]
    """

    name = "composer:constant"
    api = "composer.optim.ConstantScheduler"
    params = {
        "alpha": Param("nonneg", 1.0, "alpha: the multiplier until t_max"),
        **_COMPOSER,
        "t_max": _T_MAX,
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        tm, a = self.conv("t_max", clock), float(self.args["alpha"])
        now = _counter(clock, tm.unit, self.name)

        def alpha(k: Any, xp: Any) -> Any:
            return xp.where(now(k) < tm.value, a, 1.0) + k * 0.0

        kt = -(-tm.value // clock.per_batch(tm.unit, self.name))
        return alpha, [(0, "decay"), (kt, "decay")]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        a = float(self.args["alpha"])
        q = ["no warmup"]
        if a != 1.0:
            q.append(f"the multiplier jumps from alpha={a:g} to 1.0 at t_max")
        return q, ("constant" if a == 1.0 else None)


@register
class Linear(_Composer):
    r"""composer ``LinearScheduler``: ``α_i + min(1, now/t_max)·(α_f − α_i)`` (default 1 → 0 over the run).

    >>> from rampup import parse
    >>> parse("composer:linear(t_max=4)")(range(7)).tolist()
    [1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    name = "composer:linear"
    api = "composer.optim.LinearScheduler"
    params = {
        "alpha_i": Param("nonneg", 1.0, "alpha_i: initial multiplier"),
        "alpha_f": Param("nonneg", 0.0, "alpha_f: final multiplier"),
        **_COMPOSER,
        "t_max": _T_MAX,
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        tm = self.conv("t_max", clock)
        if tm.value == 0:
            raise ValueError(f"{self.name}: t_max: got {self.args['t_max']} = 0; composer divides by it")
        ai, af = float(self.args["alpha_i"]), float(self.args["alpha_f"])
        now = _counter(clock, tm.unit, self.name)

        def alpha(k: Any, xp: Any) -> Any:
            return ai + xp.minimum(1.0, now(k) / tm.value) * (af - ai)

        kt = -(-tm.value // clock.per_batch(tm.unit, self.name))
        role = "warmup" if ai < af else "decay"
        return alpha, [(0, role), (kt, "decay")]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        ai, af = float(self.args["alpha_i"]), float(self.args["alpha_f"])
        q = [] if ai < af else ["no warmup"]
        if ai == 0.0:
            q.append("alpha_i=0: the first two updates use LR 0")
        return q, None


@register
class Exponential(_Composer):
    r"""composer ``ExponentialScheduler``: ``γ^(now / decay_period)`` (``decay_period`` defaults to ``'1ep'``).

    >>> from rampup import parse
    >>> parse("composer:exponential(gamma=0.5, decay_period=1)")(range(5)).tolist()
    [1.0, 1.0, 0.5, 0.25, 0.125]
    """

    name = "composer:exponential"
    api = "composer.optim.ExponentialScheduler"
    params = {
        "gamma": Param("fraction", REQUIRED, "gamma: factor per decay_period, in [0, 1]"),
        **_COMPOSER,
        "decay_period": Param("time", "1ep", "decay_period: time per factor gamma"),
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        p = self.conv("decay_period", clock)
        if p.value == 0:
            raise ValueError(f"{self.name}: decay_period: got {self.args['decay_period']} = 0; composer divides by it")
        g, now = float(self.args["gamma"]), _counter(clock, p.unit, self.name)

        def alpha(k: Any, xp: Any) -> Any:
            return pow_(xp, g, now(k) / p.value)

        return alpha, [(0, "decay")]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        return ["no warmup; never ends"], None


@register
class CosineAnnealing(_Composer):
    r"""composer ``CosineAnnealingScheduler``: ``α_f + (1 − α_f)(1 + cos(π·min(1, now/t_max)))/2``.

    >>> from rampup import parse
    >>> parse("composer:cosine_annealing(t_max=2)")(range(5)).round(4).tolist()
    [1.0, 1.0, 0.5, 0.0, 0.0]
    """

    name = "composer:cosine_annealing"
    api = "composer.optim.CosineAnnealingScheduler"
    params = {
        "alpha_f": Param("fraction", 0.0, "alpha_f: final multiplier"),
        **_COMPOSER,
        "t_max": _T_MAX,
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        tm = self.conv("t_max", clock)
        if tm.value == 0:
            raise ValueError(f"{self.name}: t_max: got {self.args['t_max']} = 0; composer divides by it")
        af, now = float(self.args["alpha_f"]), _counter(clock, tm.unit, self.name)

        def alpha(k: Any, xp: Any) -> Any:
            return _cosine_anneal(now(k) / tm.value, xp, af)

        kt = -(-tm.value // clock.per_batch(tm.unit, self.name))
        return alpha, [(0, "decay"), (kt, "decay")]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        return ["no warmup"], None


@register
class Polynomial(_Composer):
    r"""composer ``PolynomialScheduler``: ``α_f + (1 − α_f)(1 − min(1, now/t_max))^power``.

    >>> from rampup import parse
    >>> parse("composer:polynomial(power=2.0, t_max=2)")(range(5)).tolist()
    [1.0, 1.0, 0.25, 0.0, 0.0]
    """

    name = "composer:polynomial"
    api = "composer.optim.PolynomialScheduler"
    params = {
        "power": Param("nonneg", REQUIRED, "power of the decay"),
        "alpha_f": Param("fraction", 0.0, "alpha_f: final multiplier"),
        **_COMPOSER,
        "t_max": _T_MAX,
        **_COMPOSER_X,
    }

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        tm = self.conv("t_max", clock)
        if tm.value == 0:
            raise ValueError(f"{self.name}: t_max: got {self.args['t_max']} = 0; composer divides by it")
        af, p = float(self.args["alpha_f"]), float(self.args["power"])
        now = _counter(clock, tm.unit, self.name)

        def alpha(k: Any, xp: Any) -> Any:
            return af + pow_(xp, 1.0 - xp.minimum(1.0, now(k) / tm.value), p) * (1.0 - af)

        kt = -(-tm.value // clock.per_batch(tm.unit, self.name))
        return alpha, [(0, "decay"), (kt, "decay")]

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        return ["no warmup"], None


_MAX_CYCLES = 100_000


@register
class CosineAnnealingWarmRestarts(_Composer):
    r"""composer ``CosineAnnealingWarmRestartsScheduler``: cosine cycles of ``t_0``, each ``int(t_mult·previous)`` long.

    composer walks the cycles with whole numbers (``int(t_mult · len)``), so with ``t_mult`` slightly above 1 a
    short cycle never grows (``int(1.05 · 10) = 10``).  ``t_mult < 1`` shrinks the cycles to 0 and composer
    raises there: refused when the run gets that far.

    >>> from rampup import parse
    >>> parse("composer:cosine_annealing_warm_restarts(t_0=2)")(range(6)).round(4).tolist()
    [1.0, 1.0, 0.5, 1.0, 0.5, 1.0]
    """

    name = "composer:cosine_annealing_warm_restarts"
    api = "composer.optim.CosineAnnealingWarmRestartsScheduler"
    params = {
        "t_mult": Param("positive", 1.0, "t_mult: each cycle is int(t_mult · previous) long"),
        "alpha_f": Param("fraction", 0.0, "alpha_f: final multiplier of each cycle"),
        **_COMPOSER,
        "t_0": Param("time", REQUIRED, "t_0: length of the first cycle"),
        **_COMPOSER_X,
    }

    def cycles(self, clock: _Clock) -> tuple[_Time, list[int], int | None]:
        """(``t_0`` converted, the cycle ends up to where they repeat or pass 2**53, the repeating length)."""
        t0 = self.conv("t_0", clock)
        if t0.value == 0:
            raise ValueError(f"{self.name}: t_0: got {self.args['t_0']} = 0; composer's cycles would be empty")
        m = float(self.args["t_mult"])
        ends, length, end = [t0.value], t0.value, t0.value
        while end < 2**53:
            nxt = int(m * length)
            if nxt == length:
                return t0, ends, length  # every later cycle has this length: periodic
            if nxt == 0:
                c = clock.per_batch(t0.unit, self.name)
                total = clock.total(self.name)
                if total is None or (total - 1) * c >= end:
                    raise ValueError(
                        f"{self.name}: t_mult: got {m!r}; the cycles shrink to 0 at {end} {_UNITS[t0.unit]} and "
                        f"composer raises there ('Interval between restarts ... has decayed to 0'): accepted: "
                        "t_mult >= 1, or a run that ends before"
                    )
                return t0, ends, None
            if len(ends) >= _MAX_CYCLES:
                raise ValueError(
                    f"{self.name}: t_mult: got {m!r}; over {_MAX_CYCLES} cycles before 2**53 {_UNITS[t0.unit]}: "
                    "accepted: a t_mult with fewer cycles"
                )
            length, end = nxt, end + nxt
            ends.append(end)
        return t0, ends, None

    def alpha(self, clock: _Clock) -> tuple[Any, list[tuple[int, str]]]:
        t0, ends, period = self.cycles(clock)
        af, now = float(self.args["alpha_f"]), _counter(clock, t0.unit, self.name)
        starts = [0, *ends[:-1]]
        lens = [b - a for a, b in zip(starts, ends)]
        last_end = ends[-1]
        ends_a, starts_a, lens_a = (np.asarray(x, dtype=np.float64) for x in (ends, starts, lens))

        def alpha(k: Any, xp: Any) -> Any:
            # Past 2**60 units the step is not a whole number anyway; the clamp keeps cur − start finite (inf − inf).
            cur = xp.minimum(now(k), 2.0**60)
            name = getattr(xp, "name", "")
            if name == "scalar":
                j = bisect.bisect_right(ends, cur)
                if j < len(ends):
                    start, ln = float(starts[j]), float(lens[j])
                elif period is not None:
                    n = (cur - last_end) // period
                    start, ln = last_end + n * period, float(period)
                else:
                    start, ln = float(starts[-1]), float(lens[-1])  # composer raised before (t_mult < 1)
                return _cosine_anneal((cur - start) / ln, xp, af)
            j, start, ln = _lookup(cur, ends_a, starts_a, lens_a, xp)
            if period is not None:
                from ..core.shapes import floor_div

                n = floor_div(xp.maximum(cur - last_end, 0.0), float(period), xp)
                beyond = cur >= last_end
                start = xp.where(beyond, last_end + n * period, start)
                ln = xp.where(beyond, float(period), ln)
            return _cosine_anneal((cur - start) / ln, xp, af)

        c = clock.per_batch(t0.unit, self.name)
        total = clock.total(self.name)
        breaks = [(0, "decay")]
        for e in ends:
            kb = -(-e // c)
            if total is not None and kb >= total:
                break
            if len(breaks) > 50:
                break
            breaks.append((kb, "decay"))
        return alpha, breaks

    def quirks_for(self, clock: _Clock) -> tuple[list[str], str | None]:
        return ["no warmup; every cycle restarts at the peak"], None


def _lookup(cur: Any, ends: np.ndarray, starts: np.ndarray, lens: np.ndarray, xp: Any) -> tuple[Any, Any, Any]:
    """The cycle holding ``cur`` (the first end > cur), per backend: its index, start and length."""
    name = getattr(xp, "name", "")
    last = len(ends) - 1
    if name == "numpy":
        j = np.minimum(np.searchsorted(ends, cur, side="right"), last)
        return j, starts[j], lens[j]
    # torch / jax: the tables in ``cur``'s dtype (and device), as the library compares them
    j = xp.minimum(xp.searchsorted(ends, cur, right=True), last)
    return j, xp.asarray(starts, cur)[j], xp.asarray(lens, cur)[j]
