"""Monitor, AutoWarmup and SpikeGuard inside the Hugging Face ``Trainer`` and Lightning.

* :func:`hf_callback` — a ``transformers.TrainerCallback``.  Pass the AutoWarmup as the
  trainer's scheduler (``Trainer(..., optimizers=(opt, auto))``) and the callback with
  the same objects.  The loss of each step is read from the model's output (a forward
  hook picks up ``output["loss"]``, as the Trainer computes it when the batch has
  labels).  Before ``optimizer.step()`` the guard judges the loss and gradients; on an
  anomaly it skips the update (or rolls back) and clears the gradients, so the Trainer's
  ``optimizer.step()`` changes nothing (torch optimizers skip parameters without a
  gradient), and the scheduler step the Trainer takes next is undone.  The monitor is
  attached to the guard, so its rows mark skipped and rolled-back updates.
* :func:`lightning_callback` — a ``lightning.pytorch.Callback`` feeding the monitor and,
  for the loss-based methods, the AutoWarmup.  The loss is read in
  ``on_before_backward`` (times ``accumulate_grad_batches``, which Lightning divided it
  by; the mean over the accumulated micro-batches) and handed to the controller in
  ``on_before_optimizer_step`` — before the update and before Lightning steps the
  scheduler, so the controller sees the loss of update ``t`` at update ``t``, as in a
  plain loop (tested: the same LRs bit for bit).  The monitor is stepped in
  ``on_train_batch_end`` of batches that ended with an optimizer update.  With several
  optimizers (manual optimization) only the steps of the controller's optimizer consume the
  losses (all backward passes since its previous step: for a GAN-like loop, feed the
  controller yourself with ``auto.observe(loss)``); under manual optimization the loss is
  taken as passed to ``manual_backward`` (a loss you divided for accumulation is reported
  divided).  For the spike guard in Lightning use manual optimization and call
  ``guard.step(loss)`` in ``training_step`` (see ``docs/auto.md``).

``transformers`` and ``lightning`` are imported only when these functions are called.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["hf_callback", "lightning_callback"]


def _loss_of(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output if output.ndim == 0 else None
    if isinstance(output, dict) and output.get("loss") is not None:
        return output["loss"]
    loss = getattr(output, "loss", None)
    return loss if isinstance(loss, torch.Tensor) else None


def hf_callback(monitor: Any = None, auto: Any = None, guard: Any = None) -> Any:
    """A ``transformers.TrainerCallback`` driving a Monitor, an AutoWarmup's loss input and a SpikeGuard.

    >>> cb = hf_callback()  # doctest: +SKIP
    """
    try:
        from transformers import TrainerCallback
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"hf_callback needs transformers: pip install transformers ({e})") from e

    class RampupHFCallback(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.monitor, self.auto, self.guard = monitor, auto, guard
            if guard is not None and monitor is not None and getattr(guard, "monitor", None) is None:
                guard.monitor = monitor  # its rows then mark the skipped and rolled-back updates
            self._losses: list[torch.Tensor] = []
            self._hook: Any = None
            self._loss: float | None = None
            self._undo_sched: Any = None
            self._rejected = False

        def _capture(self, module: Any, inputs: Any, output: Any) -> None:
            loss = _loss_of(output)
            if loss is not None and module.training:
                self._losses.append(loss.detach())

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if model is not None and self._hook is None:
                self._hook = model.register_forward_hook(self._capture)

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self._hook is not None:
                self._hook.remove()
                self._hook = None

        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            losses, self._losses = self._losses, []
            self._loss = float(torch.stack(losses).float().mean()) if losses else None
            self._undo_sched = None
            if self.guard is not None and self._loss is not None and not self.guard.check(self._loss):
                for g in self.guard.optimizer.param_groups:
                    for p in g["params"]:
                        p.grad = None  # the Trainer's optimizer.step() is now a no-op
                if self.guard.scheduler is not None:
                    self._undo_sched = self.guard.scheduler.state_dict()
                self._rejected = True
                return
            if self.auto is not None and self._loss is not None and not self.auto.done:
                self.auto.observe(self._loss)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self._rejected:
                self._rejected = False
                if self._undo_sched is not None:
                    self.guard.scheduler.load_state_dict(self._undo_sched)  # undo the Trainer's scheduler.step()
                    self._undo_sched = None
                if self.monitor is not None:
                    # After the Trainer's no-op optimizer.step(): forget what the probe saw there
                    # (Δw = 0, no gradients) and measure the next real update.
                    self.monitor.discard()
                return
            if self.guard is not None and self._loss is not None:
                if not self.guard.commit():
                    return
            if self.monitor is not None:
                self.monitor.step(self._loss)

    return RampupHFCallback()


def lightning_callback(monitor: Any = None, auto: Any = None) -> Any:
    """A ``lightning.pytorch.Callback`` feeding a Monitor and an AutoWarmup from ``training_step``'s loss."""
    try:
        from lightning.pytorch import Callback
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"lightning_callback needs lightning: pip install lightning ({e})") from e

    class RampupLightningCallback(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.monitor, self.auto = monitor, auto
            self._losses: list[torch.Tensor] = []
            self._loss: float | None = None
            self._seen_step: int | None = None  # trainer.global_step at the last monitor row

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self._seen_step = trainer.global_step  # a resumed fit starts from its restored step
            self._losses, self._loss = [], None

        def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
            # Automatic optimization divides the loss by accumulate_grad_batches before backward.
            scale = trainer.accumulate_grad_batches if pl_module.automatic_optimization else 1
            self._losses.append(loss.detach().float() * scale)

        def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
            # With several optimizers (manual optimization), only the step of the optimizer the
            # controller (or else the monitor) drives consumes the losses seen since its last step.
            target = self.auto.optimizer if self.auto is not None else getattr(self.monitor, "optimizer", None)
            if target is not None and getattr(optimizer, "_optimizer", optimizer) is not target:
                return
            losses, self._losses = self._losses, []
            # One host read per update (the controller needs the number anyway).
            self._loss = float(torch.stack(losses).mean()) if losses else None
            if self.auto is not None and self._loss is not None and not self.auto.done:
                if self.auto.policy.needs_loss:
                    self.auto.observe(self._loss)

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if trainer.global_step == self._seen_step:  # no optimizer update in this batch (accumulation)
                return
            self._seen_step = trainer.global_step
            if self.monitor is not None:
                self.monitor.step(self._loss)
            self._loss = None

    return RampupLightningCallback()
