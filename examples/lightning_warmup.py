"""PyTorch Lightning: return WarmupScheduler with ``interval: "step"`` from ``configure_optimizers``.

Lightning accepts it as a torch LR scheduler, steps it after every optimizer step and
stores its plain-data state in checkpoints.

Run: python examples/lightning_warmup.py
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from rampup.torch import WarmupScheduler


class TinyRegression(pl.LightningModule):
    def __init__(self, total_steps: int) -> None:
        super().__init__()
        self.net = torch.nn.Linear(8, 1)
        self.total_steps = total_steps
        self.lrs: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])  # the LR this update uses
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=1e-3)  # lr= is the peak
        sched = WarmupScheduler(opt, "linear(5) -> cosine(floor=0.1)", total_steps=self.total_steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def main(max_steps: int = 20) -> list[float]:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(64, 8), torch.randn(64, 1))
    model = TinyRegression(total_steps=max_steps)
    trainer = pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, DataLoader(data, batch_size=8))
    return model.lrs


if __name__ == "__main__":
    print(main())
