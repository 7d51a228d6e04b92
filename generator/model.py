"""The chunk model: one autoregressive design for both modes.

Each autoregressive step makes the next ``chunk_frames`` frames of both agents:

1. Text (once per motion): every word token is projected and tagged with its role (overall,
   agent 0, agent 1, inter-hand); the sentence vectors become one condition vector.
2. Context (once per chunk): the last ``history_frames`` frames of both agents, in the chunk's
   canonical frame, become 2H/p tokens (agent and frame embeddings) that pass ``context_layers``
   blocks reading the text. Text and history tokens form the chunk's memory, whose keys and
   values are projected once and cached for all sampling steps.
3. Denoiser (every sampling step): 2C/p tokens, one per agent per ``frames_per_token`` (p)
   frames, attend to each other
   (both agents in one sequence: the coupling between agents), read the memory by
   cross-attention, and are conditioned by AdaLN on text, mode, elapsed time and flow time.
   The output is the clean chunk (x-prediction); the sampler turns it into a flow velocity.
   With ``residual_to_history`` the output is added to the last history frame, so the
   network predicts the motion since that frame and a chunk starts where the last one ended.

Both modes share every block; only the linear maps between features and tokens are per mode.
Feature normalisation statistics are buffers of the model, saved with its weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConditionedBlock, sinusoid
from .config import ModelConfig
from .features import MIN_FEATURE_STD_M
from .modes import MODE_SPECS, TEXT_ROLES
from .text_conditioning import TextBatch

NUM_AGENTS = 2


@dataclass
class TextContext:
    """Text memory of a batch: ``memory`` (B, 1+L, W), ``mask`` (B, 1+L), ``sentence`` (B, W)."""

    memory: torch.Tensor
    mask: torch.Tensor
    sentence: torch.Tensor


@dataclass
class ChunkContext:
    """Everything the denoiser reads that is fixed during one chunk's sampling steps.

    Attributes:
        cross_kv: per denoiser block, the projected keys and values of the memory.
        mask: (B, M) True where a memory entry exists.
        cond: (B, W) condition vector without the flow time.
        anchor: (B, 2, 1, F) what the denoiser's output is added to: the last history frame
            (normalised) when ``config.residual_to_history`` and a history exists, else zero.
    """

    cross_kv: list
    mask: torch.Tensor
    cond: torch.Tensor
    anchor: torch.Tensor | float = 0.0


class ChunkFlowModel(nn.Module):
    """Text + history to the next chunk of two-agent motion (see the module docstring).

    Args:
        config: sizes.
        modes: modes this model serves (a subset of ``duet``, ``bimanual``).
    """

    def __init__(self, config: ModelConfig, modes: tuple[str, ...] = ("duet", "bimanual")):
        super().__init__()
        unknown = [m for m in modes if m not in MODE_SPECS]
        if unknown or not modes:
            raise ValueError(f"modes must be a non-empty subset of {tuple(MODE_SPECS)}, "
                             f"got {modes}")
        self.config = config
        self.modes = tuple(modes)
        w, p = config.width, config.frames_per_token
        h, c = config.history_frames // p, config.chunk_frames // p  # in tokens
        self.text_proj = nn.Linear(config.text_dim, w)
        self.sentence_proj = nn.Linear(config.text_dim, w)
        self.role_embedding = nn.Parameter(torch.randn(len(TEXT_ROLES), w) * 0.02)
        self.null_token = nn.Parameter(torch.randn(w) * 0.02)
        self.null_sentence = nn.Parameter(torch.randn(w) * 0.02)
        self.mode_embedding = nn.Parameter(torch.randn(len(self.modes), w) * 0.02)
        self.agent_embedding = nn.Parameter(torch.randn(NUM_AGENTS, w) * 0.02)
        self.frame_embedding = nn.Parameter(torch.randn(h + c, w) * 0.02)
        self.start_tokens = nn.Parameter(torch.randn(NUM_AGENTS, w) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.elapsed_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.history_in = nn.ModuleDict()
        self.chunk_in = nn.ModuleDict()
        self.chunk_out = nn.ModuleDict()
        for mode in self.modes:
            f = MODE_SPECS[mode].feature_dim
            self.history_in[mode] = nn.Linear(p * f, w)
            self.chunk_in[mode] = nn.Linear(p * f, w)
            self.chunk_out[mode] = nn.Linear(w, p * f)
            nn.init.zeros_(self.chunk_out[mode].weight)
            nn.init.zeros_(self.chunk_out[mode].bias)
            self.register_buffer(f"feature_mean_{mode}", torch.zeros(NUM_AGENTS, f))
            self.register_buffer(f"feature_std_{mode}", torch.ones(NUM_AGENTS, f))
        self.context_blocks = nn.ModuleList(
            ConditionedBlock(w, config.heads, config.ff_mult) for _ in range(config.context_layers))
        self.denoiser_blocks = nn.ModuleList(
            ConditionedBlock(w, config.heads, config.ff_mult)
            for _ in range(config.denoiser_layers))
        self.out_norm = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.out_modulation = nn.Linear(w, 2 * w)
        nn.init.zeros_(self.out_modulation.weight)
        nn.init.zeros_(self.out_modulation.bias)

    # -- normalisation -------------------------------------------------------------------
    def set_normalization(self, mode: str, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store per-agent feature statistics (2, F) of ``mode``."""
        getattr(self, f"feature_mean_{mode}").copy_(mean)
        getattr(self, f"feature_std_{mode}").copy_(std.clamp_min(MIN_FEATURE_STD_M))

    def normalize(self, mode: str, features: torch.Tensor) -> torch.Tensor:
        """(B, 2, T, F) features to network units."""
        mean = getattr(self, f"feature_mean_{mode}")[:, None]
        std = getattr(self, f"feature_std_{mode}")[:, None]
        return (features - mean) / std

    def denormalize(self, mode: str, values: torch.Tensor) -> torch.Tensor:
        """(B, 2, T, F) network units back to features."""
        mean = getattr(self, f"feature_mean_{mode}")[:, None]
        std = getattr(self, f"feature_std_{mode}")[:, None]
        return values * std + mean

    def _mode_index(self, mode: str) -> int:
        try:
            return self.modes.index(mode)
        except ValueError:
            raise ValueError(f"this model serves {self.modes}, not {mode!r}") from None

    # -- the three stages ------------------------------------------------------------------
    def encode_text(self, text: TextBatch) -> TextContext:
        """Project word tokens and sentence vectors (once per motion)."""
        b = text.tokens.shape[0]
        words = self.text_proj(text.tokens) + self.role_embedding[text.token_roles]
        memory = torch.cat([self.null_token.expand(b, 1, -1), words], dim=1)
        mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=words.device),
                          text.token_mask], dim=1)
        per_role = self.sentence_proj(text.sentences) + self.role_embedding[None]
        weights = text.sentence_mask.float().unsqueeze(-1)
        count = weights.sum(1)
        sentence = (per_role * weights).sum(1) / count.clamp_min(1.0)
        sentence = torch.where(count > 0, sentence, self.null_sentence.expand(b, -1))
        return TextContext(memory=memory, mask=mask, sentence=sentence)

    def encode_context(self, text: TextContext, mode: str, history: torch.Tensor,
                       history_valid: torch.Tensor, elapsed_s: torch.Tensor) -> ChunkContext:
        """Encode the history of one chunk (once per chunk).

        Args:
            text: from :meth:`encode_text`.
            mode: the batch's mode.
            history: (B, 2, H, F) normalised features in the chunk's canonical frame.
            history_valid: (B,) False for the first chunk of a motion (no history yet).
            elapsed_s: (B,) time of the chunk's first frame since the motion began.
        """
        mode_index = self._mode_index(mode)
        b = history.shape[0]
        h = self.config.history_frames // self.config.frames_per_token
        frames = self.frame_embedding[:h]
        tokens = (self.history_in[mode](self._to_tokens(history))
                  + self.agent_embedding[None, :, None] + frames[None, None])
        start = (self.start_tokens[:, None] + frames[None]).expand(b, -1, -1, -1)
        tokens = torch.where(history_valid[:, None, None, None], tokens, start).flatten(1, 2)
        elapsed = (elapsed_s.float() / self.config.max_elapsed_s).clamp(0.0, 1.0)
        cond = (text.sentence + self.mode_embedding[mode_index]
                + self.elapsed_mlp(sinusoid(elapsed, self.config.width)))
        for block in self.context_blocks:
            tokens = block(tokens, cond, block.cross_attn.project_kv(text.memory), text.mask)
        memory = torch.cat([text.memory, tokens], dim=1)
        mask = torch.cat([text.mask, torch.ones(b, tokens.shape[1], dtype=torch.bool,
                                                device=tokens.device)], dim=1)
        cross_kv = [block.cross_attn.project_kv(memory) for block in self.denoiser_blocks]
        anchor = 0.0
        if self.config.residual_to_history:
            anchor = history[:, :, -1:] * history_valid[:, None, None, None].to(history.dtype)
        return ChunkContext(cross_kv=cross_kv, mask=mask, cond=cond, anchor=anchor)

    def denoise(self, context: ChunkContext, mode: str, noisy: torch.Tensor,
                flow_time: torch.Tensor) -> torch.Tensor:
        """Predict the clean chunk (B, 2, C, F) from the noisy one at flow time (B,) in [0, 1)."""
        self._mode_index(mode)
        b, agents, frames, _ = noisy.shape
        p = self.config.frames_per_token
        h, c = self.config.history_frames // p, frames // p
        tokens = (self.chunk_in[mode](self._to_tokens(noisy)) + self.agent_embedding[None, :, None]
                  + self.frame_embedding[None, None, h:h + c]).flatten(1, 2)
        cond = context.cond + self.time_mlp(sinusoid(flow_time, self.config.width))
        for block, kv in zip(self.denoiser_blocks, context.cross_kv):
            tokens = block(tokens, cond, kv, context.mask)
        shift, scale = self.out_modulation(F.silu(cond)).unsqueeze(1).chunk(2, dim=-1)
        tokens = self.out_norm(tokens) * (1 + scale) + shift
        return self.chunk_out[mode](tokens).view(b, agents, frames, -1) + context.anchor

    def _to_tokens(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 2, T, F) to (B, 2, T / p, p F): ``frames_per_token`` frames side by side."""
        b, a, t, f = frames.shape
        p = self.config.frames_per_token
        return frames.reshape(b, a, t // p, p * f)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
