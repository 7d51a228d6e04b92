"""Thumb clearance in the hand solver (retarget/finger_clearance.py): a human fist, OK ring and
pinch no longer drive the robot thumb into the index, and a pinch still closes."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.retarget.hand_ik import HandIK, HandIKConfig
from dyad.retarget.registry import load_robot
from dyad.retarget.trajectory import RobotTrajectory
from dyad.sim.gate import validate


def _fist_clip() -> np.ndarray:
    """The right hand of a procedural ``make_fists`` clip, in the hand frame: the human thumb
    folds over the index and middle fingers, where the robot's thick thumb meets the index."""
    from dyad.retarget.input_conventions import to_hand_frame
    from dyad.training.synth.dataset import clip_seed
    from dyad.training.synth.types import interactions

    types = interactions("bimanual")
    k = [t.label for t in types].index("make_fists")
    record = types[k].generate(np.random.default_rng(clip_seed(3, k).spawn(2)[0]))
    hand = record.joints[:, record.agents.index("right")]
    return to_hand_frame(hand, "hand21_world", "right")


def _penetration(robot, solver: HandIK, clip: np.ndarray) -> tuple[float, RobotTrajectory]:
    q = [solver.solve(f) for f in clip]
    names = list(solver.joint_names)
    rows = np.zeros((len(q), robot.dof))
    for j, name in enumerate(robot.joint_names):
        rows[:, j] = [qq[names.index(name)] for qq in q]
    traj = RobotTrajectory(rows, robot.joint_names, 30.0, ((robot.name, robot.name),))
    report = validate(traj)
    depth = max([v.measured for v in report.of_kind("self_collision")], default=0.0)
    return depth, traj


def test_a_fist_keeps_the_thumb_out_of_the_fingers(right):
    clip = _fist_clip()
    plain = HandIK.from_robot_model(right, "right", HandIKConfig(thumb_clearance_m=0.0))
    kept = HandIK.from_robot_model(right, "right")
    depth_plain, traj_plain = _penetration(right, plain, clip)
    depth_kept, traj = _penetration(right, kept, clip)
    assert depth_plain > 0.006  # the clip really drives the thumb into the fingers
    assert depth_kept < 0.3 * depth_plain and depth_kept <= 0.002, (depth_plain, depth_kept)
    # still a fist: the index closes as far as without the clearance (the thumb gives way)
    j = right.joint_names.index("joint_r_index_proximal")
    assert traj.qpos[:, j].max() > 0.5 * right.upper[j]
    assert traj.qpos[:, j].max() >= 0.9 * traj_plain.qpos[:, j].max()


def test_clearance_pairs_leave_neighbours_out_and_rest_is_clear(right):
    ik = HandIK.from_robot_model(right, "right")
    clearance = ik._thumb_clearance
    assert clearance is not None and clearance.num_pairs > 100
    names = {(ik.model.frames[int(clearance._frames[a])].name,
              ik.model.frames[int(clearance._frames[b])].name)
             for a, b in zip(clearance._a, clearance._b)}
    assert ("r_thumb_distal", "r_index_distal") in names
    assert ("r_thumb_proximal_2", "r_palm") in names
    # the thumb's first link is hinged on the palm: neighbours, not a pair
    assert ("r_thumb_proximal_1", "r_palm") not in names
    import pinocchio as pin

    q = ik.qpos_from_independent(ik.independent_rest)
    pin.computeJointJacobians(ik.model, ik.data, q)
    pin.updateFramePlacements(ik.model, ik.data)
    clearance.new_frame()
    rows = clearance.rows(ik.data, ik._M, 10.0)
    assert rows is None or np.all(rows[1] >= 0)


def test_off_without_link_spheres():
    import pinocchio as pin

    robot = load_robot("inspire_right")
    ik = HandIK(robot.pin_model, robot.hands["right"], robot.mimic)
    assert ik._thumb_clearance is None
    assert isinstance(pin.neutral(ik.model), np.ndarray)
