"""Clearance between two free-floating robot hands, measured on their collision geometry.

Two free hands (``bimanual`` onto two hand robots) are kept apart, or brought together for a
declared contact, with their inside collision spheres (``collision_spheres.py``): fast, and
smooth to push against, but they sit inside the meshes. Hands placed by them alone overlap by
what the spheres leave out: in a generated clap the Inspire thumbs, which stand out of the
palm, ended 2-6 mm inside the other palm, and the sim gate (MuJoCo, the same collision geoms)
squeezed them 0.3 rad past their joint limits with their servos at the force limit, failing the
clip for tracking error. A robot commanded that way would do the same.

:class:`HandPairClearance` asks MuJoCo for the contacts between the two hands' collision
geoms (convex hulls, as the gate collides them) and moves the hands apart, half each, along
the line between their palm centres until every pair it can part that way keeps the margin
(at most :data:`MAX_PUSH_M`). It only ever separates: bringing hands together is the
spheres' job.

The same pair works for two humanoids' hands (a duet's palms meeting): only the chosen hand of
each robot collides. There the hands cannot be pushed apart (the contact is the point) and
:meth:`HandPairClearance.slide` instead finds the shortest shift of one hand against the other
*within the palm's plane* that clears what stands out of the palms: two Inspire thumbs on the
same side of a double high five's palms were commanded 27 mm into each other and, in
simulation, held the palms 7-10 mm apart for the whole touch (the gate failed it as a missed
contact); shifted 4 cm along the fingers, both thumbs clear and the palms still meet.
"""

from __future__ import annotations

import threading

import numpy as np

from .robot_model import RobotModel, collision_spec, hand_parts

REACH_M = 0.02
"""Geom pairs closer than this are reported (MuJoCo's contact margin); a larger separation
margin than this is not supported."""
MAX_PUSH_M = 0.02
"""The farthest :meth:`HandPairClearance.separate` moves two hands apart. Two Inspire palms
clapping keep ~1.3 cm apart (the thumb bases stand out of the palms)."""
_MIN_ALONG = 0.5  # pairs opening less than this per metre of separation are not pushed
SLIDE_STEP_M = 0.005
"""Shift lengths :meth:`HandPairClearance.slide` tries, in steps of this, ..."""
SLIDE_MAX_M = 0.04
"""... up to this."""
_SLIDE_DIRECTIONS = 12  # directions tried in the palm's plane
_LEFT, _RIGHT = 1, 2  # contype bits: the two hands collide with each other only

_CACHE: dict[tuple, "HandPairClearance"] = {}
_LOCK = threading.Lock()


class HandPairClearance:
    """The collision geoms of two robot hands in one MuJoCo model: a left and a right hand
    robot, or a chosen hand of each of two humanoids (``sides``); the rest of a humanoid is
    placed but never collides.

    Trajectory rows are ``(x, y, z, qw, qx, qy, qz, joints in robot order)``: the robot's base
    pose (its free joint's body, as the sim gate's mocap base places it) and its joints. The
    first hand is called left, the second right (what they are for two free hands).
    """

    def __init__(self, left: RobotModel, right: RobotModel,
                 sides: tuple[str | None, str | None] = (None, None)):
        import mujoco

        world = mujoco.MjSpec()
        self._mocap, self._qpos, self._palm_points, self._plane_points = [], [], [], []
        chosen = []
        for tag, robot, side, bits in (("L", left, sides[0], _LEFT),
                                       ("R", right, sides[1], _RIGHT)):
            side = _side_of(robot, side)
            chosen.append(side)
            parts = hand_parts(robot, side)
            if parts is None:
                raise ValueError(f"robot {robot.name!r}: its {side} hand's wrist frame is in "
                                 "no body")
            spec = collision_spec(robot.model_xml)
            for element in list(spec.actuators) + list(spec.sensors) + list(spec.keys) \
                    + list(spec.pairs) + list(spec.excludes) + list(spec.equalities):
                spec.delete(element)
            for joint in list(spec.joints):
                if joint.type == mujoco.mjtJoint.mjJNT_FREE:
                    # The base body sits on the mocap frame, as in the gate's scene.
                    joint.parent.pos = [0.0, 0.0, 0.0]
                    joint.parent.quat = [1.0, 0.0, 0.0, 0.0]
                    spec.delete(joint)
            for geom in spec.geoms:
                mine = geom.parent.name in parts.hand
                geom.contype = bits if mine else 0
                geom.conaffinity = _LEFT + _RIGHT - bits if mine else 0
                geom.margin = REACH_M
            base = world.worldbody.add_body(name=f"{tag}:mocap", mocap=True)
            world.attach(spec, prefix=f"{tag}/", frame=base.add_frame())
        self.model = world.compile()
        self.data = mujoco.MjData(self.model)
        self._mujoco = mujoco
        m = self.model
        for tag, robot, side in (("L", left, chosen[0]), ("R", right, chosen[1])):
            base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{tag}:mocap")
            self._mocap.append(int(m.body_mocapid[base]))
            adr = []
            for name in robot.joint_names:
                j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"{tag}/{name}")
                if j < 0:
                    raise ValueError(f"robot {robot.name!r}: joint {name!r} has no MuJoCo joint")
                adr.append(int(m.jnt_qposadr[j]))
            self._qpos.append(np.array(adr, dtype=int))
            self._palm_points.append(self._palm_anchors(robot, side, tag, (0, 9)))
            self._plane_points.append(self._palm_anchors(robot, side, tag, (0, 5, 17),
                                                         required=False))
        self._geom_left = m.geom_contype == _LEFT
        palm_bodies = {f"{tag}/{b}" for tag, (robot, side) in zip("LR", ((left, chosen[0]),
                                                                          (right, chosen[1])))
                       for b in hand_parts(robot, side).palm}
        self._geom_palm = np.array([mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, int(b))
                                    in palm_bodies for b in m.geom_bodyid], dtype=bool)

    def _palm_anchors(self, robot: RobotModel, side: str, tag: str,
                      indices: tuple[int, ...], required: bool = True
                      ) -> list[tuple[bool, int]]:
        """(is a site, id) of the hand's keypoint frames ``indices`` (hand21 numbering) that
        exist; (0, 9), the wrist and middle-finger base, average to the palm centre. Empty
        when not ``required`` and any is missing."""
        mujoco, m = self._mujoco, self.model
        hand = robot.hands[side]
        out = []
        for index in indices:
            frame = hand.keypoint_frames.get(index)
            if frame is None:
                if required:
                    continue
                return []
            body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{tag}/{frame}")
            site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, f"{tag}/{frame}")
            if body >= 0:
                out.append((False, body))
            elif site >= 0:
                out.append((True, site))
            elif not required:
                return []
        if required and not out:
            raise ValueError(f"robot {robot.name!r}: its wrist frame "
                             f"{hand.keypoint_frames.get(0)!r} is neither a body nor a site")
        return out

    @classmethod
    def for_robots(cls, left: RobotModel, right: RobotModel,
                   sides: tuple[str | None, str | None] = (None, None)) -> "HandPairClearance":
        """Built once per pair of robots (name and model text) and hands; compiling takes
        ~0.1 s for two hands, ~0.5 s for two humanoids."""
        key = (left.name, hash(left.model_xml), right.name, hash(right.model_xml), tuple(sides))
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is None:
                hit = _CACHE[key] = cls(left, right, sides)
            return hit

    def contacts(self, row_left: np.ndarray, row_right: np.ndarray, palms: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Geom pairs of the two hands nearer than :data:`REACH_M`: (n,) signed distances
        (negative: overlap) and (n, 3) unit directions in which moving the left hand away from
        the right one (or the right one against them) opens each pair. Without ``palms``,
        pairs of two palm geoms (``robot_model.hand_parts``) are left out."""
        mujoco, m, d = self._mujoco, self.model, self.data
        for k, row in enumerate((row_left, row_right)):
            d.mocap_pos[self._mocap[k]] = row[:3]
            d.mocap_quat[self._mocap[k]] = row[3:7] / np.linalg.norm(row[3:7])
            d.qpos[self._qpos[k]] = row[7:]
        mujoco.mj_kinematics(m, d)
        return self._collide(palms)

    def _collide(self, palms: bool = True) -> tuple[np.ndarray, np.ndarray]:
        mujoco, m, d = self._mujoco, self.model, self.data
        mujoco.mj_collision(m, d)
        n = d.ncon
        if n == 0:
            return np.zeros(0), np.zeros((0, 3))
        contact = d.contact
        g1, g2 = np.asarray(contact.geom1[:n]), np.asarray(contact.geom2[:n])
        dist = np.array(contact.dist[:n], dtype=float)
        normal = np.array(contact.frame[:n, :3], dtype=float)  # from geom1 to geom2
        left_first = self._geom_left[g1]
        normal = np.where(left_first[:, None], -normal, normal)
        if not palms:
            keep = ~(self._geom_palm[g1] & self._geom_palm[g2])
            dist, normal = dist[keep], normal[keep]
        return dist, normal

    def separate(self, row_left: np.ndarray, row_right: np.ndarray, margin_m: float,
                 iterations: int = 4, max_push_m: float = MAX_PUSH_M
                 ) -> tuple[np.ndarray, float]:
        """How far to move the hands apart (left hand +s/2, right hand -s/2 along the unit
        direction from the right palm's centre to the left one's) so that no geom pair of the
        two hands is nearer than ``margin_m``; returns (that (3,) translation of the left hand
        relative to the right one, the nearest pair's distance afterwards, inf when none is
        within :data:`REACH_M`).

        One direction for every pair keeps the motion smooth from frame to frame (the palms'
        line moves continuously; a least-norm push over changing contact sets jumped by
        centimetres between frames). Pairs whose opening direction is nearly square to it
        (fingers side by side) are not pushed: moving along it would not part them, and
        neither is a pair beyond ``max_push_m`` (crossed thumbs, which would take palms
        6 cm apart to part): those stay for the gate to judge.
        """
        margin_m = float(np.clip(margin_m, 0.0, REACH_M))
        left = np.array(row_left, dtype=float)
        right = np.array(row_right, dtype=float)
        dist, u = self.contacts(left, right)
        axis = self._palm_centre(0) - self._palm_centre(1)
        axis /= max(float(np.linalg.norm(axis)), 1e-9)
        total = 0.0
        for _ in range(iterations):
            along = u @ axis
            pen = margin_m - dist
            push = (pen > 1e-5) & (along > _MIN_ALONG)
            if not push.any():
                break
            step = min(float((pen[push] / along[push]).max()), max_push_m - total)
            if step <= 1e-6:
                break
            total += step
            left[:3] += 0.5 * step * axis
            right[:3] -= 0.5 * step * axis
            dist, u = self.contacts(left, right)
        gap = float(dist.min()) if len(dist) else np.inf
        return total * axis, gap

    def slide(self, row_left: np.ndarray, row_right: np.ndarray, margin_m: float,
              direction: np.ndarray | None = None) -> tuple[np.ndarray | None, float]:
        """The shortest shift of the right hand against the left one, within the left palm's
        plane (or along ``direction``), after which no geom pair of the two hands but two palm
        geoms (palms pressed together are the touch) is more than ``margin_m`` inside the
        other; returns (that (3,) shift, the deepest such pair's distance after it; inf when
        none is within :data:`REACH_M`).

        Shifts of :data:`SLIDE_STEP_M` to :data:`SLIDE_MAX_M` in 12 directions are tried,
        shortest first. Zero when nothing is that deep, None when no shift clears it (then the
        pair is left for the gate to judge). A hand whose robot lacks the wrist, index and
        little-finger base frames slides square to the line between the palm centres.
        """
        dist, _ = self.contacts(row_left, row_right, palms=False)
        worst = float(dist.min()) if len(dist) else np.inf
        if worst >= -margin_m:
            return np.zeros(3), worst
        if direction is None:
            e1, e2 = self._plane()
            angles = np.linspace(0.0, 2.0 * np.pi, _SLIDE_DIRECTIONS, endpoint=False)
            units = np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2
        else:
            units = np.asarray(direction, float)[None] / np.linalg.norm(direction)
        d, k = self.data, self._mocap[1]
        base = d.mocap_pos[k].copy()
        try:
            for length in np.arange(SLIDE_STEP_M, SLIDE_MAX_M + 1e-9, SLIDE_STEP_M):
                for unit in units:
                    d.mocap_pos[k] = base + length * unit
                    self._mujoco.mj_kinematics(self.model, d)
                    moved, _ = self._collide(palms=False)
                    after = float(moved.min()) if len(moved) else np.inf
                    if after >= -margin_m:
                        return length * unit, after
        finally:
            d.mocap_pos[k] = base
        return None, worst

    def _plane(self) -> tuple[np.ndarray, np.ndarray]:
        """Two unit vectors spanning the left palm's plane (after :meth:`contacts`): along its
        fingers and across them."""
        points = self._world(self._plane_points[0])
        if len(points) == 3:
            wrist, index, little = points
            normal = np.cross(index - wrist, little - wrist)
            along = 0.5 * (index + little) - wrist
        else:
            normal = self._palm_centre(0) - self._palm_centre(1)
            along = np.array([0.0, 0.0, 1.0])
        normal /= max(float(np.linalg.norm(normal)), 1e-9)
        along = along - (along @ normal) * normal
        if np.linalg.norm(along) < 1e-6:
            along = np.cross(normal, [1.0, 0.0, 0.0])
            if np.linalg.norm(along) < 1e-6:
                along = np.cross(normal, [0.0, 1.0, 0.0])
        along /= np.linalg.norm(along)
        return along, np.cross(normal, along)

    def _world(self, anchors: list[tuple[bool, int]]) -> list[np.ndarray]:
        d = self.data
        return [np.array(d.site_xpos[i] if is_site else d.xpos[i]) for is_site, i in anchors]

    def _palm_centre(self, k: int) -> np.ndarray:
        """World position of hand ``k``'s palm centre (after :meth:`contacts`)."""
        return np.mean(self._world(self._palm_points[k]), axis=0)


def _side_of(robot: RobotModel, side: str | None) -> str:
    if side is None:
        if len(robot.hands) != 1:
            raise ValueError(f"robot {robot.name!r} has {len(robot.hands)} hands: say which")
        (side,) = robot.hands
    elif side not in robot.hands:
        raise ValueError(f"robot {robot.name!r} has no {side} hand")
    return side
