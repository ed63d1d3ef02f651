"""The ``script`` fixture for every test of tools/sweep."""

from tests.tools.sweep.scripts import script

__all__ = ["script"]
