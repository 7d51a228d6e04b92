"""retarget_node: human motion chunks -> robot chunks for the configured robots.

Subscribes ``/dyad/human_motion`` (trajectory_msgs/MultiDOFJointTrajectory); publishes
``/dyad/robot/joint_trajectory`` (trajectory_msgs/JointTrajectory, same stamp and frame times),
which is *unchecked*: only the validator node reads it.

Parameters: ``robots`` (``INSTANCE=ROBOT`` entries, shared by the whole graph), ``sources``
(which human hand drives which instance, see ``chunk_retargeter.py``), ``convention``,
``limit_speed`` (default true: joints keep to 90 % of the sim gate's speed limits as chunks
are retargeted, since a live stream cannot be slowed down in time as offline clips are).
Chunks of an older stream than the current one are dropped; a new stream starts cold.
"""

from __future__ import annotations

import time

from trajectory_msgs.msg import JointTrajectory, MultiDOFJointTrajectory

from dyad.errors import DyadError

from .chunk_retargeter import ChunkRetargeter
from .conversions import (end_marker, is_end_marker, msg_to_motion_chunk, robot_chunk_to_msg,
                          stream_id)
from .node_base import CHUNK_QOS, ERROR, OK, DyadNode, run_node

DEFAULT_ROBOTS = ["left=inspire_left", "right=inspire_right"]


class RetargetNode(DyadNode):
    """See the module docstring."""

    def __init__(self):
        super().__init__("dyad_retarget")
        robots = self.param("robots", DEFAULT_ROBOTS, "INSTANCE=ROBOT entries")
        sources = self.param("sources", [""], "INSTANCE=AGENT[:SIDE] entries ('' = by name)")
        convention = self.param("convention", "hand21_world", "keypoint convention of motion")
        self.fps = self.param("fps", 30.0, "frame rate of one-frame chunks")
        limit_speed = self.param("limit_speed", True,
                                 "keep joints to the sim gate's speed limits while retargeting")
        self.pub = self.create_publisher(JointTrajectory, "/dyad/robot/joint_trajectory",
                                         CHUNK_QOS)
        self.retargeter = None
        self.current = None
        try:
            from .robot_set import load_robot_set

            robot_set = load_robot_set(robots)
            limits = None
            if limit_speed:
                from dyad.sim.thresholds import default_thresholds

                limits = default_thresholds().time_scaling_config()
            self.retargeter = ChunkRetargeter(robot_set, [s for s in sources if s], convention,
                                              speed_limits=limits)
        except DyadError as exc:
            self.set_state("error: configuration", f"cannot retarget: {exc}", level=ERROR)
            return
        self.create_subscription(MultiDOFJointTrajectory, "/dyad/human_motion",
                                 self.guard(self.on_motion, "human motion chunk"), CHUNK_QOS)
        self.set_state("ready", f"retargeting onto {', '.join(robots)}")

    def on_motion(self, msg: MultiDOFJointTrajectory) -> None:
        stream = stream_id(msg.header.stamp)
        if self.current is not None and stream < self.current:
            self.count("dropped_old_stream")
            return
        if is_end_marker(msg):
            if stream == self.current:
                self.pub.publish(end_marker(JointTrajectory, msg.header.stamp,
                                            self.retargeter.robot_set.joint_names))
            return
        t0 = time.perf_counter()
        chunk = msg_to_motion_chunk(msg, self.fps)
        if stream != self.current:
            self.current = stream
            self.set_state("streaming", f"stream {stream[0]}.{stream[1]:09d}")
        traj = self.retargeter.retarget(chunk, stream, source="/dyad/human_motion")
        self.pub.publish(robot_chunk_to_msg(traj, msg.header.stamp))
        self.count("chunks")
        held = int((traj.status == "held").sum())
        if held:
            self.count("held_frames", held)
            self.report(OK, f"{held} of {traj.num_frames} frames held (bad input)",
                        event="held_frames",
                        retarget_ms=(time.perf_counter() - t0) * 1000)


def main(args=None) -> int:
    return run_node(RetargetNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
