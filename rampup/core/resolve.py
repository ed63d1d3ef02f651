"""The one spec resolver of the framework adapters (:mod:`rampup.torch`, :mod:`rampup.optax`, :mod:`rampup.keras`).

Every adapter turns what the user passed (a spec string, a spec dict, a
:class:`~rampup.Spec` or a resolved :class:`~rampup.Schedule`: a :data:`SpecLike`)
into one :class:`~rampup.Schedule`, in one of two forms:

* :func:`resolve` -- absolute values, used as the LR itself (optax, Keras);
  it refuses, with a message that names the argument, the objects of another
  framework: a torch scheduler, a Keras schedule, an optax schedule function.
* :func:`resolve_multiples` -- multiples of the peak (1.0 at the peak), which a
  per-param-group scheduler multiplies by each group's own peak (torch).

NumPy only, like the rest of the core.  Compat specs (``hf:``, ``torch:``, ...)
parse once :mod:`rampup.compat` is imported; the adapters import it.

>>> resolve_multiples("linear(4) -> constant", where="schedule", run={"total_steps": 8})(0)
0.25
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .phases import Phase
from .schedule import Schedule, Spec

__all__ = ["RUN_KEYS", "SpecLike", "describe", "resolve", "resolve_multiples", "schedule_from_dict"]

#: What every adapter accepts as a schedule.
SpecLike = str | dict[str, Any] | Spec | Schedule
#: The run arguments that resolve lengths in ``%``, ``ep`` and ``tok`` (a :class:`~rampup.RunInfo`'s fields).
RUN_KEYS = ("total_steps", "steps_per_epoch", "tokens_per_step")


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
        schedule = _to_spec(value).resolve(total_steps, peak_lr, steps_per_epoch, tokens_per_step)
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


def _to_spec(value: str | dict[str, Any] | Spec) -> Spec:
    if isinstance(value, Spec):
        return value
    return Spec.parse(value) if isinstance(value, str) else Spec.from_dict(value)


def _call(where: str, fn: Callable[[], Any]) -> Any:
    """``fn()``, with ``where`` in front of the message of a ValueError/TypeError it raises."""
    try:
        return fn()
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from e
    except TypeError as e:
        raise TypeError(f"{where}: {e}") from e


def schedule_from_dict(d: Any, where: str) -> Schedule:
    """:meth:`Schedule.from_dict` of ``d``, with ``where`` (the argument) in every message."""
    if not isinstance(d, dict) or "spec" not in d:
        raise TypeError(f"{where}: got {d!r:.80}; accepted: the output of Schedule.to_dict()")
    return _call(where, lambda: Schedule.from_dict(d))  # type: ignore[no-any-return]


def _reject_absolute_levels(spec: Spec, where: str, owner: str) -> None:
    # Absolute levels (floor_lr=1e-5) need one peak LR; a per-group scheduler scales each
    # group's own peak, so they would mean a different fraction in every group.
    phases = ([spec.warmup] if isinstance(spec.warmup, Phase) else []) + list(spec.decay) + list(spec.modifiers)
    for ph in phases:
        for key, value in ph.given.items():
            param = ph.params.get(key)
            if param is not None and param.kind == "lr":
                frac = key[: -len("_lr")] if key.endswith("_lr") else "a fraction"
                raise ValueError(
                    f"{where}: {ph.name}: {key}={value!r} is an absolute LR; {owner} multiplies each "
                    f"param group's own peak LR by the schedule, so give levels as fractions of the peak "
                    f"({frac}=...)"
                )


def resolve_multiples(
    value: Any, *, where: str, run: Mapping[str, int | None], owner: str = "the scheduler"
) -> Schedule:
    """A :class:`Schedule` of multiples of the peak (1.0 at the peak) from a :data:`SpecLike`.

    ``value`` may also be the output of :meth:`Schedule.to_dict`.  ``where`` names the
    argument in messages, ``owner`` the adapter (``"WarmupScheduler"``); ``run`` holds
    :data:`RUN_KEYS` (``None`` = not given).  A Schedule built with ``peak_lr`` and
    absolute levels (``floor_lr=``) are refused: the caller scales the multiples by
    each param group's own peak.
    """
    if isinstance(value, dict) and "spec" in value:
        value = schedule_from_dict(value, where)
    if isinstance(value, Schedule):
        if value.peak_lr is not None:
            raise ValueError(
                f"{where}: got a Schedule with peak_lr={value.peak_lr!r}, whose values are absolute LRs; "
                "accepted: a Schedule built without peak_lr (multiples of each param group's peak)"
            )
        for k, v in run.items():
            have = getattr(value.run, k)
            if v is not None and have != v:
                raise ValueError(
                    f"{k}: got {v!r}, but the Schedule given as {where} was resolved with {k}={have!r}; "
                    f"give {k} once (in the Schedule or to {owner})"
                )
        return value
    if not isinstance(value, (str, dict, Spec)):
        raise TypeError(
            f"{where}: got {type(value).__name__}; accepted: a spec string, a spec dict, a rampup.Spec "
            "or a rampup.Schedule"
        )
    spec: Spec = _call(where, lambda: _to_spec(value))
    _reject_absolute_levels(spec, where, owner)
    return _call(where, lambda: spec.resolve(**run))  # type: ignore[no-any-return]
