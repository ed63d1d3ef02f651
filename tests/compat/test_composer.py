"""composer: specs against composer's own ``Trainer.fit`` on a tiny model, at random configurations.

composer (``mosaicml``) is installed without its dependencies (its pins do not install beside torch 2.13);
its package imports ``torchvision`` (for image utilities the Trainer never calls here), which does not import
beside torch 2.13 either, so a stand-in module is put in place while composer is imported, then removed.

Each ``Trainer.fit`` runs one run shape (dataloader length, batch size, tokens per sample, ``max_duration`` in
epochs, batches, samples or tokens) with a *probe* scheduler: the Trainer compiles it into its ``LambdaLR``
and calls it exactly when it would call the scheduler under test; the probe evaluates every composer
scheduler of the shape's random configurations on the Trainer's live ``state`` and returns the first one's
value.  A callback at ``BATCH_START`` records, for every batch, the optimizer's real LR (which must be the
first scheduler's value) and the values in effect for all of them.  rampup's spec must give the same LR for
every update — or raise a ``ValueError`` where composer raises.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import math
import sys
import types
import warnings
from typing import Any

import numpy as np
import pytest

import rampup

from .helpers import arg_text, assert_close

torch = pytest.importorskip("torch")


class _Stub(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``torchvision`` and its submodules as empty modules whose attributes are inert classes."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        m = types.ModuleType(spec.name)
        m.__path__ = []

        def attr(a: str) -> Any:
            if a.startswith("__"):
                raise AttributeError(a)
            return type(a, (), {"__init__": lambda self, *x, **k: None})

        m.__getattr__ = attr  # type: ignore[method-assign]
        return m

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _import_composer() -> Any:
    if importlib.util.find_spec("composer") is None:
        pytest.skip("composer (mosaicml) is not installed: make installs it with --no-deps", allow_module_level=True)
    stub = None
    if importlib.util.find_spec("torchvision") is None:
        # transformers caches "is torchvision installed?" at its first ask: ask it now, without the stand-in, or
        # composer's import would leave it answering yes for every later test in this process (HF Trainer tests)
        if importlib.util.find_spec("transformers") is not None:
            from transformers.utils import import_utils

            import_utils.is_torchvision_available()
        stub = _Stub()
        sys.meta_path.insert(0, stub)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import composer
            import composer.algorithms  # imported lazily by Trainer.fit (the engine sorts algorithms)
            import composer.optim
            from composer import Trainer  # noqa: F401
    finally:
        if stub is not None:
            sys.meta_path.remove(stub)
            for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
                del sys.modules[name]
    return composer


composer = _import_composer()
from composer import Trainer  # noqa: E402
from composer.core import Callback  # noqa: E402
from composer.models import ComposerModel  # noqa: E402
from composer.optim import scheduler as cs  # noqa: E402

CLASSES = {
    "step": cs.StepScheduler,
    "multi_step": cs.MultiStepScheduler,
    "constant": cs.ConstantScheduler,
    "linear": cs.LinearScheduler,
    "exponential": cs.ExponentialScheduler,
    "cosine_annealing": cs.CosineAnnealingScheduler,
    "cosine_annealing_warm_restarts": cs.CosineAnnealingWarmRestartsScheduler,
    "polynomial": cs.PolynomialScheduler,
    "multi_step_with_warmup": cs.MultiStepWithWarmupScheduler,
    "constant_with_warmup": cs.ConstantWithWarmupScheduler,
    "linear_with_warmup": cs.LinearWithWarmupScheduler,
    "cosine_annealing_with_warmup": cs.CosineAnnealingWithWarmupScheduler,
    "polynomial_with_warmup": cs.PolynomialWithWarmupScheduler,
}


class _Model(ComposerModel):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, batch: Any) -> Any:
        return self.w * batch[0].sum()

    def loss(self, outputs: Any, batch: Any) -> Any:
        return outputs


class _Probe:
    """A composer scheduler that evaluates many on the Trainer's state (and returns the first one's value)."""

    def __init__(self, scheds: list[Any]) -> None:
        self.scheds = scheds
        self.last: list[Any] = []

    def __call__(self, state: Any, ssr: float = 1.0) -> float:
        row: list[Any] = []
        for s in self.scheds:
            try:
                row.append(float(s(state, ssr)))
            except Exception as e:  # composer raises for some configurations: rampup must refuse them too
                row.append(e)
        self.last = row
        return row[0] if isinstance(row[0], float) else 1.0


class _Record(Callback):
    def __init__(self, probe: _Probe) -> None:
        self.probe = probe
        self.lrs: list[float] = []
        self.rows: list[list[Any]] = []

    def batch_start(self, state: Any, logger: Any) -> None:
        self.lrs.append(state.optimizers[0].param_groups[0]["lr"])
        self.rows.append(list(self.probe.last))


def fit(
    scheds: list[Any], loader_len: int, batch: int, seq: int, max_duration: str, lr: float
) -> tuple[list, list, list]:
    """``Trainer.fit`` with the probe: (the optimizer's LR per batch, every scheduler's value per batch, last call).

    The last call is the ``scheduler.step()`` after the last batch, whose value no update uses.
    """

    class Data(torch.utils.data.TensorDataset):
        max_seq_len = seq  # composer's default data spec counts max_seq_len tokens per sample

    dl = torch.utils.data.DataLoader(Data(torch.ones(loader_len * batch, 1)), batch_size=batch)
    model = _Model()
    probe = _Probe(scheds)
    rec = _Record(probe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(
            model=model,
            train_dataloader=dl,
            max_duration=max_duration,
            optimizers=torch.optim.SGD(model.parameters(), lr=lr),
            schedulers=[probe],
            callbacks=[rec],
            device="cpu",
            progress_bar=False,
            log_to_console=False,
            loggers=[],
        )
        trainer.fit()
        trainer.close()
    return rec.lrs, rec.rows, probe.last


def _time(rng: np.random.Generator, n: int, L: int, B: int, T: int, E: int, lo: float = 0.0, hi: float = 1.3) -> Any:
    """A random composer time within about [lo, hi] of the run (n batches), in a random unit."""
    unit = str(rng.choice(["int", "ba", "ep", "sp", "tok", "dur", "dur"]))
    f = float(rng.uniform(lo, hi))
    if unit == "int":
        return int(f * n)
    if unit == "ba":
        return f"{int(f * n)}ba"
    if unit == "ep":
        return f"{round(f * n / L)}ep"
    if unit == "sp":
        return f"{int(f * n * B)}sp"
    if unit == "tok":
        return f"{int(f * n * T)}tok"
    return f"{round(f, int(rng.integers(1, 4)))}dur"


def _config(rng: np.random.Generator, kind: str, n: int, L: int, B: int, T: int, E: int) -> dict[str, Any]:
    t = lambda lo=0.0, hi=1.3: _time(rng, n, L, B, T, E, lo, hi)  # noqa: E731
    g = float(rng.choice([0.0, 1.0, rng.uniform(0, 1)]))
    if kind == "step":
        return {"step_size": t(0.05, 0.6), "gamma": g}
    if kind == "multi_step":
        return {"milestones": [t() for _ in range(int(rng.integers(0, 4)))], "gamma": g}
    if kind == "constant":
        return {"alpha": float(rng.uniform(0, 1.5)), "t_max": t()}
    if kind == "linear":
        return {"alpha_i": float(rng.uniform(0, 1.5)), "alpha_f": float(rng.uniform(0, 1.5)), "t_max": t(0.05)}
    if kind == "exponential":
        return {"gamma": float(rng.uniform(0.5, 1)), "decay_period": t(0.05, 0.5)}
    if kind == "cosine_annealing":
        return {"t_max": t(0.05), "alpha_f": float(rng.uniform(0, 1))}
    if kind == "cosine_annealing_warm_restarts":
        return {
            "t_0": t(0.02, 0.4),
            "t_mult": float(rng.choice([1.0, 1.5, 2.0, 1.05, round(rng.uniform(1, 3), 2), 0.5])),
            "alpha_f": float(rng.uniform(0, 1)),
        }
    if kind == "polynomial":
        return {"power": float(rng.uniform(0.2, 3)), "t_max": t(0.05), "alpha_f": float(rng.uniform(0, 1))}
    if kind == "multi_step_with_warmup":
        return {"t_warmup": t(0, 0.5), "milestones": [t() for _ in range(int(rng.integers(0, 4)))], "gamma": g}
    warm = t(0, 0.9)
    # t_max: mostly the whole run ('1dur') or beyond it, in t_warmup's unit; sometimes one composer refuses
    tm = str(rng.choice(["1dur", "same", "same", "any"]))
    if tm == "same":
        tm = _same_unit(rng, warm, n, L, B, T)
    elif tm == "any":
        tm = t(0.5, 1.5)
    kw: dict[str, Any] = {"t_warmup": warm, "t_max": tm}
    if kind == "constant_with_warmup":
        kw["alpha"] = float(rng.uniform(0.1, 1.5))
    elif kind == "linear_with_warmup":
        kw["alpha_i"], kw["alpha_f"] = float(rng.uniform(0, 1.5)), float(rng.uniform(0, 1))
    elif kind == "polynomial_with_warmup":
        kw["power"], kw["alpha_f"] = float(rng.uniform(0.2, 3)), float(rng.uniform(0, 1))
    else:
        kw["alpha_f"] = float(rng.uniform(0, 1))
    return kw


def _same_unit(rng: np.random.Generator, warm: Any, n: int, L: int, B: int, T: int) -> Any:
    f = float(rng.uniform(1.0, 1.5))
    if isinstance(warm, int) or warm.endswith("ba") or warm.endswith("ep"):
        return f"{math.ceil(f * n)}ba"
    if warm.endswith("sp"):
        return f"{math.ceil(f * n * B)}sp"
    if warm.endswith("tok"):
        return f"{math.ceil(f * n * T)}tok"
    return f"{round(f, 2)}dur"


def _for_composer(kw: dict[str, Any]) -> dict[str, Any]:
    """composer's times are strings or ``Time``s (an int has no unit there); rampup also takes an int as batches."""

    def one(v: Any) -> Any:
        if isinstance(v, list):
            return [one(x) for x in v]
        return f"{v}ba" if isinstance(v, int) and not isinstance(v, bool) else v

    return {
        k: (v if k in ("gamma", "alpha", "alpha_i", "alpha_f", "power", "t_mult") else one(v)) for k, v in kw.items()
    }


SHAPES = [  # (max_duration unit, seed)
    ("ep", 0),
    ("ep", 1),
    ("ba", 2),
    ("ba", 3),
    ("sp", 4),
    ("tok", 5),
]


@pytest.mark.parametrize(("unit", "seed"), SHAPES)
def test_matches_composer_trainer_fit(unit: str, seed: int) -> None:
    rng = np.random.default_rng(900 + seed)
    L, B, S, E = int(rng.integers(1, 13)), int(rng.integers(1, 6)), int(rng.integers(1, 5)), int(rng.integers(1, 7))
    T = B * S
    n = L * E  # batches in an 'ep' run; the other units get about as many
    if unit == "ep":
        max_duration = f"{E}ep"
    elif unit == "ba":
        n = int(rng.integers(1, 80))
        max_duration = f"{n}ba"
    elif unit == "sp":
        ns = int(rng.integers(1, 80 * B))
        n, max_duration = -(-ns // B), f"{ns}sp"
    else:
        nt = int(rng.integers(1, 80 * T))
        n, max_duration = -(-nt // T), f"{nt}tok"
    configs = []
    for i in range(8 * len(CLASSES)):
        kind = sorted(CLASSES)[i % len(CLASSES)]
        configs.append((kind, _config(rng, kind, n, L, B, T, E)))
    lr = float(10 ** rng.uniform(-4, 0))
    scheds = [CLASSES[k](**_for_composer(kw)) for k, kw in configs]
    lrs, rows, final = fit(scheds, L, B, S, max_duration, lr)
    assert len(lrs) == n
    first = [r[0] for r in rows]
    if all(isinstance(v, float) for v in first):  # the probe's first value is what the optimizer really used
        assert lrs == [lr * v for v in first]
    run = {"total_steps": n, "steps_per_epoch": L, "tokens_per_step": T}
    refused = agreed = 0
    for j, (kind, kw) in enumerate(configs):
        args = ", ".join(f"{k}={arg_text(v)}" for k, v in kw.items())
        spec = f"composer:{kind}({args}, max_duration={max_duration}, batch_size={B})"
        col = [r[j] for r in rows]
        # composer evaluates α once more after the last batch (a step() no update uses): it may raise there too
        raised = any(isinstance(v, Exception) for v in [*col, final[j]])
        if raised:
            with pytest.raises(ValueError):
                rampup.parse(spec, peak_lr=lr, **run)
            refused += 1
            continue
        if not any(col):  # LR 0 for the whole run: rampup refuses a schedule that trains nothing
            with pytest.raises(ValueError, match="0 at every step of the run"):
                rampup.parse(spec, peak_lr=lr, **run)
            refused += 1
            continue
        got = rampup.parse(spec, peak_lr=lr, **run)(np.arange(n))
        assert_close(got, lr * np.asarray(col, dtype=np.float64), lr, spec)
        agreed += 1
    assert agreed > refused  # most random configurations are valid ones


def test_the_first_two_updates_share_alpha_0() -> None:
    # the case: t_warmup=0.7dur, 10 epochs of 3 batches: composer warms up over int(0.7·3·10) = 20 batches,
    # and the Trainer's scheduler.step() before the timestamp advances makes updates 1 and 2 both use α(0)
    lrs, _, _ = fit([cs.LinearWithWarmupScheduler(t_warmup="0.7dur")], 3, 4, 1, "10ep", 1.0)
    s = rampup.parse("composer:linear_with_warmup(t_warmup=0.7dur, max_duration=10ep)", steps_per_epoch=3)
    assert s.segments[0].length == 21 and lrs[:3] == [0.0, 0.0, 0.05] and lrs[21] == 1.0
    assert_close(s(np.arange(30)), np.asarray(lrs), 1.0, "linear_with_warmup")
    from rampup.tools.explain import explain

    notes = "\n".join(explain(s).notes)
    assert "before it advances the timestamp" in notes and "int(0.7·3·10) = 20 batches" in notes


def test_composer_times() -> None:
    spec = rampup.Spec.parse("composer:linear_with_warmup(t_warmup=100ba, t_max=0.5dur, max_duration=4ep)")
    assert str(spec) == "composer:linear_with_warmup(t_warmup=100ba, t_max=0.5dur, max_duration=4ep)"
    assert rampup.Spec.from_dict(spec.to_dict()) == spec
    s = rampup.parse("composer:step(step_size=64sp, batch_size=16, gamma=0.5)")
    assert s(np.arange(7)).tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    s = rampup.parse("composer:step(step_size=1000tok, gamma=0.5)", tokens_per_step=300)
    assert s(np.arange(6)).tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]  # 4 · 300 >= 1000 at k = 4, step 5
    with pytest.raises(ValueError, match="must be greater than or equal to max_duration"):
        rampup.parse("composer:linear_with_warmup(t_warmup=5, t_max=50)", total_steps=60)
    with pytest.raises(ValueError, match="missing argument 't_warmup'"):
        rampup.parse("composer:linear_with_warmup(t_max=50)")
    with pytest.raises(ValueError, match=r"a time in samples \('sp'\) needs batch_size="):
        rampup.parse("composer:linear_with_warmup(t_warmup=5sp)", total_steps=60)
    with pytest.raises(ValueError, match="t_warmup '5sp' is in samples and t_max '1dur' in batches"):
        rampup.parse("composer:linear_with_warmup(t_warmup=5sp, batch_size=2)", total_steps=60)
    with pytest.raises(ValueError, match=r"composer's epochs are whole numbers"):
        rampup.parse("composer:linear_with_warmup(t_warmup=0.5ep)", total_steps=60, steps_per_epoch=4)
    with pytest.raises(ValueError, match=r"max_duration='10ep' is 30 batches, but total_steps is 40"):
        rampup.parse("composer:cosine_annealing(max_duration=10ep)", total_steps=40, steps_per_epoch=3)
    with pytest.raises(ValueError, match=r"gamma: got '1\.5'"):
        rampup.parse("composer:step(step_size=3, gamma=1.5)")
    with pytest.raises(ValueError, match=r"t_mult: got 0\.5; the cycles shrink to 0"):
        rampup.parse("composer:cosine_annealing_warm_restarts(t_0=4, t_mult=0.5)", total_steps=100)
