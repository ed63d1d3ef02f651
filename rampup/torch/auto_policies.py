r"""The policies of :class:`rampup.torch.AutoWarmup` (``method=``): how the next knot's level is decided.

* :class:`UpdateCap` (``"update"``) -- Kosson, Messmer & Jaggi 2024, arXiv:2410.23922: keep the
  relative update size ``‖Δw‖/‖w‖`` under a cap until it settles;
* :class:`AutoWU` (``"loss"``) -- Kim et al. 2021, arXiv:2107.05855: grow geometrically while the
  smoothed loss improves;
* :class:`Catapult` (``"catapult"``) -- Kalra & Barkeshli 2024, arXiv:2406.09405: grow until the
  loss catapults, hold until it recovers.

:data:`METHODS` maps each ``method=`` name to its class.  The controller (the envelope, the knots,
state and resume) is :mod:`rampup.torch.auto`.

>>> pol = METHODS["loss"](growth=2)
>>> pol.decide(0.1, {"loss": 3.0})
(0.2, 'smoothed loss improving (3): grow ×2')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .checks import number_in

__all__ = ["METHODS", "AutoWU", "Catapult", "Policy", "UpdateCap"]


# ---------------------------------------------------------------------------
# Policies: (level now, statistics of the last interval) -> target level, reason
# ---------------------------------------------------------------------------


class Policy:
    """A policy: from the level now and the statistics of the last interval, the target level and the reason.

    ``options`` maps each option to ``(default, lo, hi[, lo_open])``; :meth:`decide` may keep
    plain data in :attr:`state` (it is part of ``AutoWarmup.state_dict()``).
    """

    name = ""
    needs_loss = False
    needs_update = False
    # name -> (default, lo, hi[, lo_open]); lo is excluded unless lo_open=False; a None default = off
    options: dict[str, tuple[Any, ...]] = {}

    def __init__(self, **opts: Any) -> None:
        for k in opts:
            if k not in self.options:
                raise TypeError(
                    f"method={self.name!r}: unknown option {k!r}; accepted: {', '.join(self.options) or 'none'}"
                )
        self.opts: dict[str, Any] = {}
        for k, spec in self.options.items():
            default, lo, hi = spec[:3]
            lo_open = spec[3] if len(spec) > 3 else True
            v = opts.get(k, default)
            if v is None and default is not None:
                rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
                raise ValueError(f"{k} (method={self.name!r}): got None; accepted: a number in {rng}")
            self.opts[k] = None if v is None else number_in(v, f"{k} (method={self.name!r})", lo, hi, lo_open=lo_open)
        self.state: dict[str, Any] = {}

    def decide(self, level: float, stats: Mapping[str, float]) -> tuple[float, str]:
        raise NotImplementedError  # pragma: no cover


class UpdateCap(Policy):
    """Kosson et al. 2024: keep ‖Δw‖/‖w‖ under a cap (per unit peak LR) until it settles."""

    name = "update"
    needs_update = True
    options = {
        "max_update": (0.003, 0.0, 1.0),  # chosen from 0.003 / 0.005 by rampup auto-compare (docs/auto.md)
        "cap_ratio": (None, 0.0, 1.0),
        "settle": (0, 0.0, 1000.0, False),  # 0 = off
        "settle_tol": (0.1, 0.0, 1.0),
        "confirm": (2, 1.0, 100.0, False),
        "margin": (0.1, 0.0, 10.0, False),
    }

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        for k in ("settle", "confirm"):
            v = self.opts[k]
            if v is not None and v != int(v):
                lo = 0 if k == "settle" else 1
                raise ValueError(f"{k} (method='update'): got {v!r}; accepted: a whole number of intervals >= {lo}")

    def decide(self, level: float, stats: Mapping[str, float]) -> tuple[float, str]:
        q = stats.get("q", math.nan)
        st = self.state
        if not math.isfinite(q) or q <= 0.0:
            return level, "no update measured in this interval: hold"
        hist: list[float] = st.setdefault("q_hist", [])
        hist.append(q)
        if "q0" not in st:
            st["q0"] = q
        # The absolute cap (max_update, the default) makes a higher peak LR warm up longer; the
        # relative one (cap_ratio × the first interval's q) depends only on how the update size evolves.
        cap = self.opts["cap_ratio"] * st["q0"] if self.opts["cap_ratio"] is not None else self.opts["max_update"]
        n = int(self.opts["settle"])
        if n > 0 and len(hist) > n and abs(q - hist[-1 - n]) <= self.opts["settle_tol"] * hist[-1 - n]:
            return 1.0, (
                f"relative update per unit peak LR settled at q={q:.4g} (it changed by less than "
                f"{self.opts['settle_tol']:.0%} over {n} intervals)"
            )
        # Hysteresis, so that noise in q does not pull the LR off the slow envelope and back:
        # the level is set by the largest q of the last `confirm` intervals (of those measured so
        # far), and a level less than (1 + margin) x the envelope counts as the envelope.
        c = int(self.opts["confirm"])
        qc = max(hist[-c:])
        qname = "q" if c == 1 else f"q (the largest of the last {min(c, len(hist))} intervals)"
        if cap / qc >= 1.0:
            return 1.0, f"the peak LR keeps the relative update under the cap ({qname}={qc:.4g} <= cap={cap:.4g})"
        env = stats.get("envelope", 0.0)
        if env < cap / qc < (1.0 + self.opts["margin"]) * env:
            return env, (
                f"relative update capped: cap/{qname} = {cap:.4g}/{qc:.4g} = {cap / qc:.4g}, within "
                f"{self.opts['margin']:.0%} of the envelope linear(max_warmup): no faster than it"
            )
        return cap / qc, f"relative update capped: level = cap/{qname} = {cap:.4g}/{qc:.4g}"


class AutoWU(Policy):
    """Kim et al. 2021 (AutoWU): grow geometrically while the smoothed loss improves, else hold."""

    name = "loss"
    needs_loss = True
    options = {"growth": (1.5, 1.0, 100.0), "smooth": (3, 0.0, 1000.0), "tol": (0.0, -1.0, 1.0)}

    def decide(self, level: float, stats: Mapping[str, float]) -> tuple[float, str]:
        loss = stats.get("loss", math.nan)
        st = self.state
        hist: list[float] = st.setdefault("loss_hist", [])
        if not math.isfinite(loss):
            return level, "no finite loss in this interval: hold"
        hist.append(loss)
        k = int(self.opts["smooth"])
        smooth = sum(hist[-k:]) / len(hist[-k:])
        best = st.get("best")
        if best is None or smooth < best * (1.0 - self.opts["tol"]) or len(hist) <= 1:
            st["best"] = smooth if best is None else min(best, smooth)
            return level * self.opts["growth"], f"smoothed loss improving ({smooth:.4g}): grow ×{self.opts['growth']:g}"
        return level, f"smoothed loss stopped improving ({smooth:.4g} >= best {best:.4g}): hold"


class Catapult(Policy):
    """Kalra & Barkeshli 2024: grow until the loss catapults (jumps up), hold until it recovers."""

    name = "catapult"
    needs_loss = True
    options = {"growth": (1.5, 1.0, 100.0), "jump": (0.05, 0.0, 10.0)}

    def decide(self, level: float, stats: Mapping[str, float]) -> tuple[float, str]:
        loss = stats.get("loss", math.nan)
        st = self.state
        if not math.isfinite(loss):
            st["catapult"] = True
            return level, "non-finite loss: catapult, hold"
        ref = st.get("ref")
        if ref is None:
            st["ref"] = loss
            return level * self.opts["growth"], f"first loss {loss:.4g}: grow ×{self.opts['growth']:g}"
        if loss > ref * (1.0 + self.opts["jump"]):
            st["catapult"] = True
            return level, f"loss catapult: {loss:.4g} > {1 + self.opts['jump']:g} × {ref:.4g}: hold"
        st["catapult"] = False
        st["ref"] = min(ref, loss)
        return level * self.opts["growth"], f"no catapult (loss {loss:.4g}): grow ×{self.opts['growth']:g}"


METHODS: dict[str, type[Policy]] = {p.name: p for p in (UpdateCap, AutoWU, Catapult)}
