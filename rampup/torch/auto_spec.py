"""Reading an automatic-warmup spec, ``"auto(method=loss, growth=2) -> cosine(floor=0.1)"``.

The one place in the torch layer that knows how ``auto`` / ``auto(...)`` is written:
:func:`split_auto_spec` splits such a spec into the controller's options and the fixed
schedule that follows; :func:`is_auto_spec` says whether a schedule argument is one.
:class:`rampup.torch.AutoWarmup` and :func:`rampup.torch.scheduler` read specs only
through these two functions.

>>> split_auto_spec("auto(method=loss, growth=2) -> cosine(floor=0.1)")
({'method': 'loss', 'growth': 2}, 'cosine(floor=0.1)')
>>> split_auto_spec("linear(100) -> cosine") is None
True
"""

from __future__ import annotations

from typing import Any

__all__ = ["auto_spec_parts", "is_auto_spec", "split_auto_spec"]

_NEEDS_DECAY = "accepted: 'auto -> DECAY', e.g. 'auto -> cosine(floor=0.1)' (or then='cosine(floor=0.1)')"


# TODO(merge): use rampup.core.AutoWarmupSpec -- parse with the core grammar and return
#   (spec.warmup.options, str(Spec(None, spec.decay, spec.modifiers))) when spec.warmup is an
#   AutoWarmupSpec, else None; this hand parser (and nothing else in rampup.torch) then goes.
def split_auto_spec(text: str) -> tuple[dict[str, Any], str] | None:
    """``(options, rest)`` of a spec whose warmup is ``auto`` or ``auto(NAME=VALUE, ...)``; ``None`` for any other spec.

    ``options`` holds the arguments of ``auto(...)`` (ints and floats converted, other
    values kept as strings); ``rest`` is the schedule after the warmup.  Raises
    ``ValueError`` (naming ``schedule``) for an automatic warmup written wrong: no
    schedule after ``->``, or an argument that is not ``NAME=VALUE``.
    """
    head, sep, rest = text.partition("->")
    head = head.strip()
    if head != "auto" and not head.startswith("auto("):
        return None
    if not sep or not rest.strip():
        raise ValueError(f"schedule: got {text!r}; {_NEEDS_DECAY}")
    if head == "auto":
        return {}, rest.strip()
    if not head.endswith(")"):
        raise ValueError(f"schedule: got {text!r}; accepted: a spec whose warmup is 'auto' or 'auto(...)'")
    kw: dict[str, Any] = {}
    for part in head[5:-1].split(","):
        if not part.strip():
            continue
        k, eq, v = part.partition("=")
        if not eq:
            raise ValueError(f"schedule: auto(...): got {part.strip()!r}; accepted: NAME=VALUE arguments")
        v = v.strip()
        try:
            kw[k.strip()] = int(v) if v.lstrip("-").isdigit() else float(v)
        except ValueError:
            kw[k.strip()] = v
    return kw, rest.strip()


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
