"""Dyad records <-> ROS 2 messages (message packages only; no rclpy node code).

Stream conventions shared by every node (docs/ros2.md):

- ``header.stamp`` of every chunk message is the stream's id: the time its command was
  received. A newer stamp preempts an older stream.
- ``points[i].time_from_start`` is the frame's time in the stream, ``(start_frame + i) / fps``;
  the frame rate comes from the points' spacing (or the ``fps`` parameter for a one-frame chunk).
- Human motion (``trajectory_msgs/MultiDOFJointTrajectory``): joint names ``AGENT/JOINT``
  (``left/wrist``, ``A/r_elbow``), one transform per joint (translation = position in metres,
  identity rotation), ``header.frame_id`` the world frame.
- Robot chunks (``trajectory_msgs/JointTrajectory``): the robot trajectory's column names.
- A chunk message with no points is the stream's *end marker*: the stream ended normally
  (retarget and the gate pass it on; the gate adds the whole stream's verdict; playback then
  reports the stream done rather than stale). It never reaches a controller.
"""

from __future__ import annotations

import json
import math
from typing import Sequence

import numpy as np

from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Quaternion, Transform, Vector3
from std_msgs.msg import ColorRGBA
from trajectory_msgs.msg import (JointTrajectory, JointTrajectoryPoint, MultiDOFJointTrajectory,
                                 MultiDOFJointTrajectoryPoint)
from visualization_msgs.msg import Marker, MarkerArray

from dyad.errors import DyadInputError
from dyad.motion import MotionChunk
from dyad.retarget.trajectory import RobotTrajectory
from dyad.skeletons import SKELETONS

StreamId = tuple[int, int]
_IDENTITY = Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)
_FPS_DIGITS = 3  # 30.000 fps from 33.333333 ms spacing


def stream_id(stamp: Time) -> StreamId:
    """The (sec, nanosec) id of a stream from its messages' ``header.stamp``."""
    return (int(stamp.sec), int(stamp.nanosec))


def is_end_marker(msg: JointTrajectory | MultiDOFJointTrajectory) -> bool:
    """True for a chunk message without points: the end of its stream."""
    return len(msg.points) == 0


def end_marker(msg_type, stamp: Time, joint_names: Sequence[str], frame_id: str = ""):
    """The end marker of the stream ``stamp`` (a ``msg_type`` message without points)."""
    msg = msg_type()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.joint_names = list(joint_names)
    return msg


def time_msg(seconds: float) -> Time:
    """``builtin_interfaces/Time`` of a time in seconds."""
    ns = int(round(seconds * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def duration_msg(seconds: float) -> Duration:
    """``builtin_interfaces/Duration`` of a non-negative time in seconds."""
    ns = int(round(max(seconds, 0.0) * 1e9))
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def seconds_of(value: Time | Duration) -> float:
    return float(value.sec) + float(value.nanosec) * 1e-9


def _frames_of(times_s: Sequence[float], default_fps: float, where: str) -> tuple[int, float]:
    """(start frame, fps) of points at ``times_s``, which must be evenly spaced."""
    if len(times_s) == 0:
        raise DyadInputError(f"{where}: no points")
    times = np.asarray(times_s, dtype=np.float64)
    if len(times) > 1:
        steps = np.diff(times)
        if not (steps > 0).all():
            raise DyadInputError(f"{where}: time_from_start must increase point to point")
        fps = round(1.0 / float(np.median(steps)), _FPS_DIGITS)
        if np.abs(steps * fps - 1.0).max() > 0.05:
            raise DyadInputError(f"{where}: points are not evenly spaced (one per frame)")
    else:
        fps = float(default_fps)
    start = times[0] * fps
    if abs(start - round(start)) > 0.05:
        raise DyadInputError(f"{where}: first point at {times[0]:.4f} s is not on a frame of "
                             f"{fps:g} fps")
    return int(round(start)), fps


# ------------------------------------------------------------------------------ human motion

def motion_chunk_to_msg(chunk: MotionChunk, stamp: Time, frame_id: str = "world"
                        ) -> MultiDOFJointTrajectory:
    """A human motion chunk as ``MultiDOFJointTrajectory`` (one point per frame)."""
    names = SKELETONS[chunk.skeleton].joint_names
    msg = MultiDOFJointTrajectory()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.joint_names = [f"{agent}/{joint}" for agent in chunk.agents for joint in names]
    joints = chunk.joints.astype(np.float64).reshape(chunk.num_frames, -1, 3).tolist()
    points = []
    for i, frame in enumerate(joints):
        point = MultiDOFJointTrajectoryPoint()
        point.transforms = [Transform(translation=Vector3(x=x, y=y, z=z), rotation=_IDENTITY)
                            for x, y, z in frame]
        point.time_from_start = duration_msg((chunk.start_frame + i) / chunk.fps)
        points.append(point)
    msg.points = points
    return msg


def _agents_and_skeleton(joint_names: Sequence[str]) -> tuple[tuple[str, ...], str]:
    agents: dict[str, list[str]] = {}
    for name in joint_names:
        agent, sep, joint = name.partition("/")
        if not sep or not agent or not joint:
            raise DyadInputError(f"human motion joint {name!r} is not AGENT/JOINT")
        agents.setdefault(agent, []).append(joint)
    skeleton = None
    for agent, joints in agents.items():
        found = next((s for s, sk in SKELETONS.items() if tuple(joints) == sk.joint_names), None)
        if found is None:
            raise DyadInputError(f"human motion agent {agent!r}: its {len(joints)} joints are "
                                 f"not a known skeleton in order ({', '.join(SKELETONS)})")
        if skeleton not in (None, found):
            raise DyadInputError(f"human motion agents use different skeletons ({skeleton}, "
                                 f"{found})")
        skeleton = found
    if skeleton is None:
        raise DyadInputError("human motion has no joints")
    flat = [f"{a}/{j}" for a in agents for j in SKELETONS[skeleton].joint_names]
    if flat != list(joint_names):
        raise DyadInputError("human motion joints must be grouped by agent")
    return tuple(agents), skeleton


def msg_to_motion_chunk(msg: MultiDOFJointTrajectory, default_fps: float = 30.0
                        ) -> MotionChunk:
    """The human motion chunk of a ``MultiDOFJointTrajectory``.

    Raises:
        DyadInputError (or MotionFileError): names, points or values break the convention.
    """
    agents, skeleton = _agents_and_skeleton(list(msg.joint_names))
    n = len(msg.joint_names)
    start, fps = _frames_of([seconds_of(p.time_from_start) for p in msg.points], default_fps,
                            "human motion")
    joints = np.empty((len(msg.points), n, 3), dtype=np.float64)
    for i, point in enumerate(msg.points):
        if len(point.transforms) != n:
            raise DyadInputError(f"human motion point {i} has {len(point.transforms)} "
                                 f"transforms for {n} joints")
        joints[i] = [(t.translation.x, t.translation.y, t.translation.z)
                     for t in point.transforms]
    j = SKELETONS[skeleton].num_joints
    return MotionChunk(joints=joints.reshape(len(msg.points), len(agents), j, 3),
                       start_frame=start, fps=fps, skeleton=skeleton, agents=agents)


_AGENT_COLOURS = ((0.2, 0.5, 1.0), (1.0, 0.45, 0.1), (0.3, 0.8, 0.3), (0.8, 0.3, 0.8))


def skeleton_markers(chunk: MotionChunk, stamp: Time, frame_id: str = "world",
                     frame: int = -1) -> MarkerArray:
    """Joints (sphere list) and bones (line list) of one frame of a chunk, per agent.

    Marker ids are fixed per agent, so each message replaces the last one in rviz/Foxglove.
    """
    skel = SKELETONS[chunk.skeleton]
    out = MarkerArray()
    for a, agent in enumerate(chunk.agents):
        pos = chunk.joints[frame, a].astype(np.float64)
        r, g, b = _AGENT_COLOURS[a % len(_AGENT_COLOURS)]
        colour = ColorRGBA(r=r, g=g, b=b, a=1.0)
        points = [Point(x=x, y=y, z=z) for x, y, z in pos.tolist()]
        joints = Marker()
        joints.header.stamp, joints.header.frame_id = stamp, frame_id
        joints.ns, joints.id = f"dyad/{agent}/joints", 2 * a
        joints.type, joints.action = Marker.SPHERE_LIST, Marker.ADD
        joints.pose.orientation = _IDENTITY
        size = 0.012 if chunk.skeleton == "hand21" else 0.03
        joints.scale = Vector3(x=size, y=size, z=size)
        joints.color = colour
        joints.points = points
        bones = Marker()
        bones.header.stamp, bones.header.frame_id = stamp, frame_id
        bones.ns, bones.id = f"dyad/{agent}/bones", 2 * a + 1
        bones.type, bones.action = Marker.LINE_LIST, Marker.ADD
        bones.pose.orientation = _IDENTITY
        bones.scale = Vector3(x=size / 3, y=0.0, z=0.0)
        bones.color = colour
        bones.points = [points[i] for pair in skel.bones for i in pair]
        out.markers += [joints, bones]
    return out


# ------------------------------------------------------------------------------ robot chunks

def robot_chunk_to_msg(traj: RobotTrajectory, stamp: Time) -> JointTrajectory:
    """A robot chunk as ``JointTrajectory`` with stream times (see the module docstring)."""
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.joint_names = list(traj.joint_names)
    msg.points = [JointTrajectoryPoint(positions=row,
                                       time_from_start=duration_msg((traj.start_frame + i)
                                                                    / traj.fps))
                  for i, row in enumerate(traj.qpos.tolist())]
    return msg


def msg_to_robot_chunk(msg: JointTrajectory, instances: tuple[tuple[str, str], ...],
                       joint_names: Sequence[str], default_fps: float = 30.0,
                       source: str = "") -> RobotTrajectory:
    """The robot chunk of a ``JointTrajectory``, checked against the graph's columns.

    Raises:
        DyadInputError (or MotionFileError): other joints, ragged or non-finite points.
    """
    if tuple(msg.joint_names) != tuple(joint_names):
        raise DyadInputError(f"robot chunk joints {list(msg.joint_names)[:3]}... do not match "
                             f"the configured robots' {list(joint_names)[:3]}... "
                             f"({len(msg.joint_names)} vs {len(joint_names)} joints)")
    start, fps = _frames_of([seconds_of(p.time_from_start) for p in msg.points], default_fps,
                            "robot chunk")
    rows = [list(p.positions) for p in msg.points]
    if any(len(r) != len(joint_names) for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != len(joint_names))
        raise DyadInputError(f"robot chunk point {bad} has {len(rows[bad])} positions for "
                             f"{len(joint_names)} joints")
    return RobotTrajectory(qpos=np.array(rows, dtype=np.float64), joint_names=tuple(joint_names),
                           fps=fps, instances=instances, start_frame=start, source=source)


def controller_trajectory(joint_names: Sequence[str], qpos: np.ndarray, dt_s: float,
                          stamp: Time | None = None, first_at_s: float | None = None
                          ) -> JointTrajectory:
    """A ``JointTrajectory`` for a ros2_control JointTrajectoryController.

    Args:
        joint_names: the controller's joints.
        qpos: (T, N) positions.
        dt_s: spacing of the points.
        stamp: start time (zero: start on receipt).
        first_at_s: time_from_start of the first point (default ``dt_s``: the controller gets one
            frame to move from where it is to the first point).
    """
    msg = JointTrajectory()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.joint_names = list(joint_names)
    t0 = dt_s if first_at_s is None else first_at_s
    msg.points = [JointTrajectoryPoint(positions=row, time_from_start=duration_msg(t0 + i * dt_s))
                  for i, row in enumerate(np.atleast_2d(qpos).tolist())]
    return msg


# ------------------------------------------------------------------------------ verdicts

def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def diagnostic_status(name: str, level: bytes, message: str, values: dict | None = None,
                      hardware_id: str = "dyad") -> DiagnosticStatus:
    """One ``DiagnosticStatus``; ``level`` is ``DiagnosticStatus.OK``, ``WARN``, ``ERROR`` or
    ``STALE``."""
    return DiagnosticStatus(level=level, name=name, message=message,
                            hardware_id=hardware_id,
                            values=[KeyValue(key=str(k), value=_value(v))
                                    for k, v in (values or {}).items()])


def verdict_to_diagnostics(report, stamp: Time, stream: StreamId, forwarded: bool,
                           name: str = "dyad/validation") -> DiagnosticArray:
    """A gate verdict of one chunk (a :class:`~dyad.sim.report.ValidationReport`) as a
    ``DiagnosticArray``: level OK when passed, ERROR otherwise, each violation a key/value."""
    values = {"stream": f"{stream[0]}.{stream[1]:09d}", "passed": bool(report.passed),
              "forwarded": bool(forwarded), "frame_start": report.frame_start,
              "frame_end": report.frame_end, "robot": report.robot,
              "real_time_factor": float(report.summary.get("real_time_factor", float("nan")))}
    for i, v in enumerate(report.violations):
        values[f"violation_{i}"] = v.describe()
    frames = f"frames {report.frame_start}-{report.frame_end - 1}"
    message = (f"{frames}: passed" if report.passed else
               f"{frames}: failed: {report.violations[0].describe()}" if report.violations
               else f"{frames}: failed")
    level = DiagnosticStatus.OK if report.passed else DiagnosticStatus.ERROR
    out = DiagnosticArray()
    out.header.stamp = stamp
    out.status = [diagnostic_status(name, level, message, values, hardware_id=report.robot)]
    return out


def pose_array_to_hands(positions_m: np.ndarray, hands: Sequence[str], joints_per_hand: int
                        ) -> dict[str, np.ndarray]:
    """Split (P, 3) pose positions into ``len(hands)`` blocks of ``joints_per_hand`` keypoints.

    Raises:
        DyadInputError: P is not ``len(hands) * joints_per_hand``.
    """
    expected = len(hands) * joints_per_hand
    if positions_m.shape != (expected, 3):
        raise DyadInputError(f"hand keypoints: {positions_m.shape[0]} poses, expected {expected} "
                             f"({joints_per_hand} per hand for {', '.join(hands)})")
    return {h: positions_m[k * joints_per_hand:(k + 1) * joints_per_hand]
            for k, h in enumerate(hands)}
