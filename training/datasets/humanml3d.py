"""HumanML3D loader: one person, ``new_joints`` positions with HumanML3D's captions.

Layout (docs/datasets.md has the full description):

    <root>/new_joints/<id>.npy        (T, 22, 3) float, SMPL body joint order, metres, Y up,
                                      20 fps, body facing +Z at frame 0
    <root>/texts/<id>.txt             lines "caption#tokens#start#end", start/end in seconds;
                                      0#0 (or nan) means the caption covers the whole clip
    <root>/{train,val,test}.txt       split files (also train_val.txt, all.txt)

A caption with a time span describes only that part of the clip; like HumanML3D's own loader,
each distinct span becomes its own record (key ``<id>@<start>-<end>``), and the whole clip is a
record only when at least one caption covers it. Ids starting with ``M`` are the mirrored copies
HumanML3D adds; ``mirrored=False`` leaves them out.
"""

from __future__ import annotations

import math
from pathlib import Path


from dyad.errors import MotionFileError
from dyad.motion import MotionRecord

from .layout import (
    ROTATION_SMPL_YUP_TO_DYAD, DatasetLayout, layout_error, load_npy, make_record,
    read_split_file, read_text,
)

NAME = "humanml3d"
SOURCE_FPS = 20.0
SPLIT_NAMES = ("train", "val", "test", "train_val", "all")
LOOKED_FOR = ("new_joints/<id>.npy with texts/<id>.txt and train.txt|val.txt|test.txt at the "
              "root",)
OPTIONS = {
    "canonical": (True, (True, False)),
    "mirrored": (True, (True, False)),
}
AGENTS = ("A",)


def detect(root: Path) -> DatasetLayout | None:
    """The HumanML3D layout of ``root``; None if there is no ``new_joints/`` folder.

    Raises:
        DatasetLayoutError: ``new_joints/`` is there but ``texts/`` or every split file is not.
    """
    root = Path(root)
    if not (root / "new_joints").is_dir():
        return None
    if not (root / "texts").is_dir():
        raise layout_error(root, NAME, LOOKED_FOR, "new_joints/ is there but texts/ is not")
    splits = tuple(s for s in SPLIT_NAMES if (root / f"{s}.txt").is_file())
    if not splits:
        raise layout_error(root, NAME, LOOKED_FOR, "no split file (train.txt, val.txt, "
                                                   "test.txt) at the root")
    paths = {"joints": root / "new_joints", "texts": root / "texts"}
    return DatasetLayout(NAME, "new_joints", root, SOURCE_FPS, splits, paths)


def parse_text_line(line: str, path: Path, line_number: int) -> tuple[str, float, float]:
    """(caption, start_s, end_s) of a ``caption#tokens#start#end`` line; 0, 0 = whole clip."""
    fields = line.split("#")
    if len(fields) < 4:
        raise MotionFileError(path, f"line {line_number} has {len(fields)} '#'-separated fields, "
                                    "expected caption#tokens#start#end")
    try:
        start_s, end_s = float(fields[2]), float(fields[3])
    except ValueError:
        raise MotionFileError(path, f"line {line_number}: start/end {fields[2]!r}, "
                                    f"{fields[3]!r} are not numbers") from None
    start_s = 0.0 if math.isnan(start_s) else start_s
    end_s = 0.0 if math.isnan(end_s) else end_s
    return fields[0].strip(), start_s, end_s


def read_captions(path: Path) -> dict[tuple[float, float], list[str]]:
    """Captions of a texts file grouped by (start_s, end_s); (0, 0) is the whole clip."""
    spans: dict[tuple[float, float], list[str]] = {}
    for n, line in enumerate(read_text(path).splitlines(), start=1):
        if line.strip():
            caption, start_s, end_s = parse_text_line(line, path, n)
            spans.setdefault((start_s, end_s), []).append(caption)
    return spans


def _key(clip_id: str, span: tuple[float, float]) -> str:
    return clip_id if span == (0.0, 0.0) else f"{clip_id}@{span[0]:g}-{span[1]:g}"


def clip_keys(layout: DatasetLayout, split: str, options: dict) -> tuple[list[str], list]:
    """Record keys of ``split`` (whole clips and captioned spans) and (id, reason) skipped."""
    keys, skipped = [], []
    for clip_id in read_split_file(layout.root / f"{split}.txt"):
        if not options["mirrored"] and clip_id.startswith("M"):
            continue
        joints_file = layout.paths["joints"] / f"{clip_id}.npy"
        text_file = layout.paths["texts"] / f"{clip_id}.txt"
        if not joints_file.is_file():
            skipped.append((clip_id, f"no file {joints_file}"))
        elif not text_file.is_file():
            skipped.append((clip_id, f"no file {text_file}"))
        else:
            keys += [_key(clip_id, span) for span in read_captions(text_file)]
    return keys, skipped


def _split_key(key: str) -> tuple[str, tuple[float, float]]:
    if "@" not in key:
        return key, (0.0, 0.0)
    clip_id, span = key.rsplit("@", 1)
    start, end = span.split("-", 1)
    return clip_id, (float(start), float(end))


def load_clip(layout: DatasetLayout, split: str, key: str, options: dict) -> MotionRecord:
    """One HumanML3D clip (or captioned span of one) as a single-agent body22 record."""
    clip_id, span = _split_key(key)
    joints_file = layout.paths["joints"] / f"{clip_id}.npy"
    text_file = layout.paths["texts"] / f"{clip_id}.txt"
    joints = load_npy(joints_file)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3) or joints.shape[0] == 0:
        raise MotionFileError(joints_file, f"expected HumanML3D new_joints (T, 22, 3), got "
                                           f"shape {joints.shape}")
    captions = read_captions(text_file).get(span, [])
    meta = {"dataset": NAME, "clip_id": clip_id, "files": [str(joints_file)],
            "text_file": str(text_file), "mirrored": clip_id.startswith("M")}
    if span != (0.0, 0.0):
        # HumanML3D's own loader cuts spans with int(seconds * 20).
        first, stop = int(span[0] * SOURCE_FPS), int(span[1] * SOURCE_FPS)
        joints = joints[first:stop]
        if len(joints) == 0:
            raise MotionFileError(text_file, f"caption span {span[0]:g}-{span[1]:g} s holds no "
                                             f"frames of {joints_file.name}")
        meta["span_s"] = [span[0], span[1]]
        meta["span_source_frames"] = [first, first + len(joints)]
    return make_record(
        joints[:, None], source_fps=SOURCE_FPS, rotation_to_dyad=ROTATION_SMPL_YUP_TO_DYAD,
        skeleton="body22", agents=AGENTS, where=str(joints_file),
        canonical=options["canonical"], text=captions[0] if captions else "",
        captions=captions, meta=meta,
        up_axis_hint="HumanML3D new_joints are Y up",
    )
