"""fairseq: specs against fairseq's formulas (fairseq is not installable here).

The reference functions below transcribe ``step_update`` of
``facebookresearch/fairseq`` ``fairseq/optim/lr_scheduler/inverse_square_root_schedule.py`` and
``fairseq/optim/lr_scheduler/tri_stage_lr_scheduler.py`` line for line (plain Python floats), and the
trainer's rule (``trainer.py``: ``step_update(0)`` when the optimizer is built, ``step_update(num_updates)``
after every update).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import rampup

from .helpers import assert_close

N_CONFIGS = 60


def fairseq_inverse_sqrt(lr: float, warmup_updates: int, warmup_init_lr: float, n: int) -> list[float]:
    warmup_end_lr = lr
    if warmup_init_lr < 0:
        warmup_init_lr = 0 if warmup_updates > 0 else warmup_end_lr
    lr_step = (warmup_end_lr - warmup_init_lr) / warmup_updates
    decay_factor = warmup_end_lr * warmup_updates**0.5
    out = []
    for num_updates in range(n):  # step_update(num_updates)
        if num_updates < warmup_updates:
            out.append(warmup_init_lr + num_updates * lr_step)
        else:
            out.append(decay_factor * num_updates**-0.5)
    return out


def fairseq_tri_stage(lr, warmup_steps, hold_steps, decay_steps, init_lr_scale, final_lr_scale, n) -> list[float]:
    peak_lr, init_lr, final_lr = lr, init_lr_scale * lr, final_lr_scale * lr
    warmup_rate = (peak_lr - init_lr) / warmup_steps if warmup_steps != 0 else 0
    decay_factor = -math.log(final_lr_scale) / decay_steps

    def decide_stage(update_step):
        if update_step < warmup_steps:
            return 0, update_step
        offset = warmup_steps
        if update_step < offset + hold_steps:
            return 1, update_step - offset
        offset += hold_steps
        if update_step <= offset + decay_steps:
            return 2, update_step - offset
        offset += decay_steps
        return 3, update_step - offset

    out = []
    for num_updates in range(n):
        stage, steps_in_stage = decide_stage(num_updates)
        if stage == 0:
            out.append(init_lr + warmup_rate * steps_in_stage)
        elif stage == 1:
            out.append(peak_lr)
        elif stage == 2:
            out.append(peak_lr * math.exp(-decay_factor * steps_in_stage))
        else:
            out.append(final_lr)
    return out


def test_inverse_sqrt_matches_fairseq() -> None:
    rng = np.random.default_rng(500)
    for i in range(N_CONFIGS):
        lr = float(10 ** rng.uniform(-5, 0))
        w = [1, 2][i] if i < 2 else int(rng.integers(1, 200))
        init = float(rng.choice([-1.0, 0.0, lr * rng.uniform(0, 1)]))
        n = int(rng.integers(1, 300))
        want = fairseq_inverse_sqrt(lr, w, init, n)
        spec = f"fairseq:inverse_sqrt(warmup_updates={w}, warmup_init_lr={init!r})"
        assert_close(rampup.parse(spec, peak_lr=lr)(np.arange(n)), want, lr, spec)
        if i % 5 == 0:  # lr= makes the spec absolute
            assert_close(rampup.parse(spec[:-1] + f", lr={lr!r})")(np.arange(n)), want, lr, spec)


def test_tri_stage_matches_fairseq() -> None:
    rng = np.random.default_rng(501)
    for i in range(N_CONFIGS):
        lr = float(10 ** rng.uniform(-5, 0))
        w, h = (int(x) for x in rng.integers(0, 80, 2))
        d = int(rng.integers(1, 120))
        if i % 4 == 0:
            w = 0
        kw = {"init_lr_scale": float(rng.uniform(0, 1)), "final_lr_scale": float(rng.uniform(0.001, 1))}
        n = int(rng.integers(1, 300))
        want = fairseq_tri_stage(lr, w, h, d, n=n, **kw)
        spec = (
            f"fairseq:tri_stage(warmup_steps={w}, hold_steps={h}, decay_steps={d}, "
            + ", ".join(f"{k}={v!r}" for k, v in kw.items())
            + ")"
        )
        assert_close(rampup.parse(spec, peak_lr=lr)(np.arange(n)), want, lr, spec)


def test_tri_stage_phase_ratio() -> None:
    s = rampup.parse("fairseq:tri_stage(phase_ratio=[0.1, 0.4, 0.5], init_lr_scale=0.0)", total_steps=95)
    # int(95·0.1) = 9, int(95·0.4) = 38, int(95·0.5) = 47, as fairseq truncates
    want = fairseq_tri_stage(1.0, 9, 38, 47, 0.0, 0.01, 120)
    assert_close(s(np.arange(120)), want, 1.0, "phase_ratio")
    with pytest.raises(ValueError, match="three fractions that add up to 1"):
        rampup.parse("fairseq:tri_stage(phase_ratio=[0.1, 0.4])", total_steps=95)


def test_errors() -> None:
    with pytest.raises(ValueError, match="warmup_updates: got 0"):
        rampup.parse("fairseq:inverse_sqrt(warmup_updates=0)")
    with pytest.raises(ValueError, match="decay_steps: got 0"):
        rampup.parse("fairseq:tri_stage(warmup_steps=5)")
