"""Humanoid retargeting: one solve per frame places the floating base, legs, torso and arms, and
closes both hands' fingers.

Unknowns: the floating base (when it follows a body), the leg, waist and arm joints; head
joints stay at rest (nothing in ``body22`` says where the head looks). Cost, in metres (a
rotation error of 0.1 rad weighs like 1 cm at the default weights):

- pelvis position and orientation, chest orientation (:class:`~.body_targets.BodyTargets`);
- knee, ankle, foot, shoulder, elbow and wrist points at their scaled targets; wrist
  orientations from the human hand frames;
- posture (toward the standing rest pose, small) and temporal (toward the previous frame)
  regularisation, plus Levenberg-Marquardt damping;
- clearance: spheres fitted to the collision geoms (``collision_spheres.py``) keep the two
  hands apart, each hand away from the other forearm, the forearms apart, and hands and
  forearms away from the trunk (torso, pelvis, head, thighs) and from obstacle spheres (the
  partner robot in a duet), by ``clearance_m`` surface to surface.

Fingers are solved by the hand solver (``hand_ik.HandIK``: vector and pinch costs, mimic
couplings, limits, fingertip barrier, warm start) in the wrist frame. Its cost does not depend
on the arm, so solving it first and the body with those fingers is the same optimum as one
joint solve over both; the terms that do couple them (clearance between the hands and to the
body) are in the body solve, where the arms, not the fingers, make room.

Joint limits are hard (projected Newton steps on the box, then clipping; wrist joints whose
range reaches the hand's own housing are also pulled back into their clear region,
``wrist_limits``), each frame
warm-starts from the previous one, and a point target beyond reach simply ends with a residual
that the caller reports (targets far beyond reach are clamped before the solve by
``body_targets``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dyad.errors import DyadInputError
from dyad.skeletons import FINGERTIPS

from .body_mapping import BodyMapping, body_mapping_for
from .body_targets import SIDES, BodyTargets, RobotRestGeometry, measure_rest_geometry
from .collision_spheres import (Obstacles, SphereClearance, robot_link_spheres, sphere_set,
                                support_mask)
from .hand_ik import HandIK, HandIKConfig, projected_newton_step
from .robot_model import RobotModel
from .wrist_limits import wrist_clearance_limits

_PREFIX = {"left": "l_", "right": "r_"}
# Sphere pairs closer than the clearance plus this may cross it within one step: steps are then
# checked (no real-time shortcut).
_TOUCHING_M = 0.005
# A hand and its wrist housing keep this far from their own upper arm (a wave or a salute folds
# the elbow onto it): there the covering spheres still leave the meshes 5 mm closer than they
# say (measured: GR1 waves commanded housing and upper arm at 0 mm with a 5 mm margin, and the
# simulated arm, lagging 2-3 mm, went 1.6-1.9 mm into it).
_UPPER_ARM_CLEARANCE_M = 0.010
# The same for a hand and its own trunk and thighs: a saluting hand commanded to within 0.3 mm
# of GR1's waist cube went 5-7 mm in as it swung down (the inside spheres leave the thumb's
# edges out, and the arm lags); with 10 mm the clip passes.
_OWN_BODY_CLEARANCE_M = 0.010
# A step longer than this (any joint) runs the clearance broad phase again.
_BROAD_PHASE_STEP_RAD = 0.02


class BodyIKError(DyadInputError):
    """A humanoid cannot be set up for body retargeting."""


@dataclass(frozen=True)
class BodyIKConfig:
    """Weights and tolerances of :class:`BodyIK` (metres, radians; weights multiply squared
    residuals, rotation weights are in m^2/rad^2).

    Attributes:
        pelvis_weight, pelvis_rotation_weight: the floating base's pose.
        torso_rotation_weight: chest orientation.
        knee_weight, ankle_weight, foot_weight: leg points.
        shoulder_weight, elbow_weight, wrist_weight: arm points.
        wrist_rotation_weight: wrist orientation.
        posture_weight: pull of every unknown joint toward the standing rest pose.
        temporal_weight: pull toward the previous frame's solution.
        max_step_rad: largest change of a body joint from one warm frame to the next (0.2 rad
            is 6 rad/s at 30 fps; 0 disables the bound).
        huber_delta_m: point errors beyond this count linearly (one unreachable target does
            not drag the whole body).
        clearance_m: surface-to-surface distance kept between the sphere groups.
        clearance_weight: weight of the squared penetration of that distance.
        damping, min_damping: Levenberg-Marquardt damping of the first step and its floor.
        max_iterations: linearisations per warm-started frame.
        contact_iterations: extra linearisations allowed when clearance terms are near or the
            last step is large; the last step is then only taken once checked. A rejected
            step is retried with ten times the damping, so near a partner it takes several
            retries to find a step short enough not to cross the clearance margin: with 2,
            every step of a hug's frames was rejected, the arms froze for up to 62 frames and
            then jumped through the partner once the targets had run away (10: they creep
            along; +0.6 ms mean, p99 4 -> 8 ms per duet robot frame).
        unchecked_step_rad: the last step of a frame is taken without checking its cost (the
            next frame corrects it: real-time iteration) only when no unknown moves more than
            this; a larger one can overshoot on conflicting targets and alternate frame to frame.
        first_frame_iterations: linearisations of a cold frame.
        step_tolerance: stop when no unknown moves more than this (rad or m).
    """

    pelvis_weight: float = 10.0
    pelvis_rotation_weight: float = 0.1
    torso_rotation_weight: float = 0.05
    knee_weight: float = 1.0
    ankle_weight: float = 4.0
    foot_weight: float = 2.0
    shoulder_weight: float = 0.5
    elbow_weight: float = 1.0
    wrist_weight: float = 8.0
    wrist_rotation_weight: float = 0.08
    posture_weight: float = 2e-4
    temporal_weight: float = 3e-3
    max_step_rad: float = 0.2
    unchecked_step_rad: float = 0.05
    huber_delta_m: float = 0.05
    clearance_m: float = 0.005
    clearance_weight: float = 200.0
    damping: float = 1e-3
    min_damping: float = 1e-6
    max_iterations: int = 2
    contact_iterations: int = 10
    first_frame_iterations: int = 40
    step_tolerance: float = 1e-4

    def __post_init__(self) -> None:
        weights = [v for k, v in vars(self).items() if k.endswith("weight")]
        if min(weights + [self.damping, self.clearance_m, self.huber_delta_m]) < 0:
            raise BodyIKError("BodyIKConfig weights, damping and distances must be >= 0")
        if self.max_iterations < 1 or self.first_frame_iterations < 1:
            raise BodyIKError("max_iterations and first_frame_iterations must be >= 1")


@dataclass
class BodySolveInfo:
    """What the last :meth:`BodyIK.solve` did and how close it came.

    Attributes:
        iterations: body linearisations run.
        cost: weighted body cost at the last linearisation.
        limit_hits: unknown body joints plus independent finger joints sitting on a limit.
        point_errors_m: body22 name -> distance from the robot point to its requested target.
        wrist_rotation_errors_rad: side -> angle between robot and target wrist orientation.
        fingertip_errors_m: side -> mean fingertip error of the hand solver (hand frame).
        min_clearance_m: smallest sphere gap between the clearance groups (inf if none).
        clamped: targets pulled within reach before the solve.
    """

    iterations: int = 0
    cost: float = float("nan")
    limit_hits: int = 0
    point_errors_m: dict[str, float] = field(default_factory=dict)
    wrist_rotation_errors_rad: dict[str, float] = field(default_factory=dict)
    fingertip_errors_m: dict[str, float] = field(default_factory=dict)
    min_clearance_m: float = float("inf")
    clamped: tuple[str, ...] = ()

    def keypoint_errors_m(self) -> np.ndarray:
        """Every point error and fingertip error of the frame, metres."""
        return np.array(list(self.point_errors_m.values())
                        + list(self.fingertip_errors_m.values()), dtype=float)


class BodyIK:
    """Retargets one human (body and hands, or hands only) onto one humanoid, frame by frame.

    Args:
        robot: a humanoid registry robot (floating base, both hands).
        mapping: body22 -> robot frames (default: the built-in mapping of ``robot``).
        config: body weights and tolerances.
        hand_config: the finger solver's config (``HandIKConfig``).
        follow_body: True for body input (the floating base, legs and torso follow the human);
            False for hands only (the robot stands at rest and the waist and arms place the
            wrists).
    """

    def __init__(self, robot: RobotModel, mapping: BodyMapping | None = None,
                 config: BodyIKConfig | None = None, hand_config: HandIKConfig | None = None,
                 follow_body: bool = True):
        import pinocchio as pin

        from .registry import rest_configuration

        self._pin = pin
        self.robot = robot
        self.mapping = mapping or body_mapping_for(robot)
        self.mapping.check(robot)
        self.config = config or BodyIKConfig()
        self.follow_body = follow_body
        model = self.model = robot.pin_model
        self.data = model.createData()
        if model.nq != model.nv + 1 or model.joints[1].shortname() != "JointModelFreeFlyer":
            raise BodyIKError(f"robot {robot.name!r}: expected a free-flyer floating base as its "
                              "first joint")

        # Fingers: one hand solver per side (calibrate_hands scales them per finger).
        self.hands = {side: HandIK.from_robot_model(robot, side, hand_config) for side in SIDES}
        finger_joints = {j for ik in self.hands.values() for j in ik.joint_names}
        self._tip_rows, self._tip_fids, self._hand_rot = {}, {}, {}
        for side, ik in self.hands.items():
            tips = [i for i, k in enumerate(ik.keypoint_indices) if k in FINGERTIPS]
            self._tip_rows[side] = np.array(tips, dtype=int)
            self._tip_fids[side] = [model.getFrameId(robot.hands[side].keypoint_frames[
                int(ik.keypoint_indices[i])]) for i in tips]
            self._hand_rot[side] = np.asarray(robot.hands[side].rotation_hand_to_wrist, float)
        self._finger_q = {side: np.array([model.joints[model.getJointId(j)].idx_q
                                          for j in ik.joint_names])
                          for side, ik in self.hands.items()}

        # The standing rest pose: rest joints, base raised so the soles touch the floor.
        q_rest = rest_configuration(robot)
        spheres = robot_link_spheres(robot)
        floor = _lowest_sphere_z(model, q_rest, spheres)
        self.geometry: RobotRestGeometry = measure_rest_geometry(robot, self.mapping, q_rest,
                                                                 floor)
        q_rest[2] -= floor
        self.q_rest = q_rest
        """Standing rest configuration (Pinocchio order; base on the floor at the origin)."""
        rest_data = model.createData()
        pin.framesForwardKinematics(model, rest_data, q_rest)
        base = pin.XYZQUATToSE3(q_rest[:7])
        self._rest_base_to_pelvis = base.inverse() * rest_data.oMf[
            model.getFrameId(self.mapping.pelvis_frame)]

        # Unknowns: velocity columns of the base and the body joints that move.
        coupled = {f for f, _, _, _ in robot.mimic} | {lead for _, lead, _, _ in robot.mimic}
        head = set(self.mapping.head_joints)
        if follow_body:
            movable = [j for j in robot.joint_names if j not in finger_joints and j not in head]
        else:
            chain = self._wrist_chain_joints()
            movable = [j for j in robot.joint_names
                       if j in chain and j not in finger_joints and j not in head]
        bad = sorted(set(movable) & coupled)
        if bad:
            raise BodyIKError(f"robot {robot.name!r}: coupled (mimic) body joints {bad} are not "
                              "supported by the body solver; only finger couplings are")
        ids = [model.getJointId(j) for j in movable]
        self.joint_names: tuple[str, ...] = tuple(movable)
        """Body joints solved for (robot order)."""
        base_cols = list(range(6)) if follow_body else []
        self._cols = np.array(base_cols + [model.joints[i].idx_v for i in ids], dtype=int)
        self._qidx = np.array([model.joints[i].idx_q for i in ids], dtype=int)
        nb = len(base_cols)
        self._nbase = nb
        self._lo = np.concatenate([np.full(nb, -np.inf), model.lowerPositionLimit[self._qidx]])
        self._hi = np.concatenate([np.full(nb, np.inf), model.upperPositionLimit[self._qidx]])
        cfg = self.config
        self._posture_w = np.concatenate([np.zeros(nb), np.full(len(ids), cfg.posture_weight)])
        # Wrist joints whose range reaches the hand's own housing: kept in the clear region.
        self._wrist_limits = [
            (limit, np.array([model.joints[model.getJointId(j)].idx_q for j in limit.joints]))
            for limit in wrist_clearance_limits(robot) if set(limit.joints) <= set(movable)]

        # Tasks: (body22 name, frame id, offset, weight).
        tasks = []
        if follow_body:
            weights = {"knee": cfg.knee_weight, "ankle": cfg.ankle_weight,
                       "foot": cfg.foot_weight, "shoulder": cfg.shoulder_weight,
                       "elbow": cfg.elbow_weight}
            for name, point in self.mapping.points.items():
                part = name[2:]
                if part in weights:
                    tasks.append((name, model.getFrameId(point.frame),
                                  np.asarray(point.offset_m, dtype=float), weights[part]))
        # The human wrist point goes to the hand's keypoint-0 frame; the wrist orientation is
        # that of the mapping's wrist frame (what rotation_hand_to_wrist refers to).
        self._wrist_frames, self._wrist_rot_frames = {}, {}
        for side in SIDES:
            hand = robot.hands[side]
            fid = model.getFrameId(hand.keypoint_frames.get(0, hand.wrist_frame))
            self._wrist_frames[side] = fid
            self._wrist_rot_frames[side] = model.getFrameId(hand.wrist_frame)
            tasks.append((_PREFIX[side] + "wrist", fid, np.zeros(3), cfg.wrist_weight))
        self._pelvis_fid = model.getFrameId(self.mapping.pelvis_frame)
        self._torso_fid = model.getFrameId(self.mapping.torso_frame)
        if follow_body:
            tasks.append(("pelvis", self._pelvis_fid, np.zeros(3), cfg.pelvis_weight))
        self._tasks = tasks
        self._task_index = {name: k for k, (name, _, _, _) in enumerate(tasks)}
        self._task_fids = [fid for _, fid, _, _ in tasks]
        self._task_offsets = np.array([off for _, _, off, _ in tasks])
        self._task_weights = np.array([w for _, _, _, w in tasks])
        self._task_masks = np.array([support_mask(model, fid, self._cols) for fid in self._task_fids],
                                    dtype=float)
        self._rot_masks = {fid: support_mask(model, fid, self._cols).astype(float)
                           for fid in [self._pelvis_fid, self._torso_fid,
                                       *self._wrist_rot_frames.values()]}

        self.obstacle_sphere_groups = np.zeros(0, dtype=str)
        self.clearance = self._build_clearance(spheres)
        self.info = BodySolveInfo()
        self._q_prev: np.ndarray | None = None
        self._q_seed: np.ndarray | None = None

    # ----------------------------------------------------------------------------------------
    # Set-up helpers

    def _wrist_chain_joints(self) -> set[str]:
        """Joints between the base and either wrist frame (waist and arms)."""
        model = self.model
        out = set()
        for side in SIDES:
            hand = self.robot.hands[side]
            frame = model.frames[model.getFrameId(hand.keypoint_frames.get(0, hand.wrist_frame))]
            j = frame.parentJoint
            while j > 1:  # 1 is the free flyer
                out.add(model.names[j])
                j = model.parents[j]
        return out

    def _build_clearance(self, spheres) -> SphereClearance | None:
        """Groups: each hand, each forearm, the trunk (not the arms, not below the knees)."""
        import mujoco

        if self.config.clearance_weight <= 0 or not spheres:
            return None
        spec = mujoco.MjSpec.from_string(self.robot.model_xml)
        parent = {b.name: b.parent.name for b in spec.bodies if b.name != "world"}

        def body_of(frame: str) -> str:
            fr = self.model.frames[self.model.getFrameId(frame)]
            while fr.name not in parent:
                fr = self.model.frames[fr.parentFrame]
            return fr.name

        def ancestors(body: str) -> list[str]:
            out = []
            while body in parent:
                out.append(body)
                body = parent[body]
            return out

        def subtree(body: str) -> set[str]:
            return {b for b in parent if body in ancestors(b)}

        groups: dict[str, list[str]] = {}
        arm_bodies: set[str] = set()
        hand_bodies = {}
        for side in SIDES:
            hand = self.robot.hands[side]
            wrist_body = body_of(hand.wrist_frame)
            hand_bodies[side] = subtree(wrist_body)
            elbow_body = body_of(self.mapping.points[_PREFIX[side] + "elbow"].frame)
            shoulder_body = body_of(self.mapping.points[_PREFIX[side] + "shoulder"].frame)
            chain = ancestors(wrist_body)
            forearm = set(chain[1:chain.index(elbow_body) + 1]) if elbow_body in chain else set()
            top = chain.index(shoulder_body) if shoulder_body in chain else len(chain) - 1
            arm_bodies |= set(chain[:top + 1]) | subtree(chain[top])
            groups[f"{side}_hand"] = sorted(hand_bodies[side])
            groups[f"{side}_forearm"] = sorted(forearm)
            # A hand can only fold its palm (not its fingers) back onto its own forearm, whose
            # wrist housing's edges are what it meets: covering spheres there.
            groups[f"{side}_palm"] = [wrist_body]
            groups[f"{side}_forearm_edges"] = sorted(forearm)
            # The upper arm (below the shoulder point's body) meets its own hand and wrist
            # housing when the elbow folds past a salute; the elbow body itself is left out
            # (it always sits against the upper arm).
            if elbow_body in chain:
                e = chain.index(elbow_body)
                groups[f"{side}_upper_arm"] = sorted(chain[e + 1:top + 1])
                groups[f"{side}_wrist"] = sorted(chain[1:e])
        lower_legs: set[str] = set()
        knee_chains = []
        for side, name in (("left", "l_knee"), ("right", "r_knee")):
            knee = body_of(self.mapping.points[name].frame)
            lower_legs |= subtree(knee)
            knee_chains.append(ancestors(knee))
            # Shank and foot (the knee body itself sits against the thigh).
            groups[f"{side}_lower_leg"] = sorted(subtree(knee) - {knee})
        # Thighs: the bodies between the hips' common ancestor and each knee.
        hips = next((b for b in knee_chains[0] if b in knee_chains[1]), None)
        thighs = {b for chain in knee_chains
                  for b in chain[1:chain.index(hips) if hips in chain else len(chain)]}
        groups["trunk"] = sorted(b for b in parent if b not in arm_bodies
                                 and b not in lower_legs and b not in thighs)
        groups["thighs"] = sorted(thighs)
        pairs = [("left_hand", "right_hand"), ("left_hand", "right_forearm"),
                 ("right_hand", "left_forearm"), ("left_forearm", "right_forearm"),
                 ("left_palm", "left_forearm_edges"), ("right_palm", "right_forearm_edges"),
                 ("left_hand", "trunk"), ("right_hand", "trunk"),
                 ("left_forearm", "trunk"), ("right_forearm", "trunk"),
                 ("left_hand", "thighs"), ("right_hand", "thighs"),
                 ("left_forearm", "thighs"), ("right_forearm", "thighs"),
                 ("left_lower_leg", "right_lower_leg")]
        for side, other in (("left", "right"), ("right", "left")):
            if f"{side}_upper_arm" in groups:
                pairs += [(f"{side}_hand", f"{side}_upper_arm"),
                          (f"{side}_wrist", f"{side}_upper_arm"),
                          (f"{other}_hand", f"{side}_upper_arm")]
        self.sphere_groups = groups
        """Clearance group name -> robot bodies (documented coverage of the clearance terms)."""
        # Spheres stay inside the geoms (hands touch each other by design, a false contact
        # would stop a clap short, and GR1's hanging hands rest 6 mm from its thighs); only the
        # forearm seen by its own palm grows toward covering its wrist housing's edges.
        # The thighs are the exception the other way: inside spheres of their meshes (a 4 cm
        # chain in a 6-7 cm thick shell) let hanging fingers 1-2 cm into them, so they take
        # their full covering spheres (a hand then keeps up to ~1 cm more than it needs).
        spheres_set = sphere_set(self.robot, groups, covering=(
            "left_forearm_edges", "right_forearm_edges", "left_upper_arm", "right_upper_arm",
            "left_wrist", "right_wrist", "trunk", "left_lower_leg"), full_cover=("thighs",),
            exact_boxes=("trunk", "right_lower_leg"))
        shown = [spheres_set.group_names.index(g) for g in ("left_forearm", "right_forearm",
                                                             "trunk", "thighs")]
        self._obstacle_rows = np.flatnonzero(np.isin(spheres_set.group, shown))
        self.obstacle_sphere_groups = np.array(
            [spheres_set.group_names[g] for g in spheres_set.group[self._obstacle_rows]])
        """(P,) clearance group of each sphere :meth:`obstacle_spheres` returns."""
        self._obstacle_frames = sorted({int(f) for f in spheres_set.frame_ids[self._obstacle_rows]})
        return SphereClearance(self.model, spheres_set, pairs, self.config.clearance_m,
                               self.q_rest, self._cols,
                               quiet_pairs=(("left_palm", "left_forearm_edges"),
                                            ("right_palm", "right_forearm_edges")),
                               obstacle_groups=("left_hand", "right_hand", "left_forearm",
                                                "right_forearm"),
                               touch_groups=("left_hand", "right_hand"),
                               pair_margins={
                                   **{(f"{side}_{part}", f"{side}_upper_arm"): max(
                                       self.config.clearance_m, _UPPER_ARM_CLEARANCE_M)
                                      for side in SIDES for part in ("hand", "wrist")},
                                   **{(f"{side}_hand", body): max(
                                       self.config.clearance_m, _OWN_BODY_CLEARANCE_M)
                                      for side in SIDES for body in ("trunk", "thighs")}})

    # ----------------------------------------------------------------------------------------

    def reset(self, q: np.ndarray | None = None) -> None:
        """Forget the previous frame (the next solve is cold, from ``q`` or the rest pose)."""
        self._q_prev = None
        self._q_seed = None if q is None else np.array(q, dtype=float)
        for ik in self.hands.values():
            ik.reset()

    def calibrate_hands(self, hand_size_ratio: dict[str, float] | None = None) -> None:
        """Per-finger scales from Dyad's rest hand (times the human's hand size ratio) and the
        robot hand's open rest pose (``HandIK.calibrate``)."""
        from dyad.skeletons import HAND21_REST_LEFT, HAND21_REST_RIGHT

        rest = {"left": HAND21_REST_LEFT, "right": HAND21_REST_RIGHT}
        for side, ik in self.hands.items():
            ratio = (hand_size_ratio or {}).get(side, 1.0)
            open_q = self.q_rest[self._finger_q[side]]
            ik.calibrate(rest[side] * ratio, open_q)

    def targets_of(self, q: np.ndarray) -> BodyTargets:
        """The targets that configuration ``q`` meets exactly: every body point, the pelvis,
        the chest and wrist orientations (no finger targets). What reachable-target tests and
        the benchmark solve for."""
        model = self.model
        data = model.createData()
        self._pin.framesForwardKinematics(model, data, np.asarray(q, dtype=float))
        t = BodyTargets()
        for name, fid, offset, _ in self._tasks:
            m = data.oMf[fid]
            point = m.translation + m.rotation @ offset
            if name == "pelvis":
                t.pelvis_position_m = point
            else:
                t.points_m[name] = point
        if self.follow_body:
            t.pelvis_rotation = data.oMf[self._pelvis_fid].rotation.copy()
            t.torso_rotation = data.oMf[self._torso_fid].rotation.copy()
        t.wrist_rotations = {s: data.oMf[f].rotation.copy()
                             for s, f in self._wrist_rot_frames.items()}
        return t

    def random_configuration(self, rng: np.random.Generator, spread_rad: float = 0.5
                             ) -> np.ndarray:
        """A standing-rest configuration with every unknown joint moved by up to
        ``spread_rad`` (within limits) and, with a floating base, the base shifted up to 1 m
        and turned to a random heading."""
        q = self.q_rest.copy()
        if self.follow_body:
            q[:2] += rng.uniform(-1.0, 1.0, 2)
            yaw = rng.uniform(-np.pi, np.pi)
            q[3:7] = [0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)]
        nb = self._nbase
        q[self._qidx] = np.clip(q[self._qidx] + rng.uniform(-spread_rad, spread_rad,
                                                            len(self._qidx)),
                                self._lo[nb:], self._hi[nb:])
        return q

    def perturbed(self, q: np.ndarray, rng: np.random.Generator, sigma_rad: float
                  ) -> np.ndarray:
        """``q`` with Gaussian noise on the unknown joints, kept within limits."""
        out = np.array(q, dtype=float)
        nb = self._nbase
        out[self._qidx] = np.clip(out[self._qidx] + rng.normal(0.0, sigma_rad, len(self._qidx)),
                                  self._lo[nb:], self._hi[nb:])
        return out

    def obstacle_spheres(self) -> Obstacles:
        """World shapes of this robot's forearms, trunk and thighs in the pose of the last
        solve (spheres, and the trunk's exact boxes): what a partner robot's hands and
        forearms keep clear of.

        The hands are left out: partners' hands touch by design (handshakes, high fives) and
        each robot only sees the other where it stood, so two hands that must move together
        would block each other; where they meet follows the human contact instead
        (``body_targets.blend_contacts``). ``obstacle_sphere_groups`` names each sphere's
        group (``left_forearm``, ``right_forearm``, ``trunk``, ``thighs``), so that a partner
        can leave out the forearm its hand is meant to touch.
        """
        rows = self._obstacle_rows if self.clearance is not None else np.zeros(0, dtype=int)
        if self._q_prev is None or len(rows) == 0:
            return Obstacles(np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=bool),
                             np.zeros((0, 3, 3)), np.zeros((0, 3)))
        # _measure left the placements of the last solution in self.data.
        centres = self.clearance.world_centers(self.data, self._obstacle_frames)
        rotations, halves = self.clearance.world_boxes(self.data, rows)
        return Obstacles(centres[rows], self.clearance.spheres.radii_m[rows],
                         np.zeros(len(rows), dtype=bool), rotations, halves)

    # ----------------------------------------------------------------------------------------
    # Solve

    def solve(self, targets: BodyTargets,
              obstacles: Obstacles | tuple | None = None) -> np.ndarray:
        """The robot configuration (Pinocchio ``q``, free flyer first) for one frame.

        Args:
            targets: the frame's targets (``body_targets.HumanToRobot``).
            obstacles: world shapes the hands and forearms keep clear of, e.g. the partner
                robot (:class:`collision_spheres.Obstacles`, or a tuple of its fields: (P, 3)
                centres, (P,) radii, optionally (P,) flags of shapes the hands may touch
                (the partner's forearm during a handshake), which only the forearms keep
                clear of, and box axes and half sizes).
        """
        pin, model, cfg = self._pin, self.model, self.config
        warm = self._q_prev is not None
        if warm:
            q = self._q_prev.copy()
        else:
            q = (self.q_rest if self._q_seed is None else self._q_seed).copy()
        q_prev = q.copy()
        # Fingers first: their cost lives in the wrist frame, so the arms do not change it.
        hand_hits = 0
        for side, ik in self.hands.items():
            kp = targets.hands.get(side)
            if kp is None:
                continue
            q_hand = ik.solve(kp, check=False)
            q[self._finger_q[side]] = q_hand
            hand_hits += ik.info.limit_hits
        if not self.follow_body:
            q[:7] = self.q_rest[:7]
        elif not warm and targets.pelvis_position_m is not None \
                and targets.pelvis_rotation is not None:
            # Cold start: put the base where the pelvis target says, so the solver never has to
            # turn it half a circle (the rotation error's log is singular at pi).
            q[:7] = self._base_for_pelvis(targets.pelvis_position_m, targets.pelvis_rotation)
        self._frame = self._frame_terms(targets)
        x_prev_ref = q_prev
        iterations = cfg.max_iterations if warm else cfg.first_frame_iterations
        reg_t = cfg.temporal_weight if warm else 0.0
        lo, hi = self._lo, self._hi
        if warm and cfg.max_step_rad > 0:
            # A warm frame moves each joint at most max_step_rad: an arm that cannot meet
            # every target (a 5-joint arm and a full wrist pose) must not jump between
            # equally poor solutions from one frame to the next.
            nb = self._nbase
            prev = q_prev[self._qidx]
            lo = np.concatenate([self._lo[:nb], np.maximum(self._lo[nb:], prev - cfg.max_step_rad)])
            hi = np.concatenate([self._hi[:nb], np.minimum(self._hi[nb:], prev + cfg.max_step_rad)])
        n = len(self._cols)
        mu = cfg.damping
        self._touching = False
        self._broad_done = False  # the first linearisation of a frame runs the broad phase
        A, r, cost, min_gap = self._system(q, obstacles)
        dv_t, dv_p = self._reg_deltas(q, x_prev_ref)
        total = cost + reg_t * (dv_t @ dv_t) + (self._posture_w * dv_p) @ dv_p
        evaluations = 1
        reg_diag = reg_t + self._posture_w
        while True:
            H = A.T @ A
            H.flat[::n + 1] += reg_diag + mu
            g = A.T @ r + reg_t * dv_t + self._posture_w * dv_p
            x = np.concatenate([np.zeros(self._nbase), q[self._qidx]])
            step = projected_newton_step(H, g, x, lo, hi)
            q_new = self._integrate(q, step, lo, hi)
            if np.abs(step).max() < cfg.step_tolerance:
                q = q_new
                break
            if evaluations >= iterations:
                if not self._touching and np.abs(step).max() <= cfg.unchecked_step_rad:
                    q = q_new  # real-time iteration: the next frame corrects this step
                    break
                if evaluations >= iterations + cfg.contact_iterations:
                    break  # near a contact a step is taken only once checked
            if np.abs(step).max() > _BROAD_PHASE_STEP_RAD:
                self._broad_done = False  # a long step may reach parts the broad phase left out
            A_new, r_new, cost_new, gap_new = self._system(q_new, obstacles)
            evaluations += 1
            dv_t_new, dv_p_new = self._reg_deltas(q_new, x_prev_ref)
            total_new = cost_new + reg_t * (dv_t_new @ dv_t_new) \
                + (self._posture_w * dv_p_new) @ dv_p_new
            if total_new <= total:
                q, A, r, cost, min_gap, dv_t, dv_p, total = (q_new, A_new, r_new, cost_new,
                                                             gap_new, dv_t_new, dv_p_new,
                                                             total_new)
                mu = max(mu * 0.3, cfg.min_damping)
            else:
                mu *= 10.0
        self._q_prev = q.copy()
        body_x = q[self._qidx]
        hits = int(((body_x <= self._lo[self._nbase:] + 1e-9)
                    | (body_x >= self._hi[self._nbase:] - 1e-9)).sum())
        for limit, qi in self._wrist_limits:
            r, reach = limit.radius(q[qi])
            hits += int(r >= reach - 1e-9)
        self.info = self._measure(q, targets, obstacles)
        self.info.min_clearance_m = min_gap
        self.info.iterations = evaluations
        self.info.cost = cost
        self.info.limit_hits = hits + hand_hits
        return q

    def _base_for_pelvis(self, position_m: np.ndarray, rotation: np.ndarray) -> np.ndarray:
        """Free-flyer ``q[:7]`` that puts the pelvis frame at a pose (rest joints below it)."""
        pin = self._pin
        base_to_pelvis = self._rest_base_to_pelvis
        world_pelvis = pin.SE3(np.asarray(rotation, dtype=float),
                               np.asarray(position_m, dtype=float))
        return pin.SE3ToXYZQUAT(world_pelvis * base_to_pelvis.inverse())

    @property
    def last_q(self) -> np.ndarray | None:
        """The configuration of the last solve (None before the first or after ``reset``)."""
        return None if self._q_prev is None else self._q_prev.copy()

    def _integrate(self, q: np.ndarray, step: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray) -> np.ndarray:
        v = np.zeros(self.model.nv)
        v[self._cols] = step
        q_new = self._pin.integrate(self.model, q, v)
        q_new[self._qidx] = np.clip(q_new[self._qidx], lo[self._nbase:], hi[self._nbase:])
        for limit, qi in self._wrist_limits:
            q_new[qi] = limit.project(q_new[qi])
        return q_new

    def _reg_deltas(self, q: np.ndarray, q_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tangent differences of the unknowns from the previous frame and from rest."""
        diff = self._pin.difference
        return diff(self.model, q_prev, q)[self._cols], diff(self.model, self.q_rest,
                                                             q)[self._cols]

    def _frame_terms(self, t: BodyTargets) -> tuple:
        """The frame's targets as arrays: point rows in use, their targets and sqrt weights,
        and the rotation terms (frame id, target, sqrt weight)."""
        cfg = self.config
        rows, targets, weights = [], [], []
        points = dict(t.points_m)
        if self.follow_body and t.pelvis_position_m is not None:
            points["pelvis"] = t.pelvis_position_m
        for name, target in points.items():
            k = self._task_index.get(name)
            if k is not None:
                rows.append(k)
                targets.append(target)
                weights.append(self._task_weights[k] * t.point_weights.get(name, 1.0))
        rotations = []
        if self.follow_body and t.pelvis_rotation is not None:
            rotations.append((self._pelvis_fid, t.pelvis_rotation,
                              np.sqrt(cfg.pelvis_rotation_weight)))
        if t.torso_rotation is not None:
            rotations.append((self._torso_fid, t.torso_rotation,
                              np.sqrt(cfg.torso_rotation_weight)))
        for side, rot in t.wrist_rotations.items():
            rotations.append((self._wrist_rot_frames[side], rot,
                              np.sqrt(cfg.wrist_rotation_weight)))
        rows = np.array(rows, dtype=int)
        return (rows, [self._task_fids[k] for k in rows], np.array(targets).reshape(-1, 3),
                np.sqrt(np.array(weights)), rotations)

    def _system(self, q: np.ndarray, obstacles) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Weighted residuals, their Jacobian over the unknowns, the robust cost and the
        smallest clearance gap, at ``q``."""
        pin, model, data, cfg = self._pin, self.model, self.data, self.config
        pin.computeJointJacobians(model, data, q)
        pin.updateFramePlacements(model, data)
        jac = data.J[:, self._cols]  # (6, n): every joint's world twist, one copy
        jv, jw = jac[:3], jac[3:]
        rows, fids, targets, sw, rotations = self._frame
        placements = data.oMf
        k = len(rows)
        pos = np.empty((k, 3))
        for i, fid in enumerate(fids):
            m = placements[fid]
            pos[i] = m.translation + m.rotation @ self._task_offsets[rows[i]]
        res = pos - targets
        # Point Jacobians from the joint twists: v + w x p per column, masked to the point's
        # supporting joints (one vectorised product instead of a frame Jacobian per point).
        # (w x p) per column: rows x, y, z of the cross product, each (k, n).
        px, py, pz = pos[:, 0:1], pos[:, 1:2], pos[:, 2:3]
        wx, wy, wz = jw[0], jw[1], jw[2]
        jp = np.empty((k, 3, jv.shape[1]))
        jp[:, 0] = jv[0] + wy * pz - wz * py
        jp[:, 1] = jv[1] + wz * px - wx * pz
        jp[:, 2] = jv[2] + wx * py - wy * px
        jp *= self._task_masks[rows][:, None, :]
        norms = np.sqrt((res * res).sum(axis=1))
        delta = cfg.huber_delta_m
        scale = sw.copy()
        if delta > 0:
            far = norms > delta
            # Huber by reweighting: beyond delta the pull is constant.
            cost = float((sw[~far] ** 2 * norms[~far] ** 2).sum()
                         + (sw[far] ** 2 * delta * (2.0 * norms[far] - delta)).sum())
            scale[far] *= np.sqrt(delta / norms[far])
        else:
            cost = float((sw ** 2 * norms ** 2).sum())
        r_parts = [(res * scale[:, None]).ravel()]
        a_parts = [(jp * scale[:, None, None]).reshape(3 * k, -1)]
        for fid, target, w in rotations:
            err = placements[fid].rotation @ target.T
            e = pin.log3(err)
            a_parts.append(w * (pin.Jlog3(err) @ err.T @ (jw * self._rot_masks[fid])))
            r_parts.append(w * e)
            cost += w * w * float(e @ e)
        min_gap = float("inf")
        if self.clearance is not None:
            pen, jpen, min_gap, near_gap = self.clearance.rows(
                data, jac, cfg.clearance_weight, obstacles, reuse=self._broad_done)
            # Within a warm frame steps are small: the first broad phase holds (a cold frame
            # travels far and runs it every time).
            self._broad_done = self._q_prev is not None
            # Near a contact the penalty switches on and off between steps: check every step.
            self._touching = self._touching or near_gap < cfg.clearance_m + _TOUCHING_M
            if len(pen):
                r_parts.append(pen)
                a_parts.append(jpen)
                cost += float(pen @ pen)
        return np.vstack(a_parts), np.concatenate(r_parts), cost, min_gap

    def _measure(self, q: np.ndarray, t: BodyTargets, obstacles) -> BodySolveInfo:
        """Errors of the final configuration against the requested targets (clamped ones:
        the target before clamping)."""
        pin, model, data = self._pin, self.model, self.data
        pin.framesForwardKinematics(model, data, q)
        info = BodySolveInfo(clamped=tuple(sorted(t.clamped)))
        placements = data.oMf
        rows, fids, targets, _, _ = self._frame
        if len(rows):
            pos = np.empty((len(rows), 3))
            for i, fid in enumerate(fids):
                m = placements[fid]
                pos[i] = m.translation + m.rotation @ self._task_offsets[rows[i]]
            names = [self._tasks[k][0] for k in rows]
            if t.requested_m:
                targets = np.array([t.requested_m.get(n, targets[i]) for i, n in
                                    enumerate(names)])
            dist = np.sqrt(((pos - targets) ** 2).sum(axis=1))
            info.point_errors_m = dict(zip(names, dist.tolist()))
        for side, rot in t.wrist_rotations.items():
            err = placements[self._wrist_rot_frames[side]].rotation @ rot.T
            info.wrist_rotation_errors_rad[side] = float(np.linalg.norm(pin.log3(err)))
        for side, kp in t.hands.items():
            info.fingertip_errors_m[side] = self._fingertip_error(placements, side, kp)
        return info

    def _fingertip_error(self, placements, side: str, keypoints_hand_m: np.ndarray) -> float:
        """Mean fingertip error in the hand frame, as ``HandIK.errors`` defines it (robot tip
        relative to the wrist point vs the human tip scaled by the solver's per-finger
        scales), from the full model's placements."""
        ik, tips = self.hands[side], self._tip_rows[side]
        origin = placements[self._wrist_frames[side]]
        # Hand frame -> world, as HandIK builds it: the wrist frame's rotation.
        rot = placements[self._wrist_rot_frames[side]].rotation @ self._hand_rot[side]
        robot = np.array([placements[f].translation for f in self._tip_fids[side]])
        robot = (robot - origin.translation) @ rot
        human = (keypoints_hand_m[ik.keypoint_indices[tips]] - keypoints_hand_m[0]) \
            * ik.scales[tips, None]
        return float(np.linalg.norm(robot - human, axis=1).mean())

    def qpos(self, q: np.ndarray) -> np.ndarray:
        """Trajectory columns of a configuration: root x, y, z, qw, qx, qy, qz, then the joints
        in ``robot.joint_names`` order."""
        model = self.model
        root = np.concatenate([q[:3], [q[6]], q[3:6]])
        joints = np.array([q[model.joints[model.getJointId(j)].idx_q]
                           for j in self.robot.joint_names])
        return np.concatenate([root, joints])


def _lowest_sphere_z(model, q: np.ndarray, spheres: dict) -> float:
    """Lowest point of the collision spheres at ``q`` (the soles when standing)."""
    import pinocchio as pin

    data = model.createData()
    pin.framesForwardKinematics(model, data, q)
    lowest = np.inf
    for body, (centres, radii, _) in spheres.items():
        if not model.existFrame(body):
            continue
        m = data.oMf[model.getFrameId(body)]
        z = (centres @ m.rotation.T + m.translation)[:, 2] - radii
        lowest = min(lowest, float(z.min()))
    if not np.isfinite(lowest):
        raise BodyIKError("robot has no collision geoms to stand on")
    return lowest


__all__ = ["BodyIK", "BodyIKConfig", "BodyIKError", "BodySolveInfo"]
