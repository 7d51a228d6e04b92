"""HandX loader: two hands (bimanual), joint positions with three texts per annotation.

Layout (docs/datasets.md has the full description):

    <root>/train_can_pos_all_wotextfeat.npz   one entry per clip (key = clip name)
    <root>/test_can_pos_all_wotextfeat.npz
    <root>/{train,test}_mano.npz              MANO parameters (not needed: positions are given)

Each entry is a pickled dict (HandX writes it with ``np.savez`` of dicts):

    motion                  (T, 2, 21, 3) float, hand 0 = left, 1 = right, metres, 30 fps
    left_annotation         list of N strings: what the left hand does
    right_annotation        list of N strings: what the right hand does
    interaction_annotation  list of N strings: how the two hands relate

Joints are in MANO-native / HandX order (wrist; index, middle, pinky, ring MCP-PIP-DIP; thumb
CMC-MCP-IP; tips thumb, index, middle, ring, pinky), converted with ``dyad.conversions``. The
frame is HandX's canonical one: X from the left hand toward the right, Y along the fingers, Z up.

Reading these files needs ``allow_pickle``: unpickling runs code stored in the file, so load
only HandX files from a source you trust. An entry may also be a plain numeric (T, 2, 21, 3)
array (no texts); that needs no unpickling of Python objects.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from dyad.conversions import mano_to_hand21
from dyad.errors import MotionFileError
from dyad.motion import MotionRecord

from .layout import ROTATION_HANDX_TO_DYAD, DatasetLayout, layout_error, make_record

NAME = "handx"
SOURCE_FPS = 30.0
SUFFIX = "_can_pos_all_wotextfeat.npz"
LOOKED_FOR = (f"train{SUFFIX} and/or test{SUFFIX} (HandX's data/handx/ folder)",)
OPTIONS: dict[str, tuple] = {}
AGENTS = ("left", "right")
_ANNOTATION_KEYS = ("left_annotation", "right_annotation", "interaction_annotation")


def detect(root: Path) -> DatasetLayout | None:
    """The HandX layout of ``root``; None if there is no ``*_can_pos_all_wotextfeat.npz``."""
    root = Path(root)
    if not root.is_dir():
        return None
    files = {p.name[: -len(SUFFIX)]: p for p in root.glob(f"*{SUFFIX}") if p.is_file()}
    if not files:
        mano = sorted(p.name for p in root.glob("*_mano.npz"))
        if mano:
            raise layout_error(root, NAME, LOOKED_FOR,
                               f"only MANO parameter files ({', '.join(mano)}); joint positions "
                               "come from the *_can_pos_all_wotextfeat.npz files")
        return None
    splits = tuple(sorted(files, key=lambda s: ("train", "val", "test").index(s)
                          if s in ("train", "val", "test") else 3))
    paths = {f"{s}_file": p for s, p in files.items()}
    return DatasetLayout(NAME, "can_pos_npz", root, SOURCE_FPS, splits, paths)


_open_files: dict[tuple[int, Path], np.lib.npyio.NpzFile] = {}


def _open(path: Path) -> np.lib.npyio.NpzFile:
    # One handle per process: a zip handle shared across a DataLoader's forked workers would
    # share its file offset.
    key = (os.getpid(), Path(path))
    if key in _open_files:
        return _open_files[key]
    try:
        _open_files[key] = np.load(path, allow_pickle=True)
        return _open_files[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionFileError(path, f"not a readable .npz file ({type(exc).__name__}: {exc})") \
            from None


def clip_keys(layout: DatasetLayout, split: str, options: dict) -> tuple[list[str], list]:
    """Clip names stored in the split's file (no clip is skipped)."""
    return list(_open(layout.paths[f"{split}_file"]).files), []


def _read_entry(path: Path, key: str) -> dict:
    where = f"{path}[{key}]"
    try:
        value = _open(path)[key]
    except KeyError:
        raise MotionFileError(where, "no such clip in the file") from None
    except Exception as exc:
        # Unpickling can fail with any exception type; report it against the entry.
        raise MotionFileError(where, f"unreadable entry ({type(exc).__name__}: {exc})") from None
    if value.dtype == object and value.shape == ():
        value = value.item()
    if isinstance(value, np.ndarray):
        return {"motion": value}
    if not isinstance(value, dict) or "motion" not in value:
        found = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise MotionFileError(where, f"expected a dict with 'motion' and annotation lists, "
                                     f"got {found}")
    return value


def load_clip(layout: DatasetLayout, split: str, key: str, options: dict) -> MotionRecord:
    """One HandX clip as a bimanual hand21 record (agents left, right)."""
    path = layout.paths[f"{split}_file"]
    where = f"{path}[{key}]"
    entry = _read_entry(path, key)
    motion = np.asarray(entry["motion"])
    if motion.ndim != 4 or motion.shape[1:] != (2, 21, 3) or motion.shape[0] == 0 \
            or not np.issubdtype(motion.dtype, np.number):
        raise MotionFileError(where, f"expected motion (T, 2, 21, 3) numbers, got "
                                     f"{motion.shape} of {motion.dtype}")
    annotations = [list(entry.get(k, [])) for k in _ANNOTATION_KEYS]
    counts = {len(a) for a in annotations}
    if len(counts) > 1:
        raise MotionFileError(where, "annotation lists differ in length: " + ", ".join(
            f"{k} {len(a)}" for k, a in zip(_ANNOTATION_KEYS, annotations)))
    left, right, both = ([str(t) for t in a] for a in annotations)
    return make_record(
        mano_to_hand21(motion.astype(np.float64)), source_fps=SOURCE_FPS,
        rotation_to_dyad=ROTATION_HANDX_TO_DYAD, skeleton="hand21", agents=AGENTS, where=where,
        canonical=False, text=both[0] if both else "", captions=both,
        agent_texts={a: t[0] for a, t in zip(AGENTS, (left, right)) if t},
        meta={"dataset": NAME, "clip_id": key, "files": [str(path)],
              "annotations": [{"left": l, "right": r, "two_hands_relation": b}
                              for l, r, b in zip(left, right, both)]},
    )
