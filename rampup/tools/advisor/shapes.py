"""What the advisor knows about warmup shapes, read off the core's registries (never a list of names)."""

from __future__ import annotations

from ...core import WARMUPS

__all__ = ["ramps_from_start"]


def ramps_from_start(shape: str | None) -> bool:
    """A registered warmup that rises gradually from a ``start=`` level (linear, cosine, poly, exponential, ...)."""
    return shape in WARMUPS and shape != "constant" and "start" in WARMUPS[shape].params
