"""What the experiments record during an LM run without changing it: :class:`~rampup.experiments.train.Observer`\\ s.

Each is passed to :func:`rampup.experiments.train.lm_loop` in ``observers=``; the loop calls
``start(model, opt)`` before the first update, ``after_step(t, model, opt, loss, lr)`` after every
update (before the LR plan steps) and merges ``result()`` into its own result.

* :class:`AttentionLogits` (E8): the largest pre-softmax attention logit of every layer, per update;
* :class:`WeightNorms` (E9): the global weight norm ‖w‖₂ at the start, every N updates and at the end;
* :class:`WeightDecays` (E9–E11): the weight decay each update used (co-scheduled by the LR plan).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["AttentionLogits", "WeightDecays", "WeightNorms", "max_attention_logit", "weight_norm"]


def max_attention_logit(q: torch.Tensor, k: torch.Tensor) -> float:
    r"""``max |q_i · k_j| / sqrt(d_head)`` over batch, heads and the causal pairs ``j ≤ i``.

    ``q``, ``k``: ``(batch, heads, seq, d_head)``, what ``scaled_dot_product_attention`` receives; the
    pairs ``j > i`` are masked out by the causal attention and never reach the softmax.

    >>> q = torch.tensor([[[[1.0, 0.0], [0.0, 2.0]]]]); k = torch.tensor([[[[3.0, 0.0], [0.0, -5.0]]]])
    >>> max_attention_logit(q, k)  # pairs (0,0): 3, (1,0): 0, (1,1): -10; (0,1) is masked
    7.0710678...
    """
    s = (q @ k.transpose(-1, -2)).abs_() / math.sqrt(q.shape[-1])
    t = s.shape[-1]
    causal = torch.ones(t, t, dtype=torch.bool, device=s.device).tril_()
    return float(s.masked_fill_(~causal, 0.0).max())


class AttentionLogits:
    """Forward hooks on every layer's ``q_norm``/``k_norm`` (an ``Identity`` without qk-layernorm), so they see
    the queries and keys that enter the softmax, after qk-layernorm when there is one.

    While the model is in training mode, each forward pass sets :attr:`last` to the largest attention logit of
    each layer (:func:`max_attention_logit`); evaluation passes (``model.eval()``) are not recorded.  Built on a
    model (``AttentionLogits(model)``) the hooks are on at once; as an observer (``AttentionLogits()``) they go on
    at ``start`` and off at ``result()``, which gives ``max_logit``: ``(updates, layers)``, float64.
    """

    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self.last: list[float] = []
        self.rows: list[list[float]] = []
        self._q: dict[int, torch.Tensor] = {}
        self._handles: list[Any] = []
        if model is not None:
            self._attach(model)

    def _attach(self, model: torch.nn.Module) -> None:
        blocks: Any = model.blocks  # TinyLM's layers (a ModuleList types its items as Module)
        self.last = [math.nan] * len(blocks)
        for i, blk in enumerate(blocks):
            attn: Any = blk.attn
            self._handles.append(attn.q_norm.register_forward_hook(self._keep_q(i)))
            self._handles.append(attn.k_norm.register_forward_hook(self._measure(i)))

    def _keep_q(self, i: int) -> Callable[..., None]:
        def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor) -> None:
            if mod.training:
                self._q[i] = out.detach()

        return hook

    def _measure(self, i: int) -> Callable[..., None]:
        def hook(mod: torch.nn.Module, inp: Any, out: torch.Tensor) -> None:
            if mod.training:  # q_norm(q) is evaluated before k_norm(k): the call's arguments go left to right
                self.last[i] = max_attention_logit(self._q.pop(i), out.detach())

        return hook

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def start(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        self._attach(model)

    def after_step(self, t: int, model: torch.nn.Module, opt: torch.optim.Optimizer, loss: float, lr: float) -> None:
        self.rows.append(list(self.last))  # a non-finite loss too: its forward pass was recorded

    def result(self) -> dict[str, Any]:
        self.close()
        return {"max_logit": np.asarray(self.rows, dtype=np.float64)}


def weight_norm(model: torch.nn.Module) -> float:
    """‖w‖₂ over all parameters (every parameter is decayed by E1's AdamW)."""
    with torch.no_grad():
        return float(torch.sqrt(sum((p.detach().float() ** 2).sum() for p in model.parameters())))  # type: ignore[arg-type]


class WeightNorms:
    """``weight_norm``: ``(updates done, ‖w‖₂)`` at the start, every ``every`` updates (0: never), after ``at``
    updates, and at the end of the run (after its last update; a diverged run: after the last finite one)."""

    def __init__(self, every: int = 0, at: int | None = None) -> None:
        self.every, self.at = every, at
        self.norms: list[tuple[int, float]] = []
        self.model: torch.nn.Module | None = None
        self.updates = 0

    def start(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        self.model = model
        self.norms.append((0, weight_norm(model)))

    def after_step(self, t: int, model: torch.nn.Module, opt: torch.optim.Optimizer, loss: float, lr: float) -> None:
        self.updates = t + 1
        if not math.isfinite(loss):
            return  # no update was made; the run stops
        if (self.every and (t + 1) % self.every == 0) or t + 1 == self.at:
            self.norms.append((t + 1, weight_norm(model)))

    def result(self) -> dict[str, Any]:
        assert self.model is not None, "WeightNorms.result() before start()"
        if self.norms[-1][0] != self.updates:
            self.norms.append((self.updates, weight_norm(self.model)))
        return {"weight_norm": self.norms}


class WeightDecays:
    """``weight_decay``: the weight decay of the optimizer's first group that each update used."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def start(self, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        pass

    def after_step(self, t: int, model: torch.nn.Module, opt: torch.optim.Optimizer, loss: float, lr: float) -> None:
        self.values.append(float(opt.param_groups[0]["weight_decay"]))

    def result(self) -> dict[str, Any]:
        return {"weight_decay": self.values}
