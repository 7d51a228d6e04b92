"""Runs of frames where a check fails: the frame ranges that violations report."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray, merge_gap: int = 0, min_length: int = 1) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges where ``mask`` is True.

    Args:
        mask: (T,) booleans.
        merge_gap: runs separated by at most this many False frames become one.
        min_length: runs shorter than this (after merging) are dropped.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    out: list[list[int]] = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        if out and s - out[-1][1] <= merge_gap:
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out if e - s >= min_length]
