"""The spec language, the dict form, and error messages that point at the text."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rampup
from rampup import Schedule, Spec, SpecSyntaxError, parse


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("linear(2%) -> cosine(floor=0.1)", "linear(2%) -> cosine(floor=0.1)"),
        (
            "linear(500, start=1e-7) -> wsd(cooldown=10%, shape=1-sqrt)",
            "linear(500, start=1e-07) -> wsd(cooldown=10%, shape=1-sqrt)",
        ),
        ("noam(d_model=512, warmup=4000)", "noam(d_model=512, warmup=4000)"),
        ("untuned_linear(beta2=0.999) -> constant", "untuned_linear(beta2=0.999) -> constant"),
        ("  linear( 10 )->cosine ( floor = 10% ) ", "linear(10) -> cosine(floor=0.1)"),
        (
            "linear(length=3ep) -> multistep(milestones=[30ep, 60ep])",
            "linear(3ep) -> multistep(milestones=[30ep, 60ep])",
        ),
        (
            "constant | rewarm(at=50%, length=100) | radam(beta2=0.999)",
            "constant | rewarm(at=50%, length=100) | radam(beta2=0.999)",
        ),
        ("linear(10Mtok) -> constant", "linear(10Mtok) -> constant"),
    ],
)
def test_parse_canonical(text: str, canonical: str) -> None:
    spec = Spec.parse(text)
    assert str(spec) == canonical
    assert Spec.parse(canonical) == spec


def test_dict_form_is_plain_json() -> None:
    spec = Spec.parse(
        "linear(2%, start=0.01) -> wsd(cooldown=10%, shape=1-sqrt, floor=0.1) | rewarm(at=500, length=50)"
    )
    d = spec.to_dict()
    assert d == {
        "warmup": {"phase": "linear", "length": "2%", "start": 0.01},
        "decay": [{"phase": "wsd", "cooldown": "10%", "shape": "1-sqrt", "floor": 0.1}],
        "modifiers": [{"phase": "rewarm", "at": 500, "length": 50}],
    }
    assert Spec.from_dict(json.loads(json.dumps(d))) == spec


def test_yaml_round_trip() -> None:
    yaml = pytest.importorskip("yaml")
    spec = Spec.parse("cosine(5%) -> restarts(cycle=1000, rewarm=50, cycle_decay=0.5, floor=0.1)")
    assert Spec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict()))) == spec


def test_schedule_pickles_and_dicts() -> None:
    s = parse("linear(2%) -> cosine(floor=0.1)", total_steps=1000, peak_lr=3e-4)
    s2 = pickle.loads(pickle.dumps(s))
    assert s2 == s and s2(500) == s(500)
    assert s.to_dict() == {
        "spec": {"warmup": {"phase": "linear", "length": "2%"}, "decay": [{"phase": "cosine", "floor": 0.1}]},
        "total_steps": 1000,
        "peak_lr": 3e-4,
    }
    assert Schedule.from_dict(s.to_dict()) == s


def test_python_api_equals_string() -> None:
    a = rampup.schedule(rampup.warmup.linear("2%"), rampup.decay.cosine(floor=0.1), total_steps=1000)
    b = parse("linear(2%) -> cosine(floor=0.1)", total_steps=1000)
    assert a == b
    assert np.array_equal(a(np.arange(1000)), b(np.arange(1000)))


@pytest.mark.parametrize(
    ("text", "message", "caret"),
    [
        ("linear(2%) -> cosin(floor=0.1)", "unknown decay phase 'cosin'", 14),
        ("linear(2%) -> cosine(floor=1.5)", "cosine: floor: got '1.5'; accepted: a fraction of the peak in [0, 1]", 21),
        ("linear(2%) -> cosine(flor=0.1)", "cosine: unknown argument 'flor'; accepted: length, floor, floor_lr", 21),
        ("linear(2%) -> cosine(floor=0.1", "expected ',' or ')', found the end", 30),
        ("linear(2%) cosine", "expected '->', '|' or the end, found 'cosine'", 11),
        ("linear(2%) -> ", "expected a phase name such as linear, cosine, noam, found the end", 14),
        ("linear(-5) -> cosine", "linear: length: cannot read '-5' as a length", 7),
        ("linear(2%) -> cosine & x", "unexpected character '&'", 21),
        ("wsd -> cosine", "'wsd' is a decay; the first item of 'A -> B' is the warmup", 0),
        (
            "untuned_linear(beta2=1.0) -> constant",
            "untuned_linear: beta2: got '1.0'; accepted: a number strictly between 0 and 1",
            15,
        ),
        ("radam(beta2=0.999)", "'radam' is a modifier: write it after '|'", 0),
        ("linear(10) -> cosine", "cosine: needs a length or total_steps", 0),
        ("constant(100) -> cosine", "the first item of 'A -> B' is the warmup", 0),
        ("linear(2%, start=0.1, start_lr=1e-5) -> constant", "give start or start_lr, not both", 11),
        ("linear(10, 20) -> constant", "takes 1 positional argument(s) (length); got 2", 7),
        ("linear(10, length=20) -> constant", "length given twice", 7),
        ("", "empty spec", 0),
    ],
)
def test_parse_errors_point_at_text(text: str, message: str, caret: int) -> None:
    with pytest.raises(ValueError) as ei:
        parse(text, total_steps=None if "needs a length" in message else 1000)
    msg = str(ei.value)
    assert message in msg
    if isinstance(ei.value, SpecSyntaxError):
        lines = msg.splitlines()
        assert lines[-2].strip() == text.strip() or lines[-2] == "  " + text
        assert lines[-1].index("^") - 2 == caret


def test_spec_type_errors() -> None:
    with pytest.raises(TypeError, match=r"spec: got int; accepted: a spec string"):
        parse(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"spec dict: got list"):
        Spec.from_dict([])
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['warm'\]"):
        Spec.from_dict({"warm": {}, "decay": [{"phase": "constant"}]})
    with pytest.raises(ValueError, match=r"decay: unknown phase 'cos'"):
        Spec.from_dict({"decay": [{"phase": "cos"}]})
    with pytest.raises(TypeError, match=r"accepted: a dict with a 'phase' key"):
        Spec.from_dict({"decay": ["cosine"]})


# ---- fuzz: random garbage in, only ValueError/TypeError out ------------------------------

_pieces = st.sampled_from(
    [
        "linear",
        "cosine",
        "wsd",
        "noam",
        "constant",
        "rewarm",
        "hf:cosine",
        "(",
        ")",
        "[",
        "]",
        ",",
        "=",
        "->",
        "|",
        "2%",
        "-1",
        "1e400",
        "nan",
        "inf",
        "0",
        "10",
        "0.5",
        "start",
        "floor",
        "floor_lr",
        "cooldown",
        "shape",
        "1-sqrt",
        "beta2",
        "d_model",
        "3ep",
        "tok",
        "true",
        " ",
        "%",
        "length",
        "at",
        "cycle",
        "milestones",
        "ü",
        "\x00",
        "1.5",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_pieces, max_size=14).map("".join),
    st.one_of(st.none(), st.integers(-3, 2000)),
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_fuzz_strings_only_raise_value_or_type_error(text: str, total: int | None, peak: float | None) -> None:
    try:
        s = parse(text, total_steps=total, peak_lr=peak)
    except (ValueError, TypeError):
        return
    v = s(np.arange(min(total or 50, 50)))
    assert np.isfinite(v).all() and (v >= 0).all()


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(), st.text(max_size=6)),
    lambda c: st.one_of(
        st.lists(c, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "phase",
                    "length",
                    "floor",
                    "start",
                    "cooldown",
                    "shape",
                    "beta2",
                    "at",
                    "warmup",
                    "decay",
                    "modifiers",
                    "x",
                ]
            ),
            c,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_fuzz_dicts_only_raise_value_or_type_error(d: object) -> None:
    try:
        s = parse(d if isinstance(d, dict) else {"decay": d}, total_steps=100)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return
    assert np.isfinite(s(np.arange(100))).all()
