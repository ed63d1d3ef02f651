r"""``UpdateProbe``: the relative update size ``‖Δw‖/‖w‖`` and the gradient norm of one optimizer update.

Measured through optimizer step hooks; :class:`rampup.torch.Monitor` and
:class:`rampup.torch.AutoWarmup` (its ``update`` method) read it.  The quantity is
the one warmup keeps small (Kosson, Messmer & Jaggi 2024, arXiv:2410.23922).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["UpdateProbe"]


class UpdateProbe:
    r"""Measure ``‖Δw‖/‖w‖`` and ``‖g‖`` of one optimizer update through step hooks.

    :meth:`arm` asks for the next update to be measured; the pre-step hook copies the
    weights and reads the gradient norms; the post-step hook computes ``‖Δw‖`` and
    stores :attr:`last` (a dict of floats).  ``arm(update=False)`` reads only the
    gradient norms and the LRs (one pass instead of five).  Between armed steps the
    hooks only test a flag.  :meth:`close` removes the hooks.  All norms are computed
    with ``torch._foreach_norm`` (one fused kernel per dtype/device on GPUs) and moved
    to the host in one transfer.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, grads: bool = True) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer: got {type(optimizer).__name__}; accepted: a torch.optim.Optimizer")
        self.optimizer = optimizer
        self.grads = bool(grads)  # False: no gradient norms (grad_norm reads 0)
        self.armed = False
        self.want_update = True  # False: this armed step reads gradient norms and LRs only
        self.last: dict[str, Any] | None = None
        self._prev: list[Tensor] | None = None
        self._layout_ids: tuple[int, ...] | None = None
        self._pending = False
        self._gnorm: list[Tensor] | None = None
        self._wnorm: list[Tensor] = []

        self._params: list[Tensor] = []
        self._group_of: list[int] = []
        self._is_matrix: list[bool] = []
        self._on_cpu = True
        self._grads_after = False  # the step has a closure: read the gradients in the post-hook
        self._lrs: list[float] = []
        self._h = [
            optimizer.register_step_pre_hook(self._pre),
            optimizer.register_step_post_hook(self._post),
        ]

    def arm(self, update: bool = True) -> None:
        self.armed = True
        self.want_update = bool(update)

    @property
    def params(self) -> list[Tensor]:
        """The parameters measured, in the order of the per-tensor norms in ``last["tensors"]``."""
        return self._params

    def close(self) -> None:
        for h in self._h:
            h.remove()
        self._h = []
        self._prev = None
        self._layout_ids = None

    def _layout(self, opt: Any) -> list[Tensor]:
        # The parameter list, rebuilt only when the groups changed (add_param_group, a new list):
        # the check is one tuple of ids, far cheaper than rebuilding buffers every step.
        ids = tuple(id(p) for g in opt.param_groups for p in g["params"])
        moved = bool(self._prev) and self._prev[0].device != self._params[0].device  # type: ignore[index]
        if ids != self._layout_ids or moved:  # moved: module.to(device) keeps the Parameter objects
            self._params = [p for g in opt.param_groups for p in g["params"]]
            self._group_of = [gi for gi, g in enumerate(opt.param_groups) for _ in g["params"]]
            self._is_matrix = [p.ndim >= 2 for p in self._params]
            self._on_cpu = all(p.device.type == "cpu" for p in self._params)
            with torch.no_grad():
                self._prev = [torch.empty_like(p) for p in self._params]  # allocated once, reused
            self._layout_ids = ids
        return self._params

    def _pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        if not self.armed:
            return
        params = self._layout(opt)
        # The LR this update uses (a scheduler stepped before Monitor.step() has already moved on).
        self._lrs = [float(g["lr"]) for g in opt.param_groups]
        # Every op below is one foreach call over all tensors: on small models the cost is the
        # per-tensor dispatch, so the monitor makes exactly five passes per measured update
        # (copy, ‖w‖, ‖g‖ here; subtract, ‖Δw‖ after the step) and no per-tensor Python work.
        with torch.no_grad():
            if self.want_update:
                torch._foreach_copy_(self._prev, params)  # type: ignore[arg-type]
                self._wnorm = list(torch._foreach_norm(params))
            # With a closure (Lightning, LBFGS) the gradients do not exist yet: the closure runs
            # inside step().  Then they are read after the update (optimizers leave .grad as is).
            closure = kwargs.get("closure") if kwargs else None
            # (args[0] is the optimizer itself: the hook gets step()'s bound arguments)
            self._grads_after = closure is not None or any(callable(a) for a in (args or ())[1:])
            self._gnorm = None if self._grads_after else self._grad_norms(params)
        self._pending = True

    def _grad_norms(self, params: list[Tensor]) -> list[Tensor] | None:
        if not self.grads:
            return None
        grads = [p.grad for p in params]
        if all(g is not None for g in grads):
            return list(torch._foreach_norm(grads))  # type: ignore[arg-type]
        # parameters without a gradient count as 0
        return [g.detach().norm() if g is not None else p.new_zeros(()) for p, g in zip(params, grads)]

    def _post(self, opt: Any, args: Any, kwargs: Any) -> None:
        if not self.armed or not self._pending or self._prev is None:
            return
        self.armed = False
        self._pending = False
        params, prev = self._params, self._prev
        n = len(params)
        update = self.want_update
        with torch.no_grad():
            if self._grads_after:
                self._gnorm = self._grad_norms(params)
            norms = []
            if update:
                torch._foreach_sub_(prev, params)  # prev := w_t − w_{t+1} = −Δw
                norms = list(torch._foreach_norm(prev)) + self._wnorm
            if self._gnorm is not None:
                norms += self._gnorm
            vals = [x.item() for x in norms] if self._on_cpu else _to_host(norms)
        k = 2 * n if update else 0  # vals = [‖Δw‖…, ‖w‖…] if update, then [‖g‖…] if gradients
        g = vals[k:] if self._gnorm is not None else [0.0] * n
        self._wnorm, self._gnorm = [], None
        n_groups = len(opt.param_groups)
        gg = [0.0] * n_groups
        for i, gi in enumerate(self._group_of):
            gg[gi] += g[i] * g[i]
        tg = sum(gg)
        if not update:
            self.last = {
                "grad_norm": math.sqrt(tg),
                "update": False,
                "groups": [(math.sqrt(gg[i]), math.nan) for i in range(n_groups)],
                "tensors": (None, None, g),
                "lrs": self._lrs,
            }
            return
        d, w = vals[:n], vals[n:k]
        gd, gw = [0.0] * n_groups, [0.0] * n_groups
        rmax = 0.0
        mat_d = mat_w = 0.0
        is_matrix = self._is_matrix
        for i, gi in enumerate(self._group_of):
            di, wi = d[i], w[i]
            gd[gi] += di * di
            gw[gi] += wi * wi
            if is_matrix[i] and wi > 0.0:
                rmax = max(rmax, di / wi) if math.isfinite(di) else math.inf
                mat_d += di * di
                mat_w += wi * wi
        td, tw = sum(gd), sum(gw)
        self.last = {
            "update": True,
            "grad_norm": math.sqrt(tg),
            "update_ratio": math.sqrt(td) / math.sqrt(tw) if tw > 0 else math.nan,
            "update_ratio_matrices": math.sqrt(mat_d) / math.sqrt(mat_w) if mat_w > 0 else math.nan,
            "update_ratio_max": rmax,
            "groups": [
                (math.sqrt(gg[i]), math.sqrt(gd[i]) / math.sqrt(gw[i]) if gw[i] > 0 else math.nan)
                for i in range(n_groups)
            ],
            "tensors": (d, w, g),
            "lrs": self._lrs,
        }


def _to_host(norms: list[Tensor]) -> list[float]:
    """0-d norms on an accelerator → Python floats in one stack and one device→host transfer.

    (On the CPU the probe reads them one by one: there is no transfer to batch, and 0-d
    reads cost less than a stack.)
    """
    if not norms:
        return []
    try:
        stacked = torch.stack(norms)  # one dtype and device: the common case
    except RuntimeError:  # tensors on several devices (model parallel)
        stacked = torch.stack([x.detach().float().cpu() for x in norms])
    return stacked.cpu().double().tolist()  # type: ignore[no-any-return]
