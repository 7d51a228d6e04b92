"""The contrastive text-motion evaluator behind ``dyad eval`` (FID, R-precision, MM-Dist...).

Like InterGen's and HumanML3D's evaluators, it embeds a text and a whole two-agent motion into
one space where matching pairs are close; the metrics are then computed on the embeddings.
It is trained on the synthesised data with a symmetric InfoNCE loss (``train_evaluator.py``).

Motion side: the clip is moved to the canonical frame of its first frame, made local and
normalised exactly like the generator's features (``dyad.generator.features``), joined with
per-frame velocities, both agents concatenated per frame, halved in time by a strided
convolution, passed through a transformer and mean-pooled. Text side: all-MiniLM-L6-v2 word
tokens (frozen) through one transformer layer, mean-pooled and joined with the sentence
vector. Embeddings are unit vectors (``embed_dim``), so distances lie in [0, 2].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dyad.errors import DyadInputError
from dyad.generator.canonical_frame import canonical_frame, to_canonical
from dyad.generator.features import MIN_FEATURE_STD_M, positions_to_features
from dyad.generator.modes import MODE_SPECS
from dyad.generator.text_conditioning import TextBatch

EVALUATOR_FORMAT = "dyad-evaluator"
EVALUATOR_VERSION = 1


@dataclass(frozen=True)
class EvaluatorConfig:
    """Sizes of :class:`MotionTextEvaluator`.

    Attributes:
        width: transformer width.
        heads: attention heads.
        motion_layers: transformer layers over time.
        embed_dim: size of the shared embedding.
        max_frames: longest motion read (longer clips are cut; 8 s at 30 fps).
        text_dim: text encoder width (384).
        max_text_tokens: word tokens per text.
    """

    width: int = 192
    heads: int = 4
    motion_layers: int = 3
    embed_dim: int = 128
    max_frames: int = 240
    text_dim: int = 384
    max_text_tokens: int = 64

    @classmethod
    def from_dict(cls, data: dict) -> "EvaluatorConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _sinusoid_table(length: int, width: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    i = torch.arange(width // 2, dtype=torch.float32)[None]
    angles = pos / torch.pow(10000.0, 2 * i / width)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class MotionTextEvaluator(nn.Module):
    """Text and motion encoders into one embedding space (see the module docstring)."""

    def __init__(self, config: EvaluatorConfig = EvaluatorConfig(),
                 modes: tuple[str, ...] = ("duet", "bimanual")):
        super().__init__()
        self.config, self.modes = config, tuple(modes)
        w = config.width
        self.motion_in = nn.ModuleDict()
        for mode in self.modes:
            f = MODE_SPECS[mode].feature_dim
            self.motion_in[mode] = nn.Linear(2 * 2 * f, w)
            self.register_buffer(f"feature_mean_{mode}", torch.zeros(2, f))
            self.register_buffer(f"feature_std_{mode}", torch.ones(2, f))
            self.register_buffer(f"velocity_std_{mode}", torch.ones(2, f))
        self.mode_embedding = nn.Parameter(torch.zeros(len(self.modes), w))
        self.downsample = nn.Conv1d(w, w, kernel_size=4, stride=2, padding=1)
        self.register_buffer("positions", _sinusoid_table(config.max_frames, w), persistent=False)
        layer = nn.TransformerEncoderLayer(w, config.heads, 2 * w, dropout=0.1,
                                           batch_first=True, norm_first=True)
        self.motion_encoder = nn.TransformerEncoder(layer, config.motion_layers,
                                                    enable_nested_tensor=False)
        self.motion_out = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, config.embed_dim))
        self.text_in = nn.Linear(config.text_dim, w)
        text_layer = nn.TransformerEncoderLayer(w, config.heads, 2 * w, dropout=0.1,
                                                batch_first=True, norm_first=True)
        self.text_encoder = nn.TransformerEncoder(text_layer, 1, enable_nested_tensor=False)
        self.text_out = nn.Sequential(nn.LayerNorm(w + config.text_dim),
                                      nn.Linear(w + config.text_dim, w), nn.GELU(),
                                      nn.Linear(w, config.embed_dim))
        self.log_temperature = nn.Parameter(torch.tensor(-2.3))  # exp = 0.1

    # -- motion ----------------------------------------------------------------------------
    def motion_features(self, mode: str, joints: torch.Tensor) -> torch.Tensor:
        """(B, T, 2, J, 3) world positions to (B, T, 2, 2F) un-normalised [features, velocity]
        in the canonical frame of each clip's first frame."""
        spec = MODE_SPECS[mode]
        origin, yaw = canonical_frame(joints[:, 0], spec)
        feats = positions_to_features(to_canonical(joints, origin, yaw), spec)
        vel = torch.diff(feats, dim=1, prepend=feats[:, :1])
        return torch.cat([feats, vel], dim=-1)

    def set_normalization(self, mode: str, features: torch.Tensor) -> None:
        """Statistics from (N, 2, 2F) training frames of ``mode``."""
        f = MODE_SPECS[mode].feature_dim
        getattr(self, f"feature_mean_{mode}").copy_(features[..., :f].mean(0))
        getattr(self, f"feature_std_{mode}").copy_(
            features[..., :f].std(0).clamp_min(MIN_FEATURE_STD_M))
        getattr(self, f"velocity_std_{mode}").copy_(
            features[..., f:].std(0).clamp_min(MIN_FEATURE_STD_M / 10))

    def encode_motion(self, mode: str, joints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unit embeddings (B, E) of motions.

        Args:
            joints: (B, T, 2, J, 3) world positions (T is cut to ``max_frames``).
            mask: (B, T) True on real frames (clips are padded at the end, so ``mask`` is
                a prefix).
        """
        if mode not in self.modes:
            raise DyadInputError(f"this evaluator serves {self.modes}, not {mode!r}")
        joints, mask = joints[:, :self.config.max_frames], mask[:, :self.config.max_frames]
        f = MODE_SPECS[mode].feature_dim
        x = self.motion_features(mode, joints.float())
        mean = getattr(self, f"feature_mean_{mode}")
        std = getattr(self, f"feature_std_{mode}")
        vstd = getattr(self, f"velocity_std_{mode}")
        x = torch.cat([(x[..., :f] - mean) / std, x[..., f:] / vstd], dim=-1).flatten(2)
        h = self.motion_in[mode](x) + self.mode_embedding[self.modes.index(mode)]
        h = self.downsample(h.transpose(1, 2)).transpose(1, 2)
        # Token i of the strided convolution reads frames 2i-1 .. 2i+2: keep only tokens that
        # read no padding, so a padded clip embeds exactly like the clip alone.
        length = mask.sum(1, keepdim=True)
        m = (2 * torch.arange(h.shape[1], device=h.device)[None] + 2) < length
        m[:, 0] = True
        h = h + self.positions[:h.shape[1]]
        h = self.motion_encoder(h, src_key_padding_mask=~m)
        pooled = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp_min(1)
        return F.normalize(self.motion_out(pooled), dim=-1)

    # -- text ------------------------------------------------------------------------------
    def encode_text(self, text: TextBatch) -> torch.Tensor:
        """Unit embeddings (B, E) of texts (the overall text of each example is used)."""
        tokens = self.text_in(text.tokens)
        mask = text.token_mask.clone()
        mask[:, 0] |= ~mask.any(1)  # an example without tokens still attends to something
        h = self.text_encoder(tokens, src_key_padding_mask=~mask)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        sentence = text.sentences[:, 0]
        return F.normalize(self.text_out(torch.cat([pooled, sentence], dim=-1)), dim=-1)

    def contrastive_loss(self, text_emb: torch.Tensor, motion_emb: torch.Tensor,
                         same_text: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE; ``same_text`` (B, B) marks off-diagonal pairs with the same text,
        which are not treated as negatives."""
        logits = text_emb @ motion_emb.T / self.log_temperature.exp().clamp_min(0.01)
        eye = torch.eye(len(logits), dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(same_text & ~eye, float("-inf"))
        target = torch.arange(len(logits), device=logits.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def save_evaluator(path: str | Path, model: MotionTextEvaluator, info: dict | None = None) -> Path:
    """Write an evaluator checkpoint atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    torch.save({"format": EVALUATOR_FORMAT, "version": EVALUATOR_VERSION,
                "config": asdict(model.config), "modes": list(model.modes),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "info": info or {}}, tmp)
    tmp.replace(path)
    return path


def load_evaluator(path: str | Path, device: str | torch.device = "cpu") -> MotionTextEvaluator:
    """Load an evaluator checkpoint; errors name the file and how to rebuild it."""
    path = Path(path)
    fix = "train one with: dyad train evaluator --data DATA_DIR [--data DATA_DIR ...]"
    if not path.is_file():
        raise DyadInputError(f"evaluator checkpoint {path}: no such file; {fix}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if data.get("format") != EVALUATOR_FORMAT:
            raise ValueError(f"not a {EVALUATOR_FORMAT} checkpoint")
        model = MotionTextEvaluator(EvaluatorConfig.from_dict(data["config"]),
                                    tuple(data["modes"]))
        model.load_state_dict(data["state_dict"])
    except Exception as exc:  # any failure to read is the same user-facing problem
        raise DyadInputError(f"evaluator checkpoint {path}: unreadable ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}); {fix}") from None
    return model.to(device).eval().requires_grad_(False)
