"""The robots a graph drives, from the ``robots`` parameter: instances, joint columns, limits.

Every node of a graph reads the same parameter, a list of ``INSTANCE=ROBOT`` entries
(``["left=inspire_left", "right=inspire_right"]``), so the retargeter, the gate and playback agree
on the columns of a robot chunk: a single instance uses the robot's own joint names, several
prefix each name with ``INSTANCE/`` (the robot trajectory contract, retarget/trajectory.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dyad.errors import DyadInputError


@dataclass(frozen=True)
class RobotSet:
    """Robot instances and their joint columns in trajectory order.

    Attributes:
        instances: (instance name, registry robot name) pairs.
        joint_names: trajectory column names (prefixed with ``INSTANCE/`` when several).
        lower, upper: (N,) position limits of those columns.
        robots: instance name -> loaded :class:`~dyad.retarget.robot_model.RobotModel`.
    """

    instances: tuple[tuple[str, str], ...]
    joint_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    robots: dict

    def column_prefix(self, instance: str) -> str:
        return f"{instance}/" if len(self.instances) > 1 else ""


def parse_instances(entries: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``["left=inspire_left", ...]`` -> ``(("left", "inspire_left"), ...)``; a bare ``ROBOT``
    names an instance after its robot.

    Raises:
        DyadInputError: an empty list, an empty name or a repeated instance.
    """
    out: list[tuple[str, str]] = []
    for entry in entries:
        instance, sep, robot = str(entry).partition("=")
        instance, robot = instance.strip(), robot.strip()
        if not sep:
            instance, robot = robot or instance, instance
        if not instance or not robot or "/" in instance:
            raise DyadInputError(f"robots entry {entry!r}: expected INSTANCE=ROBOT, e.g. "
                                 "right=inspire_right (no '/' in the instance name)")
        if any(instance == i for i, _ in out):
            raise DyadInputError(f"robots: instance {instance!r} is listed twice")
        out.append((instance, robot))
    if not out:
        raise DyadInputError("robots is empty; list INSTANCE=ROBOT entries, e.g. "
                             "right=inspire_right")
    return tuple(out)


def load_robot_set(entries: Sequence[str], load_robot: Callable | None = None) -> RobotSet:
    """Load every robot of ``entries`` from the registry and lay out their columns.

    Raises:
        DyadInputError: bad entries, or an unknown robot (the message lists the known ones).
    """
    if load_robot is None:
        from dyad.retarget.registry import load_robot
    instances = parse_instances(entries)
    names: list[str] = []
    lower, upper, robots = [], [], {}
    for instance, robot_name in instances:
        robot = load_robot(robot_name)
        if robot.floating_base:
            raise DyadInputError(
                f"robot {robot_name!r} has a floating base; the ROS graph streams fixed-base "
                "robots (hands) until whole-body streaming retargeting is available")
        prefix = f"{instance}/" if len(instances) > 1 else ""
        names += [prefix + j for j in robot.joint_names]
        lower.append(np.asarray(robot.lower, dtype=np.float64))
        upper.append(np.asarray(robot.upper, dtype=np.float64))
        robots[instance] = robot
    return RobotSet(instances, tuple(names), np.concatenate(lower), np.concatenate(upper),
                    robots)
