"""The architecture rules of docs/architecture.md, checked on the source itself.

The layer contracts live in pyproject.toml and are run by ``lint-imports`` (``make lint``); the
test here runs them too, so ``make test-fast`` catches an import that points up.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = sorted((ROOT / "rampup").rglob("*.py"))


def _module(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``from X import _name`` where X is another rampup module (a package's own ``__init__`` counts as another)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module(path, root)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
        else:
            target = node.module or ""
        if not target.startswith("rampup") or target == me:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                out.append(f"{path.relative_to(root)}:{node.lineno}: from {target} import {alias.name}")
    return out


def test_no_private_name_is_imported_from_another_module() -> None:
    found = [line for p in SOURCE for line in _private_imports(p)]
    assert found == [], "private names imported across modules (make them public):\n" + "\n".join(found)


def test_the_private_import_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "rampup" / "tools" / "probe.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..core.units import _x\nfrom .pool import _y\nfrom .probe import _z\n", encoding="utf-8")
    assert [line.split(": ", 1)[1] for line in _private_imports(bad, tmp_path)] == [
        "from rampup.core.units import _x",
        "from rampup.tools.pool import _y",
    ]


def test_the_layer_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install 'rampup[dev]')")
    r = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_import_rampup_needs_only_numpy() -> None:
    code = (
        "import sys, rampup, rampup.compat; "
        "heavy = sorted(m for m in ('torch', 'jax', 'keras', 'optax', 'matplotlib', 'tensorflow') if m in sys.modules); "
        "print(heavy); assert rampup.parse('hf:cosine(num_warmup_steps=10, num_training_steps=100)')(10) > 0"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_slow_list_names_existing_test_files() -> None:
    from tests.conftest import ROOT as TESTS
    from tests.conftest import SLOW_DIRS, SLOW_FILES

    missing = sorted(f for f in SLOW_FILES if not (TESTS / f).is_file()) + sorted(
        d for d in SLOW_DIRS if not (TESTS / d).is_dir()
    )
    assert missing == [], f"tests/conftest.py names test files that are gone: {missing}"


def _cycles(adjacency: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(adjacency.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(adjacency):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_modules() -> None:
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (pip install 'rampup[dev]')")
    graph = grimp.build_graph("rampup")  # every import, lazy ones inside functions included
    mods = set(graph.modules)
    adjacency = {m: set(graph.find_modules_directly_imported_by(m)) & mods for m in mods}
    assert _cycles(adjacency) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
