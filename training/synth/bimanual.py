"""Procedural two-hand (bimanual) interactions: one generator per ``BIMANUAL_LABELS`` entry.

Every clip is ``hand21`` joints (T, 2, 21, 3) float32 for the agents ``("left", "right")`` at
30 fps, 2 to 6 s long, in the body frame of a standing standard adult facing +X (Z up, Y left,
floor at z = 0): the hands work in front of the chest and every wrist stays within
:data:`REACH_M` of its shoulder (``dyad.skeletons.BODY22_REST``), so a humanoid can play it.

How a clip is made: each hand follows a :class:`HandPath`, keyframes of wrist position, wrist
orientation (four angles, see :func:`hand_rotation_from_angles`) and finger pose (hand_pose
angles) joined by minimum-jerk segments (or an "impact" segment that arrives with speed, for
claps and knocks); generators add rhythmic layers (waves, rubs, finger taps) to the sampled
arrays, then ``_Clip.finish`` turns both hands into joints, measures the contacts the design
implies and writes the meta keys of :mod:`.types`. Clips start and end in a relaxed pose.

Contact geometry is designed at hand scale 1 around a meeting point and scaled with the hand,
so two pressed palms keep their joint planes :data:`PALM_GAP_M` apart (joints are bone centres:
the hands' thickness stays between them) and touching fingertips keep their tip joints
:data:`TIP_GAP_M` apart. Joints of the two hands never come closer than
:data:`MIN_CLEARANCE_M`.

Meta, beyond the keys every generator writes (:mod:`.types`): ``amplitude`` is a size multiplier
(1 = typical), ``distance_m`` the wrist-to-wrist distance in the clip's characteristic stance
(hands apart before they meet; the sign hand to the resting one), ``offset_s`` the lag of the
non-leading hand (0 for one-hand signs), ``body_scale`` is 1 (positions are the standard
adult's), ``lead`` equals ``handedness``. Some labels add keys: ``direction`` (point: forward,
left, right, up), ``count`` (count_on_fingers), ``palms`` (forward/down: spread_fingers,
open_close_hands), ``alternating`` (open_close_hands), ``style`` (rotate_wrists: turn_palms,
circles), ``order`` (piano_fingers), ``bow`` (prayer_hands), ``lift`` (cup_hands), ``squeeze``
(interlock_fingers), ``pull`` (grab_wrist), ``object_size_m`` and ``giver`` (pass_object).
Phase names: raise, lower, and per label hold, approach, contact, release, wave, point, pinch,
count, shake, close, spread, open_close, rotate, play, rub, interlock, grab, handover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.motion import ContactInterval, MotionRecord
from dyad.skeletons import BODY22_NAMES, BODY22_REST, contact_part_joints

from .hand_pose import POSES, _solve_thumb_to, blend, counting_pose, hand_points, hand_rotation
from .types import interaction

FPS = 30.0
MIN_DURATION_S = 2.0
MAX_DURATION_S = 6.0
SIDES: tuple[str, str] = ("left", "right")
SHOULDER_M: dict[str, np.ndarray] = {
    "left": BODY22_REST[BODY22_NAMES.index("l_shoulder")].copy(),
    "right": BODY22_REST[BODY22_NAMES.index("r_shoulder")].copy(),
}
REACH_M = 0.5
"""Largest wrist-to-shoulder distance of any frame (the standard adult's arm is 0.53 m)."""
HAND_SCALE_RANGE = (0.85, 1.15)
PALM_GAP_M = 0.036
"""Distance between the joint planes of two pressed palms at hand scale 1 (the thumb CMC sits
1 cm palm-side of that plane, so the two CMCs stay 1.6 cm apart)."""
TIP_GAP_M = 0.017
"""Distance between the tip joints of two fingertips pressed pad to pad, at hand scale 1."""
MIN_CLEARANCE_M = 0.012
"""No joint of one hand comes closer than this to a joint of the other."""
CONTACT_M = 0.05
"""Parts touch when their closest joints are this close (``MotionRecord.contact_distance``)."""
MAX_TRAVEL_SPEED_M_S = 1.8
"""Peak fingertip speed of the transfers between rest and a gesture."""
_FINGER_REACH_M = 0.19  # wrist to middle fingertip of the standard hand
MAX_CLAP_SPEED_M_S = 1.6
"""Largest closing speed of two palms (or fists, fingertips) at the moment they meet."""

_SIGN = {"left": -1.0, "right": 1.0}


def _with(pose: np.ndarray, **fingers) -> np.ndarray:
    """A copy of ``pose`` with some fingers' rows replaced (thumb=..., index=..., ...)."""
    out = np.array(pose, dtype=np.float64)
    for name, row in fingers.items():
        out[("thumb", "index", "middle", "ring", "pinky").index(name)] = row
    return out


BIMANUAL_POSES: dict[str, np.ndarray] = {
    # Thumb-index pinch opened ~5 cm, ready to close.
    "pinch_open": blend(_with(POSES["pinch"], thumb=(0.45, 0.1, 0.15, 0.1),
                              index=(0.0, 0.45, 0.55, 0.35)), POSES["pinch"], 0.5),
    # Flat hand, thumb alongside the index within the palm's thickness: palms can press.
    "palm_press": _with(POSES["flat"], thumb=(0.3, 0.15, 0.3, 0.2)),
}
"""Right-hand poses (5, 4) that bimanual clips add to ``hand_pose.POSES``."""


# --------------------------------------------------------------------------------------------
# Orientation and placement
# --------------------------------------------------------------------------------------------

def _axis_rotation(a: np.ndarray, i: int, j: int) -> np.ndarray:
    """Rotations (..., 3, 3) by ``a`` (...) in the plane of axes i -> j (about the third)."""
    a = np.asarray(a, dtype=np.float64)
    out = np.zeros(a.shape + (3, 3))
    k = 3 - i - j
    c, s = np.cos(a), np.sin(a)
    out[..., k, k] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., j, i] = s
    out[..., i, j] = -s
    return out


def _rx(a: np.ndarray) -> np.ndarray:
    return _axis_rotation(a, 1, 2)


def _ry(a: np.ndarray) -> np.ndarray:
    return _axis_rotation(a, 2, 0)


def _rz(a: np.ndarray) -> np.ndarray:
    return _axis_rotation(a, 0, 1)


def hand_rotation_from_angles(angles_rad: np.ndarray, side: str) -> np.ndarray:
    """Rotation (..., 3, 3) from the hand frame to the world for wrist angles (..., 4).

    The angles are ``[yaw, pitch, supination, tilt]`` and mean the same for both hands, so a
    left hand with the angles of a right hand is its mirror image across the body's midplane.
    At zero the fingers point forward (+X) and the palm faces down. ``yaw`` turns the fingers
    toward the midline, ``pitch`` raises them, ``supination`` turns the palm about the finger
    axis toward the midline (90 deg: palms face each other, thumbs up; 180 deg: palm up), and
    ``tilt`` leans the whole hand outward about the world X axis (a pivot at the wrist, the
    side-to-side motion of a wave).

    Args:
        angles_rad: (..., 4) yaw, pitch, supination, tilt in radians.
        side: ``left`` or ``right``.
    """
    a = np.asarray(angles_rad, dtype=np.float64)
    sign = _SIGN[side]
    return _rx(sign * a[..., 3]) @ _rz(sign * a[..., 0]) @ _ry(-a[..., 1]) @ _rx(sign * a[..., 2])


def mirror(point_m: np.ndarray, side: str) -> np.ndarray:
    """A point designed for the right hand (right of the midline, y < 0), placed for ``side``."""
    p = np.array(point_m, dtype=np.float64)
    if side == "left":
        p[..., 1] *= -1.0
    return p




def wrist_for(anchor_m: np.ndarray, local_point_m: np.ndarray, angles_rad: np.ndarray,
              side: str) -> np.ndarray:
    """Wrist position that puts the hand-frame point ``local_point_m`` at ``anchor_m``."""
    return np.asarray(anchor_m) - hand_rotation_from_angles(angles_rad, side) @ local_point_m


# --------------------------------------------------------------------------------------------
# Keyframed hand paths
# --------------------------------------------------------------------------------------------

_EASES = {"smooth": 0, "impact": 1}


def ease_weights(u: np.ndarray, ease: np.ndarray) -> np.ndarray:
    """Progress (0..1) along a segment at normalised time ``u``: minimum jerk for code 0, for
    code 1 an "impact" that starts at rest and arrives with the segment's mean speed."""
    u = np.clip(u, 0.0, 1.0)
    smooth = u * u * u * (10.0 + u * (-15.0 + 6.0 * u))
    impact = u * u * (2.0 - u)
    return np.where(ease == 1, impact, smooth)


@dataclass
class HandFrames:
    """Sampled state of one hand: wrist (T, 3) m, wrist angles (T, 4) rad, finger pose (T, 5, 4)."""

    wrist_m: np.ndarray
    angles_rad: np.ndarray
    pose: np.ndarray

    def joints(self, side: str, scale: float) -> np.ndarray:
        """hand21 world positions (T, 21, 3)."""
        return _place(_hand_points_held(self.pose, side, scale), self.angles_rad, side,
                      self.wrist_m)


def _hand_points_held(pose: np.ndarray, side: str, scale: float) -> np.ndarray:
    """:func:`hand_points` for (T, 5, 4) poses, computed once per run of identical frames
    (clips hold poses for long stretches; the kinematics dominate the cost of a clip)."""
    changed = np.empty(len(pose), dtype=bool)
    changed[0] = True
    np.any(pose[1:] != pose[:-1], axis=(1, 2), out=changed[1:])
    keys = np.flatnonzero(changed)
    return hand_points(pose[keys], side, scale)[np.cumsum(changed) - 1]


def _place(local_m: np.ndarray, angles_rad: np.ndarray, side: str, wrist_m: np.ndarray
           ) -> np.ndarray:
    rot = hand_rotation_from_angles(angles_rad, side)
    return local_m @ np.swapaxes(rot, -1, -2) + wrist_m[:, None, :]


class HandPath:
    """Keyframes of one hand; each :meth:`move` adds a segment, values default to the last key.

    Args:
        wrist_m: (3,) start wrist position.
        angles_rad: (4,) start wrist angles (see :func:`hand_rotation_from_angles`).
        pose: (5, 4) start finger pose.
    """

    def __init__(self, wrist_m: np.ndarray, angles_rad: np.ndarray, pose: np.ndarray):
        self._times = [0.0]
        self._wrist = [np.asarray(wrist_m, dtype=np.float64)]
        self._angles = [np.asarray(angles_rad, dtype=np.float64)]
        self._pose = [np.asarray(pose, dtype=np.float64)]
        self._ease: list[int] = []

    @property
    def end_s(self) -> float:
        return self._times[-1]

    @property
    def wrist_m(self) -> np.ndarray:
        return self._wrist[-1]

    @property
    def angles_rad(self) -> np.ndarray:
        return self._angles[-1]

    @property
    def pose(self) -> np.ndarray:
        return self._pose[-1]

    def move(self, duration_s: float, wrist_m=None, angles_rad=None, pose=None,
             ease: str = "smooth") -> "HandPath":
        """Reach the given state ``duration_s`` after the last key."""
        if duration_s <= 0.0:
            raise ValueError(f"segment duration must be positive, got {duration_s}")
        self._times.append(self._times[-1] + float(duration_s))
        self._wrist.append(self.wrist_m if wrist_m is None else np.asarray(wrist_m, float))
        self._angles.append(self.angles_rad if angles_rad is None
                            else np.asarray(angles_rad, float))
        self._pose.append(self.pose if pose is None else np.asarray(pose, float))
        self._ease.append(_EASES[ease])
        return self

    def hold(self, duration_s: float) -> "HandPath":
        """Stay still for ``duration_s`` (nothing happens for a non-positive duration)."""
        return self.move(duration_s) if duration_s > 1e-6 else self

    def hold_until(self, time_s: float) -> "HandPath":
        return self.hold(time_s - self.end_s)

    def sample(self, times_s: np.ndarray) -> HandFrames:
        """State at ``times_s`` (T,); before the first key the first, after the last the last."""
        t = np.asarray(times_s, dtype=np.float64)
        keys = np.asarray(self._times)
        wrist, angles, pose = (np.stack(v) for v in (self._wrist, self._angles, self._pose))
        if len(keys) == 1:
            n = len(t)
            return HandFrames(np.repeat(wrist, n, 0), np.repeat(angles, n, 0),
                              np.repeat(pose, n, 0))
        seg = np.clip(np.searchsorted(keys, t, side="right") - 1, 0, len(keys) - 2)
        u = (t - keys[seg]) / (keys[seg + 1] - keys[seg])
        w = ease_weights(u, np.asarray(self._ease)[seg])
        return HandFrames(
            wrist[seg] + w[:, None] * (wrist[seg + 1] - wrist[seg]),
            angles[seg] + w[:, None] * (angles[seg + 1] - angles[seg]),
            pose[seg] + w[:, None, None] * (pose[seg + 1] - pose[seg]),
        )


def smooth_window(times_s: np.ndarray, start_s: float, end_s: float, ramp_s: float) -> np.ndarray:
    """(T,) envelope: 0 before ``start_s``, rising (minimum jerk) to 1 over ``ramp_s``, 1 until
    ``end_s - ramp_s``, back to 0 at ``end_s``. Multiplies rhythmic layers so they fade in."""
    up = ease_weights((times_s - start_s) / ramp_s, np.zeros(1, dtype=int))
    down = ease_weights((end_s - times_s) / ramp_s, np.zeros(1, dtype=int))
    return up * down


def bump(times_s: np.ndarray, centre_s: float, width_s: float) -> np.ndarray:
    """(T,) smooth bump 0 -> 1 -> 0 (raised cosine) centred at ``centre_s``, ``width_s`` wide."""
    x = np.clip((times_s - centre_s) / width_s, -0.5, 0.5)
    return 0.5 + 0.5 * np.cos(2.0 * np.pi * x)


# --------------------------------------------------------------------------------------------
# One clip: shared variation, relaxed pose, timing, and the finished record
# --------------------------------------------------------------------------------------------

class _Clip:
    """The variation one clip samples and the bookkeeping its generator fills in.

    Attributes set here (generators may overwrite them): ``speed`` (tempo multiplier),
    ``amplitude`` (motion size multiplier, 1 = typical), ``scale`` (hand size, both hands),
    ``handedness`` (the hand that acts or leads), ``repetitions``, ``offset_s`` (lag of the
    other hand), ``distance_m`` (between the wrists in the clip's characteristic pose).
    """

    def __init__(self, label: str, rng: np.random.Generator,
                 speed: tuple[float, float] = (0.75, 1.35),
                 amplitude: tuple[float, float] = (0.7, 1.3)):
        self.label = label
        self.rng = rng
        self.speed = float(rng.uniform(*speed))
        self.amplitude = float(rng.uniform(*amplitude))
        self.scale = float(rng.uniform(*HAND_SCALE_RANGE))
        self.handedness = "right" if rng.random() < 0.5 else "left"
        self.repetitions = 1
        self.offset_s = 0.0
        self.distance_m = 0.0
        self.extra: dict = {}
        self._phases: list[tuple[str, float, float]] = []
        # (side, part, side, part, start s, end s): the two hands, or one hand's own parts.
        self._contacts: list[tuple[str, str, str, str, float, float]] = []
        self._time_scale = 1.0

    @property
    def other(self) -> str:
        return "left" if self.handedness == "right" else "right"

    def u(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def dur(self, low_s: float, high_s: float) -> float:
        """A duration drawn from [low_s, high_s] at normal tempo, divided by the speed."""
        return self.u(low_s, high_s) / self.speed

    def travel_s(self, moves: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
                 ) -> float:
        """Duration of a transfer between stances, ``moves`` = (side, wrist from, angles from,
        wrist to, angles to) per hand: 0.65-1.0 s at normal tempo, longer where the fingertips
        would otherwise peak above :data:`MAX_TRAVEL_SPEED_M_S` (minimum jerk peaks at 1.875
        times the mean speed)."""
        need = 0.0
        for side, w0, a0, w1, a1 in moves:
            r0 = hand_rotation_from_angles(a0, side)
            r1 = hand_rotation_from_angles(a1, side)
            turn = np.arccos(np.clip((np.trace(r0.T @ r1) - 1.0) / 2.0, -1.0, 1.0))
            path_m = np.linalg.norm(np.asarray(w1) - w0) + _FINGER_REACH_M * self.scale * turn
            need = max(need, 1.875 * path_m / MAX_TRAVEL_SPEED_M_S)
        return max(self.dur(0.65, 1.0), float(need))

    def phase(self, name: str, start_s: float, end_s: float) -> None:
        self._phases.append((name, float(start_s), float(end_s)))

    def contact(self, part_left: str, part_right: str, start_s: float, end_s: float) -> None:
        """A designed contact of the left hand's ``part_left`` with the right's ``part_right``;
        :meth:`finish` trims it to the frames where the parts are measured to touch."""
        self._contacts.append(("left", part_left, "right", part_right, float(start_s),
                               float(end_s)))

    def self_contact(self, side: str, part_a: str, part_b: str, start_s: float,
                     end_s: float) -> None:
        """A designed contact between two parts of one hand (a pinch's thumb and index
        tips), trimmed like :meth:`contact`."""
        self._contacts.append((side, part_a, side, part_b, float(start_s), float(end_s)))

    def rest(self, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A relaxed hand in front of the hip-chest line: wrist, angles, pose (for ``side``)."""
        wrist = mirror([self.u(0.22, 0.29), -self.u(0.15, 0.20), self.u(1.07, 1.14)], side)
        angles = np.array([self.u(0.1, 0.35), self.u(-0.3, -0.05), self.u(0.35, 0.8), 0.0])
        pose = blend(POSES["relaxed"], POSES["fist"], self.u(0.0, 0.2))
        return wrist, angles, pose

    def rest_paths(self) -> dict[str, HandPath]:
        """Both hands' paths starting from their relaxed pose."""
        return {side: HandPath(*self.rest(side)) for side in SIDES}

    def times(self, end_s: float) -> np.ndarray:
        """Frame times (s, design time) covering ``[0, end_s]`` within the 2-6 s clip length;
        a longer design is played faster (the speed written to meta says so)."""
        n = int(np.ceil(end_s * FPS - 1e-6)) + 1
        n_min, n_max = int(MIN_DURATION_S * FPS), int(MAX_DURATION_S * FPS)
        if n > n_max:
            self._time_scale = end_s / ((n_max - 1) / FPS)
            return np.linspace(0.0, end_s, n_max)
        return np.arange(max(n, n_min)) / FPS

    def finish(self, times_s: np.ndarray, frames: dict[str, HandFrames]) -> MotionRecord:
        """Joints of both hands, measured contacts and the meta keys of :mod:`.types`."""
        # Both hands' fingers in one kinematics call (a left hand is a mirrored right one).
        n = len(times_s)
        local = _hand_points_held(np.concatenate([frames[s].pose for s in SIDES]), "right",
                                  self.scale)
        local[:n, :, 1] *= -1.0
        joints = np.stack([_place(local[k * n:(k + 1) * n], frames[s].angles_rad, s,
                                  frames[s].wrist_m) for k, s in enumerate(SIDES)], axis=1)
        joints += self._body_sway(times_s)[:, None, None, :]
        _keep_within_reach(joints)
        frame_of = lambda t_s: int(np.clip(np.searchsorted(times_s, t_s - 1e-6), 0,  # noqa: E731
                                           len(times_s)))
        contacts = [_measured_contact(joints, sa, pa, sb, pb, frame_of(s), frame_of(e))
                    for sa, pa, sb, pb, s, e in self._contacts]
        phases = sorted(self._phases, key=lambda p: p[1])
        meta = {
            "label": self.label, "mode": "bimanual",
            "speed": round(self.speed * self._time_scale, 4),
            "amplitude": round(self.amplitude, 4),
            "repetitions": int(self.repetitions),
            "offset_s": round(self.offset_s / self._time_scale, 4),
            "distance_m": round(self.distance_m, 4),
            "handedness": self.handedness, "lead": self.handedness,
            "body_scale": [1.0, 1.0], "hand_scale": [round(self.scale, 4)] * 2,
            "phases": [{"name": name, "start": frame_of(s),
                        "end": max(frame_of(e), frame_of(s) + 1)} for name, s, e in phases],
            **self.extra,
        }
        return MotionRecord(joints=joints.astype(np.float32), fps=FPS, skeleton="hand21",
                            agents=SIDES, label=self.label, contacts=contacts, meta=meta)

    def _body_sway(self, times_s: np.ndarray) -> np.ndarray:
        """(T, 3) the slow sway of a standing body, shared by both hands (keeps contacts)."""
        rng = self.rng
        freq = rng.uniform(0.15, 0.35, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        amp = rng.uniform(0.0005, 0.003, 3)
        wave = np.sin(2 * np.pi * freq * times_s[:, None] + phase) - np.sin(phase)
        return amp * wave


def _keep_within_reach(joints: np.ndarray, limit_m: float = REACH_M - 0.005) -> None:
    """Shift the whole clip (both hands together, so contacts survive) toward the shoulders
    until every wrist is within ``limit_m`` of its shoulder. A guard: designs stay inside."""
    shoulders = np.stack([SHOULDER_M[s] for s in SIDES])
    for _ in range(4):
        offset = joints[:, :, 0, :] - shoulders
        dist = np.linalg.norm(offset, axis=-1)
        t, h = np.unravel_index(np.argmax(dist), dist.shape)
        excess = dist[t, h] - limit_m
        if excess <= 0.0:
            return
        joints -= (excess + 1e-4) * offset[t, h] / dist[t, h]


def _measured_contact(joints: np.ndarray, side_a: str, part_a: str, side_b: str, part_b: str,
                      start: int, end: int, margin: int = 20) -> ContactInterval:
    """The designed contact ``[start, end)`` of ``side_a``'s ``part_a`` with ``side_b``'s
    ``part_b`` grown or trimmed to the run of frames around its closest approach where the
    parts are within 1.2 cm of that closest distance (searched up to ``margin`` frames either
    side of the design)."""
    n = len(joints)
    end = min(max(end, start + 1), n)
    start = min(start, end - 1)
    lo_w, hi_w = max(0, start - margin), min(n, end + margin)
    a = joints[lo_w:hi_w, SIDES.index(side_a)][:, contact_part_joints("hand21", part_a)]
    b = joints[lo_w:hi_w, SIDES.index(side_b)][:, contact_part_joints("hand21", part_b)]
    diff = a[:, :, None, :] - b[:, None, :, :]
    d = np.sqrt(np.einsum("tabk,tabk->tab", diff, diff).reshape(hi_w - lo_w, -1).min(axis=1))
    best = start - lo_w + int(np.argmin(d[start - lo_w:end - lo_w]))
    far = np.flatnonzero(d > min(CONTACT_M - 0.006, d[best] + 0.012))
    lo = far[far < best].max() + 1 if (far < best).any() else 0
    hi = far[far > best].min() if (far > best).any() else len(d)
    return ContactInterval(side_a, part_a, side_b, part_b, int(lo + lo_w), int(hi + lo_w))


# --------------------------------------------------------------------------------------------
# One hand shows a sign while the other rests
# --------------------------------------------------------------------------------------------

def _reachable(wrist_m: np.ndarray, side: str, margin_m: float = 0.03) -> np.ndarray:
    """``wrist_m`` pulled toward the shoulder until it is ``margin_m`` inside the reach."""
    offset = np.asarray(wrist_m) - SHOULDER_M[side]
    dist = float(np.linalg.norm(offset))
    limit = REACH_M - margin_m
    return wrist_m if dist <= limit else SHOULDER_M[side] + offset * (limit / dist)


def _sign_wrist(c: _Clip, side: str, low: bool = False) -> np.ndarray:
    """Where a hand shows a sign: raised in front of its shoulder (``low``: at chest height)."""
    z = c.u(1.14, 1.28) if low else c.u(1.25, 1.42)
    return _reachable(mirror([c.u(0.26, 0.38), -c.u(0.1, 0.27), z], side), side)


def _one_hand(c: _Clip, wrist_m: np.ndarray, angles_rad: np.ndarray, pose: np.ndarray,
              perform, name: str) -> MotionRecord:
    """The acting hand rises into the sign, ``perform(path, t0)`` appends its keys (and may
    return layers ``f(times, frames)`` that add rhythm to the sampled acting hand), the hand
    goes back to rest; the other hand rests throughout."""
    side = c.handedness
    paths = c.rest_paths()
    act = paths[side]
    rest_state = (act.wrist_m, act.angles_rad, act.pose)
    act.hold(c.dur(0.05, 0.4))
    t_raise = act.end_s
    # Fingers form the sign while the hand travels: half way first, fully on arrival.
    raise_s = c.travel_s([(side, act.wrist_m, act.angles_rad, wrist_m, angles_rad)])
    mid_wrist = 0.5 * (act.wrist_m + wrist_m) + np.array([0.0, 0.0, 0.03])
    act.move(0.5 * raise_s, mid_wrist, 0.5 * (act.angles_rad + angles_rad),
             blend(act.pose, pose, 0.45))
    act.move(0.5 * raise_s, wrist_m, angles_rad, pose)
    c.phase("raise", t_raise, act.end_s)
    t0 = act.end_s
    layers = perform(act, t0) or []
    c.phase(name, t0, act.end_s)
    t_lower = act.end_s
    act.move(c.travel_s([(side, act.wrist_m, act.angles_rad, *rest_state[:2])]), *rest_state)
    c.phase("lower", t_lower, act.end_s)
    act.hold(c.dur(0.05, 0.35))
    paths[c.other].hold_until(act.end_s)
    c.offset_s = 0.0
    c.distance_m = float(np.linalg.norm(wrist_m - paths[c.other].wrist_m))
    times = c.times(act.end_s)
    frames = {s: paths[s].sample(times) for s in SIDES}
    for layer in layers:
        layer(times, frames[side])
    return c.finish(times, frames)


def _sign_hold(c: _Clip, low_s: float = 0.8, high_s: float = 1.8):
    """``perform`` that just holds the sign (with a tiny settling drift)."""
    def perform(path: HandPath, t0: float):
        path.move(c.dur(low_s, high_s), path.wrist_m + c.rng.normal(0, 0.006, 3))
    return perform


def _palm_forward_angles(c: _Clip) -> np.ndarray:
    """Hand up, palm toward the person in front, fingers up and slightly in."""
    return np.array([c.u(-0.15, 0.3), c.u(1.05, 1.45), c.u(-0.25, 0.3), c.u(-0.15, 0.2)])


@interaction("bimanual", "ok_sign", has_contact=False)
def ok_sign(rng: np.random.Generator) -> MotionRecord:
    """One hand makes the OK sign (thumb and index in a ring, other fingers up), palm forward."""
    c = _Clip("ok_sign", rng)
    hold = _sign_hold(c)

    def perform(path: HandPath, t0: float):
        hold(path, t0)  # the ring is closed on arrival and held
        c.self_contact(c.handedness, "thumb_tip", "index_tip", t0, path.end_s)
    return _one_hand(c, _sign_wrist(c, c.handedness), _palm_forward_angles(c), POSES["ok"],
                     perform, "hold")


@interaction("bimanual", "peace_sign", has_contact=False)
def peace_sign(rng: np.random.Generator) -> MotionRecord:
    """One hand shows the V (peace) sign, index and middle up, palm forward."""
    c = _Clip("peace_sign", rng)
    return _one_hand(c, _sign_wrist(c, c.handedness), _palm_forward_angles(c), POSES["peace"],
                     _sign_hold(c), "hold")


@interaction("bimanual", "rock_sign", has_contact=False)
def rock_sign(rng: np.random.Generator) -> MotionRecord:
    """One hand shows the rock sign (index and pinky up), palm forward, maybe pumped."""
    c = _Clip("rock_sign", rng)
    c.repetitions = int(rng.integers(1, 4))
    pump_m = 0.03 * c.amplitude

    def perform(path: HandPath, t0: float):
        up = path.wrist_m
        for _ in range(c.repetitions - 1):
            path.move(c.dur(0.15, 0.25), up + [0.01, 0.0, pump_m])
            path.move(c.dur(0.15, 0.25), up)
        path.hold(c.dur(0.5, 1.2))
    return _one_hand(c, _sign_wrist(c, c.handedness), _palm_forward_angles(c), POSES["rock"],
                     perform, "hold")


@interaction("bimanual", "thumbs_up", has_contact=False)
def thumbs_up(rng: np.random.Generator) -> MotionRecord:
    """One hand gives a thumbs up: fist, thumb pointing up, knuckles forward-in."""
    c = _Clip("thumbs_up", rng)
    angles = np.array([c.u(0.0, 0.6), c.u(-0.1, 0.35), c.u(1.3, 1.7), 0.0])
    c.repetitions = int(rng.integers(1, 3))
    pump_m = 0.025 * c.amplitude

    def perform(path: HandPath, t0: float):
        base = path.wrist_m
        for _ in range(c.repetitions - 1):
            path.move(c.dur(0.15, 0.25), base + [0.015, 0.0, pump_m])
            path.move(c.dur(0.15, 0.25), base)
        path.hold(c.dur(0.6, 1.5))
    return _one_hand(c, _sign_wrist(c, c.handedness, low=True), angles, POSES["thumbs_up"],
                     perform, "hold")


@interaction("bimanual", "shaka", has_contact=False)
def shaka(rng: np.random.Generator) -> MotionRecord:
    """One hand shows the shaka (thumb and pinky out, knuckles forward) and rocks it."""
    c = _Clip("shaka", rng)
    angles = np.array([c.u(1.0, 1.5), c.u(-0.1, 0.3), c.u(1.3, 1.7), 0.0])
    c.repetitions = int(rng.integers(2, 5))
    swing = c.u(0.2, 0.4) * c.amplitude
    period = c.dur(0.3, 0.5)
    hold = c.repetitions * period

    def perform(path: HandPath, t0: float):
        path.hold(hold + c.dur(0.2, 0.6))

        def rock(times: np.ndarray, hand: HandFrames):
            env = smooth_window(times, t0, t0 + hold, 0.15)
            hand.angles_rad[:, 2] += env * swing * np.sin(2 * np.pi * (times - t0) / period)
        return [rock]
    return _one_hand(c, _sign_wrist(c, c.handedness, low=True), angles, POSES["shaka"],
                     perform, "shake")


@interaction("bimanual", "wave", has_contact=False)
def wave(rng: np.random.Generator) -> MotionRecord:
    """One hand waves: raised, palm forward, swinging side to side from the wrist and elbow."""
    c = _Clip("wave", rng)
    c.repetitions = int(rng.integers(2, 6))
    period = c.dur(0.35, 0.6)
    swing = c.u(0.3, 0.5) * c.amplitude
    sway_m = 0.025 * c.amplitude
    hold = c.repetitions * period
    pose = blend(POSES["flat"], POSES["spread"], c.u(0.0, 0.8))
    wrist = _sign_wrist(c, c.handedness) + [0.0, 0.0, c.u(0.0, 0.08)]
    wrist = _reachable(wrist, c.handedness, 0.03 + sway_m)
    angles = np.array([c.u(-0.2, 0.2), c.u(1.15, 1.45), c.u(-0.2, 0.2), 0.0])
    sign = _SIGN[c.handedness]

    def perform(path: HandPath, t0: float):
        path.hold(hold + c.dur(0.1, 0.4))

        def swing_layer(times: np.ndarray, hand: HandFrames):
            env = smooth_window(times, t0, t0 + hold, 0.2)
            osc = env * np.sin(2 * np.pi * (times - t0) / period)
            hand.angles_rad[:, 3] += swing * osc
            hand.wrist_m[:, 1] -= sign * sway_m * osc  # the forearm swings with the hand
        return [swing_layer]
    return _one_hand(c, wrist, angles, pose, perform, "wave")


@interaction("bimanual", "point", has_contact=False)
def point(rng: np.random.Generator) -> MotionRecord:
    """One hand points with the index finger (forward, up, left or right), maybe jabbing."""
    c = _Clip("point", rng)
    yaw, pitch = c.u(-0.6, 0.7), c.u(-0.15, 0.45)
    angles = np.array([yaw, pitch, c.u(0.2, 0.9), 0.0])
    aim = hand_rotation_from_angles(angles, c.handedness)[:, 0]  # world direction pointed
    c.extra["direction"] = ("up" if aim[2] > 0.3 else "left" if aim[1] > 0.35
                            else "right" if aim[1] < -0.35 else "forward")
    wrist = _reachable(mirror([c.u(0.34, 0.44), -c.u(0.06, 0.22), c.u(1.2, 1.36)],
                              c.handedness), c.handedness)
    c.repetitions = int(rng.integers(1, 4))
    jab_m = 0.035 * c.amplitude

    def perform(path: HandPath, t0: float):
        base = path.wrist_m
        for _ in range(c.repetitions - 1):  # emphasis: short jabs along the finger
            path.move(c.dur(0.12, 0.2), base + jab_m * aim)
            path.move(c.dur(0.15, 0.25), base)
        path.hold(c.dur(0.6, 1.4))
    return _one_hand(c, wrist - 0.5 * jab_m * aim, angles, POSES["point"], perform, "point")


@interaction("bimanual", "pinch", has_contact=False)
def pinch(rng: np.random.Generator) -> MotionRecord:
    """One hand pinches thumb and index together, once or a few times."""
    c = _Clip("pinch", rng)
    angles = np.array([c.u(0.0, 0.5), c.u(0.2, 0.8), c.u(0.5, 1.4), 0.0])
    c.repetitions = int(rng.integers(1, 5))
    opened = BIMANUAL_POSES["pinch_open"]

    def perform(path: HandPath, t0: float):
        for i in range(c.repetitions):
            path.move(c.dur(0.15, 0.3), pose=POSES["pinch"])
            closed = path.end_s
            path.hold(c.dur(0.08, 0.3))
            if i == c.repetitions - 1:
                path.hold(c.dur(0.3, 0.8))
            c.self_contact(c.handedness, "thumb_tip", "index_tip", closed, path.end_s)
            if i < c.repetitions - 1:
                path.move(c.dur(0.15, 0.3), pose=opened)
    return _one_hand(c, _sign_wrist(c, c.handedness, low=True), angles, opened, perform, "pinch")


@interaction("bimanual", "count_on_fingers", has_contact=False)
def count_on_fingers(rng: np.random.Generator) -> MotionRecord:
    """One hand counts from one up to N (1-5) by raising fingers, index first, thumb last."""
    c = _Clip("count_on_fingers", rng)
    c.repetitions = int(rng.integers(1, 6))
    c.extra["count"] = c.repetitions
    angles = _palm_forward_angles(c)

    def perform(path: HandPath, t0: float):
        path.hold(c.dur(0.1, 0.3))
        for k in range(1, c.repetitions + 1):
            path.move(c.dur(0.2, 0.3), pose=counting_pose(k))
            path.hold(c.dur(0.2, 0.45))
        path.hold(c.dur(0.2, 0.6))
    return _one_hand(c, _sign_wrist(c, c.handedness), angles, counting_pose(0), perform, "count")


# --------------------------------------------------------------------------------------------
# Both hands move alike, apart (fists, spreading, opening and closing, wrists, piano)
# --------------------------------------------------------------------------------------------

def medial_extent_m(poses: list[np.ndarray], angles_rad: list[np.ndarray], scale: float) -> float:
    """How far (m) a right hand reaches toward the midline from its wrist, over every pair of
    the given poses and wrist angles: mirrored hands need twice this plus a gap between wrists."""
    pts = hand_points(np.stack(poses), "right", scale)
    rot = hand_rotation_from_angles(np.stack(angles_rad), "right")
    world_y = np.einsum("aj,pkj->apk", rot[:, 1, :], pts)
    return float(max(world_y.max(), 0.0))


def _both_hands(c: _Clip, gap_m: float, angles_rad: np.ndarray, pose: np.ndarray,
                perform, name: str, height_m: tuple[float, float] = (1.14, 1.3),
                extent_poses: list[np.ndarray] = (), extent_angles: list[np.ndarray] = ()
                ) -> MotionRecord:
    """Both hands rise to mirrored places, the other hand ``c.offset_s`` behind the leading
    one; ``perform(paths, t0)`` appends the keys of the gesture (and may return layers
    ``f(times, frames_by_side)``); both return to rest. The wrists are placed so that the
    hands, in any of ``pose`` + ``extent_poses`` and ``angles_rad`` + ``extent_angles``, keep
    at least ``gap_m`` between them."""
    # Between two poses the fingers pass through half-bent states that may reach farther
    # toward the midline than either end (with the palms facing in, bending points them in).
    listed = [pose, *extent_poses]
    between = [blend(a, b, w) for i, a in enumerate(listed) for b in listed[i + 1:]
               for w in (0.25, 0.5, 0.75)]
    extent = medial_extent_m(listed + between, [angles_rad, *extent_angles], c.scale)
    separation_m = 2.0 * extent + gap_m
    paths = c.rest_paths()
    lead, lag = paths[c.handedness], paths[c.other]
    centre = np.array([c.u(0.27, 0.36), c.u(-0.03, 0.03), c.u(*height_m)])
    rest_states = {s: (p.wrist_m, p.angles_rad, p.pose) for s, p in paths.items()}
    lead.hold(c.dur(0.05, 0.3))
    lag.hold_until(lead.end_s + c.offset_s)
    t_raise = lead.end_s
    targets = {s: _reachable(centre + mirror([0.0, -0.5 * separation_m, 0.0], s), s)
               for s in SIDES}
    raise_s = c.travel_s([(s, p.wrist_m, p.angles_rad, targets[s], angles_rad)
                          for s, p in paths.items()])
    settle_s = c.dur(0.15, 0.3)
    for side, path in paths.items():
        wrist = targets[side]
        path.move(raise_s, wrist, angles_rad, blend(path.pose, pose, 0.7))
        path.move(settle_s, pose=pose)
    c.phase("raise", t_raise, lead.end_s)
    c.distance_m = float(np.linalg.norm(lead.wrist_m - lag.wrist_m))
    t0 = max(lead.end_s, lag.end_s)
    for path in paths.values():
        path.hold_until(t0)
    layers = perform(paths, t0) or []
    t1 = max(p.end_s for p in paths.values())
    c.phase(name, t0, t1)
    for path in paths.values():
        path.hold_until(t1)
    lower_s = c.travel_s([(s, p.wrist_m, p.angles_rad, *rest_states[s][:2])
                          for s, p in paths.items()])
    lead.move(lower_s, *rest_states[c.handedness])
    lag.hold(c.offset_s).move(lower_s, *rest_states[c.other])
    c.phase("lower", t1, lead.end_s)
    end = max(lead.end_s, lag.end_s) + c.dur(0.05, 0.3)
    times = c.times(end)
    frames = {s: paths[s].sample(times) for s in SIDES}
    for layer in layers:
        layer(times, frames)
    return c.finish(times, frames)


def _keys_with_lag(c: _Clip, paths: dict[str, HandPath], keys: list[tuple[float, dict]]) -> None:
    """Append the same keys ``(duration, move kwargs)`` to both hands, the other hand
    ``c.offset_s`` later."""
    t0 = paths[c.handedness].end_s
    for side, path in paths.items():
        path.hold_until(t0 + (c.offset_s if side == c.other else 0.0))
        for duration, kwargs in keys:
            path.move(duration, **kwargs)


def _palms_out_or_down(c: _Clip) -> np.ndarray:
    if c.rng.random() < 0.5:
        c.extra["palms"] = "forward"
        return np.array([c.u(-0.1, 0.2), c.u(1.1, 1.45), c.u(-0.2, 0.2), 0.0])
    c.extra["palms"] = "down"
    return np.array([c.u(0.0, 0.35), c.u(-0.1, 0.3), c.u(-0.1, 0.4), 0.0])


@interaction("bimanual", "make_fists", has_contact=False)
def make_fists(rng: np.random.Generator) -> MotionRecord:
    """Both hands open, then close into fists (once or twice) and squeeze."""
    c = _Clip("make_fists", rng)
    c.repetitions = int(rng.integers(1, 3))
    c.offset_s = c.u(0.0, 0.25)
    angles = np.array([c.u(0.0, 0.35), c.u(-0.1, 0.3), c.u(0.0, 1.5), 0.0])
    opened = blend(POSES["flat"], POSES["spread"], c.u(0.0, 1.0))

    def perform(paths, t0):
        keys = []
        for i in range(c.repetitions):
            if i:
                keys.append((c.dur(0.2, 0.35), dict(pose=opened)))
            keys += [(c.dur(0.2, 0.35), dict(pose=POSES["fist"])), (c.dur(0.4, 1.0), {})]
        _keys_with_lag(c, paths, keys)
    return _both_hands(c, c.u(0.06, 0.25), angles, opened, perform, "close",
                       extent_poses=[POSES["fist"]])


@interaction("bimanual", "spread_fingers", has_contact=False)
def spread_fingers(rng: np.random.Generator) -> MotionRecord:
    """Both hands spread their fingers wide, hold, and relax (once to three times)."""
    c = _Clip("spread_fingers", rng)
    c.repetitions = int(rng.integers(1, 4))
    c.offset_s = c.u(0.0, 0.2)
    angles = _palms_out_or_down(c)
    relaxed = blend(POSES["relaxed"], POSES["flat"], 0.5)

    def perform(paths, t0):
        keys = []
        for i in range(c.repetitions):
            keys += [(c.dur(0.2, 0.35), dict(pose=POSES["spread"])), (c.dur(0.3, 0.6), {})]
            if i < c.repetitions - 1:
                keys += [(c.dur(0.2, 0.35), dict(pose=relaxed)), (c.dur(0.05, 0.2), {})]
        _keys_with_lag(c, paths, keys)
    return _both_hands(c, c.u(0.06, 0.25), angles, relaxed, perform, "spread",
                       extent_poses=[POSES["spread"]])


@interaction("bimanual", "open_close_hands", has_contact=False)
def open_close_hands(rng: np.random.Generator) -> MotionRecord:
    """Both hands open wide and close to fists rhythmically, together or alternating."""
    c = _Clip("open_close_hands", rng)
    c.repetitions = int(rng.integers(2, 6))
    angles = _palms_out_or_down(c)
    half = c.dur(0.2, 0.35)
    alternate = rng.random() < 0.35
    c.offset_s = half if alternate else c.u(0.0, 0.08)
    c.extra["alternating"] = bool(alternate)

    def perform(paths, t0):
        keys = []
        for _ in range(c.repetitions):
            keys += [(half, dict(pose=POSES["spread"])), (half, dict(pose=POSES["fist"]))]
        _keys_with_lag(c, paths, keys)
    return _both_hands(c, c.u(0.06, 0.25), angles, POSES["fist"], perform, "open_close",
                       extent_poses=[POSES["spread"]])


@interaction("bimanual", "rotate_wrists", has_contact=False)
def rotate_wrists(rng: np.random.Generator) -> MotionRecord:
    """Both forearms turn the palms from down to up and back, or the wrists circle."""
    c = _Clip("rotate_wrists", rng)
    c.repetitions = int(rng.integers(1, 5))
    c.offset_s = c.u(0.0, 0.15)
    pose = [POSES["relaxed"], POSES["fist"], POSES["flat"]][int(rng.integers(3))]
    base = np.array([c.u(0.0, 0.3), c.u(-0.05, 0.25), c.u(-0.15, 0.1), 0.0])
    period = c.dur(0.6, 1.0)
    circles = rng.random() < 0.4
    c.extra["style"] = "circles" if circles else "turn_palms"
    turn = c.u(2.3, 2.8) * min(c.amplitude, 1.1)
    cone = c.u(0.25, 0.4) * c.amplitude
    span = c.repetitions * period

    def perform(paths, t0):
        for path in paths.values():
            path.hold(span + c.offset_s + 0.05)

        def layer(times, frames):
            for side in SIDES:
                ts = t0 + (c.offset_s if side == c.other else 0.0)
                ph = 2 * np.pi * (times - ts) / period
                env = smooth_window(times, ts, ts + span, min(0.3, 0.25 * span))
                a = frames[side].angles_rad
                if circles:
                    a[:, 0] += env * cone * np.sin(ph)
                    a[:, 1] += env * cone * (np.cos(ph) - 1.0) * 0.8
                else:
                    a[:, 2] += env * turn * 0.5 * (1.0 - np.cos(ph))
        return [layer]
    swept = [base + [cone * np.sin(a), cone * 0.8 * (np.cos(a) - 1),
                     turn * 0.5 * (1 - np.cos(a)), 0] for a in np.linspace(0, 2 * np.pi, 9)]
    return _both_hands(c, c.u(0.06, 0.2), base, pose, perform, "rotate", extent_angles=swept)


_PIANO = np.array([(0.25, 0.2, 0.15, 0.15), (0.0, 0.35, 0.55, 0.3), (0.0, 0.35, 0.55, 0.3),
                   (0.0, 0.35, 0.55, 0.3), (0.0, 0.35, 0.55, 0.3)])


@interaction("bimanual", "piano_fingers", has_contact=False)
def piano_fingers(rng: np.random.Generator) -> MotionRecord:
    """Both hands palm down drum their fingers in runs, like playing a piano."""
    c = _Clip("piano_fingers", rng)
    c.repetitions = int(rng.integers(2, 5))
    c.offset_s = c.u(0.0, 0.2)
    angles = np.array([c.u(0.05, 0.35), c.u(-0.35, -0.1), c.u(-0.1, 0.15), 0.0])
    step = c.dur(0.07, 0.12)
    tap = c.dur(0.16, 0.24)
    run = 4 * step + tap + c.dur(0.05, 0.2)
    order = [1, 2, 3, 4] if rng.random() < 0.5 else [4, 3, 2, 1]
    depth = c.u(0.45, 0.75) * min(c.amplitude, 1.15)
    c.extra["order"] = "index_to_pinky" if order[0] == 1 else "pinky_to_index"
    span = c.repetitions * run

    def perform(paths, t0):
        for path in paths.values():
            path.hold(span + c.offset_s + 0.1)

        def layer(times, frames):
            for side in SIDES:
                ts = t0 + (c.offset_s if side == c.other else 0.0)
                pose = frames[side].pose
                for r in range(c.repetitions):
                    for k, f in enumerate(order):
                        b = bump(times, ts + r * run + k * step + 0.5 * tap, tap)
                        pose[:, f, 1] += depth * b
                        pose[:, f, 2] += 0.3 * depth * b
        return [layer]
    return _both_hands(c, c.u(0.08, 0.22), angles, _PIANO, perform, "play", (1.1, 1.2))


# --------------------------------------------------------------------------------------------
# The hands meet: mirrored contact designs, then tapping or holding
# --------------------------------------------------------------------------------------------

_PALM_CENTRE = np.array([0.05, 0.0, 0.0])  # hand frame, on the palm's joint plane


def mirrored_contact_wrist(pose: np.ndarray, angles_rad: np.ndarray, scale: float,
                           centre_m: np.ndarray, gap_m: float,
                           anchor_local_m: np.ndarray | None = None) -> np.ndarray:
    """Right-hand wrist for a mirror-symmetric contact at the midplane through ``centre_m``.

    The hand's most medial joint lands ``gap_m / 2`` right of the midplane, so with the left
    hand mirrored the closest pair of joints is exactly ``gap_m`` apart and all others are
    farther. Along the plane, the hand-frame point ``anchor_local_m`` (scaled; default: the
    most medial joint) lands on ``centre_m``.
    """
    world = hand_points(pose, "right", scale) @ hand_rotation_from_angles(angles_rad, "right").T
    medial = int(np.argmax(world[:, 1]))
    anchor = world[medial] if anchor_local_m is None else \
        hand_rotation_from_angles(angles_rad, "right") @ (scale * np.asarray(anchor_local_m))
    wrist = np.asarray(centre_m, dtype=np.float64) - anchor
    wrist[1] = centre_m[1] - 0.5 * gap_m - world[medial, 1]
    return wrist


def _mirrored(wrist_right_m: np.ndarray, centre_m: np.ndarray) -> dict[str, np.ndarray]:
    """Both wrists of a design made for the right hand, mirrored across the plane y = centre."""
    left = np.array(wrist_right_m, dtype=np.float64)
    left[1] = 2.0 * centre_m[1] - left[1]
    return {"left": left, "right": np.array(wrist_right_m, dtype=np.float64)}


def _meeting_point(c: _Clip, x=(0.27, 0.36), z=(1.14, 1.28)) -> np.ndarray:
    return np.array([c.u(*x), c.u(-0.03, 0.03), c.u(*z)])


def _meet(c: _Clip, wrists: dict[str, np.ndarray], angles: dict[str, np.ndarray],
          poses: dict[str, np.ndarray], retreat: dict[str, np.ndarray], open_m: float,
          parts: tuple[str, str] | list[tuple[str, str]], taps: int = 0, hold_s: float = 0.0,
          open_poses: dict[str, np.ndarray] | None = None, perform=None,
          name: str = "hold", lead_share: float = 0.5, close_s: float = 0.0) -> MotionRecord:
    """Both hands rise to an open stance, come together into the contact design and either tap
    ``taps`` times (impact approach, brief contact, release) or hold ``hold_s`` (during which
    ``perform(paths, t0)`` may append keys and return layers), then return to rest.

    Args:
        wrists, angles, poses: the contact design of each hand.
        retreat: unit direction each hand moves away from the contact.
        open_m: distance the two hands separate along ``retreat`` (lead hand ``lead_share``).
        parts: contact parts (left hand's, right hand's) recorded for every contact, or a
            list of such pairs when the hands touch in several places at once.
        close_s: if positive, the hands arrive in ``open_poses`` and only then the fingers
            close into ``poses`` over ``close_s`` (and open again before the release).
    """
    pairs = [parts] if isinstance(parts[0], str) else list(parts)
    open_poses = open_poses or poses
    share = {c.handedness: lead_share, c.other: 1.0 - lead_share}
    opened = {s: wrists[s] + open_m * share[s] * np.asarray(retreat[s]) for s in SIDES}
    c.distance_m = float(np.linalg.norm(opened["left"] - opened["right"]))
    paths = c.rest_paths()
    rest_states = {s: (p.wrist_m, p.angles_rad, p.pose) for s, p in paths.items()}
    paths[c.handedness].hold(c.dur(0.05, 0.3))
    paths[c.other].hold_until(paths[c.handedness].end_s + c.offset_s)
    opened = {s: _reachable(opened[s], s, 0.01) for s in SIDES}
    raise_s = c.travel_s([(s, p.wrist_m, p.angles_rad, opened[s], angles[s])
                          for s, p in paths.items()])
    for s, path in paths.items():
        path.move(raise_s, opened[s], angles[s], open_poses[s])
    t = max(p.end_s for p in paths.values())
    c.phase("raise", paths[c.handedness].end_s - raise_s, t)
    t += c.dur(0.0, 0.15)
    for path in paths.values():
        path.hold_until(t)
    layers = []

    def both(duration, ease="smooth", to_contact=True):
        for s, path in paths.items():
            if to_contact:
                path.move(duration, wrists[s], angles[s], poses[s], ease)
            else:
                path.move(duration, opened[s], angles[s], open_poses[s], ease)

    if taps:
        approach = max(c.dur(0.16, 0.26), open_m / MAX_CLAP_SPEED_M_S)
        for i in range(taps):
            both(approach, "impact")
            c.phase("approach", t, t + approach)
            t += approach
            # At least two frames at 30 fps, so every clap is seen touching.
            touch = max(c.dur(0.06, 0.1), 2.2 / FPS)
            both(touch)
            for part_left, part_right in pairs:
                c.contact(part_left, part_right, t, t + touch)
            c.phase("contact", t, t + touch)
            t += touch
            # Bouncing apart is quick but, like every transfer, peaks below the travel speed.
            release = max(c.dur(0.14, 0.24),
                          1.875 * max(share.values()) * open_m / MAX_TRAVEL_SPEED_M_S)
            both(release, to_contact=False)
            c.phase("release", t, t + release)
            t += release
    else:
        approach = c.dur(0.3, 0.5)
        if close_s > 0.0:
            for s, path in paths.items():
                path.move(approach, wrists[s], angles[s], open_poses[s])
                path.move(close_s, pose=poses[s])
            approach += close_s
        else:
            both(approach)
        c.phase("approach", t, t + approach)
        t += approach
        for path in paths.values():
            path.hold(hold_s)
        if perform is not None:
            layers = perform(paths, t) or []
        t1 = max(p.end_s for p in paths.values())
        for path in paths.values():
            path.hold_until(t1)
        for part_left, part_right in pairs:
            c.contact(part_left, part_right, t, t1)
        c.phase(name, t, t1)
        if close_s > 0.0:
            for s, path in paths.items():
                path.move(close_s, pose=open_poses[s])
            t1 += close_s
        release = c.dur(0.25, 0.4)
        both(release, to_contact=False)
        c.phase("release", t1, t1 + release)
        t = t1 + release
    lower_s = c.travel_s([(s, p.wrist_m, p.angles_rad, *rest_states[s][:2])
                          for s, p in paths.items()])
    paths[c.handedness].move(lower_s, *rest_states[c.handedness])
    paths[c.other].hold(c.offset_s).move(lower_s, *rest_states[c.other])
    c.phase("lower", t, t + lower_s + c.offset_s)
    times = c.times(max(p.end_s for p in paths.values()) + c.dur(0.05, 0.3))
    frames = {s: paths[s].sample(times) for s in SIDES}
    for layer in layers:
        layer(times, frames)
    return c.finish(times, frames)


def _move_together(paths: dict[str, HandPath], steps: list[tuple[float, np.ndarray]]) -> None:
    """Both wrists move by the same ``(duration, displacement)`` steps at the same time, so the
    hands' contact design holds while they travel (a bow, a lift, a pan)."""
    t0 = max(p.end_s for p in paths.values())
    for path in paths.values():
        path.hold_until(t0)
        for duration, displacement in steps:
            path.move(duration, path.wrist_m + displacement)


def _palms_design(c: _Clip, centre: np.ndarray, pitch_rad: float, yaw_rad: float = 0.0):
    """Palms pressed together at ``centre``: wrists, angles, poses of both hands."""
    angles = np.array([yaw_rad, pitch_rad, 0.5 * np.pi, 0.0])
    pose = BIMANUAL_POSES["palm_press"]
    right = wrist_for(centre, c.scale * _PALM_CENTRE, angles, "right")
    # The palm's joint plane (the wrist's, at 90 deg supination) sits half the gap off the
    # midplane; the thumb CMC, 1 cm palm-side of it, is the closest joint.
    right[1] = centre[1] - 0.5 * PALM_GAP_M * c.scale
    return (_mirrored(right, centre), {s: angles for s in SIDES}, {s: pose for s in SIDES},
            {s: mirror([0.0, -1.0, 0.0], s) for s in SIDES})


@interaction("bimanual", "clap", has_contact=True)
def clap(rng: np.random.Generator) -> MotionRecord:
    """The hands clap 1-5 times: flat palms swing together and bounce apart."""
    c = _Clip("clap", rng)
    c.repetitions = int(rng.integers(1, 6))
    c.offset_s = c.u(0.0, 0.15)
    wrists, angles, poses, retreat = _palms_design(c, _meeting_point(c), c.u(0.2, 0.9))
    open_m = c.u(0.14, 0.24) * c.amplitude
    return _meet(c, wrists, angles, poses, retreat, open_m, ("palm", "palm"),
                 taps=c.repetitions, lead_share=c.u(0.5, 0.8))


@interaction("bimanual", "prayer_hands", has_contact=True)
def prayer_hands(rng: np.random.Generator) -> MotionRecord:
    """Palms pressed together, fingers up, in front of the chest (maybe a small bow)."""
    c = _Clip("prayer_hands", rng)
    c.offset_s = c.u(0.0, 0.2)
    centre = _meeting_point(c, x=(0.2, 0.28), z=(1.16, 1.3))
    wrists, angles, poses, retreat = _palms_design(c, centre, c.u(1.1, 1.45))
    bow = rng.random() < 0.4
    c.extra["bow"] = bool(bow)
    hold = c.dur(0.7, 1.6)
    dip = np.array([0.02, 0.0, -0.03]) * c.amplitude

    def perform(paths, t0):
        if bow:
            _move_together(paths, [(c.dur(0.3, 0.5), dip), (c.dur(0.3, 0.5), -dip),
                                   (c.dur(0.2, 0.5), 0.0)])
    return _meet(c, wrists, angles, poses, retreat, c.u(0.08, 0.14) * c.amplitude,
                 ("palm", "palm"), hold_s=hold, perform=perform)


@interaction("bimanual", "rub_palms", has_contact=True)
def rub_palms(rng: np.random.Generator) -> MotionRecord:
    """Palms pressed together rub back and forth along the fingers 2-6 times."""
    c = _Clip("rub_palms", rng)
    c.repetitions = int(rng.integers(2, 7))
    c.offset_s = c.u(0.0, 0.15)
    pitch = c.u(0.2, 0.9)
    wrists, angles, poses, retreat = _palms_design(c, _meeting_point(c), pitch)
    stroke_m = 0.022 * c.amplitude * c.scale
    period = c.dur(0.3, 0.45)
    span = c.repetitions * period
    along = np.array([np.cos(pitch), 0.0, np.sin(pitch)])
    lead_share = c.u(0.6, 1.0)

    def perform(paths, t0):
        for path in paths.values():
            path.hold(span)

        def layer(times, frames):
            env = smooth_window(times, t0, t0 + span, min(0.25, 0.3 * span))
            osc = env * np.sin(2 * np.pi * (times - t0) / period)
            frames[c.handedness].wrist_m += (lead_share * stroke_m * osc)[:, None] * along
            frames[c.other].wrist_m -= ((1 - lead_share) * stroke_m * osc)[:, None] * along
        return [layer]
    return _meet(c, wrists, angles, poses, retreat, c.u(0.08, 0.14), ("palm", "palm"),
                 hold_s=c.dur(0.1, 0.3), perform=perform, name="rub")


def tent_pose(depth_m: float, spread_rad: float = 0.08) -> np.ndarray:
    """A right-hand pose whose five fingertips all lie ``depth_m`` palm-side of the palm's
    joint plane (hand scale 1): fingers slightly curved and spread, the thumb opposed. Two
    mirrored hands in this pose, palms facing, touch at all five fingertips."""
    profile = np.array([1.0, 0.55, 0.45])
    k = np.linspace(0.0, 1.2, 241)
    pose = np.zeros((len(k), 5, 4))
    pose[:, 1:, 0] = spread_rad * np.array([1.0, 0.2, -0.6, -1.4])
    pose[:, 1:, 1:] = k[:, None, None] * profile
    depth = -hand_points(pose)[:, [8, 12, 16, 20], 2]  # (K, 4), increasing with k
    out = pose[0].copy()
    for i in range(4):
        out[1 + i, 1:] = np.interp(depth_m, depth[:, i], k) * profile
    target = np.array([0.085, 0.07, -depth_m])
    out[0] = _solve_thumb_to(target, np.array([0.6, 0.3, 0.2, 0.2]), out)
    return out


BIMANUAL_POSES["tent"] = tent_pose(0.035)
KNUCKLE_GAP_M = 0.026
"""Distance between the front knuckle joints of two fists touching, at hand scale 1."""
EDGE_GAP_M = 0.021
"""Distance between the little-finger edge joints of two hands side by side, at scale 1."""


def _mirror_meet(c: _Clip, pose: np.ndarray, angles: np.ndarray, gap_m: float,
                 centre: np.ndarray, retreat_right: np.ndarray, open_m: float,
                 parts: tuple[str, str], **kwargs) -> MotionRecord:
    """:func:`_meet` for a mirror-symmetric design: the right hand's ``pose`` and ``angles``
    with its most medial joint ``gap_m`` (scaled) from the left hand's mirror image."""
    right = mirrored_contact_wrist(pose, angles, c.scale, centre, gap_m * c.scale)
    retreat = {s: mirror(retreat_right, s) for s in SIDES}
    return _meet(c, _mirrored(right, centre), {s: angles for s in SIDES},
                 {s: pose for s in SIDES}, retreat, open_m, parts, **kwargs)


@interaction("bimanual", "tap_fingertips", has_contact=True)
def tap_fingertips(rng: np.random.Generator) -> MotionRecord:
    """Palms facing, fingers curved, the five fingertips of each hand tap their mirror 1-5 times."""
    c = _Clip("tap_fingertips", rng)
    c.repetitions = int(rng.integers(1, 6))
    c.offset_s = c.u(0.0, 0.15)
    angles = np.array([0.0, c.u(0.2, 0.8), 0.5 * np.pi, 0.0])
    opened = blend(BIMANUAL_POSES["tent"], POSES["relaxed"], 0.3)
    return _mirror_meet(c, BIMANUAL_POSES["tent"], angles, TIP_GAP_M,
                        _meeting_point(c, x=(0.34, 0.42), z=(1.14, 1.26)),
                        np.array([0.0, -1.0, 0.0]), c.u(0.04, 0.08) * c.amplitude,
                        ("fingertips", "fingertips"), taps=c.repetitions,
                        open_poses={s: opened for s in SIDES}, lead_share=c.u(0.5, 0.7))


@interaction("bimanual", "steeple", has_contact=True)
def steeple(rng: np.random.Generator) -> MotionRecord:
    """Fingertips of both hands pressed together, fingers up, palms apart (a steeple), held."""
    c = _Clip("steeple", rng)
    c.offset_s = c.u(0.0, 0.2)
    angles = np.array([0.0, c.u(1.0, 1.4), 0.5 * np.pi, 0.0])
    centre = _meeting_point(c, x=(0.27, 0.34), z=(1.24, 1.34))
    bob = np.array([0.0, 0.0, 0.02]) * c.amplitude
    c.repetitions = int(rng.integers(1, 3))

    def perform(paths, t0):
        # The steeple is lifted toward the chin and lowered again, tips together.
        for _ in range(c.repetitions - 1):
            _move_together(paths, [(c.dur(0.35, 0.5), bob), (c.dur(0.35, 0.5), -bob)])
    return _mirror_meet(c, BIMANUAL_POSES["tent"], angles, TIP_GAP_M, centre,
                        np.array([0.0, -1.0, 0.0]), c.u(0.06, 0.12), ("fingertips", "fingertips"),
                        hold_s=c.dur(0.6, 1.5), perform=perform,
                        open_poses={s: blend(BIMANUAL_POSES["tent"], POSES["relaxed"], 0.4)
                                    for s in SIDES})


@interaction("bimanual", "tap_index_fingers", has_contact=True)
def tap_index_fingers(rng: np.random.Generator) -> MotionRecord:
    """Index fingers point at each other and tap tip to tip 1-5 times."""
    c = _Clip("tap_index_fingers", rng)
    c.repetitions = int(rng.integers(1, 6))
    c.offset_s = c.u(0.0, 0.15)
    angles = np.array([c.u(1.15, 1.5), c.u(-0.1, 0.3), c.u(0.0, 1.2), 0.0])
    back = -hand_rotation_from_angles(angles, "right")[:, 0]
    return _mirror_meet(c, POSES["point"], angles, TIP_GAP_M,
                        _meeting_point(c, x=(0.28, 0.36), z=(1.15, 1.27)), back,
                        c.u(0.03, 0.07) * c.amplitude, ("index_tip", "index_tip"),
                        taps=c.repetitions, lead_share=c.u(0.5, 0.7))


@interaction("bimanual", "knock_fists", has_contact=True)
def knock_fists(rng: np.random.Generator) -> MotionRecord:
    """Two fists knock together knuckles to knuckles 1-3 times."""
    c = _Clip("knock_fists", rng)
    c.repetitions = int(rng.integers(1, 4))
    c.offset_s = c.u(0.0, 0.15)
    angles = np.array([c.u(1.3, 1.6), c.u(-0.15, 0.15), c.u(0.5, 1.7), 0.0])
    return _mirror_meet(c, POSES["fist"], angles, KNUCKLE_GAP_M, _meeting_point(c),
                        np.array([0.0, -1.0, 0.0]), c.u(0.08, 0.16) * c.amplitude,
                        ("hand", "hand"), taps=c.repetitions, lead_share=c.u(0.5, 0.8))


# A cupped hand whose little finger curls no farther in than the palm's edge, so two such
# hands meet along the edge.
BIMANUAL_POSES["cup_pair"] = _with(POSES["cup"], ring=(0.0, 0.4, 0.4, 0.3),
                                   pinky=(0.05, 0.3, 0.35, 0.25))
_CUP_POINTS = hand_points(BIMANUAL_POSES["cup_pair"])


@interaction("bimanual", "cup_hands", has_contact=True)
def cup_hands(rng: np.random.Generator) -> MotionRecord:
    """Both hands cupped palm up, little-finger edges together, as if holding water."""
    c = _Clip("cup_hands", rng)
    c.offset_s = c.u(0.0, 0.2)
    pitch, sup = c.u(0.0, 0.35), c.u(2.75, 3.05)
    # Turn the hands so that the palm's little-finger edge runs along the midplane: the edge
    # (2.2 cm outside the wrist joint, which sits mid-wrist) is then parallel to the wrist ->
    # little-finger knuckle line, and the two hands touch along the edge, not at one point.
    yaws = np.linspace(-0.6, 0.4, 51)
    rots = hand_rotation_from_angles(np.stack([yaws, np.full_like(yaws, pitch),
                                               np.full_like(yaws, sup), 0 * yaws], -1), "right")
    inward = rots[:, 1, :] @ (_CUP_POINTS[17] - _CUP_POINTS[0])
    angles = np.array([yaws[np.argmin(np.abs(inward - 0.022))], pitch, sup, 0.0])
    lift = np.array([0.02, 0.0, 0.05]) * c.amplitude
    offer = rng.random() < 0.5
    c.extra["lift"] = bool(offer)

    def perform(paths, t0):
        if offer:
            _move_together(paths, [(c.dur(0.4, 0.7), lift), (c.dur(0.3, 0.8), 0.0)])
    return _mirror_meet(c, BIMANUAL_POSES["cup_pair"], angles, EDGE_GAP_M,
                        _meeting_point(c, x=(0.28, 0.36), z=(1.1, 1.18)),
                        np.array([0.0, -1.0, -0.3]) / np.hypot(1.0, 0.3), c.u(0.08, 0.16),
                        ("hand", "hand"), hold_s=c.dur(0.6, 1.5), perform=perform)


def angles_from_rotation(rotation: np.ndarray, side: str,
                         near_rad: np.ndarray | None = None) -> np.ndarray:
    """Wrist angles (4,) (tilt 0) whose :func:`hand_rotation_from_angles` is ``rotation``.

    Of the equivalent angle sets, returns the one closest to ``near_rad`` (default zeros), so
    that a path interpolating from ``near_rad`` turns the short way.
    """
    rot = np.asarray(rotation, dtype=np.float64)
    if side == "left":  # a left hand's rotation is the mirror conjugate of a right hand's
        rot = rot * np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])
    near = np.zeros(4) if near_rad is None else np.asarray(near_rad, dtype=np.float64)
    fingers = rot[:, 0]
    pitch = float(np.arcsin(np.clip(fingers[2], -1.0, 1.0)))
    yaw = float(np.arctan2(fingers[1], fingers[0]))
    rest = (_rz(np.array(yaw)) @ _ry(np.array(-pitch))).T @ rot
    sup = float(np.arctan2(rest[2, 1], rest[1, 1]))
    best = None
    for y, p, s in ((yaw, pitch, sup), (yaw + np.pi, np.pi - pitch, sup + np.pi)):
        cand = np.array([y, p, s, 0.0])
        for k in (0, 2):  # yaw and supination are periodic
            cand[k] += 2.0 * np.pi * np.round((near[k] - cand[k]) / (2.0 * np.pi))
        if best is None or np.abs(cand - near).sum() < np.abs(best - near).sum():
            best = cand
    return best


# Heart: index fingers curl over into the two lobes and meet at the notch, thumbs point down
# and meet at the tip; other fingers tucked. Found offline by least squares on the outline
# (index tip 7.5 cm above the thumb tip, lobes 2.8 cm above the notch, nothing else within
# 0.8 cm of the midplane); tests check the geometry it must keep.
_HEART_ANGLES = np.array([0.669, 0.605, 0.934, 0.601])
BIMANUAL_POSES["heart"] = _with(POSES["fist"], thumb=(0.829, 1.3, 1.0, 0.552),
                                index=(0.0, 0.849, 1.3, 0.237))


@interaction("bimanual", "heart_shape", has_contact=True)
def heart_shape(rng: np.random.Generator) -> MotionRecord:
    """The hands form a heart: index tips meet at the top, thumb tips at the bottom point."""
    c = _Clip("heart_shape", rng)
    c.offset_s = c.u(0.0, 0.2)
    pose = BIMANUAL_POSES["heart"]
    centre = _meeting_point(c, x=(0.26, 0.34), z=(1.2, 1.32))
    right = mirrored_contact_wrist(pose, _HEART_ANGLES, c.scale, centre, TIP_GAP_M * c.scale)
    show = np.array([0.04, 0.0, 0.02]) * c.amplitude
    c.repetitions = int(rng.integers(1, 3))

    def perform(paths, t0):
        # Showing the heart: pushed toward the onlooker and back.
        for _ in range(c.repetitions - 1):
            _move_together(paths, [(c.dur(0.3, 0.5), show), (c.dur(0.3, 0.5), -show)])
    record = _meet(c, _mirrored(right, centre), {s: _HEART_ANGLES for s in SIDES},
                   {s: pose for s in SIDES}, {s: mirror([0.0, -1.0, 0.0], s) for s in SIDES},
                   c.u(0.06, 0.12), [("index_tip", "index_tip"), ("thumb_tip", "thumb_tip")],
                   hold_s=c.dur(0.6, 1.4),
                   perform=perform, open_poses={s: blend(pose, POSES["relaxed"], 0.3)
                                                for s in SIDES})
    return record


BIMANUAL_POSES["l_shape"] = _with(POSES["point"], thumb=(0.0, -0.7, 0.0, 0.0))


@interaction("bimanual", "finger_frame", has_contact=True)
def finger_frame(rng: np.random.Generator) -> MotionRecord:
    """Two L shapes (index and thumb) frame a picture: each index tip meets the other thumb tip.

    The left hand is the right hand reflected through the frame's centre (palm toward the
    face, index down), a hair behind it so the corners touch at :data:`TIP_GAP_M`.
    """
    c = _Clip("finger_frame", rng, speed=(0.85, 1.4))  # a long sequence: no slow takes
    c.offset_s = c.u(0.0, 0.2)
    pose = BIMANUAL_POSES["l_shape"]
    right_angles = np.array([c.u(-0.2, 0.2), c.u(1.2, 1.42), c.u(-0.2, 0.2), c.u(-0.3, 0.3)])
    rot_right = hand_rotation_from_angles(right_angles, "right")
    offsets = hand_points(pose, "right", c.scale) @ rot_right.T
    centre = _meeting_point(c, x=(0.3, 0.37), z=(1.27, 1.38))
    corner_mid = 0.5 * (offsets[8] + offsets[4])
    wrist_right = centre + [0.5 * TIP_GAP_M * c.scale, 0.0, 0.0] - corner_mid
    wrists = {"right": wrist_right, "left": 2.0 * centre - wrist_right}
    rot_left = -rot_right * np.array([1.0, -1.0, 1.0])  # point reflection of a mirrored hand
    rest_left = np.array([0.2, -0.2, 0.5, 0.0])
    angles = {"right": right_angles,
              "left": angles_from_rotation(rot_left, "left", near_rad=rest_left)}
    diagonal = np.array([0.0, -1.0, -1.0]) / np.sqrt(2.0)
    pan = np.array([0.0, c.u(-0.05, 0.05), c.u(-0.02, 0.03)]) * c.amplitude

    def perform(paths, t0):
        if np.abs(pan).sum() > 0.03:  # frame a wider shot: the frame pans
            _move_together(paths, [(c.dur(0.6, 1.0), pan), (c.dur(0.2, 0.6), 0.0)])
    return _meet(c, wrists, angles, {s: pose for s in SIDES},
                 {"right": diagonal, "left": -diagonal}, c.u(0.06, 0.12),
                 [("thumb_tip", "index_tip"), ("index_tip", "thumb_tip")],
                 hold_s=c.dur(0.6, 1.3), perform=perform,
                 open_poses={s: blend(pose, POSES["relaxed"], 0.3) for s in SIDES})


# Interlocked fingers: palms facing 3.0 cm apart, fingers curled and fanned so that each passes
# between two of the other hand's and wraps its back; the left hand sits 1.4 cm along the
# knuckle line from the mirror image of the right. Found offline by maximising the smallest
# joint distance between the hands over the whole closing of the fingers from the open pose
# (1.5 cm at hand scale 1; 1.6 cm once locked) with every fingertip 2 cm past the midplane.
# The design turns rigidly with the pitch (about the world Y axis).
_INTERLOCK_HALF_GAP_M = 0.015
_INTERLOCK_ALONG_M = 0.014
_INTERLOCK_ACROSS_M = -0.006
BIMANUAL_POSES["interlock"] = np.array([
    (POSES["thumbs_up"][0, 0], 0.518, -0.3, 0.0), (0.27, 0.964, 0.97, 1.0),
    (0.2, 0.964, 0.97, 1.0), (-0.066, 0.964, 0.97, 1.0), (-0.5, 0.964, 0.97, 1.0)])
BIMANUAL_POSES["interlock_open"] = _with(
    BIMANUAL_POSES["interlock"], index=(0.207, 0.0, 0.0, 0.0), middle=(-0.008, 0.0, 0.0, 0.0),
    ring=(-0.331, 0.0, 0.0, 0.0), pinky=(-0.6, 0.0, 0.0, 0.0))


@interaction("bimanual", "interlock_fingers", has_contact=True)
def interlock_fingers(rng: np.random.Generator) -> MotionRecord:
    """Palms facing, the fingers of both hands bend between each other and lock; held."""
    c = _Clip("interlock_fingers", rng, speed=(0.85, 1.4))  # a long sequence: no slow takes
    c.offset_s = c.u(0.0, 0.2)
    angles = np.array([0.0, c.u(0.4, 1.2), 0.5 * np.pi, 0.0])
    rot = hand_rotation_from_angles(angles, "right")
    knuckle = rot[:, 1]
    across = np.cross(knuckle, [0.0, 1.0, 0.0])
    across /= np.linalg.norm(across)
    # Whose fingers lie on top follows the leading hand (the mirror design is as valid).
    sign = 1.0 if c.handedness == "right" else -1.0
    shift = sign * c.scale * (_INTERLOCK_ALONG_M * knuckle + _INTERLOCK_ACROSS_M * across)
    centre = _meeting_point(c, x=(0.25, 0.32), z=(1.15, 1.26))
    right = wrist_for(centre, c.scale * _PALM_CENTRE, angles, "right") - 0.5 * shift
    right[1] = centre[1] - _INTERLOCK_HALF_GAP_M * c.scale
    wrists = _mirrored(right, centre)
    wrists["left"] = wrists["left"] + shift
    squeeze = rng.random() < 0.4
    c.extra["squeeze"] = bool(squeeze)
    lift = np.array([0.0, 0.0, 0.03]) * c.amplitude

    def perform(paths, t0):
        if squeeze:  # the locked hands rise and settle together
            _move_together(paths, [(c.dur(0.3, 0.5), lift), (c.dur(0.3, 0.5), -lift)])
    poses = {s: BIMANUAL_POSES["interlock"] for s in SIDES}
    opened = {s: BIMANUAL_POSES["interlock_open"] for s in SIDES}
    return _meet(c, wrists, {s: angles for s in SIDES}, poses,
                 {s: mirror([0.0, -1.0, 0.0], s) for s in SIDES}, c.u(0.08, 0.14),
                 ("fingers", "fingers"), hold_s=c.dur(0.5, 1.3), open_poses=opened,
                 perform=perform, close_s=c.dur(0.3, 0.5), name="interlock")


# Grabbing a forearm: the fingers wrap a cylinder whose axis runs across the hand 3.5 cm below
# the palm's joint plane (forearm radius plus palm and finger thickness): each phalanx is a
# chord of that circle, so the bends are half the arcs of neighbouring chords.
_GRIP_AXIS_LOCAL_M = np.array([0.092, 0.0, -0.035])
BIMANUAL_POSES["wrap"] = _with(POSES["grip"], index=(0.05, 0.69, 1.1, 0.75),
                               middle=(0.0, 0.69, 1.1, 0.75), ring=(-0.05, 0.69, 1.1, 0.75),
                               pinky=(-0.1, 0.69, 1.1, 0.75))




@interaction("bimanual", "grab_wrist", has_contact=True)
def grab_wrist(rng: np.random.Generator) -> MotionRecord:
    """One hand grabs the other forearm just behind the wrist, holds (maybe pulls), lets go."""
    c = _Clip("grab_wrist", rng, speed=(0.95, 1.45))  # a long sequence: no slow takes
    act, held = c.handedness, c.other
    c.offset_s = c.u(0.15, 0.35)  # the held arm follows once the grabbing hand is up
    paths = c.rest_paths()
    rest_states = {s: (p.wrist_m, p.angles_rad, p.pose) for s, p in paths.items()}
    # The held arm reaches forward across the body a little, palm down-in.
    held_wrist = _reachable(mirror([c.u(0.28, 0.34), -c.u(0.06, 0.12), c.u(1.13, 1.21)], held),
                            held)
    held_angles = np.array([c.u(0.1, 0.35), c.u(-0.15, 0.1), c.u(0.0, 0.5), 0.0])
    held_pose = blend(POSES["relaxed"], POSES["flat"], c.u(0.0, 0.6))
    rot_held = hand_rotation_from_angles(held_angles, held)
    forearm, up = rot_held[:, 0], rot_held[:, 2]
    axis_point = held_wrist - 0.06 * c.scale * forearm
    across = np.cross(up, forearm) * (1.0 if held == "left" else -1.0)
    act_angles = angles_from_rotation(hand_rotation(across, -up), act,
                                      near_rad=rest_states[act][1])
    rot_act = hand_rotation_from_angles(act_angles, act)
    grip_local = c.scale * _GRIP_AXIS_LOCAL_M * (1.0, _SIGN[act], 1.0)
    act_wrist = axis_point - rot_act @ grip_local
    above = act_wrist + 0.07 * up
    # The grabbing hand comes from its own side, high, so it never sweeps through the other.
    waypoint = above + 0.05 * up + mirror([0.0, -0.1, 0.0], act) - 0.03 * forearm
    open_pose = blend(POSES["relaxed"], POSES["spread"], 0.5)
    c.distance_m = float(np.linalg.norm(above - held_wrist))
    lead, lag = paths[act], paths[held]
    lead.hold(c.dur(0.05, 0.3))
    lag.hold_until(lead.end_s + c.offset_s)
    t_raise = lead.end_s
    raise_s = c.travel_s([(act, lead.wrist_m, lead.angles_rad, waypoint, act_angles),
                          (held, lag.wrist_m, lag.angles_rad, held_wrist, held_angles)])
    # Up on its own side first, turning across only once above the other hand's thumb.
    lead.move(raise_s, waypoint + 0.06 * up, 0.7 * lead.angles_rad + 0.3 * act_angles, open_pose)
    lead.move(c.dur(0.25, 0.4), waypoint, act_angles).move(c.dur(0.2, 0.35), above)
    lag.move(raise_s, held_wrist, held_angles, held_pose)
    t = max(lead.end_s, lag.end_s)
    c.phase("raise", t_raise, t)
    lead.hold_until(t)
    lag.hold_until(t)
    descend, close = c.dur(0.3, 0.5), c.dur(0.2, 0.35)
    lead.move(descend, act_wrist).move(close, pose=BIMANUAL_POSES["wrap"])
    lag.hold(descend + close)
    c.phase("approach", t, t + descend)
    c.phase("grab", t + descend, t + descend + close)
    t += descend + close
    pull = rng.random() < 0.4
    c.extra["pull"] = bool(pull)
    hold = c.dur(0.4, 1.1)
    if pull:
        drag = mirror([0.01, -0.06, -0.01], act) * c.amplitude
        _move_together(paths, [(c.dur(0.2, 0.4), 0.0 * drag), (c.dur(0.35, 0.6), drag),
                               (c.dur(0.15, 0.35), 0.0 * drag)])
    else:
        _move_together(paths, [(hold, 0.0)])
    t_hold_end = lead.end_s
    c.phase("hold", t, t_hold_end)
    parts = ("palm", "fingers") if act == "right" else ("fingers", "palm")
    c.contact(*parts, t - close, t_hold_end)
    release = c.dur(0.2, 0.35)
    lead.move(release, pose=POSES["relaxed"]).move(descend, lead.wrist_m + 0.1 * up)
    lag.hold_until(lead.end_s)
    c.phase("release", t_hold_end, lead.end_s)
    t = lead.end_s
    # The held arm drops away first; the grabbing hand goes home once the way is clear.
    lower_held = c.travel_s([(held, lag.wrist_m, lag.angles_rad, *rest_states[held][:2])])
    lag.move(lower_held, *rest_states[held])
    lower_act = c.travel_s([(act, waypoint, act_angles, *rest_states[act][:2])])
    lead.hold(0.3 * lower_held + c.offset_s).move(c.dur(0.25, 0.35), waypoint)
    lead.move(lower_act, *rest_states[act])
    c.phase("lower", t, lead.end_s)
    times = c.times(max(lead.end_s, lag.end_s) + c.dur(0.05, 0.3))
    return c.finish(times, {s: paths[s].sample(times) for s in SIDES})


_TUCKED = (0.0, 1.2, 1.3, 0.8)  # a finger folded out of the way of a pinch


def _pinch_holding(width_m: float) -> np.ndarray:
    """A thumb-index pinch whose tip joints are ``width_m`` apart (hand scale 1), the other
    fingers tucked so that only thumb and index reach the object."""
    pose = blend(BIMANUAL_POSES["pinch_open"], POSES["pinch"],
                 float(np.interp(width_m, _PINCH_WIDTHS_M[::-1], _PINCH_WEIGHTS[::-1])))
    return _with(pose, middle=_TUCKED, ring=_TUCKED, pinky=_TUCKED)


_PINCH_WEIGHTS = np.linspace(0.0, 1.0, 21)
_PINCH_WIDTHS_M = np.linalg.norm(np.diff(hand_points(
    blend(BIMANUAL_POSES["pinch_open"], POSES["pinch"], _PINCH_WEIGHTS))[:, [4, 8]], axis=1)[:, 0],
    axis=-1)
_PALM_PAD_M = 0.012  # palm's soft tissue below its joint plane


@interaction("bimanual", "pass_object", has_contact=True)
def pass_object(rng: np.random.Generator) -> MotionRecord:
    """One hand passes a small object (pinched from above) into the other's cupped palm."""
    c = _Clip("pass_object", rng)
    giver, taker = c.handedness, c.other
    c.offset_s = c.u(0.0, 0.2)
    size_m = c.u(0.02, 0.035)
    c.extra.update(object_size_m=round(size_m, 4), giver=giver)
    holding = _pinch_holding(size_m / c.scale + 0.014)
    paths = c.rest_paths()
    rest_states = {s: (p.wrist_m, p.angles_rad, p.pose) for s, p in paths.items()}
    give, take = paths[giver], paths[taker]
    give._pose[0] = holding  # the object is already in hand
    object_m = np.array([c.u(0.3, 0.36), c.u(-0.03, 0.03), c.u(1.17, 1.25)])
    give_angles = np.array([c.u(0.3, 0.7), c.u(-0.35, -0.1), c.u(0.0, 0.3), 0.0])
    local = hand_points(holding, giver, c.scale)
    give_wrist = wrist_for(object_m, 0.5 * (local[4] + local[8]), give_angles, giver)
    take_angles = np.array([c.u(0.1, 0.45), c.u(-0.1, 0.15), c.u(2.7, 3.05), 0.0])
    rot_take = hand_rotation_from_angles(take_angles, taker)
    palm_up = -rot_take[:, 2]
    take_wrist = (object_m - (0.5 * size_m + _PALM_PAD_M * c.scale) * palm_up
                  - rot_take @ (c.scale * _PALM_CENTRE * (1.0, _SIGN[taker], 1.0)))
    below = take_wrist - 0.05 * palm_up
    c.distance_m = float(np.linalg.norm(give_wrist - below))
    give.hold(c.dur(0.05, 0.3))
    take.hold_until(give.end_s + c.offset_s)
    t_raise = give.end_s
    raise_s = c.travel_s([(giver, give.wrist_m, give.angles_rad, give_wrist, give_angles),
                          (taker, take.wrist_m, take.angles_rad, below, take_angles)])
    give.move(raise_s, give_wrist, give_angles, holding)
    take.move(raise_s, below, take_angles, blend(POSES["flat"], POSES["cup"], 0.4))
    t = max(give.end_s, take.end_s)
    c.phase("raise", t_raise, t)
    give.hold_until(t)
    take.hold_until(t)
    rise = c.dur(0.25, 0.4)
    take.move(rise, take_wrist)
    give.hold(rise)
    c.phase("approach", t, t + rise)
    t += rise
    drop = c.dur(0.2, 0.35)
    # The pinch opens as the hand lifts off, the object drops into the palm, the palm closes.
    give.hold(c.dur(0.05, 0.15)).move(drop, give.wrist_m + [0.0, 0.0, 0.015],
                                      pose=_with(BIMANUAL_POSES["pinch_open"], middle=_TUCKED,
                                                 ring=_TUCKED, pinky=_TUCKED))
    t_release = give.end_s
    c.contact("hand", "hand", t, t_release)
    retreat = c.dur(0.3, 0.45)
    give.move(retreat, give.wrist_m + mirror([-0.04, -0.05, 0.05], giver))
    take.hold_until(t_release + 0.3 * retreat)
    take.move(c.dur(0.2, 0.3), pose=blend(POSES["cup"], POSES["grip"], 0.45))
    c.phase("handover", t, take.end_s)
    # The taker draws the object back to its side before the giver's hand comes down.
    t = take.end_s
    take.move(c.dur(0.3, 0.45), take.wrist_m + mirror([-0.02, -0.08, 0.0], taker))
    give.hold_until(0.5 * (t + take.end_s))
    lower = c.travel_s([(s, p.wrist_m, p.angles_rad, *rest_states[s][:2])
                        for s, p in paths.items()])
    give.move(lower, *rest_states[giver])
    take.hold(c.offset_s).move(lower, rest_states[taker][0], rest_states[taker][1])
    c.phase("lower", t, take.end_s)
    times = c.times(max(give.end_s, take.end_s) + c.dur(0.05, 0.3))
    return c.finish(times, {s: paths[s].sample(times) for s in SIDES})
