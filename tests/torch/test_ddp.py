"""DDP on 2 CPU processes (gloo): the same LR on every rank; rank 0's checkpoint resumes on all ranks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

import rampup

from .ddp_worker import CUT, STEPS

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_ranks_same_lrs_and_resume_from_rank0_checkpoint(tmp_path: Path) -> None:
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="2")
    env.update(RAMPUP_TEST_DIR=str(tmp_path), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.torch.ddp_worker"],
            env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in range(2)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=90)[0])
    finally:
        for p in procs:  # a rank that timed out (or its peer) must not outlive the test
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(logs)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))

    main = rampup.parse("linear(5) -> cosine(floor=0.1)", total_steps=STEPS)
    head = rampup.parse("linear(2) -> constant")
    bias_peak = float(torch.tensor(1e-3))  # a float32 tensor LR
    # Per step: LR of both groups, then their weight decay (0.1, scheduled with the LR: weight_decay="lr").
    expected = [[1e-2 * main(t), bias_peak * head(t), 0.1 * main(t), 0.1 * head(t)] for t in range(STEPS)]
    assert r0["full"] == expected
    assert r0["full"] == r1["full"]  # every rank, every step, every group: identical LR and weight decay
    assert r0["resumed"] == r0["full"][CUT + 1 :] == r1["resumed"]
    assert r0["weight"] == r1["weight"] == r0["weight_resumed"] == r1["weight_resumed"]
