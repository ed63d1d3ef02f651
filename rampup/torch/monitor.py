r"""Training-stability diagnostics for PyTorch, switched on with one line.

``Monitor(model, optimizer)`` registers two optimizer step hooks and measures,
on every ``every``-th optimizer update ``t`` (``t = 0`` is the first):

* **gradient norm** ``‖g‖₂`` over all parameters and per param group (read in the
  pre-step hook, i.e. after any clipping the loop did; when ``step(closure)`` computes
  the gradients itself — Lightning, LBFGS — in the post-step hook: for LBFGS, the
  gradient of the closure's last evaluation);
* **relative update size** ``‖Δw‖₂ / ‖w‖₂`` with ``Δw = w_{t+1} − w_t`` (the
  quantity warmup keeps small, Kosson et al. 2024): over all parameters, per param
  group, and the largest over weight matrices (tensors with ≥ 2 dimensions; a bias
  that starts at 0 has an infinite ratio and is left out of the max) — on every
  ``update_every``-th row (default 4: it is four of the five passes over the
  parameters);
* for **Adam-type** optimizers (a state with ``exp_avg_sq``) the spread of the
  effective per-parameter step ``ψ = η / (√v̂_t + ε)``, ``v̂_t = v_t / (1 − β₂^t)``,
  on a fixed sample of coordinates (quantiles 5/50/95 % and the coefficient of
  variation — large early in training, Liu et al. 2020; every ``adam_every``-th
  measured row, default 50: it changes slowly and is the costliest column), and RAdam's
  ``ρ_t = ρ_∞ − 2tβ₂^t / (1 − β₂^t)``, ``ρ_∞ = 2/(1 − β₂) − 1`` (the variance of
  ``v̂`` is tractable only for ``ρ_t > 4``);
* for :class:`rampup.torch.LAMB` the layer-wise trust ratios (min/mean/max);
* the **loss** passed to :meth:`Monitor.step` with its running median, MAD and
  robust z-score ``z = (ℓ − median) / (1.4826·MAD)`` over the last ``window`` steps.

Each row has a ``status``: ``"ok"``, or, with ``SpikeGuard(..., monitor=mon)``,
``"skipped"``/``"rolled_back"`` for batches the guard did not apply or updates it undid
(``step`` is then the guard's update count, the ``step`` of its events).  Rows go to
memory (:attr:`Monitor.records`), to a CSV file (one ``os.write`` of a whole line per row
on a file opened with ``O_APPEND``: a crash never leaves half a row; a rollback rewrites
the file atomically to mark the undone rows) and to TensorBoard
(``torch.utils.tensorboard``, imported only when asked).
:func:`plot_monitor` draws them.  With ``enabled=False`` nothing is registered and
:meth:`Monitor.step` returns at once: zero cost.  ``rampup bench monitor`` measures
the cost when on (target ≤ 3 % of the step time of the E1 transformer).

>>> import torch
>>> from rampup.torch import Monitor
>>> model = torch.nn.Linear(4, 2)
>>> opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
>>> mon = Monitor(model, opt)
>>> for _ in range(3):
...     loss = model(torch.ones(8, 4)).square().mean()
...     opt.zero_grad(); loss.backward(); opt.step()
...     row = mon.step(loss)
>>> row["step"], round(row["radam_rho"], 3), 0 < mon.records[0]["update_ratio_max"] < 1
(2, 2.999, True)

References: Kosson, Messmer & Jaggi 2024, "Analyzing & Reducing the Need for
Learning Rate Warmup in GPT Training", arXiv:2410.23922; Liu et al. 2020, "On
the Variance of the Adaptive Learning Rate and Beyond" (RAdam), arXiv:1908.03265;
You et al. 2019 (LAMB), arXiv:1904.00962.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..support.io import atomic_write_text, save_figure
from ..support.optional import pyplot
from .checks import check_int
from .probe import UpdateProbe
from .stats import MAD_TO_SIGMA, LossStats, as_loss

# MAD_TO_SIGMA, LossStats and UpdateProbe keep their import path rampup.torch.monitor (re-exported).

__all__ = ["MAD_TO_SIGMA", "LossStats", "Monitor", "UpdateProbe", "plot_monitor", "read_csv"]

_QUANTILES = (0.05, 0.5, 0.95)
# Columns a run may add to its CSV after the header was written (param groups added later).
# (and the guard's status columns, which files written before them lack).
_EXTENSIBLE = (
    "lr_g",
    "grad_norm_g",
    "update_ratio_g",
    "update_ratio/",
    "grad_norm/",
    "trust_ratio/",
    "status",
    "anomaly",
)
# Columns that hold words, not numbers: "ok" / "skipped" / "rolled_back", and the guard's anomaly kind.
_TEXT_COLUMNS = ("status", "anomaly")


def _is_adam_state(state: Mapping[str, Any]) -> bool:
    return "exp_avg_sq" in state and "step" in state


class Monitor:
    r"""Per-step training diagnostics: gradient norms, relative update sizes, Adam spread, loss z-score.

    Args:
        model: the module (gives parameter names for ``per_tensor`` columns); ``None`` names
            parameters ``g{group}.{index}``.
        optimizer: the ``torch.optim.Optimizer`` whose updates are measured (step hooks).
        every: write a row on every ``every``-th optimizer update (the loss statistics see
            every loss); ``every=1`` writes all.
        update_every: measure the relative update size (``update_ratio*`` columns) on every
            ``update_every``-th row that saw an update, counted from the monitor's first such row
            (which always has it); the other rows leave those cells empty.  It costs four of the five passes
            over the parameters the monitor makes, so the default 4 keeps the monitor under 3 %
            of the E1 step (``rampup bench monitor``: 2.4 %); ``update_every=1`` measures every
            row (3.8 %).
        csv: path of a CSV file to append rows to (created with a header; an existing file
            must have the same header, so a resumed run continues it).
        tensorboard_dir: a folder for ``torch.utils.tensorboard.SummaryWriter`` (needs the
            ``tensorboard`` package; an ``ImportError`` says so).
        per_tensor: also record ``update_ratio/NAME`` and ``grad_norm/NAME`` per parameter.
        adam_every: compute the Adam spread on every ``adam_every``-th measured step (it changes
            slowly; its quantiles are the costliest column); ``radam_rho`` is on every row.
        adam_sample: how many coordinates (fixed, spread over all tensors) the Adam spread
            statistics use.
        window: the loss window of the running median/MAD.
        keep: keep rows in :attr:`records` (memory grows with the run).
        enabled: ``False`` registers nothing; :meth:`step` then returns ``None`` at once.

    Call :meth:`step` with the loss after ``optimizer.step()``; it returns the row (a dict)
    on measured steps and ``None`` otherwise.  :meth:`close` removes the hooks and closes
    the writers; the monitor is also a context manager.
    """

    def __init__(
        self,
        model: torch.nn.Module | None,
        optimizer: torch.optim.Optimizer,
        *,
        every: int = 1,
        update_every: int = 4,
        csv: str | os.PathLike[str] | None = None,
        tensorboard_dir: str | os.PathLike[str] | None = None,
        per_tensor: bool = False,
        adam_every: int = 50,
        adam_sample: int = 4096,
        window: int = 50,
        keep: bool = True,
        enabled: bool = True,
    ) -> None:
        if model is not None and not isinstance(model, torch.nn.Module):
            raise TypeError(f"model: got {type(model).__name__}; accepted: a torch.nn.Module or None")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer: got {type(optimizer).__name__}; accepted: a torch.optim.Optimizer")
        self.every = check_int(every, "every", 1)
        self.update_every = check_int(update_every, "update_every", 1)
        self._n_rows = 0  # rows of this monitor object whose update happened (the update_every cadence)
        self.adam_sample = check_int(adam_sample, "adam_sample", 1)
        self.adam_every = check_int(adam_every, "adam_every", 1)
        self._n_measured = 0
        self.enabled = bool(enabled)
        self.per_tensor = bool(per_tensor)
        self.keep = bool(keep)
        self.optimizer = optimizer
        self.loss_stats = LossStats(window)
        self.records: list[dict[str, Any]] = []
        self.t = 0  # index of the next optimizer update (the one step() will report)
        self._csv_path = None if csv is None else os.fspath(csv)
        self._csv_fd: int | None = None
        self._columns: list[str] | None = None
        self._colset: set[str] = set()
        self._tb: Any = None
        self._tb_dir: str | None = None
        self._probe: UpdateProbe | None = None
        self._names = self._param_names(model)
        self._sample_idx: dict[int, Tensor] | None = None
        self._adam_first: tuple[int, int] | None = None  # (group, position) of the first Adam state
        self._lamb_checked = -1  # len(optimizer.state) at the last scan that found no trust ratio
        if tensorboard_dir is not None and self.enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ImportError(
                    f"tensorboard_dir={os.fspath(tensorboard_dir)!r} needs the tensorboard package "
                    f"(pip install tensorboard); or pass tensorboard_dir=None and use csv= ({e})"
                ) from e
            self._tb_dir = os.fspath(tensorboard_dir)
            self._tb = SummaryWriter(log_dir=self._tb_dir)
        if self.enabled:
            self._probe = UpdateProbe(optimizer)
            self._arm()

    # ---- naming -----------------------------------------------------------
    def _param_names(self, model: torch.nn.Module | None) -> dict[int, str]:
        names: dict[int, str] = {}
        if model is not None:
            for n, p in model.named_parameters():
                names.setdefault(id(p), n)
        for gi, g in enumerate(self.optimizer.param_groups):
            for j, p in enumerate(g["params"]):
                names.setdefault(id(p), f"g{gi}.{j}")
        return names

    # ---- measurement --------------------------------------------------------
    def step(self, loss: Any = None) -> dict[str, Any] | None:
        """Record the update just done (``optimizer.step()`` came first) and the loss that produced it.

        Returns the row on measured steps, else ``None``.
        """
        if not self.enabled:
            return None
        t = self.t
        self.t += 1
        lv = None if loss is None else as_loss(loss)
        measured = t % self.every == 0
        row: dict[str, Any] | None = None
        probed = False
        if measured:
            row = {"step": t, "status": "ok"}
            if lv is not None:
                row["loss"] = lv
                row["loss_median"], row["loss_mad"], row["loss_z"] = self.loss_stats.summary(lv)
            probed = self._measure(row)
        if lv is not None:
            self.loss_stats.add(lv)
        if probed:  # a row whose update was skipped (GradScaler) does not use up the cadence
            self._n_rows += 1
        self._arm()
        if row is not None:
            self._emit(row)
        return row

    def _arm(self) -> None:
        # Arm the probe for the next update if it will be a row; the relative update only on
        # every update_every-th measured row (the first measured row of every monitor object has it).
        if self._probe is not None and self.t % self.every == 0:
            self._probe.arm(update=self._n_rows % self.update_every == 0)

    def discard(self) -> None:
        """Forget the last optimizer step (it was rolled back): it is not reported, the next one is measured."""
        if self._probe is not None:
            self._probe.last = None
            self._arm()

    def skip(self, loss: Any = None, *, reason: str | None = None) -> dict[str, Any] | None:
        """Record a batch whose update was not applied (a :class:`SpikeGuard` skipped it).

        Writes a row at the current step with ``status`` ``"skipped"``, the loss (also when
        non-finite), its z-score, the LR and ``anomaly`` = ``reason``; the step does not
        advance and the loss window does not take the loss.  Returns the row (``None`` when
        disabled).
        """
        if not self.enabled:
            return None
        self.discard()
        return self._event_row("skipped", loss, reason)

    def rollback(self, to_step: int, *, loss: Any = None, reason: str | None = None) -> dict[str, Any] | None:
        """The updates from ``to_step`` on were undone: mark their rows, count on from ``to_step``.

        Rows with ``status`` ``"ok"`` and ``step >= to_step`` become ``"rolled_back"`` in
        :attr:`records` and in the CSV (rewritten atomically, once per rollback); TensorBoard is
        reopened with ``purge_step=to_step``, which hides the undone updates' scalars.  With
        ``loss``, the batch that caused the rollback gets a row of its own (``status``
        ``"rolled_back"``, ``anomaly`` = ``reason``) at the step the run had reached.  The next
        :meth:`step` reports update ``to_step``.  Returns that row, if any.
        """
        to_step = check_int(to_step, "to_step", 0)
        if not self.enabled:
            return None
        self.discard()
        for r in self.records:
            if r.get("status", "ok") == "ok" and r["step"] >= to_step:
                r["status"] = "rolled_back"
        if self._csv_path is not None and os.path.exists(self._csv_path):
            self._mark_csv(to_step)
        if self._tb is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb.close()
            self._tb = SummaryWriter(log_dir=self._tb_dir, purge_step=to_step)
        row = None if loss is None else self._event_row("rolled_back", loss, reason)
        self.t = to_step
        self._arm()
        return row

    def _event_row(self, status: str, loss: Any, reason: str | None) -> dict[str, Any]:
        row: dict[str, Any] = {"step": self.t, "status": status}
        if reason is not None:
            row["anomaly"] = str(reason)
        if loss is not None:
            lv = as_loss(loss)
            row["loss"] = lv
            row["loss_median"], row["loss_mad"], row["loss_z"] = self.loss_stats.summary(lv)
        for gi, g in enumerate(self.optimizer.param_groups):
            row["lr" if gi == 0 else f"lr_g{gi}"] = float(g["lr"])
        self._emit(row)
        return row

    def _mark_csv(self, to_step: int) -> None:
        # Rows are positional: split each line, set the status cell of the undone updates, and
        # replace the file atomically (a crash leaves the old file or the new one, never half).
        path = self._csv_path
        assert path is not None
        with open(path, encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split(",")
            lines = f.read().splitlines()
        if "step" not in header:
            return
        if "status" not in header:  # a file written before the status column: it joins the header
            header.append("status")
            if self._columns is not None and "status" not in self._columns:
                self._columns = [*self._columns, "status"]
                self._colset = set(self._columns)
        si, ki = header.index("step"), header.index("status")
        out = []
        for line in lines:
            cells = line.split(",")
            cells += [""] * (len(header) - len(cells))
            if cells[si] and cells[ki] in ("", "ok") and int(cells[si]) >= to_step:
                cells[ki] = "rolled_back"
            out.append(",".join(cells))
        if self._csv_fd is not None:
            os.close(self._csv_fd)
            self._csv_fd = None
        atomic_write_text(path, ",".join(header) + "\n" + "".join(x + "\n" for x in out))
        if self._columns is not None:
            self._csv_fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    def _measure(self, row: dict[str, Any]) -> bool:
        """Fill ``row``; True when the probe measured the update (False: a step the optimizer skipped)."""
        groups = self.optimizer.param_groups
        probe = self._probe
        last = probe.last if probe is not None else None
        if probe is not None:
            probe.last = None
        lrs = last["lrs"] if last is not None else [float(g["lr"]) for g in groups]
        for gi, lr in enumerate(lrs):
            row["lr" if gi == 0 else f"lr_g{gi}"] = lr
        if last is not None:
            update = last["update"]
            row["grad_norm"] = last["grad_norm"]
            if update:
                row["update_ratio"] = last["update_ratio"]
                row["update_ratio_max"] = last["update_ratio_max"]
            if len(groups) > 1:
                for gi, (gn, ur) in enumerate(last["groups"]):
                    row[f"grad_norm_g{gi}"] = gn
                    if update:
                        row[f"update_ratio_g{gi}"] = ur
            if self.per_tensor:
                d, w, gnorm = last["tensors"]
                for i, p in enumerate(probe.params):  # type: ignore[union-attr]
                    name = self._names.get(id(p), f"p{i}")
                    if update:
                        row[f"update_ratio/{name}"] = d[i] / w[i] if w[i] > 0 else math.nan
                    row[f"grad_norm/{name}"] = gnorm[i]
        self._adam(row)
        self._lamb(row)
        return last is not None

    def _adam(self, row: dict[str, Any]) -> None:
        opt = self.optimizer
        # Found once, then one lookup per row.  Kept as (group, position) indices, so a replaced
        # parameter or a loaded optimizer state (new group dicts) is read afresh.
        groups = opt.param_groups
        g0: dict[str, Any] | None = None
        st0 = None
        if self._adam_first is not None:
            gi, pi = self._adam_first
            if gi < len(groups) and pi < len(groups[gi]["params"]):
                g0, st0 = groups[gi], opt.state.get(groups[gi]["params"][pi])
        if g0 is None or not st0 or not _is_adam_state(st0):
            g0 = st0 = self._adam_first = None
            for gi, g in enumerate(groups):
                for pi, p in enumerate(g["params"]):
                    st = opt.state.get(p)
                    if st and _is_adam_state(st) and "betas" in g:  # not Adafactor: no β2 to read
                        g0, st0, self._adam_first = g, st, (gi, pi)
                        break
                if g0 is not None:
                    break
        if g0 is None or st0 is None:
            return
        beta2 = float(g0["betas"][1])
        t = float(st0["step"])
        if t >= 1:
            rho_inf = 2.0 / (1.0 - beta2) - 1.0
            b2t = beta2**t
            row["radam_rho"] = rho_inf - 2.0 * t * b2t / (1.0 - b2t)
        self._n_measured += 1
        if (self._n_measured - 1) % self.adam_every:
            return
        if self._sample_idx is None:
            self._sample_idx = self._make_sample()
        sample = self._sample_idx
        vs, scales = [], []
        with torch.no_grad():
            for g in opt.param_groups:
                if "betas" not in g:
                    continue
                lr, b2, eps = float(g["lr"]), float(g["betas"][1]), float(g.get("eps", 1e-8))
                for p in g["params"]:
                    st = opt.state.get(p)
                    idx = sample.get(id(p))
                    if idx is None or not st or not _is_adam_state(st):
                        continue
                    vs.append(st["exp_avg_sq"].reshape(-1).index_select(0, idx))
                    scales.append((lr, 1.0 - b2 ** float(st["step"]), eps, idx.numel()))
            if not vs:
                return
            v = torch.cat(vs).double().cpu()
            lr_t = (
                torch.tensor([s[0] for s in scales for _ in range(s[3])], dtype=torch.float64)
                if len({s[:3] for s in scales}) > 1
                else None
            )
            if lr_t is None:  # one (lr, bias correction, eps) for all: scalars, no per-element vectors
                lr, bc, eps, _ = scales[0]
                x = lr / ((v / bc).sqrt() + eps)
            else:
                bc_t = torch.tensor([s[1] for s in scales for _ in range(s[3])], dtype=torch.float64)
                eps_t = torch.tensor([s[2] for s in scales for _ in range(s[3])], dtype=torch.float64)
                x = lr_t / ((v / bc_t).sqrt() + eps_t)
        xn = x.numpy()
        # NumPy's linear-interpolation quantiles (= torch.quantile's default) at half its cost.
        q = np.quantile(xn, _QUANTILES).tolist()
        mean = float(xn.mean())
        row["adam_step_p05"], row["adam_step_p50"], row["adam_step_p95"] = q
        row["adam_step_cv"] = float(xn.std(ddof=1)) / mean if mean > 0 and xn.size > 1 else math.nan

    def _make_sample(self) -> dict[int, Tensor]:
        # A fixed sample of coordinates, spread over the tensors in proportion to their size
        # (seeded: the same coordinates every run, so runs are comparable).
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        sizes = [p.numel() for p in params]
        total = sum(sizes)
        gen = torch.Generator().manual_seed(0)
        k = min(self.adam_sample, total)
        flat = torch.randperm(total, generator=gen)[:k].sort().values
        out: dict[int, Tensor] = {}
        base = 0
        for p, n in zip(params, sizes):
            sel = flat[(flat >= base) & (flat < base + n)] - base
            if sel.numel():
                out[id(p)] = sel.to(p.device)
            base += n
        return out

    def _lamb(self, row: dict[str, Any]) -> None:
        opt = self.optimizer
        n_state = len(opt.state)
        if n_state == self._lamb_checked:  # no new state since a scan found no trust ratio
            return
        ratios = []
        for g in opt.param_groups:
            for p in g["params"]:
                st = opt.state.get(p)
                if st and "trust_ratio" in st:
                    r = st["trust_ratio"]
                    ratios.append(r.reshape(()) if isinstance(r, Tensor) else torch.tensor(float(r)))
                    if self.per_tensor:
                        row[f"trust_ratio/{self._names.get(id(p), '?')}"] = float(ratios[-1])
        self._lamb_checked = -1 if ratios else n_state
        if ratios:
            x = torch.stack([r.float().cpu() for r in ratios])
            row["trust_ratio_min"], row["trust_ratio_mean"], row["trust_ratio_max"] = (
                float(x.min()),
                float(x.mean()),
                float(x.max()),
            )

    # ---- output -------------------------------------------------------------
    def _emit(self, row: dict[str, Any]) -> None:
        if self.keep:
            self.records.append(row)
        if self._csv_path is not None:
            self._write_csv(row)
        if self._tb is not None:
            t = row["step"]
            if row.get("status", "ok") != "ok":  # a guard's row: the rejected loss and a marker only
                lv = row.get("loss")
                if isinstance(lv, float) and math.isfinite(lv):
                    self._tb.add_scalar("rampup/rejected_loss", lv, t)
                self._tb.add_scalar(f"rampup/guard_{row['status']}", 1.0, t)
                return
            for k, v in row.items():
                if k != "step" and isinstance(v, float) and math.isfinite(v):
                    self._tb.add_scalar(f"rampup/{k}", v, t)

    def _schema(self) -> list[str]:
        """Every column this monitor's rows can have, in row order, from its configuration.

        The CSV header is written from it (not from the first row, which may lack columns: a
        first update skipped by a GradScaler, a row without a loss, the Adam spread's cadence).
        """
        opt = self.optimizer
        groups = opt.param_groups
        cols = ["step", "status", "anomaly", "loss", "loss_median", "loss_mad", "loss_z", "lr"] + [
            f"lr_g{i}" for i in range(1, len(groups))
        ]
        if self._probe is not None:
            cols += ["grad_norm", "update_ratio", "update_ratio_max"]
            if len(groups) > 1:
                cols += [c for i in range(len(groups)) for c in (f"grad_norm_g{i}", f"update_ratio_g{i}")]
            if self.per_tensor:
                names = [self._names.get(id(p), f"p{i}") for i, p in enumerate(q for g in groups for q in g["params"])]
                cols += [c for n in names for c in (f"update_ratio/{n}", f"grad_norm/{n}")]
        if any("betas" in g for g in groups):  # the Adam family (its state appears at the first step)
            cols += ["radam_rho", "adam_step_p05", "adam_step_p50", "adam_step_p95", "adam_step_cv"]
        from .lamb import LAMB

        if isinstance(opt, LAMB):
            if self.per_tensor:
                cols += [f"trust_ratio/{self._names.get(id(p), '?')}" for g in groups for p in g["params"]]
            cols += ["trust_ratio_min", "trust_ratio_mean", "trust_ratio_max"]
        return cols

    def _write_csv(self, row: dict[str, Any]) -> None:
        path = self._csv_path
        assert path is not None
        if self._columns is None:
            cols = self._schema()
            cols += [k for k in row if k not in cols]
            if os.path.exists(path) and os.path.getsize(path) > 0:
                with open(path, encoding="utf-8") as f:
                    have = f.readline().rstrip("\n").split(",")
                # Continue a run's own file: the same columns up to those of param groups added during
                # a run (either run: the file's or this one); another configuration's file is refused.
                differ = set(have) ^ set(cols)
                if not all(c.startswith(_EXTENSIBLE) for c in differ):
                    raise ValueError(
                        f"csv: {path!r} exists with the columns {','.join(have)!r}; this monitor writes "
                        f"{','.join(cols)!r}; accepted: a new file, or the CSV of a run with the same settings "
                        "(to continue it)"
                    )
                missing = [c for c in cols if c not in have]
                self._columns = have
                if missing:  # this run's later groups: appended to the file's header
                    self._extend_header(missing)
                cols = self._columns
            else:
                atomic_write_text(path, ",".join(cols) + "\n")
            self._columns = cols
            self._colset = set(cols)
            if self._csv_fd is None:
                self._csv_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        new = [k for k in row if k not in self._colset]
        if new:  # e.g. a param group added during the run: the header grows, nothing is dropped
            self._extend_header(new)
        line = ",".join(_fmt(row.get(c)) for c in self._columns) + "\n"
        # One write of a whole line on an O_APPEND descriptor: rows never interleave or tear.
        assert self._csv_fd is not None
        os.write(self._csv_fd, line.encode("utf-8"))

    def _extend_header(self, new: list[str]) -> None:
        # Rows are positional and the new columns go last, so earlier rows stay valid (their missing
        # trailing cells read as empty); only the header line changes, and the file is replaced atomically.
        path = self._csv_path
        assert path is not None and self._columns is not None
        if self._csv_fd is not None:
            os.close(self._csv_fd)
            self._csv_fd = None
        with open(path, encoding="utf-8") as f:
            f.readline()
            body = f.read()
        self._columns = self._columns + new
        self._colset = set(self._columns)
        atomic_write_text(path, ",".join(self._columns) + "\n" + body)
        self._csv_fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._csv_fd is not None:
            os.fsync(self._csv_fd)
            os.close(self._csv_fd)
            self._csv_fd = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            if self._csv_fd is not None:
                os.close(self._csv_fd)
        except Exception:
            pass

    def state_dict(self) -> dict[str, Any]:
        """The step counter and the loss window (so the z-scores of a resumed run continue)."""
        return {"t": self.t, "loss_stats": self.loss_stats.state_dict()}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        self.t = check_int(sd["t"], "t", 0)
        self.loss_stats.load_state_dict(sd["loss_stats"])
        if self._probe is not None:
            self._probe.armed = False
            self._arm()


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a monitor CSV as dicts of floats (``step`` as int, ``status``/``anomaly`` as str; empty cells left out).

    Rows of updates a :class:`SpikeGuard` undid have ``status == "rolled_back"``, batches it
    skipped ``"skipped"``; ``[r for r in rows if r.get("status", "ok") == "ok"]`` is the kept run.
    """
    import csv as _csv

    out: list[dict[str, Any]] = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in _csv.DictReader(f):
            row: dict[str, Any] = {}
            for k, v in r.items():
                if v in ("", None):
                    continue
                row[k] = int(v) if k == "step" else v if k in _TEXT_COLUMNS else float(v)
            out.append(row)
    return out


_PANELS: list[tuple[str, tuple[str, ...], bool]] = [
    ("loss", ("loss", "loss_median"), False),
    ("learning rate", ("lr",), False),
    ("gradient norm ‖g‖", ("grad_norm",), True),
    ("relative update ‖Δw‖/‖w‖", ("update_ratio", "update_ratio_max"), True),
    ("Adam effective step η/(√v̂+ε)", ("adam_step_p05", "adam_step_p50", "adam_step_p95"), True),
    ("RAdam ρ_t", ("radam_rho",), False),
    ("LAMB trust ratio", ("trust_ratio_min", "trust_ratio_mean", "trust_ratio_max"), True),
]


def plot_monitor(
    source: Monitor | Sequence[Mapping[str, Any]] | str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Any:
    """Draw the monitor's rows (a :class:`Monitor`, a list of rows or a CSV path); one panel per quantity.

    Rows whose ``status`` is not ``"ok"`` (a guard skipped or undid the update) are left out, and so
    are panels without data.  Returns the matplotlib Figure; with ``path`` it is
    also saved (atomically).

    >>> fig = plot_monitor([{"step": 0, "loss": 3.0, "lr": 0.1}, {"step": 1, "loss": 2.5, "lr": 0.2}])
    >>> len(fig.axes)
    2
    """
    plt = pyplot("plot_monitor")
    if isinstance(source, Monitor):
        rows: Sequence[Mapping[str, Any]] = source.records
    elif isinstance(source, (str, os.PathLike)):
        rows = read_csv(source)
    elif isinstance(source, Sequence):
        rows = source  # type: ignore[assignment]
    else:
        raise TypeError(f"source: got {type(source).__name__}; accepted: a Monitor, a list of row dicts or a CSV path")
    # The kept run only: a guard's skipped batches and undone updates would draw the line back in time.
    rows = [r for r in rows if r.get("status", "ok") == "ok"]
    if not rows:
        raise ValueError("source: no rows to plot; accepted: a monitor or CSV with at least one measured step")
    panels = [(name, [c for c in cols if any(c in r for r in rows)], logy) for name, cols, logy in _PANELS]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.9 * len(panels) + 0.6), sharex=True, squeeze=False)
    for ax, (name, cols, logy) in zip(axes[:, 0], panels):
        for c in cols:
            xs = [r["step"] for r in rows if c in r and r[c] is not None and math.isfinite(r[c])]
            ys = [r[c] for r in rows if c in r and r[c] is not None and math.isfinite(r[c])]
            ax.plot(xs, ys, lw=1, label=c)
        if logy and any(r.get(c, 0) and r.get(c, 0) > 0 for r in rows for c in cols):
            ax.set_yscale("log")
        ax.set_ylabel(name, fontsize=8)
        if len(cols) > 1:
            ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("optimizer update t")
    fig.suptitle(title or "rampup monitor", fontsize=10)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=110)
    return fig
