"""Dyad records <-> ROS 2 messages (ros2_ws/conversions.py): round trips through CDR bytes, the
stream conventions, and errors for messages that break them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from dyad.errors import DyadInputError  # noqa: E402
from dyad.motion import MotionChunk  # noqa: E402
from dyad.retarget.trajectory import RobotTrajectory  # noqa: E402
from dyad.ros2.conversions import (controller_trajectory, motion_chunk_to_msg,  # noqa: E402
                                   msg_to_motion_chunk, msg_to_robot_chunk, pose_array_to_hands,
                                   robot_chunk_to_msg, seconds_of, skeleton_markers, stream_id,
                                   time_msg, verdict_to_diagnostics)
from dyad.skeletons import BODY22_HANDS_REST, HAND21_REST_LEFT, HAND21_REST_RIGHT  # noqa: E402

STAMP = Time(sec=1700000000, nanosec=123)


def _wire(msg):
    """The message after a trip through CDR bytes, as a subscriber gets it."""
    return deserialize_message(serialize_message(msg), type(msg))


def _bimanual_chunk(start=16, frames=5):
    rng = np.random.default_rng(0)
    joints = np.stack([HAND21_REST_LEFT, HAND21_REST_RIGHT])[None] + \
        rng.normal(0, 0.002, size=(frames, 2, 21, 3))
    return MotionChunk(joints, start, 30.0, "hand21", ("left", "right"))


def test_human_motion_round_trip_keeps_frames_agents_and_times():
    chunk = _bimanual_chunk()
    msg = _wire(motion_chunk_to_msg(chunk, STAMP, "world"))
    assert stream_id(msg.header.stamp) == (1700000000, 123) and msg.header.frame_id == "world"
    assert msg.joint_names[0] == "left/wrist" and msg.joint_names[21] == "right/wrist"
    assert len(msg.points) == 5 and len(msg.points[0].transforms) == 42
    assert seconds_of(msg.points[0].time_from_start) == pytest.approx(16 / 30)
    back = msg_to_motion_chunk(msg)
    assert (back.start_frame, back.fps, back.skeleton, back.agents) == (16, 30.0, "hand21",
                                                                       ("left", "right"))
    np.testing.assert_allclose(back.joints, chunk.joints, atol=1e-6)


def test_duet_round_trip_and_single_frame_chunks_use_the_default_fps():
    joints = np.stack([BODY22_HANDS_REST, BODY22_HANDS_REST + [1.0, 0, 0]])[None]
    chunk = MotionChunk(joints, 7, 25.0, "body22+hands", ("A", "B"))
    msg = _wire(motion_chunk_to_msg(chunk, STAMP))
    back = msg_to_motion_chunk(msg, default_fps=25.0)
    assert (back.start_frame, back.skeleton, back.agents) == (7, "body22+hands", ("A", "B"))
    np.testing.assert_allclose(back.joints, chunk.joints, atol=1e-6)


@pytest.mark.parametrize("damage, message", [
    (lambda m: m.joint_names.__setitem__(0, "wrist"), "AGENT/JOINT"),
    (lambda m: m.joint_names.__setitem__(3, "left/elbow"), "not a known skeleton"),
    (lambda m: setattr(m, "points", []), "no points"),
    (lambda m: m.points[1].transforms.pop(), "transforms"),
    (lambda m: setattr(m.points[2], "time_from_start", m.points[0].time_from_start),
     "increase"),
    (lambda m: setattr(m.points[0].transforms[3].translation, "x", float("nan")), "non-finite"),
    (lambda m: setattr(m.points[0].transforms[3].translation, "x", 1e4), "metres"),
])
def test_malformed_human_motion_is_an_input_error(damage, message):
    msg = _wire(motion_chunk_to_msg(_bimanual_chunk(), STAMP))
    damage(msg)
    with pytest.raises(DyadInputError, match=message):
        msg_to_motion_chunk(msg)


def test_robot_chunk_round_trip_and_checks():
    names = ("left/a", "left/b", "right/a")
    instances = (("left", "x"), ("right", "y"))
    traj = RobotTrajectory(np.arange(12.0).reshape(4, 3) / 10, names, 30.0, instances,
                           start_frame=24)
    msg = _wire(robot_chunk_to_msg(traj, STAMP))
    back = msg_to_robot_chunk(msg, instances, names)
    assert back.start_frame == 24 and back.fps == 30.0 and back.instances == instances
    np.testing.assert_allclose(back.qpos, traj.qpos)
    with pytest.raises(DyadInputError, match="do not match"):
        msg_to_robot_chunk(msg, instances, names[::-1])
    msg.points[2].positions = [0.0, 0.0]
    with pytest.raises(DyadInputError, match="point 2 has 2 positions"):
        msg_to_robot_chunk(msg, instances, names)
    uneven = _wire(robot_chunk_to_msg(traj, STAMP))
    uneven.points[3].time_from_start.sec += 1
    with pytest.raises(DyadInputError, match="evenly spaced"):
        msg_to_robot_chunk(uneven, instances, names)


def test_controller_trajectory_starts_one_frame_after_receipt():
    msg = _wire(controller_trajectory(["a", "b"], np.zeros((3, 2)), 1 / 30))
    assert [seconds_of(p.time_from_start) for p in msg.points] == pytest.approx(
        [1 / 30, 2 / 30, 3 / 30])
    assert seconds_of(msg.header.stamp) == 0.0   # zero stamp: start on receipt
    hold = controller_trajectory(["a"], np.ones(1), 0.01, stamp=time_msg(5.5), first_at_s=0.0)
    assert len(hold.points) == 1 and seconds_of(hold.header.stamp) == pytest.approx(5.5)


def test_markers_show_every_joint_and_bone_per_agent():
    chunk = _bimanual_chunk()
    msg = _wire(skeleton_markers(chunk, STAMP, "world"))
    assert isinstance(msg, MarkerArray) and len(msg.markers) == 4
    joints, bones = msg.markers[0], msg.markers[1]
    assert joints.type == Marker.SPHERE_LIST and len(joints.points) == 21
    assert bones.type == Marker.LINE_LIST and len(bones.points) == 2 * 20
    assert joints.points[0].x == pytest.approx(float(chunk.joints[-1, 0, 0, 0]))
    assert {m.id for m in msg.markers} == {0, 1, 2, 3}


def test_verdicts_carry_pass_fail_and_violations():
    from dyad.sim.report import ValidationReport, Violation

    bad = Violation("joint_velocity_limit", 10, 12, ("left/a",), 12.0, 8.0, "rad/s")
    report = ValidationReport(passed=False, violations=[bad], summary={}, robot="multi",
                              instances=(("left", "x"),), frame_start=8, frame_end=16, fps=30.0)
    msg = _wire(verdict_to_diagnostics(report, STAMP, (5, 6), forwarded=False))
    status = msg.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == DiagnosticStatus.ERROR and "joint_velocity_limit" in status.message
    assert values["passed"] == "False" and values["forwarded"] == "False"
    assert values["stream"] == "5.000000006" and values["frame_start"] == "8"
    assert "12 rad/s (limit 8 rad/s)" in values["violation_0"]


def test_pose_arrays_split_into_hands():
    points = np.arange(42 * 3, dtype=float).reshape(42, 3)
    hands = pose_array_to_hands(points, ["left", "right"], 21)
    np.testing.assert_array_equal(hands["right"], points[21:])
    with pytest.raises(DyadInputError, match="41 poses, expected 42"):
        pose_array_to_hands(points[:41], ["left", "right"], 21)
