"""Offline retargeting of a whole motion onto robots: ``retarget_motion(motion, robot)``.

Every mode of the motion contract goes through here and comes out as one
:class:`~dyad.retarget.trajectory.RobotTrajectory`:

=====================================  ==========================================================
motion                                 robots (``robot=``)
=====================================  ==========================================================
``bimanual`` (hand21, left/right)      two hand robots (``"inspire"``, ``["inspire_left",
                                       "inspire_right"]``, ``{"left": ..., "right": ...}``):
                                       instances ``left``/``right``; each hand's base follows the
                                       human wrist (root columns) and the fingers the hand;
                                       one hand robot (``"shadow_right"``): that side only
``bimanual``                           one humanoid (``"gr1_inspire"``): it stands at rest, the
                                       waist and arms place both wrists, the fingers close, in
                                       one solve per frame
``duet`` (body22+hands, A/B)           humanoids (``"gr1_inspire"``, or ``{"A": ..., "B": ...}``):
                                       instances ``A``/``B``; the floating base follows the
                                       pelvis, legs the body, arms the wrists, fingers the hands
``body22`` (any agents)                humanoids, fingers left open
=====================================  ==========================================================

A human hand only ever drives the robot hand of its own side (never mirrored). Per frame the
result carries the mean keypoint error over its instances (body points, wrists and fingertips,
metres; NaN when every instance was held), the joints on a limit (``meta["limit_hits"]``), the
smallest clearance between the robots' hands, forearms and trunks (``meta["min_clearance_m"]``),
the solve time (``meta["timing"]["frame_ms"]``, wall, and ``frame_cpu_ms``) and a status:
``held`` when an instance's input frame had a non-finite joint (its last good pose is repeated;
the rest pose before the first good frame), ``clamped`` when a target was out of reach (pulled
in before the solve) or a keypoint ended farther than the tolerance from its target, else
``ok``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from dyad.errors import DyadInputError
from dyad.motion import ContactInterval, MotionRecord
from dyad.skeletons import HAND21_REST_LEFT, HAND21_REST_RIGHT, contact_parts, get_skeleton

from .body_ik import BodyIK, BodyIKConfig
from .body_targets import HumanToRobot, TargetConfig, TargetTrack, blend_contacts, hands_of
from .collision_spheres import Obstacles, robot_link_spheres
from .hand_ik import HandIK, HandIKConfig, neutral_within_limits
from .hand_pair import SLIDE_MAX_M, HandPairClearance
from .input_conventions import check_hand_side, hand_frame_rotation, to_hand_frame
from .robot_model import RobotModel, hand_parts
from .time_scaling import TimeScalingConfig, scale_time
from .trajectory import FREE_JOINT_COLUMNS, RobotTrajectory

SIDES = ("left", "right")
# Show a progress bar by default when a clip has this many instance-frames and stderr is a
# terminal.
_PROGRESS_MIN_FRAMES = 600
# Points whose miss marks a frame clamped: where the robot stands and what its hands and feet
# touch. Knees, elbows and shoulders follow proportions the robot may not share.
_END_POINTS = ("pelvis", "l_ankle", "r_ankle", "l_foot", "r_foot", "l_wrist", "r_wrist")
_STANDARD_PALM_M = float(np.linalg.norm(HAND21_REST_RIGHT[9] - HAND21_REST_RIGHT[0]))


class RetargetInputError(DyadInputError):
    """A motion and a robot that do not go together (skeleton, agents, hand sides)."""


@dataclass(frozen=True)
class RetargetConfig:
    """Options of :func:`retarget_motion`.

    Attributes:
        body: the humanoid solver's weights (``BodyIKConfig``).
        hand: the finger solver's weights (``HandIKConfig``; None: its defaults).
        targets: target construction (root scaling, reach, contact blending).
        clamp_tolerance_m: a pelvis, ankle, foot or wrist point farther than this from its
            target marks the frame ``clamped`` (knees, elbows and shoulders follow human
            proportions the robot may not share; their errors count in ``error_m`` only).
        finger_tolerance_m: a hand whose mean fingertip error exceeds this marks the frame
            ``clamped`` (robot hands differ from human ones: 1-3 cm is their normal
            fingertip error at rest).
        hand_clearance_m: two free-floating hand robots are moved apart (translation only) so
            their collision spheres keep this distance.
        calibrate_hands: scale each robot finger to the human's (rest-pose calibration of
            the hand solver) rather than the whole hand by one factor.
        time_scaling: slow the result down where joints or meeting hands are faster than the
            robot may go (``retarget/time_scaling.py``; the trajectory gets longer); None: off.
            ``dyad.sim.thresholds.default_thresholds().time_scaling_config()`` gives the sim
            gate's limits.
        contact_slack_s: during a contact between one agent's hand and a partner's hand or
            arm, and this long before and after it, the partner's forearm on that side is no
            obstacle to the hands (the forearms still avoid it, and the hands its trunk and
            other forearm): the hand must reach the very spot the forearm guards (a
            handshake's grip wraps the partner's wrist). The sim gate expects contacts
            between the two hands over the same slack.
        hand_overlap_m: two humanoid hands in a declared touch (a high five, palms pressed
            together) whose collision geometry is commanded deeper than this into each other
            (a thumb standing out of each palm, on the same side) slide along the palm's
            plane until it clears, at most ``hand_pair.SLIDE_MAX_M`` (the shift ramps in and
            out at 1 cm and 0.5 cm per frame); None: off.
    """

    body: BodyIKConfig = field(default_factory=BodyIKConfig)
    hand: HandIKConfig | None = None
    targets: TargetConfig = field(default_factory=TargetConfig)
    clamp_tolerance_m: float = 0.05
    finger_tolerance_m: float = 0.04
    hand_clearance_m: float = 0.005
    calibrate_hands: bool = True
    time_scaling: TimeScalingConfig | None = None
    contact_slack_s: float = 0.3
    hand_overlap_m: float | None = 0.003


@dataclass
class _Instance:
    """One robot instance being driven by one or two agents of the motion."""

    name: str
    robot: RobotModel
    agents: tuple[str, ...]                 # motion agents driving it
    kind: str                               # "body", "arms" or "hand"
    solver: object = None
    track: TargetTrack | None = None
    columns: tuple[str, ...] = ()
    last: np.ndarray | None = None          # last good trajectory row
    rest: np.ndarray | None = None          # row used before the first good frame
    extra: dict = field(default_factory=dict)
    spheres: Obstacles | None = None        # latest world shapes (obstacles for partners)
    sphere_groups: np.ndarray | None = None  # (P,) clearance group of each of those spheres


# ----------------------------------------------------------------------------- robots


def _load(robot) -> RobotModel:
    from .registry import load_robot

    if isinstance(robot, RobotModel):
        return robot
    return load_robot(robot)


def _hand_side(robot: RobotModel) -> str:
    if robot.floating_base or len(robot.hands) != 1:
        raise RetargetInputError(f"robot {robot.name!r} is not a single hand")
    return next(iter(robot.hands))


def _expand_hand_family(name: str) -> list[str] | None:
    """``inspire`` -> ``[inspire_left, inspire_right]`` when both exist and ``inspire`` is not
    itself a robot."""
    from .registry import list_robots

    known = list_robots()
    if name in known:
        return None
    pair = [f"{name}_{side}" for side in SIDES]
    return pair if all(p in known for p in pair) else None


def plan_instances(skeleton: str, agents: Sequence[str], robot) -> list[tuple[str, RobotModel,
                                                                            tuple[str, ...], str]]:
    """Which robot instance each agent drives: (instance, robot, agents, kind) tuples.

    Args:
        skeleton: the motion's skeleton.
        agents: the motion's agents.
        robot: a registry name (a humanoid, a hand, or a hand family such as ``inspire``), a
            :class:`RobotModel`, a list of hand robots, or a mapping agent -> robot.

    Raises:
        RetargetInputError: a skeleton the robots cannot play (a duet to hands), a hand of the
            wrong side, an agent without a robot.
        UnknownRobotError: a name the registry does not know (it lists the known ones).
    """
    get_skeleton(skeleton)
    agents = tuple(agents)
    if skeleton == "hand21":
        bad = [a for a in agents if a not in SIDES]
        if bad:
            raise RetargetInputError(
                f"hand21 motion agents must be 'left' and/or 'right' (the hand's side), got "
                f"{list(agents)}")
    if isinstance(robot, Mapping):
        assignment = {str(a): _load(r) for a, r in robot.items()}
        unknown = sorted(set(assignment) - set(agents))
        if unknown:
            raise RetargetInputError(f"robot mapping names agents {unknown}; the motion's "
                                     f"agents are {list(agents)}")
    else:
        names = [robot] if isinstance(robot, (str, RobotModel)) else list(robot)
        if len(names) == 1 and isinstance(names[0], str):
            names = _expand_hand_family(names[0]) or names
        models = [_load(r) for r in names]
        humanoids = [m for m in models if m.floating_base]
        if humanoids and len(models) > 1:
            raise RetargetInputError("give one humanoid, or a mapping agent -> robot; got "
                                     f"{[m.name for m in models]}")
        if humanoids:
            if skeleton == "hand21":
                assignment = {"+".join(agents): humanoids[0]}
            else:
                assignment = {a: humanoids[0] for a in agents}
        else:
            assignment = {}
            for m in models:
                side = _hand_side(m)
                if side in assignment:
                    raise RetargetInputError(f"two robots for the {side} hand: "
                                             f"{assignment[side].name} and {m.name}")
                assignment[side] = m
    plans = []
    for key, model in assignment.items():
        if skeleton in ("body22+hands", "body22"):
            if not model.floating_base:
                raise RetargetInputError(
                    f"a {skeleton} motion (whole bodies, agents {list(agents)}) needs humanoid "
                    f"robots; {model.name!r} is a hand. Humanoids: {_humanoid_names()}")
            plans.append((key, model, (key,), "body"))
        elif model.floating_base:
            sides = tuple(a for a in SIDES if a in key.split("+"))
            missing = [s for s in sides if s not in model.hands]
            if missing:
                raise RetargetInputError(f"robot {model.name!r} has no {missing[0]} hand")
            plans.append((model.name, model, sides, "arms"))
        else:
            side = _hand_side(model)
            agent = key if key in SIDES else side
            check_hand_side(agent, side, robot=model.name)
            if agent not in agents:
                raise RetargetInputError(f"robot {model.name!r} is a {side} hand but the motion "
                                         f"has no {side} hand (agents {list(agents)})")
            plans.append((agent, model, (agent,), "hand"))
    if not plans:
        raise RetargetInputError("no robot instance to retarget to")
    if len(plans) == 1:  # a single instance is named after its robot (no column prefix)
        _, model, ag, kind = plans[0]
        plans = [(model.name, model, ag, kind)]
    else:
        order = {a: i for i, a in enumerate(agents)}
        plans.sort(key=lambda p: order.get(p[2][0], 0))
    return plans


def _humanoid_names() -> str:
    from .body_mapping import known_body_mappings

    return ", ".join(known_body_mappings())


# ----------------------------------------------------------------------------- free hands


class _FreeHand:
    """A hand robot whose base follows the human wrist and whose fingers follow the hand."""

    def __init__(self, robot: RobotModel, side: str, hand_config: HandIKConfig | None):
        import pinocchio as pin

        self.robot, self.side = robot, side
        self.ik = HandIK.from_robot_model(robot, side, hand_config)
        model = robot.pin_model
        self.q_full = neutral_within_limits(model)  # joints the hand solver locks stay here
        self._qidx = np.array([model.joints[model.getJointId(j)].idx_q
                               for j in self.ik.joint_names])
        self._cols = np.array([model.joints[model.getJointId(j)].idx_q
                               for j in robot.joint_names])
        data = model.createData()
        pin.framesForwardKinematics(model, data, self.q_full)
        mapping = robot.hands[side]
        wrist = data.oMf[model.getFrameId(mapping.wrist_frame)]
        origin = data.oMf[model.getFrameId(mapping.keypoint_frames.get(0, mapping.wrist_frame))]
        # Root pose from the wrist pose: wrist = root * (rotation_root_wrist, origin_in_root).
        self._rot_root_wrist = wrist.rotation.copy()
        self._origin_in_root = origin.translation.copy()
        self._rot_hand_to_wrist_t = np.asarray(mapping.rotation_hand_to_wrist, float).T
        self._pin, self._model, self._data = pin, model, data
        spheres = robot_link_spheres(robot)
        bodies = [b for b in spheres if model.existFrame(b)]
        self._sphere_frames = [model.getFrameId(b) for b in bodies]
        self._spheres = [spheres[b][:2] for b in bodies]  # inside radii: hands touch
        self._sphere_owner = np.repeat(np.array(bodies, dtype=object),
                                       [len(spheres[b][1]) for b in bodies])
        self._hand_parts = hand_parts(robot, side)

    def part_mask(self, part: str) -> np.ndarray | None:
        """(S,) spheres of a hand21 contact part (``palm``, ``fingers``, ``fingertips``,
        ``index_tip``, ``hand``...) or of one finger, by the bodies the sim gate gives it
        (``HandParts.bodies``); None where the robot has none of it."""
        if self._hand_parts is None:
            return None
        mask = np.isin(self._sphere_owner, sorted(self._hand_parts.bodies(part)))
        return mask if mask.any() else None

    def roots(self, hands_world: np.ndarray) -> np.ndarray:
        """(T, 7) root poses (x, y, z, qw, qx, qy, qz) that put the robot wrist on the human
        wrist with the human hand's orientation."""
        pin = self._pin
        rot_world_wrist = hand_frame_rotation(hands_world, self.side) @ self._rot_hand_to_wrist_t
        rot_root = rot_world_wrist @ self._rot_root_wrist.T
        pos = hands_world[:, 0] - np.einsum("tij,j->ti", rot_root, self._origin_in_root)
        out = np.full((len(hands_world), 7), np.nan)
        for t in range(len(hands_world)):
            if np.isfinite(rot_root[t]).all() and np.isfinite(pos[t]).all():
                quat = pin.Quaternion(rot_root[t]).normalized()
                out[t] = [*pos[t], quat.w, quat.x, quat.y, quat.z]
        return out

    def row(self, root: np.ndarray, q_hand: np.ndarray) -> np.ndarray:
        q = self.q_full.copy()
        q[self._qidx] = q_hand
        return np.concatenate([root, q[self._cols]])

    def spheres_world(self, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World sphere centres and radii of the whole hand for a trajectory row."""
        pin = self._pin
        q = self.q_full.copy()
        q[self._cols] = row[7:]
        pin.framesForwardKinematics(self._model, self._data, q)
        rot = pin.Quaternion(row[3], row[4], row[5], row[6]).toRotationMatrix()
        centres, radii = [], []
        for fid, (c, r) in zip(self._sphere_frames, self._spheres):
            m = self._data.oMf[fid]
            centres.append((c @ m.rotation.T + m.translation) @ rot.T + row[:3])
            radii.append(r)
        return np.concatenate(centres), np.concatenate(radii)


_MAX_SEPARATION_STEP_M = 0.005


def separate_hands(left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray],
                   margin_m: float, iterations: int = 20) -> tuple[np.ndarray, float]:
    """The smallest translation ``d`` (left moves +d/2, right -d/2) after which two sphere
    sets keep ``margin_m`` apart, and their smallest gap after moving.

    Gauss-Newton on the hinge penalty of every pair closer than the margin, so a clap keeps
    its palms touching (at the margin) instead of passing through each other.

    Args:
        left, right: ((n, 3) centres, (n,) radii) of each hand's spheres, world frame.
        margin_m: surface-to-surface distance to keep.
        iterations: Gauss-Newton iterations at most.
    """
    (cl, rl), (cr, rr) = left, right
    diff0 = cl[:, None, :] - cr[None, :, :]
    base = rl[:, None] + rr[None, :]
    d = np.zeros(3)
    for _ in range(iterations):
        diff = diff0 + d
        dist = np.linalg.norm(diff, axis=-1)
        pen = margin_m - (dist - base)
        hit = pen > 1e-5
        if not hit.any():
            break
        u = diff[hit] / np.maximum(dist[hit], 1e-9)[:, None]
        # Minimise 1e-4 |step|^2 + sum (pen - u . step)^2: the hinge's Gauss-Newton step,
        # at most _MAX_SEPARATION_STEP_M long: pairs whose centres nearly coincide (cupped
        # hands, pinky on pinky) have no reliable direction, and one full step along theirs
        # threw two touching hands 20 cm apart.
        step = np.linalg.solve(u.T @ u + 1e-4 * np.eye(3), u.T @ pen[hit])
        norm = float(np.linalg.norm(step))
        if norm > _MAX_SEPARATION_STEP_M:
            step *= _MAX_SEPARATION_STEP_M / norm
        d = d + step
    gap = float((np.linalg.norm(diff0 + d, axis=-1) - base).min())
    return d, gap


# ----------------------------------------------------------------------------- API


def retarget_motion(motion: MotionRecord | str | Path, robot, *,
                    config: RetargetConfig | None = None, progress: bool | None = None
                    ) -> RobotTrajectory:
    """Retarget a whole motion onto robots (see the module docstring for the modes).

    Args:
        motion: a :class:`MotionRecord` or the path of a motion ``.npz``.
        robot: a registry robot name (humanoid, hand, or hand family such as ``inspire``), a
            :class:`RobotModel`, a list of hand robots, or a mapping agent -> robot.
        config: solver and status options.
        progress: show a progress bar on stderr (default: for long clips on a terminal).

    Returns:
        The trajectory: columns per instance (``A/root_x``, ``A/r_shoulder_pitch``, ...), error
        and status per frame, the motion's contacts with agents renamed to instances.

    Raises:
        RetargetInputError: the motion's skeleton or agents do not fit the robots.
        UnknownRobotError: an unknown robot name (the message lists the known ones).
        MotionFileError: an unreadable motion file.
    """
    source = ""
    if not isinstance(motion, MotionRecord):
        source = str(motion)
        motion = MotionRecord.load(motion)
    return retarget_joints(motion.joints, motion.skeleton, motion.agents, robot, fps=motion.fps,
                           contacts=motion.contacts, config=config, progress=progress,
                           source=source or motion.meta.get("source", ""),
                           meta={"text": motion.text, "label": motion.label})


def retarget_joints(joints: np.ndarray, skeleton: str, agents: Sequence[str], robot, *,
                    fps: float = 30.0, contacts: Sequence[ContactInterval] = (),
                    config: RetargetConfig | None = None, progress: bool | None = None,
                    source: str = "", meta: dict | None = None) -> RobotTrajectory:
    """:func:`retarget_motion` on raw arrays, which (unlike motion files) may hold non-finite
    frames: an agent's frame with any NaN or inf joint is held (the last good pose, status
    ``held``), as a tracker dropping out would be.

    Args:
        joints: (T, agents, J, 3) joint positions in metres, world frame.
        skeleton: ``hand21``, ``body22`` or ``body22+hands``.
        agents: agent names, one per axis-1 entry.
        robot: as for :func:`retarget_motion`.
        fps: frame rate.
        contacts: contact intervals of the motion (agents renamed to instances in the
            result; intervals naming an agent no robot plays are dropped).
        config: options.
        progress: progress bar on stderr (default: long clips on a terminal).
        source: where the motion came from.
        meta: extra entries for the trajectory's meta.
    """
    config = config or RetargetConfig()
    skel = get_skeleton(skeleton)
    arr = np.asarray(joints, dtype=np.float64)
    agents = tuple(str(a) for a in agents)
    if arr.ndim != 4 or arr.shape[1:] != (len(agents), skel.num_joints, 3) or len(arr) == 0:
        raise RetargetInputError(f"joints: expected shape (T>=1, {len(agents)}, "
                                 f"{skel.num_joints}, 3) for skeleton {skeleton} and agents "
                                 f"{list(agents)}, got {arr.shape}")
    if not (np.isfinite(fps) and fps > 0):
        raise RetargetInputError(f"fps must be positive, got {fps}")
    plans = plan_instances(skeleton, agents, robot)
    valid = np.isfinite(arr).all(axis=(2, 3))  # (T, agents)
    if not valid.any():
        raise RetargetInputError("every frame has non-finite joints: nothing to retarget")
    num_frames = len(arr)
    instances = _build_instances(plans, arr, skeleton, agents, valid, config, contacts,
                                 round(config.contact_slack_s * fps))
    unshielded = _unshielded_forearms(contacts, {a: inst.name for inst in instances
                                                 for a in inst.agents},
                                      num_frames, round(config.contact_slack_s * fps))
    slides = [] if config.hand_overlap_m is None else _hand_slides(
        contacts, instances, num_frames, round(config.contact_slack_s * fps))
    hand_agents = [a for inst in instances if inst.kind == "hand" for a in inst.agents]
    hand_pair = _hand_pair(instances)
    hands_touch, touch_parts = _touch_weight(contacts, hand_agents, num_frames,
                                             round(config.contact_slack_s * fps))

    columns: list[str] = []
    for inst in instances:
        prefix = "" if len(instances) == 1 else f"{inst.name}/"
        columns += [prefix + c for c in inst.columns]
    qpos = np.zeros((num_frames, len(columns)))
    error = np.full(num_frames, np.nan)
    status = np.full(num_frames, "ok", dtype=object)
    limit_hits = np.zeros(num_frames, dtype=int)
    min_gap = np.full(num_frames, np.inf)
    agent_index = {a: i for i, a in enumerate(agents)}
    show = progress if progress is not None else (
        num_frames * len(instances) >= _PROGRESS_MIN_FRAMES and sys.stderr.isatty())
    bar = _progress_bar(num_frames, instances, show)
    started = time.perf_counter()
    frame_ms = np.zeros(num_frames)
    frame_cpu_ms = np.zeros(num_frames)
    for t in range(num_frames):
        errors, rows = [], []
        free_hands = []
        for slide in slides:
            slide.apply(t)
        for inst in instances:
            ok = all(valid[t, agent_index[a]] for a in inst.agents)
            if not ok:
                status[t] = "held"
                rows.append(inst.last if inst.last is not None else inst.rest)
                continue
            # Partners are obstacles where they stand now (solved earlier this frame) or
            # stood a frame ago.
            obstacles = None
            for other in instances:
                if other is not inst and other.spheres is not None:
                    touch = unshielded.get((inst.name, other.name), {}).get(t)
                    touchable = np.isin(other.sphere_groups, sorted(touch or ()))
                    obstacles = _merge_obstacles(obstacles,
                                                 other.spheres._replace(touchable=touchable))
            w0, c0 = time.perf_counter(), time.thread_time()
            row, errs, clamped, hits, gap = _solve_instance(inst, t, obstacles, config)
            frame_ms[t] += 1e3 * (time.perf_counter() - w0)
            frame_cpu_ms[t] += 1e3 * (time.thread_time() - c0)
            inst.last = row
            rows.append(row)
            errors.extend(errs)
            limit_hits[t] += hits
            min_gap[t] = min(min_gap[t], gap)
            if clamped and status[t] == "ok":
                status[t] = "clamped"
            if inst.kind == "body" and len(instances) > 1:
                inst.spheres = inst.solver.obstacle_spheres()
                inst.sphere_groups = inst.solver.obstacle_sphere_groups
            if inst.kind == "hand":
                free_hands.append((inst, len(rows) - 1))
        if len(free_hands) == 2:
            moved, gap = _separate_free_hands(free_hands, rows, config.hand_clearance_m,
                                              hands_touch[t], config.targets, hand_pair,
                                              touch_parts[t])
            min_gap[t] = min(min_gap[t], gap)
            errors.extend([0.5 * moved, 0.5 * moved])  # each wrist left its target by this
            for inst, i in free_hands:
                inst.last = rows[i]  # a held frame repeats the separated pose
        elif free_hands:
            errors.extend([0.0] * len(free_hands))  # a free wrist sits on its target
        if slides:
            row_of = {inst.name: row for inst, row in zip(instances, rows)}
            for slide in slides:
                slide.update(t, row_of, config.hand_overlap_m)
        qpos[t] = np.concatenate(rows)
        if errors:
            error[t] = float(np.mean(errors))
        bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - started

    names = {a: inst.name for inst in instances for a in inst.agents}
    kept, dropped = [], 0
    for c in contacts:
        if c.agent_a not in names or c.agent_b not in names:
            dropped += 1
            continue
        kept.append(_rename_contact(c, names, skeleton, instances))
    meta_out = dict(meta or {})
    meta_out.update({
        "skeleton": skeleton,
        "agents": list(agents),
        "instance_agents": {inst.name: list(inst.agents) for inst in instances},
        "limit_hits": limit_hits.tolist(),
        "min_clearance_m": [round(float(g), 5) if np.isfinite(g) else None for g in min_gap],
        "contacts_dropped": dropped,
        "config": {"clamp_tolerance_m": config.clamp_tolerance_m,
                   "finger_tolerance_m": config.finger_tolerance_m,
                   "clearance_m": config.body.clearance_m,
                   "root_xy_scale": config.targets.root_xy_scale},
        "scales": {inst.name: _scales(inst) for inst in instances},
        "timing": {"total_s": round(elapsed, 4),
                   "solve_ms_per_frame": round(float(frame_ms.mean()), 4),
                   "frame_ms": np.round(frame_ms, 4).tolist(),
                   "frame_cpu_ms": np.round(frame_cpu_ms, 4).tolist()},
    })
    trajectory = RobotTrajectory(
        qpos=qpos, joint_names=tuple(columns), fps=float(fps),
        instances=tuple((inst.name, inst.robot.name) for inst in instances),
        error_m=error, status=status.astype(str), contacts=kept, source=source, meta=meta_out)
    if config.time_scaling is not None:
        trajectory = scale_time(trajectory, config.time_scaling,
                                robots={inst.name: inst.robot for inst in instances})
    return trajectory


# ----------------------------------------------------------------------------- internals


def _hand_size_ratio(hand21: np.ndarray) -> float:
    """The human hand's size over Dyad's standard hand (wrist to middle MCP, a rigid bone)."""
    d = np.linalg.norm(hand21[..., 9, :] - hand21[..., 0, :], axis=-1)
    d = d[np.isfinite(d)]
    return float(np.median(d)) / _STANDARD_PALM_M if len(d) else 1.0


def _hands_world(arr: np.ndarray, skeleton: str, agents: tuple[str, ...],
                 inst_agents: tuple[str, ...]) -> dict[str, np.ndarray]:
    """side -> (T, 21, 3) world hands driving an instance."""
    if skeleton == "hand21":
        return {a: arr[:, agents.index(a)] for a in inst_agents}
    if skeleton == "body22+hands":
        return hands_of(arr[:, agents.index(inst_agents[0])])
    return {}


def _build_instances(plans, arr, skeleton, agents, valid, config: RetargetConfig,
                     contacts: Sequence[ContactInterval] = (), slack_frames: int = 0
                     ) -> list[_Instance]:
    instances, tracks, humans, human_hands = [], [], [], []
    for name, model, inst_agents, kind in plans:
        inst = _Instance(name=name, robot=model, agents=inst_agents, kind=kind)
        hands = _hands_world(arr, skeleton, agents, inst_agents)
        # Whole-clip side check: a right hand never drives a left robot hand, and a clip
        # that looks mirrored is refused (median chirality over its good frames).
        for side, hand in hands.items():
            good = np.isfinite(hand).all(axis=(1, 2))
            if good.any():
                to_hand_frame(hand[good], "hand21_world", side, check_mirrored=True)
        if kind == "hand":
            side = inst_agents[0]
            solver = _FreeHand(model, side, config.hand)
            if config.calibrate_hands:
                solver.ik.calibrate(_rest_hand(side, _hand_size_ratio(hands[side])),
                                    solver.q_full[solver._qidx])
            inst.solver = solver
            inst.columns = FREE_JOINT_COLUMNS + model.joint_names
            inst.extra = {"roots": solver.roots(hands[side]),
                          "hand_frame": to_hand_frame(hands[side], "hand21_world", side,
                                                      check_mirrored=False)}
            first_root = inst.extra["roots"][np.flatnonzero(valid[:, agents.index(side)])[0]]
            inst.rest = solver.row(first_root, solver.ik.qpos_from_independent(
                solver.ik.independent_rest))
        else:
            solver = BodyIK(model, config=config.body, hand_config=config.hand,
                            follow_body=(kind == "body"))
            if config.calibrate_hands and hands:
                solver.calibrate_hands({s: _hand_size_ratio(h) for s, h in hands.items()})
            body = arr[:, agents.index(inst_agents[0]), :22] if kind == "body" else None
            h2r = HumanToRobot(model, solver.geometry, body, config.targets)
            inst.track = h2r.body_track(body, hands) if kind == "body" else h2r.arm_track(hands)
            tracks.append(inst.track)
            humans.append(HumanToRobot.human_points(body, hands))
            human_hands.append({f"{side[0]}_wrist": h for side, h in hands.items()})
            inst.solver = solver
            inst.columns = FREE_JOINT_COLUMNS + model.joint_names
            inst.rest = solver.qpos(solver.q_rest)
            inst.extra = {"h2r": h2r}
        instances.append(inst)
    if tracks:
        track_agents = [inst.agents[0] for inst in instances if inst.track is not None]
        declared = [{f"{side[0]}_wrist": w for side, w in
                     _hand_contact_weights(contacts, agent, len(arr), slack_frames).items()}
                    for agent in track_agents]
        blend_contacts(tracks, humans, config.targets, declared, human_hands)
    return instances


def _rest_hand(side: str, ratio: float) -> np.ndarray:
    return (HAND21_REST_RIGHT if side == "right" else HAND21_REST_LEFT) * ratio


def _solve_instance(inst: _Instance, t: int, obstacles, config: RetargetConfig):
    """One instance, one frame: (row, keypoint errors, clamped?, limit hits, min gap)."""
    if inst.kind == "hand":
        solver: _FreeHand = inst.solver
        kp = inst.extra["hand_frame"][t]
        q_hand = solver.ik.solve(kp, check=False)
        errors = solver.ik.errors(q_hand, kp)
        tip = errors["fingertip_error_m"]
        row = solver.row(inst.extra["roots"][t], q_hand)
        return row, [tip], tip > config.finger_tolerance_m, solver.ik.info.limit_hits, np.inf
    solver: BodyIK = inst.solver
    q = solver.solve(inst.track.frame(t), obstacles)
    info = solver.info
    clamped = bool(info.clamped) \
        or any(info.point_errors_m.get(n, 0.0) > config.clamp_tolerance_m for n in _END_POINTS) \
        or any(e > config.finger_tolerance_m for e in info.fingertip_errors_m.values())
    return (solver.qpos(q), list(info.keypoint_errors_m()), clamped, info.limit_hits,
            info.min_clearance_m)


def _limb_side(part: str, arms: bool = True) -> str | None:
    """``left``/``right`` for a contact part on a hand or (with ``arms``) arm (``right_palm``,
    ``left_hand``, ``left_forearm``, ``right_arm``, ...), None for the trunk, head, shoulders
    and legs."""
    side, _, rest = part.partition("_")
    if side not in SIDES:
        return None
    if (arms and rest in ("forearm", "arm")) or rest in contact_parts("hand21"):
        return side
    return None


def _unshielded_forearms(contacts: Sequence[ContactInterval], instance_of: dict[str, str],
                         num_frames: int, slack_frames: int
                         ) -> dict[tuple[str, str], dict[int, set[str]]]:
    """(instance, partner) -> frame -> the partner's forearm groups the instance's hands may
    touch then: those of a hand or arm contact between the two, ``slack_frames`` either side
    included."""
    out: dict[tuple[str, str], dict[int, set[str]]] = {}
    for c in contacts:
        if c.agent_a not in instance_of or c.agent_b not in instance_of:
            continue
        a, b = instance_of[c.agent_a], instance_of[c.agent_b]
        side_a, side_b = _limb_side(c.part_a), _limb_side(c.part_b)
        if a == b or side_a is None or side_b is None:
            continue
        frames = range(max(c.start - slack_frames, 0), min(c.end + slack_frames, num_frames))
        for me, partner, side in ((a, b, side_b), (b, a, side_a)):
            per_frame = out.setdefault((me, partner), {})
            for t in frames:
                per_frame.setdefault(t, set()).add(f"{side}_forearm")
    return out


def _merge_obstacles(current: Obstacles | None, new: Obstacles) -> Obstacles:
    if current is None:
        return new
    return Obstacles(*(np.concatenate([a, b]) for a, b in zip(current, new)))


def _interval_weight(c: ContactInterval, num_frames: int, slack_frames: int) -> np.ndarray:
    """(T,) 1 over the contact's frames, ramping to 0 over ``slack_frames`` either side."""
    frames = np.arange(num_frames)
    ramp = max(slack_frames, 1)
    before = np.clip((frames - (c.start - ramp)) / ramp, 0.0, 1.0)
    after = np.clip(((c.end - 1 + ramp) - frames) / ramp, 0.0, 1.0)
    return np.minimum(before, after)


def _touch_weight(contacts: Sequence[ContactInterval], agents: list[str], num_frames: int,
                  slack_frames: int) -> tuple[np.ndarray, list[dict[str, str] | None]]:
    """(T,) 1 where the two free hands ``agents`` are in a declared contact with each other,
    ramping to 0 over ``slack_frames`` before and after, 0 elsewhere; and per frame the parts
    (agent -> hand21 part) of the contact weighing most then (None where none does)."""
    weight = np.zeros(num_frames)
    parts: list[dict[str, str] | None] = [None] * num_frames
    if len(agents) != 2:
        return weight, parts
    for c in contacts:
        if {c.agent_a, c.agent_b} == set(agents) and c.agent_a != c.agent_b:
            w = _interval_weight(c, num_frames, slack_frames)
            for t in np.flatnonzero(w > weight):
                parts[t] = {c.agent_a: c.part_a, c.agent_b: c.part_b}
            weight = np.maximum(weight, w)
    return weight, parts


def _hand_contact_weights(contacts: Sequence[ContactInterval], agent: str, num_frames: int,
                          slack_frames: int) -> dict[str, np.ndarray]:
    """Side -> (T,) weight of ``agent``'s hands in declared contacts with another agent (1
    during the contact, ramping over ``slack_frames``); only hand parts (a forearm or arm
    contact moves no wrist)."""
    out: dict[str, np.ndarray] = {}
    for c in contacts:
        if c.agent_a == c.agent_b:
            continue
        for who, part in ((c.agent_a, c.part_a), (c.agent_b, c.part_b)):
            side = _limb_side(part, arms=False)
            if who != agent or side is None:
                continue
            w = _interval_weight(c, num_frames, slack_frames)
            out[side] = np.maximum(out.get(side, 0.0), w)
    return out


_SLIDE_IN_M = 0.01  # per frame, the most a hand slide grows ...
_SLIDE_OUT_M = 0.005  # ... and shrinks once the touch is over
_SLIDE_AHEAD = 3  # frames: how far ahead a slide judges the hands


@dataclass
class _HandSlide:
    """A declared touch between hands of two humanoids (or both hands of one), and how far
    hand ``b`` is shifted against hand ``a`` in a's palm plane so that what stands out of the
    palms does not collide (``HandPairClearance.slide``). Causal: the shift measured on one
    frame's solution moves the next frame's wrist targets (half each; the elbows follow half
    of that, as in ``blend_contacts``)."""

    a: _Instance
    side_a: str
    b: _Instance
    side_b: str
    weight: np.ndarray  # (T,) the touch: 1 during it, ramping to 0 over the slack
    pair: HandPairClearance
    shift: np.ndarray = field(default_factory=lambda: np.zeros(3))
    direction: np.ndarray | None = None

    def apply(self, t: int) -> None:
        if not self.shift.any():
            return
        for inst, side, sign in ((self.a, self.side_a, -0.5), (self.b, self.side_b, 0.5)):
            points = inst.track.points_m
            points[f"{side[0]}_wrist"][t] = points[f"{side[0]}_wrist"][t] + sign * self.shift
            elbow = points.get(f"{side[0]}_elbow")
            if elbow is not None:
                elbow[t] = elbow[t] + 0.5 * sign * self.shift

    def update(self, t: int, rows: dict[str, np.ndarray], margin_m: float) -> None:
        if self.weight[t] > 0.0:
            # Judged on this frame's solution, and where the hands will be a few frames on
            # (the targets are known): hands meeting at 2 cm a frame would otherwise be
            # measured only once inside each other. The first shift found sets the direction;
            # after that the shift only grows along it (a shift chosen afresh every frame
            # hopped between equally short ones and never got far enough).
            later = min(t + _SLIDE_AHEAD, len(self.weight) - 1)
            # This frame's targets carry the shift already; the later ones will.
            ahead = self._relative(later) - self._relative(t) + (self.shift if later > t else 0.0)
            for move in (np.zeros(3), ahead):
                row_b = rows[self.b.name].copy()
                row_b[:3] += move
                more, _ = self.pair.slide(rows[self.a.name], row_b, margin_m, self.direction)
                if more is None and self.direction is not None:
                    # Stuck along it (the hands turned since): a new direction from here.
                    more, _ = self.pair.slide(rows[self.a.name], row_b, margin_m)
                    if more is not None and more.any():
                        self.direction = None
                if more is not None and more.any():
                    break
            if more is not None and more.any():
                goal = _clip_norm(self.shift + more, SLIDE_MAX_M)
                if self.direction is None:
                    self.direction = goal / np.linalg.norm(goal)
                self.shift = self.shift + _clip_norm(goal - self.shift, _SLIDE_IN_M)
            elif more is None:
                self._let_go()  # nothing clears it (fingers pressed into a palm): no shift
        else:
            self._let_go()

    def _let_go(self) -> None:
        if self.shift.any():
            n = float(np.linalg.norm(self.shift))
            self.shift = self.shift * max(n - _SLIDE_OUT_M, 0.0) / n
            if not self.shift.any():
                self.direction = None

    def _relative(self, t: int) -> np.ndarray:
        """Hand b's wrist target less hand a's at frame ``t``."""
        return self.b.track.points_m[f"{self.side_b[0]}_wrist"][t] \
            - self.a.track.points_m[f"{self.side_a[0]}_wrist"][t]


def _clip_norm(v: np.ndarray, limit: float) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v * (limit / n) if n > limit else v


def _hand_slides(contacts: Sequence[ContactInterval], instances: list[_Instance],
                 num_frames: int, slack_frames: int) -> list[_HandSlide]:
    """One :class:`_HandSlide` per pair of humanoid hands the contacts declare touching."""
    owner = {a: inst for inst in instances if inst.track is not None for a in inst.agents}
    slides: dict[tuple, _HandSlide] = {}
    for c in contacts:
        ia, ib = owner.get(c.agent_a), owner.get(c.agent_b)
        if ia is None or ib is None:
            continue
        sa, sb = _hand_side_of(ia, c.agent_a, c.part_a), _hand_side_of(ib, c.agent_b, c.part_b)
        if sa is None or sb is None or (ia is ib and sa == sb):
            continue
        key = (ia.name, sa, ib.name, sb)
        weight = _interval_weight(c, num_frames, slack_frames)
        if key in slides:
            slides[key].weight = np.maximum(slides[key].weight, weight)
            continue
        pair = HandPairClearance.for_robots(ia.robot, ib.robot, (sa, sb))
        slides[key] = _HandSlide(ia, sa, ib, sb, weight, pair)
    return list(slides.values())


def _hand_side_of(inst: _Instance, agent: str, part: str) -> str | None:
    """The side of the robot hand that plays a contact part, None for parts off the hands."""
    if inst.kind == "arms":
        return agent if agent in SIDES and part in contact_parts("hand21") else None
    return _limb_side(part, arms=False)


def _hand_pair(instances: list[_Instance]) -> HandPairClearance | None:
    """The mesh clearance of two free hands (a left and a right one), else None."""
    hands = {inst.agents[0]: inst.robot for inst in instances if inst.kind == "hand"}
    if set(hands) != set(SIDES):
        return None
    return HandPairClearance.for_robots(hands["left"], hands["right"])


def _separate_free_hands(free_hands, rows: list[np.ndarray], margin_m: float,
                         touch: float = 0.0, targets: TargetConfig | None = None,
                         hand_pair: HandPairClearance | None = None,
                         parts: dict[str, str] | None = None) -> tuple[float, float]:
    """Move two free hands apart (translation, half each) when their spheres come closer than
    the margin; returns (distance moved in all, smallest gap after moving).

    During a declared contact between them (``touch`` > 0: 1 inside the interval, ramping at
    its ends) the hands are instead brought together: the nearest sphere pair's gap is closed
    by ``touch`` times a weight that is 1 up to ``targets.contact_near_m`` of gap and fades out
    by ``contact_far_m``, and the margin shrinks to zero, so palms that the human presses
    together touch on the robots too (free hands follow the human wrists, whose offset fits
    human hands, not the robot's). The pair is the nearest one between the contact's ``parts``
    (hand agent -> hand21 part: a finger frame's index and thumb tips, not whichever fingers
    happen to be nearest), or of the whole hands where a robot lacks the part.

    ``hand_pair`` then measures the two hands' collision geoms, which the spheres sit inside,
    and moves the hands apart until those keep the margin too (a thumb standing out of its
    palm would otherwise be pressed into the other palm)."""
    (a, ia), (b, ib) = free_hands
    left, right = (a, ia), (b, ib)
    if a.agents[0] != "left":
        left, right = right, left
    sl = left[0].solver.spheres_world(rows[left[1]])
    sr = right[0].solver.spheres_world(rows[right[1]])
    pull = np.zeros(3)
    if touch > 0.0:
        targets = targets or TargetConfig()
        diff = sl[0][:, None, :] - sr[0][None, :, :]
        gaps = np.linalg.norm(diff, axis=-1) - sl[1][:, None] - sr[1][None, :]
        named = gaps
        if parts:
            ml = left[0].solver.part_mask(parts.get(left[0].agents[0], "hand"))
            mr = right[0].solver.part_mask(parts.get(right[0].agents[0], "hand"))
            if ml is not None and mr is not None:
                named = np.where(ml[:, None] & mr[None, :], gaps, np.inf)
        i, j = np.unravel_index(np.argmin(named), gaps.shape)
        gap = float(gaps[i, j])
        if gap > 0.0:
            u = np.clip((targets.contact_far_m - gap)
                        / (targets.contact_far_m - targets.contact_near_m), 0.0, 1.0)
            amount = touch * u * u * (3.0 - 2.0 * u) * gap
            pull = -amount * diff[i, j] / max(np.linalg.norm(diff[i, j]), 1e-9)
            sl = (sl[0] + 0.5 * pull, sl[1])
            sr = (sr[0] - 0.5 * pull, sr[1])
        margin_m = margin_m * (1.0 - touch)
    d, gap = separate_hands(sl, sr, margin_m)
    d = d + pull
    if hand_pair is not None:
        shift = np.zeros(len(rows[left[1]]))
        shift[:3] = 0.5 * d
        exact, mesh_gap = hand_pair.separate(rows[left[1]] + shift, rows[right[1]] - shift,
                                             margin_m)
        d = d + exact
        if np.isfinite(mesh_gap):
            gap = mesh_gap
    if np.any(d):
        rows[left[1]] = rows[left[1]].copy()
        rows[right[1]] = rows[right[1]].copy()
        rows[left[1]][:3] += 0.5 * d
        rows[right[1]][:3] -= 0.5 * d
    return float(np.linalg.norm(d)), gap


def _rename_contact(c: ContactInterval, names: dict[str, str], skeleton: str,
                    instances: list[_Instance]) -> ContactInterval:
    """Agents -> instances; a hand21 part of an agent played by a humanoid gets its side."""
    kinds = {inst.name: inst.kind for inst in instances}

    def part(agent: str, p: str) -> str:
        inst = names[agent]
        if skeleton == "hand21" and kinds[inst] == "arms" and p in contact_parts("hand21"):
            return f"{agent}_{p}"
        return p

    return ContactInterval(names[c.agent_a], part(c.agent_a, c.part_a), names[c.agent_b],
                           part(c.agent_b, c.part_b), c.start, c.end)


def _scales(inst: _Instance) -> dict:
    """Calibrated human-to-robot scales of an instance, for the trajectory's meta."""
    out = {}
    if inst.kind == "hand":
        out["fingers"] = [round(float(s), 4) for s in inst.solver.ik.scales]
        return out
    h2r = inst.extra["h2r"]
    out["height"] = round(float(h2r.height_scale), 4)
    if inst.kind == "body":
        out["bones"] = {k: round(float(v), 4) for k, v in h2r.bone_scales.items()}
    else:
        out["arms"] = {k: round(float(v), 4) for k, v in h2r.arm_scales.items()}
    out["fingers"] = {s: [round(float(x), 4) for x in ik.scales]
                      for s, ik in inst.solver.hands.items()}
    return out


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, instances: list[_Instance], show: bool):
    if not show:
        return _NoBar()
    from tqdm import tqdm

    robots = ", ".join(sorted({inst.robot.name for inst in instances}))
    return tqdm(total=total, desc=f"retarget -> {robots}", unit="frame", file=sys.stderr,
                leave=False)


__all__ = ["RetargetConfig", "RetargetInputError", "plan_instances", "retarget_joints",
           "retarget_motion", "separate_hands"]
