r"""Keras 3 adapter: a rampup schedule as a ``keras.optimizers.schedules.LearningRateSchedule``.

:class:`WarmupSchedule` goes wherever Keras takes a learning rate::

    import os

    os.environ["KERAS_BACKEND"] = "jax"  # before the first `import keras`; "torch" works too
    import keras
    from rampup.keras import WarmupSchedule

    lr = WarmupSchedule("linear(2%) -> cosine(floor=0.1)", total_steps=10_000, peak_lr=3e-4)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")

Step semantics.  A Keras optimizer evaluates its schedule at
``optimizer.iterations`` *before* incrementing it, so ``schedule(step)`` is
the LR of update ``step + 1`` — rampup's convention for ``t``, with no shift:
the value equals ``rampup.parse(spec, ...)(step)``.  Keras' own
``CosineDecay(initial_learning_rate=i, decay_steps=D, alpha=a,
warmup_target=P, warmup_steps=W)`` reaches the peak one update later; it is
the native spec shifted by one::

    CosineDecay(i, D, alpha=a, warmup_target=P, warmup_steps=W)(t + 1)
        == WarmupSchedule(f"linear({W}, start={i / P}) -> cosine(floor={a})", total_steps=W + D, peak_lr=P)(t)

(Keras' first update uses ``i``, 0 by default; rampup's uses ``i + (P - i)/W``.)

Backends.  The schedule runs on the backend's own tensors through the core's
one formula: JAX (traced inside ``model.fit``'s jitted step), PyTorch and
NumPy (evaluation only, as Keras' NumPy backend cannot train).  The
TensorFlow and OpenVINO backends are refused with a ``ValueError`` when the
schedule is built: rampup does not evaluate tf tensors.

Serialization.  ``get_config()`` is the spec string and the run arguments
(plain JSON); the class is registered as ``"rampup>WarmupSchedule"``, so
``model.save(...)`` / ``keras.models.load_model(...)`` round-trip it
(``import rampup.keras`` before loading, as for any registered object).

Importing this module imports keras; ``import rampup`` does not.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import compat as _compat  # noqa: F401  (registers hf:/torch:/optax: specs for the resolver)
from .core import Schedule
from .core.resolve import RUN_KEYS, SpecLike, describe, resolve

try:
    import keras
except ImportError as _e:  # pragma: no cover - depends on the environment
    # Keras 3 defaults to the TensorFlow backend, whose import fails without tensorflow.
    raise ImportError(
        f"rampup.keras: importing keras failed ({_e}). Keras 3 takes its backend from KERAS_BACKEND "
        f"(now {os.environ.get('KERAS_BACKEND', 'unset, i.e. tensorflow')!r}); rampup.keras supports 'jax', 'torch' "
        "and 'numpy': set KERAS_BACKEND=jax (or torch) before the first `import keras`, or pip install 'rampup[keras]'"
    ) from _e

__all__ = ["SUPPORTED_BACKENDS", "WarmupSchedule"]

SUPPORTED_BACKENDS = ("jax", "torch", "numpy")
# The keys of Schedule.to_dict() that get_config() keeps beside the spec string.
_CONFIG_KEYS = (*RUN_KEYS, "peak_lr")


def _check_backend() -> str:
    backend = str(keras.config.backend())
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"KERAS_BACKEND: got {backend!r}; accepted: {', '.join(map(repr, SUPPORTED_BACKENDS))}. rampup "
            "evaluates schedules on jax arrays, torch tensors and NumPy arrays; set KERAS_BACKEND before the "
            "first `import keras`"
        )
    return backend


@keras.saving.register_keras_serializable(package="rampup", name="WarmupSchedule")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """A Keras ``LearningRateSchedule`` whose value at ``step`` is ``rampup.parse(spec, ...)(step)``.

    ``lr(step) = peak_lr · m(step)``, with ``m`` the spec's curve as a
    multiple of the peak and ``step`` the optimizer's ``iterations`` (0 for
    the first update): ``linear(W)`` is at the peak at ``step = W - 1``, a
    decay that fills the run is at its floor at ``step = total_steps - 1``
    and holds it afterwards.  The value is a tensor of ``keras.config.floatx()``.

    Arguments are those of :func:`rampup.parse`; ``peak_lr`` is required
    except for whole schedules with their own scale (``noam``, compat
    specs).  A resolved :class:`rampup.Schedule` is accepted as ``spec``
    (then leave the run arguments out).  The schedule itself is
    ``self.schedule``.

    >>> from rampup.keras import WarmupSchedule
    >>> lr = WarmupSchedule("linear(4) -> cosine(floor=0.1)", total_steps=10, peak_lr=1e-3)
    >>> [round(float(lr(t)), 9) for t in (0, 3, 9, 100)]
    [0.00025, 0.001, 0.0001, 0.0001]
    >>> WarmupSchedule.from_config(lr.get_config()).schedule == lr.schedule
    True

    Raises ``TypeError`` for another framework's object (a torch scheduler, an
    optax schedule function, a ``rampup.optax`` schedule), ``ValueError`` for a
    missing ``peak_lr`` or an unsupported Keras backend; calling it raises
    ``TypeError`` for a step of dtype bool or complex.
    """

    def __init__(
        self,
        spec: SpecLike,
        total_steps: int | None = None,
        peak_lr: float | None = None,
        steps_per_epoch: int | None = None,
        tokens_per_step: int | None = None,
    ) -> None:
        super().__init__()
        self.backend = _check_backend()
        if isinstance(spec, WarmupSchedule):
            spec = spec.schedule
        self.schedule: Schedule = resolve(
            spec,
            where="spec",
            framework="rampup.keras.WarmupSchedule",
            native="Keras calls a learning-rate schedule with the step, so write the schedule as a rampup spec",
            total_steps=total_steps,
            peak_lr=peak_lr,
            steps_per_epoch=steps_per_epoch,
            tokens_per_step=tokens_per_step,
        )

    def __call__(self, step: Any) -> Any:
        if isinstance(step, (bool, np.bool_)):
            raise TypeError(f"step: got {step!r}; accepted: an int >= 0 or an integer tensor (optimizer.iterations)")
        if isinstance(step, (int, float, np.integer, np.floating)) and not (0 <= step < math.inf):
            raise ValueError(f"step: got {step!r}; accepted: a finite step >= 0")
        framework = {"jax": "jax", "jaxlib": "jax", "torch": "torch"}.get(type(step).__module__.split(".")[0])
        if framework is not None and framework != self.backend:
            raise TypeError(
                f"step: got {describe(step)} but Keras runs the {self.backend!r} backend; for optax use "
                "rampup.optax.schedule(...), for a torch optimizer rampup.torch.WarmupScheduler"
            )
        x = keras.ops.convert_to_tensor(step)
        dtype = keras.backend.standardize_dtype(x.dtype)
        if dtype == "bool" or dtype.startswith("complex"):
            raise TypeError(f"step: got a tensor of dtype {dtype}; accepted: integer or float steps")
        if dtype in ("float16", "bfloat16"):
            # A half-precision step cannot count past 2048 (256 for bfloat16) exactly.
            x = keras.ops.cast(x, "float32")
        return keras.ops.cast(self.schedule(x), keras.config.floatx())

    def get_config(self) -> dict[str, Any]:
        """The spec string and the run arguments: plain JSON that :meth:`from_config` inverts exactly."""
        cfg: dict[str, Any] = {"spec": str(self.schedule.spec)}
        cfg.update({k: v for k, v in self.schedule.to_dict().items() if k in _CONFIG_KEYS})
        return cfg

    @property
    def peak_lr(self) -> float | None:
        return self.schedule.peak_lr

    @property
    def total_steps(self) -> int | None:
        return self.schedule.run.total_steps

    @property
    def warmup_steps(self) -> int:
        return self.schedule.warmup_steps

    def __repr__(self) -> str:
        return f"rampup.keras.WarmupSchedule({self.schedule!r})"
