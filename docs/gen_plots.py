#!/usr/bin/env python
"""Generate the derived part of the documentation site (run by ``make docs`` before ``mkdocs build --strict``).

Everything written here is read off the code, so it cannot drift from it:

* ``docs/shapes/<role>/<name>.md`` — one page per warmup, decay, whole schedule and modifier in the
  registry (``rampup.WARMUPS``, ``DECAYS``, ``WHOLES``, ``MODIFIERS``; compat ``prefix:`` names have their
  own page).  The formula and the reference come from the phase class docstring, the argument table from
  its ``params`` (kind, default, accepted values, meaning), the plot from the real schedule, and the
  example output from running the example and the real CLI.
* ``docs/shapes/index.md`` and ``docs/shapes/img/*.png`` — the overview table and the plots.
* ``docs/generated/`` — text the hand-written pages include with ``--8<--`` (CLI help and outputs) and
  the images they show.

Both folders are owned by this script: it rebuilds them from scratch in a temporary folder and swaps it in,
so a stale page of a renamed shape cannot survive and a crash never leaves a half-written tree.  They are
git-ignored.  The output is deterministic (no dates, no timings, PNGs without the matplotlib version).

    python docs/gen_plots.py          # writes docs/shapes/ and docs/generated/
    python docs/gen_plots.py --check  # renders the pages in memory only (what tests/test_docs.py does)
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import os
import re
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import rampup  # noqa: E402
from rampup.core import Phase  # noqa: E402
from rampup.core.params import REQUIRED, Param, to_json  # noqa: E402
from rampup.core.units import Length  # noqa: E402

OWNED = ("shapes", "generated")  # folders under docs/ that this script rebuilds wholesale

ROLES = [  # (role, registry, section title, folder)
    ("warmup", rampup.WARMUPS, "Warmups", "warmup"),
    ("decay", rampup.DECAYS, "Decays", "decay"),
    ("whole", rampup.WHOLES, "Whole schedules", "whole"),
    ("modifier", rampup.MODIFIERS, "Modifiers", "modifier"),
]
FACTORY = {"warmup": "warmup", "decay": "decay", "whole": "decay", "modifier": "modifier"}


class DocsError(Exception):
    """The code cannot be documented as it stands (a shape without a docstring or an example, a failing example)."""


@dataclass(frozen=True)
class Example:
    """The example a shape page shows: one spec, the run length, and (modifiers) the curve it modifies."""

    spec: str
    total_steps: int = 1000
    base: str | None = None


# One example per shape, chosen to show what the shape does in a realistic run.  A shape that is
# registered later and has no entry here falls back to the first spec of its docstring's doctest.
EXAMPLES: dict[tuple[str, str], Example] = {
    ("warmup", "linear"): Example("linear(10%) -> cosine(floor=0.1)"),
    ("warmup", "constant"): Example("constant(10%, start=0.1) -> cosine(floor=0.1)"),
    ("warmup", "cosine"): Example("cosine(10%) -> cosine(floor=0.1)"),
    ("warmup", "poly"): Example("poly(10%, power=2) -> cosine(floor=0.1)"),
    ("warmup", "exponential"): Example("exponential(10%) -> cosine(floor=0.1)"),
    ("warmup", "untuned_linear"): Example("untuned_linear(beta2=0.99) -> cosine(floor=0.1)"),
    ("decay", "constant"): Example("linear(5%) -> constant"),
    ("decay", "cosine"): Example("linear(5%) -> cosine(floor=0.1)"),
    ("decay", "linear"): Example("linear(5%) -> linear(floor=0.1)"),
    ("decay", "poly"): Example("linear(5%) -> poly(power=2, floor=0.1)"),
    ("decay", "invsqrt"): Example("linear(5%) -> invsqrt"),
    ("decay", "exponential"): Example("linear(5%) -> exponential(half_life=20%, floor=0.05)"),
    ("decay", "step"): Example("linear(5%) -> step(every=30%, gamma=0.5)"),
    ("decay", "multistep"): Example("linear(5%) -> multistep(milestones=[50%, 75%], gamma=0.3)"),
    ("decay", "wsd"): Example("linear(5%) -> wsd(cooldown=20%, shape=1-sqrt)"),
    ("decay", "restarts"): Example("linear(5%) -> restarts(cycle=25%, cycle_decay=0.7, rewarm=3%, floor=0.05)"),
    ("whole", "noam"): Example("noam(d_model=512, warmup=4000)", 40_000),
    ("modifier", "rewarm"): Example(
        "linear(5%) -> cosine(floor=0.1) | rewarm(at=50%, length=5%)", base="linear(5%) -> cosine(floor=0.1)"
    ),
    ("modifier", "asymptotic_exponential"): Example(
        "cosine(floor=0.1) | asymptotic_exponential(tau=40)", base="cosine(floor=0.1)"
    ),
    ("modifier", "untuned_exponential"): Example(
        "cosine(floor=0.1) | untuned_exponential(beta2=0.99)", base="cosine(floor=0.1)"
    ),
    ("modifier", "radam"): Example("cosine(floor=0.1) | radam(beta2=0.99)", base="cosine(floor=0.1)"),
}

# The warmups side by side on the overview page (same 100-step length).
WARMUP_GALLERY = [
    "linear(100) -> constant",
    "cosine(100) -> constant",
    "poly(100, power=2) -> constant",
    "exponential(100) -> constant",
    "constant(100, start=0.1) -> constant",
    "constant | asymptotic_exponential(tau=20)",
]

# CLI examples with their real output: (command line after `rampup`, heading, note).
CLI_EXAMPLES: list[tuple[list[str], str]] = [
    (["curve", "linear(3) -> cosine(floor=0.1)", "--total-steps", "8"], "curve"),
    (["curve", "linear(2) -> constant", "--total-steps", "4", "--peak-lr", "3e-4", "--json"], "curve-json"),
    (["explain", "linear(2%) -> cosine(floor=0.1)", "--total-steps", "10000", "--peak-lr", "3e-4"], "explain"),
    (["explain", "untuned_linear(beta2=0.999) -> linear(floor=0.1)", "--total-steps", "5000"], "explain-untuned"),
    (["explain", "linear(2%) -> cosine(floor=0.1)", "--total-steps", "1000", "--json"], "explain-json"),
    (["explain", "linear(2%) -> cosne"], "error-unknown"),
    (["explain", "linear(2%) -> cosine(floor=1.5)", "--total-steps", "100"], "error-value"),
    (["explain", "linear(2%) -> cosine"], "error-total"),
]
CLI_PLOT = [
    "plot",
    "linear(5%) -> cosine(floor=0.1)",
    "linear(2%) -> wsd(cooldown=20%, shape=1-sqrt)",
    "--total-steps",
    "10000",
    "--peak-lr",
    "3e-4",
    "-o",
    "lr.png",
]


@dataclass
class Site:
    """Everything this script writes: text files and plots, by path relative to docs/."""

    texts: dict[str, str] = field(default_factory=dict)
    plots: dict[str, tuple[list[str], int, list[str], str | None]] = field(default_factory=dict)
    cli_plot: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------
# Registry and docstrings
# ---------------------------------------------------------------------------------------------------


def shape_entries() -> list[tuple[str, str, type[Phase]]]:
    """(role, name, class) for every registered shape, compat ``prefix:`` names excluded."""
    out = []
    for role, table, _title, _folder in ROLES:
        for name, cls in table.items():
            if ":" not in name:
                out.append((role, name, cls))
    return out


# Formulas in the docstrings are plain text (η_t = η_0 + (η_max − η_0)·min(1, (t + 1)/T_w)), readable in
# help() and in an editor; on the site they become TeX that KaTeX renders (pymdownx.arithmatex, mkdocs.yml).
_MATH_CHARS = set("ητβγπρδ∞·−^⌊≤<=")
_SYMBOLS = {"η": r"\eta ", "τ": r"\tau ", "π": r"\pi ", "γ": r"\gamma ", "β": r"\beta ", "·": r" \cdot ", "−": "-"}
_SYMBOLS.update({"ρ": r"\rho ", "δ": r"\delta ", "∞": r"\infty ", "≤": r" \le ", "⌊": r"\lfloor ", "⌋": r"\rfloor "})
_STRICT_CHARS = set("ητβγπρδ∞·−^⌊≤")
_FUNCS = {"min": r"\min", "max": r"\max", "cos": r"\cos", "round": r"\operatorname{round}"}


def is_formula(code: str) -> bool:
    """A code span of a docstring summary that is math (``η_t = …``, ``r_t``), not an argument name (``every``)."""
    return bool(set(code) & _MATH_CHARS) or re.fullmatch(r"[^\W\d_]_\w+", code) is not None


def _group(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise DocsError(f"unbalanced parentheses in the formula {text!r}")


def to_tex(formula: str) -> str:
    r"""The plain-text formula of a docstring as TeX for KaTeX.

    >>> print(to_tex("η_t = η_0 + (η_max − η_0)·min(1, (t + 1)/T_w)"))
    \eta_t = \eta_0 + (\eta_{\max} - \eta_0) \cdot \min(1, (t + 1)/T_w)
    >>> print(to_tex("η = η_max·γ^(number of milestones ≤ t)"))
    \eta = \eta_{\max} \cdot \gamma^{\text{number of milestones} \le t}
    """
    f = formula
    # powers and square roots first, while their parentheses are plain: x^(…) -> x^{…}, sqrt(…) -> √{…}
    while (m := re.search(r"\^\(|sqrt\(", f)) is not None:
        close = _group(f, m.end() - 1)
        head = "^{" if m.group().startswith("^") else "√{"
        f = f[: m.start()] + head + f[m.end() : close] + "}" + f[close + 1 :]
    f = re.sub(r"\^(⌊[^⌋]*⌋|[A-Za-z]{2,})", r"^{\1}", f)  # γ^⌊s/every⌋, (1 − p)^power
    f = re.sub(r"β(\d)", r"β_\1", f)

    def word(m: re.Match[str]) -> str:
        w = m.group()
        if " " in w:  # a phrase: "number of milestones"
            return rf"\text{{{w}}}"
        if "_" in w:
            base, sub = w.split("_", 1)
            if len(base) > 1 and len(sub) > 1 and base not in _SYMBOLS:  # a name: peak_lr
                return rf"\mathrm{{{base}\_{sub}}}"
            sub = r"\max" if sub == "max" else sub if len(sub) == 1 else rf"\mathrm{{{sub}}}"
            return f"{base}_{{{sub}}}" if len(sub) > 1 else f"{base}_{sub}"
        if w in _FUNCS:
            return _FUNCS[w]
        if set(w) & set(_SYMBOLS):  # πq: a product of symbols, not a name
            return w
        return rf"\mathrm{{{w}}}" if len(w) > 1 else w

    f = re.sub(r"[A-Za-zη]{2,}(?: [A-Za-z]{2,})+|[A-Za-zητβγπρδ]+(?:_[A-Za-z0-9∞]+)?", word, f)
    f = f.replace("√", r"\sqrt")
    for ch, tex in _SYMBOLS.items():
        f = f.replace(ch, tex)
    return re.sub(r"  +", " ", f).replace(" _", "_").replace(" ^", "^").replace(" }", "}").replace(" )", ")").strip()


def _math_summary(summary: str, strict: bool = False) -> str:
    """``formula`` spans of a docstring paragraph as $TeX$ (arithmatex); other spans stay code.

    ``strict`` (the body paragraphs): only spans with a math symbol are formulas, so that an argument example
    such as ``start=1/32`` stays code.
    """

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        math = bool(set(code) & _STRICT_CHARS) if strict else is_formula(code)
        return f"${to_tex(code)}$" if math else m.group(0)

    return re.sub(r"``(.+?)``", one, summary)


def _rst_to_md(text: str) -> str:
    """The few reST habits of our docstrings, in Markdown: ``code`` -> `code`, arXiv ids as links."""
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    text = re.sub(r":(?:class|func|meth|mod|data|attr):`~?([^`]+)`", r"`\1`", text)
    return text


def _link_refs(text: str) -> str:
    return re.sub(r"arXiv:(\d{4}\.\d{4,5})", r"[arXiv:\1](https://arxiv.org/abs/\1)", text)


@dataclass
class Doc:
    summary: str
    body: str
    doctest: str
    reference: str


def parse_docstring(cls: type[Phase]) -> Doc:
    """Split a phase docstring into its summary (the formula), body, doctest and reference paragraphs."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    if not doc:
        raise DocsError(
            f"{cls.__module__}.{cls.__qualname__} has no docstring: its docs page takes the formula from it"
        )
    paras = re.split(r"\n\s*\n", doc)
    summary = paras[0] if paras else ""
    body, doctest, refs = [], [], []
    for p in paras[1:]:
        if p.lstrip().startswith(">>>"):
            doctest.append(p)
        elif re.match(r"References?:", p.lstrip()):
            refs.append(re.sub(r"^References?:\s*", "", p.strip()))
        else:
            body.append(p)
    ref = " ".join(refs) or getattr(cls, "reference", "") or ""
    # The class attribute may carry an arXiv id the prose reference leaves out: keep both facts.
    missing = [a for a in re.findall(r"arXiv:\d{4}\.\d{4,5}", getattr(cls, "reference", "") or "") if a not in ref]
    if missing:
        ref = f"{ref.rstrip()} ({', '.join(missing)})"
    return Doc(
        summary=_rst_to_md(_math_summary(" ".join(summary.split()))),
        body=_rst_to_md(_math_summary("\n\n".join(body), strict=True)),
        doctest="\n\n".join(doctest),
        reference=_link_refs(_rst_to_md(" ".join(ref.split()))),
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default_text(p: Param) -> str:
    if p.default is REQUIRED:
        return "**required**"
    if p.default is None:
        return "—"
    v = p.default
    if p.kind in ("length", "lengths"):
        v = Length.parse(v) if p.kind == "length" else v
        return f"`{v}`"
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    return f"`{v!r}`" if not isinstance(v, str) else f"`{v}`"


def param_table(cls: type[Phase]) -> str:
    if not cls.params:
        return "This shape takes no arguments.\n"
    lines = ["| argument | kind | default | accepted | meaning |", "|---|---|---|---|---|"]
    for k, p in cls.params.items():
        pos = f" (positional {cls.positional.index(k) + 1})" if k in cls.positional else ""
        lines.append(
            f"| `{k}`{pos} | {p.kind} | {_default_text(p)} | {_cell(p.accepts())} | {_cell(_rst_to_md(p.doc))} |"
        )
    out = "\n".join(lines) + "\n"
    if cls.exclusive:
        pairs = "; ".join(f"`{a}` or `{b}`" for a, b in cls.exclusive)
        out += f"\nGive at most one of each pair: {pairs}.\n"
    kinds = {p.kind for p in cls.params.values()}
    notes = []
    if kinds & {"length", "lengths"}:
        notes.append(
            "Lengths are steps (`500`), a percent of `total_steps` (`2%`), epochs (`3ep`) or tokens (`10Mtok`): "
            "see [lengths and units](../../spec-language.md#lengths-and-units)."
        )
    lr_args = [k for k, p in cls.params.items() if p.kind == "lr"]
    if lr_args:
        frac = lr_args[0].removesuffix("_lr")
        notes.append(
            f"Levels are fractions of the peak (`{frac}=0.1`) or, with the `_lr` suffix, absolute learning rates "
            "that need `peak_lr`: see [levels](../../spec-language.md#levels)."
        )
    if notes:
        out += "\n" + " ".join(notes) + "\n"
    return out


# ---------------------------------------------------------------------------------------------------
# Examples: the spec, the same schedule from Python objects, and the real outputs
# ---------------------------------------------------------------------------------------------------


def _py_literal(v: Any) -> str:
    v = to_json(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_py_literal(x) for x in v) + "]"
    return repr(v)


def _py_phase(ph: Phase, role: str) -> str:
    rest = dict(ph.given)
    args = []
    for k in ph.positional:
        if k not in rest:
            break
        args.append(_py_literal(rest.pop(k)))
    args += [f"{k}={_py_literal(v)}" for k, v in rest.items()]
    return f"rampup.{FACTORY[role]}.{ph.name}({', '.join(args)})"


def python_example(spec_text: str, total: int) -> str:
    s = rampup.parse(spec_text, total_steps=total)
    spec = s.spec
    from rampup.tools.explain import explain

    e = explain(s)
    parts = []
    if spec.warmup is not None:
        parts.append(_py_phase(spec.warmup, "warmup"))
    decays = [_py_phase(d, d.role) for d in spec.decay]
    if spec.warmup is None:
        parts.append("decay=" + (decays[0] if len(decays) == 1 else "[" + ", ".join(decays) + "]"))
    else:
        parts.append(decays[0] if len(decays) == 1 else "[" + ", ".join(decays) + "]")
    if spec.modifiers:
        parts.append("modifiers=[" + ", ".join(_py_phase(m, "modifier") for m in spec.modifiers) + "]")
    parts.append(f"total_steps={total}")
    args = ",\n            ".join(parts)
    marks = [(0, "first update"), (e.peak_step, "peak"), (total - 1, "last update")]
    code = f"""\
        import numpy as np
        import rampup

        # Without peak_lr the schedule returns multiples of the peak (1.0 = peak);
        # pass peak_lr=3e-4 to get absolute learning rates.
        lr = rampup.parse("{spec_text}", total_steps={total})
        for t in {tuple(m[0] for m in marks)}:  # {", ".join(m[1] for m in marks)}
            print(t, lr(t))
        curve = lr(np.arange({total}))  # the whole run in one vectorized call

        # The same schedule built from phase objects:
        same = rampup.schedule(
            {args},
        )
        assert same == lr
        """
    return textwrap.dedent(code)


def run_python(code: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<docs example>", "exec"), {"__name__": "__docs__"})
    return buf.getvalue()


def _quote(arg: str) -> str:
    return f'"{arg}"' if re.search(r"[^\w.,=/%:+-]", arg) else arg


def run_cli(argv: list[str], cwd: Path | None = None) -> tuple[str, int]:
    """Run ``rampup ARGV`` in-process; return the shell transcript (command, stdout, stderr) and the exit code."""
    from rampup.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as e:  # --help
                rc = int(e.code or 0)
    finally:
        os.chdir(old)
    text = "$ rampup " + " ".join(_quote(a) for a in argv) + "\n" + out.getvalue() + err.getvalue()
    return text.rstrip("\n") + "\n", rc


# ---------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------


def example_for(role: str, name: str, cls: type[Phase]) -> Example:
    ex = EXAMPLES.get((role, name))
    if ex is not None:
        return ex
    doc = inspect.cleandoc(cls.__doc__ or "")
    m = re.search(r"parse\(\s*\"([^\"]+)\"(?:\s*,\s*total_steps=(\d+))?", doc)
    if m:
        return Example(m.group(1), int(m.group(2) or 1000))
    raise DocsError(
        f"docs/gen_plots.py: shape {role} {name!r} has no example: add one to EXAMPLES "
        '(or a doctest calling parse("...") to its docstring)'
    )


def shape_page(role: str, name: str, cls: type[Phase], folder: str, site: Site) -> str:
    doc = parse_docstring(cls)
    ex = example_for(role, name, cls)
    img = f"img/{folder}-{name}.png"
    specs = [ex.base, ex.spec] if ex.base else [ex.spec]
    labels = ["without the modifier: " + ex.base, "with it: " + ex.spec] if ex.base else [ex.spec]
    site.plots[f"shapes/{img}"] = ([s for s in specs if s], ex.total_steps, labels, None)
    role_word = {"whole": "whole schedule"}.get(role, role)
    try:
        code = python_example(ex.spec, ex.total_steps)
        output = run_python(code)
    except Exception as e:
        raise DocsError(f"the example of {role} {name!r} ({ex.spec!r}) fails: {type(e).__name__}: {e}") from e
    cli, rc = run_cli(["explain", ex.spec, "--total-steps", str(ex.total_steps)])
    if rc != 0:
        raise DocsError(f"docs/gen_plots.py: example of {role} {name!r} fails in the CLI:\n{cli}")
    parsed = rampup.Spec.parse(ex.spec)
    import json

    lines = [
        f"# `{name}` — {role_word}",
        "",
        doc.summary,
        "",
    ]
    if doc.body.strip():
        lines += [doc.body, ""]
    lines += [
        "## Arguments",
        "",
        param_table(cls),
        "## Plot",
        "",
        f"`{ex.spec}` over `total_steps={ex.total_steps}`, as multiples of the peak "
        "(markers: first update, peak, floor; dotted line: end of the warmup).",
        "",
        f"![{name} {role_word}](../{img})",
        "",
        "## Example",
        "",
        "Spec string:",
        "",
        "```text",
        ex.spec,
        "```",
        "",
        "Dict form (JSON/YAML):",
        "",
        "```json",
        json.dumps(parsed.to_dict()),
        "```",
        "",
        "Python:",
        "",
        "```python",
        code.rstrip(),
        "```",
        "",
        "Output:",
        "",
        "```text",
        output.rstrip(),
        "```",
        "",
        "Command line:",
        "",
        "```console",
        cli.rstrip(),
        "```",
        "",
    ]
    if doc.doctest.strip():
        lines += ["## Exact values", "", "From the docstring (checked by the tests):", "", "```pycon"]
        lines += [doc.doctest.rstrip(), "```", ""]
    if doc.reference:
        lines += ["## Reference", "", doc.reference, ""]
    lines += [f"Source: `{cls.__module__}.{cls.__qualname__}`", ""]
    return "\n".join(lines)


def shapes_index(entries: list[tuple[str, str, type[Phase]]], site: Site) -> str:
    lines = [
        "# Shapes",
        "",
        "Every shape rampup knows, one page each: formula, arguments, a plot of the real schedule and a "
        "runnable example.  These pages are generated from the code by `docs/gen_plots.py` (the formula "
        "and the reference from each class docstring, the argument table from its `params`).",
        "",
        "A spec chains them: `warmup -> decay [-> decay ...] [| modifier ...]`, or one whole schedule "
        "(see [the spec language](../spec-language.md)).  Compatibility specs that reproduce other "
        "libraries (`hf:`, `torch:`, `timm:` ...) have their own page.",
        "",
    ]
    for role, _table, title, folder in ROLES:
        rows = [(n, c) for r, n, c in entries if r == role]
        if not rows:
            continue
        lines += [f"## {title}", "", "| name | formula | example |", "|---|---|---|"]
        for n, c in rows:
            summary = parse_docstring(c).summary
            ex = example_for(role, n, c)
            lines.append(f"| [`{n}`]({folder}/{n}.md) | {_cell(summary)} | `{_cell(ex.spec)}` |")
        lines.append("")
        if role == "warmup":
            site.plots["shapes/img/warmups.png"] = (WARMUP_GALLERY, 150, WARMUP_GALLERY, "the warmups, 100 steps each")
            lines += ["The warmups side by side (first 150 steps):", "", "![warmups](img/warmups.png)", ""]
    return "\n".join(lines)


def cli_pages(site: Site) -> None:
    """docs/generated/cli-*.txt: the help of every command and the examples with their real output."""
    from rampup.cli import COMMANDS

    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width; fix it for determinism
    os.environ["NO_COLOR"] = "1"
    ref = ["<!-- generated by docs/gen_plots.py from rampup.cli.COMMANDS -->", ""]
    text, _ = run_cli(["--help"])
    ref += ["### `rampup --help`", "", "```console", text.rstrip(), "```", ""]
    for name, helptext, _add, _fn in COMMANDS:
        text, _ = run_cli([name, "--help"])
        # The shared examples epilog is shown once, under `rampup --help`.
        text = text.split("\nexamples:\n")[0].rstrip()
        ref += [
            f"### `rampup {name}`",
            "",
            helptext[:1].upper() + helptext[1:] + ".",
            "",
            "```console",
            text,
            "```",
            "",
        ]
    site.texts["generated/cli-reference.md"] = "\n".join(ref)
    for argv, key in CLI_EXAMPLES:
        text, rc = run_cli(argv)
        if rc != 0:
            text += f"$ echo $?\n{rc}\n"
        site.texts[f"generated/cli-{key}.txt"] = text
    site.cli_plot = CLI_PLOT


def render(with_outputs: bool = True) -> Site:
    """All generated pages in memory (no files written, no plots drawn)."""
    site = Site()
    entries = shape_entries()
    site.texts["shapes/index.md"] = shapes_index(entries, site)
    for role, name, cls in entries:
        folder = next(f for r, _t, _ti, f in ROLES if r == role)
        site.texts[f"shapes/{folder}/{name}.md"] = shape_page(role, name, cls, folder, site)
        # the nav lists a role's pages in registry order (the common shapes first); see docs/hooks.py
        key = f"shapes/{folder}/.nav-order"
        site.texts[key] = site.texts.get(key, "") + name + "\n"
    if with_outputs:
        cli_pages(site)
    return site


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------


def draw(site: Site, out: Path) -> None:
    from rampup.support.optional import pyplot
    from rampup.tools.plot import plot_schedules

    plt = pyplot("docs/gen_plots.py")

    plt.rcParams["svg.hashsalt"] = "rampup-docs"
    for rel, (specs, total, labels, title) in site.plots.items():
        scheds = [rampup.parse(s, total_steps=total) for s in specs]
        fig = plot_schedules(scheds, labels, total, title=title)
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, metadata={"Software": None})  # no version string: byte-identical reruns
        plt.close(fig)
    if site.cli_plot:
        gen = out / "generated"
        gen.mkdir(parents=True, exist_ok=True)
        text, rc = run_cli(site.cli_plot, cwd=gen)
        if rc != 0:
            raise DocsError(f"docs/gen_plots.py: the plot example failed:\n{text}")
        (gen / "lr.png").rename(gen / "cli-plot.png")
        site.texts["generated/cli-plot.txt"] = text


def write(site: Site, docs: Path = DOCS) -> list[str]:
    """Build the owned folders in a temporary folder beside them, then swap them in."""
    tmp = Path(tempfile.mkdtemp(prefix=".gen-", dir=docs))
    try:
        draw(site, tmp)
        for rel, text in site.texts.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        for name in OWNED:
            (tmp / name).mkdir(exist_ok=True)
            target = docs / name
            old = docs / f".old-{name}"
            if old.exists():
                shutil.rmtree(old)
            if target.exists():
                target.rename(old)
            (tmp / name).rename(target)
            if old.exists():
                shutil.rmtree(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(site.texts) + sorted(site.plots)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true", help="render in memory only; write nothing")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        site = render()
        if a.check:
            print(f"gen_plots: {len(site.texts)} pages render ({time.perf_counter() - t0:.1f} s)")
            return 0
        files = write(site)
    except DocsError as e:
        print(f"gen_plots: error: {e}", file=sys.stderr)
        return 1
    print(f"gen_plots: wrote {len(files)} files under docs/{{{','.join(OWNED)}}} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
