"""The suggested spec: the user's decay and modifiers with a warmup that clears the length findings
(:func:`recommend`), and the per-finding suggestions (:func:`join_spec`)."""

from __future__ import annotations

import math
from typing import Any

from .inputs import DEFAULT_DECAY
from .lengths import length_range
from .model import Finding, Setup
from .shapes import DEFAULT_WARMUP, RADAM_FACTOR, beta2_derived, holds_level

__all__ = ["join_spec", "kept_or_target", "length_ok", "plus_modifier", "recommend", "without_modifier"]


def without_modifier(spec: Any, name: str) -> Any:
    from ... import Spec

    return Spec(spec.warmup, spec.decay, tuple(m for m in spec.modifiers if m.name != name))


def plus_modifier(spec_text: str | None, modifier: str) -> str | None:
    from ... import Spec

    if spec_text is None:
        return None
    return str(Spec.parse(spec_text).with_modifier(Spec.parse(f"constant | {modifier}").modifiers[-1]))


def join_spec(warmup: str | None, st: Setup, extra_modifier: str | None = None) -> str:
    """A per-finding suggestion: ``warmup -> decay | modifiers``, keeping the user's decay and modifiers.

    ``warmup=None`` keeps the user's warmup (or whole schedule) as it is.
    """
    spec = st.spec
    if spec is not None and (warmup is None or spec.decay[0].role != "whole"):
        if warmup is None:
            first = [spec.warmup] if spec.warmup else []
            if spec.warmup is not None and st.warmup_steps == 0:  # it rounds to 0 steps (skipped): leave it out,
                first = (
                    [] if len(spec.decay) == 1 else [f"{DEFAULT_WARMUP}(0)"]
                )  # but a chain keeps a 0-step warmup first
            chain = " -> ".join(p if isinstance(p, str) else p.to_text() for p in [*first, *spec.decay])
        else:
            chain = f"{warmup} -> {' -> '.join(p.to_text() for p in spec.decay)}"
    else:
        decay = st.decay or DEFAULT_DECAY
        if warmup is None and st.warmup_steps:
            warmup = f"{DEFAULT_WARMUP}({st.warmup_text or st.warmup_steps})"
        chain = f"{warmup} -> {decay}" if warmup else decay
    mods = [m.to_text() for m in spec.modifiers] if spec is not None else []
    if extra_modifier is not None:  # it replaces a modifier of the same name (one radam factor, not two)
        name = extra_modifier.split("(", 1)[0]
        mods = [m for m in mods if m.split("(", 1)[0] != name] + [extra_modifier]
    return " | ".join([chain, *mods])


def length_ok(st: Setup) -> bool:
    """The user's warmup length draws no length warning or error (the one test: :meth:`LengthRange.accepts`)."""
    return st.warmup_steps is not None and length_range(st).accepts(st.warmup_steps, st.builtin_warmup)


def kept_or_target(st: Setup) -> str:
    """The warmup length a suggestion writes: the user's when it is accepted, else the reconciled target."""
    r = length_range(st)
    if length_ok(st) or r.target_text is None:
        return st.warmup_text or str(st.warmup_steps)
    return r.target_text


def recommend(st: Setup, findings: list[Finding], assumptions: list[str]) -> str | None:
    """The corrected spec: the user's decay and modifiers, with a warmup that clears the length findings.

    Length: the user's when :func:`length_range` accepts it; else the range's
    target: for pretraining 2% of the run (5% with a risk factor: Post-LN, fp16/fp8,
    FSDP/ZeRO/pipeline, batch >= 8x the base, >= 1B parameters), raised to the
    kept floors (Adam's 2/(1-β2), fp16's 100 steps, Post-LN's 1%) but never above
    5%; for fine-tuning 6% of the run clipped to 50-500 steps (and to a quarter of
    the run).  Shape: the user's registered warmup with its arguments when it takes
    a length; a constant warmup becomes linear from the same start; a large batch
    starts from the small-batch LR.
    """
    W = st.warmup_steps
    r = length_range(st)
    accepted = length_ok(st)
    shape_problem = any(f.check in ("constant-warmup-gap", "gradual-warmup-start") for f in findings)
    if st.spec is not None and accepted and not shape_problem:
        if W == 0 and st.spec.warmup is not None:  # a warmup that rounds to 0 steps is skipped: leave it out
            from ... import Spec

            return _with_fixes(str(Spec(None, st.spec.decay, st.spec.modifiers)), findings, st)
        return _with_fixes(str(st.spec), findings, st)
    if accepted:
        text: str = st.warmup_text or str(W)
    elif r.target_text is not None:
        text = r.target_text
    else:
        if st.total_steps is None:
            assumptions.append("total steps unknown: pass --total-steps to get a suggested warmup length")
        else:
            assumptions.append(f"a {st.total_steps}-step run has no room for a warmup: no suggested spec")
        return None
    no_warmup = accepted and W == 0  # accepted without one: RAdam's rectification is the warmup
    warm = None if no_warmup else _warmup_phase(st, text, assumptions)
    spec = st.spec
    if spec is not None and spec.decay[0].role == "whole":
        whole = spec.decay[0]
        if "warmup" in whole.params:  # noam(d_model, warmup): keep the schedule, change its warmup
            chain = type(whole)(**{**whole.given, "warmup": text}).to_text()
        else:
            assumptions.append(
                f"{whole.name} brings its own warmup; the suggested spec replaces it with {DEFAULT_DECAY}"
            )
            chain = " -> ".join(x for x in (warm, DEFAULT_DECAY) if x)
    else:
        if st.decay is None:
            assumptions.append(
                f"decay not given (--decay, a spec or a config): the suggested spec shows {DEFAULT_DECAY}"
            )
        chain = " -> ".join(x for x in (warm, st.decay or DEFAULT_DECAY) if x)
    mods = [m.to_text() for m in spec.modifiers] if spec is not None else []
    return _with_fixes(" | ".join([chain, *mods]), findings, st)


def _warmup_phase(st: Setup, length: str, assumptions: list[str]) -> str:
    """The user's warmup phase with a new length (keeping its other arguments), or a linear one.

    Which shapes keep their form is read off the registry: a registered warmup with
    a ``length`` argument (linear, cosine, poly, exponential, and any shape added
    later) that does not hold a level; one that holds its level (``constant``) becomes
    linear (its jump is the finding); a warmup without a length (``untuned_linear``:
    2/(1-β2); ``piecewise``: its knots) becomes linear, and the assumptions say so.
    """
    from ...core import WARMUPS

    w = st.spec.warmup if st.spec is not None else None
    hold = w is not None and holds_level(w.name)
    keep = w is not None and not hold and "length" in WARMUPS[w.name].params
    if w is not None and not keep and not hold:
        assumptions.append(
            f"the suggested spec replaces {w.to_text()} with a {DEFAULT_WARMUP} warmup of {length}: "
            f"{w.name} takes no length"
        )
    args: dict[str, Any] = dict(w.given) if keep and w is not None else {}
    args["length"] = length
    if "start" not in args and "start_lr" not in args:
        start = st.warmup_start or 0.0  # a constant warmup's level becomes the gradual warmup's start
        if not start and st.batch_size and st.base_batch_size and st.batch_size >= 2 * st.base_batch_size:
            k = st.batch_size / st.base_batch_size
            start = 1.0 / (k if st.family in ("sgd", "schedule_free_sgd") else math.sqrt(k))
        if start:
            args["start"] = float(f"{start:.4g}")
    if hold and w is not None and "start_lr" in w.given:
        args["start_lr"] = w.given["start_lr"]
        args.pop("start", None)
    cls = WARMUPS[w.name] if keep and w is not None else WARMUPS[DEFAULT_WARMUP]
    return cls(**args).to_text()


def _with_fixes(spec_text: str, findings: list[Finding], st: Setup) -> str:
    """Apply the spec fixes: drop a doubled radam factor, add a re-warmup after an optimizer reset, and give the
    phases that derive their length from β2 (untuned_linear, | untuned_exponential, | radam) the optimizer's β2."""
    from ... import Spec

    sp = Spec.parse(spec_text)
    if any(f.check == "untuned-beta2-mismatch" for f in findings) and st.beta2 is not None:
        r, b2 = length_range(st), float(st.beta2)

        def tuned(p: Any) -> Any:
            if not beta2_derived(p):
                return p
            q = type(p)(**{**p.given, "beta2": b2})
            if p.role == "warmup":  # its length is 2/(1-β2): the new β2 must give a length the checks accept
                n = max(1, round(2.0 / (1.0 - b2)))
                if not r.accepts(n, st.builtin_warmup):
                    from ...core import WARMUPS

                    return WARMUPS[DEFAULT_WARMUP](length=r.target_text) if r.target_text else None
            return q

        sp = Spec(tuned(sp.warmup), sp.decay, tuple(tuned(m) for m in sp.modifiers))
    if st.family == "radam":  # the radam-double-warmup fix, read off the setup: recommend(st, [], []) needs it too
        sp = without_modifier(sp, RADAM_FACTOR)
    for f in findings:
        if f.check == "rewarm-after-reset" and f.suggestion:
            extra = Spec.parse(f.suggestion).modifiers[-1]
            sp = sp.with_modifier(extra)
    return str(sp)
