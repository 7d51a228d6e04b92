"""Limit checks on the commanded trajectory: joint position, velocity, acceleration, and the
actuator force the simulated servos needed (gravity load included)."""

from __future__ import annotations

import numpy as np

from .chunk_context import ChunkContext
from .frame_runs import runs
from .playback import Recording
from .report import Violation


def _unit(slide: bool, kind: str) -> str:
    base = "m" if slide else "rad"
    return {"position": base, "velocity": f"{base}/s", "acceleration": f"{base}/s^2",
            "force": "N" if slide else "N m"}[kind]


def _joint_runs(kind: str, exceed: np.ndarray, value: np.ndarray, limit: np.ndarray,
                ctx: ChunkContext, unit_kind: str, detail: str = "") -> list[Violation]:
    """One violation per joint and run of frames where ``exceed`` (T, J) holds."""
    out = []
    scene = ctx.scene
    for j in np.flatnonzero(exceed.any(axis=0)):
        for s, e in runs(exceed[:, j], ctx.merge_gap):
            peak = s + int(np.argmax(np.abs(value[s:e, j])))
            lim = limit[peak, j] if limit.ndim == 2 else limit[j]
            out.append(Violation(kind, ctx.frame_start + s, ctx.frame_start + e,
                                 (scene.joint_names[j],), float(value[peak, j]), float(lim),
                                 _unit(bool(scene.slide[j]), unit_kind), detail,
                                 ctx.frame_start + peak))
    return out


def finite_differences(commanded: np.ndarray, history: np.ndarray, fps: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Backward-difference velocity and acceleration (T, J) of commanded positions.

    Frames without enough predecessors (the trajectory's first one or two) get 0.
    """
    full = np.concatenate([history, commanded], axis=0) if len(history) else commanded
    k = full.shape[0] - commanded.shape[0]
    velocity = np.zeros_like(full)
    velocity[1:] = np.diff(full, axis=0) * fps
    acceleration = np.zeros_like(full)
    acceleration[2:] = np.diff(full, n=2, axis=0) * fps * fps
    return velocity[k:], acceleration[k:]


def check_limits(rec: Recording, ctx: ChunkContext) -> tuple[list[Violation], dict]:
    """Position, velocity, acceleration and actuator-force limit violations of one chunk.

    Returns:
        (violations, summary figures).
    """
    scene, th = ctx.scene, ctx.thresholds["limits"]
    q = rec.commanded
    tol = np.where(scene.slide, th["position_tolerance_m"], th["position_tolerance_rad"])
    low, high = scene.lower - tol, scene.upper + tol
    below, above = q < low, q > high
    bound = np.where(below, scene.lower, scene.upper)
    violations = _joint_runs("joint_position_limit", below | above, q,
                             np.broadcast_to(bound, q.shape), ctx, "position")

    velocity, acceleration = finite_differences(q, ctx.history, scene.fps)
    # The trajectory's very first frames have no predecessor: their differences are not real.
    valid_v = np.ones(q.shape[0], dtype=bool)
    valid_a = np.ones(q.shape[0], dtype=bool)
    have = len(ctx.history)
    valid_v[:max(0, 1 - have)] = False
    valid_a[:max(0, 2 - have)] = False
    over_v = (np.abs(velocity) > scene.velocity_limit) & valid_v[:, None]
    over_a = (np.abs(acceleration) > scene.acceleration_limit) & valid_a[:, None]
    violations += _joint_runs("joint_velocity_limit", over_v, velocity, scene.velocity_limit,
                              ctx, "velocity")
    violations += _joint_runs("joint_acceleration_limit", over_a, acceleration,
                              scene.acceleration_limit, ctx, "acceleration")

    limit = scene.force_limit * float(th["force_margin"])
    checked = np.isfinite(limit)
    force = np.nan_to_num(rec.force, nan=0.0)
    over_f = (np.abs(force) > np.where(checked, limit, np.inf))
    violations += _joint_runs("actuator_force_limit", over_f, force,
                              np.where(checked, limit, np.inf), ctx, "force")

    def ratio(values, limits, valid):
        if not valid.any():
            return 0.0
        return float(np.max(np.abs(values[valid]) / limits))

    summary = {
        "max_velocity_ratio": ratio(velocity, scene.velocity_limit, valid_v),
        "max_acceleration_ratio": ratio(acceleration, scene.acceleration_limit, valid_a),
        "max_force_ratio": float(np.max(np.abs(force[:, checked]) / limit[checked]))
        if checked.any() and len(force) else 0.0,
        "force_unchecked_joints": int(np.sum(scene.actuated & ~checked)),
    }
    return violations, summary
