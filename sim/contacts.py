"""Contact checks: collisions between bodies that should not touch, expected contacts that must
happen, and contacts that start too fast.

Every frame of a recording is put back into MuJoCo (kinematics + collision detection only) and
its contacts are sorted out:

- **Collisions** (``self_collision`` within an instance: finger-finger, finger-palm, hand-hand,
  hand-body, body-body; ``robot_collision`` between instances; ``floor_collision`` for anything
  but the feet): a contact deeper than ``collision.penetration_tolerance_m``. Pairs that touch
  in the rest pose are part of the design and exempt. Penetration figures follow DHVAE
  (Disentangled Hierarchical VAE for 3D Human-Human Interaction Generation): the penetration
  duration ratio is the fraction of frames with any penetration; the frequency ratio over a
  batch is the fraction of trajectories with any.
- **Expected contacts** (the trajectory's contact intervals, e.g. a clap or a handshake): the
  two parts' bodies must come within ``touch_distance_m`` for at least ``min_contact_ratio`` of
  the interval; frames deeper than ``severe_penetration_m`` do not count as contact (DHVAE's
  rule) and fail as collisions. Around an interval (plus ``window_slack_s``) any contact
  between the two hands involved is expected, not a collision; for two parts of one hand (a
  pinch's thumb and index tips) only contacts between those two fingers.
- **Approach speed**: when two robot bodies start touching, their relative speed along the
  contact normal (from the frames just before) must stay below ``approach.max_speed_m_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dyad.motion import ContactInterval

from .body_parts import PartResolver
from .frame_runs import runs
from .playback import Recording
from .report import Violation
from .scene import Scene
from .thresholds import Thresholds

PAIR_CLASSES = ("robot-floor", "finger-finger", "finger-palm", "hand-hand", "hand-body",
                "body-body", "robot-robot")
_ROLE_WORLD, _ROLE_BODY, _ROLE_PALM, _ROLE_FINGER = 0, 1, 2, 3


@dataclass
class ExpectedContact:
    """One contact interval resolved to robot bodies, with its running tally."""

    interval: ContactInterval
    instance_a: int
    instance_b: int
    bodies_a: frozenset[int]
    bodies_b: frozenset[int]
    exempt_a: frozenset[int]
    exempt_b: frozenset[int]
    geom_pairs: np.ndarray
    frames_seen: int = 0
    frames_touching: int = 0
    frames_severe: int = 0
    min_distance_m: float = np.inf
    reported: bool = False
    # Body pairs of the two sides that touch on frames where the named parts do not: what held
    # them apart (a thumb standing out of a palm), frames counted per pair.
    blockers: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        c = self.interval
        return f"{c.agent_a}:{c.part_a} ~ {c.agent_b}:{c.part_b} [{c.start}, {c.end})"


def _note_blockers(e: ExpectedContact, lo: np.ndarray, hi: np.ndarray) -> None:
    """Count, on a frame where ``e``'s named parts do not touch, the body pairs (``lo`` <
    ``hi``, touching) between its two sides' exempt bodies (hands and wrists) that do."""
    a_lo, b_hi = np.isin(lo, list(e.exempt_a)), np.isin(hi, list(e.exempt_b))
    b_lo, a_hi = np.isin(lo, list(e.exempt_b)), np.isin(hi, list(e.exempt_a))
    named = (np.isin(lo, list(e.bodies_a)) & np.isin(hi, list(e.bodies_b))) \
        | (np.isin(lo, list(e.bodies_b)) & np.isin(hi, list(e.bodies_a)))
    rows = np.flatnonzero(((a_lo & b_hi) | (b_lo & a_hi)) & ~named)
    for pair in {(int(lo[k]), int(hi[k])) for k in rows if lo[k] != hi[k]}:
        e.blockers[pair] = e.blockers.get(pair, 0) + 1


def _collision_geoms(model, bodies: frozenset[int]) -> list[int]:
    return [g for g in range(model.ngeom) if model.geom_bodyid[g] in bodies
            and (model.geom_contype[g] or model.geom_conaffinity[g])]


@dataclass
class _Carry:
    """What the checker keeps between chunks."""

    frames_done: int = 0
    in_contact: set = field(default_factory=set)          # pairs touching at the last frame
    # The last two frames' poses (full qpos, base positions, base quaternions), oldest first;
    # their body poses are recomputed only when a contact starts (approach speed).
    poses: list = field(default_factory=list)
    penetration_frames: int = 0
    max_penetration_m: float = 0.0
    max_approach_speed: float = 0.0


class ContactChecker:
    """Scans recordings chunk by chunk (in order) for collision, expected-contact and approach
    violations.

    Args:
        scene: the scene the recordings come from.
        thresholds: gate thresholds.
        contacts: the trajectory's contact intervals (agents are instance names).
        warnings: list that receives one line per interval that cannot be checked.
    """

    def __init__(self, scene: Scene, thresholds: Thresholds,
                 contacts: list[ContactInterval], warnings: list[str]):
        import mujoco

        self._mujoco = mujoco
        self.scene = scene
        self.th = thresholds
        self.data = mujoco.MjData(scene.model)
        self.parts = PartResolver(scene)
        self.roles = self.parts.body_roles()
        self.body_hand = self.parts.body_hand()
        self.carry = _Carry()
        model = scene.model
        self.expected: list[ExpectedContact] = []
        for c in contacts:
            ia, ib = self.parts.instance_index(c.agent_a), self.parts.instance_index(c.agent_b)
            a = self.parts.resolve(c.agent_a, c.part_a)
            b = self.parts.resolve(c.agent_b, c.part_b)
            missing = [f"{agent}:{part}" for agent, part, bodies in
                       ((c.agent_a, c.part_a, a), (c.agent_b, c.part_b, b)) if not bodies]
            if missing:
                warnings.append(f"contact interval {c.agent_a}:{c.part_a} ~ {c.agent_b}:"
                                f"{c.part_b} frames [{c.start}, {c.end}) not checked: no robot "
                                f"body for {', '.join(missing)}")
                continue
            ga, gb = _collision_geoms(model, a), _collision_geoms(model, b)
            if not ga or not gb:
                warnings.append(f"contact interval {c.agent_a}:{c.part_a} ~ {c.agent_b}:"
                                f"{c.part_b} not checked: a part has no collision geometry")
                continue
            pairs = np.array([(g1, g2) for g1 in ga for g2 in gb if g1 != g2], dtype=int)
            exempt_a = self.parts.hand_of(c.agent_a, c.part_a)
            exempt_b = self.parts.hand_of(c.agent_b, c.part_b)
            if ia == ib and exempt_a == exempt_b:
                # Two parts of one hand (a pinch): only those fingers may touch each other;
                # the hand's other self-collisions still count.
                exempt_a = self.parts.finger_of(c.agent_a, c.part_a)
                exempt_b = self.parts.finger_of(c.agent_b, c.part_b)
            self.expected.append(ExpectedContact(
                c, ia, ib, a, b, exempt_a, exempt_b, pairs.reshape(-1, 2)))
        slack = int(round(float(thresholds["expected_contacts"]["window_slack_s"]) * scene.fps))
        self._slack = slack
        # Per-body lookup tables, so each frame's contacts are sorted out without Python loops.
        n = model.nbody
        self._rest = np.zeros((n, n), dtype=bool)
        for a, b in scene.rest_contacts:
            self._rest[a, b] = self._rest[b, a] = True
        self._feet = np.zeros(n, dtype=bool)
        self._feet[list(scene.floor_bodies)] = True
        self._exempt_masks = []
        for e in self.expected:
            in_a, in_b = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
            in_a[list(e.exempt_a)] = True
            in_b[list(e.exempt_b)] = True
            self._exempt_masks.append((in_a, in_b))
        self._mocap_rows = np.array([inst.mocap_index for inst in scene.instances])
        self._history_data = None  # MjData for past frames' body poses, made on first need

    # ------------------------------------------------------------------ expected windows

    def in_contact_mask(self, frame_start: int, num_frames: int) -> np.ndarray:
        """(T, I) True where an instance takes part in an expected contact (slack included)."""
        mask = np.zeros((num_frames, len(self.scene.instances)), dtype=bool)
        frames = np.arange(frame_start, frame_start + num_frames)
        for e in self.expected:
            inside = ((frames >= e.interval.start - self._slack)
                      & (frames < e.interval.end + self._slack))
            mask[inside, e.instance_a] = True
            mask[inside, e.instance_b] = True
        return mask

    def _exempt(self, frame: int, b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
        out = np.zeros(len(b1), dtype=bool)
        for e, (in_a, in_b) in zip(self.expected, self._exempt_masks):
            if not (e.interval.start - self._slack <= frame < e.interval.end + self._slack):
                continue
            out |= (in_a[b1] & in_b[b2]) | (in_b[b1] & in_a[b2])
        return out

    # ------------------------------------------------------------------ classification

    def pair_class(self, b1: int, b2: int) -> str:
        """``robot-floor``, ``finger-finger``, ``finger-palm``, ``hand-hand``, ``hand-body``,
        ``body-body`` or ``robot-robot`` for a body pair."""
        inst = self.scene.body_instance
        if b1 == 0 or b2 == 0 or inst[b1] < 0 or inst[b2] < 0:
            return "robot-floor"
        r1, r2 = self.roles[b1], self.roles[b2]
        h1, h2 = self.body_hand[b1], self.body_hand[b2]
        hands = r1 >= _ROLE_PALM and r2 >= _ROLE_PALM
        if inst[b1] != inst[b2]:
            return "hand-hand" if hands else "robot-robot"
        if hands and h1 != h2:
            return "hand-hand"
        if hands:
            return "finger-finger" if r1 == r2 == _ROLE_FINGER else "finger-palm"
        if r1 >= _ROLE_PALM or r2 >= _ROLE_PALM:
            return "hand-body"
        return "body-body"

    def _kind(self, b1: int, b2: int) -> str:
        inst = self.scene.body_instance
        if b1 == 0 or b2 == 0 or inst[b1] < 0 or inst[b2] < 0:
            return "floor_collision"
        return "self_collision" if inst[b1] == inst[b2] else "robot_collision"

    # ------------------------------------------------------------------ scanning

    def _past_body_poses(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(xpos, xmat) of every body at the frames in ``carry.poses``, oldest first."""
        mujoco, model = self._mujoco, self.scene.model
        if self._history_data is None:
            self._history_data = mujoco.MjData(model)
        data = self._history_data
        out = []
        for qpos, base_pos, base_quat in self.carry.poses:
            data.qpos[:] = qpos
            data.mocap_pos[self._mocap_rows] = base_pos
            data.mocap_quat[self._mocap_rows] = base_quat
            mujoco.mj_kinematics(model, data)
            out.append((data.xpos.copy(), data.xmat.copy()))
        return out

    def _approach_speed(self, b: int, point: np.ndarray, xpos: np.ndarray, xmat: np.ndarray,
                        past: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
        """Velocity (m/s) of the material point of body ``b`` now at ``point``, from the
        frames before (the last pre-contact motion, so an impact that stops it still counts).

        Args:
            b: the body.
            point: the contact point now (world frame).
            xpos, xmat: every body's pose now.
            past: every body's pose at the frames before, oldest first.
        """
        if not past:
            return None
        local = xmat[b].reshape(3, 3).T @ (point - xpos[b])
        places = [point] + [hx[b] + hm[b].reshape(3, 3) @ local for hx, hm in reversed(past)]
        fps = self.scene.fps
        velocities = [(places[k] - places[k + 1]) * fps for k in range(len(places) - 1)]
        return np.array(velocities)

    def check(self, rec: Recording, gravity=None) -> tuple[list[Violation], dict]:
        """Scan one chunk (chunks must come in order); returns (violations, summary figures).

        Args:
            rec: the chunk's recording.
            gravity: a :class:`~dyad.sim.gravity_load.GravityLoad` to gather each frame's
                gravity load from the same kinematics pass (``gravity.loads()`` afterwards),
                or None.
        """
        mujoco, scene, model, data = self._mujoco, self.scene, self.scene.model, self.data
        th_col, th_exp = self.th["collision"], self.th["expected_contacts"]
        tol = float(th_col["penetration_tolerance_m"])
        severe = float(th_exp["severe_penetration_m"])
        touch = float(th_exp["touch_distance_m"])
        max_speed = float(self.th["approach"]["max_speed_m_s"])
        floor_approach = bool(self.th["approach"]["floor_too"])
        geom_body = model.geom_bodyid
        inst_of = scene.body_instance
        mocap_rows = self._mocap_rows
        if gravity is not None:
            gravity.start(rec.num_frames)

        hits: list[tuple[int, int, int, float]] = []          # frame, b_lo, b_hi, depth
        approach: list[Violation] = []
        frames_with_penetration = np.zeros(rec.num_frames, dtype=bool)
        for i in range(rec.num_frames):
            frame = rec.frame_start + i
            data.qpos[:] = rec.full_qpos[i]
            data.mocap_pos[mocap_rows] = rec.base_pos[i]
            data.mocap_quat[mocap_rows] = rec.base_quat[i]
            mujoco.mj_kinematics(model, data)
            if gravity is not None:
                gravity.gather(i, data)
            mujoco.mj_collision(model, data)
            n = data.ncon
            touching_now: set = set()
            touches = None
            if n:
                con = data.contact
                dist = con.dist[:n].copy()
                g1, g2 = con.geom1[:n], con.geom2[:n]
                b1, b2 = geom_body[g1], geom_body[g2]
                lo, hi = np.minimum(b1, b2), np.maximum(b1, b2)
                touches = (lo[dist < 0], hi[dist < 0])
                keep = ((inst_of[b1] >= 0) | (inst_of[b2] >= 0)) & ~self._rest[lo, hi]
                floor = (inst_of[lo] < 0) & keep
                exempt = self._exempt(frame, b1, b2) if self.expected else False
                limit = np.where(exempt, severe, tol)
                bad = keep & ~(floor & self._feet[hi]) & (dist < -limit)
                if bad.any():
                    for k in np.flatnonzero(bad):
                        hits.append((frame, int(lo[k]), int(hi[k]), float(-dist[k])))
                    frames_with_penetration[i] = True
                    self.carry.max_penetration_m = max(self.carry.max_penetration_m,
                                                       float(-dist[bad].min()))
                # Approach speed at contact onsets (deepest contact of each new pair).
                onset_ok = keep & (dist < 0) & (floor_approach | ~floor)
                past = None
                for k in np.flatnonzero(onset_ok)[np.argsort(dist[onset_ok], kind="stable")]:
                    pair = (int(lo[k]), int(hi[k]))
                    if pair in touching_now:
                        continue
                    touching_now.add(pair)
                    if pair in self.carry.in_contact or self.carry.frames_done + i == 0:
                        continue
                    if past is None:
                        past = self._past_body_poses()
                    point = con.pos[k].copy()
                    normal = con.frame[k][:3].copy()
                    v1 = self._approach_speed(int(b1[k]), point, data.xpos, data.xmat, past)
                    v2 = self._approach_speed(int(b2[k]), point, data.xpos, data.xmat, past)
                    if v1 is None or v2 is None:
                        continue
                    speed = float(np.max((v1 - v2) @ normal))
                    self.carry.max_approach_speed = max(self.carry.max_approach_speed, speed)
                    if speed > max_speed:
                        names = (scene.body_name(pair[0]), scene.body_name(pair[1]))
                        approach.append(Violation(
                            "contact_approach_speed", frame, frame + 1, names, speed, max_speed,
                            "m/s", f"{self.pair_class(*pair)} contact starts too fast", frame))
            self.carry.in_contact = touching_now
            self.carry.poses = (self.carry.poses + [(rec.full_qpos[i], rec.base_pos[i],
                                                     rec.base_quat[i])])[-2:]
            for e in self.expected:
                if e.interval.start <= frame < e.interval.end:
                    before = e.frames_touching + e.frames_severe
                    self._measure_expected(e, touch, severe)
                    if e.frames_touching + e.frames_severe == before and touches is not None:
                        _note_blockers(e, *touches)  # the parts stayed apart
        self.carry.frames_done += rec.num_frames
        self.carry.penetration_frames += int(frames_with_penetration.sum())

        violations = self._collision_violations(hits, rec, tol, severe)
        violations += approach
        violations += self._expected_violations(rec.frame_start + rec.num_frames, final=False)
        summary = {
            "penetration_frames": int(frames_with_penetration.sum()),
            "penetration_duration_ratio": float(frames_with_penetration.mean())
            if rec.num_frames else 0.0,
            "max_penetration_m": float(max([h[3] for h in hits], default=0.0)),
        }
        return violations, summary

    def _measure_expected(self, e: ExpectedContact, touch: float, severe: float) -> None:
        mujoco, model, data = self._mujoco, self.scene.model, self.data
        reach = touch + 0.05  # mj_geomDistance reports farther pairs at this distance
        best = np.inf if not len(e.geom_pairs) else reach
        # Only geom pairs whose bounding spheres come within reach can be nearer than it.
        g1, g2 = e.geom_pairs[:, 0], e.geom_pairs[:, 1]
        gap = (np.linalg.norm(data.geom_xpos[g1] - data.geom_xpos[g2], axis=1)
               - model.geom_rbound[g1] - model.geom_rbound[g2])
        for k in np.flatnonzero(gap <= reach):
            best = min(best, mujoco.mj_geomDistance(model, data, int(g1[k]), int(g2[k]),
                                                    reach, None))
        e.frames_seen += 1
        e.min_distance_m = min(e.min_distance_m, float(best))
        if best < -severe:
            e.frames_severe += 1
        elif best <= touch:
            e.frames_touching += 1

    def _collision_violations(self, hits, rec: Recording, tol: float, severe: float
                              ) -> list[Violation]:
        if not hits:
            return []
        arr = np.array(hits, dtype=float)
        gap = int(self.th["reporting"]["merge_gap_frames"])
        min_frames = int(self.th["collision"]["min_frames"])
        out = []
        for lo, hi in {(int(a), int(b)) for a, b in arr[:, 1:3]}:
            rows = arr[(arr[:, 1] == lo) & (arr[:, 2] == hi)]
            mask = np.zeros(rec.num_frames, dtype=bool)
            depth = np.zeros(rec.num_frames)
            idx = rows[:, 0].astype(int) - rec.frame_start
            mask[idx] = True
            np.maximum.at(depth, idx, rows[:, 3])
            cls = self.pair_class(lo, hi)
            for s, e in runs(mask, gap, min_frames):
                peak = s + int(np.argmax(depth[s:e]))
                exempt = self._exempt(rec.frame_start + peak, np.array([lo]), np.array([hi]))[0]
                limit = severe if exempt else tol
                detail = cls + (" during an expected contact, deeper than the allowance"
                                if exempt else "")
                out.append(Violation(self._kind(lo, hi), rec.frame_start + s,
                                     rec.frame_start + e,
                                     (self.scene.body_name(lo), self.scene.body_name(hi)),
                                     float(depth[peak]), limit, "m", detail,
                                     rec.frame_start + peak))
        return out

    def _expected_violations(self, frames_end: int, final: bool) -> list[Violation]:
        """Verdicts of intervals that ended by ``frames_end`` (or all, when ``final``)."""
        th = self.th["expected_contacts"]
        out = []
        for e in self.expected:
            if e.reported or not (final or e.interval.end <= frames_end):
                continue
            if e.frames_seen == 0:
                continue
            e.reported = True
            ratio = e.frames_touching / e.frames_seen
            if ratio < float(th["min_contact_ratio"]):
                c = e.interval
                subjects = (f"{c.agent_a}:{c.part_a}", f"{c.agent_b}:{c.part_b}")
                closest = ("never closer than "
                           f"{e.min_distance_m:.3f} m" if np.isfinite(e.min_distance_m)
                           else "no distance measured")
                severe = f", {e.frames_severe} frames too deep" if e.frames_severe else ""
                blocker = ""
                if e.blockers:
                    (b1, b2), count = max(e.blockers.items(), key=lambda kv: kv[1])
                    blocker = (f"; in the way: {self.scene.body_name(b1)} ~ "
                               f"{self.scene.body_name(b2)}, touching on {count} of the "
                               f"{e.frames_seen - e.frames_touching - e.frames_severe} frames "
                               "the parts stayed apart")
                out.append(Violation(
                    "missed_contact", c.start, c.start + e.frames_seen, subjects, ratio,
                    float(th["min_contact_ratio"]), "ratio",
                    f"touching on {e.frames_touching}/{e.frames_seen} frames; {closest}"
                    f"{severe}{blocker}", c.start))
        return out

    def finish(self) -> list[Violation]:
        """Verdicts of intervals still open when the stream ends (judged on frames seen)."""
        return self._expected_violations(0, final=True)

    def contact_ratios(self) -> dict[str, float]:
        """Interval label -> fraction of its frames (seen so far) in contact."""
        return {e.label: (e.frames_touching / e.frames_seen if e.frames_seen else float("nan"))
                for e in self.expected}
