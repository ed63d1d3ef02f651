"""The three capabilities in a plain torch loop, in Lightning and in the HF Trainer (tiny, CPU, a few steps)."""

from __future__ import annotations

import logging

import pytest
import torch

from rampup.torch import WarmupScheduler
from rampup.torch.auto import AutoWarmup
from rampup.torch.auto_callbacks import hf_callback, lightning_callback
from rampup.torch.guard import SpikeGuard
from rampup.torch.monitor import Monitor, read_csv

from .helpers import batch, make_problem

STEPS = 40


def test_plain_torch_loop_with_monitor_auto_and_guard(tmp_path, caplog):
    model, x, y = make_problem()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    auto = AutoWarmup(opt, "auto -> cosine(floor=0.1)", total_steps=STEPS)
    mon = Monitor(model, opt, csv=tmp_path / "run.csv")
    guard = SpikeGuard(model, opt, auto, snapshot_every=10, rewarm=4, dir=tmp_path / "snaps")
    caplog.set_level(logging.INFO, logger="rampup")
    i = 0
    while guard.step_count < STEPS:
        xb, yb = batch(x, y, i)
        loss = (model(xb) - yb).square().mean() * (1e4 if i == 25 else 1.0)
        opt.zero_grad()
        loss.backward()
        if guard.step(loss):
            mon.step(loss)
        else:
            mon.discard()
        i += 1
    mon.close()
    assert [e["kind"] for e in guard.events] == ["spike"]
    assert auto.done and "auto warmup (update) ends at step" in caplog.text and "SpikeGuard: spike" in caplog.text
    rows = read_csv(tmp_path / "run.csv")
    assert [r["step"] for r in rows] == list(range(len(rows))) and len(rows) == i - 1
    measured = [r["update_ratio"] for r in rows if "update_ratio" in r]  # every 4th row (update_every=4)
    assert len(measured) == (len(rows) + 3) // 4 and all(u > 0 for u in measured)
    # the CSV's LR column is the LR each update used: the first is linear(20)'s, 1/20 of the peak
    assert rows[0]["lr"] == pytest.approx(3e-2 / 20)


def _quiet_trainer(pl, root, **kw):
    """A CPU Lightning Trainer without logger, checkpoints, progress bar or summary."""
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        **kw,
    )


def test_lightning_fit_with_auto_warmup_monitor_and_a_guarded_manual_loop(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    model0, x, y = make_problem()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)

    class Auto(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model0

        def training_step(self, b, i):
            return (self.net(b[0]) - b[1]).square().mean()

        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.parameters(), lr=3e-2)
            self.auto = AutoWarmup(opt, then="cosine(floor=0.1)", total_steps=24, method="loss", interval=2)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": self.auto, "interval": "step"}}

    m = Auto()
    mons: list[Monitor] = []

    class Attach(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            mons.append(Monitor(pl_module, trainer.optimizers[0]))
            cb.monitor, cb.auto = mons[0], pl_module.auto

    cb = lightning_callback()
    trainer = _quiet_trainer(pl, tmp_path, max_steps=24, callbacks=[Attach(), cb])
    trainer.fit(m, data)
    assert m.auto.done and len(mons[0].records) == 24
    lrs = [r["lr"] for r in mons[0].records]
    # the LR each update used; the first is linear(12)'s (max_warmup: 50 % of 24 steps), 1/12 of the peak
    assert lrs[0] == pytest.approx(3e-2 / 12) and lrs[1] > lrs[0]
    assert max(lrs) == pytest.approx(3e-2)
    assert any("loss" in e for e in m.auto.events)  # the loss reached the controller
    # No lag: the same run as a plain loop (loss of update t observed at update t) gives the same
    # decisions and LRs, bit for bit.
    net_p, _, _ = make_problem()
    opt_p = torch.optim.AdamW(net_p.parameters(), lr=3e-2)
    auto_p = AutoWarmup(opt_p, then="cosine(floor=0.1)", total_steps=24, method="loss", interval=2)
    plain_lrs, plain_losses, plain_gnorms = [], [], []
    while len(plain_lrs) < 24:
        for xb, yb in data:
            if len(plain_lrs) == 24:
                break
            plain_lrs.append(opt_p.param_groups[0]["lr"])
            loss = (net_p(xb) - yb).square().mean()
            opt_p.zero_grad()
            loss.backward()
            plain_gnorms.append(
                float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in net_p.parameters()])))
            )
            opt_p.step()
            auto_p.step(loss)
            plain_losses.append(float(loss.detach()))
    assert lrs == plain_lrs and [r["loss"] for r in mons[0].records] == plain_losses
    # the gradient norm of each update, although Lightning's closure computes it inside optimizer.step()
    assert [r["grad_norm"] for r in mons[0].records] == pytest.approx(plain_gnorms, rel=1e-6)
    assert m.auto.export_spec() == auto_p.export_spec() and m.auto.events == auto_p.events

    # Gradient accumulation: one monitor row per optimizer update, the mean unscaled micro-batch loss.
    micro: list[float] = []

    class Accum(Auto):
        def training_step(self, b, i):
            loss = super().training_step(b, i)
            micro.append(float(loss.detach()))
            return loss

    m2 = Accum()
    mons.clear()
    cb2 = lightning_callback()

    class Attach2(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            mons.append(Monitor(pl_module, trainer.optimizers[0]))
            cb2.monitor, cb2.auto = mons[0], pl_module.auto

    _quiet_trainer(pl, tmp_path, max_steps=6, accumulate_grad_batches=2, callbacks=[Attach2(), cb2]).fit(m2, data)
    rows = mons[0].records
    assert [r["step"] for r in rows] == list(range(6)) and len(micro) == 12
    for k, r in enumerate(rows):
        assert r["loss"] == pytest.approx((micro[2 * k] + micro[2 * k + 1]) / 2, rel=1e-6)

    class Guarded(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, _, _ = make_problem()
            self.automatic_optimization = False

        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.parameters(), lr=3e-2)
            self.sched = WarmupScheduler(opt, "linear(5) -> constant")
            self.guard = SpikeGuard(self.net, opt, self.sched, snapshot_every=5, rewarm=3, min_history=5)
            return opt

        def training_step(self, b, i):
            poison = i == 6 and self.current_epoch == 0
            loss = (self.net(b[0]) - b[1]).square().mean() * (1e4 if poison else 1.0)
            self.optimizers().zero_grad()
            self.manual_backward(loss)
            self.guard.step(loss)  # replaces optimizer.step() + scheduler.step()

    g = Guarded()
    _quiet_trainer(pl, tmp_path, max_epochs=2).fit(g, data)
    assert [(e["kind"], e["batch"]) for e in g.guard.events] == [("spike", 6)]
    assert all(bool(torch.isfinite(p).all()) for p in g.net.parameters())


def test_hf_trainer_with_auto_warmup_monitor_and_guard(tmp_path):
    transformers = pytest.importorskip("transformers")

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net, _, _ = make_problem()

        def forward(self, x, labels=None):
            out = self.net(x)
            loss = (out - labels).square().mean() if labels is not None else None
            if labels is not None and bool(getattr(self, "poison", False)):
                self.poison = False
                loss = loss * 1e4  # one corrupted batch
            return {"loss": loss, "logits": out}

    _, x, y = make_problem()

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return x.shape[0]

        def __getitem__(self, i):
            return {"x": x[i], "labels": y[i]}

    model = Tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    auto = AutoWarmup(opt, then="cosine(floor=0.1)", total_steps=30, method="loss", interval=2)
    mon = Monitor(model, opt, update_every=1)
    guard = SpikeGuard(model, opt, auto, snapshot_every=5, rewarm=3)
    cb = hf_callback(monitor=mon, auto=auto, guard=guard)

    class Poison(transformers.TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == 18:
                model.poison = True

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=30,
        per_device_train_batch_size=32,
        report_to=[],
        logging_steps=1000,
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        max_grad_norm=0.0,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=DS(), optimizers=(opt, auto), callbacks=[Poison(), cb]
    )
    trainer.train()
    assert [(e["kind"], e["action"], e["step"]) for e in guard.events] == [("spike", "skip", 18)]
    assert auto.done and any("loss" in e for e in auto.events)
    ok = [r for r in mon.records if r["status"] == "ok"]
    assert [r["step"] for r in ok] == list(range(29))  # 30 Trainer steps, one skipped
    # the skipped one has a row of its own at the update count the guard's event names
    assert [(r["step"], r["status"], r["anomaly"]) for r in mon.records if r["status"] != "ok"] == [
        (18, "skipped", "spike")
    ]
    # every row measured a real update, also the one after the rejected step (the Trainer's no-op
    # optimizer.step() in between is not reported)
    assert all(r["grad_norm"] > 0 and r["update_ratio"] > 0 for r in ok)
    assert guard.step_count == 29
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
