"""validator_node: the sim gate, chunk by chunk; only passing chunks go on.

Subscribes ``/dyad/robot/joint_trajectory`` (unchecked robot chunks); publishes every chunk that
passes, unchanged, on ``/dyad/checked/joint_trajectory`` and every verdict on
``/dyad/validation`` (diagnostic_msgs/DiagnosticArray: level OK or ERROR, the violations as
key/values). One :class:`~dyad.sim.gate.StreamingValidator` per stream keeps the simulation and
every check's memory across chunks. After a chunk fails, the rest of its stream is blocked: the
robot never played that chunk, so what follows no longer starts where the robot is. At a
stream's end marker the whole stream's verdict (``dyad/validation/stream``: contact intervals
and runs across chunk boundaries) is published too; every chunk was already judged on its own,
so a finding there is reported as a warning, since those frames may have played.
"""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from trajectory_msgs.msg import JointTrajectory

from dyad.errors import DyadError

from .conversions import (diagnostic_status, is_end_marker, msg_to_robot_chunk, stream_id,
                          verdict_to_diagnostics)
from .node_base import CHUNK_QOS, ERROR, EVENT_QOS, WARN, DyadNode, run_node
from .retarget_node import DEFAULT_ROBOTS


class ValidatorNode(DyadNode):
    """See the module docstring."""

    def __init__(self):
        super().__init__("dyad_validator")
        robots = self.param("robots", DEFAULT_ROBOTS, "INSTANCE=ROBOT entries")
        self.fps = self.param("fps", 30.0, "frame rate of one-frame chunks")
        thresholds = self.param("thresholds", "", "gate thresholds YAML ('' = packaged)")
        self.checked_pub = self.create_publisher(JointTrajectory,
                                                 "/dyad/checked/joint_trajectory", CHUNK_QOS)
        self.verdict_pub = self.create_publisher(DiagnosticArray, "/dyad/validation", EVENT_QOS)
        self.current = None
        self.validator = None
        self.blocked = False
        try:
            from dyad.sim.thresholds import default_thresholds, load_thresholds

            from .robot_set import load_robot_set

            self.robot_set = load_robot_set(robots)
            self.thresholds = load_thresholds(thresholds) if thresholds else default_thresholds()
            self._warm_up()
        except DyadError as exc:
            self.set_state("error: configuration", f"cannot validate: {exc}", level=ERROR)
            return
        self.create_subscription(JointTrajectory, "/dyad/robot/joint_trajectory",
                                 self.guard(self.on_chunk, "robot chunk"), CHUNK_QOS)
        self.set_state("ready", f"gate ready for {', '.join(robots)}")

    def _warm_up(self) -> None:
        """Build the scene once now (compiling it takes seconds), not on the first command."""
        import numpy as np

        from dyad.retarget.trajectory import RobotTrajectory
        from dyad.sim.gate import StreamingValidator

        rest = np.clip(np.zeros(len(self.robot_set.joint_names)), self.robot_set.lower,
                       self.robot_set.upper)
        traj = RobotTrajectory(qpos=np.tile(rest, (2, 1)), joint_names=self.robot_set.joint_names,
                               fps=self.fps, instances=self.robot_set.instances)
        StreamingValidator(self.thresholds).check(traj)

    def on_chunk(self, msg: JointTrajectory) -> None:
        from dyad.sim.gate import StreamingValidator

        stream = stream_id(msg.header.stamp)
        if self.current is not None and stream < self.current:
            self.count("dropped_old_stream")
            return
        if stream != self.current:
            self.current = stream
            self.validator = StreamingValidator(self.thresholds)
            self.blocked = False
        label = f"{stream[0]}.{stream[1]:09d}"
        if is_end_marker(msg):
            self._finish(msg, stream)
            return
        try:
            chunk = msg_to_robot_chunk(msg, self.robot_set.instances, self.robot_set.joint_names,
                                       self.fps, source=f"stream {label}")
        except DyadError as exc:
            self._reject(msg, stream, f"malformed chunk: {exc}")
            raise
        if self.blocked:
            self._reject(msg, stream, f"frames {chunk.start_frame}-"
                                      f"{chunk.start_frame + chunk.num_frames - 1}: blocked "
                                      "(an earlier chunk of this stream failed)")
            return
        t0 = time.perf_counter()
        try:
            report = self.validator.check(chunk)
        except DyadError as exc:
            self.blocked = True
            self._reject(msg, stream, f"not checkable: {exc}")
            raise
        forwarded = bool(report.passed)
        if forwarded:
            self.checked_pub.publish(msg)
            self.count("passed")
        else:
            self.blocked = True
            self.count("failed")
        self.verdict_pub.publish(verdict_to_diagnostics(report, self.get_clock().now().to_msg(),
                                                        stream, forwarded))
        if not forwarded:
            self.report(ERROR, f"stream {label}: chunk failed the gate: "
                               f"{report.violations[0].describe() if report.violations else ''}",
                        event="chunk_failed", check_ms=(time.perf_counter() - t0) * 1000)

    def _finish(self, msg: JointTrajectory, stream) -> None:
        """End of a stream: the whole stream's verdict (contacts and runs across chunks), and
        the end marker passed on when every chunk passed."""
        if stream != self.current or self.validator is None or self.validator.scene is None:
            return
        if self.blocked:
            return
        report = self.validator.finish()
        out = verdict_to_diagnostics(report, self.get_clock().now().to_msg(), stream, True,
                                     name="dyad/validation/stream")
        self.verdict_pub.publish(out)
        self.checked_pub.publish(msg)
        self.validator = None
        if not report.passed:
            self.report(WARN, f"stream {stream[0]}.{stream[1]:09d}: whole-stream check found "
                              f"{report.violations[0].describe()}", event="stream_warning")

    def _reject(self, msg: JointTrajectory, stream, message: str) -> None:
        self.count("rejected")
        out = DiagnosticArray()
        out.header.stamp = self.get_clock().now().to_msg()
        out.status = [diagnostic_status(
            "dyad/validation", DiagnosticStatus.ERROR, message,
            {"stream": f"{stream[0]}.{stream[1]:09d}", "passed": False, "forwarded": False})]
        self.verdict_pub.publish(out)


def main(args=None) -> int:
    return run_node(ValidatorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
