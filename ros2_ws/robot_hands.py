"""One streaming hand retargeter per robot instance, writing into the graph's joint columns.

Glue between :class:`~dyad.ros2.robot_set.RobotSet` (columns and limits) and the library's
:class:`~dyad.retarget.streaming.HandStreamer` (one tracked hand -> one robot hand, never raising
on a bad frame). Both the retarget node (generated motion) and the teleop node (a tracker) use it.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import numpy.typing as npt

from dyad.errors import DyadInputError

from .robot_set import RobotSet


class RobotHands:
    """Retargets one human hand per instance of a robot set, frame by frame.

    Args:
        robot_set: the instances (each must be a single robot hand).
        convention: input convention of the keypoints (``retarget/input_conventions.py``).
        sides: instance -> which human hand drives it (default: the robot hand's side).
    """

    def __init__(self, robot_set: RobotSet, convention: str = "hand21_world",
                 sides: Mapping[str, str] | None = None):
        from dyad.retarget.hand_ik import HandIK
        from dyad.retarget.streaming import HandStreamer

        self.robot_set = robot_set
        self.convention = convention
        self.streamers = {}
        self._columns: dict[str, np.ndarray] = {}
        self.rest_qpos = np.zeros(len(robot_set.joint_names))
        index = {n: i for i, n in enumerate(robot_set.joint_names)}
        for instance, robot_name in robot_set.instances:
            robot = robot_set.robots[instance]
            if len(robot.hands) != 1:
                raise DyadInputError(
                    f"robot {robot_name!r} (instance {instance!r}) has hands "
                    f"{sorted(robot.hands) or 'none'}; streaming retargeting drives one robot "
                    "hand per instance (e.g. right=inspire_right)")
            side = next(iter(robot.hands))
            streamer = HandStreamer(HandIK.from_robot_model(robot, side), convention,
                                    side=(sides or {}).get(instance, side))
            prefix = robot_set.column_prefix(instance)
            missing = [j for j in streamer.ik.joint_names if prefix + j not in index]
            if missing:
                raise DyadInputError(f"hand joints {missing} of {robot_name!r} are not robot "
                                     "joints")
            cols = np.array([index[prefix + j] for j in streamer.ik.joint_names], dtype=int)
            self.streamers[instance] = streamer
            self._columns[instance] = cols
            self.rest_qpos[cols] = streamer.rest_qpos
        self.last_qpos = self.rest_qpos.copy()

    @property
    def instances(self) -> tuple[str, ...]:
        return tuple(self.streamers)

    def side(self, instance: str) -> str:
        """Which human hand drives ``instance``."""
        return self.streamers[instance].side

    def reset(self) -> None:
        """Start a new stream: cold starts, no filter memory, rest pose."""
        for streamer in self.streamers.values():
            streamer.reset()
        self.last_qpos = self.rest_qpos.copy()

    def step(self, hands: Mapping[str, npt.ArrayLike | None]) -> tuple[np.ndarray, dict[str, str]]:
        """Joint positions (all columns) for one frame; never raises on a frame's content.

        Args:
            hands: instance -> that hand's keypoints in the convention (None: hand not seen).
                An instance left out keeps its last pose.

        Returns:
            (qpos, status): ``status`` maps each instance stepped to ``ok`` or why it was held.
        """
        qpos = self.last_qpos.copy()
        status = {}
        for instance, keypoints in hands.items():
            streamer = self.streamers[instance]
            qpos[self._columns[instance]] = streamer.step(keypoints)
            status[instance] = ("ok" if streamer.last_status.value == "ok"
                                else f"{streamer.last_status.value}: {streamer.last_reason}")
        self.last_qpos = qpos
        return qpos.copy(), status
