"""Hand-tracker and dataset conventions -> ``hand21`` in Dyad's hand frame.

Dyad's hand frame (dyad/skeletons.py): origin at the wrist, +X from the wrist toward the middle
finger, +Y toward the thumb side of a right hand, +Z out of the back of the hand (palm normal
-Z). A left hand is the mirror image: the same X and Z, its thumb toward -Y. Every conversion
here is a proper rotation plus a translation, never a reflection, so a right hand can never come
out mirrored; a left hand stays a left hand, and :func:`check_hand_side` refuses to drive a right
robot hand with it.

Conventions (``convention=`` of :func:`to_hand_frame`):

- ``hand21``: hand21 order, already in Dyad's hand frame (only the wrist is moved to 0).
- ``mediapipe_operator``: hand21 (MediaPipe) order in dex-retargeting's "operator" frame
  (x out of the palm, y from the pinky side toward the thumb side of a right hand, z from the
  wrist toward the middle finger; the left hand is its mirror image): one fixed rotation.
- ``hand21_world`` / ``mediapipe_world``: hand21 order in any frame (camera, world): the hand
  frame is estimated from the wrist and the index, middle and pinky MCP joints.
- ``mano``: MANO-native / HandX order (21) in any frame, estimated as above.
- ``openxr``: OpenXR's 26 ``XrHandJointEXT`` joints in any frame, estimated as above.
- ``smplx``: SMPL-X joints (..., N>=55, 3); the ``side`` hand is taken, estimated as above.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dyad.conversions import mano_to_hand21, openxr_to_hand21, smplx_to_hand21
from dyad.errors import DyadInputError

CONVENTIONS: tuple[str, ...] = ("hand21", "mediapipe_operator", "hand21_world",
                                "mediapipe_world", "mano", "openxr", "smplx")

# Columns are Dyad's hand axes written in operator coordinates: X (to the middle finger) is the
# operator's z, Y (thumb side) its y, Z (back of the hand) its -x (the operator's x leaves the
# palm). Proper rotation (det +1) for both sides, since the left operator frame is mirrored too.
ROTATION_HAND_TO_OPERATOR = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

# Joints whose palmar offset tells a right hand from its mirror image: thumb IP and tip, and the
# four fingertips (fingers and thumb flex toward the palm, -Z in the hand frame).
_CHIRALITY_JOINTS = np.array([3, 4, 8, 12, 16, 20])
# Below this (in hand lengths, wrist to middle MCP) a frame is called mirrored; a flat hand
# scores about 0, a relaxed or curled right hand clearly positive.
MIRRORED_SCORE = -0.15


class HandSideError(DyadInputError):
    """A hand of one side was given where the other side was expected, or looks mirrored."""


def check_side(side: str) -> str:
    """``side`` itself if it is ``left`` or ``right``; raises :class:`HandSideError` otherwise."""
    if side not in ("left", "right"):
        raise HandSideError(f"hand side must be 'left' or 'right', got {side!r}")
    return side


def check_hand_side(input_side: str, robot_side: str, robot: str = "robot") -> None:
    """Refuse to drive a robot hand with the other human hand.

    Raises:
        HandSideError: naming both sides; mirroring a hand is never done silently.
    """
    check_side(input_side)
    if input_side != robot_side:
        raise HandSideError(
            f"a {input_side} human hand was given to the {robot_side} hand of {robot}; "
            f"retarget the {robot_side} human hand, or use the robot's {input_side} hand")


def hand_frame_rotation(points_hand21: npt.ArrayLike, side: str) -> np.ndarray:
    """Rotation (..., 3, 3) from Dyad's hand frame to the frame of ``points_hand21``.

    Columns are the hand axes in input coordinates: X toward the middle MCP, Y toward the index
    side (right hand) or the pinky side (left hand) within the palm plane, Z = X x Y. Always a
    proper rotation, so it never mirrors.

    Args:
        points_hand21: (..., 21, 3) hand21 keypoints in any frame.
        side: ``left`` or ``right``.
    """
    pts = np.asarray(points_hand21, dtype=np.float64)
    sign = 1.0 if check_side(side) == "right" else -1.0
    x = pts[..., 9, :] - pts[..., 0, :]
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    y = sign * (pts[..., 5, :] - pts[..., 17, :])
    y = y - (y * x).sum(-1, keepdims=True) * x
    y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def chirality_score(points_hand_frame: npt.ArrayLike) -> np.ndarray:
    """How clearly a hand in Dyad's hand frame has the side that frame assumes: (...,).

    The palmar offset (-Z) of the thumb and fingertips, in hand lengths. A hand of the right
    side scores >= 0 (a flat hand about 0, flexed fingers more); its mirror image scores < 0.
    """
    pts = np.asarray(points_hand_frame, dtype=np.float64)
    pts = pts - pts[..., :1, :]
    length = np.maximum(np.linalg.norm(pts[..., 9, :], axis=-1), 1e-9)
    return -pts[..., _CHIRALITY_JOINTS, 2].mean(axis=-1) / length


def _as_hand21(points: np.ndarray, convention: str, side: str) -> np.ndarray:
    if convention in ("hand21", "mediapipe_operator", "hand21_world", "mediapipe_world"):
        if points.ndim < 2 or points.shape[-2:] != (21, 3):
            raise DyadInputError(f"{convention} hand: expected shape (..., 21, 3), got "
                                 f"{points.shape}")
        return points
    if convention == "mano":
        return mano_to_hand21(points)
    if convention == "openxr":
        return openxr_to_hand21(points)
    if convention == "smplx":
        return smplx_to_hand21(points, side)
    raise DyadInputError(f"unknown hand convention {convention!r}; known: {', '.join(CONVENTIONS)}")


def to_hand_frame(points: npt.ArrayLike, convention: str, side: str,
                  check_mirrored: bool = True) -> np.ndarray:
    """Hand keypoints of any supported convention as hand21 in Dyad's hand frame.

    Args:
        points: (..., J, 3) keypoints in metres, J as the convention requires.
        convention: one of :data:`CONVENTIONS`.
        side: which human hand the points are, ``left`` or ``right``.
        check_mirrored: raise if the frames, taken together, look like the other side's hand
            (the median :func:`chirality_score` is below ``MIRRORED_SCORE``).

    Returns:
        (..., 21, 3) hand21 keypoints, wrist at the origin, in Dyad's hand frame of ``side``.
    """
    check_side(side)
    pts = np.asarray(points, dtype=np.float64)
    hand = _as_hand21(pts, convention, side)
    hand = hand - hand[..., :1, :]
    # The palm frame estimated with the declared side; it also judges chirality, whatever frame
    # the convention states, since a mirrored hand flexes its fingers out of that palm.
    rot = hand_frame_rotation(hand, side)
    local = np.einsum("...ji,...kj->...ki", rot, hand)  # R^T p for every keypoint
    if convention == "mediapipe_operator":
        out = hand @ ROTATION_HAND_TO_OPERATOR
    elif convention == "hand21":
        out = hand
    else:
        out = local
    if check_mirrored:
        score = chirality_score(local)
        finite = np.isfinite(score)
        if finite.any() and float(np.median(score[finite])) < MIRRORED_SCORE:
            other = "left" if side == "right" else "right"
            raise HandSideError(
                f"{convention} keypoints declared as a {side} hand look like a {other} hand "
                f"(median palm-side score {float(np.median(score[finite])):.2f} < "
                f"{MIRRORED_SCORE}): the fingers flex away from the {side} palm. Check the "
                f"declared side, or whether the data was mirrored")
    return out
