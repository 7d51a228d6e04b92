"""How a human ``body22`` skeleton maps onto a humanoid robot's frames.

A :class:`BodyMapping` names the robot frames that follow the human pelvis and chest, and the
robot points that follow the human hips, knees, ankles, feet, shoulders and elbows (the wrists
come from the robot's hand mappings, ``RobotModel.hands[side].keypoint_frames[0]``, so the arm
and the fingers agree on where the wrist is). Points sit at joint centres: the robot bone
lengths measured between them at rest are what the human bones are scaled to.

Built-in mappings cover the registry's humanoids (``gr1_inspire``, ``gr1_fourier``, ``g1``);
another humanoid needs a mapping passed explicitly (``BodyIK(robot, mapping=...)``) or added
with :func:`register_body_mapping`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dyad.errors import DyadInputError
from dyad.skeletons import BODY22_NAMES

from .robot_model import RobotModel

LIMB_POINTS: tuple[str, ...] = (
    "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_foot", "r_foot",
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
)
"""The body22 joints a mapping places on the robot (the wrists come from the hands)."""


class BodyMappingError(DyadInputError):
    """A humanoid has no body mapping, or its mapping names frames the model lacks."""


@dataclass(frozen=True)
class RobotPoint:
    """A point fixed in a robot frame.

    Attributes:
        frame: Pinocchio frame name (a body, joint or site).
        offset_m: the point in that frame's coordinates, metres.
    """

    frame: str
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class BodyMapping:
    """Human body22 -> humanoid robot.

    Attributes:
        pelvis_frame: robot frame that follows the human pelvis (position and orientation).
        torso_frame: robot frame that follows the human chest orientation (above the waist
            joints).
        points: body22 joint name -> robot point, for every name of :data:`LIMB_POINTS`.
        head_joints: joints left at rest (no human target drives them).
    """

    pelvis_frame: str
    torso_frame: str
    points: dict[str, RobotPoint] = field(default_factory=dict)
    head_joints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        missing = [n for n in LIMB_POINTS if n not in self.points]
        unknown = [n for n in self.points if n not in BODY22_NAMES]
        if missing or unknown:
            raise BodyMappingError(
                f"body mapping: points must name exactly {', '.join(LIMB_POINTS)}; "
                f"missing {missing}, not body22 joints {unknown}")

    def check(self, robot: RobotModel) -> None:
        """Raise :class:`BodyMappingError` naming any frame or joint ``robot`` lacks."""
        model = robot.pin_model
        frames = [self.pelvis_frame, self.torso_frame] + [p.frame for p in self.points.values()]
        bad = [f for f in frames if not model.existFrame(f)]
        if bad:
            raise BodyMappingError(f"body mapping of {robot.name!r}: frames {bad} are not in the "
                                   "model")
        joints = [j for j in self.head_joints if j not in robot.joint_names]
        if joints:
            raise BodyMappingError(f"body mapping of {robot.name!r}: head joints {joints} are "
                                   "not in the model")
        for side in ("left", "right"):
            if side not in robot.hands:
                raise BodyMappingError(f"robot {robot.name!r} has no {side} hand: a humanoid "
                                       "body mapping needs both wrists")


def _sided(left: dict[str, RobotPoint]) -> dict[str, RobotPoint]:
    """Both sides from the left side's points (frame names l_ -> r_, Y offsets negated)."""
    out = dict(left)
    for name, point in left.items():
        frame = "r_" + point.frame[2:] if point.frame.startswith("l_") else point.frame
        x, y, z = point.offset_m
        out["r_" + name[2:]] = RobotPoint(frame, (x, -y, z))
    return out


# Fourier GR1: the hip's three axes do not meet; its centre is taken at the pitch joint, the
# shoulder's at the roll joint. Foot point: the ball of the foot, 12 cm ahead of the ankle
# and 4.5 cm below it (2 cm above the sole), as the human foot joint sits ahead of the ankle.
_GR1 = BodyMapping(
    pelvis_frame="base",
    torso_frame="torso_waist_roll_link",
    points=_sided({
        "l_hip": RobotPoint("l_thigh_pitch"),
        "l_knee": RobotPoint("l_shank_pitch"),
        "l_ankle": RobotPoint("l_foot_roll"),
        "l_foot": RobotPoint("l_foot_roll", (0.12, 0.0, -0.045)),
        "l_shoulder": RobotPoint("l_upper_arm_roll"),
        "l_elbow": RobotPoint("l_lower_arm_pitch"),
    }),
    head_joints=("head_yaw", "head_roll", "head_pitch"),
)

# Unitree G1: pelvis body 0.755 m above the floating base; ankle 3 cm above the sole.
_G1 = BodyMapping(
    pelvis_frame="pelvis",
    torso_frame="torso_link",
    points=_sided({
        "l_hip": RobotPoint("l_hip_roll_link"),
        "l_knee": RobotPoint("l_knee_link"),
        "l_ankle": RobotPoint("l_ankle_roll_link"),
        "l_foot": RobotPoint("l_ankle_roll_link", (0.11, 0.0, -0.02)),
        "l_shoulder": RobotPoint("l_shoulder_roll_link"),
        "l_elbow": RobotPoint("l_elbow_pitch_link"),
    }),
)

_MAPPINGS: dict[str, BodyMapping] = {
    "gr1_inspire": _GR1,
    "gr1_fourier": _GR1,
    "g1": _G1,
}


def register_body_mapping(robot_name: str, mapping: BodyMapping) -> None:
    """Use ``mapping`` for the registry robot ``robot_name`` (replaces a previous one)."""
    if not isinstance(mapping, BodyMapping):
        raise BodyMappingError(f"register_body_mapping: expected a BodyMapping, got "
                               f"{type(mapping).__name__}")
    _MAPPINGS[robot_name] = mapping


def body_mapping_for(robot: RobotModel) -> BodyMapping:
    """The body mapping of a humanoid registry robot, checked against its model.

    Raises:
        BodyMappingError: the robot is not a humanoid, has no mapping, or the mapping does not
            fit its model.
    """
    if not robot.floating_base:
        raise BodyMappingError(f"robot {robot.name!r} has no floating base: it is not a "
                               "humanoid, so a body cannot be retargeted onto it")
    mapping = _MAPPINGS.get(robot.name)
    if mapping is None:
        raise BodyMappingError(
            f"humanoid {robot.name!r} has no body mapping; built-in ones: "
            f"{', '.join(sorted(_MAPPINGS))}. Pass one (BodyIK(robot, mapping=...)) or call "
            "dyad.retarget.body_mapping.register_body_mapping")
    mapping.check(robot)
    return mapping


def known_body_mappings() -> list[str]:
    """Registry robots that have a body mapping."""
    return sorted(_MAPPINGS)
