"""Hypothesis strategies: random *valid* spec strings and run lengths.

Every shape comes from the registries (``WARMUPS``, ``DECAYS``, ``MODIFIERS``; the
``prefix:`` compat specs have their own strategies in ``grammar.py``), read at draw
time: a shape registered later is drawn without touching this file.  Shapes with
a recipe below get arguments chosen for their meaning (levels, timescales that fit
the run); any other shape gets its required arguments from its declared kinds
(:func:`generic`), and a draw its own checks refuse is rejected.
"""

from __future__ import annotations

from typing import Any

from hypothesis import reject
from hypothesis import strategies as st

from rampup import parse
from rampup.core.params import REQUIRED
from rampup.core.phases import DECAYS, MODIFIERS, WARMUPS, Phase
from rampup.core.units import RunInfo

from .grammar import VALUES

levels = st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.25, 0.5])


@st.composite
def length(draw: st.DrawFn, total: int, lo: int = 0) -> str:
    if draw(st.booleans()):
        return str(draw(st.integers(lo, max(lo, total // 4))))
    pct = draw(st.sampled_from([1, 2, 5, 10, 20]))
    if round(total * pct / 100) < max(lo, 1):
        return str(max(lo, 1))
    return f"{pct}%"


def _native(table: dict[str, type[Phase]]) -> list[str]:
    return sorted(n for n in table if ":" not in n)


@st.composite
def generic(draw: st.DrawFn, cls: type[Phase], total: int) -> str:
    """A phase of a shape without a recipe: its required arguments drawn from their kinds (lengths fit the run)."""
    kw: dict[str, Any] = {}
    for k, p in cls.params.items():
        if p.default is not REQUIRED:
            continue
        if p.kind == "length":
            kw[k] = draw(length(total, lo=1))
        elif p.kind == "choice":
            kw[k] = draw(st.sampled_from(p.choices))
        else:
            kw[k] = draw(st.sampled_from(VALUES[p.kind][0]))
    try:
        ph = cls(**kw)
        if cls.role == "warmup":  # lengths that cannot be known here (e.g. a derived one) must fit the run
            ph.build(RunInfo(total), None)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        reject()
    return ph.to_text()


@st.composite
def warmup(draw: st.DrawFn, total: int) -> str | None:
    kind = draw(st.sampled_from(["none", *_native(WARMUPS)]))
    if kind == "none":
        return None
    if kind == "piecewise":  # knots rising to the peak (the property tests check a monotone warmup)
        ks = sorted(draw(st.sets(st.integers(0, max(1, total // 4)), min_size=1, max_size=4)))
        # strictly rising: equal neighbours give lerp(v, v, w), which may wobble by one ulp (not a rise)
        vs = sorted(
            draw(st.sets(st.sampled_from([0.01, 0.1, 0.3, 0.5, 0.9]), min_size=len(ks) - 1, max_size=len(ks) - 1))
        )
        return f"piecewise(steps={ks}, values={[*vs, 1.0]})"
    if kind not in ("linear", "cosine", "poly", "exponential", "constant", "untuned_linear"):
        return draw(generic(WARMUPS[kind], total))
    if kind == "untuned_linear":
        b2 = draw(st.sampled_from([0.9, 0.95, 0.98]))  # 20, 40, 100 steps
        # room for the fixed-length warmup, a constant(<= total // 4) after it and one decay step
        if total < 2 / (1 - b2) + total // 4 + 1:
            return None
        return f"untuned_linear(beta2={b2})"
    n = draw(length(total, lo=1))
    start = draw(levels)
    if kind == "constant":
        return f"constant({n}, start={max(start, 0.01)})"
    extra = {"poly": f", power={draw(st.sampled_from([0.5, 1, 2, 3]))}", "exponential": ""}.get(kind, "")
    return f"{kind}({n}{extra}, start={start})"


@st.composite
def decay(draw: st.DrawFn, total: int) -> str:
    kind = draw(st.sampled_from(_native(DECAYS)))
    floor = draw(levels)
    if kind == "multistep":
        # milestones are steps of the run: in its second half, after most drawn warmups (spec_and_total rejects others)
        ms = sorted(draw(st.sets(st.integers(total // 2, max(total // 2, total - 1)), min_size=1, max_size=3)))
        return f"multistep(milestones={ms}, gamma={draw(st.sampled_from([0.1, 0.5]))})"
    if kind not in ("constant", "cosine", "linear", "poly", "invsqrt", "exponential", "step", "wsd", "restarts"):
        return draw(generic(DECAYS[kind], total))
    if kind == "constant":
        return "constant"
    if kind in ("cosine", "linear"):
        return f"{kind}(floor={floor})"
    if kind == "poly":
        return f"poly(power={draw(st.sampled_from([0.5, 1, 2]))}, floor={floor})"
    if kind == "invsqrt":
        return f"invsqrt(timescale={draw(st.integers(1, 100))}, floor={floor})"
    if kind == "exponential":
        return f"exponential(half_life={draw(st.integers(1, 200))}, floor={floor})"
    if kind == "step":
        return f"step(every={draw(st.integers(1, 200))}, gamma={draw(st.sampled_from([0.1, 0.5]))})"
    if kind == "wsd":
        shape = draw(st.sampled_from(["linear", "cosine", "1-sqrt", "exponential"]))
        f = max(floor, 0.01) if shape == "exponential" else floor
        return f"wsd(cooldown={draw(st.sampled_from(['10%', '20%', '1']))}, shape={shape}, floor={f})"
    cyc = draw(st.integers(2, max(2, total // 3)))
    rw = draw(st.integers(0, cyc - 1))
    mult = draw(st.sampled_from([1, 1.5, 2]))
    return f"restarts(cycle={cyc}, rewarm={rw}, cycle_mult={mult}, cycle_decay={draw(st.sampled_from([1.0, 0.7]))}, floor={floor})"


@st.composite
def modifier(draw: st.DrawFn, total: int) -> str:
    kind = draw(st.sampled_from(_native(MODIFIERS)))
    if kind not in ("rewarm", "untuned_exponential", "asymptotic_exponential", "radam"):
        return draw(generic(MODIFIERS[kind], total))
    if kind == "rewarm":
        at = draw(st.integers(0, total - 1))
        return f"rewarm(at={at}, length={draw(st.integers(1, 50))}, start={draw(levels)}, shape={draw(st.sampled_from(['linear', 'cosine']))})"
    if kind == "radam":
        return f"radam(beta2={draw(st.sampled_from([0.9, 0.99, 0.999]))})"
    if kind == "untuned_exponential":
        return f"untuned_exponential(beta2={draw(st.sampled_from([0.9, 0.99, 0.999]))})"
    return f"asymptotic_exponential(tau={draw(st.sampled_from([1, 10.5, 100]))})"


@st.composite
def spec_and_total(draw: st.DrawFn) -> tuple[str, int]:
    total = draw(st.integers(8, 3000))
    if draw(st.integers(0, 9)) == 0:
        text = f"noam(d_model={draw(st.sampled_from([64, 512]))}, warmup={draw(st.integers(1, total))})"
    else:
        w = draw(warmup(total))
        chain = [w] if w else []
        if w and draw(st.booleans()):
            chain.append(f"constant({draw(st.integers(0, total // 4))})")
        chain.append(draw(decay(total)))
        text = " -> ".join(chain)
    for _ in range(draw(st.integers(0, 2))):
        text += " | " + draw(modifier(total))
    if "multistep(" in text:
        try:
            parse(text, total_steps=total)
        except ValueError as e:
            if "falls before this phase starts" in str(e):  # a milestone before the warmup ends: not a valid spec
                reject()
            raise
    return text, total
