"""What every check needs to know about the chunk it is looking at, besides the recording."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scene import Scene
from .thresholds import Thresholds


@dataclass
class ChunkContext:
    """Shared inputs of the checks of one chunk.

    Attributes:
        scene: the scene the chunk was played in.
        thresholds: the gate's thresholds.
        frame_start: trajectory frame number of the chunk's first row.
        history: (K, J) commanded positions of the K (<= 2) frames before the chunk, oldest
            first, so velocities and accelerations are continuous across chunk boundaries.
        in_contact: (T, I) True where instance i takes part in an expected contact (window
            slack included); tracking tolerances widen there.
    """

    scene: Scene
    thresholds: Thresholds
    frame_start: int
    history: np.ndarray
    in_contact: np.ndarray

    @property
    def merge_gap(self) -> int:
        return int(self.thresholds["reporting"]["merge_gap_frames"])
