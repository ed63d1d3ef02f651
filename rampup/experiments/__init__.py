"""Reference experiments: small, download-free reproductions of what the warmup literature claims.

Each experiment is a module with ``run(out, seeds, quick, workers, progress)``
that writes ``results.json``, ``report.md`` and PNG plots into ``out`` and
returns the results.  This package file imports nothing heavy, so the CLI can
list the experiments without torch; the modules themselves need torch and
matplotlib (E3/E4b also scikit-learn, for its bundled digits).

    rampup experiment e1 --seeds 3 --out experiment-output/e1

The layer also holds what is built on these experiments (it imports tools, the adapters and
the core, never the CLI): the training loops and their LR plans (``train``), the demo
(``demo``: ``rampup demo``), the auto-warmup comparison (``auto_compare``: ``rampup
auto-compare``, with its runs in ``auto_runs``) and the Monitor/AutoWarmup overhead bench on
the E1 model (``auto_bench``: ``rampup bench monitor``).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DEFAULT_SEEDS", "EXPERIMENTS", "run_experiment"]

# name -> (module, one-line description)
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "e1": ("e1", "Adam at a high LR needs warmup in Post-LN, much less in Pre-LN"),
    "e2": ("e2", "warmup lowers LR sensitivity (Wortsman et al. 2023 protocol)"),
    "e3": ("e3", "large-batch SGD needs gradual warmup (Goyal et al. 2017)"),
    "e4a": ("e4a", "warmup fraction sweep: loss spikes vs warmup length"),
    "e4b": ("e4b", "larger batch needs a longer warmup"),
    "e4c": ("e4c", "Adam's adaptive LR is high-variance in the first steps"),
    "e4d": ("e4d", "re-warmup helps fine-tuning with a fresh head or reset optimizer"),
    "e5": ("e5", "a wider model needs a longer warmup at the same peak LR; short warmups spike?"),
    "e6": ("e6", "Adafactor, Lion and GI-Adam reduce the need for warmup but do not remove it"),
    "e7": ("e7", "Pre-LN, DeepNorm, ReZero, Fixup: shorter warmup needed, rarely none"),
    "e8": ("e8", "no warmup: exploding attention logits; qk-layernorm removes most of the need"),
    "e9": ("e9", "weight decay co-scheduled with a long warmup (AdamW)"),
    "e10": ("e10", "the best fine-tuning warmup vs the size of the fine-tuning set"),
    "e11": ("e11", "mixed precision: a longer warmup vs a mis-scaled initial loss scale"),
}
DEFAULT_SEEDS = {"e4c": 5}  # a spread across seeds needs more than 3


def run_experiment(
    name: str, out: str, seeds: int | None = None, quick: bool = False, workers: int = 2, progress: bool = True
) -> dict[str, Any]:
    """Run experiment ``name``; ``seeds`` defaults to 3 (1 with ``quick``; E4c: 5, 2 with ``quick``)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment: got {name!r}; accepted: {', '.join(EXPERIMENTS)}")
    from .common import check_seeds, check_workers

    if seeds is None:
        seeds = (2 if name == "e4c" else 1) if quick else DEFAULT_SEEDS.get(name, 3)
    check_seeds(seeds)
    check_workers(workers)
    mod = importlib.import_module(f".{EXPERIMENTS[name][0]}", __name__)
    return mod.run(out, seeds=seeds, quick=quick, workers=workers, progress=progress)  # type: ignore[no-any-return]
