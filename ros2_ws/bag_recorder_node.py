"""bag_recorder_node: records the graph's topics to a rosbag2 MCAP bag with ``rosbags``.

Parameters: ``path`` (the bag folder to create), ``topics`` (``TOPIC`` for Dyad's own topics, or
``TOPIC:pkg/msg/Type``). Messages are recorded as serialized on the wire (raw subscriptions),
stamped with their arrival time. The bag is finished when the node stops (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import importlib
import time

from rclpy.qos import QoSProfile, ReliabilityPolicy

from dyad.errors import DyadError, DyadInputError

from .node_base import ERROR, DyadNode, run_node

DYAD_TOPICS = {
    "/dyad/command": "std_msgs/msg/String",
    "/dyad/human_motion": "trajectory_msgs/msg/MultiDOFJointTrajectory",
    "/dyad/human_markers": "visualization_msgs/msg/MarkerArray",
    "/dyad/robot/joint_trajectory": "trajectory_msgs/msg/JointTrajectory",
    "/dyad/checked/joint_trajectory": "trajectory_msgs/msg/JointTrajectory",
    "/dyad/validation": "diagnostic_msgs/msg/DiagnosticArray",
    "/dyad/status": "diagnostic_msgs/msg/DiagnosticArray",
    "/dyad/estop": "std_msgs/msg/Bool",
    "/dyad/hand_keypoints": "geometry_msgs/msg/PoseArray",
    "/dyad/teleop/joint_command": "sensor_msgs/msg/JointState",
    "/joint_trajectory_controller/joint_trajectory": "trajectory_msgs/msg/JointTrajectory",
    "/forward_position_controller/commands": "std_msgs/msg/Float64MultiArray",
}
DEFAULT_TOPICS = ["/dyad/command", "/dyad/human_motion", "/dyad/robot/joint_trajectory",
                  "/dyad/checked/joint_trajectory", "/dyad/validation", "/dyad/estop"]


def parse_topic(entry: str) -> tuple[str, str]:
    """``TOPIC`` or ``TOPIC:pkg/msg/Type`` -> (topic, type)."""
    topic, _, msgtype = entry.partition(":")
    topic = topic.strip()
    msgtype = msgtype.strip() or DYAD_TOPICS.get(topic, "")
    if not topic.startswith("/") or msgtype.count("/") != 2:
        raise DyadInputError(f"topics entry {entry!r}: expected /TOPIC (a Dyad topic) or "
                             "/TOPIC:pkg/msg/Type")
    return topic, msgtype


def message_class(msgtype: str):
    """The rclpy message class of ``pkg/msg/Type``."""
    package, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        raise DyadInputError(f"message type {msgtype} is not installed") from None


class BagRecorderNode(DyadNode):
    """See the module docstring."""

    def __init__(self):
        super().__init__("dyad_bag_recorder")
        path = self.param("path", "", "bag folder to create")
        topics = self.param("topics", DEFAULT_TOPICS, "TOPIC or TOPIC:pkg/msg/Type entries")
        self.writer = None
        try:
            from .bag_writer import McapBagWriter

            if not path:
                raise DyadInputError("path is empty: name the bag folder to create")
            parsed = [parse_topic(t) for t in topics if t]
            classes = [message_class(t) for _, t in parsed]
            self.writer = McapBagWriter(path)
            for (topic, msgtype), cls in zip(parsed, classes):
                self.writer.add_topic(topic, msgtype)
                # Volatile reliable matches reliable publishers of any durability; best effort
                # matches trackers (which publish best effort) too.
                qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
                if topic == "/dyad/hand_keypoints":
                    qos.reliability = ReliabilityPolicy.BEST_EFFORT
                self.create_subscription(cls, topic, self._recorder(topic), qos, raw=True)
        except DyadError as exc:
            self.set_state("error: configuration", f"cannot record: {exc}", level=ERROR)
            return
        self.set_state("recording", f"recording {len(parsed)} topics to {path}")

    def _recorder(self, topic: str):
        def record(data: bytes) -> None:
            self.writer.write(topic, time.time_ns(), data)
            self.count("messages")
        return self.guard(record, f"recording {topic}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def main(args=None) -> int:
    return run_node(BagRecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
