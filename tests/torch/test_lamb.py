"""rampup.torch.LAMB against the published update rule (You et al. 2019, Algorithm 2).

The reference below is written with Python floats and lists only (no torch), from
the paper's formulas, so it shares no code with the optimizer under test.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest

pytest.importorskip("torch")

import torch

from rampup.torch.lamb import LAMB, lamb_param_groups, plot_trust_ratios

F64 = torch.float64


class RefLamb:
    """Algorithm 2 of arXiv:1904.00962 for one tensor (a flat list), in Python floats."""

    def __init__(
        self,
        w: list[float],
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-6,
        wd: float = 0.0,
        bias_correction: bool = True,
        adapt: bool = True,
        bounds: tuple[float, float] | None = None,
    ) -> None:
        self.w = list(w)
        self.m = [0.0] * len(w)
        self.v = [0.0] * len(w)
        self.t = 0
        self.b1, self.b2, self.eps, self.wd = beta1, beta2, eps, wd
        self.bc, self.adapt, self.bounds = bias_correction, adapt, bounds
        self.ratio: float | None = None

    def step(self, g: list[float], lr: float) -> None:
        self.t += 1
        b1, b2, t = self.b1, self.b2, self.t
        self.m = [b1 * m + (1 - b1) * gi for m, gi in zip(self.m, g)]
        self.v = [b2 * v + (1 - b2) * gi * gi for v, gi in zip(self.v, g)]
        if self.bc:
            mh = [m / (1 - b1**t) for m in self.m]
            vh = [v / (1 - b2**t) for v in self.v]
        else:
            mh, vh = self.m, self.v
        r = [a / (math.sqrt(b) + self.eps) for a, b in zip(mh, vh)]
        u = [ri + self.wd * wi for ri, wi in zip(r, self.w)]
        ratio = 1.0
        if self.adapt:
            wn = math.sqrt(sum(x * x for x in self.w))
            if self.bounds is not None:
                wn = min(max(wn, self.bounds[0]), self.bounds[1])
            un = math.sqrt(sum(x * x for x in u))
            ratio = wn / un if wn > 0 and un > 0 else 1.0
            self.ratio = ratio
        self.w = [wi - lr * ratio * ui for wi, ui in zip(self.w, u)]


def _rand(n: int, rng: random.Random, scale: float = 1.0) -> list[float]:
    return [rng.gauss(0.0, scale) for _ in range(n)]


def run_both(
    shapes: list[tuple[int, ...]], steps: int, lrs: list[float], tensor_lr: bool = False, **opts: Any
) -> tuple[list[torch.nn.Parameter], list[RefLamb], LAMB]:
    rng = random.Random(1234)
    params = [torch.nn.Parameter(torch.tensor(_rand(math.prod(s), rng), dtype=F64).reshape(s)) for s in shapes]
    ref_kw = {
        "beta1": opts.get("betas", (0.9, 0.999))[0],
        "beta2": opts.get("betas", (0.9, 0.999))[1],
        "eps": opts.get("eps", 1e-6),
        "wd": opts.get("weight_decay", 0.01),
        "bias_correction": opts.get("bias_correction", True),
        "adapt": opts.get("trust_ratio", True),
        "bounds": opts.get("weight_norm_bounds"),
    }
    refs = [RefLamb(p.detach().flatten().tolist(), **ref_kw) for p in params]
    lr0: Any = torch.tensor(lrs[0], dtype=F64) if tensor_lr else lrs[0]
    opt = LAMB(params, lr=lr0, **opts)
    lr_obj = opt.param_groups[0]["lr"]
    for k in range(steps):
        lr = lrs[k % len(lrs)]
        if tensor_lr:
            opt.param_groups[0]["lr"].fill_(lr)
        else:
            opt.param_groups[0]["lr"] = lr
        for p, ref in zip(params, refs):
            g = _rand(p.numel(), rng, scale=0.1 + k)  # growing gradient scale: moments keep changing
            p.grad = torch.tensor(g, dtype=F64).reshape(p.shape)
            ref.step(g, lr)
        opt.step()
    if tensor_lr:
        assert opt.param_groups[0]["lr"] is lr_obj  # read, never replaced
    return params, refs, opt


def assert_matches(params: list[torch.nn.Parameter], refs: list[RefLamb], tol: float = 1e-12) -> None:
    for p, ref in zip(params, refs):
        got = p.detach().flatten().tolist()
        for a, b in zip(got, ref.w):
            assert a == pytest.approx(b, rel=tol, abs=tol)


SHAPES = [(3, 4), (5,), (2, 3, 2)]
LRS = [0.01, 0.02, 0.05, 0.03]


class TestAgainstPaper:
    @pytest.mark.parametrize("tensor_lr", [False, True])
    @pytest.mark.parametrize("wd", [0.0, 0.05])
    @pytest.mark.parametrize("bias_correction", [True, False])
    def test_several_steps_exact(self, tensor_lr: bool, wd: float, bias_correction: bool) -> None:
        params, refs, opt = run_both(
            SHAPES, 7, LRS, tensor_lr=tensor_lr, weight_decay=wd, bias_correction=bias_correction
        )
        assert_matches(params, refs)
        ratios = opt.trust_ratios()
        assert set(ratios) == {"param0", "param1", "param2"}
        for i, ref in enumerate(refs):
            assert ratios[f"param{i}"] == pytest.approx(ref.ratio, rel=1e-12)

    def test_betas_eps_and_bounds(self) -> None:
        # Upper bound 1.5 is below the initial norms (~3.5, ~2.2, ~3.5): φ clips; lower bound unused.
        params, refs, _ = run_both(
            SHAPES, 6, LRS, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1, weight_norm_bounds=(0.0, 1.5)
        )
        assert_matches(params, refs)
        assert refs[0].bounds == (0.0, 1.5)

    def test_lower_bound_applies_to_zero_weights(self) -> None:
        # φ(0) = γ_l > 0: the ratio is γ_l/‖u‖, not 1 (the published φ, as in gluon-nlp).
        w = torch.nn.Parameter(torch.zeros(4, dtype=F64))
        opt = LAMB([w], lr=0.1, weight_decay=0.0, weight_norm_bounds=(0.5, 10.0))
        w.grad = torch.tensor([1.0, -2.0, 3.0, -4.0], dtype=F64)
        opt.step()
        # first step: u_i = g_i/(|g_i| + ε)
        u_norm = math.sqrt(sum((g / (abs(g) + 1e-6)) ** 2 for g in (1.0, -2.0, 3.0, -4.0)))
        assert opt.trust_ratios()["param0"] == pytest.approx(0.5 / u_norm, rel=1e-12)
        assert w.detach().norm().item() == pytest.approx(0.1 * 0.5, rel=1e-12)

    def test_trust_ratio_off_is_adamw_like(self) -> None:
        params, refs, opt = run_both(SHAPES, 5, LRS, trust_ratio=False, weight_decay=0.02)
        assert_matches(params, refs)
        assert opt.trust_ratios() == {}

    def test_relative_step_is_lr(self) -> None:
        # ‖Δw‖ = η·‖w‖ exactly for φ = identity: the layer-wise normalization.
        rng = random.Random(0)
        w = torch.nn.Parameter(torch.tensor(_rand(50, rng), dtype=F64))
        opt = LAMB([w], lr=0.03, weight_decay=0.01)
        for _ in range(4):
            before = w.detach().clone()
            w.grad = torch.tensor(_rand(50, rng), dtype=F64)
            opt.step()
            assert (w.detach() - before).norm().item() == pytest.approx(0.03 * before.norm().item(), rel=1e-12)

    def test_float32_close_to_reference(self) -> None:
        rng = random.Random(7)
        w0 = _rand(12, rng)
        w = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float32))
        ref = RefLamb([float(x) for x in torch.tensor(w0, dtype=torch.float32).tolist()], wd=0.01)
        opt = LAMB([w], lr=0.01)
        for _ in range(5):
            g = [float(x) for x in torch.tensor(_rand(12, rng), dtype=torch.float32).tolist()]
            w.grad = torch.tensor(g, dtype=torch.float32)
            opt.step()
            ref.step(g, 0.01)
        assert w.detach().tolist() == pytest.approx(ref.w, rel=1e-5, abs=1e-6)


class TestEdgeCases:
    def test_zero_weights_ratio_one(self) -> None:
        w = torch.nn.Parameter(torch.zeros(3, dtype=F64))
        opt = LAMB([w], lr=0.1, weight_decay=0.01)
        w.grad = torch.tensor([1.0, 2.0, -3.0], dtype=F64)
        opt.step()
        assert opt.trust_ratios() == {"param0": 1.0}
        # ratio 1: a plain Adam step; first step u_i = g_i/(|g_i| + ε) + λ·0
        expected = [-0.1 * g / (abs(g) + 1e-6) for g in (1.0, 2.0, -3.0)]
        assert w.detach().tolist() == pytest.approx(expected, rel=1e-12)

    def test_zero_grad_no_decay_ratio_one_no_move(self) -> None:
        w = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=F64))
        opt = LAMB([w], lr=0.1, weight_decay=0.0)
        w.grad = torch.zeros(2, dtype=F64)
        opt.step()
        assert opt.trust_ratios() == {"param0": 1.0}
        assert w.detach().tolist() == [1.0, 2.0]
        assert all(math.isfinite(x) for x in opt.state[w]["exp_avg_sq"].tolist())

    def test_zero_grad_with_decay_shrinks_by_lr(self) -> None:
        # u = λw, ρ = ‖w‖/(λ‖w‖) = 1/λ: the step is exactly η·w (relative step η).
        w = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=F64))
        opt = LAMB([w], lr=0.1, weight_decay=0.01)
        w.grad = torch.zeros(2, dtype=F64)
        opt.step()
        assert opt.trust_ratios()["param0"] == pytest.approx(100.0, rel=1e-12)
        assert w.detach().tolist() == pytest.approx([2.7, 3.6], rel=1e-12)

    def test_zero_lr_changes_moments_not_weights(self) -> None:
        w = torch.nn.Parameter(torch.tensor([1.0, -1.0], dtype=F64))
        opt = LAMB([w], lr=0.0)
        w.grad = torch.tensor([0.5, 0.5], dtype=F64)
        opt.step()
        assert w.detach().tolist() == [1.0, -1.0]
        assert opt.state[w]["step"] == 1
        assert opt.state[w]["exp_avg"].tolist() == pytest.approx([0.05, 0.05], rel=1e-12)

    def test_params_without_grad_are_skipped(self) -> None:
        a = torch.nn.Parameter(torch.ones(2, dtype=F64))
        b = torch.nn.Parameter(torch.ones(2, dtype=F64))
        opt = LAMB([a, b], lr=0.1)
        a.grad = torch.ones(2, dtype=F64)
        opt.step()
        assert b.detach().tolist() == [1.0, 1.0] and b not in opt.state
        assert set(opt.trust_ratios()) == {"param0"}

    def test_excluded_group_from_lamb_param_groups(self) -> None:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3)).double()
        groups = lamb_param_groups(model, weight_decay=0.1)
        assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
        opt = LAMB(groups, lr=0.01)
        assert opt.param_groups[0]["trust_ratio"] is True and opt.param_groups[1]["trust_ratio"] is False
        assert opt.param_groups[1]["param_names"] == ["0.bias", "1.weight", "1.bias"]
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        model(torch.randn(5, 4, dtype=F64)).pow(2).sum().backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}  # type: ignore[union-attr]
        opt.step()
        assert set(opt.trust_ratios()) == {"0.weight"}  # excluded ones are not adapted
        # Excluded params: the bias-corrected first Adam step, no decay, no ratio: −η·g/(|g| + ε).
        for n in ("0.bias", "1.weight", "1.bias"):
            g = grads[n]
            expected = before[n] - 0.01 * g / (g.abs() + 1e-6)
            assert torch.allclose(dict(model.named_parameters())[n].detach(), expected, rtol=1e-12, atol=1e-15)

    def test_custom_exclude_rule(self) -> None:
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        groups = lamb_param_groups(model, exclude=lambda name, p: name.startswith("1."))
        assert [[n for n, _ in g["params"]] for g in groups] == [["0.weight", "0.bias"], ["1.weight", "1.bias"]]

    def test_state_dict_round_trip_continues_identically(self) -> None:
        rng = random.Random(3)
        w1 = torch.nn.Parameter(torch.tensor(_rand(6, rng), dtype=F64))
        w2 = torch.nn.Parameter(w1.detach().clone())
        o1 = LAMB([w1], lr=0.01)
        grads = [torch.tensor(_rand(6, rng), dtype=F64) for _ in range(6)]
        for g in grads[:3]:
            w1.grad = g
            o1.step()
        w2.data.copy_(w1.detach())
        o2 = LAMB([w2], lr=0.01)
        o2.load_state_dict(copy.deepcopy(o1.state_dict()))  # as through torch.save / torch.load
        for g in grads[3:]:
            w1.grad, w2.grad = g, g.clone()
            o1.step()
            o2.step()
        assert w1.detach().tolist() == w2.detach().tolist()
        assert o2.state[w2]["step"] == 6

    def test_closure_returns_loss(self) -> None:
        w = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=F64))
        opt = LAMB([w], lr=0.1, weight_decay=0.0)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = (w**2).sum()
            loss.backward()
            return loss

        assert opt.step(closure).item() == 5.0
        # g = 2w is parallel to w and the first step is −η·ρ·g/(|g| + ε), so ‖Δw‖ = η‖w‖ along sign(w)
        assert (torch.tensor([1.0, 2.0], dtype=F64) - w.detach()).norm().item() == pytest.approx(
            0.1 * math.sqrt(5.0), rel=1e-12
        )

    def test_trains_a_small_regression(self) -> None:
        torch.manual_seed(0)
        x = torch.randn(64, 8)
        y = x @ torch.randn(8, 1)
        model = torch.nn.Linear(8, 1)
        opt = LAMB(lamb_param_groups(model, weight_decay=0.0), lr=0.05)
        losses = []
        for _ in range(150):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            losses.append(loss.item())
            loss.backward()
            opt.step()
        assert losses[-1] < 0.05 * losses[0]


class TestWithScheduler:
    def test_lr_written_by_a_scheduler_is_used(self) -> None:
        # Any scheduler that writes group["lr"] (float) or fills it (tensor) drives LAMB.
        for tensor_lr in (False, True):
            params, refs, _ = run_both([(4,)], 5, [0.001, 0.002, 0.003, 0.004, 0.005], tensor_lr=tensor_lr)
            assert_matches(params, refs)

    def test_rampup_warmup_scheduler(self) -> None:
        from rampup.torch.scheduler import WarmupScheduler as ws  # a broken import fails here, not skips

        for tensor_lr in (False, True):
            w = torch.nn.Parameter(torch.ones(3, dtype=F64))
            lr0: Any = torch.tensor(0.1, dtype=F64) if tensor_lr else 0.1
            opt = LAMB([w], lr=lr0, weight_decay=0.0)
            sched = ws(opt, "linear(4) -> constant", total_steps=10)
            seen = []
            for _ in range(5):
                seen.append(float(opt.param_groups[0]["lr"]))
                before = w.detach().clone()
                w.grad = torch.ones(3, dtype=F64)
                opt.step()
                sched.step()
                # relative step = lr exactly (φ = identity, no decay)
                assert (before - w.detach()).norm().item() == pytest.approx(seen[-1] * before.norm().item(), rel=1e-12)
            assert seen == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1], rel=1e-12)


class TestErrors:
    @pytest.mark.parametrize(
        ("kw", "exc", "match"),
        [
            ({"lr": -1.0}, ValueError, r"lr: got -1\.0; accepted: a finite number >= 0"),
            ({"lr": float("nan")}, ValueError, r"lr: got nan"),
            ({"lr": "0.1"}, TypeError, r"lr: got '0\.1' \(str\)"),
            ({"lr": True}, TypeError, r"lr: got True"),
            ({"lr": torch.tensor([0.1, 0.2])}, ValueError, r"lr: got a tensor of shape \(2,\)"),
            ({"lr": torch.tensor(1)}, ValueError, r"dtype torch\.int64"),
            ({"betas": (0.9,)}, TypeError, r"betas: got \(0\.9,\); accepted: a pair"),
            ({"betas": (0.9, 1.0)}, ValueError, r"betas\[1\]: got 1\.0; accepted: a number in \[0, 1\)"),
            ({"betas": (-0.1, 0.9)}, ValueError, r"betas\[0\]: got -0\.1"),
            ({"eps": 0.0}, ValueError, r"eps: got 0\.0; accepted: a finite number > 0"),
            ({"eps": None}, TypeError, r"eps: got None"),
            ({"weight_decay": -0.01}, ValueError, r"weight_decay: got -0\.01; accepted: a finite number >= 0"),
            ({"weight_decay": float("inf")}, ValueError, r"weight_decay: got inf"),
            ({"bias_correction": 1}, TypeError, r"bias_correction: got 1 \(int\); accepted: True or False"),
            ({"trust_ratio": "yes"}, TypeError, r"trust_ratio: got 'yes'"),
            ({"weight_norm_bounds": (10.0, 0.0)}, ValueError, r"weight_norm_bounds: got \(10\.0, 0\.0\)"),
            ({"weight_norm_bounds": (-1.0, 10.0)}, ValueError, r"weight_norm_bounds: got \(-1\.0, 10\.0\)"),
            ({"weight_norm_bounds": 10.0}, ValueError, r"weight_norm_bounds: got 10\.0; accepted: None"),
            ({"weight_norm_bounds": (0.0, 0.0)}, ValueError, r"weight_norm_bounds: got \(0\.0, 0\.0\)"),
        ],
    )
    def test_bad_constructor_args(self, kw: dict[str, Any], exc: type[Exception], match: str) -> None:
        with pytest.raises(exc, match=match):
            LAMB([torch.nn.Parameter(torch.ones(2))], **kw)

    def test_bad_group_option_names_the_group(self) -> None:
        a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
        with pytest.raises(ValueError, match=r"param_groups\[1\]\.weight_decay: got -1"):
            LAMB([{"params": [a]}, {"params": [b], "weight_decay": -1}])
        opt = LAMB([a])
        with pytest.raises(ValueError, match=r"param_groups\[1\]\.eps: got -1"):
            opt.add_param_group({"params": [b], "eps": -1})
        assert len(opt.param_groups) == 1  # nothing half-added

    def test_sparse_grad(self) -> None:
        w = torch.nn.Parameter(torch.ones(3))
        opt = LAMB([w])
        w.grad = torch.ones(3).to_sparse()
        with pytest.raises(TypeError, match=r"param_groups\[0\]: LAMB got a sparse gradient"):
            opt.step()

    def test_param_groups_errors(self) -> None:
        with pytest.raises(TypeError, match=r"model: got list; accepted: a torch\.nn\.Module"):
            lamb_param_groups([])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"weight_decay: got -1"):
            lamb_param_groups(torch.nn.Linear(2, 2), weight_decay=-1)
        frozen = torch.nn.Linear(2, 2).requires_grad_(False)
        with pytest.raises(ValueError, match=r"model: has no parameter with requires_grad=True"):
            lamb_param_groups(frozen)


class TestTrustRatioPlot:
    def test_ratios_grow_and_plot(self, tmp_path: Any) -> None:
        pytest.importorskip("matplotlib")
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
        opt = LAMB(lamb_param_groups(model), lr=1e-3)
        x = torch.randn(256, 16)
        y = torch.randn(256, 1)
        history = []
        for _ in range(40):
            opt.zero_grad()
            idx = torch.randint(0, 256, (8,))  # small noisy batches: ‖u‖ falls as m averages noise
            torch.nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
            opt.step()
            history.append(opt.trust_ratios())
        assert set(history[0]) == {"0.weight", "2.weight"}
        for name in ("0.weight", "2.weight"):
            # the implicit per-layer warmup: ρ after 40 steps well above ρ at the first step
            assert history[-1][name] > 1.5 * history[0][name]
        path = tmp_path / "tr.png"
        fig = plot_trust_ratios(history, path=str(path), title="test")
        assert path.stat().st_size > 1000
        lines = fig.axes[0].get_lines()
        assert [ln.get_label() for ln in lines] == ["0.weight", "2.weight"]
        assert lines[0].get_ydata().tolist() == [h["0.weight"] for h in history]

    def test_plot_max_lines_and_gaps(self) -> None:
        pytest.importorskip("matplotlib")
        hist = [{"a": 1.0, "b": 1.0}, {"a": 1.0, "b": 3.0}, {"b": 2.0}]
        fig = plot_trust_ratios(hist, max_lines=1)
        lines = fig.axes[0].get_lines()
        assert [ln.get_label() for ln in lines] == ["b"]  # widest range kept
        assert "1 flatter parameters not drawn" in fig.axes[0].get_title()
        fig2 = plot_trust_ratios(hist)
        a = fig2.axes[0].get_lines()[0].get_ydata().tolist()
        assert a[:2] == [1.0, 1.0] and math.isnan(a[2])

    @pytest.mark.parametrize(
        ("history", "kw", "exc", "match"),
        [
            ([], {}, ValueError, r"history: got list of length 0; accepted: a non-empty list"),
            ({"a": 1.0}, {}, ValueError, r"history: got dict"),
            ([{}, {}], {}, ValueError, r"history: every step is empty"),
            ([1.0], {}, TypeError, r"history\[0\]: got float"),
            ([{"a": 1.0}], {"max_lines": 0}, ValueError, r"max_lines: got 0; accepted: an int >= 1"),
        ],
    )
    def test_plot_errors(self, history: Any, kw: dict[str, Any], exc: type[Exception], match: str) -> None:
        pytest.importorskip("matplotlib")
        with pytest.raises(exc, match=match):
            plot_trust_ratios(history, **kw)


def test_doctests() -> None:
    import doctest

    import rampup.torch.lamb as mod

    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 3 and res.failed == 0
