"""E6 (optimizers) and E8 (attention logits): the optimizers against hand-computed steps, the logit recorder against
a hand computation, the loop against train_lm and the auto-warmup runs, and both experiments end to end (--quick)."""

from __future__ import annotations

import doctest
import importlib
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from rampup.experiments import e6e8_runs, run_experiment  # noqa: E402
from rampup.experiments.e6e8_runs import ExtraRun, train_run  # noqa: E402
from rampup.experiments.models import TinyLM  # noqa: E402
from rampup.experiments.observers import AttentionLogits  # noqa: E402
from rampup.experiments.optimizers import GIAdamW, Lion, make_optimizer  # noqa: E402
from rampup.experiments.train import LMConfig, train_lm  # noqa: E402

from .conftest import TINY_LM  # noqa: E402
from .test_quick import check_outputs  # noqa: E402

TINY_CFG = LMConfig(spec="linear(3) -> cosine(floor=0.1)", steps=8, eval_windows=8, **TINY_LM)


def test_doctests() -> None:
    for name in ("optimizers", "observers", "e6"):
        mod = importlib.import_module(f"rampup.experiments.{name}")
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert res.attempted > 0 and res.failed == 0, name


def test_lion_two_steps_by_hand() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = Lion([p], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    p.grad = torch.tensor([0.3, -0.1])
    opt.step()  # m = 0: c = 0.1·g → sign (+, −); θ·(1 − 0.05) − 0.1·sign
    assert p.tolist() == pytest.approx([0.95 - 0.1, -1.9 + 0.1])
    assert opt.state[p]["exp_avg"].tolist() == pytest.approx([0.003, -0.001])  # m = 0.01·g
    p.grad = torch.tensor([-0.0001, 0.2])
    opt.step()  # c = 0.9·m + 0.1·g = (0.0027 − 0.00001, −0.0009 + 0.02): signs (+, +) — the momentum wins in coord 0
    assert p.tolist() == pytest.approx([0.85 * 0.95 - 0.1, -1.8 * 0.95 - 0.1])
    assert opt.state[p]["exp_avg"].tolist() == pytest.approx([0.99 * 0.003 - 0.01 * 0.0001, -0.99 * 0.001 + 0.002])


def test_gi_adam_starts_its_second_moment_at_the_first_gradient_squared() -> None:
    b1, b2, lr = 0.9, 0.98, 0.1
    p = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    opt = GIAdamW([p], lr=lr, betas=(b1, b2), eps=0.0, weight_decay=0.0)
    g1, g2 = [2.0, -0.5], [1.0, 1.0]
    p.grad = torch.tensor(g1)
    opt.step()
    v = [x * x for x in g1]  # v_1 = β2·g1² + (1 − β2)·g1² = g1²
    step1 = [lr * g / math.sqrt(vv / (1 - b2)) for g, vv in zip(g1, v)]  # m̂_1 = g1, v̂_1 = v_1/(1 − β2)
    assert p.tolist() == pytest.approx([1 - s for s in step1])
    assert opt.state[p]["exp_avg_sq"].tolist() == pytest.approx(v)
    p.grad = torch.tensor(g2)
    opt.step()
    m = [b1 * (1 - b1) * a + (1 - b1) * b for a, b in zip(g1, g2)]  # m_2 = β1·m_1 + (1 − β1)·g2, m_1 = (1 − β1)·g1
    v2 = [b2 * vv + (1 - b2) * b * b for vv, b in zip(v, g2)]
    step2 = [lr * (mm / (1 - b1**2)) / math.sqrt(vv / (1 - b2**2)) for mm, vv in zip(m, v2)]
    assert p.tolist() == pytest.approx([1 - s1 - s2 for s1, s2 in zip(step1, step2)])
    # Adam's first step is η·sign(g) in every coordinate; GI-Adam's is sqrt(1 − β2) of it here
    assert step1 == pytest.approx([lr * math.sqrt(1 - b2), -lr * math.sqrt(1 - b2)])


def test_gi_adam_rejects_state_it_cannot_create() -> None:
    with pytest.raises(ValueError, match="amsgrad: got True"):
        GIAdamW([torch.nn.Parameter(torch.zeros(1))], amsgrad=True)


def test_make_optimizer() -> None:
    ps = [torch.nn.Parameter(torch.zeros(2, 2))]
    assert type(make_optimizer("adafactor", ps, 1e-2)).__name__ == "Adafactor"
    lion = make_optimizer("lion", ps, 1e-3, weight_decay=0.01)
    assert lion.param_groups[0]["weight_decay"] == pytest.approx(0.1) and lion.param_groups[0]["betas"] == (0.9, 0.99)
    assert isinstance(make_optimizer("gi_adamw", ps, 1e-2), GIAdamW)
    with pytest.raises(ValueError, match="optimizer: got 'sgd'; accepted: adamw, adafactor, lion, gi_adamw"):
        make_optimizer("sgd", ps, 1e-2)


def _layer_norm(v: list[float]) -> list[float]:
    mu = sum(v) / len(v)
    var = sum((x - mu) ** 2 for x in v) / len(v)
    return [(x - mu) / math.sqrt(var + 1e-5) for x in v]


@pytest.mark.parametrize("qk_norm", [False, True])
def test_recorded_max_logit_equals_a_hand_computation(qk_norm: bool) -> None:
    torch.manual_seed(3)
    d, h, t = 8, 2, 4
    model = TinyLM(n_layers=1, d_model=d, n_heads=h, seq_len=t, post_ln=True, qk_norm=qk_norm)
    idx = torch.tensor([[5, 9, 200, 9], [1, 2, 3, 4]])
    rec = AttentionLogits(model)
    model(idx)
    # By hand: the first block's input is tok + pos (Post-LN: attention sees it un-normalised); qkv = x Wᵀ + b.
    x = (model.tok.weight[idx] + model.pos.weight[:t]).tolist()
    w, b = model.blocks[0].attn.qkv.weight.tolist(), model.blocks[0].attn.qkv.bias.tolist()
    dh = d // h
    best = 0.0
    for bi in range(2):
        qkv = [[sum(x[bi][i][c] * w[r][c] for c in range(d)) + b[r] for r in range(3 * d)] for i in range(t)]
        for hh in range(h):
            q = [qkv[i][hh * dh : (hh + 1) * dh] for i in range(t)]
            k = [qkv[i][d + hh * dh : d + (hh + 1) * dh] for i in range(t)]
            if qk_norm:  # LayerNorm at init: weight 1, bias 0
                q, k = [_layer_norm(v) for v in q], [_layer_norm(v) for v in k]
            for i in range(t):
                for j in range(i + 1):  # causal: key j <= query i
                    best = max(best, abs(sum(a * c for a, c in zip(q[i], k[j]))) / math.sqrt(dh))
    assert rec.last[0] == pytest.approx(best, rel=1e-5)
    assert best > 0
    model.eval()
    rec.last[0] = -1.0
    model(idx)  # evaluation passes are not recorded
    assert rec.last[0] == -1.0
    rec.close()
    model.train()
    model(idx)
    assert rec.last[0] == -1.0  # the hooks are gone


def test_the_loop_reproduces_train_lm_and_the_auto_runs() -> None:
    a = train_lm(TINY_CFG, 1)
    b = train_run(ExtraRun(TINY_CFG, 1, "x", record_logits=True))
    assert a["train_loss"] == b["train_loss"] and a["lr"] == b["lr"] and a["final_val_loss"] == b["final_val_loss"]
    assert b["max_logit"].shape == (8, 1) and (b["max_logit"] > 0).all()  # recording does not change the run
    from rampup.experiments.auto_runs import Arm, run_lm

    cfg = replace(TINY_CFG, spec="cosine(floor=0.1)", steps=12)
    c = run_lm(cfg, 0, Arm("auto", "auto", method="update"))
    d = train_run(ExtraRun(cfg, 0, "auto", auto=True))
    assert c["train_loss"] == d["train_loss"] and c["lr"] == d["lr"] and c["warmup_steps"] == d["warmup_steps"]
    assert d["exported_spec"] == c["spec"]


def test_other_optimizers_train() -> None:
    for name, lr in (("adafactor", 1e-2), ("lion", 1e-3), ("gi_adamw", 1e-2)):
        r = train_run(ExtraRun(replace(TINY_CFG, peak_lr=lr), 0, name, optimizer=name))
        assert r["optimizer"] == name and len(r["train_loss"]) == 8 and math.isfinite(r["final_val_loss"])
        assert r["final_val_loss"] < r["val_loss_init"]


@pytest.fixture
def tiny_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """In-process E6/E8 runs (``workers=1``) train the tiny model of the quick smoke tests."""
    made: list[str] = []
    orig = e6e8_runs.train_run

    def tiny(run: ExtraRun, *a: Any, **k: Any) -> Any:
        made.append(run.optimizer)
        return orig(replace(run, cfg=replace(run.cfg, **TINY_LM)), *a, **k)

    monkeypatch.setattr(e6e8_runs, "train_run", tiny)
    yield made


def test_e6_quick(tmp_path: Path, tiny_runs: list[str]) -> None:
    run_experiment("e6", str(tmp_path), quick=True, workers=1, progress=False)
    res = check_outputs(tmp_path, "e6", 1)
    assert len(tiny_runs) == 3 * 2 * 3 + 2 + 1  # the grids, GI-Adam with and without warmup, auto
    assert res["grids"]["lion"] == [1e-4, 3.16e-4, 1e-3] and res["grids"]["adamw"] == [1e-3, 3.16e-3, 1e-2]
    assert set(res["grids"]) == {"adamw", "adafactor", "lion"}
    for a in res["arms"]:  # the chosen LR is the grid's best on seed 0; GI-Adam's is AdamW's warmup LR
        if a["optimizer"] == "gi_adamw":
            assert a["lr"] == res["chosen_lr"]["adamw_warmup"] and a["name"] not in res["summary"]["grid_seed0"]
            continue
        g = res["summary"]["grid_seed0"][a["name"]]
        assert a["lr"] == min((float(k) for k in g), key=lambda lr: g[str(lr)]) and len(g) == 3
    assert tiny_runs.count("gi_adamw") == 2 and res["arms"][0]["config"]["steps"] == 24
    assert set(res["summary"]["need"]) == {"adamw", "adafactor", "lion", "gi_adamw"}
    assert res["outcome"]["verdict"] in ("reproduced", "partly", "not reproduced")
    auto = res["auto"]
    assert auto["best_fixed"] == "adamw_warmup" and auto["no_warmup"] == "adamw_none" and auto["unit"] == "%"
    assert len(auto["gap_best_per_seed"]) == 1 and "adamw_warmup" in auto["best_fixed_meaning"]
    run = next(r for r in res["runs"] if r["arm"] == "adamw_auto")
    assert run["exported_spec"].startswith("piecewise(steps=[0, ") and 1 <= run["warmup_steps"] <= 12


def test_e8_quick(tmp_path: Path, tiny_runs: list[str]) -> None:
    run_experiment("e8", str(tmp_path), quick=True, workers=1, progress=False)
    res = check_outputs(tmp_path, "e8", 1)
    assert [a["name"] for a in res["arms"]] == ["plain_warmup", "plain_none", "qk_warmup", "qk_none"]
    assert {a["config"]["qk_norm"] for a in res["auto_arms"]} == {False, True} and len(tiny_runs) == 6
    for r in res["runs"]:
        assert len(r["max_logit"]) == 24 and all(len(x) == 1 and x[0] > 0 for x in r["max_logit"])
    s = res["summary"]["plain_none"]
    assert s["max_logit_window"][0] == pytest.approx(max(x[0] for x in res["runs"][1]["max_logit"][:6]))
    o = res["outcome"]
    assert o["verdict"] in ("reproduced", "partly", "not reproduced") and o["logit_ratio"] > 0
    assert res["auto"]["qk"]["best_fixed"] == "qk_warmup" and res["auto"]["plain"]["no_warmup"] == "plain_none"
