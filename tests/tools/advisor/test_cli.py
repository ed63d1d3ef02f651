"""tools/advisor/cli.py: rampup advise — exit codes, JSON, help, a flag for every config key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rampup.cli import main

# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def test_cli_exit_codes_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc = main(["advise", "--total-steps", "10000", "--warmup", "0", "--optimizer", "adamw", "--norm", "post"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "ERROR   post-ln-warmup" in out and "suggested rampup spec: linear(5%) -> cosine(floor=0.1)" in out
    rc = main(
        [
            "advise",
            "linear(2%) -> cosine",
            "--total-steps",
            "10000",
            "--optimizer",
            "adamw",
            "--beta2",
            "0.95",
            "--task",
            "pretrain",
            "--json",
        ]
    )
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["exit_code"] == 0 and d["findings"] == [] and d["suggested_spec"] == "linear(2%) -> cosine"
    assert d["inputs"]["warmup_steps"] == 200
    rc = main(["advise", "--optimizer", "nope"])
    assert rc == 2 and "optimizer: got 'nope'" in capsys.readouterr().err
    assert main(["advise"]) == 2
    assert "nothing to check" in capsys.readouterr().err
    cfg = tmp_path / "args.json"
    cfg.write_text(json.dumps({"max_steps": 10000, "warmup_ratio": 0.03, "optim": "adamw_torch", "adam_beta2": 0.95}))
    rc = main(["advise", "--config", str(cfg), "--task", "pretrain", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0 and d["inputs"]["warmup_steps"] == 300 and d["counts"] == {"error": 0, "warning": 0, "info": 0}


# ---------------------------------------------------------------------------------------------
# Each subcommand's --help shows its own examples
# ---------------------------------------------------------------------------------------------


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    return capsys.readouterr().out


def test_each_subcommand_help_shows_examples_of_itself_only(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from rampup.cli import COMMANDS

    names = [c[0] for c in COMMANDS]
    assert {"curve", "explain", "plot", "advise", "sweep", "bench", "demo", "experiment", "auto-compare"} <= set(names)
    for name in names:
        out = _help([name, "--help"], capsys)
        assert "examples:" in out, name
        shown = re.findall(r"^\s+rampup (\S+)", out.split("examples:", 1)[1], flags=re.M)
        assert shown and set(shown) == {name}, (name, shown)
    # the top-level help still lists the spec-language examples
    assert "rampup curve" in _help(["--help"], capsys)


def test_every_config_key_and_every_field_has_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from rampup.tools.advisor import inputs

    out = _help(["advise", "--help"], capsys)
    flags = set(re.findall(r"--[a-z0-9-]+", out))
    # each config target -> the flag that sets the same fact
    same_fact = {
        "warmup_steps": "--warmup",
        "warmup_ratio": "--warmup",
        "micro_batch": "--micro-batch-size",
        "devices": "--world-size",
        "num_nodes": "--world-size",
        "betas": "--beta2",
        "bf16": "--precision",
        "fp16": "--precision",
        "strategy": "--parallelism",
        "fsdp": "--parallelism",
        "deepspeed": "--parallelism",
        "pipeline": "--parallelism",
        "norm_first": "--norm",
        "pretrained": "--from-pretrained",
        "init_from": "--from-pretrained",
        "adapter": "--from-pretrained",
        "finetune_flag": "--task",
        "stage": "--task",
        "hf_scheduler": "--lr-scheduler-type",
        "lr_scheduler_name": "--lr-scheduler-type",
        "hf_scheduler_kwargs": "--decay",
        "spec": "--spec",
    }
    for target in set(inputs.CONFIG_KEYS.values()):
        flag = same_fact.get(target, "--" + target.replace("_", "-"))
        assert flag in flags, (target, flag)
    for name in inputs.FIELDS:
        flag = same_fact.get(name, "--" + name.replace("_", "-"))
        assert flag in flags, (name, flag)
    # and the new flags reach the advisor
    rc = main(
        ["advise", "--total-steps", "1000", "--warmup", "0", "--optimizer", "sgd", "--lr-scheduler-type", "constant"]
    )
    assert rc == 1 and "suggested rampup spec: linear(2%) -> constant" in capsys.readouterr().out
    rc = main(["advise", "--epochs", "3", "--steps-per-epoch", "100", "--warmup", "6", "--optimizer", "sgd"])
    assert rc == 0 and "total_steps=300 [--epochs x --steps-per-epoch]" in capsys.readouterr().out
    rc = main(["advise", "--micro-batch-size", "8", "--grad-accum", "4", "--world-size", "8", "--optimizer", "sgd"])
    assert rc == 0 and "batch_size=256 [--micro-batch-size x --grad-accum x --world-size]" in capsys.readouterr().out
