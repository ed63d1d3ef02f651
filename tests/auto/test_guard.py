"""SpikeGuard: fault injection, atomic snapshots, rollback policy, errors."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from rampup.torch import WarmupScheduler
from rampup.torch.guard import SpikeGuard

from .conftest import batch, make_problem

STEPS = 400


def _full_loss(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x) - y).square().mean())


def _finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _train(faults: dict[int, str], tmp_path=None, seed: int = 0):
    model, x, y = make_problem(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    sched = WarmupScheduler(opt, "linear(20) -> cosine(floor=0.01)", total_steps=STEPS)
    guard = SpikeGuard(model, opt, sched, snapshot_every=20, dir=tmp_path, rewarm=10, rewarm_start=0.1)
    applied = 0
    for i in range(STEPS + 60):  # the data goes on; stop once STEPS good updates are done
        if guard.step_count >= STEPS:
            break
        xb, yb = batch(x, y, i)
        kind = faults.get(i)
        if kind == "corrupt":
            xb = xb * 1e3  # a corrupted batch: garbage inputs
        loss = (model(xb) - yb).square().mean()
        if kind == "huge":
            loss = loss * 1e5
        opt.zero_grad()
        loss.backward()
        if kind == "nan_grad":
            next(model.parameters()).grad[0, 0] = float("nan")
        applied += guard.step(loss)
        assert _finite(model), f"non-finite parameter after batch {i}"
    return model, guard, _full_loss(model, x, y), applied, (x, y)


@pytest.mark.parametrize("seed", [0, 1])
def test_fault_injection_run_completes_and_matches_the_clean_run(tmp_path, seed):
    _, clean_guard, clean, _, _ = _train({})
    assert clean_guard.events == []
    rng = np.random.default_rng(seed)
    steps = sorted(rng.choice(np.arange(30, 320), size=3, replace=False).tolist())
    kinds = ["nan_grad", "huge", "corrupt"]
    rng.shuffle(kinds)
    faults = dict(zip(steps, kinds))
    _, guard, final, applied, _ = _train(faults, tmp_path)
    assert guard.step_count == STEPS and applied >= STEPS
    # every intervention logged, at the batch where it happened, with the right kind
    got = [(e["batch"], e["kind"]) for e in guard.events]
    want = [(s, "nonfinite_grad" if k == "nan_grad" else "spike") for s, k in faults.items()]
    assert got == want
    for e in guard.events:
        assert e["rolled_back_to"] <= e["step"] and e["rolled_back_to"] % 20 == 0
        assert e["rewarm"] == {"length": 10, "start": 0.1}
    assert abs(final - clean) <= 0.05 * clean, (final, clean)
    # the newest two complete snapshots are on disk, no temporary file is left
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 2 and all(f.startswith("rampup-guard-") for f in files)


def test_huge_but_finite_update_is_undone():
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    guard = SpikeGuard(model, opt, None, snapshot_every=5, rewarm=None, min_history=50)
    before = [p.detach().clone() for p in model.parameters()]
    loss = (model(x) - y).square().mean()
    loss.backward()
    with torch.no_grad():
        next(model.parameters()).grad.fill_(1e30)  # finite (its norm too), but the update below overflows
    assert guard.check(loss)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(p.grad, alpha=-1e9)
    assert guard.commit() is False
    assert [e["kind"] for e in guard.events] == ["nonfinite_param"]
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_repeated_anomalies_go_one_snapshot_further_back_then_give_up():
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=10, rewarm=None, max_rollbacks=2)
    for _ in range(25):
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        guard.step(loss)
    assert guard.step_count == 25
    bad = torch.tensor(float("nan"))
    assert guard.check(bad) is False
    assert guard.events[-1]["rolled_back_to"] == 20 and guard.events[-1]["snapshot"] == "latest"
    assert guard.check(bad) is False
    assert guard.events[-1]["rolled_back_to"] == 10 and guard.events[-1]["snapshot"] == "older"
    with pytest.raises(RuntimeError, match=r"rollbacks since the last snapshot .* does not recover"):
        guard.check(bad)


def test_snapshot_writes_are_atomic_and_keep_the_previous_file(tmp_path, monkeypatch):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=3, dir=tmp_path, rewarm=None)
    for _ in range(3):
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        guard.step(loss)
    good = SpikeGuard.latest_snapshot(tmp_path)
    assert good is not None and good.endswith("000000003.pt")
    real_save = torch.save

    def crash(obj, f, *a, **k):  # half a file, then the machine "dies"
        real_save(obj, f, *a, **k)
        f.truncate(10)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    for _ in range(2):
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        guard.step(loss)
    with pytest.raises(OSError, match="disk full"):
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        guard.step(loss)
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(os.listdir(tmp_path)) == ["rampup-guard-000000000.pt", "rampup-guard-000000003.pt"]
    snap = SpikeGuard.load_snapshot(good)
    assert snap["step_count"] == 3
    # a new process resumes from the newest complete file
    model2, _, _ = make_problem(seed=5)
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.05)
    g2 = SpikeGuard(model2, opt2, None, dir=tmp_path / "other", rewarm=None)
    assert g2.resume(good) == 3
    assert all(torch.equal(a, b) for a, b in zip(model2.state_dict().values(), snap["model"].values()))


def test_rng_is_restored_on_rollback():
    model, _, _ = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=100, rewarm=None)
    first = torch.rand(3)
    assert guard.check(torch.tensor(math.inf)) is False
    assert torch.equal(torch.rand(3), first)


def test_bad_arguments():
    model, _, _ = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with pytest.raises(TypeError, match=r"rewarm=20: the scheduler \(NoneType\) has no rewarm"):
        SpikeGuard(model, opt, None)
    with pytest.raises(ValueError, match=r"snapshot_every: got 0; accepted: an int >= 1"):
        SpikeGuard(model, opt, None, rewarm=None, snapshot_every=0)
    with pytest.raises(ValueError, match=r"z: got -1; accepted: a finite number > 0"):
        SpikeGuard(model, opt, None, rewarm=None, z=-1)
    with pytest.raises(ValueError, match=r"ratio: got 0.5; accepted: None or a number > 1"):
        SpikeGuard(model, opt, None, rewarm=None, ratio=0.5)
    g = SpikeGuard(model, opt, None, rewarm=None)
    with pytest.raises(RuntimeError, match=r"commit: call check\(loss\)"):
        g.commit()
