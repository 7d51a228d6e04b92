"""The streaming sampler: chunk after chunk, each from text, history and a few flow steps.

For chunk ``k`` the last ``history_frames`` frames made so far are moved into their canonical
frame (root at the origin facing +X), encoded once (the cached context), and the chunk is
sampled by ``steps`` Euler steps of the flow from Gaussian noise (t = 0) to motion (t = 1).
The network predicts the clean chunk ``x1``; the flow velocity at ``x`` and time ``t`` is
``(x1 - x) / (1 - t)``, so the last step lands exactly on the network's prediction.
Classifier-free guidance runs the conditional and unconditional branches as one batch.
"""

from __future__ import annotations

from typing import Iterator

import torch

from .bone_lengths import bone_lengths, enforce_bone_lengths
from .canonical_frame import canonical_frame, from_canonical, to_canonical
from .config import SamplingOptions
from .contact_plan import pull_contacts
from .errors import NonFiniteMotionError
from .features import features_to_positions, positions_to_features
from .model import ChunkFlowModel
from .modes import MODE_SPECS
from .text_conditioning import TextBatch


def history_features(model: ChunkFlowModel, mode: str, history_world: torch.Tensor):
    """Canonical frame of a history and its normalised features.

    Args:
        history_world: (B, H, 2, J, 3) the last frames, world frame.

    Returns:
        (features (B, 2, H, F), origin (B, 3), yaw (B,)).
    """
    spec = MODE_SPECS[mode]
    origin, yaw = canonical_frame(history_world[:, -1], spec)
    canon = to_canonical(history_world, origin, yaw)
    feats = positions_to_features(canon.permute(0, 2, 1, 3, 4), spec)
    return model.normalize(mode, feats), origin, yaw


def decode_chunk(model: ChunkFlowModel, mode: str, values: torch.Tensor, origin: torch.Tensor,
                 yaw: torch.Tensor) -> torch.Tensor:
    """Network output (B, 2, C, F) to world positions (B, C, 2, J, 3)."""
    canon = features_to_positions(model.denormalize(mode, values), MODE_SPECS[mode])
    return from_canonical(canon.permute(0, 2, 1, 3, 4), origin, yaw)


@torch.no_grad()
def sample_chunk(model: ChunkFlowModel, mode: str, text_ctx, history: torch.Tensor,
                 history_valid: torch.Tensor, elapsed_s: torch.Tensor, noise: torch.Tensor,
                 options: SamplingOptions, chunk_index: int = 0,
                 contacts: list | None = None) -> torch.Tensor:
    """Sample one chunk in network units.

    Args:
        text_ctx: ``model.encode_text`` of the batch, or of the batch followed by its
            unconditional twin when ``options.guidance != 1``.
        history: (B, 2, H, F) normalised canonical history (ignored where not valid).
        history_valid: (B,) whether a history exists.
        elapsed_s: (B,) time of the chunk's first frame.
        noise: (B, 2, C, F) starting noise.
        options: steps, guidance.
        chunk_index: for error messages.
        contacts: per batch row, its planned contacts (``contact_plan.PlannedContact``),
            pulled together after every step by ``options.contact_guidance``.
    """
    guided = options.guidance != 1.0
    reps = 2 if guided else 1
    ctx = model.encode_context(text_ctx, mode, history.repeat(reps, 1, 1, 1),
                               history_valid.repeat(reps), elapsed_s.repeat(reps))
    x = noise
    b = x.shape[0]
    for step in range(options.steps):
        t = torch.full((b * reps,), step / options.steps, device=x.device)
        pred = model.denoise(ctx, mode, x.repeat(reps, 1, 1, 1), t)
        if guided:
            cond, uncond = pred[:b], pred[b:]
            pred = uncond + options.guidance * (cond - uncond)
        if not torch.isfinite(pred).all():
            raise NonFiniteMotionError(chunk_index, step, "denoiser output")
        if any(contacts or ()) and options.contact_guidance > 0:
            pred = pull_contacts(model, mode, pred, contacts, options.contact_guidance,
                                 options.contact_near_m, options.contact_far_m)
        x = x + (pred - x) / (options.steps - step)
    return x


def blend_boundary(chunk: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """Inertialise a chunk's start: (B, C, 2, J, 3) world chunk, (B, H >= 2, 2, J, 3) history.

    The chunk's first frame is compared with where the last two history frames were heading
    (constant velocity); the difference is removed from the first frame and fades out along
    the chunk (smoothstep), so the chunk ends where the network put it."""
    expected = 2.0 * history[:, -1] - history[:, -2]
    offset = chunk[:, 0] - expected
    u = torch.linspace(0.0, 1.0, chunk.shape[1], device=chunk.device, dtype=chunk.dtype)
    fade = 1.0 - u * u * (3.0 - 2.0 * u)
    return chunk - offset[:, None] * fade[None, :, None, None, None]


class ChunkStream:
    """Makes a batch of motions chunk by chunk (all of one mode and length).

    Args:
        model: the trained network (eval mode).
        mode: ``duet`` or ``bimanual``.
        text: the batch's texts (conditional branch only).
        options: sampling options.
        generator: torch random generator (CPU) for the noise, for reproducibility.
        contacts: per batch row, the contacts its text plans (``MotionGenerator.plan``), or
            None.
    """

    def __init__(self, model: ChunkFlowModel, mode: str, text: TextBatch,
                 options: SamplingOptions, generator: torch.Generator,
                 contacts: list | None = None):
        self.model, self.mode, self.options, self.generator = model, mode, options, generator
        self.contacts = contacts
        device = next(model.parameters()).device
        self.device = device
        text = text.to(device)
        if options.guidance != 1.0:
            text = TextBatch(*(torch.cat([getattr(text, f), getattr(text.drop(
                torch.ones_like(text.dropped)), f)]) for f in
                ("tokens", "token_mask", "token_roles", "sentences", "sentence_mask",
                 "dropped")))
        with torch.no_grad():
            self.text_ctx = model.encode_text(text)
        self.batch = int(text.tokens.shape[0] // (2 if options.guidance != 1.0 else 1))

    @torch.no_grad()
    def run(self, num_frames: int) -> Iterator[torch.Tensor]:
        """Yield world-frame chunks (B, n, 2, J, 3) until ``num_frames`` frames are made."""
        model, mode, cfg = self.model, self.mode, self.model.config
        spec = MODE_SPECS[mode]
        b, c, h = self.batch, cfg.chunk_frames, cfg.history_frames
        fdim = spec.feature_dim
        history_world = None
        reference_lengths = None
        made, k = 0, 0
        while made < num_frames:
            if history_world is None:
                hist = torch.zeros(b, 2, h, fdim, device=self.device)
                valid = torch.zeros(b, dtype=torch.bool, device=self.device)
                origin = torch.zeros(b, 3, device=self.device)
                yaw = torch.zeros(b, device=self.device)
            else:
                hist, origin, yaw = history_features(model, mode, history_world)
                valid = torch.ones(b, dtype=torch.bool, device=self.device)
            elapsed = torch.full((b,), made / cfg.fps, device=self.device)
            noise = torch.randn(b, 2, c, fdim, generator=self.generator).to(self.device)
            values = sample_chunk(model, mode, self.text_ctx, hist, valid, elapsed,
                                  noise * self.options.noise_scale, self.options, k,
                                  self.contacts)
            world = decode_chunk(model, mode, values, origin, yaw)
            if self.options.blend_boundaries and history_world is not None \
                    and history_world.shape[1] >= 2:
                world = blend_boundary(world, history_world)
            if self.options.enforce_bone_lengths:
                if reference_lengths is None:
                    reference_lengths = bone_lengths(world, spec.parents).median(dim=1).values
                world = enforce_bone_lengths(world, spec.parents, reference_lengths[:, None])
            if not torch.isfinite(world).all():
                raise NonFiniteMotionError(k, None, "joint positions")
            n = min(c, num_frames - made)
            yield world[:, :n]
            history_world = world[:, -h:] if history_world is None else \
                torch.cat([history_world, world], dim=1)[:, -h:]
            made += n
            k += 1
