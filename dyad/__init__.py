"""Dyad: text to safe dexterous two-person and two-hand robot motion.

Stages install as subpackages: ``dyad.generator``, ``dyad.retarget``, ``dyad.sim``,
``dyad.training``. The shared contract (skeletons, the motion record, errors) lives here.
"""

from .errors import DyadError, DyadInputError, MotionFileError, UnknownSkeletonError
from .motion import ContactInterval, MotionChunk, MotionRecord, record_from_chunks
from .skeletons import SKELETONS, Skeleton, get_skeleton

__version__ = "0.1.0"

__all__ = [
    "ContactInterval", "DyadError", "DyadInputError", "MotionChunk", "MotionFileError",
    "MotionRecord", "SKELETONS", "Skeleton", "UnknownSkeletonError", "get_skeleton",
    "record_from_chunks",
]
