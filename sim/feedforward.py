"""Inverse-dynamics feed-forward of the gate's servos: the torque the commanded motion needs.

A robot that tracks a joint trajectory (a humanoid arm swinging, a hand closing) runs its
position loop with a feed-forward torque from the robot's own dynamics, ``M(q) qdd + c(q, qd)``;
vendor SDKs take it next to the position target (a "tau_ff"). Without it a PD servo lags by
``qdd / w^2`` and the lag grows with the arm's inertia, which varies many times over an arm's
range (a stretched arm's shoulder carries far more than the rest pose's), so a gate with a
plain PD fails ordinary arm swings on tracking although the robot can make them.

The feed-forward here is computed from the commanded trajectory alone (the gate's controller
knows no contact): during the frame interval ``k-1 -> k`` the servo targets move linearly, so
the commanded velocity is ``(q_k - q_{k-1}) fps`` and the velocity change it needs over the
interval is the backward second difference ``(q_k - 2 q_{k-1} + q_{k-2}) fps^2``; the torque is
evaluated at the interval's midpoint pose. It goes through a motor actuator on the joint, so the
recorded actuator force (and the force-limit check) includes it. Mimic followers get none (their
soft coupling lets them trail their leader slightly; finger links weigh grams). Base accelerations of driven
humanoids are left out. With ``gravity_compensation`` the scene simulates without gravity (see
``sim/scene.py``), so the feed-forward carries the inertial and velocity terms only; otherwise it
also holds the robot up, as a computed-torque controller does.
"""

from __future__ import annotations

import numpy as np

from .scene import Scene, rest_qpos


class InverseDynamicsFeedforward:
    """Feed-forward torques of a scene's actuated joints for commanded frames.

    Args:
        scene: the scene (its model's joints, addresses and frame rate). One instance per
            thread: it owns an ``MjData``.
    """

    def __init__(self, scene: Scene):
        import mujoco

        self._mujoco = mujoco
        self.scene = scene
        self.model = scene.model
        self.data = mujoco.MjData(self.model)
        self._rest = rest_qpos(self.model)
        self._out = np.zeros(self.model.nv)
        # mj_rne works on the bodies' inertias; the joints' armature (reflected rotor inertia,
        # the largest part of a finger's) is added as mj_inverse does.
        self._armature = self.model.dof_armature[scene.dof_adr]

    def torques(self, recent: np.ndarray, commanded: np.ndarray) -> np.ndarray:
        """(T, J) feed-forward torques (N m or N) for ``commanded`` (T, J) after the two frames
        ``recent`` (2, J) commanded before it; zero for mimic followers."""
        mujoco, model, data, scene = self._mujoco, self.model, self.data, self.scene
        seq = np.concatenate([recent, commanded], axis=0)
        vel = np.diff(seq, axis=0) * scene.fps                  # (T + 1, J), per interval
        acc = np.diff(vel, axis=0) * scene.fps                  # (T, J)
        mid = 0.5 * (seq[1:-1] + seq[2:])                        # (T, J)
        out = np.zeros(commanded.shape)
        act = scene.actuated
        data.qpos[:] = self._rest
        data.qvel[:] = 0.0
        data.qacc[:] = 0.0
        for k in range(commanded.shape[0]):
            data.qpos[scene.qpos_adr] = mid[k]
            data.qvel[scene.dof_adr] = vel[k + 1]
            data.qacc[scene.dof_adr] = acc[k]
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            mujoco.mj_comVel(model, data)
            mujoco.mj_rne(model, data, 1, self._out)
            out[k, act] = self._out[scene.dof_adr[act]]
        out[:, act] += self._armature[act] * acc[:, act]
        return out
