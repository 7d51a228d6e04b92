"""The last software guard before the hardware: joint position limits and a velocity limit.

Every command that playback sends (generated chunks and teleop alike) goes through one
:class:`CommandLimiter`. The gate has already checked generated chunks against the same limits;
the limiter exists so that nothing else (a stale stream resuming from elsewhere, a teleop jump,
a preempting motion) can ever make the controller jump.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dyad.errors import DyadInputError


class CommandLimiter:
    """Clamps joint position commands to ``[lower, upper]`` and to ``max_velocity * dt`` per step.

    Args:
        joint_names: joint names, the column order of every command.
        lower, upper: (N,) position limits (radians or metres).
        max_velocity: (N,) or scalar speed limit (rad/s or m/s), > 0.
    """

    def __init__(self, joint_names: tuple[str, ...], lower: npt.ArrayLike, upper: npt.ArrayLike,
                 max_velocity: npt.ArrayLike):
        self.joint_names = tuple(joint_names)
        n = len(self.joint_names)
        self.lower = np.asarray(lower, dtype=np.float64).reshape(-1)
        self.upper = np.asarray(upper, dtype=np.float64).reshape(-1)
        self.max_velocity = np.broadcast_to(np.asarray(max_velocity, dtype=np.float64),
                                            (n,)).copy()
        if self.lower.shape != (n,) or self.upper.shape != (n,):
            raise DyadInputError(f"limits must have one entry per joint ({n}), got "
                                 f"{self.lower.shape} and {self.upper.shape}")
        if not (self.lower <= self.upper).all():
            j = int(np.flatnonzero(self.lower > self.upper)[0])
            raise DyadInputError(f"joint {self.joint_names[j]}: lower limit {self.lower[j]} is "
                                 f"above upper limit {self.upper[j]}")
        if not (np.isfinite(self.max_velocity).all() and (self.max_velocity > 0).all()):
            raise DyadInputError(f"max_velocity must be finite and > 0, got {max_velocity!r}")
        self.last: np.ndarray | None = None
        """The last command sent (None before the first one: only positions are clamped)."""
        self.clamped_commands = 0

    def reset(self, qpos: npt.ArrayLike | None = None) -> None:
        """Forget the last command, or set it to where the robot is (``qpos``)."""
        self.last = None if qpos is None else np.clip(
            np.asarray(qpos, dtype=np.float64).reshape(-1), self.lower, self.upper)

    def limit(self, qpos: npt.ArrayLike, dt_s: float) -> tuple[np.ndarray, bool]:
        """The command to send for the wanted ``qpos``, ``dt_s`` seconds after the last one.

        Non-finite entries keep the last command (or the nearest limit before any command).

        Returns:
            (command, clamped): ``clamped`` is True when any joint was changed.
        """
        want = np.asarray(qpos, dtype=np.float64).reshape(-1)
        if want.shape != self.lower.shape:
            raise DyadInputError(f"command has {want.size} joints, expected "
                                 f"{self.lower.size} ({', '.join(self.joint_names[:3])}, ...)")
        out = want.copy()
        bad = ~np.isfinite(out)
        if bad.any():
            out[bad] = (self.last[bad] if self.last is not None
                        else np.clip(0.0, self.lower, self.upper)[bad])
        out = np.clip(out, self.lower, self.upper)
        if self.last is not None:
            step = self.max_velocity * max(float(dt_s), 0.0)
            out = np.clip(out, self.last - step, self.last + step)
        clamped = bool(bad.any() or not np.allclose(out, want, rtol=0.0, atol=1e-12))
        self.clamped_commands += int(clamped)
        self.last = out
        return out.copy(), clamped

    def limit_sequence(self, qpos: npt.ArrayLike, dt_s: float) -> tuple[np.ndarray, int]:
        """Limit consecutive frames (T, N) spaced ``dt_s`` apart; returns them and how many
        frames were changed."""
        frames = np.asarray(qpos, dtype=np.float64)
        out = np.empty_like(frames)
        changed = 0
        for t in range(frames.shape[0]):
            out[t], clamped = self.limit(frames[t], dt_s)
            changed += int(clamped)
        return out, changed
