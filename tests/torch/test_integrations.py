"""The examples in examples/ run unchanged with Lightning, HF Trainer and Accelerate (CPU, a few steps)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import rampup

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"rampup_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def expected(peak: float, spec: str, total: int) -> list[float]:
    s = rampup.parse(spec, total_steps=total)
    return [peak * s(t) for t in range(total)]


@pytest.fixture(autouse=True)
def _fresh_accelerate_state() -> None:
    # Accelerate keeps process-wide singletons; HF Trainer and the Accelerate example both set them.
    pytest.importorskip("accelerate")
    from accelerate.state import AcceleratorState, GradientState, PartialState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


def test_plain_pytorch_example_resumes_bit_identically() -> None:
    assert load("torch_loop").main(total_steps=40, cut=15) == expected(3e-3, "linear(10%) -> cosine(floor=0.1)", 40)


def test_lightning_interval_step() -> None:
    pytest.importorskip("lightning")
    with warnings.catch_warnings():
        # Lightning's own notices (no GPU, few workers, pytree deprecation) are not about the scheduler.
        warnings.simplefilter("ignore")
        lrs = load("lightning_warmup").main(max_steps=12)
    assert lrs == expected(1e-3, "linear(5) -> cosine(floor=0.1)", 12)


def test_hf_trainer_optimizers_tuple() -> None:
    pytest.importorskip("transformers")
    lrs = load("hf_trainer_warmup").main(max_steps=12)
    assert lrs == expected(1e-3, "linear(5) -> cosine(floor=0.1)", 12)


def test_accelerate_prepare() -> None:
    lrs = load("accelerate_warmup").main(steps=12)
    assert lrs == expected(1e-3, "linear(5) -> cosine(floor=0.1)", 12)


def test_lightning_checkpoint_resume(tmp_path: Path) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    ex = load("lightning_warmup")
    data = TensorDataset(torch.randn(64, 8), torch.randn(64, 1))
    opts = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = ex.TinyRegression(total_steps=12)
        trainer = pl.Trainer(max_steps=5, enable_model_summary=False, **opts)
        trainer.fit(first, DataLoader(data, batch_size=8))
        trainer.save_checkpoint(tmp_path / "five.ckpt")
        second = ex.TinyRegression(total_steps=12)  # configure_optimizers builds a fresh scheduler ...
        trainer = pl.Trainer(max_steps=12, enable_model_summary=False, **opts)
        trainer.fit(second, DataLoader(data, batch_size=8), ckpt_path=tmp_path / "five.ckpt")  # ... then loads
    assert first.lrs + second.lrs == expected(1e-3, "linear(5) -> cosine(floor=0.1)", 12)


def test_hf_trainer_checkpoint_resume(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    import torch
    from transformers import Trainer, TrainingArguments

    from rampup.torch import WarmupScheduler

    ex = load("hf_trainer_warmup")
    data = [{"x": torch.randn(8), "labels": torch.randn(1)} for _ in range(64)]

    def run(resume: bool) -> list[float]:
        torch.manual_seed(0)
        model = ex.TinyRegression()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        sched = WarmupScheduler(opt, "linear(5) -> cosine(floor=0.1)", total_steps=12)
        record = ex.RecordLR()
        args = TrainingArguments(
            output_dir=str(tmp_path),
            max_steps=12,
            per_device_train_batch_size=8,
            use_cpu=True,
            report_to="none",
            save_strategy="steps",
            save_steps=6,
            logging_strategy="no",
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=data, optimizers=(opt, sched), callbacks=[record])  # type: ignore[arg-type]
        # The scheduler state goes through torch.save / torch.load(weights_only=True) here.
        trainer.train(resume_from_checkpoint=str(tmp_path / "checkpoint-6") if resume else None)
        return record.lrs

    full = run(resume=False)
    assert full == expected(1e-3, "linear(5) -> cosine(floor=0.1)", 12)
    assert run(resume=True) == full[6:]
