r"""``AutoWarmup``: a warmup whose length is decided online, from what the run measures.

No warmup length is given.  The controller starts where ``linear(max_warmup, start=…)``
starts (a fraction of each param group's peak LR) and, every ``interval`` optimizer
updates (a *knot*), decides
the level of the next knot from the statistics of the last interval; between knots
the LR is linear.  The warmup ends at the knot whose level is 1 (the peak); from
there the ``then`` schedule (e.g. ``cosine(floor=0.1)``) runs over the remaining
steps.  The curve actually used is therefore exactly

.. code-block:: text

    piecewise(steps=[k_0, …, k_m], values=[v_0, …, 1.0]) -> THEN

which :meth:`AutoWarmup.export_spec` returns: ``WarmupScheduler(opt, spec,
total_steps=…)`` repeats the run without the controller, bit for bit.

**Envelope.**  Whatever a policy asks, the level at every knot ``k`` stays between
two of rampup's own linear warmups, ``linear(n, start=start)`` (``start`` is where
the ramp starts, as there; default 0): it is never above ``linear(min_warmup)`` (never
faster than the shortest warmup allowed) and never below ``linear(max_warmup)`` (the
warmup always ends by ``max_warmup``), and it never decreases by itself.  The first
update, decided before anything is measured, uses the slow envelope's first value
``start + (1 − start)/max_warmup``; a level on the slow envelope is that warmup's
value, unrounded.  So where the measurements never allow more than the slowest
warmup, the curve *is* ``linear(max_warmup, start=start)`` (to the last bit or
within a unit in the last place between knots).

**Policies** (``method=``), each from the literature:

* ``"update"`` — cap the relative update size ``r = ‖Δw‖/‖w‖`` of the weight
  matrices until it settles (Kosson, Messmer & Jaggi 2024, arXiv:2410.23922: warmup
  works by keeping early updates, which are large relative to the weights, small).
  With ``q`` the relative update per unit of peak LR measured over the last interval
  (``r / level``), the next level is ``cap / q`` — the largest LR whose update stays
  under the cap.  By default ``cap = max_update = 0.003`` (each step may change the
  weight matrices by at most 0.3 % of their norm): a higher peak LR warms up longer,
  a low one hardly at all.  ``cap_ratio=c`` uses ``cap = c · q_0`` instead, a fraction
  of the first interval's ``q_0``, which does not depend on the LR's scale.  With ``settle=k`` the warmup
  also finishes, at the envelope's fastest rate, once ``q`` changed by less than
  ``settle_tol`` over ``k`` intervals.  Hysteresis against noise in ``q``: the level uses
  the largest ``q`` of the last ``confirm`` intervals (default 2), and a level less than
  ``1 + margin`` times the slow envelope (default 0.1) counts as the envelope.
* ``"loss"`` — AutoWU (Kim et al. 2021, arXiv:2107.05855): raise the LR
  geometrically (× ``growth`` per interval) while the smoothed training loss keeps
  improving; hold it while it does not.
* ``"catapult"`` — the loss catapult (Kalra & Barkeshli 2024, arXiv:2406.09405): raise
  the LR geometrically until the loss jumps above its running level (the catapult
  that marks the critical LR), hold until it has come back down, then continue.

**Consistency.**  Under ``torch.distributed`` (initialized, world size > 1) the
per-step statistics (loss sum and count, relative update) are summed across ranks
with one ``all_reduce`` per step *during the automatic phase only*, so every rank
takes the same decisions.  :meth:`state_dict` holds the whole controller state as
plain Python data; a run resumed from it in the middle of the automatic phase
continues bit-identically.  After the warmup the hooks are removed: the cost is
that of a closed-form scheduler.

**Visibility.**  :attr:`events` lists every decision (step, level, reason, the
statistics behind it); the end of the warmup is logged on the ``rampup.auto``
logger and described by :meth:`explain`.

Example (the ``update`` policy on a toy regression):

>>> import torch
>>> from rampup.torch import AutoWarmup
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> model = torch.nn.Linear(8, 1)
>>> opt = torch.optim.AdamW(model.parameters(), lr=0.05)
>>> sched = AutoWarmup(opt, "auto -> cosine(floor=0.1)", total_steps=200)
>>> x = torch.randn(64, 8); y = x.sum(1, keepdim=True)
>>> for _ in range(200):
...     loss = (model(x) - y).square().mean()
...     opt.zero_grad(); loss.backward(); opt.step()
...     sched.step(loss)
>>> sched.done, sched.warmup_steps <= 100
(True, True)
>>> sched.export_spec().startswith("piecewise(steps=[0, ")
True
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

import rampup
from rampup.core.backend import SCALAR
from rampup.core.phases import Knots as _Knots
from rampup.core.phases import Ramp as _Ramp
from rampup.core.shapes import w_linear
from rampup.core.units import Length, RunInfo

from .auto_policies import METHODS
from .auto_spec import auto_spec_parts
from .checks import number_in
from .groups import write_group_value
from .probe import UpdateProbe
from .stats import as_loss

__all__ = ["METHODS", "AutoWarmup"]

log = logging.getLogger("rampup.auto")

FORMAT = "rampup.torch.AutoWarmup/2"  # /2: start is the ramps' origin, as in linear(n, start=…)
DEFAULT_METHOD = "update"
# Fraction of total_steps: the slowest warmup the envelope allows.  50 % won the comparison in
# docs/auto.md (25 % was too short for the Post-LN E1 model at LR 1e-2, whose best fixed warmup is 50 %).
DEFAULT_MAX_WARMUP = 0.5
DEFAULT_MIN_WARMUP = 0.02  # fraction of total_steps: the fastest


def _round4(x: float) -> float:
    # Knot levels are written into the exported spec; 4 significant digits keep it readable
    # and, being rounded *before* use, cost nothing in exactness.
    return float(f"{x:.4g}")


def _round_within(x: float, lo: float, hi: float) -> float:
    """``x`` to 4 significant digits, nudged by one unit of the 4th digit to stay in ``[lo, hi]``."""
    r = _round4(x)
    if lo <= r <= hi:
        return r
    unit = 10.0 ** (math.floor(math.log10(abs(x))) - 3) if x > 0 else 1e-4
    r2 = _round4(r + unit) if r < lo else _round4(r - unit)
    return r2 if lo <= r2 <= hi else x


class AutoWarmup(LRScheduler):
    r"""A warmup decided online; then a fixed rampup schedule.  The LRScheduler protocol.

    Args:
        optimizer: a ``torch.optim.Optimizer``; each group's ``lr`` now is its peak.
        schedule: ``"auto -> THEN"`` or ``"auto(method=loss, growth=2) -> THEN"``; or give
            ``then=`` instead.
        then: the schedule after the warmup (decay phases, e.g. ``"cosine(floor=0.1)"``).
        total_steps: optimizer updates in the run (places the decay; resolves ``%``).
        method: ``"update"`` (default), ``"loss"`` or ``"catapult"`` (see the module doc).
        start: where the envelope's linear ramps start, as a fraction of the peak, as in
            ``linear(n, start=…)`` (default 0): the first update uses
            ``start + (1 − start)/max_warmup``.
        min_warmup, max_warmup: the envelope (steps or ``"2%"``): never faster than
            ``linear(min_warmup)``, always at the peak by ``max_warmup`` (defaults: 2 % and
            50 % of ``total_steps``, at least 1 and 2 steps; the default ``max_warmup`` is
            shortened when ``then`` needs its phases to start earlier, e.g. a ``multistep``
            milestone).
        interval: updates between decisions (default: ``max_warmup / 25`` rounded, >= 1).
        reduce: ``"auto"`` (all-reduce the statistics when ``torch.distributed`` is
            initialized with more than one process) or ``False``.
        announce: print one line on stderr when the warmup ends (rank 0 only; not when the
            ``rampup.auto`` logger already shows INFO); ``False`` (or ``sched.announce = False``)
            silences it.
        **options: options of the method (``max_update``, ``cap_ratio``, ``settle``,
            ``settle_tol``, ``confirm``, ``margin`` for ``update``; ``growth``, ``smooth``, ``tol`` for ``loss``;
            ``growth``, ``jump`` for ``catapult``).

    Call :meth:`step` after every ``optimizer.step()``; pass the loss (``step(loss)``) for
    the loss-based methods, or call :meth:`observe` with it before :meth:`step`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: str | None = None,
        *,
        then: str | None = None,
        total_steps: int | None = None,
        method: str | None = None,
        start: float = 0.0,
        min_warmup: int | str | None = None,
        max_warmup: int | str | None = None,
        interval: int | None = None,
        reduce: str | bool = "auto",
        announce: bool = True,
        **options: Any,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer: got {type(optimizer).__name__}; accepted: a torch.optim.Optimizer")
        kw: dict[str, Any] = {}
        if schedule is not None:
            if not isinstance(schedule, str):
                raise TypeError(f"schedule: got {type(schedule).__name__}; accepted: a string 'auto -> DECAY'")
            if then is not None:
                raise ValueError("schedule and then: give one of them (schedule='auto -> DECAY' or then='DECAY')")
            kw, then = auto_spec_parts(schedule)
        if then is None:
            raise TypeError("then: missing; accepted: the schedule after the warmup, e.g. then='cosine(floor=0.1)'")
        if not isinstance(then, str):
            raise TypeError(f"then: got {type(then).__name__}; accepted: a spec string such as 'cosine(floor=0.1)'")
        for k, v in kw.items():
            if k == "method":
                method = method if method is not None else v
            elif k in ("start", "min_warmup", "max_warmup", "interval"):
                raise ValueError(f"schedule: auto({k}=...): give {k}= as an argument of AutoWarmup")
            else:
                options.setdefault(k, v)
        method = DEFAULT_METHOD if method is None else method
        if method not in METHODS:
            raise ValueError(f"method: got {method!r}; accepted: {', '.join(repr(m) for m in METHODS)}")
        if total_steps is not None and (isinstance(total_steps, bool) or not isinstance(total_steps, int)):
            raise TypeError(f"total_steps: got {total_steps!r}; accepted: an int >= 1 or None")
        if total_steps is not None and total_steps < 1:
            raise ValueError(f"total_steps: got {total_steps!r}; accepted: an int >= 1 or None")
        if reduce not in ("auto", False):
            raise ValueError(f"reduce: got {reduce!r}; accepted: 'auto' or False")
        self.optimizer = optimizer
        if not isinstance(announce, bool):
            raise TypeError(f"announce: got {announce!r}; accepted: True or False")
        self.announce = announce
        self.then = then
        self.total_steps = total_steps
        self.method = method
        self.rewarms: list[dict[str, Any]] = []
        try:
            self.start = number_in(start, "start", 0.0, 1.0)
        except ValueError:
            self.start = math.nan
        if not self.start < 1.0:
            raise ValueError(f"start: got {start!r}; accepted: a number in [0, 1) (1 would leave nothing to warm up)")
        # The decay must parse behind a warmup: fail now, not when the warmup ends.
        probe = self._final_for([0], [1.0])
        if probe.spec.modifiers:
            raise ValueError(
                f"then: got {then!r} with modifiers ('| ...'); accepted: decay phases only (a modifier would "
                "multiply the automatic warmup too)"
            )
        run = RunInfo(total_steps, None, None)
        if max_warmup is None:
            if total_steps is None:
                raise ValueError(
                    f"max_warmup: needed when total_steps is not given (the default is {DEFAULT_MAX_WARMUP:.0%} of "
                    "total_steps); accepted: steps as an int"
                )
            self.max_warmup = self.longest_fit(max(2, round(DEFAULT_MAX_WARMUP * total_steps)))
        else:
            self.max_warmup = self._length(max_warmup, "max_warmup", run)
            if total_steps is not None and self.max_warmup >= total_steps:
                raise ValueError(
                    f"max_warmup: got {max_warmup!r} = {self.max_warmup} steps; accepted: fewer than "
                    f"total_steps={total_steps}"
                )
            if self.max_warmup > 1 and not self._fits(self.max_warmup):
                raise ValueError(
                    f"max_warmup: got {max_warmup!r} = {self.max_warmup} steps; a warmup that long does not fit "
                    f"before then={then!r}; accepted: a shorter max_warmup"
                )
        if min_warmup is None:
            default_min = round(DEFAULT_MIN_WARMUP * total_steps) if total_steps else 1
            min_warmup = max(1, min(self.max_warmup, default_min))
        self.min_warmup = self._length(min_warmup, "min_warmup", run)
        if self.min_warmup > self.max_warmup:
            raise ValueError(
                f"min_warmup: got {min_warmup!r} = {self.min_warmup} steps, more than max_warmup = "
                f"{self.max_warmup} steps; accepted: min_warmup <= max_warmup"
            )
        if interval is None:
            interval = max(1, round(self.max_warmup / 25))
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval: got {interval!r}; accepted: an int >= 1 (updates between decisions)")
        self.interval = interval
        self.policy = METHODS[method](**options)
        self._reduce = reduce
        self.base_lrs: list[float] = []  # type: ignore[assignment]
        for i, g in enumerate(optimizer.param_groups):
            base = g.get("rampup_base_lr", g["lr"])
            base = float(base.item()) if isinstance(base, Tensor) else float(base)
            if not (math.isfinite(base) and base >= 0):
                raise ValueError(f"optimizer.param_groups[{i}]['lr']: got {base!r}; accepted: a finite number >= 0")
            g["rampup_base_lr"] = base
            self.base_lrs.append(base)
        # Controller state (plain data: see state_dict).
        self.last_epoch = 0  # index of the next optimizer update
        self._step_count = 1
        self.knots: list[tuple[int, float]] = [(0, self._envelope(0, self.max_warmup))]
        self.next_knot: tuple[int, float] | None = None
        self.done = False
        self.warmup_steps: int | None = None  # the warmup's length once decided (last knot + 1)
        self.events: list[dict[str, Any]] = []
        self._acc = [0.0, 0.0, 0.0, 0.0]  # loss sum, loss count, q sum, q count (this interval)
        self._pending_loss: list[float] = []
        self._final: Any = None
        self._mods: Any = None
        # The relative update is measured on every `_stride`-th update (at least twice per interval):
        # its copy of the weights is the controller's main cost.  Which updates is a function of t
        # alone, so resumed and distributed runs measure the same ones.
        self._stride = max(1, self.interval // 2)
        self._probe: UpdateProbe | None = UpdateProbe(optimizer, grads=False) if self.policy.needs_update else None
        if self._probe is not None and self.last_epoch % self._stride == 0:
            self._probe.arm()
        if self.max_warmup == 1:
            # linear(1): the first update is already at the peak, before anything could be measured
            self.knots, self.next_knot = [], (0, 1.0)
            self._finish(0, "max_warmup = 1 step: the first update is at the peak")
        self._apply()

    def _envelope(self, k: int, n: int) -> float:
        """Level of ``linear(n, start=self.start)`` at update ``k``: the core's own formula."""
        return float(_Ramp(self.start, n, w_linear)(float(k), SCALAR))

    def _fits(self, n: int) -> bool:
        """Whether ``then`` still parses after a warmup of ``n`` steps."""
        try:
            self._final_for([0, n - 1] if n > 1 else [0], [0.5, 1.0] if n > 1 else [1.0])
        except ValueError:
            return False
        return True

    def longest_fit(self, m: int) -> int:
        """The longest warmup <= m steps after which ``then`` still parses (e.g. before a multistep milestone)."""
        if self._fits(m):
            return m
        lo, hi = 1, m  # _fits(1) holds (checked in the constructor), _fits(hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self._fits(mid) else (lo, mid)
        return max(lo, 2) if self._fits(max(lo, 2)) else 1

    @staticmethod
    def _length(value: Any, where: str, run: RunInfo) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TypeError(f"{where}: got {value!r}; accepted: steps as an int, or '2%'")
        n = Length.parse(value, where).to_steps(run, where)
        if n < 1:
            raise ValueError(f"{where}: got {value!r} = {n} steps; accepted: at least 1 step")
        return int(n)

    # ---- the curve ------------------------------------------------------------
    def _final_for(self, ks: list[int], vs: list[float]) -> Any:
        return rampup.parse(self._spec_for(ks, vs), total_steps=self.total_steps)

    def _spec_for(self, ks: list[int], vs: list[float]) -> str:
        steps = ", ".join(str(k) for k in ks)
        values = ", ".join(repr(v) for v in vs)
        return f"piecewise(steps=[{steps}], values=[{values}]) -> {self.then}{self._mods_text()}"

    def _mods_text(self) -> str:
        return "".join(
            f" | rewarm(at={r['at']}, length={r['length']}" + (f", start={r['start']!r})" if r["start"] else ")")
            for r in self.rewarms
        )

    def _multiple(self, t: int) -> float:
        """The LR of update ``t`` as a multiple of the peak."""
        if self._final is not None:
            return float(self._final(t))
        ks = [k for k, _ in self.knots]
        vs = [v for _, v in self.knots]
        if self.next_knot is not None:
            ks.append(self.next_knot[0])
            vs.append(self.next_knot[1])
        # Exactly the scalar formula of the exported piecewise(...) phase, then its modifiers in order.
        v = _Knots(tuple(float(k) for k in ks), tuple(vs))(float(t), SCALAR)
        if self._mods is not None:
            for m in self._mods.modifiers:
                v = v * m(float(t), SCALAR)
        return float(v)

    def _apply(self) -> None:
        m = self._multiple(self.last_epoch)
        lrs = []
        for base, g in zip(self.base_lrs, self.optimizer.param_groups):
            lr = base * m
            write_group_value(g, "lr", lr)  # a tensor LR keeps its identity
            lrs.append(lr)
        self._last_lr = lrs  # type: ignore[assignment]

    # ---- the LRScheduler protocol --------------------------------------------
    def get_last_lr(self) -> list[float]:  # type: ignore[override]
        return [float(x) for x in self._last_lr]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        m = self._multiple(self.last_epoch)
        return [float(b) * m for b in self.base_lrs]

    def observe(self, loss: Any) -> None:
        """Record the loss of the update just done (call before :meth:`step`); ignored after the warmup."""
        if not self.done:
            self._pending_loss.append(as_loss(loss))

    def step(self, loss: Any = None, epoch: None = None) -> None:  # type: ignore[override]
        """Advance one optimizer update (call after ``optimizer.step()``), deciding at knots."""
        if epoch is not None:
            raise TypeError(f"step: got epoch={epoch!r}; accepted: step() or step(loss)")
        if loss is not None:
            self.observe(loss)
        t = self.last_epoch  # the update just done
        if not self.done:
            self._collect(t)
            if self.next_knot is None or t == self.next_knot[0]:
                if self.next_knot is not None:
                    self.knots.append(self.next_knot)
                    self.next_knot = None
                self._decide(t)
        self.last_epoch = t + 1
        self._step_count += 1
        self._apply()

    # ---- measurement and decisions ----------------------------------------------
    def _collect(self, t: int) -> None:
        losses, self._pending_loss = self._pending_loss, []
        finite = [x for x in losses if math.isfinite(x)]
        q = math.nan
        probe = self._probe
        if probe is not None:
            last, probe.last = probe.last, None
            level = self._multiple(t)  # the level update t used
            if last is not None and level > 0:
                q = last["update_ratio_matrices"] / level
            if (t + 1) % self._stride == 0:
                probe.arm()
        local = [sum(finite), float(len(finite)), q if math.isfinite(q) else 0.0, 1.0 if math.isfinite(q) else 0.0]
        if self._distributed():
            import torch.distributed as dist

            buf = torch.tensor(local, dtype=torch.float64, device=self._device())
            dist.all_reduce(buf)
            local = buf.cpu().tolist()
        for i in range(4):
            self._acc[i] += local[i]

    def _distributed(self) -> bool:
        if self._reduce is False:
            return False
        import torch.distributed as dist

        return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1

    def _device(self) -> torch.device:
        import torch.distributed as dist

        if dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def _decide(self, t: int) -> None:
        """At knot ``t`` (its update just done): choose the level of the next knot."""
        ls, ln, qs, qn = self._acc
        self._acc = [0.0, 0.0, 0.0, 0.0]
        k_next = min(t + self.interval, self.max_warmup - 1)
        lo = self._envelope(k_next, self.max_warmup)
        hi = self._envelope(k_next, self.min_warmup)
        stats = {"loss": ls / ln if ln else math.nan, "q": qs / qn if qn else math.nan, "envelope": lo}
        level = self.knots[-1][1]
        if self.policy.needs_loss and ln == 0:
            # One decision without a loss is allowed (a framework that reports the loss one step late,
            # e.g. Lightning's on_train_batch_end); after that it is a missing argument.
            if len(self.events) >= 1 and not any("loss" in e for e in self.events):
                raise ValueError(
                    f"AutoWarmup(method={self.method!r}) needs the training loss: call step(loss) (or "
                    "observe(loss) before step()) after every optimizer.step()"
                )
            target, reason = level, "no loss observed in this interval: hold"
        else:
            target, reason = self.policy.decide(level, stats)
        v = min(max(target, lo, level), hi, 1.0)
        why = reason
        if v == lo and lo > max(target, level):
            why = f"{reason}; raised to the envelope linear({self.max_warmup}) (max_warmup)"
        elif v == level and level > max(target, lo):
            why = f"{reason}; held at {level:.4g} (a level never falls)"
        elif v == hi and hi < target:
            why = f"{reason}; limited to the envelope linear({self.min_warmup}) (min_warmup)"
        if v < 1.0 and v not in (lo, hi, level):
            # A policy's own level: 4 digits keep the exported spec readable.  An envelope's
            # level stays exact, so that a run held on linear(max_warmup) is that warmup.
            v = _round_within(v, max(lo, level), min(hi, 1.0))
        self.next_knot = (k_next, v)
        ev = {"step": t, "next_step": k_next, "level": level, "next_level": v, "reason": why}
        ev.update({k: x for k, x in stats.items() if math.isfinite(x)})
        self.events.append(ev)
        if v == 1.0:
            self._finish(k_next, why)

    def _finish(self, k_end: int, why: str) -> None:
        assert self.next_knot is not None
        self.knots.append(self.next_knot)
        self.next_knot = None
        self._final = self._final_for([k for k, _ in self.knots], [v for _, v in self.knots])
        self.done = True
        self.warmup_steps = k_end + 1
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        msg = f"auto warmup ({self.method}) ends at step {k_end} ({k_end + 1} warmup steps): {why}"
        self.events.append({"step": k_end, "event": "warmup_end", "warmup_steps": k_end + 1, "reason": why})
        log.info("%s; export: %s", msg, self.export_spec())
        if self.announce and not (log.isEnabledFor(logging.INFO) and log.hasHandlers()) and self._rank0():
            # Visible without configuring logging: a warmup that silently ended is the question users ask.
            print(f"rampup: {msg} (AutoWarmup(announce=False) silences this line)", file=sys.stderr)

    @staticmethod
    def _rank0() -> bool:
        dist = torch.distributed
        return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0

    # ---- results ----------------------------------------------------------------
    def export_spec(self) -> str:
        """The fixed spec that reproduces the LR curve used (after the warmup has ended).

        ``WarmupScheduler(opt, sched.export_spec(), total_steps=sched.total_steps)``
        gives the same LR at every step, bit for bit.
        """
        if not self.done:
            raise ValueError(
                f"export_spec: the automatic warmup has not ended yet (step {self.last_epoch}, level "
                f"{self._multiple(self.last_epoch):.4g}); call it after the warmup (AutoWarmup.done is True)"
            )
        return self._spec_for([k for k, _ in self.knots], [v for _, v in self.knots])

    def explain(self) -> str:
        """When and why the warmup ended, in words, with the exported spec."""
        head = (
            f"AutoWarmup(method={self.method!r}, start={self.start}, "
            f"envelope linear({self.min_warmup})..linear({self.max_warmup}))"
        )
        if not self.done:
            return f"{head}: still warming up at step {self.last_epoch} (level {self._multiple(self.last_epoch):.4g})"
        end = next(e for e in self.events if e.get("event") == "warmup_end")
        return (
            f"{head}: warmup ended at step {end['step']} ({end['warmup_steps']} steps) because {end['reason']}.\n"
            f"Reproduce without the controller: {self.export_spec()}"
        )

    # ---- fine-tuning / spike recovery ------------------------------------------
    def rewarm(self, length: int | str, start: float = 0.0, shape: str = "linear") -> None:
        """Multiply the LR by a ramp from ``start`` to 1 over ``length`` updates from the next update.

        The same modifier as :meth:`WarmupScheduler.rewarm`; it appears in :meth:`export_spec`
        as ``| rewarm(at=…, length=…, start=…)``.  During the automatic phase the controller
        keeps deciding; its measured ``q`` accounts for the lowered LR.
        """
        if shape != "linear":
            raise ValueError(f"shape: got {shape!r}; accepted: 'linear'")
        n = self._length(length, "length", RunInfo(self.total_steps, None, None))
        s = number_in(start, "start", 0.0, 1.0)
        self.rewarms.append({"at": self.last_epoch, "length": n, "start": s})
        self._rebuild_mods()
        self._apply()

    def _rebuild_mods(self) -> None:
        self._mods = rampup.parse(f"constant{self._mods_text()}", total_steps=None) if self.rewarms else None
        if self.done:
            self._final = self._final_for([k for k, _ in self.knots], [v for _, v in self.knots])

    # ---- checkpoints ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The whole controller state as plain data (JSON- and ``torch.load(weights_only=True)``-safe)."""
        return {
            "format": FORMAT,
            "plan": self._plan(),
            "last_epoch": self.last_epoch,
            "knots": [[k, v] for k, v in self.knots],
            "next_knot": None if self.next_knot is None else list(self.next_knot),
            "done": self.done,
            "warmup_steps": self.warmup_steps,
            "events": [dict(e) for e in self.events],
            "rewarms": [dict(r) for r in self.rewarms],
            "acc": list(self._acc),
            "pending_loss": list(self._pending_loss),
            "policy": _plain(self.policy.state),
            "base_lrs": list(self.base_lrs),
        }

    def _plan(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "options": dict(self.policy.opts),
            "then": self.then,
            "total_steps": self.total_steps,
            "start": self.start,
            "min_warmup": self.min_warmup,
            "max_warmup": self.max_warmup,
            "interval": self.interval,
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the plan (method, options, then, lengths) must be the same."""
        if isinstance(state_dict, Mapping) and state_dict.get("format") == "rampup.torch.AutoWarmup/1":
            raise ValueError(
                "load_state_dict: got a rampup.torch.AutoWarmup/1 state; accepted: /2. In /2 `start` is where the "
                "envelope's ramps start, as in linear(n, start=…), so a /1 run cannot be continued exactly; "
                "finish it with the rampup version that wrote it, or reproduce its curve with the exported spec"
            )
        if not isinstance(state_dict, Mapping) or state_dict.get("format") != FORMAT:
            raise ValueError(
                f"load_state_dict: got {str(state_dict)[:80]!r}; accepted: the state_dict() of an AutoWarmup ({FORMAT})"
            )
        saved, mine = state_dict["plan"], self._plan()
        diffs = [f"{k}: saved {saved.get(k)!r}, new {v!r}" for k, v in mine.items() if saved.get(k) != v]
        if diffs:
            raise ValueError("load_state_dict: the saved plan differs from this AutoWarmup's:\n  " + "\n  ".join(diffs))
        self.last_epoch = int(state_dict["last_epoch"])
        self.knots = [(int(k), float(v)) for k, v in state_dict["knots"]]
        nk = state_dict["next_knot"]
        self.next_knot = None if nk is None else (int(nk[0]), float(nk[1]))
        self.done = bool(state_dict["done"])
        self.warmup_steps = state_dict["warmup_steps"]
        self.events = [dict(e) for e in state_dict["events"]]
        self.rewarms = [dict(r) for r in state_dict["rewarms"]]
        self._acc = [float(x) for x in state_dict["acc"]]
        self._pending_loss = [float(x) for x in state_dict["pending_loss"]]
        self.policy.state = _plain(state_dict["policy"])
        self.base_lrs = [float(b) for b in state_dict["base_lrs"]]
        for g, b in zip(self.optimizer.param_groups, self.base_lrs):
            g["rampup_base_lr"] = b
        self._final = None
        self._rebuild_mods()
        if self.done:
            self._final = self._final_for([k for k, _ in self.knots], [v for _, v in self.knots])
            if self._probe is not None:
                self._probe.close()
                self._probe = None
        elif self.policy.needs_update and self._probe is None:
            self._probe = UpdateProbe(self.optimizer, grads=False)
        if self._probe is not None:
            self._probe.last = None
            self._probe.armed = self.last_epoch % self._stride == 0
        self._apply()

    def close(self) -> None:
        """Remove the optimizer hooks (done automatically when the warmup ends)."""
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def __repr__(self) -> str:
        state = f"done, {self.warmup_steps} warmup steps" if self.done else f"warming up, step {self.last_epoch}"
        return f"AutoWarmup(method={self.method!r}, then={self.then!r}, total_steps={self.total_steps}; {state})"


def _plain(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    return float(x)
