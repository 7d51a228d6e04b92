"""Keeping a generated skeleton's size: bone lengths measured once, enforced on every chunk."""

from __future__ import annotations

from functools import lru_cache

import torch


@lru_cache(maxsize=8)
def _depth_levels(parents: tuple[int, ...]) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    depth = [0] * len(parents)
    for j, p in enumerate(parents):
        if p >= j:
            raise ValueError("parents must list every parent before its children")
        depth[j] = 0 if p < 0 else depth[p] + 1
    levels = []
    for d in range(1, max(depth) + 1):
        joints = tuple(j for j in range(len(parents)) if depth[j] == d)
        levels.append((joints, tuple(parents[j] for j in joints)))
    return tuple(levels)


def bone_lengths(positions_m: torch.Tensor, parents: tuple[int, ...]) -> torch.Tensor:
    """(..., J) length of the bone ending at each joint (0 for the root)."""
    par = torch.tensor([max(p, 0) for p in parents], device=positions_m.device)
    lengths = (positions_m - positions_m[..., par, :]).norm(dim=-1)
    return lengths * torch.tensor([p >= 0 for p in parents], device=positions_m.device)


def enforce_bone_lengths(positions_m: torch.Tensor, parents: tuple[int, ...],
                         lengths_m: torch.Tensor) -> torch.Tensor:
    """Rebuild the skeleton root-outward so each bone keeps its direction but has its given
    length.

    Args:
        positions_m: (..., J, 3) joint positions.
        parents: parent of each joint, parents listed before children.
        lengths_m: (..., J) target length of the bone ending at each joint, broadcastable
            against ``positions_m[..., 0]``.
    """
    out = positions_m.clone()
    lengths_m = lengths_m.expand(positions_m.shape[:-1])
    for joints, pars in _depth_levels(tuple(parents)):
        j, p = list(joints), list(pars)
        direction = positions_m[..., j, :] - positions_m[..., p, :]
        direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        out[..., j, :] = out[..., p, :] + direction * lengths_m[..., j, None]
    return out
