"""The one entry point to real datasets: ``detect_layout(root)`` and ``load_dataset(...)``.

``load_dataset`` checks the folder and lists the split's clips at once (a wrong folder fails
before any training starts), then reads each clip only when it is asked for, so a dataset of
thousands of clips costs no memory until iterated.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator, Sequence

from dyad.errors import DatasetLayoutError, DyadInputError
from dyad.motion import MotionRecord

from . import handx, humanml3d, interhuman, interx
from .layout import DatasetLayout, check_options, check_split, folder_summary

LOADERS = {m.NAME: m for m in (interhuman, interx, handx, humanml3d)}
"""Dataset name -> loader module (``detect``, ``clip_keys``, ``load_clip``, ``OPTIONS``)."""


def detect_layout(root: str | Path, name: str | None = None) -> DatasetLayout:
    """Which dataset, in which documented layout, ``root`` holds.

    Args:
        root: the dataset folder.
        name: only try this loader (``interhuman``, ``interx``, ``handx``, ``humanml3d``).

    Raises:
        DatasetLayoutError: no loader recognises the folder; the message names the folder, what
            was looked for and what was found.
    """
    root = Path(root).expanduser()
    if name is not None and name not in LOADERS:
        raise DyadInputError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: dataset folder not found ({folder_summary(root)})")
    loaders = [LOADERS[name]] if name else list(LOADERS.values())
    partial: list[DatasetLayoutError] = []
    for loader in loaders:
        try:
            layout = loader.detect(root)
        except DatasetLayoutError as exc:
            partial.append(exc)
            continue
        if layout is not None:
            return layout
    if len(partial) == 1:
        raise partial[0]
    if partial:
        raise DatasetLayoutError("; ".join(str(e) for e in partial))
    looked_for = "; ".join(f"{m.NAME}: {' or '.join(m.LOOKED_FOR)}" for m in loaders)
    hint = _subfolder_hint(root, loaders)
    raise DatasetLayoutError(f"{root}: no known dataset layout; looked for {looked_for}; found "
                             f"{folder_summary(root)}{hint} (layouts: docs/datasets.md)")


def _subfolder_hint(root: Path, loaders: list, limit: int = 50) -> str:
    """' -- did you mean ...' when a direct subfolder holds a dataset (a common slip: passing
    the parent of the dataset folder)."""
    matches = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir())[:limit]:
        for loader in loaders:
            try:
                layout = loader.detect(sub)
            except DatasetLayoutError:
                continue
            if layout is not None:
                matches.append(f"{sub} ({layout.dataset})")
                break
    return f"; did you mean {' or '.join(matches)}?" if matches else ""


class DatasetClips(Sequence[MotionRecord]):
    """The clips of one split, read lazily: ``len``, indexing and iteration give
    :class:`MotionRecord` objects in Dyad's contract.

    Attributes:
        layout: the detected layout.
        split: the split name.
        keys: one key per record (clip id, or ``id@start-end`` for a HumanML3D caption span).
        skipped: (clip id, reason) for split entries that have no files.
        options: the loader options in force.
    """

    def __init__(self, layout: DatasetLayout, split: str, keys: list[str],
                 skipped: list[tuple[str, str]], options: dict):
        self.layout = layout
        self.split = split
        self.keys = list(keys)
        self.skipped = list(skipped)
        self.options = dict(options)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.load(k) for k in self.keys[index]]
        return self.load(self.keys[index])

    def __iter__(self) -> Iterator[MotionRecord]:
        for key in self.keys:
            yield self.load(key)

    def load(self, key: str) -> MotionRecord:
        """The record of one key; raises :class:`MotionFileError` naming a corrupt file."""
        # Looked up on each call (not stored) so the object pickles for spawned DataLoader
        # workers.
        return LOADERS[self.layout.dataset].load_clip(self.layout, self.split, key, self.options)

    def __repr__(self) -> str:
        return (f"DatasetClips({self.layout.dataset}/{self.layout.variant}, split={self.split!r}"
                f", {len(self)} clips, {len(self.skipped)} skipped)")


def load_dataset(name: str, root: str | Path, split: str = "train",
                 **options) -> DatasetClips:
    """The clips of one split of a dataset held locally, as Dyad motion records.

    Every record is in metres, Z up, X forward, 30 fps; duet datasets have agents ``A``, ``B``,
    HandX has ``left``, ``right``, HumanML3D has ``A`` with skeleton ``body22``.

    Args:
        name: ``interhuman``, ``interx``, ``handx`` or ``humanml3d``.
        root: the dataset folder (layouts in docs/datasets.md).
        split: ``train``, ``val`` or ``test`` (HandX: ``train``/``test``; HumanML3D also
            ``train_val``/``all``; Inter-X raw also ``all``).
        **options: per dataset: ``canonical`` (face agent A along +X at the origin, floor at
            z = 0; default True for bodies), ``skeleton`` (``body22+hands`` or ``body22``),
            InterHuman ``up_axis`` (``z``), Inter-X ``smplx_model`` (path of
            SMPLX_NEUTRAL.npz) and ``variant``, HumanML3D ``mirrored`` (keep ``M`` ids).

    Raises:
        DatasetLayoutError: the folder is not in a documented layout of ``name``, has no such
            split, or needs a body-model file that was not given.
        DyadInputError: unknown dataset or option.
    """
    if name not in LOADERS:
        raise DyadInputError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    loader = LOADERS[name]
    opts = check_options(name, options, loader.OPTIONS)
    layout = detect_layout(root, name)
    if hasattr(loader, "resolve_variant"):
        layout = loader.resolve_variant(layout, opts)
    check_split(layout, split)
    keys, skipped = loader.clip_keys(layout, split, opts)
    if skipped:
        examples = "; ".join(f"{k}: {why}" for k, why in skipped[:3])
        warnings.warn(f"{layout.root}: {len(skipped)} of {len(keys) + len(skipped)} {split} "
                      f"clips skipped (e.g. {examples}); see .skipped", stacklevel=2)
    if not keys:
        raise DatasetLayoutError(f"{layout.root}: split {split!r} of {name} lists no loadable "
                                 f"clip ({len(skipped)} listed without files)")
    return DatasetClips(layout, split, keys, skipped, opts)
