"""``dyad validate``: the sim gate on a robot trajectory file.

Exit codes: 0 the trajectory passed, 1 it failed (the violations are printed), 2 bad input
(unknown robot, joint names that do not match it, wrong rate or length, non-finite values: one
line on stderr, never a pass).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dyad validate`` to the ``dyad`` command."""
    p = subparsers.add_parser(
        "validate", help="simulate a robot trajectory (.npz) in MuJoCo: pass or fail, with reasons",
        description="Play a robot trajectory in MuJoCo under position servos and check joint "
                    "limits, velocities, accelerations, actuator forces, tracking, collisions "
                    "and expected contacts. Exit 0 on pass, 1 on fail, 2 on bad input.")
    p.add_argument("trajectory", metavar="TRAJ.npz", help="robot trajectory file")
    p.add_argument("--json", metavar="REPORT.json", default=None,
                   help="also write the ValidationReport as JSON")
    p.add_argument("--thresholds", metavar="FILE.yaml", default=None,
                   help="YAML merged over the packaged thresholds (sim/thresholds.yaml)")
    p.add_argument("--robot", metavar="NAME", default=None,
                   help="registry robot to check against instead of the file's (single robot)")
    p.add_argument("--max-lines", type=int, default=20,
                   help="violations printed (all are in --json; default 20)")
    p.add_argument("--quiet", action="store_true", help="print only PASS or FAIL")
    p.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """The ``dyad validate`` command."""
    from dyad.errors import DyadInputError
    from dyad.retarget.trajectory import RobotTrajectory
    from dyad.sim.gate import validate
    from dyad.sim.thresholds import load_thresholds

    path = Path(args.trajectory)
    if not path.is_file():
        raise DyadInputError(f"{path}: no such file")
    thresholds = load_thresholds(args.thresholds)
    traj = RobotTrajectory.load(path)
    if args.robot:
        if len(traj.instances) != 1:
            raise DyadInputError(f"{path}: --robot applies to single-robot trajectories")
        traj.instances = ((traj.instances[0][0], args.robot),)
    traj.source = traj.source or str(path)
    report = validate(traj, thresholds)
    if args.json:
        report.save(args.json)
    if args.quiet:
        print("PASS" if report.passed else "FAIL")
    else:
        print(report.describe(max_lines=args.max_lines))
        s = report.summary
        print(f"  {s['frames']} frames, {s['real_time_factor']:.0f}x real time, max tracking "
              f"error {s['max_tracking_error_rad']:.3f} rad, penetration on "
              f"{100 * s['penetration_duration_ratio']:.1f}% of frames")
    sys.stdout.flush()
    return 0 if report.passed else 1
