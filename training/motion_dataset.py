"""Synthesised (or converted) motion folders as training data for the generator and evaluator.

Folder layout (what ``dyad data synth`` writes): ``DATA_DIR/<split>/*.npz`` motion records
(dyad/motion.py), one clip each, all of one mode; ``index.jsonl`` and ``dataset.json`` may sit
beside them and are not needed here. Every clip supplies its overall ``text`` and alternative
``captions`` (a random one is used per sample) and optional per-agent texts.

:class:`ChunkWindowDataset` turns clips into training windows for the chunk model: each item is
``history_frames + chunks * chunk_frames`` consecutive frames: the history and the chunk to
predict, plus (``chunks=2``, for training on the model's own rollouts) the chunk after it.
Windows may end at the clip's last frame, so the end of every clip is a target too. With
probability ``first_chunk_prob`` the window starts ``history_frames`` before the clip, i.e. it
trains the first chunk of a motion, which has no history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dyad.errors import DatasetLayoutError, DyadInputError, MotionFileError
from dyad.motion import ContactInterval, MotionRecord

SPLITS = ("train", "val", "test")


@dataclass
class Clip:
    """One training clip.

    Attributes:
        joints: (T, 2, J, 3) float32 world positions in metres.
        mode: ``duet`` or ``bimanual``.
        texts: the overall text followed by alternative captions (distinct, non-empty).
        agent_texts: per-agent texts by agent name, plus ``inter`` (the synthesiser's
            ``meta["inter_text"]``: distance and contacts) when present; may be empty.
        name: file stem, for messages.
        label: interaction label, "" if none.
        contacts: labelled contact intervals.
    """

    joints: np.ndarray
    mode: str
    texts: tuple[str, ...]
    agent_texts: dict = field(default_factory=dict)
    name: str = ""
    label: str = ""
    contacts: list[ContactInterval] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])


def clip_from_record(record: MotionRecord, name: str = "") -> Clip:
    """A :class:`Clip` from a motion record; raises :class:`DatasetLayoutError` when the
    record is not a duet or bimanual clip or has no text."""
    mode = record.mode
    if mode not in ("duet", "bimanual"):
        raise DatasetLayoutError(f"{name}: agents {record.agents} are neither duet (A, B) "
                                 "nor bimanual (left, right)")
    texts = tuple(dict.fromkeys(t.strip() for t in [record.text, *record.captions]
                                if t and t.strip()))
    if not texts:
        raise DatasetLayoutError(f"{name}: clip has no text or captions")
    agent_texts = dict(record.agent_texts)
    inter = record.meta.get("inter_text") if isinstance(record.meta, dict) else None
    if isinstance(inter, str) and inter.strip():
        agent_texts["inter"] = inter.strip()
    return Clip(joints=np.ascontiguousarray(record.joints, dtype=np.float32), mode=mode,
                texts=texts, agent_texts=agent_texts, name=name,
                label=record.label, contacts=list(record.contacts))


def load_clips(data_dir: str | Path, split: str = "train", max_clips: int | None = None
               ) -> list[Clip]:
    """Every clip of ``DATA_DIR/<split>/*.npz`` in file-name order.

    Raises:
        DatasetLayoutError: the folder is missing or has no ``.npz`` files, or a clip is not
            usable; the message names the folder or file.
    """
    data_dir = Path(data_dir)
    folder = data_dir / split
    if not folder.is_dir():
        have = [s for s in SPLITS if (data_dir / s).is_dir()]
        raise DatasetLayoutError(f"{folder}: no such folder (expected DATA_DIR/<split>/*.npz "
                                 f"as written by 'dyad data synth'; found splits: "
                                 f"{', '.join(have) or 'none'})")
    files = sorted(folder.glob("*.npz"))
    if max_clips is not None:
        files = files[:max_clips]
    if not files:
        raise DatasetLayoutError(f"{folder}: no .npz motion files")
    clips = []
    for path in files:
        try:
            record = MotionRecord.load(path)
        except MotionFileError as exc:
            raise DatasetLayoutError(f"unusable clip: {exc}") from None
        clips.append(clip_from_record(record, name=str(path)))
    return clips


def load_folders(data_dirs: list[str | Path], split: str, max_clips: int | None = None
                 ) -> dict[str, list[Clip]]:
    """Clips of several folders grouped by mode."""
    by_mode: dict[str, list[Clip]] = {}
    for d in data_dirs:
        for clip in load_clips(d, split, max_clips):
            by_mode.setdefault(clip.mode, []).append(clip)
    return by_mode


def load_train_and_val(data_dirs: list[str | Path], max_clips: int | None = None
                       ) -> tuple[dict[str, list[Clip]], dict[str, list[Clip]]]:
    """Training and validation clips of several folders, each grouped by mode.

    Validation is optional: when a folder has no usable ``val`` split, the validation dict is
    empty (the training split must load).
    """
    train = load_folders(data_dirs, "train", max_clips)
    try:
        val = load_folders(data_dirs, "val", max_clips)
    except DyadInputError:
        val = {}
    return train, val


def all_texts(clips: list[Clip]) -> list[str]:
    """Every distinct text of the clips (captions and per-agent texts), sorted."""
    out = set()
    for c in clips:
        out.update(c.texts)
        out.update(t for t in c.agent_texts.values() if t)
    return sorted(out)


class ChunkWindowDataset(Dataset):
    """Training windows of one mode for the chunk model (see the module docstring).

    Items are dicts: ``frames`` (W, 2, J, 3) float32 world positions with
    ``W = history_frames + chunks * chunk_frames``; ``history_valid`` (bool; False for first-chunk
    windows, whose history frames are copies of frame 0); ``start_frame`` (clip frame of the
    first predicted frame); ``text``; ``agent_texts``.

    Args:
        clips: clips of one mode.
        history_frames, chunk_frames: the model's sizes.
        chunks: chunks after the history (1, or 2 for rollout training).
        first_chunk_prob: share of windows that train the first chunk of a motion.
        agent_text_prob: share of items that keep the clip's per-agent texts.
        samples_per_epoch: items per epoch (default: one per clip).
        seed: base seed; an item depends only on (seed, epoch, index).
    """

    def __init__(self, clips: list[Clip], history_frames: int, chunk_frames: int,
                 first_chunk_prob: float = 0.2, agent_text_prob: float = 0.5,
                 samples_per_epoch: int | None = None, seed: int = 0, chunks: int = 2):
        if not clips:
            raise DatasetLayoutError("no clips to train on")
        modes = {c.mode for c in clips}
        if len(modes) != 1:
            raise ValueError(f"a window dataset holds one mode, got {sorted(modes)}")
        self.clips = clips
        self.mode = modes.pop()
        self.history_frames, self.chunk_frames, self.chunks = history_frames, chunk_frames, chunks
        self.first_chunk_prob, self.agent_text_prob = first_chunk_prob, agent_text_prob
        self.samples_per_epoch = samples_per_epoch or len(clips)
        self.seed, self.epoch = seed, 0

    @property
    def window_frames(self) -> int:
        return self.history_frames + self.chunks * self.chunk_frames

    def set_epoch(self, epoch: int) -> None:
        """Change the windows drawn (call once per pass, like ``DistributedSampler``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        clip = self.clips[int(rng.integers(len(self.clips)))]
        h, w, t = self.history_frames, self.window_frames, clip.num_frames
        if rng.random() < self.first_chunk_prob:
            start = -h
        else:
            start = int(rng.integers(0, max(t - w, 0) + 1))
        rows = np.clip(np.arange(start, start + w), 0, t - 1)
        agent_texts = clip.agent_texts if rng.random() < self.agent_text_prob else {}
        return {"frames": clip.joints[rows], "history_valid": start >= 0,
                "start_frame": start + h, "text": clip.texts[int(rng.integers(len(clip.texts)))],
                "agent_texts": dict(agent_texts)}


def collate_windows(items: list[dict]) -> dict:
    """Stack window items; texts stay lists."""
    return {
        "frames": torch.from_numpy(np.stack([i["frames"] for i in items])),
        "history_valid": torch.tensor([i["history_valid"] for i in items], dtype=torch.bool),
        "start_frame": torch.tensor([i["start_frame"] for i in items], dtype=torch.long),
        "text": [i["text"] for i in items],
        "agent_texts": [i["agent_texts"] for i in items],
    }


class ClipDataset(Dataset):
    """Whole clips (cropped to ``max_frames`` from a random start) for the evaluator.

    Items: ``joints`` (T, 2, J, 3), ``length`` (frames before padding), ``text``, ``index``.
    """

    def __init__(self, clips: list[Clip], max_frames: int, seed: int = 0,
                 random_caption: bool = True):
        self.clips, self.max_frames, self.seed = clips, max_frames, seed
        self.random_caption, self.epoch = random_caption, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        clip = self.clips[index]
        start = int(rng.integers(0, max(clip.num_frames - self.max_frames, 0) + 1)) \
            if self.random_caption else 0
        joints = clip.joints[start:start + self.max_frames]
        text = clip.texts[int(rng.integers(len(clip.texts)))] if self.random_caption \
            else clip.texts[0]
        return {"joints": joints, "length": len(joints), "text": text, "index": index}


def collate_clips(items: list[dict]) -> dict:
    """Pad clips to the longest one by repeating the last frame; ``mask`` marks real frames."""
    longest = max(i["length"] for i in items)
    joints, mask = [], []
    for i in items:
        pad = longest - i["length"]
        j = i["joints"]
        joints.append(np.concatenate([j, np.repeat(j[-1:], pad, axis=0)]) if pad else j)
        mask.append(np.arange(longest) < i["length"])
    return {"joints": torch.from_numpy(np.stack(joints)), "mask": torch.from_numpy(np.stack(mask)),
            "length": torch.tensor([i["length"] for i in items]),
            "text": [i["text"] for i in items], "index": [i["index"] for i in items]}
