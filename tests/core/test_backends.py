"""One formula, every backend: torch and jax evaluation equals NumPy's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rampup import parse

SPECS = [
    "linear(10) -> cosine(floor=0.1)",
    "cosine(5%, start=0.01) -> wsd(cooldown=20%, shape=1-sqrt, floor=0.05)",
    "exponential(20, tau=4) -> restarts(cycle=30, rewarm=5, cycle_mult=1.5, cycle_decay=0.7, floor=0.1)",
    "poly(7, power=2) -> multistep(milestones=[40, 80], gamma=0.5) | rewarm(at=60, length=10, shape=cosine)",
    "noam(d_model=64, warmup=16) | radam(beta2=0.99)",
    "untuned_linear(beta2=0.95) -> invsqrt(floor=0.2) | untuned_exponential(beta2=0.9)",
    "linear(3) -> exponential(rate=0.9, every=7, staircase=true, floor=0.3)",
]


def test_import_needs_only_numpy() -> None:
    code = (
        "import sys, rampup, numpy as np; s = rampup.parse('linear(2%) -> cosine', total_steps=100); s(np.arange(100)); "
        "bad = [m for m in ('torch', 'jax', 'keras', 'matplotlib', 'optax', 'ray') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("spec", SPECS)
def test_torch_matches_numpy(spec: str) -> None:
    torch = pytest.importorskip("torch")
    s = parse(spec, total_steps=150, peak_lr=3e-4)
    ref = s(np.arange(170))
    for steps in (torch.arange(170), torch.arange(170, dtype=torch.float64)):
        out = s(steps)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-13, atol=0)
    out32 = s(torch.arange(170, dtype=torch.float32))
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), ref, rtol=2e-5, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS)
def test_jax_matches_numpy(spec: str) -> None:
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    s = parse(spec, total_steps=150, peak_lr=3e-4)
    ref = s(np.arange(170))
    out = jax.jit(s)(jnp.arange(170))
    np.testing.assert_allclose(np.asarray(out), ref, rtol=3e-5, atol=1e-12)


def test_torch_negative_steps_clamped_not_nan() -> None:
    torch = pytest.importorskip("torch")
    s = parse("linear(10) -> cosine", total_steps=100)
    out = s(torch.tensor([-3, 0]))
    assert out.tolist() == [0.1, 0.1]


def test_wrong_step_types() -> None:
    s = parse("constant")
    with pytest.raises(TypeError, match=r"step: got builtins.dict"):
        s({})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dtype complex128"):
        s(np.array([1j]))
