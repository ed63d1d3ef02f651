"""Reading an automatic-warmup spec, ``"auto(method=loss, growth=2) -> cosine(floor=0.1)"``.

The one place in the torch layer that knows how ``auto`` / ``auto(...)`` is written:
:func:`split_auto_spec` splits such a spec into the controller's options and the fixed
schedule that follows; :func:`is_auto_spec` says whether a schedule argument is one.
:class:`rampup.torch.AutoWarmup` and :func:`rampup.torch.make_scheduler` read specs only
through these two functions.

>>> split_auto_spec("auto(method=loss, growth=2) -> cosine(floor=0.1)")
({'method': 'loss', 'growth': 2}, 'cosine(floor=0.1)')
>>> split_auto_spec("linear(100) -> cosine") is None
True
"""

from __future__ import annotations

from typing import Any

from ..core import AutoWarmupSpec, Spec

__all__ = ["auto_spec_parts", "is_auto_spec", "split_auto_spec"]

_NEEDS_DECAY = "accepted: 'auto -> DECAY', e.g. 'auto -> cosine(floor=0.1)' (or then='cosine(floor=0.1)')"


def split_auto_spec(text: str) -> tuple[dict[str, Any], str] | None:
    """``(options, rest)`` of a spec whose warmup is ``auto`` or ``auto(NAME=VALUE, ...)``; ``None`` for any other spec.

    The core grammar reads the spec (``Spec.parse``: ``auto(...)`` becomes a
    :class:`rampup.core.AutoWarmupSpec`); ``options`` are its arguments as the grammar reads
    any word (int, float, bool, otherwise str), ``rest`` is the schedule after the warmup.
    Raises ``ValueError`` (naming ``schedule``) for an automatic warmup with no schedule after
    ``->``, and the grammar's ``SpecSyntaxError`` (a ``ValueError``) for one written wrong.
    """
    head, sep, rest = text.partition("->")
    head = head.strip()
    if head != "auto" and not head.startswith("auto("):
        return None  # a fixed spec: the scheduler parses it itself
    if not sep or not rest.strip():
        raise ValueError(f"schedule: got {text!r}; {_NEEDS_DECAY}")
    spec = Spec.parse(text)
    if not isinstance(spec.warmup, AutoWarmupSpec):  # pragma: no cover - the head check above
        return None
    return dict(spec.warmup.options), rest.strip()


def is_auto_spec(value: Any) -> bool:
    """Whether ``value`` is a spec string whose warmup is ``auto`` or ``auto(...)`` (a malformed one raises)."""
    return isinstance(value, str) and split_auto_spec(value) is not None


def auto_spec_parts(text: str) -> tuple[dict[str, Any], str]:
    """:func:`split_auto_spec` for a schedule that must be automatic: a ``ValueError`` for any other spec."""
    parts = split_auto_spec(text)
    if parts is None:
        _, sep, rest = text.partition("->")
        if not sep or not rest.strip():
            raise ValueError(f"schedule: got {text!r}; {_NEEDS_DECAY}")
        raise ValueError(f"schedule: got {text!r}; accepted: a spec whose warmup is 'auto' or 'auto(...)'")
    return parts
