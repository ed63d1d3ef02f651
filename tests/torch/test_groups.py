"""write_group_value: the one writer of a param group's lr / weight_decay / momentum / beta1."""

from __future__ import annotations

import importlib

import pytest
import torch

from rampup.torch import write_group_value
from rampup.torch.groups import GROUP_KEYS


def test_a_float_entry_is_replaced_by_the_value() -> None:
    g = {"lr": 0.1, "weight_decay": 0.01, "momentum": 0.9, "betas": (0.9, 0.999)}
    for key, v in (("lr", 0.5), ("weight_decay", 0.02), ("momentum", 0.8)):
        write_group_value(g, key, v)
        assert g[key] == v and type(g[key]) is float
    write_group_value(g, "betas", 0.85)
    assert g["betas"] == (0.85, 0.999)  # beta2 kept


def test_a_tensor_entry_keeps_its_identity() -> None:
    lr, wd, b1 = (torch.tensor(x, dtype=torch.float64) for x in (0.1, 0.01, 0.9))
    g = {"lr": lr, "weight_decay": wd, "betas": (b1, 0.999)}
    write_group_value(g, "lr", 0.25)
    write_group_value(g, "weight_decay", 0.5)
    write_group_value(g, "betas", 0.75)
    assert g["lr"] is lr and g["weight_decay"] is wd and g["betas"][0] is b1
    assert (lr.item(), wd.item(), b1.item(), g["betas"][1]) == (0.25, 0.5, 0.75, 0.999)


def test_an_unknown_key_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"key: got 'eps'; accepted: 'lr', 'weight_decay', 'momentum', 'betas'"):
        write_group_value({"eps": 1e-8}, "eps", 1e-6)
    assert GROUP_KEYS == ("lr", "weight_decay", "momentum", "betas")


def test_the_schedulers_write_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # WarmupScheduler (lr, weight decay, beta1) and AutoWarmup (lr) have no write path of their own.
    from rampup.torch import AutoWarmup, WarmupScheduler, groups, make_scheduler

    seen: list[str] = []
    real = groups.write_group_value

    def spy(group: dict, key: str, value: float) -> None:
        seen.append(key)
        real(group, key, value)

    auto_mod = importlib.import_module("rampup.torch.auto")
    sched_mod = importlib.import_module("rampup.torch.scheduler")

    monkeypatch.setattr(sched_mod, "write_group_value", spy)
    monkeypatch.setattr(auto_mod, "write_group_value", spy)
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([p], lr=1.0, weight_decay=0.1)
    WarmupScheduler(opt, "linear(4) -> constant", weight_decay="lr", momentum="constant")
    assert seen == ["lr", "weight_decay", "betas"]
    seen.clear()
    opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1.0)
    assert isinstance(make_scheduler(opt2, "auto -> constant", total_steps=10, announce=False), AutoWarmup)
    assert seen == ["lr"]
