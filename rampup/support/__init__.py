"""The lowest layer: helpers every other layer may use (standard library and NumPy only).

- :mod:`rampup.support.io`: atomic file output (a crash or a full disk never leaves a
  half-written file), durable renames, and the one JSON sanitizer.
- :mod:`rampup.support.optional`: the one guard for optional dependencies (matplotlib,
  torch, ...), with the ``pip install 'rampup[extra]'`` hint in its error.

Nothing here imports another part of rampup (CI checks it; see docs/architecture.md).
"""
