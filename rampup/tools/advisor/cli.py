"""``rampup advise``: the command line over :func:`rampup.tools.advisor.advise`."""

from __future__ import annotations

import json
from typing import Any

from .engine import advise
from .inputs import OPTIMIZERS, WD_MODES

__all__ = ["add_arguments", "run_cli"]


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
