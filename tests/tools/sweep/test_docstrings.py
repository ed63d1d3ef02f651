"""The docstring examples of every module of tools/sweep."""

from __future__ import annotations


def test_docstring_examples() -> None:
    import doctest
    import importlib
    import pkgutil

    import rampup.tools.sweep as pkg

    attempted = 0
    for name in ["rampup.tools.sweep"] + [f"rampup.tools.sweep.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]:
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert res.failed == 0, name
        attempted += res.attempted
    assert attempted >= 4
