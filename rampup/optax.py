r"""optax adapter: a rampup schedule as an optax schedule, ``count -> value``.

:func:`schedule` returns an :class:`OptaxSchedule`, a callable that optax
takes wherever it takes a schedule: ``learning_rate=`` of any optimizer
alias, any hyperparameter of :func:`optax.inject_hyperparams` (weight decay,
``b1``, ...), :func:`optax.scale_by_schedule`.  It evaluates the core's
closed form on the count (one formula for NumPy, torch and jax: nothing is
re-typed here), so it traces under :func:`jax.jit` and :func:`jax.vmap`,
holds no state, and composes with :func:`optax.contrib.reduce_on_plateau`.

Step semantics.  optax evaluates ``schedule(count)`` for update number
``count + 1`` (``count`` starts at 0), which is rampup's convention for
``t``: ``value(count) = rampup.parse(spec, ...)(count)``, the NumPy values in
the precision jax runs in (float32: within 1e-6 of the peak; float64 with
``jax_enable_x64``: within 2e-15 of the peak).  optax's own schedule factories use another convention,
which shifts the index by one::

    optax.warmup_cosine_decay_schedule(0.0, peak, W, N, end)(t + 1)
        == rampup.parse(f"linear({W}) -> cosine(floor={end / peak})", total_steps=N, peak_lr=peak)(t)

optax's warmup starts at ``init_value`` for ``count = 0`` (an update with LR
0 by default) and reaches the peak at ``count = W``; rampup's first update
already uses ``peak / W`` and the peak is the LR of update ``W``
(``t = W - 1``).  ``docs/jax.md`` gives the mapping for each optax factory.

>>> import jax, jax.numpy as jnp
>>> from rampup.optax import schedule
>>> lr = schedule("linear(4) -> cosine(floor=0.1)", total_steps=10, peak_lr=1e-3)
>>> [round(v, 9) for v in jax.jit(lr)(jnp.arange(4)).tolist()]  # float32 unless jax_enable_x64
[0.00025, 0.0005, 0.00075, 0.001]

Importing this module imports jax; ``import rampup`` does not.

Reference: optax ``Schedule`` (``optax/_src/base.py``) and
``optax.inject_hyperparams`` (``optax/schedules/_inject.py``).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import compat as _compat  # noqa: F401  (registers hf:/torch:/optax: specs for the resolver)
from .core import Schedule
from .core.resolve import SpecLike, describe, resolve

__all__ = ["OptaxSchedule", "schedule"]


_MISSING: Any = object()
_ACCEPTED = "accepted: an int >= 0 or an integer/float jax or NumPy array of update counts (optax's state.count)"


def _check_count(count: Any) -> Any:
    """The count as a jax value the core evaluates, or a TypeError/ValueError that names ``count``.

    Concrete counts are checked (no negative, NaN or inf counts); a traced
    count cannot raise, so a negative one is clamped to 0 by the core (an
    optax count never is negative).
    """
    if isinstance(count, (bool, np.bool_)):
        raise TypeError(f"count: got {count!r}; {_ACCEPTED}")
    if isinstance(count, (int, float, np.integer, np.floating)):
        if not (0 <= count < math.inf):
            raise ValueError(f"count: got {count!r}; accepted: a finite count >= 0")
        # A Python int becomes int32 without x64: one past 2^31 - 1 would overflow, as a float it does not.
        return jnp.asarray(count if count < 2**31 else float(count))
    if isinstance(count, (np.ndarray, jax.Array)):
        dt = count.dtype
        # jnp.issubdtype knows bfloat16 (np.issubdtype does not count it as a number).
        if dt == np.bool_ or not jnp.issubdtype(dt, jnp.number) or jnp.issubdtype(dt, jnp.complexfloating):
            raise TypeError(f"count: got an array of dtype {dt}; {_ACCEPTED}")
        if not isinstance(count, jax.core.Tracer):
            values = np.asarray(count)
            if values.size and not np.isfinite(values.astype(np.float64)).all():
                raise ValueError("count: got a non-finite value (NaN or inf); accepted: finite counts >= 0")
            if values.size and values.min() < 0:
                raise ValueError(f"count: got {values.min().item()!r}; accepted: counts >= 0")
        if jnp.issubdtype(dt, jnp.floating) and jnp.finfo(dt).bits < jnp.finfo(jnp.result_type(float)).bits:
            # float16/bfloat16 cannot count past 2048/256 exactly: evaluate in the default float dtype.
            return jnp.asarray(count, dtype=jnp.result_type(float))
        return jnp.asarray(count)
    mod = type(count).__module__.split(".")[0]
    if mod == "torch":
        raise TypeError(
            f"count: got {describe(count)}; a rampup.optax schedule evaluates jax counts. "
            "For PyTorch use rampup.torch.WarmupScheduler, or call the rampup.Schedule itself on the tensor"
        )
    raise TypeError(f"count: got {describe(count)} ({count!r:.60}); {_ACCEPTED}")


class OptaxSchedule:
    """An optax schedule (``count -> value``) backed by a :class:`rampup.Schedule`.

    ``OptaxSchedule(s)(count)`` is ``s(count)`` evaluated as a jax array: the
    LR (or any hyperparameter) of update ``count + 1``.  Pure and stateless;
    pickles as plain data (``Schedule.to_dict()``).  Build it with
    :func:`schedule`.

    >>> from rampup.optax import schedule
    >>> lr = schedule("linear(10) -> cosine(floor=0.1)", total_steps=100, peak_lr=3e-4)
    >>> float(lr(9)), lr.peak_lr, lr.warmup_steps, lr.total_steps
    (0.0003000000142492354, 0.0003, 10, 100)
    """

    def __init__(self, schedule: Schedule) -> None:
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule: got {describe(schedule)}; accepted: a rampup.Schedule")
        self.schedule = schedule

    def __call__(self, count: Any = _MISSING) -> jax.Array:
        if count is _MISSING:
            # Keras calls a plain callable learning_rate without arguments.
            raise TypeError(
                "count: missing; an optax schedule is called with the update count, schedule(count). "
                "A Keras optimizer calls a callable learning rate without one: for Keras use "
                "rampup.keras.WarmupSchedule"
            )
        out: jax.Array = self.schedule(_check_count(count))
        return out

    @property
    def peak_lr(self) -> float | None:
        """The peak value (``peak_lr`` of the schedule)."""
        return self.schedule.peak_lr

    @property
    def warmup_steps(self) -> int:
        """Length of the leading warmup in updates."""
        return self.schedule.warmup_steps

    @property
    def total_steps(self) -> int | None:
        """``total_steps`` the schedule was resolved with."""
        return self.schedule.run.total_steps

    def __repr__(self) -> str:
        return f"rampup.optax.OptaxSchedule({self.schedule!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OptaxSchedule) and other.schedule == self.schedule

    def __hash__(self) -> int:
        return hash(self.schedule)

    def __getstate__(self) -> dict[str, Any]:
        return self.schedule.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.schedule = Schedule.from_dict(state)


def schedule(
    spec_or_schedule: SpecLike,
    total_steps: int | None = None,
    peak_lr: float | None = None,
    steps_per_epoch: int | None = None,
    tokens_per_step: int | None = None,
) -> OptaxSchedule:
    """An optax schedule ``count -> value`` from a rampup spec (or a resolved :class:`rampup.Schedule`).

    ``value(count) = peak_lr · m(count)`` where ``m`` is the spec's curve as a
    multiple of the peak and ``count`` is optax's update counter (0 for the
    first update): the warmup of ``linear(W)`` is at the peak for
    ``count = W - 1``, a decay that fills the run reaches its floor at
    ``count = total_steps - 1`` and holds it afterwards.  Units: the same
    as ``peak_lr`` (an LR, or a weight decay, a β1, ... for
    :func:`optax.inject_hyperparams`).

    ``peak_lr`` is required, except for whole schedules that carry their own
    scale (``noam(...)``, compat specs such as ``optax:...``): without it the
    values would be multiples of the peak.  Pass ``peak_lr=1.0`` to get the
    multiples deliberately.  A :class:`rampup.Schedule` is used as it is
    (``total_steps`` and the rest must then be left out).

    Example, AdamW with a scheduled learning rate and a scheduled weight decay::

        import optax
        from rampup.optax import schedule

        opt = optax.inject_hyperparams(optax.adamw)(
            learning_rate=schedule("linear(2%) -> cosine(floor=0.1)", total_steps=10_000, peak_lr=3e-4),
            weight_decay=schedule("cosine(10000, start=0.1) -> constant", peak_lr=0.4),  # 0.04 -> 0.4
        )

    >>> lr = schedule("linear(2) -> constant", peak_lr=0.5)
    >>> lr(0).item(), lr(1).item(), lr(10**6).item()
    (0.25, 0.5, 0.5)

    Raises ``TypeError`` for another framework's object (a torch scheduler,
    a ``rampup.keras.WarmupSchedule``, an optax schedule function) and
    ``ValueError`` for a missing ``peak_lr``; the returned schedule raises
    ``TypeError`` for a count of dtype bool or complex.
    """
    if isinstance(spec_or_schedule, OptaxSchedule):
        spec_or_schedule = spec_or_schedule.schedule
    sched = resolve(
        spec_or_schedule,
        where="spec_or_schedule",
        framework="rampup.optax.schedule",
        native="to reproduce one of optax's schedules with rampup's step semantics, write it as a spec "
        "(see docs/jax.md for the mapping) or use an 'optax:' compat spec",
        total_steps=total_steps,
        peak_lr=peak_lr,
        steps_per_epoch=steps_per_epoch,
        tokens_per_step=tokens_per_step,
    )
    return OptaxSchedule(sched)
