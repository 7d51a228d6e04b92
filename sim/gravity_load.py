"""The gravity load on each joint of recorded frames: what the actuators hold up.

Scenes simulate without gravity and without its (exact) compensation (``sim/scene.py``); the
compensation the actuators would have supplied is, frame by frame, minus the generalized
gravity force at the frame's pose. A joint carries everything in its body's subtree, so for a
hinge with axis ``a`` through ``p``, subtree mass ``M`` and subtree centre of mass ``c``:
``load = -M g . (a x (c - p))``, and for a slide ``load = -M g . a``.
"""

from __future__ import annotations

import numpy as np

from .scene import Scene


class GravityLoad:
    """Gravity loads on a scene's joints, gathered frame by frame from posed ``MjData``.

    Either call :meth:`frames` (it poses its own ``MjData``), or, inside a loop that already
    runs ``mj_kinematics`` on each frame, :meth:`start`, :meth:`gather` per frame and
    :meth:`loads`. One instance per thread.

    Args:
        scene: the scene.
    """

    def __init__(self, scene: Scene):
        import mujoco

        self._mujoco = mujoco
        self.scene = scene
        model = scene.model
        self._joints = np.array([model.dof_jntid[d] for d in scene.dof_adr], dtype=int)
        self._bodies = model.jnt_bodyid[self._joints]
        # M g per joint: the weight of everything the joint carries (N).
        self._weight = model.body_subtreemass[self._bodies][:, None] * \
            np.asarray(scene.gravity, dtype=float)[None, :]
        # Subtree centre of mass of each joint's body as mass weights over body centres of
        # mass: (J, nbody), row j = m_c / M over the bodies c of the subtree.
        in_subtree = np.zeros((model.nbody, model.nbody), dtype=bool)  # [root, body]
        in_subtree[np.arange(model.nbody), np.arange(model.nbody)] = True
        for b in range(model.nbody - 1, 0, -1):  # children come after their parents
            in_subtree[model.body_parentid[b]] |= in_subtree[b]
        mass = model.body_mass[None, :] * in_subtree[self._bodies]
        self._com_weights = mass / np.maximum(mass.sum(axis=1, keepdims=True), 1e-300)
        self._data = None
        self.start(0)

    def start(self, num_frames: int) -> None:
        """Make room for ``num_frames`` frames."""
        model = self.scene.model
        # Whole arrays per frame (contiguous copies); the joints are picked out in loads().
        self._axis = np.empty((num_frames, model.njnt, 3))
        self._anchor = np.empty((num_frames, model.njnt, 3))
        self._body_com = np.empty((num_frames, model.nbody, 3))

    def gather(self, i: int, data) -> None:
        """Record frame ``i`` from ``data`` (after ``mj_kinematics``)."""
        self._axis[i] = data.xaxis
        self._anchor[i] = data.xanchor
        self._body_com[i] = data.xipos

    def loads(self) -> np.ndarray:
        """(T, J) force each joint's actuator holds against gravity (N m or N), for the
        frames gathered since :meth:`start`."""
        axis = self._axis[:, self._joints]
        lever = np.matmul(self._com_weights, self._body_com) - self._anchor[:, self._joints]
        moment = np.where(self.scene.slide[None, :, None], axis, np.cross(axis, lever))
        return -np.einsum("tjk,jk->tj", moment, self._weight)

    def frames(self, full_qpos: np.ndarray, base_pos: np.ndarray, base_quat: np.ndarray
               ) -> np.ndarray:
        """(T, J) gravity loads of recorded frames (N m or N).

        Args:
            full_qpos: (T, nq) the scene's whole ``qpos`` per frame.
            base_pos: (T, I, 3) and base_quat: (T, I, 4) the instances' base poses.
        """
        mujoco, model = self._mujoco, self.scene.model
        if self._data is None:
            self._data = mujoco.MjData(model)
        data = self._data
        rows = np.array([inst.mocap_index for inst in self.scene.instances])
        self.start(full_qpos.shape[0])
        for i in range(full_qpos.shape[0]):
            data.qpos[:] = full_qpos[i]
            data.mocap_pos[rows] = base_pos[i]
            data.mocap_quat[rows] = base_quat[i]
            mujoco.mj_kinematics(model, data)
            self.gather(i, data)
        return self.loads()
