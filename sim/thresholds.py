"""The sim gate's thresholds: one documented YAML (``sim/thresholds.yaml``), typed once here.

A user file overrides the defaults key by key (``load_thresholds(path)``); unknown keys are an
error naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from dyad.errors import DyadInputError

DEFAULT_PATH = Path(__file__).with_name("thresholds.yaml")
_ROBOT_KEYS = {"velocity", "acceleration", "force"}


class ThresholdsError(DyadInputError):
    """A thresholds file is unreadable or names keys the gate does not have."""


def _merge(base: dict, override: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise ThresholdsError(f"{where}: unknown key {key!r}; known keys: {sorted(base)}")
        if key == "robots":
            out[key] = {**out.get(key, {}), **(value or {})}
        elif isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ThresholdsError(f"{where}.{key} must be a mapping, got {value!r}")
            out[key] = _merge(base[key], value, f"{where}.{key}")
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ThresholdsError(f"{path}: cannot read thresholds: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ThresholdsError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ThresholdsError(f"{path}: thresholds must be a mapping, got {type(raw).__name__}")
    return raw


@dataclass(frozen=True)
class Thresholds:
    """All gate thresholds (see ``sim/thresholds.yaml`` for each key's meaning and unit).

    Attributes:
        values: the merged nested mapping, section -> key -> value.
    """

    values: dict

    def __getitem__(self, section: str) -> dict:
        return self.values[section]

    @property
    def digest(self) -> str:
        """Short content hash, recorded in reports and used as a cache key."""
        text = json.dumps(self.values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def with_overrides(self, overrides: dict) -> "Thresholds":
        """A copy with ``overrides`` (same nested layout) merged in."""
        return Thresholds(_merge(self.values, overrides, "overrides"))

    def robot_limit(self, robot: str, kind: str, joint: str) -> float | None:
        """A per-robot limit (``velocity``, ``acceleration``, ``force``) for ``joint``, or None.

        Args:
            robot: registry robot name (a key of ``robots``; fnmatch patterns allowed).
            kind: one of ``velocity``, ``acceleration``, ``force``.
            joint: the robot's own joint name (no instance prefix).
        """
        for robot_pattern, entry in (self.values.get("robots") or {}).items():
            if not fnmatch.fnmatchcase(robot, robot_pattern):
                continue
            for pattern, value in ((entry or {}).get(kind) or {}).items():
                if fnmatch.fnmatchcase(joint, pattern):
                    return float(value)
        return None

    def joint_limits(self, robot: str, joints: list[str], slide: np.ndarray,
                     kind: str) -> np.ndarray:
        """(J,) limits of ``kind`` (velocity/acceleration) for a robot's joints, defaults filled.

        Args:
            robot: registry robot name.
            joints: the robot's joint names.
            slide: (J,) True for prismatic joints (metres), False for hinges (radians).
            kind: ``velocity`` or ``acceleration``.
        """
        lim = self.values["limits"]
        default_rot = lim["velocity_rad_s" if kind == "velocity" else "acceleration_rad_s2"]
        default_lin = lim["velocity_m_s" if kind == "velocity" else "acceleration_m_s2"]
        out = np.empty(len(joints))
        for i, name in enumerate(joints):
            value = self.robot_limit(robot, kind, name)
            out[i] = value if value is not None else (default_lin if slide[i] else default_rot)
        return out


    def time_scaling_config(self, approach_margin: float = 0.75, **options):
        """The gate's speed limits as a retargeting time-scaling config
        (:class:`dyad.retarget.time_scaling.TimeScalingConfig`): joints slowed to these joint
        speeds and accelerations (per-robot entries, then the defaults) and hands brought
        together at ``approach_margin`` times the gate's approach speed (the checker measures the
        simulated contact points, the time scaler a sphere model of the links: the margin
        covers the difference).

        Args:
            approach_margin: fraction of ``approach.max_speed_m_s`` to aim for.
            options: any other ``TimeScalingConfig`` field.
        """
        from dyad.retarget.time_scaling import TimeScalingConfig

        limits = self.values["limits"]
        robots = self.values.get("robots") or {}

        def table(kind: str) -> dict:
            return {name: dict((entry or {}).get(kind) or {}) for name, entry in robots.items()}

        settings = dict(joint_velocity_limits=table("velocity"),
                        default_velocity_rad_s=float(limits["velocity_rad_s"]),
                        default_velocity_m_s=float(limits["velocity_m_s"]),
                        joint_acceleration_limits=table("acceleration"),
                        default_acceleration_rad_s2=float(limits["acceleration_rad_s2"]),
                        default_acceleration_m_s2=float(limits["acceleration_m_s2"]),
                        max_approach_speed_m_s=approach_margin
                        * float(self.values["approach"]["max_speed_m_s"]))
        settings.update(options)
        return TimeScalingConfig(**settings)


def _check_robots(robots, where: str) -> None:
    if not isinstance(robots, dict):
        raise ThresholdsError(f"{where}.robots must be a mapping of robot name -> limits")
    for name, entry in robots.items():
        if not isinstance(entry, dict):
            raise ThresholdsError(f"{where}.robots.{name} must be a mapping, got {entry!r}")
        unknown = set(entry) - _ROBOT_KEYS
        if unknown:
            raise ThresholdsError(f"{where}.robots.{name}: unknown keys {sorted(unknown)}; "
                                  f"known: {sorted(_ROBOT_KEYS)}")
        for kind, table in entry.items():
            if not isinstance(table, dict):
                raise ThresholdsError(f"{where}.robots.{name}.{kind} must map joint patterns "
                                      f"to numbers, got {table!r}")
            for pattern, value in table.items():
                if not isinstance(value, (int, float)) or value <= 0:
                    raise ThresholdsError(f"{where}.robots.{name}.{kind}.{pattern} must be a "
                                          f"positive number, got {value!r}")


_DEFAULT_CACHE: Thresholds | None = None


def default_thresholds() -> Thresholds:
    """The packaged defaults (``sim/thresholds.yaml``)."""
    global _DEFAULT_CACHE
    if _DEFAULT_CACHE is None:
        raw = _read_yaml(DEFAULT_PATH)
        _check_robots(raw.get("robots") or {}, str(DEFAULT_PATH))
        raw["robots"] = raw.get("robots") or {}
        _DEFAULT_CACHE = Thresholds(raw)
    return _DEFAULT_CACHE


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """The defaults, with the YAML file at ``path`` merged over them when given.

    Raises:
        ThresholdsError: the file is unreadable, not a mapping, or has unknown keys.
    """
    base = default_thresholds()
    if path is None:
        return base
    raw = _read_yaml(Path(path))
    _check_robots(raw.get("robots") or {}, str(path))
    return Thresholds(_merge(base.values, raw, str(path)))
