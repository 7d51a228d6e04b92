"""Human body and hands -> per-frame targets for a humanoid, scaled to the robot's limbs.

Scaling is calibrated from rest poses: the robot's (``registry.rest_configuration``, standing on
the floor) and the human's (Dyad's standard adult ``BODY22_REST``, resized to the clip's own
bone lengths). Targets are built down the limbs, so every robot bone gets the robot's length
and the human bone's direction:

- pelvis: position (horizontal as the human's, height scaled by robot / human pelvis height)
  and orientation (the human pelvis frame from hips and spine, rest-calibrated);
- chest orientation from the collars and spine, rest-calibrated; hips hang rigidly off the
  target pelvis, shoulders off the target chest (the waist pivots at the pelvis origin);
- knee = hip + s_thigh (human knee - human hip), then ankle, foot; shoulder -> elbow -> wrist
  the same way, with ``s = robot bone / human bone``; ankles and feet never go below their
  rest height above the floor;
- wrist orientation from the human hand frame (``input_conventions.hand_frame_rotation``)
  through ``HandMapping.rotation_hand_to_wrist``; finger targets are the hand in Dyad's hand
  frame (the hand solver scales them per finger).

Without a body (``bimanual`` clips, hand21 only) the robot stands at rest and each wrist target
is the robot's shoulder plus the human's shoulder-to-wrist vector (standard adult shoulders)
scaled by robot / human arm length; a target beyond the robot's reach is pulled onto it and
flagged ``clamped``.

Contacts: hands that touch something (the other hand, the partner's hand, arm or shoulder)
matter more than limb proportions. When a human wrist is within ``contact_far_m`` of such a
point, its target blends toward the robot counterpart of that point plus the human offset
(two wrists: their midpoint plus half the human offset each), fully at ``contact_near_m``, so
hands that touch in the human motion touch on the robots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dyad.skeletons import BODY22_NAMES, BODY22_PARENTS, BODY22_REST

from .body_mapping import BodyMapping
from .input_conventions import hand_frame_rotation
from .robot_model import RobotModel

SIDES = ("left", "right")
_PREFIX = {"left": "l_", "right": "r_"}
_B = {n: i for i, n in enumerate(BODY22_NAMES)}
# Limb chains: each point follows its predecessor with the human bone's direction.
LEG_CHAIN = ("hip", "knee", "ankle", "foot")
ARM_CHAIN = ("shoulder", "elbow", "wrist")


def hands_of(joints_body22_hands: np.ndarray) -> dict[str, np.ndarray]:
    """Both hands of ``body22+hands`` joints (..., 62, 3) as hand21 arrays (..., 21, 3)."""
    j = np.asarray(joints_body22_hands)
    out = {}
    for side, start in (("left", 22), ("right", 42)):
        wrist = j[..., _B[_PREFIX[side] + "wrist"], :][..., None, :]
        out[side] = np.concatenate([wrist, j[..., start:start + 20, :]], axis=-2)
    return out


def rotation_from_axes(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rotation (..., 3, 3) whose Y axis is along ``y`` and whose Z axis is ``z`` made
    orthogonal to it (X = Y x Z)."""
    y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
    z = z - (z * y).sum(-1, keepdims=True) * y
    z = z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def pelvis_rotation(body22: np.ndarray) -> np.ndarray:
    """Human pelvis frame (..., 3, 3): Y from the right hip to the left, Z up the spine."""
    b = np.asarray(body22, dtype=float)
    return rotation_from_axes(b[..., _B["l_hip"], :] - b[..., _B["r_hip"], :],
                              b[..., _B["spine1"], :] - b[..., _B["pelvis"], :])


def chest_rotation(body22: np.ndarray) -> np.ndarray:
    """Human chest frame (..., 3, 3): Y from the right collar to the left, Z up the spine."""
    b = np.asarray(body22, dtype=float)
    return rotation_from_axes(b[..., _B["l_collar"], :] - b[..., _B["r_collar"], :],
                              b[..., _B["neck"], :] - b[..., _B["spine2"], :])


def human_bone_lengths(body22: np.ndarray) -> np.ndarray:
    """(22,) median length of each joint's bone to its parent over frames (0 for the root);
    non-finite frames are ignored."""
    b = np.asarray(body22, dtype=float).reshape(-1, 22, 3)
    parents = np.array(BODY22_PARENTS)
    lengths = np.zeros(22)
    for j in range(1, 22):
        d = np.linalg.norm(b[:, j] - b[:, parents[j]], axis=-1)
        d = d[np.isfinite(d)]
        lengths[j] = float(np.median(d)) if len(d) else np.linalg.norm(
            BODY22_REST[j] - BODY22_REST[parents[j]])
    return lengths


@dataclass(frozen=True)
class RobotRestGeometry:
    """A humanoid measured standing at rest, base at the origin (what targets are scaled to).

    Attributes:
        floor_z_m: height of the lowest collision sphere at rest (the soles), base at origin.
        pelvis_position_m: (3,) pelvis frame at rest, base at origin.
        pelvis_rotation: (3, 3) pelvis frame orientation at rest.
        torso_rotation: (3, 3) torso frame orientation at rest.
        points_m: body22 name -> (3,) robot point at rest (limb points and both wrists).
        hip_offsets_m: ``l_hip``/``r_hip`` -> offset from the pelvis in the pelvis frame.
        shoulder_offsets_m: ``l_shoulder``/``r_shoulder`` -> offset from the pelvis origin in
            the torso frame.
        bone_lengths_m: body22 name -> robot length of the bone ending there (knee, ankle,
            foot, elbow, wrist).
        wrist_rotations: side -> (3, 3) wrist frame orientation at rest.
    """

    floor_z_m: float
    pelvis_position_m: np.ndarray
    pelvis_rotation: np.ndarray
    torso_rotation: np.ndarray
    points_m: dict[str, np.ndarray]
    hip_offsets_m: dict[str, np.ndarray]
    shoulder_offsets_m: dict[str, np.ndarray]
    bone_lengths_m: dict[str, float]
    wrist_rotations: dict[str, np.ndarray]

    @property
    def pelvis_height_m(self) -> float:
        """Pelvis frame above the soles when standing at rest."""
        return float(self.pelvis_position_m[2] - self.floor_z_m)

    def arm_length_m(self, side: str) -> float:
        p = _PREFIX[side]
        return self.bone_lengths_m[p + "elbow"] + self.bone_lengths_m[p + "wrist"]


def point_world(data, model, frame: str, offset_m) -> np.ndarray:
    """World position of a point fixed in a frame, for ``data``'s frame placements."""
    m = data.oMf[model.getFrameId(frame)]
    return m.translation + m.rotation @ np.asarray(offset_m, dtype=float)


def measure_rest_geometry(robot: RobotModel, mapping: BodyMapping, rest_q: np.ndarray,
                          floor_z_m: float) -> RobotRestGeometry:
    """Measure a humanoid at ``rest_q`` (base at the origin) for target scaling."""
    import pinocchio as pin

    model = robot.pin_model
    data = model.createData()
    pin.framesForwardKinematics(model, data, rest_q)
    pelvis = data.oMf[model.getFrameId(mapping.pelvis_frame)]
    torso = data.oMf[model.getFrameId(mapping.torso_frame)]
    points = {n: point_world(data, model, p.frame, p.offset_m) for n, p in mapping.points.items()}
    wrist_rot = {}
    for side in SIDES:
        hand = robot.hands[side]
        frame = hand.keypoint_frames.get(0, hand.wrist_frame)
        points[_PREFIX[side] + "wrist"] = point_world(data, model, frame, (0.0, 0.0, 0.0))
        wrist_rot[side] = data.oMf[model.getFrameId(hand.wrist_frame)].rotation.copy()
    bones = {}
    for p in ("l_", "r_"):
        for chain in (LEG_CHAIN, ARM_CHAIN):
            for a, b in zip(chain[:-1], chain[1:]):
                bones[p + b] = float(np.linalg.norm(points[p + b] - points[p + a]))
    hips = {n: pelvis.rotation.T @ (points[n] - pelvis.translation) for n in ("l_hip", "r_hip")}
    shoulders = {n: torso.rotation.T @ (points[n] - pelvis.translation)
                 for n in ("l_shoulder", "r_shoulder")}
    return RobotRestGeometry(
        floor_z_m=float(floor_z_m), pelvis_position_m=pelvis.translation.copy(),
        pelvis_rotation=pelvis.rotation.copy(), torso_rotation=torso.rotation.copy(),
        points_m=points, hip_offsets_m=hips, shoulder_offsets_m=shoulders, bone_lengths_m=bones,
        wrist_rotations=wrist_rot)


@dataclass
class BodyTargets:
    """What one humanoid should do in one frame (world frame, metres, rotations 3x3).

    Attributes:
        points_m: body22 name -> target of the mapped robot point (limb points and wrists).
        point_weights: body22 name -> weight multiplier.
        pelvis_position_m: pelvis target, or None (pelvis fixed: no body to follow).
        pelvis_rotation, torso_rotation: frame orientation targets, or None.
        wrist_rotations: side -> wrist frame orientation target.
        hands: side -> (21, 3) hand keypoints in Dyad's hand frame (finger targets).
        clamped: names of targets pulled back within reach.
        requested_m: body22 name -> the target before clamping (errors are measured to it).
    """

    points_m: dict[str, np.ndarray] = field(default_factory=dict)
    point_weights: dict[str, float] = field(default_factory=dict)
    pelvis_position_m: np.ndarray | None = None
    pelvis_rotation: np.ndarray | None = None
    torso_rotation: np.ndarray | None = None
    wrist_rotations: dict[str, np.ndarray] = field(default_factory=dict)
    hands: dict[str, np.ndarray] = field(default_factory=dict)
    clamped: set[str] = field(default_factory=set)
    requested_m: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class TargetTrack:
    """:class:`BodyTargets` of every frame of a clip, as arrays with a leading time axis.

    Attributes mirror :class:`BodyTargets`: ``points_m`` name -> (T, 3), ``pelvis_position_m``
    (T, 3) or None, rotations (T, 3, 3) or None, ``wrist_rotations`` side -> (T, 3, 3),
    ``hands`` side -> (T, 21, 3), ``clamped`` name -> (T,) bool, ``requested_m`` name -> (T, 3).
    """

    num_frames: int
    points_m: dict[str, np.ndarray] = field(default_factory=dict)
    pelvis_position_m: np.ndarray | None = None
    pelvis_rotation: np.ndarray | None = None
    torso_rotation: np.ndarray | None = None
    wrist_rotations: dict[str, np.ndarray] = field(default_factory=dict)
    hands: dict[str, np.ndarray] = field(default_factory=dict)
    clamped: dict[str, np.ndarray] = field(default_factory=dict)
    requested_m: dict[str, np.ndarray] = field(default_factory=dict)

    def frame(self, t: int) -> BodyTargets:
        """The targets of frame ``t``."""
        return BodyTargets(
            points_m={k: v[t] for k, v in self.points_m.items()},
            pelvis_position_m=None if self.pelvis_position_m is None
            else self.pelvis_position_m[t],
            pelvis_rotation=None if self.pelvis_rotation is None else self.pelvis_rotation[t],
            torso_rotation=None if self.torso_rotation is None else self.torso_rotation[t],
            wrist_rotations={k: v[t] for k, v in self.wrist_rotations.items()},
            hands={k: v[t] for k, v in self.hands.items()},
            clamped={k for k, v in self.clamped.items() if v[t]},
            requested_m={k: v[t] for k, v in self.requested_m.items() if self.clamped[k][t]},
        )


@dataclass(frozen=True)
class TargetConfig:
    """Options of target construction.

    Attributes:
        root_xy_scale: horizontal pelvis positions are multiplied by this (1 keeps where the
            humans stand, and so the distance between two partners).
        reach_fraction: wrist targets stay within this fraction of the robot arm's length
            from its shoulder.
        contact_near_m: human wrist-to-point distance at which a wrist fully keeps the human
            offset to that point.
        contact_far_m: distance beyond which contact blending is off.
    """

    root_xy_scale: float = 1.0
    reach_fraction: float = 0.98
    contact_near_m: float = 0.10
    contact_far_m: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.contact_near_m < self.contact_far_m:
            raise ValueError("TargetConfig needs 0 <= contact_near_m < contact_far_m")
        if not 0.0 < self.reach_fraction <= 1.0:
            raise ValueError("TargetConfig.reach_fraction must be in (0, 1]")


class HumanToRobot:
    """Turns a human clip into a :class:`TargetTrack` for one humanoid, scaled from rest poses.

    Args:
        robot: the humanoid.
        geometry: the robot measured at rest.
        body22_frames: (T, 22, 3) the human's body over the clip (bone lengths are calibrated
            on it), or None for hands-only input (standard adult proportions).
        config: options.
    """

    def __init__(self, robot: RobotModel, geometry: RobotRestGeometry,
                 body22_frames: np.ndarray | None = None, config: TargetConfig | None = None):
        self.robot = robot
        self.geometry = geometry
        self.config = config or TargetConfig()
        human_rest = BODY22_REST
        lengths = human_bone_lengths(human_rest if body22_frames is None else body22_frames)
        rest_lengths = human_bone_lengths(human_rest)
        legs = [_B[n] for n in ("l_knee", "l_ankle", "r_knee", "r_ankle")]
        self.human_pelvis_height_m = float(human_rest[_B["pelvis"], 2] * lengths[legs].sum()
                                           / rest_lengths[legs].sum())
        """The human's standing pelvis height, from the clip's leg bones."""
        self.height_scale = geometry.pelvis_height_m / self.human_pelvis_height_m
        """Robot pelvis height over human pelvis height (vertical pelvis motion scales by it)."""
        self.bone_scales = {name: geometry.bone_lengths_m[name] / max(lengths[_B[name]], 1e-6)
                            for name in geometry.bone_lengths_m}
        """body22 name -> robot / human length of the bone ending at that joint."""
        self.arm_scales = {s: geometry.arm_length_m(s) / (
            lengths[_B[_PREFIX[s] + "elbow"]] + lengths[_B[_PREFIX[s] + "wrist"]]) for s in SIDES}
        """side -> robot / human arm length (shoulder to wrist along the bones)."""
        self._pelvis_offset = pelvis_rotation(human_rest).T @ geometry.pelvis_rotation
        self._chest_offset = chest_rotation(human_rest).T @ geometry.torso_rotation
        self._hand_to_wrist_t = {s: np.asarray(robot.hands[s].rotation_hand_to_wrist).T
                                 for s in SIDES}
        # Hands-only input: the robot stands at rest with its soles on the floor.
        self._standing_offset = np.array([0.0, 0.0, -geometry.floor_z_m])

    def _hands(self, track: TargetTrack, hands_world: dict[str, np.ndarray]) -> None:
        from .input_conventions import to_hand_frame

        for side, hand in hands_world.items():
            track.wrist_rotations[side] = hand_frame_rotation(hand, side) \
                @ self._hand_to_wrist_t[side]
            track.hands[side] = to_hand_frame(hand, "hand21_world", side, check_mirrored=False)

    def body_track(self, body22: np.ndarray, hands_world: dict[str, np.ndarray]
                   ) -> TargetTrack:
        """Targets that follow a whole body: pelvis, chest, legs, arms, wrists, fingers.

        Args:
            body22: (T, 22, 3) human joints, world frame.
            hands_world: side -> (T, 21, 3) hand21 joints, world frame.
        """
        g, cfg = self.geometry, self.config
        h = np.asarray(body22, dtype=float)
        track = TargetTrack(num_frames=len(h))
        rot_p = pelvis_rotation(h) @ self._pelvis_offset
        rot_c = chest_rotation(h) @ self._chest_offset
        p_p = h[:, _B["pelvis"]] * np.array([cfg.root_xy_scale, cfg.root_xy_scale,
                                              self.height_scale])
        track.pelvis_position_m, track.pelvis_rotation, track.torso_rotation = p_p, rot_p, rot_c
        pts = {}
        for p in ("l_", "r_"):
            pts[p + "hip"] = p_p + rot_p @ g.hip_offsets_m[p + "hip"]
            pts[p + "shoulder"] = p_p + rot_c @ g.shoulder_offsets_m[p + "shoulder"]
            for chain in (LEG_CHAIN, ARM_CHAIN):
                for a, b in zip(chain[:-1], chain[1:]):
                    pts[p + b] = pts[p + a] + self.bone_scales[p + b] * (h[:, _B[p + b]]
                                                                          - h[:, _B[p + a]])
            for name in ("ankle", "foot"):
                # Never below its standing height above the floor (the soles stay up).
                floor = g.points_m[p + name][2] - g.floor_z_m
                pts[p + name][:, 2] = np.maximum(pts[p + name][:, 2], floor)
            del pts[p + "hip"]  # rigid with the pelvis: the pelvis pose target covers it
        track.points_m = pts
        self._hands(track, hands_world)
        return track

    def arm_track(self, hands_world: dict[str, np.ndarray]) -> TargetTrack:
        """Targets for hands only: the robot stands at rest, its arms place the wrists.

        Args:
            hands_world: side -> (T, 21, 3) hand21 joints in the standing standard adult's
                frame (facing +X, floor at z = 0).
        """
        g, cfg = self.geometry, self.config
        track = TargetTrack(num_frames=len(next(iter(hands_world.values()))))
        for side, hand in hands_world.items():
            p = _PREFIX[side]
            shoulder_robot = g.points_m[p + "shoulder"] + self._standing_offset
            shoulder_human = BODY22_REST[_B[p + "shoulder"]]
            target = shoulder_robot + self.arm_scales[side] * (hand[:, 0] - shoulder_human)
            reach = cfg.reach_fraction * g.arm_length_m(side)
            offset = target - shoulder_robot
            dist = np.linalg.norm(offset, axis=-1)
            clamped = dist > reach
            track.requested_m[p + "wrist"] = target.copy()
            track.clamped[p + "wrist"] = clamped
            shrink = np.where(clamped, reach / np.maximum(dist, 1e-12), 1.0)
            track.points_m[p + "wrist"] = shoulder_robot + offset * shrink[:, None]
        self._hands(track, hands_world)
        return track

    @staticmethod
    def human_points(body22: np.ndarray | None, hands_world: dict[str, np.ndarray]
                     ) -> dict[str, np.ndarray]:
        """(T, 3) human counterparts of target points that hands may touch (for
        :func:`blend_contacts`): both wrists, and the elbows and shoulders of a body."""
        out = {}
        if body22 is not None:
            for name in ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow"):
                out[name] = np.asarray(body22[:, _B[name]], dtype=float)
        for side, hand in hands_world.items():
            out[_PREFIX[side] + "wrist"] = np.asarray(hand[:, 0], dtype=float)
        return out


def blend_contacts(tracks: list[TargetTrack], humans: list[dict[str, np.ndarray]],
                   config: TargetConfig,
                   declared: list[dict[str, np.ndarray]] | None = None,
                   hands: list[dict[str, np.ndarray]] | None = None) -> None:
    """Keep hands that touch in the human motion touching on the robots (tracks in place).

    For every wrist target, the nearest human point among the same agent's other wrist and
    the other agents' wrists, elbows and shoulders is found, frame by frame; within
    ``contact_far_m`` the wrist target moves toward that point's robot target plus the human
    offset (two wrists meet at the midpoint of their targets), fully within
    ``contact_near_m`` (smoothstep in between, so nothing jumps). The elbow target follows
    half of the wrist's shift.

    Where the motion declares a hand in contact with another agent, the distance is measured
    from the human hand (its nearest keypoint) instead of its wrist: fists bumping touch with
    their wrists 18 cm apart, where a wrist distance blends only half of the way and the
    robots, whose arms differ from the humans', stop centimetres short.

    Args:
        tracks: one :class:`TargetTrack` per agent (modified).
        humans: per agent, name -> (T, 3) human point (``HumanToRobot.human_points``).
        config: the blending distances.
        declared: per agent, wrist name -> (T,) weight of a declared contact of that hand with
            another agent (1 during it, ramping in and out): how much of the hand distance
            replaces the wrist distance.
        hands: per agent, wrist name -> (T, 21, 3) the human hand's keypoints (world).
    """
    near, far = config.contact_near_m, config.contact_far_m
    original = [{k: v.copy() for k, v in t.points_m.items()} for t in tracks]
    for a, (track, human) in enumerate(zip(tracks, humans)):
        for wrist in ("l_wrist", "r_wrist"):
            if wrist not in human or wrist not in original[a]:
                continue
            anchors, dists = [], []
            for b, other in enumerate(humans):
                for name, point in other.items():
                    if (b == a and name != _other_wrist(wrist)) or name not in original[b]:
                        continue
                    offset = human[wrist] - point
                    if name.endswith("wrist"):
                        anchor = 0.5 * (original[a][wrist] + original[b][name]) + 0.5 * offset
                    else:
                        anchor = original[b][name] + offset
                    anchors.append(anchor)
                    dist = np.linalg.norm(offset, axis=-1)
                    share = (declared[a].get(wrist) if declared is not None else None)
                    if share is not None and hands is not None and wrist in hands[a]:
                        near_by = _hand_distance(hands[a][wrist], hands[b].get(name), point)
                        dist = np.where(share > 0.0, share * near_by + (1.0 - share) * dist,
                                        dist)
                    dists.append(dist)
            if not anchors:
                continue
            dists = np.nan_to_num(np.stack(dists), nan=np.inf)  # (candidates, T)
            best = np.argmin(dists, axis=0)
            d = dists[best, np.arange(dists.shape[1])]
            anchor = np.stack(anchors)[best, np.arange(dists.shape[1])]
            u = np.clip((far - d) / (far - near), 0.0, 1.0)
            weight = (u * u * (3.0 - 2.0 * u))[:, None]
            blended = (1.0 - weight) * original[a][wrist] + weight * anchor
            shift = np.where(weight > 0, blended - original[a][wrist], 0.0)
            track.points_m[wrist] = original[a][wrist] + shift
            elbow = wrist[:2] + "elbow"
            if elbow in track.points_m:
                # The elbow goes half the way, so the forearm keeps its length and slant.
                track.points_m[elbow] = original[a][elbow] + 0.5 * shift


def _hand_distance(hand: np.ndarray, other_hand: np.ndarray | None, point: np.ndarray
                   ) -> np.ndarray:
    """(T,) distance from a (T, 21, 3) hand to another hand (nearest keypoints), or to a
    (T, 3) point when there is no other hand; NaN where a frame has no finite keypoint."""
    if other_hand is None:
        d = np.linalg.norm(hand - point[:, None, :], axis=-1)
    else:
        diff = hand[:, :, None, :] - other_hand[:, None, :, :]
        d = np.sqrt(np.einsum("tijk,tijk->tij", diff, diff)).reshape(len(hand), -1)
    d = np.where(np.isfinite(d), d, np.inf).min(axis=1)
    return np.where(np.isfinite(d), d, np.nan)


def _other_wrist(wrist: str) -> str:
    return "r_wrist" if wrist == "l_wrist" else "l_wrist"
