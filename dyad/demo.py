"""``dyad demo``: the README's main job, end to end on the default model and robot.

Today: synthesise a small dataset of each mode and render one clip of each to video. Each
stage that lands extends it (generate from text, retarget, validate, render the robot).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job: synthesise, generate and render a demo",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("out/demo"),
                   help="folder for everything the demo writes (default: out/demo)")
    p.add_argument("--clips", type=int, default=60, help="clips per mode to synthesise (default 60)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyad.motion import MotionRecord
    from dyad.sim.skeleton_render import render_motion
    from dyad.training.synth.dataset import synthesize_dataset

    out = Path(args.out)
    summary: dict = {"out": str(out)}
    for mode in ("duet", "bimanual"):
        data_dir = out / f"data-{mode}"
        print(f"[demo] synthesising {args.clips} {mode} clips into {data_dir}", file=sys.stderr)
        synthesize_dataset(mode, args.clips, args.seed, data_dir, overwrite=True)
        first = sorted((data_dir / "train").glob("*.npz"))[0]
        record = MotionRecord.load(first)
        video = render_motion(record, out / f"{mode}.mp4")
        summary[mode] = {"dataset": str(data_dir), "clip": str(first), "text": record.text,
                         "video": str(video)}
        print(f"[demo] {mode}: \"{record.text}\" -> {video}", file=sys.stderr)
    print(json.dumps(summary, indent=2))
    return 0
