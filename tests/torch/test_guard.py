"""SpikeGuard: skip versus rollback, fault injection, snapshots on disk across kills and restarts, errors."""

from __future__ import annotations

import errno
import logging
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import rampup
from rampup.torch import WarmupScheduler
from rampup.torch.guard import SpikeGuard
from rampup.torch.monitor import Monitor, read_csv

from .helpers import batch, make_problem

STEPS = 400


def _full_loss(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x) - y).square().mean())


def _finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a, b))


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
    assert guard.step_count == STEPS and applied == STEPS
    # every fault is caught before its update and skipped, logged once at its batch with the right kind
    got = [(e["batch"], e["kind"], e["action"]) for e in guard.events]
    want = [(s, "nonfinite_grad" if k == "nan_grad" else "spike", "skip") for s, k in faults.items()]
    assert got == want
    # the update count of each event: the batches before it minus the ones skipped before it
    assert [e["step"] for e in guard.events] == [s - k for k, s in enumerate(steps)]
    assert abs(final - clean) <= 0.05 * clean, (final, clean)
    # the newest two complete snapshots are on disk, no temporary file is left
    files = sorted(os.listdir(tmp_path))
    assert files == ["rampup-guard-000000380.pt", "rampup-guard-000000400.pt"]


def _nanogpt_run(n_updates: int, api: str, tmp_path, mon_csv=None):
    """A user's nanoGPT-style loop: batches drawn with torch.randint from the global RNG."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    data = torch.randn(256, 8, generator=g)
    target = torch.tanh(data @ torch.randn(8, 1, generator=g))
    data[137] = float("inf")  # one poisoned sample: any batch that draws it has a non-finite loss
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = WarmupScheduler(opt, "linear(20) -> cosine(floor=0.1)", total_steps=n_updates)
    mon = None if mon_csv is None else Monitor(model, opt, csv=mon_csv)
    guard = SpikeGuard(model, opt, sched, snapshot_every=25, dir=tmp_path, rewarm=10, monitor=mon)

    def get_batch():
        idx = torch.randint(len(data), (32,))
        return data[idx], target[idx], bool((idx == 137).any())

    batches, poisoned = 0, []
    while guard.step_count < n_updates and batches < 1.5 * n_updates:
        xb, yb, bad = get_batch()
        poisoned.append(bad)
        batches += 1
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        if api == "step":
            ok = guard.step(loss)
        else:  # the two-call form, as a loop with its own optimizer/scheduler calls uses it
            ok = guard.check(loss)
            if ok:
                opt.step()
                sched.step()
                ok = guard.commit()
        if ok and mon is not None:
            mon.step(loss)
    if mon is not None:
        mon.close()
    return model, guard, batches, poisoned


@pytest.mark.parametrize("api", ["step", "check_commit"])
def test_randint_batches_with_a_poisoned_sample_skip_it_and_finish(tmp_path, api):
    # The rollback used to restore the RNG: the loop redrew the same poisoned batch and rolled back for ever.
    n = 300
    model, guard, batches, poisoned = _nanogpt_run(n, api, tmp_path)
    assert guard.step_count == n and batches <= 1.5 * n
    assert _finite(model)
    # exactly the batches that drew the poisoned row were skipped, nothing was rolled back
    assert [e["batch"] for e in guard.events] == [i for i, bad in enumerate(poisoned) if bad]
    assert {(e["kind"], e["action"]) for e in guard.events} == {("nonfinite_loss", "skip")}
    assert batches == n + len(guard.events) and len(guard.events) >= 20  # p = 1 - (255/256)^32 ≈ 12 %


def test_a_monitor_attached_to_the_guard_lines_up_with_its_events(tmp_path):
    n = 120
    csv = tmp_path / "run.csv"
    _, guard, batches, _ = _nanogpt_run(n, "step", tmp_path / "snaps", mon_csv=csv)
    rows = read_csv(csv)
    ok = [r for r in rows if r["status"] == "ok"]
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert [r["step"] for r in ok] == list(range(n))  # the optimizer's update count, one row each
    assert len(rows) == batches
    assert [(r["step"], r["anomaly"]) for r in skipped] == [(e["step"], e["kind"]) for e in guard.events]
    assert all(math.isnan(r["loss"]) for r in skipped)  # the rejected loss is kept, as it was


def test_damaged_weights_are_rolled_back_after_max_skips_anomalies_in_a_row(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    sched = WarmupScheduler(opt, "linear(20) -> cosine(floor=0.01)", total_steps=200)
    csv = tmp_path / "run.csv"
    mon = Monitor(model, opt, csv=csv)
    guard = SpikeGuard(model, opt, sched, snapshot_every=20, rewarm=10, max_skips=3, monitor=mon)
    lrs = []
    i = 0
    while guard.step_count < 200:
        xb, yb = batch(x, y, i)
        lrs.append(opt.param_groups[0]["lr"])
        loss = (model(xb) - yb).square().mean()
        opt.zero_grad()
        loss.backward()
        if guard.step(loss):
            mon.step(loss)
        if i == 90:  # an update the checks could not see damaged the weights (×30 on the output layer)
            with torch.no_grad():
                model[2].weight.mul_(30)
        i += 1
    mon.close()
    got = [(e["batch"], e["kind"], e["action"]) for e in guard.events]
    assert got == [(91, "spike", "skip"), (92, "spike", "skip"), (93, "spike", "skip"), (94, "spike", "rollback")]
    rb = guard.events[-1]
    assert rb["step"] == 91 and rb["rolled_back_to"] == 80 and rb["snapshot"] == "latest"
    assert rb["rewarm"] == {"length": 10, "start": 0.1}
    assert _finite(model) and _full_loss(model, x, y) < 0.05
    # skips did not move the LR; after the rollback update 80 runs at 0.1 + 0.9/10 of its first LR
    assert lrs[91:95] == [lrs[91]] * 4 and lrs[95] == pytest.approx(0.19 * lrs[80], rel=1e-9)
    # the monitor: the undone updates 80..90 marked, the 3 skips and the rollback have rows of their own
    rows = read_csv(csv)
    assert [r["step"] for r in rows if r["status"] == "ok"] == list(range(200))
    assert [r["step"] for r in rows if r["status"] == "rolled_back" and "anomaly" not in r] == list(range(80, 91))
    assert [(r["step"], r["status"], r["anomaly"]) for r in rows if "anomaly" in r] == [
        (91, "skipped", "spike"),
        (91, "skipped", "spike"),
        (91, "skipped", "spike"),
        (91, "rolled_back", "spike"),
    ]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("where", ["loss", "grad", "param"])
def test_nan_and_inf_in_loss_grads_and_params(where, value):
    model, x, y = make_problem()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = WarmupScheduler(opt, "linear(5) -> constant")
    guard = SpikeGuard(model, opt, sched, snapshot_every=3, rewarm=4)
    for _ in range(4):  # snapshot at 3, then one more update
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        assert guard.step(loss)
    before, adam_step, lr = _params(model), opt.state[model[0].weight]["step"].item(), opt.param_groups[0]["lr"]
    loss = (model(x) - y).square().mean()
    opt.zero_grad()
    loss.backward()
    if where == "loss":
        loss = loss * value
    elif where == "grad":
        model[0].weight.grad[1, 2] = value
    if where != "param":
        assert guard.step(loss) is False
        # skipped: the weights, the optimizer state and the scheduler never moved; no gradient is left
        assert _same(_params(model), before) and opt.state[model[0].weight]["step"].item() == adam_step
        assert opt.param_groups[0]["lr"] == lr and all(p.grad is None for p in model.parameters())
        assert [(e["kind"], e["action"]) for e in guard.events] == [(f"nonfinite_{where}", "skip")]
        assert guard.step_count == 4
        return
    assert guard.check(loss)
    opt.step()
    with torch.no_grad():
        model[2].bias.fill_(value)  # the update broke a parameter
    assert guard.commit() is False
    assert [(e["kind"], e["action"], e["rolled_back_to"]) for e in guard.events] == [("nonfinite_param", "rollback", 3)]
    assert _finite(model) and guard.step_count == 3 and opt.state[model[0].weight]["step"].item() == 3


def test_huge_but_finite_update_is_undone():
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    guard = SpikeGuard(model, opt, None, snapshot_every=5, rewarm=None, min_history=50)
    before = _params(model)
    loss = (model(x) - y).square().mean()
    loss.backward()
    with torch.no_grad():
        next(model.parameters()).grad.fill_(1e30)  # finite (its norm too), but the update below overflows
    assert guard.check(loss)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(p.grad, alpha=-1e9)
    assert guard.commit() is False
    assert [(e["kind"], e["action"]) for e in guard.events] == [("nonfinite_param", "rollback")]
    assert _same(_params(model), before)


def test_a_rollback_never_replays_the_data_stream_but_resume_restores_it(tmp_path):
    model, _, _ = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=100, rewarm=None, max_skips=0, dir=tmp_path)
    at_snapshot = torch.get_rng_state()
    first = torch.rand(3)
    assert guard.check(torch.tensor(math.inf)) is False
    assert guard.events[-1]["action"] == "rollback"
    assert not torch.equal(torch.get_rng_state(), at_snapshot)  # the data RNG went on
    assert not torch.equal(torch.rand(3), first)
    # a restart (resume) is a checkpoint: the stream continues from the snapshot
    guard.resume()
    assert torch.equal(torch.rand(3), first)


def _steps(guard, model, x, y, n):
    for _ in range(n):
        loss = (model(x) - y).square().mean()
        guard.optimizer.zero_grad()
        loss.backward()
        assert guard.step(loss)


def test_a_rejected_snapshot_is_deleted_and_never_resumed_from(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=10, rewarm=None, max_skips=0, max_rollbacks=2, dir=tmp_path)
    _steps(guard, model, x, y, 25)
    assert sorted(os.listdir(tmp_path)) == ["rampup-guard-000000010.pt", "rampup-guard-000000020.pt"]
    bad = torch.tensor(float("nan"))
    assert guard.check(bad) is False
    assert guard.events[-1]["rolled_back_to"] == 20 and guard.events[-1]["snapshot"] == "latest"
    assert guard.check(bad) is False  # again before a new snapshot: one further back, and 20 is rejected
    assert guard.events[-1]["rolled_back_to"] == 10 and guard.events[-1]["snapshot"] == "older"
    assert sorted(os.listdir(tmp_path)) == ["rampup-guard-000000010.pt"]
    assert SpikeGuard.latest_snapshot(tmp_path).endswith("000000010.pt")
    _steps(guard, model, x, y, 5)  # then the process dies at step 15
    model2, _, _ = make_problem(seed=3)
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.05)
    g2 = SpikeGuard(model2, opt2, None, snapshot_every=10, rewarm=None, dir=tmp_path)
    assert g2.resume() == 10  # not 20, the snapshot the guard rejected
    # max_rollbacks within the window: a third rollback in a row gives up
    with pytest.raises(RuntimeError, match=r"3 rollbacks within the last 200 batches \(max_rollbacks=2\)"):
        guard.check(bad)


def test_max_rollbacks_counts_over_a_window_of_batches():
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(
        model, opt, None, snapshot_every=5, rewarm=None, max_skips=0, max_rollbacks=1, rollback_window=12
    )
    _steps(guard, model, x, y, 7)
    bad = torch.tensor(float("nan"))
    assert guard.check(bad) is False  # batch 7: rollback 1
    _steps(guard, model, x, y, 11)  # batches 8..18
    assert guard.check(bad) is False  # batch 19: 12 batches later, the first has left the window
    _steps(guard, model, x, y, 3)
    # the window is part of the guard's state: a guard restored from it counts on
    g2 = SpikeGuard(model, opt, None, snapshot_every=5, rewarm=None, max_skips=0, max_rollbacks=1, rollback_window=12)
    g2.load_state_dict(guard.state_dict())
    for g in (guard, g2):
        with pytest.raises(RuntimeError, match=r"2 rollbacks within the last 12 batches"):
            g.check(bad)


def test_resuming_an_older_file_deletes_the_newer_ones(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=10, rewarm=None, dir=tmp_path)
    _steps(guard, model, x, y, 20)
    older = str(tmp_path / "rampup-guard-000000010.pt")
    g2 = SpikeGuard(model, opt, None, snapshot_every=10, rewarm=None, dir=tmp_path)
    assert g2.resume(older) == 10
    assert SpikeGuard.latest_snapshot(tmp_path) == older and os.listdir(tmp_path) == [os.path.basename(older)]


SUBPROCESS = textwrap.dedent(
    """
    import io, sys, time, torch
    from rampup.torch.guard import SpikeGuard

    real_save = torch.save

    def slow_save(obj, f, *a, **k):  # the snapshot of step 6 is half written when the process is killed
        if obj["step_count"] == 6:
            buf = io.BytesIO()
            real_save(obj, buf, *a, **k)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            print("WRITING", flush=True)
            time.sleep(120)
        return real_save(obj, f, *a, **k)

    torch.save = slow_save
    torch.manual_seed(0)
    model = torch.nn.Linear(64, 64)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    guard = SpikeGuard(model, opt, None, snapshot_every=2, rewarm=None, dir=sys.argv[1])
    x = torch.randn(16, 64)
    for _ in range(10):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        guard.step(loss)
    """
)


def _snapshot_listing(d):
    names = sorted(os.listdir(d))
    return [n for n in names if n.startswith("rampup-guard-")], [n for n in names if n.startswith(".tmp-")]


def test_kill_9_mid_write_and_restarts_leave_the_newest_two_snapshots_and_no_temporary_file(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(rampup.__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", SUBPROCESS, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        line = proc.stdout.readline()
        assert line == b"WRITING\n", (line, proc.stderr.read() if proc.poll() is not None else b"")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    snaps, tmps = _snapshot_listing(tmp_path)
    assert snaps == ["rampup-guard-000000002.pt", "rampup-guard-000000004.pt"] and len(tmps) == 1
    # several restarts, each resuming and dying with a stale temporary file of its own
    for cycle in range(4):
        torch.manual_seed(100 + cycle)
        model = torch.nn.Linear(64, 64)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        guard = SpikeGuard(model, opt, None, snapshot_every=2, rewarm=None, dir=tmp_path)
        assert _snapshot_listing(tmp_path)[1] == []  # the killed writer's half file is gone
        start = guard.resume()
        assert start == 4 + 4 * cycle
        assert guard.step_count == SpikeGuard.load_snapshot(SpikeGuard.latest_snapshot(tmp_path))["step_count"]
        x = torch.randn(16, 64)
        for _ in range(5):
            loss = model(x).square().mean()
            opt.zero_grad()
            loss.backward()
            guard.step(loss)
        with open(tmp_path / f".tmp-x{cycle}rampup-guard-{start + 6:09d}.pt", "wb") as f:
            f.write(b"half a snapshot")  # as a kill -9 during the next write would leave it
        snaps, tmps = _snapshot_listing(tmp_path)
        assert snaps == [f"rampup-guard-{start + 2:09d}.pt", f"rampup-guard-{start + 4:09d}.pt"]
        assert len(tmps) == 1


def test_a_restart_that_does_not_resume_is_refused_before_its_first_update(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=3, rewarm=None, dir=tmp_path)
    before = _params(model)
    assert guard.resume() == 0 and _same(_params(model), before)  # the restart idiom also starts a new run
    _steps(guard, model, x, y, 7)
    before = sorted(os.listdir(tmp_path))
    g2 = SpikeGuard(model, opt, None, snapshot_every=3, rewarm=None, dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == before  # no step-0 file of the new process among the old run's
    loss = (model(x) - y).square().mean()
    loss.backward()
    with pytest.raises(ValueError, match=r"holds the snapshots of an earlier run \(newest: step 6.*guard.resume\(\)"):
        g2.check(loss)
    assert g2.resume() == 6
    assert g2.check(loss)


def test_a_full_disk_keeps_the_previous_snapshots_and_the_run_going(tmp_path, monkeypatch, caplog):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=3, dir=tmp_path, rewarm=None, max_skips=0)
    _steps(guard, model, x, y, 3)
    real_save = torch.save

    def full(obj, f, *a, **k):  # part of the file, then the disk is full
        f.write(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    caplog.set_level(logging.WARNING, logger="rampup.guard")
    _steps(guard, model, x, y, 3)  # the snapshot of step 6 cannot be written: the run goes on
    assert guard.step_count == 6 and len(guard.disk_errors) == 1 and "step 6" in guard.disk_errors[0]
    assert "could not write the snapshot of step 6" in caplog.text and "000000003.pt" in caplog.text
    assert sorted(os.listdir(tmp_path)) == ["rampup-guard-000000000.pt", "rampup-guard-000000003.pt"]
    # the in-memory snapshot of step 6 still serves a rollback
    assert guard.check(torch.tensor(math.nan)) is False and guard.events[-1]["rolled_back_to"] == 6
    monkeypatch.setattr(torch, "save", real_save)
    _steps(guard, model, x, y, 3)  # space again: the next snapshot is written, the oldest goes
    assert sorted(os.listdir(tmp_path)) == ["rampup-guard-000000003.pt", "rampup-guard-000000009.pt"]


def test_other_write_errors_are_raised_and_leave_only_complete_files(tmp_path, monkeypatch):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    guard = SpikeGuard(model, opt, None, snapshot_every=3, dir=tmp_path, rewarm=None)
    _steps(guard, model, x, y, 3)
    good = SpikeGuard.latest_snapshot(tmp_path)
    assert good is not None and good.endswith("000000003.pt")
    real_save = torch.save

    def crash(obj, f, *a, **k):  # half a file, then the device fails
        real_save(obj, f, *a, **k)
        f.truncate(10)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(torch, "save", crash)
    _steps(guard, model, x, y, 2)
    with pytest.raises(OSError, match="Input/output error"):
        _steps(guard, model, x, y, 1)
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


def test_resume_marks_the_crashed_process_rows_in_the_monitor(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    csv = tmp_path / "run.csv"
    mon = Monitor(model, opt, csv=csv)
    guard = SpikeGuard(model, opt, None, snapshot_every=5, rewarm=None, dir=tmp_path / "snaps", monitor=mon)
    for _ in range(8):
        loss = (model(x) - y).square().mean()
        opt.zero_grad()
        loss.backward()
        guard.step(loss)
        mon.step(loss)
    mon.close()  # the process dies at update 8; the last snapshot is at 5
    mon2 = Monitor(model, opt, csv=csv)
    g2 = SpikeGuard(model, opt, None, snapshot_every=5, rewarm=None, dir=tmp_path / "snaps", monitor=mon2)
    assert g2.resume() == 5 and mon2.t == 5
    assert len(mon2.loss_stats) == 5  # the monitor's loss window as it was at the snapshot
    loss = (model(x) - y).square().mean()
    opt.zero_grad()
    loss.backward()
    g2.step(loss)
    mon2.step(loss)
    mon2.close()
    rows = read_csv(csv)
    assert [(r["step"], r["status"]) for r in rows] == [(t, "ok") for t in range(5)] + [
        (t, "rolled_back") for t in (5, 6, 7)
    ] + [(5, "ok")]


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
    with pytest.raises(ValueError, match=r"max_skips: got -1; accepted: an int >= 0"):
        SpikeGuard(model, opt, None, rewarm=None, max_skips=-1)
    with pytest.raises(ValueError, match=r"rollback_window: got 2.5; accepted: an int >= 1"):
        SpikeGuard(model, opt, None, rewarm=None, rollback_window=2.5)
    with pytest.raises(TypeError, match=r"monitor: got str; accepted: None or a rampup.torch.Monitor"):
        SpikeGuard(model, opt, None, rewarm=None, monitor="run.csv")
    g = SpikeGuard(model, opt, None, rewarm=None)
    with pytest.raises(RuntimeError, match=r"commit: call check\(loss\)"):
        g.commit()
    with pytest.raises(ValueError, match=r"resume: no path given and this guard has no dir"):
        g.resume()
