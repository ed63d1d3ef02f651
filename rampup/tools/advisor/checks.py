"""The advisor's checks: each reads the :class:`~rampup.tools.advisor.model.Setup` and appends
:class:`~rampup.tools.advisor.model.Finding` s, with a severity, the reason and a citation.

Where to add a check: write ``def check_something(st: Setup, out: list[Finding]) -> None`` in this
module (its findings get a stable ``check`` name, a severity from ``SEVERITIES``, a reason and a
reference from :data:`~rampup.tools.advisor.model.REFERENCES`), and decorate it with ``@check``:
:func:`~rampup.tools.advisor.advise` runs every function in :data:`CHECKS`, in the order they are
defined.  A check that bounds the warmup length reads its bounds from
:func:`~rampup.tools.advisor.lengths.length_range` (so the suggested spec never contradicts it) and
its name goes into :data:`LENGTH_CHECKS`; a suggestion is built with
:func:`~rampup.tools.advisor.recommend.join_spec` or :func:`~rampup.tools.advisor.recommend.recommend`.
What a shape *is* (gradual, holding a level, β2-derived) comes from
:mod:`rampup.tools.advisor.shapes`, which reads the core's registries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ...scaling import scale_lr
from .lengths import (
    FP16_MIN,
    FT_HI,
    FT_LO,
    ONE_PCT,
    PRE_LO,
    PRE_WARN_LO,
    adam_floor,
    effective_warmup,
    length_range,
    pct,
)
from .model import REFERENCES, Finding, Setup, parse_spec
from .recommend import join_spec, kept_or_target, plus_modifier, recommend, without_modifier
from .shapes import (
    DEFAULT_WARMUP,
    RADAM_FACTOR,
    REWARM,
    UNTUNED_WARMUP,
    beta2_derived,
    holds_level,
    ramps_from_start,
)

__all__ = [
    "CHECKS",
    "LENGTH_CHECKS",
    "check",
    "check_adam",
    "check_batch",
    "check_constant",
    "check_finetune",
    "check_fraction",
    "check_length",
    "check_post_ln",
    "check_precision",
    "check_rewarm",
    "check_scale",
    "check_weight_decay",
]


CheckFn = Callable[[Setup, list[Finding]], None]
CHECKS: list[CheckFn] = []  # every check, in the order advise() runs them (the order they are defined below)


def check(fn: CheckFn) -> CheckFn:
    """Register ``fn(st, out)`` as an advisor check: :func:`~rampup.tools.advisor.advise` runs it on every setup."""
    CHECKS.append(fn)
    return fn


@check
def check_length(st: Setup, out: list[Finding]) -> None:
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


@check
def check_fraction(st: Setup, out: list[Finding]) -> None:
    T, W, E = st.total_steps, st.warmup_steps, effective_warmup(st)
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
    r = length_range(st)
    frac, efrac = W / T, E / T
    words = _warmup_words(st)
    if efrac < PRE_WARN_LO:
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "warning",
                f"{words} is {pct(efrac)} of the run ({E} of {T} steps), below 0.5%",
                "very short warmups produce early loss spikes, especially at large width; the recommended range for "
                "pretraining is 1-5% of the run",
                cite,
            )
        )
    elif efrac < PRE_LO:
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "info",
                f"{words} is {pct(efrac)} of the run ({E} of {T} steps), below the 1-5% range",
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
                f"warmup is {pct(frac)} of the run ({W} of {T} steps)",
                "beyond a few percent a longer warmup mostly spends the budget below the peak LR",
                f"{REFERENCES['kalra']}; {REFERENCES['kosson']}",
            )
        )
    elif r.top is not None and W > r.top:  # above 5 %, as '5%' resolves
        out.append(
            Finding(
                "pretrain-warmup-fraction",
                "info",
                f"warmup is {pct(frac)} of the run ({W} of {T} steps), above the 1-5% range",
                "longer than usual; fine if it is needed for stability (large batch, Post-LN), otherwise it costs "
                "updates at low LR",
                f"{REFERENCES['kalra']}; {REFERENCES['kosson']}",
            )
        )


@check
def check_finetune(st: Setup, out: list[Finding]) -> None:
    W = effective_warmup(st)
    if st.task != "finetune" or W is None:
        return
    top = length_range(st).top
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
    elif W < (FT_LO if top is None else min(FT_LO, top)):  # a 100-step run has no room for 50
        out.append(
            Finding(
                "finetune-warmup-steps",
                "info",
                f"fine-tuning warmup of {W} steps, below the usual 50-500",
                "short warmups are fine for tiny datasets; with more data, 50-500 steps (about 6% of the run) is usual",
                cite,
            )
        )
    elif W > FT_HI and (st.total_steps is None or W > 0.1 * st.total_steps):
        out.append(
            Finding(
                "finetune-warmup-steps",
                "info",
                f"fine-tuning warmup of {W} steps, above the usual 50-500",
                "long warmups spend much of a short fine-tuning run below the intended LR",
                cite,
            )
        )


@check
def check_post_ln(st: Setup, out: list[Finding]) -> None:
    W = effective_warmup(st)
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
        elif st.total_steps is not None and W / st.total_steps < ONE_PCT:
            out.append(
                Finding(
                    "post-ln-warmup",
                    "warning",
                    f"Post-LN Transformer with a short warmup ({W} steps, {pct(W / st.total_steps)} of the run)",
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


@check
def check_adam(st: Setup, out: list[Finding]) -> None:
    W = st.warmup_steps
    floor = adam_floor(st)
    r = length_range(st)
    if floor is not None and W is not None and W < floor:
        # The floor gives way where it does not fit the run (see length_range): then it is an info that says so.
        relaxed = r.relaxed.get("adam-beta2-warmup")
        why = (
            f"Adam's second-moment estimate averages over about 1/(1-β2) = {1 / (1 - st.beta2):g} steps "  # type: ignore[operator]
            f"and is unreliable before that; a linear warmup of 2/(1-β2) = {floor} steps is a good untuned default"
        )
        if relaxed:
            why += f"; here {relaxed}"
            fix = None
        else:  # the untuned warmup itself when it is in the recommended range, else the reconciled length
            fix = (
                join_spec(f"{UNTUNED_WARMUP}(beta2={st.beta2!r})", st) if r.recommends(floor) else recommend(st, [], [])
            )
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
                    suggestion=join_spec(None, st, extra_modifier=f"{RADAM_FACTOR}(beta2={st.beta2!r})"),
                )
            )
    if st.spec is not None:
        for m in st.spec.modifiers:
            if m.name == RADAM_FACTOR and st.family == "radam":
                out.append(
                    Finding(
                        "radam-double-warmup",
                        "warning",
                        "the spec has the RAdam warmup factor '| radam(...)' and the optimizer is RAdam",
                        "torch.optim.RAdam already applies r_t inside its update; the factor applies it a second time",
                        REFERENCES["radam"],
                        suggestion=str(
                            without_modifier(parse_spec(recommend(st, [], []) or str(st.spec)), RADAM_FACTOR)
                        ),
                    )
                )
        w = st.spec.warmup
        b2 = None
        if beta2_derived(w):  # phases whose length follows β2, read off the registry
            b2 = float(w.args["beta2"])
        for m in st.spec.modifiers:
            if beta2_derived(m):
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


@check
def check_batch(st: Setup, out: list[Finding]) -> None:
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
    if k >= 4 and effective_warmup(st) == 0:
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
    elif k >= 2 and ramps_from_start(st.warmup_shape) and (st.warmup_start or 0.0) == 0.0 and st.warmup_steps:
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


@check
def check_constant(st: Setup, out: list[Finding]) -> None:
    if not holds_level(st.warmup_shape) or not st.warmup_steps or st.warmup_start is None:
        return
    gap = 1.0 / st.warmup_start if st.warmup_start > 0 else math.inf
    sev = "warning" if gap >= 10 else "info"
    out.append(
        Finding(
            "constant-warmup-gap",
            sev,
            f"{st.warmup_shape} warmup at {st.warmup_start:g}x the peak, then a jump of {gap:.3g}x to the peak",
            "the sudden jump after a constant warmup causes a training-error spike that gets worse as the gap grows; "
            "a gradual (linear) warmup from the same start avoids it",
            f"{REFERENCES['goyal']}; {REFERENCES['he']}",
            suggestion=join_spec(f"{DEFAULT_WARMUP}({kept_or_target(st)}, start={st.warmup_start!r})", st),
        )
    )


@check
def check_scale(st: Setup, out: list[Finding]) -> None:
    if st.model_params is None or st.model_params < 1e9 or st.warmup_steps is None or st.total_steps is None:
        return
    if st.task != "finetune" and effective_warmup(st) / st.total_steps < ONE_PCT:  # type: ignore[operator]
        out.append(
            Finding(
                "model-size-warmup",
                "warning",
                f"{st.model_params / 1e9:g}B parameters with a warmup under 1% of the run",
                "larger models are more sensitive to the LR and benefit more from a longer warmup",
                REFERENCES["wortsman"],
            )
        )


@check
def check_precision(st: Setup, out: list[Finding]) -> None:
    if st.precision in ("fp16", "fp8"):
        E = effective_warmup(st)
        short = E is not None and E < FP16_MIN
        relaxed = length_range(st).relaxed.get("mixed-precision-warmup") if short else None
        why = (
            "dynamic loss scaling starts mis-scaled (torch GradScaler: 2^16) and skips overflowing updates while "
            f"the scheduler still advances; a warmup of {FP16_MIN}+ steps tolerates that (and the noisier early "
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


@check
def check_weight_decay(st: Setup, out: list[Finding]) -> None:
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


@check
def check_rewarm(st: Setup, out: list[Finding]) -> None:
    if st.from_pretrained and effective_warmup(st) == 0:
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
        has = st.spec is not None and any(m.name == REWARM and m.steps("at", _run(st)) == at for m in st.spec.modifiers)
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
                    suggestion=plus_modifier(recommend(st, [], []), f"{REWARM}(at={at}, length={length})"),
                )
            )


def _run(st: Setup) -> Any:
    from ...core.units import RunInfo

    return RunInfo(st.total_steps, st.steps_per_epoch)


LENGTH_CHECKS = (
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
