"""The canonical frame of a chunk: the history's root at the origin, facing +X.

Every autoregressive step re-expresses its history in this frame (a translation in the floor
plane and a rotation about Z) and maps the new chunk back, so the network only ever sees
motion near the origin however far a long motion has walked or turned.

Arrays are torch tensors ``(..., A, J, 3)`` in metres, Z up. ``origin`` is ``(..., 3)`` with
z = 0 (height above the floor is kept) and ``yaw`` is ``(...,)`` radians about +Z; their
leading dimensions are the batch dimensions of the points.
"""

from __future__ import annotations

import torch

from .modes import ModeSpec


def canonical_frame(frame_joints: torch.Tensor, spec: ModeSpec
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Origin and heading of one frame of motion.

    Args:
        frame_joints: (..., A, J, 3) one frame per batch entry.
        spec: the mode, which names the root joints and the joints that give the facing.

    Returns:
        ``origin`` (..., 3) with z = 0 and ``yaw`` (...,) in radians: the facing direction's
        angle from +X (0 for modes without a heading).
    """
    roots = torch.stack([frame_joints[..., a, j, :] for a, j in spec.root_joints], dim=-2)
    origin = roots.mean(dim=-2)
    origin = torch.cat([origin[..., :2], torch.zeros_like(origin[..., 2:])], dim=-1)
    if not spec.heading_pairs:
        return origin, torch.zeros(origin.shape[:-1], dtype=origin.dtype, device=origin.device)
    across = sum(frame_joints[..., 0, left, :] - frame_joints[..., 0, right, :]
                 for left, right in spec.heading_pairs)
    # Facing is "across" (left minus right) turned -90 degrees about Z.
    yaw = torch.atan2(-across[..., 0], across[..., 1])
    return origin, yaw


def _expand(origin: torch.Tensor, yaw: torch.Tensor, points: torch.Tensor):
    extra = points.ndim - origin.ndim
    if extra < 0 or points.shape[:origin.ndim - 1] != origin.shape[:-1]:
        raise ValueError(f"points {tuple(points.shape)} do not start with the batch shape "
                         f"{tuple(origin.shape[:-1])} of the frame")
    shape_o = origin.shape[:-1] + (1,) * extra + (3,)
    shape_y = yaw.shape + (1,) * extra
    return origin.reshape(shape_o), torch.cos(yaw).reshape(shape_y), torch.sin(yaw).reshape(shape_y)


def to_canonical(points: torch.Tensor, origin: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """World points (..., 3) to the canonical frame given by ``origin`` and ``yaw``."""
    o, c, s = _expand(origin, yaw, points)
    p = points - o
    x, y = p[..., 0], p[..., 1]
    return torch.stack([c * x + s * y, -s * x + c * y, p[..., 2]], dim=-1)


def from_canonical(points: torch.Tensor, origin: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """Canonical points (..., 3) back to the world; the inverse of :func:`to_canonical`."""
    o, c, s = _expand(origin, yaw, points)
    x, y = points[..., 0], points[..., 1]
    return torch.stack([c * x - s * y, s * x + c * y, points[..., 2]], dim=-1) + o
