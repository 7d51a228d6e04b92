"""Errors shared by every Dyad stage.

Every error says what was wrong, where, and what was expected. The CLI maps
:class:`DyadInputError` (bad input from the user) to exit code 2 with one line.
"""

from __future__ import annotations


class DyadError(Exception):
    """Base class of every error Dyad raises on purpose."""


class DyadInputError(DyadError, ValueError):
    """Input from the user (a file, an argument, a message) is not acceptable."""


class UnknownSkeletonError(DyadInputError, KeyError):
    """A skeleton name that Dyad does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MotionFileError(DyadInputError):
    """A motion file is missing, truncated, or breaks the motion contract.

    Attributes:
        path: the file.
        frame: the first offending frame, when the fault is in the joint data.
        agent: the agent of that frame, when known.
        joint: the joint name, when known.
    """

    def __init__(self, path, reason: str, frame: int | None = None, agent: str | None = None,
                 joint: str | None = None):
        self.path = str(path)
        self.reason = reason
        self.frame = frame
        self.agent = agent
        self.joint = joint
        where = []
        if frame is not None:
            where.append(f"frame {frame}")
        if agent is not None:
            where.append(f"agent {agent}")
        if joint is not None:
            where.append(f"joint {joint}")
        loc = f" at {', '.join(where)}" if where else ""
        super().__init__(f"{self.path}: {reason}{loc}")


class DatasetLayoutError(DyadInputError):
    """A dataset folder does not match any layout the loader documents."""
