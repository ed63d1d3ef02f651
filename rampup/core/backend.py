"""Array namespaces: the one place where a formula meets a framework.

Every schedule formula in rampup is written once, against the small namespace
``xp`` defined here (``cos``, ``exp``, ``expm1``, ``sqrt``, ``log``, ``floor``, ``clip``,
``minimum``, ``maximum``, ``where``, ``power``).  The namespace is picked from
the type of the step that is evaluated:

=====================  ================================================
step type              namespace
=====================  ================================================
``int`` / ``float``    :data:`SCALAR` (the ``math`` module, no arrays)
``numpy.ndarray``      :data:`NUMPY`
``torch.Tensor``       torch (imported only when a tensor is passed)
``jax.Array``/tracer   ``jax.numpy`` (imported only when one is passed)
=====================  ================================================

Framework modules are never imported by ``import rampup``: a tensor can only
reach this module if its framework is already loaded.  This is the only module
of the core and compat that touches torch or jax: a formula that needs more
than the functions above (a compat spec reproducing a library's exact
rounding) uses the array helpers every array namespace has — ``fmod``,
``searchsorted(values, x, right)``, ``asarray(values, like)``, ``to_numpy(x)``,
``to_float32(x)``, ``cast_like(x, like)`` — never a framework import of its own.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

__all__ = ["NUMPY", "SCALAR", "as_float_steps", "namespace_for"]


def _np1(f: Any) -> Any:
    def g(x: float) -> float:
        return float(f(x))

    return staticmethod(g)


class _Scalar:
    """Python floats: the fast path for one step at a time.

    Transcendental functions go through NumPy's ufuncs (not ``math``): libm's
    ``exp``/``log``/``pow`` differ from NumPy's SIMD loops in the last bit for
    a few percent of inputs, and scalar and array evaluation must agree
    exactly.  ``sqrt`` is correctly rounded everywhere, so ``math.sqrt`` is used.
    """

    name = "scalar"
    pi = math.pi
    cos = _np1(np.cos)
    exp = _np1(np.exp)
    expm1 = _np1(np.expm1)
    sqrt = staticmethod(math.sqrt)
    log = _np1(np.log)
    floor = staticmethod(math.floor)

    @staticmethod
    def clip(x: float, lo: float, hi: float) -> float:
        return lo if x < lo else (hi if x > hi else x)

    @staticmethod
    def minimum(x: float, y: float) -> float:
        return x if x < y else y

    @staticmethod
    def maximum(x: float, y: float) -> float:
        return x if x > y else y

    @staticmethod
    def where(cond: bool, a: float, b: float) -> float:
        return a if cond else b

    @staticmethod
    def power(x: float, y: float) -> float:
        return float(np.power(x, y))


class _NumPy:
    name = "numpy"
    pi = math.pi
    cos = staticmethod(np.cos)
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    sqrt = staticmethod(np.sqrt)
    log = staticmethod(np.log)
    floor = staticmethod(np.floor)
    clip = staticmethod(np.clip)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    where = staticmethod(np.where)
    power = staticmethod(np.power)
    fmod = staticmethod(np.fmod)

    @staticmethod
    def searchsorted(values: np.ndarray, x: Any, right: bool = False) -> Any:
        """Indices that keep ``values`` (sorted, 1-D) sorted when ``x`` is inserted."""
        return np.searchsorted(values, x, side="right" if right else "left")

    @staticmethod
    def asarray(values: Any, like: Any) -> Any:
        """``values`` (NumPy data) as an array of this namespace, in ``like``'s dtype."""
        return np.asarray(values, dtype=np.asarray(like).dtype)

    @staticmethod
    def to_numpy(x: Any) -> np.ndarray:
        return np.asarray(x)

    @staticmethod
    def to_float32(x: Any) -> Any:
        return np.asarray(x).astype(np.float32)

    @staticmethod
    def cast_like(x: Any, like: Any) -> Any:
        return np.asarray(x).astype(np.asarray(like).dtype)


class _Torch:
    name = "torch"
    pi = math.pi

    def __init__(self) -> None:
        import torch

        self.t = torch
        self.cos = torch.cos
        self.exp = torch.exp
        self.expm1 = torch.expm1
        self.sqrt = torch.sqrt
        self.log = torch.log
        self.floor = torch.floor

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        return self.t.clamp(x, lo, hi)

    def minimum(self, x: Any, y: Any) -> Any:
        if isinstance(y, (int, float)):
            return self.t.clamp(x, max=y)
        if isinstance(x, (int, float)):
            return self.t.clamp(y, max=x)
        return self.t.minimum(x, y)

    def maximum(self, x: Any, y: Any) -> Any:
        if isinstance(y, (int, float)):
            return self.t.clamp(x, min=y)
        if isinstance(x, (int, float)):
            return self.t.clamp(y, min=x)
        return self.t.maximum(x, y)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.t.where(cond, a, b)

    def power(self, x: Any, y: Any) -> Any:
        return self.t.pow(x, y)

    def fmod(self, x: Any, y: Any) -> Any:
        return self.t.fmod(x, y)

    def searchsorted(self, values: np.ndarray, x: Any, right: bool = False) -> Any:
        return self.t.searchsorted(self.asarray(values, x), x, right=right)

    def asarray(self, values: Any, like: Any) -> Any:
        return self.t.as_tensor(values, dtype=like.dtype, device=like.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x.detach().cpu().numpy())

    def to_float32(self, x: Any) -> Any:
        return x.to(self.t.float32)

    def cast_like(self, x: Any, like: Any) -> Any:
        return x.to(like.dtype)


class _Jax:
    name = "jax"
    pi = math.pi

    def __init__(self) -> None:
        import jax.numpy as jnp

        self.cos = jnp.cos
        self.exp = jnp.exp
        self.expm1 = jnp.expm1
        self.sqrt = jnp.sqrt
        self.log = jnp.log
        self.floor = jnp.floor
        self.clip = jnp.clip
        self.minimum = jnp.minimum
        self.maximum = jnp.maximum
        self.where = jnp.where
        self.power = jnp.power
        self.fmod = jnp.fmod
        self.jnp = jnp

    def searchsorted(self, values: np.ndarray, x: Any, right: bool = False) -> Any:
        return self.jnp.searchsorted(self.asarray(values, x), x, side="right" if right else "left")

    def asarray(self, values: Any, like: Any) -> Any:
        return self.jnp.asarray(values, dtype=like.dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def to_float32(self, x: Any) -> Any:
        return self.jnp.asarray(x).astype(self.jnp.float32)

    def cast_like(self, x: Any, like: Any) -> Any:
        return self.jnp.asarray(x).astype(self.jnp.asarray(like).dtype)


SCALAR = _Scalar()
NUMPY = _NumPy()
_cache: dict[str, Any] = {}


def _lazy(name: str) -> Any:
    ns = _cache.get(name)
    if ns is None:
        ns = _Torch() if name == "torch" else _Jax()
        _cache[name] = ns
    return ns


def namespace_for(step: Any) -> Any:
    """Return the namespace that evaluates formulas on ``step``'s type.

    >>> namespace_for(3).name, namespace_for(np.arange(3)).name
    ('scalar', 'numpy')
    """
    if isinstance(step, (np.ndarray, np.generic)):
        return NUMPY
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        return SCALAR
    mod = type(step).__module__
    if mod.startswith("torch") and "torch" in sys.modules:
        return _lazy("torch")
    if mod.startswith(("jax", "jaxlib")) and "jax" in sys.modules:
        return _lazy("jax")
    raise TypeError(
        f"step: got {type(step).__module__}.{type(step).__qualname__} ({step!r:.60}); "
        "accepted: a Python int or float, a NumPy array, a torch tensor or a jax array"
    )


def as_float_steps(step: Any, xp: Any) -> Any:
    """Convert an array of steps to the float dtype the formulas run in.

    NumPy integer steps become float64.  Torch integer tensors become float64
    (float32 on devices without float64, e.g. MPS); float tensors keep their
    dtype.  JAX steps become the default float dtype (float32 unless
    ``jax_enable_x64``), so a schedule traces in the precision the user runs.
    Negative and non-finite NumPy steps raise ``ValueError``; inside traced
    frameworks a check would force a device sync or cannot raise, so negative
    steps are clamped to 0 there (documented in the step semantics).
    """
    if xp is NUMPY:
        arr = np.asarray(step)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"step: got an array of dtype {arr.dtype}; accepted: integer or float steps")
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError(f"step: got an array of dtype {arr.dtype}; accepted: integer or float steps")
        arr = arr.astype(np.float64, copy=False)
        if arr.size and not np.isfinite(arr).all():
            raise ValueError("step: got a non-finite value (NaN or inf); accepted: finite steps >= 0")
        if arr.size and arr.min() < 0:
            raise ValueError(f"step: got {float(arr.min())!r}; accepted: steps >= 0")
        return arr
    if xp.name == "torch":
        t = xp.t
        if step.dtype == t.bool or step.is_complex():
            raise TypeError(f"step: got a tensor of dtype {step.dtype}; accepted: integer or float steps")
        if not step.is_floating_point():
            dt = t.float32 if step.device.type == "mps" else t.float64
            step = step.to(dt)
        return t.clamp(step, min=0.0)
    import jax.numpy as jnp

    dt = jnp.asarray(step).dtype
    if dt == jnp.bool_ or jnp.issubdtype(dt, jnp.complexfloating):
        raise TypeError(f"step: got a jax array of dtype {dt}; accepted: integer or float steps")
    if not jnp.issubdtype(dt, jnp.floating):
        step = jnp.asarray(step, dtype=jnp.result_type(float))
    return jnp.maximum(step, 0.0)
