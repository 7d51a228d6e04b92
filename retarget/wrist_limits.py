"""Wrist joint ranges that keep a robot hand off its own wrist housing.

A humanoid's wrist joints are often allowed far more than its geometry permits: GR1's wrist
roll and pitch are limited to +-1.5 rad, but the Inspire palm meets the ``*_hand_yaw`` housing
from about 0.8 rad on (measured with MuJoCo's collision geometry, which is what the sim gate
collides). Joint limits alone then let the IK fold the palm into the housing, and the gate
fails the clip for self-collision.

:func:`wrist_clearance_limits` finds, per hand, the joints between the hand and the nearest
link above it with collision geometry (the *housing*), and measures how far the hand may turn
from the rest pose in each direction of those joints' space before its geoms come closer than
``clearance_m`` to the housing's: a star-shaped region (GR1 + Inspire: about 0.8 rad pitch at
zero roll, 0.55 rad of each together). :meth:`WristLimit.project` pulls a configuration back
into it along the ray from rest, which is what the body IK does after every step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .robot_model import RobotModel, collision_spec

CLEARANCE_M = 0.002
"""Smallest gap kept between a hand and its wrist housing."""
_DIRECTIONS_2D = 48  # rays in a two-joint wrist's plane
_DIRECTIONS_ND = 160  # rays on the sphere for three or more joints
_COARSE_STEPS = 12  # poses along a ray before the bisection
_BISECTIONS = 7

_CACHE: dict[tuple[str, int, float], tuple["WristLimit", ...]] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class WristLimit:
    """The clear region of one hand's wrist joints.

    Attributes:
        joints: joint names.
        rest: (k,) the rest values the rays start from.
        scale: (k,) per-joint normalisation (half the joint's range).
        directions: (D, k) unit rays in normalised joint space.
        reach: (D,) how far (normalised) each ray stays clear.
    """

    joints: tuple[str, ...]
    rest: np.ndarray
    scale: np.ndarray
    directions: np.ndarray
    reach: np.ndarray

    def radius(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., k) joint values -> (their normalised distance from rest, the clear reach in
        their direction: the least over the k + 1 nearest rays, so never optimistic)."""
        y = (np.asarray(values, dtype=float) - self.rest) / self.scale
        r = np.linalg.norm(y, axis=-1)
        u = y / np.maximum(r, 1e-12)[..., None]
        near = np.argsort(-(u @ self.directions.T), axis=-1)[..., :len(self.joints) + 1]
        return r, self.reach[near].min(axis=-1)

    def project(self, values: np.ndarray) -> np.ndarray:
        """(..., k) joint values pulled back toward rest, along their ray, into the clear
        region; values inside it are returned unchanged."""
        values = np.asarray(values, dtype=float)
        r, reach = self.radius(values)
        shrink = np.where(r > reach, reach / np.maximum(r, 1e-12), 1.0)
        return self.rest + (values - self.rest) * shrink[..., None]


def wrist_clearance_limits(robot: RobotModel, clearance_m: float = CLEARANCE_M
                           ) -> tuple[WristLimit, ...]:
    """One :class:`WristLimit` per hand whose joint range lets it reach its housing.

    Empty for robots without a housing above the hand or whose whole range is clear. Cached
    per robot (name and model text); measuring GR1 + Inspire takes about half a second.
    """
    key = (robot.name, hash(robot.model_xml), float(clearance_m))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            hit = _CACHE[key] = _measure(robot, clearance_m)
        return hit


def _directions(k: int) -> np.ndarray:
    if k == 1:
        return np.array([[1.0], [-1.0]])
    if k == 2:
        a = np.linspace(0.0, 2.0 * np.pi, _DIRECTIONS_2D, endpoint=False)
        return np.stack([np.cos(a), np.sin(a)], axis=1)
    d = np.random.default_rng(0).normal(size=(_DIRECTIONS_ND, k))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _measure(robot: RobotModel, clearance_m: float) -> tuple[WristLimit, ...]:
    import mujoco

    model = collision_spec(robot.model_xml).compile()
    data = mujoco.MjData(model)
    out = []
    for hand in robot.hands.values():
        found = _wrist_of(model, hand.wrist_frame, set(hand.finger_joints))
        if found is None:
            continue
        joints, hand_geoms, housing_geoms = found
        adr = np.array([model.jnt_qposadr[j] for j in joints])
        lo, hi = model.jnt_range[joints, 0], model.jnt_range[joints, 1]
        rest = np.clip(0.0, lo, hi)
        scale = np.maximum(0.5 * (hi - lo), 1e-6)

        def clear(values: np.ndarray) -> bool:
            data.qpos[:] = model.qpos0
            data.qpos[adr] = values
            mujoco.mj_kinematics(model, data)
            return all(mujoco.mj_geomDistance(model, data, g1, g2, clearance_m, None)
                       >= clearance_m for g1 in hand_geoms for g2 in housing_geoms)

        if not clear(rest):
            continue  # touching at rest already: not a housing this can reason about
        dirs = _directions(len(joints))
        reach, room = np.empty(len(dirs)), np.empty(len(dirs))
        for i, u in enumerate(dirs):
            # The ray leaves the joint box at this normalised length.
            with np.errstate(divide="ignore", invalid="ignore"):
                end = room[i] = float(np.where(u > 0, (hi - rest) / scale / u, np.where(
                    u < 0, (lo - rest) / scale / u, np.inf)).min())
            good, bad = end, None
            for s in np.linspace(0.0, end, _COARSE_STEPS + 1)[1:]:
                if not clear(rest + s * scale * u):
                    bad = s
                    good = s - end / _COARSE_STEPS
                    break
            if bad is not None:
                for _ in range(_BISECTIONS):
                    mid = 0.5 * (good + bad)
                    good, bad = (mid, bad) if clear(rest + mid * scale * u) else (good, mid)
            reach[i] = good
        if np.all(reach >= room - 1e-9):
            continue  # the whole range is clear
        names = tuple(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, int(j)) for j in joints)
        out.append(WristLimit(names, rest, scale, dirs, reach))
    return tuple(out)


def _wrist_of(model, wrist_frame: str, finger_joints: set[str]):
    """(joint ids between the hand and its housing, the hand's collision geoms, the housing's)
    or None."""
    import mujoco

    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, wrist_frame)
    if body < 0:
        site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, wrist_frame)
        if site < 0:
            return None
        body = int(model.site_bodyid[site])
    subtree = {body}
    for b in range(body + 1, model.nbody):
        if model.body_parentid[b] in subtree:
            subtree.add(b)
    hand_geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] in subtree]
    hinge = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    joints, b, own = [], body, []
    while b > 0:
        own = [g for g in range(model.ngeom) if model.geom_bodyid[g] == b]
        if own and b not in subtree:
            break
        for j in range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b]):
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
            if int(model.jnt_type[j]) in hinge and model.jnt_limited[j] \
                    and name not in finger_joints:
                joints.append(j)
        b = int(model.body_parentid[b])
    if b <= 0 or not joints or not hand_geoms:
        return None
    return joints, hand_geoms, own
