"""Inputs of ``rampup advise``: the vocabulary (optimizers, precisions, ...), value checks, and config files.

Every value is checked where it enters, and the error names the argument, the
value and what is accepted.  A fact given twice with different values (a flag
and a config field, ``warmup_ratio`` and ``warmup_steps``) is an error, never a
guess: :func:`merge_field` keeps each value with the place it came from.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

__all__ = [
    "ADAM_LIKE",
    "CONFIG_KEYS",
    "DEFAULT_DECAY",
    "FIELDS",
    "FLAG_NAMES",
    "NORMS",
    "OPTIMIZERS",
    "PARALLELISMS",
    "PRECISIONS",
    "PRECISION_ALIASES",
    "TASKS",
    "WD_MODES",
    "as_bool",
    "as_choice",
    "as_count",
    "as_float",
    "as_int",
    "as_model_params",
    "as_parallelism",
    "derive",
    "hf_decay",
    "merge_field",
    "normalize_optimizer",
    "read_config",
]

# canonical name -> (family, default β2 or None, what the default is)
OPTIMIZERS: dict[str, tuple[str, float | None, str]] = {
    "sgd": ("sgd", None, "SGD (with or without momentum/Nesterov)"),
    "adam": ("adam", 0.999, "torch.optim.Adam default"),
    "adamw": ("adam", 0.999, "torch.optim.AdamW default"),
    "nadam": ("adam", 0.999, "torch.optim.NAdam default"),
    "adamax": ("adam", 0.999, "torch.optim.Adamax default"),
    "lamb": ("adam", 0.999, "LAMB default (You et al.)"),
    "rmsprop": ("adam", 0.99, "torch.optim.RMSprop alpha default"),
    "radam": ("radam", 0.999, "torch.optim.RAdam default"),
    "adafactor": ("adafactor", None, "Adafactor (β2 follows its own schedule 1 − t^-0.8)"),
    "lion": ("lion", None, "Lion (sign update, no second-moment estimate)"),
    "adagrad": ("other", None, "Adagrad"),
    "schedule_free_adamw": ("schedule_free", 0.999, "schedulefree.AdamWScheduleFree default"),
    "schedule_free_sgd": ("schedule_free_sgd", None, "schedulefree.SGDScheduleFree"),
    "schedule_free_radam": ("schedule_free", 0.999, "schedulefree.RAdamScheduleFree default"),
}
ADAM_LIKE = ("adam", "schedule_free")

_OPT_ALIASES = {
    "adam_w": "adamw",
    "adamw_torch": "adamw",
    "adamw_torch_fused": "adamw",
    "adamw_torch_xla": "adamw",
    "adamw_torch_npu_fused": "adamw",
    "adamw_hf": "adamw",
    "adamw_apex_fused": "adamw",
    "adamw_anyprecision": "adamw",
    "adamw_torch_4bit": "adamw",
    "adamw_torch_8bit": "adamw",
    "adamw_bnb_8bit": "adamw",
    "adamw_8bit": "adamw",
    "paged_adamw_32bit": "adamw",
    "paged_adamw_8bit": "adamw",
    "stable_adamw": "adamw",
    "fusedadam": "adamw",
    "decoupledadamw": "adamw",
    "sgd_nesterov": "sgd",
    "nesterov": "sgd",
    "momentum": "sgd",
    "lion_32bit": "lion",
    "lion_8bit": "lion",
    "paged_lion_32bit": "lion",
    "paged_lion_8bit": "lion",
    "rmsprop_bnb": "rmsprop",
    "rmsprop_bnb_8bit": "rmsprop",
    "rmsprop_bnb_32bit": "rmsprop",
    "fusedlamb": "lamb",
    "adamwschedulefree": "schedule_free_adamw",
    "sgdschedulefree": "schedule_free_sgd",
    "radamschedulefree": "schedule_free_radam",
    "schedulefree_adamw": "schedule_free_adamw",
    "sf_adamw": "schedule_free_adamw",
    "sf_sgd": "schedule_free_sgd",
}

PRECISIONS = ("fp32", "bf16", "fp16", "fp8")
PRECISION_ALIASES = {
    "32": "fp32",
    "32-true": "fp32",
    "fp32": "fp32",
    "float32": "fp32",
    "tf32": "fp32",
    "no": "fp32",
    "64": "fp32",
    "64-true": "fp32",
    "double": "fp32",
    "16": "fp16",
    "16-mixed": "fp16",
    "16-true": "fp16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "bf16": "bf16",
    "bf16-mixed": "bf16",
    "bf16-true": "bf16",
    "bfloat16": "bf16",
    "fp8": "fp8",
    "transformer-engine": "fp8",
    "transformer-engine-float16": "fp8",
}
PARALLELISMS = ("none", "ddp", "fsdp", "zero", "pipeline", "tensor")
TASKS = ("pretrain", "finetune")
NORMS = ("pre", "post")
WD_MODES = ("lr", "independent")

# HF lr_scheduler_type -> rampup decay (after the warmup)
_HF_DECAY = {
    "linear": "linear",
    "cosine": "cosine",
    "constant": "constant",
    "constant_with_warmup": "constant",
    "polynomial": "poly",
    "inverse_sqrt": "invsqrt",
    "cosine_with_min_lr": "cosine",
    "cosine_warmup_with_min_lr": "cosine",
}
_HF_UNMAPPED = ("cosine_with_restarts", "reduce_lr_on_plateau", "warmup_stable_decay", "greedy")
DEFAULT_DECAY = "cosine(floor=0.1)"


# =========================================================================
# Input normalization: every value checked, named in the error.
# =========================================================================


def as_int(name: str, v: Any, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise TypeError(f"{name}: got {v!r}; accepted: an int >= {minimum}")
    try:
        f = float(v)
    except ValueError:
        raise ValueError(f"{name}: got {v!r}; accepted: an int >= {minimum}") from None
    if not (math.isfinite(f) and f.is_integer() and f >= minimum):
        raise ValueError(f"{name}: got {v!r}; accepted: an int >= {minimum}")
    return int(f)


def as_float(name: str, v: Any, lo: float = 0.0, lo_open: bool = True, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise TypeError(f"{name}: got {v!r}; accepted: a number {'>' if lo_open else '>='} {lo:g}")
    try:
        f = float(v)
    except ValueError:
        raise ValueError(f"{name}: got {v!r}; accepted: a number {'>' if lo_open else '>='} {lo:g}") from None
    ok = math.isfinite(f) and (f > lo if lo_open else f >= lo) and (hi is None or f < hi)
    if not ok:
        rng = f"in ({lo:g}, {hi:g})" if hi is not None else f"{'>' if lo_open else '>='} {lo:g}"
        raise ValueError(f"{name}: got {v!r}; accepted: a number {rng}")
    return f


def as_choice(name: str, v: Any, choices: tuple[str, ...], aliases: dict[str, str] | None = None) -> str:
    key = str(v).strip().lower()
    if aliases and key in aliases:
        return aliases[key]
    if key in choices:
        return key
    raise ValueError(f"{name}: got {v!r}; accepted: {', '.join(choices)}")


def as_bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return v.strip().lower() in ("true", "yes", "1")
    raise TypeError(f"{name}: got {v!r}; accepted: true or false")


def normalize_optimizer(name: Any) -> str:
    """Canonical optimizer name (``'adamw_torch_fused'`` → ``'adamw'``); unknown names list what is accepted.

    >>> normalize_optimizer("torch.optim.AdamW"), normalize_optimizer("adamw_bnb_8bit")
    ('adamw', 'adamw')
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"optimizer: got {name!r}; accepted: a name such as {', '.join(OPTIMIZERS)}")
    key = name.strip().split(".")[-1].lower().replace("-", "_")
    key = _OPT_ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        known = sorted(set(OPTIMIZERS) | set(_OPT_ALIASES))
        raise ValueError(f"optimizer: got {name!r}; accepted: {', '.join(known)}")
    return key


def as_count(name: str, v: Any, minimum: int = 1) -> int:
    """A whole count, written as the spec language writes token counts: ``524288``, ``'3.2M'``, ``'1.5k'``, ``'2B'``.

    The suffixes are the core's (:class:`rampup.core.units.Length`, the ``10Mtok`` form: k/K, M, B/G), read
    by the core's parser, not a second one.

    >>> as_count("tokens_per_step", "3.2M"), as_count("tokens_per_step", "524288"), as_count("model_params", "1.3B")
    (3200000, 524288, 1300000000)
    """
    from ...core.units import Length

    accepted = f"an int >= {minimum} or a count like '3.2M', '1.5k', '2B'"
    raw = v
    if isinstance(v, str):
        t = v.strip()
        for unit in ("tokens", "tok"):  # '3.2Mtok' is the same count
            if t.lower().endswith(unit):
                t = t[: -len(unit)]
                break
        try:
            v = Length.parse(f"{t}tok", name).value
        except (ValueError, TypeError):
            raise ValueError(f"{name}: got {raw!r}; accepted: {accepted}") from None
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(f"{name}: got {raw!r}, not a whole number; accepted: {accepted}")
    return as_int(name, v, minimum)


def as_model_params(v: Any) -> float:
    return float(as_count("model_params", v, 1))


def as_parallelism(v: Any) -> tuple[str, ...]:
    items = v.split(",") if isinstance(v, str) else list(v) if isinstance(v, (list, tuple)) else [v]
    out = []
    for it in items:
        p = as_choice("parallelism", it, PARALLELISMS, {"deepspeed": "zero", "pp": "pipeline", "tp": "tensor"})
        if p != "none" and p not in out:
            out.append(p)
    return tuple(out)


FIELDS = (
    "total_steps",
    "warmup",
    "spec",
    "batch_size",
    "base_batch_size",
    "base_lr",
    "optimizer",
    "beta2",
    "peak_lr",
    "model_params",
    "precision",
    "parallelism",
    "task",
    "norm",
    "weight_decay",
    "wd_mode",
    "from_pretrained",
    "reset_optimizer_at",
    "steps_per_epoch",
    "tokens_per_step",
    "decay",
    "hf_scheduler",
    "epochs",
    "micro_batch_size",
    "grad_accum",
    "world_size",
)


def merge_field(into: dict[str, tuple[Any, str]], key: str, value: Any, source: str) -> None:
    """Record ``key=value`` from ``source``; the same fact given twice with different values is an error."""
    if value is None:
        return
    if key in into:
        old, where = into[key]
        if not _same(old, value):
            raise ValueError(
                f"{key}: {where} gives {old!r} but {source} gives {value!r}; give one value (or make them agree)"
            )
        return
    into[key] = (value, source)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) != isinstance(b, str):  # a flag's '2000' and a config's 2000 are the same fact
        try:
            a, b = (float(a), float(b))
        except (TypeError, ValueError):
            return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return bool(a == b)


# =========================================================================
# Config files: JSON / YAML, Hugging Face TrainingArguments, Lightning/Hydra.
# =========================================================================

# leaf key (lower case) -> target.  Nested configs are flattened; the leaf name decides.
CONFIG_KEYS: dict[str, str] = {
    "max_steps": "total_steps",
    "total_steps": "total_steps",
    "num_training_steps": "total_steps",
    "train_steps": "total_steps",
    "training_steps": "total_steps",
    "max_iters": "total_steps",
    "train_iters": "total_steps",  # Megatron / GPT-NeoX (train-iters)
    "lr_warmup_iters": "warmup_steps",
    "lr_warmup_fraction": "warmup_ratio",
    "num_train_epochs": "epochs",
    "num_epochs": "epochs",  # axolotl
    "n_epochs": "epochs",
    "max_epochs": "epochs",
    "epochs": "epochs",
    "steps_per_epoch": "steps_per_epoch",
    "warmup_steps": "warmup_steps",
    "num_warmup_steps": "warmup_steps",
    "warmup_iters": "warmup_steps",
    "lr_warmup_steps": "warmup_steps",
    "warmup": "warmup_steps",
    "warmup_ratio": "warmup_ratio",
    "warmup_proportion": "warmup_ratio",
    "warmup_fraction": "warmup_ratio",
    "per_device_train_batch_size": "micro_batch",
    "micro_batch_size": "micro_batch",
    "train_micro_batch_size_per_gpu": "micro_batch",
    "batch_size": "micro_batch",
    "global_batch_size": "batch_size",
    "total_batch_size": "batch_size",
    "effective_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "accumulate_grad_batches": "grad_accum",
    "world_size": "world_size",
    "devices": "devices",
    "num_nodes": "num_nodes",
    "base_batch_size": "base_batch_size",
    "base_lr": "base_lr",
    "reference_lr": "base_lr",
    "learning_rate": "peak_lr",
    "lr": "peak_lr",
    "peak_lr": "peak_lr",
    "max_lr": "peak_lr",
    "optim": "optimizer",
    "optimizer": "optimizer",
    "optimizer_name": "optimizer",
    "adam_beta2": "beta2",
    "beta2": "beta2",
    "betas": "betas",
    "weight_decay": "weight_decay",
    "bf16": "bf16",
    "fp16": "fp16",
    "precision": "precision",
    "mixed_precision": "precision",
    "lr_scheduler_type": "hf_scheduler",
    "lr_scheduler_kwargs": "hf_scheduler_kwargs",
    "strategy": "strategy",
    "fsdp": "fsdp",
    "deepspeed": "deepspeed",
    "pipeline_model_parallel_size": "pipeline",
    "pipeline_parallel_size": "pipeline",
    "model_params": "model_params",
    "num_parameters": "model_params",
    "n_params": "model_params",
    "norm": "norm",
    "norm_position": "norm",
    "layer_norm_position": "norm",
    "norm_first": "norm_first",
    "pre_norm": "norm_first",
    "prenorm": "norm_first",
    "task": "task",
    "model_name_or_path": "pretrained",
    "base_model": "pretrained",  # axolotl
    "base_model_name_or_path": "pretrained",
    "pretrained_model": "pretrained",
    "pretrained_model_path": "pretrained",
    "init_checkpoint": "pretrained",  # BERT's run_classifier
    "pretrained_checkpoint": "pretrained",
    "pretrained_path": "pretrained",
    "pretrained_weights": "pretrained",
    "from_pretrained": "from_pretrained",
    "finetune": "finetune_flag",
    "fine_tune": "finetune_flag",
    "stage": "stage",
    "finetuning_type": "adapter",  # LLaMA-Factory: lora / freeze / full, all on loaded weights
    "adapter": "adapter",  # axolotl: lora / qlora
    "lr_scheduler": "lr_scheduler_name",
    "tokens_per_step": "tokens_per_step",
    "tokens_per_batch": "tokens_per_step",
    "wd_mode": "wd_mode",
    "reset_optimizer_at": "reset_optimizer_at",
    "pretrained_model_name_or_path": "pretrained",
    "init_from": "init_from",
    "rampup": "spec",
    "rampup_spec": "spec",
    "lr_schedule_spec": "spec",
}


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and str(k).lower() not in ("lr_scheduler_kwargs", "deepspeed"):
                out += _flatten(v, path)
            else:
                out.append((path, v))
    return out


def read_config(path_or_data: str | os.PathLike[str] | dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Read a training config (JSON/YAML file or a dict) into :func:`advise` keyword arguments.

    Recognized: Hugging Face ``TrainingArguments`` JSON (``warmup_steps`` — a float
    below 1 is a ratio, as in transformers ≥ 5 —, ``warmup_ratio``, ``max_steps``,
    ``num_train_epochs``, ``per_device_train_batch_size``,
    ``gradient_accumulation_steps``, ``learning_rate``, ``lr_scheduler_type``,
    ``adam_beta2``, ``weight_decay``, ``bf16``/``fp16``, ``optim``) and
    Lightning/Hydra-style YAML (nested; the leaf name decides: ``trainer.max_steps``,
    ``trainer.precision``, ``trainer.strategy``, ``optimizer._target_``,
    ``optimizer.lr``, ``optimizer.betas``, ...).  Returns ``(kwargs, assumptions)``
    — ``kwargs[k] = (value, source)`` — with a ``ValueError`` when the file sets one
    fact twice with different values (e.g. ``warmup_ratio`` and ``warmup_steps``
    that disagree).

    >>> kw, _ = read_config({"max_steps": 1000, "warmup_ratio": 0.05, "optim": "adamw_torch"})
    >>> kw["total_steps"], kw["warmup"], kw["optimizer"]
    ((1000, 'config: max_steps'), (50, 'config: warmup_ratio=0.05 x total steps'), ('adamw', 'config: optim'))
    """
    if isinstance(path_or_data, dict):
        data: Any = path_or_data
        label = "config"
    else:
        path = os.fspath(path_or_data)
        label = f"config {os.path.basename(path)}"
        data = _load_file(path)
    if not isinstance(data, dict):
        raise ValueError(f"config: got a {type(data).__name__} at the top level; accepted: a mapping of settings")
    raw: dict[str, tuple[Any, str]] = {}
    for p, v in _flatten(data):
        leaf = p.split(".")[-1].lower().replace("-", "_")  # GPT-NeoX spells keys with hyphens
        target = CONFIG_KEYS.get(leaf)
        if leaf in ("_target_", "type", "name") and p.lower().split(".")[-2:-1] in (["optimizer"], ["optim"]):
            target = "optimizer"  # Hydra optimizer._target_, GPT-NeoX optimizer.type
        if leaf == "enabled" and p.lower().split(".")[-2:-1] in (["fp16"], ["bf16"]):
            target = p.lower().split(".")[-2]  # DeepSpeed / GPT-NeoX: fp16: {enabled: true}
        if target is None or v is None:
            continue
        merge_field(raw, target, v, f"{label}: {p}")
    if not raw:
        raise ValueError(
            f"{label}: no recognizable training setting; accepted keys include max_steps, warmup_steps, "
            "warmup_ratio, learning_rate, optim, per_device_train_batch_size (HF) or trainer.max_steps, "
            "optimizer.lr, trainer.precision (Lightning/Hydra)"
        )
    return _interpret(raw)


def _load_file(path: str) -> Any:
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".json", ".yaml", ".yml"):
        raise ValueError(f"config: {path!r} has extension {ext!r}; accepted: .json, .yaml, .yml")
    if not os.path.exists(path):
        raise ValueError(f"config: {path!r} does not exist; accepted: a JSON or YAML file")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if ext == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"config: {path!r} is not valid JSON ({e})") from None
    if ext in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as e:  # pragma: no cover - pyyaml is in the dev extras
            raise ImportError("config: reading YAML needs PyYAML: pip install pyyaml") from e
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"config: {path!r} is not valid YAML ({e})") from None
    raise ValueError(f"config: {path!r} has extension {ext!r}; accepted: .json, .yaml, .yml")


def _interpret(raw: dict[str, tuple[Any, str]]) -> tuple[dict[str, Any], list[str]]:
    kw: dict[str, tuple[Any, str]] = {}
    notes: list[str] = []

    def take(key: str) -> tuple[Any, str] | None:
        return raw.get(key)

    def put(key: str, value: Any, src: str) -> None:
        merge_field(kw, key, value, src)

    for key in (
        "steps_per_epoch",
        "tokens_per_step",
        "base_batch_size",
        "base_lr",
        "weight_decay",
        "wd_mode",
        "reset_optimizer_at",
        "model_params",
        "task",
        "spec",
    ):
        if (t := take(key)) is not None:
            put(key, t[0], t[1])
    if (t := take("peak_lr")) is not None:
        put("peak_lr", t[0], t[1])
    if (t := take("optimizer")) is not None:
        if not isinstance(t[0], str):
            raise TypeError(f"{t[1]}: got {t[0]!r}; accepted: an optimizer name such as adamw or sgd")
        put("optimizer", normalize_optimizer(t[0]), t[1])
    if (t := take("beta2")) is not None:
        put("beta2", t[0], t[1])
    if (t := take("betas")) is not None:
        if not (isinstance(t[0], (list, tuple)) and len(t[0]) == 2):
            raise ValueError(f"{t[1]}: got {t[0]!r}; accepted: [beta1, beta2]")
        put("beta2", t[0][1], t[1])

    # Total steps: max_steps (HF/Lightning: -1 or 0 = unset) wins over epochs, as in both trainers.  Epochs are
    # combined with steps_per_epoch in derive(), once flags and config are merged (--steps-per-epoch + an HF JSON).
    total = take("total_steps")
    if total is not None and isinstance(total[0], (int, float)) and not isinstance(total[0], bool) and total[0] <= 0:
        total = None
    if total is not None:
        put("total_steps", as_int(total[1], total[0], 1), total[1])
    if (ep := take("epochs")) is not None:
        put("epochs", ep[0], ep[1])

    # Warmup: HF warmup_steps (a float < 1 is a ratio, transformers >= 5) and warmup_ratio (older versions).
    # 0 is both fields' default, so 0 in one of them means "unset" when the other is set.
    ws, wr = take("warmup_steps"), take("warmup_ratio")
    steps: tuple[int, str] | None = None
    ratio: tuple[float, str] | None = None
    if ws is not None:
        if isinstance(ws[0], str):
            if wr is not None and as_float(wr[1], wr[0], 0.0, lo_open=False, hi=1.0) > 0:
                raise ValueError(f"warmup: {ws[1]}={ws[0]!r} and {wr[1]}={wr[0]!r} are both set; give one of them")
            put("warmup", ws[0], ws[1])  # a length string such as '2%'
        else:
            f = as_float(ws[1], ws[0], 0.0, lo_open=False)
            if 0 < f < 1:
                ratio = (f, ws[1])
            else:
                steps = (as_int(ws[1], f), ws[1])
    if wr is not None:
        r = as_float(wr[1], wr[0], 0.0, lo_open=False, hi=1.0)
        if ratio is not None and r > 0 and not _same(r, ratio[0]):
            raise ValueError(f"warmup: {ratio[1]}={ratio[0]!r} (a ratio) and {wr[1]}={r!r} disagree; give one of them")
        if ratio is None:
            ratio = (r, wr[1])
    if steps is not None and ratio is not None and steps[0] > 0 and ratio[0] > 0:
        put("warmup", steps[0], steps[1])
        put("_warmup_ratio", ratio[0], ratio[1])  # derive() checks that they agree once the run length is known
        if "total_steps" in kw:
            derive(kw, notes)
    elif steps is not None and (steps[0] > 0 or ratio is None or ratio[0] == 0):
        put("warmup", steps[0], steps[1])
    elif ratio is not None:
        if ratio[0] == 0:
            put("warmup", 0, ratio[1])
        else:
            put("_warmup_ratio", ratio[0], ratio[1])  # resolved as transformers does, ceil(T * ratio), in derive()
            if "total_steps" in kw:  # known here: resolve now, so read_config's result is complete
                derive(kw, notes)

    # Batch: global = per-device x accumulation x devices, combined in derive() (--world-size + an HF JSON).
    if (t := take("batch_size")) is not None:
        put("batch_size", as_int(t[1], t[0], 1), t[1])
    elif (mb := take("micro_batch")) is not None:
        world = _world_size(raw)
        if world is None:  # the parts, for derive() to combine with --world-size (an HF JSON has no world size)
            put("micro_batch_size", as_int(mb[1], mb[0], 1), mb[1])
            if (ga := take("grad_accum")) is not None:
                put("grad_accum", as_int(ga[1], ga[0], 1), ga[1])
        else:
            b = as_int(mb[1], mb[0], 1)
            srcs = [mb[1]]
            if (ga := take("grad_accum")) is not None:
                b *= as_int(ga[1], ga[0], 1)
                srcs.append(ga[1].split(": ")[-1])
            b *= world[0]
            srcs.append(world[1].split(": ")[-1])
            put("batch_size", b, " x ".join(srcs))

    # Precision.
    bf, fp = take("bf16"), take("fp16")
    if bf is not None and fp is not None and as_bool(bf[1], bf[0]) and as_bool(fp[1], fp[0]):
        raise ValueError(f"precision: {bf[1]}=true and {fp[1]}=true; accepted: at most one of bf16 / fp16")
    if bf is not None and as_bool(bf[1], bf[0]):
        put("precision", "bf16", bf[1])
    if fp is not None and as_bool(fp[1], fp[0]):
        put("precision", "fp16", fp[1])
    if (t := take("precision")) is not None:
        put("precision", as_choice(t[1], t[0], PRECISIONS, PRECISION_ALIASES), t[1])

    # Parallelism.
    par: list[str] = []
    srcs = []
    if (t := take("strategy")) is not None and isinstance(t[0], str):
        s = t[0].lower()
        for key, val in (("fsdp", "fsdp"), ("deepspeed", "zero"), ("ddp", "ddp")):
            if key in s:
                par.append(val)
                srcs.append(t[1])
                break
    if (t := take("fsdp")) is not None and t[0] not in ("", False, [], None):
        par.append("fsdp")
        srcs.append(t[1])
    if (t := take("deepspeed")) is not None and t[0] not in ("", False, None):
        par.append("zero")
        srcs.append(t[1])
    if (t := take("pipeline")) is not None and as_int(t[1], t[0], 1) > 1:
        par.append("pipeline")
        srcs.append(t[1])
    if par:
        put("parallelism", ",".join(dict.fromkeys(par)), ", ".join(dict.fromkeys(srcs)))

    # Architecture: Post-LN / Pre-LN.
    if (t := take("norm")) is not None:
        put(
            "norm",
            as_choice(t[1], t[0], NORMS, {"post_ln": "post", "pre_ln": "pre", "postln": "post", "preln": "pre"}),
            t[1],
        )
    if (t := take("norm_first")) is not None:
        put("norm", "pre" if as_bool(t[1], t[0]) else "post", t[1])

    # Scheduler type (HF).
    if (t := take("hf_scheduler")) is not None:
        put("hf_scheduler", str(t[0]).lower(), t[1])
        kwargs = take("hf_scheduler_kwargs")
        decay = hf_decay(str(t[0]).lower(), kwargs[0] if kwargs else None, t[1], notes)
        if decay is not None:
            put("decay", decay, t[1])

    # Fine-tuning hints: loaded weights.
    if (t := take("pretrained")) is not None and t[0]:
        put("from_pretrained", True, t[1])
        notes.append(f"{t[1]}={t[0]!r}: weights are loaded from a checkpoint")
    if (t := take("init_from")) is not None and isinstance(t[0], str) and t[0].lower() not in ("scratch", ""):
        put("from_pretrained", True, t[1])
    if (t := take("from_pretrained")) is not None:
        put("from_pretrained", as_bool(t[1], t[0]), t[1])
    if (t := take("finetune_flag")) is not None and t[0] is True:
        put("task", "finetune", t[1])  # Megatron's --finetune, a 'finetune: true' key
    if (t := take("stage")) is not None and isinstance(t[0], str):
        stage = t[0].strip().lower()  # LLaMA-Factory: pt = pretraining; sft, rm, ppo, dpo, kto = fine-tuning
        if stage in ("pt", "pretrain", "pretraining"):
            put("task", "pretrain", t[1])
        elif stage in ("sft", "rm", "ppo", "dpo", "kto", "orpo", "simpo", "finetune", "fine-tune"):
            put("task", "finetune", t[1])
    if (t := take("adapter")) is not None and t[0] not in ("", None, False):
        put("from_pretrained", True, t[1])  # a LoRA/QLoRA adapter is trained on loaded weights
        notes.append(f"{t[1]}={t[0]!r}: an adapter on loaded weights, so fine-tuning")
    if (t := take("lr_scheduler_name")) is not None and isinstance(t[0], str):
        name = t[0].strip().lower()
        if name in _HF_DECAY or name in _HF_UNMAPPED:  # axolotl & co. take HF's scheduler names
            put("hf_scheduler", name, t[1])
            decay = hf_decay(name, None, t[1], notes)
            if decay is not None:
                put("decay", decay, t[1])
        else:
            notes.append(f"{t[1]}={t[0]!r} is not a Hugging Face scheduler name: not read (pass --decay)")
    return {k: v for k, v in kw.items()}, notes


def derive(m: dict[str, tuple[Any, str]], notes: list[str]) -> None:
    """Combine the facts that come in parts, once flags and config files are merged (in place).

    * run length: ``--total-steps`` in steps, epochs (``90ep``, needs steps per epoch) or tokens
      (``1.2Btok``, needs tokens per step), read by the core's :class:`~rampup.core.units.Length`;
      else ``epochs x steps_per_epoch`` rounded up, as transformers does (``num_train_epochs`` of an
      HF JSON with ``--steps-per-epoch``);
    * a config's warmup ratio: ``ceil(total_steps x ratio)``, as transformers does;
    * the global batch: ``micro_batch_size x grad_accum x world_size``.

    >>> m = {"epochs": (3.0, "config: num_train_epochs"), "steps_per_epoch": ("1.2k", "--steps-per-epoch"),
    ...      "_warmup_ratio": (0.06, "config: warmup_steps")}
    >>> derive(m, []); m["total_steps"], m["warmup"]
    ((3600, 'config: num_train_epochs x --steps-per-epoch'), (216, 'config: warmup_steps=0.06 x total steps'))
    """
    from ...core.units import Length, RunInfo

    for key in ("steps_per_epoch", "tokens_per_step", "micro_batch_size", "grad_accum", "world_size", "batch_size"):
        if key in m:
            m[key] = (as_count(key, m[key][0]), m[key][1])
    spe = m["steps_per_epoch"][0] if "steps_per_epoch" in m else None
    tps = m["tokens_per_step"][0] if "tokens_per_step" in m else None
    if "total_steps" in m:
        v, src = m["total_steps"]
        accepted = (
            "steps (10000, '100k'), epochs ('90ep', with --steps-per-epoch) or tokens ('300Btok', with "
            "--tokens-per-step)"
        )
        if isinstance(v, str) and v.strip().endswith("%"):
            raise ValueError(
                f"total_steps: got {v!r}; a run length cannot be a fraction of itself; accepted: {accepted}"
            )
        try:
            ln = Length.parse(v.strip(), "total_steps") if isinstance(v, str) else None
        except ValueError:
            ln = None  # not a length: maybe a count such as '100k'
        try:
            n = ln.to_steps(RunInfo(None, spe, tps), "total_steps") if ln is not None else as_count("total_steps", v)
        except ValueError as e:
            if ln is not None:
                raise
            raise ValueError(f"total_steps: got {v!r}; accepted: {accepted}") from e
        m["total_steps"] = (as_int("total_steps", n, 1), src)
    if "epochs" in m:
        ep, ep_src = m["epochs"]
        epochs = as_float(ep_src, ep)
        if "total_steps" in m:
            n, n_src = m["total_steps"]
            if spe is not None and math.ceil(epochs * spe) != n:
                notes.append(
                    f"{ep_src}={ep!r} is not used: {n_src} sets the run length ({n} steps), as max_steps does in "
                    "the Hugging Face and Lightning trainers"
                )
        elif spe is not None:  # transformers: max_steps = ceil(num_train_epochs * num_update_steps_per_epoch)
            m["total_steps"] = (math.ceil(epochs * spe), f"{ep_src} x {m['steps_per_epoch'][1]}")
        else:
            notes.append(f"{ep_src}={ep!r} but steps_per_epoch is unknown: pass --steps-per-epoch or --total-steps")
    if "_warmup_ratio" in m:
        r, r_src = m.pop("_warmup_ratio")
        n_total = m["total_steps"][0] if "total_steps" in m else None
        if "warmup" in m:  # both a step count and a ratio were set: they must agree
            steps, s_src = m["warmup"]
            implied = math.ceil(n_total * r) if n_total is not None else None
            if implied != steps:
                what = f" = {implied} of {n_total} steps" if implied is not None else " (run length unknown)"
                raise ValueError(
                    f"warmup: {s_src}={steps} and {r_src}={r!r}{what} disagree (Hugging Face silently "
                    "uses warmup_steps); set only one of them"
                )
        elif n_total is not None:
            m["warmup"] = (math.ceil(n_total * r), f"{r_src}={r!r} x total steps")  # transformers: ceil(T * ratio)
        else:  # a ratio of an unknown run is no length at all: say so instead of failing on '6%' later
            notes.append(f"{r_src}={r!r} is a ratio of the run: pass --steps-per-epoch or --total-steps to check it")
    parts = [k for k in ("micro_batch_size", "grad_accum", "world_size") if k in m]
    if "micro_batch_size" in m:
        b = math.prod(m[k][0] for k in parts)
        srcs = " x ".join(m[k][1] if i == 0 else m[k][1].split(": ")[-1] for i, k in enumerate(parts))
        if "batch_size" not in m:
            if "world_size" not in m:
                notes.append(
                    "world size unknown: the global batch assumes 1 device (pass --world-size, or --batch-size for "
                    "the global batch)"
                )
            m["batch_size"] = (b, srcs)
        elif "world_size" in m and b != m["batch_size"][0]:
            raise ValueError(
                f"batch_size: {m['batch_size'][1]} gives {m['batch_size'][0]} but {srcs} = {b}; give one value "
                "(or make them agree)"
            )


def _world_size(raw: dict[str, tuple[Any, str]]) -> tuple[int, str] | None:
    if (t := raw.get("world_size")) is not None:
        return as_int(t[1], t[0], 1), t[1]
    dev = raw.get("devices")
    if dev is None:
        return None
    v = dev[0]
    if isinstance(v, list):
        n = len(v)
    elif isinstance(v, (int, str)) and str(v).strip().lstrip("-").isdigit() and int(v) > 0:
        n = int(v)
    else:
        return None  # 'auto' / -1: depends on the machine
    nodes = raw.get("num_nodes")
    if nodes is not None:
        return n * as_int(nodes[1], nodes[0], 1), f"{dev[1]} x {nodes[1]}"
    return n, dev[1]


def hf_decay(name: str, kwargs: Any, src: str, notes: list[str]) -> str | None:
    if name in _HF_DECAY:
        decay = _HF_DECAY[name]
        if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr") and isinstance(kwargs, dict):
            if kwargs.get("min_lr_rate") is not None:
                decay = f"cosine(floor={float(kwargs['min_lr_rate'])!r})"
            elif kwargs.get("min_lr") is not None:
                decay = f"cosine(floor_lr={float(kwargs['min_lr'])!r})"
        if name == "polynomial" and isinstance(kwargs, dict) and kwargs.get("power") is not None:
            decay = f"poly(power={float(kwargs['power'])!r})"
        return decay
    if name in _HF_UNMAPPED:
        notes.append(f"{src}={name!r} is not mapped to a rampup decay; the suggested spec shows {DEFAULT_DECAY}")
        return None
    raise ValueError(f"{src}: got {name!r}; accepted: {', '.join(list(_HF_DECAY) + list(_HF_UNMAPPED))}")


# A keyword argument's name as the CLI flag that gives it (the provenance in messages).
FLAG_NAMES = {"hf_scheduler": "--lr-scheduler-type"}
