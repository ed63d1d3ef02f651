"""tools/advisor/inputs.py and model.py: flags, specs and config files agree or fail loudly; units, configs of
real tools, fine-tuning detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rampup.cli import main
from rampup.tools.advisor import advise, normalize_optimizer, read_config
from tests.tools.advisor.helpers import DATA, checks

# ---------------------------------------------------------------------------------------------
# Inputs: config files, contradictions, unknown values
# ---------------------------------------------------------------------------------------------


def test_hugging_face_training_arguments_json() -> None:
    # data/hf_training_args.json is TrainingArguments(...).to_json_string() from transformers 5.24 (output_dir
    # shortened), with max_steps=2000, warmup_steps=0.05 (a ratio), batch 8 x accumulation 4, cosine, adam_beta2 0.98.
    a = advise(config=str(DATA / "hf_training_args.json"), task="finetune")
    s = a.setup
    assert (s.total_steps, s.warmup_steps, s.batch_size) == (2000, 100, 32)  # ceil(2000 x 0.05); 8 x 4 x 1 device
    assert (s.optimizer, s.beta2, s.peak_lr, s.weight_decay) == ("adamw", 0.98, 2e-5, 0.01)
    assert s.decay == "cosine" and s.hf_scheduler == "cosine"
    assert s.sources["warmup_steps"] == "config hf_training_args.json: warmup_steps=0.05 x total steps"
    assert any("world size unknown" in x for x in a.assumptions)
    assert checks(a) == {"weight-decay-warmup": "info"}
    assert a.suggested_spec == "linear(100) -> cosine"


def test_old_hf_warmup_ratio_and_steps_must_agree() -> None:
    base = {"max_steps": 1000, "optim": "sgd"}
    assert advise(config={**base, "warmup_ratio": 0.1, "warmup_steps": 0}).setup.warmup_steps == 100
    assert advise(config={**base, "warmup_ratio": 0.0, "warmup_steps": 30}).setup.warmup_steps == 30
    assert advise(config={**base, "warmup_ratio": 0.1, "warmup_steps": 100}).setup.warmup_steps == 100
    with pytest.raises(ValueError) as e:
        advise(config={**base, "warmup_ratio": 0.05, "warmup_steps": 100})
    assert str(e.value) == (
        "warmup: config: warmup_steps=100 and config: warmup_ratio=0.05 = 50 of 1000 steps disagree "
        "(Hugging Face silently uses warmup_steps); set only one of them"
    )


def test_lightning_hydra_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        """
trainer:
  max_steps: 50000
  precision: 16-mixed
  strategy: fsdp
  devices: 4
  accumulate_grad_batches: 2
model:
  norm_first: false
  optimizer:
    _target_: torch.optim.AdamW
    lr: 3.0e-4
    betas: [0.9, 0.95]
    weight_decay: 0.1
  scheduler:
    warmup_steps: 100
data:
  batch_size: 32
"""
    )
    a = advise(config=str(path), task="pretrain")
    s = a.setup
    assert (s.total_steps, s.warmup_steps, s.batch_size, s.optimizer, s.beta2) == (50000, 100, 256, "adamw", 0.95)
    assert (s.precision, s.parallelism, s.norm, s.peak_lr) == ("fp16", ("fsdp",), "post", 3e-4)
    assert s.sources["batch_size"] == (
        "config config.yaml: data.batch_size x trainer.accumulate_grad_batches x trainer.devices"
    )
    assert checks(a) == {
        "pretrain-warmup-fraction": "warning",  # 0.2%
        "post-ln-warmup": "warning",
        "distributed-warmup": "info",
        "mixed-precision-warmup": "info",
        "weight-decay-warmup": "info",
    }
    assert a.suggested_spec == "linear(5%) -> cosine(floor=0.1)"


def test_gpt_neox_style_config() -> None:
    # The Pythia 410M settings as GPT-NeoX writes them: hyphenated keys, warmup as a fraction, fp16 as a block.
    cfg = {
        "train-iters": 143000,
        "lr-decay-iters": 143000,
        "warmup": 0.01,
        "lr-decay-style": "cosine",
        "optimizer": {"type": "Adam", "params": {"lr": 0.0003, "betas": [0.9, 0.95], "eps": 1e-8}},
        "fp16": {"enabled": True, "loss_scale": 0},
        "weight-decay": 0.1,
        "pipe-parallel-size": 1,
    }
    a = advise(config=cfg, task="pretrain")
    s = a.setup
    assert (s.total_steps, s.warmup_steps, s.optimizer, s.beta2, s.peak_lr) == (143000, 1430, "adam", 0.95, 3e-4)
    assert s.precision == "fp16" and s.sources["precision"] == "config: fp16.enabled"
    assert checks(a) == {"mixed-precision-warmup": "info", "weight-decay-warmup": "info"}


def test_contradictions_are_errors_not_guesses() -> None:
    with pytest.raises(ValueError, match=r"peak_lr: --peak-lr gives 0\.001 but config: learning_rate gives 0\.01"):
        advise(peak_lr=1e-3, config={"learning_rate": 1e-2})
    with pytest.raises(ValueError, match=r"warmup: --warmup gives 300 \(300 steps\) but the spec .* 200 steps"):
        advise("linear(200) -> cosine", total_steps=10_000, warmup=300)
    assert advise("linear(200) -> cosine", total_steps=10_000, warmup="2%").setup.warmup_steps == 200
    with pytest.raises(ValueError, match="at most one of bf16 / fp16"):
        read_config({"bf16": True, "fp16": True})
    with pytest.raises(ValueError, match=r"lr: config: model\.lr gives 0\.1 but config: optimizer\.lr gives 0\.2"):
        read_config({"model": {"lr": 0.1}, "optimizer": {"lr": 0.2}})


def test_unknown_values_list_what_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"optimizer: got 'adamm'; accepted: adafactor, adagrad, adam, .*sgd"):
        advise(optimizer="adamm")
    with pytest.raises(ValueError, match="precision: got 'fp4'; accepted: fp32, bf16, fp16, fp8"):
        advise(precision="fp4")
    with pytest.raises(ValueError, match="task: got 'rl'; accepted: pretrain, finetune"):
        advise(task="rl")
    with pytest.raises(TypeError, match=r"advise: unknown argument\(s\) \['warmup_ratio'\]"):
        advise(warmup_ratio=0.1)
    with pytest.raises(ValueError, match="config: no recognizable training setting"):
        read_config({"foo": 1})
    with pytest.raises(ValueError, match="lr_scheduler_type: got 'cosine_annealing'; accepted: linear, cosine"):
        read_config({"lr_scheduler_type": "cosine_annealing"})
    with pytest.raises(ValueError, match=r"has extension '\.toml'; accepted: \.json, \.yaml, \.yml"):
        read_config("train.toml")
    with pytest.raises(ValueError, match=r"'missing\.json' does not exist"):
        read_config("missing.json")


def test_optimizer_names() -> None:
    assert normalize_optimizer("torch.optim.AdamW") == "adamw"
    assert normalize_optimizer("paged_adamw_8bit") == "adamw"
    assert normalize_optimizer("SGD") == "sgd"
    assert normalize_optimizer("schedule_free_adamw") == "schedule_free_adamw"


# ---------------------------------------------------------------------------------------------
# Item 12: run length from epochs, units on flags, every config key has a flag, fine-tune configs
# ---------------------------------------------------------------------------------------------


def test_real_hf_training_arguments_with_epochs_and_steps_per_epoch(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=3,
        per_device_train_batch_size=16,
        gradient_accumulation_steps=2,
        warmup_steps=0.06,  # transformers >= 5: a float below 1 is a ratio
        learning_rate=2e-5,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        fp16=False,
        report_to=[],
    )
    path = tmp_path / "training_args.json"
    path.write_text(args.to_json_string())
    assert json.loads(path.read_text())["max_steps"] == -1  # the run length is num_train_epochs only
    a = advise(config=str(path), steps_per_epoch=1234, world_size=4, task="finetune")
    s = a.setup
    assert s.total_steps == 3702 and s.sources["total_steps"].endswith("num_train_epochs x --steps-per-epoch")
    assert s.warmup_steps == 223  # transformers: ceil(3702 x 0.06) = ceil(222.12)
    assert s.batch_size == 16 * 2 * 4 and s.decay == "linear"
    assert checks(a) == {"adam-beta2-warmup": "info", "weight-decay-warmup": "info"}
    # the warmup fraction is checked now that the run length is known: the same JSON as pretraining
    a = advise(config=str(path), steps_per_epoch=1234, task="pretrain")
    assert checks(a).get("pretrain-warmup-fraction") == "info"  # 6% is above 1-5%
    assert a.setup.warmup_steps / a.setup.total_steps == pytest.approx(223 / 3702)
    # the CLI: --steps-per-epoch with the JSON; a count with a unit works there too
    rc = main(["advise", "--config", str(path), "--steps-per-epoch", "1.2k", "--task", "finetune", "--json"])
    assert rc == 0
    # without --steps-per-epoch the advisor says what is missing
    a = advise(config=str(path), task="finetune")
    assert a.setup.total_steps is None and a.setup.warmup_steps is None
    assert any("num_train_epochs=3" in x and "pass --steps-per-epoch or --total-steps" in x for x in a.assumptions)
    assert any("warmup_steps=0.06 is a ratio of the run" in x for x in a.assumptions)


def test_flags_take_the_spec_languages_units() -> None:
    a = advise(total_steps="90ep", steps_per_epoch=5004, warmup="5ep", optimizer="sgd")
    assert (a.setup.total_steps, a.setup.warmup_steps) == (450_360, 25_020)
    a = advise(total_steps="1.2Btok", tokens_per_step="3.2M", warmup="1%", optimizer="sgd")
    assert (a.setup.total_steps, a.setup.warmup_steps) == (375, 4)
    a = advise(total_steps="100k", warmup="2%", optimizer="sgd", model_params="1.3B", batch_size="1k")
    assert (a.setup.total_steps, a.setup.model_params, a.setup.batch_size) == (100_000, 1.3e9, 1000)
    assert advise(total_steps="90ep", steps_per_epoch="1.5k", warmup=0, optimizer="sgd").setup.total_steps == 135_000
    with pytest.raises(ValueError, match=r"total_steps: got '2%'; a run length cannot be a fraction of itself"):
        advise(total_steps="2%")
    with pytest.raises(ValueError, match=r"total_steps: '90ep' is in epochs and needs steps_per_epoch"):
        advise(total_steps="90ep")
    with pytest.raises(ValueError, match=r"tokens_per_step: got '3\.2', not a whole number; accepted: an int >= 1"):
        advise(total_steps=100, tokens_per_step="3.2")
    with pytest.raises(ValueError, match=r"total_steps: got 'abc'; accepted: steps \(10000, '100k'\), epochs"):
        advise(total_steps="abc")
    # a flag's '2000' and a config's 2000 are one fact, not a contradiction
    assert advise(total_steps="2000", config={"max_steps": 2000, "optim": "sgd"}).setup.total_steps == 2000


def test_hand_written_fp16_fine_tune_configs_are_fine_tuning(tmp_path: Path) -> None:
    # axolotl-style YAML: base_model + a LoRA adapter, num_epochs, lr_scheduler by its HF name
    path = tmp_path / "lora.yaml"
    path.write_text(
        "base_model: meta-llama/Llama-2-7b-hf\nadapter: lora\nfp16: true\nnum_epochs: 3\nmicro_batch_size: 4\n"
        "gradient_accumulation_steps: 8\nlearning_rate: 2e-4\noptimizer: adamw_torch\nlr_scheduler: cosine\n"
        "warmup_steps: 10\n"
    )
    a = advise(config=str(path), steps_per_epoch=400)
    s = a.setup
    assert (s.task, s.from_pretrained, s.precision, s.total_steps, s.batch_size) == ("finetune", True, "fp16", 1200, 32)
    assert "pretrain-warmup-fraction" not in checks(a) and checks(a)["finetune-warmup-steps"] == "info"
    assert checks(a)["mixed-precision-warmup"] == "warning"  # fp16 with 10 steps; 100 fit in this run
    assert a.suggested_spec == "linear(100) -> cosine"
    # LLaMA-Factory: stage sft; Megatron-style: finetune: true; BERT: init_checkpoint
    for cfg in (
        {"stage": "sft", "fp16": True, "max_steps": 1000, "warmup_steps": 30},
        {"finetune": True, "fp16": True, "train_iters": 1000, "warmup_steps": 30},
        {"init_checkpoint": "bert_model.ckpt", "fp16": True, "max_steps": 1000, "warmup_steps": 30},
    ):
        a = advise(config=cfg, optimizer="adamw")
        assert a.setup.task == "finetune" and "pretrain-warmup-fraction" not in checks(a), cfg
