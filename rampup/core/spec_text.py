"""The spec language: a tokenizer and a recursive-descent parser.

Grammar (``docs/spec-language.md`` has the user-facing version)::

    spec     := chain ( "|" item )*
    chain    := item ( "->" item )*
    item     := NAME [ "(" [ arg ( "," arg )* ] ")" ]
    arg      := [ IDENT "=" ] value
    value    := ATOM | "[" [ value ( "," value )* ] "]" | call
    call     := NAME "(" [ IDENT "=" value ( "," IDENT "=" value )* ] ")"
    NAME     := [prefix ":"] identifier          e.g. cosine, hf:cosine
    ATOM     := number, percent, length with unit, word   e.g. 500, 2%, 3ep, 1e-7, 1-sqrt, true

A nested ``call`` (named arguments only) is read as the phase's dict form,
``{"phase": NAME, IDENT: value, ...}``; only arguments that take phases accept
it, e.g. ``torch:sequential_lr(schedulers=[torch:linear_lr(total_iters=5), ...])``.

In a chain of two or more items the first is the warmup and the rest are
decay phases; a chain of one item is a decay phase or a whole schedule (no
warmup).  Items after ``|`` are modifiers.  The warmup ``auto`` /
``auto(NAME=VALUE, ...)`` is an automatic warmup
(:class:`~rampup.core.auto_spec.AutoWarmupSpec`).  Errors point at the offending
text with a caret.

This module reads text into phases (:func:`parse_parts`); the :class:`Spec` that
holds them is built by :meth:`Spec.parse <rampup.core.schedule.Spec.parse>`, so
that the grammar does not import the schedule.
"""

from __future__ import annotations

import re
from typing import Any

from .auto_spec import AUTO, AutoWarmupSpec, read_atom
from .phases import DECAYS, MODIFIERS, NOT_CLOSED_FORM, WARMUPS, WHOLES, Phase

__all__ = ["ParsedSpec", "SpecSyntaxError", "parse_parts"]


class SpecSyntaxError(ValueError):
    """A spec string that cannot be read; the message shows where."""

    def __init__(self, text: str, pos: int, msg: str) -> None:
        self.text, self.pos, self.msg = text, pos, msg
        super().__init__(f"{msg}\n  {text}\n  {' ' * pos}^")


_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<arrow>->)|(?P<pipe>\|)|(?P<lp>\()|(?P<rp>\))|(?P<lb>\[)|(?P<rb>\])|(?P<comma>,)|(?P<eq>=)"
    r"|(?P<atom>(?:[A-Za-z0-9_.+%:]|-(?!>))+)"
    r")"
)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise SpecSyntaxError(text, bad, f"unexpected character {text[bad]!r}")
        kind = m.lastgroup
        assert kind is not None
        start = m.start(kind)
        out.append((kind, m.group(kind), start))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self, kind: str, what: str) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        if tok[0] != kind:
            found = "the end" if tok[0] == "end" else repr(tok[1])
            raise SpecSyntaxError(self.text, tok[2], f"expected {what}, found {found}")
        self.i += 1
        return tok

    def spec(self) -> ParsedSpec:
        chain = [self.item()]
        while self.peek()[0] == "arrow":
            self.i += 1
            chain.append(self.item())
        mods = []
        while self.peek()[0] == "pipe":
            self.i += 1
            mods.append(self.item())
        tok = self.peek()
        if tok[0] != "end":
            raise SpecSyntaxError(self.text, tok[2], f"expected '->', '|' or the end, found {tok[1]!r}")
        warm: Phase | AutoWarmupSpec | None = None
        if len(chain) > 1:
            warm = self.auto(chain[0]) if chain[0][0] == AUTO else self.make(chain[0], [WARMUPS], "warmup")
            decays = [self.make(c, [DECAYS], "decay phase") for c in chain[1:]]
        else:
            decays = [self.make(chain[0], [DECAYS, WHOLES], "decay phase or whole schedule")]
        modifiers = [self.make(m, [MODIFIERS], "modifier") for m in mods]
        return ParsedSpec(self.text, chain[0][1], warm, tuple(decays), tuple(modifiers))

    def auto(self, item: tuple[str, int, list[tuple[str | None, Any, int]]]) -> AutoWarmupSpec:
        """``auto`` / ``auto(NAME=VALUE, ...)``: the options' syntax only (AutoWarmup checks names and values)."""
        name, pos, args = item
        options: dict[str, Any] = {}
        for key, val, apos in args:
            if key is None:
                raise SpecSyntaxError(self.text, apos, f"{name}: takes named options only; accepted: NAME=VALUE")
            if key in options:
                raise SpecSyntaxError(self.text, apos, f"{key} given twice")
            if not isinstance(val, str):
                raise SpecSyntaxError(
                    self.text,
                    apos,
                    f"{name}: {key}: got a {'list' if isinstance(val, list) else 'call'}; "
                    "accepted: a number, true/false or a word (e.g. 2, 0.5, true, loss)",
                )
            options[key] = read_atom(val)
        try:
            return AutoWarmupSpec(options)
        except (TypeError, ValueError) as e:  # pragma: no cover - the tokenizer admits only valid names and atoms
            raise SpecSyntaxError(self.text, pos, str(e)) from None

    def item(self) -> tuple[str, int, list[tuple[str | None, Any, int]]]:
        _kind, name, pos = self.take("atom", "a phase name such as linear, cosine, noam")
        if not re.fullmatch(r"(?:[a-z][a-z0-9_]*:)?[a-z_][a-z0-9_]*", name):
            raise SpecSyntaxError(self.text, pos, f"{name!r} is not a phase name")
        args: list[tuple[str | None, Any, int]] = []
        if self.peek()[0] == "lp":
            self.i += 1
            if self.peek()[0] != "rp":
                args.append(self.arg())
                while self.peek()[0] == "comma":
                    self.i += 1
                    args.append(self.arg())
            self.take("rp", "',' or ')'")
        return name, pos, args

    def arg(self) -> tuple[str | None, Any, int]:
        tok = self.peek()
        if tok[0] == "atom" and self.toks[self.i + 1][0] == "eq":
            self.i += 2
            return tok[1], self.value(), tok[2]
        return None, self.value(), tok[2]

    def value(self) -> Any:
        tok = self.peek()
        if tok[0] == "lb":
            self.i += 1
            vals = []
            if self.peek()[0] != "rb":
                vals.append(self.value())
                while self.peek()[0] == "comma":
                    self.i += 1
                    vals.append(self.value())
            self.take("rb", "',' or ']'")
            return vals
        if tok[0] == "atom" and self.toks[self.i + 1][0] == "lp":
            return self.call()
        return self.take("atom", "a value")[1]

    def call(self) -> dict[str, Any]:
        """A nested call as the phase's dict form (named arguments only: the dict has no positions)."""
        name, _pos, args = self.item()
        out: dict[str, Any] = {"phase": name}
        for key, val, apos in args:
            if key is None:
                raise SpecSyntaxError(self.text, apos, f"{name}: a nested call takes named arguments only (NAME=value)")
            if key in out:
                raise SpecSyntaxError(self.text, apos, f"{key} given twice")
            out[key] = val
        return out

    def make(
        self, item: tuple[str, int, list[tuple[str | None, Any, int]]], tables: list[dict[str, type[Phase]]], role: str
    ) -> Phase:
        name, pos, args = item
        cls = next((t[name] for t in tables if name in t), None)
        if cls is None and name in NOT_CLOSED_FORM:
            raise SpecSyntaxError(self.text, pos, NOT_CLOSED_FORM[name])
        if cls is None:
            known = sorted(set().union(*tables))
            hint = ""
            if name in WHOLES:
                hint = (
                    f" ({name!r} is a whole schedule: it brings its own warmup and decay and cannot be joined "
                    "with '->'; write it alone, optionally followed by '| modifier')"
                )
            elif role == "warmup" and name in DECAYS:
                hint = f" ({name!r} is a decay; the first item of 'A -> B' is the warmup)"
            elif name in MODIFIERS and role != "modifier":
                hint = f" ({name!r} is a modifier: write it after '|', e.g. 'constant | {name}(...)')"
            elif name == AUTO:
                hint = f" ({name!r} is an automatic warmup: follow it with a decay, e.g. 'auto -> cosine')"
            elif role != "warmup" and name in WARMUPS and name not in DECAYS:
                hint = f" ({name!r} is a warmup: follow it with a decay, e.g. '{name}(...) -> constant')"
            raise SpecSyntaxError(self.text, pos, f"unknown {role} {name!r}{hint}; accepted: {', '.join(known)}")
        positional: list[Any] = []
        named: dict[str, Any] = {}
        for key, val, apos in args:
            if key is None:
                if named:
                    raise SpecSyntaxError(self.text, apos, "positional argument after a named one")
                positional.append(val)
            else:
                if key in named:
                    raise SpecSyntaxError(self.text, apos, f"{key} given twice")
                named[key] = val
        try:
            return cls(*positional, **named)
        except (TypeError, ValueError) as e:
            if role == "warmup" and name in DECAYS and isinstance(e, TypeError):
                e = type(e)(
                    f"{e} — the first item of 'A -> B' is the warmup; to hold the peak first without a warmup, "
                    f"write 'linear(0) -> {name}(...) -> ...' or use wsd(...)"
                )
            # Point at the argument the message names, else at the item.
            where = pos
            pos_keys = iter(cls.positional)
            for key, _val, apos in args:
                k = key if key is not None else next(pos_keys, None)
                if k is not None and re.search(rf"\b{re.escape(k)}\b", str(e)):
                    where = apos
                    break
            raise SpecSyntaxError(self.text, where, str(e)) from None


class ParsedSpec:
    """The phases read from a spec string, before :class:`~rampup.core.schedule.Spec` checks how they join."""

    __slots__ = ("decay", "modifiers", "pos", "text", "warmup")

    def __init__(
        self,
        text: str,
        pos: int,
        warmup: Phase | AutoWarmupSpec | None,
        decay: tuple[Phase, ...],
        modifiers: tuple[Phase, ...],
    ) -> None:
        self.text, self.pos = text, pos  # pos: where the chain starts (a join error points there)
        self.warmup, self.decay, self.modifiers = warmup, decay, modifiers


def parse_parts(text: str) -> ParsedSpec:
    """Read a spec string into its warmup, decay phases and modifiers (``Spec.parse`` joins them).

    >>> p = parse_parts("linear(500, start=1e-7)->wsd(cooldown=10%, shape=1-sqrt)")
    >>> p.warmup, p.decay, p.modifiers
    (linear(500, start=1e-07), (wsd(cooldown=10%, shape=1-sqrt),), ())
    """
    if not isinstance(text, str):
        raise TypeError(f"spec: got {type(text).__name__}; accepted: a string such as 'linear(2%) -> cosine'")
    if not text.strip():
        raise SpecSyntaxError(text, 0, "empty spec; accepted: e.g. 'linear(2%) -> cosine(floor=0.1)'")
    return _Parser(text).spec()
