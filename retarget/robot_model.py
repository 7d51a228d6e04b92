"""The typed description of a loaded robot that the IK solvers and the sim gate share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
