r"""``SpikeGuard``: detect a loss spike or a non-finite loss/gradient, roll back, re-warm, go on.

The recovery used to train PaLM (Chowdhery et al. 2022, §5.1: "restart from a
checkpoint roughly 100 steps before the spike and skip roughly 200–500 data
batches") and OPT-175B (Zhang et al. 2022, §2.5: roll back to an earlier
checkpoint and lower the LR), automated:

1. Every ``snapshot_every`` good updates the guard takes a **snapshot**: model,
   optimizer and scheduler ``state_dict``\ s, the RNG states (Python, NumPy, torch
   CPU and CUDA) and its own loss window — in memory, and also on disk when
   ``dir`` is given (``torch.save`` to a temporary file, ``fsync``, ``os.replace``;
   the previous snapshot file is deleted only after the new one is complete, so a
   crash at any moment leaves at least one complete snapshot).
2. Before each update, :meth:`SpikeGuard.check` looks at the loss and the
   gradients: a non-finite loss or gradient, or a **spike** — a robust z-score
   ``z = (ℓ − median) / (1.4826·MAD) > z`` against the last ``window`` good losses
   (and, with ``ratio``, ``ℓ > ratio × median``) — is an anomaly.  After the update
   the parameters are checked too (a finite but huge gradient can still overflow
   them).
3. On an anomaly the update is not applied (or undone): the guard restores the last
   snapshot (the one before it if the anomaly recurs before a new snapshot was taken),
   calls ``scheduler.rewarm(rewarm, start=rewarm_start)`` so the LR ramps up again
   from a lower value, and — with ``skip_batches=True``, the default — the data
   simply continues, so the batches seen since the snapshot are skipped.
4. Every intervention is appended to :attr:`SpikeGuard.events` and logged as a
   warning on the ``rampup.guard`` logger.

Use :meth:`SpikeGuard.step` in place of ``optimizer.step(); scheduler.step()``:

>>> import torch
>>> from rampup.torch import SpikeGuard, WarmupScheduler
>>> model = torch.nn.Linear(4, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> sched = WarmupScheduler(opt, "linear(5) -> constant")
>>> guard = SpikeGuard(model, opt, sched, snapshot_every=10)
>>> x, y = torch.randn(32, 4), torch.randn(32, 1)
>>> for i in range(30):
...     loss = (model(x) - y).square().mean() * (1e6 if i == 20 else 1.0)  # one spike
...     opt.zero_grad(); loss.backward()
...     ok = guard.step(loss)
>>> [e["kind"] for e in guard.events], guard.step_count
(['spike'], 29)

References: Chowdhery et al. 2022, "PaLM", arXiv:2204.02311; Zhang et al. 2022,
"OPT", arXiv:2205.01068.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..tools.io import atomic_write_with
from .monitor import LossStats, _as_loss

__all__ = ["SpikeGuard"]

log = logging.getLogger("rampup.guard")

_SNAPSHOT_PREFIX = "rampup-guard-"


def _rng_state() -> dict[str, Any]:
    np_state: Any = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(s: Mapping[str, Any]) -> None:
    py = s["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = s["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(s["torch"])
    if s["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def _clone(x: Any) -> Any:
    # state_dicts hold tensors that the next update changes in place: copy them.
    if isinstance(x, Tensor):
        return x.detach().clone()
    if isinstance(x, dict):
        return {k: _clone(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clone(v) for v in x]
    if isinstance(x, tuple):
        return tuple(_clone(v) for v in x)
    return copy.deepcopy(x)


def _all_finite(tensors: list[Tensor]) -> bool:
    if not tensors:
        return True
    # The max-abs norm: NaN/inf propagate into it, and unlike the 2-norm it cannot overflow.
    norms = torch._foreach_norm(tensors, math.inf)
    return bool(torch.isfinite(torch.stack([n.float() for n in norms])).all())


class SpikeGuard:
    r"""Roll back to the last good snapshot on a loss spike or a non-finite loss/gradient/parameter.

    Args:
        model, optimizer: what is trained (their ``state_dict`` is snapshotted).
        scheduler: an LR scheduler with ``state_dict``/``load_state_dict`` (snapshotted) and,
            for the re-warmup, ``rewarm(length, start=...)`` (:class:`rampup.torch.WarmupScheduler`,
            :class:`rampup.torch.AutoWarmup`); ``None`` if there is none (then ``rewarm=None``).
        snapshot_every: good updates between snapshots.
        dir: a folder for on-disk snapshots (``None``: memory only).
        z: robust z-score above which a loss is a spike.
        ratio: optionally also flag ``loss > ratio × running median`` (e.g. 1.5).
        window: how many recent good losses the median/MAD use.
        min_history: losses needed before spikes are judged (non-finite values always are).
        rewarm: re-warmup length after a rollback (steps or ``"2%"``); ``None``: none.
        rewarm_start: the LR right after a rollback as a fraction of the scheduled LR.
        skip_batches: ``True``: the data goes on after a rollback (the batches since the
            snapshot are skipped, as in PaLM).  ``False``: the guard records in the event
            ``replay_from`` = the batch index to replay from; the loop rewinds its data.
        max_rollbacks: consecutive rollbacks without a new snapshot before a
            ``RuntimeError`` (the run does not recover).
        check_grads, check_params: look for non-finite gradients before, and parameters
            after, each update (one fused norm each).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any = None,
        *,
        snapshot_every: int = 100,
        dir: str | os.PathLike[str] | None = None,
        z: float = 6.0,
        ratio: float | None = None,
        window: int = 50,
        min_history: int = 10,
        rewarm: int | str | None = 20,
        rewarm_start: float = 0.1,
        skip_batches: bool = True,
        max_rollbacks: int = 5,
        check_grads: bool = True,
        check_params: bool = True,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model: got {type(model).__name__}; accepted: a torch.nn.Module")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer: got {type(optimizer).__name__}; accepted: a torch.optim.Optimizer")
        if scheduler is not None and not (hasattr(scheduler, "state_dict") and hasattr(scheduler, "load_state_dict")):
            raise TypeError(
                f"scheduler: got {type(scheduler).__name__}; accepted: None or an LR scheduler with "
                "state_dict()/load_state_dict()"
            )
        if rewarm is not None:
            if scheduler is None or not callable(getattr(scheduler, "rewarm", None)):
                raise TypeError(
                    f"rewarm={rewarm!r}: the scheduler ({type(scheduler).__name__}) has no rewarm(length, start=) "
                    "method; accepted: a rampup.torch.WarmupScheduler or AutoWarmup, or rewarm=None"
                )
            if isinstance(rewarm, bool) or not isinstance(rewarm, (int, str)):
                raise TypeError(f"rewarm: got {rewarm!r}; accepted: steps as an int, '2%', or None")
        for name, v, lo in (
            ("snapshot_every", snapshot_every, 1),
            ("min_history", min_history, 3),
            ("max_rollbacks", max_rollbacks, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}: got {v!r}; accepted: an int >= {lo}")
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not (z > 0 and math.isfinite(z)):
            raise ValueError(f"z: got {z!r}; accepted: a finite number > 0 (e.g. 6.0)")
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 1):
            raise ValueError(f"ratio: got {ratio!r}; accepted: None or a number > 1 (e.g. 1.5)")
        if isinstance(rewarm_start, bool) or not isinstance(rewarm_start, (int, float)) or not 0 <= rewarm_start <= 1:
            raise ValueError(f"rewarm_start: got {rewarm_start!r}; accepted: a fraction in [0, 1]")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.snapshot_every = snapshot_every
        self.dir = None if dir is None else os.fspath(dir)
        self.z, self.ratio = float(z), None if ratio is None else float(ratio)
        self.min_history = min_history
        self.rewarm_length, self.rewarm_start = rewarm, float(rewarm_start)
        self.skip_batches = bool(skip_batches)
        self.max_rollbacks = max_rollbacks
        self.check_grads, self.check_params = bool(check_grads), bool(check_params)
        self.stats = LossStats(window)
        self.step_count = 0  # good updates applied (restored on rollback)
        self.batch_index = 0  # batches seen (never restored: the data position)
        self.events: list[dict[str, Any]] = []
        self._snaps: list[dict[str, Any]] = []  # newest last; at most two
        self._files: list[str] = []
        self._since_snapshot_rollbacks = 0
        self._pending_ok = False
        if self.dir is not None:
            os.makedirs(self.dir, exist_ok=True)
        self.snapshot()

    # ---- snapshots ------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "step_count": self.step_count,
            "model": _clone(self.model.state_dict()),
            "optimizer": _clone(self.optimizer.state_dict()),
            "scheduler": None if self.scheduler is None else _clone(self.scheduler.state_dict()),
            "rng": _rng_state(),
            "stats": self.stats.state_dict(),
        }

    def snapshot(self) -> None:
        """Take a snapshot now (in memory; also on disk with ``dir``)."""
        snap = self._state()
        self._snaps = [*self._snaps[-1:], snap]
        self._since_snapshot_rollbacks = 0
        if self.dir is not None:
            path = os.path.join(self.dir, f"{_SNAPSHOT_PREFIX}{snap['step_count']:09d}.pt")
            atomic_write_with(path, lambda f: torch.save(snap, f), sync_dir=True)
            # Keep the newest two complete files; older ones go only now that the new one is whole.
            self._files = [f for f in self._files if f != path] + [path]
            while len(self._files) > 2:
                old = self._files.pop(0)
                if os.path.exists(old):
                    os.unlink(old)

    @staticmethod
    def load_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Read an on-disk snapshot (a dict: step_count, model, optimizer, scheduler, rng, stats)."""
        return torch.load(os.fspath(path), map_location="cpu", weights_only=False)

    @staticmethod
    def latest_snapshot(dir: str | os.PathLike[str]) -> str | None:
        """The newest complete snapshot file in ``dir`` (temporary files are never picked)."""
        d = os.fspath(dir)
        files = sorted(f for f in os.listdir(d) if f.startswith(_SNAPSHOT_PREFIX) and f.endswith(".pt"))
        return os.path.join(d, files[-1]) if files else None

    def _restore(self, snap: Mapping[str, Any]) -> None:
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(_clone(snap["optimizer"]))
        if self.scheduler is not None and snap["scheduler"] is not None:
            self.scheduler.load_state_dict(_clone(snap["scheduler"]))
        _set_rng_state(snap["rng"])
        self.stats.load_state_dict(snap["stats"])
        self.step_count = int(snap["step_count"])

    def resume(self, path: str | os.PathLike[str] | None = None) -> int:
        """Restore an on-disk snapshot (default: the newest in ``dir``); returns its step count."""
        if path is None:
            if self.dir is None:
                raise ValueError("resume: no path given and this guard has no dir; accepted: a snapshot path")
            path = self.latest_snapshot(self.dir)
            if path is None:
                raise ValueError(f"resume: no snapshot in {self.dir!r}")
        snap = self.load_snapshot(path)
        self._restore(snap)
        self._snaps = [snap]
        return self.step_count

    # ---- checks -----------------------------------------------------------------
    def check(self, loss: Any) -> bool:
        """Judge the loss and gradients of the coming update; ``False`` = anomaly, already rolled back.

        Call after ``loss.backward()`` and before ``optimizer.step()``; if it returns True,
        do the update and call :meth:`commit`.
        """
        self.batch_index += 1
        lv = _as_loss(loss)
        kind, z = None, math.nan
        if not math.isfinite(lv):
            kind = "nonfinite_loss"
        elif self.check_grads and not _all_finite(
            [p.grad for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        ):
            kind = "nonfinite_grad"
        elif len(self.stats) >= self.min_history:
            z = self.stats.z(lv)
            if z > self.z:
                kind = "spike"
            elif self.ratio is not None and lv > self.ratio * self.stats.median:
                kind = "spike"
        if kind is not None:
            self._recover(kind, lv, z)
            return False
        self.stats.add(lv)
        self._pending_ok = True
        return True

    def commit(self) -> bool:
        """After a checked update: verify the parameters, count the step, snapshot on schedule.

        Returns ``False`` (after rolling back) if a parameter became non-finite.
        """
        if not self._pending_ok:
            raise RuntimeError("commit: call check(loss) (which returned True) and do the update first")
        self._pending_ok = False
        if self.check_params and not _all_finite([p.detach() for p in self.model.parameters()]):
            self._recover("nonfinite_param", math.nan, math.nan)
            return False
        self.step_count += 1
        if self.step_count % self.snapshot_every == 0:
            self.snapshot()
        return True

    def step(self, loss: Any) -> bool:
        """``check(loss)``, then ``optimizer.step()``, ``scheduler.step()`` and :meth:`commit`.

        Returns ``True`` when the update was applied, ``False`` when the guard rolled back.
        """
        if not self.check(loss):
            return False
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return self.commit()

    def _recover(self, kind: str, loss: float, z: float) -> None:
        self._pending_ok = False
        self._since_snapshot_rollbacks += 1
        if self._since_snapshot_rollbacks > self.max_rollbacks:
            raise RuntimeError(
                f"SpikeGuard: {self._since_snapshot_rollbacks - 1} rollbacks since the last snapshot and another "
                f"{kind} at batch {self.batch_index}; the run does not recover (lower the LR or check the data)"
            )
        # A second anomaly before any new snapshot: the latest snapshot may already hold the
        # seed of the problem; go one further back when there is one.
        use_older = self._since_snapshot_rollbacks > 1 and len(self._snaps) > 1
        snap = self._snaps[0] if use_older else self._snaps[-1]
        if use_older:
            self._snaps = self._snaps[:1]
        at = self.step_count
        self.optimizer.zero_grad(set_to_none=True)
        self._restore(snap)
        ev: dict[str, Any] = {
            "kind": kind,
            "batch": self.batch_index - 1,
            "step": at,
            "loss": loss,
            "z": z,
            "rolled_back_to": self.step_count,
            "snapshot": "older" if use_older else "latest",
        }
        if not self.skip_batches:
            ev["replay_from"] = self.batch_index - 1 - (at - self.step_count)
        if self.rewarm_length is not None:
            self.scheduler.rewarm(self.rewarm_length, start=self.rewarm_start)
            ev["rewarm"] = {"length": self.rewarm_length, "start": self.rewarm_start}
        self.events.append(ev)
        log.warning(
            "SpikeGuard: %s at batch %d (step %d, loss %s, z %.3g): rolled back to step %d%s",
            kind,
            ev["batch"],
            at,
            loss,
            z,
            self.step_count,
            f", re-warming over {self.rewarm_length} steps from {self.rewarm_start:g}" if "rewarm" in ev else "",
        )

    def state_dict(self) -> dict[str, Any]:
        """Counters, events and the loss window (the snapshots themselves live in memory or ``dir``)."""
        return {
            "step_count": self.step_count,
            "batch_index": self.batch_index,
            "events": [dict(e) for e in self.events],
            "stats": self.stats.state_dict(),
        }

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        self.step_count = int(sd["step_count"])
        self.batch_index = int(sd["batch_index"])
        self.events = [dict(e) for e in sd["events"]]
        self.stats.load_state_dict(sd["stats"])
