"""``dyad bench gate-pass``: share of synthetic clips that pass the sim gate after retargeting.

The integration check of the offline pipeline: for every label of each mode, N procedural clips
(``dyad data synth``'s clips: clip ``i`` of seed ``S`` is the same motion here and in a dataset
made with ``--seed S``) are retargeted onto the mode's default robots (duet: ``gr1_inspire``,
bimanual: the ``inspire`` pair) with :func:`~dyad.retarget.retarget_motion.retarget_motion`, then
checked with :func:`~dyad.sim.gate.validate`. Reported per label: clips, passes, pass rate and
the violation kinds (how many clips had each, and their worst measured value); per mode and
overall the same; per clip the kinds and times. ``--data DIR`` reads the first N clips of each
label from a dataset folder instead (its ``index.jsonl``; the folder is only read).

    dyad bench gate-pass --json [--modes duet bimanual] [--clips 2] [--seed 3]
                         [--labels clap handshake] [--data DIR] [--save DIR] [--time-scaling]

``--time-scaling`` retargets with ``RetargetConfig(time_scaling=thresholds.time_scaling_config())``:
the result is slowed where joints or meeting hands exceed the gate's speeds
(``retarget/time_scaling.py``); each clip then reports its frames before and after.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

NAME = "gate-pass"
DEFAULT_ROBOTS = {"duet": "gr1_inspire", "bimanual": "inspire"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench gate-pass``."""
    parser.add_argument("--modes", nargs="+", choices=sorted(DEFAULT_ROBOTS),
                        default=["duet", "bimanual"], help="modes (default: duet bimanual)")
    parser.add_argument("--clips", type=int, default=2,
                        help="clips per label (default 2)")
    parser.add_argument("--seed", type=int, default=3,
                        help="procedural seed, as dyad data synth --seed (default 3)")
    parser.add_argument("--labels", nargs="+", default=None,
                        help="only these labels (default: every label of each mode)")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="read clips from this dataset folder (one mode) instead of "
                             "generating them")
    parser.add_argument("--duet-robot", default=DEFAULT_ROBOTS["duet"],
                        help=f"robot for duet clips (default {DEFAULT_ROBOTS['duet']})")
    parser.add_argument("--bimanual-robot", default=DEFAULT_ROBOTS["bimanual"],
                        help=f"robot(s) for bimanual clips (default {DEFAULT_ROBOTS['bimanual']})")
    parser.add_argument("--thresholds", type=Path, default=None,
                        help="gate thresholds YAML merged over the defaults")
    parser.add_argument("--save", type=Path, default=None, metavar="DIR",
                        help="write each trajectory (.npz) and report (.json) here")
    parser.add_argument("--max-violations", type=int, default=3,
                        help="violations described per failing clip (default 3)")
    parser.add_argument("--time-scaling", action="store_true",
                        help="retarget with time scaling to the gate's joint and approach "
                             "speeds (RetargetConfig.time_scaling)")
    parser.add_argument("--approach-margin", type=float, default=0.75,
                        help="time scaling aims at this fraction of the gate's approach speed "
                             "(default 0.75)")
    parser.add_argument("--max-slowdown", type=float, default=None,
                        help="time scaling: most an interval may be stretched (default: "
                             "TimeScalingConfig's)")


def _clips(mode: str, args: argparse.Namespace):
    """(label, clip id, MotionRecord) for every clip of ``mode`` to check, label order."""
    import numpy as np

    from dyad.motion import MotionRecord
    from dyad.training.synth.dataset import clip_seed, read_index
    from dyad.training.synth.types import interactions

    labels = [t.label for t in interactions(mode)]
    if args.labels:
        labels = [lab for lab in labels if lab in set(args.labels)]
    if args.data is not None:
        rows = read_index(args.data)
        for label in labels:
            for row in [r for r in rows if r["label"] == label][:args.clips]:
                yield label, row["id"], MotionRecord.load(Path(args.data) / row["file"])
        return
    types = interactions(mode)
    for label in labels:
        k = [t.label for t in types].index(label)
        for n in range(args.clips):
            index = k + len(types) * n  # the dataset's round-robin: labels[index % len]
            generator_seed, _ = clip_seed(args.seed, index).spawn(2)
            record = types[k].generate(np.random.default_rng(generator_seed))
            record.label = record.label or label
            yield label, f"{mode}_{index:06d}", record


def _check_args(args: argparse.Namespace) -> None:
    from dyad.errors import DyadInputError
    from dyad.training.synth.types import BIMANUAL_LABELS, DUET_LABELS

    if args.clips < 1:
        raise DyadInputError(f"--clips must be at least 1, got {args.clips}")
    if args.labels:
        known = set(DUET_LABELS) | set(BIMANUAL_LABELS)
        unknown = sorted(set(args.labels) - known)
        if unknown:
            raise DyadInputError(f"unknown labels {unknown}; see docs/dataset.md for the "
                                 "labels of each mode")
    if args.data is not None and not (Path(args.data) / "dataset.json").is_file():
        raise DyadInputError(f"--data {args.data}: not a Dyad dataset (no dataset.json)")


def _summarise(clips: list[dict]) -> dict:
    """Clips, passes, pass rate and violation kinds of a group of clip results."""
    kinds: Counter = Counter()
    worst: dict[str, float] = {}
    for c in clips:
        for kind, figures in c["violations"].items():
            kinds[kind] += 1
            worst[kind] = max(worst.get(kind, 0.0), figures["worst_ratio"])
    passed = sum(c["passed"] for c in clips)
    return {
        "clips": len(clips),
        "passed": passed,
        "pass_rate": round(passed / len(clips), 4) if clips else None,
        # kind -> clips that had it; worst measured / limit over those clips
        "violation_clips": dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))),
        "worst_ratio": {k: round(v, 3) for k, v in sorted(worst.items())},
    }


def _clip_result(label: str, clip_id: str, traj, report, retarget_s: float, validate_s: float,
                 max_described: int) -> dict:
    kinds: dict[str, dict] = {}
    scaling = traj.meta.get("time_scaling") or {}
    for v in report.violations:
        # measured / limit says how far over; missed contacts are "under", so invert them
        if v.kind == "missed_contact":
            ratio = v.limit / max(v.measured, 1e-3)
        else:
            ratio = abs(v.measured) / v.limit if v.limit else float("inf")
        entry = kinds.setdefault(v.kind, {"count": 0, "worst_ratio": 0.0})
        entry["count"] += 1
        entry["worst_ratio"] = max(entry["worst_ratio"], round(float(ratio), 3))
    for kind, n in (report.summary.get("dropped_violations") or {}).items():
        kinds.setdefault(kind, {"count": 0, "worst_ratio": 0.0})["count"] += int(n)
    return {
        "label": label, "clip": clip_id, "passed": bool(report.passed),
        "violations": kinds,
        "described": [v.describe() for v in report.violations[:max_described]],
        "retarget_s": round(retarget_s, 3), "validate_s": round(validate_s, 3),
        "frames": traj.num_frames,
        # time scaling: frames before, and the largest stretch of a frame interval
        "frames_in": scaling.get("frames_in", traj.num_frames),
        "max_slowdown": scaling.get("max_slowdown", 1.0),
    }


def run(args: argparse.Namespace) -> dict:
    """Retarget and validate N clips per label of each mode; pass rates and violation kinds."""
    from dyad.retarget.retarget_motion import RetargetConfig, retarget_motion
    from dyad.sim.gate import validate
    from dyad.sim.thresholds import load_thresholds

    _check_args(args)
    thresholds = load_thresholds(args.thresholds)
    robots = {"duet": args.duet_robot, "bimanual": args.bimanual_robot}
    config = RetargetConfig()
    if args.time_scaling:
        options = {} if args.max_slowdown is None else {"max_slowdown": args.max_slowdown}
        config = RetargetConfig(time_scaling=thresholds.time_scaling_config(
            approach_margin=args.approach_margin, **options))
    if args.save is not None:
        Path(args.save).mkdir(parents=True, exist_ok=True)
    modes = list(args.modes)
    if args.data is not None:  # a dataset holds one mode
        from dyad.training.synth.dataset import read_description

        modes = [read_description(args.data)["mode"]]
    results: dict = {"modes": {}, "robots": {m: robots[m] for m in modes}}
    every: list[dict] = []
    for mode in modes:
        per_clip: list[dict] = []
        for label, clip_id, record in _clips(mode, args):
            t0 = time.perf_counter()
            traj = retarget_motion(record, robots[mode], config=config, progress=False)
            t1 = time.perf_counter()
            report = validate(traj, thresholds)
            t2 = time.perf_counter()
            result = _clip_result(label, clip_id, traj, report, t1 - t0, t2 - t1,
                                  args.max_violations)
            per_clip.append(result)
            if args.save is not None:
                traj.save(Path(args.save) / f"{clip_id}.npz")
                report.save(Path(args.save) / f"{clip_id}.json")
            print(f"{mode} {label} {clip_id}: {'pass' if result['passed'] else 'FAIL'} "
                  f"{sorted(result['violations'])}", flush=True)
        labels = {}
        for c in per_clip:
            labels.setdefault(c["label"], []).append(c)
        results["modes"][mode] = {
            **_summarise(per_clip),
            "labels": {lab: _summarise(cs) for lab, cs in labels.items()},
            "per_clip": per_clip,
        }
        every += per_clip
    results["overall"] = _summarise(every)
    return results


if __name__ == "__main__":
    import json
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args(sys.argv[1:])), indent=1))
