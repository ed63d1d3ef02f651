"""``rampup bench monitor``: the step-time cost of Monitor and AutoWarmup on the E1 model.

One E1 training step (Post-LN byte transformer, 4 layers, d_model 64, batch 16 × 64
bytes, AdamW) is timed in six variants, interleaved in rounds (one block of steps per
variant, the order rotated every round) so that a noisy neighbour hits all of them alike.
The overhead of a variant is the **median over rounds of its block time divided by the
plain block time of the same round, minus 1** (paired: drift between rounds cancels);
``step_ms`` is the median block mean:

* ``plain`` — ``WarmupScheduler`` only (the reference);
* ``monitor`` — plus ``Monitor(model, opt)`` as shipped: a row on every update, the
  relative update on every 4th (target: ≤ 3 %);
* ``monitor_update_every_1`` — plus ``Monitor(model, opt, update_every=1)`` (everything
  on every update);
* ``monitor_off`` — plus ``Monitor(..., enabled=False)`` (zero: nothing registered);
* ``auto_warming`` — ``AutoWarmup(method="update")`` inside its automatic phase, where
  it measures every update (target ≤ 5 %);
* ``auto_done`` — the same after the warmup ended (hooks removed).

Differences of whole-step medians are at the mercy of the machine's noise (a few %
on a shared 2-core box), so the bench also reports the **direct cost**: the time
spent inside the monitor's and the controller's own code (the step hooks,
``Monitor.step``, ``AutoWarmup.step``), measured with a timer around each call,
per step and as a percentage of the plain step.
"""

from __future__ import annotations

import platform
import statistics
import time
from typing import Any

__all__ = ["bench_monitor", "format_monitor"]


def bench_monitor(quick: bool = False) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from ..torch import auto as auto_mod
    from ..torch import monitor as monitor_mod
    from ..torch.auto import AutoWarmup
    from ..torch.monitor import Monitor
    from ..torch.scheduler import WarmupScheduler
    from .data import lm_batch_starts, load_corpus, windows
    from .models import TinyLM

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    spent = {"monitor": 0.0, "monitor_all": 0.0, "auto": 0.0}
    owner = {"which": ""}
    originals = [
        (monitor_mod.UpdateProbe, "_pre"),
        (monitor_mod.UpdateProbe, "_post"),
        (monitor_mod.Monitor, "step"),
        (auto_mod.AutoWarmup, "step"),
    ]
    saved = [(cls, name, getattr(cls, name)) for cls, name in originals]

    def timed(fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                if owner["which"]:
                    spent[owner["which"]] += time.perf_counter() - t0

        return wrapper

    for cls, name, fn in saved:  # before the objects exist: the hooks bind the timed methods
        setattr(cls, name, timed(fn))
    try:
        blocks, per_block = (3, 5) if quick else (40, 10)
        corpus = load_corpus()
        starts = lm_batch_starts(corpus.train.size, 64, 16, 64, 1234)
        data = [torch.from_numpy(windows(corpus.train, starts[i], 64)) for i in range(64)]

        def make(variant: str) -> tuple[Any, Any, Any, Any]:
            torch.manual_seed(0)
            model = TinyLM(post_ln=True)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.98))
            mon = None
            if variant.startswith("auto"):
                # A huge max_warmup keeps the controller in its automatic phase for the whole bench;
                # interval 8 is E1's (400 steps: the default envelope of 200 steps / 25 knots).
                sched: Any = AutoWarmup(opt, then="cosine(floor=0.1)", total_steps=10**6, max_warmup=10**5, interval=8)
                if variant == "auto_done":
                    sched = AutoWarmup(opt, then="cosine(floor=0.1)", total_steps=10**6, max_warmup=2, min_warmup=1)
            else:
                sched = WarmupScheduler(opt, "linear(100) -> cosine(floor=0.1)", total_steps=10**6)
                if variant == "monitor":
                    mon = Monitor(model, opt)
                elif variant == "monitor_update_every_1":
                    mon = Monitor(model, opt, update_every=1)
                elif variant == "monitor_off":
                    mon = Monitor(model, opt, enabled=False)
            return model, opt, sched, mon

        variants = ["plain", "monitor", "monitor_update_every_1", "monitor_off", "auto_warming", "auto_done"]
        state = {v: make(v) for v in variants}
        counters = dict.fromkeys(variants, 0)

        def run(v: str, n: int) -> float:
            model, opt, sched, mon = state[v]
            owner["which"] = {
                "monitor": "monitor",
                "monitor_update_every_1": "monitor_all",
                "auto_warming": "auto",
            }.get(v, "")
            t0 = time.perf_counter()
            for _ in range(n):
                w = data[counters[v] % len(data)]
                counters[v] += 1
                logits = model(w[:, :-1])
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if mon is not None:
                    mon.step(loss)
            return (time.perf_counter() - t0) / n

        for v in variants:  # warm-up: allocator, lazy init, the auto_done warmup ends here
            run(v, 3)
        spent.update(dict.fromkeys(spent, 0.0))
        times: dict[str, list[float]] = {v: [] for v in variants}
        ratios: dict[str, list[float]] = {v: [] for v in variants if v != "plain"}
        for b in range(blocks):
            order = variants[b % len(variants) :] + variants[: b % len(variants)]
            got = {v: run(v, per_block) for v in order}
            for v in variants:
                times[v].append(got[v])
                if v != "plain":
                    ratios[v].append(got[v] / got["plain"] - 1.0)
        med = {v: statistics.median(ts) * 1e3 for v, ts in times.items()}
        base = med["plain"]
        n_steps = blocks * per_block
        direct = {k: 1e3 * s / n_steps for k, s in spent.items()}
        auto_done = state["auto_done"][2]
        return {
            "bench": "monitor",
            "model": "E1 TinyLM Post-LN 4x64, batch 16x64, AdamW, 1 thread",
            "step_ms": med,
            "overhead_pct": {v: 100.0 * statistics.median(r) for v, r in ratios.items()},
            "overhead_iqr_pct": {
                v: (100.0 * statistics.quantiles(r, n=4)[0], 100.0 * statistics.quantiles(r, n=4)[2])
                if len(r) > 1
                else (100.0 * r[0], 100.0 * r[0])
                for v, r in ratios.items()
            },
            "direct_ms": direct,
            "direct_pct": {k: 100.0 * d / base for k, d in direct.items()},
            "auto_done_warmup_steps": auto_done.warmup_steps,
            "blocks": blocks,
            "steps_per_block": per_block,
            "targets_pct": {"monitor": 3.0, "auto_warming": 5.0},
            "python": platform.python_version(),
            "torch": torch.__version__,
            "machine": platform.machine(),
        }
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)
        torch.set_num_threads(threads)


def format_monitor(r: dict[str, Any]) -> str:
    lines = [
        f"rampup bench monitor — {r['model']} ({r['blocks']} rounds of {r['steps_per_block']} steps per "
        "variant; overhead = median over rounds of the paired ratio to plain, [interquartile range])"
    ]
    lines.append(f"  plain (WarmupScheduler)        : {r['step_ms']['plain']:8.2f} ms/step")
    labels = {
        "monitor": "Monitor() (as shipped)",
        "monitor_update_every_1": "Monitor(update_every=1)",
        "monitor_off": "Monitor(enabled=False)",
        "auto_warming": "AutoWarmup, automatic phase",
        "auto_done": "AutoWarmup, after the warmup",
    }
    for k, label in labels.items():
        tgt = r["targets_pct"].get(k)
        t = f"   (target <= {tgt:.0f} %)" if tgt is not None else ""
        lo, hi = r["overhead_iqr_pct"][k]
        lines.append(
            f"  {label:<31}: {r['step_ms'][k]:8.2f} ms/step  {r['overhead_pct'][k]:+6.1f} % [{lo:+.1f}, {hi:+.1f}]{t}"
        )
    lines.append(
        f"  direct cost (time inside rampup's code, % of the plain step): Monitor() "
        f"{r['direct_ms']['monitor']:.3f} ms = {r['direct_pct']['monitor']:.1f} %, update_every=1 "
        f"{r['direct_ms']['monitor_all']:.3f} ms = {r['direct_pct']['monitor_all']:.1f} %, AutoWarmup (automatic phase) "
        f"{r['direct_ms']['auto']:.3f} ms = {r['direct_pct']['auto']:.1f} %"
    )
    lines.append(f"  python {r['python']}, torch {r['torch']}, {r['machine']}")
    return "\n".join(lines)
