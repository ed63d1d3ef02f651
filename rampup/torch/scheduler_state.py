"""The checkpoint of a :class:`~rampup.torch.WarmupScheduler` as plain data: its format, validation and diff.

A state is ``{"format", "last_epoch", "schedule", "groups", "weight_decay", "momentum",
"rewarms"}`` (:data:`FORMAT`); each group is a :class:`GroupPlan` (its own schedule, peak,
multiplier and bases).  :func:`parse_state` validates a saved state without touching an
optimizer; :func:`diff_schedule` and :func:`describe_plan` write the ``key: saved X, new Y``
lines of a mismatch.  No torch objects: ``torch.load(weights_only=True)``, pickle and JSON
all round-trip a state.

>>> check_choice("replan", "on_mismatch", POLICIES)
'replan'
"""

from __future__ import annotations

from typing import Any

from rampup import Spec
from rampup.core.resolve import RUN_KEYS

from .checks import as_float, check_choice, is_number

__all__ = [
    "FORMAT",
    "POLICIES",
    "POLICY_HELP",
    "WEIGHT_DECAY_MODES",
    "GroupPlan",
    "describe_optional",
    "describe_plan",
    "diff_schedule",
    "parse_state",
]

FORMAT = "rampup.torch.WarmupScheduler/1"
POLICIES = ("error", "keep_saved", "use_new", "replan")
WEIGHT_DECAY_MODES = ("none", "warmup", "lr")
POLICY_HELP = (
    "'keep_saved' (continue the saved plan), 'use_new' (this scheduler's plan from the saved step), "
    "'replan' (this scheduler's schedules with the saved per-group peaks)"
)


# ---------------------------------------------------------------------------
# Small validated pieces of plain data
# ---------------------------------------------------------------------------


def describe_plan(d: dict[str, Any] | None) -> str:
    """A saved schedule (``Schedule.to_dict()``; ``None`` = the main schedule) as text for messages."""
    if d is None:
        return "the main schedule"
    try:
        text = str(Spec.from_dict(d["spec"]))
    except (ValueError, TypeError, KeyError):
        text = repr(d.get("spec"))
    run = ", ".join(f"{k}={d[k]!r}" for k in (*RUN_KEYS, "peak_lr") if d.get(k) is not None)
    return f"'{text}'" + (f" ({run})" if run else "")


class GroupPlan:
    """The plan of one param group (plain data): its schedule, ``base_lr``, ``lr_mult`` and the bases of weight decay and momentum."""

    __slots__ = ("base_lr", "base_momentum", "base_weight_decay", "lr_mult", "schedule")

    def __init__(
        self,
        schedule: dict[str, Any] | None,
        base_lr: float,
        lr_mult: float,
        base_weight_decay: float | None,
        base_momentum: float | None,
    ) -> None:
        self.schedule = schedule  # Schedule.to_dict() of the group's own schedule; None = the main schedule
        self.base_lr = base_lr
        self.lr_mult = lr_mult
        self.base_weight_decay = base_weight_decay
        self.base_momentum = base_momentum

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @staticmethod
    def from_dict(d: Any, where: str) -> GroupPlan:
        if not isinstance(d, dict) or set(d) != set(GroupPlan.__slots__):
            raise ValueError(f"{where}: got {d!r:.120}; accepted: a dict with keys {', '.join(GroupPlan.__slots__)}")
        opt = {
            k: (None if d[k] is None else as_float(d[k], f"{where}.{k}"))
            for k in ("base_weight_decay", "base_momentum")
        }
        sched = d["schedule"]
        if sched is not None and not isinstance(sched, dict):
            raise TypeError(f"{where}.schedule: got {sched!r:.80}; accepted: None or a Schedule.to_dict()")
        return GroupPlan(
            sched,
            as_float(d["base_lr"], f"{where}.base_lr"),
            as_float(d["lr_mult"], f"{where}.lr_mult"),
            opt["base_weight_decay"],
            opt["base_momentum"],
        )


def describe_optional(d: dict[str, Any] | None) -> str:
    """:func:`describe_plan`, or ``"None"``."""
    return "None" if d is None else describe_plan(d)


def diff_schedule(name: str, saved: dict[str, Any], new: dict[str, Any], out: list[str]) -> None:
    """Append to ``out`` one ``name.key: saved X, new Y`` line per difference of two ``Schedule.to_dict()``."""
    if saved == new:
        return
    if saved.get("spec") != new.get("spec"):
        out.append(
            f"{name}.spec: saved {describe_plan({'spec': saved.get('spec')})}, new {describe_plan({'spec': new.get('spec')})}"
        )
    for k in (*RUN_KEYS, "peak_lr"):
        if saved.get(k) != new.get(k):
            out.append(f"{name}.{k}: saved {saved.get(k)!r}, new {new.get(k)!r}")


def parse_state(sd: Any) -> dict[str, Any]:
    """Validate a saved state and convert its groups and events (no optimizer is touched)."""
    if not isinstance(sd, dict):
        raise TypeError(
            f"load_state_dict: got {type(sd).__name__}; accepted: the dict from WarmupScheduler.state_dict()"
        )
    if sd.get("format") != FORMAT:
        hint = " (this looks like a torch.optim.lr_scheduler state)" if "base_lrs" in sd else ""
        raise ValueError(
            f"load_state_dict: got a state with format={sd.get('format')!r} and keys {sorted(map(str, sd))}{hint}; "
            f"accepted: the dict from WarmupScheduler.state_dict() (format {FORMAT!r})"
        )
    keys = {"format", "last_epoch", "schedule", "groups", "weight_decay", "momentum", "rewarms"}
    if set(sd) != keys:
        raise ValueError(f"load_state_dict: got keys {sorted(sd)}; accepted: exactly {sorted(keys)}")
    step = sd["last_epoch"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"load_state_dict: last_epoch: got {step!r}; accepted: an int >= 0")
    if not isinstance(sd["groups"], list) or not sd["groups"]:
        raise ValueError(f"load_state_dict: groups: got {sd['groups']!r:.80}; accepted: a non-empty list")
    groups = [GroupPlan.from_dict(g, f"load_state_dict: groups[{i}]") for i, g in enumerate(sd["groups"])]
    mode = check_choice(sd["weight_decay"], "load_state_dict: weight_decay", WEIGHT_DECAY_MODES)
    events = []
    if not isinstance(sd["rewarms"], list):
        raise ValueError(f"load_state_dict: rewarms: got {sd['rewarms']!r:.80}; accepted: a list")
    for j, ev in enumerate(sd["rewarms"]):
        if not isinstance(ev, dict) or set(ev) != {"at", "length", "start", "shape", "groups"}:
            raise ValueError(
                f"load_state_dict: rewarms[{j}]: got {ev!r:.80}; accepted: a dict with keys at, length, start, shape, groups"
            )
        at, length, start, shape, grp = ev["at"], ev["length"], ev["start"], ev["shape"], ev["groups"]
        ok = (
            isinstance(at, int)
            and not isinstance(at, bool)
            and at >= 0
            and (isinstance(length, str) or (isinstance(length, int) and not isinstance(length, bool)))
            and is_number(start)
            and isinstance(shape, str)
            and isinstance(grp, list)
            and all(isinstance(g, int) and not isinstance(g, bool) for g in grp)
        )
        if not ok:
            raise ValueError(
                f"load_state_dict: rewarms[{j}]: got {ev!r:.120}; accepted: at (int >= 0), length (int or str), "
                "start (number), shape (str), groups (list of ints)"
            )
        events.append(dict(ev, groups=list(grp)))
    return {
        "last_epoch": step,
        "schedule": sd["schedule"],
        "groups": groups,
        "weight_decay": mode,
        "momentum": sd["momentum"],
        "rewarms": events,
    }
