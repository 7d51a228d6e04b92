"""A node that drives a running graph and records what comes out (``dyad up``, tests, bench).

It publishes commands, e-stops and hand keypoints the way a user would, and records with
monotonic receipt times: controller commands, checked chunks, verdicts and every node's status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Pose, PoseArray
from rclpy.node import Node
from std_msgs.msg import Bool, Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory

from .graph import ROLES
from .node_base import (CHUNK_QOS, CONTROL_QOS, ESTOP_QOS, EVENT_QOS, SENSOR_QOS,
                        STATUS_TOPIC)
from .playback_node import FORWARD_TOPIC, JTC_TOPIC

READY_STATES = ("ready", "idle", "recording")


@dataclass
class Received:
    """One message with its monotonic receipt time."""

    t: float
    msg: object


@dataclass
class Recording:
    controller: list[Received] = field(default_factory=list)
    forward: list[Received] = field(default_factory=list)
    checked: list[Received] = field(default_factory=list)
    unchecked: list[Received] = field(default_factory=list)
    validation: list[Received] = field(default_factory=list)
    status: list[Received] = field(default_factory=list)


def status_fields(msg: DiagnosticArray) -> list[dict]:
    """Each status of a DiagnosticArray as a dict: name, level, message and its values."""
    out = []
    for s in msg.status:
        entry = {kv.key: kv.value for kv in s.values}
        entry.update(name=s.name, level=int.from_bytes(s.level, "little") if isinstance(
            s.level, bytes) else int(s.level), message=s.message)
        out.append(entry)
    return out


class GraphProbe(Node):
    """Publishes inputs to the graph and records its outputs (spin it with :meth:`spin_for`)."""

    def __init__(self, name: str = "dyad_probe", record_unchecked: bool = False):
        super().__init__(name)
        self.rec = Recording()
        self.command_pub = self.create_publisher(String, "/dyad/command", EVENT_QOS)
        self.estop_pub = self.create_publisher(Bool, "/dyad/estop", ESTOP_QOS)
        # what `ros2 topic pub /dyad/estop ...` uses: volatile, not latched
        self.estop_plain_pub = self.create_publisher(Bool, "/dyad/estop", 10)
        self.keypoint_pub = self.create_publisher(PoseArray, "/dyad/hand_keypoints", SENSOR_QOS)
        self.unchecked_pub = self.create_publisher(JointTrajectory, "/dyad/robot/joint_trajectory",
                                                   CHUNK_QOS)

        def keep(store):
            return lambda msg: store.append(Received(time.monotonic(), msg))

        self.create_subscription(JointTrajectory, JTC_TOPIC, keep(self.rec.controller),
                                 CONTROL_QOS)
        self.create_subscription(Float64MultiArray, FORWARD_TOPIC, keep(self.rec.forward),
                                 CONTROL_QOS)
        self.create_subscription(JointTrajectory, "/dyad/checked/joint_trajectory",
                                 keep(self.rec.checked), CHUNK_QOS)
        if record_unchecked:
            self.create_subscription(JointTrajectory, "/dyad/robot/joint_trajectory",
                                     keep(self.rec.unchecked), CHUNK_QOS)
        self.create_subscription(DiagnosticArray, "/dyad/validation", keep(self.rec.validation),
                                 EVENT_QOS)
        self.create_subscription(DiagnosticArray, STATUS_TOPIC, keep(self.rec.status), EVENT_QOS)

    def spin_for(self, seconds: float, until=None) -> bool:
        """Process messages for ``seconds`` or until ``until()`` is true; returns whether it
        became true."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and until():
                return True
            rclpy.spin_once(self, timeout_sec=min(0.01, max(0.0, deadline - time.monotonic())))
        return bool(until is not None and until())

    # -------------------------------------------------------------------- status

    def states(self) -> dict[str, str]:
        """The latest ``state`` of every node that reported one."""
        out = {}
        for r in self.rec.status:
            for s in status_fields(r.msg):
                if "state" in s:
                    out[s["name"]] = s["state"]
        return out

    def statuses_since(self, t: float, node: str | None = None) -> list[dict]:
        """Status entries received after ``t`` (of one node), heartbeats left out."""
        return [s for r in self.rec.status if r.t >= t for s in status_fields(r.msg)
                if (node is None or s["name"] == node) and s.get("event") != "heartbeat"]

    def wait_ready(self, roles, timeout_s: float = 60.0) -> dict[str, str]:
        """Wait until every role's node reports a ready state (or an error); returns the
        states."""
        names = [ROLES[r].node_name for r in roles]

        def settled():
            states = self.states()
            return all(n in states and (states[n] in READY_STATES or
                                        states[n].startswith("error")) for n in names)

        self.spin_for(timeout_s, settled)
        states = self.states()
        return {n: states.get(n, "no status") for n in names}

    # -------------------------------------------------------------------- inputs

    def send_command(self, text: str) -> float:
        """Publish a command; returns its monotonic send time."""
        t = time.monotonic()
        self.command_pub.publish(String(data=text))
        return t

    def send_estop(self, pressed: bool, latched: bool = True) -> float:
        """Press or release the e-stop (from a latched publisher, or a plain one)."""
        t = time.monotonic()
        (self.estop_pub if latched else self.estop_plain_pub).publish(Bool(data=bool(pressed)))
        return t

    def send_keypoints(self, positions_m: np.ndarray) -> float:
        """Publish (P, 3) keypoints as a PoseArray stamped now."""
        msg = PoseArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = "tracker"
        poses = []
        for x, y, z in np.asarray(positions_m, dtype=np.float64).reshape(-1, 3).tolist():
            pose = Pose()
            pose.position.x, pose.position.y, pose.position.z = x, y, z
            pose.orientation.w = 1.0
            poses.append(pose)
        msg.poses = poses
        t = time.monotonic()
        self.keypoint_pub.publish(msg)
        return t
