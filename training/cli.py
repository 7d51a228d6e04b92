"""``dyad data``: synthesise a captioned procedural dataset and inspect one.

    dyad data synth --mode duet --clips 5000 --seed 0 --out data/duet
    dyad data stats data/duet --json

Bad input (unknown mode, a non-positive clip count, an output folder that cannot be written
or is not empty, a folder that is not a Dyad dataset, a corrupt clip) exits with code 2 and
one line saying what and where.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dyad data`` and its subcommands ``synth`` and ``stats``."""
    data = sub.add_parser("data", help="synthesise and inspect training datasets",
                          description=__doc__,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    data.set_defaults(func=lambda args: _no_subcommand(data))
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    synth = dsub.add_parser(
        "synth", help="generate a captioned procedural dataset (train/val/test splits)",
        description="Generate procedural duet or bimanual clips, caption them from their "
                    "kinematic events and write them with a train/val/test split.")
    synth.add_argument("--mode", required=True, help="duet or bimanual")
    synth.add_argument("--clips", type=int, required=True, help="number of clips (>= 1)")
    synth.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--workers", type=int, default=None,
                       help="worker processes (default 2, at most the CPU count)")
    synth.add_argument("--overwrite", action="store_true",
                       help="replace an existing Dyad dataset at --out")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.add_argument("--json", action="store_true", help="print the summary as JSON")
    synth.set_defaults(func=run_synth)

    stats = dsub.add_parser("stats", help="count clips, labels, captions and bad values",
                            description="Read every clip of a dataset folder and report "
                                        "counts and checks.")
    stats.add_argument("path", type=Path, help="dataset folder (has dataset.json)")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=run_stats)


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_synth(args: argparse.Namespace) -> int:
    """``dyad data synth``."""
    from dyad.training.synth.dataset import synthesize_dataset

    summary = synthesize_dataset(args.mode, args.clips, args.seed, args.out,
                                 workers=args.workers, progress=not args.quiet,
                                 overwrite=args.overwrite)
    if args.json:
        print(json.dumps(summary.as_dict(), sort_keys=True))
    else:
        splits = ", ".join(f"{k} {v}" for k, v in summary.split_counts.items())
        print(f"{summary.clips} {summary.mode} clips ({splits}; {len(summary.label_counts)} "
              f"labels, {summary.duration_s / 60:.1f} min of motion) in {summary.out_dir} "
              f"[{summary.seconds:.1f} s, {summary.clips_per_minute:.0f} clips/min, "
              f"{summary.workers} worker(s)]")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    """``dyad data stats``."""
    from dyad.training.synth.dataset import dataset_stats

    stats = dataset_stats(args.path, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(stats, sort_keys=True))
        return 0
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        print(f"{key:<{width}}  {value}")
    return 0
