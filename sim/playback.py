"""Play a commanded trajectory in a scene and record what the simulated robot did, frame by frame.

Between two frames the servo targets move linearly (positions) and the velocity feed-forward is
the frame's finite-difference velocity, with the commanded motion's inverse-dynamics torque
as a third feed-forward (``sim/feedforward.py``); driven bases move the same way (quaternions by
normalised linear interpolation). All substeps of a chunk run inside ``mujoco.rollout`` (C++,
no Python per step); a :class:`Simulator` keeps the physics state between chunks, so a stream
checked chunk by chunk simulates exactly like the whole trajectory at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .feedforward import InverseDynamicsFeedforward
from .gravity_load import GravityLoad
from .scene import Scene, rest_qpos


@dataclass
class Recording:
    """What one chunk did, one row per frame.

    Attributes:
        frame_start: trajectory frame number of row 0.
        commanded: (T, J) commanded joint positions (scene column order).
        qpos: (T, J) simulated joint positions at the end of each frame.
        qvel: (T, J) simulated joint velocities.
        force: (T, J) actuator force on each joint incl. the gravity load (N m or N); nan for
            mimic followers (moved by their leader through the coupling).
        base_pos: (T, I, 3) and base_quat: (T, I, 4) the instances' base poses.
        full_qpos: (T, nq) the scene's whole ``qpos`` (for contacts and rendering).
        gravity_pending: True when ``force`` still lacks the gravity load (recorded with
            ``gravity=False``: the gate adds it from its own pass over the frames).
        diverged: rows where the physics diverged: MuJoCo reset the state (its clock went
            back) or the state is not finite (a backend that does not reset): what was
            simulated from there on is not the robot's motion.
    """

    frame_start: int
    commanded: np.ndarray
    qpos: np.ndarray
    qvel: np.ndarray
    force: np.ndarray
    base_pos: np.ndarray
    base_quat: np.ndarray
    full_qpos: np.ndarray
    gravity_pending: bool = False
    diverged: tuple[int, ...] = ()

    @property
    def num_frames(self) -> int:
        return int(self.commanded.shape[0])


def _state_layout(model, mujoco) -> dict[str, slice]:
    """Offsets of qpos / qvel inside a ``mjSTATE_FULLPHYSICS`` state vector."""
    spec = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)
    out, offset = {}, 0
    for name in ("TIME", "QPOS", "QVEL"):
        bit = int(getattr(mujoco.mjtState, f"mjSTATE_{name}"))
        assert spec & bit
        size = mujoco.mj_stateSize(model, bit)
        out[name.lower()] = slice(offset, offset + size)
        offset += size
    return out


def normalize_quats(quat: np.ndarray) -> np.ndarray:
    """Unit quaternions (w first) with a non-negative w, so interpolation takes the short way."""
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    return np.where(quat[..., :1] < 0, -quat, quat)


def substep_controls(scene: Scene, previous: np.ndarray, commanded: np.ndarray,
                     base_prev: tuple[np.ndarray, np.ndarray],
                     base: tuple[np.ndarray, np.ndarray],
                     feedforward: np.ndarray | None = None,
                     substeps: int | None = None) -> np.ndarray:
    """(T * S, nu + 7 * nmocap) rollout controls for T frames after the frame ``previous``.

    Args:
        scene: the scene (servo actuator ids).
        previous: (J,) commanded positions of the frame before the first.
        commanded: (T, J) commanded positions.
        base_prev: ((I, 3), (I, 4)) base pose of the frame before the first.
        base: ((T, I, 3), (T, I, 4)) base poses.
        feedforward: (T, J) feed-forward torques, held over each frame interval (None: zero).
        substeps: S, physics steps per frame of the model simulated (default: the scene's
            contact-free model's, ``Scene.substeps``).
    """
    model = scene.model
    s = substeps or scene.substeps
    t = commanded.shape[0]
    nu, nmocap = model.nu, model.nmocap
    prev = np.concatenate([previous[None], commanded[:-1]], axis=0)        # (T, J)
    alpha = (np.arange(1, s + 1) / s)[None, :, None]                        # (1, S, 1)
    act = scene.actuated
    step = commanded[:, act] - prev[:, act]                                 # (T, Ja)
    # One buffer, filled in place: every actuator is a servo of an actuated joint and every
    # mocap body an instance's base, so each column is written once.
    out = np.empty((t, s, nu + 7 * nmocap))
    out[:, :, scene.pos_actuator[act]] = prev[:, None, act] + alpha * step[:, None]
    out[:, :, scene.vel_actuator[act]] = (step * scene.fps)[:, None]
    out[:, :, scene.ff_actuator[act]] = 0.0 if feedforward is None else feedforward[:, None, act]
    order = np.array([inst.mocap_index for inst in scene.instances])
    pos_cols = nu + 3 * order[:, None] + np.arange(3)                       # (I, 3)
    quat_cols = nu + 3 * nmocap + 4 * order[:, None] + np.arange(4)         # (I, 4)
    pos_prev = np.concatenate([base_prev[0][None], base[0][:-1]], axis=0)  # (T, I, 3)
    quat_prev = np.concatenate([base_prev[1][None], base[1][:-1]], axis=0)
    a = alpha[..., None]                                                    # (1, S, 1, 1)
    out[:, :, pos_cols] = pos_prev[:, None] + a * (base[0] - pos_prev)[:, None]
    q0, q1 = quat_prev[:, None], base[1][:, None]
    q1 = np.where(np.sum(q0 * q1, axis=-1, keepdims=True) < 0, -q1, q1)
    mocap_quat = q0 + a * (q1 - q0)                                         # (T, S, I, 4)
    out[:, :, quat_cols] = mocap_quat / np.linalg.norm(mocap_quat, axis=-1, keepdims=True)
    return out.reshape(t * s, -1)


CONTROL_SPEC_NAMES = ("mjSTATE_CTRL", "mjSTATE_MOCAP_POS", "mjSTATE_MOCAP_QUAT")


def control_spec(mujoco) -> int:
    spec = 0
    for name in CONTROL_SPEC_NAMES:
        spec |= int(getattr(mujoco.mjtState, name))
    return spec


class Simulator:
    """Plays chunks of one trajectory in order, keeping the physics state between them.

    Args:
        scene: the scene to play in.
        contacts: simulate contact forces (the trajectory declares contacts); otherwise the
            scene's contact-free model plays it (``Scene.physics_model``).
    """

    def __init__(self, scene: Scene, contacts: bool = True):
        import mujoco

        self.scene = scene
        self._mujoco = mujoco
        self.model = scene.physics_model(contacts)
        self.substeps = scene.substeps_of(self.model)
        self.data = mujoco.MjData(self.model)
        self._layout = _state_layout(self.model, mujoco)
        self._gravity: GravityLoad | None = None
        self._state: np.ndarray | None = None
        self._warmstart: np.ndarray | None = None
        self._last_command: np.ndarray | None = None
        self._before_last_command: np.ndarray | None = None
        self._feedforward = InverseDynamicsFeedforward(scene) \
            if scene.inverse_dynamics_feedforward else None
        self._last_base: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def started(self) -> bool:
        return self._state is not None

    def _initial_frame(self, commanded: np.ndarray, base_pos: np.ndarray,
                       base_quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start at rest exactly on the first commanded frame; returns (full_qpos, sensordata)."""
        mujoco, scene, model, data = self._mujoco, self.scene, self.model, self.data
        mujoco.mj_resetData(model, data)
        data.qpos[:] = rest_qpos(model)
        data.qpos[scene.qpos_adr] = commanded
        for k, inst in enumerate(scene.instances):
            data.mocap_pos[inst.mocap_index] = base_pos[k]
            data.mocap_quat[inst.mocap_index] = base_quat[k]
        act = scene.actuated
        data.ctrl[:] = 0.0
        data.ctrl[scene.pos_actuator[act]] = commanded[act]
        mujoco.mj_forward(model, data)
        spec = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)
        self._state = np.empty(mujoco.mj_stateSize(model, spec))
        mujoco.mj_getState(model, data, self._state, spec)
        self._warmstart = data.qacc_warmstart.copy()
        return data.qpos.copy(), data.sensordata.copy()

    def prepare(self, commanded: np.ndarray, base_pos: np.ndarray, base_quat: np.ndarray
                ) -> "PreparedChunk":
        """Everything a rollout of these T frames needs (initial state, substep controls); the
        first call of a stream also records the first frame, where the robot starts at rest.

        Args:
            commanded: (T, J) joint positions, scene column order.
            base_pos: (T, I, 3) base positions (defaults for undriven instances).
            base_quat: (T, I, 4) base orientations, w first.
        """
        commanded = np.asarray(commanded, dtype=np.float64)
        base_pos = np.asarray(base_pos, dtype=np.float64)
        base_quat = normalize_quats(np.asarray(base_quat, dtype=np.float64))
        first = None
        if not self.started:
            first = self._initial_frame(commanded[0], base_pos[0], base_quat[0])
            self._last_command = commanded[0].copy()
            self._before_last_command = commanded[0].copy()  # it starts at rest
            self._last_base = (base_pos[0].copy(), base_quat[0].copy())
            rest = slice(1, None)
        else:
            rest = slice(0, None)
        control = None
        if commanded[rest].shape[0]:
            feedforward = None if self._feedforward is None else self._feedforward.torques(
                np.stack([self._before_last_command, self._last_command]), commanded[rest])
            control = substep_controls(self.scene, self._last_command, commanded[rest],
                                       self._last_base, (base_pos[rest], base_quat[rest]),
                                       feedforward, self.substeps)
        return PreparedChunk(commanded, base_pos, base_quat, first, self._state.copy(),
                             self._warmstart.copy(), control, self.model)

    def record(self, prepared: "PreparedChunk", states: np.ndarray, sensordata: np.ndarray,
               warmstart: np.ndarray | None, frame_start: int = 0,
               gravity: bool = True) -> Recording:
        """Turn a rollout's per-substep ``states`` (n*S, nstate) and ``sensordata`` into the
        chunk's :class:`Recording` and remember the last state for the next chunk.

        Args:
            gravity: add the gravity load to the forces now (a pass over the frames); False
                leaves it to the caller (``Recording.gravity_pending``).
        """
        scene = self.scene
        t = prepared.commanded.shape[0]
        qpos_rows, sensor_rows, qvel_rows = [], [], []
        if prepared.first is not None:
            qpos_rows.append(prepared.first[0])
            sensor_rows.append(prepared.first[1])
            qvel_rows.append(np.zeros(scene.model.nv))
        n = t - len(qpos_rows)
        diverged: tuple[int, ...] = ()
        if n:
            ends = np.arange(1, n + 1) * self.substeps - 1
            # A reset after a divergence (MuJoCo's bad-acceleration warning) sets the clock
            # back to zero: find the substeps where it went back, as rows of the chunk.
            clock = np.concatenate([prepared.initial_state[self._layout["time"]],
                                    states[:, self._layout["time"]].ravel()])
            back = np.flatnonzero(np.diff(clock) < 0)
            picked = states[ends]
            # A backend that does not reset (MuJoCo Warp) leaves non-finite states instead.
            broken = np.flatnonzero(~np.isfinite(picked).all(axis=1))
            diverged = tuple(sorted({int(k // self.substeps) + len(qpos_rows) for k in back}
                                    | {int(k) + len(qpos_rows) for k in broken}))
            qpos_rows.extend(picked[:, self._layout["qpos"]])
            qvel_rows.extend(picked[:, self._layout["qvel"]])
            sensor_rows.extend(sensordata[ends])
            self._state = states[-1].copy()
            if warmstart is not None:
                self._warmstart = warmstart.copy()
            self._before_last_command = (prepared.commanded[-2] if t >= 2
                                         else self._last_command).copy()
            self._last_command = prepared.commanded[-1].copy()
            self._last_base = (prepared.base_pos[-1].copy(), prepared.base_quat[-1].copy())
        full_qpos = np.asarray(qpos_rows).reshape(t, -1)
        qvel = np.asarray(qvel_rows).reshape(t, -1)
        sensors = np.asarray(sensor_rows).reshape(t, -1)
        force = np.full((t, scene.num_joints), np.nan)
        has = scene.sensor_adr >= 0
        force[:, has] = sensors[:, scene.sensor_adr[has]]
        pending = scene.gravity_offloaded
        if pending and gravity:
            if self._gravity is None:
                self._gravity = GravityLoad(scene)
            force[:, has] += self._gravity.frames(full_qpos, prepared.base_pos,
                                                  prepared.base_quat)[:, has]
            pending = False
        return Recording(frame_start=frame_start, commanded=prepared.commanded,
                         qpos=full_qpos[:, scene.qpos_adr], qvel=qvel[:, scene.dof_adr],
                         force=force, base_pos=prepared.base_pos, base_quat=prepared.base_quat,
                         full_qpos=full_qpos, gravity_pending=pending, diverged=diverged)

    def play(self, commanded: np.ndarray, base_pos: np.ndarray, base_quat: np.ndarray,
             frame_start: int = 0, gravity: bool = True) -> Recording:
        """Simulate T frames on this thread; the first call starts at rest on the first frame.

        Args:
            commanded: (T, J) joint positions, scene column order.
            base_pos: (T, I, 3) base positions (defaults for undriven instances).
            base_quat: (T, I, 4) base orientations, w first.
            frame_start: trajectory frame number of row 0 (for the recording).
            gravity: add the gravity load to the recorded forces (see :meth:`record`).
        """
        from mujoco import rollout

        prepared = self.prepare(commanded, base_pos, base_quat)
        states = sensordata = None
        if prepared.control is not None:
            state, sensordata = rollout.rollout(
                self.model, self.data, prepared.initial_state[None],
                prepared.control[None], control_spec=control_spec(self._mujoco),
                initial_warmstart=prepared.warmstart[None])
            states, sensordata = state[0], sensordata[0]
        return self.record(prepared, states, sensordata, self.data.qacc_warmstart, frame_start,
                           gravity)


@dataclass
class PreparedChunk:
    """A chunk ready for a rollout (any backend).

    Attributes:
        commanded, base_pos, base_quat: the chunk's commands (T rows).
        first: (full qpos, sensordata) of the stream's first frame, or None.
        initial_state: ``mjSTATE_FULLPHYSICS`` state to start from.
        warmstart: the solver's warm start (``qacc_warmstart``).
        control: (n * S, nu + 7 * nmocap) substep controls, or None when nothing to simulate.
        model: the ``MjModel`` to simulate in (the scene's model or its contact-free one).
    """

    commanded: np.ndarray
    base_pos: np.ndarray
    base_quat: np.ndarray
    first: tuple[np.ndarray, np.ndarray] | None
    initial_state: np.ndarray
    warmstart: np.ndarray
    control: np.ndarray | None
    model: object = None
