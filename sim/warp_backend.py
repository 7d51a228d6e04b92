"""MuJoCo Warp batch backend: every trajectory of a batch is one world of a ``mujoco_warp`` batch.

The same compiled scene is put on the device once; each substep copies the worlds' controls and
mocap poses in and steps all worlds together. States come back at every substep as the CPU
backend's (``mjSTATE_FULLPHYSICS`` layout: time, qpos, qvel, ...), and each joint's actuator
force is read from ``qfrc_actuator`` in the sensor slot the scene reserved for it (the gravity
load is added to the recorded forces afterwards, as on the CPU path), so recordings and checks are
identical to the CPU path.

Runs on CUDA when present, else on Warp's CPU device (slow: for tests and CI only).
"""

from __future__ import annotations

import numpy as np

from .playback import PreparedChunk, _state_layout
from .scene import Scene


class WarpBackend:
    """Batch simulation with MuJoCo Warp.

    Args:
        device: Warp device (``cuda:0``, ``cpu``); the default is CUDA when available.
        nconmax, njmax: contact and constraint capacity per world (MuJoCo Warp preallocates).

    Only frame-end substeps are copied back; other rows of the returned states stay zero.
    """

    name = "warp"

    def __init__(self, device: str | None = None, nconmax: int = 256, njmax: int = 1024):
        import warp as wp

        wp.config.quiet = True
        wp.init()
        self.device = device or ("cuda:0" if wp.is_cuda_available() else "cpu")
        self.nconmax = nconmax
        self.njmax = njmax

    def simulate(self, scene: Scene, chunks: list[PreparedChunk]):
        import mujoco
        import mujoco_warp as mjw
        import warp as wp

        steps = [0 if c.control is None else c.control.shape[0] for c in chunks]
        out: list = [(None, None, None)] * len(chunks)
        todo = [k for k, n in enumerate(steps) if n]
        if not todo:
            return out
        model = chunks[todo[0]].model or scene.model
        nworld, nstep = len(todo), max(steps[k] for k in todo)
        substeps = scene.substeps_of(model)
        layout = _state_layout(model, mujoco)
        nstate = mujoco.mj_stateSize(model, int(mujoco.mjtState.mjSTATE_FULLPHYSICS))
        nu, nmocap = model.nu, model.nmocap
        data = mujoco.MjData(model)
        qpos0 = np.stack([chunks[k].initial_state[layout["qpos"]] for k in todo])
        qvel0 = np.stack([chunks[k].initial_state[layout["qvel"]] for k in todo])
        control = np.empty((nworld, nstep, chunks[todo[0]].control.shape[1]))
        for row, k in enumerate(todo):
            c = chunks[k].control
            control[row, :len(c)] = c
            control[row, len(c):] = c[-1]
        states = np.zeros((nworld, nstep, nstate))
        sensors = np.zeros((nworld, nstep, model.nsensordata))
        force_rows = scene.sensor_adr >= 0
        force_dofs = scene.dof_adr[force_rows]
        force_slots = scene.sensor_adr[force_rows]
        with wp.ScopedDevice(self.device):
            m_dev = mjw.put_model(model)
            d_dev = mjw.put_data(model, data, nworld=nworld, nconmax=self.nconmax,
                                 njmax=self.njmax)
            wp.copy(d_dev.qpos, wp.array(qpos0, dtype=float))
            wp.copy(d_dev.qvel, wp.array(qvel0, dtype=float))
            for k in range(nstep):
                ctrl = control[:, k]
                d_dev.ctrl.assign(ctrl[:, :nu])
                d_dev.mocap_pos.assign(ctrl[:, nu:nu + 3 * nmocap].reshape(nworld, nmocap, 3))
                d_dev.mocap_quat.assign(ctrl[:, nu + 3 * nmocap:].reshape(nworld, nmocap, 4))
                mjw.step(m_dev, d_dev)
                if (k + 1) % substeps:
                    continue  # only frame ends are read (see Simulator.record)
                states[:, k, layout["qpos"]] = d_dev.qpos.numpy()
                states[:, k, layout["qvel"]] = d_dev.qvel.numpy()
                sensors[:, k, force_slots] = d_dev.qfrc_actuator.numpy()[:, force_dofs]
        for row, k in enumerate(todo):
            out[k] = (states[row, :steps[k]], sensors[row, :steps[k]], None)
        return out
