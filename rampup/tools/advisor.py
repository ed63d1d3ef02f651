"""``rampup advise``: the empirical guidance on warmup, as checks with a citation each.

Every check reads a normalized description of the run (:class:`Setup`) and
returns :class:`Finding` s with a severity, the reason and a reference.  The
result (:class:`Advice`, a ``list[Finding]``) also carries a *suggested rampup
spec* that fixes the warmup findings and parses with :func:`rampup.parse`.

Severities:

* ``error`` — the configuration will not do what it says, or the literature
  reports failure for it (warmup longer than the run, a warmup that the
  scheduler ignores, no warmup for a Post-LN Transformer, no warmup at all in
  pretraining — RAdam's rectification counts as one).  ``rampup advise`` exits
  with status 1, so it can gate CI.
* ``warning`` — outside the range the guidance recommends (e.g. a pretraining
  warmup below 0.5 % of the run, an Adam warmup shorter than ``2/(1 − β2)``
  where that fits in 5 % of the run).  The length rules are reconciled in one
  place, :func:`_length_range`; every suggested spec passes them.
* ``info`` — worth knowing (scaling rules, weight decay during warmup, …).

Inputs come from keyword arguments, a spec (whose warmup is read off the
resolved schedule's segments) or a config file (see :func:`read_config`).  A
value given twice with different values is an error, never a guess; a default
the advisor relies on (e.g. AdamW's β2 = 0.999) is listed in
``Advice.assumptions``.

>>> from rampup.tools.advisor import advise
>>> a = advise(total_steps=100_000, warmup=100, optimizer="adamw", beta2=0.95, task="pretrain")
>>> [(f.check, f.severity) for f in a]
[('pretrain-warmup-fraction', 'warning')]
>>> a.suggested_spec
'linear(2%) -> cosine(floor=0.1)'
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..scaling import scale_lr
from .advisor_inputs import (
    _ADAM_LIKE,
    _DEFAULT_DECAY,
    _FIELDS,
    _PRECISION_ALIASES,
    NORMS,
    OPTIMIZERS,
    PRECISIONS,
    TASKS,
    WD_MODES,
    _bool,
    _choice,
    _count,
    _float,
    _hf_decay,
    _int,
    _merge,
    _model_params,
    _parallelism,
    derive,
    normalize_optimizer,
    read_config,
)

__all__ = ["OPTIMIZERS", "REFERENCES", "Advice", "Finding", "Setup", "advise", "normalize_optimizer", "read_config"]

SEVERITIES = ("error", "warning", "info")

REFERENCES: dict[str, str] = {
    "goyal": "Goyal et al. 2017, 'Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour', arXiv:1706.02677 "
    "(§2.1 linear scaling rule, §2.2 constant vs gradual warmup)",
    "malladi": "Malladi et al. 2022, 'On the SDEs and Scaling Rules for Adaptive Gradient Algorithms', "
    "arXiv:2205.10287 (square-root scaling rule for Adam)",
    "lamb": "You et al. 2020, 'Large Batch Optimization for Deep Learning: Training BERT in 76 minutes', "
    "arXiv:1904.00962 (warmup lengthened as the batch grows)",
    "ma_yarats": "Ma & Yarats 2021, 'On the adequacy of untuned warmup for adaptive optimization', "
    "arXiv:1910.04209 (linear warmup over 2/(1−β2) steps)",
    "radam": "Liu et al. 2020, 'On the Variance of the Adaptive Learning Rate and Beyond', arXiv:1908.03265 (RAdam)",
    "xiong": "Xiong et al. 2020, 'On Layer Normalization in the Transformer Architecture', arXiv:2002.04745 "
    "(Post-LN needs warmup, Pre-LN trains without)",
    "admin": "Liu et al. 2020, 'Understanding the Difficulty of Training Transformers', arXiv:2004.08249",
    "wortsman": "Wortsman et al. 2023, 'Small-scale proxies for large-scale Transformer training instabilities', "
    "arXiv:2309.14322 (longer warmup lowers LR sensitivity, more so for larger models)",
    "kosson": "Kosson et al. 2024, 'Analyzing & Reducing the Need for Learning Rate Warmup in GPT Training', "
    "arXiv:2410.23922",
    "kalra": "Kalra & Barkeshli 2024, 'Why Warmup the Learning Rate? Underlying Mechanisms and Improvements', "
    "arXiv:2406.09405",
    "pythia": "Biderman et al. 2023, 'Pythia', arXiv:2304.01373 (1% linear warmup)",
    "defazio": "Defazio et al. 2024, 'The Road Less Scheduled', arXiv:2405.15682 (schedule-free runs keep a warmup)",
    "loshchilov": "Loshchilov & Hutter 2019, 'Decoupled Weight Decay Regularization', arXiv:1711.05101 "
    "(Alg. 2: the schedule multiplier η_t scales the decay term too)",
    "micikevicius": "Micikevicius et al. 2018, 'Mixed Precision Training', arXiv:1710.03740 "
    "(dynamic loss scaling skips updates that overflow)",
    "pipedream": "Narayanan et al. 2019, 'PipeDream: Generalized Pipeline Parallelism for DNN Training', "
    "arXiv:1806.03377 (weight staleness)",
    "gupta": "Gupta et al. 2023, 'Continual Pre-Training of Large Language Models: How to (re)warm your model?', "
    "arXiv:2308.04014",
    "ibrahim": "Ibrahim et al. 2024, 'Simple and Scalable Strategies to Continually Pre-train Large Language "
    "Models', arXiv:2403.08763 (re-warming)",
    "mosbach": "Mosbach et al. 2021, 'On the Stability of Fine-tuning BERT', arXiv:2006.04884",
    "roberta": "Liu et al. 2019, 'RoBERTa', arXiv:1907.11692 (fine-tuning: linear warmup over the first 6%)",
    "he": "He et al. 2016, 'Deep Residual Learning for Image Recognition', arXiv:1512.03385 (§4.2: constant 0.1x warmup)",
    "hf_constant": "transformers.get_scheduler (transformers/optimization.py): 'constant' returns "
    "get_constant_schedule(optimizer) before reading num_warmup_steps",
    "rampup_e1": "rampup experiment e1 (docs/experiments.md): Post-LN without warmup collapses to the unigram loss",
}


@dataclass(frozen=True)
class Finding:
    """One check's result: what is off, why (the reason), and where the guidance comes from."""

    check: str
    severity: str
    message: str
    reason: str
    citation: str
    suggestion: str | None = None  # a rampup spec that addresses this finding (parses with rampup.parse)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity: got {self.severity!r}; accepted: {', '.join(SEVERITIES)}")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Setup:
    """The run as the advisor sees it, after reading every input (``None`` = not known)."""

    total_steps: int | None = None
    warmup_steps: int | None = None
    warmup_text: str | None = None  # the length as written ('2%', '500')
    warmup_shape: str | None = None  # 'linear', 'constant', 'untuned_linear', 'radam' (modifier), ...
    warmup_start: float | None = None  # start level as a fraction of the peak
    builtin_warmup: int | None = None  # the optimizer's own warmup (RAdam's rectification), steps
    spec: Any = None  # rampup.Spec when one was given
    decay: str | None = None  # the decay chain as spec text
    batch_size: int | None = None
    base_batch_size: int | None = None
    base_lr: float | None = None
    optimizer: str | None = None
    family: str | None = None
    beta2: float | None = None
    peak_lr: float | None = None
    model_params: float | None = None
    precision: str | None = None
    parallelism: tuple[str, ...] = ()
    task: str | None = None
    norm: str | None = None
    weight_decay: float | None = None
    wd_mode: str | None = None
    from_pretrained: bool = False
    reset_optimizer_at: int | None = None
    steps_per_epoch: int | None = None
    hf_scheduler: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # field -> where it came from

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "spec"}
        d["spec"] = str(self.spec) if self.spec is not None else None
        d["parallelism"] = list(self.parallelism)
        return d


class Advice(list[Finding]):
    """The findings (a ``list[Finding]``, most severe first) plus the suggested spec and what was assumed."""

    def __init__(
        self, findings: list[Finding], setup: Setup, suggested_spec: str | None, assumptions: list[str]
    ) -> None:
        order = {s: i for i, s in enumerate(SEVERITIES)}
        super().__init__(sorted(findings, key=lambda f: order[f.severity]))
        self.setup = setup
        self.suggested_spec = suggested_spec
        self.assumptions = assumptions

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self],
            "counts": {s: sum(f.severity == s for f in self) for s in SEVERITIES},
            "suggested_spec": self.suggested_spec,
            "assumptions": list(self.assumptions),
            "inputs": self.setup.to_dict(),
        }

    def text(self) -> str:
        counts = ", ".join(f"{sum(f.severity == s for f in self)} {s}" for s in SEVERITIES)
        head = f"{len(self)} finding(s) ({counts})" if self else "no findings: the setup matches the guidance checked"
        lines = [f"rampup advise: {head}"]
        known = [
            f"{k}={_show(v)}" + (f" [{self.setup.sources[k]}]" if k in self.setup.sources else "")
            for k, v in self.setup.to_dict().items()
            if k not in ("sources", "warmup_text") and v is not None and v is not False and v != []
        ]
        lines.append("  inputs: " + "; ".join(known) if known else "  inputs: none")
        for a in self.assumptions:
            lines.append(f"  assumed: {a}")
        for f in self:
            lines.append("")
            lines.append(f"{f.severity.upper():<8}{f.check}: {f.message}")
            lines.append(f"        why: {f.reason}")
            lines.append(f"        ref: {f.citation}")
            if f.suggestion:
                lines.append(f"        try: {f.suggestion}")
        if self.suggested_spec:
            lines += ["", f"suggested rampup spec: {self.suggested_spec}"]
        return "\n".join(lines)


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v)


# =========================================================================
# Building the Setup from every source.
# =========================================================================


def _build_setup(fields: dict[str, tuple[Any, str]], assumptions: list[str]) -> Setup:
    from .. import Spec, parse

    st = Setup()
    src = st.sources

    def get(key: str) -> Any:
        return fields[key][0] if key in fields else None

    def mark(key: str, name: str | None = None) -> None:
        if key in fields:
            src[name or key] = fields[key][1]

    if get("total_steps") is not None:
        st.total_steps = _int("total_steps", get("total_steps"), 1)
        mark("total_steps")
    if get("steps_per_epoch") is not None:
        st.steps_per_epoch = _count("steps_per_epoch", get("steps_per_epoch"), 1)
        mark("steps_per_epoch")
    tokens = _count("tokens_per_step", get("tokens_per_step"), 1) if get("tokens_per_step") is not None else None
    if get("optimizer") is not None:
        st.optimizer = normalize_optimizer(get("optimizer"))
        st.family = OPTIMIZERS[st.optimizer][0]
        mark("optimizer")
    if get("beta2") is not None:
        st.beta2 = _float("beta2", get("beta2"), 0.0, hi=1.0)
        mark("beta2")
    elif st.optimizer is not None and OPTIMIZERS[st.optimizer][1] is not None:
        st.beta2 = OPTIMIZERS[st.optimizer][1]
        src["beta2"] = "default"
        assumptions.append(f"beta2={st.beta2} ({OPTIMIZERS[st.optimizer][2]}); pass --beta2 if yours differs")
    for key in ("peak_lr", "base_lr"):
        if get(key) is not None:
            setattr(st, key, _float(key, get(key)))
            mark(key)
    for key in ("batch_size", "base_batch_size"):
        if get(key) is not None:
            setattr(st, key, _count(key, get(key), 1))
            mark(key)
    if get("model_params") is not None:
        st.model_params = _model_params(get("model_params"))
        mark("model_params")
    if get("precision") is not None:
        st.precision = _choice("precision", get("precision"), PRECISIONS, _PRECISION_ALIASES)
        mark("precision")
    if get("parallelism") is not None:
        st.parallelism = _parallelism(get("parallelism"))
        mark("parallelism")
    if get("task") is not None:
        st.task = _choice(
            "task",
            get("task"),
            TASKS,
            {
                "pretraining": "pretrain",
                "fine-tune": "finetune",
                "fine_tune": "finetune",
                "finetuning": "finetune",
                "sft": "finetune",
            },
        )
        mark("task")
    if get("norm") is not None:
        st.norm = _choice(
            "norm", get("norm"), NORMS, {"post-ln": "post", "pre-ln": "pre", "post_ln": "post", "pre_ln": "pre"}
        )
        mark("norm")
    if get("weight_decay") is not None:
        st.weight_decay = _float("weight_decay", get("weight_decay"), 0.0, lo_open=False)
        mark("weight_decay")
    if get("wd_mode") is not None:
        st.wd_mode = _choice("wd_mode", get("wd_mode"), WD_MODES)
        mark("wd_mode")
    if get("from_pretrained") is not None:
        st.from_pretrained = _bool("from_pretrained", get("from_pretrained"))
        mark("from_pretrained")
    if get("hf_scheduler") is not None:
        st.hf_scheduler = str(get("hf_scheduler")).lower()
        mark("hf_scheduler")
    if get("reset_optimizer_at") is not None:
        from ..core.units import Length, RunInfo

        ln = Length.parse(get("reset_optimizer_at"), "reset_optimizer_at")
        st.reset_optimizer_at = ln.to_steps(RunInfo(st.total_steps, st.steps_per_epoch, tokens), "reset_optimizer_at")
        mark("reset_optimizer_at")
    if st.task is None and st.from_pretrained:
        st.task = "finetune"
        src["task"] = "from_pretrained"

    # Decay chain (text) from --decay, the HF scheduler type, or the spec.
    if get("decay") is not None:
        d = get("decay")
        if not isinstance(d, str):
            raise TypeError(f"decay: got {d!r}; accepted: a decay spec such as 'cosine(floor=0.1)'")
        try:
            dspec = Spec.parse(d)
        except ValueError as e:
            raise ValueError(f"decay: cannot read {d!r}: {e}") from None
        if dspec.warmup is not None:
            raise ValueError(f"decay: got {d!r}, which has a warmup; accepted: the decay part only (e.g. 'cosine')")
        st.decay = str(dspec)
        mark("decay")

    # Warmup: from the spec's resolved segments and/or the warmup length.
    from ..core.units import LengthRoundingWarning

    spec_warm: int | None = None
    if get("spec") is not None:
        raw_spec = get("spec")
        sp = (
            raw_spec
            if isinstance(raw_spec, Spec)
            else Spec.parse(raw_spec)
            if isinstance(raw_spec, str)
            else Spec.from_dict(raw_spec)
        )
        st.spec = sp
        mark("spec")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LengthRoundingWarning)
            sched = parse(sp, st.total_steps, st.peak_lr, st.steps_per_epoch, tokens)
        assumptions += [str(c.message) for c in caught]
        spec_warm, shape, start, text = _spec_warmup(sched)
        st.warmup_shape, st.warmup_start = shape, start
        st.warmup_steps, st.warmup_text = spec_warm, text
        src["warmup_steps"] = fields["spec"][1]
        chain_decay = " -> ".join(p.to_text() for p in sp.decay)
        if sp.decay[0].role != "whole":
            if st.decay is not None and st.decay != chain_decay:
                raise ValueError(f"decay: {src['decay']} gives {st.decay!r} but the spec decays with {chain_decay!r}")
            st.decay = chain_decay
    if get("warmup") is not None:
        from ..core.units import Length, RunInfo

        w = get("warmup")
        ln = Length.parse(w, "warmup")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LengthRoundingWarning)
            steps = ln.to_steps(RunInfo(st.total_steps, st.steps_per_epoch, tokens), "warmup")
        assumptions += [str(c.message) for c in caught]  # a warmup that rounds to 0 steps is checked as none
        if spec_warm is not None and steps != spec_warm:
            raise ValueError(
                f"warmup: {fields['warmup'][1]} gives {w!r} ({steps} steps) but the spec {st.spec} warms up for "
                f"{spec_warm} steps; give one of them"
            )
        if spec_warm is None:
            st.warmup_steps, st.warmup_text = steps, str(ln)
            st.warmup_shape = "linear" if steps > 0 else None
            st.warmup_start = 0.0 if steps > 0 else None
            src["warmup_steps"] = fields["warmup"][1]
            if steps > 0:  # a length alone says nothing about the shape: say what is checked
                assumptions.append("warmup shape not given (a length only): a linear warmup from 0 is assumed")
    if st.total_steps is None and st.spec is not None:
        sched_end = parse(st.spec, None, st.peak_lr, st.steps_per_epoch, tokens).end_step
        if sched_end != math.inf:
            st.total_steps = int(sched_end)
            src["total_steps"] = "spec"
    if st.family == "radam" and st.beta2 is not None:
        # RAdam's rectification r_t is a built-in warmup over about 2/(1-β2) steps (Ma & Yarats 2021)
        st.builtin_warmup = max(1, round(2.0 / (1.0 - st.beta2)))
    return st


def _spec_warmup(sched: Any) -> tuple[int, str | None, float | None, str | None]:
    """(warmup steps, shape, start level, written length) read off the resolved schedule."""
    sp = sched.spec
    if sp.warmup is not None:
        steps = sched.warmup_steps
        start = sp.warmup.start_level(sched.peak_lr)
        length = sp.warmup.given.get("length")
        return steps, sp.warmup.name, start, str(length) if length is not None else str(steps)
    segs = sched.segments
    lead = [s for s in segs if s.role == "warmup"]
    if lead:  # a whole (compat) schedule that brings its own warmup segments
        n = int(sum(s.length for s in lead))
        return n, segs[0].name, None, str(n)
    first = sp.decay[0]
    if first.role == "whole" and "warmup" in first.params:  # e.g. noam(d_model, warmup)
        n = first.steps("warmup", sched.run)
        return n, first.name, None, str(first.args["warmup"])
    for m in sp.modifiers:  # modifier warmups: effective length 2τ (Ma & Yarats: 2/(1−β2))
        if m.name in ("radam", "untuned_exponential"):
            return max(1, round(2.0 / (1.0 - float(m.args["beta2"])))), m.name, None, None
        if m.name == "asymptotic_exponential":
            return max(1, round(2.0 * float(m.args["tau"]))), m.name, None, None
    return 0, None, None, None


# =========================================================================
# Checks.
# =========================================================================


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _adam_floor(st: Setup) -> int | None:
    if st.family in _ADAM_LIKE and st.beta2 is not None:
        return max(1, round(2.0 / (1.0 - st.beta2)))
    return None


def _risky(st: Setup) -> list[str]:
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


# -------------------------------------------------------------------------
# The warmup-length rules, reconciled in one place.
#
# Several checks bound the warmup length: the pretraining fraction (0.5 %/1 % below,
# 5 %/25 % above), Adam's 2/(1-β2), fp16's 100 steps, Post-LN's and large models' 1 %,
# fine-tuning's 50-500 steps.  They disagree in short runs (2/(1-β2) = 2000 steps is
# 20 % of a 10k-step run).  The rule: the run-relative range wins; an absolute floor
# that does not fit under the range's top (5 % of a pretraining run; fine-tuning:
# 500 steps or 10 %, at most a quarter of the run) is *relaxed*: its finding becomes
# an info that says why, and the suggestion does not chase it.  Every check reads its
# bounds from :func:`_length_range`, and the suggested length is the range's target,
# so a suggested spec never gets a length warning from the checks that produced it.
# -------------------------------------------------------------------------

_PRE_WARN_LO = 0.005  # pretraining: below 0.5 % of the run is a warning
_PRE_LO = 0.01  # below 1 %: info
_PRE_HI = 0.05  # above 5 %: info (and the top of the suggested range)
_PRE_WARN_HI = 0.25  # above 25 %: warning
_PRE_TARGET, _PRE_TARGET_RISKY = "2%", "5%"
_FT_LO, _FT_HI, _FT_FRAC = 50, 500, 0.06  # fine-tuning: 50-500 steps, about 6 % of the run
_FP16_MIN = 100  # fp16/fp8: dynamic loss scaling settles in the first ~100 steps
_ONE_PCT = 0.01  # Post-LN and >= 1B parameters: at least 1 % of the run


def _steps(length: str, total_steps: int) -> int:
    """A length such as '2%' in steps, rounded exactly as the core resolves it (:class:`rampup.core.units.Length`)."""
    from ..core.units import Length, LengthRoundingWarning, RunInfo

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

    >>> r = _length_range(Setup(total_steps=10_000, task="pretrain", family="adam", beta2=0.999))
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


def _eff(st: Setup) -> int | None:
    """The effective warmup: the explicit one, or the optimizer's own when that is longer (RAdam)."""
    if st.warmup_steps is None:
        return None
    return max(st.warmup_steps, st.builtin_warmup or 0)


def _length_range(st: Setup) -> LengthRange:
    T = st.total_steps
    ft = st.task == "finetune"
    if T is None:
        hi = top = None
    elif ft:
        hi = T - 1
        top = min(max(1, min(max(_FT_HI, math.floor(0.1 * T)), T // 4)), T - 1)
    else:  # a 1-step warmup is the shortest there is, whatever fraction of a tiny run it is
        hi = min(max(1, math.floor(_PRE_WARN_HI * T)), T - 1)
        top = min(max(1, _steps(f"{_PRE_HI * 100:g}%", T)), T - 1)
    wanted: dict[str, int] = {"no-warmup": 1}
    if T is not None and not ft:
        wanted["pretrain-warmup-fraction"] = max(1, math.ceil(_PRE_WARN_LO * T))
    if T is not None and st.norm == "post":
        wanted["post-ln-warmup"] = max(1, math.ceil(_ONE_PCT * T))
    if T is not None and not ft and st.model_params is not None and st.model_params >= 1e9:
        wanted["model-size-warmup"] = max(1, math.ceil(_ONE_PCT * T))
    floor = _adam_floor(st)
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
        wanted["mixed-precision-warmup"] = _FP16_MIN
    floors: dict[str, int] = {}
    pull = 0  # a floor that gives way still pulls the suggestion up to the top of the range
    for rule, n in wanted.items():
        if top is None or n <= top or rule == "no-warmup":
            floors[rule] = n
            continue
        pull = max(pull, top)
        if rule == "adam-beta2-warmup":
            relaxed[rule] = (
                f"2/(1-β2) = {n} steps would be {_pct(n / T)} of this {T}-step run, beyond the {top} steps "  # type: ignore[operator]
                f"({_PRE_HI * 100:g}%) the warmup-fraction guidance allows; keep the warmup in range and lower β2 "
                "instead (β2 = 0.95: 2/(1-β2) = 40 steps) or use RAdam"
            )
        elif rule == "mixed-precision-warmup":
            relaxed[rule] = (
                f"{n} steps would be {_pct(n / T)} of this {T}-step run, beyond the {top} steps the "  # type: ignore[operator]
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
        base = min(_FT_HI, max(_FT_LO, round(_FT_FRAC * T)))
        target = min(top, max(base, lo, pull))  # type: ignore[type-var]
        text = str(target)
    else:
        frac = _PRE_TARGET_RISKY if _risky(st) else _PRE_TARGET
        base = _steps(frac, T)
        target = min(top, max(base, lo, pull))  # type: ignore[type-var]
        top_text = f"{_PRE_HI * 100:g}%"
        text = frac if target == base else top_text if target == _steps(top_text, T) else str(target)
    return LengthRange(lo, hi, top, floors, relaxed, target, text)


def _check_length(st: Setup, out: list[Finding]) -> None:
    T, W = st.total_steps, st.warmup_steps
    if W is None:
        return
    if T is not None and W >= T:
        out.append(
            Finding(
                "warmup-longer-than-run",
                "error",
                f"the warmup ({W} steps) is as long as or longer than the run ({T} steps): the peak LR is never used",
                "every update runs below the intended peak; the decay never starts",
                REFERENCES["goyal"],
            )
        )
    if st.hf_scheduler == "constant" and W > 0:
        out.append(
            Finding(
                "hf-constant-ignores-warmup",
                "error",
                f"lr_scheduler_type='constant' with a warmup of {W} steps: Hugging Face ignores the warmup for 'constant'",
                "get_scheduler returns get_constant_schedule(optimizer) without reading num_warmup_steps, so training "
                "starts at the full LR; use lr_scheduler_type='constant_with_warmup' (or the suggested rampup spec)",
                REFERENCES["hf_constant"],
            )
        )


def _warmup_words(st: Setup) -> str:
    """How the effective warmup is described: the explicit one, or RAdam's rectification when that is longer."""
    if st.builtin_warmup and (st.warmup_steps or 0) < st.builtin_warmup:
        return f"RAdam's rectification (about 2/(1-β2) = {st.builtin_warmup} steps)"
    return "warmup"


def _check_fraction(st: Setup, out: list[Finding]) -> None:
    T, W, E = st.total_steps, st.warmup_steps, _eff(st)
    if st.task == "finetune" or W is None or E is None:
        return
    cite = f"{REFERENCES['pythia']}; {REFERENCES['wortsman']}; {REFERENCES['kosson']}"
    if E == 0:  # needs no run length: from scratch at the full LR is the failure the guidance is about
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "error",
                "no warmup in pretraining",
                "training from scratch at the full peak LR from the first update risks loss spikes and divergence; "
                "practice is a warmup of 1-5% of the run",
                cite,
            )
        )
        return
    if T is None or W >= T:
        return
    r = _length_range(st)
    frac, efrac = W / T, E / T
    words = _warmup_words(st)
    if efrac < _PRE_WARN_LO:
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "warning",
                f"{words} is {_pct(efrac)} of the run ({E} of {T} steps), below 0.5%",
                "very short warmups produce early loss spikes, especially at large width; the recommended range for "
                "pretraining is 1-5% of the run",
                cite,
            )
        )
    elif efrac < _PRE_LO:
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "info",
                f"{words} is {_pct(efrac)} of the run ({E} of {T} steps), below the 1-5% range",
                "a warmup under 1% works for some setups but leaves little margin for a higher LR; 1-5% is the "
                "recommended range",
                cite,
            )
        )
    elif r.hi is not None and W > r.hi:  # above 25 % (a 1-step warmup is never too long)
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "warning",
                f"warmup is {_pct(frac)} of the run ({W} of {T} steps)",
                "beyond a few percent a longer warmup mostly spends the budget below the peak LR",
                f"{REFERENCES['kalra']}; {REFERENCES['kosson']}",
            )
        )
    elif r.top is not None and W > r.top:  # above 5 %, as '5%' resolves
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "info",
                f"warmup is {_pct(frac)} of the run ({W} of {T} steps), above the 1-5% range",
                "longer than usual; fine if it is needed for stability (large batch, Post-LN), otherwise it costs "
                "updates at low LR",
                f"{REFERENCES['kalra']}; {REFERENCES['kosson']}",
            )
        )


def _check_finetune(st: Setup, out: list[Finding]) -> None:
    W = _eff(st)
    if st.task != "finetune" or W is None:
        return
    top = _length_range(st).top
    cite = f"{REFERENCES['mosbach']}; {REFERENCES['roberta']}"
    if W == 0:
        out.append(
            Finding(
                "finetune-warmup-steps",
                "warning",
                "no warmup for fine-tuning",
                "a fresh optimizer state on pretrained weights (and a new head) makes the first updates the "
                "noisiest; fine-tuning typically warms up for 50-500 steps, scaled with the dataset size",
                cite,
            )
        )
    elif W < (_FT_LO if top is None else min(_FT_LO, top)):  # a 100-step run has no room for 50
        out.append(
            Finding(
                "finetune-warmup-steps",
                "info",
                f"fine-tuning warmup of {W} steps, below the usual 50-500",
                "short warmups are fine for tiny datasets; with more data, 50-500 steps (about 6% of the run) is usual",
                cite,
            )
        )
    elif W > _FT_HI and (st.total_steps is None or W > 0.1 * st.total_steps):
        out.append(
            Finding(
                "finetune-warmup-steps",
                "info",
                f"fine-tuning warmup of {W} steps, above the usual 50-500",
                "long warmups spend much of a short fine-tuning run below the intended LR",
                cite,
            )
        )


def _check_post_ln(st: Setup, out: list[Finding]) -> None:
    W = _eff(st)
    if st.norm == "post" and W is not None:
        if W == 0:
            out.append(
                Finding(
                    "post-ln-warmup",
                    "error",
                    "Post-LN Transformer without warmup",
                    "at initialization Post-LN has large gradients near the output layer; Adam at a normal LR without "
                    "warmup diverges or collapses (rampup's E1: collapse to the unigram loss)",
                    f"{REFERENCES['xiong']}; {REFERENCES['admin']}; {REFERENCES['rampup_e1']}",
                )
            )
        elif st.total_steps is not None and W / st.total_steps < _ONE_PCT:
            out.append(
                Finding(
                    "post-ln-warmup",
                    "warning",
                    f"Post-LN Transformer with a short warmup ({W} steps, {_pct(W / st.total_steps)} of the run)",
                    "Post-LN needs warmup far more than Pre-LN; use the long end of the range or switch to Pre-LN",
                    f"{REFERENCES['xiong']}; {REFERENCES['admin']}",
                )
            )
    elif st.norm == "pre" and W == 0:
        out.append(
            Finding(
                "pre-ln-no-warmup",
                "info",
                "Pre-LN Transformer without warmup",
                "Pre-LN can train without warmup, but a short warmup still lowers the sensitivity to the peak LR",
                f"{REFERENCES['xiong']}; {REFERENCES['wortsman']}",
            )
        )


def _check_adam(st: Setup, out: list[Finding]) -> None:
    W = st.warmup_steps
    floor = _adam_floor(st)
    r = _length_range(st)
    if floor is not None and W is not None and W < floor:
        # The floor gives way where it does not fit the run (see _length_range): then it is an info that says so.
        relaxed = r.relaxed.get("adam-beta2-warmup")
        why = (
            f"Adam's second-moment estimate averages over about 1/(1-β2) = {1 / (1 - st.beta2):g} steps "  # type: ignore[operator]
            f"and is unreliable before that; a linear warmup of 2/(1-β2) = {floor} steps is a good untuned default"
        )
        if relaxed:
            why += f"; here {relaxed}"
            fix = None
        else:  # the untuned warmup itself when it is in the recommended range, else the reconciled length
            fix = _join(f"untuned_linear(beta2={st.beta2!r})", st) if r.recommends(floor) else _recommend(st, [], [])
        out.append(
            Finding(
                "adam-beta2-warmup",
                "info" if relaxed else "warning",
                f"{st.optimizer} with β2={st.beta2:g}: warmup of {W} steps is shorter than 2/(1-β2) = {floor} steps",
                why,
                REFERENCES["ma_yarats"],
                suggestion=fix,
            )
        )
        # RAdam's rectification works over about 2/(1-β2) steps: offered only where that length is in range.
        if W == 0 and st.beta2 is not None and st.beta2 > 0.6 and r.recommends(floor):
            out.append(
                Finding(
                    "radam-alternative",
                    "info",
                    f"RAdam's rectification is an alternative to a tuned warmup for {st.optimizer}",
                    "RAdam scales each update by r_t, which is small while the variance of the adaptive LR is large; "
                    "with Adam/AdamW use it as the warmup factor '| radam(beta2=...)', or switch the optimizer to RAdam",
                    REFERENCES["radam"],
                    suggestion=_join(None, st, extra_modifier=f"radam(beta2={st.beta2!r})"),
                )
            )
    if st.spec is not None:
        for m in st.spec.modifiers:
            if m.name == "radam" and st.family == "radam":
                out.append(
                    Finding(
                        "radam-double-warmup",
                        "warning",
                        "the spec has the RAdam warmup factor '| radam(...)' and the optimizer is RAdam",
                        "torch.optim.RAdam already applies r_t inside its update; the factor applies it a second time",
                        REFERENCES["radam"],
                        suggestion=str(_without_modifier(_parse_spec(_recommend(st, [], []) or str(st.spec)), "radam")),
                    )
                )
        w = st.spec.warmup
        b2 = None
        if w is not None and w.name == "untuned_linear":
            b2 = float(w.args["beta2"])
        for m in st.spec.modifiers:
            if m.name in ("untuned_exponential", "radam"):
                b2 = float(m.args["beta2"])
        if (
            b2 is not None
            and st.family not in ("sgd", "schedule_free_sgd")  # SGD has no β2 for these phases to follow
            and st.beta2 is not None
            and st.sources.get("beta2") != "default"
            and not math.isclose(b2, st.beta2)
        ):
            out.append(
                Finding(
                    "untuned-beta2-mismatch",
                    "warning",
                    f"the spec derives its warmup from β2={b2:g} but the optimizer uses β2={st.beta2:g}",
                    "the untuned warmup length 2/(1-β2) is meant to follow the optimizer's β2",
                    REFERENCES["ma_yarats"],
                )
            )
    if st.family == "radam" and W:
        out.append(
            Finding(
                "radam-with-warmup",
                "info",
                f"RAdam with an additional warmup of {W} steps",
                "RAdam's rectification already damps the first updates; an extra warmup is optional (it does no harm "
                "beyond the updates it spends at low LR)",
                f"{REFERENCES['radam']}; {REFERENCES['ma_yarats']}",
            )
        )
    if st.family in ("schedule_free", "schedule_free_sgd") and W == 0:
        out.append(
            Finding(
                "schedule-free-warmup",
                "warning",
                f"schedule-free optimizer ({st.optimizer}) without warmup",
                "schedule-free methods remove the decay schedule, not the warmup; their reference runs keep a linear "
                "warmup (the optimizers take warmup_steps=)",
                REFERENCES["defazio"],
            )
        )


def _check_batch(st: Setup, out: list[Finding]) -> None:
    if not (st.batch_size and st.base_batch_size):
        return
    k = st.batch_size / st.base_batch_size
    rule = "linear" if st.family in ("sgd", "schedule_free_sgd") else "sqrt" if st.family is not None else None
    if rule is not None and st.base_lr is not None and k != 1:
        target = scale_lr(st.base_lr, st.base_batch_size, st.batch_size, rule)
        cite = REFERENCES["goyal"] if rule == "linear" else REFERENCES["malladi"]
        name = "linear scaling rule" if rule == "linear" else "square-root scaling rule"
        if st.peak_lr is None:
            out.append(
                Finding(
                    "batch-lr-scaling",
                    "info",
                    f"batch {st.batch_size} is {k:g}x the base batch {st.base_batch_size}: the {name} gives peak LR "
                    f"{target:.4g} from base LR {st.base_lr:g}",
                    f"{'SGD' if rule == 'linear' else 'Adam-type optimizers'}: scale the LR by "
                    f"{'k' if rule == 'linear' else 'sqrt(k)'} with the batch, and warm up gradually from the "
                    "small-batch LR",
                    cite,
                )
            )
        elif not (0.5 <= st.peak_lr / target <= 2.0):
            out.append(
                Finding(
                    "batch-lr-scaling",
                    "warning",
                    f"peak LR {st.peak_lr:g} is {st.peak_lr / target:.3g}x what the {name} gives ({target:.4g}) for "
                    f"batch {st.batch_size} from base batch {st.base_batch_size} at LR {st.base_lr:g}",
                    "an LR far from the scaled one is either wasted (too low) or needs a longer warmup to be stable "
                    "(too high)",
                    cite,
                )
            )
    if k >= 4 and _eff(st) == 0:
        out.append(
            Finding(
                "large-batch-warmup",
                "warning",
                f"batch {k:g}x the base batch without warmup",
                "at large batch the scaled LR is too large for the first updates; a gradual warmup from the "
                "small-batch LR closes the gap to the small-batch accuracy",
                f"{REFERENCES['goyal']}; {REFERENCES['lamb']}",
            )
        )
    elif k >= 2 and _ramps_from_start(st.warmup_shape) and (st.warmup_start or 0.0) == 0.0 and st.warmup_steps:
        out.append(
            Finding(
                "gradual-warmup-start",
                "info",
                f"batch {k:g}x the base: the warmup can start from the small-batch LR (start={1 / (k if rule == 'linear' else math.sqrt(k)):.3g})",
                "Goyal et al. ramp from the LR that works at the base batch to the scaled LR; starting at 0 wastes the "
                "first updates",
                REFERENCES["goyal"],
            )
        )
    if k >= 8:
        out.append(
            Finding(
                "batch-size-warmup-length",
                "info",
                f"batch {k:g}x the base: larger batches call for a longer warmup",
                "Goyal et al. kept 5 epochs of warmup as the batch grew to 8k; LAMB lengthened the warmup with the batch; "
                "measure it with `rampup sweep` if the run is unstable",
                f"{REFERENCES['goyal']}; {REFERENCES['lamb']}",
            )
        )


def _ramps_from_start(shape: str | None) -> bool:
    """A registered warmup that rises gradually from a ``start=`` level (linear, cosine, poly, exponential, ...)."""
    from .. import WARMUPS

    return shape in WARMUPS and shape != "constant" and "start" in WARMUPS[shape].params


def _check_constant(st: Setup, out: list[Finding]) -> None:
    if st.warmup_shape != "constant" or not st.warmup_steps or st.warmup_start is None:
        return
    gap = 1.0 / st.warmup_start if st.warmup_start > 0 else math.inf
    sev = "warning" if gap >= 10 else "info"
    out.append(
        Finding(
            "constant-warmup-gap",
            sev,
            f"constant warmup at {st.warmup_start:g}x the peak, then a jump of {gap:.3g}x to the peak",
            "the sudden jump after a constant warmup causes a training-error spike that gets worse as the gap grows; "
            "a gradual (linear) warmup from the same start avoids it",
            f"{REFERENCES['goyal']}; {REFERENCES['he']}",
            suggestion=_join(f"linear({_kept_or_target(st)}, start={st.warmup_start!r})", st),
        )
    )


def _check_scale(st: Setup, out: list[Finding]) -> None:
    if st.model_params is None or st.model_params < 1e9 or st.warmup_steps is None or st.total_steps is None:
        return
    if st.task != "finetune" and _eff(st) / st.total_steps < _ONE_PCT:  # type: ignore[operator]
        out.append(
            Finding(
                "model-size-warmup",
                "warning",
                f"{st.model_params / 1e9:g}B parameters with a warmup under 1% of the run",
                "larger models are more sensitive to the LR and benefit more from a longer warmup",
                REFERENCES["wortsman"],
            )
        )


def _check_precision(st: Setup, out: list[Finding]) -> None:
    if st.precision in ("fp16", "fp8"):
        E = _eff(st)
        short = E is not None and E < _FP16_MIN
        relaxed = _length_range(st).relaxed.get("mixed-precision-warmup") if short else None
        why = (
            "dynamic loss scaling starts mis-scaled (torch GradScaler: 2^16) and skips overflowing updates while "
            f"the scheduler still advances; a warmup of {_FP16_MIN}+ steps tolerates that (and the noisier early "
            "gradients)"
        )
        out.append(
            Finding(
                "mixed-precision-warmup",
                "warning" if short and not relaxed else "info",
                f"{st.precision} training" + (f" with a {E}-step warmup" if short else ""),
                why + (f"; here {relaxed}" if relaxed else ""),
                REFERENCES["micikevicius"],
            )
        )
    big = [p for p in st.parallelism if p in ("fsdp", "zero", "pipeline")]
    if big:
        out.append(
            Finding(
                "distributed-warmup",
                "info",
                f"{'/'.join(big)} training: prefer the long end of the warmup range",
                "sharded and pipelined runs usually combine a large global batch with reduced precision, and "
                "asynchronous pipelines update with stale weights; all three tolerate the first updates worse",
                f"{REFERENCES['goyal']}; {REFERENCES['pipedream']}",
            )
        )


def _check_weight_decay(st: Setup, out: list[Finding]) -> None:
    if not st.weight_decay or st.family not in ("adam", "schedule_free", "lion") or not st.warmup_steps:
        return
    if st.wd_mode == "lr":
        return  # decay multiplied by the current LR (torch.optim.AdamW): it follows the warmup already
    sev = "warning" if st.wd_mode == "independent" else "info"
    out.append(
        Finding(
            "weight-decay-warmup",
            sev,
            f"weight decay {st.weight_decay:g} during the {st.warmup_steps}-step warmup"
            + (" is applied independently of the LR" if st.wd_mode == "independent" else ""),
            "if the decay step does not follow the LR schedule (w <- (1 - λ)·w), then during warmup it pulls 1/f(t) "
            "times harder relative to the gradient step (f = warmup factor); scale λ by the same factor, "
            "λ_t = λ·schedule(t)/peak_lr.  torch.optim.AdamW (w <- w·(1 - lr·λ)) already does; check yours "
            "(--wd-mode lr|independent)",
            f"{REFERENCES['loshchilov']}; {REFERENCES['wortsman']} (independent weight decay)",
        )
    )


def _check_rewarm(st: Setup, out: list[Finding]) -> None:
    if st.from_pretrained and _eff(st) == 0:
        out.append(
            Finding(
                "rewarm-after-loading",
                "warning",
                "weights are loaded from a checkpoint but there is no warmup",
                "a fresh optimizer state (and any new head) on trained weights needs a short warmup again; "
                "re-warming is the standard practice for continued pretraining and fine-tuning",
                f"{REFERENCES['gupta']}; {REFERENCES['ibrahim']}",
            )
        )
    at = st.reset_optimizer_at
    if at is not None:
        has = st.spec is not None and any(
            m.name == "rewarm" and m.steps("at", _run(st)) == at for m in st.spec.modifiers
        )
        if not has:
            length = max(1, min(500, round(0.01 * st.total_steps))) if st.total_steps else 100
            out.append(
                Finding(
                    "rewarm-after-reset",
                    "warning",
                    f"the optimizer state is reset at step {at} without a re-warmup there",
                    "after a reset Adam's moment estimates start from zero again, so the next updates behave like the "
                    "first ones of a run; re-warm the LR",
                    f"{REFERENCES['gupta']}; {REFERENCES['ibrahim']}",
                    suggestion=_plus_modifier(_recommend(st, [], []), f"rewarm(at={at}, length={length})"),
                )
            )


def _run(st: Setup) -> Any:
    from ..core.units import RunInfo

    return RunInfo(st.total_steps, st.steps_per_epoch)


CHECKS = (
    _check_length,
    _check_fraction,
    _check_finetune,
    _check_post_ln,
    _check_adam,
    _check_batch,
    _check_constant,
    _check_scale,
    _check_precision,
    _check_weight_decay,
    _check_rewarm,
)


# =========================================================================
# The suggested spec.
# =========================================================================


def _without_modifier(spec: Any, name: str) -> Any:
    from .. import Spec

    return Spec(spec.warmup, spec.decay, tuple(m for m in spec.modifiers if m.name != name))


def _plus_modifier(spec_text: str | None, modifier: str) -> str | None:
    from .. import Spec

    if spec_text is None:
        return None
    return str(Spec.parse(spec_text).with_modifier(Spec.parse(f"constant | {modifier}").modifiers[-1]))


def _join(warmup: str | None, st: Setup, extra_modifier: str | None = None) -> str:
    """A per-finding suggestion: ``warmup -> decay | modifiers``, keeping the user's decay and modifiers.

    ``warmup=None`` keeps the user's warmup (or whole schedule) as it is.
    """
    spec = st.spec
    if spec is not None and (warmup is None or spec.decay[0].role != "whole"):
        if warmup is None:
            first = [spec.warmup] if spec.warmup else []
            if spec.warmup is not None and st.warmup_steps == 0:  # it rounds to 0 steps (skipped): leave it out,
                first = [] if len(spec.decay) == 1 else ["linear(0)"]  # but a chain keeps a 0-step warmup first
            chain = " -> ".join(p if isinstance(p, str) else p.to_text() for p in [*first, *spec.decay])
        else:
            chain = f"{warmup} -> {' -> '.join(p.to_text() for p in spec.decay)}"
    else:
        decay = st.decay or _DEFAULT_DECAY
        if warmup is None and st.warmup_steps:
            warmup = f"linear({st.warmup_text or st.warmup_steps})"
        chain = f"{warmup} -> {decay}" if warmup else decay
    mods = [m.to_text() for m in spec.modifiers] if spec is not None else []
    if extra_modifier is not None:  # it replaces a modifier of the same name (one radam factor, not two)
        name = extra_modifier.split("(", 1)[0]
        mods = [m for m in mods if m.split("(", 1)[0] != name] + [extra_modifier]
    return " | ".join([chain, *mods])


_LENGTH_CHECKS = (
    "warmup-longer-than-run",
    "pretrain-warmup-fraction",
    "finetune-warmup-steps",
    "post-ln-warmup",
    "adam-beta2-warmup",
    "model-size-warmup",
    "large-batch-warmup",
    "schedule-free-warmup",
    "rewarm-after-loading",
    "mixed-precision-warmup",
)


def _length_ok(st: Setup) -> bool:
    """The user's warmup length draws no length warning or error (the one test: :meth:`LengthRange.accepts`)."""
    return st.warmup_steps is not None and _length_range(st).accepts(st.warmup_steps, st.builtin_warmup)


def _kept_or_target(st: Setup) -> str:
    """The warmup length a suggestion writes: the user's when it is accepted, else the reconciled target."""
    r = _length_range(st)
    if _length_ok(st) or r.target_text is None:
        return st.warmup_text or str(st.warmup_steps)
    return r.target_text


def _recommend(st: Setup, findings: list[Finding], assumptions: list[str]) -> str | None:
    """The corrected spec: the user's decay and modifiers, with a warmup that clears the length findings.

    Length: the user's when :func:`_length_range` accepts it; else the range's
    target: for pretraining 2% of the run (5% with a risk factor: Post-LN, fp16/fp8,
    FSDP/ZeRO/pipeline, batch >= 8x the base, >= 1B parameters), raised to the
    kept floors (Adam's 2/(1-β2), fp16's 100 steps, Post-LN's 1%) but never above
    5%; for fine-tuning 6% of the run clipped to 50-500 steps (and to a quarter of
    the run).  Shape: the user's registered warmup with its arguments when it takes
    a length; a constant warmup becomes linear from the same start; a large batch
    starts from the small-batch LR.
    """
    W = st.warmup_steps
    r = _length_range(st)
    length_ok = _length_ok(st)
    shape_problem = any(f.check in ("constant-warmup-gap", "gradual-warmup-start") for f in findings)
    if st.spec is not None and length_ok and not shape_problem:
        if W == 0 and st.spec.warmup is not None:  # a warmup that rounds to 0 steps is skipped: leave it out
            from .. import Spec

            return _with_fixes(str(Spec(None, st.spec.decay, st.spec.modifiers)), findings, st)
        return _with_fixes(str(st.spec), findings, st)
    if length_ok:
        text: str = st.warmup_text or str(W)
    elif r.target_text is not None:
        text = r.target_text
    else:
        if st.total_steps is None:
            assumptions.append("total steps unknown: pass --total-steps to get a suggested warmup length")
        else:
            assumptions.append(f"a {st.total_steps}-step run has no room for a warmup: no suggested spec")
        return None
    no_warmup = length_ok and W == 0  # accepted without one: RAdam's rectification is the warmup
    warm = None if no_warmup else _warmup_phase(st, text, assumptions)
    spec = st.spec
    if spec is not None and spec.decay[0].role == "whole":
        whole = spec.decay[0]
        if "warmup" in whole.params:  # noam(d_model, warmup): keep the schedule, change its warmup
            chain = type(whole)(**{**whole.given, "warmup": text}).to_text()
        else:
            assumptions.append(
                f"{whole.name} brings its own warmup; the suggested spec replaces it with {_DEFAULT_DECAY}"
            )
            chain = " -> ".join(x for x in (warm, _DEFAULT_DECAY) if x)
    else:
        if st.decay is None:
            assumptions.append(
                f"decay not given (--decay, a spec or a config): the suggested spec shows {_DEFAULT_DECAY}"
            )
        chain = " -> ".join(x for x in (warm, st.decay or _DEFAULT_DECAY) if x)
    mods = [m.to_text() for m in spec.modifiers] if spec is not None else []
    return _with_fixes(" | ".join([chain, *mods]), findings, st)


def _warmup_phase(st: Setup, length: str, assumptions: list[str]) -> str:
    """The user's warmup phase with a new length (keeping its other arguments), or a linear one.

    Which shapes keep their form is read off the registry: a registered warmup with
    a ``length`` argument (linear, cosine, poly, exponential, and any shape added
    later); ``constant`` becomes linear (its jump is the finding); a warmup without
    a length (``untuned_linear``: 2/(1-β2); ``piecewise``: its knots) becomes linear,
    and the assumptions say so.
    """
    from .. import WARMUPS

    w = st.spec.warmup if st.spec is not None else None
    keep = w is not None and w.name != "constant" and "length" in WARMUPS[w.name].params
    if w is not None and not keep and w.name != "constant":
        assumptions.append(
            f"the suggested spec replaces {w.to_text()} with a linear warmup of {length}: {w.name} takes no length"
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
    if w is not None and w.name == "constant" and "start_lr" in w.given:
        args["start_lr"] = w.given["start_lr"]
        args.pop("start", None)
    cls = WARMUPS[w.name] if keep and w is not None else WARMUPS["linear"]
    return cls(**args).to_text()


def _with_fixes(spec_text: str, findings: list[Finding], st: Setup) -> str:
    """Apply the spec fixes: drop a doubled radam factor, add a re-warmup after an optimizer reset, and give the
    phases that derive their length from β2 (untuned_linear, | untuned_exponential, | radam) the optimizer's β2."""
    from .. import Spec

    sp = Spec.parse(spec_text)
    if any(f.check == "untuned-beta2-mismatch" for f in findings) and st.beta2 is not None:
        r, b2 = _length_range(st), float(st.beta2)

        def tuned(p: Any) -> Any:
            if p is None or p.name not in ("untuned_linear", "untuned_exponential", "radam"):
                return p
            q = type(p)(**{**p.given, "beta2": b2})
            if p.name == "untuned_linear":  # its length is 2/(1-β2): the new β2 must give a length the checks accept
                n = max(1, round(2.0 / (1.0 - b2)))
                if not r.accepts(n, st.builtin_warmup):
                    from .. import WARMUPS

                    return WARMUPS["linear"](length=r.target_text) if r.target_text else None
            return q

        sp = Spec(tuned(sp.warmup), sp.decay, tuple(tuned(m) for m in sp.modifiers))
    if st.family == "radam":  # the radam-double-warmup fix, read off the setup: _recommend(st, [], []) needs it too
        sp = _without_modifier(sp, "radam")
    for f in findings:
        if f.check == "rewarm-after-reset" and f.suggestion:
            extra = Spec.parse(f.suggestion).modifiers[-1]
            sp = sp.with_modifier(extra)
    return str(sp)


# =========================================================================
# The entry point.
# =========================================================================


def advise(
    spec: Any = None,
    *,
    config: str | os.PathLike[str] | dict[str, Any] | None = None,
    **fields: Any,
) -> Advice:
    """Run every check on a training setup; returns the findings (a ``list[Finding]``) as an :class:`Advice`.

    ``spec``: a rampup spec (string, dict or :class:`rampup.Spec`); its warmup is read
    off the resolved schedule (so ``linear(2%)`` needs ``total_steps``).
    ``config``: a JSON/YAML file or dict (see :func:`read_config`).
    ``fields``: ``total_steps``, ``warmup`` (steps or a length like ``'2%'``), ``batch_size``,
    ``base_batch_size``, ``base_lr`` (the LR tuned at the base batch), ``optimizer``, ``beta2``,
    ``peak_lr``, ``model_params`` (``'125M'``), ``precision`` (fp32/bf16/fp16/fp8), ``parallelism``
    (ddp/fsdp/zero/pipeline/tensor), ``task`` (pretrain/finetune), ``norm`` (pre/post),
    ``weight_decay``, ``wd_mode`` (lr/independent: does the decay step follow the LR?),
    ``from_pretrained``, ``reset_optimizer_at``, ``steps_per_epoch``, ``tokens_per_step``,
    ``decay`` (the decay part of the spec, e.g. ``'cosine(floor=0.1)'``).

    A fact given by two inputs with different values raises ``ValueError``.

    >>> a = advise("constant(5%, start=0.01) -> cosine", total_steps=10_000, optimizer="sgd", task="pretrain")
    >>> [(f.check, f.severity) for f in a]
    [('constant-warmup-gap', 'warning')]
    >>> a.suggested_spec
    'linear(5%, start=0.01) -> cosine'
    """
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise TypeError(f"advise: unknown argument(s) {sorted(unknown)}; accepted: spec, config, {', '.join(_FIELDS)}")
    merged: dict[str, tuple[Any, str]] = {}
    assumptions: list[str] = []
    for k, v in fields.items():
        if k == "parallelism" and isinstance(v, (list, tuple)):
            v = ",".join(map(str, v))
        if k == "optimizer" and v is not None:
            v = normalize_optimizer(v)
        flag = _FLAG_NAMES.get(k, f"--{k.replace('_', '-')}")
        if k == "hf_scheduler" and v is not None:  # HF's scheduler name also gives the decay, as from a config
            v = str(v).strip().lower()
            decay = _hf_decay(v, None, flag, assumptions)
            if decay is not None:
                _merge(merged, "decay", decay, flag)
        _merge(merged, k, v, flag)
    if spec is not None:
        _merge(merged, "spec", spec, "spec")
    if config is not None:
        cfg, notes = read_config(config)
        assumptions += notes
        for k, (v, src) in cfg.items():
            if k == "spec" and "spec" in merged:
                if str(_parse_spec(v)) != str(_parse_spec(merged["spec"][0])):
                    raise ValueError(f"spec: {merged['spec'][1]} gives {merged['spec'][0]!r} but {src} gives {v!r}")
                continue
            _merge(merged, k, v, src)
    derive(merged, assumptions)  # epochs x steps per epoch, a config's warmup ratio, the global batch
    st = _build_setup(merged, assumptions)
    if st.task is None:
        assumptions.append("task not given (--task pretrain|finetune): the pretraining guidance is applied")
    if st.warmup_steps is None:
        assumptions.append("warmup not given (--warmup, a spec or a config): the length checks are skipped")
    if st.total_steps is None and st.warmup_steps is not None:
        assumptions.append("total steps unknown (--total-steps): the warmup fraction is not checked")
    findings: list[Finding] = []
    for check in CHECKS:
        check(st, findings)
    suggested = _recommend(st, findings, assumptions)
    from .. import Spec, parse

    for text in [suggested] + [f.suggestion for f in findings]:
        if text is not None:  # every suggestion is a valid spec, resolvable for this run when its length is known
            if st.total_steps is not None:
                parse(text, st.total_steps, st.peak_lr, st.steps_per_epoch)
            else:
                Spec.parse(text)
    return Advice(findings, st, suggested, list(dict.fromkeys(assumptions)))


def _parse_spec(v: Any) -> Any:
    from .. import Spec

    if isinstance(v, Spec):
        return v
    return Spec.parse(v) if isinstance(v, str) else Spec.from_dict(v)


# =========================================================================
# CLI: rampup advise.
# =========================================================================


def add_arguments(p: Any) -> None:
    p.add_argument("spec_arg", nargs="?", metavar="SPEC", default=None, help="a rampup spec (same as --spec)")
    p.add_argument("--spec", default=None, help="a rampup spec, e.g. 'linear(2%%) -> cosine'; its warmup is checked")
    p.add_argument("--config", default=None, help="JSON/YAML config (HF TrainingArguments, Lightning/Hydra YAML)")
    p.add_argument("--total-steps", default=None, help="optimizer steps in the run: 10000, '100k', '90ep' or '300Btok'")
    p.add_argument("--warmup", default=None, help="warmup length: steps (500) or '2%%', '1ep', '10Mtok'")
    p.add_argument("--epochs", default=None, help="epochs (num_train_epochs); x --steps-per-epoch gives the run length")
    p.add_argument("--steps-per-epoch", default=None, help="optimizer steps per epoch, for lengths in epochs")
    p.add_argument("--tokens-per-step", default=None, help="tokens per optimizer step, e.g. 524288 or '3.2M'")
    p.add_argument("--batch-size", default=None, help="global batch size (all devices, after accumulation)")
    p.add_argument("--micro-batch-size", default=None, help="per-device batch (per_device_train_batch_size)")
    p.add_argument("--grad-accum", default=None, help="gradient accumulation steps")
    p.add_argument("--world-size", default=None, help="data-parallel devices (micro x accum x world = global batch)")
    p.add_argument("--base-batch-size", default=None, help="batch size the base LR was tuned at")
    p.add_argument("--base-lr", default=None, help="LR tuned at the base batch size")
    p.add_argument("--peak-lr", default=None, help="peak learning rate of this run")
    p.add_argument("--optimizer", default=None, help=f"optimizer name ({', '.join(OPTIMIZERS)}; HF optim names too)")
    p.add_argument("--beta2", default=None, help="Adam's β2 (default: the optimizer's default, stated in the output)")
    p.add_argument("--weight-decay", default=None, help="weight decay λ")
    p.add_argument(
        "--wd-mode",
        default=None,
        choices=WD_MODES,
        help="lr: the decay step is multiplied by the current LR (torch AdamW); independent: it is not",
    )
    p.add_argument("--model-params", default=None, help="parameter count: 125000000, 125M, 1.3B")
    p.add_argument("--precision", default=None, help="fp32, bf16, fp16, fp8 (Lightning spellings accepted)")
    p.add_argument("--parallelism", default=None, help="comma list of: ddp, fsdp, zero, pipeline, tensor")
    p.add_argument("--task", default=None, help="pretrain or finetune")
    p.add_argument("--norm", default=None, help="Transformer layer norm position: post or pre")
    p.add_argument("--from-pretrained", action="store_true", default=None, help="weights are loaded from a checkpoint")
    p.add_argument("--reset-optimizer-at", default=None, help="step at which the optimizer state is reset")
    p.add_argument("--decay", default=None, help="the decay part for the suggested spec, e.g. 'cosine(floor=0.1)'")
    p.add_argument(
        "--lr-scheduler-type",
        dest="hf_scheduler",
        default=None,
        help="Hugging Face lr_scheduler_type (linear, cosine, constant, constant_with_warmup, ...)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")


_FLAG_NAMES = {"hf_scheduler": "--lr-scheduler-type"}

_FLAG_FIELDS = (
    "total_steps",
    "warmup",
    "epochs",
    "micro_batch_size",
    "grad_accum",
    "world_size",
    "hf_scheduler",
    "steps_per_epoch",
    "tokens_per_step",
    "batch_size",
    "base_batch_size",
    "base_lr",
    "peak_lr",
    "optimizer",
    "beta2",
    "weight_decay",
    "wd_mode",
    "model_params",
    "precision",
    "parallelism",
    "task",
    "norm",
    "from_pretrained",
    "reset_optimizer_at",
    "decay",
)


def run_cli(a: Any) -> int:
    """``rampup advise``: 0 = no error-level finding, 1 = at least one (usage and input errors: 2, via the CLI)."""
    if a.spec_arg is not None and a.spec is not None and a.spec_arg != a.spec:
        raise ValueError(f"spec: got {a.spec_arg!r} and --spec {a.spec!r}; give one")
    spec = a.spec if a.spec is not None else a.spec_arg
    fields = {k: getattr(a, k) for k in _FLAG_FIELDS if getattr(a, k) is not None}
    if spec is None and a.config is None and not fields:
        raise ValueError("advise: nothing to check; give a spec, --config FILE or flags such as --total-steps --warmup")
    result = advise(spec, config=a.config, **fields)
    if a.json:
        print(json.dumps({**result.to_dict(), "exit_code": int(result.has_errors)}, indent=2))
    else:
        print(result.text())
    return 1 if result.has_errors else 0
