"""The generator's Python API: text in, :class:`~dyad.motion.MotionChunk` out, as made.

>>> from dyad.generator.streaming import stream
>>> for chunk in stream("two people shake hands", seconds=4, seed=0):
...     consume(chunk.joints)   # (C, 2, J, 3) metres, world frame

The first frame of a motion puts the root (duet: person A's pelvis; bimanual: the midpoint of
the wrists) above the origin, and person A faces +X.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import torch

from dyad.errors import DyadInputError
from dyad.motion import ContactInterval, MotionChunk, MotionRecord, record_from_chunks

from .checkpoint import load_checkpoint
from .config import SamplingOptions
from .device import resolve_device
from .modes import MODE_SPECS, parse_mode
from .prompt import clean_agent_texts, clean_text
from .sampler import ChunkStream
from .text_conditioning import TextCondition, build_condition, collate_conditions
from .text_encoder import shared_text_encoder
from .threads import cpu_threads

MAX_SECONDS = 120.0
"""Longest motion one call makes; longer requests are refused as a likely mistake."""


@dataclass(frozen=True)
class Request:
    """A checked generation request.

    Attributes:
        text: cleaned overall text.
        agent_texts: cleaned per-agent texts.
        mode: resolved mode.
        mode_source: ``explicit``, ``agent texts`` or ``auto``.
        mode_scores: per-mode score from the selector (empty unless ``auto``).
        num_frames: frames to make.
        seed: the noise seed.
        options: sampling options.
        condition: encoded texts.
        contacts: the contacts the text plans (``contact_plan.py``), pulled together while
            sampling unless ``options.contact_guidance`` is 0.
    """

    text: str
    agent_texts: dict
    mode: str
    mode_source: str
    mode_scores: dict
    num_frames: int
    seed: int
    options: SamplingOptions
    condition: TextCondition
    contacts: tuple = ()


def check_seconds(seconds) -> float:
    """A sane duration in seconds, or :class:`DyadInputError`."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise DyadInputError(f"seconds must be a number, got {seconds!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise DyadInputError(f"seconds must be positive, got {seconds!r}")
    if value > MAX_SECONDS:
        raise DyadInputError(f"seconds {value:g} is more than the {MAX_SECONDS:g} s one call "
                             "makes; stream several calls for longer motion")
    return value


def _mode_of_agent_keys(keys) -> str | None:
    modes = {m for m, spec in MODE_SPECS.items() if set(keys) <= set(spec.text_roles)}
    if not keys:
        return None
    if not modes:
        raise DyadInputError(f"agent texts {sorted(keys)} fit no mode; duet takes A/B, "
                             "bimanual takes left/right, both take inter")
    return modes.pop() if len(modes) == 1 else None


class MotionGenerator:
    """A loaded generator (network, text encoder, mode selector) that streams motion.

    Args:
        checkpoint: checkpoint file; ``None`` for the packaged default.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        sampling: overrides of the checkpoint's default sampling options.
        cpu_threads: intra-op threads while sampling on a CPU (``None``: leave torch's
            setting); one is fastest for this small network (see ``threads.py``).
    """

    def __init__(self, checkpoint: str | Path | None = None, device: str = "auto",
                 sampling: SamplingOptions | None = None, cpu_threads: int | None = 1):
        self.device = resolve_device(device)
        self.cpu_threads = cpu_threads if self.device.type == "cpu" else None
        self.loaded = load_checkpoint(checkpoint, self.device)
        self.model = self.loaded.model
        self.sampling = sampling or self.loaded.sampling
        self.encoder = shared_text_encoder(self.device, self.model.config.max_text_tokens)

    @property
    def modes(self) -> tuple[str, ...]:
        return self.model.modes

    def warm_up(self) -> None:
        """Run the text encoder and one chunk of every mode once, so the first real request
        does not pay for lazy initialisation (allocator, kernels, tokenizer)."""
        for mode in self.modes:
            request = self.prepare("warm up", mode=mode, seconds=1.0 / self.model.config.fps,
                                   seed=0)
            for _ in self.stream_request(request):
                pass

    def prepare(self, text, mode: str = "auto", seconds: float = 4.0, seed: int | None = None,
                agent_texts: dict | None = None, steps: int | None = None,
                guidance: float | None = None, noise_scale: float | None = None,
                contact_guidance: float | None = None) -> Request:
        """Check every input and encode the texts; raises :class:`DyadInputError` on bad input."""
        with cpu_threads(self.cpu_threads):
            return self._prepare(text, mode, seconds, seed, agent_texts, steps, guidance,
                                 noise_scale, contact_guidance)

    def plan(self, text: str, mode: str) -> list:
        """The contacts a (clean) text plans in ``mode`` (``contact_plan.PlannedContact``);
        empty when the checkpoint has no contact planner or the text names no contact."""
        planner = self.loaded.planner
        if planner is None:
            return []
        return planner.contacts(self.encoder.encode(text).sentence, mode)

    def _prepare(self, text, mode, seconds, seed, agent_texts, steps, guidance,
                 noise_scale, contact_guidance) -> Request:
        mode = parse_mode(mode)
        text = clean_text(text)
        seconds = check_seconds(seconds)
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "little")
        elif not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2 ** 63:
            raise DyadInputError(f"seed must be an integer 0..2^63-1, got {seed!r}")
        options = self.sampling
        changes = {k: v for k, v in (("steps", steps), ("guidance", guidance),
                                     ("noise_scale", noise_scale),
                                     ("contact_guidance", contact_guidance)) if v is not None}
        if changes:
            options = replace(options, **changes)
        source, scores = "explicit", {}
        if mode == "auto":
            keyed = _mode_of_agent_keys(list(agent_texts or {}))
            if keyed is not None:
                mode, source = keyed, "agent texts"
            else:
                sentence = self.encoder.encode(text).sentence
                mode, scores = self.loaded.selector.select(sentence)
                source = "auto"
        if mode not in self.modes:
            raise DyadInputError(f"this generator serves {', '.join(self.modes)}, not {mode}")
        agent_texts = clean_agent_texts(agent_texts, mode)
        condition = build_condition(self.encoder, mode, text, agent_texts)
        frames = max(1, int(round(seconds * self.model.config.fps)))
        contacts = tuple(self.plan(text, mode)) \
            if options.pulls_contacts(mode, contact_guidance is not None) else ()
        return Request(text, agent_texts, mode, source, scores, frames, seed, options, condition,
                       contacts)

    def stream(self, text, mode: str = "auto", seconds: float = 4.0, seed: int | None = None,
               agent_texts: dict | None = None, **sampling) -> Iterator[MotionChunk]:
        """Check the request now, then yield its chunks one by one as they are made.

        Args:
            text: what the motion shows (str, or UTF-8 bytes).
            mode: ``auto`` (chosen from the text), ``duet`` or ``bimanual``.
            seconds: duration, 0 < seconds <= 120.
            seed: noise seed; the same seed, text and device give the same motion.
            agent_texts: optional per-agent texts (``A``/``B`` or ``left``/``right``) and
                ``inter`` (the relation between the agents).
            **sampling: ``steps``, ``guidance``, ``noise_scale`` or ``contact_guidance``
                overrides.
        """
        return self.stream_request(self.prepare(text, mode, seconds, seed, agent_texts,
                                                **sampling))

    def stream_request(self, request: Request) -> Iterator[MotionChunk]:
        """Chunks of a request from :meth:`prepare`."""
        spec = MODE_SPECS[request.mode]
        batch = collate_conditions([request.condition], self.model.config.max_text_tokens)
        generator = torch.Generator().manual_seed(request.seed)
        with cpu_threads(self.cpu_threads):
            chunks = ChunkStream(self.model, request.mode, batch, request.options, generator,
                                 [list(request.contacts)])
        fps = float(self.model.config.fps)

        def run() -> Iterator[MotionChunk]:
            start = 0
            frames = chunks.run(request.num_frames)
            for index in range(math.ceil(request.num_frames / self.model.config.chunk_frames)):
                with cpu_threads(self.cpu_threads):
                    world = next(frames)
                joints = world[0].cpu().numpy()
                start_next = start + joints.shape[0]
                yield MotionChunk(joints=joints, start_frame=start, fps=fps,
                                  skeleton=spec.skeleton, agents=spec.agents, index=index,
                                  is_last=start_next >= request.num_frames, text=request.text)
                start = start_next

        return run()

    def generate(self, text, mode: str = "auto", seconds: float = 4.0, seed: int | None = None,
                 agent_texts: dict | None = None, **sampling) -> MotionRecord:
        """The whole motion as one record (see :meth:`stream` for the arguments)."""
        request = self.prepare(text, mode, seconds, seed, agent_texts, **sampling)
        return self.record(request, list(self.stream_request(request)))

    def record(self, request: Request, chunks: list[MotionChunk]) -> MotionRecord:
        """Join the chunks of ``request`` into a record with its texts and settings.

        Its ``contacts`` are measured on the generated joints with the synthesiser's own
        contact detector (the rule that labels the training clips), so downstream stages (the
        retargeter's contact blending, the sim gate's expected contacts) treat a generated
        clap as a clap rather than as hands colliding. They are measurements, not predictions:
        a touch the model did not make is not listed.
        """
        from dyad.training.synth.events import detect_contacts

        record = record_from_chunks(
            chunks, text=request.text, agent_texts=dict(request.agent_texts),
            meta={"generator": {"checkpoint": str(self.loaded.path), "seed": request.seed,
                                "mode_source": request.mode_source,
                                "steps": request.options.steps,
                                "guidance": request.options.guidance,
                                "noise_scale": request.options.noise_scale,
                                "contact_guidance": request.options.contact_guidance,
                                "contact_plan": [c.name for c in request.contacts],
                                "contacts": "measured on the generated joints"}})
        record.contacts = [ContactInterval(c.agent_a, c.part_a, c.agent_b, c.part_b, c.start,
                                           c.end) for c in detect_contacts(record)]
        return record


_CACHE: dict[tuple, MotionGenerator] = {}
_CACHE_LOCK = threading.Lock()


def default_generator(checkpoint: str | Path | None = None, device: str = "auto"
                      ) -> MotionGenerator:
    """A process-wide :class:`MotionGenerator` per (checkpoint, device), loaded once."""
    key = (str(Path(checkpoint).resolve()) if checkpoint else None, str(resolve_device(device)))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = MotionGenerator(checkpoint, device)
        return _CACHE[key]


def stream(text, mode: str = "auto", seconds: float = 4.0, seed: int | None = None,
           agent_texts: dict | None = None, checkpoint: str | Path | None = None,
           device: str = "auto", **sampling) -> Iterator[MotionChunk]:
    """Stream motion for ``text``: bad input raises here, chunks come as they are made.

    See :meth:`MotionGenerator.stream` for the arguments; ``checkpoint`` and ``device`` pick the
    (cached) generator.
    """
    return default_generator(checkpoint, device).stream(text, mode, seconds, seed, agent_texts,
                                                        **sampling)


def generate(text, mode: str = "auto", seconds: float = 4.0, seed: int | None = None,
             agent_texts: dict | None = None, checkpoint: str | Path | None = None,
             device: str = "auto", **sampling) -> MotionRecord:
    """The whole motion for ``text`` as a :class:`~dyad.motion.MotionRecord`."""
    return default_generator(checkpoint, device).generate(text, mode, seconds, seed,
                                                          agent_texts, **sampling)
