r"""Training loops of the reference experiments and the auto-warmup runs: one loop per task kind.

:func:`lm_loop` (the byte LM: E1, E2, E4a, E4c–E11) and :func:`digits_loop` (the digits
ResNet: E3, E4b, E7) are the only training loops; what varies between callers is the **LR plan**
(:class:`LRPlan`), built on the loop's optimizer at its peak LR:

* :class:`FixedPlan` — a fixed rampup spec: update ``t`` (``t = 0`` is the first) uses
  ``lr = peak · schedule(t)``, set in every parameter group by
  :class:`rampup.torch.WarmupScheduler` (``scheduler.step()`` after each ``optimizer.step()``:
  the step semantics of ``rampup``, docs/semantics.md).  :func:`train_lm` and
  :func:`train_digits` are the loops with this plan.
* :class:`rampup.experiments.auto_runs.AutoPlan` — an automatic warmup followed by a decay
  (``run_lm``/``run_digits`` of :mod:`rampup.experiments.auto_runs`).

What else varies between the LM runs goes through :func:`lm_loop`'s keyword-only extension points,
whose defaults are the E1 run: ``model=`` (a factory ``cfg -> nn.Module``; :func:`lm_model`),
``optimizer=`` (a factory ``(model, cfg) -> Optimizer``; :func:`make_lm_optimizer`), ``step=`` (the
update, :data:`LMStep`; :func:`lm_step`, or :class:`AmpStep` for fp16 autocast with a GradScaler),
``observers=`` (:class:`Observer`\ s recording something during the run, their ``result()`` merged
into the loop's) and ``device=``.  Co-scheduled weight decay is an LR-plan option
(``FixedPlan(..., weight_decay="warmup")``), the smaller fine-tuning set a config field
(``LMConfig.train_bytes``).  :func:`digits_loop` has the same keyword-only ``model=`` (default
:func:`digits_model`, E3's :class:`TinyResNet`; E7's Fixup ResNet).

Every run is a pure function of its config, seed and plan: ``torch.manual_seed(seed)`` fixes
the initialization; the data order comes from ``data_seed`` alone, so the arms of a comparison
see identical batches.  The LR each update actually used is read back from the optimizer and
recorded.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from .. import parse
from ..torch import WarmupScheduler
from .data import CORPUS_BYTES, lm_batch_starts, load_corpus, load_digits, val_window_starts, windows
from .models import TinyLM, TinyResNet, decay_groups

__all__ = [
    "AmpStep",
    "DigitsConfig",
    "DigitsModelFactory",
    "FixedPlan",
    "LMConfig",
    "LMStep",
    "LRPlan",
    "ModelFactory",
    "Observer",
    "OptimizerFactory",
    "PlanFactory",
    "Progress",
    "digits_error",
    "digits_loop",
    "digits_model",
    "digits_spec",
    "digits_steps_per_epoch",
    "evaluate_lm",
    "lm_loop",
    "lm_model",
    "lm_step",
    "make_lm_optimizer",
    "sgd_step",
    "train_digits",
    "train_lm",
]

Progress = Callable[[int], None]  # called with the number of steps just completed


# ---------------------------------------------------------------------------------------------
# LR plans: what sets the LR of each update
# ---------------------------------------------------------------------------------------------


class LRPlan(Protocol):
    """The LR of every update of a loop: built on the optimizer (at its peak LR) before the first update.

    The loop calls ``lr()`` before each update (the LR that update uses, already in the
    optimizer's groups), ``step(loss)`` after each ``optimizer.step()``, and ``info()`` once at
    the end (what the run reports about its schedule; it also releases the plan's hooks).
    """

    def lr(self) -> float: ...

    def step(self, loss: float) -> None: ...

    def info(self) -> dict[str, Any]: ...


# (optimizer at its peak LR, the schedule's total steps) -> the plan; e.g. ``partial(FixedPlan, spec)``
PlanFactory = Callable[[torch.optim.Optimizer, int], LRPlan]


class FixedPlan:
    """A fixed rampup spec: update ``t`` uses ``lr = peak · schedule(t)`` in every group.

    The LR is written by :class:`rampup.torch.WarmupScheduler` on the optimizer, whose ``lr``
    is the peak; ``info()`` gives the canonical spec and its warmup length in steps.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    >>> plan = FixedPlan("linear(4) -> constant", opt, 8)
    >>> plan.lr(), plan.step(1.0), plan.lr()
    (0.125, None, 0.25)
    >>> plan.info()
    {'spec': 'linear(4) -> constant', 'warmup_steps': 4}

    ``weight_decay`` co-schedules the optimizer's weight decay with the LR, by
    :class:`rampup.torch.WarmupScheduler`'s own ``weight_decay`` mode (docs/torch.md): ``"none"``
    (fixed), ``"warmup"`` (× the warmup factor) or ``"lr"`` (× lr/peak); E9 uses it as
    ``partial(FixedPlan, spec, weight_decay="warmup")``.
    """

    def __init__(self, spec: str, opt: torch.optim.Optimizer, total: int, *, weight_decay: str = "none") -> None:
        self.schedule = parse(spec, total_steps=total)  # validated (and canonical) before the scheduler
        self.opt = opt
        self.scheduler = WarmupScheduler(opt, spec, total_steps=total, weight_decay=weight_decay)

    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])

    def step(self, loss: float) -> None:
        self.scheduler.step()

    def info(self) -> dict[str, Any]:
        return {"spec": str(self.schedule.spec), "warmup_steps": int(self.schedule.warmup_steps)}


@dataclass(frozen=True)
class LMConfig:
    """One byte-LM run.  Defaults = the E1 setup (Post-LN, AdamW (0.9, 0.98), peak 1e-2, 400 steps)."""

    spec: str = "linear(100) -> cosine(floor=0.1)"
    post_ln: bool = True
    qk_norm: bool = False
    n_layers: int = 4
    d_model: int = 64
    n_heads: int = 4
    seq_len: int = 64
    batch: int = 16
    steps: int = 400  # updates actually run
    total_steps: int | None = None  # the schedule's run length (default: steps)
    peak_lr: float = 1e-2
    optimizer: str = "adamw"  # "adamw" | "radam" (torch.optim.RAdam, decoupled weight decay)
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    weight_decay: float = 0.01
    clip: float | None = None  # max global gradient norm; None = no clipping
    data_seed: int = 1234
    corpus_bytes: int = CORPUS_BYTES
    corpus_part: str = "all"
    eval_windows: int = 512
    eval_every: int = 100
    record_adam: int = 0  # how many parameters' Adam effective step to record per update (E4c)
    reset_head: bool = False  # fine-tuning: a fresh output layer on top of init_state
    keep_state: bool = False  # return the trained weights (to fine-tune from)
    train_bytes: int | None = None  # train on the first N bytes of the train split only (E10); None = all of it

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "radam"):
            raise ValueError(f"optimizer: got {self.optimizer!r}; accepted: 'adamw' or 'radam'")
        if self.steps < 1:
            raise ValueError(f"steps: got {self.steps}; accepted: an integer >= 1")
        if not self.peak_lr > 0:
            raise ValueError(f"peak_lr: got {self.peak_lr!r}; accepted: a number > 0")
        if self.train_bytes is not None and self.train_bytes <= self.seq_len + 1:
            raise ValueError(
                f"train_bytes: got {self.train_bytes}; accepted: None or more than seq_len + 1 = {self.seq_len + 1}"
            )

    def schedule_total(self) -> int:
        return self.steps if self.total_steps is None else self.total_steps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def evaluate_lm(model: torch.nn.Module, val: np.ndarray, starts: np.ndarray, seq_len: int, batch: int = 64) -> float:
    """Mean next-byte cross-entropy (nats) over the given validation windows."""
    model.eval()
    dev = next(model.parameters()).device  # the model's device (the batches are built on the CPU)
    total, count = 0.0, 0
    for i in range(0, starts.size, batch):
        w = torch.from_numpy(windows(val, starts[i : i + batch], seq_len))
        if w.device != dev:
            w = w.to(dev)
        logits = model(w[:, :-1])
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum"))
        count += w[:, 1:].numel()
    model.train()
    return total / count


def _adam_sample(model: torch.nn.Module, k: int) -> list[tuple[int, torch.Tensor]]:
    # A fixed sample of parameter coordinates (independent of the seed, so seeds are comparable).
    sizes = [p.numel() for p in model.parameters()]
    idx = np.sort(np.random.default_rng(0).choice(sum(sizes), size=min(k, sum(sizes)), replace=False))
    out, base = [], 0
    for i, n in enumerate(sizes):
        sel = idx[(idx >= base) & (idx < base + n)] - base
        if sel.size:
            out.append((i, torch.from_numpy(sel)))
        base += n
    return out


def _adam_psi(
    opt: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    sample: list[tuple[int, torch.Tensor]],
    lr: float,
    beta2: float,
    eps: float,
) -> np.ndarray:
    """Adam's per-parameter effective step ``ψ = η_t / (sqrt(v̂_t) + ε)``, ``v̂_t = v_t / (1 − β2^t)``."""
    vals = []
    for i, sel in sample:
        st = opt.state[params[i]]
        t = float(st["step"])
        v_hat = st["exp_avg_sq"].reshape(-1)[sel] / (1.0 - beta2**t)
        vals.append(lr / (v_hat.sqrt() + eps))
    return torch.cat(vals).numpy().astype(np.float32)


def lm_step(model: torch.nn.Module, opt: torch.optim.Optimizer, w: torch.Tensor, clip: float | None = None) -> float:
    """One update on the windows ``w`` (batch, seq + 1) at the optimizer's current LR; returns the loss before it.

    A non-finite loss is returned without updating (the caller stops the run).
    """
    logits = model(w[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
    lv = loss.item()
    if not math.isfinite(lv):
        return lv
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return lv


# One update: (model, optimizer, windows (batch, seq + 1), clip) -> the loss before it (a non-finite loss: no update)
LMStep = Callable[[torch.nn.Module, torch.optim.Optimizer, torch.Tensor, "float | None"], float]
ModelFactory = Callable[["LMConfig"], torch.nn.Module]  # called right after torch.manual_seed(seed)
OptimizerFactory = Callable[[torch.nn.Module, "LMConfig"], torch.optim.Optimizer]  # at cfg.peak_lr


class Observer(Protocol):
    """Records something during :func:`lm_loop`; it changes nothing.

    ``start(model, opt)`` once before the first update (after ``init_state`` is loaded);
    ``after_step(t, model, opt, loss, lr)`` after update ``t`` (``t = 0`` is the first) and before the
    LR plan steps, so the optimizer's groups still hold that update's LR and weight decay; it is also
    called for a non-finite ``loss`` (no update was made; the run stops after it).  ``result()`` once at
    the end (after the final evaluation): a dict merged into the loop's result.  An observer keeps
    what it records: make a new one for every run.
    """

    def start(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None: ...

    def after_step(
        self, t: int, model: torch.nn.Module, opt: torch.optim.Optimizer, loss: float, lr: float
    ) -> None: ...

    def result(self) -> dict[str, Any]: ...


class AmpStep:
    """:func:`lm_step` in fp16 autocast with a ``torch.amp.GradScaler`` starting at ``init_scale``; also an observer.

    The scaler skips an update whose gradients are not finite and backs its scale off; such updates
    are counted (``result()``: ``skipped_steps`` (update indices), ``n_skipped``, ``scale`` after each
    update).  The LR plan still steps after a skipped update (the usual AMP loop:
    ``scaler.step(opt); scaler.update(); scheduler.step()``): it uses up its step of the warmup.
    Pass the same object as ``step=`` and in ``observers=``; a new one for every run.
    """

    def __init__(self, init_scale: float = 2.0**16) -> None:
        self.init_scale = float(init_scale)
        self.scaler: Any = None  # made at the first update, on the batches' device
        self.calls = 0
        self.skipped: list[int] = []
        self.scales: list[float] = []

    def __call__(
        self, model: torch.nn.Module, opt: torch.optim.Optimizer, w: torch.Tensor, clip: float | None
    ) -> float:
        t, self.calls = self.calls, self.calls + 1
        dev = w.device.type
        if self.scaler is None:
            self.scaler = torch.amp.GradScaler(dev, init_scale=self.init_scale)
        with torch.autocast(dev, dtype=torch.float16):
            logits = model(w[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
        lv = loss.item()
        if not math.isfinite(lv):
            return lv
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if clip is not None:
            self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        before = self.scaler.get_scale()
        self.scaler.step(opt)
        self.scaler.update()
        if self.scaler.get_scale() < before:  # the scaler backs off only after inf/NaN gradients: update skipped
            self.skipped.append(t)
        self.scales.append(self.scaler.get_scale())
        return lv

    def start(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        pass

    def after_step(self, t: int, model: torch.nn.Module, opt: torch.optim.Optimizer, loss: float, lr: float) -> None:
        pass

    def result(self) -> dict[str, Any]:
        return {"skipped_steps": self.skipped, "n_skipped": len(self.skipped), "scale": self.scales}


def lm_model(cfg: LMConfig) -> torch.nn.Module:
    """E1's :class:`TinyLM` for ``cfg`` (layers, width, heads, context, Post-/Pre-LN, qk-layernorm)."""
    return TinyLM(cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.seq_len, post_ln=cfg.post_ln, qk_norm=cfg.qk_norm)


def make_lm_optimizer(model: Any, cfg: LMConfig) -> Any:
    """AdamW, or RAdam with decoupled weight decay, at the config's peak LR (the scheduler scales it)."""
    import torch

    betas = (cfg.beta1, cfg.beta2)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(
            model.parameters(), lr=cfg.peak_lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay
        )
    return torch.optim.RAdam(
        model.parameters(),
        lr=cfg.peak_lr,
        betas=betas,
        eps=cfg.eps,
        weight_decay=cfg.weight_decay,
        decoupled_weight_decay=True,
    )


def lm_loop(
    cfg: LMConfig,
    seed: int,
    plan: PlanFactory,
    init_state: bytes | None = None,
    progress: Progress | None = None,
    *,
    model: ModelFactory = lm_model,
    optimizer: OptimizerFactory = make_lm_optimizer,
    step: LMStep = lm_step,
    observers: Sequence[Observer] = (),
    device: str | None = None,
) -> dict[str, Any]:
    """Train :class:`TinyLM` under ``cfg`` from ``seed`` with the LR of ``plan``: the one LM training loop.

    Extension points (keyword-only; the defaults are E1's run, bit for bit): ``model(cfg)`` builds the
    network after ``torch.manual_seed(seed)``; ``optimizer(model, cfg)`` builds the optimizer at
    ``cfg.peak_lr``; ``step(model, opt, windows, cfg.clip)`` makes one update and returns the loss
    before it; each of ``observers`` (:class:`Observer`) sees every update and adds its ``result()``
    to the returned dict; ``device`` (e.g. ``"cuda"``) moves the model and the batches there
    (None: left where they are, the CPU).

    ``plan(optimizer, cfg.schedule_total())`` is built on the optimizer at ``cfg.peak_lr``.
    Returns ``train_loss`` and ``lr`` per update, ``val`` (``(step, loss)`` at init, every
    ``cfg.eval_every`` updates and at the end), ``val_loss_init``, ``final_val_loss``,
    ``diverged``/``diverged_at``, ``plan`` (the plan's ``info()``), and ``adam_psi``/``state``
    when ``cfg.record_adam``/``cfg.keep_state`` ask for them.  A non-finite training loss
    stops the run without updating (``diverged``); its final validation loss is then NaN
    (E2 counts NaN as the loss at init).
    """
    corpus = load_corpus(cfg.corpus_bytes, cfg.corpus_part)
    train = corpus.train if cfg.train_bytes is None else corpus.train[: cfg.train_bytes]
    torch.manual_seed(seed)
    net = model(cfg)
    if init_state is not None:
        net.load_state_dict(torch.load(io.BytesIO(init_state), weights_only=True))
        if cfg.reset_head:
            net.reset_head()  # type: ignore[operator]  # TinyLM's; another model factory must provide it to fine-tune
    if device is not None:
        net.to(torch.device(device))
    opt = optimizer(net, cfg)
    lr_plan = plan(opt, cfg.schedule_total())
    starts = lm_batch_starts(train.size, cfg.steps, cfg.batch, cfg.seq_len, cfg.data_seed)
    vstarts = val_window_starts(corpus.val.size, cfg.eval_windows, cfg.seq_len)
    params = list(net.parameters())
    sample = _adam_sample(net, cfg.record_adam) if cfg.record_adam else []
    psi: list[np.ndarray] = []
    for ob in observers:
        ob.start(net, opt)
    val = [(0, evaluate_lm(net, corpus.val, vstarts, cfg.seq_len))]
    losses: list[float] = []
    lrs: list[float] = []
    diverged_at: int | None = None
    done = 0
    for t in range(cfg.steps):
        lr = lr_plan.lr()
        w = torch.from_numpy(windows(train, starts[t], cfg.seq_len))
        lv = step(net, opt, w if device is None else w.to(torch.device(device)), cfg.clip)
        losses.append(lv)
        lrs.append(lr)
        for ob in observers:
            ob.after_step(t, net, opt, lv, lr)
        if not math.isfinite(lv):
            diverged_at = t
            break
        lr_plan.step(lv)
        if sample:
            psi.append(_adam_psi(opt, params, sample, lr, cfg.beta2, cfg.eps))
        if (t + 1) % cfg.eval_every == 0 and t + 1 < cfg.steps:
            val.append((t + 1, evaluate_lm(net, corpus.val, vstarts, cfg.seq_len)))
        if progress is not None and (t + 1) % 10 == 0:
            progress(t + 1 - done)
            done = t + 1
    if progress is not None and cfg.steps > done:
        progress(cfg.steps - done)  # a diverged run counts as done
    if diverged_at is None:
        final = evaluate_lm(net, corpus.val, vstarts, cfg.seq_len)
        final = final if math.isfinite(final) else math.nan
    else:
        final = math.nan
    val.append((len(losses), final))
    out: dict[str, Any] = {
        "train_loss": losses,
        "lr": lrs,
        "val": val,
        "val_loss_init": val[0][1],
        "final_val_loss": final,
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "plan": lr_plan.info(),
    }
    if psi:
        out["adam_psi"] = np.stack(psi)
    if cfg.keep_state:
        buf = io.BytesIO()
        torch.save(net.state_dict(), buf)
        out["state"] = buf.getvalue()
    for ob in observers:
        out.update(ob.result())
    return out


def train_lm(
    cfg: LMConfig, seed: int, init_state: bytes | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Train :class:`TinyLM` under ``cfg`` (its fixed ``spec``) from ``seed``; return losses, LRs and the final validation loss.

    :func:`lm_loop` with :class:`FixedPlan`; the spec is validated before any work.
    """
    t0 = time.perf_counter()
    parse(cfg.spec, total_steps=cfg.schedule_total())  # a bad spec fails before the corpus loads
    r = lm_loop(cfg, seed, partial(FixedPlan, cfg.spec), init_state, progress)
    out: dict[str, Any] = {
        "seed": seed,
        "spec": r["plan"]["spec"],
        **{k: r[k] for k in ("train_loss", "lr", "val", "val_loss_init", "final_val_loss", "diverged", "diverged_at")},
        "wall_s": time.perf_counter() - t0,
    }
    out.update({k: r[k] for k in ("adam_psi", "state") if k in r})
    return out


# ---------------------------------------------------------------------------------------------
# Digits (E3, E4b): large-batch SGD with the linear scaling rule
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitsConfig:
    """One digits run.  Defaults = E3's large batch: 512 at LR 0.2·512/32 = 3.2, gradual warmup over 5 epochs."""

    batch: int = 512
    base_batch: int = 32
    base_lr: float = 0.2  # LR at base_batch; peak = base_lr · batch / base_batch (linear scaling rule)
    warmup: str = "gradual"  # "none" | "constant" | "gradual"
    warmup_epochs: float = 5.0
    epochs: int = 30
    drops: tuple[float, ...] = (1 / 3, 2 / 3, 8 / 9)  # LR ÷ 10 at these fractions of training
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4  # not on BatchNorm parameters or biases
    width: int = 16
    data_seed: int = 1234

    def __post_init__(self) -> None:
        if self.warmup not in ("none", "constant", "gradual"):
            raise ValueError(f"warmup: got {self.warmup!r}; accepted: 'none', 'constant' or 'gradual'")
        if self.batch < 1 or self.base_batch < 1 or self.batch < self.base_batch:
            raise ValueError(
                f"batch: got {self.batch} (base_batch {self.base_batch}); accepted: batch >= base_batch >= 1"
            )
        if self.epochs < 1:
            raise ValueError(f"epochs: got {self.epochs}; accepted: an integer >= 1")

    @property
    def peak_lr(self) -> float:
        return self.base_lr * self.batch / self.base_batch

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["drops"] = list(self.drops)
        d["peak_lr"] = self.peak_lr
        return d


def digits_spec(cfg: DigitsConfig, steps_per_epoch: int) -> tuple[str, int]:
    """The rampup spec of a digits run and its total steps.

    Lengths are written in whole steps (``epochs × steps_per_epoch``, rounded)
    so the spec states exactly what ran.  The warmups start at the small-batch
    LR, ``start = base_batch / batch`` of the peak (Goyal et al. §2.2).

    >>> digits_spec(DigitsConfig(), 2)
    ('linear(10, start=0.0625) -> multistep(milestones=[20, 40, 53], gamma=0.1)', 60)
    """
    total = cfg.epochs * steps_per_epoch
    ms = ", ".join(str(round(total * f)) for f in cfg.drops)
    decay = f"multistep(milestones=[{ms}], gamma=0.1)"
    w = round(cfg.warmup_epochs * steps_per_epoch)
    if cfg.warmup == "none" or w == 0:
        return decay, total
    start = cfg.base_batch / cfg.batch
    if cfg.warmup == "constant":
        return f"constant({w}, start={start:g}) -> {decay}", total
    return f"linear({w}, start={start:g}) -> {decay}", total


@torch.no_grad()
def digits_error(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of ``x`` that ``model`` (in eval mode: BatchNorm running statistics) misclassifies."""
    model.eval()
    err = float((model(x).argmax(1) != y).float().mean())
    model.train()
    return err


def sgd_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, skip_nonfinite: bool = True
) -> float:
    """One classification update at the optimizer's current LR; returns the loss before it.

    A non-finite loss makes no update (``skip_nonfinite=False``: the update is applied anyway,
    as the auto-warmup runs do; the weights then become NaN).
    """
    loss = F.cross_entropy(model(x), y)
    lv = loss.item()
    if skip_nonfinite and not math.isfinite(lv):
        return lv
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return lv


def digits_steps_per_epoch(cfg: DigitsConfig) -> int:
    """``n_train // batch``: every update sees exactly ``batch`` samples (the last partial batch is dropped)."""
    n = load_digits().y_train.size
    spe = n // cfg.batch
    if spe < 1:
        raise ValueError(f"batch: got {cfg.batch}; accepted: at most the {n} training samples")
    return spe


DigitsModelFactory = Callable[["DigitsConfig"], torch.nn.Module]  # called right after torch.manual_seed(seed)


def digits_model(cfg: DigitsConfig) -> torch.nn.Module:
    """E3's :class:`TinyResNet` of ``cfg.width`` (BatchNorm, γ = 0 on each block's last BN)."""
    return TinyResNet(cfg.width)


def digits_loop(
    cfg: DigitsConfig,
    seed: int,
    plan: PlanFactory,
    progress: Progress | None = None,
    stop_at_nonfinite: bool = True,
    *,
    model: DigitsModelFactory = digits_model,
) -> dict[str, Any]:
    """Train :class:`TinyResNet` on digits with SGD (Nesterov) under ``cfg`` with the LR of ``plan``: the one digits loop.

    ``model(cfg)`` builds the network right after ``torch.manual_seed(seed)`` (keyword-only; default
    :func:`digits_model`, E3's :class:`TinyResNet`, bit for bit; E7 passes its Fixup ResNet).
    ``plan(optimizer, cfg.epochs · steps_per_epoch)`` is built on the optimizer at
    ``cfg.peak_lr``.  Returns ``steps_per_epoch``, ``total_steps``, ``train_loss`` and ``lr``
    per update, ``test_error_per_epoch``, ``final_test_error``, ``diverged``/``diverged_at``
    and ``plan`` (the plan's ``info()``).  At the first non-finite training loss the run stops
    without updating (``stop_at_nonfinite``, the experiments), or — ``stop_at_nonfinite=False``,
    the auto-warmup runs — applies the update and goes on to the end, so every epoch has a test
    error (that of the NaN model's predictions).
    """
    d = load_digits()
    n = d.y_train.size
    spe = digits_steps_per_epoch(cfg)
    total = cfg.epochs * spe
    torch.manual_seed(seed)
    net = model(cfg)
    opt = torch.optim.SGD(
        decay_groups(net, cfg.weight_decay), lr=cfg.peak_lr, momentum=cfg.momentum, nesterov=cfg.nesterov
    )
    lr_plan = plan(opt, total)
    xtr, ytr = torch.from_numpy(d.x_train), torch.from_numpy(d.y_train)
    xte, yte = torch.from_numpy(d.x_test), torch.from_numpy(d.y_test)
    rng = np.random.default_rng(cfg.data_seed)
    losses: list[float] = []
    lrs: list[float] = []
    test_err: list[float] = []
    diverged_at: int | None = None
    t = 0
    for _ in range(cfg.epochs):
        perm = torch.from_numpy(rng.permutation(n))
        for b in range(spe):
            lr = lr_plan.lr()
            idx = perm[b * cfg.batch : (b + 1) * cfg.batch]
            lv = sgd_step(net, opt, xtr[idx], ytr[idx], skip_nonfinite=stop_at_nonfinite)
            losses.append(lv)
            lrs.append(lr)
            t += 1
            if not math.isfinite(lv) and diverged_at is None:
                diverged_at = t - 1
                if stop_at_nonfinite:
                    break
            lr_plan.step(lv)
        test_err.append(digits_error(net, xte, yte))  # a diverged model: the error of its (NaN) predictions
        if progress is not None:
            progress(spe)
        if diverged_at is not None and stop_at_nonfinite:
            if progress is not None:
                progress(total - len(test_err) * spe)
            break
    return {
        "steps_per_epoch": spe,
        "total_steps": total,
        "train_loss": losses,
        "lr": lrs,
        "test_error_per_epoch": test_err,
        "final_test_error": test_err[-1],
        "diverged": diverged_at is not None,
        "diverged_at": diverged_at,
        "plan": lr_plan.info(),
    }


def train_digits(cfg: DigitsConfig, seed: int, progress: Progress | None = None) -> dict[str, Any]:
    """Train :class:`TinyResNet` on digits with SGD (Nesterov) under ``cfg``; return losses and test error per epoch.

    :func:`digits_loop` with :class:`FixedPlan` on :func:`digits_spec` (warmup and step decay).
    """
    t0 = time.perf_counter()
    spec, total = digits_spec(cfg, digits_steps_per_epoch(cfg))
    parse(spec, total_steps=total)  # a bad spec fails before any work
    r = digits_loop(cfg, seed, partial(FixedPlan, spec), progress)
    keys = ("train_loss", "lr", "test_error_per_epoch", "final_test_error", "diverged", "diverged_at")
    return {
        "seed": seed,
        "spec": r["plan"]["spec"],
        "steps_per_epoch": r["steps_per_epoch"],
        "total_steps": r["total_steps"],
        "warmup_steps": r["plan"]["warmup_steps"],
        "peak_lr": cfg.peak_lr,
        **{k: r[k] for k in keys},
        "wall_s": time.perf_counter() - t0,
    }
