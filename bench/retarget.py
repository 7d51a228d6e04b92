"""``dyad bench retarget``: hand retargeting speed and quality, side by side with dex-retargeting.

For each robot hand of the dex-urdf collection (``shared/data/dex-urdf``), the real MediaPipe
clip ``shared/data/mediapipe_right_hand_621.npy`` (621 frames, operator frame) is retargeted
frame by frame, warm-started, by Dyad's :class:`~dyad.retarget.hand_ik.HandIK` and by
dex-retargeting's vector retargeting (its teleop config for the same hand, NLopt SLSQP, same
URDF, same scale, its low-pass filter off so both are compared raw). Both results are scored by
the same functions (``HandIK.errors``): fingertip and vector errors (mm), the thumb-index gap on
frames where the human tips touch, and jerk. A reachable-target test (random robot poses ->
forward kinematics -> targets -> solve from a perturbed start) measures accuracy apart from
reachability.

Run: ``dyad bench retarget --json`` (or ``python -m dyad.bench.retarget --json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAME = "retarget"
HELP = "hand retargeting: ms per frame, errors, pinch, jerk; vs dex-retargeting"

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FPS = 30.0


@dataclass(frozen=True)
class DexUrdfHand:
    """A right hand of the dex-urdf collection as Dyad maps it.

    Attributes:
        urdf: path under ``dex-urdf/hands``.
        dex_config: dex-retargeting's vector teleop config for the same hand.
        wrist_frame: robot frame for the human wrist (the configs' vector origin).
        keypoint_frames: hand21 index -> robot frame (the configs' vector tasks).
        scale: human-to-robot scale (the configs' ``scaling_factor``).
        locked_joints: joints held at zero (the Shadow hand's wrist: not a finger joint).
    """

    urdf: str
    dex_config: str
    wrist_frame: str
    keypoint_frames: dict
    scale: float
    locked_joints: tuple[str, ...] = ()


_TIPS5 = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")
DEX_URDF_HANDS: dict[str, DexUrdfHand] = {
    "ability_right": DexUrdfHand(
        "ability_hand/ability_hand_right.urdf", "ability_hand_right.yml", "base_link",
        dict(zip((4, 8, 12, 16, 20), _TIPS5)), 1.0),
    "allegro_right": DexUrdfHand(
        "allegro_hand/allegro_hand_right.urdf", "allegro_hand_right.yml", "wrist",
        {4: "link_15.0_tip", 8: "link_3.0_tip", 12: "link_7.0_tip", 16: "link_11.0_tip"}, 1.6),
    "inspire_right": DexUrdfHand(
        "inspire_hand/inspire_hand_right.urdf", "inspire_hand_right.yml", "base",
        dict(zip((4, 8, 12, 16, 20), _TIPS5)), 1.15),
    "leap_right": DexUrdfHand(
        "leap_hand/leap_hand_right.urdf", "leap_hand_right.yml", "base",
        {4: "thumb_tip_head", 8: "index_tip_head", 12: "middle_tip_head", 16: "ring_tip_head"},
        1.6),
    "schunk_svh_right": DexUrdfHand(
        "schunk_hand/schunk_svh_hand_right.urdf", "schunk_svh_hand_right.yml",
        "right_hand_base_link",
        {4: "thtip", 8: "fftip", 12: "mftip", 16: "rftip", 20: "lftip"}, 1.2),
    "shadow_right": DexUrdfHand(
        "shadow_hand/shadow_hand_right.urdf", "shadow_hand_right.yml", "palm",
        {4: "thtip", 8: "fftip", 12: "mftip", 16: "rftip", 20: "lftip",
         2: "thmiddle", 6: "ffmiddle", 10: "mfmiddle", 14: "rfmiddle", 18: "lfmiddle"},
        1.2, locked_joints=("WRJ1", "WRJ2")),
}


def load_dex_urdf_hand(name: str, data_dir: str | Path | None = None, config=None):
    """A :class:`HandIK` for one dex-urdf right hand.

    The dex-urdf hands are modelled in dex-retargeting's operator frame (their URDF root: z to
    the fingers, y to the thumb, x out of the palm), so the hand-to-wrist rotation is the
    operator rotation seen from the wrist frame.

    Args:
        name: a key of :data:`DEX_URDF_HANDS`.
        data_dir: the folder holding ``dex-urdf`` (default: ``shared/data`` beside the repo).
        config: a :class:`HandIKConfig`.
    """
    import pinocchio as pin

    from dyad.errors import DyadInputError
    from dyad.retarget.hand_ik import HandIK, parse_urdf_mimic
    from dyad.retarget.input_conventions import ROTATION_HAND_TO_OPERATOR
    from dyad.retarget.robot_model import HandMapping

    if name not in DEX_URDF_HANDS:
        raise DyadInputError(f"unknown dex-urdf hand {name!r}; known: {', '.join(DEX_URDF_HANDS)}")
    spec = DEX_URDF_HANDS[name]
    path = Path(data_dir or SHARED_DATA) / "dex-urdf" / "hands" / spec.urdf
    if not path.is_file():
        raise DyadInputError(f"dex-urdf hand {name!r}: {path} does not exist")
    model = pin.buildModelFromUrdf(str(path))
    data = model.createData()
    pin.framesForwardKinematics(model, data, pin.neutral(model))
    rot_world_from_wrist = data.oMf[model.getFrameId(spec.wrist_frame)].rotation
    fingers = tuple(n for n in list(model.names)[1:] if n not in spec.locked_joints)
    mapping = HandMapping(
        side="right", wrist_frame=spec.wrist_frame,
        keypoint_frames={0: spec.wrist_frame, **spec.keypoint_frames},
        finger_joints=fingers,
        rotation_hand_to_wrist=rot_world_from_wrist.T @ ROTATION_HAND_TO_OPERATOR,
        scale=spec.scale)
    return HandIK(model, mapping, parse_urdf_mimic(path.read_text()), config,
                  locked_qpos={j: 0.0 for j in spec.locked_joints})
