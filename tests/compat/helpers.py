"""Shared helpers for the compat parity tests: run a real scheduler, compare with the compat spec.

Step convention checked everywhere: rampup's ``schedule(t)`` is the LR the optimizer uses for update
``t + 1``.  For torch-style schedulers (``LRScheduler``, HF's ``LambdaLR``) that is the LR after
construction for ``t = 0`` and after the ``t``-th ``scheduler.step()`` otherwise (composer's Trainer steps
before it advances its timestamp: ``α(max(t − 1, 0))``, see test_composer.py); each helper below states its
library's rule.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import rampup
from rampup.support.optional import import_skipping_package_init

RTOL = 1e-12
# Values next to a zero of 1 + cos(x) lose relative precision in *any* implementation (cancellation):
# two correct evaluations may differ by ~1e-16 × peak in absolute terms.  The tests therefore accept
# |a − b| <= RTOL·|b| + ATOL·peak with ATOL = 1e-15, i.e. 10 units in the last place of the peak LR.
ATOL = 1e-15


def make_opt(lrs: list[float], cls: Any = None, **kw: Any) -> Any:
    """A tiny torch optimizer: one 1-element parameter per group, float LRs."""
    import torch

    cls = cls or torch.optim.SGD
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return cls(groups, lr=lrs[0], **kw)


def step_torch(opt: Any, sched: Any, n: int, after: Callable[[], None] | None = None) -> np.ndarray:
    """LRs of ``n`` updates, shape (n, groups): row t is what update t + 1 uses.

    The documented loop is ``optimizer.step()`` then ``scheduler.step()``; ``optimizer.step()`` never
    changes an LR and costs ~0.1 ms, so it is left out (its "scheduler before optimizer" warning is muted).
    """
    out = np.empty((n, len(opt.param_groups)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(n):
            out[t] = [float(g["lr"]) for g in opt.param_groups]
            if t == n - 1:
                break  # the LR of update n is recorded; one more step could raise (OneCycleLR)
            sched.step()
            if after is not None:
                after()
    return out


def compat_curve(spec: str, base_lrs: list[float], n: int, **run: Any) -> np.ndarray:
    """The compat spec's LRs per group: one schedule per group with that group's LR as ``peak_lr``."""
    steps = np.arange(n)
    cols = []
    for lr in base_lrs:
        s = rampup.parse(spec, peak_lr=lr, **run)
        cols.append(np.asarray(s(steps), dtype=np.float64))
    return np.stack(cols, axis=1)


def assert_close(got: np.ndarray, want: np.ndarray, peak: float, what: str) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = np.abs(got - want)
    tol = RTOL * np.abs(want) + ATOL * peak
    bad = np.argwhere(err > tol)
    if bad.size:
        i = tuple(bad[0])
        raise AssertionError(
            f"{what}: {bad.shape[0]} value(s) differ; first at {i}: rampup {got[i]!r} vs library {want[i]!r} "
            f"(rel {err[i] / max(abs(want[i]), 1e-300):.3g})"
        )


def import_timm_scheduler(module: str, name: str) -> Any:
    """A timm scheduler class without running timm's package ``__init__`` (timm is installed without deps)."""
    return getattr(import_skipping_package_init("timm", f"scheduler.{module}"), name)


def arg_text(v: Any) -> str:
    """A Python value as a spec-language argument (``true``, ``[1, 2]``, ``0.5``), for specs built from random configs."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(arg_text(x) for x in v) + "]"
    return v if isinstance(v, str) else repr(v)
