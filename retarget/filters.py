"""Temporal filters for retargeted joints (or keypoints): a first-order low-pass and the
One-Euro filter (Casiez et al., CHI 2012).

Every filter says what it costs: ``lag_frames`` and ``lag_s`` are the steady delay it adds to a
signal moving at constant speed (a ramp), the delay a teleoperator feels. For a first-order
low-pass with smoothing factor ``alpha`` that delay is exactly ``(1 - alpha) / alpha`` frames.
The One-Euro filter lowers its delay as the signal speeds up; its ``lag_frames`` is the worst
case (a slow signal), and :meth:`OneEuroFilter.lag_frames_at` gives it at a given speed.

Filters work on arrays of any fixed shape, element-wise, and keep their state between calls.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from dyad.errors import DyadInputError


def alpha_from_cutoff(cutoff_hz: float, fps: float) -> float:
    """Smoothing factor of a first-order low-pass with corner ``cutoff_hz`` sampled at ``fps``."""
    if cutoff_hz <= 0 or fps <= 0:
        raise DyadInputError(f"cutoff ({cutoff_hz} Hz) and fps ({fps}) must be > 0")
    tau_s = 1.0 / (2.0 * math.pi * cutoff_hz)
    dt_s = 1.0 / fps
    return dt_s / (dt_s + tau_s)


def lag_frames_of_alpha(alpha: float) -> float:
    """Steady ramp delay, in frames, of ``y += alpha (x - y)``."""
    return (1.0 - alpha) / alpha


class LowPassFilter:
    """First-order exponential low-pass ``y += alpha (x - y)``.

    Args:
        alpha: smoothing factor in (0, 1]; 1 passes the signal through. Give it or ``cutoff_hz``.
        cutoff_hz: corner frequency instead of ``alpha``.
        fps: sample rate, frames per second.
    """

    def __init__(self, alpha: float | None = None, cutoff_hz: float | None = None,
                 fps: float = 30.0):
        if (alpha is None) == (cutoff_hz is None):
            raise DyadInputError("LowPassFilter: give exactly one of alpha and cutoff_hz")
        if fps <= 0:
            raise DyadInputError(f"LowPassFilter: fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.alpha = float(alpha) if alpha is not None else alpha_from_cutoff(cutoff_hz, fps)
        if not 0.0 < self.alpha <= 1.0:
            raise DyadInputError(f"LowPassFilter: alpha must be in (0, 1], got {self.alpha}")
        self._y: np.ndarray | None = None

    @property
    def lag_frames(self) -> float:
        """Delay added to a constant-speed signal, frames."""
        return lag_frames_of_alpha(self.alpha)

    @property
    def lag_s(self) -> float:
        """Delay added to a constant-speed signal, seconds."""
        return self.lag_frames / self.fps

    def reset(self) -> None:
        """Forget the state: the next sample passes through unchanged."""
        self._y = None

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """The filtered value of the next sample ``x`` (the first sample passes unchanged)."""
        x = np.asarray(x, dtype=np.float64)
        if self._y is None or self._y.shape != x.shape:
            self._y = x.copy()
        else:
            self._y += self.alpha * (x - self._y)
        return self._y.copy()


class OneEuroFilter:
    """The One-Euro filter: a low-pass whose corner rises with the signal's speed.

    Slow motion is smoothed hard (corner ``min_cutoff_hz``); fast motion follows with little lag
    (corner ``min_cutoff_hz + beta * |speed|``). Element-wise on arrays.

    Args:
        fps: sample rate, frames per second.
        min_cutoff_hz: corner at rest; lower is smoother and slower.
        beta: corner increase per unit of speed (per unit/s of the signal); 0 gives a plain
            low-pass at ``min_cutoff_hz``.
        derivative_cutoff_hz: corner of the low-pass on the speed estimate.
    """

    def __init__(self, fps: float = 30.0, min_cutoff_hz: float = 1.0, beta: float = 0.0,
                 derivative_cutoff_hz: float = 1.0):
        if fps <= 0 or min_cutoff_hz <= 0 or derivative_cutoff_hz <= 0 or beta < 0:
            raise DyadInputError(
                f"OneEuroFilter: need fps, min_cutoff_hz, derivative_cutoff_hz > 0 and beta >= 0, "
                f"got {fps}, {min_cutoff_hz}, {derivative_cutoff_hz}, {beta}")
        self.fps = float(fps)
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.derivative_cutoff_hz = float(derivative_cutoff_hz)
        self._alpha_d = alpha_from_cutoff(derivative_cutoff_hz, fps)
        self._y: np.ndarray | None = None
        self._dy: np.ndarray | None = None
        self._x_prev: np.ndarray | None = None

    @property
    def lag_frames(self) -> float:
        """Worst-case delay (a slow signal, corner at ``min_cutoff_hz``), frames."""
        return lag_frames_of_alpha(alpha_from_cutoff(self.min_cutoff_hz, self.fps))

    @property
    def lag_s(self) -> float:
        """Worst-case delay, seconds."""
        return self.lag_frames / self.fps

    def lag_frames_at(self, speed: float) -> float:
        """Steady delay, frames, on a signal moving at ``speed`` units per second."""
        cutoff = self.min_cutoff_hz + self.beta * abs(speed)
        return lag_frames_of_alpha(alpha_from_cutoff(cutoff, self.fps))

    def reset(self) -> None:
        """Forget the state: the next sample passes through unchanged."""
        self._y = None
        self._dy = None
        self._x_prev = None

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """The filtered value of the next sample ``x`` (the first sample passes unchanged)."""
        x = np.asarray(x, dtype=np.float64)
        if self._y is None or self._y.shape != x.shape:
            self._y = x.copy()
            self._x_prev = x.copy()
            self._dy = np.zeros_like(x)
            return self._y.copy()
        # Speed from the raw samples (the original uses the filtered one): on a ramp it then
        # settles on the true speed, so ``lag_frames_at`` holds exactly.
        speed = (x - self._x_prev) * self.fps
        self._x_prev = x.copy()
        self._dy += self._alpha_d * (speed - self._dy)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self._dy)
        tau_s = 1.0 / (2.0 * np.pi * cutoff)
        alpha = 1.0 / (1.0 + tau_s * self.fps)
        self._y += alpha * (x - self._y)
        return self._y.copy()
