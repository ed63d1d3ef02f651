"""E5 (warmup vs width) and E7 (architecture and init): the model variants, the loops, the criteria, --quick."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from rampup.experiments import EXPERIMENTS, run_experiment  # noqa: E402
from rampup.experiments.auto_runs import Arm, run_digits, run_lm  # noqa: E402
from rampup.experiments.common import run_jobs  # noqa: E402
from rampup.experiments.e5e7_runs import (  # noqa: E402
    DeepNormLM,
    FixupResNet,
    ReZeroLM,
    deepnorm_constants,
    make_lm,
    make_resnet,
    resnet_variant,
    run_variant_digits,
    run_variant_lm,
    shortest_stable,
    variant_job,
)
from rampup.experiments.models import TinyLM  # noqa: E402
from rampup.experiments.train import (  # noqa: E402
    DigitsConfig,
    FixedPlan,
    LMConfig,
    digits_loop,
    digits_spec,
    train_digits,
    train_lm,
)

PNG = b"\x89PNG\r\n\x1a\n"
TINY = LMConfig(
    spec="linear(3) -> cosine(floor=0.1)",
    steps=8,
    n_layers=2,
    d_model=16,
    n_heads=2,
    seq_len=16,
    batch=4,
    eval_windows=8,
)


def test_deepnorm_constants_and_init() -> None:
    a, b = deepnorm_constants(4)  # the 4-layer model of E7: (2·4)^(1/4), (8·4)^(-1/4)
    assert a == pytest.approx(8**0.25) == pytest.approx(1.681793) and b == pytest.approx(32**-0.25)
    assert b == pytest.approx(0.420448)
    with pytest.raises(ValueError, match="n_layers: got 0; accepted: an integer >= 1"):
        deepnorm_constants(0)
    torch.manual_seed(3)
    ref = TinyLM(2, 16, 2, 8, post_ln=True)
    torch.manual_seed(3)
    m = DeepNormLM(2, 16, 2, 8)
    assert (m.alpha, m.beta) == deepnorm_constants(2)
    for bm, br in zip(m.blocks, ref.blocks):
        q_k, v = bm.attn.qkv.weight[:32], bm.attn.qkv.weight[32:]
        assert torch.equal(q_k, br.attn.qkv.weight[:32])  # q and k keep gain 1
        torch.testing.assert_close(v, br.attn.qkv.weight[32:] * m.beta)
        for lm, lr in ((bm.attn.proj, br.attn.proj), (bm.mlp[0], br.mlp[0]), (bm.mlp[2], br.mlp[2])):
            torch.testing.assert_close(lm.weight, lr.weight * m.beta)
    # the residual is scaled by alpha inside each post-LN sublayer
    x = torch.randint(0, 256, (2, 8))
    h = m.tok(x) + m.pos.weight[:8]
    for blk in m.blocks:
        h = blk.ln1(m.alpha * h + blk.attn(h))
        h = blk.ln2(m.alpha * h + blk.mlp(h))
    torch.testing.assert_close(m(x), m.head(h))


def test_rezero_is_the_identity_at_init_and_has_no_layernorm() -> None:
    torch.manual_seed(0)
    m = ReZeroLM(3, 16, 2, 8)
    x = torch.randint(0, 256, (2, 8))
    torch.testing.assert_close(m(x), m.head(m.tok(x) + m.pos.weight[:8]), rtol=0, atol=0)
    assert not any(isinstance(mod, torch.nn.LayerNorm) for mod in m.modules())
    assert torch.equal(m.res_weight.detach(), torch.zeros(3))
    m.res_weight.data.fill_(0.5)  # once trained, the branches count
    assert not torch.allclose(m(x), m.head(m.tok(x) + m.pos.weight[:8]))


def test_fixup_init() -> None:
    torch.manual_seed(0)
    m = FixupResNet(8)
    assert not any(isinstance(mod, torch.nn.BatchNorm2d) for mod in m.modules())
    x = torch.randn(4, 1, 8, 8)
    assert torch.equal(m(x), torch.zeros(4, 10))  # the classifier starts at 0
    blk = m.layers[0]
    h = torch.relu(m.stem(x))
    torch.testing.assert_close(blk(h), torch.relu(h))  # the branch's last conv is 0: the block passes its input
    assert torch.count_nonzero(blk.conv2.weight) == 0 and blk.scale.item() == 1.0
    # He init of the branch's first conv, scaled by L^(-1/2) with L = 3 branches
    std = float(m.layers[1].conv1.weight.detach().std())
    assert std == pytest.approx(math.sqrt(2 / (16 * 9)) / math.sqrt(3), rel=0.1)
    assert isinstance(make_resnet("default", 4), torch.nn.Module)
    with pytest.raises(ValueError, match="init: got 'x'; accepted: 'default', 'fixup'"):
        make_resnet("x", 4)
    with pytest.raises(ValueError, match="arch: got 'x'; accepted: 'post_ln', 'pre_ln', 'deepnorm', 'rezero'"):
        make_lm("x", 1, 16, 2, 8)


def test_the_variant_loops_are_the_experiments_loops() -> None:
    """A fixed spec gives train_lm's / train_digits' losses bit for bit; the auto arm gives auto_runs' losses."""
    a = train_lm(TINY, 1)
    b = run_variant_lm(TINY, "post_ln", 1, Arm("fixed", "f", spec=TINY.spec))
    assert a["train_loss"] == b["train_loss"] and a["lr"] == b["lr"] and a["final_val_loss"] == b["final_val_loss"]
    assert b["spec"] == "linear(3) -> cosine(floor=0.1)" and b["warmup_steps"] == 3
    pre = replace(TINY, post_ln=False)
    assert (
        train_lm(pre, 0)["train_loss"]
        == run_variant_lm(pre, "pre_ln", 0, Arm("fixed", "f", spec=pre.spec))["train_loss"]
    )
    c = replace(TINY, spec="cosine(floor=0.1)")
    auto = Arm("auto", "auto", method="update")
    a, b = run_lm(c, 1, auto), run_variant_lm(c, "post_ln", 1, auto)
    assert a["train_loss"] == b["train_loss"] and a["warmup_steps"] == b["warmup_steps"] and b["spec"] == a["spec"]
    d = DigitsConfig(width=4, epochs=9, warmup_epochs=2)
    spec, _ = digits_spec(d, 2)
    a, b = train_digits(d, 0), run_variant_digits(d, "default", 0, Arm("fixed", "f", spec=spec))
    assert a["train_loss"] == b["train_loss"] and a["test_error_per_epoch"] == b["test_error_per_epoch"]
    a = run_digits(d, 0, Arm("auto", "a", method="update", start=32 / 512))  # auto starts at the small-batch LR
    b = run_variant_digits(d, "default", 0, Arm("auto", "a", method="update"))
    assert a["train_loss"] == b["train_loss"] and b["lr"][0] > 0


def test_variant_jobs_go_through_run_jobs() -> None:
    """E5/E7's jobs are Job.call jobs of the one runner; a Fixup run is digits_loop with the Fixup factory."""
    d = DigitsConfig(width=4, epochs=3, warmup_epochs=1)
    arm = Arm("fixed", "w1", spec="linear(2) -> multistep(milestones=[2, 4, 5], gamma=0.1)")
    job = variant_job(
        "digits", d, "fixup", 0, Arm("fixed", "w0", spec="multistep(milestones=[2, 4, 5], gamma=0.1)"), 6, {"cell": "c"}
    )
    assert job.kind == "call" and job.cfg[0] is run_variant_digits and job.arm == "w0"
    assert job.tags == {"variant": "fixup", "cell": "c"}
    (r,) = run_jobs([job], workers=1, progress=False)
    assert (r["arm"], r["seed"], r["variant"], r["cell"]) == ("w0", 0, "fixup", "c")
    direct = digits_loop(d, 0, partial(FixedPlan, r["spec"]), model=partial(resnet_variant, "fixup"))
    assert r["train_loss"] == direct["train_loss"] and r["test_error_per_epoch"] == direct["test_error_per_epoch"]
    assert isinstance(resnet_variant("fixup", d), FixupResNet)
    assert variant_job("lm", TINY, "rezero", 1, arm, 8).cfg[1]["arch"] == "rezero"
    with pytest.raises(ValueError, match="kind: got 'x'; accepted: 'lm' or 'digits'"):
        variant_job("x", d, "fixup", 0, arm, 6)


def test_shortest_stable() -> None:
    grid = {0: [3.15, 3.15], 10: [2.50, 2.60], 25: [2.42, 2.40], 50: [2.40, 2.38]}
    failed = {0: [True, True], 10: [False, False], 25: [False, False], 50: [False, False]}
    assert shortest_stable(grid, failed, 0.05) == (25, pytest.approx(2.39))
    assert shortest_stable(grid, failed, 0.2)[0] == 10
    failed[50] = [False, True]  # a failed seed rules a warmup out, and out of "the best" too
    assert shortest_stable(grid, failed, 0.0) == (25, pytest.approx(2.41))
    assert shortest_stable(grid, {w: [True, True] for w in grid}, 0.05) == (None, pytest.approx(math.nan, nan_ok=True))


def _check(out: Path, name: str) -> dict[str, Any]:
    res = json.loads((out / "results.json").read_text())
    assert res["experiment"] == name and res["quick"] is True and res["seeds"] == [0]
    assert res["outcome"]["verdict"] in ("reproduced", "partly reproduced", "not reproduced")
    assert res["outcome"]["reproduced"] is (res["outcome"]["verdict"] == "reproduced")
    assert res["criterion"] == res["outcome"]["criterion"] and res["claim"]
    pngs = [f for f in res["files"] if f.endswith(".png")]
    assert pngs and all((out / f).read_bytes()[:8] == PNG for f in pngs)
    report = (out / "report.md").read_text()
    assert report.startswith(f"# {name.upper()}: ") and "**Criterion** (fixed before the run)" in report
    assert "**Outcome**" in report and all(f"({p})" in report for p in pngs) and "auto vs best fixed" in report
    return res


def test_e5_quick(tmp_path: Path) -> None:
    run_experiment("e5", str(tmp_path), quick=True, workers=1, progress=False)
    res = _check(tmp_path, "e5")
    assert res["widths"] == [16, 32] and set(res["summary"]["per_width"]) == {"16", "32"}
    names = [a["name"] for a in res["arms"]]
    assert names == ["d16_w0", "d16_w2", "d16_w6", "d16_auto", "d32_w0", "d32_w1", "d32_w2", "d32_w6", "d32_auto"]
    assert all(set(r["spikes"]) == {"count", "steps", "max_ratio"} for r in res["runs"])
    assert res["outcome"]["spike_arms_below_0.5pct"] == ["d32_w0"]  # 1 of 24 updates is 4 %: in the 1–5 % group
    auto = next(r for r in res["runs"] if r["cell"] == "d32_auto")
    assert auto["spec"].startswith("piecewise(") and 1 <= auto["warmup_steps"] <= 12
    p = res["summary"]["per_width"]["32"]
    g = p["auto"]
    assert g["auto"] == "d32_auto" and g["best_fixed"] == f"d32_w{p['best_fixed_warmup']}" and g["unit"] == "%"
    assert len(g["gap_best_per_seed"]) == 1 and math.isfinite(g["gap_none_mean"]) and g["no_warmup"] == "d32_w0"


def test_e7_quick(tmp_path: Path) -> None:
    run_experiment("e7", str(tmp_path), quick=True, workers=1, progress=False)
    res = _check(tmp_path, "e7")
    assert set(res["summary"]["models"]) == {"post_ln", "pre_ln", "deepnorm", "rezero", "default", "fixup"}
    assert res["deepnorm"] == {"n_layers": 2, "alpha": 2**0.5, "beta": 0.5}
    assert len(res["runs"]) == 4 * 3 + 2 * 3
    digits = next(c for c in res["cells"] if c["name"] == "default_w1")
    assert digits["plan"]["spec"].startswith("linear(2, start=0.0625) -> multistep(")
    assert set(res["outcome"]["reduces"]) == {"pre_ln", "deepnorm", "rezero", "fixup"}


def test_registered() -> None:
    assert {"e5", "e7"} <= set(EXPERIMENTS)
