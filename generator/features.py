"""The feature vector the network reads and writes: joints made local, then normalised.

Layout, per agent per frame (``F = 3 J``): joint ``j``'s xyz at ``3j:3j+3``. Joints whose
``ModeSpec.local_reference`` is -1 (the duet pelvis, the bimanual wrist) are canonical-frame
positions; every other joint is an offset from its reference joint (body joints from the
pelvis, finger joints from their wrist). Local offsets give fingers their own scale after
normalisation instead of being drowned by whole-body motion.

Normalisation is per agent and per feature: ``(feature - mean) / std`` with statistics from the
training set, kept in the model as buffers.
"""

from __future__ import annotations

import torch

from .modes import ModeSpec

# Smallest standard deviation used for normalising, in metres: features that barely vary
# (the canonical root at the first frame) are not blown up.
MIN_FEATURE_STD_M = 0.005


def _levels(spec: ModeSpec) -> list[tuple[list[int], list[int]]]:
    """(joints, their references) grouped so a group's references are already absolute."""
    ref = spec.local_reference
    done = {j for j, r in enumerate(ref) if r < 0}
    levels = []
    pending = [j for j, r in enumerate(ref) if r >= 0]
    while pending:
        ready = [j for j in pending if ref[j] in done]
        if not ready:
            raise ValueError(f"{spec.name}: local_reference has a cycle")
        levels.append((ready, [ref[j] for j in ready]))
        done.update(ready)
        pending = [j for j in pending if j not in done]
    return levels


def positions_to_features(positions_m: torch.Tensor, spec: ModeSpec) -> torch.Tensor:
    """(..., J, 3) canonical positions to (..., 3J) un-normalised features."""
    ref = torch.tensor([r if r >= 0 else j for j, r in enumerate(spec.local_reference)],
                       device=positions_m.device)
    is_local = torch.tensor([r >= 0 for r in spec.local_reference], device=positions_m.device)
    local = positions_m - positions_m[..., ref, :] * is_local[:, None]
    return local.flatten(-2)


def features_to_positions(features: torch.Tensor, spec: ModeSpec) -> torch.Tensor:
    """(..., 3J) un-normalised features to (..., J, 3) canonical positions."""
    pos = features.unflatten(-1, (spec.num_joints, 3))
    for joints, refs in _levels(spec):
        pos = pos.clone()
        pos[..., joints, :] = pos[..., joints, :] + pos[..., refs, :]
    return pos
