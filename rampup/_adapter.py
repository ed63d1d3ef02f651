"""What the framework adapters :mod:`rampup.optax` and :mod:`rampup.keras` share.

Both turn what the user passed (a spec string, a spec dict, a :class:`~rampup.Spec`
or a resolved :class:`~rampup.Schedule`) into one :class:`~rampup.Schedule` of
absolute values, and both refuse, with a message that names the argument, the
objects of another framework: a torch scheduler, a Keras schedule, an optax
schedule function.  NumPy only, like the core.
"""

from __future__ import annotations

from typing import Any

from .core import Schedule, Spec

__all__ = ["describe", "resolve"]

_RUN_KEYS = ("total_steps", "steps_per_epoch", "tokens_per_step")


def describe(obj: Any) -> str:
    """``module.QualName`` of an object's type (of the function itself for functions), for messages."""
    if callable(obj) and hasattr(obj, "__qualname__") and not isinstance(obj, type):
        return f"the function {getattr(obj, '__module__', '?')}.{obj.__qualname__}"
    tp = obj if isinstance(obj, type) else type(obj)
    return f"{tp.__module__}.{tp.__qualname__}"


def _is_whole(schedule: Schedule) -> bool:
    # A whole schedule (noam, hf:cosine, optax:...) carries its own scale: its values are LRs without peak_lr.
    return any(p.role == "whole" for p in schedule.spec.decay)


def _wrong_framework(value: Any, where: str, framework: str, native: str) -> TypeError:
    """The TypeError for an object that belongs to another framework (or is not a schedule at all)."""
    what = describe(value)
    # The frameworks the object comes from: its own module and its base classes' (a subclass of a torch
    # LRScheduler or of a Keras LearningRateSchedule defined elsewhere is still that framework's object).
    own = getattr(value, "__module__", None) if callable(value) and not hasattr(value, "__mro__") else None
    modules = [own or type(value).__module__] + [c.__module__ for c in type(value).__mro__]
    roots = {str(m).split(".")[0] for m in modules if m}
    inner = getattr(value, "schedule", None)
    accepted = "accepted: a spec string, a spec dict, a rampup.Spec or a rampup.Schedule"
    if type(value).__module__.startswith("rampup.torch"):
        return TypeError(
            f"{where}: got {what}, rampup's PyTorch adapter; {framework} needs the schedule itself: pass the same "
            "spec string (with peak_lr=), or a rampup.Schedule"
        )
    if isinstance(inner, Schedule):
        # rampup.keras.WarmupSchedule, rampup.optax.OptaxSchedule, rampup.torch.WarmupScheduler, ...
        return TypeError(
            f"{where}: got {what}, the adapter of another framework; {framework} needs the schedule itself: "
            f"pass its .schedule (a rampup.Schedule) or the spec string '{inner.spec}'"
        )
    if "torch" in roots:
        return TypeError(
            f"{where}: got {what}, a PyTorch object; {accepted}. For PyTorch use rampup.torch.WarmupScheduler; "
            "to reproduce a torch scheduler here, write it as a 'torch:' compat spec"
        )
    if roots & {"keras", "tensorflow", "tf_keras"}:
        return TypeError(
            f"{where}: got {what}, a Keras object; {accepted}. For Keras use rampup.keras.WarmupSchedule; "
            "write the schedule as a rampup spec to use it here"
        )
    if "optax" in roots or callable(value):
        return TypeError(
            f"{where}: got {what}, a function of the step; {accepted}. An optax schedule is already "
            f"'count -> value' and needs no conversion; {native}"
        )
    return TypeError(f"{where}: got {what}; {accepted}")


def resolve(
    value: Any,
    *,
    where: str,
    framework: str,
    native: str,
    total_steps: int | None,
    peak_lr: float | None,
    steps_per_epoch: int | None,
    tokens_per_step: int | None,
) -> Schedule:
    """The :class:`Schedule` an adapter evaluates; its values are used as the LR itself.

    ``where`` names the argument in messages, ``framework`` the adapter
    (``"rampup.optax.schedule"``), ``native`` a hint on what to pass instead
    of another library's schedule function.  ``peak_lr`` is required unless
    the spec is a whole schedule with its own scale (``noam``, compat specs):
    without it the values would be multiples of the peak, 1.0 at the peak,
    and an optimizer would silently train at LR 1.0.
    """
    from . import parse

    run = {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch, "tokens_per_step": tokens_per_step}
    if isinstance(value, Schedule):
        for key, given in (*run.items(), ("peak_lr", peak_lr)):
            if given is not None:
                have = value.peak_lr if key == "peak_lr" else getattr(value.run, key)
                raise ValueError(
                    f"{key}: got {given!r}, but {where} is a rampup.Schedule that is already resolved "
                    f"({key}={have!r}); pass the spec instead, or leave {key} out"
                )
        schedule = value
    elif isinstance(value, (str, dict, Spec)):
        schedule = parse(value, peak_lr=peak_lr, **run)  # type: ignore[arg-type]
    else:
        raise _wrong_framework(value, where, framework, native)
    if schedule.peak_lr is None and not _is_whole(schedule):
        made = "was built" if isinstance(value, Schedule) else "is given"
        raise ValueError(
            f"peak_lr: missing; {framework} uses the schedule's values as the learning rate, and a schedule that "
            f"{made} without peak_lr returns multiples of the peak (1.0 at the peak); "
            "accepted: a finite number > 0, e.g. peak_lr=3e-4 (peak_lr=1.0 to get the multiples deliberately)"
        )
    return schedule
