"""The warmup-length rules, reconciled in one place (:func:`length_range`).

Several checks bound the warmup length: the pretraining fraction (0.5 %/1 % below,
5 %/25 % above), Adam's 2/(1-β2), fp16's 100 steps, Post-LN's and large models' 1 %,
fine-tuning's 50-500 steps.  They disagree in short runs (2/(1-β2) = 2000 steps is
20 % of a 10k-step run).  The rule: the run-relative range wins; an absolute floor
that does not fit under the range's top (5 % of a pretraining run; fine-tuning:
500 steps or 10 %, at most a quarter of the run) is *relaxed*: its finding becomes
an info that says why, and the suggestion does not chase it.  Every check reads its
bounds from :func:`length_range`, and the suggested length is the range's target,
so a suggested spec never gets a length warning from the checks that produced it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from .inputs import ADAM_LIKE
from .model import Setup

__all__ = [
    "FP16_MIN",
    "FT_FRAC",
    "FT_HI",
    "FT_LO",
    "ONE_PCT",
    "PRE_HI",
    "PRE_LO",
    "PRE_TARGET",
    "PRE_TARGET_RISKY",
    "PRE_WARN_HI",
    "PRE_WARN_LO",
    "LengthRange",
    "adam_floor",
    "effective_warmup",
    "length_range",
    "pct",
    "risk_factors",
    "steps_of",
]


def pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def adam_floor(st: Setup) -> int | None:
    if st.family in ADAM_LIKE and st.beta2 is not None:
        return max(1, round(2.0 / (1.0 - st.beta2)))
    return None


def risk_factors(st: Setup) -> list[str]:
    """Factors that call for the long end of the warmup range."""
    r = []
    if st.norm == "post":
        r.append("Post-LN")
    if st.precision in ("fp16", "fp8"):
        r.append(f"{st.precision} loss scaling")
    if any(p in st.parallelism for p in ("fsdp", "zero", "pipeline")):
        r.append("/".join(p for p in st.parallelism if p in ("fsdp", "zero", "pipeline")))
    if st.batch_size and st.base_batch_size and st.batch_size / st.base_batch_size >= 8:
        r.append(f"batch {st.batch_size / st.base_batch_size:g}x the base")
    if st.model_params is not None and st.model_params >= 1e9:
        r.append(f"{st.model_params / 1e9:g}B parameters")
    return r


PRE_WARN_LO = 0.005  # pretraining: below 0.5 % of the run is a warning
PRE_LO = 0.01  # below 1 %: info
PRE_HI = 0.05  # above 5 %: info (and the top of the suggested range)
PRE_WARN_HI = 0.25  # above 25 %: warning
PRE_TARGET, PRE_TARGET_RISKY = "2%", "5%"
FT_LO, FT_HI, FT_FRAC = 50, 500, 0.06  # fine-tuning: 50-500 steps, about 6 % of the run
FP16_MIN = 100  # fp16/fp8: dynamic loss scaling settles in the first ~100 steps
ONE_PCT = 0.01  # Post-LN and >= 1B parameters: at least 1 % of the run


def steps_of(length: str, total_steps: int) -> int:
    """A length such as '2%' in steps, rounded exactly as the core resolves it (:class:`rampup.core.units.Length`)."""
    from ...core.units import Length, LengthRoundingWarning, RunInfo

    with warnings.catch_warnings():  # a bound that rounds to 0 steps is a bound of 0 here, not news for the user
        warnings.simplefilter("ignore", LengthRoundingWarning)
        return Length.parse(length).to_steps(RunInfo(total_steps))


@dataclass(frozen=True)
class LengthRange:
    """The warmup lengths (in steps) that no check of the advisor warns about, for one run.

    ``lo``: the longest of the kept lower bounds (``floors``, by check name);
    ``hi``: the longest warmup without a warning (None: unknown run length);
    ``top``: the top of the recommended range (5 % of a pretraining run, fine-tuning's
    500 steps or 10 %, at most a quarter of the run), the most a suggestion uses;
    ``relaxed``: lower bounds that do not fit under ``top`` (check name -> why), reported
    as info; ``target``/``target_text``: the length a suggestion uses when the user's
    is not accepted (None: not enough is known).

    The lower bounds compare with the *effective* warmup (the explicit one or the
    optimizer's own, RAdam's rectification), the upper ones with the explicit warmup.

    >>> r = length_range(Setup(total_steps=10_000, task="pretrain", family="adam", beta2=0.999))
    >>> r.lo, r.hi, r.top, r.target_text, sorted(r.relaxed)
    (50, 2500, 500, '5%', ['adam-beta2-warmup'])
    >>> r.accepts(200), r.accepts(20), r.accepts(3000)
    (True, False, False)
    """

    lo: int
    hi: int | None
    top: int | None
    floors: dict[str, int]
    relaxed: dict[str, str]
    target: int | None
    target_text: str | None

    def accepts(self, warmup: int, builtin: int | None = None) -> bool:
        """No check warns about this warmup (explicit steps; ``builtin``: the optimizer's own, e.g. RAdam's)."""
        eff = max(warmup, builtin or 0)
        return eff >= self.lo and (self.hi is None or warmup <= self.hi)

    def recommends(self, warmup: int) -> bool:
        """Inside the recommended range: accepted, and no longer than its top (what suggestions use)."""
        return self.accepts(warmup) and (self.top is None or warmup <= self.top)


def effective_warmup(st: Setup) -> int | None:
    """The effective warmup: the explicit one, or the optimizer's own when that is longer (RAdam)."""
    if st.warmup_steps is None:
        return None
    return max(st.warmup_steps, st.builtin_warmup or 0)


def length_range(st: Setup) -> LengthRange:
    T = st.total_steps
    ft = st.task == "finetune"
    if T is None:
        hi = top = None
    elif ft:
        hi = T - 1
        top = min(max(1, min(max(FT_HI, math.floor(0.1 * T)), T // 4)), T - 1)
    else:  # a 1-step warmup is the shortest there is, whatever fraction of a tiny run it is
        hi = min(max(1, math.floor(PRE_WARN_HI * T)), T - 1)
        top = min(max(1, steps_of(f"{PRE_HI * 100:g}%", T)), T - 1)
    wanted: dict[str, int] = {"no-warmup": 1}
    if T is not None and not ft:
        wanted["pretrain-warmup-fraction"] = max(1, math.ceil(PRE_WARN_LO * T))
    if T is not None and st.norm == "post":
        wanted["post-ln-warmup"] = max(1, math.ceil(ONE_PCT * T))
    if T is not None and not ft and st.model_params is not None and st.model_params >= 1e9:
        wanted["model-size-warmup"] = max(1, math.ceil(ONE_PCT * T))
    floor = adam_floor(st)
    relaxed: dict[str, str] = {}
    if floor is not None:
        if ft:
            relaxed["adam-beta2-warmup"] = (
                "fine-tuning keeps its own 50-500 step guidance; 2/(1-β2) is the untuned default for training "
                "from scratch"
            )
        else:
            wanted["adam-beta2-warmup"] = floor
    if st.precision in ("fp16", "fp8"):
        wanted["mixed-precision-warmup"] = FP16_MIN
    floors: dict[str, int] = {}
    pull = 0  # a floor that gives way still pulls the suggestion up to the top of the range
    for rule, n in wanted.items():
        if top is None or n <= top or rule == "no-warmup":
            floors[rule] = n
            continue
        pull = max(pull, top)
        if rule == "adam-beta2-warmup":
            relaxed[rule] = (
                f"2/(1-β2) = {n} steps would be {pct(n / T)} of this {T}-step run, beyond the {top} steps "  # type: ignore[operator]
                f"({PRE_HI * 100:g}%) the warmup-fraction guidance allows; keep the warmup in range and lower β2 "
                "instead (β2 = 0.95: 2/(1-β2) = 40 steps) or use RAdam"
            )
        elif rule == "mixed-precision-warmup":
            relaxed[rule] = (
                f"{n} steps would be {pct(n / T)} of this {T}-step run, beyond the {top} steps the "  # type: ignore[operator]
                "warmup guidance allows; with a warmup this short, prefer bf16 or watch the skipped updates"
            )
        else:  # pragma: no cover - 0.5 % and 1 % always fit under the top of the range
            relaxed[rule] = f"{n} steps do not fit under {top}"
    lo = max(floors.values())
    target: int | None
    text: str | None
    if T is not None and T < 2:
        target = text = None  # no room for a warmup in a 1-step run
    elif T is None:
        extra = max([n for r, n in floors.items() if r != "no-warmup"], default=0)
        target = max(100, extra) if ft else (extra or None)
        text = str(target) if target else None
    elif ft:
        base = min(FT_HI, max(FT_LO, round(FT_FRAC * T)))
        target = min(top, max(base, lo, pull))  # type: ignore[type-var]
        text = str(target)
    else:
        frac = PRE_TARGET_RISKY if risk_factors(st) else PRE_TARGET
        base = steps_of(frac, T)
        target = min(top, max(base, lo, pull))  # type: ignore[type-var]
        top_text = f"{PRE_HI * 100:g}%"
        text = frac if target == base else top_text if target == steps_of(top_text, T) else str(target)
    return LengthRange(lo, hi, top, floors, relaxed, target, text)
