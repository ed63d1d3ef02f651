"""The one guard for optional dependencies: import it, or say which extra installs it.

>>> require("math", extra="plot", purpose="this example").sqrt(4.0)
2.0
>>> require("no_such_module_xyz", extra="plot", purpose="plotting")
Traceback (most recent call last):
ImportError: plotting needs no_such_module_xyz: pip install 'rampup[plot]'
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["pyplot", "require"]


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """``importlib.import_module(module)``, or an ImportError naming ``purpose`` and ``pip install 'rampup[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(f"{purpose} needs {top}: pip install 'rampup[{extra}]'") from exc


def pyplot(purpose: str = "plotting") -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (files only; no display is needed).

    ``force=False`` keeps a backend the user chose (a notebook's inline backend).
    """
    matplotlib = require("matplotlib", extra="plot", purpose=purpose)
    matplotlib.use("Agg", force=False)
    return require("matplotlib.pyplot", extra="plot", purpose=purpose)
