"""The grid of a sweep: ``warmup × peak_lr × seeds`` as :class:`Trial` objects with stable keys."""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_SPEC", "Trial", "make_trials"]


DEFAULT_SPEC = "linear({warmup}) -> cosine(floor=0.1)"


@dataclass(frozen=True)
class Trial:
    key: str  # stable id: hash of (spec, peak_lr, seed, params)
    name: str  # human-readable: "warmup=1% peak_lr=0.01 seed=0"
    config: dict[str, Any]


def _warmup_text(w: Any) -> tuple[str, bool]:
    """The warmup value as spec length text, and whether it is zero (no warmup phase)."""
    from ...core.units import Length

    ln = Length.parse(w, "warmup")
    return str(ln), ln.value == 0


def _spec_for(template: str, warmup: str, zero: bool) -> str:
    from ... import Spec

    if "{warmup}" not in template:
        raise ValueError(
            f"spec: got {template!r}; accepted: a spec template with '{{warmup}}' where the warmup length goes, "
            f"e.g. {DEFAULT_SPEC!r}"
        )
    if zero:  # a 0-step warmup is no warmup phase at all
        sp = Spec.parse(template.replace("{warmup}", "1"))
        if sp.warmup is None:
            raise ValueError(f"spec: {template!r}: '{{warmup}}' must be the length of the warmup phase (the first one)")
        if len(sp.decay) > 1:  # a chain without a warmup has no text form: its first item would read as the warmup
            return str(Spec.parse(template.replace("{warmup}", "0")))
        return str(Spec(None, sp.decay, sp.modifiers))
    sp = Spec.parse(template.replace("{warmup}", warmup))
    return str(sp)


def _seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError(f"seeds: got {seeds!r}; accepted: a count (3 = seeds 0, 1, 2) or a list of ints")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds: got {seeds}; accepted: a count >= 1 or a list of ints")
        return list(range(seeds))
    if (
        isinstance(seeds, (list, tuple, range))
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds: got {list(seeds)}, which repeats a seed; accepted: distinct ints")
        return list(seeds)
    raise TypeError(f"seeds: got {seeds!r}; accepted: a count (3 = seeds 0, 1, 2) or a non-empty list of ints")


def _lrs(peak_lr: Any) -> list[float | None]:
    if peak_lr is None:
        return [None]
    vals = [peak_lr] if isinstance(peak_lr, (int, float)) else list(peak_lr)
    out: list[float | None] = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"peak_lr: got {v!r}; accepted: finite numbers > 0 (or None: the train function's own)")
        out.append(float(v))
    if not out or len(set(out)) != len(out):
        raise ValueError(f"peak_lr: got {vals!r}; accepted: a non-empty list of distinct numbers > 0")
    return out


def make_trials(
    warmup: Sequence[Any],
    peak_lr: Any = None,
    seeds: Any = 3,
    spec: str = DEFAULT_SPEC,
    total_steps: int | None = None,
    params: dict[str, Any] | None = None,
) -> list[Trial]:
    """The grid ``warmup × peak_lr × seeds`` as trials, in a stable order.

    ``warmup``: lengths in the spec language (``0``, ``100``, ``'0.5%'``, ``'2ep'``);
    0 means no warmup phase.  ``spec``: a template with ``{warmup}``.  With
    ``total_steps`` every spec is resolved now (errors surface before any trial
    runs) and the config gets ``total_steps`` and ``warmup_steps``.
    """
    from ... import parse

    if isinstance(warmup, (str, int)) or not isinstance(warmup, Sequence) or len(warmup) == 0:
        raise TypeError(f"warmup: got {warmup!r}; accepted: a non-empty list of lengths, e.g. [0, '0.5%', '1%', '2%']")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params: got {params!r}; accepted: a dict of fixed config values")
    params = dict(params or {})
    reserved = {"warmup", "peak_lr", "seed", "spec", "trial", "total_steps", "warmup_steps"} & set(params)
    if reserved:
        raise ValueError(f"params: {sorted(reserved)} are set by the sweep itself; accepted: other keys")
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"params: must be JSON data (they are recorded with each trial): {e}") from None
    texts = [_warmup_text(w) for w in warmup]
    if len({t for t, _ in texts}) != len(texts):
        raise ValueError(f"warmup: got {list(warmup)!r}, which repeats a value; accepted: distinct lengths")
    lrs, seed_list = _lrs(peak_lr), _seeds(seeds)
    trials = []
    for text, zero in texts:
        spec_text = _spec_for(spec, text, zero)
        extra: dict[str, Any] = {}
        if total_steps is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a warmup that rounds to 0 steps is a mistake in a sweep
                try:
                    sched = parse(spec_text, total_steps)
                except Warning as w:
                    raise ValueError(f"warmup: {text!r} is 0 steps of total_steps={total_steps} ({w})") from None
            extra = {"total_steps": total_steps, "warmup_steps": sched.warmup_steps}
        for lr in lrs:
            for seed in seed_list:
                ident = {"spec": spec_text, "peak_lr": lr, "seed": seed, "params": params, **extra}
                key = hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
                name = f"warmup={text}" + (f" peak_lr={lr:g}" if lr is not None else "") + f" seed={seed}"
                cfg = {"warmup": text, "peak_lr": lr, "seed": seed, "spec": spec_text, **extra, "trial": key, **params}
                trials.append(Trial(key, name, cfg))
    return trials
