"""Procedural two-person (duet) interactions: one generator per label of ``DUET_LABELS``.

Every generator designs its clip in a canonical scene: the *leader* (the agent who initiates)
stands at -X facing +X, the *follower* at +X facing -X (or beside / in front of the leader for
side-by-side and behind-the-back types), and the acting hand is the right one. The clip's
sampled variation is then applied by exact rigid transforms that keep every bone length:
a left-handed clip is the mirror image (Y negated, left and right joints swapped), and when
agent B leads the two agents swap (facing scenes also turn half a turn, so agent A always
stands at -X).

Contacts are designed (which parts should touch, and when), then measured on the final joints:
a :class:`ContactInterval` covers each run of frames where the two parts' closest joints are
within :data:`CONTACT_M`. A clip whose agents come closer than :data:`MIN_SEPARATION_M` anywhere,
or whose designed contact never happens, is drawn again from the same random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dyad.motion import ContactInterval, MotionRecord
from dyad.skeletons import BODY22_HANDS_NAMES, contact_part_joints

from .body_pose import (SIDES, BodyPose, Proportions, assemble, keyframes, mix, mix_dirs, ramp,
                        smoothstep, travel, unit, window)
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

_UP = np.array([0.0, 0.0, 1.0])


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
        self.num_frames = int(np.clip(np.ceil(end_s * self.fps), MIN_S * self.fps, MAX_S * self.fps))
        return np.arange(self.num_frames) / self.fps

    def idle(self, amplitude: float = 1.0) -> np.ndarray:
        """(T,) smooth zero-mean sway in [-1, 1] (a few slow sinusoids) for breathing-like life."""
        t = np.arange(self.num_frames) / self.fps
        f = self.rng.uniform(0.15, 0.6, 3)
        ph = self.rng.uniform(0, 2 * np.pi, 3)
        return amplitude * np.sin(2 * np.pi * f[:, None] * t[None, :] + ph[:, None]).mean(axis=0)


def _sample_clip(rng: np.random.Generator, label: str, *, distance: tuple[float, float],
                 reps: tuple[int, int] = (1, 1), p_left: float = 0.3,
                 offset: tuple[float, float] = (0.05, 0.4), layout: str = "facing",
                 speed: tuple[float, float] = (0.75, 1.35)) -> Clip:
    body = rng.uniform(0.9, 1.1, 2)
    hand = np.clip(body * rng.uniform(0.94, 1.06, 2), 0.85, 1.15)
    props = (Proportions(float(body[0]), float(hand[0])), Proportions(float(body[1]), float(hand[1])))
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


def min_separation_m(joints: np.ndarray) -> float:
    """Closest distance (m) between any joint of agent 0 and any joint of agent 1 over a clip
    (T, 2, J, 3)."""
    a = joints[:, 0].astype(np.float64)
    b = joints[:, 1].astype(np.float64)
    lo = np.minimum(a.min(1), b.min(1))  # only frames whose boxes come within 5 cm matter
    gap = np.maximum(a.min(1) - b.max(1), b.min(1) - a.max(1)).max(-1)
    near = gap < 0.05
    if not near.any():
        return float(max(gap.min(), 0.05))
    a, b = a[near] - lo[near, None], b[near] - lo[near, None]
    d2 = (a ** 2).sum(-1)[:, :, None] + (b ** 2).sum(-1)[:, None, :] - 2.0 * a @ b.transpose(0, 2, 1)
    return float(np.sqrt(max(d2.min(), 0.0)))


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
               lift_m: float = 0.05) -> np.ndarray:
    """Wrist path from the hanging rest to ``target`` (weight 0 -> 1), bulging forward/up so
    the hand comes round in front of the body rather than through it."""
    rest = pose.rest_wrist(side)
    w = np.asarray(weight)
    bulge = (4.0 * w * (1.0 - w))[:, None] * pose.direction(np.array([0.06, 0.0, lift_m]))
    return mix(rest, target, w) + bulge


# --------------------------------------------------------------------------- the types


@_duet("handshake", True)
def _handshake(rng: np.random.Generator) -> MotionRecord:
    """Two people shake right hands: reach, grip, pump, release."""
    clip = _sample_clip(rng, "handshake", distance=(0.6, 0.74), reps=(2, 4))  # distance: reach
    return _build_handshake(clip, approach_s=0.0)


def _build_handshake(clip: Clip, approach_s: float, walk_from_m: float | None = None,
                     two_handed: bool = False) -> MotionRecord:
    pump_hz = clip.uniform(1.8, 2.6)
    reach, lag = 0.85, clip.offset_s
    nominal = 0.4 + approach_s + reach + lag + 0.3 + clip.repetitions / pump_hz + 0.25 + 0.3 + \
        0.8 + 0.4
    k = clip.tempo(nominal)
    pre = clip.uniform(0.2, 0.5)
    t_walk = pre
    t_reach0 = pre + approach_s * k * 0.75 if approach_s else pre
    t_reach1 = t_reach0 + reach * k
    f_reach0, f_reach1 = t_reach0 + lag, t_reach1 + lag
    t_grip = f_reach1 + 0.05
    t_pump0 = t_grip + 0.25 * k
    t_pump1 = t_pump0 + clip.repetitions / pump_hz * k
    t_release = t_pump1 + 0.15 * k
    t_open = t_release + 0.25 * k
    t_back0, t_back1 = t_open, t_open + 0.8 * k
    f_back0, f_back1 = t_back0 + 0.6 * lag, t_back1 + 0.6 * lag
    t = clip.frames(max(t_back1, f_back1) + clip.uniform(0.3, 0.6))
    T = len(t)
    s = clip.scale
    # The meeting point, then where each stands so its arm is comfortably bent.
    meet0 = np.array([0.0, clip.uniform(-0.03, 0.03), (1.03 + clip.uniform(-0.05, 0.04)) * s])
    grips = [_grip_offsets(clip.props[r], r) for r in range(2)]
    comfort = clip.uniform(0.88, 0.95)
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
    poses = _poses(clip, roots, (0.0, np.pi), spine_bend=bend)
    pump = 0.035 * clip.amplitude * s * np.sin(2 * np.pi * pump_hz / k * (t - t_pump0)) * \
        window(t, t_pump0 - 0.05, t_pump0 + 0.15 * k, t_pump1 - 0.15 * k, t_pump1)
    meet = np.repeat(meet0[None], T, axis=0)
    meet[:, 2] += pump
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
               ("shake", t_pump0, t_pump1), ("release", t_pump1, t_open),
               ("retreat", t_open, max(t_back1, f_back1)),
               ("rest", max(t_back1, f_back1), t[-1] + 1e-3)]
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


def _hand_points_world(props: Proportions, side: str, fingers_dir, palm_normal,
                       fingers: np.ndarray) -> np.ndarray:
    """(21, 3) joints of a hand with its palm centre at the origin."""
    rot = hand_rotation(unit(np.asarray(fingers_dir, float)), np.asarray(palm_normal, float))
    pts = hand_points(fingers, side, props.hand_scale)
    c = props.palm_centre() * ([1.0, -1.0, 1.0] if side == "left" else 1.0)
    return (pts - c) @ rot.T


def _separating_gap(points_a: np.ndarray, points_b: np.ndarray, normal: np.ndarray,
                    clearance_m: float) -> float:
    """Smallest shift of ``points_b`` along ``normal`` (from where they are) after which every
    point of b is at least ``clearance_m`` from every point of a."""
    v = (points_b[None, :, :] - points_a[:, None, :]).reshape(-1, 3)
    vn = v @ normal
    disc = vn ** 2 - ((v ** 2).sum(-1) - clearance_m ** 2)
    upper = -vn + np.sqrt(np.maximum(disc, 0.0))
    return float(max(upper[disc > 0].max(initial=0.0), 0.0))


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
    z = clip.uniform(*height) * s
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
    reach = clip.uniform(0.9, 0.97) if not low else clip.uniform(0.93, 0.98)
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
    meet = np.array([0.0, clip.uniform(-0.04, 0.04), clip.uniform(1.0, 1.16) * s])
    fdirs = [unit(np.array([1.0, 0.0, clip.uniform(-0.1, 0.15)])), None]
    fdirs[1] = fdirs[0] * [-1.0, 1.0, 1.0]
    palms = [np.array([0.0, 1.0, 0.0]), np.array([0.0, -1.0, 0.0])]  # thumbs up
    offs = [_fist_offset(clip.props[r], "right", fdirs[r], palms[r]) for r in range(2)]
    fists = [_hand_points_world(clip.props[r], "right", fdirs[r], palms[r], POSES["fist"]) +
             clip.props[r].palm_centre() @ hand_rotation(fdirs[r], palms[r]).T + offs[r]
             for r in range(2)]
    gap = _separating_gap(fists[0], fists[1], np.array([1.0, 0.0, 0.0]), 0.021)
    offs = [offs[r] - np.array([0.5 * gap * (1 - 2 * r), 0.0, 0.0]) for r in range(2)]
    reach = clip.uniform(0.86, 0.95)
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
        target = mix(np.broadcast_to(cocked, (T, 3)), np.broadcast_to(meet + offs[r], (T, 3)), hit_w)
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
        palm_c = centre + lead.direction(np.array([0.0, sgn, 0.0])) * (0.016 * s + share * open_m)[:, None]
        wrist = palm_c + np.einsum("tij,j->ti", hand_rotation(fdir, palm),
                                   -clip.props[0].palm_centre() * ([1, -1, 1] if side == "left" else 1))
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
                       ("answer", max(t_stop, f0), f_end), ("rest", max(t_down, f_end), t[-1] + 1e-3)])
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
    nominal = 0.4 + 0.6 + lag + hold + 0.6 + 0.4
    k = clip.tempo(nominal)
    t0 = clip.uniform(0.2, 0.6)
    t_up = t0 + 0.6 * k
    t_hold = t_up + hold * k
    t_down = t_hold + 0.6 * k
    f0, f1 = t0 + lag, t0 + lag + 0.6 * k
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
