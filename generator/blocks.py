"""Transformer pieces of the chunk model: attention with cacheable keys/values and an
adaptive-LayerNorm block (self-attention, cross-attention, feed-forward)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoid(values: torch.Tensor, width: int, scale: float = 1000.0) -> torch.Tensor:
    """(B,) values in about [0, 1] to (B, width) sinusoidal features."""
    half = width // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=values.device,
                                                         dtype=torch.float32) / half)
    angles = values.float()[:, None] * scale * freqs[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class Attention(nn.Module):
    """Multi-head attention whose key/value projection of a context can be computed once
    and reused (the history and text memory stay fixed over a chunk's sampling steps)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key_value = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def project_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, W) context to keys and values (B, heads, L, W/heads)."""
        b, length, w = context.shape
        kv = self.key_value(context).view(b, length, 2, self.heads, w // self.heads)
        kv = kv.permute(2, 0, 3, 1, 4)
        return kv[0], kv[1]

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor] | None = None,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend from ``x`` (B, N, W) to ``kv`` (self-attention when ``None``).

        Args:
            key_mask: (B, L) True where a key may be attended to.
        """
        b, n, w = x.shape
        k, v = self.project_kv(x) if kv is None else kv
        q = self.query(x).view(b, n, self.heads, w // self.heads).transpose(1, 2)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, n, w))


class ConditionedBlock(nn.Module):
    """Self-attention, cross-attention and feed-forward, each behind a LayerNorm whose scale
    and shift come from the condition vector and each gated by it (zero at init, so a fresh
    block is the identity)."""

    def __init__(self, width: int, heads: int, ff_mult: int):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
                                   for _ in range(3))
        self.self_attn = Attention(width, heads)
        self.cross_attn = Attention(width, heads)
        self.ff = nn.Sequential(nn.Linear(width, ff_mult * width), nn.GELU(),
                                nn.Linear(ff_mult * width, width))
        self.modulation = nn.Linear(width, 9 * width)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor,
                cross_kv: tuple[torch.Tensor, torch.Tensor],
                cross_mask: torch.Tensor) -> torch.Tensor:
        """x (B, N, W), cond (B, W); cross_kv from ``self.cross_attn.project_kv``."""
        mods = self.modulation(F.silu(cond)).unsqueeze(1).chunk(9, dim=-1)
        for i, fn in enumerate((lambda h: self.self_attn(h),
                                lambda h: self.cross_attn(h, cross_kv, cross_mask),
                                self.ff)):
            shift, scale, gate = mods[3 * i:3 * i + 3]
            x = x + gate * fn(self.norms[i](x) * (1 + scale) + shift)
        return x
