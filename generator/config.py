"""Hyperparameters of the chunk model and of sampling, stored in every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from dyad.errors import DyadInputError


@dataclass(frozen=True)
class ModelConfig:
    """Size and shape of :class:`dyad.generator.model.ChunkFlowModel`.

    Attributes:
        width: token width of every transformer block.
        heads: attention heads.
        denoiser_layers: blocks run at every sampling step (the chunk tokens).
        context_layers: blocks run once per chunk (the history tokens).
        ff_mult: feed-forward expansion.
        chunk_frames: frames made per autoregressive step (8-16 at 30 fps).
        history_frames: frames of past motion each step conditions on (<= chunk_frames).
        frames_per_token: consecutive frames of one agent in one token (1 or 2; 2 halves
            the sequence, and so the cost, while the output stays at full frame rate).
        text_dim: width of the text encoder's vectors (384 for all-MiniLM-L6-v2).
        max_text_tokens: word tokens kept per text (the rest is cut, with a warning).
        max_elapsed_s: elapsed time is clamped here before it is embedded; training sets it
            to the 95th percentile of the clip durations, so a stream longer than the training
            clips stays in their late-clip regime.
        fps: frame rate of the motion the model makes.
        residual_to_history: the network's output is added to the last history frame (in
            normalised canonical features), so an output of zero holds the pose: chunk
            boundaries are continuous by construction and the network learns the motion
            since the last frame. Checkpoints written before this option load with False.
    """

    width: int = 192
    heads: int = 4
    denoiser_layers: int = 3
    context_layers: int = 2
    ff_mult: int = 3
    chunk_frames: int = 16
    history_frames: int = 8
    frames_per_token: int = 1
    text_dim: int = 384
    max_text_tokens: int = 64
    max_elapsed_s: float = 12.0
    fps: float = 30.0
    residual_to_history: bool = True

    def __post_init__(self) -> None:
        if not 8 <= self.chunk_frames <= 16:
            raise DyadInputError(f"chunk_frames must be 8..16, got {self.chunk_frames}")
        if not 1 <= self.history_frames <= self.chunk_frames:
            raise DyadInputError(f"history_frames must be 1..chunk_frames ({self.chunk_frames}),"
                                 f" got {self.history_frames}")
        if self.frames_per_token not in (1, 2) or self.chunk_frames % self.frames_per_token \
                or self.history_frames % self.frames_per_token:
            raise DyadInputError(f"frames_per_token must be 1 or 2 and divide chunk_frames "
                                 f"({self.chunk_frames}) and history_frames "
                                 f"({self.history_frames}), got {self.frames_per_token}")
        if self.width % self.heads:
            raise DyadInputError(f"width {self.width} is not a multiple of heads {self.heads}")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Build from a checkpoint's dict; unknown keys are an error (code/model mismatch)."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise DyadInputError(f"unknown model config key(s) {', '.join(extra)}")
        data = {"residual_to_history": False, **data}  # older checkpoints predate it
        return cls(**data)


@dataclass(frozen=True)
class SamplingOptions:
    """How chunks are sampled.

    Attributes:
        steps: Euler steps of the flow per chunk (1-8).
        guidance: classifier-free guidance scale; 1 disables guidance (and halves the cost).
        noise_scale: standard deviation of the starting noise (1 = the trained distribution;
            lower trades diversity for typicality).
        enforce_bone_lengths: project every chunk onto the bone lengths of the first chunk,
            so the skeleton keeps its size over a long stream.
        blend_boundaries: inertialise chunk boundaries: a chunk's first frame is moved onto
            where the history was heading (constant velocity), and that offset fades out over
            the chunk, so a chunk that starts off (measured: a partner standing 3-4 m away
            jumping 0.3-0.5 m at the first boundary) continues the motion instead.
        contact_guidance: 0..1, how much of the remaining gap of a contact the text plans
            (``contact_plan.py``) is closed after each flow step once the parts are within
            ``contact_near_m`` of touching; the pull fades out by ``contact_far_m``. 0 turns
            it off; a checkpoint without a contact planner never pulls. A handshake's hands
            hang 0.3-0.45 m apart when the network under-reaches; fading out by 0.5 m instead
            of 0.3 m (default model, 30 seeds) made hands meet in 29 handshakes instead of 23,
            with duet top-3 0.21 -> 0.22, FID 0.32 -> 0.31, contact ratio 0.06 -> 0.12 and
            penetration frequency 0.22 -> 0.26 (ground truth 0.51). A high five's raised hands
            stop 0.35 m apart; by 0.9 m, with the lean of ``contact_plan.py``, they meet (0 ->
            26/30 seeds); with the contact's variants voting together too, duet contact ratio
            0.12 -> 0.23, top-3 0.215 -> 0.198, FID 0.313 -> 0.333 and penetration frequency
            0.26 -> 0.35.
        contact_guidance_modes: the modes the pull applies to unless a caller sets
            ``contact_guidance`` explicitly. Duet only: there it completes handshakes (3/10 ->
            8/10 seeds) at no cost in R-precision or FID; in bimanual the network alone claps
            in 30 of 30 seeds, and the pull raised the hands' mutual penetration (0.23 ->
            0.37 of motions, ground truth 0.20) and lowered R-precision (0.33 -> 0.29).
    """

    steps: int = 4
    guidance: float = 2.0
    noise_scale: float = 1.0
    enforce_bone_lengths: bool = True
    blend_boundaries: bool = True
    contact_guidance: float = 1.0
    contact_near_m: float = 0.05
    contact_far_m: float = 0.9
    contact_guidance_modes: tuple[str, ...] = ("duet",)

    def __post_init__(self) -> None:
        if not (isinstance(self.steps, int) and 1 <= self.steps <= 8):
            raise DyadInputError(f"sampling steps must be an integer 1..8, got {self.steps!r}")
        if not (0.0 <= float(self.guidance) <= 10.0):
            raise DyadInputError(f"guidance must be within 0..10, got {self.guidance!r}")
        object.__setattr__(self, "contact_guidance_modes", tuple(self.contact_guidance_modes))
        if not all(isinstance(m, str) for m in self.contact_guidance_modes):
            raise DyadInputError("contact_guidance_modes must be mode names, got "
                                 f"{self.contact_guidance_modes!r}")
        if not (0.0 <= float(self.contact_guidance) <= 1.0):
            raise DyadInputError(f"contact_guidance must be within 0..1, got "
                                 f"{self.contact_guidance!r}")
        if not (0.0 <= float(self.contact_near_m) < float(self.contact_far_m)):
            raise DyadInputError("contact_near_m must be >= 0 and below contact_far_m, got "
                                 f"{self.contact_near_m!r} and {self.contact_far_m!r}")
        if not (0.0 <= float(self.noise_scale) <= 2.0):
            raise DyadInputError(f"noise_scale must be within 0..2, got {self.noise_scale!r}")

    def pulls_contacts(self, mode: str, explicit: bool) -> bool:
        """Whether planned contacts are pulled together in ``mode``: ``contact_guidance`` is
        above 0 and either the caller set it (``explicit``: any mode) or the mode is one of
        ``contact_guidance_modes``."""
        return self.contact_guidance > 0 and (explicit or mode in self.contact_guidance_modes)
