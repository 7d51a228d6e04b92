"""The robot trajectory: what the retargeter hands to the sim gate, and its ``.npz`` file.

One trajectory drives one or more robot instances (two hands for ``bimanual``, two humanoids
for ``duet``, or one humanoid). Columns of ``qpos`` are named one for one by ``joint_names``:

- a single instance uses the robot's own joint names;
- several instances prefix each name with the instance: ``A/r_thumb_joint``, ``right/index_1``;
- a floating base contributes seven columns ``<prefix>root_x, root_y, root_z, root_qw, root_qx,
  root_qy, root_qz`` (metres, unit quaternion w-first, MuJoCo's order).

File layout (``.npz``, no pickles):

===================  ==========================================================================
key                  content
===================  ==========================================================================
``qpos``             float64 (T, N) joint positions, radians or metres
``joint_names``      str (N,)
``fps``              float scalar
``robot``            str scalar: the registry robot when there is one instance, else ``multi``
``instances``        str (I, 2): instance name, registry robot name
``error_m``          float64 (T,) per-frame retargeting error (mean keypoint error, metres)
``status``           str (T,): ``ok``, ``clamped`` (a target out of reach or a limit hit),
                     ``held`` (bad input frame: the last good pose was held)
``contact_parts``    str (K, 4), ``contact_frames`` int64 (K, 2): the source motion's contact
                     intervals, with agents renamed to instances
``source``           str scalar: the motion file or stream it came from (optional)
``meta_json``        str scalar: JSON object of anything else
===================  ==========================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dyad.errors import DyadInputError, MotionFileError
from dyad.motion import ContactInterval, atomic_savez, read_npz

FRAME_STATUSES = ("ok", "clamped", "held")
FREE_JOINT_COLUMNS = ("root_x", "root_y", "root_z", "root_qw", "root_qx", "root_qy", "root_qz")


@dataclass
class RobotTrajectory:
    """Joint positions of one or more robot instances over time.

    Attributes:
        qpos: (T, N) joint positions, columns named by ``joint_names``.
        joint_names: N column names (see the module docstring).
        fps: frames per second.
        instances: (instance name, registry robot name) pairs.
        error_m: (T,) retargeting error per frame in metres.
        status: (T,) one of ``FRAME_STATUSES`` per frame.
        contacts: contact intervals of the source motion, agents renamed to instances.
        start_frame: frame number of row 0 in the whole motion (non-zero for chunks).
        source: where the motion came from.
        meta: anything else, JSON-serialisable.
    """

    qpos: np.ndarray
    joint_names: tuple[str, ...]
    fps: float
    instances: tuple[tuple[str, str], ...]
    error_m: np.ndarray | None = None
    status: np.ndarray | None = None
    contacts: list[ContactInterval] = field(default_factory=list)
    start_frame: int = 0
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.qpos = np.asarray(self.qpos, dtype=np.float64)
        self.joint_names = tuple(str(n) for n in self.joint_names)
        self.instances = tuple((str(a), str(b)) for a, b in self.instances)
        t = self.qpos.shape[0] if self.qpos.ndim == 2 else 0
        if self.error_m is None:
            self.error_m = np.zeros(t)
        if self.status is None:
            self.status = np.full(t, "ok")
        self.error_m = np.asarray(self.error_m, dtype=np.float64)
        self.status = np.asarray(self.status, dtype=str)
        self.validate(where="trajectory")

    @property
    def robot(self) -> str:
        return self.instances[0][1] if len(self.instances) == 1 else "multi"

    @property
    def num_frames(self) -> int:
        return int(self.qpos.shape[0])

    def column(self, name: str) -> np.ndarray:
        """(T,) values of one named column."""
        try:
            return self.qpos[:, self.joint_names.index(name)]
        except ValueError:
            raise KeyError(f"trajectory has no joint {name!r}") from None

    def slice(self, start: int, stop: int) -> "RobotTrajectory":
        """Frames ``[start, stop)`` as a chunk that remembers where it starts."""
        return RobotTrajectory(
            qpos=self.qpos[start:stop], joint_names=self.joint_names, fps=self.fps,
            instances=self.instances, error_m=self.error_m[start:stop],
            status=self.status[start:stop], contacts=self.contacts,
            start_frame=self.start_frame + start, source=self.source, meta=self.meta)

    def validate(self, where) -> None:
        """Check shapes and values; raise :class:`MotionFileError` naming frame and joint."""
        if self.qpos.ndim != 2:
            raise MotionFileError(where, f"qpos must have shape (T, N), got {self.qpos.shape}")
        t, n = self.qpos.shape
        if t == 0:
            raise MotionFileError(where, "qpos has no frames")
        if n != len(self.joint_names):
            raise MotionFileError(where, f"qpos has {n} columns but joint_names lists "
                                         f"{len(self.joint_names)}")
        if len(set(self.joint_names)) != n:
            dup = sorted({j for j in self.joint_names if self.joint_names.count(j) > 1})
            raise MotionFileError(where, f"duplicate joint names: {', '.join(dup)}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise MotionFileError(where, f"fps must be positive, got {self.fps}")
        if not self.instances:
            raise MotionFileError(where, "no robot instances")
        bad = ~np.isfinite(self.qpos)
        if bad.any():
            f, j = np.argwhere(bad)[0]
            raise MotionFileError(where, "non-finite joint position",
                                  frame=int(f) + self.start_frame, joint=self.joint_names[j])
        if self.error_m.shape != (t,) or self.status.shape != (t,):
            raise MotionFileError(where, f"error_m and status need one entry per frame ({t}), "
                                         f"got {self.error_m.shape} and {self.status.shape}")
        unknown = set(self.status.tolist()) - set(FRAME_STATUSES)
        if unknown:
            raise MotionFileError(where, f"unknown frame status {sorted(unknown)}; expected "
                                         f"{', '.join(FRAME_STATUSES)}")

    def save(self, path: str | Path) -> Path:
        """Write the trajectory to ``path`` (``.npz``) atomically."""
        path = Path(path)
        if path.suffix != ".npz":
            raise DyadInputError(f"{path}: trajectory files end in .npz")
        return atomic_savez(path, dict(
            qpos=self.qpos, joint_names=np.array(self.joint_names, dtype=str),
            fps=np.float64(self.fps), robot=np.str_(self.robot),
            instances=np.array(self.instances, dtype=str).reshape(-1, 2),
            error_m=self.error_m, status=self.status,
            contact_parts=np.array([[c.agent_a, c.part_a, c.agent_b, c.part_b]
                                    for c in self.contacts], dtype=str).reshape(-1, 4),
            contact_frames=np.array([[c.start, c.end] for c in self.contacts],
                                    dtype=np.int64).reshape(-1, 2),
            start_frame=np.int64(self.start_frame), source=np.str_(self.source),
            meta_json=np.str_(json.dumps(self.meta, sort_keys=True)),
        ))

    @classmethod
    def load(cls, path: str | Path) -> "RobotTrajectory":
        """Read and check a trajectory file; errors name the file, frame and joint."""
        path = Path(path)
        data = read_npz(path, required=("qpos", "joint_names", "fps", "robot"))
        names = tuple(str(n) for n in np.atleast_1d(data["joint_names"]))
        if "instances" in data and data["instances"].size:
            instances = tuple((str(a), str(b)) for a, b in data["instances"].reshape(-1, 2))
        else:
            instances = ((str(data["robot"]), str(data["robot"])),)
        parts = data.get("contact_parts", np.zeros((0, 4), dtype=str)).reshape(-1, 4)
        frames = data.get("contact_frames", np.zeros((0, 2), dtype=np.int64)).reshape(-1, 2)
        contacts = [ContactInterval(str(a), str(pa), str(b), str(pb), int(s), int(e))
                    for (a, pa, b, pb), (s, e) in zip(parts, frames)]
        try:
            meta = json.loads(str(data.get("meta_json", "{}")))
            traj = cls(qpos=np.asarray(data["qpos"], dtype=np.float64), joint_names=names,
                       fps=float(data["fps"]), instances=instances,
                       error_m=data.get("error_m"), status=data.get("status"),
                       contacts=contacts, start_frame=int(data.get("start_frame", 0)),
                       source=str(data.get("source", "")), meta=meta)
        except MotionFileError as exc:
            raise MotionFileError(path, exc.reason, frame=exc.frame, joint=exc.joint) from None
        except (TypeError, ValueError) as exc:
            raise MotionFileError(path, f"malformed trajectory ({exc})") from None
        return traj
