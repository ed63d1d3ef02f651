"""Every torch-layer test runs torch on one thread (tiny models: one thread is fastest)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models: one thread is fastest and keeps the two cores free for the other test process.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
