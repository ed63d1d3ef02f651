"""The `slow` marker: `make test-fast` (the inner loop, under a minute on 2 cores) runs the rest.

A test file is slow when it starts processes (pools, DDP, Ray, the CLI), imports a heavy framework
(jax, keras, composer), compiles (torch.compile), trains (the experiments) or draws hundreds of
hypothesis examples.  `make test` runs everything; CI runs `make test`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_FILES = {
    # processes: pools, DDP, Ray, subprocesses of the CLI
    "tools/test_pool.py",
    "tools/sweep/test_ray.py",
    "tools/sweep/test_bench.py",
    "tools/test_newcomer.py",
    "torch/test_ddp.py",
    "torch/test_auto_ddp.py",
    "torch/test_gpu_check.py",
    "core/test_cli.py",
    "test_docs.py",
    # heavy frameworks: jax, keras, composer, optax under jit
    "jax/test_optax.py",
    "jax/test_optax_parity.py",
    "jax/test_core_jax.py",
    "keras/test_keras.py",
    "compat/test_keras.py",
    "compat/test_optax.py",
    "compat/test_optax_jit.py",
    "compat/test_composer.py",
    # torch.compile, benchmarks, training
    "torch/test_compile.py",
    "torch/test_bench.py",
    "torch/test_docs.py",
    "torch/test_guard.py",
    # hundreds of hypothesis examples per test
    "core/test_grammar_properties.py",
    "core/test_hardening.py",
    "compat/test_specs.py",
}
SLOW_DIRS = {"experiments"}  # every experiment test trains a model

ROOT = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        if rel in SLOW_FILES or rel.split("/")[0] in SLOW_DIRS:
            item.add_marker(pytest.mark.slow)
