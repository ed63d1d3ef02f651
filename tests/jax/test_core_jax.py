"""The core's formulas under XLA: exact phase ends, stairs and cycle boundaries (jax path of rampup.core).

XLA rewrites ``x / c`` for a constant ``c`` into ``x * (1/c)`` (in jit and in eager jax alike), which is not
correctly rounded: ``41 * (1/41)`` is ``0.99999994`` in float32 and ``49 * (1/49)`` is ``0.9999999999999999``
in float64.  A phase's progress ``(s + 1)/L`` then stops one ulp short of 1 at its last step, and
``floor(s / c)`` puts an exact multiple of ``c`` one stair or one cycle too low.  NumPy divides correctly,
so the same spec gives different values in jax at exactly the points rampup promises to be exact.

These tests pin the fix: ``shapes.progress`` (progress pinned to 1.0 by an exact comparison),
``shapes.floor_div`` (a floor division corrected by exact products) and float step constants (Python ints
above 2^31 would become int32 constants under jax).
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import rampup  # noqa: E402


def _jit(spec: str, steps: np.ndarray, **run: int) -> np.ndarray:
    return np.asarray(jax.jit(rampup.parse(spec, **run))(jnp.asarray(steps)), dtype=np.float64)


@pytest.mark.parametrize("length", [41, 47, 55])
def test_float32_phase_ends_are_exact(length: int) -> None:
    # The peak of a warmup and the floor of a decay, exactly, at the last step of the phase.
    warm = _jit(f"linear({length}) -> constant", np.array([length - 1], np.int32))
    assert warm[0] == 1.0
    end = _jit("poly(power=0.5, floor=0.1)", np.array([length - 1], np.int32), total_steps=length)
    assert end[0] == np.float32(0.1)  # (1 - p)^0.5 turns p = 1 - ulp into 2.4e-4 above the floor


def test_float64_phase_ends_are_exact() -> None:
    with jax.enable_x64(True):
        warm = _jit("linear(49) -> constant", np.array([48]))
        end = _jit("linear", np.array([48]), total_steps=49)
    assert warm[0] == 1.0 and end[0] == 0.0  # 0.9999999999999999 and 1.1e-16 without the pin


@pytest.mark.parametrize(
    "spec",
    [
        "restarts(cycle=47, rewarm=17, floor=0.1)",  # step 47 is the first step of cycle 1
        "step(every=47, gamma=0.5)",  # step 47 is the first step at gamma
        "exponential(rate=0.5, every=41, staircase=true)",  # update 41 (t = 40) is the first at rate^1
        "restarts(cycle=659, rewarm=11, cycle_mult=3.0, cycle_decay=0.7, floor=0.1)",  # cycle 2 starts at 8567
    ],
)
def test_float32_stairs_and_cycles_start_where_numpy_says(spec: str) -> None:
    steps = np.arange(9000)
    ref = rampup.parse(spec, total_steps=9000)(steps)
    # 1e-3: a step in the wrong stair or cycle is off by 0.03 to 0.5; float32 rounding of a cycle start
    # computed through m^k (cycle_mult != 1) moves values by ~1e-4 and is not what this test is about.
    np.testing.assert_allclose(_jit(spec, steps.astype(np.int32), total_steps=9000), ref, rtol=0, atol=1e-3)


@pytest.mark.parametrize("spec", ["linear(10) -> cosine", "linear(10) -> multistep(milestones=[3000000000])"])
def test_runs_longer_than_2_31_steps_trace(spec: str) -> None:
    # Python ints above 2^31 (total_steps, segment bounds, milestones) become int32 jax constants: OverflowError.
    s = rampup.parse(spec, total_steps=4_000_000_000)
    assert float(jax.jit(s)(jnp.int32(5))) == pytest.approx(s(5), rel=1e-6)
