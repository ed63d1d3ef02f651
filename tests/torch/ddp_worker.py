"""One DDP rank for test_ddp.py: train, checkpoint on rank 0, resume on every rank.

Run as ``python -m tests.torch.ddp_worker`` with RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT (as torchrun sets them) and RAMPUP_TEST_DIR (checkpoint and results).
"""

from __future__ import annotations

import gc
import json
import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from rampup.torch import WarmupScheduler

STEPS, CUT = 20, 9


def make(model: DDP) -> tuple[torch.optim.Optimizer, WarmupScheduler]:
    net: Any = model.module
    opt = torch.optim.AdamW(
        [{"params": [net.weight], "lr": 1e-2}, {"params": [net.bias], "lr": torch.tensor(1e-3)}], weight_decay=0.1
    )
    sched = WarmupScheduler(
        opt,
        "linear(5) -> cosine(floor=0.1)",
        total_steps=STEPS,
        group_schedules=[None, "linear(2) -> constant"],
        weight_decay="lr",
    )
    return opt, sched


def train(
    model: DDP, opt: torch.optim.Optimizer, sched: WarmupScheduler, rank: int, start: int, ckpt: str | None
) -> list[list[float]]:
    lrs = []
    for step in range(start, STEPS):
        gen = torch.Generator().manual_seed(1000 * rank + step)  # each rank sees its own data
        x = torch.randn(8, 4, generator=gen)
        model(x).square().mean().backward()
        lrs.append([float(g["lr"]) for g in opt.param_groups] + [float(g["weight_decay"]) for g in opt.param_groups])
        opt.step()
        opt.zero_grad()
        sched.step()
        if ckpt is not None and step == CUT and rank == 0:
            state = {"model": model.module.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
            torch.save(state, ckpt)
    return lrs


def main() -> None:
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    out = os.environ["RAMPUP_TEST_DIR"]
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    torch.manual_seed(0)
    model = DDP(torch.nn.Linear(4, 2))
    opt, sched = make(model)
    ckpt = os.path.join(out, "ckpt.pt")
    full = train(model, opt, sched, rank, 0, ckpt)
    dist.barrier()  # rank 0 has written the checkpoint

    state = torch.load(ckpt, weights_only=True)
    torch.manual_seed(1)  # a different init: everything must come from the checkpoint
    model2 = DDP(torch.nn.Linear(4, 2))
    model2.module.load_state_dict(state["model"])
    opt2, sched2 = make(model2)
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    resumed = train(model2, opt2, sched2, rank, CUT + 1, None)
    result = {
        "full": full,
        "resumed": resumed,
        "weight": model.module.weight.flatten().tolist(),
        "weight_resumed": model2.module.weight.flatten().tolist(),
    }
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    # Orderly gloo shutdown (see tests/torch/test_auto_ddp.py): free the DDP modules, which hold the
    # process group, and let no rank tear down its connections while the other is in a collective.
    del model, model2, opt, opt2, sched, sched2
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
