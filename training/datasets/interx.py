"""Inter-X loader: two people, SMPL-X, raw 120 fps release or processed 30 fps ``.h5`` files.

Layouts (docs/datasets.md has the full description), all SMPL-X's world frame, Y up, metres:

``raw`` (the Inter-X download, 120 fps):
    <root>/motions/<id>/P1.npz, P2.npz   root_orient (T, 3), pose_body (T, 63), pose_lhand
                                         (T, 45), pose_rhand (T, 45), trans (T, 3), betas,
                                         gender; optionally joints (T, N>=55, 3)
    <root>/splits/{train,val,test}.txt   (or the same files at the root)
    <root>/texts/<id>.txt                one caption per line
``params-h5`` (Inter-X's processed_data, 30 fps):
    <root>/motions/{train,val,test}.h5   one dataset per id, (T, 56, 6): P1 in columns 0:3,
                                         P2 in 3:6; rows 0-54 axis-angle of SMPL-X's 55 joints,
                                         row 55 the root translation
    <root>/texts_processed/<id>.txt      lines caption#tokens#0.0#0.0 (or texts/<id>.txt)
``joints-h5`` (InterMask's ``interx_preprocess.py`` output, 30 fps):
    <root>/motions/{split}_global.h5     (T, 55, 18): per person (P1 0:9, P2 9:18) SMPL-X
                                         joint positions (0:3), velocities (3:6), axis-angle
                                         (6:9)

Joint positions of ``raw`` and ``params-h5`` need the SMPL-X body model, which Dyad cannot ship:
pass ``smplx_model="/path/to/SMPLX_NEUTRAL.npz"``; ``joints-h5`` and raw files that carry a
``joints`` array need nothing. ``skeletons/<id>/P1.npy`` (64 OptiTrack joints) is not read: no
published joint names map it to SMPL.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np

from dyad.conversions import smplx_to_body22_hands
from dyad.errors import MotionFileError
from dyad.motion import MotionRecord

from .layout import (
    ROTATION_SMPL_YUP_TO_DYAD, SPLITS, BodyModelRequiredError, DatasetLayout, layout_error,
    make_record, read_caption_file, read_split_file,
)
from .smplx_joints import SMPLX_POSE_JOINTS, load_smplx_joint_model, smplx_joint_positions

NAME = "interx"
RAW_FPS = 120.0
PROCESSED_FPS = 30.0
VARIANTS = ("joints-h5", "params-h5", "raw")
LOOKED_FOR = (
    "motions/<id>/P1.npz + P2.npz with splits/train.txt|val.txt|test.txt (raw release)",
    "motions/train.h5|val.h5|test.h5 (processed release)",
    "motions/<split>_global.h5 (InterMask joints)",
)
OPTIONS = {
    "smplx_model": (None, None),
    "variant": (None, (None,) + VARIANTS),
    "skeleton": ("body22+hands", ("body22+hands", "body22")),
    "canonical": (True, (True, False)),
}
AGENTS = ("A", "B")
PEOPLE = ("P1", "P2")
_ID_PATTERN = re.compile(r"G(\d{3})T(\d{3})A(\d{3})R(\d{3})")
_GLOBAL_SUFFIX = "_global"


def _h5_splits(motions: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    joints, params = {}, {}
    for path in motions.glob("*.h5"):
        stem = path.stem
        if stem.endswith(_GLOBAL_SUFFIX):
            joints[stem[: -len(_GLOBAL_SUFFIX)]] = path
        else:
            params[stem] = path
    return joints, params


def detect(root: Path) -> DatasetLayout | None:
    """The Inter-X layout of ``root``; None if there is no ``motions/`` with Inter-X content.

    Raises:
        DatasetLayoutError: raw clip folders are there but no split file is.
    """
    root = Path(root)
    motions = root / "motions"
    if not motions.is_dir():
        if (root / "skeletons").is_dir():
            raise layout_error(root, NAME, LOOKED_FOR, "only skeletons/ (OptiTrack joints, not "
                                                       "read: no published mapping to SMPL "
                                                       "joints); unzip motions.zip beside it")
        return None
    joints_h5, params_h5 = _h5_splits(motions)
    raw = any((p / "P1.npz").is_file() for p in motions.iterdir() if p.is_dir())
    available = [v for v, ok in zip(VARIANTS, (joints_h5, params_h5, raw)) if ok]
    if not available:
        return None
    variant = available[0]
    paths: dict[str, Path] = {"motions": motions}
    for split, path in joints_h5.items():
        paths[f"joints-h5:{split}"] = path
    for split, path in params_h5.items():
        paths[f"params-h5:{split}"] = path
    if raw:
        split_dirs = [d for d in (root / "splits", root)
                      if any((d / f"{s}.txt").is_file() for s in SPLITS)]
        if split_dirs:
            for s in SPLITS + ("all",):
                if (split_dirs[0] / f"{s}.txt").is_file():
                    paths[f"raw:{s}"] = split_dirs[0] / f"{s}.txt"
        elif variant == "raw":
            raise layout_error(root, NAME, LOOKED_FOR, "motions/<id>/P1.npz found but no split "
                                                       "file in splits/ or at the root")
    texts = [root / "texts", root / "texts_processed"]
    paths["texts"] = next((t for t in texts if t.is_dir()), texts[0])
    splits = tuple(s for s in SPLITS + ("all",) if f"{variant}:{s}" in paths)
    notes = tuple(f"also present: {v} (choose with variant='{v}')" for v in available[1:])
    return DatasetLayout(NAME, variant, root, PROCESSED_FPS if variant != "raw" else RAW_FPS,
                         splits, paths, notes)


def resolve_variant(layout: DatasetLayout, options: dict) -> DatasetLayout:
    """The layout restricted to the variant the options ask for; checks that joint positions
    can be had (a model file or a joints-bearing variant)."""
    variant = options["variant"] or layout.variant
    splits = tuple(s for s in SPLITS + ("all",) if f"{variant}:{s}" in layout.paths)
    if not splits and variant != "raw":
        raise layout_error(layout.root, NAME, LOOKED_FOR, f"variant {variant!r} asked for but "
                                                          f"not present")
    if variant == "raw" and not any(p.is_dir() for p in layout.paths["motions"].iterdir()):
        raise layout_error(layout.root, NAME, LOOKED_FOR, "variant 'raw' asked for but "
                                                          "motions/ has no clip folders")
    return DatasetLayout(NAME, variant, layout.root,
                         RAW_FPS if variant == "raw" else PROCESSED_FPS, splits, layout.paths,
                         layout.notes)


def _model_required(layout: DatasetLayout, what: str) -> BodyModelRequiredError:
    return BodyModelRequiredError(
        f"{layout.root}: Inter-X {layout.variant} layout stores SMPL-X pose parameters "
        f"({what}); joint positions need the SMPL-X body model, which Dyad cannot ship "
        "(licence). Pass smplx_model='/path/to/SMPLX_NEUTRAL.npz' (smpl-x.is.tue.mpg.de), or "
        "load a joints-bearing variant: motions/<split>_global.h5 (InterMask's "
        "interx_preprocess.py) or raw P1.npz/P2.npz files with a 'joints' array")


def clip_keys(layout: DatasetLayout, split: str, options: dict) -> tuple[list[str], list]:
    """Clip ids of ``split`` and (id, reason) of those skipped; checks the model requirement."""
    variant = layout.variant
    if variant in ("joints-h5", "params-h5"):
        import h5py

        path = layout.paths[f"{variant}:{split}"]
        try:
            with h5py.File(path, "r") as f:
                keys = sorted(f.keys())
        except OSError as exc:
            raise MotionFileError(path, f"not a readable HDF5 file ({exc})") from None
        if variant == "params-h5" and options["smplx_model"] is None:
            raise _model_required(layout, f"{path.name}: (T, 56, 6) axis-angle")
        return keys, []
    motions = layout.paths["motions"]
    keys, skipped = [], []
    for clip_id in read_split_file(layout.paths[f"raw:{split}"]):
        missing = [p for p in PEOPLE if not (motions / clip_id / f"{p}.npz").is_file()]
        if missing:
            skipped.append((clip_id, f"no file {motions / clip_id / (missing[0] + '.npz')}"))
        else:
            keys.append(clip_id)
    if keys and options["smplx_model"] is None:
        first = motions / keys[0] / "P1.npz"
        if "joints" not in _npz_keys(first):
            raise _model_required(layout, f"{first} has no 'joints' array")
    return keys, skipped


def _npz_keys(path: Path) -> list[str]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return list(npz.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionFileError(path, f"not a readable .npz file ({type(exc).__name__}: {exc})") \
            from None


_models: dict[tuple[int, str], object] = {}


def _model(options: dict):
    # Keyed by process id: a model loaded before a DataLoader forks is reused, not shared.
    key = (os.getpid(), str(options["smplx_model"]))
    if key not in _models:
        _models[key] = load_smplx_joint_model(options["smplx_model"])
    return _models[key]


def _read_raw_person(path: Path, options: dict) -> tuple[np.ndarray, float]:
    """(T, N, 3) SMPL-X joints of one raw person file and its frame rate."""
    wanted = ("joints", "root_orient", "pose_body", "pose_lhand", "pose_rhand", "trans",
              "betas", "mocap_framerate")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: np.asarray(npz[k]) for k in wanted if k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionFileError(path, f"not a readable .npz file ({type(exc).__name__}: {exc})") \
            from None
    fps = float(data["mocap_framerate"]) if "mocap_framerate" in data else RAW_FPS
    if "joints" in data and options["smplx_model"] is None:
        joints = data["joints"].astype(np.float64)
        if joints.ndim != 3 or joints.shape[2] != 3 or joints.shape[1] < SMPLX_POSE_JOINTS:
            raise MotionFileError(path, f"joints: expected (T, N>={SMPLX_POSE_JOINTS}, 3) SMPL-X "
                                        f"joints, got {joints.shape}")
        return joints, fps
    needed = ("root_orient", "pose_body", "pose_lhand", "pose_rhand", "trans")
    missing = [k for k in needed if k not in data]
    if missing:
        raise MotionFileError(path, f"missing key(s) {', '.join(missing)}; Inter-X person files "
                                    f"hold {', '.join(needed)}")
    frames = data["trans"].shape[0]
    parts = {"root_orient": 1, "pose_body": 21, "pose_lhand": 15, "pose_rhand": 15}
    arrays = {}
    for key, count in parts.items():
        arr = data[key].astype(np.float64)
        if arr.size != frames * count * 3:
            raise MotionFileError(path, f"{key}: expected {frames} frames x {count * 3} values, "
                                        f"got shape {arr.shape}")
        arrays[key] = arr.reshape(frames, count, 3)
    face = np.zeros((frames, 3, 3))  # jaw and eyes: Inter-X's own preprocessing zeroes them
    rotvecs = np.concatenate([arrays["root_orient"], arrays["pose_body"], face,
                              arrays["pose_lhand"], arrays["pose_rhand"]], axis=1)
    betas = data.get("betas")
    joints = smplx_joint_positions(_model(options), rotvecs, data["trans"].reshape(frames, 3),
                                   None if betas is None else betas.reshape(-1))
    return joints, fps


def _read_h5(layout: DatasetLayout, split: str, clip_id: str, options: dict) -> np.ndarray:
    """(T, 2, 55, 3) joints of one clip of an h5 variant."""
    import h5py

    path = layout.paths[f"{layout.variant}:{split}"]
    where = f"{path}[{clip_id}]"
    try:
        with h5py.File(path, "r") as f:
            if clip_id not in f:
                raise MotionFileError(where, "no such clip in the file")
            data = np.asarray(f[clip_id][()], dtype=np.float64)
    except OSError as exc:
        raise MotionFileError(where, f"unreadable ({exc})") from None
    if layout.variant == "joints-h5":
        if data.ndim != 3 or data.shape[1:] != (SMPLX_POSE_JOINTS, 18):
            raise MotionFileError(where, f"expected InterMask's (T, 55, 18), got {data.shape}")
        return np.stack([data[:, :, 0:3], data[:, :, 9:12]], axis=1)
    if data.ndim != 3 or data.shape[1:] != (SMPLX_POSE_JOINTS + 1, 6):
        raise MotionFileError(where, f"expected Inter-X's processed (T, 56, 6), got {data.shape}")
    model = _model(options)
    people = [smplx_joint_positions(model, data[:, :55, c:c + 3], data[:, 55, c:c + 3])
              for c in (0, 3)]
    return np.stack(people, axis=1)


def _label(layout: DatasetLayout, clip_id: str) -> str:
    match = _ID_PATTERN.fullmatch(clip_id)
    actions = layout.root / "annots" / "action_setting.txt"
    if not match or not actions.is_file():
        return ""
    names = read_caption_file(actions)
    action = int(match.group(3))
    return names[action] if action < len(names) else ""


def load_clip(layout: DatasetLayout, split: str, clip_id: str, options: dict) -> MotionRecord:
    """One Inter-X clip as a duet record (agents A = P1, B = P2)."""
    if layout.variant == "raw":
        files = [layout.paths["motions"] / clip_id / f"{p}.npz" for p in PEOPLE]
        (j1, fps1), (j2, fps2) = (_read_raw_person(f, options) for f in files)
        if j1.shape[0] != j2.shape[0] or fps1 != fps2:
            raise MotionFileError(files[1], f"{j2.shape[0]} frames at {fps2:g} fps but "
                                            f"{files[0].name} has {j1.shape[0]} at {fps1:g}")
        joints, fps, sources = np.stack([j1, j2], axis=1), fps1, [str(f) for f in files]
    else:
        joints, fps = _read_h5(layout, split, clip_id, options), PROCESSED_FPS
        sources = [f"{layout.paths[f'{layout.variant}:{split}']}[{clip_id}]"]
    if options["skeleton"] == "body22":
        joints = joints[:, :, :22]
    else:
        joints = smplx_to_body22_hands(joints)
    text_file = layout.paths["texts"] / f"{clip_id}.txt"
    captions = read_caption_file(text_file) if text_file.is_file() else []
    return make_record(
        joints, source_fps=fps, rotation_to_dyad=ROTATION_SMPL_YUP_TO_DYAD,
        skeleton=options["skeleton"], agents=AGENTS, where=sources[0],
        canonical=options["canonical"], text=captions[0] if captions else "",
        captions=captions, label=_label(layout, clip_id),
        meta={"dataset": NAME, "variant": layout.variant, "clip_id": clip_id, "files": sources,
              "text_file": str(text_file) if captions else None},
        up_axis_hint="Inter-X SMPL-X data is Y up",
    )
