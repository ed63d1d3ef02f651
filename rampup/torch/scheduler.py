r"""``WarmupScheduler``: a rampup schedule driving a PyTorch optimizer's param groups.

The scheduler is a closed form of one integer, the step: after ``k`` calls of
:meth:`WarmupScheduler.step` (``last_epoch == k``), param group ``i`` has

.. math::

    \mathrm{lr}_i = \mathrm{peak}_i \cdot m_i(k), \qquad \mathrm{peak}_i = \mathrm{base\_lr}_i \cdot \mathrm{lr\_mult}_i

where ``base_lr_i`` is the group's own ``lr`` when the scheduler was built (its
peak LR, recorded once in ``group["rampup_base_lr"]``) and ``m_i`` is the
group's schedule as a multiple of the peak (``rampup.parse(spec)`` without
``peak_lr``).  ``m(k)`` is the LR of optimizer update ``k + 1``: the LR set by
the constructor (``k = 0``) is the one the first ``optimizer.step()`` uses, and
``scheduler.step()`` is called after each ``optimizer.step()``, as with every
PyTorch scheduler.  Nothing else is state: a checkpoint is the step plus the
plan (specs as plain dicts, per-group peaks), and resuming from it reproduces
the uninterrupted LR sequence bit for bit.

Unlike ``torch.optim.lr_scheduler``, construction does not wrap
``optimizer.step``, ``step()`` never warns about call order (a step skipped by
``GradScaler`` is fine), ``state_dict()`` is plain data (no ``__dict__``, no
lambdas) and loading a checkpoint written with a different plan raises a
``ValueError`` naming the difference instead of letting either plan win
silently.

Reference for the state model it avoids: PyTorch issue 20124 (the
"``lr_scheduler.step()`` before ``optimizer.step()``" warning) and the
``LRScheduler.state_dict`` docs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

import rampup
from rampup import Schedule, Spec
from rampup import compat as _compat  # noqa: F401  (registers hf:/torch:/timm: specs for Spec.from_dict)
from rampup.core.resolve import RUN_KEYS, SpecLike, resolve_multiples, schedule_from_dict

from .auto_spec import is_auto_spec
from .checks import as_float, check_choice, is_number
from .groups import write_group_value
from .scheduler_state import (
    FORMAT,
    POLICIES,
    POLICY_HELP,
    WEIGHT_DECAY_MODES,
    GroupPlan,
    describe_optional,
    describe_plan,
    diff_schedule,
    parse_state,
)

__all__ = ["FORMAT", "POLICIES", "WEIGHT_DECAY_MODES", "WarmupScheduler"]

# step() reads the schedule from blocks of _BLOCK steps, each evaluated in one vectorized call:
# ~0.07 µs per step amortized instead of ~1 µs per scalar call (NumPy ufunc dispatch).
_BLOCK = 2048
try:  # Dynamo's frame callback: None (or False) outside torch.compile
    from torch._C._dynamo.eval_frame import get_eval_frame_callback as _compile_callback
except ImportError:  # pragma: no cover  (a torch without Dynamo)

    def _compile_callback() -> Any:  # type: ignore[misc]
        return None


_NO_CALLBACK = (None, False)


class _WarmupFactor:
    """The warmup part of a schedule: its leading warmup segments times its modifiers (rewarm, radam, ...).

    ``w(t) = b(t) · M(t)`` with ``b`` the schedule without modifiers while ``t`` is
    inside the leading segments whose role is ``warmup`` (1 afterwards) and ``M``
    the product of the modifiers; both are evaluated by the core, ``t`` clipped to
    the schedule's last step as the schedule itself does.
    """

    __slots__ = ("mods", "nomod", "t_last", "warm_end")

    def __init__(self, sched: Schedule) -> None:
        spec, run = sched.spec, sched.run
        kw = {k: getattr(run, k) for k in RUN_KEYS}
        end = 0
        for seg in sched.segments:
            if seg.role != "warmup":
                break
            end = int(seg.end_step)
        self.warm_end = end
        self.nomod = Spec(spec.warmup, spec.decay, ()).resolve(**kw) if end > 0 else None
        self.mods = Spec(None, (rampup.decay.constant(),), spec.modifiers).resolve(**kw) if spec.modifiers else None
        self.t_last = sched.end_step - 1

    def __call__(self, t: float) -> float:
        t = min(t, self.t_last) if self.t_last != math.inf else t
        v = self.nomod(t) if self.nomod is not None and t < self.warm_end else 1.0
        if self.mods is not None:
            v *= self.mods(t)
        return float(v)


# ---------------------------------------------------------------------------
# The scheduler
# ---------------------------------------------------------------------------


class WarmupScheduler(LRScheduler):
    r"""Set every param group's LR to its own peak times a rampup schedule of the step.

    After ``k`` calls of :meth:`step`, group ``i`` has ``lr = base_lr_i · lr_mult_i · m_i(k)``
    (``m`` is the schedule as a multiple of the peak; ``m(k)`` is the LR of optimizer update
    ``k + 1``).  Call :meth:`step` once after every ``optimizer.step()``.

    Args:
        optimizer: a ``torch.optim.Optimizer``.  Each group's ``lr`` when the scheduler is
            built is its peak (``base_lr``), recorded in ``group["rampup_base_lr"]`` (and
            ``group["rampup_uses_optimizer_lr"]``: whether the group took the optimizer's
            ``lr=``).  A group that already carries that record (an optimizer state loaded
            before the scheduler was built, or a second scheduler) takes today's
            ``optimizer.defaults["lr"]`` if it took the optimizer's ``lr=``, else the recorded
            peak; so a changed ``lr=`` is seen by :meth:`load_state_dict` in either build
            order.  Float LRs stay Python floats; tensor LRs are updated in place with
            ``fill_`` (same tensor object).
        schedule: a spec string (``"linear(2%) -> cosine(floor=0.1)"``), a spec dict, a
            :class:`rampup.Spec`, or a :class:`rampup.Schedule` built without ``peak_lr``.
            Levels are fractions of each group's peak (``floor=0.1``); absolute levels
            (``floor_lr=``) are rejected because every group has its own peak.
        total_steps, steps_per_epoch, tokens_per_step: resolve ``%``, ``ep`` and ``tok``
            lengths (number of optimizer updates of the run, updates per epoch, tokens per
            update).
        group_schedules: one entry per param group present now: ``None`` (the main schedule)
            or that group's own spec (e.g. the head warms up, the backbone does not).
        lr_mult: one multiplier per param group present now (``peak = base_lr · lr_mult``);
            default 1.  :func:`rampup.torch.layerwise_lr_decay` builds groups whose ``lr``
            already carries the layer-wise factor.
        weight_decay: ``"none"`` (default, never touched), ``"warmup"`` (``weight_decay`` is
            scaled by the warmup factor only: the leading warmup segments and the modifiers
            such as ``rewarm``/``radam``; 1 after the warmup) or ``"lr"`` (scaled by
            ``lr / peak = m(k)``, as in decoupled-AdamW recipes).  The group's own value when
            the scheduler is built is the base (``group["rampup_base_weight_decay"]``).
        momentum: ``None`` or a second spec whose multiple of the peak scales each group's
            ``betas[0]`` (Adam family) or ``momentum`` (SGD); the group's own value is the
            base (``group["rampup_base_momentum"]``).
        on_mismatch: what :meth:`load_state_dict` does when the saved plan differs from this
            one: ``"error"`` (default: ``ValueError`` naming the differences),
            ``"keep_saved"``, ``"use_new"`` or ``"replan"`` (see :meth:`load_state_dict`).
        last_step: index of the last optimizer update already done, as in PyTorch's
            ``last_epoch``: ``-1`` (default) for a fresh run; ``499`` after 500 updates, so
            that the next update uses ``m(500)``.

    A schedule whose warmup is ``auto`` or ``auto(...)`` (``"auto -> cosine(floor=0.1)"``), a
    warmup decided online, is a :class:`rampup.torch.AutoWarmup`: build it with
    :func:`rampup.torch.make_scheduler` (which returns a ``WarmupScheduler`` for a fixed spec and an
    ``AutoWarmup`` for an automatic one) or ``AutoWarmup(...)``; ``WarmupScheduler`` raises
    ``ValueError`` for it.

    Groups added later with ``optimizer.add_param_group`` are picked up at the next
    :meth:`step` (or :meth:`rewarm`): their own ``lr`` is their peak and they follow the
    main schedule from the current step.

    The step counter is ``last_epoch`` (PyTorch's name): the number of :meth:`step`
    calls, i.e. the index ``k`` of the next optimizer update.

    Example (two groups, each with its own peak; a 4-step linear warmup to the peak, then
    a linear decay to 0.1 of the peak at the last of 10 updates):

    >>> import torch
    >>> from rampup.torch import WarmupScheduler
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> b = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.SGD([{"params": [w], "lr": 1.0}, {"params": [b], "lr": 0.1}])
    >>> sched = WarmupScheduler(opt, "linear(4) -> linear(floor=0.1)", total_steps=10)
    >>> lrs = []
    >>> for _ in range(10):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 4))  # the LR this update uses
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1]
    >>> [round(x, 4) for x in sched.get_last_lr()]  # past the end the last value is held
    [0.1, 0.01]

    =================  ==========================================================
    update (1-based)   LR of group 0 (peak 1.0)
    =================  ==========================================================
    1                  0.25   (``m(0) = 1/4``: the first update never uses 0)
    4                  1.0    (the peak, at the warmup's last step)
    10                 0.1    (the floor, at the run's last update)
    =================  ==========================================================
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: SpecLike,
        *,
        total_steps: int | None = None,
        steps_per_epoch: int | None = None,
        tokens_per_step: int | None = None,
        group_schedules: Sequence[SpecLike | None] | None = None,
        lr_mult: Sequence[float] | None = None,
        weight_decay: str = "none",
        momentum: SpecLike | None = None,
        on_mismatch: str = "error",
        last_step: int = -1,
    ) -> None:
        # LRScheduler.__init__ is deliberately not called: it wraps optimizer.step (to
        # warn about call order) and keeps its state in __dict__.  The subclass relation
        # is there so that Lightning, Accelerate and HF Trainer accept this object as an
        # LR scheduler; every method they call is overridden below.
        if is_auto_spec(schedule):
            raise ValueError(
                f"schedule: got {schedule!r}, an automatic warmup, which WarmupScheduler (a fixed schedule) does not "
                "run; use rampup.torch.make_scheduler(optimizer, schedule, ...) (a WarmupScheduler for a fixed spec, an "
                "AutoWarmup for an automatic one) or rampup.torch.AutoWarmup(optimizer, schedule, ...)"
            )
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer: got {type(optimizer).__name__}; accepted: a torch.optim.Optimizer")
        if isinstance(last_step, bool) or not isinstance(last_step, int) or last_step < -1:
            raise ValueError(
                f"last_step: got {last_step!r}; accepted: an int >= -1 (-1 for a fresh run, "
                "N - 1 after N optimizer updates)"
            )
        self.optimizer = optimizer
        self._on_mismatch = check_choice(on_mismatch, "on_mismatch", POLICIES)
        if is_number(weight_decay):
            raise TypeError(
                f"weight_decay: got {weight_decay!r}; accepted: 'none', 'warmup', 'lr' (how the optimizer's own "
                "weight_decay follows the schedule; its value is set on the optimizer)"
            )
        self._wd_mode = check_choice(weight_decay, "weight_decay", WEIGHT_DECAY_MODES)
        run = {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch, "tokens_per_step": tokens_per_step}
        self._main = resolve_multiples(schedule, where="schedule", run=run, owner="WarmupScheduler")
        # Group specs and the momentum spec are resolved with the main schedule's run.
        self._run = {k: getattr(self._main.run, k) for k in RUN_KEYS}
        self._momentum = (
            None
            if momentum is None
            else resolve_multiples(momentum, where="momentum", run=self._run, owner="WarmupScheduler")
        )

        groups = optimizer.param_groups
        n = len(groups)
        if group_schedules is not None:
            if isinstance(group_schedules, (str, dict)) or not isinstance(group_schedules, Sequence):
                raise TypeError(
                    f"group_schedules: got {type(group_schedules).__name__}; accepted: a list with one entry "
                    "per param group (None = the main schedule)"
                )
            if len(group_schedules) != n:
                raise ValueError(
                    f"group_schedules: got {len(group_schedules)} entries for {n} param groups; accepted: one "
                    "entry per param group (None = the main schedule)"
                )
        if lr_mult is not None:
            if isinstance(lr_mult, (str, dict)) or not isinstance(lr_mult, Sequence):
                raise TypeError(
                    f"lr_mult: got {type(lr_mult).__name__}; accepted: a list with one multiplier per param group"
                )
            if len(lr_mult) != n:
                raise ValueError(
                    f"lr_mult: got {len(lr_mult)} entries for {n} param groups; accepted: one multiplier per param group"
                )
        self._plans: list[GroupPlan] = []
        self._own: list[Schedule | None] = []  # resolved group schedules (None = main)
        self._uses_optimizer_lr: list[bool] = []  # per group: its peak is the optimizer's lr=
        for i, group in enumerate(groups):
            own = None
            if group_schedules is not None and group_schedules[i] is not None:
                own = resolve_multiples(
                    group_schedules[i], where=f"group_schedules[{i}]", run=self._run, owner="WarmupScheduler"
                )
            mult = 1.0 if lr_mult is None else as_float(lr_mult[i], f"lr_mult[{i}]")
            self._plans.append(self._new_plan(i, group, own, mult))
            self._own.append(own)
        self._rewarms: list[dict[str, Any]] = []
        self.last_epoch = last_step + 1
        self._step_count = 1  # read (and bumped) by Accelerate's AcceleratedScheduler
        self._rebuild()
        self._apply()

    # ---- per-group plans ---------------------------------------------------
    def _peak_of(self, i: int, group: dict[str, Any]) -> tuple[float, bool]:
        """A group's peak LR, and whether it is the optimizer's ``lr=`` (``optimizer.defaults["lr"]``)."""
        default = self.optimizer.defaults.get("lr")
        if "rampup_base_lr" not in group:
            # A fresh group: its lr is its peak.  torch gives a group without its own lr the very
            # object passed as lr=, so identity says which groups took it.
            return as_float(group["lr"], f"optimizer.param_groups[{i}]['lr']"), default is not None and (
                group["lr"] is default
            )
        # The group carries a rampup state: loaded with optimizer.load_state_dict before this scheduler
        # was built (torch replaces the whole group, lr included, by the saved one) or written by another
        # scheduler.  A group that took the optimizer's lr= takes today's lr= as its peak, exactly as a
        # fresh group would: a changed peak is then seen in both build orders (load_state_dict raises
        # or applies on_mismatch).  A group with its own lr keeps the recorded peak: its new value
        # never reached the optimizer's groups.
        uses_default = bool(group.get("rampup_uses_optimizer_lr", False)) and default is not None
        if uses_default:
            return as_float(default, "optimizer.defaults['lr']"), True
        return as_float(group["rampup_base_lr"], f"optimizer.param_groups[{i}]['rampup_base_lr']"), False

    def _new_plan(self, i: int, group: dict[str, Any], own: Schedule | None, mult: float) -> GroupPlan:
        base, uses_default = self._peak_of(i, group)
        wd = mom = None
        if self._wd_mode != "none":
            if "weight_decay" not in group:
                raise ValueError(
                    f"weight_decay={self._wd_mode!r}: optimizer.param_groups[{i}] has no 'weight_decay'; "
                    "accepted: weight_decay='none' for this optimizer"
                )
            wd = as_float(
                group.get("rampup_base_weight_decay", group["weight_decay"]),
                f"optimizer.param_groups[{i}]['weight_decay']",
            )
        if self._momentum is not None:
            key = self._momentum_key(group, i)
            cur = group["betas"][0] if key == "betas" else group["momentum"]
            mom = as_float(group.get("rampup_base_momentum", cur), f"optimizer.param_groups[{i}]['{key}']")
        self._uses_optimizer_lr.append(uses_default)  # last: a plan that raised above leaves no trace
        return GroupPlan(None if own is None else own.to_dict(), base, mult, wd, mom)

    @staticmethod
    def _momentum_key(group: dict[str, Any], i: int) -> str:
        if "betas" in group:
            return "betas"
        if "momentum" in group:
            return "momentum"
        raise ValueError(
            f"momentum: optimizer.param_groups[{i}] has neither 'betas' nor 'momentum'; "
            "accepted: an optimizer with betas (Adam, AdamW, ...) or momentum (SGD, RMSprop)"
        )

    def _pick_up_new_groups(self) -> None:
        # Groups added with optimizer.add_param_group after construction (unfreezing).
        groups = self.optimizer.param_groups
        if len(groups) == len(self._plans):
            return
        for i in range(len(self._plans), len(groups)):
            self._plans.append(self._new_plan(i, groups[i], None, 1.0))
            self._own.append(None)
        self._rebuild()

    def _rebuild(self) -> None:
        """Effective schedule of every group: its schedule with the rewarm events that concern it."""
        cache: dict[tuple[int, tuple[int, ...]], Schedule] = {}
        self._eff: list[Schedule] = []
        for i, own in enumerate(self._own):
            base = self._main if own is None else own
            events = tuple(j for j, ev in enumerate(self._rewarms) if i in ev["groups"])
            key = (id(base), events)
            s = cache.get(key)
            if s is None:
                s = base
                for j in events:
                    ev = self._rewarms[j]
                    s = s.rewarm(ev["at"], ev["length"], ev["start"], ev["shape"])
                cache[key] = s
            self._eff.append(s)
        self._warm: dict[int, _WarmupFactor] = {}
        if self._wd_mode == "warmup":
            for s in self._eff:
                if id(s) not in self._warm:
                    self._warm[id(s)] = _WarmupFactor(s)
        for i, group in enumerate(self.optimizer.param_groups[: len(self._plans)]):
            plan = self._plans[i]
            group["rampup_base_lr"] = plan.base_lr
            group["rampup_uses_optimizer_lr"] = self._uses_optimizer_lr[i]
            if plan.base_weight_decay is not None:
                group["rampup_base_weight_decay"] = plan.base_weight_decay
            if plan.base_momentum is not None:
                group["rampup_base_momentum"] = plan.base_momentum
        self.base_lrs = [p.base_lr * p.lr_mult for p in self._plans]
        # One [first step, values] block per distinct effective schedule, shared by its groups.
        blocks: dict[int, list[Any]] = {}
        self._rows = [
            (p.base_lr * p.lr_mult, blocks.setdefault(id(s), [0, []]), s) for p, s in zip(self._plans, self._eff)
        ]

    # ---- the LRScheduler protocol -------------------------------------------
    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The LR of every scheduled group at the current step (no side effects)."""
        t = self.last_epoch
        memo: dict[int, float] = {}
        out = []
        for plan, s in zip(self._plans, self._eff):
            m = memo.get(id(s))
            if m is None:
                m = memo[id(s)] = s(t)
            out.append(plan.base_lr * plan.lr_mult * m)
        return out

    def _apply(self) -> None:
        # One loop for every mode.  The multiplier comes from a block of _BLOCK steps evaluated in one
        # vectorized call (~0.04 µs per step amortized instead of ~1 µs per scalar call): the values are
        # s(t) exactly, since the core's scalar and NumPy evaluations agree bit for bit.  A block is
        # shared by the groups that share an effective schedule.
        t = self.last_epoch
        extras = self._wd_mode != "none" or self._momentum is not None
        mom = None if self._momentum is None else self._momentum(t)
        lrs = []
        for i, ((peak, block, s), group) in enumerate(zip(self._rows, self.optimizer.param_groups)):
            j = t - block[0]
            vals = block[1]
            if not 0 <= j < len(vals):
                block[0], j = t, 0
                vals = block[1] = s(np.arange(t, t + _BLOCK, dtype=np.float64)).tolist()
            m = vals[j]
            lr = peak * m
            write_group_value(group, "lr", lr)
            lrs.append(lr)
            if extras:
                self._apply_extras(i, group, s, t, m, mom)
        self._lrs = lrs
        self._last_lr = list(lrs)  # the attribute torch tools read

    def _apply_extras(self, i: int, group: dict[str, Any], s: Any, t: int, m: float, mom: float | None) -> None:
        """Weight decay and β1/momentum scheduled with the LR (off the LR-only hot path)."""
        plan = self._plans[i]
        if plan.base_weight_decay is not None and self._wd_mode != "none":
            f = m if self._wd_mode == "lr" else self._warm[id(s)](t)
            write_group_value(group, "weight_decay", plan.base_weight_decay * f)
        if mom is not None and plan.base_momentum is not None:
            write_group_value(group, self._momentum_key(group, i), plan.base_momentum * mom)

    def step(self, epoch: int | None = None) -> None:
        """Advance one optimizer update and set every group's LR for the next one.

        New param groups (``optimizer.add_param_group``) are picked up here.  No call-order
        check: a step that ``GradScaler`` skipped still advances the schedule, as the loop
        asked.
        """
        if epoch is not None:
            raise TypeError(
                f"step: got epoch={epoch!r}; accepted: step() without arguments (the schedule is a closed "
                "form of the number of step() calls; restore a step with load_state_dict or last_step=)"
            )
        if _compile_callback() not in _NO_CALLBACK:
            # Called inside a torch.compile'd function (``opt.step(); sched.step()`` together,
            # torch's "compiling the optimizer with an LR scheduler" recipe): the step runs outside
            # the graph.  Traced, its list lookups on ``last_epoch`` become guards and every step
            # would recompile until the recompile limit; outside, the tensor LR is filled in place
            # and the compiled optimizer step reads it as a graph input, so it compiles once.
            # Dynamo does not inline step() (see _torchdynamo_disable below); it runs it with its
            # frame callback set, which would compile nested frames such as _apply on their own:
            # hence the check, ~0.03 µs per eager step (torch.compiler.is_compiling() ~0.2 µs, a
            # torch.compiler.disable wrapper around step() ~0.35 µs).
            _step_outside_graph(self)
            return
        if len(self.optimizer.param_groups) != len(self._plans):
            self._pick_up_new_groups()
        self.last_epoch += 1
        self._step_count += 1
        self._apply()

    def _initial_step(self) -> None:
        # torch's SequentialLR calls this to restart a sub-scheduler; a closed form cannot be
        # "restarted" behind the user's back, and the spec language already composes phases.
        raise TypeError(
            "WarmupScheduler cannot be chained with torch's SequentialLR; write the whole schedule as one spec "
            "('linear(500) -> constant(1000) -> cosine', '... | rewarm(at=..., length=...)')"
        )

    def get_last_lr(self) -> list[float]:  # type: ignore[override]
        """The LRs set by the last :meth:`step` (or the constructor), as Python floats, one per scheduled group."""
        return list(self._lrs)

    # ---- fine-tuning ------------------------------------------------------
    def rewarm(
        self, length: int | str, start: float = 0.0, shape: str = "linear", groups: Sequence[int] | None = None
    ) -> None:
        """Re-apply a warmup from the current step: the next update uses ``start + (1 − start)/length`` of the schedule.

        The schedule of each chosen group is multiplied by ``rampup``'s ``rewarm(at=k,
        length, start, shape)`` modifier with ``k = last_epoch`` (the next update): a ramp
        from ``start`` to 1 over ``length`` updates (``'2%'``/``'1ep'`` allowed), 1 afterwards.
        ``groups`` selects param groups by index (default: all, including groups just added
        with ``optimizer.add_param_group``, which are picked up here).  The event is part of
        :meth:`state_dict`, so a resumed run re-warms identically.  Takes effect at once
        (the group LRs are rewritten for the next update).

        >>> import torch
        >>> from rampup.torch import WarmupScheduler
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = WarmupScheduler(opt, "constant")
        >>> sched.step(); sched.step()
        >>> sched.rewarm(4)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(opt.param_groups[0]["lr"])
        ...     sched.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
        """
        self._pick_up_new_groups()
        n = len(self._plans)
        if groups is None:
            chosen = list(range(n))
        else:
            if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
                raise TypeError(f"groups: got {groups!r}; accepted: None or a list of param group indices")
            chosen = []
            for g in groups:
                if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < n:
                    raise ValueError(f"groups: got {g!r}; accepted: param group indices 0..{n - 1}")
                if g in chosen:
                    raise ValueError(f"groups: index {g} given twice")
                chosen.append(g)
        if isinstance(length, bool) or not isinstance(length, (int, str)):
            raise TypeError(f"length: got {length!r}; accepted: steps as an int, or '2%', '1ep', '10Mtok'")
        if not is_number(start):
            raise TypeError(f"start: got {start!r}; accepted: a fraction of the schedule in [0, 1]")
        event: dict[str, Any] = {
            "at": self.last_epoch,
            "length": length,
            "start": float(start),
            "shape": shape,
            "groups": sorted(chosen),
        }
        self._rewarms.append(event)
        try:
            self._rebuild()  # the core validates length, start and shape here
        except (ValueError, TypeError):
            self._rewarms.pop()
            self._rebuild()
            raise
        self._apply()

    # ---- checkpoints --------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain data: format marker, step, the schedules as dicts, per-group plans, rewarm events.

        No optimizer, no callables; ``torch.save`` / ``torch.load(weights_only=True)``, pickle
        and JSON all round-trip it.
        """
        return {
            "format": FORMAT,
            "last_epoch": self.last_epoch,
            "schedule": self._main.to_dict(),
            "groups": [p.to_dict() for p in self._plans],
            "weight_decay": self._wd_mode,
            "momentum": None if self._momentum is None else self._momentum.to_dict(),
            "rewarms": [dict(ev, groups=list(ev["groups"])) for ev in self._rewarms],
        }

    def load_state_dict(self, state_dict: dict[str, Any], on_mismatch: str | None = None) -> None:
        """Restore the step and the plan from :meth:`state_dict`; set the group LRs for that step.

        When the saved plan equals this scheduler's plan, the result is the same whatever
        the policy.  When it differs (another spec, ``total_steps``, per-group peak LR,
        ``lr_mult``, group schedule, weight-decay mode or base, momentum schedule or base),
        ``on_mismatch`` (default: the constructor's) decides:

        * ``"error"``: raise ``ValueError`` listing every difference as
          ``key: saved X, new Y``.
        * ``"keep_saved"``: continue the saved run exactly: the saved schedules, run
          lengths, per-group peaks and settings replace this scheduler's.
        * ``"use_new"``: this scheduler's plan (schedules, run lengths, per-group peaks,
          multipliers and settings) from the saved step on: ``lr_i = peak_new_i ·
          m_new(k)``.  The LR can jump at the resume step; that is the point when the
          peak LR was deliberately changed.
        * ``"replan"``: re-plan the remaining steps with this scheduler's *schedules*
          (specs, ``total_steps`` and other run lengths, group schedules, weight-decay mode,
          momentum schedule) while each group keeps its *saved* peak LR, ``lr_mult`` and
          base weight decay/momentum: ``lr_i = peak_saved_i · m_new(k)``.  This is the policy
          for "the total step budget was extended": the step is kept, the new
          ``total_steps`` places the remaining decay.  The LR is continuous at the resume
          step only where ``m_new(k) == m_saved(k)`` (e.g. in the stable part of ``wsd``);
          for a cosine over ``total_steps`` it moves to the new curve's value at ``k``.

        In every policy the step and the rewarm events come from the saved state (they are
        progress, not plan).  Groups the optimizer has beyond the saved ones keep this
        scheduler's plan; fewer groups than saved is an error (add them first).
        """
        policy = self._on_mismatch if on_mismatch is None else check_choice(on_mismatch, "on_mismatch", POLICIES)
        saved = parse_state(state_dict)
        n_opt = len(self.optimizer.param_groups)
        n_saved = len(saved["groups"])
        if n_saved > n_opt:
            raise ValueError(
                f"load_state_dict: the saved state schedules {n_saved} param groups, the optimizer has {n_opt}; "
                "add the missing groups (optimizer.add_param_group) before loading"
            )
        for ev in saved["rewarms"]:
            bad = [g for g in ev["groups"] if not 0 <= g < n_opt]
            if bad:
                raise ValueError(f"load_state_dict: rewarms: group indices {bad} are not in the optimizer")
        self._pick_up_new_groups()
        diffs = self._diff(saved)
        if diffs and policy == "error":
            lines = "\n".join(f"  {d}" for d in diffs)
            raise ValueError(
                f"load_state_dict: the saved plan differs from this scheduler's:\n{lines}\n"
                f"pass on_mismatch= {POLICY_HELP}"
            )
        saved_main = schedule_from_dict(saved["schedule"], "load_state_dict: schedule")
        saved_own = [
            None if g.schedule is None else schedule_from_dict(g.schedule, f"load_state_dict: groups[{i}].schedule")
            for i, g in enumerate(saved["groups"])
        ]
        saved_mom = (
            None if saved["momentum"] is None else schedule_from_dict(saved["momentum"], "load_state_dict: momentum")
        )
        backup = (
            self._main,
            self._momentum,
            self._wd_mode,
            list(self._plans),
            list(self._own),
            self.last_epoch,
            self._rewarms,
        )
        try:
            if policy in ("error", "keep_saved") or not diffs:
                self._main, self._momentum, self._wd_mode = saved_main, saved_mom, saved["weight_decay"]
                self._plans[:n_saved] = saved["groups"]
                self._own[:n_saved] = saved_own
            elif policy == "replan":
                # The schedules are this scheduler's; the "how high" of every group is the saved one.
                # A base that only this scheduler has (a setting turned on now) is taken from it.
                for i, g in enumerate(saved["groups"]):
                    own, mine = self._own[i], self._plans[i]
                    wd = None if mine.base_weight_decay is None else _first(g.base_weight_decay, mine.base_weight_decay)
                    mom = None if mine.base_momentum is None else _first(g.base_momentum, mine.base_momentum)
                    sched = None if own is None else own.to_dict()
                    self._plans[i] = GroupPlan(sched, g.base_lr, g.lr_mult, wd, mom)
            # "use_new": this scheduler's plan stays as it is.
            self.last_epoch = saved["last_epoch"]
            self._rewarms = saved["rewarms"]
            self._rebuild()  # applies the rewarm events: a bad event raises here
            self._apply()
        except (ValueError, TypeError):
            (self._main, self._momentum, self._wd_mode, self._plans, self._own, self.last_epoch, self._rewarms) = backup
            self._rebuild()
            self._apply()
            raise

    def _diff(self, saved: dict[str, Any]) -> list[str]:
        out: list[str] = []
        mine_main = self._main.to_dict()
        diff_schedule("schedule", saved["schedule"], mine_main, out)
        if saved["weight_decay"] != self._wd_mode:
            out.append(f"weight_decay: saved {saved['weight_decay']!r}, new {self._wd_mode!r}")
        mom = None if self._momentum is None else self._momentum.to_dict()
        if saved["momentum"] != mom:
            if saved["momentum"] is None or mom is None:
                out.append(f"momentum: saved {describe_optional(saved['momentum'])}, new {describe_optional(mom)}")
            else:
                diff_schedule("momentum", saved["momentum"], mom, out)
        for i, g in enumerate(saved["groups"]):
            p = self._plans[i]
            if g.schedule != p.schedule:
                out.append(f"groups[{i}].schedule: saved {describe_plan(g.schedule)}, new {describe_plan(p.schedule)}")
            for k in ("base_lr", "lr_mult", "base_weight_decay", "base_momentum"):
                a, b = getattr(g, k), getattr(p, k)
                if a != b:
                    out.append(f"groups[{i}].{k}: saved {a!r}, new {b!r}")
        return out

    def __repr__(self) -> str:
        run = ", ".join(f"{k}={v!r}" for k, v in self._run.items() if v is not None)
        return (
            f"WarmupScheduler('{self._main.spec}'{', ' + run if run else ''}, last_epoch={self.last_epoch}, "
            f"groups={len(self._plans)})"
        )


# torch's own lazy form of torch.compiler.disable (torch.optim uses it): Dynamo is imported at the
# first call, not at import (~3 s that a run that never compiles should not pay).
@torch._disable_dynamo
def _step_outside_graph(sched: WarmupScheduler) -> None:
    # torch.compile never traces this nor anything it calls (Dynamo's callback is unset in here),
    # so step() takes its eager path.
    sched.step()


# Dynamo never inlines step() into a compiled function: it breaks the graph at the call (the attribute
# torch.compiler.disable sets; set here without the wrapper, which costs ~0.35 µs per call) and runs
# step() itself, where the check above sends it to the eager path.
WarmupScheduler.step._torchdynamo_disable = True  # type: ignore[attr-defined]


def _first(a: float | None, b: float) -> float:
    return b if a is None else a
