r"""LAMB: Adam moments with a layer-wise trust ratio (You et al. 2019).

For each parameter tensor ``w`` (a "layer") with gradient ``g``, update ``t = 1, 2, …``:

.. math::

    m_t &= β_1 m_{t-1} + (1 − β_1) g_t, \qquad v_t = β_2 v_{t-1} + (1 − β_2) g_t^2 \\
    \hat m_t &= m_t / (1 − β_1^t), \qquad \hat v_t = v_t / (1 − β_2^t)
        \quad\text{(skipped with ``bias_correction=False``)} \\
    u_t &= \hat m_t / (\sqrt{\hat v_t} + ε) + λ w_{t-1} \\
    ρ_t &= φ(\lVert w_{t-1} \rVert) / \lVert u_t \rVert
        \quad(ρ_t = 1 \text{ when either norm is } 0) \\
    w_t &= w_{t-1} − η_t\, ρ_t\, u_t

``φ`` is the identity, or ``φ(z) = min(max(z, γ_l), γ_u)`` with
``weight_norm_bounds=(γ_l, γ_u)`` (the paper's clipped scaling function;
``(0, 10)`` is the common choice).  ``λ`` is decoupled weight decay: it is added
to the update *before* the norm, so it is scaled by ``η_t ρ_t`` too.  Norms are
Euclidean norms over the whole tensor.

Since ``‖η_t ρ_t u_t‖ = η_t φ(‖w‖)``, every layer moves by the same *relative*
amount ``η_t`` per step, whatever its gradient scale.  Seen from Adam, ``ρ_t`` is a
per-layer multiplier of the LR: the layer is trained by Adam with LR ``η_t ρ_t``.
Adam's first update is ``±1`` per element (``‖u‖ = √n``, its largest), and ``‖u‖``
shrinks as the moments average out gradient noise, so ``ρ_t`` typically starts
small and grows over the first hundreds of steps — LAMB warms each layer up by
itself, on top of the global schedule ``η_t`` (the paper still uses a warmup).
:meth:`LAMB.trust_ratios` returns the last ``ρ_t`` of every parameter and
:func:`plot_trust_ratios` draws them over steps.

Reference: You et al. 2019, "Large Batch Optimization for Deep Learning:
Training BERT in 76 minutes", arXiv:1904.00962 (Algorithm 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..support.io import save_figure
from ..support.optional import pyplot
from .checks import is_number

__all__ = ["LAMB", "lamb_param_groups", "plot_trust_ratios"]


def _check_lr(lr: Any, where: str) -> None:
    if isinstance(lr, Tensor):
        if lr.numel() != 1 or not lr.is_floating_point():
            raise ValueError(
                f"{where}lr: got a tensor of shape {tuple(lr.shape)} and dtype {lr.dtype}; "
                "accepted: a float or a 1-element floating-point tensor"
            )
        value = float(lr.detach().reshape(()).item())
    elif is_number(lr):
        value = float(lr)
    else:
        raise TypeError(f"{where}lr: got {lr!r} ({type(lr).__name__}); accepted: a float >= 0 or a 1-element tensor")
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{where}lr: got {value!r}; accepted: a finite number >= 0")


def _check_group(g: Mapping[str, Any], where: str) -> None:
    """Raise a ValueError/TypeError naming the option, the value and the accepted range."""
    _check_lr(g["lr"], where)
    betas = g["betas"]
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(is_number(b) for b in betas)):
        raise TypeError(f"{where}betas: got {betas!r}; accepted: a pair (beta1, beta2) of numbers in [0, 1)")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{where}betas[{i}]: got {b!r}; accepted: a number in [0, 1)")
    eps = g["eps"]
    if not is_number(eps):
        raise TypeError(f"{where}eps: got {eps!r} ({type(eps).__name__}); accepted: a finite number > 0")
    # eps = 0 would turn a zero gradient (v = 0) into 0/0 = NaN.
    if not (math.isfinite(eps) and eps > 0.0):
        raise ValueError(f"{where}eps: got {eps!r}; accepted: a finite number > 0")
    wd = g["weight_decay"]
    if not is_number(wd):
        raise TypeError(f"{where}weight_decay: got {wd!r} ({type(wd).__name__}); accepted: a finite number >= 0")
    if not (math.isfinite(wd) and wd >= 0.0):
        raise ValueError(f"{where}weight_decay: got {wd!r}; accepted: a finite number >= 0")
    for flag in ("bias_correction", "trust_ratio"):
        if not isinstance(g[flag], bool):
            raise TypeError(f"{where}{flag}: got {g[flag]!r} ({type(g[flag]).__name__}); accepted: True or False")
    bounds = g["weight_norm_bounds"]
    if bounds is not None:
        ok = isinstance(bounds, (tuple, list)) and len(bounds) == 2 and all(is_number(b) for b in bounds)
        if not ok or not (0.0 <= bounds[0] <= bounds[1] and bounds[1] > 0.0 and not math.isnan(bounds[1])):
            raise ValueError(
                f"{where}weight_norm_bounds: got {bounds!r}; accepted: None (φ = identity) or a pair "
                "(low, high) with 0 <= low <= high, high > 0, e.g. (0.0, 10.0)"
            )


class LAMB(torch.optim.Optimizer):
    r"""LAMB optimizer (You et al. 2019): Adam moments, decoupled weight decay, layer-wise trust ratio.

    Update for each parameter tensor ``w`` at update ``t`` (``t = 1`` first):
    ``u = m̂/(√v̂ + ε) + λ·w``; ``ρ = φ(‖w‖)/‖u‖`` (1 if either is 0); ``w ← w − η·ρ·u``.
    The full derivation is in the module docstring and ``docs/lamb.md``.

    Args:
        params: parameters, ``(name, parameter)`` pairs (e.g. ``model.named_parameters()``; the
            names then key :meth:`trust_ratios`), or param-group dicts.  Every option below
            can be set per group; :func:`lamb_param_groups` builds the usual two groups.
        lr: learning rate η (float or 1-element tensor; a tensor is read, never replaced,
            so ``torch.compile`` does not recompile when a scheduler changes it).
        betas: ``(β1, β2)``, each in [0, 1).
        eps: ε > 0, added to ``√v̂``.
        weight_decay: decoupled weight decay λ ≥ 0, added to the update before its norm.
        bias_correction: divide the moments by ``1 − β^t`` (Adam).  ``False`` gives the form of
            Algorithm 2 without bias correction (the original BERT/TF and gluon-nlp LAMB).
        trust_ratio: apply the layer-wise trust ratio.  ``False`` in a group (biases, norm
            weights) makes that group a plain AdamW-style update ``w ← w − η·u``.
        weight_norm_bounds: ``None`` for ``φ(z) = z``, or ``(γ_l, γ_u)`` for
            ``φ(z) = min(max(z, γ_l), γ_u)``; ``(0.0, 10.0)`` is the common clipping.

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, for
    parameters with the trust ratio on, ``trust_ratio`` (0-d tensor: the ρ of its latest update).

    Reference: You et al. 2019, arXiv:1904.00962.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
    >>> opt = LAMB([w], lr=0.1, weight_decay=0.0)
    >>> w.grad = torch.tensor([1.0, -1.0], dtype=torch.float64)
    >>> opt.step()
    >>> # first update: u ≈ sign(g) = (1, −1), ‖u‖ ≈ √2, ‖w‖ = 5, so ‖Δw‖ = 0.1 · 5
    >>> round(opt.trust_ratios()["param0"], 4), round(float((w.detach() - torch.tensor([3.0, 4.0])).norm()), 4)
    (3.5355, 0.5)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
        *,
        bias_correction: bool = True,
        trust_ratio: bool = True,
        weight_norm_bounds: tuple[float, float] | None = None,
    ) -> None:
        defaults: dict[str, Any] = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "bias_correction": bias_correction,
            "trust_ratio": trust_ratio,
            "weight_norm_bounds": weight_norm_bounds,
        }
        _check_group(defaults, "")
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if isinstance(param_group, dict):  # torch raises its own TypeError otherwise
            merged = {**self.defaults, **param_group}
            _check_group(merged, f"param_groups[{len(self.param_groups)}].")
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One LAMB update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for gi, group in enumerate(self.param_groups):
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            bounds = group["weight_norm_bounds"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    raise TypeError(f"param_groups[{gi}]: LAMB got a sparse gradient; accepted: dense gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(grad, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                if group["bias_correction"]:
                    denom = (v / (1.0 - beta2**t)).sqrt_().add_(eps)
                    update = (m / (1.0 - beta1**t)).div_(denom)
                else:
                    update = m / v.sqrt().add_(eps)
                if wd != 0.0:
                    update.add_(p, alpha=wd)
                if group["trust_ratio"]:
                    # Norms in at least float32: a bf16 norm of a large layer loses the ratio's digits.
                    ndt = torch.promote_types(p.dtype, torch.float32)
                    phi = torch.linalg.vector_norm(p, dtype=ndt)
                    if bounds is not None:
                        phi = phi.clamp(bounds[0], bounds[1])
                    u_norm = torch.linalg.vector_norm(update, dtype=ndt)
                    # torch.where, not `if`: no host sync on an accelerator.
                    ratio = torch.where((phi > 0) & (u_norm > 0), phi / u_norm, torch.ones_like(phi))
                    state["trust_ratio"] = ratio
                    update.mul_(ratio)
                if isinstance(lr, Tensor):
                    p.sub_(update.mul_(lr))
                else:
                    p.add_(update, alpha=-lr)
        return loss

    def trust_ratios(self) -> dict[str, float]:
        """The trust ratio ρ of each parameter's latest update, as floats.

        Keys are the parameter names when the optimizer was built from named parameters
        (``model.named_parameters()`` or :func:`lamb_param_groups`), else ``"param{i}"``
        with ``i`` the parameter's index in :meth:`state_dict`.  Parameters with the trust
        ratio off, or not updated yet, are absent.  Reading the values synchronizes with
        an accelerator; call it when you log, not inside the hot loop.
        """
        out: dict[str, float] = {}
        k = 0
        for group in self.param_groups:
            names = group.get("param_names")
            for j, p in enumerate(group["params"]):
                r = self.state[p].get("trust_ratio") if p in self.state else None
                if r is not None:
                    out[names[j] if names else f"param{k}"] = float(r)
                k += 1
        return out


def _default_exclude(name: str, p: Tensor) -> bool:
    return p.ndim <= 1


def lamb_param_groups(
    model: torch.nn.Module,
    weight_decay: float = 0.01,
    exclude: Callable[[str, Tensor], bool] | None = None,
) -> list[dict[str, Any]]:
    """Two named param groups: weights (decay + trust ratio) and the excluded rest (neither).

    The excluded group has ``weight_decay=0.0`` and ``trust_ratio=False``: a plain
    Adam update, as BERT's LAMB does for biases and LayerNorm parameters.  By default a
    parameter is excluded when it has at most one dimension (biases, norm scales and
    shifts, scalars); pass ``exclude(name, param) -> bool`` to decide otherwise.
    Parameters with ``requires_grad=False`` are left out.  Empty groups are dropped.

    >>> import torch
    >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    >>> [(g["weight_decay"], g.get("trust_ratio", True), [n for n, _ in g["params"]]) for g in lamb_param_groups(m)]
    [(0.01, True, ['0.weight']), (0.0, False, ['0.bias', '1.weight', '1.bias'])]
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: got {type(model).__name__}; accepted: a torch.nn.Module")
    if not is_number(weight_decay) or not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay: got {weight_decay!r}; accepted: a finite number >= 0")
    rule = exclude if exclude is not None else _default_exclude
    adapted: list[tuple[str, Tensor]] = []
    excluded: list[tuple[str, Tensor]] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (excluded if rule(name, p) else adapted).append((name, p))
    groups: list[dict[str, Any]] = []
    if adapted:
        groups.append({"params": adapted, "weight_decay": float(weight_decay)})
    if excluded:
        groups.append({"params": excluded, "weight_decay": 0.0, "trust_ratio": False})
    if not groups:
        raise ValueError("model: has no parameter with requires_grad=True; accepted: a model with trainable parameters")
    return groups


def plot_trust_ratios(
    history: Sequence[Mapping[str, float]],
    path: str | None = None,
    title: str | None = None,
    max_lines: int = 20,
) -> Any:
    """Draw LAMB's trust ratios over steps: one line per parameter; returns the matplotlib Figure.

    ``history[i]`` is ``opt.trust_ratios()`` read after update ``i`` (``i = 0`` is the first
    update).  A parameter missing from a step leaves a gap.  With more than ``max_lines``
    parameters, the ``max_lines`` with the widest range are drawn (the others change little).
    ``path`` also writes the figure (atomically; the extension picks the format).

    >>> fig = plot_trust_ratios([{"fc.weight": 0.5}, {"fc.weight": 0.8}, {"fc.weight": 1.0}])
    >>> fig.axes[0].get_lines()[0].get_ydata().tolist()
    [0.5, 0.8, 1.0]
    """
    plt = pyplot("plot_trust_ratios")
    if isinstance(history, Mapping) or not isinstance(history, Sequence) or not history:
        raise ValueError(
            f"history: got {type(history).__name__} of length {len(history) if hasattr(history, '__len__') else '?'}; "
            "accepted: a non-empty list of opt.trust_ratios() dicts, one per step"
        )
    if not isinstance(max_lines, int) or isinstance(max_lines, bool) or max_lines < 1:
        raise ValueError(f"max_lines: got {max_lines!r}; accepted: an int >= 1")
    names: dict[str, None] = {}
    for i, h in enumerate(history):
        if not isinstance(h, Mapping):
            raise TypeError(f"history[{i}]: got {type(h).__name__}; accepted: a dict name -> trust ratio")
        names.update(dict.fromkeys(h))
    if not names:
        raise ValueError("history: every step is empty (no parameter had the trust ratio on); nothing to plot")
    series = {n: [float(h[n]) if n in h else math.nan for h in history] for n in names}

    def spread(ys: list[float]) -> float:
        ok = [y for y in ys if not math.isnan(y)]
        return max(ok) - min(ok)

    shown = sorted(series, key=lambda n: -spread(series[n]))[:max_lines]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    steps = list(range(len(history)))
    for n in names:
        if n in shown:
            ax.plot(steps, series[n], lw=1.2, label=n)
    ax.set_xlabel("optimizer step (0 = first update)")
    ax.set_ylabel("trust ratio φ(‖w‖)/‖u‖")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", ncol=2 if len(shown) > 8 else 1)
    hidden = len(names) - len(shown)
    ax.set_title(
        (title or "LAMB trust ratios") + (f" ({hidden} flatter parameters not drawn)" if hidden else ""), fontsize=9
    )
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
