"""A tiny untrained generator checkpoint for the ROS and remote-generation tests.

Its motion is meaningless but smooth and well formed (normalisation statistics of the toy
dataset, small random weights), which is all the plumbing tests need: the graph and the server
run the real generator code on it.
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_checkpoint(root: Path) -> Path:
    """Write ``root/tiny.pt`` (both modes, 8-frame chunks) and return its path."""
    import torch

    from dyad.generator.checkpoint import save_checkpoint
    from dyad.generator.config import ModelConfig, SamplingOptions
    from dyad.generator.mode_selector import build_mode_selector
    from dyad.generator.model import ChunkFlowModel
    from dyad.generator.text_encoder import shared_text_encoder
    from dyad.training.motion_dataset import load_clips
    from dyad.training.toy_motion import write_toy_dataset
    from dyad.training.train_generator import feature_statistics

    config = ModelConfig(width=32, heads=2, denoiser_layers=1, context_layers=1, ff_mult=2,
                         chunk_frames=8, history_frames=4)
    torch.manual_seed(0)
    model = ChunkFlowModel(config, ("duet", "bimanual"))
    for mode in ("duet", "bimanual"):
        clips = load_clips(write_toy_dataset(root / mode, mode, {"train": 3}), "train")
        model.set_normalization(mode, *feature_statistics(clips, mode, config, windows=64))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    selector = build_mode_selector(shared_text_encoder("cpu", config.max_text_tokens),
                                   {"duet": [], "bimanual": []})
    return save_checkpoint(root / "tiny.pt", model, selector, SamplingOptions(steps=3))
