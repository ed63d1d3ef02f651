"""Shared tiny training problems for the auto-warmup / monitor / guard tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models: one thread is fastest and keeps the two cores free for the other test process.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def make_problem(seed: int = 0, n: int = 256, d: int = 8, hidden: int = 16):
    """A small MLP regression: (model, x, y) with a fixed teacher; deterministic from ``seed``."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(n, d, generator=g)
    teacher = torch.randn(d, 1, generator=g)
    y = torch.tanh(x @ teacher) + 0.05 * torch.randn(n, 1, generator=g)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))
    return model, x, y


def batch(x: torch.Tensor, y: torch.Tensor, t: int, size: int = 32):
    i = (t * size) % x.shape[0]
    return x[i : i + size], y[i : i + size]
