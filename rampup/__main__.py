"""``python -m rampup …`` is the ``rampup`` command (for environments whose scripts are not on PATH)."""

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in tests/test_docs.py
    sys.exit(main())
