"""Tracking check: how far the simulated joints are from the commanded ones under the servos."""

from __future__ import annotations

import numpy as np

from .chunk_context import ChunkContext
from .frame_runs import runs
from .playback import Recording
from .report import Violation


def check_tracking(rec: Recording, ctx: ChunkContext) -> tuple[list[Violation], dict]:
    """Servoed joints whose simulated position strays from the command for ``min_frames`` or
    more frames.

    During expected contacts the tolerance of the instances involved is widened by
    ``in_contact_scale`` (pressing into a partner hand is the point of a handshake).

    Returns:
        (violations, summary figures).
    """
    scene, th = ctx.scene, ctx.thresholds["tracking"]
    error = rec.qpos - rec.commanded
    tol = np.where(scene.slide, th["tolerance_m"], th["tolerance_rad"])[None, :]
    scale = np.where(ctx.in_contact[:, scene.joint_instance], float(th["in_contact_scale"]), 1.0)
    limit = tol * scale
    # Mimic followers are left out: their error is the softness of the simulated coupling,
    # not the servo's (their leader is checked).
    exceed = (np.abs(error) > limit) & scene.actuated[None, :]
    out = []
    for j in np.flatnonzero(exceed.any(axis=0)):
        for s, e in runs(exceed[:, j], ctx.merge_gap, int(th["min_frames"])):
            peak = s + int(np.argmax(np.abs(error[s:e, j])))
            out.append(Violation("tracking_error", ctx.frame_start + s, ctx.frame_start + e,
                                 (scene.joint_names[j],), float(abs(error[peak, j])),
                                 float(limit[peak, j]), "m" if scene.slide[j] else "rad",
                                 "simulated joint lags or is blocked", ctx.frame_start + peak))
    hinge = ~scene.slide & scene.actuated
    summary = {
        "max_tracking_error_rad": float(np.abs(error[:, hinge]).max()) if hinge.any() else 0.0,
        "mean_tracking_error_rad": float(np.abs(error[:, hinge]).mean()) if hinge.any() else 0.0,
    }
    return out, summary
