"""optax: every ``optax:`` spec against optax as its optimizers run it — ``scale_by_schedule`` inside ``jax.jit``.

An optax optimizer keeps its step count as an int32 (``ScaleByScheduleState``, ``inject_hyperparams``) and
calls the schedule inside the jitted update; so ``count / transition_steps`` is float32 (even with
``jax_enable_x64``) and XLA turns it into ``count · (1/transition_steps)``.  Each test runs one jitted
``lax.scan`` of optimizer updates (gradient 1, so the update is the schedule's value) for ~25 random
configurations of one schedule at once, and compares every update with rampup's spec: to float32 precision
for the values, and exactly for the staircase (a stair one step off is a factor ``decay_rate`` off).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import rampup
from rampup.tools.explain import explain

os.environ.setdefault("JAX_PLATFORMS", "cpu")
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

N = 300  # updates per configuration
PER_KIND = 25


def train(schedules: list[Any], n: int = N) -> np.ndarray:
    """The LR of updates 1 … n of ``optax.scale_by_schedule(s)`` for every schedule, one jitted scan."""
    txs = [optax.scale_by_schedule(s) for s in schedules]
    with jax.enable_x64(False):
        states = tuple(tx.init(jnp.zeros((), jnp.float32)) for tx in txs)

        def body(sts: Any, _: Any) -> Any:
            out, new = [], []
            for tx, st in zip(txs, sts):
                u, st = tx.update(jnp.ones((), jnp.float32), st)
                out.append(u)
                new.append(st)
            return tuple(new), jnp.stack(out)

        _, us = jax.jit(lambda sts: jax.lax.scan(body, sts, None, length=n))(states)
        return np.asarray(us, dtype=np.float64)  # (n, configs)


def _v(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "[" + ", ".join(f"[{b}, {s!r}]" for b, s in v.items()) + "]"
    if isinstance(v, tuple):  # a nested (name, kwargs) optax spec
        return f"optax:{v[0]}({_args(v[1])})"
    if isinstance(v, list):
        return "[" + ", ".join(_v(x) for x in v) + "]"
    return repr(v)


def _args(kw: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_v(v)}" for k, v in kw.items() if v is not None)


def _make(name: str, kw: dict[str, Any]) -> Any:
    """The optax schedule for (name, kwargs); nested specs are (name, kwargs) tuples."""
    if name == "join_schedules":
        return optax.join_schedules([_make(*s) for s in kw["schedules"]], kw["boundaries"])
    if name == "sgdr_schedule":
        return optax.sgdr_schedule([c[1] for c in kw["cosine_kwargs"]])
    return getattr(optax, name)(**kw)


def _lvl(rng: np.random.Generator, peak: float) -> float:
    return float(rng.choice([0.0, peak * rng.uniform(0, 1)]))


def _ts(rng: np.random.Generator) -> int:
    # primes and odd periods: the staircase under jit lands one short at some of their multiples
    return int(rng.choice([0, 1, 41, 47, 49, 206, int(rng.integers(1, 60)), int(rng.integers(1, 60))]))


def config(rng: np.random.Generator, name: str, i: int) -> dict[str, Any]:
    peak = float(10 ** rng.uniform(-4, 0))
    if name == "constant_schedule":
        return {"value": peak}
    if name in ("polynomial_schedule", "linear_schedule"):
        kw: dict[str, Any] = {"init_value": peak, "end_value": _lvl(rng, peak)}
        if rng.random() < 0.5:
            kw["init_value"], kw["end_value"] = kw["end_value"], kw["init_value"]
        if name == "polynomial_schedule":
            kw["power"] = float(rng.choice([0.0, 1.0, 2.0, rng.uniform(0.1, 3)]))
        kw["transition_steps"] = [0, 1][i] if i < 2 else int(rng.integers(1, 250))
        kw["transition_begin"] = int(rng.choice([0, rng.integers(0, 60)]))
        return kw
    if name == "warmup_constant_schedule":
        return {"init_value": _lvl(rng, peak), "peak_value": peak, "warmup_steps": int(rng.integers(0, 120))}
    if name in ("exponential_decay", "warmup_exponential_decay_schedule"):
        rate = float(rng.choice([0.0, rng.uniform(0.05, 0.999), rng.uniform(0.9, 0.999), rng.uniform(1.0, 1.1)]))
        kw = (
            {"init_value": peak}
            if name == "exponential_decay"
            else {"init_value": _lvl(rng, peak), "peak_value": peak, "warmup_steps": int(rng.integers(0, 60))}
        )
        kw |= {
            "transition_steps": _ts(rng),
            "decay_rate": rate,
            "transition_begin": int(rng.choice([0, rng.integers(0, 40)])),
            "staircase": bool(rng.random() < 0.6),
        }
        if rate > 1.0 or rng.random() < 0.4:
            kw["end_value"] = float(peak * (rng.uniform(0, 0.5) if rate < 1 else rng.uniform(1, 2)))
        return kw
    if name == "cosine_decay_schedule":
        return {
            "init_value": peak,
            "decay_steps": int(rng.integers(1, 250)),
            "alpha": float(rng.choice([0.0, rng.uniform(0, 1), rng.uniform(1, 2)])),
            "exponent": float(rng.choice([1.0, rng.uniform(0.5, 3)])),
        }
    if name in ("piecewise_constant_schedule", "piecewise_interpolate_schedule"):
        bs = sorted({int(x) for x in rng.integers(0, 260, int(rng.integers(0, 5)))})
        perm = [int(x) for x in rng.permutation(len(bs))]  # a dict in any order: optax sorts it
        kw = {"init_value": peak, "boundaries_and_scales": {bs[j]: float(rng.uniform(0, 2)) for j in perm}}
        if name == "piecewise_interpolate_schedule":
            kw = {"interpolate_type": str(rng.choice(["linear", "cosine"])), **kw}
        return kw
    if name == "warmup_cosine_decay_schedule":
        w = int(rng.integers(0, 100))
        return {
            "init_value": _lvl(rng, peak),
            "peak_value": peak,
            "warmup_steps": w,
            "decay_steps": w + int(rng.integers(1, 150)),
            "end_value": _lvl(rng, peak) * 0.5,
            "exponent": float(rng.choice([1.0, rng.uniform(0.5, 3)])),
        }
    if name in ("linear_onecycle_schedule", "cosine_onecycle_schedule"):
        kw = {
            "transition_steps": int(rng.integers(1, 250)),
            "peak_value": peak,
            "pct_start": float(rng.choice([0.3, 0.0, 1.0, rng.uniform(0, 1)])),
            "div_factor": float(rng.uniform(1, 50)),
            "final_div_factor": float(10 ** rng.uniform(0, 5)),
        }
        if name == "linear_onecycle_schedule":
            kw["pct_final"] = float(rng.choice([0.85, rng.uniform(kw["pct_start"], 1)]))
        return kw
    if name == "sgdr_schedule":
        cyc = [("warmup_cosine_decay_schedule", config(rng, "warmup_cosine_decay_schedule", 9)) for _ in range(3)]
        return {"cosine_kwargs": [c for c in cyc[: int(rng.integers(1, 4))]]}
    if name == "join_schedules":
        kinds = ["constant_schedule", "linear_schedule", "cosine_decay_schedule", "exponential_decay"]
        subs = [(k, config(rng, k, 9)) for k in rng.choice(kinds, int(rng.integers(1, 4)))]
        bounds = sorted(int(x) for x in rng.integers(0, 250, len(subs) - 1))
        if rng.random() < 0.2:
            bounds = bounds[::-1]  # out of order: the later boundary in the list wins, as in optax's loop
        return {"schedules": subs, "boundaries": bounds}
    raise AssertionError(name)


NAMES = [
    "constant_schedule",
    "polynomial_schedule",
    "linear_schedule",
    "warmup_constant_schedule",
    "exponential_decay",
    "cosine_decay_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "join_schedules",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "sgdr_schedule",
]


@pytest.mark.parametrize("name", NAMES)
def test_matches_optax_under_jit(name: str) -> None:
    rng = np.random.default_rng(4000 + NAMES.index(name))
    configs = [config(rng, name, i) for i in range(PER_KIND)]
    want = train([_make(name, kw) for kw in configs])
    for j, kw in enumerate(configs):
        spec = f"optax:{name}({_args(kw)})"
        got = rampup.parse(spec)(np.arange(N))
        w = want[:, j]
        nan = np.isnan(w)
        if nan.any():  # optax's polynomial past its end inside jit (see test_polynomial_nan_past_the_end)
            assert name == "polynomial_schedule" and "NaN" in " ".join(explain(rampup.parse(spec), N).notes), spec
            assert got[nan].tolist() == [kw["end_value"]] * int(nan.sum())
            got, w = got[~nan], w[~nan]
        peak = float(np.max(np.abs(w))) or 1.0
        np.testing.assert_allclose(got, w, rtol=2e-5, atol=2e-6 * peak, err_msg=spec)


def test_the_staircase_lands_short_inside_jit() -> None:
    # the case: transition_steps=41, staircase: at step 41 optax (in its optimizer, jitted) still gives 1.0
    kw = {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 0, "transition_steps": 41, "decay_rate": 0.5}
    want = train([optax.warmup_exponential_decay_schedule(**kw, staircase=True)], 200)[:, 0]
    assert want[41] == 1.0 and want[42] == 0.5 and want[82] == 0.5
    s = rampup.parse(f"optax:warmup_exponential_decay_schedule({_args(kw)}, staircase=true)")
    assert s(np.arange(200)).tolist() == want.tolist()
    assert [s(t) for t in (40, 41, 42, 82, 83)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert any("count·(1/41)" in n and "41, 82, 164" in n for n in explain(s, 300).notes)
    # inject_hyperparams (the other way optax optimizers take a schedule) applies the same LRs
    sched = optax.warmup_exponential_decay_schedule(**kw, staircase=True)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=sched)
    with jax.enable_x64(False):
        params = jnp.zeros((), jnp.float32)

        def body(st: Any, _: Any) -> Any:
            _, st = tx.update(jnp.ones((), jnp.float32), st, params)
            return st, st.hyperparams["learning_rate"]  # the LR this update used: sched(count before it)

        _, lrs = jax.jit(lambda st: jax.lax.scan(body, st, None, length=200))(tx.init(params))
    assert np.asarray(lrs, dtype=np.float64).tolist() == want.tolist()


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"decay_rate: got 1\.5 with no end_value; a rate > 1 grows without bound"):
        rampup.parse("optax:exponential_decay(init_value=1.0, transition_steps=10, decay_rate=1.5)")
    with pytest.raises(ValueError, match="every value is 0: this schedule trains nothing"):
        rampup.parse("optax:linear_schedule(init_value=0.0, end_value=0.0, transition_steps=10)")
    with pytest.raises(ValueError, match=r"boundaries_and_scales\[0\] scale: got '-1'"):
        rampup.parse("optax:piecewise_constant_schedule(init_value=1.0, boundaries_and_scales=[[10, -1]])")
    with pytest.raises(ValueError, match="step 10 given twice"):
        rampup.parse("optax:piecewise_constant_schedule(init_value=1.0, boundaries_and_scales=[[10, 0.5], [10, 2]])")
    with pytest.raises(ValueError, match="the values overflow"):
        rampup.parse(
            "optax:piecewise_constant_schedule(init_value=1.0, boundaries_and_scales=[[1, 1e200], [2, 1e200]])"
        )
    with pytest.raises(ValueError, match="boundaries: got 0 for 2 schedules"):
        rampup.parse(
            "optax:join_schedules(schedules=[optax:constant_schedule(value=1.0), optax:constant_schedule(value=2.0)], "
            "boundaries=[])"
        )
    with pytest.raises(ValueError, match=r"decay_steps: got 0; accepted: > 0"):
        rampup.parse("optax:cosine_decay_schedule(init_value=1.0, decay_steps=0)")
    s = rampup.Spec.parse(
        "optax:piecewise_constant_schedule(init_value=1.0, boundaries_and_scales=[[20, 0.5], [10, 2.0]])"
    )
    assert rampup.Spec.parse(str(s)) == s and rampup.Spec.from_dict(s.to_dict()) == s
    d = rampup.WHOLES["optax:piecewise_constant_schedule"](init_value=1.0, boundaries_and_scales={10: 2.0, 20: 0.5})
    from_py = rampup.parse(rampup.Spec.from_dict({"decay": [d.to_dict()]}))(np.arange(30))
    assert from_py.tolist() == rampup.parse(s)(np.arange(30)).tolist() == [1.0] * 10 + [2.0] * 10 + [1.0] * 10


def test_polynomial_nan_past_the_end() -> None:
    # inside jit, count / 72 is count · f32(1/72) and 72 · f32(1/72) > 1: 1 − frac < 0, and a non-integer power of
    # it is NaN for every step from the end of the transition on.  rampup names it and holds end_value instead.
    kw = {"init_value": 1.0, "end_value": 0.1, "power": 2.5, "transition_steps": 72}
    want = train([optax.polynomial_schedule(**kw)], 100)[:, 0]
    assert np.isnan(want[72:]).all() and np.isfinite(want[:72]).all()
    s = rampup.parse(f"optax:polynomial_schedule({_args(kw)})")
    assert s(np.arange(72, 100)).tolist() == [0.1] * 28
    assert any("NaN" in n for n in explain(s, 100).notes)
