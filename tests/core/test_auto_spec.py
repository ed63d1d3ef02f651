"""The grammar reads the automatic warmup ``auto`` / ``auto(NAME=VALUE, ...)`` into an AutoWarmupSpec."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import rampup
from rampup.core import AutoWarmupSpec, Spec, SpecSyntaxError


@pytest.mark.parametrize(
    ("text", "options", "back"),
    [
        ("auto -> cosine", {}, "auto -> cosine"),
        ("auto() -> cosine", {}, "auto -> cosine"),
        ("auto( ) -> cosine", {}, "auto -> cosine"),
        ("auto(method=loss) -> cosine(floor=0.1)", {"method": "loss"}, "auto(method=loss) -> cosine(floor=0.1)"),
        (
            "auto(method=loss, growth=2, tol=0.05, settle=true, confirm=false) -> cosine",
            {"method": "loss", "growth": 2, "tol": 0.05, "settle": True, "confirm": False},
            "auto(method=loss, growth=2, tol=0.05, settle=true, confirm=false) -> cosine",
        ),
        ("auto(x=1e-3, y=-2, z=2%, w=1.0) -> linear", {"x": 0.001, "y": -2, "z": "2%", "w": 1.0}, None),
        ("auto(x=inf) -> cosine", {"x": "inf"}, None),  # a word: no argument accepts a non-finite number
        ("auto -> constant(10) -> cosine | radam(beta2=0.999)", {}, None),
    ],
)
def test_parse_round_trips(text: str, options: dict, back: str | None) -> None:
    s = Spec.parse(text)
    assert isinstance(s.warmup, AutoWarmupSpec)
    assert s.warmup.options == options
    assert [type(v) for v in s.warmup.options.values()] == [type(v) for v in options.values()]
    assert list(s.warmup.options) == list(options)  # the order written
    assert str(s) == (back if back is not None else str(s))
    assert Spec.parse(str(s)) == s
    assert Spec.from_dict(s.to_dict()) == s
    assert s.to_dict()["warmup"] == {"phase": "auto", **options}
    assert hash(Spec.parse(str(s))) == hash(s)
    assert pickle.loads(pickle.dumps(s)) == s
    # The rest of the spec, as the torch layer takes it.
    rest = Spec(None, s.decay, s.modifiers) if len(s.decay) == 1 else Spec(rampup.WARMUPS["linear"](0), s.decay)
    assert rest.resolve(total_steps=100)(99) >= 0.0


def test_built_from_objects() -> None:
    cos = rampup.DECAYS["cosine"](floor=0.1)
    s = Spec(AutoWarmupSpec({"method": "catapult", "growth": 1.5}), (cos,), ())
    assert str(s) == "auto(method=catapult, growth=1.5) -> cosine(floor=0.1)"
    assert Spec.parse(str(s)) == s and Spec.from_dict(s.to_dict()) == s
    assert Spec(AutoWarmupSpec(), (cos,)) == Spec.parse("auto -> cosine(floor=0.1)")
    # str values are read as the grammar reads them, so both forms agree
    assert AutoWarmupSpec({"growth": "2", "ok": "true", "m": "loss"}).options == {"growth": 2, "ok": True, "m": "loss"}
    assert AutoWarmupSpec({"n": np.int64(3), "x": np.float32(0.5)}).options == {"n": 3, "x": 0.5}
    assert type(AutoWarmupSpec({"n": np.int64(3)}).options["n"]) is int
    with pytest.raises(AttributeError):
        AutoWarmupSpec().options = {}  # type: ignore[misc]


def test_from_dict() -> None:
    d = {"warmup": {"phase": "auto", "method": "loss"}, "decay": [{"phase": "cosine"}]}
    s = Spec.from_dict(d)
    assert s.warmup == AutoWarmupSpec({"method": "loss"})
    assert s.to_dict() == d


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: AutoWarmupSpec({"a b": 1}), ValueError, r"auto: option name: got 'a b'; accepted: an identifier"),
        (lambda: AutoWarmupSpec({1: 1}), ValueError, r"auto: option name: got 1"),
        (
            lambda: AutoWarmupSpec({"x": [1]}),
            TypeError,
            r"auto: x: got \[1\]; accepted: a number, true/false or a word",
        ),
        (lambda: AutoWarmupSpec({"x": None}), TypeError, r"auto: x: got None"),
        (lambda: AutoWarmupSpec({"x": float("nan")}), ValueError, r"auto: x: got nan"),
        (lambda: AutoWarmupSpec({"x": "two words"}), ValueError, r"auto: x: got 'two words'"),
        (lambda: AutoWarmupSpec("method=loss"), TypeError, r"auto: options: got str; accepted: a dict"),  # type: ignore[arg-type]
        (
            lambda: Spec.from_dict({"warmup": {"phase": "auto", "x": [1]}, "decay": [{"phase": "cosine"}]}),
            TypeError,
            r"auto: x",
        ),
    ],
)
def test_bad_options(call, err, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(err, match=match):
        call()


@pytest.mark.parametrize(
    ("text", "match", "caret"),
    [
        ("auto", r"unknown decay phase or whole schedule 'auto' \('auto' is an automatic warmup: follow it", 0),
        ("auto()", r"'auto' is an automatic warmup", 0),
        ("linear(5) -> auto", r"unknown decay phase 'auto' \('auto' is an automatic warmup", 13),
        ("constant | auto", r"unknown modifier 'auto'", 11),
        ("auto(2) -> cosine", r"auto: takes named options only; accepted: NAME=VALUE", 5),
        ("auto(method=loss, 2) -> cosine", r"auto: takes named options only", 18),
        ("auto(a=1, a=2) -> cosine", r"a given twice", 10),
        ("auto(a=[1, 2]) -> cosine", r"auto: a: got a list; accepted: a number, true/false or a word", 5),
        ("auto(a=linear(b=1)) -> cosine", r"auto: a: got a call", 5),
        ("auto(a=) -> cosine", r"expected a value, found '\)'", 7),
        ("auto(method=loss -> cosine", r"expected ',' or '\)', found '->'", 17),
        ("auto(method=loss) ->", r"expected a phase name", 20),
        ("auto -> noam(d_model=8, warmup=2)", r"unknown decay phase 'noam'", 8),
    ],
)
def test_syntax_errors(text: str, match: str, caret: int) -> None:
    with pytest.raises(SpecSyntaxError, match=match) as e:
        Spec.parse(text)
    assert e.value.pos == caret


def test_resolve_refuses() -> None:
    msg = (
        r"spec auto\(method=loss\) -> cosine: its warmup 'auto' is decided online, while training.*"
        r"rampup\.torch\.AutoWarmup \(or the factory rampup\.torch\.make_scheduler\(optimizer, spec, \.\.\.\)\)"
    )
    for call in (
        lambda: Spec.parse("auto(method=loss) -> cosine").resolve(total_steps=10),
        lambda: rampup.parse("auto(method=loss) -> cosine", total_steps=10),
        lambda: rampup.parse({"warmup": {"phase": "auto", "method": "loss"}, "decay": [{"phase": "cosine"}]}),
        lambda: rampup.Schedule(Spec.parse("auto(method=loss) -> cosine"), rampup.RunInfo(10)),
    ):
        with pytest.raises(ValueError, match=msg):
            call()


def test_spec_checks_still_apply() -> None:
    with pytest.raises(TypeError, match=r"warmup: got 'cosine' \(decay\)"):
        Spec(rampup.DECAYS["cosine"](), (rampup.DECAYS["cosine"](),))
    with pytest.raises(SpecSyntaxError, match=r"unknown decay phase .hf:linear. \(.hf:linear. is a whole schedule"):
        Spec.parse("auto -> hf:linear(num_warmup_steps=1, num_training_steps=10)")


def test_the_name_is_reserved() -> None:
    from rampup.core.phases import LinearWarmup, register

    class Auto(LinearWarmup):
        name = "auto"

    with pytest.raises(ValueError, match=r"phase name 'auto' is reserved for the automatic warmup"):
        register(Auto)
    assert "auto" not in rampup.WARMUPS
