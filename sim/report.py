"""The gate's verdict: :class:`ValidationReport` (passed, violations, summary figures) and JSON.

A violation names what broke (``kind``), when (``frame_start`` .. ``frame_end``, end exclusive,
in the trajectory's own frame numbers), which bodies or joints, the measured value and the
limit it broke. The JSON layout is part of Dyad's contract (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dyad.errors import DyadInputError

# Violation kinds, grouped by check family (docs/sim_gate.md describes each).
LIMIT_KINDS = ("joint_position_limit", "joint_velocity_limit", "joint_acceleration_limit",
               "actuator_force_limit")
TRACKING_KINDS = ("tracking_error",)
COLLISION_KINDS = ("self_collision", "robot_collision", "floor_collision")
CONTACT_KINDS = ("missed_contact", "contact_approach_speed")
SIMULATION_KINDS = ("simulation_diverged",)
VIOLATION_KINDS = LIMIT_KINDS + TRACKING_KINDS + COLLISION_KINDS + CONTACT_KINDS + SIMULATION_KINDS

REPORT_VERSION = 1


@dataclass
class Violation:
    """One broken check over a run of frames.

    Attributes:
        kind: one of ``VIOLATION_KINDS``.
        frame_start, frame_end: frames ``[frame_start, frame_end)`` of the trajectory.
        subjects: the joints (``A/r_elbow``) or bodies (``A/r_palm``) involved.
        measured: the worst value over the run (its unit is ``unit``).
        limit: the threshold it broke.
        unit: unit of ``measured`` and ``limit`` (``rad``, ``rad/s``, ``N m``, ``m``, ``ratio``...).
        detail: one human line (pair class such as ``finger-finger``, which interval...).
        peak_frame: the frame of the worst value.
    """

    kind: str
    frame_start: int
    frame_end: int
    subjects: tuple[str, ...]
    measured: float
    limit: float
    unit: str
    detail: str = ""
    peak_frame: int = -1

    def __post_init__(self) -> None:
        if self.kind not in VIOLATION_KINDS:
            raise ValueError(f"unknown violation kind {self.kind!r}; expected one of "
                             f"{', '.join(VIOLATION_KINDS)}")
        self.subjects = tuple(str(s) for s in self.subjects)
        self.frame_start, self.frame_end = int(self.frame_start), int(self.frame_end)
        self.measured, self.limit = float(self.measured), float(self.limit)
        self.peak_frame = int(self.peak_frame)

    def describe(self) -> str:
        """One line for people: kind, frames, subjects, measured vs limit."""
        frames = (f"frame {self.frame_start}" if self.frame_end - self.frame_start <= 1
                  else f"frames {self.frame_start}-{self.frame_end - 1}")
        subjects = f"{', '.join(self.subjects)}: " if self.subjects else ""
        text = (f"{self.kind} at {frames}: {subjects}"
                f"{self.measured:.4g} {self.unit} (limit {self.limit:.4g} {self.unit})")
        return text + (f"; {self.detail}" if self.detail else "")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["subjects"] = list(self.subjects)
        return data


def _finite(value):
    """JSON has no inf/nan: write them as strings that ``from_json`` reads back."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


@dataclass
class ValidationReport:
    """Pass/fail of one trajectory (or one chunk of a stream) with reasons.

    Attributes:
        passed: True when there is no violation (and nothing could not be checked that must be).
        violations: what failed, ordered by first frame.
        summary: figures (frames, real-time factor, max penetration, penetration duration ratio,
            contact ratios, worst tracking error, dropped violation counts...).
        robot: the trajectory's robot (``multi`` for several instances).
        instances: (instance, robot) pairs.
        frame_start, frame_end: the frames this report covers, ``[start, end)``.
        fps: the trajectory's frame rate.
        source: the trajectory file or stream.
        warnings: things not checked or assumptions made (e.g. a contact part with no robot body).
    """

    passed: bool
    violations: list[Violation] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    robot: str = ""
    instances: tuple[tuple[str, str], ...] = ()
    frame_start: int = 0
    frame_end: int = 0
    fps: float = 30.0
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def kinds(self) -> set[str]:
        """The violation kinds present."""
        return {v.kind for v in self.violations}

    def of_kind(self, kind: str) -> list[Violation]:
        return [v for v in self.violations if v.kind == kind]

    def describe(self, max_lines: int = 20) -> str:
        """A short human-readable verdict."""
        # Several instances: name each (``A=gr1_inspire, B=gr1_inspire``), not ``multi``.
        who = ", ".join(f"{name}={robot}" for name, robot in self.instances) \
            if len(self.instances) > 1 else self.robot
        head = (f"{'PASS' if self.passed else 'FAIL'} {who} frames "
                f"{self.frame_start}-{self.frame_end - 1} ({len(self.violations)} violations)")
        # A diverged simulation makes the figures after it meaningless: it leads the list.
        ordered = sorted(self.violations, key=lambda v: v.kind not in SIMULATION_KINDS)
        lines = [head] + ["  " + v.describe() for v in ordered[:max_lines]]
        if len(self.violations) > max_lines:
            lines.append(f"  ... and {len(self.violations) - max_lines} more")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return _finite({
            "version": REPORT_VERSION, "passed": self.passed, "robot": self.robot,
            "instances": [list(i) for i in self.instances], "frame_start": self.frame_start,
            "frame_end": self.frame_end, "fps": self.fps, "source": self.source,
            "violations": [v.as_dict() for v in self.violations],
            "summary": self.summary, "warnings": list(self.warnings),
        })

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict) -> "ValidationReport":
        def back(value):
            if value in ("inf", "-inf", "nan"):
                return float(value)
            if isinstance(value, dict):
                return {k: back(v) for k, v in value.items()}
            if isinstance(value, list):
                return [back(v) for v in value]
            return value

        data = back(data)
        try:
            violations = [Violation(**{**v, "subjects": tuple(v["subjects"])})
                          for v in data.get("violations", [])]
            return cls(passed=bool(data["passed"]), violations=violations,
                       summary=dict(data.get("summary", {})), robot=str(data.get("robot", "")),
                       instances=tuple(tuple(i) for i in data.get("instances", [])),
                       frame_start=int(data.get("frame_start", 0)),
                       frame_end=int(data.get("frame_end", 0)), fps=float(data.get("fps", 30.0)),
                       source=str(data.get("source", "")),
                       warnings=list(data.get("warnings", [])))
        except (KeyError, TypeError, ValueError) as exc:
            raise DyadInputError(f"malformed validation report: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> "ValidationReport":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise DyadInputError(f"validation report is not JSON: {exc}") from None

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON (atomically: a reader never sees half a file)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ValidationReport":
        try:
            return cls.from_json(Path(path).read_text())
        except OSError as exc:
            raise DyadInputError(f"{path}: cannot read report: {exc.strerror}") from None
