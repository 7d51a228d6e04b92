"""Checking many trajectories at once: a backend simulates a batch, the checks run per
trajectory.

A :class:`BatchBackend` takes prepared chunks of one scene (same robots, columns and frame
rate) and returns per-substep states and sensor data. Two exist:

- ``cpu``: ``mujoco.rollout`` with one ``MjData`` per thread (C++ threads, no Python per step);
- ``warp``: MuJoCo Warp, all trajectories as worlds of one batch (``sim/warp_backend.py``).

Another simulator (Isaac Lab, say) plugs in by implementing ``simulate``; none is included,
and :func:`get_backend` says so rather than pretending.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, Sequence

import numpy as np

from dyad.errors import DyadInputError
from dyad.retarget.trajectory import RobotTrajectory

from .gate import StreamingValidator, _check_input
from .playback import PreparedChunk, control_spec
from .report import ValidationReport
from .scene import Scene
from .thresholds import Thresholds


class BatchBackend(Protocol):
    """Simulates prepared chunks of one scene.

    ``simulate`` returns, per chunk, (states (n*S, nstate) in ``mjSTATE_FULLPHYSICS`` layout,
    sensordata (n*S, nsensordata), final ``qacc_warmstart`` or None); chunks of different
    lengths are allowed. All chunks of one call share their ``model`` (the scene's model or its
    contact-free one), which is what they are simulated in.
    """

    name: str

    def simulate(self, scene: Scene, chunks: Sequence[PreparedChunk]
                 ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        ...


class CpuRolloutBackend:
    """``mujoco.rollout`` over ``threads`` MjData (default: every core)."""

    name = "cpu"

    def __init__(self, threads: int | None = None):
        self.threads = max(1, threads or os.cpu_count() or 1)

    def simulate(self, scene: Scene, chunks: Sequence[PreparedChunk]):
        import mujoco
        from mujoco import rollout

        steps = [0 if c.control is None else c.control.shape[0] for c in chunks]
        out: list = [None] * len(chunks)
        todo = [k for k, n in enumerate(steps) if n]
        for k, n in enumerate(steps):
            if not n:
                out[k] = (None, None, None)
        if not todo:
            return out
        nstep = max(steps[k] for k in todo)
        width = chunks[todo[0]].control.shape[1]
        # Shorter chunks hold their last command until the longest ends; the extra steps are
        # simulated but never read.
        control = np.empty((len(todo), nstep, width))
        for row, k in enumerate(todo):
            c = chunks[k].control
            control[row, :len(c)] = c
            control[row, len(c):] = c[-1]
        initial = np.stack([chunks[k].initial_state for k in todo])
        warm = np.stack([chunks[k].warmstart for k in todo])
        model = chunks[todo[0]].model or scene.model
        datas = [mujoco.MjData(model) for _ in range(min(self.threads, len(todo)))]
        state, sensordata = rollout.rollout(model, datas, initial, control,
                                            control_spec=control_spec(mujoco),
                                            initial_warmstart=warm)
        for row, k in enumerate(todo):
            out[k] = (state[row, :steps[k]], sensordata[row, :steps[k]], None)
        return out


def get_backend(name: str, **options) -> BatchBackend:
    """A batch backend by name: ``cpu`` or ``warp``.

    Raises:
        DyadInputError: an unknown name (``isaac`` is named as not implemented).
    """
    if name == "cpu":
        return CpuRolloutBackend(**options)
    if name == "warp":
        from .warp_backend import WarpBackend

        return WarpBackend(**options)
    if name == "isaac":
        raise DyadInputError("no Isaac backend is included; implement sim.batch.BatchBackend "
                             "(simulate prepared chunks -> states) to add one")
    raise DyadInputError(f"unknown batch backend {name!r}; available: cpu, warp")


def validate_batch(trajectories: Sequence[RobotTrajectory], backend: str | BatchBackend = "cpu",
                   thresholds: Thresholds | None = None, check_threads: int | None = None,
                   load_robot=None) -> tuple[list[ValidationReport], dict]:
    """Validate many trajectories: one batched simulation per scene, then the checks.

    Args:
        trajectories: whole trajectories (any mix of robots; grouped by scene).
        backend: ``cpu``, ``warp`` or a :class:`BatchBackend`.
        thresholds: gate thresholds.
        check_threads: threads running the per-trajectory checks (default: cores).
        load_robot: registry loader.

    Returns:
        (reports in input order, batch summary: counts, penetration frequency ratio (DHVAE's
        PFR: the fraction of trajectories with any penetration), timings).
    """
    engine = get_backend(backend) if isinstance(backend, str) else backend
    for traj in trajectories:
        _check_input(traj, min_frames=2)
    validators = [StreamingValidator(thresholds, load_robot) for _ in trajectories]
    t0 = time.perf_counter()
    commands = [v.begin(traj) for v, traj in zip(validators, trajectories)]
    groups: dict[tuple[int, int], list[int]] = {}  # same scene and physics model
    for k, v in enumerate(validators):
        groups.setdefault((id(v.scene), id(v.simulator.model)), []).append(k)
    prepared = [v.simulator.prepare(*cmd) for v, cmd in zip(validators, commands)]
    t1 = time.perf_counter()
    results: list = [None] * len(trajectories)
    for members in groups.values():
        scene = validators[members[0]].scene
        out = engine.simulate(scene, [prepared[k] for k in members])
        for k, res in zip(members, out):
            results[k] = res
    t2 = time.perf_counter()
    sim_share = (t2 - t0) / max(1, len(trajectories))

    def check(k: int) -> ValidationReport:
        v, traj = validators[k], trajectories[k]
        states, sensors, warm = results[k]
        rec = v.simulator.record(prepared[k], states, sensors, warm, traj.start_frame,
                                 gravity=False)  # the checks' frame pass adds it
        v.check_recorded(traj, rec, sim_share)
        return v.finish()

    workers = max(1, check_threads or os.cpu_count() or 1)
    if workers == 1 or len(trajectories) == 1:
        reports = [check(k) for k in range(len(trajectories))]
    else:
        with ThreadPoolExecutor(workers) as pool:
            reports = list(pool.map(check, range(len(trajectories))))
    t3 = time.perf_counter()
    frames = sum(t.num_frames for t in trajectories)
    seconds = sum(t.num_frames / t.fps for t in trajectories)
    summary = {
        "backend": engine.name, "trajectories": len(trajectories),
        "passed": sum(r.passed for r in reports),
        "penetration_frequency_ratio": float(np.mean([r.summary["penetrated"] for r in reports]))
        if reports else 0.0,
        "mean_penetration_duration_ratio": float(np.mean(
            [r.summary["penetration_duration_ratio"] for r in reports])) if reports else 0.0,
        "frames": frames, "prepare_s": t1 - t0, "simulate_s": t2 - t1, "check_s": t3 - t2,
        "wall_s": t3 - t0, "trajectories_per_s": len(trajectories) / (t3 - t0),
        "real_time_factor": seconds / (t3 - t0),
    }
    return reports, summary
