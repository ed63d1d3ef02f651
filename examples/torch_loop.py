"""Plain PyTorch: warmup + cosine with WarmupScheduler, a checkpoint, and a bit-identical resume.

Run: python examples/torch_loop.py
"""

from __future__ import annotations

import io

import torch

from rampup.torch import WarmupScheduler

SPEC = "linear(10%) -> cosine(floor=0.1)"  # 10 % of the run to reach the peak, then cosine to 0.1 x peak


def make(model: torch.nn.Module, total_steps: int) -> tuple[torch.optim.Optimizer, WarmupScheduler]:
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)  # lr= is the peak
    sched = WarmupScheduler(opt, SPEC, total_steps=total_steps)
    return opt, sched


def train(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: WarmupScheduler, steps: range) -> list[float]:
    lrs = []
    for step in steps:
        x = torch.randn(16, 8, generator=torch.Generator().manual_seed(step))
        loss = model(x).square().mean()
        lrs.append(opt.param_groups[0]["lr"])  # the LR this update uses
        loss.backward()
        opt.step()
        opt.zero_grad()
        sched.step()  # after optimizer.step(), once per update
    return lrs


def main(total_steps: int = 40, cut: int = 15) -> list[float]:
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    opt, sched = make(model, total_steps)
    lrs = train(model, opt, sched, range(cut))

    # Checkpoint: the scheduler state is plain data (torch.save, JSON, weights_only loads).
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)

    # Resume in a "new process": rebuild everything the same way, then load.
    model = torch.nn.Linear(8, 1)
    model.load_state_dict(state["model"])
    opt, sched = make(model, total_steps)
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    lrs += train(model, opt, sched, range(cut, total_steps))
    return lrs


if __name__ == "__main__":
    for t, lr in enumerate(main()):
        print(f"update {t + 1:3d}  lr {lr:.3e}")
