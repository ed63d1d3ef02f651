"""Hypothesis strategies drawn from the registered grammar itself.

Every phase, whole schedule, modifier and compat spec comes from the registries
(``WARMUPS``, ``DECAYS``, ``WHOLES``, ``MODIFIERS``), and every argument from its
declared kind (``Param.kind``; compat specs declare theirs with Param too), so a spec added later is
covered without touching this file.  Values are mostly ordinary, sometimes at or
beyond their bounds (0, 1, tiny, huge, 1e308, 2**53 + 1, NaN, numpy scalars,
float-valued ints, strings of every unit); runs are anything from 1 step to 2**53.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

import rampup.compat  # noqa: F401  (registers the prefix:name specs)
from rampup.core.params import REQUIRED
from rampup.core.phases import DECAYS, MODIFIERS, WARMUPS, WHOLES, Phase

NAN = float("nan")

# kind -> (ordinary values, values at or beyond the bounds)
_LENGTH = (
    [0, 1, 2, 3, 5, 10, 40, 100, "2%", "10%", "1ep", "0.5ep", "4ktok", np.int64(7), 20.0],
    [2**53, 2**53 + 1, 10**400, -1, 2.5, 1e308, "0%", "100%", "150%", "1e308ep", "1e308Btok", "abc", True, NAN],
)
_FRACTION = ([0.0, 0.01, 0.1, 0.5, 1.0, "10%", np.float32(0.25)], [1e-300, 5e-324, 1.5, -0.1, NAN, math.inf, "x"])
VALUES: dict[str, tuple[list[Any], list[Any]]] = {
    "length": _LENGTH,
    "time": ([0, 5, 10, "10ba", "0.5dur", "1ep"], [2**53 + 1, "1e308dur", -1, 2.5, "abc"]),
    "fraction": _FRACTION,
    "lr": ([1e-5, 1e-3, 0.1, 1.0], [1e-320, 5e-324, 1e308, 0.0, -1.0, NAN]),
    "positive": ([0.5, 1.0, 2.0, 5.0, 10.0, 100.0], [5e-324, 1e-300, 1e31, 1e308, 0.0, -1.0, math.inf]),
    "nonneg": ([0.0, 0.5, 1.0, 2.0, 10.0], [5e-324, 1e308, -1.0, NAN]),
    "count": ([0, 1, 2, 5, 10.0], [1e308, 2**53 + 1, -1]),
    "number": ([-1.0, 0.0, 0.5, 1.0, 2.0], [-1e308, 1e308, NAN]),
    "beta": ([0.5, 0.9, 0.95, 0.99, 0.999], [1e-300, 0.6, 1 - 1e-16, 0.0, 1.0]),
    "posint": ([1, 2, 3, 10, 512, 2.0, np.int64(4)], [2**53, 2**53 + 1, 0, 2.5, -3]),
    "int": ([0, 1, 2, 3, 10, 50, 3.0, np.int64(5)], [2**53, 2**53 + 1, -1, 2.5]),
    "bool": ([True, False, "true", "false"], [1, "yes"]),
}


@st.composite
def value(draw: st.DrawFn, kind: str, choices: tuple[str, ...] = (), prefix: str = "", depth: int = 0) -> Any:
    """One argument value of ``kind``: ordinary 7 times in 8, at or beyond a bound otherwise."""
    if kind == "choice":
        return draw(st.sampled_from([*choices, *choices, *choices, "bogus"]))
    if kind == "pairs":  # optax's boundaries_and_scales: [[step, scale], ...]
        steps = draw(st.lists(value("int"), min_size=0, max_size=3))
        return [[b, draw(value("nonneg"))] for b in steps]
    if kind in ("lengths", "ints", "fractions", "numbers", "times"):
        one = {"lengths": "length", "ints": "int", "fractions": "fraction", "numbers": "number", "times": "time"}[kind]
        vals = draw(st.lists(value(one), min_size=0, max_size=4))
        if kind in ("lengths", "ints") and draw(st.integers(0, 3)) > 0:  # mostly increasing knots/milestones
            ints = sorted({v for v in vals if isinstance(v, int) and 0 <= v < 10**6})
            return ints or [1]
        if kind == "fractions" and draw(st.booleans()):
            return [*vals, 1.0]
        return vals
    if kind == "phases":
        n = draw(st.integers(1, 3))
        return [draw(phase_dict_of(prefix, depth + 1)) for _ in range(n)]
    ordinary, edge = VALUES[kind]
    return draw(st.sampled_from(ordinary if draw(st.integers(0, 7)) else edge))


def _params(cls: type[Phase]) -> dict[str, tuple[str, Any, tuple[str, ...], str]]:
    return {k: (p.kind, p.default, p.choices, p.prefix) for k, p in cls.params.items()}


@st.composite
def kwargs_of(draw: st.DrawFn, cls: type[Phase], depth: int = 0) -> dict[str, Any]:
    """Every required argument and a random subset of the optional ones."""
    kw: dict[str, Any] = {}
    for k, (kind, default, choices, prefix) in _params(cls).items():
        if default is REQUIRED or draw(st.integers(0, 2)) == 0:
            if kind == "phases" and depth >= 2:
                continue  # nesting depth 2 is enough (sequential_lr inside sequential_lr)
            kw[k] = draw(value(kind, choices, prefix, depth))
    # A list of sub-schedules is mostly paired with one boundary fewer (SequentialLR's milestones).
    subs = [v for k, v in kw.items() if _params(cls)[k][0] == "phases"]
    for k, (kind, *_rest) in _params(cls).items():
        if subs and kind == "ints" and draw(st.integers(0, 3)) > 0:
            kw[k] = sorted(draw(st.lists(st.integers(1, 60), min_size=len(subs[0]) - 1, max_size=len(subs[0]) - 1)))
    return kw


@st.composite
def phase_dict_of(draw: st.DrawFn, prefix: str, depth: int) -> dict[str, Any]:
    names = sorted(n for n in WHOLES if n.startswith(prefix))
    name = draw(st.sampled_from(names))
    return {"phase": name, **draw(kwargs_of(WHOLES[name], depth))}


@st.composite
def phase(draw: st.DrawFn, table: dict[str, type[Phase]], name: str | None = None) -> Phase:
    """A phase from ``table`` (``name``, or any) built with drawn arguments; refused draws are rejected."""
    cls = table[name if name is not None else draw(st.sampled_from(sorted(table)))]
    kw = draw(kwargs_of(cls))
    try:
        return cls(**kw)
    except (TypeError, ValueError):
        # refused arguments are an outcome, not a failure; draw again (the test sees only accepted phases)
        from hypothesis import reject

        reject()
        raise  # pragma: no cover


TABLES = {"warmup": WARMUPS, "decay": DECAYS, "whole": WHOLES, "modifier": MODIFIERS}
# Every registered name with its role: one test case each, so a spec added later is tested at once.
EVERY_NAME = sorted((role, name) for role, table in TABLES.items() for name in table)
# Those that take other specs as arguments (torch:sequential_lr, ...): nesting gets more draws.
NESTING = [(r, n) for r, n in EVERY_NAME if any(k == "phases" for k, *_ in _params(TABLES[r][n]).values())]


@st.composite
def spec_parts(
    draw: st.DrawFn, focus: tuple[str, str] | None = None
) -> tuple[Phase | None, tuple[Phase, ...], tuple[Phase, ...]]:
    """(warmup, decays, modifiers): a whole schedule or compat spec, or [warmup ->] decay [-> decay].

    ``focus=(role, name)`` puts that phase in every draw.
    """
    role, name = focus if focus is not None else (None, None)
    mods = list(draw(st.lists(phase(MODIFIERS), max_size=1 if role == "modifier" else 2)))
    if role == "modifier":
        mods.insert(draw(st.integers(0, len(mods))), draw(phase(MODIFIERS, name)))
    form = "whole" if role == "whole" else draw(st.sampled_from(["whole", "chain", "chain", "decay"]))
    if role in ("warmup", "decay"):
        form = draw(st.sampled_from(["chain", "decay"])) if role == "decay" else "chain"
    if form == "whole":
        return None, (draw(phase(WHOLES, name if role == "whole" else None)),), tuple(mods)
    decays = [draw(phase(DECAYS, name if role == "decay" else None))]
    if form == "chain" and draw(st.integers(0, 3)) == 0:
        decays.append(draw(phase(DECAYS)))
    warm = draw(phase(WARMUPS, name if role == "warmup" else None)) if form == "chain" else None
    return warm, tuple(decays), tuple(mods)


runs = st.fixed_dictionaries(
    {
        "total_steps": st.sampled_from([None, 1, 2, 10, 100, 1000, 10**6, 2**53, np.int64(300), 50.0]),
        "peak_lr": st.sampled_from([None, 1e-320, 3e-4, 1.0, 7.0, 1e300]),
        "steps_per_epoch": st.sampled_from([None, 1, 7, 1000]),
        "tokens_per_step": st.sampled_from([None, 1, 4096]),
    }
)

# Steps every schedule is evaluated at, on top of its own segment boundaries.
STEPS = [0, 1, 2, 9, 99, 999, 2**31, 2**53 - 1, 2**53, 2**53 + 1, 10**15, 9e307, 1e308, 1.7976931348623157e308]
