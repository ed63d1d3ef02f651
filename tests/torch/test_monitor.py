"""Monitor: every recorded quantity checked against an independent computation."""

from __future__ import annotations

import math
import os

import pytest
import torch

from rampup.torch.lamb import LAMB
from rampup.torch.monitor import LossStats, Monitor, plot_monitor, read_csv

from .helpers import batch, make_problem


def _train(mon: Monitor | None, opt: torch.optim.Optimizer, model, x, y, steps: int, check=None):
    rows = []
    for t in range(steps):
        xb, yb = batch(x, y, t)
        loss = (model(xb) - yb).square().mean()
        opt.zero_grad()
        loss.backward()
        params = [p for g in opt.param_groups for p in g["params"]]
        before = [p.detach().clone() for p in params]
        grads = [p.grad.detach().clone() for p in params]
        opt.step()
        row = mon.step(loss) if mon is not None else None
        if check is not None:
            check(t, row, before, grads, params, float(loss.detach()))
        rows.append(row)
    return rows


def test_grad_norm_and_update_ratio_match_a_direct_computation():
    model, x, y = make_problem()
    opt = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.1}, {"params": model[2].parameters(), "lr": 0.05}], momentum=0.9
    )
    mon = Monitor(model, opt, per_tensor=True, update_every=1)
    seen = []

    def check(t, row, before, grads, params, loss):
        gn = math.sqrt(sum(float(g.square().sum()) for g in grads))
        dw = math.sqrt(sum(float((p.detach() - b).square().sum()) for p, b in zip(params, before)))
        w = math.sqrt(sum(float(b.square().sum()) for b in before))
        assert row["step"] == t
        assert row["grad_norm"] == pytest.approx(gn, rel=1e-5)
        assert row["update_ratio"] == pytest.approx(dw / w, rel=1e-5)
        # group 1 = the output layer
        g1 = math.sqrt(sum(float(g.square().sum()) for g in grads[2:]))
        assert row["grad_norm_g1"] == pytest.approx(g1, rel=1e-5)
        w0 = params[0]
        expect = float((w0.detach() - before[0]).norm() / before[0].norm())
        assert row["update_ratio/0.weight"] == pytest.approx(expect, rel=1e-5)
        mats = [float((p.detach() - b).norm() / b.norm()) for p, b in zip(params, before) if p.ndim >= 2]
        assert row["update_ratio_max"] == pytest.approx(max(mats), rel=1e-5)
        assert row["lr"] == 0.1 and row["lr_g1"] == 0.05
        assert row["loss"] == loss
        seen.append(t)

    _train(mon, opt, model, x, y, 5, check)
    assert seen == [0, 1, 2, 3, 4]
    assert "radam_rho" not in mon.records[-1]  # SGD: no Adam statistics


def test_adam_effective_step_and_radam_rho():
    model, x, y = make_problem()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.99), eps=1e-8)
    mon = Monitor(model, opt, adam_sample=10_000, adam_every=1)  # more than the model has: every coordinate

    def check(t, row, before, grads, params, loss):
        step = t + 1
        rho_inf = 2 / (1 - 0.99) - 1
        assert row["radam_rho"] == pytest.approx(rho_inf - 2 * step * 0.99**step / (1 - 0.99**step), rel=1e-12)
        psi = torch.cat(
            [
                3e-3 / ((opt.state[p]["exp_avg_sq"].reshape(-1).double() / (1 - 0.99**step)).sqrt() + 1e-8)
                for p in params
            ]
        )
        q = torch.quantile(psi, torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64)).tolist()
        assert [row["adam_step_p05"], row["adam_step_p50"], row["adam_step_p95"]] == pytest.approx(q, rel=1e-5)
        assert row["adam_step_cv"] == pytest.approx(float(psi.std() / psi.mean()), rel=1e-4)

    _train(mon, opt, model, x, y, 4, check)
    # rho_t grows with t: the variance of v_hat becomes tractable (> 4) after a few steps
    assert mon.records[0]["radam_rho"] == pytest.approx(1.0)
    # by default the spread (the costliest column) is on every 50th measured row, rho on all
    sparse = Monitor(model, opt)
    _train(sparse, opt, model, x, y, 52)
    assert [r["step"] for r in sparse.records if "adam_step_p50" in r] == [0, 50]
    assert all("radam_rho" in r for r in sparse.records)


def test_lamb_trust_ratios_are_recorded():
    model, x, y = make_problem()
    opt = LAMB(model.parameters(), lr=1e-2)
    mon = Monitor(model, opt, per_tensor=True)
    _train(mon, opt, model, x, y, 3)
    row = mon.records[-1]
    ratios = [float(opt.state[p]["trust_ratio"]) for p in model.parameters()]
    assert row["trust_ratio_min"] == pytest.approx(min(ratios))
    assert row["trust_ratio_max"] == pytest.approx(max(ratios))
    assert row["trust_ratio_mean"] == pytest.approx(sum(ratios) / len(ratios), rel=1e-6)
    assert row["trust_ratio/0.weight"] == pytest.approx(ratios[0])


def test_loss_statistics_median_mad_z():
    s = LossStats(window=5)
    for v in [1.0, 2.0, 3.0, 4.0, 100.0]:
        s.add(v)
    assert s.median == 3.0 and s.mad == 1.0
    assert s.z(5.0) == pytest.approx(2.0 / 1.4826, rel=1e-9)
    s.add(float("nan"))  # never enters the window
    assert len(s) == 5
    s.add(6.0)  # window of 5: the 1.0 leaves
    assert sorted(s.values) == [2.0, 3.0, 4.0, 6.0, 100.0]
    assert math.isinf(s.z(float("inf")))
    t = LossStats(window=5)
    t.load_state_dict(s.state_dict())
    assert t.z(7.0) == s.z(7.0)


def test_every_measures_only_every_kth_step_and_loss_stats_see_all():
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = Monitor(model, opt, every=3, window=20)
    rows = _train(mon, opt, model, x, y, 7)
    assert [r["step"] if r else None for r in rows] == [0, None, None, 3, None, None, 6]
    assert len(mon.loss_stats) == 7
    # the relative update on every 4th row (update_every=4, the default): rows 0 and 4 (steps 0 and 12)
    assert ["update_ratio" in r for r in mon.records] == [True, False, False]
    _train(mon, opt, model, x, y, 7)
    assert [r["step"] for r in mon.records if "update_ratio" in r] == [0, 12]
    assert all(r["grad_norm"] > 0 for r in mon.records)


def test_update_every_alternates_rows_leaves_csv_cells_empty_and_a_resumed_monitor_starts_full(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = tmp_path / "m.csv"
    mon = Monitor(model, opt, csv=path, update_every=3)
    _train(mon, opt, model, x, y, 7)
    assert [("update_ratio" in r, "update_ratio_max" in r) for r in mon.records] == [
        (u, u) for u in (True, False, False, True, False, False, True)
    ]
    assert all(r["grad_norm"] > 0 and "lr" in r for r in mon.records)
    sd = mon.state_dict()
    mon.close()
    # resumed at t = 7 (an off-cadence step of the old object): the new object's first row is full
    mon2 = Monitor(model, opt, csv=path, update_every=3)
    mon2.load_state_dict(sd)
    rows = _train(mon2, opt, model, x, y, 2)
    assert [r["step"] for r in rows] == [7, 8] and "update_ratio" in rows[0] and "update_ratio" not in rows[1]
    mon2.close()
    csv_rows = read_csv(path)
    assert [r["step"] for r in csv_rows] == list(range(9))
    assert [i for i, r in enumerate(csv_rows) if "update_ratio" in r] == [0, 3, 6, 7]
    with open(path) as f:
        lines = f.read().splitlines()
    header = lines[0].split(",")
    k = header.index("update_ratio")
    assert lines[2].split(",")[k] == "" and float(lines[1].split(",")[k]) > 0
    with pytest.raises(ValueError, match="update_every: got 0"):
        Monitor(model, opt, update_every=0)


def test_disabled_monitor_registers_nothing():
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = (len(opt._optimizer_step_pre_hooks), len(opt._optimizer_step_post_hooks))
    mon = Monitor(model, opt, enabled=False, csv="/nonexistent/never-written.csv")
    assert (len(opt._optimizer_step_pre_hooks), len(opt._optimizer_step_post_hooks)) == before
    assert _train(mon, opt, model, x, y, 2) == [None, None]
    on = Monitor(model, opt)
    assert len(opt._optimizer_step_pre_hooks) == before[0] + 1
    on.close()
    assert (len(opt._optimizer_step_pre_hooks), len(opt._optimizer_step_post_hooks)) == before


def test_csv_rows_resume_and_header_mismatch(tmp_path):
    path = tmp_path / "run.csv"
    model, x, y = make_problem()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    with Monitor(model, opt, csv=path) as mon:
        _train(mon, opt, model, x, y, 3)
        state = mon.state_dict()
    rows = read_csv(path)
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[2]["loss"] == mon.records[2]["loss"]  # repr() round-trips floats exactly
    assert rows[1]["grad_norm"] == mon.records[1]["grad_norm"]
    # a resumed run appends to the same file
    mon2 = Monitor(model, opt, csv=path)
    mon2.load_state_dict(state)
    _train(mon2, opt, model, x, y, 2)
    mon2.close()
    assert [r["step"] for r in read_csv(path)] == [0, 1, 2, 3, 4]
    assert mon2.records[0]["loss_median"] == pytest.approx(
        sorted(r["loss"] for r in mon.records)[1]
    )  # the loss window came back with the state
    # another optimizer writes other columns: refused, the file is untouched
    size = os.path.getsize(path)
    opt_sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"csv: .* exists with the columns"):
        with Monitor(model, opt_sgd, csv=path) as bad:
            _train(bad, opt_sgd, model, x, y, 1)
    assert os.path.getsize(path) == size
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


def test_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were absent
    model, _, _ = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ImportError, match=r"tensorboard_dir=.* needs the tensorboard package"):
        Monitor(model, opt, tensorboard_dir=tmp_path / "tb")


def test_tensorboard_scalars_are_the_rows(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model, x, y = make_problem()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    with Monitor(model, opt, tensorboard_dir=tmp_path / "tb", update_every=2) as mon:
        _train(mon, opt, model, x, y, 5)
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"rampup/loss", "rampup/grad_norm", "rampup/update_ratio", "rampup/lr", "rampup/radam_rho"} <= tags
    loss = acc.Scalars("rampup/loss")
    assert [e.step for e in loss] == [0, 1, 2, 3, 4]
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in mon.records], rel=1e-6)
    ur = acc.Scalars("rampup/update_ratio")  # only the rows that measured it (update_every=2)
    assert [e.step for e in ur] == [0, 2, 4]
    assert [e.value for e in ur] == pytest.approx([mon.records[i]["update_ratio"] for i in (0, 2, 4)], rel=1e-6)


def test_bad_arguments_name_themselves():
    model, _, _ = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"every: got 0; accepted: an int >= 1"):
        Monitor(model, opt, every=0)
    with pytest.raises(TypeError, match=r"optimizer: got Linear"):
        Monitor(model, model[0])  # type: ignore[arg-type]
    mon = Monitor(model, opt)
    with pytest.raises(ValueError, match=r"loss: got a tensor of shape \(2,\)"):
        mon.step(torch.zeros(2))
    mon.close()


def test_plot_monitor_from_records_and_csv(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    with Monitor(model, opt, csv=tmp_path / "m.csv") as mon:
        _train(mon, opt, model, x, y, 4)
    fig = plot_monitor(mon, tmp_path / "m.png")
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[:4] == ["loss", "learning rate", "gradient norm ‖g‖", "relative update ‖Δw‖/‖w‖"]
    assert "RAdam ρ_t" in labels and "LAMB trust ratio" not in labels
    assert (tmp_path / "m.png").stat().st_size > 1000
    assert len(plot_monitor(tmp_path / "m.csv").axes) == len(fig.axes)
    with pytest.raises(ValueError, match="no rows"):
        plot_monitor([])


def test_a_skipped_first_update_keeps_every_csv_column_and_the_update_cadence(tmp_path):
    # A GradScaler skips optimizer.step() on an inf gradient (common on the first fp16 steps):
    # the row has no probe data, but the header still lists every column and the first real
    # update is measured in full.
    model, x, y = make_problem()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    path = tmp_path / "m.csv"
    mon = Monitor(model, opt, csv=path, update_every=3)
    for t in range(5):
        xb, yb = batch(x, y, t)
        loss = (model(xb) - yb).square().mean()
        opt.zero_grad()
        loss.backward()
        if t > 0:
            opt.step()
        mon.step(loss)
    mon.close()
    with open(path) as f:
        header = f.readline().strip().split(",")
    assert {"grad_norm", "update_ratio", "update_ratio_max", "radam_rho", "adam_step_p50"} <= set(header)
    rows = read_csv(path)
    assert "grad_norm" not in rows[0] and "loss" in rows[0]  # the skipped step: loss only
    assert [r["step"] for r in rows if "update_ratio" in r] == [1, 4]  # cadence counted from the first real update
    assert rows[1]["radam_rho"] == pytest.approx(1.0) and "adam_step_p50" in rows[1]


def test_a_param_group_added_during_the_run_extends_the_csv_header(tmp_path):
    model, x, y = make_problem()
    extra = torch.nn.Parameter(torch.ones(3, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "m.csv"
    with Monitor(model, opt, csv=path, update_every=1) as mon:
        for t in range(4):
            if t == 2:
                opt.add_param_group({"params": [extra], "lr": 0.01})
            xb, yb = batch(x, y, t)
            loss = (model(xb) - yb).square().mean() + (extra.sum() if t >= 2 else 0.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            mon.step(loss)
    rows = read_csv(path)
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    assert "lr_g1" not in rows[0] and rows[2]["lr_g1"] == 0.01 and rows[3]["grad_norm_g1"] == pytest.approx(3.0)
    assert rows[1]["update_ratio"] == mon.records[1]["update_ratio"]  # earlier rows still read right
    with open(path) as f:
        assert f.readline().strip().endswith("lr_g1,grad_norm_g0,update_ratio_g0,grad_norm_g1,update_ratio_g1")
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    # the extended file is still this configuration's: a resumed monitor continues it
    with Monitor(model, opt, csv=path, update_every=1) as mon2:
        mon2.load_state_dict(mon.state_dict())
        xb, yb = batch(x, y, 4)
        loss = (model(xb) - yb).square().mean() + extra.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon2.step(loss)
    assert [r["step"] for r in read_csv(path)] == [0, 1, 2, 3, 4]


def test_adam_statistics_follow_a_replaced_parameter():
    model, x, y = make_problem()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    mon = Monitor(model, opt)
    rhos = []
    for t in range(5):
        if t == 2:  # a new Parameter object in the first slot: its Adam state starts over
            new_w = torch.nn.Parameter(model[0].weight.detach().clone())
            opt.param_groups[0]["params"][0] = new_w
            model[0].weight = new_w
        xb, yb = batch(x, y, t)
        loss = (model(xb) - yb).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        rhos.append(mon.step(loss)["radam_rho"])
    # rho_t for t = 1, 2 then (new state) 1, 2, 3
    assert rhos[2] == pytest.approx(rhos[0]) and rhos[3] == pytest.approx(rhos[1]) and rhos[4] > rhos[3]


def test_an_empty_param_group_and_an_adafactor_like_state_do_not_break_the_monitor():
    model, x, y = make_problem()
    opt = torch.optim.SGD(
        [{"params": []}, {"params": list(model.parameters())}], lr=0.1
    )  # e.g. an empty no-decay group
    mon = Monitor(model, opt, update_every=1)
    rows = _train(mon, opt, model, x, y, 3)
    assert [r["step"] for r in rows] == [0, 1, 2] and all(r["update_ratio"] > 0 for r in rows)
    # Adafactor keeps exp_avg_sq and step but its groups have no betas: no Adam columns, no crash
    opt2 = torch.optim.SGD(model.parameters(), lr=0.1)
    mon2 = Monitor(model, opt2)
    for p in model.parameters():
        opt2.state[p] = {"exp_avg_sq": torch.ones_like(p), "step": torch.tensor(1.0)}
    rows = _train(mon2, opt2, model, x, y, 2)
    assert all("radam_rho" not in r and "adam_step_p50" not in r for r in rows)


def _one_update(mon, opt, model, x, y, t):
    xb, yb = batch(x, y, t)
    loss = (model(xb) - yb).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    mon.step(loss)
    return float(loss.detach())


def test_skipped_and_rolled_back_updates_are_marked_in_records_csv_and_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "m.csv"
    mon = Monitor(model, opt, csv=path, tensorboard_dir=tmp_path / "tb", update_every=1)
    losses = [_one_update(mon, opt, model, x, y, t) for t in range(6)]
    skipped = mon.skip(torch.tensor(math.inf), reason="nonfinite_loss")  # the update of step 6 not applied
    assert skipped["step"] == 6 and skipped["status"] == "skipped" and mon.t == 6
    assert math.isinf(skipped["loss"]) and skipped["lr"] == 0.1 and "grad_norm" not in skipped
    row = mon.rollback(3, loss=9.5, reason="spike")  # updates 3, 4, 5 undone
    assert (row["step"], row["status"], row["anomaly"], row["loss"]) == (6, "rolled_back", "spike", 9.5)
    assert mon.t == 3
    losses[3:] = [_one_update(mon, opt, model, x, y, t) for t in range(3, 7)]
    mon.close()
    want = (
        [(t, "ok") for t in range(3)]
        + [(t, "rolled_back") for t in (3, 4, 5)]
        + [(6, "skipped"), (6, "rolled_back")]
        + [(t, "ok") for t in range(3, 7)]
    )
    assert [(r["step"], r["status"]) for r in mon.records] == want
    rows = read_csv(path)
    assert [(r["step"], r["status"]) for r in rows] == want
    assert [r.get("anomaly") for r in rows[6:8]] == ["nonfinite_loss", "spike"]
    kept = [r for r in rows if r["status"] == "ok"]
    assert [r["loss"] for r in kept] == losses and all(r["grad_norm"] > 0 for r in kept)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    # TensorBoard: the undone updates are purged; the kept run reads as one line over steps 0..6
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    loss = acc.Scalars("rampup/loss")
    assert [e.step for e in loss] == list(range(7))
    assert [e.value for e in loss] == pytest.approx(losses, rel=1e-6)
    assert [(e.step, e.value) for e in acc.Scalars("rampup/guard_rolled_back")] == [(6, 1.0)]
    assert [(e.step, e.value) for e in acc.Scalars("rampup/rejected_loss")] == [(6, 9.5)]
    with pytest.raises(ValueError, match=r"to_step: got -1; accepted: an int >= 0"):
        mon.rollback(-1)
    # the plot draws the kept run: one point per kept update, in order
    fig = plot_monitor(path)
    xs = list(fig.axes[0].lines[0].get_xdata())
    assert xs == list(range(7)) and list(fig.axes[0].lines[0].get_ydata()) == pytest.approx(losses)


def test_a_csv_written_before_the_status_column_is_continued_and_marked(tmp_path):
    model, x, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "m.csv"
    with Monitor(model, opt, csv=path) as mon:
        for t in range(4):
            _one_update(mon, opt, model, x, y, t)
    # as the earlier version wrote it: no status/anomaly columns
    with open(path) as f:
        lines = [line.rstrip("\n").split(",") for line in f]
    drop = [lines[0].index("status"), lines[0].index("anomaly")]
    with open(path, "w") as f:
        f.writelines(",".join(c for i, c in enumerate(line) if i not in drop) + "\n" for line in lines)
    mon2 = Monitor(model, opt, csv=path)
    mon2.load_state_dict(mon.state_dict())
    _one_update(mon2, opt, model, x, y, 4)
    mon2.rollback(2)
    _one_update(mon2, opt, model, x, y, 5)
    mon2.close()
    rows = read_csv(path)
    assert [(r["step"], r.get("status", "ok")) for r in rows] == [
        (0, "ok"),
        (1, "ok"),
        (2, "rolled_back"),
        (3, "rolled_back"),
        (4, "rolled_back"),
        (2, "ok"),
    ]
