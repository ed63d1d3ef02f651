"""rampup.scaling: batch-size LR rules and the matching gradual warmup (Goyal et al. 2017)."""

from __future__ import annotations

import doctest
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rampup
import rampup.core.scaling
import rampup.scaling
from rampup.scaling import RULES, gradual_warmup, scale_lr


class TestScaleLr:
    def test_goyal_imagenet_example(self) -> None:
        # Goyal et al.: η = 0.1 for 256 images, so 3.2 for 8192 (k = 32).
        assert scale_lr(0.1, 256, 8192) == 3.2
        assert scale_lr(0.1, 256, 8192, rule="linear") == 3.2

    def test_sqrt_rule(self) -> None:
        assert scale_lr(1e-4, 256, 1024, rule="sqrt") == 2e-4
        assert scale_lr(1e-3, 64, 128, rule="sqrt") == pytest.approx(1e-3 * math.sqrt(2), rel=1e-15)

    def test_same_batch_is_identity_and_smaller_batch_scales_down(self) -> None:
        for rule in RULES:
            assert scale_lr(0.3, 128, 128, rule=rule) == 0.3
        assert scale_lr(0.4, 1024, 256) == 0.1
        assert scale_lr(0.4, 1024, 256, rule="sqrt") == 0.2

    def test_int_lr_gives_float(self) -> None:
        out = scale_lr(1, 2, 4)
        assert out == 2.0 and type(out) is float

    @given(
        lr=st.floats(1e-8, 10.0),
        b0=st.integers(1, 4096),
        k=st.integers(1, 64),
        rule=st.sampled_from(RULES),
    )
    def test_scaling_composes(self, lr: float, b0: int, k: int, rule: str) -> None:
        # Scaling b0 -> b0·k -> b0 returns to the start; the factor is k or √k.
        up = scale_lr(lr, b0, b0 * k, rule)
        assert up / lr == pytest.approx(k if rule == "linear" else math.sqrt(k), rel=1e-12)
        assert scale_lr(up, b0 * k, b0, rule) == pytest.approx(lr, rel=1e-12)
        assert up >= lr


class TestGradualWarmup:
    def test_goyal_five_epochs(self) -> None:
        peak, spec = gradual_warmup(0.1, 256, 8192, "5ep", decay="cosine")
        assert peak == 3.2
        assert spec == "linear(5ep, start=0.03125) -> cosine"
        s = rampup.parse(spec, total_steps=9000, steps_per_epoch=100, peak_lr=peak)
        assert s.warmup_steps == 500
        # Starts from the small-batch LR (the level just before update 1), reaches k·η at step 499.
        assert s(0) == pytest.approx(0.1 + (3.2 - 0.1) / 500, rel=1e-12)
        assert s(499) == 3.2
        v = s(np.arange(500))
        assert np.all(np.diff(v) > 0)
        assert np.diff(v) == pytest.approx(np.full(499, (3.2 - 0.1) / 500), rel=1e-9)  # constant increments

    def test_sqrt_rule_start(self) -> None:
        peak, spec = gradual_warmup(3e-4, 512, 2048, "2%", rule="sqrt", decay="cosine(floor=0.1)")
        assert peak == 6e-4
        assert spec == "linear(2%, start=0.5) -> cosine(floor=0.1)"
        peak, spec = gradual_warmup(1e-3, 256, 512, 100, rule="sqrt")
        start = float(spec.split("start=")[1].split(")")[0])
        assert start == 1 / math.sqrt(2) and start * peak == pytest.approx(1e-3, rel=1e-15)

    def test_same_batch_no_warmup(self) -> None:
        assert gradual_warmup(0.1, 256, 256, 500, decay="cosine") == (0.1, "cosine")
        assert gradual_warmup(0.1, 256, 256, 500) == (0.1, "constant")

    def test_default_decay_and_length_spellings(self) -> None:
        assert gradual_warmup(0.1, 1, 4, 500)[1] == "linear(500, start=0.25) -> constant"
        assert gradual_warmup(0.1, 1, 4, "10Mtok")[1] == "linear(10Mtok, start=0.25) -> constant"
        assert gradual_warmup(0.1, 1, 4, " 3ep ")[1] == "linear(3ep, start=0.25) -> constant"

    @given(
        lr=st.floats(1e-6, 1.0),
        b0=st.integers(1, 1024),
        k=st.integers(2, 256),
        w=st.integers(1, 2000),
        rule=st.sampled_from(RULES),
    )
    def test_warmup_starts_at_base_lr_and_ends_at_peak(self, lr: float, b0: int, k: int, w: int, rule: str) -> None:
        peak, spec = gradual_warmup(lr, b0, b0 * k, w, rule=rule)
        assert peak == scale_lr(lr, b0, b0 * k, rule)
        s = rampup.parse(spec, peak_lr=peak)
        assert s.warmup_steps == w
        assert s(w - 1) == pytest.approx(peak, rel=1e-12)
        # one step before the first update, the line through the warmup sits at base_lr
        assert s(0) - (s(1) - s(0) if w > 1 else peak - lr) == pytest.approx(lr, rel=1e-9)


class TestErrors:
    @pytest.mark.parametrize(
        ("args", "exc", "match"),
        [
            ((0.0, 256, 512), ValueError, r"base_lr: got 0\.0; accepted: a finite number > 0"),
            ((float("inf"), 256, 512), ValueError, r"base_lr: got inf"),
            ((True, 256, 512), TypeError, r"base_lr: got True \(bool\)"),
            (("0.1", 256, 512), TypeError, r"base_lr: got '0\.1' \(str\)"),
            ((0.1, 0, 512), ValueError, r"base_batch: got 0; accepted: a batch size as an int >= 1"),
            ((0.1, 256.0, 512), TypeError, r"base_batch: got 256\.0 \(float\)"),
            ((0.1, 256, -4), ValueError, r"batch: got -4; accepted"),
            ((0.1, 256, None), TypeError, r"batch: got None \(NoneType\)"),
            ((0.1, 256, 512, "cubic"), ValueError, r"rule: got 'cubic'; accepted: 'linear', 'sqrt'"),
            ((0.1, 256, 512, None), ValueError, r"rule: got None"),
        ],
    )
    def test_scale_lr(self, args: tuple[Any, ...], exc: type[Exception], match: str) -> None:
        with pytest.raises(exc, match=match):
            scale_lr(*args)
        with pytest.raises(exc, match=match):  # gradual_warmup validates the same way
            gradual_warmup(*args[:3], 100, *args[3:])  # type: ignore[call-arg,misc]

    @pytest.mark.parametrize(
        ("kw", "exc", "match"),
        [
            ({"warmup": 0}, ValueError, r"warmup: got 0; accepted: a length > 0"),
            ({"warmup": "0ep"}, ValueError, r"warmup: got '0ep'"),
            ({"warmup": -5}, ValueError, r"warmup: got -5"),
            ({"warmup": 5.5}, ValueError, r"warmup: got 5\.5; lengths are whole steps"),
            ({"warmup": "five"}, ValueError, r"warmup: cannot read 'five' as a length"),
            ({"batch": 128}, ValueError, r"batch: got 128 < base_batch 256; a gradual warmup"),
            ({"decay": "cosin"}, ValueError, r"decay: got 'cosin', which does not continue a spec"),
            ({"decay": "noam(d_model=512, warmup=10)"}, ValueError, r"decay: got 'noam"),
            ({"decay": 3}, TypeError, r"decay: got 3 \(int\)"),
            ({"batch": 256, "decay": "linear(5) -> cosine"}, ValueError, r"accepted: decay phases only"),
        ],
    )
    def test_gradual_warmup(self, kw: dict[str, Any], exc: type[Exception], match: str) -> None:
        args: dict[str, Any] = {"base_lr": 0.1, "base_batch": 256, "batch": 1024, "warmup": 100, **kw}
        with pytest.raises(exc, match=match):
            gradual_warmup(**args)


def test_doctests() -> None:
    res = doctest.testmod(rampup.core.scaling, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 8 and res.failed == 0
    res = doctest.testmod(rampup.scaling, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 3 and res.failed == 0


def test_public_path_is_the_core_module() -> None:
    # rampup.scaling (documented in docs/scaling.md) re-exports the core's math: one definition of each rule
    assert rampup.scaling.scale_lr is rampup.core.scaling.scale_lr
    assert rampup.scaling.gradual_warmup is rampup.core.scaling.gradual_warmup
    assert rampup.scaling.RULES is rampup.core.scaling.RULES


def test_import_needs_no_framework() -> None:
    import subprocess
    import sys

    code = "import sys, rampup.scaling; print(sorted(m for m in ('torch', 'jax', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
