"""A synthetic train function for docs, tests and benchmarks: a closed-form response surface, not a
measurement."""

from __future__ import annotations

import math
import time
from typing import Any

__all__ = ["synthetic_train"]


def synthetic_train(config: dict[str, Any]) -> dict[str, Any]:
    """A stand-in for a training run — **synthetic**, not a measurement.

    A closed-form response surface with the shape the warmup literature reports:
    a loss penalty for short warmups that grows with the peak LR (spikes; below
    ~0.2 % of the run one seed in three "collapses" at high LR), a small cost for
    long warmups (updates spent below the peak), an optimal LR that moves up with
    warmup (Wortsman et al. 2023), and seed noise.  It resolves ``config["spec"]``
    with ``rampup.parse`` to read the warmup length, so it exercises the same path
    as a real run.  ``config["work_s"]`` (default 0) burns that many CPU-seconds
    (pure Python: one thread), for benchmarks.

    >>> round(synthetic_train({"spec": "linear(2%) -> cosine", "total_steps": 1000, "seed": 0})["loss"], 3)
    2.276
    """
    import numpy as np

    from ... import parse

    total = int(config.get("total_steps") or 1000)
    sched = parse(config["spec"], total_steps=total)
    f = sched.warmup_steps / total
    lr = float(config.get("peak_lr") or 1e-2)
    rng = np.random.default_rng([int(config.get("seed", 0)), sched.warmup_steps, round(lr * 1e9)])
    s = lr / 1e-2
    spike = 0.6 * s * math.exp(-f / 0.003)
    collapse = 0.9 if (f < 0.002 and s >= 1.0 and rng.random() < 1 / 3) else 0.0
    best_log_lr = math.log10(1e-2) + 0.3 * min(f / 0.02, 1.0)
    lr_term = 0.15 * (math.log10(lr) - best_log_lr) ** 2
    loss = min(2.25 + spike + collapse + 0.6 * f + lr_term + 0.01 * float(rng.normal()), math.log(256))
    work = float(config.get("work_s", 0.0))
    if work > 0:
        t0 = time.process_time()
        x = 0.0
        while time.process_time() - t0 < work:
            for i in range(2000):
                x += i * 1e-9
    return {"loss": loss, "warmup_steps": sched.warmup_steps, "spike": spike, "collapsed": collapse > 0}
