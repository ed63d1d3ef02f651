r"""Loss statistics: a running median, MAD and robust z-score of the training loss.

:class:`LossStats` is what :class:`rampup.torch.Monitor` reports as ``loss_median``,
``loss_mad`` and ``loss_z`` and what :class:`rampup.torch.SpikeGuard` tests a loss
against; :func:`as_loss` reads a loss (a number or a 1-element tensor) as a float.

>>> as_loss(2.5), LossStats(window=3).window
(2.5, 3)
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping
from typing import Any

from torch import Tensor

from .checks import check_int

__all__ = ["MAD_TO_SIGMA", "LossStats", "as_loss", "median"]

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


def as_loss(loss: Any, where: str = "loss") -> float:
    """A loss as a Python float: a number, or a 1-element tensor (read with one ``.item()``)."""
    if isinstance(loss, Tensor):
        if loss.numel() != 1:
            raise ValueError(f"{where}: got a tensor of shape {tuple(loss.shape)}; accepted: a scalar (1 element)")
        return float(loss.detach().reshape(()).item())
    if isinstance(loss, bool) or not isinstance(loss, (int, float)):
        raise TypeError(f"{where}: got {loss!r} ({type(loss).__name__}); accepted: a number or a 1-element tensor")
    return float(loss)


class LossStats:
    """Running median, MAD and robust z-score of the last ``window`` finite losses.

    ``z(x) = (x − median) / (1.4826·MAD + tiny)``; ``tiny = 1e-12·max(1, |median|)`` keeps a
    flat window from dividing by zero.  Non-finite values are never added.  State is plain
    data (:meth:`state_dict`), so a resumed run computes the same z-scores.

    >>> s = LossStats(window=5)
    >>> for x in [1.0, 1.1, 0.9, 1.0, 1.05]:
    ...     s.add(x)
    >>> round(s.median, 3), round(s.z(2.0), 1)
    (1.0, 13.5)
    """

    def __init__(self, window: int = 50) -> None:
        self.window = check_int(window, "window", 3)
        self.values: collections.deque[float] = collections.deque(maxlen=window)

    def add(self, x: float) -> None:
        if math.isfinite(x):
            self.values.append(float(x))

    def __len__(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return median(self.values) if self.values else math.nan

    @property
    def mad(self) -> float:
        return self.summary(math.nan)[1]

    def summary(self, x: float) -> tuple[float, float, float]:
        """``(median, mad, z(x))`` in one pass over the window (the monitor's per-row call)."""
        if not self.values:
            return math.nan, math.nan, math.nan
        m = median(self.values)
        mad = median([abs(v - m) for v in self.values])
        if len(self.values) < 3:
            z = math.nan
        elif not math.isfinite(x):
            z = math.inf
        else:
            z = (x - m) / (MAD_TO_SIGMA * mad + 1e-12 * max(1.0, abs(m)))
        return m, mad, z

    def z(self, x: float) -> float:
        """Robust z-score of ``x`` against the window (NaN while the window has < 3 values)."""
        return self.summary(x)[2]

    def state_dict(self) -> dict[str, Any]:
        return {"window": self.window, "values": list(self.values)}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        self.window = check_int(sd["window"], "window", 3)
        self.values = collections.deque((float(v) for v in sd["values"]), maxlen=self.window)


def median(xs: Iterable[float]) -> float:
    """The median of ``xs`` (the mean of the two middle values for an even count)."""
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
