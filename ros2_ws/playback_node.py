"""playback_node: the only node that talks to the robot's controller.

Inputs, and nothing else: ``/dyad/checked/joint_trajectory`` (chunks that passed the gate; the
node has no subscription to the unchecked topic, so it cannot receive an unchecked chunk),
``/dyad/teleop/joint_command`` (sensor_msgs/JointState from teleop_node), ``/dyad/estop``
(std_msgs/Bool, latched) and ``/joint_states`` (where the robot is, to start from there).

Output, by ``controller``:

- ``joint_trajectory``: trajectory_msgs/JointTrajectory on
  ``/joint_trajectory_controller/joint_trajectory`` (ros2_control JointTrajectoryController).
  Each checked chunk is sent when its first frame is due, its points one frame apart starting
  one frame after receipt (the controller interpolates from where it is). Nothing is sent ahead
  of time, so an e-stop replaces at most the chunk being played.
- ``forward_position``: std_msgs/Float64MultiArray on ``/forward_position_controller/commands``
  at ``rate_hz``, frames interpolated in time.

Every command passes the same :class:`~dyad.ros2.command_limiter.CommandLimiter` (position
limits of the robots, ``max_velocity_rad_s``). When frames run out the last command holds, and
after ``stale_after_s`` the node reports the stream stale and (trajectory controller) sends an
explicit hold. ``/dyad/estop`` true sends a hold at once, drops everything queued and ignores all
input until it is released; a released e-stop waits for a new stream. A stream's end marker
(a message without points) makes running out of frames the end (``stream_done``), not a stale
stream.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from dyad.errors import DyadError, DyadInputError

from .command_limiter import CommandLimiter
from .conversions import controller_trajectory, is_end_marker, seconds_of, stream_id
from .node_base import (CHUNK_QOS, CONTROL_QOS, ERROR, ESTOP_QOS, ESTOP_VOLATILE_QOS, OK,
                        SENSOR_QOS, WARN, DyadNode, run_node)
from .playback_schedule import CheckedChunk, PlaybackSchedule
from .retarget_node import DEFAULT_ROBOTS

CONTROLLERS = ("joint_trajectory", "forward_position")
JTC_TOPIC = "/joint_trajectory_controller/joint_trajectory"
FORWARD_TOPIC = "/forward_position_controller/commands"


def controller_joint_names(names: tuple[str, ...], given: list[str]) -> tuple[str, ...]:
    """The controller's joint names: ``given`` when set (one per column), else the columns
    with their ``INSTANCE/`` prefix removed when that leaves them unique."""
    given = [g for g in given if g]
    if given:
        if len(given) != len(names):
            raise DyadInputError(f"controller_joints lists {len(given)} joints; the robots "
                                 f"have {len(names)}")
        return tuple(given)
    stripped = tuple(n.split("/", 1)[-1] for n in names)
    return stripped if len(set(stripped)) == len(stripped) else names


class PlaybackNode(DyadNode):
    """See the module docstring."""

    def __init__(self):
        super().__init__("dyad_playback")
        robots = self.param("robots", DEFAULT_ROBOTS, "INSTANCE=ROBOT entries")
        self.controller = self.param("controller", "joint_trajectory",
                                     "joint_trajectory or forward_position")
        joints = self.param("controller_joints", [""], "controller joint names ('' = robots')")
        max_velocity = self.param("max_velocity_rad_s", 8.0, "speed limit of every joint")
        self.rate_hz = self.param("rate_hz", 100.0, "tick rate (forward_position output rate)")
        self.stale_after_s = self.param("stale_after_s", 0.25, "no frames this long: stale")
        self.teleop_timeout_s = self.param("teleop_timeout_s", 0.25,
                                           "teleop counts as active this long after a command")
        self.schedule = PlaybackSchedule()
        self.estopped = False
        self.mode = "idle"   # idle, playing, stale, teleop, estop
        self._sent: tuple[float, np.ndarray, float, float] | None = None
        self._last_tick_s = self.now_s()
        self._last_teleop_s = -1e9
        self._joint_states: dict[str, float] = {}
        try:
            if self.controller not in CONTROLLERS:
                raise DyadInputError(f"controller {self.controller!r}: expected "
                                     f"{' or '.join(CONTROLLERS)}")
            from .robot_set import load_robot_set

            self.robot_set = load_robot_set(robots)
            self.joint_names = controller_joint_names(self.robot_set.joint_names, joints)
            self.limiter = CommandLimiter(self.robot_set.joint_names, self.robot_set.lower,
                                          self.robot_set.upper, max_velocity)
        except DyadError as exc:
            self.set_state("error: configuration", f"cannot play back: {exc}", level=ERROR)
            return
        if self.controller == "joint_trajectory":
            self.jtc_pub = self.create_publisher(JointTrajectory, JTC_TOPIC, CONTROL_QOS)
        else:
            self.forward_pub = self.create_publisher(Float64MultiArray, FORWARD_TOPIC,
                                                     CONTROL_QOS)
        self.create_subscription(JointTrajectory, "/dyad/checked/joint_trajectory",
                                 self.guard(self.on_checked, "checked chunk"), CHUNK_QOS)
        self.create_subscription(JointState, "/dyad/teleop/joint_command",
                                 self.guard(self.on_teleop, "teleop command"), CONTROL_QOS)
        estop = self.guard(self.on_estop, "e-stop")
        self._estop_seen: deque = deque(maxlen=64)

        def on_estop_sample(msg: Bool, info) -> None:
            # A latched publisher's sample reaches both subscriptions: act on it once.
            key = (str(info.get("publisher_gid")), info.get("publication_sequence_number"),
                   info.get("source_timestamp"))
            if key not in self._estop_seen:
                self._estop_seen.append(key)
                estop(msg)

        for qos in (ESTOP_QOS, ESTOP_VOLATILE_QOS):   # latched and plain publishers alike
            self.create_subscription(Bool, "/dyad/estop", on_estop_sample, qos)
        self.create_subscription(JointState, "/joint_states",
                                 self.guard(self.on_joint_states, "joint states"), SENSOR_QOS)
        self.create_timer(1.0 / max(self.rate_hz, 1.0), self.guard(self.tick, "tick"))
        self.set_state("idle", f"playing to {self.controller} controller "
                               f"({len(self.joint_names)} joints)")

    def status_values(self) -> dict:
        return {**super().status_values(), "mode": self.mode, "estop": self.estopped,
                "underruns": self.schedule.underruns,
                "max_late_ms": round(self.schedule.max_late_s * 1000, 3),
                "clamped_commands": getattr(getattr(self, "limiter", None), "clamped_commands", 0)}

    # -------------------------------------------------------------------- inputs

    def on_joint_states(self, msg: JointState) -> None:
        self._joint_states.update(zip(msg.name, msg.position))

    def _seed_limiter(self) -> None:
        """Start rate limiting from where the robot is, when it says so."""
        if self.limiter.last is None and self._joint_states:
            try:
                q = [self._joint_states[n] for n in self.joint_names]
            except KeyError:
                return
            self.limiter.reset(q)

    def on_checked(self, msg: JointTrajectory) -> None:
        if self.estopped:
            self.count("dropped_estop")
            return
        if tuple(msg.joint_names) != self.robot_set.joint_names:
            raise DyadInputError(f"checked chunk joints {list(msg.joint_names)[:2]}... are not "
                                 "the configured robots'")
        if is_end_marker(msg):
            self.schedule.end(stream_id(msg.header.stamp))
            return
        times = [seconds_of(p.time_from_start) for p in msg.points]
        qpos = np.array([p.positions for p in msg.points], dtype=np.float64)
        if qpos.ndim != 2 or qpos.shape[1] != len(self.robot_set.joint_names):
            raise DyadInputError(f"checked chunk positions have shape {qpos.shape}")
        fps = (round(1.0 / float(np.median(np.diff(times))), 3) if len(times) > 1
               else self.schedule.fps)
        chunk = CheckedChunk(stream_id(msg.header.stamp), int(round(times[0] * fps)), qpos, fps)
        now = self.now_s()
        result = self.schedule.push(chunk, now)
        self.count("chunks_" + result.replace(" ", "_"))
        if result == "started":
            self._seed_limiter()
            self.mode = "playing"
            self.report(OK, f"stream {chunk.stream[0]}.{chunk.stream[1]:09d} started",
                        event="stream_started")
        elif result == "late":
            self.report(WARN, f"underrun: chunk at frame {chunk.start_frame} arrived "
                              f"{self.schedule.max_late_s * 1000:.0f} ms late; timeline shifted",
                        event="underrun")
        elif result == "gap":
            self._hold(now)
            self.mode = "stale"
            self.report(ERROR, f"stream stopped: chunk at frame {chunk.start_frame} does not "
                               "continue it (a chunk was rejected)", event="gap")
            return
        elif result not in ("queued",):
            return
        if self.controller == "joint_trajectory":
            self._send_due_chunks(now)

    def on_teleop(self, msg: JointState) -> None:
        if self.estopped:
            self.count("teleop_dropped_estop")
            return
        if tuple(msg.name) != self.robot_set.joint_names:
            raise DyadInputError(f"teleop command joints {list(msg.name)[:2]}... are not the "
                                 "configured robots'")
        now = self.now_s()
        if self.mode != "teleop":
            self.schedule.stop()
            self._seed_limiter()
            self.mode = "teleop"
            self.report(OK, "teleop took over", event="teleop_started")
        dt = min(max(now - self._last_teleop_s, 0.0), 0.1)
        self._last_teleop_s = now
        q, _ = self.limiter.limit(np.asarray(msg.position, dtype=np.float64), dt)
        if self.controller == "joint_trajectory":
            self.jtc_pub.publish(controller_trajectory(self.joint_names, q[None], max(dt, 0.005),
                                                       stamp=msg.header.stamp))
            self._sent = (now, q[None], max(dt, 0.005), max(dt, 0.005))
        else:
            self.forward_pub.publish(Float64MultiArray(data=q.tolist()))
        self.count("teleop_commands")

    def on_estop(self, msg: Bool) -> None:
        now = self.now_s()
        if msg.data and not self.estopped:
            self.estopped = True
            self.schedule.stop()
            self._hold(now)
            self.mode = "estop"
            self.set_state("estop", "E-STOP: holding position; all input ignored until "
                                    "released", level=ERROR)
        elif not msg.data and self.estopped:
            self.estopped = False
            self.mode = "idle"
            self.set_state("idle", "e-stop released: waiting for a new stream or teleop")

    # -------------------------------------------------------------------- output

    def _current_command(self, now: float) -> np.ndarray | None:
        """Where the controller is being told to be now."""
        if self.controller == "joint_trajectory" and self._sent is not None:
            sent_s, q, dt, first = self._sent
            k = int(np.clip(np.floor((now - sent_s - first) / dt) + 1, 0, len(q) - 1))
            return q[k]
        return self.limiter.last

    def _hold(self, now: float) -> None:
        """Command the current position (the robot stops where it is)."""
        q = self._current_command(now)
        if q is None:
            return
        self.limiter.reset(q)
        if self.controller == "joint_trajectory":
            dt = 1.0 / self.rate_hz
            self.jtc_pub.publish(controller_trajectory(self.joint_names, q[None], dt))
            self._sent = (now, q[None], dt, dt)
        else:
            self.forward_pub.publish(Float64MultiArray(data=q.tolist()))
        self.count("holds")

    def _send_due_chunks(self, now: float) -> None:
        for chunk in self.schedule.pop_due_chunks(now):
            dt = 1.0 / chunk.fps
            q, changed = self.limiter.limit_sequence(chunk.qpos, dt)
            self.jtc_pub.publish(controller_trajectory(self.joint_names, q, dt))
            self._sent = (now, q, dt, dt)
            self.count("chunks_sent")
            if changed:
                self.count("clamped_frames", changed)

    def tick(self) -> None:
        now = self.now_s()
        dt, self._last_tick_s = now - self._last_tick_s, now
        if self.estopped:
            return
        if self.mode == "teleop":
            if now - self._last_teleop_s > self.teleop_timeout_s:
                self.mode = "idle"
                self.report(OK, "teleop stopped: holding position", event="teleop_stopped")
            return
        if self.mode not in ("playing", "stale"):
            return
        if self.controller == "joint_trajectory":
            self._send_due_chunks(now)
        else:
            q = self.schedule.position_at(now)
            if q is not None:
                out, _ = self.limiter.limit(q, dt)
                self.forward_pub.publish(Float64MultiArray(data=out.tolist()))
        left = self.schedule.frames_left_s(now)
        if self.mode in ("playing", "stale") and self.schedule.ended and left < 0:
            self.mode = "idle"
            self.report(OK, "stream played to its end: holding the last frame",
                        event="stream_done")
        elif self.mode == "playing" and left < -self.stale_after_s:
            self.mode = "stale"
            if self.controller == "joint_trajectory":
                self._hold(now)
            self.report(WARN, f"no frames for {self.stale_after_s:g} s: holding position",
                        event="stale")
        elif self.mode == "stale" and left > 0:
            self.mode = "playing"


def main(args=None) -> int:
    return run_node(PlaybackNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
