"""The math core: schedules as pure functions of the step.  No framework imports."""

from .auto_spec import AutoWarmupSpec
from .phases import DECAYS, MODIFIERS, WARMUPS, WHOLES, Phase, register
from .schedule import Schedule, Segment, Spec
from .spec_text import SpecSyntaxError
from .units import Length, LengthRoundingWarning, RunInfo

__all__ = [
    "DECAYS",
    "MODIFIERS",
    "WARMUPS",
    "WHOLES",
    "AutoWarmupSpec",
    "Length",
    "LengthRoundingWarning",
    "Phase",
    "RunInfo",
    "Schedule",
    "Segment",
    "Spec",
    "SpecSyntaxError",
    "register",
]
