"""``dyad bench synth``: procedural dataset synthesis speed, clips per minute per mode.

For each mode, a full :func:`~dyad.training.synth.dataset.synthesize_dataset` run (generation,
event extraction, captioning, writing ``.npz`` files, index and description) into a temporary
folder, timed end to end; then a per-stage breakdown (ms per clip for generate, events,
captions, save) measured in one process on a smaller sample. The target is 2,000 clips per
minute per mode on 2 CPU cores.

Run: ``dyad bench synth --json`` (or ``python -m dyad.bench.synth --json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

NAME = "synth"
HELP = "dataset synthesis: clips per minute per mode (generate, caption, write)"
TARGET_CLIPS_PER_MIN = 2000.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench synth``."""
    parser.add_argument("--clips", type=int, default=1000,
                        help="clips per mode in the timed run (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--modes", nargs="+", default=["duet", "bimanual"],
                        help="modes to time (default: duet bimanual)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--profile-clips", type=int, default=60,
                        help="clips per mode for the per-stage breakdown (default 60; 0: skip)")


def _stage_breakdown(mode: str, clips: int, seed: int, folder: Path) -> dict:
    """Mean ms per clip of each stage, one process, labels round-robin."""
    import numpy as np

    from dyad.training.synth.captions import caption_clip
    from dyad.training.synth.dataset import clip_seed, split_of
    from dyad.training.synth.events import extract_events
    from dyad.training.synth.types import interactions

    types = interactions(mode)
    totals = {"generate": 0.0, "events": 0.0, "captions": 0.0, "save": 0.0}
    frames = 0
    for i in range(clips):
        t = types[i % len(types)]
        gen_seed, cap_seed = clip_seed(seed, i).spawn(2)
        t0 = time.perf_counter()
        rec = t.generate(np.random.default_rng(gen_seed))
        t1 = time.perf_counter()
        ev = extract_events(rec)
        t2 = time.perf_counter()
        caps = caption_clip(rec, split_of(seed, i), np.random.default_rng(cap_seed), events=ev)
        rec.captions = list(caps.captions)
        t3 = time.perf_counter()
        rec.save(folder / f"{mode}_{i:06d}.npz")
        t4 = time.perf_counter()
        frames += rec.num_frames
        for key, dt in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            totals[key] += dt
    out = {k: round(1e3 * v / max(clips, 1), 3) for k, v in totals.items()}
    out["total"] = round(sum(out.values()), 3)
    out["mean_frames"] = round(frames / max(clips, 1), 1)
    return out


def run(args: argparse.Namespace) -> dict:
    """Time synthesis for each mode; returns a JSON-ready dict."""
    from dyad.errors import DyadInputError
    from dyad.training.synth.dataset import synthesize_dataset
    from dyad.training.synth.types import interactions

    if args.clips < 1:
        raise DyadInputError(f"--clips must be >= 1, got {args.clips}")
    result = {"bench": NAME, "cpu_count": os.cpu_count(), "workers": args.workers,
              "clips": args.clips, "target_clips_per_min": TARGET_CLIPS_PER_MIN, "modes": {}}
    for mode in args.modes:
        with tempfile.TemporaryDirectory(prefix=f"dyad-bench-synth-{mode}-") as tmp:
            summary = synthesize_dataset(mode, args.clips, args.seed, Path(tmp) / "data",
                                         workers=args.workers, progress=False)
            entry = {
                "labels": len(interactions(mode)), "clips": summary.clips,
                "workers": summary.workers, "seconds": round(summary.seconds, 3),
                "clips_per_min": round(summary.clips_per_minute, 1),
                "motion_minutes_per_min": round(summary.duration_s / max(summary.seconds, 1e-9),
                                                2),
                "meets_target": summary.clips_per_minute >= TARGET_CLIPS_PER_MIN,
            }
            if args.profile_clips > 0:
                stage_dir = Path(tmp) / "stages"
                stage_dir.mkdir()
                entry["stage_ms_per_clip"] = _stage_breakdown(mode, args.profile_clips,
                                                              args.seed, stage_dir)
        result["modes"][mode] = entry
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dyad.bench.synth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for mode, entry in result["modes"].items():
            print(f"{mode}: {entry['clips_per_min']:.0f} clips/min with {entry['workers']} "
                  f"worker(s) ({entry['clips']} clips in {entry['seconds']:.1f} s); stages "
                  f"{entry.get('stage_ms_per_clip', {})}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
