"""Drop-in equivalents of other libraries' schedules, as pure math (``prefix:name`` specs).

Importing this package registers every compat spec as a ``'whole'`` phase (the
``pw:`` warmups as modifiers), so ``rampup.parse("hf:cosine(num_warmup_steps=100,
num_training_steps=1000)")`` and ``rampup curve`` / ``plot`` / ``explain`` work on
them.  No framework is imported here: each spec is the library's formula
written once against the ``xp`` namespace of :mod:`rampup.core.backend`.
``docs/compat.md`` lists every spec, its step convention, its quirks and the
native spec that fixes them.
"""

from . import composer, fairseq, hf, keras_sched, optax_sched, pytorch_warmup, timm_sched, torch_sched  # noqa: F401

__all__: list[str] = []
