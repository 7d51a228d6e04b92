"""Errors and warnings of the generator stage."""

from __future__ import annotations

from pathlib import Path

from dyad.errors import DyadError, DyadInputError

REBUILD_COMMAND = (
    "dyad train generator --data DATA_DIR [--data DATA_DIR ...] --install-default "
    "(see docs/generator.md)"
)


class CheckpointError(DyadInputError):
    """A generator checkpoint is missing, unreadable or does not match the model code.

    Attributes:
        path: the checkpoint file.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        super().__init__(f"generator checkpoint {self.path}: {reason}; rebuild it with: "
                         f"{REBUILD_COMMAND}")


class NonFiniteMotionError(DyadError):
    """The network produced NaN or infinite values; nothing of that chunk is emitted.

    Attributes:
        chunk: index of the chunk being made.
        step: the sampling step (0-based) whose output was not finite, or ``None`` when the
            fault appeared after sampling (decoding to joint positions).
    """

    def __init__(self, chunk: int, step: int | None, where: str):
        self.chunk = chunk
        self.step = step
        at = f"sampling step {step}" if step is not None else "decoding"
        super().__init__(f"generator produced non-finite values in chunk {chunk} at {at} "
                         f"({where}); no frames of that chunk were emitted")


class TextTruncatedWarning(UserWarning):
    """A text was longer than the generator reads; the tail was dropped."""
