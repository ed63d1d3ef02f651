r"""``SpikeGuard``: skip a bad batch, roll back damaged weights, re-warm, go on.

Two recoveries from the large-model reports, each where it fits:

* **Skip** (PaLM, Chowdhery et al. 2022, §5.1, restarted about 100 steps before a spike
  and skipped 200–500 batches: a spike came from particular batches *in combination
  with* the model state, and did not recur once those batches were not replayed).  An
  anomaly seen *before* the update — a non-finite loss or gradient, or a loss **spike**,
  a robust z-score ``z = (ℓ − median) / (1.4826·MAD) > z`` against the last ``window``
  good losses (and, with ``ratio``, ``ℓ > ratio × median``) — means the weights were
  never touched: the guard clears the gradients and the update is not applied, as
  ``torch.amp.GradScaler`` skips an overflowed step.  The scheduler does not step (the
  LR schedule counts applied updates); the data goes on.
* **Roll back** (OPT-175B, Zhang et al. 2022, §2.5: restart from an earlier checkpoint
  with a lower LR).  Only damage that reached the weights is rolled back: a non-finite
  parameter after an update, or a spike *pattern* — more than ``max_skips`` anomalies in
  a row, which one bad batch cannot explain (skips leave the weights as they are, so a
  model whose loss is high on every batch was damaged by an earlier update).  The guard
  restores the last snapshot (the one before it if the trouble recurs before a new
  snapshot was taken, and then deletes the rejected newer snapshot so that no restart
  resumes from it) and calls ``scheduler.rewarm(rewarm, start=rewarm_start)`` so the LR
  ramps up again from a lower value.  The RNG states are **not** restored: the data
  stream goes on (a loop that draws batches from the global RNG would otherwise redraw
  the same bad batches for ever).  More than ``max_rollbacks`` rollbacks within
  ``rollback_window`` batches raise a ``RuntimeError``: the run does not recover.

Every ``snapshot_every`` applied updates the guard takes a **snapshot**: model,
optimizer and scheduler ``state_dict``\ s, the RNG states (Python, NumPy, torch CPU and
CUDA; used by :meth:`SpikeGuard.resume` only), its loss window and an attached monitor's
— in memory, and also on disk when ``dir`` is given (``torch.save`` to a temporary file,
``fsync``, ``os.replace``, folder ``fsync``; the newest two complete files are kept, and
the older one is deleted only after the new one is complete, so a crash at any moment
leaves a complete snapshot).  A new guard on a folder removes the temporary files a
killed process left and keeps the newest two snapshots; if the folder holds snapshots it
writes nothing there and refuses to :meth:`~SpikeGuard.check` until
:meth:`~SpikeGuard.resume` is called (a restart is ``SpikeGuard(..., dir=d)`` then
``guard.resume()``, which on an empty folder resumes the step-0 snapshot just taken).  A full disk (``ENOSPC``,
``EDQUOT``) does not stop the run: the snapshot stays in memory, the disk keeps the
previous complete files, and a warning says so.

Every intervention is appended to :attr:`SpikeGuard.events` (``action`` ``"skip"`` or
``"rollback"``) and logged as a warning on the ``rampup.guard`` logger; with
``monitor=`` the :class:`rampup.torch.Monitor` rows say the same (``status``).

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
>>> [(e["kind"], e["action"]) for e in guard.events], guard.step_count
([('spike', 'skip')], 29)

References: Chowdhery et al. 2022, "PaLM", arXiv:2204.02311; Zhang et al. 2022,
"OPT", arXiv:2205.01068.
"""

from __future__ import annotations

import collections
import copy
import errno
import logging
import math
import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..support.io import atomic_write_with, fsync_dir
from .stats import LossStats, as_loss

__all__ = ["SpikeGuard"]

log = logging.getLogger("rampup.guard")

_SNAPSHOT_PREFIX = "rampup-guard-"
_KEEP = 2  # complete snapshot files kept on disk
# What a full disk or an exhausted quota raises: the run goes on without that file.
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _snapshot_files(d: str) -> list[tuple[int, str]]:
    """``(step, path)`` of the complete snapshot files in ``d``, oldest first."""
    out = []
    for f in os.listdir(d):
        if f.startswith(_SNAPSHOT_PREFIX) and f.endswith(".pt"):
            core = f[len(_SNAPSHOT_PREFIX) : -len(".pt")]
            if core.isdigit():
                out.append((int(core), os.path.join(d, f)))
    return sorted(out)


def _stale_temporaries(d: str) -> list[str]:
    # atomic_write_with's temporary names: ".tmp-<random><final name>"
    return [os.path.join(d, f) for f in os.listdir(d) if f.startswith(".tmp-") and _SNAPSHOT_PREFIX in f]


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
    r"""Skip a batch with a spike or a non-finite loss/gradient; roll back damaged weights.

    Args:
        model, optimizer: what is trained (their ``state_dict`` is snapshotted).
        scheduler: an LR scheduler with ``state_dict``/``load_state_dict`` (snapshotted) and,
            for the re-warmup, ``rewarm(length, start=...)`` (:class:`rampup.torch.WarmupScheduler`,
            :class:`rampup.torch.AutoWarmup`); ``None`` if there is none (then ``rewarm=None``).
        snapshot_every: applied updates between snapshots.
        dir: a folder for on-disk snapshots (``None``: memory only).  One guard per folder
            (under DDP give it on one rank only).
        z: robust z-score above which a loss is a spike.
        ratio: optionally also flag ``loss > ratio × running median`` (e.g. 1.5).
        window: how many recent good losses the median/MAD use.
        min_history: losses needed before spikes are judged (non-finite values always are).
        max_skips: anomalous batches in a row that are skipped; the next one in a row is taken
            as damage to the weights and rolls back (``0``: every anomaly rolls back).
        rewarm: re-warmup length after a rollback (steps or ``"2%"``); ``None``: none.
        rewarm_start: the LR right after a rollback as a fraction of the scheduled LR.
        skip_batches: ``True``: the data goes on after a rollback.  ``False``: a rollback
            event also carries ``replay_from``, the batch index to rewind the data to (the
            guard itself never rewinds anything).
        max_rollbacks: rollbacks allowed within ``rollback_window`` batches; one more raises a
            ``RuntimeError`` (the run does not recover).
        rollback_window: the window of ``max_rollbacks``, in batches (``check`` calls, which
            a rollback does not rewind); ``None``: ``20 × snapshot_every``.
        check_grads, check_params: look for non-finite gradients before, and parameters
            after, each update (one fused norm each).
        monitor: a :class:`rampup.torch.Monitor` to keep in line: a skipped batch gets a row
            with ``status`` ``"skipped"``, a rollback marks the rows of the undone updates
            ``"rolled_back"`` and the monitor counts on from the restored update.
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
        max_skips: int = 5,
        rewarm: int | str | None = 20,
        rewarm_start: float = 0.1,
        skip_batches: bool = True,
        max_rollbacks: int = 5,
        rollback_window: int | None = None,
        check_grads: bool = True,
        check_params: bool = True,
        monitor: Any = None,
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
        if rollback_window is None and isinstance(snapshot_every, int):
            rollback_window = 20 * snapshot_every
        for name, v, lo in (
            ("snapshot_every", snapshot_every, 1),
            ("min_history", min_history, 3),
            ("max_skips", max_skips, 0),
            ("max_rollbacks", max_rollbacks, 1),
            ("rollback_window", rollback_window, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}: got {v!r}; accepted: an int >= {lo}")
        if isinstance(z, bool) or not isinstance(z, (int, float)) or not (z > 0 and math.isfinite(z)):
            raise ValueError(f"z: got {z!r}; accepted: a finite number > 0 (e.g. 6.0)")
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 1):
            raise ValueError(f"ratio: got {ratio!r}; accepted: None or a number > 1 (e.g. 1.5)")
        if isinstance(rewarm_start, bool) or not isinstance(rewarm_start, (int, float)) or not 0 <= rewarm_start <= 1:
            raise ValueError(f"rewarm_start: got {rewarm_start!r}; accepted: a fraction in [0, 1]")
        if monitor is not None and not all(callable(getattr(monitor, m, None)) for m in ("skip", "rollback")):
            raise TypeError(f"monitor: got {type(monitor).__name__}; accepted: None or a rampup.torch.Monitor")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.monitor = monitor
        self.snapshot_every = snapshot_every
        self.dir = None if dir is None else os.fspath(dir)
        self.z, self.ratio = float(z), None if ratio is None else float(ratio)
        self.min_history = min_history
        self.max_skips = max_skips
        self.rewarm_length, self.rewarm_start = rewarm, float(rewarm_start)
        self.skip_batches = bool(skip_batches)
        self.max_rollbacks, self.rollback_window = max_rollbacks, int(rollback_window)  # type: ignore[arg-type]
        self.check_grads, self.check_params = bool(check_grads), bool(check_params)
        self.stats = LossStats(window)
        self.step_count = 0  # updates applied and kept (restored on rollback)
        self.batch_index = 0  # batches seen (never restored: the data position)
        self.events: list[dict[str, Any]] = []
        self.disk_errors: list[str] = []  # snapshot writes a full disk refused (the run went on)
        self._snaps: list[dict[str, Any]] = []  # newest last; at most two
        self._files: list[str] = []  # this guard's complete snapshot files, oldest first
        self._rollbacks_since_snapshot = 0
        self._rollback_batches: collections.deque[int] = collections.deque()
        self._anomalies_in_a_row = 0
        self._pending_ok = False
        self._pending_loss = math.nan
        self._unresumed: tuple[int, str] | None = None  # an earlier run's newest snapshot, not yet resumed
        if self.dir is not None:
            os.makedirs(self.dir, exist_ok=True)
            found = self._tidy_dir()
            if found:
                # A restart: the folder belongs to a run this guard should continue (resume()).
                # Its own step-0 snapshot must not land among that run's files.
                self._files = [p for _, p in found]
                self._unresumed = found[-1]
                self._snaps = [self._state()]
                return
        self.snapshot()

    # ---- snapshots ------------------------------------------------------------
    def _tidy_dir(self) -> list[tuple[int, str]]:
        """Remove a killed writer's temporary files and all but the newest ``_KEEP`` snapshots."""
        assert self.dir is not None
        for tmp in _stale_temporaries(self.dir):
            log.info("SpikeGuard: removing %s, a snapshot a stopped process did not finish", tmp)
            os.unlink(tmp)
        found = _snapshot_files(self.dir)
        for _, old in found[:-_KEEP]:
            os.unlink(old)
        return found[-_KEEP:]

    def _monitor_state(self, pending_loss: float | None) -> dict[str, Any] | None:
        if self.monitor is None:
            return None
        # A snapshot taken in commit() comes before the loop's monitor.step(loss) for that update:
        # the monitor's window is saved as it will be once that loss is in.
        stats = LossStats(self.monitor.loss_stats.window)
        stats.load_state_dict(self.monitor.loss_stats.state_dict())
        if pending_loss is not None:
            stats.add(pending_loss)
        return {"loss_stats": stats.state_dict()}

    def _state(self, pending_loss: float | None = None) -> dict[str, Any]:
        return {
            "step_count": self.step_count,
            "model": _clone(self.model.state_dict()),
            "optimizer": _clone(self.optimizer.state_dict()),
            "scheduler": None if self.scheduler is None else _clone(self.scheduler.state_dict()),
            "rng": _rng_state(),
            "stats": self.stats.state_dict(),
            "monitor": self._monitor_state(pending_loss),
        }

    def _path(self, step: int) -> str:
        assert self.dir is not None
        return os.path.join(self.dir, f"{_SNAPSHOT_PREFIX}{step:09d}.pt")

    def snapshot(self) -> None:
        """Take a snapshot now (in memory; also on disk with ``dir``).

        On disk: a full disk (``ENOSPC``/``EDQUOT``) is logged and recorded in
        :attr:`disk_errors`, the previous complete files stay, and the run goes on with the
        snapshot in memory; any other ``OSError`` is raised.
        """
        self._snapshot(None)

    def _snapshot(self, pending_loss: float | None) -> None:
        snap = self._state(pending_loss)
        self._snaps = [*self._snaps[-1:], snap]
        self._rollbacks_since_snapshot = 0
        if self.dir is None:
            return
        path = self._path(snap["step_count"])
        try:
            # a temporary file, fsync, os.replace, folder fsync: the file is whole or absent
            atomic_write_with(path, lambda f: torch.save(snap, f), sync_dir=True)
        except OSError as e:
            if e.errno not in _DISK_FULL:
                raise
            msg = f"step {snap['step_count']}: {e}"
            self.disk_errors.append(msg)
            log.warning(
                "SpikeGuard: could not write the snapshot of %s (disk full); it is kept in memory, the newest "
                "complete file on disk is still %s",
                msg,
                self._files[-1] if self._files else "none",
            )
            return
        # Keep the newest complete files; older ones go only now that the new one is whole.
        self._files = [f for f in self._files if f != path] + [path]
        while len(self._files) > _KEEP:
            old = self._files.pop(0)
            if os.path.exists(old):
                os.unlink(old)

    def _reject(self, snap: Mapping[str, Any], keep: Mapping[str, Any]) -> None:
        """Delete the file of a snapshot the guard rolled back past: no restart may resume from it."""
        if self.dir is None or snap["step_count"] == keep["step_count"]:
            return
        path = self._path(int(snap["step_count"]))
        if path in self._files:
            self._files.remove(path)
        if os.path.exists(path):
            os.unlink(path)
            fsync_dir(self.dir)  # the deletion is durable before training goes on from the older one

    @staticmethod
    def load_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Read an on-disk snapshot (a dict: step_count, model, optimizer, scheduler, rng, stats, monitor)."""
        return torch.load(os.fspath(path), map_location="cpu", weights_only=False)

    @staticmethod
    def latest_snapshot(dir: str | os.PathLike[str]) -> str | None:
        """The newest complete snapshot file in ``dir`` (temporary files are never picked).

        A snapshot the guard rolled back past is deleted when it rolls back, so it is never
        the newest.
        """
        found = _snapshot_files(os.fspath(dir))
        return found[-1][1] if found else None

    def _restore(self, snap: Mapping[str, Any]) -> None:
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(_clone(snap["optimizer"]))
        if self.scheduler is not None and snap["scheduler"] is not None:
            self.scheduler.load_state_dict(_clone(snap["scheduler"]))
        self.stats.load_state_dict(snap["stats"])
        self.step_count = int(snap["step_count"])

    def _monitor_rollback(self, snap: Mapping[str, Any], loss: float | None = None, kind: str | None = None) -> None:
        if self.monitor is None:
            return
        self.monitor.rollback(self.step_count, loss=loss, reason=kind)
        if snap.get("monitor") is not None:
            self.monitor.loss_stats.load_state_dict(snap["monitor"]["loss_stats"])

    def resume(self, path: str | os.PathLike[str] | None = None) -> int:
        """Restore an on-disk snapshot (default: the newest in ``dir``), RNG states included; returns its step.

        With ``dir``, the folder is tidied (a killed writer's temporary files removed, the newest
        two snapshots kept); resuming an older file of ``dir`` deletes the newer ones there (that
        future was abandoned: a later restart must not resume from it).  An attached monitor
        marks its rows after the snapshot ``rolled_back`` (the crashed process wrote them) and
        counts on from there.
        """
        if path is None:
            if self.dir is None:
                raise ValueError("resume: no path given and this guard has no dir; accepted: a snapshot path")
            path = self.latest_snapshot(self.dir)
            if path is None:
                raise ValueError(f"resume: no snapshot in {self.dir!r}")
        snap = self.load_snapshot(path)
        if self.dir is not None:
            if os.path.dirname(os.path.abspath(path)) == os.path.abspath(self.dir):
                for step, newer in _snapshot_files(self.dir):
                    if step > int(snap["step_count"]):
                        log.warning(
                            "SpikeGuard: resumed from step %d; deleting the newer %s", snap["step_count"], newer
                        )
                        os.unlink(newer)
            self._files = [p for _, p in self._tidy_dir()]
        self._restore(snap)
        _set_rng_state(snap["rng"])  # a restart continues the data stream where the snapshot was
        self._snaps = [snap]
        self._unresumed = None
        self._rollbacks_since_snapshot = 0
        self._anomalies_in_a_row = 0
        self._pending_ok = False
        self._monitor_rollback(snap)
        return self.step_count

    # ---- checks -----------------------------------------------------------------
    def check(self, loss: Any) -> bool:
        """Judge the loss and gradients of the coming update; ``False``: do not update (skipped or rolled back).

        Call after ``loss.backward()`` and before ``optimizer.step()``; if it returns True,
        do the update and call :meth:`commit`.  On ``False`` the gradients are already
        cleared (set to ``None``), so an ``optimizer.step()`` would change nothing.
        """
        if self._unresumed is not None:
            step, path = self._unresumed
            raise ValueError(
                f"dir: {self.dir!r} holds the snapshots of an earlier run (newest: step {step}, {path}); "
                "accepted: call guard.resume() before training to continue that run, or give a new run "
                "an empty dir"
            )
        self.batch_index += 1
        lv = as_loss(loss)
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
        if kind is None:
            self._anomalies_in_a_row = 0
            self.stats.add(lv)
            self._pending_ok, self._pending_loss = True, lv
            return True
        self._pending_ok = False
        self._anomalies_in_a_row += 1
        self.optimizer.zero_grad(set_to_none=True)
        if self._anomalies_in_a_row > self.max_skips:
            self._rollback(kind, lv, z)  # a pattern one batch cannot explain: the weights are damaged
        else:
            self._skip(kind, lv, z)
        return False

    def commit(self) -> bool:
        """After a checked update: verify the parameters, count the step, snapshot on schedule.

        Returns ``False`` (after rolling back) if a parameter became non-finite.
        """
        if not self._pending_ok:
            raise RuntimeError("commit: call check(loss) (which returned True) and do the update first")
        self._pending_ok = False
        if self.check_params and not _all_finite([p.detach() for p in self.model.parameters()]):
            self.optimizer.zero_grad(set_to_none=True)
            self._rollback("nonfinite_param", self._pending_loss, math.nan)
            return False
        self.step_count += 1
        if self.step_count % self.snapshot_every == 0:
            self._snapshot(self._pending_loss)
        return True

    def step(self, loss: Any) -> bool:
        """``check(loss)``, then ``optimizer.step()``, ``scheduler.step()`` and :meth:`commit`.

        Returns ``True`` when the update was applied, ``False`` when it was skipped or rolled back
        (then neither the optimizer nor the scheduler stepped).
        """
        if not self.check(loss):
            return False
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return self.commit()

    def _skip(self, kind: str, loss: float, z: float) -> None:
        ev: dict[str, Any] = {
            "kind": kind,
            "action": "skip",
            "batch": self.batch_index - 1,
            "step": self.step_count,
            "loss": loss,
            "z": z,
        }
        self.events.append(ev)
        if self.monitor is not None:
            self.monitor.skip(loss, reason=kind)
        log.warning(
            "SpikeGuard: %s at batch %d (step %d, loss %s, z %.3g): update skipped (%d in a row; %d more roll back)",
            kind,
            ev["batch"],
            self.step_count,
            loss,
            z,
            self._anomalies_in_a_row,
            self.max_skips - self._anomalies_in_a_row + 1,
        )

    def _rollback(self, kind: str, loss: float, z: float) -> None:
        now = self.batch_index
        self._rollback_batches.append(now)
        while self._rollback_batches[0] <= now - self.rollback_window:
            self._rollback_batches.popleft()
        if len(self._rollback_batches) > self.max_rollbacks:
            raise RuntimeError(
                f"SpikeGuard: {len(self._rollback_batches)} rollbacks within the last {self.rollback_window} "
                f"batches (max_rollbacks={self.max_rollbacks}), the last for a {kind} at batch {now - 1}; the run "
                "does not recover (lower the LR or check the data)"
            )
        self._anomalies_in_a_row = 0
        # Trouble again before any new snapshot: the latest snapshot may already hold its seed;
        # go one further back when there is one, and reject (delete) the newer one.
        use_older = self._rollbacks_since_snapshot > 0 and len(self._snaps) > 1
        self._rollbacks_since_snapshot += 1
        if use_older:
            self._reject(self._snaps[-1], self._snaps[0])
            self._snaps = self._snaps[:1]
        snap = self._snaps[-1]
        at = self.step_count
        self._restore(snap)  # the RNG states are not restored: the data stream goes on
        ev: dict[str, Any] = {
            "kind": kind,
            "action": "rollback",
            "batch": now - 1,
            "step": at,
            "loss": loss,
            "z": z,
            "rolled_back_to": self.step_count,
            "snapshot": "older" if use_older else "latest",
        }
        if not self.skip_batches:
            ev["replay_from"] = now - 1 - (at - self.step_count)
        if self.rewarm_length is not None:
            self.scheduler.rewarm(self.rewarm_length, start=self.rewarm_start)
            ev["rewarm"] = {"length": self.rewarm_length, "start": self.rewarm_start}
        self.events.append(ev)
        self._monitor_rollback(snap, loss, kind)
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
            "rollback_batches": list(self._rollback_batches),
            "anomalies_in_a_row": self._anomalies_in_a_row,
        }

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        self.step_count = int(sd["step_count"])
        self.batch_index = int(sd["batch_index"])
        self.events = [dict(e) for e in sd["events"]]
        self.stats.load_state_dict(sd["stats"])
        # (absent from the state of a guard before the skip/rollback split)
        self._rollback_batches = collections.deque(int(b) for b in sd.get("rollback_batches", []))
        self._anomalies_in_a_row = int(sd.get("anomalies_in_a_row", 0))
