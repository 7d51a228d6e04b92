"""The sim gate: MuJoCo plays a robot trajectory and passes or fails it, with reasons.

``validate(trajectory)`` checks a whole trajectory. :class:`StreamingValidator` takes the chunks
of a stream in order, keeps the simulation (and every check's memory: velocities across chunk
boundaries, contacts in progress, expected-contact tallies) between them and returns a verdict
per chunk; ``finish()`` returns the verdict of the whole stream. Both run the same code, so a
trajectory checked in chunks gets the same violations as checked at once.

Bad input (unknown robot, joint names that do not match it, non-finite values, an implausible
frame rate, contact intervals naming unknown instances or parts) raises
:class:`~dyad.errors.DyadInputError` and never yields a pass.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from dyad.errors import DyadInputError
from dyad.retarget.trajectory import RobotTrajectory
from dyad.skeletons import contact_parts

from .chunk_context import ChunkContext
from .contacts import ContactChecker
from .gravity_load import GravityLoad
from .limits import check_limits
from .playback import Recording, Simulator
from .report import VIOLATION_KINDS, ValidationReport, Violation
from .scene import Scene, scene_for_trajectory
from .thresholds import Thresholds, default_thresholds
from .tracking import check_tracking

MIN_FPS, MAX_FPS = 1.0, 1000.0
KNOWN_PARTS = frozenset(contact_parts("hand21")) | frozenset(contact_parts("body22+hands"))


class TrajectoryInputError(DyadInputError):
    """A trajectory the gate cannot check (it is never passed)."""


def _check_input(traj: RobotTrajectory, min_frames: int) -> None:
    where = traj.source or "trajectory"
    if traj.num_frames < min_frames:
        raise TrajectoryInputError(f"{where}: {traj.num_frames} frame(s); the gate needs at "
                                   f"least {min_frames} to check velocities")
    if not (MIN_FPS <= traj.fps <= MAX_FPS):
        raise TrajectoryInputError(f"{where}: fps {traj.fps:g} is outside {MIN_FPS:g}-"
                                   f"{MAX_FPS:g}; Dyad trajectories are 30 fps")
    if not np.all(np.isfinite(traj.qpos)):
        f, j = np.argwhere(~np.isfinite(traj.qpos))[0]
        raise TrajectoryInputError(f"{where}: non-finite joint position at frame "
                                   f"{traj.start_frame + int(f)}, joint {traj.joint_names[j]}")
    names = {i for i, _ in traj.instances}
    for c in traj.contacts:
        for agent, part in ((c.agent_a, c.part_a), (c.agent_b, c.part_b)):
            if agent not in names:
                raise TrajectoryInputError(
                    f"{where}: contact interval names instance {agent!r}; the trajectory's "
                    f"instances are {sorted(names)}")
            if part not in KNOWN_PARTS:
                raise TrajectoryInputError(f"{where}: unknown contact part {part!r}; known "
                                           f"parts include palm, fingertips, right_palm")
        if not (0 <= c.start < c.end):
            raise TrajectoryInputError(f"{where}: contact interval frames [{c.start}, {c.end}) "
                                       "must satisfy 0 <= start < end")


def _base_poses(scene: Scene, traj: RobotTrajectory) -> tuple[np.ndarray, np.ndarray]:
    """(T, I, 3) positions and (T, I, 4) unit quaternions of every instance's base."""
    t = traj.num_frames
    pos = np.empty((t, len(scene.instances), 3))
    quat = np.empty((t, len(scene.instances), 4))
    index = {n: i for i, n in enumerate(traj.joint_names)}
    for k, inst in enumerate(scene.instances):
        if not inst.driven:
            pos[:, k] = inst.default_base_pos
            quat[:, k] = inst.default_base_quat
            continue
        cols = [index[c] for c in inst.root_columns]
        pos[:, k] = traj.qpos[:, cols[:3]]
        q = traj.qpos[:, cols[3:]]
        norm = np.linalg.norm(q, axis=1)
        bad = np.abs(norm - 1.0) > 0.01
        if bad.any():
            f = int(np.flatnonzero(bad)[0])
            raise TrajectoryInputError(
                f"{traj.source or 'trajectory'}: root quaternion of instance {inst.name!r} at "
                f"frame {traj.start_frame + f} has norm {norm[f]:.4f}; expected a unit "
                "quaternion (w, x, y, z)")
        quat[:, k] = q / norm[:, None]
    return pos, quat


def _limit_per_kind(violations: list[Violation], cap: int) -> tuple[list[Violation], dict]:
    out, dropped = [], {}
    counts: dict[str, int] = {}
    for v in sorted(violations, key=lambda v: (v.frame_start, v.kind, v.subjects)):
        counts[v.kind] = counts.get(v.kind, 0) + 1
        if counts[v.kind] <= cap:
            out.append(v)
        else:
            dropped[v.kind] = dropped.get(v.kind, 0) + 1
    return out, dropped


def _merge(violations: list[Violation], gap: int) -> list[Violation]:
    """Join runs of the same kind and subjects that chunk boundaries split."""
    out: list[Violation] = []
    last: dict[tuple, int] = {}
    for v in sorted(violations, key=lambda v: (v.frame_start, v.kind)):
        key = (v.kind, v.subjects)
        k = last.get(key)
        if k is not None and v.kind != "missed_contact" and \
                v.frame_start - out[k].frame_end <= gap:
            prev = out[k]
            worse = abs(v.measured) > abs(prev.measured)
            out[k] = replace(prev, frame_end=max(prev.frame_end, v.frame_end),
                             measured=v.measured if worse else prev.measured,
                             peak_frame=v.peak_frame if worse else prev.peak_frame)
            continue
        last[key] = len(out)
        out.append(v)
    return sorted(out, key=lambda v: (v.frame_start, v.kind, v.subjects))


class StreamingValidator:
    """Checks the chunks of one trajectory stream in order, with state kept between chunks.

    Args:
        thresholds: gate thresholds (the packaged defaults when None).
        load_robot: registry loader (``dyad.retarget.registry.load_robot`` when None).
    """

    def __init__(self, thresholds: Thresholds | None = None, load_robot=None):
        self.thresholds = thresholds or default_thresholds()
        self._load_robot = load_robot
        self.scene: Scene | None = None
        self._first: RobotTrajectory | None = None
        self._sim: Simulator | None = None
        self._contacts: ContactChecker | None = None
        self._gravity: GravityLoad | None = None
        self._history = np.zeros((0, 0))
        self._next_frame = 0
        self._violations: list[Violation] = []
        self._warnings: list[str] = []
        self._dropped: dict[str, int] = {}
        self._frames = 0
        self._sim_s = 0.0
        self._check_s = 0.0
        self._figures: dict[str, float] = {}
        self._penetration_frames = 0

    def _start(self, chunk: RobotTrajectory) -> None:
        self.scene = scene_for_trajectory(chunk, self.thresholds, self._load_robot)
        self._first = chunk
        # Contact forces are simulated for trajectories that declare contacts (sim/scene.py).
        self._sim = Simulator(self.scene, contacts=bool(chunk.contacts))
        self._contacts = ContactChecker(self.scene, self.thresholds, list(chunk.contacts),
                                        self._warnings)
        self._gravity = GravityLoad(self.scene)
        self._history = np.zeros((0, self.scene.num_joints))
        self._next_frame = chunk.start_frame
        self._frame0 = chunk.start_frame

    def _check_same_stream(self, chunk: RobotTrajectory) -> None:
        first = self._first
        where = chunk.source or "chunk"
        if chunk.joint_names != first.joint_names or chunk.instances != first.instances:
            raise TrajectoryInputError(f"{where}: joint names or instances differ from the "
                                       "stream's first chunk")
        if chunk.fps != first.fps:
            raise TrajectoryInputError(f"{where}: fps {chunk.fps:g} differs from the stream's "
                                       f"{first.fps:g}")
        if chunk.start_frame != self._next_frame:
            raise TrajectoryInputError(f"{where}: chunk starts at frame {chunk.start_frame}; "
                                       f"the stream expects frame {self._next_frame} next")

    def begin(self, chunk: RobotTrajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Check the chunk fits the stream; returns its commands in scene order:
        (T, J) joint positions, (T, I, 3) base positions, (T, I, 4) base quaternions."""
        _check_input(chunk, min_frames=1)
        if self.scene is None:
            self._start(chunk)
        else:
            self._check_same_stream(chunk)
        joint_cols, _ = self.scene.column_order(chunk)
        base_pos, base_quat = _base_poses(self.scene, chunk)
        return chunk.qpos[:, joint_cols], base_pos, base_quat

    @property
    def simulator(self) -> Simulator:
        return self._sim

    def check(self, chunk: RobotTrajectory) -> ValidationReport:
        """Simulate and check the next chunk; returns its verdict.

        Raises:
            DyadInputError: the chunk does not fit its robot or the stream (never a pass).
        """
        commanded, base_pos, base_quat = self.begin(chunk)
        t0 = time.perf_counter()
        rec: Recording = self._sim.play(commanded, base_pos, base_quat, chunk.start_frame,
                                        gravity=False)
        return self.check_recorded(chunk, rec, time.perf_counter() - t0)

    def check_recorded(self, chunk: RobotTrajectory, rec: Recording,
                       sim_wall_s: float = 0.0) -> ValidationReport:
        """Check a chunk another backend already simulated (after :meth:`begin`)."""
        scene = self.scene
        commanded = rec.commanded
        t1 = time.perf_counter()
        t0 = t1 - sim_wall_s
        ctx = ChunkContext(scene, self.thresholds, chunk.start_frame, self._history,
                           self._contacts.in_contact_mask(chunk.start_frame, chunk.num_frames))
        # The contact scan poses every frame anyway: it gathers the gravity loads the forces
        # still lack on the way, so it runs before the force check.
        pending = rec.gravity_pending
        contact_violations, contact_figures = self._contacts.check(
            rec, self._gravity if pending else None)
        if pending:
            has = scene.sensor_adr >= 0
            rec.force[:, has] += self._gravity.loads()[:, has]
            rec.gravity_pending = False
        violations, summary = check_limits(rec, ctx)
        more, figures = check_tracking(rec, ctx)
        violations += more
        summary.update(figures)
        violations += contact_violations
        summary.update(contact_figures)
        if rec.diverged:
            first = chunk.start_frame + rec.diverged[0]
            violations.append(Violation(
                "simulation_diverged", first, chunk.start_frame + chunk.num_frames, (),
                float(len(rec.diverged)), 0.0, "resets", "the physics diverged and MuJoCo "
                "reset the state: contact or servo forces too stiff for the step; the figures "
                "after this frame are not the robot's motion", first))
        t2 = time.perf_counter()

        self._history = np.concatenate([self._history, commanded], axis=0)[-2:]
        self._next_frame = chunk.start_frame + chunk.num_frames
        self._frames += chunk.num_frames
        self._sim_s += t1 - t0
        self._check_s += t2 - t1
        self._penetration_frames += summary["penetration_frames"]
        for key in ("max_velocity_ratio", "max_acceleration_ratio", "max_force_ratio",
                    "max_tracking_error_rad", "max_penetration_m"):
            self._figures[key] = max(self._figures.get(key, 0.0), summary[key])
        self._figures["force_unchecked_joints"] = summary["force_unchecked_joints"]
        self._violations += violations

        cap = int(self.thresholds["reporting"]["max_violations_per_kind"])
        kept, dropped = _limit_per_kind(violations, cap)
        duration = chunk.num_frames / chunk.fps
        summary.update(self._common_summary(chunk.num_frames, t2 - t0, duration, dropped))
        return ValidationReport(
            passed=not violations, violations=kept, summary=summary, robot=chunk.robot,
            instances=chunk.instances, frame_start=chunk.start_frame,
            frame_end=chunk.start_frame + chunk.num_frames, fps=chunk.fps,
            source=chunk.source, warnings=list(self._warnings))

    def _common_summary(self, frames: int, wall_s: float, duration_s: float,
                        dropped: dict) -> dict:
        scene = self.scene
        return {
            "frames": frames, "duration_s": duration_s, "wall_s": wall_s,
            "real_time_factor": duration_s / wall_s if wall_s > 0 else float("inf"),
            "layout": scene.layout, "substeps_per_frame": self._sim.substeps,
            "timestep_s": float(self._sim.model.opt.timestep),
            "rest_contact_pairs": sorted(f"{scene.body_name(a)} ~ {scene.body_name(b)}"
                                         for a, b in scene.rest_contacts),
            "dropped_violations": dropped, "thresholds_digest": self.thresholds.digest,
            "base_driven": {inst.name: inst.driven for inst in scene.instances},
        }

    def finish(self) -> ValidationReport:
        """The verdict of the whole stream so far (intervals still open are judged on the
        frames seen)."""
        if self.scene is None:
            raise TrajectoryInputError("the stream had no chunk to validate")
        self._violations += self._contacts.finish()
        gap = int(self.thresholds["reporting"]["merge_gap_frames"])
        merged = _merge(self._violations, gap)
        cap = int(self.thresholds["reporting"]["max_violations_per_kind"])
        kept, dropped = _limit_per_kind(merged, cap)
        first = self._first
        duration = self._frames / first.fps
        summary = dict(self._figures)
        summary["penetration_frames"] = self._penetration_frames
        summary["penetration_duration_ratio"] = (self._penetration_frames / self._frames
                                                 if self._frames else 0.0)
        summary["penetrated"] = bool(self._penetration_frames)
        summary["contact_ratios"] = self._contacts.contact_ratios()
        summary["violation_counts"] = {k: sum(v.kind == k for v in merged)
                                       for k in VIOLATION_KINDS if any(v.kind == k
                                                                       for v in merged)}
        summary["sim_wall_s"] = self._sim_s
        summary["check_wall_s"] = self._check_s
        summary.update(self._common_summary(self._frames, self._sim_s + self._check_s,
                                            duration, dropped))
        return ValidationReport(
            passed=not merged, violations=kept, summary=summary, robot=first.robot,
            instances=first.instances, frame_start=self._frame0,
            frame_end=self._next_frame, fps=first.fps, source=first.source,
            warnings=list(self._warnings))


def validate(trajectory: RobotTrajectory, thresholds: Thresholds | None = None,
             load_robot=None) -> ValidationReport:
    """Simulate a whole trajectory and return the gate's verdict.

    Args:
        trajectory: the robot trajectory (its instances name registry robots).
        thresholds: gate thresholds (the packaged defaults when None).
        load_robot: registry loader (``dyad.retarget.registry.load_robot`` when None).

    Raises:
        DyadInputError: bad input (unknown robot, mismatched joints, non-finite values...).
    """
    _check_input(trajectory, min_frames=2)
    validator = StreamingValidator(thresholds, load_robot)
    validator.check(trajectory)
    return validator.finish()
