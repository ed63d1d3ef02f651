"""The one guard for optional dependencies: import it, or say which extra installs it.

>>> require("math", extra="plot", purpose="this example").sqrt(4.0)
2.0
>>> require("no_such_module_xyz", extra="plot", purpose="plotting")
Traceback (most recent call last):
ImportError: plotting needs no_such_module_xyz: pip install 'rampup[plot]'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from types import ModuleType
from typing import Any

__all__ = ["import_skipping_package_init", "pyplot", "require"]


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


def import_skipping_package_init(package: str, submodule: str) -> ModuleType:
    """``package.submodule`` imported without running ``package/__init__.py``.

    timm's package ``__init__`` imports torchvision (which does not import beside every torch build),
    while ``timm.scheduler`` needs only torch and NumPy: a bare package module with the installed
    package's ``__path__`` lets the submodule import.  Used only where rampup compares itself with
    such a package (benchmarks, parity tests); a package already imported is used as it is.
    """
    if package not in sys.modules:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{package} is not installed")
        bare = types.ModuleType(package)
        bare.__path__ = list(spec.submodule_search_locations)
        sys.modules[package] = bare
    return importlib.import_module(f"{package}.{submodule}")
