"""Body kinematics for synthesis: ``body22+hands`` joint positions from a few motion curves.

:class:`BodyPose` turns the curves a procedural generator writes (root path and heading, pelvis
height and pitch, spine bend/twist/side bend, head angles, wrist targets, hand orientations and
finger angles) into joint positions (T, 62, 3) by rigid forward kinematics over the skeleton's
parent tree, so every bone keeps the length of the agent's scaled rest skeleton
(:meth:`Proportions.rest_joints`): body bones scale with ``body_scale``, hand bones (wrist to
fingertips) with ``hand_scale``.

* Legs: the feet follow a footstep plan (:func:`plan_feet`): planted at rest height while the
  root stands still, alternating swings when it moves or turns; knees come from two-bone IK, and
  the pelvis is lowered where a leg could not reach its planted foot (so knees bend when the
  pelvis lowers or the body leans).
* Arms: two-bone analytic IK places each wrist at its target (reach clamped to the arm length)
  with the elbow on the side of a swivel hint, swung about the shoulder-wrist line where the
  hand's orientation would bend the wrist past a human's range (:func:`wrist_bend`).
* Hands: wrist orientation from :func:`hand_rotation`, fingers from
  :func:`dyad.training.synth.hand_pose.hand_points`.

Everything is vectorised over frames. Frames: world Z up; a body's heading frame has X forward,
Y left. Timing profiles for smooth curves (minimum-jerk ramps, windows, keyframe tracks) live
here too because every generator shapes these curves with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.skeletons import (BODY22_HANDS_NAMES, BODY22_HANDS_PARENTS, BODY22_PARENTS,
                            BODY22_REST, HAND21_NAMES, HAND21_REST_RIGHT,
                            ROTATION_LEFT_HAND_TO_TPOSE, ROTATION_RIGHT_HAND_TO_TPOSE)

from .hand_pose import POSES, hand_points, hand_rotation

NUM_JOINTS = len(BODY22_HANDS_NAMES)
JOINT = {name: i for i, name in enumerate(BODY22_HANDS_NAMES)}
"""Joint index of every ``body22+hands`` joint name."""
HAND_OFFSET = {"left": 22, "right": 42}
"""Index of hand21 joint 1 (thumb CMC) of each hand in ``body22+hands``."""
SIDES = ("left", "right")

_OFFSETS = np.array([BODY22_REST[j] - (BODY22_REST[p] if p >= 0 else 0.0)
                     for j, p in enumerate(BODY22_PARENTS)])
_UPPER_ARM = float(np.linalg.norm(_OFFSETS[JOINT["l_elbow"]]))
_FOREARM = float(np.linalg.norm(_OFFSETS[JOINT["l_wrist"]]))
_THIGH = float(np.linalg.norm(_OFFSETS[JOINT["l_knee"]]))
_SHIN = float(np.linalg.norm(_OFFSETS[JOINT["l_ankle"]]))
ANKLE_REST_HEIGHT = float(BODY22_REST[JOINT["l_ankle"], 2])
FOOT_REST_HEIGHT = float(BODY22_REST[JOINT["l_foot"], 2])
_PALM_JOINTS = (0, 1, 5, 9, 13, 17)  # hand21: wrist, thumb CMC, index..pinky MCP
PALM_CENTRE_RIGHT = HAND21_REST_RIGHT[list(_PALM_JOINTS)].mean(axis=0)
"""Centre of the palm joints of a standard right hand in its hand frame (m)."""
# Fractions of the spine's bend/twist/side bend taken by spine1, spine2 and spine3.
_SPINE_SHARE = (0.3, 0.35, 0.35)
_LEG_REACH = 0.995  # fraction of the straight leg a planted foot may use (keeps knees soft)


# --------------------------------------------------------------------------- timing profiles


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic ease 0 -> 1 on [0, 1] (clamped outside)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def min_jerk(x: np.ndarray) -> np.ndarray:
    """Minimum-jerk ease 0 -> 1 on [0, 1] (clamped outside): zero velocity and acceleration at
    both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (10.0 + x * (-15.0 + 6.0 * x))


def ramp(t_s: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Minimum-jerk rise from 0 at ``start_s`` to 1 at ``end_s``."""
    return min_jerk((np.asarray(t_s) - start_s) / max(end_s - start_s, 1e-6))


def window(t_s: np.ndarray, rise_start_s: float, rise_end_s: float, fall_start_s: float,
           fall_end_s: float) -> np.ndarray:
    """0 -> 1 -> 0: a minimum-jerk rise, a hold, and a minimum-jerk fall."""
    return ramp(t_s, rise_start_s, rise_end_s) * (1.0 - ramp(t_s, fall_start_s, fall_end_s))


def keyframes(t_s: np.ndarray, times_s, values) -> np.ndarray:
    """Values at ``t_s`` of a track through keyframes, eased with minimum jerk between
    neighbours (so the track rests at every keyframe) and held outside them.

    Args:
        t_s: (T,) query times.
        times_s: (K,) increasing keyframe times.
        values: (K, ...) keyframe values.
    """
    times = np.asarray(times_s, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if len(times) == 1:
        return np.broadcast_to(vals[0], (len(t_s),) + vals.shape[1:]).copy()
    i = np.clip(np.searchsorted(times, t_s, side="right") - 1, 0, len(times) - 2)
    span = np.maximum(times[i + 1] - times[i], 1e-6)
    u = min_jerk((t_s - times[i]) / span).reshape((-1,) + (1,) * (vals.ndim - 1))
    return vals[i] + (vals[i + 1] - vals[i]) * u


def travel(t_s: np.ndarray, start_s: float, end_s: float, ease_s: float = 0.5) -> np.ndarray:
    """Progress 0 -> 1 of a walk from ``start_s`` to ``end_s``: speed rises over ``ease_s``
    (minimum jerk), stays constant, and falls over ``ease_s``."""
    dur = max(end_s - start_s, 1e-6)
    e = min(ease_s, 0.5 * dur)

    def area(x):  # integral of min_jerk on [0, x], x in [0, 1]
        x = np.clip(x, 0.0, 1.0)
        return x ** 4 * (2.5 + x * (-3.0 + x))

    total = dur - e
    t = np.asarray(t_s, dtype=np.float64) - start_s
    p = np.where(t >= dur - e, total - e * area((dur - t) / e), np.where(
        t <= e, e * area(t / e), 0.5 * e + (t - e)))
    return np.clip(p / total, 0.0, 1.0)


def mix(a: np.ndarray, b: np.ndarray, weight) -> np.ndarray:
    """``a`` where ``weight`` is 0, ``b`` where it is 1.

    Args:
        a, b: values (T, ...) per frame, or one value (...) for every frame.
        weight: (T,) per frame, or a scalar.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim:
        shape = np.broadcast_shapes(a.shape, b.shape)
        per_frame = len(shape) >= 1 and shape[0] == len(w)
        w = w.reshape(w.shape + (1,) * (len(shape) - 1 if per_frame else len(shape)))
    return a + (b - a) * w


def mix_dirs(a: np.ndarray, b: np.ndarray, weight) -> np.ndarray:
    """Unit directions between ``a`` (weight 0) and ``b`` (weight 1), normalised lerp."""
    d = mix(np.broadcast_to(a, np.broadcast_shapes(np.shape(a), np.shape(b))), b, weight)
    return d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` normalised along its last axis."""
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


# --------------------------------------------------------------------------- rotations


def rot_x(angle: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) about world X."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([o, z, z, z, c, -s, z, s, c], axis=-1).reshape(np.shape(c) + (3, 3))


def rot_y(angle: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) about world Y (positive tips +Z toward +X: a forward bend)."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(np.shape(c) + (3, 3))


def rot_z(angle: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) about world Z (yaw, positive turns left)."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(np.shape(c) + (3, 3))


def _apply(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """rot (T, 3, 3) @ vec (3,) or (T, 3) -> (T, 3)."""
    if np.ndim(vec) == 1:
        return rot @ vec
    return np.einsum("tij,tj->ti", rot, vec)


def rotation_to_quaternion(rot: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) as (w, x, y, z) of rotation matrices (..., 3, 3)."""
    m = np.asarray(rot, dtype=np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # Four candidate formulas; each frame uses the numerically largest.
    cand = np.stack([
        np.stack([1 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                  m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                  m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                  1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                  m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
    ], -2)
    diag = np.stack([tr, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
    best = np.take_along_axis(cand, diag.argmax(-1)[..., None, None], -2)[..., 0, :]
    return best / np.linalg.norm(best, axis=-1, keepdims=True)


def quaternion_to_rotation(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4) as (w, x, y, z)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], -1).reshape(q.shape[:-1] + (3, 3))


def _continuous(q: np.ndarray) -> np.ndarray:
    """Quaternions (T, 4) with signs chosen so that consecutive frames agree (q and -q are the
    same rotation)."""
    if q.ndim < 2 or len(q) < 2:
        return q
    flips = np.concatenate([[1.0], np.where((q[1:] * q[:-1]).sum(-1) < 0, -1.0, 1.0)])
    return q * np.cumprod(flips)[:, None]


def slerp_rotations(rot_a: np.ndarray, rot_b: np.ndarray, weight) -> np.ndarray:
    """Rotations (T, 3, 3) between ``rot_a`` (weight 0) and ``rot_b`` (weight 1) along the
    shortest arc, so an interpolated hand turns rather than flipping through a blend."""
    qa, qb = _continuous(rotation_to_quaternion(rot_a)), _continuous(rotation_to_quaternion(rot_b))
    dot = (qa * qb).sum(-1)
    if dot.ndim:
        # Which way round: the shorter arc, but with hysteresis, so that near a half turn the
        # choice does not flip back and forth from frame to frame (a visible snap).
        decided = np.where(dot > 0.25, 1.0, np.where(dot < -0.25, -1.0, 0.0))
        idx = np.where(decided != 0, np.arange(len(dot)), 0)
        last = np.maximum.accumulate(idx)
        sign = np.where(decided[last] != 0, decided[last], np.where(dot[0] < 0, -1.0, 1.0))
    else:
        sign = -1.0 if dot < 0 else 1.0
    qb = qb * np.asarray(sign)[..., None]
    dot = dot * sign
    w = np.broadcast_to(np.asarray(weight, dtype=np.float64), dot.shape)
    angle = np.arccos(np.clip(dot, -1.0, 1.0))  # up to pi: the long way round if need be
    sin = np.sin(angle)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    ca = np.where(small, 1.0 - w, np.sin((1.0 - w) * angle) / safe)
    cb = np.where(small, w, np.sin(w * angle) / safe)
    q = ca[..., None] * qa + cb[..., None] * qb
    return quaternion_to_rotation(q / np.linalg.norm(q, axis=-1, keepdims=True))


# --------------------------------------------------------------------------- inverse kinematics


def _two_bone_frame(root_m: np.ndarray, target_m: np.ndarray, upper_m: float, lower_m: float,
                    hint: np.ndarray):
    """Pieces of :func:`two_bone_ik`: unit chain axis ``u``, unit swivel direction ``w`` (hint
    made perpendicular to ``u``), the middle joint's angle off the axis (cos, sin) and the
    clamped reach ``d``."""
    v = target_m - root_m
    dist = np.linalg.norm(v, axis=-1)
    u = v / np.maximum(dist, 1e-9)[:, None]
    d = np.clip(dist, abs(upper_m - lower_m) + 1e-6, (upper_m + lower_m) * (1.0 - 1e-7))
    cos_a = np.clip((upper_m ** 2 + d ** 2 - lower_m ** 2) / (2.0 * upper_m * d), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a ** 2)
    h = np.broadcast_to(hint, v.shape)
    w = h - (h * u).sum(-1, keepdims=True) * u
    wn = np.linalg.norm(w, axis=-1)
    if np.any(wn < 1e-6):  # hint along the chain: any perpendicular will do
        alt = np.cross(u, np.array([0.0, 0.0, 1.0]))
        alt[np.linalg.norm(alt, axis=-1) < 1e-6] = (1.0, 0.0, 0.0)
        w = np.where((wn < 1e-6)[:, None], alt, w)
        wn = np.linalg.norm(w, axis=-1)
    return u, w / wn[:, None], cos_a, sin_a, d


def two_bone_ik(root_m: np.ndarray, target_m: np.ndarray, upper_m: float, lower_m: float,
                hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joints (T, 3) of a two-bone chain reaching from ``root_m`` toward
    ``target_m`` with the middle joint bent toward ``hint``.

    Bone lengths are exact; a target out of reach is approached along the same line.

    Args:
        root_m: (T, 3) shoulder or hip.
        target_m: (T, 3) wrist or ankle target.
        upper_m: root-to-middle length.
        lower_m: middle-to-end length.
        hint: (T, 3) or (3,) direction the middle joint should point to (swivel).
    """
    u, w, cos_a, sin_a, d = _two_bone_frame(root_m, target_m, upper_m, lower_m, hint)
    mid = root_m + upper_m * (cos_a[:, None] * u + sin_a[:, None] * w)
    end = root_m + d[:, None] * u
    return mid, end


WRIST_FLEX_MAX = float(np.radians(75.0))
"""Largest wrist flexion or extension (rad) an arm is posed with: a human wrist reaches about 80
flexion and 70 extension."""
WRIST_DEVIATION_MAX = float(np.radians(30.0))
"""Largest radial or ulnar deviation (rad): a human wrist reaches about 20 radial, 35 ulnar."""
SWIVEL_MAX = float(np.radians(90.0))
"""How far (rad) the elbow may swing about the shoulder-wrist line, away from the pose's elbow
hint, to bring the wrist into range."""
_SWIVEL_STEPS = 25


def _hand_axes(side: str) -> np.ndarray:
    """(3, 3) columns: the hand's length (wrist to middle MCP), width (pinky to index MCP) and
    normal, in the hand frame of ``side``."""
    names = {n: i for i, n in enumerate(HAND21_NAMES)}
    rest = HAND21_REST_RIGHT * ([1.0, -1.0, 1.0] if side == "left" else 1.0)
    length = unit(rest[names["middle_mcp"]] - rest[0])
    width = rest[names["index_mcp"]] - rest[names["pinky_mcp"]]
    width = unit(width - (width @ length) * length)
    return np.stack([length, width, np.cross(length, width)], axis=-1)


_HAND_AXES = {side: _hand_axes(side) for side in SIDES}


def wrist_bend(forearm_dir: np.ndarray, hand_rotation_m: np.ndarray,
               side: str) -> tuple[np.ndarray, np.ndarray]:
    """Wrist flexion/extension and deviation (rad, signed) of a hand turned by
    ``hand_rotation_m`` (..., 3, 3) at the end of a forearm pointing along ``forearm_dir``
    (..., 3, elbow to wrist): the forearm direction seen in the hand's axes, as the angle in the
    hand's length-normal plane and the angle out of it."""
    axes = hand_rotation_m @ _HAND_AXES[side]
    f = np.einsum("...ij,...i->...j", axes, forearm_dir)
    return np.arctan2(f[..., 2], f[..., 0]), np.arcsin(np.clip(f[..., 1], -1.0, 1.0))


def _wrist_overreach(forearm_dir: np.ndarray, hand_rotation_m: np.ndarray,
                     side: str) -> np.ndarray:
    """Squared angle (rad^2) by which a wrist exceeds the human range, 0 inside it."""
    flex, dev = wrist_bend(forearm_dir, hand_rotation_m, side)
    return np.maximum(np.abs(flex) - WRIST_FLEX_MAX, 0.0) ** 2 + \
        np.maximum(np.abs(dev) - WRIST_DEVIATION_MAX, 0.0) ** 2


def _smooth_path(cost: np.ndarray, values: np.ndarray, step_cost: float) -> np.ndarray:
    """Per frame, the value (of ``values`` (K,)) along the path of least summed ``cost``
    (T, K) plus ``step_cost`` times the squared change between frames (Viterbi)."""
    trans = step_cost * (values[:, None] - values[None, :]) ** 2  # from j to k
    total = cost[0].copy()
    back = np.empty(cost.shape, dtype=np.int64)
    for t in range(1, len(cost)):
        cand = total[:, None] + trans
        back[t] = cand.argmin(axis=0)
        total = cand[back[t], np.arange(len(values))] + cost[t]
    k = np.empty(len(cost), dtype=np.int64)
    k[-1] = total.argmin()
    for t in range(len(cost) - 1, 0, -1):
        k[t - 1] = back[t, k[t]]
    return values[k]


# --------------------------------------------------------------------------- proportions


@dataclass(frozen=True)
class Proportions:
    """An agent's size relative to the standard adult of ``dyad.skeletons``.

    Attributes:
        body_scale: scale of every body bone (about 0.9 to 1.1).
        hand_scale: scale of every hand bone.
    """

    body_scale: float = 1.0
    hand_scale: float = 1.0

    @property
    def upper_arm_m(self) -> float:
        return _UPPER_ARM * self.body_scale

    @property
    def forearm_m(self) -> float:
        return _FOREARM * self.body_scale

    @property
    def arm_m(self) -> float:
        """Shoulder-to-wrist length of the straight arm."""
        return (_UPPER_ARM + _FOREARM) * self.body_scale

    @property
    def leg_m(self) -> float:
        return (_THIGH + _SHIN) * self.body_scale

    def palm_centre(self) -> np.ndarray:
        """Palm centre of a right hand in its hand frame (mirror Y for the left)."""
        return PALM_CENTRE_RIGHT * self.hand_scale

    def rest_joints(self) -> np.ndarray:
        """(62, 3) scaled T-pose; its bone lengths are the ones every pose of this agent has."""
        body = BODY22_REST * self.body_scale
        left_hand = HAND21_REST_RIGHT[1:] * [1.0, -1.0, 1.0] * self.hand_scale
        left = body[JOINT["l_wrist"]] + left_hand @ ROTATION_LEFT_HAND_TO_TPOSE.T
        right = body[JOINT["r_wrist"]] + \
            (HAND21_REST_RIGHT[1:] * self.hand_scale) @ ROTATION_RIGHT_HAND_TO_TPOSE.T
        return np.concatenate([body, left, right], axis=0)


def bone_lengths(positions_m: np.ndarray) -> np.ndarray:
    """Bone lengths (..., 61) of ``body22+hands`` positions (..., 62, 3)."""
    par = np.array([p for p in BODY22_HANDS_PARENTS if p >= 0])
    chi = np.array([c for c, p in enumerate(BODY22_HANDS_PARENTS) if p >= 0])
    return np.linalg.norm(positions_m[..., chi, :] - positions_m[..., par, :], axis=-1)


# --------------------------------------------------------------------------- footsteps


@dataclass
class FootPlan:
    """Where the feet are.

    Attributes:
        ankle_m: (T, 2, 3) ankle targets (left, right).
        yaw: (T, 2) foot headings in radians (a planted foot pivots with the body).
        swing: (T, 2) 0 while planted, rising to 1 mid-swing.
        steps: number of steps taken.
    """

    ankle_m: np.ndarray
    yaw: np.ndarray
    swing: np.ndarray
    steps: int


def plan_feet(root_xy: np.ndarray, yaw: np.ndarray, body_scale: float = 1.0, *,
              half_width_m: float | None = None, toe_out: float = 0.08,
              step_length_m: float = 0.5, step_height_m: float = 0.07,
              first_foot: str | None = None) -> FootPlan:
    """Footsteps that carry a body along ``root_xy`` / ``yaw``: both feet planted while the
    root stands, one foot swinging at a time while it moves or turns.

    The root's progress (distance travelled plus the feet's travel due to turning) is cut
    into equal steps no longer than ``step_length_m``; each step lands half a step ahead of
    the root, and a closing step brings the trailing foot alongside at the end.

    Args:
        root_xy: (T, 2) pelvis ground position.
        yaw: (T,) heading.
        body_scale: scales stance width, step length and ankle height.
        half_width_m: lateral ankle offset from the root (default the hip offset).
        toe_out: feet turned out by this angle (rad).
        step_length_m: longest root advance per step.
        step_height_m: ankle lift in mid-swing of a full step.
        first_foot: ``left``/``right``; default the foot on the side the root moves toward.
    """
    T = len(yaw)
    half_w = (0.09 if half_width_m is None else half_width_m) * body_scale
    c, s = np.cos(yaw), np.sin(yaw)
    fwd, left = np.stack([c, s], -1), np.stack([-s, c], -1)
    side_sign = np.array([1.0, -1.0])  # left, right
    ideal = (root_xy[:, None, :] + fwd[:, None, :] * (-0.01 * body_scale)
             + left[:, None, :] * (side_sign[None, :, None] * half_w))
    foot_yaw = yaw[:, None] + side_sign[None, :] * toe_out
    ankle = np.zeros((T, 2, 3))
    ankle[..., 2] = ANKLE_REST_HEIGHT * body_scale
    swing = np.zeros((T, 2))
    step_len = step_length_m * body_scale
    d_pos = np.linalg.norm(np.diff(root_xy, axis=0), axis=-1)
    d_turn = np.abs(np.diff(yaw)) * half_w * 1.6
    d_prog = (d_pos + d_turn) / step_len
    ankle[..., :2] = ideal[0]
    if d_prog.sum() * step_len < 0.04 * body_scale or T < 4:
        return FootPlan(ankle, foot_yaw, swing, 0)
    frames = np.arange(T, dtype=np.float64)
    if first_foot is None:
        move = root_xy[-1] - root_xy[0]
        lateral = float(move @ left[0])
        first = 0 if (lateral >= 0 if abs(lateral) > 0.3 * np.linalg.norm(move) else
                      float(yaw[-1] - yaw[0]) >= 0) else 1
    else:
        first = SIDES.index(first_foot)
    # Bouts of movement separated by stillness (a walk, a pause, a walk back) are stepped
    # separately, each ending with both feet under the body.
    moving = np.concatenate([d_prog > 2e-4, [False]])
    edges = np.flatnonzero(np.diff(np.concatenate([[False], moving]).astype(np.int8)))
    bouts = [[int(a0), int(a1)] for a0, a1 in zip(edges[0::2], edges[1::2])]
    merged: list[list[int]] = []
    for bout in bouts:
        if merged and bout[0] - merged[-1][1] < 8:
            merged[-1][1] = bout[1]
        else:
            merged.append(bout)
    steps = []  # (foot, start frame, end frame, target xy), in order
    where = [ideal[0, 0].copy(), ideal[0, 1].copy()]
    for i, (b0, b1) in enumerate(merged):
        b1 = min(b1, T - 1)
        prog = np.concatenate([[0.0], np.cumsum(d_prog[b0:b1])])
        if prog[-1] * step_len < 0.04 * body_scale:
            continue
        prog = prog + 1e-9 * np.arange(len(prog))  # strictly increasing for interpolation
        local = frames[b0:b1 + 1]
        n = int(np.ceil(prog[-1] - 1e-6))
        u = prog[-1] / n
        limit = (merged[i + 1][0] if i + 1 < len(merged) else T) - 1

        def frame_at(p: float) -> float:
            return float(np.interp(p, prog, local))

        def ideal_at(f: float, foot: int) -> np.ndarray:
            k = int(np.clip(np.floor(f), 0, T - 2))
            a = f - k
            return ideal[k, foot] * (1 - a) + ideal[k + 1, foot] * a

        # Step j lands a step ahead, at progress (j + 1) u, lifting off at (j - 0.3) u and
        # landing at (j + 0.5) u, so the feet straddle the root; the first is half a stride.
        bout_steps = []
        for j in range(n):
            f0, f1 = frame_at(max(j - 0.3, 0.03) * u), frame_at((j + 0.5) * u)
            foot = (first + j) % 2
            bout_steps.append((foot, f0, max(f1, f0 + 3.0),
                               ideal_at(frame_at(min(prog[-1], (j + 1) * u)), foot)))
            where[foot] = bout_steps[-1][3]
        # Closing step: the trailing foot joins the other once the root arrives.
        last_foot = (first + n) % 2
        if np.linalg.norm(where[last_foot] - ideal[b1, last_foot]) > 0.02 * body_scale:
            dur = max(0.8 * (bout_steps[-1][2] - bout_steps[-1][1]), 7.0)
            f0 = max(frame_at((n - 0.3) * u), bout_steps[-1][2] - 0.2 * dur)
            f0 = min(f0, limit - dur)
            bout_steps.append((last_foot, f0, f0 + dur, ideal[b1, last_foot]))
            where[last_foot] = ideal[b1, last_foot]
        first = (bout_steps[-1][0] + 1) % 2
        steps += bout_steps
    pos = np.repeat(ideal[:1, :, :], T, axis=0).copy()
    current = [ideal[0, 0].copy(), ideal[0, 1].copy()]
    for foot, f0, f1, target in steps:
        phase = np.clip((frames - f0) / (f1 - f0), 0.0, 1.0)
        after = frames >= f0
        eased = min_jerk(phase)[after, None]
        pos[after, foot] = current[foot] + (target - current[foot]) * eased
        dist = float(np.linalg.norm(target - current[foot]))
        lift = step_height_m * body_scale * min(1.0, dist / (0.25 * body_scale))
        arc = np.sin(np.pi * min_jerk(phase))
        ankle[:, foot, 2] += lift * arc
        swing[:, foot] = np.maximum(swing[:, foot], arc)
        current[foot] = target
    ankle[..., :2] = pos
    return FootPlan(ankle, foot_yaw, swing, len(steps))


# --------------------------------------------------------------------------- the body


class BodyPose:
    """One agent's motion, built in stages: root and feet, then the torso (at construction),
    then arms and hands (:meth:`set_arm`), then joint positions (:meth:`joints` or
    :func:`assemble` for several agents at once).

    Args:
        proportions: the agent's size.
        root_xy: (T, 2) ground position the feet follow (steps are taken when it moves).
        yaw: (T,) or scalar heading (rad, 0 faces +X).
        pelvis_shift: (T, 3) pelvis offset in the heading frame (forward, left, up) that does
            not move the feet, e.g. hips back in a bow or a lean into a push.
        pelvis_pitch: hip flexion: the pelvis tips forward (rad).
        spine_bend: forward bend of the spine (rad, spread over three vertebrae).
        spine_twist: twist of the chest to the left (rad).
        spine_side: side bend of the chest to the left (rad).
        head_pitch: nod forward (rad) relative to the chest.
        head_yaw: head turned left (rad) relative to the chest.
        feet: keyword arguments for :func:`plan_feet`.
    """

    def __init__(self, proportions: Proportions, root_xy: np.ndarray, yaw, *,
                 pelvis_shift=0.0, pelvis_pitch=0.0, spine_bend=0.0, spine_twist=0.0,
                 spine_side=0.0, head_pitch=0.0, head_yaw=0.0, feet: dict | None = None):
        self.props = proportions
        s = proportions.body_scale
        self.root_xy = np.asarray(root_xy, dtype=np.float64)
        T = self.num_frames = len(self.root_xy)
        self.yaw = np.broadcast_to(np.asarray(yaw, dtype=np.float64), (T,)).copy()
        self.heading = rot_z(self.yaw)
        self.feet = plan_feet(self.root_xy, self.yaw, s, **(feet or {}))
        self.pos = np.zeros((T, NUM_JOINTS, 3))
        off = _OFFSETS * s
        shift = np.broadcast_to(np.asarray(pelvis_shift, dtype=np.float64), (T, 3)) \
            if np.ndim(pelvis_shift) else np.zeros((T, 3))
        pelvis = np.empty((T, 3))
        pelvis[:, :2] = self.root_xy
        pelvis[:, 2] = BODY22_REST[0, 2] * s - 0.008 * s
        pelvis += _apply(self.heading, shift)
        r_pelvis = self.heading @ rot_y(np.broadcast_to(pelvis_pitch, (T,)))
        hips = pelvis[:, None, :] + np.einsum("tij,kj->tki", r_pelvis, off[[1, 2]])
        # Lower the pelvis where a leg cannot reach its foot; the dilate-then-average keeps the
        # drop at least what each frame needs while smoothing its corners.
        reach = _LEG_REACH * proportions.leg_m
        rel = hips - self.feet.ankle_m
        horiz2 = (rel[..., :2] ** 2).sum(-1)
        need = rel[..., 2] - np.sqrt(np.maximum(reach ** 2 - horiz2, 1e-6))
        drop = np.maximum(need.max(axis=1), 0.0)
        if drop.any():
            drop = _smooth_upper(drop, 3)
        pelvis[:, 2] -= drop
        hips[..., 2] -= drop[:, None]
        self.pelvis_drop_m = drop
        P = self.pos
        P[:, 0], P[:, 1], P[:, 2] = pelvis, hips[:, 0], hips[:, 1]
        bend = np.broadcast_to(spine_bend, (T,))
        twist = np.broadcast_to(spine_twist, (T,))
        side = np.broadcast_to(spine_side, (T,))
        rot = r_pelvis
        chain = []
        for joint, share in zip(("spine1", "spine2", "spine3"), _SPINE_SHARE):
            j = JOINT[joint]
            P[:, j] = P[:, BODY22_PARENTS[j]] + _apply(rot, off[j])
            rot = rot @ rot_z(share * twist) @ rot_y(share * bend) @ rot_x(-share * side)
            chain.append(rot)
        self.chest = rot  # spine3's frame: neck, collars and shoulders hang from it
        for joint in ("neck", "l_collar", "r_collar"):
            P[:, JOINT[joint]] = P[:, JOINT["spine3"]] + _apply(rot, off[JOINT[joint]])
        for side_name in ("l", "r"):
            P[:, JOINT[f"{side_name}_shoulder"]] = P[:, JOINT[f"{side_name}_collar"]] + \
                _apply(rot, off[JOINT[f"{side_name}_shoulder"]])
        self.pelvis_rotation = r_pelvis
        self.set_head(head_pitch, head_yaw)
        self._arms: dict[str, tuple] = {}

    def shift(self, offset_xy) -> None:
        """Translate the whole agent on the ground by ``offset_xy`` (2,) (before arms are set)."""
        off = np.asarray(offset_xy, dtype=np.float64)
        self.root_xy = self.root_xy + off
        self.feet.ankle_m[..., :2] += off
        self.pos[..., :2] += off
        if self._arms:
            raise RuntimeError("shift a BodyPose before setting its arms")

    # ----------------------------------------------------------------- queries

    def joint(self, name: str) -> np.ndarray:
        """(T, 3) position of a joint already placed: torso joints right after construction,
        elbow and wrist once :meth:`set_arm` placed them, legs and hands only in the output."""
        return self.pos[:, JOINT[name]]

    def shoulder(self, side: str) -> np.ndarray:
        return self.pos[:, JOINT[f"{side[0]}_shoulder"]]

    def to_world(self, offset_heading: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
        """(T, 3) points given as offsets (3,) or (T, 3) in the heading frame from ``origin``
        (default the ground point under the root)."""
        base = origin if origin is not None else np.concatenate(
            [self.root_xy, np.zeros((self.num_frames, 1))], axis=1)
        return base + _apply(self.heading, np.asarray(offset_heading, dtype=np.float64))

    def direction(self, dir_heading) -> np.ndarray:
        """(T, 3) world direction of a direction (3,) or (T, 3) given in the heading frame."""
        return _apply(self.heading, np.asarray(dir_heading, dtype=np.float64))

    def chest_direction(self, dir_chest) -> np.ndarray:
        """(T, 3) world direction of a direction given in the chest (spine3) frame."""
        return _apply(self.chest, np.asarray(dir_chest, dtype=np.float64))

    def rest_wrist(self, side: str) -> np.ndarray:
        """(T, 3) wrist of the relaxed arm hanging at the side (swinging while walking)."""
        s = self.props.body_scale
        sgn = 1.0 if side == "left" else -1.0
        ankle_fwd = np.einsum("ti,tki->tk", self.heading[:, :2, 0],
                              self.feet.ankle_m[..., :2] - self.root_xy[:, None, :])
        # An arm swings forward with the opposite leg.
        swing = 0.25 * (ankle_fwd[:, 1] - ankle_fwd[:, 0]) * sgn
        off = np.zeros((self.num_frames, 3))
        off[:, 0] = 0.045 * s + swing
        off[:, 1] = sgn * 0.035 * s
        off[:, 2] = -0.508 * s
        return self.shoulder(side) + _apply(self.heading, off)

    def rest_elbow_hint(self, side: str) -> np.ndarray:
        sgn = 1.0 if side == "left" else -1.0
        return self.direction(np.array([-1.0, 0.25 * sgn, -0.1]))

    def rest_palm_normal(self, side: str) -> np.ndarray:
        """Palm of a hanging hand: toward the thigh, a little backward."""
        sgn = 1.0 if side == "left" else -1.0
        return self.direction(np.array([-0.25, -sgn, 0.0]))

    def wrist_for_palm(self, side: str, palm_centre_m: np.ndarray, fingers_dir: np.ndarray,
                       palm_normal: np.ndarray) -> np.ndarray:
        """(T, 3) wrist that puts this agent's palm centre at ``palm_centre_m`` for a hand
        oriented by ``fingers_dir`` / ``palm_normal``."""
        rot = hand_rotation(np.broadcast_to(fingers_dir, (self.num_frames, 3)),
                            np.broadcast_to(palm_normal, (self.num_frames, 3)))
        c = self.props.palm_centre() * ([1.0, -1.0, 1.0] if side == "left" else 1.0)
        return palm_centre_m - rot @ c

    # ----------------------------------------------------------------- setters

    def set_head(self, pitch=0.0, yaw=0.0) -> None:
        """Head pitch (nod forward) and yaw (left) relative to the chest, (T,) or scalars."""
        T = self.num_frames
        r = self.chest @ rot_z(np.broadcast_to(yaw, (T,))) @ rot_y(np.broadcast_to(pitch, (T,)))
        self.head_rotation = r
        self.pos[:, JOINT["head"]] = self.pos[:, JOINT["neck"]] + \
            _apply(r, _OFFSETS[JOINT["head"]] * self.props.body_scale)

    def look_angles(self, target_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Head (pitch, yaw) relative to the chest that face ``target_m`` (T, 3) or (3,),
        clamped to a human neck's range."""
        v = np.einsum("tji,tj->ti", self.chest, target_m - self.pos[:, JOINT["neck"]])
        yaw = np.clip(np.arctan2(v[:, 1], v[:, 0]), -1.25, 1.25)
        pitch = np.clip(np.arctan2(-v[:, 2], np.hypot(v[:, 0], v[:, 1])) + 0.0, -0.5, 0.6)
        return pitch, yaw

    def set_arm(self, side: str, wrist_m: np.ndarray | None = None, *,
                elbow_hint: np.ndarray | None = None, fingers_dir: np.ndarray | None = None,
                palm_normal: np.ndarray | None = None, orient_weight=1.0,
                fingers: np.ndarray | None = None, wrist_range: bool = True) -> None:
        """Place an arm and its hand.

        Where the hand's orientation would bend the wrist past a human's range
        (:data:`WRIST_FLEX_MAX`, :data:`WRIST_DEVIATION_MAX`) with the elbow toward the hint,
        the elbow swings about the shoulder-wrist line (up to :data:`SWIVEL_MAX`, smoothly over
        time, clear of the torso) to where the wrist bends least; hand and wrist stay put.

        Args:
            side: ``left`` or ``right``.
            wrist_m: (T, 3) wrist target (default: hanging relaxed).
            elbow_hint: (T, 3) or (3,) world direction the elbow points to.
            fingers_dir: (T, 3) world direction of the fingers (hand X axis).
            palm_normal: (T, 3) world direction the palm faces.
            orient_weight: (T,) or scalar: 0 keeps the relaxed orientation (fingers along the
                forearm, palm toward the thigh), 1 uses ``fingers_dir``/``palm_normal``.
            fingers: (T, 5, 4) or (5, 4) finger angles (default ``relaxed``).
            wrist_range: swing the elbow to keep the wrist in range (off where the elbow itself
                is placed on purpose, as in an elbow bump).
        """
        if side not in SIDES:
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        T = self.num_frames
        wrist = self.rest_wrist(side) if wrist_m is None else np.asarray(wrist_m, np.float64)
        hint = self.rest_elbow_hint(side) if elbow_hint is None else elbow_hint
        p = self.props
        shoulder = self.shoulder(side)
        u, w, cos_a, sin_a, d = _two_bone_frame(shoulder, wrist, p.upper_arm_m, p.forearm_m, hint)
        task = None
        if fingers_dir is not None and palm_normal is not None:
            task = hand_rotation(np.broadcast_to(fingers_dir, (T, 3)),
                                 np.broadcast_to(palm_normal, (T, 3)))
            if wrist_range:
                swivel = self._wrist_swivel(side, u, w, cos_a, sin_a, d, task, orient_weight)
                w = np.cos(swivel)[:, None] * w + np.sin(swivel)[:, None] * np.cross(u, w)
        elbow = shoulder + p.upper_arm_m * (cos_a[:, None] * u + sin_a[:, None] * w)
        wrist = shoulder + d[:, None] * u
        forearm = unit(wrist - elbow)
        rest_fingers = unit(forearm + self.direction(np.array([0.12, 0.0, 0.0])))
        rest_palm = self.rest_palm_normal(side)
        rot = hand_rotation(rest_fingers, rest_palm)
        if task is not None:
            rot = slerp_rotations(rot, task, orient_weight)
        ang = POSES["relaxed"] if fingers is None else np.asarray(fingers, dtype=np.float64)
        self._arms[side] = (elbow, wrist, rot, np.broadcast_to(ang, (T, 5, 4)))
        self.pos[:, JOINT[f"{side[0]}_elbow"]] = elbow
        self.pos[:, JOINT[f"{side[0]}_wrist"]] = wrist

    def _wrist_swivel(self, side: str, u, w, cos_a, sin_a, d, task: np.ndarray,
                      orient_weight) -> np.ndarray:
        """Elbow swivel (T,) (rad about the shoulder-wrist line ``u``, from the hint ``w``) that
        keeps the wrist of a hand turned by ``task`` in range: least over-bend, then least
        swing, changing smoothly from frame to frame, the elbow kept out of the torso."""
        T, p = self.num_frames, self.props
        angles = np.linspace(-SWIVEL_MAX, SWIVEL_MAX, _SWIVEL_STEPS)
        v = np.cross(u, w)
        swing = np.cos(angles)[None, :, None] * w[:, None] + \
            np.sin(angles)[None, :, None] * v[:, None]
        shoulder = self.shoulder(side)[:, None]
        elbow = shoulder + p.upper_arm_m * (cos_a[:, None, None] * u[:, None] +
                                            sin_a[:, None, None] * swing)
        forearm = unit(shoulder + d[:, None, None] * u[:, None] - elbow)
        weight = np.broadcast_to(np.asarray(orient_weight, dtype=np.float64), (T,))
        overreach = _wrist_overreach(forearm, task[:, None], side) * weight[:, None]
        if not overreach.any():
            return np.zeros(T)
        # Torso: the segment from the pelvis to the neck, a body-scaled radius around it.
        base = self.pos[:, JOINT["pelvis"]][:, None]
        axis = (self.pos[:, JOINT["neck"]] - self.pos[:, JOINT["pelvis"]])[:, None]
        along = np.clip(((elbow - base) * axis).sum(-1) / (axis * axis).sum(-1), 0.0, 1.0)
        inside = np.linalg.norm(elbow - base - along[..., None] * axis, axis=-1)
        torso = np.maximum(0.17 * p.body_scale - inside, 0.0) ** 2
        cost = 10.0 * overreach + 100.0 * torso + 0.01 * angles[None, :] ** 2
        path = _smooth_path(cost, angles, step_cost=2.0)
        # The grid's steps smoothed away (3 frames either side).
        pad = np.pad(path, 3, mode="edge")
        return np.convolve(pad, np.full(7, 1.0 / 7.0), mode="valid")

    # ----------------------------------------------------------------- output

    def _finish_body(self) -> None:
        """Legs, feet and any arm left unset."""
        for side in SIDES:
            if side not in self._arms:
                self.set_arm(side)
        P, p = self.pos, self.props
        s = p.body_scale
        foot_off = _OFFSETS[JOINT["l_foot"]] * s
        for k, side in enumerate(("l", "r")):
            hip = P[:, JOINT[f"{side}_hip"]]
            ankle_t = self.feet.ankle_m[:, k]
            knee_hint = self.direction(np.array([1.0, 0.12 * (1 if k == 0 else -1), 0.0]))
            knee, ankle = two_bone_ik(hip, ankle_t, _THIGH * s, _SHIN * s, knee_hint)
            P[:, JOINT[f"{side}_knee"]] = knee
            P[:, JOINT[f"{side}_ankle"]] = ankle
            P[:, JOINT[f"{side}_foot"]] = ankle + _apply(rot_z(self.feet.yaw[:, k]), foot_off)

    def joints(self) -> np.ndarray:
        """(T, 62, 3) joint positions in metres."""
        return assemble([self])[:, 0]


def _smooth_upper(x: np.ndarray, radius: int) -> np.ndarray:
    """A smooth curve never below ``x``: sliding maximum, then a sliding mean, same width."""
    n = len(x)
    pad = np.pad(x, radius, mode="edge")
    idx = np.arange(n)[:, None] + np.arange(2 * radius + 1)[None, :]
    dil = pad[idx].max(axis=1)
    pad = np.pad(dil, radius, mode="edge")
    return pad[idx].mean(axis=1)


def assemble(poses: list[BodyPose]) -> np.ndarray:
    """Joint positions (T, A, 62, 3) of several agents; their hands are computed in one batch."""
    T = poses[0].num_frames
    for pose in poses:
        pose._finish_body()
    angles = np.stack([pose._arms[side][3] for pose in poses for side in SIDES])
    n_hands = len(angles)
    # Finger poses hold still over long stretches (rest, holds): solve each run once.
    flat = angles.reshape(-1, 20)
    keep = np.concatenate([[True], np.any(flat[1:] != flat[:-1], axis=1)])
    pts = hand_points(flat[keep].reshape(-1, 5, 4), "right")[:, 1:][np.cumsum(keep) - 1]
    pts = pts.reshape(n_hands, T, 20, 3)
    scales = np.array([pose.props.hand_scale for pose in poses for _ in SIDES])
    pts *= scales[:, None, None, None]
    pts[0::2, ..., 1] *= -1.0  # left hands are mirror images
    out = np.empty((T, len(poses), NUM_JOINTS, 3))
    for a, pose in enumerate(poses):
        out[:, a] = pose.pos
        for k, side in enumerate(SIDES):
            _, wrist, rot, _ = pose._arms[side]
            start = HAND_OFFSET[side]
            out[:, a, start:start + 20] = np.matmul(pts[2 * a + k], rot.transpose(0, 2, 1)) + \
                wrist[:, None, :]
    return out
