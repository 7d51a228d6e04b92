"""Running the chunk network with a chosen number of CPU threads.

The chunk network's matrices are small (tens of tokens), so intra-op threads mostly wait on
each other; on a busy 2-core machine two threads made sampling 10-40x slower than one in our
measurements (docs/generator.md). The sampler therefore runs with one thread by default and
restores the caller's setting afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def cpu_threads(count: int | None):
    """Use ``count`` intra-op threads inside the block (``None`` leaves them alone)."""
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
