"""mock_controller_node: a stand-in for the robot's ros2_control controllers (no hardware here).

It is a mock and is named as one: it subscribes to the topics a JointTrajectoryController
(``/joint_trajectory_controller/joint_trajectory``) and a forward position controller
(``/forward_position_controller/commands``) listen on, records every command it receives
(``record_path``: one JSON object per line), and publishes ``/joint_states`` with the position it
was last told to reach (trajectories are followed in time, without dynamics), so playback can
start from where the "robot" is.
"""

from __future__ import annotations

import json
import time

import numpy as np
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from .conversions import seconds_of
from .node_base import CONTROL_QOS, SENSOR_QOS, DyadNode, run_node
from .playback_node import FORWARD_TOPIC, JTC_TOPIC


class MockControllerNode(DyadNode):
    """See the module docstring."""

    def __init__(self):
        super().__init__("dyad_mock_controller")
        self.joint_names = self.param("joints", [""], "joint names of forward commands")
        self.joint_names = [j for j in self.joint_names if j]
        record_path = self.param("record_path", "", "JSON-lines file of received commands")
        rate_hz = self.param("joint_states_rate_hz", 50.0, "rate of /joint_states")
        self._record = open(record_path, "a", encoding="utf-8") if record_path else None
        self._trajectory: tuple[float, list[str], np.ndarray, np.ndarray] | None = None
        self._position: dict[str, float] = {}
        self.create_subscription(JointTrajectory, JTC_TOPIC,
                                 self.guard(self.on_trajectory, "trajectory"), CONTROL_QOS)
        self.create_subscription(Float64MultiArray, FORWARD_TOPIC,
                                 self.guard(self.on_forward, "forward command"), CONTROL_QOS)
        self.state_pub = self.create_publisher(JointState, "/joint_states", SENSOR_QOS)
        self.create_timer(1.0 / max(rate_hz, 1.0), self.guard(self.publish_state, "state"))
        self.set_state("ready", "mock controller (no hardware): recording commands")

    def _write(self, entry: dict) -> None:
        if self._record is not None:
            self._record.write(json.dumps(entry) + "\n")
            self._record.flush()

    def on_trajectory(self, msg: JointTrajectory) -> None:
        now = time.monotonic()
        times = np.array([seconds_of(p.time_from_start) for p in msg.points])
        q = np.array([p.positions for p in msg.points], dtype=np.float64)
        self.count("trajectories")
        self._write({"t": time.time(), "topic": JTC_TOPIC, "joints": list(msg.joint_names),
                     "stamp": seconds_of(msg.header.stamp), "times": times.tolist(),
                     "positions": q.tolist()})
        if len(q):
            self._trajectory = (now, list(msg.joint_names), times, q)

    def on_forward(self, msg: Float64MultiArray) -> None:
        self.count("forward_commands")
        self._write({"t": time.time(), "topic": FORWARD_TOPIC, "data": list(msg.data)})
        if self.joint_names and len(msg.data) == len(self.joint_names):
            self._trajectory = None
            self._position.update(zip(self.joint_names, msg.data))

    def publish_state(self) -> None:
        if self._trajectory is not None:
            start, names, times, q = self._trajectory
            t = time.monotonic() - start
            row = np.array([np.interp(t, times, q[:, j]) for j in range(q.shape[1])])
            self._position.update(zip(names, row.tolist()))
        if self._position:
            msg = JointState()
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.name = list(self._position)
            msg.position = list(self._position.values())
            self.state_pub.publish(msg)

    def close(self) -> None:
        if self._record is not None:
            self._record.close()


def main(args=None) -> int:
    return run_node(MockControllerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
