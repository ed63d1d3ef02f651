"""split_auto_spec: the one reader of 'auto' / 'auto(...)' warmups in the torch layer."""

from __future__ import annotations

import pytest

from rampup.torch.auto_spec import auto_spec_parts, is_auto_spec, split_auto_spec


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("auto -> cosine(floor=0.1)", ({}, "cosine(floor=0.1)")),
        ("auto() -> constant", ({}, "constant")),
        ("auto(method=loss, growth=2) -> constant", ({"method": "loss", "growth": 2}, "constant")),
        ("auto(max_update=0.005)->linear -> constant", ({"max_update": 0.005}, "linear -> constant")),
        ("linear(100) -> cosine", None),
        ("cosine", None),
        ("autox -> cosine", None),
    ],
)
def test_split(text: str, parts: object) -> None:
    assert split_auto_spec(text) == parts
    assert is_auto_spec(text) is (parts is not None)


def test_not_a_string_is_not_an_auto_spec() -> None:
    assert not is_auto_spec({"warmup": "auto"}) and not is_auto_spec(None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("auto", r"schedule: got 'auto'; accepted: 'auto -> DECAY'"),
        ("auto -> ", r"schedule: got 'auto -> '; accepted: 'auto -> DECAY'"),
        ("auto(method) -> constant", r"auto: takes named options only; accepted: NAME=VALUE"),
        ("auto(method=loss -> constant", r"expected ',' or '\)', found '->'"),
    ],
)
def test_a_malformed_auto_spec_names_the_argument(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_auto_spec(text)


def test_parts_of_a_spec_that_must_be_automatic() -> None:
    assert auto_spec_parts("auto -> constant") == ({}, "constant")
    with pytest.raises(ValueError, match=r"got 'cosine'; accepted: 'auto -> DECAY'"):
        auto_spec_parts("cosine")
    with pytest.raises(ValueError, match=r"accepted: a spec whose warmup is 'auto' or 'auto\(\.\.\.\)'"):
        auto_spec_parts("linear(5) -> cosine")


def test_the_fixed_scheduler_does_not_import_the_automatic_one() -> None:
    # Only the factory knows both; `import rampup.torch` loads AutoWarmup (and the monitor) on first use.
    import os
    import subprocess
    import sys

    code = (
        "import sys, torch, rampup.torch as rt; "
        "opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0); "
        "rt.make_scheduler(opt, 'linear(2) -> constant'); rt.WarmupScheduler(opt, 'constant'); "
        "print(sorted(m for m in ('rampup.torch.auto', 'rampup.torch.monitor', 'rampup.torch.probe') if m in sys.modules))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"
