"""Converters between other joint conventions and Dyad's ``hand21`` / ``body22``.

Each ``*_to_hand21`` has a ``hand21_to_*`` twin so that the pair round-trips exactly on the
joints both conventions share. All arrays are (..., J, 3) in metres.

Conventions:
- MANO-native / HandX order (21): wrist; index 1-3; middle 1-3; pinky 1-3; ring 1-3; thumb 1-3;
  then the tips thumb, index, middle, ring, pinky (the order the ``smplx`` package appends them).
- SMPL-X joints (the ``smplx`` package's output, 127 joints, or at least 76): body 0-21 are
  ``body22``; left hand 25-39, right hand 40-54 in MANO order (index, middle, pinky, ring,
  thumb); fingertips 66-70 (left) and 71-75 (right) in thumb, index, middle, ring, pinky order.
  With only the 55 skeleton joints, tips are extrapolated along the last phalanx.
- OpenXR ``XrHandJointEXT`` (26): palm, wrist, thumb metacarpal/proximal/distal/tip, then for
  index, middle, ring and little: metacarpal, proximal, intermediate, distal, tip.
"""

from __future__ import annotations

import numpy as np

from .errors import DyadInputError

MANO21_NAMES: tuple[str, ...] = (
    "wrist", "index1", "index2", "index3", "middle1", "middle2", "middle3", "pinky1", "pinky2",
    "pinky3", "ring1", "ring2", "ring3", "thumb1", "thumb2", "thumb3", "thumb_tip", "index_tip",
    "middle_tip", "ring_tip", "pinky_tip",
)
# hand21 index of each MANO21 joint.
_MANO_TO_HAND21 = np.array([0, 5, 6, 7, 9, 10, 11, 17, 18, 19, 13, 14, 15, 1, 2, 3, 4, 8, 12, 16, 20])
# MANO21 index of each hand21 joint.
_HAND21_FROM_MANO = np.argsort(_MANO_TO_HAND21)

OPENXR26_NAMES: tuple[str, ...] = (
    "palm", "wrist", "thumb_metacarpal", "thumb_proximal", "thumb_distal", "thumb_tip",
) + tuple(
    f"{f}_{j}" for f in ("index", "middle", "ring", "little")
    for j in ("metacarpal", "proximal", "intermediate", "distal", "tip")
)
# OpenXR index of each hand21 joint: thumb CMC is the metacarpal joint, finger MCPs are the
# proximal joints.
_HAND21_FROM_OPENXR = np.array([1, 2, 3, 4, 5] + [b + k for b in (6, 11, 16, 21) for k in (1, 2, 3, 4)])
# Where a finger's metacarpal joint sits between the wrist (0) and its MCP (1).
_OPENXR_METACARPAL_FRACTION = 0.2

SMPLX_BODY = np.arange(22)
SMPLX_LEFT_HAND = np.arange(25, 40)
SMPLX_RIGHT_HAND = np.arange(40, 55)
SMPLX_LEFT_TIPS = np.arange(66, 71)
SMPLX_RIGHT_TIPS = np.arange(71, 76)
SMPLX_NUM_JOINTS = 127
_SMPLX_WRIST = {"left": 20, "right": 21}


def _check(points: np.ndarray, count: int, what: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2:] != (count, 3):
        raise DyadInputError(f"{what}: expected shape (..., {count}, 3), got {arr.shape}")
    return arr


def mano_to_hand21(points: np.ndarray) -> np.ndarray:
    """MANO-native / HandX order (..., 21, 3) to hand21 (..., 21, 3)."""
    return _check(points, 21, "MANO hand")[..., _HAND21_FROM_MANO, :]


def hand21_to_mano(points: np.ndarray) -> np.ndarray:
    """hand21 (..., 21, 3) to MANO-native / HandX order (..., 21, 3)."""
    return _check(points, 21, "hand21")[..., _MANO_TO_HAND21, :]


def openxr_to_hand21(points: np.ndarray) -> np.ndarray:
    """OpenXR 26 hand joints (..., 26, 3) to hand21 (..., 21, 3); palm and finger metacarpals
    are dropped."""
    return _check(points, 26, "OpenXR hand")[..., _HAND21_FROM_OPENXR, :]


def hand21_to_openxr(points: np.ndarray) -> np.ndarray:
    """hand21 (..., 21, 3) to OpenXR 26 joints. The palm is placed midway between the wrist and
    the middle MCP, finger metacarpal joints a fifth of the way from the wrist to their MCP."""
    pts = _check(points, 21, "hand21")
    out = np.zeros(pts.shape[:-2] + (26, 3))
    out[..., _HAND21_FROM_OPENXR, :] = pts
    wrist = pts[..., 0, :]
    out[..., 0, :] = 0.5 * (wrist + pts[..., 9, :])
    for base, mcp in zip((6, 11, 16, 21), (5, 9, 13, 17)):
        out[..., base, :] = wrist + _OPENXR_METACARPAL_FRACTION * (pts[..., mcp, :] - wrist)
    return out


def smplx_to_body22(joints: np.ndarray) -> np.ndarray:
    """SMPL-X joints (..., N>=22, 3) to body22 (..., 22, 3)."""
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-1] != 3 or arr.shape[-2] < 22:
        raise DyadInputError(f"SMPL-X joints: expected shape (..., N>=22, 3), got {arr.shape}")
    return arr[..., SMPLX_BODY, :]


def smplx_to_hand21(joints: np.ndarray, side: str) -> np.ndarray:
    """One hand of SMPL-X joints (..., N>=55, 3) as hand21 (..., 21, 3).

    Args:
        joints: SMPL-X joints; with N >= 76 the model's fingertip joints are used, otherwise
            tips are extrapolated along the distal phalanx by 0.9 of its length.
        side: ``left`` or ``right``.
    """
    if side not in _SMPLX_WRIST:
        raise DyadInputError(f"hand side must be 'left' or 'right', got {side!r}")
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-1] != 3 or arr.shape[-2] < 55:
        raise DyadInputError(f"SMPL-X joints: expected shape (..., N>=55, 3), got {arr.shape}")
    hand = SMPLX_LEFT_HAND if side == "left" else SMPLX_RIGHT_HAND
    mano = np.zeros(arr.shape[:-2] + (21, 3))
    mano[..., 0, :] = arr[..., _SMPLX_WRIST[side], :]
    mano[..., 1:16, :] = arr[..., hand, :]
    if arr.shape[-2] >= 76:
        mano[..., 16:21, :] = arr[..., SMPLX_LEFT_TIPS if side == "left" else SMPLX_RIGHT_TIPS, :]
    else:
        # MANO rows of the last two joints of thumb, index, middle, ring, pinky.
        for k, (a, b) in enumerate(((14, 15), (2, 3), (5, 6), (11, 12), (8, 9))):
            mano[..., 16 + k, :] = mano[..., b, :] + 0.9 * (mano[..., b, :] - mano[..., a, :])
    return mano_to_hand21(mano)


def body22_hands_to_smplx(body22_hands: np.ndarray) -> np.ndarray:
    """body22+hands (..., 62, 3) to SMPL-X's 127-joint layout; joints Dyad does not carry
    (jaw, eyes, face, feet extras) are NaN."""
    pts = np.asarray(body22_hands, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-2:] != (62, 3):
        raise DyadInputError(f"body22+hands: expected shape (..., 62, 3), got {pts.shape}")
    out = np.full(pts.shape[:-2] + (SMPLX_NUM_JOINTS, 3), np.nan)
    out[..., :22, :] = pts[..., :22, :]
    for side, start, hand, tips in (("left", 22, SMPLX_LEFT_HAND, SMPLX_LEFT_TIPS),
                                    ("right", 42, SMPLX_RIGHT_HAND, SMPLX_RIGHT_TIPS)):
        hand21 = np.concatenate([pts[..., [_SMPLX_WRIST[side]], :], pts[..., start:start + 20, :]],
                                axis=-2)
        mano = hand21_to_mano(hand21)
        out[..., hand, :] = mano[..., 1:16, :]
        out[..., tips, :] = mano[..., 16:21, :]
    return out


def smplx_to_body22_hands(joints: np.ndarray) -> np.ndarray:
    """SMPL-X joints (..., N>=55, 3) to body22+hands (..., 62, 3)."""
    body = smplx_to_body22(joints)
    left = smplx_to_hand21(joints, "left")
    right = smplx_to_hand21(joints, "right")
    return np.concatenate([body, left[..., 1:, :], right[..., 1:, :]], axis=-2)

