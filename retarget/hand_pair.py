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
"""

from __future__ import annotations

import threading

import numpy as np

from .robot_model import RobotModel, collision_spec

REACH_M = 0.02
"""Geom pairs closer than this are reported (MuJoCo's contact margin); a larger separation
margin than this is not supported."""
MAX_PUSH_M = 0.02
"""The farthest :meth:`HandPairClearance.separate` moves two hands apart. Two Inspire palms
clapping keep ~1.3 cm apart (the thumb bases stand out of the palms)."""
_MIN_ALONG = 0.5  # pairs opening less than this per metre of separation are not pushed
_LEFT, _RIGHT = 1, 2  # contype bits: the two hands collide with each other only

_CACHE: dict[tuple, "HandPairClearance"] = {}
_LOCK = threading.Lock()


class HandPairClearance:
    """The collision geoms of a left and a right hand robot in one MuJoCo model.

    Trajectory rows are ``(x, y, z, qw, qx, qy, qz, joints in robot order)``: the robot's base
    pose (its free joint's body, as the sim gate's mocap base places it) and its joints.
    """

    def __init__(self, left: RobotModel, right: RobotModel):
        import mujoco

        world = mujoco.MjSpec()
        self._mocap, self._qpos, self._palm_points = [], [], []
        for tag, robot, bits in (("L", left, _LEFT), ("R", right, _RIGHT)):
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
                geom.contype, geom.conaffinity = bits, _LEFT + _RIGHT - bits
                geom.margin = REACH_M
            base = world.worldbody.add_body(name=f"{tag}:mocap", mocap=True)
            world.attach(spec, prefix=f"{tag}/", frame=base.add_frame())
        self.model = world.compile()
        self.data = mujoco.MjData(self.model)
        self._mujoco = mujoco
        m = self.model
        for tag, robot in (("L", left), ("R", right)):
            base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{tag}:mocap")
            self._mocap.append(int(m.body_mocapid[base]))
            adr = []
            for name in robot.joint_names:
                j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"{tag}/{name}")
                if j < 0:
                    raise ValueError(f"robot {robot.name!r}: joint {name!r} has no MuJoCo joint")
                adr.append(int(m.jnt_qposadr[j]))
            self._qpos.append(np.array(adr, dtype=int))
            self._palm_points.append(self._palm_anchors(robot, tag))
        self._geom_left = m.geom_contype == _LEFT

    def _palm_anchors(self, robot: RobotModel, tag: str) -> list[tuple[bool, int]]:
        """(is a site, id) of the hand's wrist and middle-finger base frames: the palm centre
        is their midpoint."""
        mujoco, m = self._mujoco, self.model
        (hand,) = robot.hands.values()
        out = []
        for index in (0, 9):
            frame = hand.keypoint_frames.get(index)
            if frame is None:
                continue
            body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{tag}/{frame}")
            site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, f"{tag}/{frame}")
            if body >= 0:
                out.append((False, body))
            elif site >= 0:
                out.append((True, site))
        if not out:
            raise ValueError(f"robot {robot.name!r}: its wrist frame "
                             f"{hand.keypoint_frames.get(0)!r} is neither a body nor a site")
        return out

    @classmethod
    def for_robots(cls, left: RobotModel, right: RobotModel) -> "HandPairClearance":
        """Built once per pair of robots (name and model text); compiling takes ~0.1 s."""
        key = (left.name, hash(left.model_xml), right.name, hash(right.model_xml))
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is None:
                hit = _CACHE[key] = cls(left, right)
            return hit

    def contacts(self, row_left: np.ndarray, row_right: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Geom pairs of the two hands nearer than :data:`REACH_M`: (n,) signed distances
        (negative: overlap) and (n, 3) unit directions in which moving the left hand away from
        the right one (or the right one against them) opens each pair."""
        mujoco, m, d = self._mujoco, self.model, self.data
        for k, row in enumerate((row_left, row_right)):
            d.mocap_pos[self._mocap[k]] = row[:3]
            d.mocap_quat[self._mocap[k]] = row[3:7] / np.linalg.norm(row[3:7])
            d.qpos[self._qpos[k]] = row[7:]
        mujoco.mj_kinematics(m, d)
        mujoco.mj_collision(m, d)
        n = d.ncon
        if n == 0:
            return np.zeros(0), np.zeros((0, 3))
        contact = d.contact
        dist = np.array(contact.dist[:n], dtype=float)
        normal = np.array(contact.frame[:n, :3], dtype=float)  # from geom1 to geom2
        left_first = self._geom_left[np.asarray(contact.geom1[:n])]
        return dist, np.where(left_first[:, None], -normal, normal)

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

    def _palm_centre(self, k: int) -> np.ndarray:
        """World position of hand ``k``'s palm centre (after :meth:`contacts`)."""
        d = self.data
        return np.mean([d.site_xpos[i] if is_site else d.xpos[i]
                        for is_site, i in self._palm_points[k]], axis=0)
