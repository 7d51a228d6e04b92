"""Vendor joint speeds in the gate's thresholds: the Inspire fingers' bend speed, the coupled
distal joints consistent with the linkage, and a finger closing faster than the hand can fails."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.retarget.registry import load_robot
from dyad.retarget.trajectory import RobotTrajectory
from dyad.sim.gate import validate
from dyad.sim.synthetic_trajectories import apply_mimic, open_pose
from dyad.sim.thresholds import default_thresholds

FINGER_BEND_RAD_S = np.deg2rad(260.0)  # Inspire's palm-finger bend speed (thresholds.yaml)


@pytest.mark.parametrize("robot_name", ["inspire_right", "inspire_left", "gr1_inspire"])
def test_inspire_finger_limits_follow_the_vendor_speed_and_the_linkage(robot_name):
    robot = load_robot(robot_name)
    names = list(robot.joint_names)
    limits = dict(zip(names, default_thresholds().joint_limits(
        robot_name, names, np.zeros(len(names), dtype=bool), "velocity")))
    default = default_thresholds()["limits"]["velocity_rad_s"]
    leaders = [n for n in names if n.endswith("_proximal") and "thumb" not in n]
    assert len(leaders) == 4 * len(robot.hands)
    for leader in leaders:
        assert limits[leader] == pytest.approx(FINGER_BEND_RAD_S, abs=0.01)
    for follower, leader, multiplier, _ in robot.mimic:
        if leader in leaders:  # the distal joint turns `multiplier` times as fast
            assert limits[follower] == pytest.approx(multiplier * limits[leader], abs=0.01)
    # no vendor figure for the thumb: it keeps the generic default
    assert all(limits[n] == default for n in names if "thumb" in n)


def _index_closing(robot, speed_rad_s: float) -> RobotTrajectory:
    names = list(robot.joint_names)
    q = np.tile(open_pose(robot), (60, 1))
    j = names.index("joint_r_index_proximal")
    q[10:, j] = np.minimum(np.arange(50) * speed_rad_s / 30.0, 1.2)
    q = apply_mimic(robot, q)
    return RobotTrajectory(q, robot.joint_names, 30.0, ((robot.name, robot.name),))


def test_an_index_closing_faster_than_the_hand_can_fails():
    robot = load_robot("inspire_right")
    fast = validate(_index_closing(robot, 6.0))
    hits = fast.of_kind("joint_velocity_limit")
    assert {v.subjects[0] for v in hits} == {"joint_r_index_proximal", "joint_r_index_distal"}
    assert hits[0].limit == pytest.approx(4.54) or hits[0].limit == pytest.approx(4.83)
    slow = validate(_index_closing(robot, 4.0))
    assert "joint_velocity_limit" not in slow.kinds(), slow.describe()
