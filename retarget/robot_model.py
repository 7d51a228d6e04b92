"""The typed description of a loaded robot that the IK solvers and the sim gate share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dyad.skeletons import FINGERS


@dataclass(frozen=True)
class HandMapping:
    """How one human hand (``hand21``) maps onto one robot hand.

    Attributes:
        side: ``left`` or ``right``.
        wrist_frame: Pinocchio frame of the robot's wrist / palm base.
        keypoint_frames: hand21 joint index -> Pinocchio frame placed on the corresponding robot
            point: the wrist 0 and the tip of every finger the robot has (4, 8, 12, 16, 20 for
            five fingers; a three-finger G1 hand has 4, 8, 12), plus finger bases where known.
        finger_joints: names of the joints that move this hand's fingers, robot order.
        rotation_hand_to_wrist: (3, 3) rotation from Dyad's hand frame (dyad/skeletons.py: X to the
            middle finger, Z out of the back of the hand, Y = Z x X, which is the thumb side of a
            right hand and the little-finger side of a left hand) to the robot wrist frame.
        scale: human-to-robot length scale for this hand (robot hand length / human hand length).
    """

    side: str
    wrist_frame: str
    keypoint_frames: dict[int, str]
    finger_joints: tuple[str, ...]
    rotation_hand_to_wrist: np.ndarray = field(default_factory=lambda: np.eye(3))
    scale: float = 1.0


@dataclass
class RobotModel:
    """A robot as Dyad uses it: one MJCF (or URDF) model loaded by both Pinocchio and MuJoCo.

    Attributes:
        name: registry name, e.g. ``inspire_right`` or ``gr1_inspire``.
        source: where the model files came from (package and path), for ``dyad robots``.
        model_xml: the MJCF text both engines load (URDF robots are converted by MuJoCo first).
        model_format: ``mjcf`` (the format of ``model_xml``).
        asset_dir: folder that relative mesh paths in ``model_xml`` resolve against.
        joint_names: joint names in robot order (the order of ``qpos`` in trajectories); the
            free joint of a floating base (``floating_base``) is not listed.
        lower, upper: joint position limits (radians or metres), same order.
        hands: side -> HandMapping.
        floating_base: True for humanoids whose base follows the human pelvis.
        mimic: (follower, leader, multiplier, offset) couplings for under-actuated hands.
        pin_model: the Pinocchio model (built lazily by the registry).
    """

    name: str
    source: str
    model_xml: str
    model_format: str
    asset_dir: str
    joint_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    hands: dict[str, HandMapping] = field(default_factory=dict)
    floating_base: bool = False
    mimic: tuple[tuple[str, str, float, float], ...] = ()
    pin_model: object | None = None

    @property
    def dof(self) -> int:
        return len(self.joint_names)


def collision_spec(model_xml: str):
    """The robot's ``mujoco.MjSpec`` with its collision geoms only (the geometry MuJoCo and the
    sim gate collide; visual meshes cost compile time and take part in nothing)."""
    import mujoco

    spec = mujoco.MjSpec.from_string(model_xml)
    for geom in list(spec.geoms):
        if not (geom.contype or geom.conaffinity):
            spec.delete(geom)
    used = {geom.meshname for geom in spec.geoms}
    for mesh in list(spec.meshes):
        if mesh.name not in used:
            spec.delete(mesh)
    return spec


@dataclass(frozen=True)
class HandParts:
    """Body names of one robot hand by Dyad contact part (``dyad.skeletons``' hand21 parts),
    what the sim gate checks contacts on and free hands are brought together by.

    Attributes:
        wrist: the body of the hand mapping's wrist frame.
        hand: the wrist body and everything below it.
        palm: hand bodies that no finger joint moves, and the thumb's base link (the body of
            the ``thumb_cmc`` keypoint: the human palm includes the ball of the thumb).
        fingers: finger name -> the bodies from its tip frame up to the first body no finger
            joint moves (the thumb's base link is in both the thumb and the palm).
        tips: finger name -> the body carrying its tip frame.
    """

    wrist: str
    hand: frozenset[str]
    palm: frozenset[str]
    fingers: dict[str, frozenset[str]]
    tips: dict[str, str]

    def bodies(self, part: str) -> frozenset[str]:
        """The bodies of a hand21 contact part (``hand``, ``palm``, ``fingers``: index to
        pinky, ``fingertips``, ``<finger>_tip``) or of one finger (``thumb``...); empty where
        the robot has none of it."""
        if part == "hand":
            return self.hand
        if part == "palm":
            return self.palm
        if part == "fingers":
            return frozenset().union(*[self.fingers.get(f, frozenset()) for f in FINGERS[1:]])
        if part == "fingertips":
            return frozenset(self.tips.values())
        if part.endswith("_tip"):
            tip = self.tips.get(part[:-len("_tip")])
            return frozenset() if tip is None else frozenset({tip})
        return self.fingers.get(part, frozenset())


_HAND_PARTS: dict[tuple, HandParts | None] = {}


def hand_parts(robot: RobotModel, side: str) -> HandParts | None:
    """The :class:`HandParts` of ``robot``'s ``side`` hand (None: no such hand, or its wrist
    frame is in no body). Cached per robot model."""
    key = (robot.name, hash(robot.model_xml), side)
    if key not in _HAND_PARTS:
        _HAND_PARTS[key] = _hand_parts(robot, side)
    return _HAND_PARTS[key]


def _hand_parts(robot: RobotModel, side: str) -> HandParts | None:
    import mujoco

    from dyad.skeletons import FINGERTIPS, HAND21_NAMES

    mapping = robot.hands.get(side)
    if mapping is None:
        return None
    model = collision_spec(robot.model_xml).compile()

    def body_of(frame: str | None) -> int:
        if frame is None:
            return -1
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, frame)
        if body >= 0:
            return body
        site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, frame)
        return int(model.site_bodyid[site]) if site >= 0 else -1

    wrist = body_of(mapping.wrist_frame)
    if wrist < 0:
        return None
    hand = {wrist}
    for b in range(wrist + 1, model.nbody):
        if model.body_parentid[b] in hand:
            hand.add(b)
    finger_joints = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j)
                     for j in mapping.finger_joints}
    moved: set[int] = set()
    for b in sorted(hand):
        own = set(range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b]))
        if b != wrist and (own & finger_joints or model.body_parentid[b] in moved):
            moved.add(b)
    tips, fingers = {}, {}
    for finger, index in zip(FINGERS, FINGERTIPS):
        tip = body_of(mapping.keypoint_frames.get(index))
        if tip < 0:
            continue
        chain, b = set(), tip
        while b in moved:
            chain.add(b)
            b = int(model.body_parentid[b])
        tips[finger] = tip
        fingers[finger] = chain or {tip}
    palm = hand - moved
    base = body_of(mapping.keypoint_frames.get(HAND21_NAMES.index("thumb_cmc")))
    if base in hand:
        palm.add(base)

    def names(ids) -> frozenset[str]:
        return frozenset(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(b)) for b in ids)

    return HandParts(wrist=mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, wrist),
                     hand=names(hand), palm=names(palm),
                     fingers={f: names(c) for f, c in fingers.items()},
                     tips={f: mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, t)
                           for f, t in tips.items()})
