"""``rampup advise``: the empirical guidance on warmup, as checks with a citation each.

Every check reads a normalized description of the run (:class:`Setup`) and
returns :class:`Finding` s with a severity, the reason and a reference.  The
result (:class:`Advice`, a ``list[Finding]``) also carries a *suggested rampup
spec* that fixes the warmup findings and parses with :func:`rampup.parse`.

Severities:

* ``error`` — the configuration will not do what it says, or the literature
  reports failure for it (warmup longer than the run, a warmup that the
  scheduler ignores, no warmup for a Post-LN Transformer, no warmup at all in
  pretraining — RAdam's rectification counts as one).  ``rampup advise`` exits
  with status 1, so it can gate CI.
* ``warning`` — outside the range the guidance recommends (e.g. a pretraining
  warmup below 0.5 % of the run, an Adam warmup shorter than ``2/(1 − β2)``
  where that fits in 5 % of the run).  The length rules are reconciled in one
  place, :func:`~rampup.tools.advisor.lengths.length_range`; every suggested spec passes them.
* ``info`` — worth knowing (scaling rules, weight decay during warmup, …).

Inputs come from keyword arguments, a spec (whose warmup is read off the
resolved schedule's segments) or a config file (see :func:`read_config`).  A
value given twice with different values is an error, never a guess; a default
the advisor relies on (e.g. AdamW's β2 = 0.999) is listed in
``Advice.assumptions``.

>>> from rampup.tools.advisor import advise
>>> a = advise(total_steps=100_000, warmup=100, optimizer="adamw", beta2=0.95, task="pretrain")
>>> [(f.check, f.severity) for f in a]
[('pretrain-warmup-fraction', 'warning')]
>>> a.suggested_spec
'linear(2%) -> cosine(floor=0.1)'

The package, one idea per module (each imports only those above it)::

    inputs.py     the vocabulary (optimizers, precisions, ...), value checks, config files
    shapes.py     what a warmup shape is (gradual, holding, β2-derived), read off the core registries
    model.py      Setup (the run as the advisor sees it), Finding, Advice, REFERENCES
    lengths.py    the warmup-length rules, reconciled in one place (length_range)
    recommend.py  the suggested spec
    checks.py     the checks: one function each, registered with @check into CHECKS
    engine.py     advise(): inputs -> Setup -> CHECKS -> suggested spec
    cli.py        rampup advise

Where to add a check: :mod:`rampup.tools.advisor.checks` (its docstring says how).
"""

from __future__ import annotations

from .checks import CHECKS, LENGTH_CHECKS, check
from .cli import add_arguments, run_cli
from .engine import advise
from .inputs import (
    NORMS,
    OPTIMIZERS,
    PARALLELISMS,
    PRECISIONS,
    TASKS,
    WD_MODES,
    derive,
    normalize_optimizer,
    read_config,
)
from .lengths import LengthRange, length_range
from .model import REFERENCES, SEVERITIES, Advice, Finding, Setup
from .recommend import recommend

__all__ = [
    "CHECKS",
    "LENGTH_CHECKS",
    "NORMS",
    "OPTIMIZERS",
    "PARALLELISMS",
    "PRECISIONS",
    "REFERENCES",
    "SEVERITIES",
    "TASKS",
    "WD_MODES",
    "Advice",
    "Finding",
    "LengthRange",
    "Setup",
    "add_arguments",
    "advise",
    "check",
    "derive",
    "length_range",
    "normalize_optimizer",
    "read_config",
    "recommend",
    "run_cli",
]
