"""Geometric training losses on joint positions, per example.

Every function takes positions (B, T, 2, J, 3) in metres (one chunk in its canonical frame) and
returns a (B,) tensor, so the trainer can weight examples (e.g. by flow time).
"""

from __future__ import annotations

import torch

from .bone_lengths import bone_lengths

INTERACTION_EPSILON_M = 0.1
"""Text2Interact's offset in the adaptive interaction weights 1 / (distance + epsilon)."""
CONTACT_DISTANCE_M = 0.05
"""Joint pairs of the two agents closer than this in the ground truth are in contact (the
contract's contact distance between joint centres)."""
FOOT_CONTACT_SPEED_M_PER_FRAME = 0.01
"""A foot joint moving slower than this in the ground truth (0.3 m/s at 30 fps) is planted."""


def position_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean joint position error (L1 per coordinate)."""
    return (pred - target).abs().mean(dim=(1, 2, 3, 4))


def velocity_loss(pred_vel: torch.Tensor, target_vel: torch.Tensor,
                  frame_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean frame-to-frame displacement error; ``frame_mask`` (B, T) drops frames (e.g. the
    boundary with a missing history)."""
    err = (pred_vel - target_vel).abs().mean(dim=(2, 3, 4))
    if frame_mask is None:
        return err.mean(dim=1)
    m = frame_mask.float()
    return (err * m).sum(1) / m.sum(1).clamp_min(1.0)


def bone_length_loss(pred: torch.Tensor, target: torch.Tensor,
                     parents: tuple[int, ...]) -> torch.Tensor:
    """Mean absolute bone length error."""
    return (bone_lengths(pred, parents) - bone_lengths(target, parents)).abs().mean(dim=(1, 2, 3))


def foot_contact_loss(pred_vel: torch.Tensor, target_vel: torch.Tensor,
                      foot_joints: tuple[int, ...],
                      frame_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Speed of predicted feet where the ground-truth foot is planted (foot skating)."""
    if not foot_joints:
        return torch.zeros(pred_vel.shape[0], device=pred_vel.device)
    idx = list(foot_joints)
    planted = target_vel[..., idx, :].norm(dim=-1) < FOOT_CONTACT_SPEED_M_PER_FRAME
    if frame_mask is not None:
        planted = planted & frame_mask[:, :, None, None]
    speed = pred_vel[..., idx, :].norm(dim=-1)
    p = planted.float()
    return (speed * p).sum(dim=(1, 2, 3)) / p.sum(dim=(1, 2, 3)).clamp_min(1.0)


def pairwise_agent_distances(positions: torch.Tensor) -> torch.Tensor:
    """(B, T, J, J) distances from every joint of agent 0 to every joint of agent 1."""
    diff = positions[:, :, 0, :, None, :] - positions[:, :, 1, None, :, :]
    # The small floor keeps the gradient finite where two joints coincide.
    return (diff.square().sum(-1) + 1e-12).sqrt()


def adaptive_interaction_loss(pred: torch.Tensor, target: torch.Tensor,
                              epsilon_m: float = INTERACTION_EPSILON_M,
                              distances: tuple[torch.Tensor, torch.Tensor] | None = None
                              ) -> torch.Tensor:
    """Text2Interact's adaptive interaction loss: the error of every inter-agent joint distance,
    weighted by ``1 / (true distance + epsilon)`` so joints that are close (touching hands)
    dominate without contact labels. ``distances``: the (predicted, true)
    :func:`pairwise_agent_distances` when already computed."""
    d_pred, d_true = distances or (pairwise_agent_distances(pred),
                                   pairwise_agent_distances(target))
    weight = 1.0 / (d_true + epsilon_m)
    return (weight * (d_pred - d_true).abs()).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3))


def contact_loss(d_pred: torch.Tensor, d_true: torch.Tensor,
                 contact_m: float = CONTACT_DISTANCE_M) -> torch.Tensor:
    """Mean error of the inter-agent joint distances on the pairs that touch in the ground
    truth (true distance below ``contact_m``); zero for examples without contact.

    The adaptive interaction loss spreads its weight over every joint pair (3,844 in a duet),
    so the few pairs of a handshake carry a small share of it; this term makes a missed
    contact cost as much as the contact is rare. Takes :func:`pairwise_agent_distances` of
    the prediction and the truth.
    """
    touching = (d_true < contact_m).float()
    err = (d_pred - d_true).abs() * touching
    return err.sum(dim=(1, 2, 3)) / touching.sum(dim=(1, 2, 3)).clamp_min(1.0)
