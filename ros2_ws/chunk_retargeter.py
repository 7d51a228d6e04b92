"""Human motion chunks -> robot chunks, one stream at a time (the retarget node's work).

Which human hand drives which robot instance comes from the ``sources`` parameter:
``INSTANCE=AGENT`` for ``hand21`` motion (bimanual: the agent *is* a hand, ``left=left``) and
``INSTANCE=AGENT:SIDE`` for ``body22+hands`` motion (duet: ``right=A:right`` drives the instance
with person A's right hand). Without an entry an instance takes the agent of its own name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dyad.errors import DyadInputError
from dyad.motion import MotionChunk
from dyad.retarget.trajectory import RobotTrajectory
from dyad.skeletons import SKELETONS

from .command_limiter import CommandLimiter
from .robot_hands import RobotHands
from .robot_set import RobotSet

# body22+hands: body22, then the left hand21 without its wrist, then the right one.
_BODY_WRIST = {"left": 20, "right": 21}
_BODY_HAND_START = {"left": 22, "right": 42}


@dataclass(frozen=True)
class HandSource:
    """Where an instance's human hand is in a motion: ``agent`` and, for body motion, ``side``."""

    agent: str
    side: str | None = None


def parse_sources(entries: Sequence[str], instances: Sequence[str]) -> dict[str, HandSource]:
    """``["right=A:right"]`` -> ``{"right": HandSource("A", "right")}``; every instance gets a
    source (its own name as the agent by default).

    Raises:
        DyadInputError: a malformed entry, an unknown instance or side.
    """
    out = {i: HandSource(i) for i in instances}
    for entry in entries:
        instance, sep, where = str(entry).partition("=")
        instance, where = instance.strip(), where.strip()
        agent, _, side = where.partition(":")
        if not sep or not instance or not agent:
            raise DyadInputError(f"sources entry {entry!r}: expected INSTANCE=AGENT or "
                                 "INSTANCE=AGENT:SIDE, e.g. right=A:right")
        if instance not in out:
            raise DyadInputError(f"sources entry {entry!r}: no robot instance {instance!r} "
                                 f"(instances: {', '.join(instances)})")
        if side and side not in ("left", "right"):
            raise DyadInputError(f"sources entry {entry!r}: side must be left or right")
        out[instance] = HandSource(agent.strip(), side or None)
    return out


def hand_keypoints(chunk: MotionChunk, source: HandSource, default_side: str) -> np.ndarray:
    """(T, 21, 3) world positions of one human hand of a chunk, hand21 order.

    Raises:
        DyadInputError: the chunk has no such agent, or its skeleton has no hands.
    """
    if source.agent not in chunk.agents:
        raise DyadInputError(f"motion agents {', '.join(chunk.agents)} have no {source.agent!r}; "
                             "set the sources parameter (e.g. right=A:right for duet motion)")
    a = chunk.agents.index(source.agent)
    if chunk.skeleton == "hand21":
        return chunk.joints[:, a]
    if chunk.skeleton == "body22+hands":
        side = source.side or default_side
        start = _BODY_HAND_START[side]
        wrist = chunk.joints[:, a, _BODY_WRIST[side]][:, None]
        return np.concatenate([wrist, chunk.joints[:, a, start:start + 20]], axis=1)
    raise DyadInputError(f"{chunk.skeleton} motion has no hands to retarget "
                         f"(expected {', '.join(s for s in SKELETONS if s != 'body22')})")


class ChunkRetargeter:
    """Turns the chunks of one motion stream into robot chunks, warm-started across chunks.

    Args:
        robot_set: the robots (one hand per instance).
        sources: ``INSTANCE=AGENT[:SIDE]`` entries (see the module docstring).
        convention: keypoint convention of the motion (generated motion is world-frame hand21).
        speed_limits: joint speed limits the retargeted stream keeps to (``velocity_margin``
            of each joint's limit; ``Thresholds.time_scaling_config()`` gives the sim gate's):
            a live stream cannot be slowed down in time as an offline clip is, so a joint
            asked to move faster follows at its top speed and catches up (those frames are
            ``clamped``); mimic followers are recomputed from their leaders. None: off.
    """

    def __init__(self, robot_set: RobotSet, sources: Sequence[str] = (),
                 convention: str = "hand21_world", speed_limits=None):
        self.robot_set = robot_set
        self.hands = RobotHands(robot_set, convention)
        self.sources = parse_sources(sources, self.hands.instances)
        self.stream = None
        self.next_frame = 0
        self.limiter = None if speed_limits is None else _speed_limiter(robot_set, speed_limits)
        self._mimic = _mimic_columns(robot_set)

    def retarget(self, chunk: MotionChunk, stream, source: str = "") -> RobotTrajectory:
        """The robot chunk of ``chunk``; a new ``stream`` id starts cold.

        Raises:
            DyadInputError: the chunk does not fit the robots, or does not continue its stream.
        """
        if stream != self.stream:
            self.hands.reset()
            if self.limiter is not None:
                self.limiter.reset()
            self.stream = stream
        elif chunk.start_frame != self.next_frame:
            raise DyadInputError(f"chunk starts at frame {chunk.start_frame}; the stream expects "
                                 f"frame {self.next_frame} next")
        per_instance = {i: hand_keypoints(chunk, self.sources[i], self.hands.side(i))
                        for i in self.hands.instances}
        qpos = np.empty((chunk.num_frames, len(self.robot_set.joint_names)))
        status = np.full(chunk.num_frames, "ok", dtype=object)
        for t in range(chunk.num_frames):
            qpos[t], frame_status = self.hands.step({i: k[t] for i, k in per_instance.items()})
            if any(s != "ok" for s in frame_status.values()):
                status[t] = "held"
        if self.limiter is not None:
            for t in range(chunk.num_frames):
                wanted = qpos[t].copy()
                qpos[t], _ = self.limiter.limit(wanted, 1.0 / chunk.fps)
                follower, leader, mult, offset = self._mimic
                qpos[t, follower] = mult * qpos[t, leader] + offset
                self.limiter.last = qpos[t].copy()
                if status[t] == "ok" and not np.allclose(qpos[t], wanted, atol=1e-9):
                    status[t] = "clamped"
        self.next_frame = chunk.start_frame + chunk.num_frames
        return RobotTrajectory(qpos=qpos, joint_names=self.robot_set.joint_names, fps=chunk.fps,
                               instances=self.robot_set.instances, status=status.astype(str),
                               start_frame=chunk.start_frame, source=source)


def _speed_limiter(robot_set: RobotSet, limits) -> CommandLimiter:
    """A :class:`CommandLimiter` at ``velocity_margin`` of each joint's speed limit."""
    speed = np.full(len(robot_set.joint_names), np.inf)
    index = {n: i for i, n in enumerate(robot_set.joint_names)}
    for instance, robot_name in robot_set.instances:
        prefix = robot_set.column_prefix(instance)
        for joint in robot_set.robots[instance].joint_names:
            limit = limits.joint_limit(robot_name, joint, False)
            if limit is not None and prefix + joint in index:
                speed[index[prefix + joint]] = limits.velocity_margin * limit
    return CommandLimiter(robot_set.joint_names, robot_set.lower, robot_set.upper,
                          np.where(np.isfinite(speed), speed, 1e9))


def _mimic_columns(robot_set: RobotSet) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray]:
    """(follower columns, leader columns, multipliers, offsets) of every mimic coupling."""
    index = {n: i for i, n in enumerate(robot_set.joint_names)}
    rows = []
    for instance, _ in robot_set.instances:
        prefix = robot_set.column_prefix(instance)
        for follower, leader, mult, offset in robot_set.robots[instance].mimic:
            if prefix + follower in index and prefix + leader in index:
                rows.append((index[prefix + follower], index[prefix + leader], mult, offset))
    if not rows:
        return (np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros(0), np.zeros(0))
    f, lead, m, o = zip(*rows)
    return np.array(f), np.array(lead), np.array(m, dtype=float), np.array(o, dtype=float)
