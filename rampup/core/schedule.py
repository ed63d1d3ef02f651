"""Spec (what the user wrote) and Schedule (a pure function of the step).

A :class:`Spec` is ``[warmup ->] decay [-> decay …] [| modifier …]`` or a whole
schedule such as ``noam(...)`` — plain data that round-trips through a dict and
a string.  :meth:`Spec.resolve` converts every length to steps once, with the
run's ``total_steps`` / ``steps_per_epoch`` / ``tokens_per_step``, and returns a
:class:`Schedule`: a total, closed-form function of the optimizer step that
evaluates on ints, floats, NumPy arrays, torch tensors and jax arrays.

Joining phases is one rule (as in optax's ``join_schedules``): phase ``i``
covers steps ``[b_i, b_i + L_i)`` and sees its own relative step ``t − b_i``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .auto_spec import AUTO, AutoWarmupSpec
from .backend import NUMPY, SCALAR, as_float_steps, namespace_for
from .phases import DECAYS, INF, MODIFIERS, NOT_CLOSED_FORM, WARMUPS, WHOLES, Built, Phase
from .spec_text import SpecSyntaxError, parse_parts
from .units import MAX_STEPS, RunInfo

__all__ = ["Schedule", "Segment", "Spec"]

# The largest LR (as a multiple of the peak, times peak_lr) a schedule may reach: float32's
# largest value, so that every backend (jax and torch run float32) can hold every value.
_LIMIT = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Spec:
    """An unresolved schedule: phases with lengths in any unit.

    >>> from rampup import Spec
    >>> s = Spec.parse("linear(2%) -> cosine(floor=0.1)")
    >>> str(s)
    'linear(2%) -> cosine(floor=0.1)'
    >>> Spec.from_dict(s.to_dict()) == s
    True

    The warmup may be ``auto`` (an :class:`~rampup.core.auto_spec.AutoWarmupSpec`): such a
    spec round-trips through text and dict, but only ``rampup.torch.AutoWarmup`` runs it.
    """

    warmup: Phase | AutoWarmupSpec | None = None
    decay: tuple[Phase, ...] = ()
    modifiers: tuple[Phase, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.warmup is not None and self.warmup.role != "warmup":
            raise TypeError(f"warmup: got {self.warmup.name!r} ({self.warmup.role}); accepted: a warmup phase")
        if not self.decay:
            raise ValueError("decay: a spec needs at least one decay phase or a whole schedule (e.g. 'constant')")
        for d in self.decay:
            if d.role not in ("decay", "whole"):
                raise TypeError(f"decay: got {d.name!r} ({d.role}); accepted: decay phases or one whole schedule")
        if self.warmup is None and len(self.decay) > 1:
            # The string form reads the first item of 'A -> B' as the warmup, so this chain could not be
            # written back; a 0-step warmup says "no warmup" in both forms.
            raise ValueError(
                f"decay: got {len(self.decay)} decay phases without a warmup "
                f"({' -> '.join(p.to_text() for p in self.decay)}); the first item of a chain is its warmup: "
                f"accepted: a warmup first, e.g. 'linear(0) -> {self.decay[0].to_text()} -> ...' for none"
            )
        wholes = [d for d in self.decay if d.role == "whole"]
        if wholes and (len(self.decay) > 1 or self.warmup is not None):
            raise ValueError(
                f"{wholes[0].name}: is a whole schedule (it brings its own warmup and decay); "
                "it cannot be joined with '->' to other phases, only followed by '| modifier'"
            )
        for m in self.modifiers:
            if m.role != "modifier":
                raise TypeError(f"modifiers: got {m.name!r} ({m.role}); accepted: {', '.join(MODIFIERS)}")

    # ---- serialization --------------------------------------------------
    @staticmethod
    def parse(text: str) -> Spec:
        """Parse the string form (grammar in ``docs/spec-language.md``)."""
        p = parse_parts(text)
        try:
            return Spec(p.warmup, p.decay, p.modifiers)
        except (TypeError, ValueError) as e:
            raise SpecSyntaxError(p.text, p.pos, str(e)) from None

    def __str__(self) -> str:
        chain = ([self.warmup] if self.warmup is not None else []) + list(self.decay)
        out = " -> ".join(p.to_text() for p in chain)
        for m in self.modifiers:
            out += " | " + m.to_text()
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML/Hydra friendly); :meth:`from_dict` inverts it exactly."""
        d: dict[str, Any] = {}
        if self.warmup is not None:
            d["warmup"] = self.warmup.to_dict()
        d["decay"] = [p.to_dict() for p in self.decay]
        if self.modifiers:
            d["modifiers"] = [m.to_dict() for m in self.modifiers]
        return d

    @staticmethod
    def from_dict(d: Any) -> Spec:
        if not isinstance(d, dict):
            raise TypeError(f"spec dict: got {type(d).__name__}; accepted: a dict with keys warmup, decay, modifiers")
        unknown = set(d) - {"warmup", "decay", "modifiers"}
        if unknown:
            raise ValueError(f"spec dict: unknown key(s) {sorted(unknown)}; accepted: warmup, decay, modifiers")
        warm = _warmup_from_dict(d["warmup"]) if d.get("warmup") is not None else None
        decay = d.get("decay")
        if isinstance(decay, dict):
            decay = [decay]
        if not isinstance(decay, list) or not decay:
            raise ValueError(f"spec dict: decay: got {decay!r}; accepted: a non-empty list of phase dicts")
        mods = d.get("modifiers", [])
        if not isinstance(mods, list):
            raise TypeError(f"spec dict: modifiers: got {mods!r}; accepted: a list of phase dicts")
        return Spec(
            warm,
            tuple(_phase_from_dict(x, "decay") for x in decay),
            tuple(_phase_from_dict(x, "modifier") for x in mods),
        )

    # ---- composition ----------------------------------------------------
    def with_modifier(self, modifier: Phase) -> Spec:
        return Spec(self.warmup, self.decay, (*self.modifiers, modifier))

    def rewarm(self, at: Any, length: Any, start: float = 0.0, shape: str = "linear") -> Spec:
        """The same spec with a re-warmup from step ``at`` (see :class:`~rampup.core.phases.Rewarm`)."""
        kw: dict[str, Any] = {"at": at, "length": length}
        if start != 0.0:
            kw["start"] = start
        if shape != "linear":
            kw["shape"] = shape
        return self.with_modifier(MODIFIERS["rewarm"](**kw))

    def resolve(
        self,
        total_steps: int | None = None,
        peak_lr: float | None = None,
        steps_per_epoch: int | None = None,
        tokens_per_step: int | None = None,
    ) -> Schedule:
        """Convert every length to steps (once) and return the evaluable :class:`Schedule`."""
        return Schedule(self, RunInfo(total_steps, steps_per_epoch, tokens_per_step), peak_lr)


def _warmup_from_dict(d: Any) -> Phase | AutoWarmupSpec:
    if isinstance(d, dict) and d.get("phase") == AUTO:
        return AutoWarmupSpec({k: v for k, v in d.items() if k != "phase"})
    return _phase_from_dict(d, "warmup")


def _phase_from_dict(d: Any, role: str) -> Phase:
    if not isinstance(d, dict) or "phase" not in d:
        raise TypeError(f"{role}: got {d!r:.80}; accepted: a dict with a 'phase' key, e.g. {{'phase': 'cosine'}}")
    name = d["phase"]
    tables = {"warmup": [WARMUPS], "decay": [DECAYS, WHOLES], "modifier": [MODIFIERS]}[role]
    for t in tables:
        if name in t:
            args = {k: v for k, v in d.items() if k != "phase"}
            return t[name](**args)
    if name in NOT_CLOSED_FORM:
        raise ValueError(f"{role}: {NOT_CLOSED_FORM[name]}")
    known = sorted(set().union(*tables))
    raise ValueError(f"{role}: unknown phase {name!r}; accepted: {', '.join(known)}")


class Segment:
    """A resolved phase placed on the step axis: ``[begin, begin + length)``."""

    __slots__ = ("begin", "end_step", "end_value", "fn", "last", "length", "name", "role")

    def __init__(self, name: str, role: str, begin: int, built: Built) -> None:
        self.name, self.role, self.begin = name, role, begin
        self.length = built.length
        self.end_step = begin + built.length
        self.fn = built.seg
        self.end_value = built.end
        self.last = float(built.length - 1) if built.length != INF else INF


class Schedule:
    """A learning-rate schedule: a pure, total function of the optimizer step.

    ``schedule(t)`` is the LR of update ``t + 1`` (``t = 0`` is the first update).
    It accepts a Python int/float (returns a float), a NumPy array (returns a
    float64 array), a torch tensor or a jax array (returns the same kind).
    Past the last step the final value is held.

    >>> import numpy as np
    >>> from rampup import parse
    >>> s = parse("linear(10) -> cosine(floor=0.1)", total_steps=100, peak_lr=1.0)
    >>> s(0), s(9), s(99), s(10**9)
    (0.1, 1.0, 0.1, 0.1)
    >>> s(np.arange(100)).max()
    np.float64(1.0)
    """

    def __init__(self, spec: Spec, run: RunInfo, peak_lr: float | None = None) -> None:
        if isinstance(spec.warmup, AutoWarmupSpec):
            raise ValueError(
                f"spec {spec}: its warmup 'auto' is decided online, while training, so it has no fixed curve "
                "to evaluate; accepted: use rampup.torch.AutoWarmup (or the factory rampup.torch.make_scheduler("
                "optimizer, spec, ...)) for it, or a fixed warmup such as 'linear(2%) -> ...'"
            )
        if peak_lr is not None:
            if isinstance(peak_lr, bool) or not isinstance(peak_lr, numbers.Real):  # NumPy scalars are Real
                raise TypeError(f"peak_lr: got {peak_lr!r}; accepted: a finite number > 0")
            if not (math.isfinite(peak_lr) and peak_lr > 0):
                raise ValueError(f"peak_lr: got {peak_lr!r}; accepted: a finite number > 0")
            if peak_lr > _LIMIT:
                raise ValueError(
                    f"peak_lr: got {peak_lr!r}; accepted: a number > 0 and <= {_LIMIT:g} (float32's largest)"
                )
            peak_lr = int(peak_lr) if isinstance(peak_lr, numbers.Integral) else float(peak_lr)
        self.spec = spec
        try:
            self._build(spec, run, peak_lr)
        except (ZeroDivisionError, OverflowError) as e:
            # One guard for every formula: an accepted argument at its extreme (a divisor of 5e-324, an
            # exponent that overflows) is a clean error naming the spec and its arguments, not a traceback.
            raise ValueError(
                f"spec {spec}: its arguments are out of the range the formula can compute ({type(e).__name__}: {e}); "
                "accepted: values that keep every intermediate finite (e.g. a smaller exponent, a larger divisor)"
            ) from None

    def _build(self, spec: Spec, run: RunInfo, peak_lr: float | None) -> None:
        self.run = run
        self.peak_lr = peak_lr
        self._scale = float(peak_lr) if peak_lr is not None else 1.0
        self.segments: list[Segment] = []
        total = run.total_steps
        begin = 0
        level = 1.0
        if spec.warmup is not None:
            assert isinstance(spec.warmup, Phase)  # an AutoWarmupSpec is refused in __init__
            built = spec.warmup.build(run, peak_lr)  # type: ignore[attr-defined]
            if total is not None and built.length > total:
                raise ValueError(
                    f"{spec.warmup.name}: warmup of {built.length} steps is longer than the run "
                    f"(total_steps={total}); accepted: a warmup <= total_steps"
                )
            self.segments.append(Segment(spec.warmup.name, "warmup", 0, built))
            begin = int(built.length)
        decays = spec.decay
        for i, ph in enumerate(decays):
            if ph.role == "whole":
                # A whole schedule may bring several segments (e.g. warmup + decay of a compat spec).
                for b in ph.build_whole(run, peak_lr):  # type: ignore[attr-defined]
                    self.segments.append(Segment(ph.name, b.role or "whole", begin, b))
                    if b.length == INF:
                        break
                    begin += int(b.length)
                break
            remaining: float = (total - begin) if total is not None else INF
            is_last = i == len(decays) - 1
            if not is_last and ph.args.get("length") is None:
                raise ValueError(
                    f"{ph.name}: only the last phase may omit its length (it fills the rest of the run); "
                    f"give {ph.name}(LENGTH, ...)"
                )
            built = ph.build(run, peak_lr, level, begin, remaining)  # type: ignore[attr-defined]
            if total is not None and begin + built.length > total:
                raise ValueError(
                    f"{ph.name}: phases add up to {begin + built.length} steps, more than the run "
                    f"(total_steps={total}); accepted: lengths that fit in total_steps"
                )
            self.segments.append(Segment(ph.name, "decay", begin, built))
            level = built.end
            if built.length == INF:
                begin = -1
                break
            begin += int(built.length)
        self.modifiers = [m.build_factor(run, peak_lr) for m in spec.modifiers]  # type: ignore[attr-defined]
        # Zero-length phases (e.g. a 0-step warmup) are skipped entirely.
        self.segments = [s for s in self.segments if s.length > 0]
        if not self.segments:
            raise ValueError(f"spec {spec}: every phase is 0 steps long; accepted: at least one step")
        last = self.segments[-1]
        self.end_step: float = last.end_step  # first step past the schedule (inf if open-ended)
        # The last step evaluated; later steps hold its value.  An open-ended schedule ends at 2**53, the
        # last step float64 can count (t + 1 == t beyond it), so that no formula meets a step like 1e308.
        self._t_last = float(min(self.end_step - 1, MAX_STEPS))
        self._scalar_segs = [(float(s.end_step), float(s.begin), s.last, s.fn) for s in self.segments]
        self._check_values()

    def _check_values(self) -> None:
        """Refuse a schedule that overflows, gives NaN, goes negative, or is 0 at every step of the run.

        One check for every phase, compat spec and modifier: the curve is evaluated (scalar path) at
        each segment's first, second, middle and last step and at 10^3 … 2**53, which covers where a
        monotone formula (a growth factor, a decay, an exponential modifier) takes its extremes.  The
        run is ``[0, total_steps)`` when ``total_steps`` is known, else every step up to 2**53.  A compat
        spec follows its library past ``total_steps``; one whose curve would overflow there (torch
        ``ExponentialLR`` with ``gamma > 1``) holds its final value from ``total_steps`` on instead.
        """
        probes = {0.0, self._t_last}
        for seg in self.segments:
            b = float(seg.begin)
            probes.update((b, b + 1.0))
            if seg.length != INF:
                probes.update((b + float(seg.length // 2), float(seg.end_step) - 1.0))
        probes.update(10.0**k for k in range(3, 16))
        total = self.run.total_steps
        run_last = self._t_last if total is None else min(self._t_last, float(total - 1))
        positive = False
        for t in sorted({min(t, run_last) for t in probes}):
            with np.errstate(all="ignore"):  # a NaN/inf here becomes the ValueError below, not a RuntimeWarning
                v = self._scalar(t)
            if not 0.0 <= v <= _LIMIT:  # also NaN
                raise ValueError(self._bad_value(t, v))
            positive = positive or v > 0.0
        if not positive:
            run = f"total_steps={total}" if total is not None else "no end"
            raise ValueError(
                f"spec {self.spec}: the LR is 0 at every step of the run ({run}"
                f"{'' if self.peak_lr is None else f', peak_lr={self.peak_lr!r}'}), so it would train nothing; "
                "accepted: arguments that let the LR rise above 0 within the run "
                "(e.g. a time constant tau shorter than the run)"
            )
        if run_last < self._t_last:
            past = {run_last + 1.0, run_last + 2.0, self._t_last, *(t for t in probes if t > run_last)}
            if not all(0.0 <= self._scalar(t) <= _LIMIT for t in past if t <= self._t_last):
                self._t_last = run_last

    def _bad_value(self, t: float, v: float) -> str:
        seg = next((s for s in self.segments if t < s.end_step), self.segments[-1])
        chain = ([self.spec.warmup] if self.spec.warmup is not None else []) + list(self.spec.decay)
        phase = next((p for p in chain if p.name == seg.name), None)
        where = phase.to_text() if phase is not None else str(self.spec)
        what = "NaN" if v != v else ("negative" if v < 0 else f"{v!r}, which overflows")
        scale = "" if self.peak_lr is None else f" (peak_lr={self.peak_lr!r})"
        end = (
            ""
            if self.end_step != INF or self.run.total_steps is not None
            else "; the schedule has no end: pass total_steps= to bound the run"
        )
        return (
            f"{where}: the LR at step {t:.17g} would be {what}{scale}; accepted: arguments whose LR stays "
            f"finite, >= 0 and <= {_LIMIT:g} (float32's largest value) over the run{end}"
        )

    # ---- evaluation -------------------------------------------------------
    def __call__(self, step: Any) -> Any:
        tp = type(step)
        if tp is int or tp is float:
            return self._scalar(step)
        if isinstance(step, (range, list, tuple)):
            step = np.asarray(step)
        if isinstance(step, (bool, np.bool_)):
            raise TypeError(f"step: got {step!r}; accepted: an int, float or array of steps")
        if isinstance(step, (int, float, np.integer, np.floating)):  # int subclasses, NumPy scalars
            return self._scalar(step)
        xp = namespace_for(step)
        t = as_float_steps(step, xp)
        return self._array(t, xp)

    def _scalar(self, step: Any) -> float:
        if not 0 <= step < INF:  # also catches NaN
            raise ValueError(f"step: got {step!r:.40}; accepted: a finite step >= 0")
        # Compared before float(): float(10**400) would raise OverflowError; past the end the value is held.
        t = self._t_last if step > self._t_last else float(step)
        for end, begin, last, fn in self._scalar_segs:
            if t < end:
                s = t - begin
                v = fn(s if s < last else last, SCALAR)
                break
        else:  # pragma: no cover - t is clipped to the last step
            raise AssertionError(t)
        for m in self.modifiers:
            v = v * m(t, SCALAR)
        return float(v * self._scale)

    def _array(self, t: Any, xp: Any) -> Any:
        if xp is NUMPY and t.ndim == 1 and t.size > 256 and len(self.segments) > 1 and bool((t[1:] >= t[:-1]).all()):
            return self._sorted_numpy(t)
        # Step constants as floats: jax turns a Python int operand into int32 and overflows past 2^31 steps.
        t = xp.minimum(t, self._t_last)
        segs = self.segments
        out: Any = None
        for seg in reversed(segs):
            s = t - float(seg.begin)
            s = xp.clip(s, 0.0, seg.last) if seg.last != INF else xp.maximum(s, 0.0)
            v = seg.fn(s, xp)
            out = v if out is None else xp.where(t < float(seg.end_step), v, out)
        for m in self.modifiers:
            out = out * m(t, xp)
        if self._scale != 1.0:
            out = out * self._scale
        if xp is NUMPY:
            out = np.asarray(out, dtype=np.float64)
        return out

    def _sorted_numpy(self, t: np.ndarray) -> np.ndarray:
        # A sorted 1-D step array (the common "whole curve" case): each phase is
        # evaluated only on its own contiguous slice — the same formulas, n work
        # instead of (number of phases) × n.  Within slice i, b_i <= t < e_i holds
        # by construction, so only the last phase needs its relative step clipped
        # (steps past the end hold the final value).
        out = np.empty_like(t)
        if t[-1] > self._t_last:  # an open-ended schedule holds its value past 2**53
            t = np.minimum(t, self._t_last)
        ends = [float(s.end_step) for s in self.segments]
        cuts = np.searchsorted(t, ends[:-1], side="left").tolist()
        lo = 0
        last = len(self.segments) - 1
        for i, (seg, hi) in enumerate(zip(self.segments, [*cuts, t.size])):
            if hi > lo:
                s = t[lo:hi] - seg.begin
                if i == last and seg.last != INF:
                    np.minimum(s, seg.last, out=s)
                v = seg.fn(s, NUMPY)
                if self._scale != 1.0 and not self.modifiers:
                    np.multiply(v, self._scale, out=out[lo:hi])
                else:
                    out[lo:hi] = v
            lo = hi
        if self.modifiers:
            tc = np.minimum(t, self._t_last)
            for m in self.modifiers:
                out *= m(tc, NUMPY)
            if self._scale != 1.0:
                out *= self._scale
        return out

    # ---- introspection -----------------------------------------------------
    @property
    def warmup_steps(self) -> int:
        """Length of the leading warmup in steps (0 if none)."""
        return int(self.segments[0].length) if self.segments and self.segments[0].role == "warmup" else 0

    def rewarm(self, at: Any, length: Any, start: float = 0.0, shape: str = "linear") -> Schedule:
        """A new schedule with a re-warmup from step ``at`` (fine-tuning, optimizer-state reset)."""
        return Schedule(self.spec.rewarm(at, length, start, shape), self.run, self.peak_lr)

    def to_dict(self) -> dict[str, Any]:
        """Spec + run information + peak LR, as plain data."""
        d: dict[str, Any] = {"spec": self.spec.to_dict()}
        for k in ("total_steps", "steps_per_epoch", "tokens_per_step"):
            v = getattr(self.run, k)
            if v is not None:
                d[k] = v
        if self.peak_lr is not None:
            d["peak_lr"] = self.peak_lr
        return d

    @staticmethod
    def from_dict(d: Any) -> Schedule:
        if not isinstance(d, dict) or "spec" not in d:
            raise TypeError(f"schedule dict: got {d!r:.80}; accepted: the output of Schedule.to_dict()")
        unknown = set(d) - {"spec", "total_steps", "steps_per_epoch", "tokens_per_step", "peak_lr"}
        if unknown:
            raise ValueError(f"schedule dict: unknown key(s) {sorted(unknown)}")
        return Spec.from_dict(d["spec"]).resolve(
            d.get("total_steps"), d.get("peak_lr"), d.get("steps_per_epoch"), d.get("tokens_per_step")
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(str(self.spec))

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "spec")
        return f"Schedule('{self.spec}'{', ' + extra if extra else ''})"

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = Schedule.from_dict(state)
        self.__dict__.update(other.__dict__)
