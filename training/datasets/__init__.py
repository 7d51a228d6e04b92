"""Loaders of the real datasets users hold locally (InterHuman, Inter-X, HandX, HumanML3D).

Every loader converts to Dyad's motion contract: :class:`~dyad.motion.MotionRecord` in metres,
Z up, X forward, 30 fps. Layouts, array shapes and conversions: docs/datasets.md.

    >>> clips = load_dataset("interhuman", "~/data/InterHuman", split="train")
    >>> record = clips[0]            # read on demand
"""

from .layout import BodyModelRequiredError, DatasetLayout, resample_to_fps
from .loading import LOADERS, DatasetClips, detect_layout, load_dataset

__all__ = [
    "BodyModelRequiredError", "DatasetClips", "DatasetLayout", "LOADERS", "detect_layout",
    "load_dataset", "resample_to_fps",
]
