"""``dyad retarget MOTION.npz --robot NAME --out TRAJ.npz``: a motion file onto robots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _robot_argument(values: list[str]):
    """``--robot`` values -> what ``retarget_motion`` takes: one name, a list of hand robots,
    or a mapping agent -> robot (``A=gr1_inspire``)."""
    from dyad.errors import DyadInputError

    pairs = [v.split("=", 1) for v in values if "=" in v]
    plain = [v for v in values if "=" not in v]
    if pairs and plain:
        raise DyadInputError("--robot: give either robot names or AGENT=ROBOT pairs, not both")
    if pairs:
        mapping = {}
        for agent, robot in pairs:
            if not agent or not robot or agent in mapping:
                raise DyadInputError(f"--robot {agent}={robot}: expected AGENT=ROBOT once per "
                                     "agent")
            mapping[agent] = robot
        return mapping
    return plain[0] if len(plain) == 1 else plain


def _load(path: Path, hold_bad_frames: bool):
    """The motion record, and its raw joints when non-finite frames are to be held."""
    import numpy as np

    from dyad.errors import MotionFileError
    from dyad.motion import MotionRecord, read_npz

    try:
        return MotionRecord.load(path), None
    except MotionFileError as exc:
        if not (hold_bad_frames and exc.reason == "non-finite joint position"):
            raise
    # Check everything else with the bad frames zeroed, then retarget the raw joints.
    import tempfile

    joints = np.asarray(read_npz(path, required=("joints",))["joints"], dtype=np.float64)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    finite = np.isfinite(joints).all(axis=-1, keepdims=True)
    arrays["joints"] = np.where(finite, joints, 0.0).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="dyad-retarget-") as folder:
        checked = Path(folder) / path.name
        np.savez(checked, **arrays)
        try:
            record = MotionRecord.load(checked)
        except MotionFileError as exc:
            raise MotionFileError(path, exc.reason, exc.frame, exc.agent, exc.joint) from None
    return record, joints


def _summary(traj, out: Path, elapsed_s: float) -> dict:
    import numpy as np

    error = traj.error_m[np.isfinite(traj.error_m)]
    statuses, counts = np.unique(traj.status, return_counts=True)
    gaps = [g for g in traj.meta.get("min_clearance_m", []) if g is not None]
    return {
        "out": str(out),
        "robot": traj.robot,
        "instances": [list(i) for i in traj.instances],
        "frames": traj.num_frames,
        "fps": traj.fps,
        "columns": len(traj.joint_names),
        "status": {str(s): int(c) for s, c in zip(statuses, counts)},
        "error_mm": {
            "mean": round(float(error.mean()) * 1e3, 2) if len(error) else None,
            "p95": round(float(np.percentile(error, 95)) * 1e3, 2) if len(error) else None,
            "max": round(float(error.max()) * 1e3, 2) if len(error) else None,
        },
        "min_clearance_mm": round(min(gaps) * 1e3, 2) if gaps else None,
        "contacts": len(traj.contacts),
        "seconds": round(elapsed_s, 3),
        "solve_ms_per_frame": traj.meta.get("timing", {}).get("solve_ms_per_frame"),
    }


def _cmd_retarget(args: argparse.Namespace) -> int:
    import time

    from dyad.errors import DyadInputError

    from .cli import register_robot_configs
    from .retarget_motion import RetargetConfig, retarget_joints
    from .body_targets import TargetConfig

    register_robot_configs(args.robot_config)
    out = Path(args.out)
    if out.suffix != ".npz":
        raise DyadInputError(f"--out {out}: trajectory files end in .npz")
    if not out.parent.is_dir():
        raise DyadInputError(f"--out {out}: folder {out.parent} does not exist")
    motion_path = Path(args.motion)
    record, raw = _load(motion_path, args.hold_bad_frames)
    scaling = None
    if args.time_scaling:
        from dyad.sim.thresholds import default_thresholds

        scaling = default_thresholds().time_scaling_config()
    config = RetargetConfig(targets=TargetConfig(root_xy_scale=args.root_xy_scale),
                            time_scaling=scaling)
    started = time.perf_counter()
    traj = retarget_joints(
        record.joints if raw is None else raw, record.skeleton, record.agents,
        _robot_argument(args.robot), fps=record.fps, contacts=record.contacts, config=config,
        progress=False if args.no_progress else None, source=str(motion_path),
        meta={"text": record.text, "label": record.label})
    traj.save(out)
    summary = _summary(traj, out, time.perf_counter() - started)
    if args.json:
        print(json.dumps(summary))
    else:
        err = summary["error_mm"]
        status = ", ".join(f"{c} {s}" for s, c in summary["status"].items())
        instances = ", ".join(f"{i} ({r})" for i, r in summary["instances"])
        gap = summary["min_clearance_mm"]
        print(f"{motion_path} -> {out}\n"
              f"  robots     {instances}\n"
              f"  frames     {summary['frames']} at {summary['fps']:g} fps, "
              f"{summary['columns']} columns; {status}\n"
              f"  error      mean {err['mean']} mm, p95 {err['p95']} mm, max {err['max']} mm\n"
              f"  clearance  {'-' if gap is None else f'{gap} mm'} (smallest, hands/forearms/"
              f"trunk)\n"
              f"  time       {summary['seconds']} s, {summary['solve_ms_per_frame']} ms per "
              "frame solving")
    return 0


def register(subparsers) -> None:
    """Add the ``retarget`` subcommand to the ``dyad`` CLI."""
    from .cli import add_robot_config_option

    parser = subparsers.add_parser(
        "retarget", help="retarget a motion file onto robots",
        description="Retarget a motion file (.npz) onto registry robots and write a robot "
                    "trajectory (.npz) with per-frame error and status. A bimanual motion "
                    "goes to two hand robots (--robot inspire, or --robot inspire_left "
                    "--robot inspire_right) or to one humanoid's two hands (--robot "
                    "gr1_inspire); a duet motion to humanoids (--robot gr1_inspire, or "
                    "--robot A=gr1_inspire --robot B=g1).")
    parser.add_argument("motion", metavar="MOTION.npz", help="motion file (Dyad's format)")
    parser.add_argument("--robot", action="append", required=True, metavar="NAME",
                        help="robot name, hand family (inspire), or AGENT=NAME; repeatable "
                             "(dyad robots lists them)")
    parser.add_argument("--out", required=True, metavar="TRAJ.npz",
                        help="trajectory file to write")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--hold-bad-frames", action="store_true",
                        help="accept frames with non-finite joints and hold the last good pose "
                             "there (status 'held') instead of refusing the file")
    parser.add_argument("--root-xy-scale", type=float, default=1.0, metavar="S",
                        help="scale of the pelvis's horizontal motion (1 keeps where the "
                             "humans stand; default 1)")
    parser.add_argument("--time-scaling", action="store_true",
                        help="slow the trajectory down where joints or meeting hands are faster "
                             "than the sim gate's limits (the trajectory gets longer)")
    add_robot_config_option(parser)
    parser.set_defaults(func=_cmd_retarget)
