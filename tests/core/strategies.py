"""Hypothesis strategies: random *valid* spec strings and run lengths."""

from __future__ import annotations

from hypothesis import strategies as st

levels = st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.25, 0.5])


@st.composite
def length(draw: st.DrawFn, total: int, lo: int = 0) -> str:
    if draw(st.booleans()):
        return str(draw(st.integers(lo, max(lo, total // 4))))
    pct = draw(st.sampled_from([1, 2, 5, 10, 20]))
    if round(total * pct / 100) < max(lo, 1):
        return str(max(lo, 1))
    return f"{pct}%"


@st.composite
def warmup(draw: st.DrawFn, total: int) -> str | None:
    kind = draw(st.sampled_from(["none", "linear", "cosine", "poly", "exponential", "constant", "untuned_linear"]))
    if kind == "none":
        return None
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
    kind = draw(
        st.sampled_from(["constant", "cosine", "linear", "poly", "invsqrt", "exponential", "step", "wsd", "restarts"])
    )
    floor = draw(levels)
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
    kind = draw(st.sampled_from(["rewarm", "untuned_exponential", "asymptotic_exponential", "radam"]))
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
    return text, total
