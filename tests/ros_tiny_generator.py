"""A tiny untrained generator checkpoint for the ROS and remote-generation tests.

Its motion is meaningless but smooth and well formed (normalisation statistics of the toy
dataset, small random weights), which is all the plumbing tests need: the graph and the server
run the real generator code on it.
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_checkpoint(root: Path) -> Path:
    """Write a two-mode checkpoint with 8-frame chunks under ``root`` and return its path
    (an existing one is reused, so test modules can share it within one pytest session)."""
    from dyad.bench.pipeline import build_untrained_checkpoint
    from dyad.generator.config import ModelConfig

    root = Path(root)
    if (root / "untrained.pt").is_file():
        return root / "untrained.pt"
    config = ModelConfig(width=32, heads=2, denoiser_layers=1, context_layers=1, ff_mult=2,
                         chunk_frames=8, history_frames=4)
    return build_untrained_checkpoint(root, config)


def shared_tiny_checkpoint(tmp_path_factory) -> Path:
    """The session's tiny checkpoint, built by whichever test module asks first."""
    return build_tiny_checkpoint(tmp_path_factory.getbasetemp() / "tiny_generator")
