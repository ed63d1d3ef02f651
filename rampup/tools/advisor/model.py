"""The run as the advisor sees it: :class:`Setup` (built from every input by :func:`build_setup`), and
what the advisor returns: :class:`Finding` and :class:`Advice`, with the :data:`REFERENCES` they cite."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from .inputs import (
    NORMS,
    OPTIMIZERS,
    PRECISION_ALIASES,
    PRECISIONS,
    TASKS,
    WD_MODES,
    as_bool,
    as_choice,
    as_count,
    as_float,
    as_int,
    as_model_params,
    as_parallelism,
    normalize_optimizer,
)
from .shapes import DEFAULT_WARMUP, modifier_warmup_steps

__all__ = ["REFERENCES", "SEVERITIES", "Advice", "Finding", "Setup", "build_setup", "parse_spec", "spec_warmup"]


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
    warmup_shape: str | None = None  # a registered warmup ('linear', 'constant', ...) or modifier ('radam'), ...
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


def build_setup(fields: dict[str, tuple[Any, str]], assumptions: list[str]) -> Setup:
    from ... import Spec, parse

    st = Setup()
    src = st.sources

    def get(key: str) -> Any:
        return fields[key][0] if key in fields else None

    def mark(key: str, name: str | None = None) -> None:
        if key in fields:
            src[name or key] = fields[key][1]

    if get("total_steps") is not None:
        st.total_steps = as_int("total_steps", get("total_steps"), 1)
        mark("total_steps")
    if get("steps_per_epoch") is not None:
        st.steps_per_epoch = as_count("steps_per_epoch", get("steps_per_epoch"), 1)
        mark("steps_per_epoch")
    tokens = as_count("tokens_per_step", get("tokens_per_step"), 1) if get("tokens_per_step") is not None else None
    if get("optimizer") is not None:
        st.optimizer = normalize_optimizer(get("optimizer"))
        st.family = OPTIMIZERS[st.optimizer][0]
        mark("optimizer")
    if get("beta2") is not None:
        st.beta2 = as_float("beta2", get("beta2"), 0.0, hi=1.0)
        mark("beta2")
    elif st.optimizer is not None and OPTIMIZERS[st.optimizer][1] is not None:
        st.beta2 = OPTIMIZERS[st.optimizer][1]
        src["beta2"] = "default"
        assumptions.append(f"beta2={st.beta2} ({OPTIMIZERS[st.optimizer][2]}); pass --beta2 if yours differs")
    for key in ("peak_lr", "base_lr"):
        if get(key) is not None:
            setattr(st, key, as_float(key, get(key)))
            mark(key)
    for key in ("batch_size", "base_batch_size"):
        if get(key) is not None:
            setattr(st, key, as_count(key, get(key), 1))
            mark(key)
    if get("model_params") is not None:
        st.model_params = as_model_params(get("model_params"))
        mark("model_params")
    if get("precision") is not None:
        st.precision = as_choice("precision", get("precision"), PRECISIONS, PRECISION_ALIASES)
        mark("precision")
    if get("parallelism") is not None:
        st.parallelism = as_parallelism(get("parallelism"))
        mark("parallelism")
    if get("task") is not None:
        st.task = as_choice(
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
        st.norm = as_choice(
            "norm", get("norm"), NORMS, {"post-ln": "post", "pre-ln": "pre", "post_ln": "post", "pre_ln": "pre"}
        )
        mark("norm")
    if get("weight_decay") is not None:
        st.weight_decay = as_float("weight_decay", get("weight_decay"), 0.0, lo_open=False)
        mark("weight_decay")
    if get("wd_mode") is not None:
        st.wd_mode = as_choice("wd_mode", get("wd_mode"), WD_MODES)
        mark("wd_mode")
    if get("from_pretrained") is not None:
        st.from_pretrained = as_bool("from_pretrained", get("from_pretrained"))
        mark("from_pretrained")
    if get("hf_scheduler") is not None:
        st.hf_scheduler = str(get("hf_scheduler")).lower()
        mark("hf_scheduler")
    if get("reset_optimizer_at") is not None:
        from ...core.units import Length, RunInfo

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
    from ...core.units import LengthRoundingWarning

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
        spec_warm, shape, start, text = spec_warmup(sched)
        st.warmup_shape, st.warmup_start = shape, start
        st.warmup_steps, st.warmup_text = spec_warm, text
        src["warmup_steps"] = fields["spec"][1]
        chain_decay = " -> ".join(p.to_text() for p in sp.decay)
        if sp.decay[0].role != "whole":
            if st.decay is not None and st.decay != chain_decay:
                raise ValueError(f"decay: {src['decay']} gives {st.decay!r} but the spec decays with {chain_decay!r}")
            st.decay = chain_decay
    if get("warmup") is not None:
        from ...core.units import Length, RunInfo

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
            st.warmup_shape = DEFAULT_WARMUP if steps > 0 else None
            st.warmup_start = 0.0 if steps > 0 else None
            src["warmup_steps"] = fields["warmup"][1]
            if steps > 0:  # a length alone says nothing about the shape: say what is checked
                assumptions.append(
                    f"warmup shape not given (a length only): a {DEFAULT_WARMUP} warmup from 0 is assumed"
                )
    if st.total_steps is None and st.spec is not None:
        sched_end = parse(st.spec, None, st.peak_lr, st.steps_per_epoch, tokens).end_step
        if sched_end != math.inf:
            st.total_steps = int(sched_end)
            src["total_steps"] = "spec"
    if st.family == "radam" and st.beta2 is not None:
        # RAdam's rectification r_t is a built-in warmup over about 2/(1-β2) steps (Ma & Yarats 2021)
        st.builtin_warmup = max(1, round(2.0 / (1.0 - st.beta2)))
    return st


def spec_warmup(sched: Any) -> tuple[int, str | None, float | None, str | None]:
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
    for m in sp.modifiers:  # modifier warmups (read off the registry): effective length 2τ (Ma & Yarats: 2/(1−β2))
        factor = modifier_warmup_steps(m, sched.run.total_steps)
        if factor is not None:
            return factor, m.name, None, None
    return 0, None, None, None


def parse_spec(v: Any) -> Any:
    from ... import Spec

    if isinstance(v, Spec):
        return v
    return Spec.parse(v) if isinstance(v, str) else Spec.from_dict(v)
