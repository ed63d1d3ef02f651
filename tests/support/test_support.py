"""The support layer: its docstring examples, the JSON sanitizer and the optional-import guard."""

from __future__ import annotations

import doctest
import importlib
import json
import math
import sys

import numpy as np
import pytest

from rampup.support.io import json_safe
from rampup.support.optional import import_skipping_package_init, pyplot, require


@pytest.mark.parametrize("name", ["rampup.support.io", "rampup.support.optional"])
def test_doctests(name: str) -> None:
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_json_safe_converts_and_records_non_finite_values() -> None:
    bad: list[str] = []
    data = {
        "a": [np.float64(1.5), np.int64(3), math.inf],
        "b": {"c": np.array([[1.0, -math.inf]]), 7: (True, None, "x")},
        "d": np.float32(math.nan),
    }
    out = json_safe(data, nonfinite=bad)
    assert out == {"a": [1.5, 3, None], "b": {"c": [[1.0, None]], "7": [True, None, "x"]}, "d": None}
    assert bad == ["a[2]", "b.c[0][1]", "d"]
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert type(out["a"][1]) is int and type(out["a"][0]) is float


def test_json_safe_refuses_what_json_cannot_hold_and_names_where() -> None:
    with pytest.raises(TypeError, match=r"metrics: got object at x\[1\]; accepted: JSON-like data"):
        json_safe({"x": [1, object()]}, source="metrics")


def test_require_names_the_extra_to_install() -> None:
    assert require("math", extra="plot", purpose="p") is math
    with pytest.raises(ImportError, match=r"plots needs no_such_mod_q: pip install 'rampup\[plot\]'"):
        require("no_such_mod_q.sub", extra="plot", purpose="plots")


def test_pyplot_is_on_a_file_backend() -> None:
    plt = pyplot()
    assert plt.get_backend().lower() in ("agg", "module://matplotlib_inline.backend_inline")


def test_import_skipping_package_init(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImportError, match="no_such_pkg_q is not installed"):
        import_skipping_package_init("no_such_pkg_q", "x")
    # json's __init__ is skipped: the bare package has no json.dumps, the submodule imports
    for name in [m for m in sys.modules if m == "json" or m.startswith("json.")]:
        monkeypatch.delitem(sys.modules, name)
    mod = import_skipping_package_init("json", "decoder")
    assert hasattr(mod, "JSONDecoder") and not hasattr(sys.modules["json"], "dumps")
