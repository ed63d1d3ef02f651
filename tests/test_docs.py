"""The documentation runs: its code blocks execute and its tables match the code.

Conventions for every page in ``docs/`` (hand-written, and the shape pages ``docs/gen_plots.py`` generates):

* a fenced ```` ```python ```` block is runnable: the blocks of a page run in order in one namespace,
  in a temporary working directory (a block that should only be shown uses ```` ```py ````);
* a fenced ```` ```pycon ```` block is a doctest: its outputs are checked (``ELLIPSIS`` is on, so a
  long list of accepted names may end in ``...``);
* the table after ``<!-- semantics-table: spec="..." total_steps=N -->`` in ``docs/semantics.md`` lists
  ``lr(t)`` to 10 significant digits.

The shape pages are rendered in memory (no plots), so this test needs no ``make docs`` first.
"""

from __future__ import annotations

import doctest
import importlib.util
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import rampup

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)


def _load_gen() -> Any:
    spec = importlib.util.spec_from_file_location("rampup_docs_gen_plots", DOCS / "gen_plots.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


GEN = _load_gen()


README = DOCS.parent / "README.md"


def _pages() -> dict[str, str]:
    pages = {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}
    pages["README.md"] = README.read_text(encoding="utf-8")  # the first page a user reads: its examples run too
    site = GEN.render(with_outputs=False)
    pages.update({k: v for k, v in sorted(site.texts.items()) if k.endswith(".md")})
    return pages


try:
    PAGES = _pages()
    RENDER_ERROR: Exception | None = None
except GEN.DocsError as e:  # reported by test_generated_pages_render, not as a collection error
    PAGES = {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}
    PAGES["README.md"] = README.read_text(encoding="utf-8")
    RENDER_ERROR = e


def test_generated_pages_render() -> None:
    if RENDER_ERROR is not None:
        raise RENDER_ERROR


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, in order."""
    return [(m.group("lang"), _dedent(m.group("body"), len(m.group("indent")))) for m in FENCE.finditer(text)]


def _dedent(body: str, n: int) -> str:
    return "\n".join(line[n:] if line[:n].strip() == "" else line for line in body.splitlines()) + "\n"


def run_page(name: str, text: str) -> int:
    """Run a page's python and pycon blocks in order in one namespace; return how many ran."""
    ns: dict[str, Any] = {"__name__": f"docs_{name}"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    ran = 0
    for i, (lang, code) in enumerate(blocks(text)):
        where = f"docs/{name}, block {i + 1} ({lang})"
        if lang == "python":
            exec(compile(code, where, "exec"), ns)
            ran += 1
        elif lang == "pycon":
            test = parser.get_doctest(code, ns, where, f"docs/{name}", 0)
            out: list[str] = []
            result = runner.run(test, out=out.append, clear_globs=False)
            assert result.failed == 0, "".join(out)
            ns.update(test.globs)  # DocTest works on a copy of the namespace
            ran += 1
    return ran


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_code_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a block that writes files writes them here
    with warnings.catch_warnings():
        warnings.simplefilter("error", rampup.LengthRoundingWarning)
        run_page(name, PAGES[name])


def test_every_shape_has_a_page_with_runnable_code() -> None:
    gen = {k: v for k, v in PAGES.items() if k.startswith("shapes/")}
    for role, table in (("warmup", rampup.WARMUPS), ("decay", rampup.DECAYS), ("whole", rampup.WHOLES)):
        for name in table:
            if ":" in name:
                continue  # compat specs have their own page
            page = gen[f"shapes/{role}/{name}.md"]
            assert [lang for lang, _ in blocks(page)].count("python") == 1, name
            assert f"![{name} " in page and "## Arguments" in page, name
    for name in rampup.MODIFIERS:
        if ":" not in name:  # compat modifiers (pw:...) are on docs/compat.md
            assert f"shapes/modifier/{name}.md" in gen
    # The formula is the class docstring's first paragraph, not a copy: on the page as math (TeX for KaTeX).
    first_line = (rampup.WARMUPS["linear"].__doc__ or "").split("\n")[0]
    formula = re.search(r"``(.+?)``", first_line)
    assert formula and formula.group(1) == "η_t = η_0 + (η_max − η_0)·min(1, (t + 1)/T_w)"
    tex = r"$\eta_t = \eta_0 + (\eta_{\max} - \eta_0) \cdot \min(1, (t + 1)/T_w)$"
    assert f"Linear warmup: {tex}." in gen["shapes/warmup/linear.md"]


def test_formulas_become_tex_and_argument_names_stay_code() -> None:
    res = doctest.testmod(GEN, optionflags=doctest.ELLIPSIS)
    assert res.attempted >= 2 and res.failed == 0
    page = PAGES["shapes/decay/step.md"]
    assert (
        r"$\eta = \eta_{\max} \cdot \gamma^{\lfloor s/\mathrm{every}\rfloor}$" in page
        and "exactly `every` steps" in page
    )
    assert GEN.to_tex("T_w = round(2/(1 − β2))") == r"T_w = \operatorname{round}(2/(1 - \beta_2))"
    assert (
        GEN.to_tex("η = max(f, η_max·sqrt(τ/(τ + s + 1)))")
        == r"\eta = \max(f, \eta_{\max} \cdot \sqrt{\tau /(\tau + s + 1)})"
    )
    assert GEN.to_tex("peak_lr · d_model^(−1/2)") == r"\mathrm{peak\_lr} \cdot d_{\mathrm{model}}^{-1/2}"
    assert not GEN.is_formula("every") and GEN.is_formula("r_t")
    with pytest.raises(GEN.DocsError, match="unbalanced parentheses"):
        GEN.to_tex("x^(1 + 2")


def test_our_pages_carry_checked_examples() -> None:
    # A page with no runnable block would be an unchecked page.
    assert sum(lang == "pycon" for lang, _ in blocks(PAGES["README.md"])) >= 1
    for name in ("index.md", "semantics.md", "spec-language.md"):
        assert sum(lang in ("python", "pycon") for lang, _ in blocks(PAGES[name])) >= 3, name


def _fmt(v: float) -> str:
    s = f"{v:.10g}"
    return s + ".0" if re.fullmatch(r"-?\d+", s) else s


def test_semantics_table_matches_the_code() -> None:
    text = PAGES["semantics.md"]
    m = re.search(r'<!-- semantics-table: spec="([^"]+)" total_steps=(\d+) -->\s*\n((?:\|.*\|\s*\n)+)', text)
    assert m, "the semantics table and its marker are missing"
    lr = rampup.parse(m.group(1), total_steps=int(m.group(2)))
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in m.group(3).strip().splitlines()[2:]]
    assert len(rows) >= 8
    steps = []
    for row in rows:
        t, shown = int(row[0]), row[2]
        steps.append(t)
        assert shown == _fmt(lr(t)), f"t={t}: the table says {shown}, the code gives {lr(t)!r}"
        if len(shown) <= 4:  # short values (0.1, 1.0, 0.55) are claimed to be exact
            assert lr(t) == float(shown), t
    total = int(m.group(2))
    assert {0, lr.warmup_steps - 1, lr.warmup_steps, total - 1, total} <= set(steps)
    # the table's claims in words: peak at the last warmup step, floor at the last update, held after
    assert lr(lr.warmup_steps - 1) == 1.0 and lr(total - 1) == lr(total) == lr(10**9) == 0.1


def test_doctest_failures_are_reported() -> None:
    # The runner must fail on a wrong output; otherwise every pycon check above could not fail.
    with pytest.raises(AssertionError, match="Expected"):
        run_page("bad.md", "```pycon\n>>> 1 + 1\n3\n```\n")
    with pytest.raises(ZeroDivisionError):
        run_page("bad.md", "```python\n1 / 0\n```\n")


def test_nav_hook_keeps_existing_pages_and_expands_folders(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("rampup_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    (tmp_path / "a.md").write_text("# a")
    (tmp_path / "shapes" / "warmup").mkdir(parents=True)
    for n in ("linear", "cosine"):
        (tmp_path / "shapes" / "warmup" / f"{n}.md").write_text(f"# {n}")
    nav = [
        {"Home": "a.md"},
        {"Shapes": [{"Warmups": "shapes/warmup/"}]},
        {"Frameworks": [{"PyTorch": "torch.md"}]},
        {"Typo": "missing.md"},
    ]
    out = hooks._filter(nav, str(tmp_path), {"torch.md"})
    assert out == [
        {"Home": "a.md"},
        {"Shapes": [{"Warmups": [{"cosine": "shapes/warmup/cosine.md"}, {"linear": "shapes/warmup/linear.md"}]}]},
        {"Typo": "missing.md"},  # not optional: left for mkdocs --strict to reject
    ]
    (tmp_path / "shapes" / "warmup" / ".nav-order").write_text("linear\n")
    out = hooks._filter(nav[1:2], str(tmp_path), set())
    assert out == [
        {"Shapes": [{"Warmups": [{"linear": "shapes/warmup/linear.md"}, {"cosine": "shapes/warmup/cosine.md"}]}]}
    ]
    with pytest.raises(Exception, match="gen_plots"):
        hooks._filter([{"X": "shapes/none/"}], str(tmp_path), set())


def test_generation_is_deterministic() -> None:
    a = GEN.render(with_outputs=False).texts
    b = GEN.render(with_outputs=False).texts
    assert a == b and len(a) >= 1 + len(GEN.shape_entries())


def test_readme_error_example_is_what_the_cli_prints(capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from rampup.cli import main

    block = next(code for lang, code in blocks(PAGES["README.md"]) if code.startswith("$ rampup curve"))
    command, *expected = block.splitlines()
    assert main(shlex.split(command)[2:]) == 2
    assert capsys.readouterr().err.splitlines() == expected


def test_readme_claims_are_the_demos_and_carry_its_verdicts() -> None:
    # The demo prints its verdict on each README claim beside the README's; the two lists must not drift.
    from rampup.experiments.demo import CLAIMS, README_VERDICTS

    rows = {r.split(" | ")[0].strip("| "): r for r in PAGES["README.md"].splitlines() if r.startswith("| ")}
    for key, claim in CLAIMS:
        assert claim in rows, claim
        assert rows[claim].rstrip(" |").endswith(README_VERDICTS[key]), rows[claim]


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"rampup_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def throwaway_warmup() -> Any:
    """A warmup registered for one test, removed after: what the generated tables must pick up."""
    from rampup import WARMUPS
    from rampup.core import register

    class Throwaway(WARMUPS["linear"]):  # type: ignore[misc,valid-type]
        name = "test_throwaway"

    register(Throwaway)
    try:
        yield Throwaway
    finally:
        WARMUPS.pop("test_throwaway")


def test_readme_table_of_shapes_is_generated_from_the_registries() -> None:
    gen = _load("gen_readme")
    text = README.read_text(encoding="utf-8")
    assert gen.rewrite(text) == text, "README.md's table of shapes is out of date: run python docs/gen_readme.py"
    assert gen.main(["--check"]) == 0
    rows = {r.split(" | ")[0].strip("| *"): r for r in gen.block().splitlines() if r.startswith("| **")}
    assert "`linear`" in rows["Warmups"] and "`constant(start)`" in rows["Warmups"]
    assert "`wsd(cooldown)`" in rows["Decays"] and "`noam(d_model, warmup)`" in rows["Whole schedules"]
    assert r"`\| radam(beta2)`" in rows["Modifiers"] and "`hf:` (" in rows["Drop-ins"]
    with pytest.raises(ValueError, match=re.escape("no <!-- shapes:begin --> ... <!-- shapes:end --> block")):
        gen.rewrite("# a README without the block\n")


def test_readme_check_fails_when_a_shape_is_added(throwaway_warmup: Any, capsys: pytest.CaptureFixture[str]) -> None:
    gen = _load("gen_readme")
    assert "`test_throwaway`" in gen.block()
    assert gen.main(["--check"]) == 1
    assert "out of date: run python docs/gen_readme.py" in capsys.readouterr().out


def test_page_markers_are_filled_from_the_registries(throwaway_warmup: Any) -> None:
    pytest.importorskip("mkdocs")
    hooks = _load("hooks")
    page = "warmups: <!-- registry:warmup -->\nmodifiers: <!-- registry:modifier -->\n<!-- advisor:warmup-profiles -->"
    out = hooks.on_page_markdown(page, None, {}, None)
    assert "`linear`, `constant`" in out and "`test_throwaway`" in out and "`| radam`" in out
    assert "| `test_throwaway` | ramps from `start=`" in out and "| `constant` | holds its `start=` level" in out
    assert "| `piecewise` | neither" in out and "<!--" not in out
    assert "`hf:` (" in hooks.on_page_markdown("<!-- registry:compat -->", None, {}, None)
    with pytest.raises(Exception, match="unknown role"):
        hooks.on_page_markdown("<!-- registry:nope -->", None, {}, None)
    assert "<!-- advisor:warmup-profiles -->" in (DOCS / "advisor.md").read_text(encoding="utf-8")
