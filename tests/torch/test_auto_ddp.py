"""AutoWarmup under DDP: two gloo processes on 127.0.0.1 take the same decisions."""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

STEPS = 24
DEADLINE_S = 120  # a hung rank fails the test instead of stalling CI


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    out = {str(reduce): _train(rank, reduce) for reduce in ("auto", False)}
    with open(os.path.join(folder, f"rank{rank}.json"), "w") as f:
        json.dump(out, f)
    # Orderly gloo shutdown, after a CI run where rank 0 aborted at exit ("terminate called
    # without an active exception"): no rank tears down its connections while the other is
    # still in a collective (the barrier), and DDP modules left in reference cycles, which hold
    # the process group, are freed now rather than during interpreter finalization.
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


def _train(rank: int, reduce: object, method: str = "loss") -> dict:
    from rampup.torch.auto import AutoWarmup

    torch.manual_seed(0)  # the same initial weights on both ranks
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=0.05)
    sched = AutoWarmup(
        opt, then="constant", total_steps=100, method=method, interval=2, max_warmup=20, min_warmup=2, reduce=reduce
    )  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(100 + rank)
    losses = []
    for t in range(STEPS):
        x = torch.randn(16, 4, generator=g)
        # rank 1 sees noisy, shifting targets: its own loss would lead to other decisions
        y = x.sum(1, keepdim=True) + (torch.randn(16, 1, generator=g) * (1 + t % 3) if rank else 0.0)
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step(loss)
        losses.append(loss.item())
    knots = sched.knots + ([sched.next_knot] if sched.next_knot else [])
    return {"knots": [list(k) for k in knots], "events": sched.events, "losses": losses}


def _run(folder: str) -> list[dict]:
    ctx = mp.spawn(_worker, args=(_free_port(), folder), nprocs=2, join=False)
    deadline = time.monotonic() + DEADLINE_S
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
                p.join()
            pytest.fail(f"DDP workers still running after {DEADLINE_S} s")
    out = []
    for rank in (0, 1):
        with open(os.path.join(folder, f"rank{rank}.json")) as f:
            out.append(json.load(f))
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="gloo over TCP on 127.0.0.1")
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_ddp_ranks_take_identical_decisions_from_reduced_statistics(tmp_path, monkeypatch):
    if "GLOO_SOCKET_IFNAME" not in os.environ:
        monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    both = _run(str(tmp_path))
    r = [b["auto"] for b in both]
    assert r[0]["knots"] == r[1]["knots"]
    assert r[0]["events"] == r[1]["events"]
    # the first decision (after update 0) used the mean of both ranks' losses
    first = r[0]["events"][0]["loss"]
    assert first == pytest.approx((r[0]["losses"][0] + r[1]["losses"][0]) / 2, rel=1e-6)
    # without the reduction each rank follows its own loss: the test above can fail
    local = [b["False"] for b in both]
    assert local[0]["knots"] != local[1]["knots"]
