"""The docstring examples of every module of tools/advisor."""

from __future__ import annotations

from rampup.tools import advisor as advisor_mod


def test_docstring_examples() -> None:
    import doctest
    import importlib
    import pkgutil

    attempted = {}
    for name in ["rampup.tools.advisor"] + [
        f"rampup.tools.advisor.{m.name}" for m in pkgutil.iter_modules(advisor_mod.__path__)
    ]:
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert res.failed == 0, name
        attempted[name] = res.attempted
    for name in ("rampup.tools.advisor", "rampup.tools.advisor.engine", "rampup.tools.advisor.inputs"):
        assert attempted[name] > 0, name
