"""What every dataset loader shares: layout descriptions and errors, file reading, frame and
frame-rate conversion to Dyad's contract (metres, Z up, X forward, Y left, 30 fps).

The per-dataset modules (``interhuman``, ``interx``, ``handx``, ``humanml3d``) only say where
their files are and how their columns are laid out; everything that turns source arrays into a
:class:`~dyad.motion.MotionRecord` lives here so that every loader converts the same way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import numpy.typing as npt

from dyad.errors import DatasetLayoutError, DyadInputError, MotionFileError
from dyad.motion import MotionRecord
from dyad.skeletons import BODY22_NAMES

DYAD_FPS = 30.0
SPLITS = ("train", "val", "test")

# Source frame -> Dyad frame rotations, applied as ``points @ R.T``.
# SMPL-family Y-up data (HumanML3D, Inter-X): the body model faces +Z with its left along +X.
# Mapping forward +Z -> +X, left +X -> +Y and up +Y -> +Z is a proper rotation (a cyclic
# permutation of the axes), so a body that faced +Z faces +X afterwards.
ROTATION_SMPL_YUP_TO_DYAD = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
ROTATION_ZUP_TO_DYAD = np.eye(3)
# HandX canonical frame: X from the left hand toward the right hand, Y along the fingers (away
# from the wearer), Z up. Dyad: forward = HandX +Y, left = HandX -X.
ROTATION_HANDX_TO_DYAD = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])

_PELVIS, _L_HIP, _R_HIP = 0, 1, 2
_HEAD = BODY22_NAMES.index("head")
_L_SHOULDER, _R_SHOULDER = BODY22_NAMES.index("l_shoulder"), BODY22_NAMES.index("r_shoulder")
_FOLDER_LISTING_LIMIT = 12


class BodyModelRequiredError(DatasetLayoutError):
    """The folder holds body-model parameters, and joint positions need a body-model file that
    Dyad cannot ship (SMPL-X, MANO licences); the message says which file to pass."""


@dataclass(frozen=True)
class DatasetLayout:
    """A dataset folder recognised by one loader.

    Attributes:
        dataset: loader name (``interhuman``, ``interx``, ``handx``, ``humanml3d``).
        variant: which documented layout of that dataset (e.g. ``split-folder``).
        root: the dataset folder.
        source_fps: frame rate of the files as stored.
        splits: split names this folder can load.
        paths: named files and folders the loader reads (motion folder, split files, ...).
        notes: remarks for the user (e.g. a second layout that was also present).
    """

    dataset: str
    variant: str
    root: Path
    source_fps: float
    splits: tuple[str, ...]
    paths: dict[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: dataset, variant, folder, rate and splits."""
        return (f"{self.dataset} ({self.variant}) at {self.root}: {self.source_fps:g} fps, "
                f"splits {', '.join(self.splits) or 'none'}")


def folder_summary(root: Path, limit: int = _FOLDER_LISTING_LIMIT) -> str:
    """The first entries of a folder, folders marked with ``/``, for error messages."""
    root = Path(root)
    if not root.exists():
        return "the folder does not exist"
    if not root.is_dir():
        return "it is a file, not a folder"
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    if not entries:
        return "an empty folder"
    shown = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    more = f" and {len(entries) - limit} more" if len(entries) > limit else ""
    return ", ".join(shown) + more


def layout_error(root: Path, dataset: str, looked_for: Sequence[str], detail: str = "",
                 error: type[DatasetLayoutError] = DatasetLayoutError) -> DatasetLayoutError:
    """A :class:`DatasetLayoutError` naming the folder, what was looked for and what was found.

    Args:
        root: the dataset folder.
        dataset: loader name.
        looked_for: the documented layouts, one string each.
        detail: what exactly was missing or wrong, if more specific than the layouts.
        error: the error class (a subclass of DatasetLayoutError).
    """
    detail = f"{detail}; " if detail else ""
    return error(
        f"{root}: not in a known {dataset} layout: {detail}looked for "
        f"{' or '.join(looked_for)}; found {folder_summary(root)} (layouts: docs/datasets.md)"
    )


def read_split_file(path: Path) -> list[str]:
    """Clip ids of a split file, one per line; blank lines dropped, ``.npy`` suffixes removed."""
    text = read_text(path)
    ids = []
    for line in text.splitlines():
        clip_id = line.strip()
        if clip_id:
            ids.append(clip_id[:-4] if clip_id.endswith(".npy") else clip_id)
    return ids


def read_caption_file(path: Path) -> list[str]:
    """Captions of a text file, one per line. HumanML3D-style lines
    ``caption#tokens#start#end`` keep only the caption; blank lines are dropped."""
    captions = []
    for line in read_text(path).splitlines():
        caption = line.split("#", 1)[0].strip()
        if caption:
            captions.append(caption)
    return captions


def read_text(path: Path) -> str:
    """A UTF-8 text file; MotionFileError names a missing or undecodable file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MotionFileError(path, "no such file") from None
    except UnicodeDecodeError as exc:
        raise MotionFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise MotionFileError(path, f"cannot read ({exc.strerror or exc})") from None


def load_npy(path: Path) -> np.ndarray:
    """A numeric ``.npy`` array without pickles; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(path, "no such file")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise MotionFileError(path, f"not a readable .npy file ({type(exc).__name__}: {exc})") \
            from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
        raise MotionFileError(path, f"expected a numeric array, got {type(array).__name__} "
                                    f"of {getattr(array, 'dtype', '?')}")
    return array


def resample_to_fps(positions: npt.ArrayLike, source_fps: float,
                    target_fps: float = DYAD_FPS) -> np.ndarray:
    """Linearly resample a (T, ...) sequence from ``source_fps`` to ``target_fps``.

    Output frame k is the source at time k / target_fps, for every such time within the clip
    (0 to (T - 1) / source_fps), so an integer ratio keeps exactly every n-th source frame and
    the clip never grows past its last source frame.

    Args:
        positions: (T, ...) samples at ``source_fps``.
        source_fps: rate of ``positions``.
        target_fps: rate of the result.

    Returns:
        (floor((T - 1) * target_fps / source_fps) + 1, ...) samples.
    """
    x = np.asarray(positions, dtype=np.float64)
    if source_fps <= 0 or target_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {source_fps} -> {target_fps}")
    if source_fps == target_fps or len(x) < 2:
        return x.copy()
    duration_s = (len(x) - 1) / source_fps
    # The small epsilon keeps a last sample that lands on the end up to rounding.
    count = int(np.floor(duration_s * target_fps + 1e-6)) + 1
    src = np.minimum(np.arange(count) * (source_fps / target_fps), len(x) - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (src - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return (1.0 - w) * x[i0] + w * x[i1]


def heading_transform(joints_m: np.ndarray) -> np.ndarray:
    """4x4 transform (a rotation about Z and a translation) that puts the first agent's first
    frame facing +X with its pelvis above the origin, and the lowest joint of the clip on z = 0.

    Args:
        joints_m: (T, A, J, 3) body joints in metres, Z up, body22 order for the first 22.
    """
    first = joints_m[0, 0]
    across = (first[_R_HIP] - first[_L_HIP]) + (first[_R_SHOULDER] - first[_L_SHOULDER])
    left = -across
    left[2] = 0.0
    norm = np.linalg.norm(left)
    if norm < 1e-9:
        yaw = 0.0  # degenerate pose (hips and shoulders stacked): keep the source heading
    else:
        forward = np.cross(left / norm, np.array([0.0, 0.0, 1.0]))
        yaw = float(np.arctan2(forward[1], forward[0]))
    c, s = np.cos(-yaw), np.sin(-yaw)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    rotated = joints_m @ rotation.T
    offset = np.array([-rotated[0, 0, _PELVIS, 0], -rotated[0, 0, _PELVIS, 1],
                       -rotated[..., 2].min()])
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = offset
    return transform


def warn_if_not_upright(joints_m: np.ndarray, where: str, hint: str) -> None:
    """Warn when every agent's pelvis-to-head direction is on average more than 60 degrees from
    +Z: the source up axis was probably not the documented one (a clip where everyone lies
    down the whole time also warns, which is why this only warns)."""
    spine = joints_m[:, :, _HEAD] - joints_m[:, :, _PELVIS]
    up = spine[..., 2] / np.maximum(np.linalg.norm(spine, axis=-1), 1e-9)
    mean_up = up.mean(axis=0)
    if (mean_up < 0.5).all():
        tilt_deg = np.degrees(np.arccos(np.clip(mean_up.max(), -1.0, 1.0)))
        warnings.warn(f"{where}: after conversion to Z up the pelvis-to-head direction is on "
                      f"average {tilt_deg:.0f} degrees from vertical; {hint}", stacklevel=3)


def make_record(positions_m: npt.ArrayLike, *, source_fps: float, rotation_to_dyad: np.ndarray,
                skeleton: str, agents: tuple[str, ...], where: str, canonical: bool,
                text: str = "", captions: Sequence[str] = (), agent_texts: dict | None = None,
                label: str = "", meta: dict | None = None, up_axis_hint: str = "") -> MotionRecord:
    """Convert source joint positions to a :class:`MotionRecord` in Dyad's contract.

    Rotates into Dyad's frame, resamples to 30 fps, optionally canonicalises the heading (body
    skeletons only), and records every applied transform in ``meta``.

    Args:
        positions_m: (T, A, J, 3) positions in metres in the source frame, in ``skeleton`` order.
        source_fps: rate of the source frames.
        rotation_to_dyad: (3, 3) rotation from the source frame to Dyad's frame.
        skeleton: Dyad skeleton name of the joints.
        agents: agent names, one per axis-1 entry.
        where: the source file(s), for messages.
        canonical: face the first agent +X at the origin with the floor at z = 0 (bodies only).
        text, captions, agent_texts, label: the record's texts.
        meta: source details to keep (clip id, files, ...).
        up_axis_hint: what to tell the user if the result looks upside down.
    """
    positions = np.asarray(positions_m, dtype=np.float64)
    if not np.isfinite(positions).all():
        f, a, j = np.argwhere(~np.isfinite(positions).all(axis=-1))[0]
        raise MotionFileError(where, "non-finite joint position in the source", frame=int(f),
                              agent=agents[a], joint=str(j))
    transform = np.eye(4)
    transform[:3, :3] = rotation_to_dyad
    joints = positions @ rotation_to_dyad.T
    if skeleton != "hand21":
        if canonical:
            heading = heading_transform(joints)
            joints = joints @ heading[:3, :3].T + heading[:3, 3]
            transform = heading @ transform
        warn_if_not_upright(joints, where, up_axis_hint or "check the dataset's up axis")
    joints = resample_to_fps(joints, source_fps, DYAD_FPS)
    info = dict(meta or {})
    info.update(source_fps=float(source_fps), source_frames=int(positions.shape[0]),
                transform_source_to_dyad=np.round(transform, 12).tolist())
    return MotionRecord(joints=joints.astype(np.float32), fps=DYAD_FPS, skeleton=skeleton,
                        agents=agents, text=text, captions=list(captions),
                        agent_texts=dict(agent_texts or {}), label=label, meta=info)


def check_options(dataset: str, options: dict, accepted: dict[str, tuple]) -> dict:
    """Validate loader options; an unknown name or a value outside its choices raises
    :class:`DyadInputError` listing what is accepted.

    Args:
        dataset: loader name, for the message.
        options: the caller's keyword options.
        accepted: option name -> (default, allowed values or None for any).
    """
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DyadInputError(f"{dataset} loader has no option {', '.join(unknown)}; options: "
                             f"{', '.join(sorted(accepted)) or 'none'}")
    out = {}
    for name, (default, allowed) in accepted.items():
        value = options.get(name, default)
        if allowed is not None and value not in allowed:
            raise DyadInputError(f"{dataset} option {name}={value!r}; expected one of "
                                 f"{', '.join(repr(a) for a in allowed)}")
        out[name] = value
    return out


def check_split(layout: DatasetLayout, split: str) -> None:
    """Raise :class:`DatasetLayoutError` if the folder has no files for ``split``."""
    if split not in layout.splits:
        raise DatasetLayoutError(
            f"{layout.root}: {layout.dataset} ({layout.variant}) has no split {split!r}; "
            f"splits found: {', '.join(layout.splits) or 'none'}")
