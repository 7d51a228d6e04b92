"""InterHuman (InterGen) loader: two people, ``motions_processed`` 492-column files.

Layouts (docs/datasets.md has the full description):

    <root>/motions_processed/person1/<id>.npy   (T, 492) float, 30 fps, Z up, metres
    <root>/motions_processed/person2/<id>.npy   same frames as person1
    <root>/annots/<id>.txt                      one caption per line
    <root>/split/{train,val,test}.txt           "split-folder" layout (the dataset download), or
    <root>/{train,val,test}.txt                 "split-root" layout (InterGen's DATA_ROOT)
    <root>/ignore_list.txt                      optional: ids InterGen skips

Columns of a row (InterGen's ``load_motion`` reads 0:66 and 186:312):

    0:186    positions of 62 joints x (x, y, z): SMPL-H's 52 joints (body 0-21, left hand 22-36,
             right hand 37-51, each hand index, middle, pinky, ring, thumb x 3) then the
             fingertips, left thumb, index, middle, ring, pinky (52-56) and right (57-61)
    186:492  6D rotations (two columns of the rotation matrix) of joints 1-51, 51 x 6:
             body joints 1-21 (186:312) then the 30 hand joints (312:492)

The files are Z up: InterGen's ``process_motion_np`` rotates them with (x, y, z) -> (x, z, -y)
before treating Y as up. Pass ``up_axis="y"`` for a copy that was re-exported Y up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dyad.conversions import smplx_to_body22_hands
from dyad.errors import MotionFileError
from dyad.motion import MotionRecord

from .layout import (
    ROTATION_SMPL_YUP_TO_DYAD, ROTATION_ZUP_TO_DYAD, SPLITS, DatasetLayout, layout_error,
    load_npy, make_record, read_caption_file, read_split_file,
)

NAME = "interhuman"
SOURCE_FPS = 30.0
NUM_COLUMNS = 492
NUM_JOINTS = 62
POSITION_COLUMNS = slice(0, NUM_JOINTS * 3)
ROT6D_COLUMNS = slice(NUM_JOINTS * 3, NUM_COLUMNS)
LOOKED_FOR = (
    "motions_processed/person1/<id>.npy + motions_processed/person2/<id>.npy with "
    "split/train.txt|val.txt|test.txt (split-folder layout)",
    "the same with train.txt|val.txt|test.txt at the root (split-root layout)",
)
OPTIONS = {
    "skeleton": ("body22+hands", ("body22+hands", "body22")),
    "up_axis": ("z", ("z", "y")),
    "canonical": (True, (True, False)),
}
AGENTS = ("A", "B")

# Rows of SMPL-X's joint layout that the 62 InterHuman joints occupy, so that
# dyad.conversions (written for SMPL-X) converts them: SMPL-H hands sit at 22-51 where SMPL-X
# has them at 25-54 (SMPL-X puts jaw and eyes at 22-24), tips go to SMPL-X's 66-75.
_SMPLX_ROW_OF_JOINT = np.concatenate([np.arange(22), np.arange(25, 55), np.arange(66, 76)])
_SMPLX_ROWS = 76


def detect(root: Path) -> DatasetLayout | None:
    """The InterHuman layout of ``root``; None if nothing of InterHuman is there.

    Raises:
        DatasetLayoutError: the motion folders are there but a person folder or every split
            file is missing.
    """
    root = Path(root)
    motions = root / "motions_processed"
    if not motions.is_dir():
        return None
    missing = [p for p in ("person1", "person2") if not (motions / p).is_dir()]
    if missing:
        raise layout_error(root, NAME, LOOKED_FOR,
                           f"motions_processed/ has no {' or '.join(missing)}/ folder")
    candidates = [("split-folder", root / "split"), ("split-root", root)]
    found = [(variant, folder) for variant, folder in candidates
             if any((folder / f"{s}.txt").is_file() for s in SPLITS)]
    if not found:
        raise layout_error(root, NAME, LOOKED_FOR, "no split file (train.txt, val.txt or "
                                                   "test.txt) in split/ or at the root")
    variant, split_dir = found[0]
    notes = ()
    if len(found) > 1:
        notes = ("split files exist both in split/ and at the root; using split/",)
    paths = {"motions": motions, "split_dir": split_dir, "annots": root / "annots",
             "ignore_list": root / "ignore_list.txt"}
    splits = tuple(s for s in SPLITS if (split_dir / f"{s}.txt").is_file())
    return DatasetLayout(NAME, variant, root, SOURCE_FPS, splits, paths, notes)


def clip_keys(layout: DatasetLayout, split: str, options: dict) -> tuple[list[str], list]:
    """Clip ids of ``split`` that have both person files, and (id, reason) of those skipped."""
    ids = read_split_file(layout.paths["split_dir"] / f"{split}.txt")
    ignored = set()
    if layout.paths["ignore_list"].is_file():
        ignored = set(read_split_file(layout.paths["ignore_list"]))
    keys, skipped = [], []
    motions = layout.paths["motions"]
    for clip_id in ids:
        if clip_id in ignored:
            skipped.append((clip_id, "listed in ignore_list.txt"))
        elif not (motions / "person1" / f"{clip_id}.npy").is_file():
            skipped.append((clip_id, f"no file {motions / 'person1' / (clip_id + '.npy')}"))
        elif not (motions / "person2" / f"{clip_id}.npy").is_file():
            skipped.append((clip_id, f"no file {motions / 'person2' / (clip_id + '.npy')}"))
        else:
            keys.append(clip_id)
    return keys, skipped


def read_positions(path: Path) -> np.ndarray:
    """(T, 62, 3) joint positions of one person file; MotionFileError names a bad file."""
    data = load_npy(path)
    if data.ndim != 2 or data.shape[1] != NUM_COLUMNS:
        raise MotionFileError(path, f"expected InterGen's processed layout (T, {NUM_COLUMNS}), "
                                    f"got shape {data.shape}")
    if data.shape[0] == 0:
        raise MotionFileError(path, "no frames")
    return data[:, POSITION_COLUMNS].reshape(-1, NUM_JOINTS, 3).astype(np.float64)


def interhuman62_to_body22_hands(joints: np.ndarray) -> np.ndarray:
    """InterHuman's 62 joints (..., 62, 3) to body22+hands (..., 62, 3)."""
    smplx = np.full(joints.shape[:-2] + (_SMPLX_ROWS, 3), np.nan)
    smplx[..., _SMPLX_ROW_OF_JOINT, :] = joints
    return smplx_to_body22_hands(smplx)


def load_clip(layout: DatasetLayout, split: str, clip_id: str, options: dict) -> MotionRecord:
    """One InterHuman clip as a duet record (agents A = person1, B = person2)."""
    motions = layout.paths["motions"]
    files = [motions / "person1" / f"{clip_id}.npy", motions / "person2" / f"{clip_id}.npy"]
    people = [read_positions(f) for f in files]
    if people[0].shape[0] != people[1].shape[0]:
        raise MotionFileError(files[1], f"has {people[1].shape[0]} frames but {files[0]} has "
                                        f"{people[0].shape[0]}; the two people must match")
    positions = np.stack(people, axis=1)
    if options["skeleton"] == "body22":
        positions = positions[:, :, :22]
    else:
        positions = interhuman62_to_body22_hands(positions)
    text_file = layout.paths["annots"] / f"{clip_id}.txt"
    captions = read_caption_file(text_file) if text_file.is_file() else []
    rotation = ROTATION_ZUP_TO_DYAD if options["up_axis"] == "z" else ROTATION_SMPL_YUP_TO_DYAD
    return make_record(
        positions, source_fps=SOURCE_FPS, rotation_to_dyad=rotation,
        skeleton=options["skeleton"], agents=AGENTS, where=str(files[0]),
        canonical=options["canonical"], text=captions[0] if captions else "", captions=captions,
        meta={"dataset": NAME, "clip_id": clip_id, "files": [str(f) for f in files],
              "text_file": str(text_file) if captions else None,
              "source_up_axis": options["up_axis"]},
        up_axis_hint="InterHuman files are Z up; pass up_axis='y' if this copy is Y up",
    )
