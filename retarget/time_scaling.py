"""Time scaling: slow a robot trajectory down where the robot cannot move as fast as the human.

Human motion is often faster than a robot may play it: a clap meets at 1-2 m/s, a fist closes
at 8-10 rad/s, while a robot should touch gently and its finger actuators have a top speed.
Rather than bend the path (which loses the contact, the pinch, the shape), :func:`scale_time`
keeps every pose and stretches the time between frames where needed (the idea of path
time-parameterisation, here per frame interval):

- **joint speed**: an interval where a joint moves faster than ``velocity_margin`` times its
  limit (``joint_velocity_limits``: the robot's figures, e.g. the sim gate's through
  ``Thresholds.time_scaling_config()``) is stretched by the ratio;
- **joint acceleration**: the two intervals around a frame where a joint accelerates faster than
  ``acceleration_margin`` times its limit (``joint_acceleration_limits``) are stretched by the
  square root of the ratio (stretching time by ``s`` divides accelerations by ``s^2``). Sharp
  corners are what servos cannot follow: a joint reversing from +6 to -6 rad/s in one frame
  (360 rad/s^2, the retargeter's step bound meeting a human turn) lags by tenths of a radian
  in simulation even with an inverse-dynamics feed-forward;
- **approach speed**: two hands, or a hand and another robot's body, closing faster than a
  braking curve allows (``max_approach_speed_m_s`` at touch, more farther away:
  ``sqrt(v^2 + 2 a gap)`` with ``approach_deceleration_m_s2``) are slowed so they arrive at
  the allowed speed, sphere pair by sphere pair (the part that leads into a touch, a thumb
  ahead of its palm, is often not the pair nearest the frame before). Distances come from the sphere models of the links
  (``collision_spheres.robot_link_spheres``, covering radii: a slight under-estimate of the
  gap, so braking starts a little early); an interval that starts with the spheres already
  overlapping (hands in contact, sliding) is not an approach.

The per-interval stretch is capped (``max_slowdown``) and smoothed (``ramp_s``: a running
maximum, then a running mean, so it is never below what an interval needs and eases in and
out), then the trajectory is resampled at the original frame rate: joints linearly (mimic
couplings stay exact), root quaternions by slerp, per-frame status and meta by the nearer
source frame (``held`` and ``clamped`` win over ``ok``). Contact intervals move with the
frames. The result is longer than the input by the time added; ``meta["time_scaling"]`` keeps
the source frame (fractional) of every output frame and the figures.

It is an offline step: a stream cannot slow frames it has already played.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np

from dyad.errors import DyadInputError
from dyad.motion import ContactInterval

from .robot_model import RobotModel
from .trajectory import FREE_JOINT_COLUMNS, RobotTrajectory

_STATUS_RANK = {"ok": 0, "clamped": 1, "held": 2}


class TimeScalingError(DyadInputError):
    """Time scaling options that cannot work (non-positive speeds, a slowdown cap below 1)."""


@dataclass(frozen=True)
class TimeScalingConfig:
    """Options of :func:`scale_time`.

    Attributes:
        joint_velocity_limits: robot name pattern -> joint name pattern -> limit in rad/s (m/s
            for slides), fnmatch patterns on registry robot names and the robot's own joint
            names; the first entry that names the joint wins (the layout and the look-up of
            the sim gate's ``robots`` thresholds;
            ``dyad.sim.thresholds.Thresholds.time_scaling_config`` fills it from them).
        default_velocity_rad_s: limit of hinge joints no pattern names (None: unlimited).
        default_velocity_m_s: limit of slide joints no pattern names (None: unlimited).
        velocity_margin: joints are kept below this fraction of their limit (the servo and
            the frame-rate differences of a checker need some room).
        joint_acceleration_limits, default_acceleration_rad_s2, default_acceleration_m_s2:
            the same for accelerations (rad/s^2, m/s^2; None: unlimited).
        acceleration_margin: joints accelerate at most this fraction of their limit (a servo
            follows a rounded corner better than a sharp one, and the gate's own finite
            differences need room).
        max_approach_speed_m_s: relative speed at which two hands (or a hand and another
            robot) may meet; None: approach speed is not limited.
        approach_deceleration_m_s2: braking allowed before the touch: at a gap ``g`` the
            closing speed may be ``sqrt(v^2 + 2 a g)``.
        approach_range_m: gaps beyond this are not looked at (nothing to brake for yet).
        max_slowdown: no frame interval is stretched more than this many times (6: counting
            on fingers at synthetic speed needs 5.3x on Inspire hands, whose fingers bend at
            most 260 deg/s).
        ramp_s: the stretch eases in and out over about this long.
    """

    joint_velocity_limits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    default_velocity_rad_s: float | None = None
    default_velocity_m_s: float | None = None
    velocity_margin: float = 0.9
    joint_acceleration_limits: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    default_acceleration_rad_s2: float | None = None
    default_acceleration_m_s2: float | None = None
    acceleration_margin: float = 0.5
    max_approach_speed_m_s: float | None = 0.45
    approach_deceleration_m_s2: float = 3.0
    approach_range_m: float = 0.2
    max_slowdown: float = 6.0
    ramp_s: float = 0.1

    def __post_init__(self) -> None:
        if self.max_slowdown < 1.0:
            raise TimeScalingError(f"max_slowdown must be >= 1, got {self.max_slowdown}")
        for name in ("velocity_margin", "acceleration_margin"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise TimeScalingError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.max_approach_speed_m_s is not None and self.max_approach_speed_m_s <= 0:
            raise TimeScalingError("max_approach_speed_m_s must be positive (or None), got "
                                   f"{self.max_approach_speed_m_s}")
        if self.approach_deceleration_m_s2 < 0 or self.ramp_s < 0:
            raise TimeScalingError("approach_deceleration_m_s2 and ramp_s must be >= 0")
        values = [(name, getattr(self, name)) for name in (
            "default_velocity_rad_s", "default_velocity_m_s", "default_acceleration_rad_s2",
            "default_acceleration_m_s2")]
        for kind in ("velocity", "acceleration"):
            for robot, table in getattr(self, f"joint_{kind}_limits").items():
                values += [(f"joint_{kind}_limits[{robot!r}][{j!r}]", v)
                           for j, v in table.items()]
        for where, value in values:
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise TimeScalingError(f"{where} must be a positive number, got {value!r}")

    def joint_limit(self, robot: str, joint: str, slide: bool, kind: str = "velocity"
                    ) -> float | None:
        """The ``velocity`` or ``acceleration`` limit of one robot joint (None: not limited)."""
        if kind not in ("velocity", "acceleration"):
            raise TimeScalingError(f"unknown limit kind {kind!r}; known: velocity, acceleration")
        for robot_pattern, table in getattr(self, f"joint_{kind}_limits").items():
            if fnmatch.fnmatchcase(robot, robot_pattern):
                for pattern, value in table.items():
                    if fnmatch.fnmatchcase(joint, pattern):
                        return float(value)
        if kind == "velocity":
            return self.default_velocity_m_s if slide else self.default_velocity_rad_s
        return self.default_acceleration_m_s2 if slide else self.default_acceleration_rad_s2


# ----------------------------------------------------------------------------- the stretch


def joint_speed_slowdown(traj: RobotTrajectory, robots: Mapping[str, RobotModel],
                         config: TimeScalingConfig) -> np.ndarray:
    """(T-1,) stretch each frame interval needs so every limited joint stays within
    ``velocity_margin`` of its velocity limit and ``acceleration_margin`` of its acceleration
    limit (1 where none is exceeded).

    Args:
        traj: the trajectory.
        robots: instance name -> its robot model.
        config: the limits.
    """
    need = np.ones(max(traj.num_frames - 1, 0))
    if traj.num_frames < 2:
        return need
    speed = np.abs(np.diff(traj.qpos, axis=0)) * traj.fps
    # |acceleration| at interior frames, charged to the intervals on both sides of the frame
    accel = np.abs(np.diff(traj.qpos, n=2, axis=0)) * traj.fps ** 2
    around = np.zeros_like(speed)
    around[:-1] = accel
    around[1:] = np.maximum(around[1:], accel)
    names = {n: j for j, n in enumerate(traj.joint_names)}
    for instance, robot_name in traj.instances:
        prefix = "" if len(traj.instances) == 1 else f"{instance}/"
        robot = robots[instance]
        slides = _slide_joints(robot)
        for joint in robot.joint_names:
            column = names.get(prefix + joint)
            if column is None:
                continue
            v_max = config.joint_limit(robot_name, joint, joint in slides)
            if v_max is not None:
                need = np.maximum(need, speed[:, column] / (config.velocity_margin * v_max))
            a_max = config.joint_limit(robot_name, joint, joint in slides, "acceleration")
            if a_max is not None:
                need = np.maximum(need, np.sqrt(around[:, column]
                                                / (config.acceleration_margin * a_max)))
    return need


def _slide_joints(robot: RobotModel) -> set[str]:
    model = robot.pin_model
    return {j for j in robot.joint_names
            if model.existJointName(j) and "P" in model.joints[model.getJointId(j)].shortname()
            .replace("JointModel", "")}


def approach_slowdown(traj: RobotTrajectory, robots: Mapping[str, RobotModel],
                      config: TimeScalingConfig) -> np.ndarray:
    """(T-1,) stretch each frame interval needs so that no two hands (nor a hand and another
    robot) close faster than the braking curve allows (1 where they do not).

    Args:
        traj: the trajectory.
        robots: instance name -> its robot model.
        config: the speeds.
    """
    need = np.ones(max(traj.num_frames - 1, 0))
    if config.max_approach_speed_m_s is None or traj.num_frames < 2:
        return need
    placed = [_InstanceSpheres(traj, name, robots[name]) for name, _ in traj.instances]
    groups = []  # (instance index, group id: hand side or "body", centres (T, n, 3), radii)
    for k, inst in enumerate(placed):
        if not inst.placed:
            continue
        centres = inst.world_centres()
        for group in inst.group_names:
            rows = inst.groups == group
            groups.append((k, group, centres[:, rows], inst.radii[rows]))
    v, a = float(config.max_approach_speed_m_s), float(config.approach_deceleration_m_s2)
    for i, (ki, gi, ci, ri) in enumerate(groups):
        for kj, gj, cj, rj in groups[i + 1:]:
            if gi == "body" and gj == "body":
                continue  # bodies meet through their hands, or not at all
            if ki == kj and "body" in (gi, gj):
                continue  # own body: the IK's clearance business, not an approach
            need = np.maximum(need, _pair_need(ci, ri, cj, rj, traj.fps, v, a,
                                               config.approach_range_m))
    return need


def _pair_need(ca: np.ndarray, ra: np.ndarray, cb: np.ndarray, rb: np.ndarray, fps: float,
               v: float, a: float, reach_m: float, block: int = 32) -> np.ndarray:
    """(T-1,) stretch each interval needs so that no sphere pair of two sets closes faster
    than the braking curve. Pair by pair, not the sets' smallest gap: the part that leads into
    a touch (a thumb ahead of its palm) is not always the pair nearest the frame before."""
    need = np.ones(max(len(ca) - 1, 0))
    close = _near(ca, ra, cb, rb, reach_m)
    near = np.flatnonzero(close[:-1] | close[1:])
    radii = ra[:, None] + rb[None, :]
    for start in range(0, len(near), block):
        t = near[start:start + block]
        before = np.linalg.norm(ca[t][:, :, None] - cb[t][:, None], axis=3) - radii
        after = np.linalg.norm(ca[t + 1][:, :, None] - cb[t + 1][:, None], axis=3) - radii
        closing = (before - after) * fps
        allowed = np.sqrt(v * v + 2.0 * a * np.clip(after, 0.0, None))
        approaching = (before > 0.0) & (after < reach_m) & (closing > 0)
        need[t] = np.where(approaching, closing / allowed, 1.0).max(axis=(1, 2))
    return need


def smooth_slowdown(need: np.ndarray, fps: float, config: TimeScalingConfig) -> np.ndarray:
    """Capped, eased stretch per interval: a running maximum then a running mean over
    ``ramp_s``, so no interval gets less than it needs."""
    out = np.clip(np.asarray(need, dtype=float), 1.0, config.max_slowdown)
    half = int(round(0.5 * config.ramp_s * fps))
    if half <= 0 or len(out) == 0:
        return out
    padded = np.pad(out, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    widened = np.pad(windows.max(axis=1), half, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(widened, 2 * half + 1).mean(axis=1)


# ----------------------------------------------------------------------------- resampling


def scale_time(traj: RobotTrajectory, config: TimeScalingConfig | None = None,
               robots: Mapping[str, RobotModel] | None = None,
               load_robot: Callable[[str], RobotModel] | None = None) -> RobotTrajectory:
    """The trajectory with its frames spread out where joints or approaching hands are too
    fast (see the module docstring); the same frames when nothing is (its meta then says so).

    Args:
        traj: a whole trajectory (``start_frame`` 0).
        config: the limits (defaults: approach speed only).
        robots: instance name -> robot model; missing ones come from ``load_robot``.
        load_robot: registry loader (``dyad.retarget.registry.load_robot`` when None).

    Raises:
        TimeScalingError: a chunk of a stream (time scaling is offline only).
    """
    config = config or TimeScalingConfig()
    if traj.start_frame != 0:
        raise TimeScalingError("time scaling needs a whole trajectory (start_frame 0), got a "
                               f"chunk starting at frame {traj.start_frame}")
    if load_robot is None:
        from .registry import load_robot
    robots = dict(robots or {})
    for name, robot_name in traj.instances:
        if name not in robots:
            robots[name] = load_robot(robot_name)
    need_joints = joint_speed_slowdown(traj, robots, config)
    need_approach = approach_slowdown(traj, robots, config)
    need = np.maximum(need_joints, need_approach)
    stretch = smooth_slowdown(need, traj.fps, config)
    figures = {
        "frames_in": traj.num_frames,
        "max_needed_joint_speed": round(float(need_joints.max(initial=1.0)), 3),
        "max_needed_approach": round(float(need_approach.max(initial=1.0)), 3),
        "max_slowdown": round(float(stretch.max(initial=1.0)), 3),
        "capped": bool(need.max(initial=1.0) > config.max_slowdown),
        "config": {"velocity_margin": config.velocity_margin,
                   "acceleration_margin": config.acceleration_margin,
                   "max_approach_speed_m_s": config.max_approach_speed_m_s,
                   "approach_deceleration_m_s2": config.approach_deceleration_m_s2,
                   "max_slowdown": config.max_slowdown, "ramp_s": config.ramp_s},
    }
    if np.all(stretch <= 1.0 + 1e-9):
        return replace(traj, meta={**traj.meta,
                                   "time_scaling": {**figures, "frames_out": traj.num_frames}})
    return resample(traj, stretch, figures)


def resample(traj: RobotTrajectory, stretch: np.ndarray, figures: dict | None = None
             ) -> RobotTrajectory:
    """``traj`` played with frame interval ``k`` lasting ``stretch[k]`` frame periods,
    sampled back at ``traj.fps``.

    Args:
        traj: the trajectory (T frames).
        stretch: (T-1,) duration of each interval in frame periods (>= 1 slows down).
        figures: extra entries for ``meta["time_scaling"]``.
    """
    stretch = np.asarray(stretch, dtype=float)
    t = traj.num_frames
    if stretch.shape != (t - 1,) or not np.all(stretch > 0):
        raise TimeScalingError(f"stretch needs {t - 1} positive entries, got shape "
                               f"{stretch.shape}")
    when = np.concatenate([[0.0], np.cumsum(stretch)])  # output time of each input frame
    n_out = int(np.ceil(when[-1] - 1e-9)) + 1
    source = np.interp(np.arange(n_out, dtype=float), when, np.arange(t, dtype=float))
    lo = np.clip(np.floor(source).astype(int), 0, t - 1)
    hi = np.minimum(lo + 1, t - 1)
    u = (source - lo)[:, None]
    qpos = (1.0 - u) * traj.qpos[lo] + u * traj.qpos[hi]
    names = list(traj.joint_names)
    for prefix in _root_prefixes(names):
        cols = [names.index(prefix + c) for c in FREE_JOINT_COLUMNS[3:]]
        qpos[:, cols] = _slerp(traj.qpos[lo][:, cols], traj.qpos[hi][:, cols], u[:, 0])
    nearer = np.where(u[:, 0] < 0.5, lo, hi)
    rank = np.vectorize(_STATUS_RANK.get)(traj.status)
    status = np.where(rank[lo] >= rank[hi], traj.status[lo], traj.status[hi])
    error = traj.error_m[nearer]
    meta = {key: ([value[i] for i in nearer] if isinstance(value, list) and len(value) == t
                  else value) for key, value in traj.meta.items()}
    timing = meta.get("timing")
    if isinstance(timing, dict):
        meta["timing"] = {k: ([v[i] for i in nearer] if isinstance(v, list) and len(v) == t
                              else v) for k, v in timing.items()}
    meta["time_scaling"] = {**(figures or {}), "frames_out": n_out,
                            "source_frame": np.round(source, 3).tolist()}

    def moved(frame: int) -> int:
        return n_out if frame >= t else int(round(when[frame]))

    contacts = [ContactInterval(c.agent_a, c.part_a, c.agent_b, c.part_b, moved(c.start),
                                max(moved(c.end), moved(c.start) + 1)) for c in traj.contacts]
    return replace(traj, qpos=qpos, error_m=error, status=status, contacts=contacts, meta=meta)


def _root_prefixes(names: list[str]) -> list[str]:
    return [n[:-len("root_qw")] for n in names if n.endswith("root_qw")
            and all(n[:-len("root_qw")] + c in names for c in FREE_JOINT_COLUMNS)]


def _slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(N, 4) unit quaternions between q0 and q1 (w-first), shortest way."""
    q0 = q0 / np.linalg.norm(q0, axis=1, keepdims=True)
    q1 = q1 / np.linalg.norm(q1, axis=1, keepdims=True)
    dot = np.sum(q0 * q1, axis=1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot)
    angle = np.arccos(np.clip(dot, -1.0, 1.0))
    small = angle < 1e-6
    sin = np.where(small, 1.0, np.sin(angle))
    w0 = np.where(small, 1.0 - u, np.sin((1.0 - u) * angle) / sin)
    w1 = np.where(small, u, np.sin(u * angle) / sin)
    out = w0[:, None] * q0 + w1[:, None] * q1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- spheres


def _near(ca: np.ndarray, ra: np.ndarray, cb: np.ndarray, rb: np.ndarray,
          reach_m: float) -> np.ndarray:
    """(T,) whether two sphere sets may be within ``reach_m`` (their bounding spheres are)."""
    bound_a = ca.mean(axis=1)
    bound_b = cb.mean(axis=1)
    rad_a = (np.linalg.norm(ca - bound_a[:, None], axis=2) + ra).max(axis=1)
    rad_b = (np.linalg.norm(cb - bound_b[:, None], axis=2) + rb).max(axis=1)
    return np.linalg.norm(bound_a - bound_b, axis=1) - rad_a - rad_b < reach_m


def _min_gap(ca: np.ndarray, ra: np.ndarray, cb: np.ndarray, rb: np.ndarray,
             reach_m: float) -> np.ndarray:
    """(T,) smallest surface gap between two sphere sets over time (``reach_m`` + 1 where the
    sets are surely farther)."""
    gap = np.full(len(ca), reach_m + 1.0)
    near = np.flatnonzero(_near(ca, ra, cb, rb, reach_m))
    if len(near):
        d = np.linalg.norm(ca[near][:, :, None] - cb[near][:, None], axis=3)
        gap[near] = (d - ra[None, :, None] - rb[None, None, :]).min(axis=(1, 2))
    return gap


class _InstanceSpheres:
    """Sphere model of one trajectory instance: every collision link, grouped into its
    hands (by side) and the rest of the robot (``body``)."""

    def __init__(self, traj: RobotTrajectory, name: str, robot: RobotModel):
        import pinocchio as pin

        from .collision_spheres import robot_link_spheres

        self._pin, self.robot = pin, robot
        prefix = "" if len(traj.instances) == 1 else f"{name}/"
        names = list(traj.joint_names)
        model = robot.pin_model
        self._model, self._data = model, model.createData()
        self._joint_cols = np.array([names.index(prefix + j) for j in robot.joint_names])
        self._joint_q = np.array([model.joints[model.getJointId(j)].idx_q
                                  for j in robot.joint_names])
        has_root = all(prefix + c in names for c in FREE_JOINT_COLUMNS)
        self._root_cols = [names.index(prefix + c) for c in FREE_JOINT_COLUMNS] \
            if has_root else None
        # a fixed-base robot without root columns stands where the checker puts it: unknown
        self.placed = has_root
        self._qpos = traj.qpos
        hand_joints = {}
        for side, mapping in robot.hands.items():
            hand_joints[side] = model.frames[model.getFrameId(mapping.wrist_frame)].parentJoint
        frames, centres, radii, groups = [], [], [], []
        for link, (c, _, cover) in robot_link_spheres(robot).items():
            if not model.existFrame(link):
                continue
            fid = model.getFrameId(link)
            joint = model.frames[fid].parentJoint
            group = "body"
            for side, root_joint in hand_joints.items():
                if root_joint == 0 or _is_below(model, joint, root_joint):
                    group = side
            frames.append(np.full(len(cover), fid))
            centres.append(np.asarray(c, float))
            radii.append(np.asarray(cover, float))
            groups.append(np.full(len(cover), group, dtype=object))
        self._frames = np.concatenate(frames) if frames else np.zeros(0, int)
        self._local = np.concatenate(centres) if centres else np.zeros((0, 3))
        self.radii = np.concatenate(radii) if radii else np.zeros(0)
        self.groups = np.concatenate(groups) if groups else np.zeros(0, dtype=object)
        self.group_names = [g for g in (*robot.hands, "body") if np.any(self.groups == g)]

    def world_centres(self) -> np.ndarray:
        """(T, n, 3) sphere centres in the world at every frame."""
        pin, model, data = self._pin, self._model, self._data
        rows = self._qpos
        unique = np.unique(self._frames)
        out = np.empty((len(rows), len(self._local), 3))
        q = pin.neutral(model)
        for t, row in enumerate(rows):
            root = row[self._root_cols] if self._root_cols is not None else None
            if self.robot.floating_base and root is not None:
                q[:3] = root[:3]
                q[3:7] = [root[4], root[5], root[6], root[3]]  # pinocchio: x, y, z, w
            q[self._joint_q] = row[self._joint_cols]
            pin.framesForwardKinematics(model, data, q)
            rot = np.empty((len(unique), 3, 3))
            pos = np.empty((len(unique), 3))
            for k, fid in enumerate(unique):
                placement = data.oMf[int(fid)]
                rot[k], pos[k] = placement.rotation, placement.translation
            which = np.searchsorted(unique, self._frames)
            world = np.einsum("nij,nj->ni", rot[which], self._local) + pos[which]
            if not self.robot.floating_base and root is not None:
                base = pin.Quaternion(root[3], root[4], root[5], root[6]).normalized()
                world = world @ base.toRotationMatrix().T + root[:3]
            out[t] = world
        return out


def _is_below(model, joint: int, ancestor: int) -> bool:
    while joint > 0:
        if joint == ancestor:
            return True
        joint = model.parents[joint]
    return joint == ancestor


__all__ = ["TimeScalingConfig", "TimeScalingError", "approach_slowdown", "joint_speed_slowdown",
           "resample", "scale_time", "smooth_slowdown"]
