"""What every Dyad training loop shares: device and ``torchrun`` set-up, seeds, the metrics
log (JSON lines) and its plot.

Distributed training uses ``torch.distributed`` as ``torchrun`` sets it up (``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT`` in the environment): NCCL on CUDA,
Gloo on CPU. Only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from dyad.errors import DyadInputError
from dyad.generator.device import resolve_device

# Drawing the metrics plot costs seconds on a busy CPU: at most this often, and at the end.
PLOT_EVERY_S = 300.0


@dataclass
class RunContext:
    """Where this process runs.

    Attributes:
        device: torch device of this process.
        rank: global rank (0 without ``torchrun``).
        world_size: number of processes.
        distributed: True when ``torch.distributed`` is initialised.
    """

    device: torch.device
    rank: int = 0
    world_size: int = 1
    distributed: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start_run(device: str = "auto") -> RunContext:
    """Resolve the device and, when ``WORLD_SIZE`` > 1, join the ``torchrun`` process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return RunContext(resolve_device(device))
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return RunContext(dev, rank=rank, world_size=world, distributed=True)


@contextmanager
def joined_run(device: str = "auto") -> Iterator[RunContext]:
    """:func:`start_run` for the block, then :func:`end_run` however the block ends."""
    ctx = start_run(device)
    try:
        yield ctx
    finally:
        end_run(ctx)


def set_up_process(ctx: RunContext, threads: int | str | None, seed: int) -> int | None:
    """CPU threads and seeds of this process of a run.

    Args:
        ctx: where the process runs.
        threads: see :func:`set_cpu_threads` (only applied on CPU, where the world's processes
            share the cores).
        seed: the run's seed; this process is seeded with ``seed + 1000 * rank`` so that ranks
            draw different examples.

    Returns:
        The CPU threads used, or None on a GPU.
    """
    used = set_cpu_threads(threads, ctx.world_size) if ctx.device.type == "cpu" else None
    seed_everything(seed + 1000 * ctx.rank)
    return used


def distributed_runner(objective: torch.nn.Module, ctx: RunContext) -> torch.nn.Module:
    """``objective`` wrapped in ``DistributedDataParallel`` when the run is distributed, else
    ``objective`` itself (unused parameters allowed: a step may not touch every mode's head)."""
    if not ctx.distributed:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        objective, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
        find_unused_parameters=True)


def end_run(ctx: RunContext) -> None:
    """Leave the process group (if any)."""
    if ctx.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def set_cpu_threads(threads: int | str | None, processes: int = 1) -> int:
    """Set torch's intra-op CPU threads and return the number used.

    ``auto`` leaves one thread per core that other processes are not already using (from the
    1-minute load average, at least one): on a shared machine, threads that compete for busy
    cores made training steps 7-15x slower than a single thread in our measurements.
    ``None`` keeps torch's default. With ``auto``, ``processes`` processes on this machine
    (``torchrun`` on CPU) share the free cores.
    """
    if threads is None:
        return torch.get_num_threads()
    cores = os.cpu_count() or 1
    if threads == "auto":
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
        count = max(1, min(cores, int(cores - busy + 0.5)) // max(processes, 1))
    else:
        try:
            count = int(threads)
        except (TypeError, ValueError):
            raise DyadInputError(f"--threads must be a number or auto, got {threads!r}") \
                from None
        if count < 1:
            raise DyadInputError(f"--threads must be at least 1, got {count}")
    torch.set_num_threads(count)
    return count


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Random states to store in a resumable checkpoint."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_resume_state(last_path: Path) -> dict:
    """What a run saved in ``last_path`` for ``--resume``.

    Raises:
        DyadInputError: ``last_path`` does not exist.
    """
    if not last_path.is_file():
        raise DyadInputError(f"--resume: {last_path} does not exist (nothing to resume)")
    return torch.load(last_path, map_location="cpu", weights_only=False)


def save_resume_state(state: dict, last_path: Path) -> None:
    """Write ``state`` to ``last_path`` through a temporary file, so that a run killed while
    saving leaves the previous state whole."""
    tmp = last_path.with_name(f".{last_path.name}.partial")
    torch.save(state, tmp)
    tmp.replace(last_path)


def progress_bar(show: bool, total: int, initial: int, desc: str):
    """A tqdm bar of training steps, or None when ``show`` is False (other ranks, tests)."""
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)


def warmup_cosine(step: int, total: int, warmup: int, floor: float = 0.1) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to ``floor`` at ``total``."""
    if step < warmup:
        return (step + 1) / max(warmup, 1)
    progress = min(1.0, (step - warmup) / max(total - warmup, 1))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class MetricsLog:
    """Append-only JSON-lines metrics file with a PNG plot beside it.

    Args:
        path: the ``.jsonl`` file; the plot is the same name with ``.png``.
        resume_step: when resuming, rows after this step (from a run that went further than its
            last checkpoint) are dropped.
    """

    def __init__(self, path: str | Path, resume_step: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))
        self._plotted_at = time.perf_counter()

    def write(self, row: dict) -> None:
        clean = {k: (float(v) if isinstance(v, (np.floating, torch.Tensor)) else v)
                 for k, v in row.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def plot_when_due(self, title: str, final: bool = False) -> None:
        """Draw the plot at the end of a run (``final``) or when the last one (or the log's
        creation) is more than ``PLOT_EVERY_S`` old."""
        if final or time.perf_counter() - self._plotted_at > PLOT_EVERY_S:
            self.plot(title)
            self._plotted_at = time.perf_counter()

    def plot(self, title: str = "") -> Path:
        """Draw the series against the step in up to four panels: totals, training terms,
        validation terms (log scale) and run state (learning rate on its own axis)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        out = self.path.with_suffix(".png")
        keys = sorted({k for r in rows for k, v in r.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and k not in ("step", "epoch", "time_s")})
        totals = [k for k in keys if k.endswith("loss")]
        val_terms = [k for k in keys if k.startswith("val/") and k not in totals]
        train_terms = [k for k in keys if "/" in k and k not in totals and k not in val_terms]
        state = [k for k in keys if k not in totals + val_terms + train_terms]
        panels = [(name, group) for name, group in
                  (("losses", totals), ("training terms", train_terms),
                   ("validation terms", val_terms), ("run", state)) if group]
        cols = 2 if len(panels) > 1 else 1
        rows_n = (len(panels) + cols - 1) // cols
        fig, axes = plt.subplots(rows_n, cols, figsize=(6.5 * cols, 4 * rows_n), squeeze=False)
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        for ax, (name, group) in zip(axes.flat, panels):
            lr_ax = None
            log = name != "run" and all(r[k] >= 0 for r in rows for k in group
                                        if isinstance(r.get(k), (int, float)))
            for k in group:
                pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float))
                       and (r[k] > 0 or not log)]
                if not pts:
                    continue
                xs, ys = zip(*pts)
                if k == "lr" and len(group) > 1:
                    lr_ax = ax.twinx()
                    lr_ax.plot(xs, ys, "k--", label="lr")
                    lr_ax.set_ylabel("learning rate")
                else:
                    ax.plot(xs, ys, label=k, marker="." if len(xs) < 3 else None)
            if log:
                ax.set_yscale("log")
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6, loc="best")
            if lr_ax is not None:
                lr_ax.legend(fontsize=6, loc="lower left")
        fig.suptitle(title or self.path.stem)
        fig.subplots_adjust(left=0.07, right=0.93, bottom=0.08, top=0.9, wspace=0.3,
                            hspace=0.35)
        fig.savefig(out, dpi=90)
        plt.close(fig)
        return out


def check_positive(name: str, value, integer: bool = True):
    """A positive number or :class:`DyadInputError` naming the option."""
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or value <= 0 or (not integer and not math.isfinite(value)):
        raise DyadInputError(f"{name} must be a positive {'integer' if integer else 'number'}, "
                             f"got {value!r}")
    return value
