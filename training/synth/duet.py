"""Procedural two-person (duet) interactions: one generator per label of ``DUET_LABELS``.

Every generator designs its clip in a canonical scene: the *leader* (the agent who initiates)
stands at -X facing +X, the *follower* at +X facing -X (or beside / in front of the leader for
side-by-side and behind-the-back types), and the acting hand is the right one. The clip's
sampled variation is then applied by exact rigid transforms that keep every bone length:
a left-handed clip is the mirror image (Y negated, left and right joints swapped), and when
agent B leads the two agents swap (facing scenes also turn half a turn, so agent A always
stands at -X).

Where hands meet, they are placed from their joints, not by eye: two hands are brought
together along the contact normal only until their nearest joints (bone centres, inside the
flesh) are about 2 cm apart (:func:`_separating_gap`); clasped hands use a crossed layout
searched once per pair of hands (:func:`_clasp_layout`); agents stand where their arms reach
the meeting point comfortably (:func:`_root_x_for_reach`). Hands take their grip shape while
still apart and close straight across the palms, so no joint passes through the other hand.

Contacts are designed (which parts should touch, and when), then measured on the final joints:
a :class:`ContactInterval` covers each run of frames where the two parts' closest joints are
within :data:`CONTACT_M`. A clip whose agents come closer than :data:`MIN_SEPARATION_M` anywhere,
or whose designed contact never happens, is drawn again from the same random stream.

``meta`` (see :mod:`.types`) also carries ``layout`` (``facing``, ``side_by_side``,
``behind``), ``attempts`` and a few type-specific parameters (``pump_hz``, ``turns``, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dyad.motion import ContactInterval, MotionRecord
from dyad.skeletons import BODY22_HANDS_NAMES, contact_part_joints

from .body_pose import (JOINT, SIDES, BodyPose, Proportions, assemble, keyframes, mix,
                        mix_dirs, ramp, smoothstep, travel, unit, window)
from .hand_pose import POSES, blend, hand_points, hand_rotation
from .types import interaction

FPS = 30.0
SKELETON = "body22+hands"
CONTACT_M = 0.0495
"""Largest closest-joint distance (m) counted as touching (the contract's 5 cm, less a margin
for float32 rounding)."""
MIN_SEPARATION_M = 0.016
"""Closest any joints of the two agents may come (the contract's 1.5 cm plus a margin)."""
MIN_S, MAX_S = 3.0, 8.0
MAX_ATTEMPTS = 6


def _mirror_permutation() -> np.ndarray:
    names = BODY22_HANDS_NAMES
    swap = {"l_": "r_", "r_": "l_"}
    return np.array([names.index(swap[n[:2]] + n[2:]) if n[:2] in swap else i
                     for i, n in enumerate(names)])


_MIRROR = _mirror_permutation()


def _mirror_part(part: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if part.startswith(a):
            return b + part[len(a):]
    return part


# --------------------------------------------------------------------------- the clip


@dataclass
class _Design:
    """A designed contact between roles 0 (leader) and 1 (follower), in seconds."""

    role_a: int
    part_a: str
    role_b: int
    part_b: str
    start_s: float
    end_s: float


@dataclass
class Clip:
    """The sampled variation of one clip and the scene it is designed in.

    Roles: 0 is the leader (the agent who initiates), 1 the follower; ``lead`` says which agent
    name the leader gets. Distances are already scaled by the agents' mean size.
    """

    rng: np.random.Generator
    label: str
    speed: float
    amplitude: float
    repetitions: int
    offset_s: float
    distance_m: float
    handedness: str
    lead: str
    props: tuple[Proportions, Proportions]
    layout: str = "facing"
    fps: float = FPS
    num_frames: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def scale(self) -> float:
        """Mean body scale of the two agents."""
        return 0.5 * (self.props[0].body_scale + self.props[1].body_scale)

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def tempo(self, nominal_s: float) -> float:
        """Seconds per nominal second for a clip whose events take ``nominal_s`` at speed 1;
        raises the speed when the clip would otherwise run past 8 s."""
        budget = MAX_S - 0.15
        if nominal_s / self.speed > budget:
            self.speed = nominal_s / budget
        return 1.0 / self.speed

    def frames(self, end_s: float) -> np.ndarray:
        """Fix the clip length (at least 3 s, the rest padded by standing) and return the
        frame times (T,) in seconds."""
        self.num_frames = int(np.clip(np.ceil(end_s * self.fps), MIN_S * self.fps,
                                      MAX_S * self.fps))
        return np.arange(self.num_frames) / self.fps


def _sample_clip(rng: np.random.Generator, label: str, *, distance: tuple[float, float],
                 reps: tuple[int, int] = (1, 1), p_left: float = 0.3,
                 offset: tuple[float, float] = (0.05, 0.4), layout: str = "facing",
                 speed: tuple[float, float] = (0.75, 1.35)) -> Clip:
    """Draw one clip's variation.

    Args:
        rng: the clip's random stream.
        label: the interaction label.
        distance: range of the distance between the agents, in units of their mean body
            scale (types that place the agents by reach replace it with the distance found).
        reps: inclusive range of repetitions.
        p_left: probability of a left-handed clip.
        offset: range of the follower's lag (s).
        layout: ``facing``, ``side_by_side`` or ``behind``.
        speed: range of the tempo multiplier (drawn log-uniformly).
    """
    body = rng.uniform(0.9, 1.1, 2)
    hand = np.clip(body * rng.uniform(0.94, 1.06, 2), 0.85, 1.15)
    props = (Proportions(float(body[0]), float(hand[0])),
             Proportions(float(body[1]), float(hand[1])))
    clip = Clip(
        rng=rng, label=label,
        speed=float(np.exp(rng.uniform(np.log(speed[0]), np.log(speed[1])))),
        amplitude=float(rng.uniform(0.6, 1.4)),
        repetitions=int(rng.integers(reps[0], reps[1] + 1)),
        offset_s=float(rng.uniform(*offset)),
        distance_m=0.0,
        handedness="left" if rng.random() < p_left else "right",
        lead="A" if rng.random() < 0.5 else "B",
        props=props, layout=layout,
    )
    clip.distance_m = float(rng.uniform(*distance)) * clip.scale
    return clip


def _facing_roots(clip: Clip, distance_m: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2) roots of leader and follower facing each other across the origin."""
    d = np.broadcast_to(np.asarray(distance_m, dtype=np.float64), (clip.num_frames,))
    zero = np.zeros(clip.num_frames)
    return np.stack([-d / 2, zero], -1), np.stack([d / 2, zero], -1)


def _finish(clip: Clip, poses: list[BodyPose], designs: list[_Design],
            phases: list[tuple[str, float, float]]) -> MotionRecord:
    """Joints, transforms for handedness and lead, measured contacts and meta."""
    joints = assemble(poses)
    # The scene's origin: midway between the two pelvises at the first frame.
    joints[..., :2] -= 0.5 * (joints[0, 0, 0, :2] + joints[0, 1, 0, :2])
    designs = list(designs)
    if clip.handedness == "left":
        joints = joints[:, :, _MIRROR]
        joints[..., 1] *= -1.0
        designs = [_Design(d.role_a, _mirror_part(d.part_a), d.role_b, _mirror_part(d.part_b),
                           d.start_s, d.end_s) for d in designs]
    agent_of_role = ("A", "B")
    body, hand = [p.body_scale for p in clip.props], [p.hand_scale for p in clip.props]
    if clip.lead == "B":
        joints = joints[:, ::-1]
        agent_of_role = ("B", "A")
        body, hand = body[::-1], hand[::-1]
        if clip.layout == "facing":
            joints = joints * np.array([-1.0, -1.0, 1.0])
    T = joints.shape[0]
    contacts = []
    for d in designs:
        f0 = max(int(np.floor(d.start_s * clip.fps)) - 4, 0)
        f1 = min(int(np.ceil(d.end_s * clip.fps)) + 5, T)
        if f1 - f0 < 3:
            continue
        ia, ib = "AB".index(agent_of_role[d.role_a]), "AB".index(agent_of_role[d.role_b])
        a = joints[f0:f1, ia][:, contact_part_joints(SKELETON, d.part_a)]
        b = joints[f0:f1, ib][:, contact_part_joints(SKELETON, d.part_b)]
        dist = np.sqrt(((a[:, :, None] - b[:, None]) ** 2).sum(-1)).reshape(f1 - f0, -1).min(1)
        close = np.concatenate([[False], dist <= CONTACT_M, [False]])
        edges = np.flatnonzero(np.diff(close.astype(np.int8)))
        for s, e in zip(edges[0::2], edges[1::2]):
            if e - s >= 3:
                contacts.append(ContactInterval(agent_of_role[d.role_a], d.part_a,
                                                agent_of_role[d.role_b], d.part_b,
                                                int(f0 + s), int(f0 + e)))
    contacts.sort(key=lambda c: (c.start, c.agent_a, c.part_a))
    phase_list = []
    for name, s, e in phases:
        fs = int(np.clip(round(s * clip.fps), 0, T))
        fe = int(np.clip(round(e * clip.fps), 0, T))
        if fe > fs:
            phase_list.append({"name": name, "start": fs, "end": fe})
    meta = {
        "label": clip.label, "mode": "duet", "speed": round(clip.speed, 4),
        "amplitude": round(clip.amplitude, 4), "repetitions": clip.repetitions,
        "offset_s": round(clip.offset_s, 4), "distance_m": round(clip.distance_m, 4),
        "handedness": clip.handedness, "lead": clip.lead,
        "body_scale": [round(v, 4) for v in body], "hand_scale": [round(v, 4) for v in hand],
        "phases": phase_list, "layout": clip.layout,
    }
    meta.update(clip.extra)
    return MotionRecord(joints=joints.astype(np.float32), fps=clip.fps, skeleton=SKELETON,
                        agents=("A", "B"), label=clip.label, contacts=contacts, meta=meta)


def min_separation_m(joints: np.ndarray, within_m: float = 0.05) -> float:
    """Closest distance (m) between any joint of agent 0 and any joint of agent 1 over a clip
    (T, 2, J, 3): exact when under ``within_m``, else ``within_m`` (a lower bound).

    Only joints inside the other agent's bounding box grown by ``within_m`` can be that close,
    so only those are compared: a float32 pass finds the closest frame, which is measured
    again in float64 (float32 rounding moves the answer by well under 1e-5 m).
    """
    j = np.asarray(joints)
    a, b = j[:, 0], j[:, 1]
    inside_a = ((a >= b.min(1, keepdims=True) - within_m) &
                (a <= b.max(1, keepdims=True) + within_m)).all(-1)
    inside_b = ((b >= a.min(1, keepdims=True) - within_m) &
                (b <= a.max(1, keepdims=True) + within_m)).all(-1)
    frames = inside_a.any(1) & inside_b.any(1)
    ja, jb = inside_a[frames].any(0), inside_b[frames].any(0)
    if not frames.any():
        return within_m
    centre = j[frames].reshape(-1, 3).mean(0)
    a32 = (a[frames][:, ja] - centre).astype(np.float32)
    b32 = (b[frames][:, jb] - centre).astype(np.float32)
    d2 = (a32 * a32).sum(-1)[:, :, None] + (b32 * b32).sum(-1)[:, None, :] - \
        2.0 * np.matmul(a32, b32.transpose(0, 2, 1))
    f = int(d2.reshape(len(d2), -1).min(1).argmin())
    a64 = a[frames][f, ja].astype(np.float64)
    b64 = b[frames][f, jb].astype(np.float64)
    return float(min(np.sqrt(((a64[:, None] - b64[None]) ** 2).sum(-1)).min(), within_m))


def _duet(label: str, has_contact: bool):
    """Register a clip builder as the duet generator ``label``; drawing again while the clip
    breaks a rule (interpenetration, a designed contact that does not happen)."""

    def wrap(build: Callable[[np.random.Generator], MotionRecord]):
        def generate(rng: np.random.Generator) -> MotionRecord:
            best, best_sep = None, -1.0
            for attempt in range(MAX_ATTEMPTS):
                rec = build(rng)
                sep = min_separation_m(rec.joints)
                ok = sep >= MIN_SEPARATION_M and (bool(rec.contacts) == has_contact)
                rec.meta["attempts"] = attempt + 1
                if ok:
                    return rec
                if sep > best_sep and (bool(rec.contacts) == has_contact or best is None):
                    best, best_sep = rec, sep
            return best

        generate.__name__ = generate.__qualname__ = label
        generate.__doc__ = build.__doc__
        interaction("duet", label, has_contact)(generate)
        return generate

    return wrap


# --------------------------------------------------------------------------- shared gestures

# Handshake grip (checked over hand scales 0.88-1.12 and every grip weight: joints of the two
# hands stay >= 2.2 cm apart while the palms are within 3 cm): palm centres this far apart
# across the palms, and shifted this far toward the partner so the thumb webs meet.
_GRIP_GAP_M = 0.030
_GRIP_SHIFT_M = 0.020
_PALM = (0, 1, 5, 9, 13, 17)  # hand21 joints of the palm
_GRIP_TILT = 0.35  # fingers point this much downward (rise over run) in a handshake
_SHOULDER_OFFSET = np.array([0.0, 0.18, 1.408])  # left shoulder from the ground under the root


def _open_hand() -> np.ndarray:
    pose = blend(POSES["relaxed"], POSES["flat"], 0.6)
    pose[0] = POSES["spread"][0]  # thumb out of the way, as a hand offered for a shake
    return pose


_OPEN_HAND = _open_hand()


def _root_x_for_reach(props: Proportions, side: str, wrist_m: np.ndarray, facing: float,
                      reach: float) -> float:
    """Root x of an agent facing +X (``facing`` 1) or -X (-1) standing on y = 0 whose
    shoulder-to-``wrist_m`` distance is ``reach`` times the arm's length."""
    sgn = 1.0 if side == "left" else -1.0
    sh = _SHOULDER_OFFSET * props.body_scale
    dy = wrist_m[1] - sgn * facing * sh[1]
    dz = wrist_m[2] - sh[2]
    fx = np.sqrt(max((reach * props.arm_m) ** 2 - dy ** 2 - dz ** 2, 0.01))
    return float(wrist_m[0] - facing * fx)


def _meeting_height(clip: Clip, z_range: tuple[float, float], reach: float,
                    lateral_m: float = 0.17) -> float:
    """A height (m) in ``z_range`` (times the mean scale) for a meeting point both agents reach
    with ``reach`` of their arm while standing a fair distance apart: a random preferred
    height, pulled toward the one that leaves the shorter forward reach longest."""
    zs = np.linspace(z_range[0], z_range[1], 16) * clip.scale
    fx = np.stack([np.sqrt(np.maximum((reach * p.arm_m) ** 2 - lateral_m ** 2 -
                                      (zs - _SHOULDER_OFFSET[2] * p.body_scale) ** 2, 0.0))
                   for p in clip.props]).min(axis=0)
    preferred = clip.uniform(*z_range) * clip.scale
    score = fx - 0.5 * np.abs(zs - preferred)
    return float(zs[int(np.argmax(score))])


def _poses(clip: Clip, roots, yaws, **kwargs_per_role) -> list[BodyPose]:
    """A :class:`BodyPose` per role; keyword values are pairs (leader, follower)."""
    out = []
    for r in range(2):
        kw = {k: v[r] for k, v in kwargs_per_role.items() if v[r] is not None}
        out.append(BodyPose(clip.props[r], roots[r], yaws[r], **kw))
    return out


def _hand_dirs(pose: BodyPose, fingers_heading, palm_heading) -> tuple[np.ndarray, np.ndarray]:
    return pose.direction(np.asarray(fingers_heading, float)), \
        pose.direction(np.asarray(palm_heading, float))


def _palm_to_wrist(props: Proportions, side: str, fingers_dir, palm_normal) -> np.ndarray:
    """Offset (3,) from the palm centre to the wrist of a hand held in this orientation."""
    rot = hand_rotation(unit(np.asarray(fingers_dir, float)), np.asarray(palm_normal, float))
    c = props.palm_centre() * ([1.0, -1.0, 1.0] if side == "left" else 1.0)
    return -rot @ c


def _grip_offsets(props: Proportions, role: int, side: str = "right"):
    """Handshake hand of a role (canonical scene, leader faces +X): wrist offset from the
    meeting point, fingers direction and palm normal."""
    fwd = 1.0 if role == 0 else -1.0
    fdir = unit(np.array([fwd, 0.0, -_GRIP_TILT]))
    palm = np.array([0.0, fwd, 0.0])
    centre = np.array([_GRIP_SHIFT_M * fwd, -0.5 * _GRIP_GAP_M * fwd, 0.0]) * props.hand_scale
    return centre + _palm_to_wrist(props, side, fdir, palm), fdir, palm


def _lead(weight: np.ndarray) -> np.ndarray:
    """A weight that reaches 1 at 70 % of ``weight``'s rise: a hand turns before it arrives."""
    return smoothstep(np.asarray(weight) / 0.7)


def _reach_arc(pose: BodyPose, side: str, target: np.ndarray, weight: np.ndarray,
               lift_m: float = 0.05, forward_m: float = 0.06, out_m: float = 0.0) -> np.ndarray:
    """Wrist path from the hanging rest to ``target`` (weight 0 -> 1), bulging forward/up so
    the hand comes round in front of the body rather than through it (``out_m`` bulges it to
    the side of its own arm instead, clear of a partner close in front)."""
    rest = pose.rest_wrist(side)
    w = np.asarray(weight)
    out = out_m if side == "left" else -out_m
    bulge = (4.0 * w * (1.0 - w))[:, None] * pose.direction(np.array([forward_m, out, lift_m]))
    return mix(rest, target, w) + bulge


# --------------------------------------------------------------------------- the types


@_duet("handshake", True)
def _handshake(rng: np.random.Generator) -> MotionRecord:
    """Two people shake right hands: reach, grip, pump, release."""
    clip = _sample_clip(rng, "handshake", distance=(0.6, 0.74), reps=(2, 4))  # distance: reach
    return _build_handshake(clip, approach_s=0.0)


def _build_handshake(clip: Clip, approach_s: float, walk_from_m: float | None = None,
                     two_handed: bool = False, pull_m: float = 0.0) -> MotionRecord:
    """Reach, grip, then pump (``repetitions`` times) or, with ``pull_m``, walk off together:
    the leader backing away and pulling the follower along by the hand."""
    pump_hz = clip.uniform(1.8, 2.6)
    reach, lag = 0.85, clip.offset_s
    pull_s = pull_m / clip.uniform(0.55, 0.85) + 0.6 if pull_m else 0.0
    shake_s = pull_s if pull_m else clip.repetitions / pump_hz
    nominal = 0.4 + approach_s + reach + lag + 0.3 + shake_s + 0.25 + 0.3 + 0.8 + 0.4
    k = clip.tempo(nominal)
    pre = clip.uniform(0.2, 0.5)
    t_walk = pre
    t_reach0 = pre + approach_s * k * 0.75 if approach_s else pre
    t_reach1 = t_reach0 + reach * k
    f_reach0, f_reach1 = t_reach0 + lag, t_reach1 + lag
    t_grip = f_reach1 + 0.05
    t_pump0 = t_grip + 0.25 * k
    t_pump1 = t_pump0 + shake_s * k
    t_release = t_pump1 + 0.15 * k
    t_open = t_release + 0.25 * k
    t_back0, t_back1 = t_open, t_open + 0.8 * k
    f_back0, f_back1 = t_back0 + 0.6 * lag, t_back1 + 0.6 * lag
    t = clip.frames(max(t_back1, f_back1) + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.scale
    # The meeting point, then where each stands so its arm is comfortably bent.
    comfort = clip.uniform(0.86, 0.9) if pull_m else clip.uniform(0.88, 0.95)
    meet0 = np.array([0.0, clip.uniform(-0.03, 0.03),
                      _meeting_height(clip, (0.98, 1.1), comfort) - 0.02 * s])
    grips = [_grip_offsets(clip.props[r], r) for r in range(2)]
    x_roots = [_root_x_for_reach(clip.props[r], "right", meet0 + grips[r][0], 1.0 - 2.0 * r,
                                 comfort + clip.uniform(-0.02, 0.02)) for r in range(2)]
    centre = 0.5 * (x_roots[0] + x_roots[1])
    meet0[0] -= centre
    d = x_roots[1] - x_roots[0]
    clip.distance_m = float(d)
    roots = _facing_roots(clip, d)
    if walk_from_m is not None:
        # The leader covers most of the way; the follower may take a step to meet them.
        share = clip.uniform(0.75, 1.0)
        still = 1.0 - travel(t, t_walk, t_walk + approach_s * k, 0.6 * k)
        roots[0][:, 0] -= (walk_from_m - d) * share * still
        roots[1][:, 0] += (walk_from_m - d) * (1.0 - share) * still
    lean = clip.uniform(0.04, 0.12)
    bend = [lean * window(t, t_reach0, t_reach1, t_back0, t_back1),
            lean * window(t, f_reach0, f_reach1, f_back0, f_back1)]
    meet = np.repeat(meet0[None], T, axis=0)
    if pull_m:
        # Both walk off toward the leader's back, the follower a beat behind; the leader
        # leans back into the pull, the follower is drawn forward.
        follow_lag = clip.uniform(0.03, 0.1)
        moved = [travel(t, t_pump0, t_pump1 - follow_lag, 0.45 * k),
                 travel(t, t_pump0 + follow_lag, t_pump1, 0.45 * k)]
        for r in range(2):
            roots[r][:, 0] -= pull_m * moved[r]
        meet[:, 0] -= pull_m * 0.5 * (moved[0] + moved[1])
        pull_w = window(t, t_pump0 - 0.1, t_pump0 + 0.3 * k, t_pump1 - 0.2 * k, t_release)
        bend = [bend[0] - (lean + 0.1) * pull_w, bend[1] + 0.08 * pull_w]
    else:
        meet[:, 2] += 0.035 * clip.amplitude * s * np.sin(
            2 * np.pi * pump_hz / k * (t - t_pump0)) * window(
                t, t_pump0 - 0.05, t_pump0 + 0.15 * k, t_pump1 - 0.15 * k, t_pump1)
    # Short steps while walking off hand in hand, so the two pairs of feet never meet.
    feet = {"step_length_m": 0.3} if pull_m else None
    poses = _poses(clip, roots, (0.0, np.pi), spine_bend=bend, feet=[feet, feet])
    grip_w = window(t, t_grip, t_pump0, t_release, t_open)
    for r, pose in enumerate(poses):
        r0, r1, b0, b1 = ((t_reach0, t_reach1, t_back0, t_back1) if r == 0 else
                          (f_reach0, f_reach1, f_back0, f_back1))
        w = window(t, r0, r1, b0, b1)
        offset, fdir, palm = grips[r]
        fingers = blend(POSES["relaxed"], blend(_OPEN_HAND, POSES["grip"], grip_w), w)
        pose.set_arm("right", _reach_arc(pose, "right", meet + offset, w),
                     elbow_hint=pose.direction(np.array([-0.15, -0.3, -1.0])),
                     fingers_dir=fdir, palm_normal=palm,
                     orient_weight=window(t, r0, r0 + 0.7 * (r1 - r0), b0, b1), fingers=fingers)
        pitch, yaw = pose.look_angles(poses[1 - r].joint("head"))
        gaze_down = 0.25 * window(t, r0, r1, t_pump0, t_release)
        pose.set_head(pitch * ramp(t, r0, r1) + gaze_down, yaw)
    if two_handed:
        # The leader's left palm covers the back of the follower's right hand.
        lead = poses[0]
        fdir, palm = unit(np.array([1.0, 0.0, -0.6])), np.array([0.0, -1.0, 0.0])
        centre = meet + np.array([0.025, _GRIP_GAP_M * 0.5 + 0.031, 0.012]) * clip.scale
        wrist = centre + _palm_to_wrist(clip.props[0], "left", fdir, palm)
        w = window(t, t_grip, t_pump0 + 0.1 * k, t_release, t_back0 + 0.3 * k)
        cover = blend(POSES["relaxed"], blend(POSES["flat"], POSES["cup"], 0.5), w)
        lead.set_arm("left", _reach_arc(lead, "left", wrist, w, 0.08),
                     elbow_hint=lead.direction(np.array([-0.2, 0.6, -1.0])), fingers_dir=fdir,
                     palm_normal=palm, orient_weight=_lead(w), fingers=cover)
    designs = [_Design(0, "right_palm", 1, "right_palm", t_grip - 0.2, t_open + 0.2)]
    if two_handed:
        designs.append(_Design(0, "left_palm", 1, "right_hand", t_grip, t_back0 + 0.4 * k))
    phases = [("rest", 0, t_reach0)]
    if approach_s:
        phases = [("rest", 0, t_walk), ("approach", t_walk, t_reach0)]
    phases += [("reach", t_reach0, t_grip), ("grip", t_grip, t_pump0),
               ("pull" if pull_m else "shake", t_pump0, t_pump1), ("release", t_pump1, t_open),
               ("retreat", t_open, max(t_back1, f_back1)),
               ("rest", max(t_back1, f_back1), t[-1] + 1e-3)]
    if pull_m:
        clip.extra["pulled_m"] = round(pull_m, 4)
    else:
        clip.extra["pump_hz"] = round(pump_hz * clip.speed, 3)
    return _finish(clip, poses, designs, phases)


@_duet("two_handed_handshake", True)
def _two_handed_handshake(rng: np.random.Generator) -> MotionRecord:
    """A handshake in which the leader also covers the clasped hands with the other palm."""
    clip = _sample_clip(rng, "two_handed_handshake", distance=(0.6, 0.74), reps=(1, 3))
    return _build_handshake(clip, approach_s=0.0, two_handed=True)


@_duet("walk_up_and_greet", True)
def _walk_up_and_greet(rng: np.random.Generator) -> MotionRecord:
    """The leader walks up to the follower and they shake hands."""
    clip = _sample_clip(rng, "walk_up_and_greet", distance=(0.6, 0.74), reps=(1, 3),
                        speed=(0.85, 1.3))
    start = clip.uniform(2.0, 3.4) * clip.scale
    walk_s = (start - 0.7) / clip.uniform(0.9, 1.2) + 0.6
    clip.extra["start_distance_m"] = round(start, 4)
    return _build_handshake(clip, approach_s=walk_s, walk_from_m=start)


# --------------------------------------------------------------------------- slaps and bumps


_HAND_CACHE: dict[tuple[bytes, str], np.ndarray] = {}


def _standard_hand(fingers: np.ndarray, side: str) -> np.ndarray:
    """hand21 points of a standard-size hand in a pose; design-time poses repeat, so cached
    (points scale exactly with the hand's size)."""
    key = (np.asarray(fingers, dtype=np.float64).tobytes(), side)
    pts = _HAND_CACHE.get(key)
    if pts is None:
        if len(_HAND_CACHE) > 256:
            _HAND_CACHE.clear()
        pts = _HAND_CACHE[key] = hand_points(fingers, side)
    return pts


def _hand_points_world(props: Proportions, side: str, fingers_dir, palm_normal,
                       fingers: np.ndarray) -> np.ndarray:
    """(21, 3) joints of a hand with its palm centre at the origin."""
    rot = hand_rotation(unit(np.asarray(fingers_dir, float)), np.asarray(palm_normal, float))
    pts = _standard_hand(fingers, side) * props.hand_scale
    c = props.palm_centre() * ([1.0, -1.0, 1.0] if side == "left" else 1.0)
    return (pts - c) @ rot.T


def _separating_gap(points_a: np.ndarray, points_b: np.ndarray, normal: np.ndarray,
                    clearance_m: float) -> float:
    """Smallest shift of ``points_b`` along ``normal`` (from where they are) after which every
    point of b is at least ``clearance_m`` from every point of a.

    Args:
        points_a: (A, 3) points, or (F, A, 3) for several frames at once.
        points_b: (B, 3) points, or (F, B, 3).
        normal: (3,) unit direction, or (F, 3): one per frame.
        clearance_m: required distance.

    Returns:
        The shift (>= 0) that clears every frame.
    """
    v = points_b[..., None, :, :] - points_a[..., :, None, :]
    vn = (v * np.asarray(normal)[..., None, None, :]).sum(-1)
    disc = vn ** 2 - ((v ** 2).sum(-1) - clearance_m ** 2)
    upper = np.where(disc > 0, -vn + np.sqrt(np.maximum(disc, 0.0)), 0.0)
    return float(max(upper.max(initial=0.0), 0.0))


def _palm_pair_offsets(props: tuple[Proportions, Proportions], sides: tuple[str, str],
                       fingers: tuple[np.ndarray, np.ndarray], normal_leader: np.ndarray,
                       poses: tuple[np.ndarray, np.ndarray], clearance_m: float = 0.02
                       ) -> list[np.ndarray]:
    """Wrist offsets from a meeting point of two palms facing each other (the leader's palm
    faces ``normal_leader``), as close as the hands' joints allow: the nearest joints of the
    two hands end ``clearance_m`` apart (palms pressed together; joints are bone centres)."""
    n = unit(normal_leader)
    hands = [_hand_points_world(props[r], sides[r], fingers[r], n if r == 0 else -n, poses[r])
             for r in range(2)]
    gap = _separating_gap(hands[0], hands[1], n, clearance_m)
    out = []
    for r in range(2):
        nr = n if r == 0 else -n
        centre = -0.5 * gap * nr
        out.append(centre + _palm_to_wrist(props[r], sides[r], fingers[r], nr))
    return out


def _rotate_about(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    axis = unit(axis)
    return v * np.cos(angle) + np.cross(axis, v) * np.sin(angle) + \
        axis * (axis @ v) * (1.0 - np.cos(angle))


_CANON_DIR, _CANON_NORMAL = np.array([0.0, 0.0, -1.0]), np.array([0.0, -1.0, 0.0])
_CLASP_CLEARANCE_M = 0.022  # between the joints of two clasped hands (bone centres)


@functools.lru_cache(maxsize=None)
def _clasp_layout(side_a: str, side_b: str, cross_deg: float, grip: float,
                  base: str = "relaxed") -> tuple[float, float]:
    """In-plane offset (along the fingers, across the hand) of hand b from hand a in a clasp
    where the two palms face each other with fingers crossed at ``cross_deg``: the offset
    that lets the palms come closest while every joint stays 2 cm from the other hand's,
    with the palm centres near each other. Standard hands; searched once per layout."""
    pose = blend(POSES[base], POSES["grip"], grip)
    half = np.radians(cross_deg) / 2
    std = Proportions()
    a = _hand_points_world(std, side_a, _rotate_about(_CANON_DIR, _CANON_NORMAL, half),
                           _CANON_NORMAL, pose)
    b = _hand_points_world(std, side_b, _rotate_about(_CANON_DIR, _CANON_NORMAL, -half),
                           -_CANON_NORMAL, pose)
    across = np.cross(_CANON_NORMAL, _CANON_DIR)
    palm = list(_PALM)
    best, best_uv = np.inf, (0.0, 0.0)
    for u in np.linspace(-0.1, 0.1, 21):
        for v in np.linspace(-0.08, 0.08, 17):
            moved = b + u * _CANON_DIR + v * across
            moved = moved + _separating_gap(a, moved, _CANON_NORMAL, 0.02) * _CANON_NORMAL
            palm_d = np.linalg.norm(a[palm][:, None] - moved[palm][None], axis=-1).min()
            off = moved[palm].mean(0) - a[palm].mean(0)
            off -= (off @ _CANON_NORMAL) * _CANON_NORMAL
            score = palm_d + 0.3 * np.linalg.norm(off)
            if score < best:
                best, best_uv = score, (float(u), float(v))
    return best_uv


def _clasp(props: tuple[Proportions, Proportions], sides: tuple[str, str],
           fingers_dir: np.ndarray, normal_a: np.ndarray, cross_deg: float, grip: float,
           base: str = "relaxed"):
    """Two hands clasped palm to palm (hand a's palm faces ``normal_a``), fingers crossed at
    ``cross_deg`` about the average direction ``fingers_dir``, fingers curled from the
    ``base`` pose toward a grip by ``grip``.

    Returns wrist offsets from the clasp's centre, finger directions and palm normals (one
    per hand), and the finger pose.
    """
    n = unit(normal_a)
    f = unit(fingers_dir - (fingers_dir @ n) * n)
    u, v = _clasp_layout(sides[0], sides[1], cross_deg, grip, base)
    scale = 0.5 * (props[0].hand_scale + props[1].hand_scale)
    half = np.radians(cross_deg) / 2
    # The canonical layout mapped onto this clasp's frame (normal, fingers, across).
    rot = np.stack([unit(np.cross(n, f)), f, n], 1) @ np.stack(
        [np.cross(_CANON_NORMAL, _CANON_DIR), _CANON_DIR, _CANON_NORMAL], 0)
    dirs = [rot @ _rotate_about(_CANON_DIR, _CANON_NORMAL, half),
            rot @ _rotate_about(_CANON_DIR, _CANON_NORMAL, -half)]
    normals = [n, -n]
    pose = blend(POSES[base], POSES["grip"], grip)
    hands = [_hand_points_world(props[r], sides[r], dirs[r], normals[r], pose) for r in range(2)]
    across = unit(np.cross(n, f))
    palm = list(_PALM)
    # The standard layout, refined for these two hands' sizes (up to 2 cm either way), all
    # candidates at once: the gap that clears every joint pair, then the score.
    steps = np.linspace(-0.02, 0.02, 5)
    du, dv = np.meshgrid(steps, steps, indexing="ij")
    shifts = scale * ((u + du.ravel())[:, None] * f + (v + dv.ravel())[:, None] * across)
    rel = (hands[1][None, None, :, :] + shifts[:, None, None, :]) - hands[0][None, :, None, :]
    rel = rel.reshape(len(shifts), -1, 3)
    vn = rel @ n
    disc = vn ** 2 - ((rel ** 2).sum(-1) - _CLASP_CLEARANCE_M ** 2)
    upper = np.where(disc > 0, -vn + np.sqrt(np.maximum(disc, 0.0)), 0.0)
    gaps = np.maximum(upper.max(axis=1), 0.0)
    moved = hands[1][palm][None] + shifts[:, None, :] + gaps[:, None, None] * n
    palm_d = np.linalg.norm(hands[0][palm][None, :, None] - moved[:, None], axis=-1)
    off = moved.mean(1) - hands[0][palm].mean(0)
    off -= (off @ n)[:, None] * n
    score = palm_d.reshape(len(shifts), -1).min(1) + 0.3 * np.linalg.norm(off, axis=1)
    i = int(np.argmin(score))
    best = (score[i], shifts[i], float(gaps[i]))
    _, shift_b, gap = best
    centres = [np.zeros(3), shift_b + gap * n]
    mid = 0.5 * (centres[0] + centres[1])
    wrists = [centres[r] - mid + _palm_to_wrist(props[r], sides[r], dirs[r], normals[r])
              for r in range(2)]
    return wrists, dirs, normals, pose


def _slap(clip: Clip, label_pairs: list[tuple[str, str, float]], height: tuple[float, float],
          fingers_pose: np.ndarray, low: bool = False) -> MotionRecord:
    """High fives (palms vertical, meeting over the shoulders) and low fives (the leader
    offers a palm up at the waist, the follower slaps down on it).

    Args:
        label_pairs: (leader hand, follower hand, lateral y of the meeting point / scale).
    """
    lag = clip.offset_s
    nominal = 0.3 + 0.7 + lag + 0.25 + 0.15 + 0.3 + 0.7 + 0.4
    k = clip.tempo(nominal)
    t_raise0 = clip.uniform(0.2, 0.5)
    t_raise1 = t_raise0 + 0.7 * k
    f_raise0, f_raise1 = t_raise0 + lag, t_raise1 + lag
    t_hit = f_raise1 + 0.22 * k
    hold = clip.uniform(0.1, 0.18)
    t_off = t_hit + hold
    t_rebound = t_off + 0.25 * k
    t_low0, t_low1 = t_rebound, t_rebound + 0.7 * k
    t = clip.frames(t_low1 + 0.05 + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.scale
    reach = clip.uniform(0.9, 0.97) if not low else clip.uniform(0.93, 0.98)
    z = _meeting_height(clip, height, reach, 0.1)
    metas = []
    for lead_side, follow_side, y in label_pairs:
        meet = np.array([0.0, y * s + clip.uniform(-0.03, 0.03), z])
        # Fingers lie in the contact plane, so the palms (not the fingertips) meet.
        if low:
            fingers = (np.array([1.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0]))
            offs = _palm_pair_offsets(clip.props, (lead_side, follow_side), fingers,
                                      np.array([0.0, 0.0, 1.0]), (fingers_pose, fingers_pose))
        else:
            out_lead = 0.15 if lead_side == "left" else -0.15
            fingers = (unit(np.array([0.0, out_lead, 1.0])), unit(np.array([0.0, -out_lead, 1.0])))
            offs = _palm_pair_offsets(clip.props, (lead_side, follow_side), fingers,
                                      np.array([1.0, 0.0, 0.0]), (fingers_pose, fingers_pose))
        metas.append((meet, offs, fingers))
    x_roots = [np.mean([_root_x_for_reach(clip.props[r], sd, m + o[r], 1.0 - 2 * r, reach)
                        for (m, o, _), sd in zip(metas, [p[r] for p in label_pairs])])
               for r in range(2)]
    c = 0.5 * (x_roots[0] + x_roots[1])
    clip.distance_m = float(x_roots[1] - x_roots[0])
    roots = _facing_roots(clip, clip.distance_m)
    poses = _poses(clip, roots, (0.0, np.pi),
                   spine_bend=[0.06 * window(t, t_raise0, t_hit, t_off, t_low1)] * 2)
    hit_w = window(t, t_hit - 0.22 * k, t_hit, t_off, t_rebound)
    designs = []
    for (meet, offs, fingers), (lead_side, follow_side, _) in zip(metas, label_pairs):
        meet = meet - np.array([c, 0.0, 0.0])
        for r, side in enumerate((lead_side, follow_side)):
            pose = poses[r]
            fwd = 1.0 if r == 0 else -1.0
            r0, r1 = (t_raise0, t_raise1) if r == 0 else (f_raise0, f_raise1)
            w_up = window(t, r0, r1, t_low0, t_low1)
            if low and r == 0:  # the offered palm waits still; the other hand comes down on it
                cocked = meet + offs[r]
            elif low:
                cocked = meet + offs[r] + np.array([0.05 * fwd, 0.0, 0.2 * s])
            else:
                cocked = meet + offs[r] + np.array([-0.16 * fwd, 0.0, 0.06]) * s
            target = mix(np.broadcast_to(cocked, (T, 3)), np.broadcast_to(meet + offs[r], (T, 3)),
                         hit_w)
            sgn = 1.0 if side == "left" else -1.0
            hint = pose.direction(np.array([-0.2, 0.35 * sgn, -1.0]))
            pose.set_arm(side, _reach_arc(pose, side, target, w_up, 0.08), elbow_hint=hint,
                         fingers_dir=fingers[r], palm_normal=(
                             np.array([0.0, 0.0, 1.0 if r == 0 else -1.0]) if low else
                             np.array([fwd, 0.0, 0.0])),
                         orient_weight=_lead(w_up),
                         fingers=blend(POSES["relaxed"], fingers_pose, w_up))
        designs.append(_Design(0, f"{lead_side}_palm", 1, f"{follow_side}_palm",
                               t_hit - 0.1, t_rebound))
    for r, pose in enumerate(poses):
        pitch, yaw = pose.look_angles(poses[1 - r].joint("head"))
        pose.set_head(pitch, yaw)
    phases = [("rest", 0, t_raise0), ("raise", t_raise0, t_hit - 0.22 * k),
              ("swing", t_hit - 0.22 * k, t_hit), ("contact", t_hit, t_off),
              ("rebound", t_off, t_rebound), ("lower", t_low0, t_low1),
              ("rest", t_low1, t[-1] + 1e-3)]
    return _finish(clip, poses, designs, phases)


def _slap_fingers(clip: Clip) -> np.ndarray:
    return blend(POSES["flat"], POSES["spread"], clip.uniform(0.0, 1.0))


@_duet("high_five", True)
def _high_five(rng: np.random.Generator) -> MotionRecord:
    """Right palms slap together above shoulder height."""
    clip = _sample_clip(rng, "high_five", distance=(0.7, 0.9), offset=(0.0, 0.25))
    return _slap(clip, [("right", "right", 0.0)], (1.55, 1.72), _slap_fingers(clip))


@_duet("double_high_five", True)
def _double_high_five(rng: np.random.Generator) -> MotionRecord:
    """Both hands high five: the leader's right meets the follower's left and vice versa."""
    clip = _sample_clip(rng, "double_high_five", distance=(0.6, 0.8), offset=(0.0, 0.2))
    w = clip.uniform(0.17, 0.24)
    return _slap(clip, [("right", "left", -w), ("left", "right", w)], (1.5, 1.68),
                 _slap_fingers(clip))


@_duet("low_five", True)
def _low_five(rng: np.random.Generator) -> MotionRecord:
    """The leader offers a palm up at waist height; the follower slaps down on it."""
    clip = _sample_clip(rng, "low_five", distance=(0.6, 0.8), offset=(0.2, 0.6))
    return _slap(clip, [("right", "right", 0.0)], (0.95, 1.05), _slap_fingers(clip), low=True)


def _fist_front() -> np.ndarray:
    """Point (3,) in a standard right hand's frame at the middle of a fist's knuckle face."""
    pts = hand_points(POSES["fist"])
    front = pts[[5, 6, 9, 10, 13, 14, 17, 18]]
    return np.array([pts[:, 0].max(), front[:, 1].mean(), pts[:, 2].mean()])


_FIST_FRONT = _fist_front()


def _fist_offset(props: Proportions, side: str, fingers_dir, palm_normal) -> np.ndarray:
    """Offset (3,) from the knuckle-face point of a fist to its wrist."""
    rot = hand_rotation(unit(np.asarray(fingers_dir, float)), np.asarray(palm_normal, float))
    f = _FIST_FRONT * props.hand_scale * ([1.0, -1.0, 1.0] if side == "left" else 1.0)
    return -rot @ f


@_duet("fist_bump", True)
def _fist_bump(rng: np.random.Generator) -> MotionRecord:
    """Two fists meet knuckles to knuckles in front of the chest."""
    clip = _sample_clip(rng, "fist_bump", distance=(0.7, 0.9), offset=(0.0, 0.3))
    lag = clip.offset_s
    explode = bool(clip.rng.random() < 0.3)  # fingers burst open on the way back
    nominal = 0.3 + 0.7 + lag + 0.2 + 0.15 + 0.3 + 0.7 + 0.4
    k = clip.tempo(nominal)
    t_raise0 = clip.uniform(0.2, 0.5)
    t_raise1 = t_raise0 + 0.65 * k
    f_raise0, f_raise1 = t_raise0 + lag, t_raise1 + lag
    t_hit = f_raise1 + 0.2 * k
    t_off = t_hit + clip.uniform(0.1, 0.2)
    t_back = t_off + 0.3 * k
    t_low1 = t_back + 0.7 * k
    t = clip.frames(t_low1 + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.scale
    reach = clip.uniform(0.86, 0.95)
    meet = np.array([0.0, clip.uniform(-0.04, 0.04),
                     _meeting_height(clip, (1.0, 1.16), reach, 0.15)])
    fdirs = [unit(np.array([1.0, 0.0, clip.uniform(-0.1, 0.15)])), None]
    fdirs[1] = fdirs[0] * [-1.0, 1.0, 1.0]
    palms = [np.array([0.0, 1.0, 0.0]), np.array([0.0, -1.0, 0.0])]  # thumbs up
    offs = [_fist_offset(clip.props[r], "right", fdirs[r], palms[r]) for r in range(2)]
    fists = [_hand_points_world(clip.props[r], "right", fdirs[r], palms[r], POSES["fist"]) +
             clip.props[r].palm_centre() @ hand_rotation(fdirs[r], palms[r]).T + offs[r]
             for r in range(2)]
    gap = _separating_gap(fists[0], fists[1], np.array([1.0, 0.0, 0.0]), 0.021)
    offs = [offs[r] - np.array([0.5 * gap * (1 - 2 * r), 0.0, 0.0]) for r in range(2)]
    x_roots = [_root_x_for_reach(clip.props[r], "right", meet + offs[r], 1.0 - 2 * r, reach)
               for r in range(2)]
    meet[0] -= 0.5 * (x_roots[0] + x_roots[1])
    clip.distance_m = float(x_roots[1] - x_roots[0])
    poses = _poses(clip, _facing_roots(clip, clip.distance_m), (0.0, np.pi),
                   spine_bend=[0.05 * window(t, t_raise0, t_hit, t_off, t_low1)] * 2)
    hit_w = window(t, t_hit - 0.2 * k, t_hit, t_off, t_back)
    open_w = ramp(t, t_off, t_back) if explode else np.zeros(T)
    for r, pose in enumerate(poses):
        fwd = 1.0 - 2 * r
        r0, r1 = (t_raise0, t_raise1) if r == 0 else (f_raise0, f_raise1)
        w = window(t, r0, r1, t_back, t_low1)
        cocked = meet + offs[r] + np.array([-0.14 * fwd, 0.0, -0.02]) * s
        target = mix(np.broadcast_to(cocked, (T, 3)), np.broadcast_to(meet + offs[r], (T, 3)),
                     hit_w)
        fingers = blend(blend(POSES["relaxed"], POSES["fist"], w), POSES["spread"], open_w * w)
        pose.set_arm("right", _reach_arc(pose, "right", target, w),
                     elbow_hint=pose.direction(np.array([-0.3, -0.4, -1.0])),
                     fingers_dir=fdirs[r], palm_normal=palms[r], orient_weight=_lead(w),
                     fingers=fingers)
        pitch, yaw = pose.look_angles(poses[1 - r].joint("head"))
        pose.set_head(pitch + 0.2 * hit_w, yaw)
    clip.extra["explode"] = explode
    phases = [("rest", 0, t_raise0), ("raise", t_raise0, t_hit - 0.2 * k),
              ("bump", t_hit - 0.2 * k, t_hit), ("contact", t_hit, t_off),
              ("retract", t_off, t_back), ("lower", t_back, t_low1), ("rest", t_low1, t[-1] + 1e-3)]
    return _finish(clip, poses, [_Design(0, "right_hand", 1, "right_hand", t_hit - 0.1, t_back)],
                   phases)


@_duet("elbow_bump", True)
def _elbow_bump(rng: np.random.Generator) -> MotionRecord:
    """Each turns a shoulder forward and they touch right elbows, forearms across the chest."""
    clip = _sample_clip(rng, "elbow_bump", distance=(0.7, 0.9), offset=(0.0, 0.3))
    lag = clip.offset_s
    nominal = 0.3 + 0.8 + lag + 0.25 + 0.2 + 0.3 + 0.7 + 0.4
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.5)
    t1 = t0 + 0.8 * k
    f0, f1 = t0 + lag, t1 + lag
    t_hit = f1 + 0.25 * k
    t_off = t_hit + clip.uniform(0.12, 0.25)
    t_back = t_off + 0.3 * k
    t_end = t_back + 0.7 * k
    t = clip.frames(t_end + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.scale
    twist = clip.uniform(0.35, 0.6)
    lean = clip.uniform(0.08, 0.16)
    w_lead = window(t, t0, t1, t_back, t_end)
    w_follow = window(t, f0, f1, t_back, t_end)
    poses = _poses(clip, _facing_roots(clip, 0.0), (0.0, np.pi),
                   spine_twist=[twist * w_lead, twist * w_follow],
                   spine_bend=[lean * w_lead, lean * w_follow])
    # Elbows meet on the centre line; each agent stands where its upper arm (at full twist)
    # just reaches its elbow's spot.
    z_elbow = clip.uniform(1.22, 1.34) * s
    half_gap = 0.5 * clip.uniform(0.036, 0.044) * s
    frame = int(np.clip(round(t_hit * clip.fps), 0, T - 1))
    x_at = []
    for r, pose in enumerate(poses):
        fwd = 1.0 - 2 * r
        sh = pose.shoulder("right")[frame]
        e = np.array([-half_gap * fwd, 0.0, z_elbow])
        l1 = clip.props[r].upper_arm_m
        dx = np.sqrt(max(l1 ** 2 - (e[1] - sh[1]) ** 2 - (e[2] - sh[2]) ** 2, 1e-4))
        x_at.append(e[0] - fwd * dx - sh[0])
    c = 0.5 * (x_at[0] + x_at[1])
    for r, pose in enumerate(poses):
        pose.shift([x_at[r] - c, 0.0])
    clip.distance_m = float(x_at[1] - x_at[0])
    hit_w = window(t, t_hit - 0.25 * k, t_hit, t_off, t_back)
    for r, pose in enumerate(poses):
        fwd = 1.0 - 2 * r
        w = w_lead if r == 0 else w_follow
        sh = pose.shoulder("right")
        e_contact = np.array([-half_gap * fwd, 0.0, z_elbow])
        l1, l2 = clip.props[r].upper_arm_m, clip.props[r].forearm_m
        # Upper arm from the relaxed hang to pointing at the contact spot (cocked slightly
        # short of it before the bump); the forearm folds across the chest.
        cocked = e_contact + np.array([-0.08 * fwd, 0.0, -0.04]) * s
        e_goal = mix(np.broadcast_to(cocked, (T, 3)), np.broadcast_to(e_contact, (T, 3)), hit_w)
        up_dir = mix_dirs(pose.direction(np.array([0.0, 0.0, -1.0])), unit(e_goal - sh), w)
        elbow = sh + l1 * up_dir
        fore = mix_dirs(pose.direction(np.array([0.25, 0.0, -1.0])),
                        pose.direction(unit(np.array([-0.55, 1.0, 0.4]))), w)
        wrist = elbow + l2 * fore
        fdir = pose.direction(unit(np.array([-0.4, 1.0, 0.35])))
        palm = pose.direction(np.array([-0.2, 0.0, -1.0]))
        pose.set_arm("right", wrist, elbow_hint=elbow - sh, fingers_dir=fdir, palm_normal=palm,
                     orient_weight=_lead(w),
                     fingers=blend(POSES["relaxed"], POSES["fist"], 0.6 * w))
        pitch, yaw = pose.look_angles(poses[1 - r].joint("head"))
        pose.set_head(pitch + 0.15 * hit_w, yaw)
    phases = [("rest", 0, t0), ("raise", t0, t_hit - 0.25 * k), ("bump", t_hit - 0.25 * k, t_hit),
              ("contact", t_hit, t_off), ("retract", t_off, t_back), ("lower", t_back, t_end),
              ("rest", t_end, t[-1] + 1e-3)]
    return _finish(clip, poses, [_Design(0, "right_forearm", 1, "right_forearm", t_hit - 0.1,
                                         t_back)], phases)


# --------------------------------------------------------------------------- gestures at a distance


def _look_at_partner(poses: list[BodyPose], extra_pitch=(0.0, 0.0)) -> None:
    for r, pose in enumerate(poses):
        pitch, yaw = pose.look_angles(poses[1 - r].joint("head"))
        pose.set_head(pitch + extra_pitch[r], yaw)


@_duet("wave_to_each_other", False)
def _wave_to_each_other(rng: np.random.Generator) -> MotionRecord:
    """Both raise a hand and wave at each other; the follower answers after a moment."""
    clip = _sample_clip(rng, "wave_to_each_other", distance=(1.8, 4.5), reps=(2, 5),
                        offset=(0.3, 1.1))
    hz = clip.uniform(1.5, 2.5)
    lag = clip.offset_s
    nominal = 0.4 + 0.85 + clip.repetitions / hz + lag + 0.8 + 0.4
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.6)
    t = clip.frames(t0 + lag + (1.65 + clip.repetitions / hz) * k + clip.uniform(0.3, 0.7))
    T = len(t)
    s = clip.scale
    poses = _poses(clip, _facing_roots(clip, clip.distance_m), (0.0, np.pi))
    phases = [("rest", 0, t0)]
    for r, pose in enumerate(poses):
        start = t0 + (lag if r else 0.0)
        up1 = start + 0.85 * k
        wave1 = up1 + clip.repetitions / hz * k
        down1 = wave1 + 0.8 * k
        w = window(t, start, up1, wave1, down1)
        height = clip.uniform(0.0, 1.0)
        pos = np.array([0.12 - 0.04 * height, -0.15, 0.26 + 0.18 * height]) * s
        osc = np.sin(2 * np.pi * hz / k * (t - up1)) * window(t, up1 - 0.15 * k, up1 + 0.1 * k,
                                                                wave1 - 0.1 * k, wave1 + 0.1 * k)
        sway = 0.08 * clip.amplitude * s * osc
        base = pose.shoulder("right") + pose.direction(pos)
        wrist = base + pose.direction(np.array([0.0, 1.0, 0.0])) * sway[:, None]
        tilt = sway / (0.25 * s)
        fdir = pose.direction(np.stack([np.full(T, 0.12), tilt, np.ones(T)], -1))
        palm = pose.direction(np.array([1.0, 0.0, -0.1]))
        hand = blend(POSES["flat"], POSES["spread"], clip.uniform(0.2, 1.0))
        pose.set_arm("right", _reach_arc(pose, "right", wrist, w, 0.1),
                     elbow_hint=pose.direction(np.array([0.1, -1.0, -0.8])), fingers_dir=fdir,
                     palm_normal=palm, orient_weight=_lead(w),
                     fingers=blend(POSES["relaxed"], hand, w))
        if r == 0:
            phases += [("raise", start, up1), ("wave", up1, wave1), ("lower", wave1, down1)]
        else:
            phases += [("answer", up1, down1), ("rest", down1, t[-1] + 1e-3)]
    _look_at_partner(poses)
    phases = _ordered(phases)
    clip.extra["wave_hz"] = round(hz * clip.speed, 3)
    return _finish(clip, poses, [], phases)


def _ordered(phases: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Phases sorted by start with overlaps trimmed, so they read in clip order."""
    out = []
    for name, s, e in sorted(phases, key=lambda p: p[1]):
        if out and s < out[-1][2]:
            s = out[-1][2]
        if e > s:
            out.append((name, s, e))
    return out


def _bow_curves(t: np.ndarray, start: float, down: float, hold: float, up: float, depth: float,
                scale: float) -> dict:
    """Hip flexion, spine bend, hips back and head nod of a bow of ``depth`` radians."""
    w = window(t, start, start + down, start + down + hold, start + down + hold + up)
    b = depth * w
    shift = np.zeros((len(t), 3))
    shift[:, 0] = -0.16 * scale * np.sin(b)
    return {"pelvis_pitch": 0.6 * b, "spine_bend": 0.4 * b, "pelvis_shift": shift,
            "head": 0.15 * b, "weight": w}


@_duet("bow_to_each_other", False)
def _bow_to_each_other(rng: np.random.Generator) -> MotionRecord:
    """Both bow from the hips, the follower a moment after the leader."""
    clip = _sample_clip(rng, "bow_to_each_other", distance=(1.4, 2.3), offset=(0.15, 0.8))
    lag = clip.offset_s
    down, hold, up = 0.75, clip.uniform(0.3, 1.0), 0.85
    nominal = 0.4 + lag + down + hold + up + 0.5
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.3, 0.7)
    t = clip.frames(t0 + lag + (down + hold + up) * k + clip.uniform(0.4, 0.8))
    s = clip.scale
    depth = 0.5 * clip.amplitude
    curves = [_bow_curves(t, t0 + (lag if r else 0.0), down * k, hold * k, up * k,
                          depth * clip.uniform(0.85, 1.1), clip.props[r].body_scale)
              for r in range(2)]
    roots = _facing_roots(clip, clip.distance_m)
    poses = [BodyPose(clip.props[r], roots[r], (0.0, np.pi)[r], pelvis_pitch=c["pelvis_pitch"],
                      spine_bend=c["spine_bend"], pelvis_shift=c["pelvis_shift"])
             for r, c in enumerate(curves)]
    for r, pose in enumerate(poses):
        pitch, yaw = pose.look_angles(poses[1 - r].joint("head"))
        w = curves[r]["weight"]
        pose.set_head(pitch * (1 - w) + curves[r]["head"], yaw * (1 - w))
    t1 = t0 + (down + hold + up) * k
    phases = [("rest", 0, t0), ("bow", t0, t0 + down * k), ("hold", t0 + down * k,
              t0 + (down + hold) * k), ("rise", t0 + (down + hold) * k, t1),
              ("answer", t1, t1 + lag), ("rest", t1 + lag, t[-1] + 1e-3)]
    clip.extra["bow_depth_rad"] = round(depth, 4)
    return _finish(clip, poses, [], _ordered(phases))


@_duet("salute_each_other", False)
def _salute_each_other(rng: np.random.Generator) -> MotionRecord:
    """Both stand to attention and salute, fingertips to the brow, the follower answering."""
    clip = _sample_clip(rng, "salute_each_other", distance=(1.5, 3.5), offset=(0.2, 0.9),
                        p_left=0.08)
    lag = clip.offset_s
    hold = clip.uniform(0.8, 1.8)
    nominal = 0.5 + 0.45 + lag + hold + 0.45 + 0.5
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.3, 0.7)
    t = clip.frames(t0 + lag + (0.9 + hold) * k + clip.uniform(0.4, 0.8))
    T = len(t)
    poses = _poses(clip, _facing_roots(clip, clip.distance_m), (0.0, np.pi),
                   spine_bend=[np.full(T, -0.03)] * 2)
    _look_at_partner(poses)
    phases = [("rest", 0, t0)]
    for r, pose in enumerate(poses):
        s = clip.props[r].body_scale
        start = t0 + (lag if r else 0.0)
        up1, down0 = start + 0.45 * k, start + (0.45 + hold) * k
        w = window(t, start, up1, down0, down0 + 0.45 * k)
        # Fingertips at the outer end of the right brow, hand flat, palm down, elbow out.
        brow = pose.joint("head") + np.einsum(
            "tij,j->ti", pose.head_rotation, np.array([0.075, -0.045, 0.025]) * s)
        fdir = pose.direction(unit(np.array([0.3, 0.85, 0.3])))
        palm = pose.direction(np.array([0.25, 0.1, -1.0]))
        tip = hand_points(POSES["flat"], "right", clip.props[r].hand_scale)[12]
        rot = hand_rotation(fdir, palm)
        wrist = brow - rot @ tip
        pose.set_arm("right", _reach_arc(pose, "right", wrist, w, 0.12),
                     elbow_hint=pose.direction(np.array([0.35, -1.0, -0.1])), fingers_dir=fdir,
                     palm_normal=palm, orient_weight=_lead(w),
                     fingers=blend(POSES["relaxed"], POSES["flat"], w))
        if r == 0:
            phases += [("salute", start, up1), ("hold", up1, down0)]
        else:
            phases += [("answer", start, down0), ("lower", down0, down0 + 0.45 * k),
                       ("rest", down0 + 0.45 * k, t[-1] + 1e-3)]
    return _finish(clip, poses, [], _ordered(phases))


@_duet("applaud_partner", False)
def _applaud_partner(rng: np.random.Generator) -> MotionRecord:
    """The leader applauds the follower, who answers with a small bow, hand on the chest."""
    clip = _sample_clip(rng, "applaud_partner", distance=(1.4, 3.0), reps=(4, 10),
                        offset=(0.3, 1.0))
    hz = clip.uniform(2.2, 3.6)
    lag = clip.offset_s
    nominal = 0.4 + 0.5 + clip.repetitions / hz + 0.5 + 0.5
    k = clip.tempo(max(nominal, 0.4 + lag + 2.6))
    t0 = clip.uniform(0.2, 0.5)
    t_up = t0 + 0.5 * k
    t_stop = t_up + clip.repetitions / hz * k
    t_down = t_stop + 0.5 * k
    f0 = t0 + lag
    down, hold, up = 0.6 * k, clip.uniform(0.3, 0.7) * k, 0.7 * k
    f_end = f0 + down + hold + up
    t = clip.frames(max(t_down, f_end) + clip.uniform(0.3, 0.6))
    T = len(t)
    bow = _bow_curves(t, f0, down, hold, up, clip.uniform(0.15, 0.35),
                      clip.props[1].body_scale)
    roots = _facing_roots(clip, clip.distance_m)
    poses = [BodyPose(clip.props[0], roots[0], 0.0),
             BodyPose(clip.props[1], roots[1], np.pi, pelvis_pitch=bow["pelvis_pitch"],
                      spine_bend=bow["spine_bend"], pelvis_shift=bow["pelvis_shift"])]
    lead = poses[0]
    s = clip.props[0].body_scale
    w = window(t, t0, t_up, t_stop, t_down)
    # Claps: the hands part and meet in front of the chest, the right hand doing more of it.
    open_m = 0.09 * clip.amplitude * s * np.sin(np.pi * hz / k * (t - t_up)) ** 2 * \
        window(t, t_up - 0.1, t_up + 0.05, t_stop - 0.05, t_stop + 0.05)
    centre = lead.to_world(np.array([0.3, 0.0, 0.0]) * s, origin=lead.joint("spine3")) + \
        lead.direction(np.array([0.0, 0.0, clip.uniform(-0.15, 0.05) * s]))
    fdir = lead.direction(unit(np.array([0.6, 0.0, 1.0])))
    for side, sgn, share in (("left", 1.0, 0.4), ("right", -1.0, 0.6)):
        palm = lead.direction(np.array([0.0, -sgn, 0.0]))
        palm_c = centre + lead.direction(np.array([0.0, sgn, 0.0])) * \
            (0.016 * s + share * open_m)[:, None]
        wrist = palm_c + np.einsum("tij,j->ti", hand_rotation(fdir, palm),
                                   -clip.props[0].palm_centre() *
                                   ([1, -1, 1] if side == "left" else 1))
        lead.set_arm(side, _reach_arc(lead, side, wrist, w), fingers_dir=fdir, palm_normal=palm,
                     elbow_hint=lead.direction(np.array([-0.2, 0.6 * sgn, -1.0])),
                     orient_weight=_lead(w), fingers=blend(POSES["relaxed"], POSES["flat"], w))
    # The follower lays the right hand on the chest while bowing.
    foll = poses[1]
    sf = clip.props[1].body_scale
    wf = window(t, f0 - 0.2 * k, f0 + 0.3 * k, f_end - 0.3 * k, f_end)
    chest = foll.joint("spine3") + foll.chest_direction(np.array([0.13, 0.03, 0.02]) * sf)
    fdir_f = foll.chest_direction(unit(np.array([0.0, 1.0, 0.35])))
    palm_f = foll.chest_direction(np.array([-1.0, 0.0, 0.0]))
    wrist_f = foll.wrist_for_palm("right", chest, fdir_f, palm_f)
    foll.set_arm("right", _reach_arc(foll, "right", wrist_f, wf), fingers_dir=fdir_f,
                 palm_normal=palm_f, elbow_hint=foll.direction(np.array([-0.2, -1.0, -1.0])),
                 orient_weight=_lead(wf), fingers=blend(POSES["relaxed"], POSES["flat"], wf))
    pitch, yaw = lead.look_angles(foll.joint("head"))
    lead.set_head(pitch, yaw)
    pitch, yaw = foll.look_angles(lead.joint("head"))
    foll.set_head(pitch * (1 - bow["weight"]) + bow["head"], yaw * (1 - bow["weight"]))
    phases = _ordered([("rest", 0, t0), ("raise", t0, t_up), ("applaud", t_up, t_stop),
                       ("answer", max(t_stop, f0), f_end),
                       ("rest", max(t_down, f_end), t[-1] + 1e-3)])
    clip.extra["clap_hz"] = round(hz * clip.speed, 3)
    return _finish(clip, poses, [], phases)


_BECKON = np.array(POSES["flat"])
_BECKON[1:] = [(0.0, 1.2, 1.35, 0.8)] * 4


@_duet("beckon_and_approach", False)
def _beckon_and_approach(rng: np.random.Generator) -> MotionRecord:
    """The leader beckons with curling fingers, palm up; the follower walks up to them."""
    clip = _sample_clip(rng, "beckon_and_approach", distance=(2.0, 3.4), reps=(2, 5),
                        offset=(0.3, 0.9))
    hz = clip.uniform(1.3, 2.2)
    lag = clip.offset_s
    end_d = clip.uniform(0.85, 1.2) * clip.scale
    walk = (clip.distance_m - end_d) / clip.uniform(0.8, 1.15) + 0.6
    nominal = 0.3 + 0.5 + max(clip.repetitions / hz, lag + 0.3) + walk + 0.5
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.5)
    t_up = t0 + 0.5 * k
    t_stop = t_up + clip.repetitions / hz * k
    t_down = t_stop + 0.5 * k
    w0 = t_up + lag
    w1 = w0 + walk * k
    t = clip.frames(max(w1, t_down) + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.props[0].body_scale
    roots = _facing_roots(clip, clip.distance_m)
    roots[1][:, 0] -= (clip.distance_m - end_d) * travel(t, w0, w1, 0.6 * k)
    poses = _poses(clip, roots, (0.0, np.pi))
    lead = poses[0]
    w = window(t, t0, t_up, t_stop, t_down)
    index_only = bool(clip.rng.random() < 0.35)
    curl_pose = _BECKON.copy()
    if index_only:
        curl_pose[2:] = POSES["fist"][2:]
    open_pose = curl_pose.copy()
    open_pose[1] = POSES["flat"][1]
    if not index_only:
        open_pose[2:] = POSES["flat"][2:]
    curl = 0.5 - 0.5 * np.cos(2 * np.pi * hz / k * (t - t_up))
    curl *= window(t, t_up - 0.05, t_up + 0.05, t_stop - 0.05, t_stop)
    wrist = lead.shoulder("right") + lead.direction(np.array([0.3, 0.05, -0.26]) * s)
    wrist = wrist + lead.direction(np.array([-0.03, 0.0, 0.02]) * s) * curl[:, None]
    fdir = lead.direction(unit(np.array([1.0, 0.1, 0.25])))
    palm = lead.direction(np.array([-0.1, 0.2, 1.0]))
    lead.set_arm("right", _reach_arc(lead, "right", wrist, w), fingers_dir=fdir, palm_normal=palm,
                 elbow_hint=lead.direction(np.array([-0.3, -0.3, -1.0])), orient_weight=_lead(w),
                 fingers=blend(POSES["relaxed"], blend(open_pose, curl_pose, curl), w))
    _look_at_partner(poses)
    phases = _ordered([("rest", 0, t0), ("raise", t0, t_up), ("beckon", t_up, t_stop),
                       ("approach", max(w0, t_stop), w1), ("rest", max(w1, t_down), t[-1] + 1e-3)])
    clip.extra.update(end_distance_m=round(end_d, 4), index_only=index_only)
    return _finish(clip, poses, [], phases)


@_duet("point_and_look", False)
def _point_and_look(rng: np.random.Generator) -> MotionRecord:
    """The leader points at something off to the side; the follower turns to look at it."""
    clip = _sample_clip(rng, "point_and_look", distance=(1.2, 2.5), offset=(0.3, 0.9))
    lag = clip.offset_s
    hold = clip.uniform(1.0, 2.0)
    nominal = 0.4 + 0.75 + lag + hold + 0.8 + 0.4
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.6)
    t_up = t0 + 0.75 * k
    t_hold = t_up + hold * k
    t_down = t_hold + 0.8 * k
    f0, f1 = t0 + lag, t0 + lag + 0.7 * k
    t = clip.frames(t_down + 0.3 * k + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.scale
    d = clip.distance_m
    # The target: somewhere on the leader's right, a few metres away.
    azim = -clip.uniform(0.35, 1.6)
    far = clip.uniform(2.5, 6.0)
    target = np.array([-d / 2 + far * np.cos(azim), far * np.sin(azim), clip.uniform(0.2, 2.6)])
    # The follower turns its body only for what head and chest cannot cover.
    to_target = np.arctan2(target[1], target[0] - d / 2)
    need = np.angle(np.exp(1j * (to_target - np.pi)))
    turn = np.sign(need) * max(abs(need) - 1.4, 0.0)
    look_w = window(t, f0, f1, t_hold + 0.2 * k, t_down + 0.3 * k)
    yaw_f = np.pi + turn * look_w
    twist_l = 0.35 * azim * window(t, t0, t_up, t_hold, t_down)
    twist_f = np.clip(need - turn, -0.4, 0.4) * 0.5 * look_w
    roots = _facing_roots(clip, d)
    poses = _poses(clip, roots, (0.0, yaw_f), spine_twist=[twist_l, twist_f])
    lead, foll = poses
    w = window(t, t0, t_up, t_hold, t_down)
    sh = lead.shoulder("right")
    aim = unit(target - sh)
    wrist = sh + aim * (0.96 * clip.props[0].arm_m)
    palm = unit(np.cross(aim, lead.direction(np.array([0.0, 0.0, 1.0]))) * -1 +
                np.array([0.0, 0.0, -1.0]))
    lead.set_arm("right", _reach_arc(lead, "right", wrist, w, 0.08), fingers_dir=aim,
                 palm_normal=palm, elbow_hint=lead.direction(np.array([0.0, -0.5, -1.0])),
                 orient_weight=_lead(w), fingers=blend(POSES["relaxed"], POSES["point"], w))
    for pose, gaze_w in ((lead, ramp(t, t0 - 0.1, t0 + 0.4 * k) * (1 - ramp(t, t_hold, t_down))),
                         (foll, look_w)):
        other = foll if pose is lead else lead
        p_part, y_part = pose.look_angles(other.joint("head"))
        p_t, y_t = pose.look_angles(np.broadcast_to(target, (T, 3)))
        pose.set_head(mix(p_part, p_t, gaze_w), mix(y_part, y_t, gaze_w))
    phases = _ordered([("rest", 0, t0), ("point", t0, t_up), ("look", f0, t_hold),
                       ("lower", t_hold, t_down), ("rest", t_down, t[-1] + 1e-3)])
    clip.extra["target_m"] = [round(float(v), 3) for v in target]
    return _finish(clip, poses, [], phases)


# --------------------------------------------------------------------------- pushing


def _push(clip: Clip, shove: bool) -> MotionRecord:
    """The leader steps in and pushes the follower away with both palms (on the shoulders;
    a shove: on the chest, short and hard); the follower is driven back and recovers."""
    lag = 0.0
    contact = clip.uniform(0.15, 0.25) if shove else clip.uniform(0.35, 0.6)
    recoil = clip.uniform(0.9, 1.2) if shove else clip.uniform(1.0, 1.4)
    nominal = 0.3 + 0.8 + contact + max(recoil, 0.9) + 0.7 + 0.3
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.5)
    t_c0 = t0 + 0.8 * k
    t_c1 = t_c0 + contact * k
    t_rec1 = t_c0 + recoil * k
    t_back = t_c1 + 0.3 * k
    t_low = t_back + 0.6 * k
    t_end = max(t_low, t_rec1 + 0.7 * k)
    t = clip.frames(t_end + clip.uniform(0.3, 0.6))
    T = len(t)
    sl, sf = clip.props[0].body_scale, clip.props[1].body_scale
    step_in = clip.uniform(0.25, 0.45) * sl
    disp = (clip.uniform(0.4, 0.55) if shove else clip.uniform(0.25, 0.4)) * clip.amplitude * sf
    # Where the palms land on the follower (heading frame of the follower, from its joints).
    parts = ("l_collar", "r_collar") if shove else ("l_shoulder", "r_shoulder")
    drop = 0.02 * sf if shove else 0.0
    # The leader stands, at first contact, with the arms bent to about 70 % of their reach.
    sh_f = np.array([0.0, 0.18 * sf, 1.408 * sf - drop])
    if shove:
        sh_f[1] = 0.07 * sf
    x_f0 = 0.0
    target_x = x_f0 - 0.045 * sf
    reach0 = clip.uniform(0.62, 0.72) if shove else clip.uniform(0.7, 0.78)
    dz = sh_f[2] - 1.408 * sl
    x_lc = target_x - np.sqrt(max((reach0 * clip.props[0].arm_m) ** 2 - dz ** 2, 0.04))
    x_l0 = x_lc - step_in
    clip.distance_m = float(x_f0 - x_l0)
    root_l = np.zeros((T, 2))
    root_l[:, 0] = x_l0 + step_in * travel(t, t0, t_c1, 0.3 * k)
    root_f = np.zeros((T, 2))
    root_f[:, 0] = x_f0 + disp * travel(t, t_c0, t_rec1, 0.35 * recoil * k)
    hit = window(t, t_c0 - 0.15 * k, t_c0, t_c1, t_back)
    lean_f = -(0.22 if shove else 0.14) * clip.amplitude * window(
        t, t_c0, t_c0 + 0.2 * k, t_rec1 - 0.2 * k, t_rec1 + 0.5 * k)
    shift_l = np.zeros((T, 3))
    shift_l[:, 0] = 0.05 * sl * window(t, t_c0 - 0.2 * k, t_c1, t_c1, t_back + 0.3 * k)
    poses = [BodyPose(clip.props[0], root_l, 0.0, pelvis_shift=shift_l,
                      spine_bend=0.16 * window(t, t0 + 0.3 * k, t_c1, t_c1, t_low)),
             BodyPose(clip.props[1], root_f, np.pi, spine_bend=lean_f,
                      feet={"first_foot": "left"})]
    lead, foll = poses
    w = window(t, t0, t_c0 - 0.1 * k, t_back, t_low)
    designs = []
    for side, part_joint in zip(("right", "left"), parts):
        # The follower's left shoulder faces the leader's right hand.
        # Palm centre 3.5 cm in front of the joint and a little below it, so the knuckles of
        # the palm sit right over it (joints are bone centres, under skin and muscle).
        spot = foll.joint(part_joint) + foll.direction(np.array([0.035 * sf, 0.0,
                                                                 -drop - 0.015 * sf]))
        # Fingers up and tipped forward, the heel of the palm leading: a wrist bent back
        # as far as a human's goes (the forearm is level at shoulder height).
        palm = unit(np.array([1.0, 0.0, -0.5]))
        sgn = 1.0 if side == "left" else -1.0
        fdir = unit(np.array([0.5, -0.2 * sgn, 1.0]))
        wrist = spot + _palm_to_wrist(clip.props[0], side, fdir, palm)
        ready = wrist + np.array([-0.12, 0.0, -0.03]) * sl
        target = mix(ready, wrist, hit)
        lead.set_arm(side, _reach_arc(lead, side, target, w), fingers_dir=fdir, palm_normal=palm,
                     elbow_hint=lead.direction(np.array([-0.3, 0.6 * sgn, -1.0])),
                     orient_weight=_lead(w),
                     fingers=blend(POSES["relaxed"], blend(POSES["flat"], POSES["spread"], 0.3), w))
        part = ("torso" if shove else
                {"l_shoulder": "left_shoulder", "r_shoulder": "right_shoulder"}[part_joint])
        designs.append(_Design(0, f"{side}_palm", 1, part, t_c0 - 0.15 * k, t_back))
    # The follower's arms fly up a little as it is driven back.
    flail = window(t, t_c0, t_c0 + 0.2 * k, t_c0 + 0.5 * k, t_rec1 + 0.3 * k) * clip.amplitude
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        up = foll.rest_wrist(side) + foll.direction(np.array([0.2, 0.12 * sgn, 0.22]) * sf) * \
            flail[:, None]
        foll.set_arm(side, up, fingers=blend(POSES["relaxed"], POSES["spread"], 0.6 * flail))
    pitch, yaw = lead.look_angles(foll.joint("head"))
    lead.set_head(pitch, yaw)
    pitch, yaw = foll.look_angles(lead.joint("head"))
    foll.set_head(pitch - 0.25 * window(t, t_c0, t_c0 + 0.12 * k, t_c0 + 0.2 * k, t_c0 + 0.6 * k),
                  yaw)
    phases = _ordered([("rest", 0, t0), ("approach", t0, t_c0), ("push", t_c0, t_c1),
                       ("stagger", t_c1, t_rec1), ("recover", t_rec1, t_end),
                       ("rest", t_end, t[-1] + 1e-3)])
    clip.extra["pushed_back_m"] = round(disp, 4)
    return _finish(clip, poses, designs, phases)


@_duet("push", True)
def _push_type(rng: np.random.Generator) -> MotionRecord:
    """Both palms on the follower's shoulders, a steady push that drives them back a step."""
    return _push(_sample_clip(rng, "push", distance=(0.8, 1.0)), shove=False)


@_duet("shove_away", True)
def _shove_away(rng: np.random.Generator) -> MotionRecord:
    """A short hard two-handed shove to the chest that sends the follower stumbling back."""
    return _push(_sample_clip(rng, "shove_away", distance=(0.8, 1.0), speed=(0.85, 1.25)),
                 shove=True)


@_duet("pull_by_hand", True)
def _pull_by_hand(rng: np.random.Generator) -> MotionRecord:
    """The leader takes the follower's hand and, walking backward, pulls them along."""
    clip = _sample_clip(rng, "pull_by_hand", distance=(0.6, 0.74))
    pull = clip.uniform(0.5, 1.0) * clip.amplitude * clip.scale
    return _build_handshake(clip, approach_s=0.0, pull_m=pull)


# --------------------------------------------------------------------------- pats and taps


def _pats(t: np.ndarray, start: float, hz: float, reps: int, k: float) -> np.ndarray:
    """0 while the hand rests on the body, up to 1 at the top of each of ``reps`` pats; the
    hand dwells on the body for half of every beat."""
    phase = 2 * np.pi * hz / k * (t - start)
    up = np.maximum(np.sin(phase), 0.0) ** 1.5
    return up * ((t >= start) & (t <= start + reps / hz * k))


@_duet("pat_on_shoulder", True)
def _pat_on_shoulder(rng: np.random.Generator) -> MotionRecord:
    """The leader reaches out and pats the follower's shoulder a few times."""
    clip = _sample_clip(rng, "pat_on_shoulder", distance=(0.6, 0.8), reps=(2, 4),
                        offset=(0.2, 0.6))
    hz = clip.uniform(1.6, 2.6)
    nominal = 0.3 + 0.9 + 0.2 + clip.repetitions / hz + 0.3 + 0.8 + 0.4
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.5)
    t_on = t0 + 0.9 * k
    t_p0 = t_on + 0.2 * k
    t_p1 = t_p0 + clip.repetitions / hz * k
    t_off = t_p1 + 0.3 * k
    t_end = t_off + 0.8 * k
    t = clip.frames(t_end + clip.uniform(0.3, 0.6))
    T = len(t)
    sl, sf = clip.props[0].body_scale, clip.props[1].body_scale
    # The palm lies on top of the follower's left shoulder, fingers over it toward the back.
    fdir, palm = unit(np.array([1.0, 0.0, -0.35])), np.array([0.0, 0.0, -1.0])
    spot_rel = np.array([0.0, -0.18 * sf, 1.408 * sf + 0.036 * sf])
    wrist_rel = spot_rel + _palm_to_wrist(clip.props[0], "right", fdir, palm)
    reach = clip.uniform(0.9, 0.96)
    x_l = _root_x_for_reach(clip.props[0], "right", wrist_rel, 1.0, reach)
    clip.distance_m = float(-x_l)
    roots = _facing_roots(clip, clip.distance_m)
    lean = clip.uniform(0.06, 0.14)
    w = window(t, t0, t_on, t_off, t_end)
    poses = _poses(clip, roots, (0.0, np.pi), spine_bend=[lean * w, None],
                   spine_side=[None, -0.05 * window(t, t_on, t_p0, t_p1, t_end)])
    lead, foll = poses
    lift = 0.05 * clip.amplitude * sl * _pats(t, t_p0, hz, clip.repetitions, k)
    hand_pose = blend(POSES["flat"], POSES["cup"], 0.4)
    # Rest the hand as low on the shoulder as the joints allow (bone centres 2.8 cm apart).
    f_on = int(np.clip(round(t_p0 * clip.fps), 0, T - 1))
    hand = _hand_points_world(clip.props[0], "right", fdir, palm, hand_pose)
    near = foll.pos[f_on, [JOINT["l_shoulder"], JOINT["l_collar"], JOINT["neck"],
                           JOINT["head"], JOINT["l_elbow"]]]
    base = foll.joint("l_shoulder")[f_on]
    up = _separating_gap(near, hand + base, np.array([0.0, 0.0, 1.0]), 0.028)
    spot = foll.joint("l_shoulder") + np.array([0.0, 0.0, up])
    wrist = spot + _palm_to_wrist(clip.props[0], "right", fdir, palm)
    wrist = wrist + np.stack([np.zeros(T), np.zeros(T), lift], -1)
    lead.set_arm("right", _reach_arc(lead, "right", wrist, w, 0.1), fingers_dir=fdir,
                 palm_normal=palm, elbow_hint=lead.direction(np.array([-0.2, -0.6, -1.0])),
                 orient_weight=_lead(w), fingers=blend(POSES["relaxed"], hand_pose, w))
    pitch, yaw = lead.look_angles(foll.joint("head"))
    lead.set_head(pitch, yaw)
    # The follower glances at the hand on its shoulder, then back at the leader.
    p_face, y_face = foll.look_angles(lead.joint("head"))
    p_hand, y_hand = foll.look_angles(lead.joint("r_wrist") * 0 + spot + [0.0, 0.0, 0.05])
    glance = 0.6 * window(t, t_on - 0.2, t_p0, t_p0 + 0.3 * k, t_p1)
    foll.set_head(mix(p_face, p_hand, glance), mix(y_face, y_hand, glance))
    phases = [("rest", 0, t0), ("reach", t0, t_on), ("touch", t_on, t_p0), ("pat", t_p0, t_p1),
              ("rest_hand", t_p1, t_off), ("withdraw", t_off, t_end), ("rest", t_end, t[-1] + 1e-3)]
    clip.extra["pat_hz"] = round(hz * clip.speed, 3)
    return _finish(clip, poses, [_Design(0, "right_palm", 1, "left_shoulder", t_on - 0.2,
                                         t_off + 0.2)], phases)


@_duet("tap_on_back", True)
def _tap_on_back(rng: np.random.Generator) -> MotionRecord:
    """The leader, standing behind the follower, taps their upper back; the follower turns
    around to face them."""
    clip = _sample_clip(rng, "tap_on_back", distance=(0.5, 0.65), reps=(1, 3),
                        offset=(0.2, 0.5), layout="behind")
    hz = clip.uniform(2.0, 3.0)
    turn_s = clip.uniform(0.9, 1.3)
    nominal = 0.3 + 0.8 + 0.1 + clip.repetitions / hz + 0.25 + 0.6 + turn_s + 0.4
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.5)
    t_on = t0 + 0.8 * k
    t_p0 = t_on + 0.1 * k
    t_p1 = t_p0 + clip.repetitions / hz * k
    t_off = t_p1 + 0.25 * k
    t_end = t_off + 0.6 * k
    t_turn0 = t_off + clip.offset_s
    t_turn1 = t_turn0 + turn_s * k
    t = clip.frames(max(t_end, t_turn1) + clip.uniform(0.4, 0.7))
    T = len(t)
    sl, sf = clip.props[0].body_scale, clip.props[1].body_scale
    fdir, palm = unit(np.array([0.15, 0.1, 1.0])), np.array([1.0, 0.0, 0.0])
    # The palm on the follower's upper back, just behind its right collar joint.
    spot_rel = np.array([-0.034 * sf, -0.07 * sf, 1.368 * sf - 0.02 * sf])
    wrist_rel = spot_rel + _palm_to_wrist(clip.props[0], "right", fdir, palm)
    reach = clip.uniform(0.88, 0.95)
    x_l = _root_x_for_reach(clip.props[0], "right", wrist_rel, 1.0, reach)
    clip.distance_m = float(-x_l)
    turn_dir = -1.0  # tapped on the right side, the follower turns round to its right
    yaw_f = turn_dir * np.pi * travel(t, t_turn0, t_turn1, 0.4 * turn_s * k)
    twist = turn_dir * 0.5 * window(t, t_turn0 - 0.25 * k, t_turn0 + 0.2 * k,
                                    t_turn0 + 0.3 * k, t_turn1)
    root_l = np.zeros((T, 2))
    root_l[:, 0] = x_l
    root_f = np.zeros((T, 2))
    poses = [BodyPose(clip.props[0], root_l, 0.0,
                      spine_bend=0.08 * window(t, t0, t_on, t_off, t_end)),
             BodyPose(clip.props[1], root_f, yaw_f, spine_twist=twist,
                      feet={"first_foot": "right"})]
    lead, foll = poses
    w = window(t, t0, t_on, t_off, t_end)
    back = 0.05 * clip.amplitude * sl * _pats(t, t_p0, hz, clip.repetitions, k)
    spot = foll.joint("r_collar") + foll.direction(np.array([-0.034, 0.0, -0.02]) * sf)
    wrist = spot + _palm_to_wrist(clip.props[0], "right", fdir, palm)
    wrist[:, 0] -= back
    lead.set_arm("right", _reach_arc(lead, "right", wrist, w, 0.1), fingers_dir=fdir,
                 palm_normal=palm, elbow_hint=lead.direction(np.array([-0.3, -0.5, -1.0])),
                 orient_weight=_lead(w),
                 fingers=blend(POSES["relaxed"], blend(POSES["flat"], POSES["relaxed"], 0.4), w))
    pitch, yaw = lead.look_angles(foll.joint("head"))
    lead.set_head(pitch, yaw)
    # The follower first looks back over its right shoulder, then faces the leader.
    p_face, y_face = foll.look_angles(lead.joint("head"))
    look = window(t, t_p0, t_off, t[-1] + 1, t[-1] + 2)
    foll.set_head(p_face * look, y_face * look)
    phases = _ordered([("rest", 0, t0), ("reach", t0, t_on), ("tap", t_on, t_p1 + 0.1 * k),
                       ("withdraw", t_p1 + 0.1 * k, t_end), ("turn", t_turn0, t_turn1),
                       ("face", max(t_turn1, t_end), t[-1] + 1e-3)])
    clip.extra["tap_hz"] = round(hz * clip.speed, 3)
    return _finish(clip, poses, [_Design(0, "right_hand", 1, "torso", t_on - 0.2, t_off + 0.1)],
                   phases)


# --------------------------------------------------------------------------- sparring


def _guard(pose: BodyPose, side: str, scale: float) -> np.ndarray:
    """Wrist of a fist held up in guard in front of the chin."""
    sgn = 1.0 if side == "left" else -1.0
    return pose.shoulder(side) + pose.direction(np.array([0.2, -0.06 * sgn, 0.02]) * scale)


@_duet("punch_and_block", True)
def _punch_and_block(rng: np.random.Generator) -> MotionRecord:
    """The leader throws straight punches at the follower's head; the follower blocks each
    with the forearm raised in front of the face."""
    clip = _sample_clip(rng, "punch_and_block", distance=(0.8, 1.0), reps=(1, 3),
                        p_left=0.2)
    gap = clip.uniform(0.35, 0.6)
    nominal = 0.3 + 0.7 + clip.repetitions * (0.75 + gap) + 0.7 + 0.3
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.4)
    t_guard = t0 + 0.7 * k
    hits = [t_guard + 0.15 * k + i * (0.75 + gap) * k + 0.25 * k for i in range(clip.repetitions)]
    t_last = hits[-1] + 0.5 * k
    t_end = t_last + 0.7 * k
    t = clip.frames(t_end + clip.uniform(0.3, 0.5))
    T = len(t)
    sl, sf = clip.props[0].body_scale, clip.props[1].body_scale
    crouch = np.zeros((T, 3))
    guard_w = window(t, t0, t_guard, t_last, t_end)
    crouch[:, 2] = -0.03 * guard_w
    # The follower (built first, at the origin) leans away a little at every impact.
    impact = sum(window(t, h, h + 0.1 * k, h + 0.15 * k, h + 0.45 * k) for h in hits)
    foll = BodyPose(clip.props[1], np.zeros((T, 2)), np.pi, pelvis_shift=crouch,
                    spine_bend=0.06 * guard_w - 0.08 * impact * clip.amplitude)
    # Block: the left forearm raised across the face, wrist in front of the brow.
    block_w = sum(window(t, h - 0.3 * k, h - 0.08 * k, h + 0.2 * k, h + 0.45 * k) for h in hits)
    block_wrist = foll.joint("head") + foll.direction(np.array([0.21, 0.07, 0.03]) * sf)
    guard_l = _guard(foll, "left", sf)
    wrist_f = mix(_reach_arc(foll, "left", guard_l, guard_w), block_wrist, block_w)
    fdir_f = foll.direction(unit(np.array([0.15, -0.45, 1.0])))
    palm_f = foll.direction(np.array([-1.0, 0.0, 0.0]))
    foll.set_arm("left", wrist_f, elbow_hint=foll.direction(np.array([0.0, 1.0, -1.0])),
                 fingers_dir=fdir_f, palm_normal=palm_f, orient_weight=_lead(guard_w),
                 fingers=blend(POSES["relaxed"], POSES["fist"], guard_w))
    foll.set_arm("right", _reach_arc(foll, "right", _guard(foll, "right", sf), guard_w),
                 elbow_hint=foll.direction(np.array([0.0, -1.0, -1.0])),
                 fingers_dir=fdir_f * [1, -1, 1],
                 palm_normal=palm_f, orient_weight=_lead(guard_w),
                 fingers=blend(POSES["relaxed"], POSES["fist"], guard_w))
    # The punch lands on the blocking forearm just below the wrist: the knuckles 3.5 cm in
    # front of it. The leader stands where that is 95 % of the arm's reach.
    f_hit = int(np.clip(round(hits[0] * clip.fps), 0, T - 1))
    aim_pt = foll.joint("l_wrist")[f_hit] + \
        foll.direction(np.array([0.032, 0.0, -0.025]) * sf)[f_hit]
    sh_rel = np.array([0.0, -0.18 * sl, 1.408 * sl - 0.03])
    fdir_l = unit(aim_pt - np.array([aim_pt[0] - 0.4, sh_rel[1], sh_rel[2]]))
    palm_l = unit(np.array([0.0, 0.0, -1.0]) - fdir_l[2] * fdir_l)
    off = _fist_offset(clip.props[0], "right", fdir_l, palm_l)
    x_l = _root_x_for_reach(clip.props[0], "right", aim_pt + off - [0, 0, -0.03], 1.0,
                            clip.uniform(0.94, 0.97))
    root_l = np.zeros((T, 2))
    root_l[:, 0] = x_l
    twist = np.zeros(T)
    for h in hits:  # the punch turns the shoulders into it
        twist += 0.25 * window(t, h - 0.25 * k, h, h + 0.15 * k, h + 0.5 * k)
    lead = BodyPose(clip.props[0], root_l, 0.0, pelvis_shift=crouch, spine_twist=twist,
                    spine_bend=0.06 * guard_w)
    punch_w = sum(window(t, h - 0.25 * k, h, h + 0.15 * k, h + 0.5 * k) for h in hits)
    strike = foll.joint("l_wrist") + foll.direction(np.array([0.032, 0.0, -0.025]) * sf) + off
    wrist_l = mix(_reach_arc(lead, "right", _guard(lead, "right", sl), guard_w), strike, punch_w)
    guard_fdir = lead.direction(unit(np.array([0.3, 0.2, 1.0])))
    guard_palm = lead.direction(np.array([-0.3, 1.0, 0.0]))
    lead.set_arm("right", wrist_l, elbow_hint=lead.direction(np.array([-0.2, -0.5, -1.0])),
                 fingers_dir=mix_dirs(guard_fdir, fdir_l, punch_w),
                 palm_normal=mix_dirs(guard_palm, palm_l, punch_w), orient_weight=_lead(guard_w),
                 fingers=blend(POSES["relaxed"], POSES["fist"], guard_w))
    lead.set_arm("left", _reach_arc(lead, "left", _guard(lead, "left", sl), guard_w),
                 elbow_hint=lead.direction(np.array([0.0, 1.0, -1.0])),
                 fingers_dir=guard_fdir * [1, -1, 1], palm_normal=guard_palm * [1, -1, 1],
                 orient_weight=_lead(guard_w),
                 fingers=blend(POSES["relaxed"], POSES["fist"], guard_w))
    poses = [lead, foll]
    _look_at_partner(poses, extra_pitch=(0.1, 0.1))
    clip.distance_m = float(-x_l)
    phases = [("rest", 0, t0), ("guard", t0, t_guard)]
    for i, h in enumerate(hits):
        phases += [("punch", h - 0.25 * k, h + 0.15 * k), ("retract", h + 0.15 * k, h + 0.5 * k)]
    phases += [("lower", t_last, t_end), ("rest", t_end, t[-1] + 1e-3)]
    designs = [_Design(0, "right_hand", 1, "left_forearm", h - 0.15 * k, h + 0.25 * k)
               for h in hits]
    return _finish(clip, poses, designs, _ordered(phases))


# --------------------------------------------------------------------------- handing over


@_duet("pass_object", True)
def _pass_object(rng: np.random.Generator) -> MotionRecord:
    """The leader holds out an object on an open palm; the follower takes it from above and
    draws it in."""
    clip = _sample_clip(rng, "pass_object", distance=(0.7, 0.9), offset=(0.2, 0.7))
    lag = clip.offset_s
    hold = clip.uniform(0.2, 0.5)
    nominal = 0.3 + 0.9 + lag + 0.3 + hold + 0.25 + 0.9 + 0.4
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.5)
    t_out = t0 + 0.9 * k
    f0, f1 = t0 + lag, t0 + lag + 0.9 * k
    t_grip0 = max(t_out, f1)
    t_grip1 = t_grip0 + 0.3 * k
    t_rel0 = t_grip1 + hold * k
    t_rel1 = t_rel0 + 0.25 * k
    t_back = t_rel1 + 0.9 * k
    t = clip.frames(t_back + clip.uniform(0.3, 0.6))
    T = len(t)
    reach = clip.uniform(0.86, 0.93)
    meet = np.array([0.0, clip.uniform(-0.04, 0.04),
                     _meeting_height(clip, (1.0, 1.12), reach, 0.1)])
    # The giver's palm up under the object, the taker's hand over it, fingers across it.
    give_pose, take_pose = POSES["cup"], blend(POSES["cup"], POSES["grip"], 0.7)
    fdirs = [unit(np.array([1.0, 0.0, 0.15])), unit(np.array([-0.45, 1.0, 0.0]))]
    palms = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])]
    hands = [_hand_points_world(clip.props[r], "right", fdirs[r], palms[r],
                                (give_pose, take_pose)[r]) for r in range(2)]
    up = np.array([0.0, 0.0, 1.0])
    g_min = _separating_gap(hands[0], hands[1], up, 0.022)
    g_max = _separating_gap(hands[0], hands[1], up, 0.042)
    gap = float(np.clip(clip.uniform(0.05, 0.09) * clip.scale, g_min, g_max))
    centres = [meet - [0.0, 0.0, 0.5 * gap], meet + [0.0, 0.0, 0.5 * gap]]
    offs = [centres[r] - meet + _palm_to_wrist(clip.props[r], "right", fdirs[r], palms[r])
            for r in range(2)]
    x_roots = [_root_x_for_reach(clip.props[r], "right", meet + offs[r], 1.0 - 2 * r, reach)
               for r in range(2)]
    meet[0] -= 0.5 * (x_roots[0] + x_roots[1])
    clip.distance_m = float(x_roots[1] - x_roots[0])
    poses = _poses(clip, _facing_roots(clip, clip.distance_m), (0.0, np.pi),
                   spine_bend=[0.06 * window(t, t0, t_out, t_rel1, t_back),
                               0.06 * window(t, f0, f1, t_rel1, t_back)])
    giver, taker = poses
    sl, sf = clip.props[0].body_scale, clip.props[1].body_scale
    # Before and after the hand-over each carries the object in front of the waist.
    carry_l = giver.shoulder("right") + giver.direction(np.array([0.3, 0.08, -0.42]) * sl)
    carry_f = taker.shoulder("right") + taker.direction(np.array([0.28, 0.1, -0.38]) * sf)
    out_l = window(t, t0, t_out, t_rel1, t_back)
    hold_l = 1.0 - ramp(t, t_rel1, t_back)  # the object until let go, then back to rest
    wrist_l = mix(mix(giver.rest_wrist("right"), carry_l, hold_l), meet + offs[0], out_l)
    fingers_l = blend(blend(POSES["relaxed"], give_pose, hold_l), POSES["flat"],
                      window(t, t_rel0, t_rel1, t_back - 0.3 * k, t_back))
    giver.set_arm("right", wrist_l, elbow_hint=giver.direction(np.array([-0.2, -0.4, -1.0])),
                  fingers_dir=fdirs[0], palm_normal=palms[0], orient_weight=hold_l,
                  fingers=fingers_l)
    reach_f = window(t, f0, f1, t_rel1, t_back)
    taken = ramp(t, t_rel1, t_back)
    # The taker's hand comes over the object first, then settles down onto it.
    above = meet + offs[1] + np.array([0.03, 0.0, 0.11]) * sf
    settle = ramp(t, f1 - 0.3 * k, f1)
    target_f = mix(np.broadcast_to(above, (T, 3)), np.broadcast_to(meet + offs[1], (T, 3)), settle)
    wrist_f = mix(_reach_arc(taker, "right", target_f, reach_f, 0.1), carry_f, taken)
    grip = ramp(t, t_grip0, t_grip1)
    fingers_f = blend(blend(POSES["relaxed"], _OPEN_HAND, ramp(t, f0, f1)), take_pose, grip)
    taker.set_arm("right", wrist_f, elbow_hint=taker.direction(np.array([-0.2, -0.5, -1.0])),
                  fingers_dir=fdirs[1], palm_normal=palms[1],
                  orient_weight=np.maximum(_lead(reach_f), taken), fingers=fingers_f)
    # Both watch the object change hands, then look up at each other.
    for r, pose in enumerate(poses):
        p_face, y_face = pose.look_angles(poses[1 - r].joint("head"))
        p_obj, y_obj = pose.look_angles(np.broadcast_to(meet, (T, 3)))
        w_obj = 0.8 * window(t, t0, t_grip0, t_rel1, t_back)
        pose.set_head(mix(p_face, p_obj, w_obj), mix(y_face, y_obj, w_obj))
    phases = _ordered([("hold", 0, t0), ("offer", t0, t_out), ("reach", f0, t_grip0),
                       ("grasp", t_grip0, t_grip1), ("both_hold", t_grip1, t_rel0),
                       ("release", t_rel0, t_rel1), ("retract", t_rel1, t_back),
                       ("rest", t_back, t[-1] + 1e-3)])
    clip.extra["object_gap_m"] = round(gap, 4)
    return _finish(clip, poses, [_Design(0, "right_hand", 1, "right_hand", t_grip0 - 0.1,
                                         t_rel1 + 0.2)], phases)


# --------------------------------------------------------------------------- side by side


def _side_by_side(clip: Clip, raise_up: bool) -> MotionRecord:
    """Leader on the left, follower on the right, both facing +X; the leader's right hand
    takes the follower's left. Then they walk on hand in hand (or swing the joined hands), or
    raise the joined hands high together."""
    lag = clip.offset_s
    walk = (not raise_up) and clip.rng.random() < 0.65
    walk_m = clip.uniform(0.8, 2.2) * clip.scale if walk else 0.0
    walk_s = walk_m / clip.uniform(0.75, 1.05) + 0.8 if walk else 0.0
    hold_s = clip.uniform(0.8, 1.6)
    middle = walk_s if walk else (1.0 + 0.9 + hold_s if raise_up else
                                  clip.repetitions / 0.9 + 0.3)
    release = raise_up or clip.rng.random() < 0.6
    nominal = 0.3 + 0.8 + lag + 0.2 + middle + (0.9 if release else 0.3) + 0.3
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.5)
    t_join = t0 + lag + 0.8 * k
    t_m0 = t_join + 0.2 * k
    t_m1 = t_m0 + middle * k
    t_rel0 = t_m1 + 0.1 * k
    t_rel1 = t_rel0 + 0.8 * k
    t = clip.frames((t_rel1 if release else t_m1 + 0.2) + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.scale
    width = clip.uniform(0.52, 0.64) * s
    clip.distance_m = float(width)
    # Palm to palm, fingers crossed, each hand wrapped round the other (checked clearances).
    normal = np.array([0.0, -1.0, 0.0])
    low = _clasp(clip.props, ("right", "left"), np.array([0.45, 0.0, -1.0]), normal, 70.0, 0.5)
    high = _clasp(clip.props, ("right", "left"), np.array([0.1, 0.0, 1.0]), normal, 70.0, 0.5)
    hold = low[3]
    roots = [np.zeros((T, 2)), np.zeros((T, 2))]
    roots[0][:, 1], roots[1][:, 1] = 0.5 * width, -0.5 * width
    if walk:
        lag_walk = clip.uniform(0.0, 0.12)
        roots[0][:, 0] = walk_m * travel(t, t_m0, t_m1 - lag_walk, 0.6 * k)
        roots[1][:, 0] = walk_m * travel(t, t_m0 + lag_walk, t_m1, 0.6 * k)
    poses = _poses(clip, roots, (0.0, 0.0), feet=[{"first_foot": "left"}, {"first_foot": "left"}])
    centre = 0.5 * (roots[0] + roots[1])
    h_low = np.stack([centre[:, 0] + 0.06 * s, centre[:, 1], np.full(T, 0.93 * s)], -1)
    if not walk and not raise_up:  # swing the joined hands forward and back
        h_low[:, 0] += 0.1 * clip.amplitude * s * np.sin(2 * np.pi * 0.9 / k * (t - t_m0)) * \
            window(t, t_m0, t_m0 + 0.4 * k, t_m1 - 0.4 * k, t_m1)
    up_w = window(t, t_m0, t_m0 + 1.0 * k, t_m1 - 0.9 * k, t_m1) if raise_up else np.zeros(T)
    # Raised as high as the shorter reach allows (92 % of the arm, wrist below the palm).
    z_top = min(_SHOULDER_OFFSET[2] * p.body_scale + np.sqrt(
        max((0.92 * p.arm_m) ** 2 - (0.5 * width - 0.18 * p.body_scale) ** 2 - (0.1 * s) ** 2,
            0.01)) for p in clip.props) + 0.05 * s
    h_high = np.stack([centre[:, 0] + 0.1 * s, centre[:, 1], np.full(T, z_top)], -1)
    for r, (pose, side) in enumerate(zip(poses, ("right", "left"))):
        start = t0 + (lag if r else 0.0)
        join = window(t, start, start + 0.8 * k, t_rel0 + 0.2 * k, t_rel1) if release else \
            ramp(t, start, start + 0.8 * k)
        # Hands arrive (and leave) a few centimetres apart across the palms, then close in:
        # the fingers open before they part.
        # The fingers take their shape while the hands are still apart; the hands then close
        # straight across the palms (clear all the way in), and part the same way.
        close = window(t, t_join - 0.25 * k, t_join, t_rel0, t_rel0 + 0.25 * k) \
            if release else ramp(t, t_join - 0.25 * k, t_join)
        curl = window(t, t_join - 0.5 * k, t_join - 0.25 * k, t_rel0 + 0.25 * k,
                      t_rel0 + 0.45 * k) if release else \
            ramp(t, t_join - 0.5 * k, t_join - 0.25 * k)
        apart = (normal if r else -normal) * (0.06 * s) * (1.0 - close)[:, None]
        # Raised in a forward arc, arms long, so the inner elbows stay apart.
        arc = pose.direction(np.array([0.3 * s, 0.0, 0.0])) * (4 * up_w * (1 - up_w))[:, None]
        target = mix(h_low + low[0][r], h_high + high[0][r], up_w) + apart + arc
        fdir = mix_dirs(low[1][r], high[1][r], up_w)
        sgn = 1.0 if side == "left" else -1.0
        # Inner arms: elbows back (low) or forward (raised), never toward the partner.
        hint = mix_dirs(pose.direction(np.array([-0.8, -0.1 * sgn, -1.0])),
                        pose.direction(np.array([0.8, -0.1 * sgn, -0.6])), up_w)
        pose.set_arm(side, _reach_arc(pose, side, target, join, 0.03), elbow_hint=hint,
                     fingers_dir=fdir, palm_normal=low[2][r], orient_weight=_lead(join),
                     fingers=blend(POSES["relaxed"], blend(POSES["flat"], hold, curl), join))
        ahead = pose.to_world(np.array([4.0, 0.0, 1.6 * s]))
        p_a, y_a = pose.look_angles(ahead)
        glance = window(t, t_join - 0.3 * k, t_join, t_join + 0.3 * k, t_m0 + 0.6 * k)
        p_o, y_o = pose.look_angles(poses[1 - r].joint("head") if r else
                                    poses[1].joint("head"))
        pose.set_head(mix(p_a, p_o, glance) - 0.15 * up_w, mix(y_a, y_o, glance))
    phases = [("rest", 0, t0), ("join", t0, t_m0)]
    phases.append(("raise", t_m0, t_m1) if raise_up else
                  ("walk" if walk else "swing", t_m0, t_m1))
    if release:
        phases += [("release", t_rel0, t_rel1), ("rest", t_rel1, t[-1] + 1e-3)]
    else:
        phases.append(("hold", t_m1, t[-1] + 1e-3))
    clip.extra.update(walk_m=round(walk_m, 4), released=bool(release))
    return _finish(clip, poses, [_Design(0, "right_hand", 1, "left_hand", t_join - 0.3,
                                         t_rel0 + 0.3 if release else t[-1] + 1.0)],
                   _ordered(phases))


@_duet("hold_hands_side_by_side", True)
def _hold_hands_side_by_side(rng: np.random.Generator) -> MotionRecord:
    """Side by side, the two take hands and walk on together or swing the joined hands."""
    clip = _sample_clip(rng, "hold_hands_side_by_side", distance=(0.45, 0.55), reps=(2, 4),
                        offset=(0.05, 0.4), layout="side_by_side")
    return _side_by_side(clip, raise_up=False)


@_duet("raise_joined_hands", True)
def _raise_joined_hands(rng: np.random.Generator) -> MotionRecord:
    """Side by side, the two join hands and raise them high together."""
    clip = _sample_clip(rng, "raise_joined_hands", distance=(0.45, 0.55), offset=(0.05, 0.3),
                        layout="side_by_side")
    return _side_by_side(clip, raise_up=True)


# --------------------------------------------------------------------------- embracing


@_duet("hug", True)
def _hug(rng: np.random.Generator) -> MotionRecord:
    """The two step together and embrace, one arm over the partner's shoulder and one under
    the partner's arm, hands on each other's back; they hold, then let go and step back."""
    clip = _sample_clip(rng, "hug", distance=(0.95, 1.3), offset=(0.0, 0.35), reps=(1, 1))
    lag = clip.offset_s
    approach = clip.uniform(1.0, 1.4)
    hold = clip.uniform(0.9, 2.0)
    nominal = 0.3 + approach + lag + 0.5 + hold + 0.9 + 0.9 + 0.3
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.4)
    t_close = t0 + approach * k
    f_close = t_close + lag
    t_wrap0 = t0 + 0.55 * approach * k
    t_wrap1 = f_close + 0.45 * k
    t_rel0 = t_wrap1 + hold * k
    t_rel1 = t_rel0 + 0.9 * k
    t_back1 = t_rel1 + 0.9 * k
    t = clip.frames(t_back1 + clip.uniform(0.3, 0.5))
    T = len(t)
    s = clip.scale
    d0, d1 = clip.distance_m, clip.uniform(0.31, 0.37) * s
    back_m = clip.uniform(0.1, 0.3) * s
    side = clip.uniform(0.04, 0.08) * s  # each stands a little to its own left: heads pass
    share = clip.uniform(0.4, 0.75)  # how much of the way the leader comes
    closing = [travel(t, t0, t_close, 0.4 * k), travel(t, t0 + lag, f_close, 0.4 * k)]
    leave = travel(t, t_rel0 + 0.2 * k, t_back1, 0.35 * k)
    x_l = -d0 / 2 + (d0 - d1) * share * closing[0] - back_m * leave
    x_f = d0 / 2 - (d0 - d1) * (1 - share) * closing[1] + back_m * leave
    roots = [np.stack([x_l, side * closing[0]], -1), np.stack([x_f, -side * closing[1]], -1)]
    wrap = [window(t, t_wrap0, t_wrap1, t_rel0, t_rel1),
            window(t, t_wrap0 + lag, t_wrap1, t_rel0, t_rel1)]
    t_mid = max(f_close, t_wrap1 - 0.3 * k)
    t_rel_mid = t_rel0 + 0.4 * k
    sway = 0.06 * clip.amplitude * np.sin(2 * np.pi * 0.5 / k * (t - t_wrap1)) * \
        window(t, t_wrap1, t_wrap1 + 0.4 * k, t_rel0 - 0.4 * k, t_rel0)
    poses = _poses(clip, roots, (0.0, np.pi),
                   spine_bend=[0.12 * wrap[0], 0.12 * wrap[1]],
                   spine_side=[sway, -sway], feet=[{"first_foot": "left"}] * 2)
    designs = []
    opened = [window(t, t0 + 0.2 * approach * k, t_wrap0 + 0.3 * k, t_rel0, t_rel1),
              window(t, t0 + lag + 0.2 * approach * k, t_wrap0 + lag + 0.3 * k, t_rel0, t_rel1)]
    for r, pose in enumerate(poses):
        other = poses[1 - r]
        so = clip.props[1 - r].body_scale
        # High arm: the right, over the partner's left shoulder, palm on the upper back.
        # Low arm: the left, under the partner's right arm, palm on the middle of the back.
        high = other.joint("l_collar") + other.direction(np.array([-0.036, -0.03, -0.035]) * so)
        low = other.joint("spine3") + other.direction(np.array([-0.038, -0.02, -0.03]) * so)
        palm = other.direction(np.array([1.0, 0.0, 0.0]))
        for hand_side, spot, fingers_h, hint_h, out in (
                ("right", high, np.array([0.0, -0.6, -1.0]), np.array([-0.2, -1.0, 0.4]), 1.0),
                ("left", low, np.array([0.0, 1.0, -0.25]), np.array([-0.2, 1.0, -0.6]), -1.0)):
            fdir = other.direction(unit(fingers_h))
            # Back the hand off the partner's trunk until its joints keep 2.5 cm clearance
            # all through the embrace (the partner bends and sways under it).
            cup = blend(POSES["flat"], POSES["cup"], 0.5)
            fs = np.minimum(np.linspace(t_mid * clip.fps, t_rel_mid * clip.fps, 8).astype(int),
                            T - 1)
            c = clip.props[r].palm_centre() * ([1, -1, 1] if hand_side == "left" else 1)
            hand_pts = np.matmul(_standard_hand(cup, hand_side) * clip.props[r].hand_scale - c,
                                 hand_rotation(fdir[fs], palm[fs]).transpose(0, 2, 1))
            backoff = _separating_gap(other.pos[fs, :18], hand_pts + spot[fs, None], -palm[fs],
                                      0.025)
            spot = spot - palm * backoff
            wrist = spot - np.einsum("tij,j->ti", hand_rotation(fdir, palm),
                                     clip.props[r].palm_centre() *
                                     ([1, -1, 1] if hand_side == "left" else 1))
            sgn = 1.0 if hand_side == "left" else -1.0
            open_pos = pose.shoulder(hand_side) + pose.direction(
                np.array([0.22, 0.32 * sgn, -0.12 if hand_side == "left" else 0.02]) *
                clip.props[r].body_scale)
            # Round the partner's side, then in onto the back (and the same way out).
            around = wrist + other.direction(np.array([0.02, 0.24 * out, 0.04]) * so)
            w_round = window(t, t_wrap0 + (lag if r else 0.0), t_mid, t_rel_mid, t_rel1)
            w_settle = window(t, t_mid, t_wrap1, t_rel0, t_rel_mid)
            # Off the back first, then sideways (curled fingers must not sweep the spine).
            lift_off = -palm * (0.05 * so * smoothstep(3.0 * (1.0 - w_settle)))[:, None]
            target = mix(mix(mix(pose.rest_wrist(hand_side), open_pos, opened[r]), around,
                             w_round), wrist, w_settle) + lift_off * w_round[:, None]
            pose.set_arm(hand_side, target, elbow_hint=pose.direction(hint_h * [1, 1, 1]),
                         fingers_dir=fdir, palm_normal=palm, orient_weight=_lead(wrap[r]),
                         fingers=blend(POSES["relaxed"], blend(POSES["flat"], POSES["cup"], 0.5),
                                       np.maximum(wrap[r], 0.5 * opened[r])))
            designs.append(_Design(r, f"{hand_side}_hand", 1 - r, "torso", t_wrap1 - 0.3,
                                   t_rel0 + 0.2))
        # Heads turn aside past the partner's, toward its own left.
        p_face, y_face = pose.look_angles(other.joint("head"))
        pose.set_head(mix(p_face, np.full(T, 0.15), wrap[r]),
                      mix(y_face, np.full(T, 0.45), wrap[r]))
    phases = _ordered([("rest", 0, t0), ("approach", t0, t_wrap0), ("embrace", t_wrap0, t_wrap1),
                       ("hold", t_wrap1, t_rel0), ("release", t_rel0, t_rel1),
                       ("step_back", t_rel1, t_back1), ("rest", t_back1, t[-1] + 1e-3)])
    clip.distance_m = float(d0)
    clip.extra["embrace_distance_m"] = round(float(d1), 4)
    return _finish(clip, poses, designs, phases)


# --------------------------------------------------------------------------- dancing


def _rotate_xy(points: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Points (T, k) (k = 2 or 3) turned by ``angle`` (T,) about the vertical through the
    origin."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.array(points, dtype=np.float64, copy=True)
    out[:, 0] = c * points[:, 0] - s * points[:, 1]
    out[:, 1] = s * points[:, 0] + c * points[:, 1]
    return out


@_duet("dance_holding_hands", True)
def _dance_holding_hands(rng: np.random.Generator) -> MotionRecord:
    """Facing each other, both hands joined, the two sway from side to side in step or turn
    round together."""
    clip = _sample_clip(rng, "dance_holding_hands", distance=(0.6, 0.8), reps=(2, 4),
                        offset=(0.0, 0.3))
    lag = clip.offset_s
    circle = bool(clip.rng.random() < 0.45)
    hz = clip.uniform(0.45, 0.7)
    dance_s = clip.repetitions / hz if not circle else clip.uniform(2.0, 3.5)
    nominal = 0.3 + 0.8 + lag + 0.2 + dance_s + 0.8 + 0.3
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.4)
    t_join = t0 + lag + 0.8 * k
    t_d0 = t_join + 0.2 * k
    t_d1 = t_d0 + dance_s * k
    t_rel1 = t_d1 + 0.8 * k
    t = clip.frames(t_rel1 + clip.uniform(0.3, 0.5))
    T = len(t)
    s = clip.scale
    reach = clip.uniform(0.74, 0.84)
    z = _meeting_height(clip, (1.05, 1.22), reach, 0.0)
    w = clip.uniform(0.17, 0.24) * s
    normal = np.array([1.0, 0.0, 0.0])
    clasps = [_clasp(clip.props, ("right", "left"), np.array([0.0, 0.0, 1.0]), normal, 40.0, 0.35),
              _clasp(clip.props, ("left", "right"), np.array([0.0, 0.0, 1.0]), normal, 40.0, 0.35)]
    meets = [np.array([0.0, -w, z]), np.array([0.0, w, z])]
    hands = (("right", "left"), ("left", "right"))  # per role, the hand in each clasp
    x_roots = [np.mean([_root_x_for_reach(clip.props[r], hands[r][pair], meets[pair] +
                                          clasps[pair][0][r], 1.0 - 2 * r, reach)
                        for pair in range(2)]) for r in range(2)]
    shift = 0.5 * (x_roots[0] + x_roots[1])
    x_roots = [x - shift for x in x_roots]
    meets = [m - [shift, 0.0, 0.0] for m in meets]
    clip.distance_m = float(x_roots[1] - x_roots[0])
    env = window(t, t_d0, t_d0 + 0.4 * k, t_d1 - 0.4 * k, t_d1)
    if circle:
        turn = (1 if clip.rng.random() < 0.5 else -1) * clip.uniform(0.5, 1.4) * np.pi * \
            min(clip.amplitude, 1.2)
        angle = turn * travel(t, t_d0, t_d1, 0.5 * k)
        sway = np.zeros(T)
        clip.extra["turn_rad"] = round(float(turn), 4)
    else:
        angle = np.zeros(T)
        sway = 0.11 * clip.amplitude * s * np.sin(2 * np.pi * hz / k * (t - t_d0)) * env
        clip.extra["sway_hz"] = round(hz * clip.speed, 3)
    clip.extra["variant"] = "circle" if circle else "sway"
    bounce = np.zeros((T, 3))
    bounce[:, 2] = -0.015 * s * (1 - np.cos(4 * np.pi * hz / k * (t - t_d0))) * env
    roots = [_rotate_xy(np.stack([np.full(T, x), sway], -1), angle) for x in x_roots]
    lean = 0.5 * np.gradient(sway, t) * 0.4
    poses = [BodyPose(clip.props[r], roots[r], angle + (0.0, np.pi)[r], pelvis_shift=bounce,
                      spine_side=lean * (1 if r == 0 else -1), spine_bend=0.04 * env)
             for r in range(2)]
    designs = []
    for pair, (meet, clasp) in enumerate(zip(meets, clasps)):
        centre = _rotate_xy(np.stack([np.full(T, meet[0]), meet[1] + sway, np.full(T, meet[2])],
                                     -1), angle)
        for r, pose in enumerate(poses):
            side = hands[r][pair]
            start = t0 + (lag if r else 0.0)
            join = window(t, start, start + 0.8 * k, t_d1 + 0.1 * k, t_rel1)
            # The fingers take their shape while the hands are still apart; the hands then
            # close straight across the palms (clear all the way in), and part the same way.
            close = window(t, t_join - 0.25 * k, t_join, t_d1, t_d1 + 0.25 * k)
            curl = window(t, t_join - 0.5 * k, t_join - 0.25 * k, t_d1 + 0.25 * k, t_d1 + 0.45 * k)
            apart = (-1.0 if r == 0 else 1.0) * 0.05 * s * (1.0 - close)
            turn3 = lambda v: _rotate_xy(np.broadcast_to(v, (T, 3)), angle)  # noqa: E731
            target = centre + turn3(clasp[0][r]) + turn3(normal) * apart[:, None]
            sgn = 1.0 if side == "left" else -1.0
            pose.set_arm(side, _reach_arc(pose, side, target, join, 0.05),
                         elbow_hint=pose.direction(np.array([-0.3, 0.5 * sgn, -1.0])),
                         fingers_dir=turn3(clasp[1][r]), palm_normal=turn3(clasp[2][r]),
                         orient_weight=_lead(join),
                         fingers=blend(POSES["relaxed"],
                                       blend(POSES["flat"], clasp[3], curl), join))
        designs.append(_Design(0, f"{('right', 'left')[pair]}_hand", 1,
                               f"{('left', 'right')[pair]}_hand", t_join - 0.2, t_d1 + 0.3))
    _look_at_partner(poses)
    phases = _ordered([("rest", 0, t0), ("join", t0, t_d0),
                       ("turn" if circle else "sway", t_d0, t_d1),
                       ("release", t_d1, t_rel1), ("rest", t_rel1, t[-1] + 1e-3)])
    return _finish(clip, poses, designs, phases)


_CAKE_BEATS = ("clap", "both", "clap", "cross_right", "clap", "cross_left")


@_duet("pat_a_cake", True)
def _pat_a_cake(rng: np.random.Generator) -> MotionRecord:
    """A clapping game face to face: each claps, then both palms meet the partner's, then
    right hand to right hand across, then left to left, in rhythm."""
    clip = _sample_clip(rng, "pat_a_cake", distance=(0.55, 0.7), reps=(1, 2),
                        offset=(0.0, 0.05), speed=(0.8, 1.3))
    beat = clip.uniform(0.32, 0.45)
    beats = 6 * clip.repetitions
    nominal = 0.3 + 0.8 + beats * beat + 0.8 + 0.3
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.4)
    t_first = t0 + 0.8 * k
    hits = t_first + np.arange(beats) * beat * k
    t_end = hits[-1] + 0.8 * k
    t = clip.frames(t_end + clip.uniform(0.3, 0.5))
    T = len(t)
    s = clip.scale
    reach = clip.uniform(0.8, 0.88)
    z = _meeting_height(clip, (1.12, 1.28), reach, 0.1)
    w = clip.uniform(0.16, 0.22) * s
    flat = POSES["flat"]
    up = unit(np.array([0.0, 0.0, 1.0]))
    fwd = np.array([1.0, 0.0, 0.0])
    # Palm pairs: (leader hand, follower hand, meeting y, leader palm normal).
    # Mirror-image hands (right to left) would meet thumb to thumb: a clasp layout shifts
    # them across so the palms meet.
    both_r = _clasp(clip.props, ("right", "left"), up, fwd, 0.0, 0.0, "flat")[0]
    both_l = _clasp(clip.props, ("left", "right"), up, fwd, 0.0, 0.0, "flat")[0]
    cross_r = _palm_pair_offsets(clip.props, ("right", "right"), (up, up), fwd, (flat, flat))
    cross_l = _palm_pair_offsets(clip.props, ("left", "left"), (up, up), fwd, (flat, flat))
    x_roots = [_root_x_for_reach(clip.props[r], "right", np.array([0.0, 0.0, z]) + cross_r[r],
                                 1.0 - 2 * r, reach) for r in range(2)]
    mid = 0.5 * (x_roots[0] + x_roots[1])
    x_roots = [x - mid for x in x_roots]
    clip.distance_m = float(x_roots[1] - x_roots[0])
    poses = _poses(clip, _facing_roots(clip, clip.distance_m), (0.0, np.pi),
                   spine_bend=[0.05 * window(t, t0, t_first, hits[-1], t_end)] * 2)
    hold = 0.07 * k
    designs = []
    for r, pose in enumerate(poses):
        f = 1.0 - 2 * r  # +1: facing +X
        sl = clip.props[r].body_scale
        x_self = x_roots[r]
        for side in SIDES:
            sgn = 1.0 if side == "left" else -1.0  # in the agent's own frame
            rest = pose.rest_wrist(side)[0]
            own_palm = np.array([0.0, -sgn * f, 0.0])  # palms of a clap face each other
            clap_centre = np.array([x_self + f * 0.2 * sl, sgn * f * 0.014 * sl, z - 0.05])
            clap = clap_centre + _palm_to_wrist(clip.props[r], side, unit([0.2 * f, 0, 1]),
                                                own_palm)
            ready = np.array([x_self + f * 0.2 * sl, sgn * f * 0.14 * sl, z - 0.12]) + \
                _palm_to_wrist(clip.props[r], side, up, fwd * f)
            # Orientation keys only at the beats: to and from rest the hand follows the forearm
            # (set_arm's relaxed orientation), so it never flips through a degenerate blend.
            keys_t, keys_w, keys_f, keys_p = [t0], [rest], [], []
            for i, h in enumerate(hits):
                kind = _CAKE_BEATS[i % 6]
                if kind == "clap":
                    wr, fd, pn = clap, unit(np.array([0.2 * f, 0.0, 1.0])), own_palm
                elif kind == "both":
                    pair = both_r if (side == "right") == (r == 0) else both_l
                    y = -w * f * (1 if side == "right" else -1)
                    wr, fd, pn = np.array([0.0, y, z]) + pair[r], up, fwd * f
                elif (kind == "cross_right") == (side == "right"):
                    pair = cross_r if side == "right" else cross_l
                    wr, fd, pn = np.array([0.0, 0.0, z]) + pair[r], up, fwd * f
                else:
                    wr, fd, pn = ready, up, fwd * f
                # Arrive, press briefly, and come back a little toward the chest between beats.
                keys_t += [h - 0.5 * beat * k + 0.02, h, h + hold] if i else [h, h + hold]
                back = wr - np.array([f * 0.06 * sl, 0.0, -0.02])
                keys_w += ([back, wr, wr] if i else [wr, wr])
                keys_f += [fd] * (3 if i else 2)
                keys_p += [pn] * (3 if i else 2)
            keys_t.append(t_end)
            keys_w.append(rest)
            kt = np.asarray(keys_t)
            wrist = keyframes(t, kt, np.asarray(keys_w))
            fdir = keyframes(t, kt[1:-1], np.asarray(keys_f))
            palm = keyframes(t, kt[1:-1], np.asarray(keys_p))
            active = window(t, t0, t_first, hits[-1] + hold, t_end)
            pose.set_arm(side, wrist, elbow_hint=pose.direction(np.array([-0.4, 0.5 * sgn, -1.0])),
                         fingers_dir=fdir, palm_normal=palm, orient_weight=_lead(active),
                         fingers=blend(POSES["relaxed"], flat, active))
    for i, h in enumerate(hits):
        kind = _CAKE_BEATS[i % 6]
        pairs = {"both": [("right", "left"), ("left", "right")],
                 "cross_right": [("right", "right")], "cross_left": [("left", "left")]}
        for a, b in pairs.get(kind, []):
            designs.append(_Design(0, f"{a}_palm", 1, f"{b}_palm", h - 0.1 * k, h + hold + 0.1 * k))
    _look_at_partner(poses)
    phases = [("rest", 0, t0), ("ready", t0, t_first - 0.1 * k)]
    for i, h in enumerate(hits):
        phases.append((_CAKE_BEATS[i % 6], h - 0.1 * k, h + 0.5 * beat * k))
    phases += [("lower", hits[-1] + 0.5 * beat * k, t_end), ("rest", t_end, t[-1] + 1e-3)]
    clip.extra["beat_s"] = round(beat * k, 4)
    return _finish(clip, poses, designs, _ordered(phases))


@_duet("twirl_partner", True)
def _twirl_partner(rng: np.random.Generator) -> MotionRecord:
    """The leader raises the joined hands and the follower turns round underneath them."""
    clip = _sample_clip(rng, "twirl_partner", distance=(0.5, 0.6), reps=(1, 2),
                        offset=(0.05, 0.3))
    lag = clip.offset_s
    per_turn = clip.uniform(1.2, 1.7)
    nominal = 0.3 + 0.8 + lag + 0.6 + clip.repetitions * per_turn + 0.6 + 0.7 + 0.3
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.4)
    t_join = t0 + lag + 0.8 * k
    t_up = t_join + 0.6 * k
    t_spin = t_up + clip.repetitions * per_turn * k
    t_down = t_spin + 0.6 * k
    t_rel = t_down + 0.7 * k
    t = clip.frames(t_rel + 0.45 * k + clip.uniform(0.3, 0.5))
    T = len(t)
    sl, sf = clip.props[0].body_scale, clip.props[1].body_scale
    direction = 1.0 if clip.rng.random() < 0.5 else -1.0
    clip.extra.update(turns=clip.repetitions, turn_direction="left" if direction > 0 else "right")
    # The follower's hand, fingers up, turns about the vertical through its palm centre; the
    # leader's cupped hand rests over it, as close as every turned position allows.
    f_fingers, f_palm0 = np.array([0.0, 0.0, 1.0]), np.array([-1.0, 0.0, 0.0])
    l_fingers, l_palm = unit(np.array([1.0, 0.0, -0.25])), np.array([0.0, 0.0, -1.0])
    l_pose, f_pose = POSES["cup"], POSES["flat"]  # in reach of each other at every angle
    lead_hand = _hand_points_world(clip.props[0], "right", l_fingers, l_palm, l_pose)
    gap = 0.0
    for a in np.linspace(0.0, 2 * np.pi, 12, endpoint=False):
        pn = np.array([np.cos(np.pi + a), np.sin(np.pi + a), 0.0])
        fh = _hand_points_world(clip.props[1], "left", f_fingers, pn, f_pose)
        gap = max(gap, _separating_gap(fh, lead_hand, np.array([0.0, 0.0, 1.0]), 0.024))
    z_low = clip.uniform(1.05, 1.15) * sf
    z_high = (_SHOULDER_OFFSET[2] + clip.uniform(0.13, 0.18)) * sf
    y_hold = -0.06 * sf
    l_wrist_off = np.array([0.0, 0.0, gap]) + \
        _palm_to_wrist(clip.props[0], "right", l_fingers, l_palm)
    # The follower stands at the origin; the leader where the raised hold is ~92 % of its
    # reach, at least 0.47 m away (the follower's arms sweep round as it turns): a short
    # leader holds the hands lower.
    reach = clip.uniform(0.9, 0.95)
    for _ in range(4):
        pivot_hi = np.array([-0.12 * sf, y_hold, z_high])
        x_l = _root_x_for_reach(clip.props[0], "right", pivot_hi + l_wrist_off, 1.0, reach)
        if x_l <= -0.47 * clip.scale:
            break
        z_high -= 0.04 * sf
    clip.distance_m = float(-x_l)
    spin = direction * 2 * np.pi * clip.repetitions * travel(t, t_up, t_spin, 0.35 * per_turn * k)
    yaw_f = np.pi + spin
    root_l = np.zeros((T, 2))
    root_l[:, 0] = x_l
    lift = window(t, t_join, t_up, t_spin, t_down)
    poses = [BodyPose(clip.props[0], root_l, 0.0, spine_bend=0.08 * lift),
             BodyPose(clip.props[1], np.zeros((T, 2)), yaw_f)]
    lead, foll = poses
    pivot = np.stack([np.full(T, -0.12 * sf), np.full(T, y_hold),
                      z_low + (z_high - z_low) * lift], -1)
    # Follower: palm faces its own front as it turns.
    palm_f = np.stack([np.cos(yaw_f), np.sin(yaw_f), np.zeros(T)], -1)
    wrist_f = foll.wrist_for_palm("left", pivot, f_fingers, palm_f)
    join_f = window(t, t0 + lag, t_join, t_down + 0.35 * k, t_rel + 0.2 * k)
    close = window(t, t_join - 0.25 * k, t_join, t_down + 0.1 * k, t_down + 0.35 * k)
    held_f = wrist_f + np.array([0.0, 0.0, -0.06]) * (1 - close)[:, None]  # part vertically
    # The raised elbow points away from the held hands' vertical, so it turns smoothly with
    # the follower instead of swinging across the arm.
    radial = foll.shoulder("left") - pivot
    radial[:, 2] = 0.0
    elbow_f = unit(unit(radial) + foll.direction(np.array([0.3, 0.0, -0.3])))
    foll.set_arm("left", _reach_arc(foll, "left", held_f, join_f, 0.0, -0.1),
                 elbow_hint=elbow_f, fingers_dir=f_fingers,
                 palm_normal=palm_f, orient_weight=_lead(join_f),
                 fingers=blend(POSES["relaxed"], f_pose, join_f))
    # The leader lets the follower's hand drop away first, then lowers its own.
    join_l = window(t, t0, t_join - 0.1 * k, t_down + 0.6 * k, t_rel + 0.45 * k)
    held_l = pivot + l_wrist_off + np.array([0.0, 0.0, 0.06]) * (1 - close)[:, None]
    curl_l = window(t, t_join - 0.6 * k, t_join - 0.3 * k, t_down + 0.35 * k, t_rel)
    lead.set_arm("right", _reach_arc(lead, "right", held_l, join_l, 0.0, 0.0, 0.1),
                 elbow_hint=lead.direction(np.array([0.3, -1.0, -0.3])), fingers_dir=l_fingers,
                 palm_normal=l_palm, orient_weight=_lead(join_l),
                 fingers=blend(POSES["relaxed"], blend(POSES["flat"], l_pose, curl_l), join_l))
    pitch, yaw = lead.look_angles(foll.joint("head"))
    lead.set_head(pitch, yaw)
    # The follower watches the leader except while turning (no snapping of the head).
    pitch, yaw = foll.look_angles(lead.joint("head"))
    watch = 1.0 - window(t, t_up - 0.1 * k, t_up + 0.15 * k, t_spin - 0.15 * k, t_spin + 0.1 * k)
    foll.set_head(pitch * watch, yaw * watch)
    phases = _ordered([("rest", 0, t0), ("join", t0, t_join), ("raise", t_join, t_up),
                       ("twirl", t_up, t_spin), ("lower", t_spin, t_down),
                       ("release", t_down, t_rel), ("rest", t_rel, t[-1] + 1e-3)])
    return _finish(clip, poses, [_Design(0, "right_hand", 1, "left_hand", t_join - 0.3,
                                         t_down + 0.3)], phases)
