"""Hand retargeting: human ``hand21`` keypoints to robot finger joints, by box-constrained
Levenberg-Marquardt on Pinocchio's analytic Jacobians.

The solver works in Dyad's hand frame (dyad/skeletons.py: origin at the wrist, X toward the
middle finger, Y toward the thumb side, Z out of the back of the hand; a left hand is the mirror
image). Input keypoints must already be in that frame (see ``retarget/input_conventions.py``).

Cost, in the independent coordinates ``x`` of the hand (mimic followers are eliminated):

- wrist -> keypoint vectors (the tips, plus any other mapped keypoint, with a lower weight), to
  the human's keypoints scaled by the hand's scale, under a Huber loss so that an unreachable
  target pulls linearly, not quadratically;
- thumb-tip -> finger-tip vectors (DexPilot style). When the human's thumb and a fingertip are
  closer than ``pinch_enter_m`` the target shrinks to zero and the weight rises to
  ``pinch_weight``, so the robot tips touch; between ``pinch_enter_m`` and ``pinch_exit_m`` both
  blend linearly, so nothing jumps;
- a minimum-distance barrier between the tips of the non-thumb fingers (spheres of diameter
  ``collision_min_distance_m`` at the tip frames; a stiff one-sided quadratic penalty). It covers
  tip-to-tip crossings of neighbouring fingers only: not phalanx bodies, not the thumb (the thumb
  must be allowed to touch the fingers to pinch);
- temporal regularisation toward the previous frame's solution, plus Levenberg-Marquardt damping
  of each step (which vanishes at convergence).

Hard joint limits are box constraints on ``x`` (a follower's limits are mapped onto its leader),
enforced by projected Newton steps, so no solution ever leaves them. Each frame warm-starts from
the previous one, so two linearisations per frame suffice (docs/retarget.md has the figures).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dyad.errors import DyadInputError
from dyad.skeletons import FINGERTIPS, HAND21_NAMES

from .robot_model import HandMapping, RobotModel

THUMB_TIP = 4
_NON_THUMB_TIPS = FINGERTIPS[1:]


class HandIKError(DyadInputError):
    """A robot hand or its mapping cannot be retargeted (missing frame, bad mimic, bad input)."""


@dataclass(frozen=True)
class HandIKConfig:
    """Weights and tolerances of :class:`HandIK`; units are metres and radians.

    Attributes:
        tip_weight: weight of each wrist -> fingertip vector.
        keypoint_weight: weight of each wrist -> non-tip keypoint vector (PIP, DIP, ...).
        thumb_vector_weight: weight of each thumb-tip -> fingertip vector outside a pinch.
        pinch_weight: weight of a thumb-tip -> fingertip vector when the human tips touch.
        pinch_enter_m: human thumb-to-fingertip distance under which the pinch is fully on.
        pinch_exit_m: distance above which the pinch is fully off (linear blend between).
        collision_min_distance_m: minimum distance kept between non-thumb fingertip frames
            (0 disables the barrier).
        collision_weight: weight of the barrier's one-sided penalty.
        huber_delta_m: vector errors beyond this are penalised linearly (Huber loss), so one
            unreachable target does not drag the others; 0 gives plain least squares.
        temporal_weight: weight of ``|x - x_previous_frame|^2`` (m^2 per rad^2).
        damping: Levenberg-Marquardt damping of a frame's first step (m^2 per rad^2); it
            shrinks by 0.3 after each step that lowers the cost, down to ``min_damping``, and
            grows tenfold after one that does not (the step is then undone).
        min_damping: the floor of the damping.
        max_iterations: linearisations (forward kinematics + Jacobians) per warm-started frame.
        pinch_iterations: linearisations per frame while a pinch term is active.
        take_last_step: take the step computed from the last linearisation without checking its
            cost (real-time iteration: the next frame corrects it); otherwise it is dropped.
        first_frame_iterations: iterations for a frame without a warm start.
        step_tolerance_rad: stop when no joint moves more than this in an iteration.
        thumb_clearance_m: surface gap kept between the thumb's links and the other fingers'
            and the palm's (sphere model, ``finger_clearance.ThumbClearance``; robots built
            with link spheres only); 0 disables it.
        thumb_clearance_weight: weight of its one-sided penalty (stiffer than the pinch pull,
            so a pinch stops at the surfaces).
    """

    tip_weight: float = 1.0
    keypoint_weight: float = 0.3
    thumb_vector_weight: float = 0.1
    pinch_weight: float = 10.0
    pinch_enter_m: float = 0.02
    pinch_exit_m: float = 0.025
    collision_min_distance_m: float = 0.015
    collision_weight: float = 30.0
    huber_delta_m: float = 0.02
    temporal_weight: float = 7e-4
    damping: float = 1e-3
    min_damping: float = 1e-6
    max_iterations: int = 2
    pinch_iterations: int = 4
    take_last_step: bool = True
    first_frame_iterations: int = 40
    step_tolerance_rad: float = 2e-4
    thumb_clearance_m: float = 0.002
    thumb_clearance_weight: float = 100.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.pinch_enter_m < self.pinch_exit_m:
            raise HandIKError(
                f"pinch distances need 0 <= pinch_enter_m < pinch_exit_m, got "
                f"{self.pinch_enter_m} and {self.pinch_exit_m}")
        if self.max_iterations < 1 or self.first_frame_iterations < 1:
            raise HandIKError("max_iterations and first_frame_iterations must be >= 1")
        if min(self.tip_weight, self.keypoint_weight, self.thumb_vector_weight, self.pinch_weight,
               self.collision_weight, self.temporal_weight, self.damping) < 0:
            raise HandIKError("HandIKConfig weights must be >= 0")


@dataclass
class HandIKSolveInfo:
    """What the last :meth:`HandIK.solve` did.

    Attributes:
        iterations: Gauss-Newton iterations run.
        cost: weighted cost at the last linearisation (before its step).
        limit_hits: number of independent joints sitting on a limit after the solve.
        pinch: strength in [0, 1] of the strongest thumb-finger pinch term this frame.
    """

    iterations: int = 0
    cost: float = float("nan")
    limit_hits: int = 0
    pinch: float = 0.0


def parse_urdf_mimic(urdf_text: str) -> tuple[tuple[str, str, float, float], ...]:
    """``(follower, leader, multiplier, offset)`` for every ``<mimic>`` joint of a URDF text."""
    root = ET.fromstring(urdf_text)
    out = []
    for joint in root.iter("joint"):
        mimic = joint.find("mimic")
        if mimic is not None:
            out.append((joint.get("name"), mimic.get("joint"),
                        float(mimic.get("multiplier", 1.0)), float(mimic.get("offset", 0.0))))
    return tuple(out)


def _resolve_mimic(mimic, joint_set):
    """Follower -> (root leader, multiplier, offset), following chains of followers."""
    table = {f: (lead, float(m), float(o)) for f, lead, m, o in mimic}
    resolved = {}
    for follower in table:
        lead, mult, off = table[follower]
        seen = {follower}
        while lead in table:
            if lead in seen:
                raise HandIKError(f"mimic joints form a cycle through {lead!r}")
            seen.add(lead)
            l2, m2, o2 = table[lead]
            lead, mult, off = l2, mult * m2, mult * o2 + off
        resolved[follower] = (lead, mult, off)
    return {f: v for f, v in resolved.items() if f in joint_set or v[0] in joint_set}


class HandIK:
    """Retargets one human hand onto one robot hand, frame after frame (warm-started).

    Args:
        pin_model: Pinocchio model holding the hand (a bare hand or a whole robot: joints that
            are not this hand's are locked at ``locked_qpos`` or the neutral pose).
        mapping: the hand's :class:`HandMapping` (frames, joints, side, rotation, scale).
        mimic: ``(follower, leader, multiplier, offset)`` couplings, follower = m * leader + o.
        config: weights and tolerances.
        locked_qpos: joint name -> position for locked joints that should not sit at neutral.
        link_spheres: body name -> link spheres (``collision_spheres.robot_link_spheres``) for
            the thumb clearance; None: no thumb clearance.
    """

    def __init__(self, pin_model, mapping: HandMapping,
                 mimic: tuple[tuple[str, str, float, float], ...] = (),
                 config: HandIKConfig | None = None,
                 locked_qpos: dict[str, float] | None = None,
                 link_spheres: dict | None = None):
        import pinocchio as pin

        self._pin = pin
        self.mapping = mapping
        self._link_spheres = link_spheres
        self._config = config or HandIKConfig()
        if mapping.side not in ("left", "right"):
            raise HandIKError(f"hand mapping side must be 'left' or 'right', got {mapping.side!r}")
        full = pin_model
        full_names = list(full.names)[1:]
        missing = [j for j in mapping.finger_joints if j not in full_names]
        if missing:
            raise HandIKError(f"finger joints {missing} of the {mapping.side} hand are not in the "
                              f"model (model joints: {full_names})")
        coupling = _resolve_mimic(mimic, set(mapping.finger_joints))
        for follower, (leader, _, _) in coupling.items():
            if leader not in full_names or follower not in full_names:
                raise HandIKError(f"mimic {follower!r} <- {leader!r}: joint not in the model")
        hand_joints = set(mapping.finger_joints) | set(coupling)

        # Lock everything that is not this hand: a smaller model is a faster model.
        q_ref = neutral_within_limits(full)
        for name, value in (locked_qpos or {}).items():
            if name not in full_names:
                raise HandIKError(f"locked joint {name!r} is not in the model")
            q_ref[full.joints[full.getJointId(name)].idx_q] = value
        lock = [full.getJointId(n) for n in full_names if n not in hand_joints]
        model = pin.buildReducedModel(full, lock, q_ref) if lock else full
        if model.nq != model.nv:
            raise HandIKError("hand joints must be 1-DoF revolute or prismatic joints "
                              f"(nq={model.nq}, nv={model.nv})")
        self.model = model
        self.data = model.createData()
        self.joint_names: tuple[str, ...] = tuple(model.names[1:])
        """Names of the hand joints in ``qpos`` order (leaders and followers, model order)."""
        self.independent_joint_names: tuple[str, ...] = tuple(
            n for n in self.joint_names if n not in coupling)
        """Names of the coordinates actually solved for (mimic followers removed)."""
        n_full, n_ind = len(self.joint_names), len(self.independent_joint_names)
        ind_index = {n: i for i, n in enumerate(self.independent_joint_names)}
        # q_hand = M x + c maps independent coordinates to every hand joint.
        self._M = np.zeros((n_full, n_ind))
        self._c = np.zeros(n_full)
        for i, name in enumerate(self.joint_names):
            if name in coupling:
                leader, mult, off = coupling[name]
                if leader not in ind_index:
                    raise HandIKError(f"mimic leader {leader!r} of {name!r} is not a hand joint")
                self._M[i, ind_index[leader]] = mult
                self._c[i] = off
            else:
                self._M[i, ind_index[name]] = 1.0
        self.lower = np.array(model.lowerPositionLimit, dtype=float)
        self.upper = np.array(model.upperPositionLimit, dtype=float)
        """Joint limits of ``joint_names``."""
        self._x_lower, self._x_upper = self._independent_limits()

        # Frames: the human wrist's robot point is the origin of every vector.
        kp = dict(mapping.keypoint_frames)
        for frame in (mapping.wrist_frame, *kp.values()):
            if not model.existFrame(frame):
                raise HandIKError(f"frame {frame!r} of the {mapping.side} hand mapping is not in "
                                  "the model")
        origin_frame = kp.pop(0, mapping.wrist_frame)
        # Keypoints fixed to the palm (e.g. the MCP frames of most robot hands) cannot be moved
        # by any finger joint: they add a constant to the cost and time to every iteration.
        self.fixed_keypoints = _palm_fixed_keypoints(pin, model, kp)
        """hand21 indices mapped to frames that no hand joint moves (left out of the cost)."""
        for k in self.fixed_keypoints:
            del kp[k]
        self.keypoint_indices = np.array(sorted(kp), dtype=int)
        """hand21 indices of the robot points, in the order of :meth:`keypoints_of`."""
        if len(self.keypoint_indices) == 0 or any(
                not 0 < k < 21 for k in self.keypoint_indices):
            raise HandIKError(f"keypoint_frames must map hand21 indices 1-20, got {sorted(kp)}")
        self._frame_ids = [model.getFrameId(kp[k]) for k in self.keypoint_indices]
        self._frame_rows = [(i, fid, slice(3 * i, 3 * i + 3))
                            for i, fid in enumerate(self._frame_ids, start=1)]
        self._lwa = pin.ReferenceFrame.LOCAL_WORLD_ALIGNED
        pin.framesForwardKinematics(model, self.data, pin.neutral(model))
        wrist = self.data.oMf[model.getFrameId(mapping.wrist_frame)]
        rot = np.asarray(mapping.rotation_hand_to_wrist, dtype=float)
        if rot.shape != (3, 3) or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6) \
                or np.linalg.det(rot) < 0:
            raise HandIKError("rotation_hand_to_wrist must be a proper 3x3 rotation (a mirror "
                              "is never a valid hand-to-wrist map)")
        # Constant: no hand joint moves the wrist.
        self._rot_world_from_hand = wrist.rotation @ rot
        self._origin_world = self.data.oMf[model.getFrameId(origin_frame)].translation.copy()

        self.scales = np.full(len(self.keypoint_indices), float(mapping.scale))
        """Human-to-robot scale of each keypoint (see :meth:`calibrate`)."""
        self._setup_terms()
        self.info = HandIKSolveInfo()
        self._x_rest = 0.5 * (self._x_lower + self._x_upper)
        self._x_prev: np.ndarray | None = None
        self._x_seed: np.ndarray | None = None

    # ----------------------------------------------------------------------------------------
    # Construction helpers

    @classmethod
    def from_robot_model(cls, robot: RobotModel, side: str,
                         config: HandIKConfig | None = None) -> HandIK:
        """A solver for the ``side`` hand of a registry :class:`RobotModel`."""
        if side not in robot.hands:
            raise HandIKError(f"robot {robot.name!r} has no {side} hand (hands: "
                              f"{sorted(robot.hands)})")
        pin_model = robot.pin_model
        if pin_model is None:
            import pinocchio as pin
            if robot.model_format != "urdf":
                raise HandIKError(f"robot {robot.name!r} has no Pinocchio model loaded; load it "
                                  "through the registry")
            pin_model = pin.buildModelFromXML(robot.model_xml)
        spheres = None
        if robot.model_format == "mjcf":
            from .collision_spheres import robot_link_spheres

            spheres = robot_link_spheres(robot)
        return cls(pin_model, robot.hands[side], robot.mimic, config, link_spheres=spheres)

    @classmethod
    def from_urdf(cls, urdf_path: str | Path, mapping: HandMapping,
                  config: HandIKConfig | None = None,
                  locked_qpos: dict[str, float] | None = None) -> HandIK:
        """A solver for a URDF hand; ``<mimic>`` tags become couplings."""
        import pinocchio as pin
        path = Path(urdf_path)
        if not path.is_file():
            raise HandIKError(f"URDF {path} does not exist")
        model = pin.buildModelFromUrdf(str(path))
        return cls(model, mapping, parse_urdf_mimic(path.read_text()), config, locked_qpos)

    def _independent_limits(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.full(self._M.shape[1], -np.inf)
        hi = np.full(self._M.shape[1], np.inf)
        for i in range(self._M.shape[0]):
            j = int(np.flatnonzero(self._M[i])[0])
            m, c = self._M[i, j], self._c[i]
            a, b = (self.lower[i] - c) / m, (self.upper[i] - c) / m
            lo[j], hi[j] = max(lo[j], min(a, b)), min(hi[j], max(a, b))
        bad = np.flatnonzero(lo > hi + 1e-9)
        if len(bad):
            name = self.independent_joint_names[bad[0]]
            raise HandIKError(f"joint {name!r}: its limits and its mimic followers' limits leave "
                              f"no feasible range ({lo[bad[0]]:.4f} > {hi[bad[0]]:.4f})")
        return lo, np.maximum(hi, lo)

    @property
    def config(self) -> HandIKConfig:
        """Weights and tolerances; assigning a new :class:`HandIKConfig` takes effect at once."""
        return self._config

    @config.setter
    def config(self, config: HandIKConfig) -> None:
        self._config = config
        self._setup_terms()

    def _setup_terms(self) -> None:
        """Precompute the cost terms over the points [origin, keypoints...] (origin is row 0)."""
        cfg = self._config
        kp = list(self.keypoint_indices)
        row = {k: i + 1 for i, k in enumerate(kp)}
        a, b, w = [], [], []
        for k in kp:  # wrist -> keypoint
            a.append(0)
            b.append(row[k])
            w.append(cfg.tip_weight if k in FINGERTIPS else cfg.keypoint_weight)
        thumb_pairs, thumb_fingers = [], []
        if THUMB_TIP in row:
            for tip in _NON_THUMB_TIPS:
                if tip in row:
                    thumb_pairs.append(len(a))
                    thumb_fingers.append(row[tip] - 1)
                    a.append(row[THUMB_TIP])
                    b.append(row[tip])
                    w.append(cfg.thumb_vector_weight)
        self._pair_a, self._pair_b = np.array(a), np.array(b)
        self._pair_w = np.array(w, dtype=float)
        self._thumb_pairs = np.array(thumb_pairs, dtype=int)
        self._thumb_fingers = np.array(thumb_fingers, dtype=int)  # rows of the relative keypoints
        self._thumb_row = row.get(THUMB_TIP, 0) - 1
        n_pts = len(kp) + 1
        # Pair differences as one linear map over the stacked points: targets = D @ points, and
        # residuals = kron(D, R^T) @ world points - targets (R^T rotates world into the hand).
        self._diff = np.zeros((len(a), n_pts))
        self._diff[np.arange(len(a)), self._pair_b] = 1.0
        self._diff[np.arange(len(a)), self._pair_a] -= 1.0
        self._pair_map = np.kron(self._diff, self._rot_world_from_hand.T)
        sqrt_w = np.sqrt(self._pair_w)
        self._pair_map_w = self._pair_map * np.repeat(sqrt_w, 3)[:, None]
        self._sqrt_w = sqrt_w
        # Barrier pairs: every two non-thumb fingertips, as a difference map of world points.
        tips = [row[t] for t in _NON_THUMB_TIPS if t in row]
        pairs = [(tips[i], tips[j]) for i in range(len(tips)) for j in range(i + 1, len(tips))]
        coll = np.zeros((len(pairs), n_pts))
        for i, (pa, pb) in enumerate(pairs):
            coll[i, pb], coll[i, pa] = 1.0, -1.0
        self._coll_map = np.kron(coll, np.eye(3)) if (
            pairs and cfg.collision_min_distance_m > 0 and cfg.collision_weight > 0) else None
        # Preallocated scratch the hot loop fills: world points (row 0: the fixed origin) and
        # their stacked 3-row Jacobians (rows of the origin stay zero); scaled human points.
        self._P = np.zeros((n_pts, 3))
        self._P[0] = self._origin_world
        self._J = np.zeros((3 * n_pts, self.model.nv))
        self._human = np.zeros((n_pts, 3))
        self._thumb_clearance = None
        if self._link_spheres and cfg.thumb_clearance_m > 0 and cfg.thumb_clearance_weight > 0:
            from .finger_clearance import ThumbClearance

            self._thumb_clearance = ThumbClearance(self.model, self.mapping, self._link_spheres,
                                                   cfg.thumb_clearance_m,
                                                   neutral_within_limits(self.model))

    # ----------------------------------------------------------------------------------------
    # Kinematics

    @property
    def num_independent(self) -> int:
        return self._M.shape[1]

    @property
    def independent_lower(self) -> np.ndarray:
        return self._x_lower.copy()

    @property
    def independent_upper(self) -> np.ndarray:
        return self._x_upper.copy()

    @property
    def independent_rest(self) -> np.ndarray:
        """Where a cold solve starts: the middle of each independent joint's range."""
        return self._x_rest.copy()

    def qpos_from_independent(self, x: npt.ArrayLike) -> np.ndarray:
        """All hand joints (``joint_names`` order) from independent coordinates."""
        return self._M @ np.asarray(x, dtype=float) + self._c

    def independent_from_qpos(self, qpos: npt.ArrayLike) -> np.ndarray:
        """Independent coordinates of a hand ``qpos`` (followers ignored)."""
        q = np.asarray(qpos, dtype=float)
        if q.shape != (len(self.joint_names),):
            raise HandIKError(f"qpos: expected shape ({len(self.joint_names)},), got {q.shape}")
        idx = [self.joint_names.index(n) for n in self.independent_joint_names]
        return q[idx]

    def keypoints_of(self, qpos: npt.ArrayLike) -> np.ndarray:
        """(K, 3) robot points of ``keypoint_indices`` in the hand frame, relative to the wrist
        point, for a hand ``qpos``."""
        q = np.asarray(qpos, dtype=float)
        self._pin.framesForwardKinematics(self.model, self.data, q)
        pts = np.array([self.data.oMf[f].translation for f in self._frame_ids])
        return (pts - self._origin_world) @ self._rot_world_from_hand

    def _linearise(self, q: np.ndarray) -> None:
        """Fill ``_P`` (world points) and ``_J`` (their world-aligned Jacobians) at hand ``q``."""
        pin, model, data = self._pin, self.model, self.data
        pin.computeJointJacobians(model, data, q)
        pin.updateFramePlacements(model, data)
        P, J, jac, lwa = self._P, self._J, pin.getFrameJacobian, self._lwa
        placements = data.oMf  # one lookup: each attribute access builds a new wrapper
        for row, fid, rows in self._frame_rows:
            P[row] = placements[fid].translation
            J[rows] = jac(model, data, fid, lwa)[:3]

    # ----------------------------------------------------------------------------------------
    # Targets

    def targets(self, keypoints_hand_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Per-term target vectors (terms, 3) and weights for one frame, and the pinch strength.

        Args:
            keypoints_hand_m: (21, 3) human hand in Dyad's hand frame (wrist need not be 0).
        """
        rel = keypoints_hand_m[self.keypoint_indices] - keypoints_hand_m[0]
        self._human[1:] = rel * self.scales[:, None]
        targets = self._diff @ self._human
        weights = self._pair_w
        pinch = 0.0
        if len(self._thumb_pairs):
            cfg = self._config
            gap = rel[self._thumb_fingers] - rel[self._thumb_row]
            gap = np.sqrt((gap * gap).sum(axis=1))
            if gap.min() < cfg.pinch_exit_m:  # most frames have no pinch: nothing to change
                t = np.clip((gap - cfg.pinch_enter_m) / (cfg.pinch_exit_m - cfg.pinch_enter_m),
                            0.0, 1.0)
                targets[self._thumb_pairs] *= t[:, None]
                weights = weights.copy()
                weights[self._thumb_pairs] = cfg.pinch_weight + (cfg.thumb_vector_weight
                                                                 - cfg.pinch_weight) * t
                pinch = float(1.0 - t.min())
        return targets, weights, pinch

    def _row_of(self, hand21_index: int) -> int:
        return int(np.flatnonzero(self.keypoint_indices == hand21_index)[0]) + 1

    # ----------------------------------------------------------------------------------------
    # Solve

    def reset(self, qpos: npt.ArrayLike | None = None) -> None:
        """Forget the previous frame. The next solve is a cold one (no temporal term, the cold
        iteration budget) starting from ``qpos``, or from the middle of the joint ranges."""
        self._x_seed = None if qpos is None else np.clip(
            self.independent_from_qpos(qpos), self._x_lower, self._x_upper)
        self._x_prev = None

    def solve(self, keypoints_hand_m: npt.ArrayLike, max_iterations: int | None = None,
              check: bool = True) -> np.ndarray:
        """Joint positions (``joint_names`` order) that best reproduce one human hand frame.

        Warm-starts from the previous solve; the result always lies within the joint limits
        and satisfies the mimic couplings exactly. Details of the solve are in ``self.info``.

        Args:
            keypoints_hand_m: (21, 3) human hand in Dyad's hand frame, metres.
            max_iterations: overrides the config's iteration count for this frame.
            check: validate shape and finiteness (the streaming wrapper checks once itself).
        """
        kp = np.asarray(keypoints_hand_m, dtype=float)
        if check:
            if kp.shape != (21, 3):
                raise HandIKError(f"hand keypoints: expected shape (21, 3) in hand21 order, got "
                                  f"{kp.shape}")
            bad = ~np.isfinite(kp).all(axis=1)
            if bad.any():
                raise HandIKError(f"hand keypoints: non-finite value at joint "
                                  f"{HAND21_NAMES[int(np.flatnonzero(bad)[0])]!r}")
        cfg = self.config
        warm = self._x_prev is not None
        if warm:
            x_prev = self._x_prev
        else:
            x_prev = self._x_rest if self._x_seed is None else self._x_seed
        iterations = max_iterations or (cfg.max_iterations if warm else cfg.first_frame_iterations)
        targets, weights, pinch = self.targets(kp)
        if pinch > 0 and max_iterations is None:
            # Closing a pinch moves the thumb far in a few frames: spend more iterations on it.
            iterations = max(iterations, cfg.pinch_iterations)
        if weights is self._pair_w:
            sqrt_w, pair_map = self._sqrt_w, self._pair_map_w
        else:
            sqrt_w = np.sqrt(weights)
            pair_map = self._pair_map * np.repeat(sqrt_w, 3)[:, None]
        target_w = (targets * sqrt_w[:, None]).ravel()
        huber = cfg.huber_delta_m * sqrt_w  # per weighted pair residual
        n = len(x_prev)
        reg = cfg.temporal_weight if warm else 0.0
        lo, hi, M, c = self._x_lower, self._x_upper, self._M, self._c
        self._frame_terms = (pair_map, target_w, huber, np.sqrt(cfg.collision_weight))
        if self._thumb_clearance is not None:
            self._thumb_clearance.new_frame()
        x = x_prev.copy()
        A, r, cost = self._system(M @ x + c)
        mu = cfg.damping
        evaluations = 1
        while True:
            H = A.T @ A
            H.flat[::n + 1] += reg + mu
            g = A.T @ r + reg * (x - x_prev)
            x_new = x + projected_newton_step(H, g, x, lo, hi)
            x_new = np.minimum(np.maximum(x_new, lo), hi)
            if np.abs(x_new - x).max() < cfg.step_tolerance_rad:
                x = x_new  # a step this small cannot raise the cost: take it without checking
                break
            if evaluations >= iterations:
                if cfg.take_last_step:
                    x = x_new
                break
            A_new, r_new, cost_new = self._system(M @ x_new + c)
            evaluations += 1
            d_new, d_old = x_new - x_prev, x - x_prev
            if cost_new + reg * (d_new @ d_new) <= cost + reg * (d_old @ d_old):
                # Levenberg-Marquardt: accept, and trust the linear model more.
                x, A, r, cost = x_new, A_new, r_new, cost_new
                mu = max(mu * 0.3, cfg.min_damping)
            else:
                mu = mu * 10.0  # uphill: a shorter, more gradient-like step next
        it = evaluations
        self._x_prev = x
        at_limit = (x <= lo + 1e-9) | (x >= hi - 1e-9)
        self.info = HandIKSolveInfo(iterations=it, cost=cost, limit_hits=int(at_limit.sum()),
                                    pinch=pinch)
        return M @ x + c

    def _system(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Weighted residuals ``r``, their Jacobian ``A`` in independent coordinates and the
        robust cost at hand ``q``, for the targets set by :meth:`solve` (IRLS of the Huber loss:
        a vector that cannot be reached pulls linearly, not quadratically)."""
        pair_map, target_w, huber, sqrt_wc = self._frame_terms
        cfg = self._config
        self._linearise(q)
        JM = self._J @ self._M  # (3 * points, n)
        A = pair_map @ JM
        points = self._P.ravel()
        r = pair_map @ points - target_w
        r3 = r.reshape(-1, 3)
        norms = np.sqrt((r3 * r3).sum(axis=1))
        if cfg.huber_delta_m > 0:
            m = np.minimum(norms, huber)
            cost = float(m @ (2.0 * norms - m))  # Huber, scaled to equal norm^2 when near
            if (m < norms).any():
                irls = np.sqrt(m / np.maximum(norms, 1e-12))
                A.reshape(-1, 3, A.shape[1])[:] *= irls[:, None, None]
                r3 *= irls[:, None]
        else:
            cost = float(norms @ norms)
        if self._coll_map is not None:
            dmin = cfg.collision_min_distance_m
            diff = (self._coll_map @ points).reshape(-1, 3)
            dist = np.sqrt((diff * diff).sum(axis=1))
            hit = dist < dmin
            if hit.any():
                rows = np.flatnonzero(hit)
                u = diff[rows] / np.maximum(dist[rows], 1e-9)[:, None]
                jd = np.einsum("kd,kdn->kn", u,
                               (self._coll_map @ JM).reshape(-1, 3, JM.shape[1])[rows])
                pen = sqrt_wc * (dmin - dist[rows])
                A = np.vstack([A, -sqrt_wc * jd])
                r = np.concatenate([r, pen])
                cost += float(pen @ pen)
        if self._thumb_clearance is not None:
            extra = self._thumb_clearance.rows(self.data, self._M,
                                               float(np.sqrt(cfg.thumb_clearance_weight)))
            if extra is not None:
                A = np.vstack([A, extra[0]])
                r = np.concatenate([r, extra[1]])
                cost += extra[2]
        return A, r, cost

    # ----------------------------------------------------------------------------------------
    # Calibration and errors

    def calibrate(self, rest_keypoints_hand_m: npt.ArrayLike,
                  rest_qpos: npt.ArrayLike | None = None) -> np.ndarray:
        """Per-finger scales from a human rest pose (open flat hand) and the robot's open pose.

        Each finger's scale is the robot's wrist-to-tip length over the human's, applied to all
        of that finger's keypoints, so long robot fingers are driven through their full range.

        Args:
            rest_keypoints_hand_m: (21, 3) the operator's open hand in Dyad's hand frame.
            rest_qpos: the robot's open pose (default: zero, clipped into the limits).

        Returns:
            The new ``scales`` (one per keypoint of ``keypoint_indices``).
        """
        kp = np.asarray(rest_keypoints_hand_m, dtype=float)
        if kp.shape != (21, 3) or not np.isfinite(kp).all():
            raise HandIKError(f"rest pose: expected finite (21, 3) hand21 keypoints, got "
                              f"{kp.shape}")
        q = self.qpos_from_independent(self._x_rest) if rest_qpos is None else rest_qpos
        robot = self.keypoints_of(q)
        human = kp - kp[0]
        scales = np.empty(len(self.keypoint_indices))
        for i, k in enumerate(self.keypoint_indices):
            finger = (k - 1) // 4
            tip = 4 * finger + 4
            if tip in self.keypoint_indices:
                r = robot[list(self.keypoint_indices).index(tip)]
                h = human[tip]
            else:
                r, h = robot[i], human[k]
            hl = float(np.linalg.norm(h))
            if hl < 1e-4:
                raise HandIKError(f"rest pose: keypoint {HAND21_NAMES[tip]!r} sits on the wrist")
            scales[i] = float(np.linalg.norm(r)) / hl
        self.scales = scales
        return scales.copy()

    def errors(self, qpos: npt.ArrayLike, keypoints_hand_m: npt.ArrayLike) -> dict[str, float]:
        """Retargeting errors of one frame, metres (the benchmark's definitions).

        - ``fingertip_error_m``: mean over tips of |robot tip - scaled human tip|, both relative
          to the wrist in the hand frame.
        - ``vector_error_m``: mean over every wrist -> keypoint and thumb-tip -> fingertip vector
          of |robot vector - scaled human vector| (the unmodified human vectors, no pinch).
        - ``thumb_index_gap_m``: robot thumb-tip to index-tip distance (NaN without both).
        """
        kp = np.asarray(keypoints_hand_m, dtype=float)
        robot = self.keypoints_of(qpos)
        human = (kp[self.keypoint_indices] - kp[0]) * self.scales[:, None]
        rp = np.vstack([np.zeros((1, 3)), robot])
        hp = np.vstack([np.zeros((1, 3)), human])
        vec_err = np.linalg.norm((rp[self._pair_b] - rp[self._pair_a])
                                 - (hp[self._pair_b] - hp[self._pair_a]), axis=1)
        tips = [i for i, k in enumerate(self.keypoint_indices) if k in FINGERTIPS]
        tip_err = np.linalg.norm(robot[tips] - human[tips], axis=1)
        gap = float("nan")
        if THUMB_TIP in self.keypoint_indices and 8 in self.keypoint_indices:
            gap = float(np.linalg.norm(robot[self._row_of(8) - 1] - robot[self._row_of(4) - 1]))
        return {"fingertip_error_m": float(tip_err.mean()), "vector_error_m": float(vec_err.mean()),
                "thumb_index_gap_m": gap}


def _palm_fixed_keypoints(pin, model, keypoint_frames: dict[int, str]) -> tuple[int, ...]:
    """hand21 indices whose frame no joint of ``model`` moves: on a fixed link, or on a joint
    axis with nothing upstream (a finger's MCP frame at its own hinge)."""
    rng = np.random.default_rng(0)
    lo = np.where(np.isfinite(model.lowerPositionLimit), model.lowerPositionLimit, -np.pi)
    hi = np.where(np.isfinite(model.upperPositionLimit), model.upperPositionLimit, np.pi)
    data = model.createData()
    moving: set[int] = set()
    for _ in range(3):
        pin.computeJointJacobians(model, data, rng.uniform(lo, hi))
        pin.updateFramePlacements(model, data)
        for k, frame in keypoint_frames.items():
            jac = pin.getFrameJacobian(model, data, model.getFrameId(frame),
                                       pin.ReferenceFrame.LOCAL_WORLD_ALIGNED)[:3]
            if np.abs(jac).max() > 1e-9:
                moving.add(k)
    return tuple(sorted(set(keypoint_frames) - moving))


def neutral_within_limits(model) -> np.ndarray:
    """Pinocchio's neutral configuration of ``model`` clipped into its finite joint limits."""
    import pinocchio as pin
    q = pin.neutral(model)
    lo, hi = model.lowerPositionLimit, model.upperPositionLimit
    finite = np.isfinite(lo) & np.isfinite(hi)
    q[finite] = np.clip(q[finite], lo[finite], hi[finite])
    return q


def projected_newton_step(H: np.ndarray, g: np.ndarray, x: np.ndarray, lo: np.ndarray,
                           hi: np.ndarray) -> np.ndarray:
    """One projected Newton step (Bertsekas) for the box lo <= x <= hi.

    Joints on a bound whose gradient pushes outward are held; the others take the Newton step
    of the remaining system. The caller clips the result into the box, and the Gauss-Newton loop
    around it converges to the box-constrained optimum (the usual frame has no joint on a limit
    and costs one plain solve).
    """
    held = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
    if not held.any():
        return np.linalg.solve(H, -g)
    free = ~held
    step = np.zeros(len(x))
    if free.any():
        step[free] = np.linalg.solve(H[free][:, free], -g[free])
    return step
