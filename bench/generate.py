"""``dyad bench generate``: text-to-motion speed: first-chunk latency, real-time factor, memory.

For each device (CPU, and CUDA when present) and mode: the latency from a new text to the
first chunk (text encoding, mode handling, context and sampling included; a different text
every run so the encoder's cache never helps), the same with a cached text, the real-time
factor of a long motion (seconds of motion made per second of wall time), and the peak memory
(process RSS on CPU, allocated CUDA memory on GPU). Targets on a 2-core CPU: first chunk
<= 200 ms, >= 10x real time; on one GPU: <= 30 ms, >= 300x.

Without a trained checkpoint (``--untrained``) the default architecture runs with random
weights: the speed is the same, the motion is not meaningful.

Run: ``dyad bench generate --json`` (add ``--untrained`` before a model is installed).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

NAME = "generate"
HELP = "text-to-motion speed: first-chunk latency, real-time factor, peak memory"
TARGETS = {"cpu": {"first_chunk_ms": 200.0, "realtime_factor": 10.0},
           "cuda": {"first_chunk_ms": 30.0, "realtime_factor": 300.0}}
TEXTS = {"duet": "two people shake hands and then wave goodbye",
         "bimanual": "the left hand claps against the right hand"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench generate``."""
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="generator checkpoint (default: the packaged model)")
    parser.add_argument("--untrained", action="store_true",
                        help="time the default architecture with random weights")
    parser.add_argument("--devices", nargs="+", default=None,
                        help="devices to time (default: cpu, and cuda when present)")
    parser.add_argument("--modes", nargs="+", default=["duet", "bimanual"])
    parser.add_argument("--runs", type=int, default=20,
                        help="first-chunk measurements per mode (default 20)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="length of the motion timed for the real-time factor (default 20)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="real-time-factor measurements per mode (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads while sampling (default 1, the generator's default)")
    parser.add_argument("--steps", type=int, default=None, help="flow steps per chunk")
    parser.add_argument("--guidance", type=float, default=None, help="guidance scale")


def _untrained_checkpoint(folder: Path) -> Path:
    import torch

    from dyad.generator.checkpoint import save_checkpoint
    from dyad.generator.config import ModelConfig, SamplingOptions
    from dyad.generator.mode_selector import build_mode_selector
    from dyad.generator.model import ChunkFlowModel
    from dyad.generator.text_encoder import shared_text_encoder

    torch.manual_seed(0)
    config = ModelConfig()
    model = ChunkFlowModel(config)
    with torch.no_grad():  # random, non-degenerate outputs (a fresh model outputs the mean)
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
        for mode in model.modes:
            f = getattr(model, f"feature_std_{mode}")
            f.fill_(0.05)
    selector = build_mode_selector(shared_text_encoder("cpu", config.max_text_tokens),
                                   {m: [] for m in model.modes})
    return save_checkpoint(folder / "untrained.pt", model, selector, SamplingOptions())


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1.0 / 1024 if sys.platform != "darwin" else 1.0 / (1024 * 1024)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _bench_device(device: str, checkpoint: Path | None, args) -> dict:
    import torch

    from dyad.bench.stats import timing_stats
    from dyad.generator.streaming import MotionGenerator

    gen = MotionGenerator(checkpoint, device=device, cpu_threads=args.threads)
    t0 = time.perf_counter()
    gen.warm_up()
    out = {"warm_up_s": round(time.perf_counter() - t0, 3),
           "parameters": sum(p.numel() for p in gen.model.parameters()),
           "config": gen.model.config.as_dict(), "checkpoint": str(gen.loaded.path),
           "sampling": {"steps": args.steps or gen.sampling.steps,
                        "guidance": args.guidance if args.guidance is not None
                        else gen.sampling.guidance},
           "cpu_threads": args.threads if device == "cpu" else None, "modes": {}}
    sampling = {k: v for k, v in (("steps", args.steps), ("guidance", args.guidance))
                if v is not None}
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    def first_chunk_ms(text: str, mode: str, seed: int) -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        chunk = next(iter(gen.stream(text, mode=mode, seconds=2.0, seed=seed, **sampling)))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        assert chunk.num_frames > 0
        return (time.perf_counter() - t) * 1000.0

    for mode in args.modes:
        base = TEXTS.get(mode, TEXTS["duet"])
        cold = [first_chunk_ms(f"{base}, take {i}", mode, i) for i in range(args.runs)]
        warm = [first_chunk_ms(base, mode, i) for i in range(args.runs)]
        rtf = []
        for r in range(args.repeats):
            t = time.perf_counter()
            frames = sum(c.num_frames for c in gen.stream(base, mode=mode, seconds=args.seconds,
                                                          seed=100 + r, **sampling))
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            rtf.append(frames / gen.model.config.fps / (time.perf_counter() - t))
        chunk_s = gen.model.config.chunk_frames / gen.model.config.fps
        res = {"first_chunk_ms": timing_stats(cold), "first_chunk_cached_text_ms":
               timing_stats(warm), "realtime_factor": timing_stats(rtf),
               "chunk_seconds": chunk_s,
               "per_chunk_ms": round(chunk_s / float(sorted(rtf)[len(rtf) // 2]) * 1000.0, 2)}
        target = TARGETS["cuda" if device.startswith("cuda") else "cpu"]
        res["meets_targets"] = {
            "first_chunk_ms_p50": res["first_chunk_ms"]["p50"] <= target["first_chunk_ms"],
            "realtime_factor_median": res["realtime_factor"]["median"]
            >= target["realtime_factor"]}
        out["modes"][mode] = res
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    if device.startswith("cuda"):
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
    return out


def run(args: argparse.Namespace) -> dict:
    """Time the generator on every device asked for."""
    import torch

    from dyad.errors import DyadInputError

    if args.runs < 1 or args.repeats < 1 or not args.seconds > 0:
        raise DyadInputError("--runs and --repeats must be >= 1 and --seconds > 0")
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = _untrained_checkpoint(Path(tmp)) if args.untrained else args.checkpoint
        results = {"untrained": bool(args.untrained), "targets": TARGETS, "devices": {}}
        for device in devices:
            results["devices"][device] = _bench_device(device, checkpoint, args)
    return results
