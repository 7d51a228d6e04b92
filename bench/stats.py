"""Timing statistics shared by the benchmarks: repeat a call, summarise the times.

Percentiles use numpy's default (linear interpolation between order statistics). Summaries
keep the unit of their input: pass milliseconds, get milliseconds.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import numpy.typing as npt


def timing_stats(samples: npt.ArrayLike) -> dict[str, float]:
    """Summary of repeated measurements, in the unit of ``samples``.

    Args:
        samples: one value per run (e.g. milliseconds per call), at least one, all finite.

    Returns:
        ``n``, ``mean``, ``std``, ``min``, ``median``, ``p50``, ``p95``, ``p99``, ``max``
        (``median`` and ``p50`` are the same number, under both names readers look for).
    """
    values = np.asarray(samples, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("timing_stats needs at least one sample, got none")
    if not np.isfinite(values).all():
        raise ValueError(f"timing_stats got a non-finite sample at index "
                         f"{int(np.flatnonzero(~np.isfinite(values))[0])}")
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "median": float(p50),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(values.max()),
    }


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> np.ndarray:
    """Seconds taken by each of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls.

    Args:
        fn: the call to time, without arguments (bind them with a lambda or functools.partial).
        repeats: timed calls, at least one.
        warmup: untimed calls first (caches, lazy imports, JIT).

    Returns:
        (repeats,) float64 seconds, in call order.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(max(0, warmup)):
        fn()
    seconds = np.empty(repeats, dtype=np.float64)
    clock = time.perf_counter
    for i in range(repeats):
        start = clock()
        fn()
        seconds[i] = clock() - start
    return seconds
