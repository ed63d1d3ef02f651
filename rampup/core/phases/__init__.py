"""Phase types: warmups, decays, whole schedules and modifiers.

One module per role, and the base they share:

* :mod:`~rampup.core.phases.base` — :class:`Phase`, :class:`Built`, the registries
  ``WARMUPS`` / ``DECAYS`` / ``WHOLES`` / ``MODIFIERS``, :func:`register`,
  ``NOT_CLOSED_FORM`` and the step semantics every phase follows;
* :mod:`~rampup.core.phases.warmups`, :mod:`~rampup.core.phases.decays`,
  :mod:`~rampup.core.phases.wholes`, :mod:`~rampup.core.phases.modifiers` — the
  shapes, each a class decorated with ``@register``.

A new shape costs its formula (in :mod:`rampup.core.shapes`) and its phase class
in the module of its role; the parser, the dict form, the CLI and the tests read
the registries.  Importing this package registers every native shape.
"""

from __future__ import annotations

from .base import (
    DECAYS,
    INF,
    MODIFIERS,
    NOT_CLOSED_FORM,
    WARMUPS,
    WHOLES,
    Built,
    Hold,
    Phase,
    register,
    unregister,
)
from .decays import (
    ConstantDecay,
    CosineDecay,
    CosineRestarts,
    Decay,
    ExponentialDecay,
    InvSqrtDecay,
    LinearDecay,
    MultiStepDecay,
    PolyDecay,
    StepDecay,
    WSDDecay,
)
from .modifiers import AsymptoticExponential, Modifier, RAdamWarmup, Rewarm, UntunedExponential
from .warmups import (
    ConstantWarmup,
    CosineWarmup,
    ExponentialWarmup,
    Knots,
    LinearWarmup,
    PiecewiseWarmup,
    PolyWarmup,
    Ramp,
    UntunedLinearWarmup,
    Warmup,
)
from .wholes import Noam

__all__ = [
    "DECAYS",
    "INF",
    "MODIFIERS",
    "NOT_CLOSED_FORM",
    "WARMUPS",
    "WHOLES",
    "AsymptoticExponential",
    "Built",
    "ConstantDecay",
    "ConstantWarmup",
    "CosineDecay",
    "CosineRestarts",
    "CosineWarmup",
    "Decay",
    "ExponentialDecay",
    "ExponentialWarmup",
    "Hold",
    "InvSqrtDecay",
    "Knots",
    "LinearDecay",
    "LinearWarmup",
    "Modifier",
    "MultiStepDecay",
    "Noam",
    "Phase",
    "PiecewiseWarmup",
    "PolyDecay",
    "PolyWarmup",
    "RAdamWarmup",
    "Ramp",
    "Rewarm",
    "StepDecay",
    "UntunedExponential",
    "UntunedLinearWarmup",
    "WSDDecay",
    "Warmup",
    "register",
    "unregister",
]
