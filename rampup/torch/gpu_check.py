r"""``python -m rampup.torch.gpu_check``: the torch adapter on a CUDA GPU, in one command (a few minutes).

Checks, each printed as one ``PASS``/``FAIL``/``SKIP`` line (exit 1 if any fails):

* ``fused`` / ``capturable``: ``Adam`` and ``AdamW`` with ``fused=True`` or ``capturable=True`` and a
  tensor LR on the device, driven by :class:`~rampup.torch.WarmupScheduler` for ``--steps`` updates:
  the LR tensor stays the same object on the same device and holds ``peak · m(k)`` (rounded to its
  dtype) before every update; the weights match a float-LR ``foreach=False`` run of the same
  optimizer (``rtol=1e-5``).
* ``compile:opt_step`` / ``compile:opt_step_and_sched_step``: ``torch.compile`` (``inductor`` on CUDA)
  of ``opt.step`` alone and of ``opt.step(); sched.step()`` together (torch's recipe): one graph, no
  recompile (Dynamo's ``error_on_recompile``), the same LRs as the uncompiled run bit for bit and
  close weights.
* ``resume``: a run interrupted at step ``k``, saved with ``torch.save`` and loaded with
  ``torch.load(weights_only=True, map_location=device)`` into fresh objects, in both build orders
  (scheduler first, optimizer state first): the same LRs bit for bit and the same weights as the
  uninterrupted run.
* ``monitor``: :class:`~rampup.torch.Monitor` on a model on the device: a row per update, every
  number finite.
* ``guard``: :class:`~rampup.torch.SpikeGuard` on the device: an injected loss spike is detected and
  rolled back; the weights stay finite and on the device.

Without CUDA it prints one ``SKIP`` line and exits 0.  ``--device cpu`` runs the same checks on the
CPU (a dry run of the script's own logic; the test suite does this): ``capturable=True`` is a
CUDA feature, so it is skipped there, and the compile checks use the ``eager`` backend (Inductor's
C++ build takes minutes on a small CPU; recompiles are decided by Dynamo's guards either way).

Run: ``python -m rampup.torch.gpu_check`` (``--device cpu --steps 6`` for the dry run).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import torch

import rampup

from .scheduler import WarmupScheduler

__all__ = ["CHECKS", "main", "run_checks"]

SPEC = "linear(5) -> cosine(floor=0.1)"
TOTAL = 100
PEAK = 1e-3


class Skip(Exception):
    """A check that does not apply on this device (the reason is the message)."""


def _model(device: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)).to(device)


def _batches(device: str, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 16, generator=g).to(device), torch.randn(8, 1, generator=g).to(device)) for _ in range(n)]


def _loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return (model(x) - y).square().mean()


def _expected_lrs(steps: int, peak: float) -> list[float]:
    return [peak * v for v in rampup.parse(SPEC, total_steps=TOTAL)(range(steps)).tolist()]


def _check_fused_or_capturable(device: str, steps: int, backend: str, mode: str) -> str:
    if mode == "capturable" and device == "cpu":
        raise Skip("capturable=True is for CUDA graphs (torch refuses it for CPU parameters)")
    out = []
    for cls in (torch.optim.Adam, torch.optim.AdamW):
        model, ref = _model(device), _model(device)
        lr = torch.tensor(PEAK, device=device)
        peak = float(lr.item())  # the float32 peak the scheduler reads (before it fills the tensor)
        opt = cls(model.parameters(), lr=lr, fused=mode == "fused", capturable=mode == "capturable")
        sched = WarmupScheduler(opt, SPEC, total_steps=TOTAL)
        ref_opt = cls(ref.parameters(), lr=PEAK, foreach=False)
        ref_sched = WarmupScheduler(ref_opt, SPEC, total_steps=TOTAL)
        want = _expected_lrs(steps, peak)
        for t, batch in enumerate(_batches(device, steps)):
            group_lr = opt.param_groups[0]["lr"]
            if group_lr is not lr or group_lr.device != lr.device:
                raise AssertionError(f"{cls.__name__}({mode}=True): the LR tensor was replaced at step {t}")
            exp32 = float(torch.tensor(want[t], dtype=lr.dtype))
            if lr.item() != exp32:
                raise AssertionError(f"{cls.__name__}({mode}=True): LR {lr.item()!r} at step {t}, expected {exp32!r}")
            for m, o, s in ((model, opt, sched), (ref, ref_opt, ref_sched)):
                o.zero_grad()
                _loss(m, batch).backward()
                o.step()
                s.step()
        for p, q in zip(model.parameters(), ref.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)
        out.append(cls.__name__)
    return f"{' and '.join(out)}({mode}=True), tensor LR on {device}: {steps} steps, LR exact, weights as the reference"


def _check_compile(device: str, steps: int, backend: str, together: bool) -> str:
    import torch._dynamo
    from torch._dynamo.utils import counters

    def run(compiled: bool) -> tuple[list[float], torch.nn.Module, int]:
        model = _model(device)
        opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(PEAK))  # torch's recipe: a CPU tensor LR
        sched = WarmupScheduler(opt, SPEC, total_steps=TOTAL)

        def opt_step() -> None:
            opt.step()

        def both() -> None:
            opt.step()
            sched.step()

        fn: Callable[[], None] = both if together else opt_step
        if compiled:
            fn = torch.compile(fn, backend=backend)
        lrs = []
        for batch in _batches(device, steps):
            lrs.append(float(opt.param_groups[0]["lr"]))
            opt.zero_grad()
            _loss(model, batch).backward()
            fn()
            if not together:
                sched.step()
        return lrs, model, int(counters["stats"]["unique_graphs"])

    torch._dynamo.reset()
    counters.clear()
    with torch._dynamo.config.patch(error_on_recompile=True):
        lrs, model, graphs = run(compiled=True)
    ref_lrs, ref, _ = run(compiled=False)
    torch._dynamo.reset()
    if graphs != 1:
        raise AssertionError(f"{graphs} graphs; expected 1")
    if lrs != ref_lrs:
        raise AssertionError("the compiled run's LRs differ from the uncompiled run's")
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
    return f"backend={backend}, {steps} steps: 1 graph, 0 recompiles, LRs exact"


def _check_resume(device: str, steps: int, backend: str) -> str:
    cut = steps // 2
    kw: dict[str, Any] = {"capturable": True} if device.startswith("cuda") else {}

    def build(model: torch.nn.Module) -> tuple[Any, Any]:
        opt = torch.optim.AdamW(model.parameters(), lr=torch.tensor(PEAK, device=device), **kw)
        return opt, WarmupScheduler(opt, SPEC, total_steps=TOTAL)

    def train(model: Any, opt: Any, sched: Any, batches: Sequence[Any]) -> list[float]:
        lrs = []
        for batch in batches:
            lrs.append(float(opt.param_groups[0]["lr"]))
            opt.zero_grad()
            _loss(model, batch).backward()
            opt.step()
            sched.step()
        return lrs

    batches = _batches(device, steps)
    ref = _model(device)
    want = train(ref, *build(ref), batches)
    model = _model(device)
    opt, sched = build(model)
    first = train(model, opt, sched, batches[:cut])
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
    for order in ("scheduler first", "optimizer state first"):
        buf.seek(0)
        state = torch.load(buf, weights_only=True, map_location=device)
        model2 = _model(device, seed=123)
        model2.load_state_dict(state["model"])
        if order == "scheduler first":
            opt2, sched2 = build(model2)
            opt2.load_state_dict(state["opt"])
        else:
            opt2 = torch.optim.AdamW(model2.parameters(), lr=torch.tensor(PEAK, device=device), **kw)
            opt2.load_state_dict(state["opt"])
            sched2 = WarmupScheduler(opt2, SPEC, total_steps=TOTAL)
        sched2.load_state_dict(state["sched"])
        got = first + train(model2, opt2, sched2, batches[cut:])
        if got != want:
            raise AssertionError(f"{order}: the resumed LRs differ from the uninterrupted run's")
        for p, q in zip(model2.parameters(), ref.parameters()):
            if not torch.equal(p, q):
                raise AssertionError(f"{order}: the resumed weights differ from the uninterrupted run's")
    return f"AdamW{'(capturable=True)' if kw else ''}, cut at {cut} of {steps}: LRs and weights identical, both orders"


def _check_monitor(device: str, steps: int, backend: str) -> str:
    from .monitor import Monitor

    model = _model(device)
    opt = torch.optim.AdamW(model.parameters(), lr=torch.tensor(PEAK, device=device))
    sched = WarmupScheduler(opt, SPEC, total_steps=TOTAL)
    rows = []
    with Monitor(model, opt, every=1, update_every=1, adam_every=1) as mon:
        for batch in _batches(device, steps):
            opt.zero_grad()
            loss = _loss(model, batch)
            loss.backward()
            opt.step()
            sched.step()
            row = mon.step(loss)
            if row is not None:
                rows.append(row)
    if len(rows) != steps:
        raise AssertionError(f"{len(rows)} rows for {steps} updates")
    bad = [
        (i, k, v)
        for i, row in enumerate(rows)
        for k, v in row.items()
        # the loss statistics (median, MAD, z) are NaN until the monitor has seen enough losses
        if isinstance(v, float) and not math.isfinite(v) and not k.startswith("loss_")
    ]
    if bad:
        raise AssertionError(f"non-finite cells: {bad[:3]}")
    return f"{len(rows)} rows, {len(rows[-1])} columns, finite"


def _check_guard(device: str, steps: int, backend: str) -> str:
    from .guard import SpikeGuard

    n = max(steps, 24)
    spike = n - 6
    model = _model(device)
    opt = torch.optim.AdamW(model.parameters(), lr=torch.tensor(PEAK, device=device))
    sched = WarmupScheduler(opt, SPEC, total_steps=TOTAL)
    guard = SpikeGuard(model, opt, sched, snapshot_every=5)
    for i, batch in enumerate(_batches(device, n)):
        opt.zero_grad()
        loss = _loss(model, batch) * (1e6 if i == spike else 1.0)
        loss.backward()
        guard.step(loss)
    kinds = [e["kind"] for e in guard.events]
    if kinds != ["spike"]:
        raise AssertionError(f"events {kinds}; expected one spike")
    for p in model.parameters():
        if p.device.type != torch.device(device).type or not torch.isfinite(p).all():
            raise AssertionError(f"a parameter is on {p.device} or not finite after the rollback")
    return f"{n} updates, the spike at {spike} rolled back, weights finite on {device}"


CHECKS: dict[str, Callable[[str, int, str], str]] = {
    "fused": lambda d, s, b: _check_fused_or_capturable(d, s, b, "fused"),
    "capturable": lambda d, s, b: _check_fused_or_capturable(d, s, b, "capturable"),
    "compile:opt_step": lambda d, s, b: _check_compile(d, s, b, together=False),
    "compile:opt_step_and_sched_step": lambda d, s, b: _check_compile(d, s, b, together=True),
    "resume": _check_resume,
    "monitor": _check_monitor,
    "guard": _check_guard,
}


def run_checks(device: str, steps: int, backend: str, out: Any = None) -> int:
    """Run every check; print one line each; 0 if none failed, else 1."""
    out = sys.stdout if out is None else out
    failed = 0
    for name, check in CHECKS.items():
        try:
            detail = check(device, steps, backend)
        except Skip as e:
            print(f"SKIP {name}: {e}", file=out)
        except Exception as e:  # a failed check is reported, and the others still run
            failed += 1
            where = traceback.extract_tb(e.__traceback__)[-1]
            print(f"FAIL {name}: {type(e).__name__}: {e} ({where.filename}:{where.lineno})", file=out)
        else:
            print(f"PASS {name}: {detail}", file=out)
        out.flush()
    total = len(CHECKS)
    print(f"gpu_check on {device}: {total - failed} of {total} checks did not fail", file=out)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m rampup.torch.gpu_check",
        description="Check WarmupScheduler on a CUDA GPU: fused/capturable Adam(W) with a tensor LR, both "
        "torch.compile patterns, resume, Monitor and SpikeGuard (a few minutes).",
    )
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: a dry run of the same checks")
    p.add_argument("--steps", type=int, default=30, help="optimizer updates per check (default 30)")
    p.add_argument("--backend", default=None, help="torch.compile backend (default: inductor on cuda, eager on cpu)")
    a = p.parse_args(argv)
    if a.steps < 4:
        p.error(f"--steps: got {a.steps}; accepted: an int >= 4")
    if a.device == "cuda" and not torch.cuda.is_available():
        print("SKIP gpu_check: no CUDA device (torch.cuda.is_available() is False); nothing was run")
        return 0
    backend = a.backend or ("inductor" if a.device == "cuda" else "eager")
    if a.device == "cuda":
        print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, backend={backend}")
    return run_checks(a.device, a.steps, backend)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
