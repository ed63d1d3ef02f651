"""Hugging Face Trainer: pass ``optimizers=(optimizer, WarmupScheduler(...))``.

The Trainer steps the scheduler after every optimizer step (not when a mixed-precision
step was skipped), logs ``get_last_lr()`` and saves/loads its state with
``torch.load(weights_only=True)``, which the plain-data state passes.

Run: python examples/hf_trainer_warmup.py
"""

from __future__ import annotations

import tempfile
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from rampup.torch import WarmupScheduler


class TinyRegression(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": torch.nn.functional.mse_loss(self.net(x), labels)}


class RecordLR(TrainerCallback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.lrs.append(kwargs["optimizer"].param_groups[0]["lr"])  # the LR this update uses


def main(max_steps: int = 20) -> list[float]:
    torch.manual_seed(0)
    data = [{"x": torch.randn(8), "labels": torch.randn(1)} for _ in range(64)]
    model = TinyRegression()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)  # lr= is the peak
    sched = WarmupScheduler(opt, "linear(5) -> cosine(floor=0.1)", total_steps=max_steps)
    record = RecordLR()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            max_steps=max_steps,
            per_device_train_batch_size=8,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
        )
        Trainer(model=model, args=args, train_dataset=data, optimizers=(opt, sched), callbacks=[record]).train()
    return record.lrs


if __name__ == "__main__":
    print(main())
