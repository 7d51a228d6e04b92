"""Procedural datasets: generate, caption, split and write thousands of clips, reproducibly.

A dataset folder (docs/dataset.md)::

    OUT/
      dataset.json            written last: a folder without it is incomplete
      index.jsonl             one JSON object per clip, in clip order
      train/<mode>_<index:06d>.npz
      val/...
      test/...

Reproducibility: clip ``i`` of seed ``s`` is generated from ``SeedSequence(s, spawn_key=(i,))``
(the same stream ``SeedSequence(s).spawn(n)[i]`` gives), its split is a hash of ``(s, i)`` and
its label is ``labels[i % len(labels)]``: none depends on the number of workers or on how many
clips the run makes, so the same seed gives byte-identical files, and a larger run with the
same seed starts with the smaller run's clips.

The folder is built as a hidden sibling ``.OUT.partial-<pid>`` and renamed into place at the
end, so an interrupted run never leaves something that looks like a finished dataset.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dyad.errors import DyadInputError, MotionFileError
from dyad.motion import AGENTS, MODES, MotionRecord, read_npz

DATASET_FORMAT = "dyad-synth"
DATASET_VERSION = 1
SPLIT_FRACTIONS: tuple[tuple[str, float], ...] = (("train", 0.8), ("val", 0.1), ("test", 0.1))
SPLITS: tuple[str, ...] = tuple(s for s, _ in SPLIT_FRACTIONS)
IN_PROCESS_BELOW = 48
"""Runs smaller than this stay in one process: starting workers would cost more than it saves."""
DEFAULT_WORKERS = 2


def clip_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of clip ``index`` (independent of worker count and run length)."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(index,))


def split_of(seed: int, index: int) -> str:
    """``train``, ``val`` or ``test`` for clip ``index``: 80/10/10 by a hash of (seed, index)."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "little") / 2.0 ** 64
    acc = 0.0
    for name, fraction in SPLIT_FRACTIONS:
        acc += fraction
        if u < acc:
            return name
    return SPLIT_FRACTIONS[-1][0]


def clip_file(mode: str, split: str, index: int) -> str:
    """Relative path of a clip inside the dataset folder."""
    return f"{split}/{mode}_{index:06d}.npz"


def make_clip(interaction, index: int, seed: int, split: str) -> MotionRecord:
    """Generate, measure and caption one clip.

    Args:
        interaction: a registered :class:`~dyad.training.synth.types.InteractionType`.
        index: the clip's index in the dataset.
        seed: the dataset seed.
        split: ``train``, ``val`` or ``test`` (picks the caption book).

    Returns:
        The record with ``text``, ``captions``, ``agent_texts`` and ``meta`` filled.
    """
    from .captions import caption_clip
    from .events import extract_events

    generator_seed, caption_seed = clip_seed(seed, index).spawn(2)
    record = interaction.generate(np.random.default_rng(generator_seed))
    if record.mode != interaction.mode:
        raise RuntimeError(f"{interaction.mode}/{interaction.label} generator returned a "
                           f"{record.mode} clip (agents {record.agents})")
    record.label = record.label or interaction.label
    events = extract_events(record)
    caps = caption_clip(record, split, np.random.default_rng(caption_seed), events=events)
    record.text = caps.text
    record.captions = list(caps.captions)
    record.agent_texts = dict(caps.agent_texts)
    record.meta = {
        **record.meta,
        "index": index, "seed": seed, "split": split, "book": caps.book,
        "caption_levels": list(caps.levels), "inter_text": caps.inter_text,
        "kinematics": events.as_dict(),
    }
    return record


# Worker state: the interaction types of the mode being synthesised (filled per process).
_TYPES: dict[str, object] = {}


def _init_worker(mode: str) -> None:
    from .types import interactions

    _TYPES.clear()
    _TYPES.update({t.label: t for t in interactions(mode)})


def _write_clip(task: tuple) -> dict:
    mode, index, seed, label, split, folder = task
    try:
        record = make_clip(_TYPES[label], index, seed, split)
    except Exception as exc:  # a generator bug (even a bad record): say which clip
        raise RuntimeError(f"clip {index} ({mode}/{label}, seed {seed}) failed: "
                           f"{type(exc).__name__}: {exc}") from exc
    rel = clip_file(mode, split, index)
    record.save(Path(folder) / rel)  # DyadInputError naming the file if it cannot be written
    return {
        "id": f"{mode}_{index:06d}", "index": index, "split": split, "label": record.label,
        "caption": record.text, "captions": record.captions,
        "agent_texts": record.agent_texts, "inter_text": record.meta["inter_text"],
        "file": rel, "frames": record.num_frames, "fps": record.fps,
        "skeleton": record.skeleton, "contacts": len(record.contacts),
    }


class _NoBar:
    """Stands in for a progress bar when none is shown (tqdm would still start a thread)."""

    def update(self, n: int = 1) -> None:
        pass


@dataclass
class DatasetSummary:
    """What :func:`synthesize_dataset` made."""

    out_dir: Path
    mode: str
    seed: int
    clips: int
    label_counts: dict[str, int]
    split_counts: dict[str, int]
    frames_total: int
    duration_s: float
    workers: int
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def clips_per_minute(self) -> float:
        return 60.0 * self.clips / max(self.seconds, 1e-9)

    def as_dict(self) -> dict:
        return {"out": str(self.out_dir), "mode": self.mode, "seed": self.seed,
                "clips": self.clips, "labels": self.label_counts, "splits": self.split_counts,
                "frames_total": self.frames_total, "duration_s": round(self.duration_s, 3),
                "workers": self.workers, "seconds": round(self.seconds, 3),
                "clips_per_minute": round(self.clips_per_minute, 1), **self.extra}


def _is_dyad_dataset(path: Path) -> bool:
    return (path / "dataset.json").is_file() or (path / "index.jsonl").is_file()


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise DyadInputError(f"--out {out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise DyadInputError(f"--out {out_dir}: folder exists and is not empty; pass "
                                 "--overwrite to replace it")
        if not _is_dyad_dataset(out_dir):
            raise DyadInputError(f"--out {out_dir}: not empty and not a Dyad dataset (no "
                                 "dataset.json or index.jsonl); refusing to replace it")


def synthesize_dataset(mode: str, clips: int, seed: int, out_dir: str | Path,
                       workers: int | None = None, progress: bool = True,
                       overwrite: bool = False) -> DatasetSummary:
    """Generate ``clips`` captioned clips of ``mode`` into ``out_dir``.

    Args:
        mode: ``duet`` or ``bimanual``; the interaction types come from
            :func:`~dyad.training.synth.types.interactions`.
        clips: number of clips (>= 1). Labels go round-robin over the registered types.
        seed: dataset seed (>= 0); same seed, same files, byte for byte.
        out_dir: the dataset folder; must be absent or empty unless ``overwrite``.
        workers: processes (default 2, capped by the CPU count); runs under
            :data:`IN_PROCESS_BELOW` clips stay in-process.
        progress: show a progress bar on stderr.
        overwrite: replace an existing Dyad dataset at ``out_dir``.

    Raises:
        DyadInputError: bad mode, count, seed or worker number, or an output folder that
            cannot be written or must not be replaced.
    """
    from .types import interactions

    if mode not in MODES:
        raise DyadInputError(f"unknown mode {mode!r}; modes are {', '.join(MODES)}")
    if isinstance(clips, bool) or not isinstance(clips, (int, np.integer)) or clips < 1:
        raise DyadInputError(f"--clips must be a positive whole number, got {clips!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DyadInputError(f"--seed must be a whole number >= 0, got {seed!r}")
    if workers is not None and (not isinstance(workers, (int, np.integer)) or workers < 1):
        raise DyadInputError(f"--workers must be >= 1, got {workers!r}")
    clips, seed = int(clips), int(seed)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)

    types = interactions(mode)
    if not types:
        raise DyadInputError(f"no {mode} interaction types are registered")
    labels = [t.label for t in types]
    n_workers = min(workers or DEFAULT_WORKERS, os.cpu_count() or 1)
    if clips < IN_PROCESS_BELOW:
        n_workers = 1

    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        for split in SPLITS:
            (tmp / split).mkdir(parents=True)
    except OSError as exc:
        raise DyadInputError(f"--out {out_dir}: cannot create the dataset folder "
                             f"({exc.strerror or exc})") from None

    tasks = [(mode, i, seed, labels[i % len(labels)], split_of(seed, i), str(tmp))
             for i in range(clips)]
    label_counts: Counter = Counter()
    split_counts: Counter = Counter()
    frames_total = 0
    duration_s = 0.0
    first_row: dict | None = None
    started = time.perf_counter()
    finished = False
    try:
        from tqdm import tqdm

        with open(tmp / "index.jsonl", "w", encoding="utf-8") as index_file:
            if n_workers == 1:
                _init_worker(mode)
                rows = map(_write_clip, tasks)
                pool = None
            else:
                # fork: workers inherit the registry (and any types registered at run time);
                # a process already running threads (torch, a GUI) forks unsafely, so it
                # starts clean workers that register the types themselves.
                methods = multiprocessing.get_all_start_methods()
                single = not [t for t in threading.enumerate()
                              if t is not threading.main_thread()
                              and t.name != "tqdm_monitor"]  # tqdm's idle timer is harmless
                ctx = multiprocessing.get_context(
                    "fork" if "fork" in methods and single else
                    "forkserver" if "forkserver" in methods else "spawn")
                pool = ctx.Pool(n_workers, initializer=_init_worker, initargs=(mode,))
                chunk = max(1, min(32, clips // (n_workers * 8)))
                rows = pool.imap(_write_clip, tasks, chunksize=chunk)
            try:
                bar_context = tqdm(total=clips, desc=f"synth {mode}", unit="clip",
                                   file=sys.stderr, mininterval=0.5, dynamic_ncols=True) \
                    if progress else contextlib.nullcontext(_NoBar())
                with bar_context as bar:
                    for row in rows:
                        first_row = first_row or row
                        index_file.write(json.dumps(row, sort_keys=True, ensure_ascii=False)
                                         + "\n")
                        label_counts[row["label"]] += 1
                        split_counts[row["split"]] += 1
                        frames_total += row["frames"]
                        duration_s += row["frames"] / row["fps"]
                        bar.update(1)
            except BaseException:
                if pool is not None:
                    pool.terminate()
                    pool.join()
                raise
            if pool is not None:
                pool.close()
                pool.join()
        seconds = time.perf_counter() - started
        description = {
            "format": DATASET_FORMAT, "version": DATASET_VERSION, "mode": mode, "seed": seed,
            "clips": clips, "labels": labels,
            "label_counts": {lab: label_counts[lab] for lab in labels if label_counts[lab]},
            "split_counts": {s: split_counts[s] for s in SPLITS},
            "split_fractions": dict(SPLIT_FRACTIONS),
            "caption_books": {"train": "train", "val": "train", "test": "test"},
            "skeleton": first_row["skeleton"], "agents": list(AGENTS[mode]),
            "fps": first_row["fps"], "frames_total": frames_total,
            "duration_s": round(duration_s, 3), "files": "<split>/<mode>_<index:06d>.npz",
            "index": "index.jsonl",
        }
        from .captions import CAPTION_LEVELS

        description["caption_levels"] = list(CAPTION_LEVELS)
        # Written last (atomically): its presence marks a complete dataset.
        meta_tmp = tmp / ".dataset.json.partial"
        meta_tmp.write_text(json.dumps(description, indent=2, sort_keys=True) + "\n",
                            encoding="utf-8")
        meta_tmp.replace(tmp / "dataset.json")
        _move_into_place(tmp, out_dir, overwrite)
        finished = True
    except OSError as exc:
        raise DyadInputError(f"--out {out_dir}: cannot write the dataset "
                             f"({exc.strerror or exc})") from None
    finally:
        if not finished:
            shutil.rmtree(tmp, ignore_errors=True)
    return DatasetSummary(out_dir=out_dir, mode=mode, seed=seed, clips=clips,
                          label_counts=dict(description["label_counts"]),
                          split_counts=dict(description["split_counts"]),
                          frames_total=frames_total, duration_s=duration_s,
                          workers=n_workers, seconds=seconds)


def _move_into_place(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    """Rename the finished build to ``out_dir``, replacing an old dataset only at the end."""
    old = None
    if out_dir.exists():
        # Checked again: something may have appeared there while this run was working.
        _check_out_dir(out_dir, overwrite)
        if any(out_dir.iterdir()):
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
        else:
            out_dir.rmdir()
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# reading a dataset back


def read_description(path: str | Path) -> dict:
    """The ``dataset.json`` of a Dyad dataset folder.

    Raises:
        DyadInputError: the folder is missing, is incomplete (no ``dataset.json``), or its
            ``dataset.json`` is not a Dyad synthesis description.
    """
    path = Path(path)
    if not path.is_dir():
        raise DyadInputError(f"{path}: no such dataset folder")
    desc_path = path / "dataset.json"
    if not desc_path.is_file():
        hint = (" (it has index.jsonl: an interrupted or incomplete synthesis)"
                if (path / "index.jsonl").exists() else "")
        raise DyadInputError(f"{path}: not a Dyad dataset: no dataset.json{hint}")
    try:
        desc = json.loads(desc_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DyadInputError(f"{desc_path}: not valid JSON ({exc})") from None
    if not isinstance(desc, dict) or desc.get("format") != DATASET_FORMAT:
        raise DyadInputError(f"{desc_path}: not a Dyad dataset description (expected "
                             f"format {DATASET_FORMAT!r})")
    if desc.get("version", 0) > DATASET_VERSION:
        raise DyadInputError(f"{desc_path}: dataset version {desc.get('version')} is newer "
                             f"than this Dyad reads ({DATASET_VERSION})")
    return desc


def read_index(path: str | Path) -> list[dict]:
    """The rows of a dataset's ``index.jsonl``; errors name the file and line."""
    index_path = Path(path) / "index.jsonl"
    if not index_path.is_file():
        raise DyadInputError(f"{index_path}: missing (every Dyad dataset has one)")
    rows = []
    with open(index_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DyadInputError(f"{index_path}:{n}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "file" not in row or "split" not in row:
                raise DyadInputError(f"{index_path}:{n}: a row needs 'file' and 'split'")
            rows.append(row)
    return rows


def dataset_stats(path: str | Path, progress: bool = False) -> dict:
    """Counts and checks over every clip of a dataset folder (reads every clip file).

    Returns:
        A JSON-ready dict: ``clips``, ``labels`` (label -> count), ``splits``,
        ``captions_per_clip_min``/``_mean``, ``distinct_caption_fraction``, ``nonfinite``
        (non-finite joint values over all clips), ``frames_total``, ``duration_s``,
        ``frames_min``/``frames_max``, ``contact_clips``, ``repetitions_confirmed`` (share
        of clips whose designed repetition count one of the measured channels shows).

    Raises:
        DyadInputError: not a Dyad dataset, or an index that does not match it.
        MotionFileError: a clip file that is missing or unreadable (names the file).
    """
    from tqdm import tqdm

    path = Path(path)
    desc = read_description(path)
    rows = read_index(path)
    if len(rows) != desc.get("clips"):
        raise DyadInputError(f"{path / 'index.jsonl'}: {len(rows)} rows but dataset.json "
                             f"says {desc.get('clips')} clips")
    labels: Counter = Counter()
    splits: Counter = Counter()
    caption_counts, frames = [], []
    nonfinite = 0
    duration_s = 0.0
    contact_clips = 0
    agree = compared = 0
    distinct: set[str] = set()
    n_captions = 0
    for row in tqdm(rows, desc="stats", unit="clip", file=sys.stderr, disable=not progress):
        clip_path = path / row["file"]
        data = read_npz(clip_path, required=("joints", "fps", "skeleton", "agents"))
        joints = np.asarray(data["joints"])
        if joints.ndim != 4 or joints.shape[0] == 0:
            raise MotionFileError(clip_path, f"joints must be (T, agents, J, 3), got "
                                             f"{joints.shape}")
        try:
            fps = float(data["fps"])
        except (TypeError, ValueError):
            raise MotionFileError(clip_path, "fps is not a number") from None
        nonfinite += int(joints.size - np.count_nonzero(np.isfinite(joints)))
        frames.append(int(joints.shape[0]))
        duration_s += joints.shape[0] / fps if fps > 0 else 0.0
        caps = [str(c) for c in np.atleast_1d(data.get("captions", np.array([], dtype=str)))
                if str(c).strip()]
        caption_counts.append(len(caps))
        distinct.update(caps)
        n_captions += len(caps)
        labels[str(data.get("label", row.get("label", "")))] += 1
        splits[row["split"]] += 1
        if np.asarray(data.get("contact_frames", np.zeros((0, 2)))).reshape(-1, 2).shape[0]:
            contact_clips += 1
        try:
            meta = json.loads(str(data.get("meta_json", "{}")))
        except json.JSONDecodeError:
            raise MotionFileError(clip_path, "meta_json is not JSON") from None
        kin = meta.get("kinematics") or {}
        if isinstance(meta.get("repetitions"), (int, float)) and "repetitions" in kin:
            compared += 1
            n = int(meta["repetitions"])
            agree += int(n == kin["repetitions"] or n in (kin.get("cycles") or {}).values())
    n = len(rows)
    return {
        "path": str(path), "mode": desc.get("mode"), "seed": desc.get("seed"),
        "version": desc.get("version"), "clips": n,
        "labels": dict(sorted(labels.items())),
        "splits": {s: splits.get(s, 0) for s in SPLITS},
        "captions_per_clip_min": min(caption_counts) if caption_counts else 0,
        "captions_per_clip_mean": round(float(np.mean(caption_counts)), 3) if caption_counts
        else 0.0,
        "distinct_caption_fraction": round(len(distinct) / max(n_captions, 1), 4),
        "nonfinite": nonfinite, "frames_total": int(sum(frames)),
        "frames_min": min(frames) if frames else 0, "frames_max": max(frames) if frames else 0,
        "duration_s": round(duration_s, 3), "fps": desc.get("fps"),
        "contact_clips": contact_clips,
        "repetitions_confirmed": round(agree / compared, 4) if compared else None,
    }
