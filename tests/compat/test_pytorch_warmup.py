"""pw: modifiers against the installed pytorch_warmup, over a constant LR and over torch schedulers."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import rampup

from .helpers import assert_close, make_opt

torch = pytest.importorskip("torch")
pw = pytest.importorskip("pytorch_warmup")
S = torch.optim.lr_scheduler

N_CONFIGS = 60


def run_pw(opt: Any, warm: Any, sched: Any, n: int) -> np.ndarray:
    """pytorch_warmup's documented loop: optimizer.step(); with warmup.dampening(): scheduler.step()."""
    out = np.empty((n, len(opt.param_groups)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(n):
            out[t] = [float(g["lr"]) for g in opt.param_groups]
            with warm.dampening():
                if sched is not None:
                    sched.step()
    return out


def _base(rng: np.random.Generator, opt: Any) -> tuple[Any, str]:
    """A random base schedule: none (constant LR) or a torch scheduler, and its spec."""
    r = rng.integers(0, 3)
    if r == 0:
        return None, "constant"
    if r == 1:
        t_max = int(rng.integers(1, 200))
        return S.CosineAnnealingLR(opt, T_max=t_max), f"torch:cosine_annealing_lr(T_max={t_max})"
    g = float(rng.uniform(0.9, 1.0))
    return S.ExponentialLR(opt, gamma=g), f"torch:exponential_lr(gamma={g!r})"


KINDS = ["linear", "exponential", "untuned_linear", "untuned_exponential", "radam"]


@pytest.mark.parametrize("kind", KINDS)
def test_matches_pytorch_warmup(kind: str) -> None:
    rng = np.random.default_rng(KINDS.index(kind) + 200)
    for _ in range(N_CONFIGS):
        lrs = [float(x) for x in 10.0 ** rng.uniform(-4, 0, int(rng.integers(1, 4)))]
        period = int(rng.integers(1, 200))
        beta2 = float(rng.choice([0.999, 0.98, 0.95, 0.9, rng.uniform(0.61, 0.9999)]))
        opt = make_opt(lrs, cls=torch.optim.AdamW, betas=(0.9, beta2))
        sched, base = _base(rng, opt)  # the LR scheduler is built before the warmup, as pytorch_warmup requires
        if kind == "linear":
            warm, mod = pw.LinearWarmup(opt, warmup_period=period), f"pw:linear(warmup_period={period})"
        elif kind == "exponential":
            warm, mod = pw.ExponentialWarmup(opt, warmup_period=period), f"pw:exponential(warmup_period={period})"
        elif kind == "untuned_linear":
            warm, mod = pw.UntunedLinearWarmup(opt), f"pw:untuned_linear(beta2={beta2!r})"
        elif kind == "untuned_exponential":
            warm, mod = pw.UntunedExponentialWarmup(opt), f"pw:untuned_exponential(beta2={beta2!r})"
        else:
            warm, mod = pw.RAdamWarmup(opt), f"pw:radam(beta2={beta2!r})"
        n = int(rng.integers(1, 300))
        want = run_pw(opt, warm, sched, n)
        spec = f"{base} | {mod}"
        got = np.stack([rampup.parse(spec, peak_lr=lr)(np.arange(n)) for lr in lrs], axis=1)
        assert_close(got, want, max(lrs), spec)


def test_untuned_truncation_and_suggestion() -> None:
    s = rampup.parse("constant | pw:untuned_linear(beta2=0.999)")
    assert s(1998) == 1.0 and s(1997) < 1.0  # int(2/(1 - 0.999)) = 1999, not 2000
    quirks, sug = s.spec.modifiers[0].quirks(s, s(np.arange(10)))
    assert "1999, one step short of 2000" in quirks[0]
    assert sug == "constant | rewarm(at=0, length=2000)"
    fixed = rampup.parse(sug)
    assert fixed(1999) == 1.0 and fixed(1998) < 1.0
    # pw:linear over a constant LR is rampup's linear warmup, value for value
    a = rampup.parse("constant | pw:linear(warmup_period=50)")(np.arange(80))
    b = rampup.parse("linear(50) -> constant")(np.arange(80))
    assert np.array_equal(a, b)


def test_radam_needs_beta2_above_0_6() -> None:
    with pytest.raises(ValueError, match=r"beta2: got 0.5; accepted: a number in \(0.6, 1\)"):
        rampup.parse("constant | pw:radam(beta2=0.5)")
