"""The two tiny models of the reference experiments (PyTorch).

* :class:`TinyLM` — a byte-level causal transformer, Post-LN or Pre-LN
  (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture",
  arXiv:2002.04745): Post-LN computes ``x = LN(x + f(x))`` and has no final LN;
  Pre-LN computes ``x = x + f(LN(x))`` and ends with a final LN.  Learned
  positions, MLP ``4·d_model`` with GELU, Xavier-uniform init (each of the
  query/key/value projections on its own), zero biases.  ``qk_norm`` adds a
  LayerNorm on queries and keys (Wortsman et al. 2023, arXiv:2309.14322).
* :class:`TinyResNet` — a three-stage ResNet for 8×8 digits with BatchNorm and
  the last BN of each residual block initialised with γ = 0, so every block
  starts as the identity (Goyal et al. 2017, arXiv:1706.02677, §5.1).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TinyLM", "TinyResNet", "decay_groups"]


class _Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, qk_norm: bool) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads: got {n_heads}; accepted: a divisor of d_model={d_model}")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.q_norm = nn.LayerNorm(self.d_head) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.d_head) if qk_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class _Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, post_ln: bool, qk_norm: bool) -> None:
        super().__init__()
        self.post_ln = post_ln
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = _Attention(d_model, n_heads, qk_norm)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.post_ln:
            x = self.ln1(x + self.attn(x))
            return self.ln2(x + self.mlp(x))
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    """Byte-level causal transformer LM; ``forward(idx)`` returns logits of shape ``(batch, seq, vocab)``.

    >>> import torch
    >>> m = TinyLM(n_layers=1, d_model=16, n_heads=2, seq_len=8, post_ln=True)
    >>> m(torch.zeros(2, 8, dtype=torch.long)).shape
    torch.Size([2, 8, 256])
    """

    def __init__(
        self,
        n_layers: int = 4,
        d_model: int = 64,
        n_heads: int = 4,
        seq_len: int = 64,
        vocab: int = 256,
        post_ln: bool = True,
        qk_norm: bool = False,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, post_ln, qk_norm) for _ in range(n_layers))
        # Post-LN already ends with a LayerNorm (the last block's); Pre-LN needs its own.
        self.ln_f = nn.Identity() if post_ln else nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        qkv = {id(blk.attn.qkv) for blk in self.blocks if isinstance(blk, _Block)}
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if id(m) in qkv:
                    for w in m.weight.data.chunk(3, dim=0):  # Xavier on q, k and v each, not on the fused matrix
                        nn.init.xavier_uniform_(w)
                else:
                    nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.xavier_uniform_(m.weight)

    def reset_head(self) -> None:
        """A fresh output layer (fine-tuning with a new head)."""
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        x = self.tok(idx) + self.pos.weight[:t]
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        nn.init.zeros_(self.bn2.weight)  # γ = 0: the block starts as the identity (Goyal et al. §5.1)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


class TinyResNet(nn.Module):
    """Stem conv(16) → blocks 16 (8×8), 32 (4×4), 64 (2×2) → global average pool → linear(10).

    >>> import torch
    >>> TinyResNet()(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 10])
    """

    def __init__(self, width: int = 16, n_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        self.layers = nn.Sequential(_ResBlock(w, w, 1), _ResBlock(w, 2 * w, 2), _ResBlock(2 * w, 4 * w, 2))
        self.fc = nn.Linear(4 * w, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.fc.weight, std=1.0 / math.sqrt(4 * w))
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layers(self.stem(x)).mean(dim=(2, 3)))


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: weight decay on conv/linear weights, none on BatchNorm/LayerNorm and biases."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for p in model.parameters():
        (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
