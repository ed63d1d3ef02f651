"""tools/sweep/train_fn.py: a callable, a script file or an entry point as the train function."""

from __future__ import annotations

from pathlib import Path

import pytest

from rampup.tools.sweep import (
    TrainFn,
    synthetic_train,
)


def test_train_fn_references(script: Path) -> None:
    assert TrainFn.of(str(script)).function == "train"
    assert TrainFn.of(f"{script}:other").resolve()({}) == {"loss": 1.0}
    assert TrainFn.of("rampup.tools.sweep:synthetic_train").resolve() is synthetic_train
    with pytest.raises(ValueError, match=r"no function 'nope'; it defines: other, train"):
        TrainFn.of(f"{script}:nope")
    with pytest.raises(ValueError, match=r"script '.*missing\.py' does not exist"):
        TrainFn.of(str(script.parent / "missing.py"))
    with pytest.raises(TypeError, match="cannot be sent to worker processes"):
        TrainFn.of(lambda c: {"loss": 0.0})
    with pytest.raises(ValueError, match="entry: cannot import 'no_such_module'"):
        TrainFn.of("no_such_module:f")
