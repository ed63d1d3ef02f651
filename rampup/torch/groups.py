r"""Param groups: the one writer of a group's scheduled values, and layer-wise LR decay.

:func:`write_group_value` is how every rampup scheduler sets a group's ``lr``,
``weight_decay``, ``momentum`` or β1 (models: pytorch_warmup's ``_set_lr`` and
timm's one path for lr / weight decay / momentum): a tensor value is filled in
place, so it keeps its identity (a ``torch.compile``'d optimizer step reads it
as a graph input), and a Python number stays a Python float.

:func:`layerwise_lr_decay` builds param groups for layer-wise LR decay
(discriminative fine-tuning).

Layer ``i`` of ``n`` (``0`` = the input side, ``n − 1`` = the head) gets

.. math::

    \mathrm{lr}_i = \mathrm{lr} \cdot \mathrm{decay}^{\,n - 1 - i}

so the head trains at ``lr`` and every layer below at ``decay`` times the LR of
the layer above.  The groups are plain ``torch.optim`` param groups: a
:class:`~rampup.torch.WarmupScheduler` takes each group's ``lr`` as its peak,
so warmup and decay keep the layer-wise ratios at every step.

References: Howard & Ruder 2018, "Universal Language Model Fine-tuning"
(ULMFiT, discriminative fine-tuning), arXiv:1801.06146; Clark et al. 2020,
ELECTRA, arXiv:2003.10555 (layer-wise LR decay 0.8); Bao et al. 2021, BEiT,
arXiv:2106.08254.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from torch import Tensor, nn

__all__ = ["GROUP_KEYS", "layerwise_lr_decay", "write_group_value"]

#: The param-group entries :func:`write_group_value` sets; ``"betas"`` means β1 (``betas[0]``).
GROUP_KEYS = ("lr", "weight_decay", "momentum", "betas")


def write_group_value(group: dict[str, Any], key: str, value: float) -> None:
    """Set a param group's ``lr``, ``weight_decay``, ``momentum`` or β1 (``key="betas"``) to ``value``.

    A tensor entry is filled in place (``fill_``: the same tensor object, so a
    ``torch.compile``'d step that reads it as a graph input needs no recompile);
    a Python number is replaced by ``value``.  ``key="betas"`` writes β1, the
    momentum of the Adam family, and keeps β2.

    >>> import torch
    >>> g = {"lr": torch.tensor(0.1), "betas": (0.9, 0.999)}
    >>> lr = g["lr"]
    >>> write_group_value(g, "lr", 0.5); write_group_value(g, "betas", 0.85)
    >>> g["lr"] is lr, g["lr"].item(), g["betas"]
    (True, 0.5, (0.85, 0.999))
    """
    if key == "betas":
        betas = group["betas"]
        if isinstance(betas[0], Tensor):
            betas[0].fill_(value)
        else:
            group["betas"] = (value, *tuple(betas)[1:])
        return
    if key not in GROUP_KEYS:
        raise ValueError(f"key: got {key!r}; accepted: {', '.join(repr(k) for k in GROUP_KEYS)}")
    cur = group[key]
    if isinstance(cur, Tensor):
        cur.fill_(value)
    else:
        group[key] = value


def layerwise_lr_decay(
    layers: Sequence[nn.Module | Iterable[nn.Parameter]], lr: float, decay: float, **group_options: Any
) -> list[dict[str, Any]]:
    """One param group per layer, ``lr · decay**depth`` with depth 0 for the last layer (the head).

    ``layers`` is ordered from the input side to the head; each item is a module or an
    iterable of parameters.  ``group_options`` (e.g. ``weight_decay=0.05``) are copied into
    every group.  Frozen parameters (``requires_grad=False``) stay in their layer's group,
    so unfreezing later needs no new group.

    >>> import torch
    >>> from rampup.torch import layerwise_lr_decay
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> groups = layerwise_lr_decay(list(net), lr=1e-3, decay=0.5, weight_decay=0.01)
    >>> [g["lr"] for g in groups]
    [0.00025, 0.0005, 0.001]
    >>> opt = torch.optim.AdamW(groups)
    """
    if isinstance(layers, (nn.Module, str)) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise TypeError(
            f"layers: got {type(layers).__name__}; accepted: a non-empty list of modules or parameter lists, "
            "ordered from the input side to the head (e.g. list(model.children()))"
        )
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: got {lr!r}; accepted: a finite number > 0 (the head's LR)")
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 < decay <= 1:
        raise ValueError(f"decay: got {decay!r}; accepted: a number in (0, 1] (0.75 to 0.95 is common)")
    for key in ("params", "lr"):
        if key in group_options:
            raise TypeError(f"{key}: is set by layerwise_lr_decay; pass layers= and lr= instead")
    n = len(layers)
    seen: dict[int, int] = {}
    groups = []
    for i, layer in enumerate(layers):
        params = list(layer.parameters()) if isinstance(layer, nn.Module) else list(layer)
        if not params:
            raise ValueError(f"layers[{i}]: has no parameters; accepted: layers with at least one parameter")
        for p in params:
            if not isinstance(p, nn.Parameter):
                raise TypeError(f"layers[{i}]: contains {type(p).__name__}; accepted: modules or nn.Parameters")
            if id(p) in seen and seen[id(p)] != i:
                raise ValueError(
                    f"layers[{i}]: shares a parameter with layers[{seen[id(p)]}]; each parameter goes in one layer"
                )
            seen[id(p)] = i
        groups.append({"params": params, "lr": float(lr) * float(decay) ** (n - 1 - i), **group_options})
    return groups
