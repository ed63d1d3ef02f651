"""What the advisor knows about shapes, read off the core's registries — never a list of names.

A shape added to :mod:`rampup.core` (a phase class registered with :func:`rampup.core.register`) is
understood here without touching the advisor:

* a **warmup** is classified by evaluating it (:func:`warmup_profile`): it *ramps* (rises gradually
  from its ``start=`` level to the peak: linear, cosine, poly, exponential, untuned_linear, ...) or it
  *holds* its start level and then jumps to the peak (constant); a warmup that cannot be evaluated
  from its parameter kinds alone (piecewise: its knots) is neither, and the advisor says what it does
  with it instead of guessing;
* a phase whose length derives from Adam's β2 is one with a ``beta2`` parameter
  (:func:`beta2_derived`: untuned_linear, | untuned_exponential, | radam);
* a **modifier** that warms up the whole run (a factor rising towards 1 from step 0) is one with a
  ``beta2`` or a ``tau`` parameter; its effective warmup length is 2τ (Ma & Yarats 2021; τ = 1/(1−β2)),
  :func:`modifier_warmup_steps`.

>>> warmup_profile("linear"), warmup_profile("constant"), warmup_profile("piecewise")
('ramp', 'hold', None)
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ...core import DECAYS, MODIFIERS, WARMUPS, Phase, Spec
from ...core.params import REQUIRED

__all__ = [
    "DEFAULT_WARMUP",
    "RADAM_FACTOR",
    "REWARM",
    "UNTUNED_WARMUP",
    "beta2_derived",
    "holds_level",
    "modifier_warmup_steps",
    "ramps_from_start",
    "warmup_profile",
]

# The warmup the advisor writes when it must choose one: a length given without a shape, the replacement
# for a constant warmup's jump or for a warmup that takes no length (each such choice is stated in
# Advice.assumptions or in the finding that asks for it).
DEFAULT_WARMUP = "linear"
# The methods the advisor names in its findings and suggestions (each from the paper the finding cites).
UNTUNED_WARMUP = "untuned_linear"  # Ma & Yarats' untuned warmup of 2/(1-β2) steps
RADAM_FACTOR = "radam"  # RAdam's rectification as a warmup factor (a modifier)
REWARM = "rewarm"  # a re-warmup at a later step (a modifier)
assert DEFAULT_WARMUP in WARMUPS and UNTUNED_WARMUP in WARMUPS, "the advisor's warmups are registered in rampup.core"
assert RADAM_FACTOR in MODIFIERS and REWARM in MODIFIERS, "the advisor's modifiers are registered in rampup.core"

# A sample value for each required argument kind (rampup.core.params.ACCEPTS), to evaluate a warmup
# that has no default for it: a length of 8 steps, β2 = 0.75 (2/(1-β2) = 8 steps), ...
_SAMPLE: dict[str, Any] = {
    "length": 8,
    "beta": 0.75,
    "fraction": 0.5,
    "positive": 1.0,
    "nonneg": 1.0,
    "posint": 2,
    "number": 1.0,
    "bool": False,
}
_START = 0.5  # the start level the profile is measured from


def warmup_profile(shape: str | None) -> str | None:
    """``'ramp'``, ``'hold'`` or ``None`` for the registered warmup ``shape`` (``None`` too for an unregistered name).

    The warmup is built with ``start=0.5`` (and a sample value for each required argument) before a
    constant decay and evaluated over its own length: ``'hold'`` when it stays at 0.5 (then the jump
    to the peak), ``'ramp'`` when it rises without falling from 0.5 to the peak.
    """
    cls = WARMUPS.get(shape) if shape is not None else None
    if cls is None:
        return None
    if cls not in _PROFILES:  # by class: a name registered again later is evaluated again
        _PROFILES[cls] = _profile(cls)
    return _PROFILES[cls]


_PROFILES: dict[type[Phase], str | None] = {}


def _profile(cls: type[Phase]) -> str | None:
    if "start" not in cls.params:
        return None
    args: dict[str, Any] = {}
    for name, p in cls.params.items():
        if p.default is REQUIRED:
            if p.kind == "choice" and p.choices:
                args[name] = p.choices[0]
            elif p.kind in _SAMPLE:
                args[name] = _SAMPLE[p.kind]
            else:  # e.g. piecewise's knots: no sample says what the shape is
                return None
    args["start"] = _START
    from ... import parse

    try:
        sched = parse(Spec(cls(**args), (DECAYS["constant"](),), ()), total_steps=64)
        n = sched.warmup_steps
        values = [float(v) for v in sched(range(n))] if n >= 2 else []
    except (TypeError, ValueError):
        return None
    if not values:
        return None
    if all(math.isclose(v, _START) for v in values):
        return "hold"
    rising = all(b >= a for a, b in itertools.pairwise(values))
    return "ramp" if rising and _START <= values[0] < values[-1] else None


def ramps_from_start(shape: str | None) -> bool:
    """A registered warmup that rises gradually from a ``start=`` level (linear, cosine, poly, exponential, ...)."""
    return warmup_profile(shape) == "ramp"


def holds_level(shape: str | None) -> bool:
    """A registered warmup that holds its start level and then jumps to the peak (constant)."""
    return warmup_profile(shape) == "hold"


def beta2_derived(phase: Any) -> bool:
    """A phase (warmup or modifier) whose length follows Adam's β2: it takes a ``beta2`` argument."""
    return phase is not None and "beta2" in type(phase).params


def modifier_warmup_steps(m: Any, total_steps: int | None = None) -> int | None:
    """The effective warmup length of a modifier that warms up the run from step 0; ``None`` for other modifiers.

    A ``beta2`` modifier (untuned_exponential, radam): 2/(1 − β2) (Ma & Yarats 2021: 2τ with τ = 1/(1 − β2)); a
    ``tau`` one (asymptotic_exponential): 2τ.  Any other modifier is read off its factor over the run
    (``total_steps``, else 10^5 steps): one that starts below 1 and rises without falling is a warmup; its
    length is 2 × the area above the factor, + 1 (L for a linear ramp to 1 over L steps, about 2τ for an
    exponential approach).  A factor of 1 at step 0 (rewarm: a re-warmup at a later step) is not the run's warmup.

    >>> from rampup import Spec
    >>> [modifier_warmup_steps(m) for m in Spec.parse("constant | radam(beta2=0.999) | rewarm(at=50, length=10)").modifiers]
    [2000, None]
    """
    params = type(m).params
    if "beta2" in params:
        return max(1, round(2.0 / (1.0 - float(m.args["beta2"]))))
    if "tau" in params:
        return max(1, round(2.0 * float(m.args["tau"])))
    from ... import parse

    horizon = total_steps or 100_000
    try:
        f = parse(Spec(None, (DECAYS["constant"](),), (m,)), total_steps=horizon)(np.arange(horizon))
    except (TypeError, ValueError):
        return None
    if not (len(f) and f[0] < 1.0 and bool(np.all(np.diff(f) >= 0.0))):
        return None
    return round(2.0 * float(np.sum(1.0 - f))) + 1  # linear to 1 over L steps: L; 1 - e^(-(t+1)/τ): about 2τ
