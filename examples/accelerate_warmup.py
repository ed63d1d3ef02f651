"""Hugging Face Accelerate: ``accelerator.prepare(..., scheduler)`` and step it after the optimizer.

A prepared scheduler is stepped ``num_processes`` times per optimizer step unless
``Accelerator(split_batches=True)`` (Accelerate's convention, so that per-process
schedules advance by the global batch): with N processes, build the schedule with
``total_steps = updates * N``, or keep the scheduler out of ``prepare``.

Run: python examples/accelerate_warmup.py
"""

from __future__ import annotations

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, TensorDataset

from rampup.torch import WarmupScheduler


def main(steps: int = 20) -> list[float]:
    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(8, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)  # lr= is the peak
    sched = WarmupScheduler(opt, "linear(5) -> cosine(floor=0.1)", total_steps=steps * accelerator.num_processes)
    data = DataLoader(TensorDataset(torch.randn(8 * steps, 8), torch.randn(8 * steps, 1)), batch_size=8)
    model, opt, data, sched = accelerator.prepare(model, opt, data, sched)
    lrs = []
    for x, y in data:
        loss = torch.nn.functional.mse_loss(model(x), y)
        accelerator.backward(loss)
        lrs.append(opt.param_groups[0]["lr"])  # the LR this update uses
        opt.step()
        sched.step()
        opt.zero_grad()
    return lrs


if __name__ == "__main__":
    print(main())
