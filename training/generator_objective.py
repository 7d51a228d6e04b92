"""The generator's training objective: flow matching on chunks plus geometric losses, with
optional training on the model's own rollouts.

One call of :meth:`GeneratorObjective.forward` takes a batch of windows of one mode (see
``motion_dataset.ChunkWindowDataset``) and returns the losses. Wrapping the whole objective in
one ``nn.Module.forward`` lets ``DistributedDataParallel`` see every parameter use.

Flow matching (x-prediction): the target chunk ``x1`` (normalised features in the chunk's
canonical frame) is mixed with noise, ``x_t = (1 - t) x0 + t x1`` with ``t ~ U(0, 1)``, and the
network predicts ``x1``. The geometric losses compare the prediction, decoded to joint
positions, with the truth: positions, velocities (including the step from the last history
frame into the chunk, which keeps chunk boundaries seamless), bone lengths, planted feet
(duet), Text2Interact's adaptive interaction loss, and a contact term on the joint pairs of the
two agents that touch in the ground truth. They are weighted by ``t``: a
prediction from almost pure noise cannot be precise.

Rollout training: the model first makes the window's first chunk itself (no gradient, a few
Euler steps, no guidance); the history of the following chunk is then taken from what it made,
while the target stays the true continuation (expressed relative to the true history's
canonical frame). This teaches the model to continue from its own, imperfect, output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from dyad.generator.canonical_frame import canonical_frame, to_canonical
from dyad.generator.config import SamplingOptions
from dyad.generator.features import features_to_positions, positions_to_features
from dyad.generator.losses import (adaptive_interaction_loss, bone_length_loss, contact_loss,
                                   foot_contact_loss, pairwise_agent_distances, position_loss,
                                   velocity_loss)
from dyad.generator.model import ChunkFlowModel
from dyad.generator.modes import MODE_SPECS
from dyad.generator.sampler import decode_chunk, sample_chunk
from dyad.generator.text_conditioning import TextBatch


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (geometric terms are in metres or metres per frame)."""

    flow: float = 1.0
    position: float = 2.0
    velocity: float = 20.0
    bone: float = 5.0
    foot: float = 20.0
    interaction: float = 2.0
    contact: float = 10.0

    def as_dict(self) -> dict:
        return asdict(self)


def _frame_per_example(history_last: torch.Tensor, first_target: torch.Tensor,
                       valid: torch.Tensor, mode: str):
    """Canonical frame from the last history frame, or from the chunk's own first frame where
    there is no history (the first chunk of a motion)."""
    spec = MODE_SPECS[mode]
    o_hist, y_hist = canonical_frame(history_last, spec)
    o_first, y_first = canonical_frame(first_target, spec)
    return (torch.where(valid[:, None], o_hist, o_first), torch.where(valid, y_hist, y_first))


def _features(model: ChunkFlowModel, mode: str, positions: torch.Tensor) -> torch.Tensor:
    """(B, T, 2, J, 3) canonical positions to (B, 2, T, F) normalised features."""
    feats = positions_to_features(positions.permute(0, 2, 1, 3, 4), MODE_SPECS[mode])
    return model.normalize(mode, feats)


class GeneratorObjective(nn.Module):
    """Losses of one training batch (see the module docstring).

    Args:
        model: the chunk model being trained.
        weights: loss weights.
        rollout_steps: Euler steps used when the model makes its own history.
    """

    def __init__(self, model: ChunkFlowModel, weights: LossWeights = LossWeights(),
                 rollout_steps: int = 4):
        super().__init__()
        self.model = model
        self.weights = weights
        self.rollout_options = SamplingOptions(steps=rollout_steps, guidance=1.0,
                                               enforce_bone_lengths=False)

    def forward(self, mode: str, frames: torch.Tensor, history_valid: torch.Tensor,
                start_frame: torch.Tensor, text: TextBatch, rollout: bool = False
                ) -> dict[str, torch.Tensor]:
        """Losses of a batch.

        Args:
            mode: the batch's mode.
            frames: (B, H + 2C, 2, J, 3) windows, world frame.
            history_valid: (B,) False for first-chunk windows.
            start_frame: (B,) clip frame of the first frame after the history.
            text: the batch's texts (already with classifier-free-guidance drops).
            rollout: make the history with the model itself.

        Returns:
            ``loss`` (the weighted total) and every term, each a scalar.
        """
        model, spec = self.model, MODE_SPECS[mode]
        cfg = model.config
        h, c = cfg.history_frames, cfg.chunk_frames
        b = frames.shape[0]
        text_ctx = model.encode_text(text)
        valid = history_valid
        if rollout:
            hist_world = frames[:, :h]
            origin, yaw = _frame_per_example(hist_world[:, -1], frames[:, h], valid, mode)
            hist = _features(model, mode, to_canonical(hist_world, origin, yaw))
            noise = torch.randn(b, 2, c, spec.feature_dim, device=frames.device)
            made = sample_chunk(model, mode, text_ctx, hist, valid, start_frame / cfg.fps,
                                noise, self.rollout_options)
            made_world = decode_chunk(model, mode, made, origin, yaw).detach()
            input_hist = torch.cat([hist_world, made_world], dim=1)[:, -h:]
            true_hist = frames[:, c:h + c]
            target = frames[:, h + c:h + 2 * c]
            valid = torch.ones_like(history_valid)
            start_frame = start_frame + c
        else:
            input_hist = true_hist = frames[:, :h]
            target = frames[:, h:h + c]
        in_origin, in_yaw = _frame_per_example(input_hist[:, -1], target[:, 0], valid, mode)
        tg_origin, tg_yaw = _frame_per_example(true_hist[:, -1], target[:, 0], valid, mode)
        hist_canon = to_canonical(input_hist, in_origin, in_yaw)
        target_canon = to_canonical(target, tg_origin, tg_yaw)
        true_last = to_canonical(true_hist[:, -1:], tg_origin, tg_yaw)

        x1 = _features(model, mode, target_canon)
        t = torch.rand(b, device=frames.device)
        x0 = torch.randn_like(x1)
        xt = (1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * x1
        ctx = model.encode_context(text_ctx, mode, _features(model, mode, hist_canon), valid,
                                   start_frame.float() / cfg.fps)
        pred = model.denoise(ctx, mode, xt, t)

        flow = (pred - x1).square().mean(dim=(1, 2, 3))
        pred_pos = features_to_positions(model.denormalize(mode, pred), spec)
        pred_pos = pred_pos.permute(0, 2, 1, 3, 4)
        pred_vel = torch.diff(torch.cat([hist_canon[:, -1:], pred_pos], dim=1), dim=1)
        true_vel = torch.diff(torch.cat([true_last, target_canon], dim=1), dim=1)
        frame_mask = torch.ones(b, c, dtype=torch.bool, device=frames.device)
        frame_mask[:, 0] = valid
        distances = (pairwise_agent_distances(pred_pos), pairwise_agent_distances(target_canon))
        terms = {
            "flow": flow,
            "position": position_loss(pred_pos, target_canon),
            "velocity": velocity_loss(pred_vel, true_vel, frame_mask),
            "bone": bone_length_loss(pred_pos, target_canon, spec.parents),
            "foot": foot_contact_loss(pred_vel, true_vel, spec.foot_joints, frame_mask),
            "interaction": adaptive_interaction_loss(pred_pos, target_canon,
                                                     distances=distances),
            "contact": contact_loss(*distances),
        }
        w = self.weights.as_dict()
        total = w["flow"] * flow.mean()
        for name, value in terms.items():
            if name != "flow":
                total = total + w[name] * (t * value).mean()
        out = {name: value.mean().detach() for name, value in terms.items()}
        out["loss"] = total
        return out
