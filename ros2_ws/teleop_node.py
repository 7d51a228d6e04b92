"""teleop_node: tracked hand keypoints -> robot hand joints, frame by frame at the input rate.

Subscribes ``/dyad/hand_keypoints`` (geometry_msgs/PoseArray, best effort: ``len(hands)`` blocks
of keypoints, 21 per hand for hand21-ordered conventions, 26 for ``openxr``; only positions are
read); publishes ``/dyad/teleop/joint_command`` (sensor_msgs/JointState, the input's stamp, the
graph's joint columns), which playback sends to the controller through its limits and e-stop.

Parameters: ``robots`` (one robot hand per instance), ``hands`` (the instance each block of the
PoseArray drives, in order), ``convention`` (``retarget/input_conventions.py``). A bad frame (a
lost hand, NaN keypoints, a mirrored-looking hand) holds that hand's last pose; a PoseArray of
the wrong size holds everything; both are counted and reported (at most once a second).
"""

from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import JointState

from dyad.errors import DyadError, DyadInputError

from .conversions import pose_array_to_hands
from .node_base import CONTROL_QOS, ERROR, SENSOR_QOS, WARN, DyadNode, run_node
from .retarget_node import DEFAULT_ROBOTS

JOINTS_PER_HAND = {"openxr": 26}


class TeleopNode(DyadNode):
    """See the module docstring."""

    def __init__(self):
        super().__init__("dyad_teleop")
        robots = self.param("robots", DEFAULT_ROBOTS, "INSTANCE=ROBOT entries")
        self.hand_order = self.param("hands", ["left", "right"],
                                     "instance driven by each block of the PoseArray, in order")
        self.convention = self.param("convention", "hand21_world",
                                     "keypoint convention of the tracker")
        self.report_period_s = self.param("report_period_s", 1.0,
                                          "at most one bad-frame report per this period")
        self.pub = self.create_publisher(JointState, "/dyad/teleop/joint_command", CONTROL_QOS)
        self.joints_per_hand = JOINTS_PER_HAND.get(self.convention, 21)
        self._last_report_s = -1e9
        self._window_start_s = time.monotonic()
        self._window_frames = 0
        self.rate_hz = 0.0
        self.step_ms_max = 0.0
        try:
            if self.convention == "smplx":
                raise DyadInputError("convention smplx is whole-body; teleop takes per-hand "
                                     "keypoints (hand21, mediapipe_*, mano, openxr)")
            from .robot_hands import RobotHands
            from .robot_set import load_robot_set

            self.robot_set = load_robot_set(robots)
            self.hands = RobotHands(self.robot_set, self.convention)
            unknown = [h for h in self.hand_order if h not in self.hands.instances]
            if unknown or not self.hand_order:
                raise DyadInputError(f"hands {self.hand_order}: each must be a robot instance "
                                     f"({', '.join(self.hands.instances)})")
        except DyadError as exc:
            self.set_state("error: configuration", f"cannot teleoperate: {exc}", level=ERROR)
            return
        self.create_subscription(PoseArray, "/dyad/hand_keypoints",
                                 self.guard(self.on_keypoints, "hand keypoints"), SENSOR_QOS)
        self.set_state("ready", f"teleop {self.convention} -> {', '.join(robots)}")

    def status_values(self) -> dict:
        return {**super().status_values(), "rate_hz": round(self.rate_hz, 1),
                "step_ms_max": round(self.step_ms_max, 3)}

    def _bad_frame(self, message: str) -> None:
        self.count("bad_frames")
        now = time.monotonic()
        if now - self._last_report_s >= self.report_period_s:
            self._last_report_s = now
            self.report(WARN, message, event="bad_frame")

    def on_keypoints(self, msg: PoseArray) -> None:
        t0 = time.perf_counter()
        positions = np.array([(p.position.x, p.position.y, p.position.z) for p in msg.poses],
                             dtype=np.float64).reshape(-1, 3)
        try:
            blocks = pose_array_to_hands(positions, self.hand_order, self.joints_per_hand)
        except DyadInputError as exc:
            blocks = {}
            self._bad_frame(f"frame held: {exc}")
        qpos, status = self.hands.step(blocks)
        held = {h: s for h, s in status.items() if s != "ok"}
        if held:
            self._bad_frame("held " + "; ".join(f"{h}: {s}" for h, s in held.items()))
        out = JointState()
        out.header.stamp = msg.header.stamp
        out.name = list(self.robot_set.joint_names)
        out.position = qpos.tolist()
        self.pub.publish(out)
        self.count("frames")
        self.step_ms_max = max(self.step_ms_max, (time.perf_counter() - t0) * 1000)
        self._window_frames += 1
        now = time.monotonic()
        if now - self._window_start_s >= 1.0:
            self.rate_hz = self._window_frames / (now - self._window_start_s)
            self._window_start_s, self._window_frames = now, 0


def main(args=None) -> int:
    return run_node(TeleopNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
