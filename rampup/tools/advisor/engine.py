"""The entry point :func:`advise`: read every input into a :class:`Setup`, run :data:`CHECKS`, recommend a spec."""

from __future__ import annotations

import os
from typing import Any

from .checks import CHECKS
from .inputs import FIELDS, FLAG_NAMES, derive, hf_decay, merge_field, normalize_optimizer, read_config
from .model import Advice, Finding, build_setup, parse_spec
from .recommend import recommend

__all__ = ["advise"]


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
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"advise: unknown argument(s) {sorted(unknown)}; accepted: spec, config, {', '.join(FIELDS)}")
    merged: dict[str, tuple[Any, str]] = {}
    assumptions: list[str] = []
    for k, v in fields.items():
        if k == "parallelism" and isinstance(v, (list, tuple)):
            v = ",".join(map(str, v))
        if k == "optimizer" and v is not None:
            v = normalize_optimizer(v)
        flag = FLAG_NAMES.get(k, f"--{k.replace('_', '-')}")
        if k == "hf_scheduler" and v is not None:  # HF's scheduler name also gives the decay, as from a config
            v = str(v).strip().lower()
            decay = hf_decay(v, None, flag, assumptions)
            if decay is not None:
                merge_field(merged, "decay", decay, flag)
        merge_field(merged, k, v, flag)
    if spec is not None:
        merge_field(merged, "spec", spec, "spec")
    if config is not None:
        cfg, notes = read_config(config)
        assumptions += notes
        for k, (v, src) in cfg.items():
            if k == "spec" and "spec" in merged:
                if str(parse_spec(v)) != str(parse_spec(merged["spec"][0])):
                    raise ValueError(f"spec: {merged['spec'][1]} gives {merged['spec'][0]!r} but {src} gives {v!r}")
                continue
            merge_field(merged, k, v, src)
    derive(merged, assumptions)  # epochs x steps per epoch, a config's warmup ratio, the global batch
    st = build_setup(merged, assumptions)
    if st.task is None:
        assumptions.append("task not given (--task pretrain|finetune): the pretraining guidance is applied")
    if st.warmup_steps is None:
        assumptions.append("warmup not given (--warmup, a spec or a config): the length checks are skipped")
    if st.total_steps is None and st.warmup_steps is not None:
        assumptions.append("total steps unknown (--total-steps): the warmup fraction is not checked")
    findings: list[Finding] = []
    for check in CHECKS:
        check(st, findings)
    suggested = recommend(st, findings, assumptions)
    from ... import Spec, parse

    for text in [suggested] + [f.suggestion for f in findings]:
        if text is not None:  # every suggestion is a valid spec, resolvable for this run when its length is known
            if st.total_steps is not None:
                parse(text, st.total_steps, st.peak_lr, st.steps_per_epoch)
            else:
                Spec.parse(text)
    return Advice(findings, st, suggested, list(dict.fromkeys(assumptions)))
