"""Finger kinematics for synthesis: hand21 joint positions from finger angles.

A hand pose is an array of angles (..., 5, 4) in radians, one row per finger (thumb, index,
middle, ring, pinky) holding [abduction, flexion 1, flexion 2, flexion 3]: for the four fingers
the MCP spread and the MCP, PIP and DIP flexion; for the thumb the CMC palmar abduction and the
CMC, MCP and IP flexion. Positive flexion curls toward the palm; positive finger abduction
spreads toward the thumb side.

Positions are computed in Dyad's hand frame (dyad/skeletons.py: X toward the middle finger,
Z out of the back of the hand; Y toward the thumb for a right hand, away from it for a left
hand) and placed in the world with :func:`hand_rotation` and :func:`place_hand`. Bone lengths
never change: every point is a rigid rotation of the rest pose's bones.
"""

from __future__ import annotations

import numpy as np

from dyad.skeletons import HAND21_REST_RIGHT

_REST = HAND21_REST_RIGHT
_X = np.array([1.0, 0.0, 0.0])


def _rot_axis(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about a fixed unit ``axis`` by ``angle`` (...)."""
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.asarray(angle, dtype=np.float64)[..., None, None]
    return np.eye(3) + np.sin(a) * k + (1.0 - np.cos(a)) * (k @ k)


def _thumb_rest_frame() -> np.ndarray:
    x = _REST[2] - _REST[1]
    x /= np.linalg.norm(x)
    # The thumb flexes toward the base of the little finger under the palm.
    target = np.array([_REST[17, 0], _REST[17, 1], -0.03]) - _REST[1]
    z = np.cross(x, target)
    z /= np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z], axis=1)


_THUMB_FRAME = _thumb_rest_frame()
_FINGER_BASES = np.array([_REST[1], _REST[5], _REST[9], _REST[13], _REST[17]])
_FINGER_LENGTHS = np.array([
    [np.linalg.norm(_REST[b + k + 1] - _REST[b + k]) for k in range(3)]
    for b in (1, 5, 9, 13, 17)
])
_Y = np.array([0.0, 1.0, 0.0])
_Z = np.array([0.0, 0.0, 1.0])


def hand_points(angles: np.ndarray, side: str = "right", scale: float | np.ndarray = 1.0
                ) -> np.ndarray:
    """hand21 positions (..., 21, 3) in the hand frame for finger ``angles`` (..., 5, 4).

    Args:
        angles: finger angles in radians, see the module docstring.
        side: ``right`` or ``left`` (the left hand is the mirror image).
        scale: hand size relative to the standard adult hand; a scalar or (...) array.
    """
    ang = np.asarray(angles, dtype=np.float64)
    lead = ang.shape[:-2]
    out = np.zeros(lead + (21, 3))
    # Thumb: rest frame, then palmar abduction about its local Y, then flexions about local Z.
    r = _THUMB_FRAME @ _rot_axis(_Y, ang[..., 0, 0]) @ _rot_axis(_Z, ang[..., 0, 1])
    out[..., 1, :] = _FINGER_BASES[0]
    for k in range(3):
        if k:
            r = r @ _rot_axis(_Z, ang[..., 0, k + 1])
        out[..., 2 + k, :] = out[..., 1 + k, :] + _FINGER_LENGTHS[0, k] * r[..., :, 0]
    # Fingers: abduction about the hand's Z, flexions about the hand's Y (toward -Z, the palm).
    for f in range(1, 5):
        base = 1 + 4 * f
        r = _rot_axis(_Z, ang[..., f, 0]) @ _rot_axis(_Y, ang[..., f, 1])
        out[..., base, :] = _FINGER_BASES[f]
        for k in range(3):
            if k:
                r = r @ _rot_axis(_Y, ang[..., f, k + 1])
            out[..., base + 1 + k, :] = out[..., base + k, :] + _FINGER_LENGTHS[f, k] * r[..., :, 0]
    out *= np.asarray(scale, dtype=np.float64)[..., None, None] if np.ndim(scale) else scale
    if side == "left":
        out[..., 1] *= -1.0
    elif side != "right":
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return out


def hand_rotation(fingers_dir: np.ndarray, palm_normal: np.ndarray) -> np.ndarray:
    """Rotation (..., 3, 3) from the hand frame to the world for a hand whose fingers point
    along ``fingers_dir`` and whose palm faces ``palm_normal`` (both (..., 3), world frame).

    The same call serves both sides: the side only decides where the thumb ends up.
    """
    x = np.asarray(fingers_dir, dtype=np.float64)
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    z = -np.asarray(palm_normal, dtype=np.float64)
    z = z - (z * x).sum(-1, keepdims=True) * x
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def place_hand(points_hand: np.ndarray, rotation_hand_to_world: np.ndarray,
               wrist_m: np.ndarray) -> np.ndarray:
    """World positions (..., 21, 3) of hand-frame points given the hand's rotation and wrist."""
    return np.einsum("...ij,...kj->...ki", rotation_hand_to_world, points_hand) + \
        np.asarray(wrist_m)[..., None, :]


def _pose(thumb=(0, 0, 0, 0), index=(0, 0, 0, 0), middle=(0, 0, 0, 0), ring=(0, 0, 0, 0),
          pinky=(0, 0, 0, 0)) -> np.ndarray:
    return np.array([thumb, index, middle, ring, pinky], dtype=np.float64)


_CURLED = (0.0, 1.45, 1.65, 0.95)
_THUMB_OVER_FIST = (0.55, 0.75, 0.55, 0.55)


def _solve_thumb_to(target_hand: np.ndarray, start: np.ndarray, fingers: np.ndarray) -> np.ndarray:
    """Thumb angles that bring the thumb tip to ``target_hand`` (Gauss-Newton, done once)."""
    th = np.array(start, dtype=np.float64)
    for _ in range(60):
        pose = fingers.copy()
        pose[0] = th
        err = hand_points(pose)[4] - target_hand
        if np.linalg.norm(err) < 1e-5:
            break
        jac = np.zeros((3, 4))
        for i in range(4):
            p2 = pose.copy()
            p2[0, i] += 1e-5
            jac[:, i] = (hand_points(p2)[4] - hand_points(pose)[4]) / 1e-5
        th -= np.linalg.lstsq(jac.T @ jac + 1e-4 * np.eye(4), jac.T @ err, rcond=None)[0]
        th = np.clip(th, [-0.3, -0.5, -0.3, -0.3], [1.4, 1.3, 1.0, 1.2])
    return th


def _pinch_pose(index_flex: tuple[float, float, float], others: tuple) -> np.ndarray:
    pose = _pose(index=(0.0, *index_flex), middle=others, ring=others, pinky=others)
    tip = hand_points(pose)[8]
    # The thumb pad meets the index pad, a finger's thickness below the index tip.
    pose[0] = _solve_thumb_to(tip + np.array([-0.004, 0.0, -0.012]), np.array([0.6, 0.5, 0.3, 0.3]),
                              pose)
    return pose


POSES: dict[str, np.ndarray] = {
    "flat": _pose(),
    "relaxed": _pose(thumb=(0.2, 0.2, 0.15, 0.15), index=(0, 0.25, 0.35, 0.2),
                     middle=(0, 0.3, 0.4, 0.2), ring=(0, 0.35, 0.45, 0.25),
                     pinky=(0, 0.4, 0.45, 0.25)),
    "spread": _pose(thumb=(0.1, -0.25, 0.0, 0.0), index=(0.22, 0, 0, 0), middle=(0.0, 0, 0, 0),
                    ring=(-0.2, 0, 0, 0), pinky=(-0.4, 0, 0, 0)),
    "fist": _pose(thumb=_THUMB_OVER_FIST, index=_CURLED, middle=_CURLED, ring=_CURLED,
                  pinky=_CURLED),
    "point": _pose(thumb=_THUMB_OVER_FIST, middle=_CURLED, ring=_CURLED, pinky=_CURLED),
    "thumbs_up": _pose(thumb=(0.1, -0.3, 0.0, 0.0), index=_CURLED, middle=_CURLED, ring=_CURLED,
                       pinky=_CURLED),
    "peace": _pose(thumb=_THUMB_OVER_FIST, index=(0.18, 0, 0, 0), middle=(-0.1, 0, 0, 0),
                   ring=_CURLED, pinky=_CURLED),
    "rock": _pose(thumb=_THUMB_OVER_FIST, index=(0.1, 0, 0, 0), middle=_CURLED, ring=_CURLED,
                  pinky=(-0.2, 0, 0, 0)),
    "shaka": _pose(thumb=(0.1, -0.3, 0.0, 0.0), index=_CURLED, middle=_CURLED, ring=_CURLED,
                   pinky=(-0.3, 0, 0, 0)),
    "cup": _pose(thumb=(0.4, 0.3, 0.2, 0.2), index=(0.05, 0.45, 0.45, 0.3),
                 middle=(0, 0.45, 0.45, 0.3), ring=(-0.05, 0.45, 0.45, 0.3),
                 pinky=(-0.1, 0.45, 0.45, 0.3)),
    "grip": _pose(thumb=(0.7, 0.45, 0.35, 0.3), index=(0, 0.9, 1.0, 0.6), middle=(0, 0.95, 1.05, 0.6),
                  ring=(0, 1.0, 1.05, 0.6), pinky=(0, 1.05, 1.05, 0.6)),
    "pinch": _pinch_pose((0.8, 0.9, 0.6), (0.0, 0.3, 0.35, 0.2)),
    "ok": _pinch_pose((0.75, 0.95, 0.6), (-0.05, 0.05, 0.05, 0.0)),
}
"""Named right-hand poses (5, 4); mirror with ``side='left'`` in :func:`hand_points`."""


def counting_pose(count: int) -> np.ndarray:
    """The pose that shows ``count`` fingers (0 to 5): index first, thumb last."""
    if not 0 <= count <= 5:
        raise ValueError(f"count must be 0..5, got {count}")
    pose = POSES["fist"].copy()
    for f in (1, 2, 3, 4)[:min(count, 4)]:
        pose[f] = (0.12 * (2 - f), 0.0, 0.0, 0.0)
    if count == 5:
        pose[0] = POSES["spread"][0]
    return pose


def blend(pose_a: np.ndarray, pose_b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Poses (..., 5, 4) between ``pose_a`` (weight 0) and ``pose_b`` (weight 1)."""
    w = np.asarray(weight, dtype=np.float64)[..., None, None]
    return (1.0 - w) * pose_a + w * pose_b
