"""``dyad bench retarget-humanoid``: humanoid + both hands retargeting: ms/frame, errors, jerk.

For each humanoid (default ``gr1_inspire``: GR1 with two Inspire hands, 56 joints plus the
floating base) three workloads:

- ``bimanual``: procedural two-hand clips (``training/synth``, seeded) onto the humanoid: it
  stands, the waist and arms place both wrists and the fingers close (``follow_body=False``);
- ``duet``: procedural two-person clips onto two humanoids (floating base, legs, torso, arms,
  fingers; each robot keeps clear of the other);
- ``reachable``: random robot poses -> forward kinematics -> targets (points, pelvis, torso
  and wrist orientations) -> solve from a perturbed start -> error (accuracy apart from
  reachability; clearance off, since a random pose may touch itself).

Times are per robot and frame (one ``BodyIK.solve``: both hand solves, the body solve with its
clearance terms, and the error measurement), warm-started as ``retarget_motion`` runs them,
on one thread: wall (every pass), thread CPU, and the per-frame best over ``--repeats`` passes
(the solver is deterministic, so the best removes pauses other processes cause). The first
frame of a clip (a cold solve) is reported apart. The machine's load average is reported too:
on a shared machine wall times rise with it.

Run: ``dyad bench retarget-humanoid --json``.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

NAME = "retarget-humanoid"
TARGET_MS_PER_FRAME = 2.0
_BIMANUAL_LABELS = ("clap", "pinch", "rub_palms", "wave", "interlock_fingers", "count_on_fingers")
_DUET_LABELS = ("handshake", "high_five", "wave_to_each_other", "pat_on_shoulder", "hug",
                "walk_up_and_greet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench retarget-humanoid``."""
    from dyad.retarget.body_mapping import known_body_mappings

    parser.add_argument("--robots", nargs="+", default=["gr1_inspire"],
                        choices=known_body_mappings(), metavar="ROBOT",
                        help="humanoids to measure (default gr1_inspire; choices: "
                             f"{', '.join(known_body_mappings())})")
    parser.add_argument("--clips", type=int, default=4,
                        help="procedural clips per mode (default 4)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed passes over every clip (default 3)")
    parser.add_argument("--reachable-samples", type=int, default=30,
                        help="random reachable poses per robot (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="clip and pose seed (default 0)")


def _mm(values, digits: int = 2) -> dict:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)] * 1e3
    if v.size == 0:
        return {"mean": None, "p95": None, "max": None}
    return {"mean": round(float(v.mean()), digits),
            "p95": round(float(np.percentile(v, 95)), digits),
            "max": round(float(v.max()), digits)}


def _ms(values) -> dict:
    from dyad.bench.stats import timing_stats

    return {k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in timing_stats(values).items() if k != "median"}


def _clips(mode: str, count: int, seed: int):
    from dyad.training.synth.types import interactions

    found = {i.label: i for i in interactions(mode)}
    labels = [lab for lab in (_BIMANUAL_LABELS if mode == "bimanual" else _DUET_LABELS)
              if lab in found]
    return [found[labels[k % len(labels)]].generate(np.random.default_rng(seed + k))
            for k in range(count)]


def _mode(robot: str, mode: str, args) -> dict:
    """Time and score one mode: every clip ``repeats`` times through ``retarget_motion``."""
    from dyad.retarget.registry import load_robot
    from dyad.retarget.retarget_motion import retarget_motion

    clips = _clips(mode, args.clips, args.seed)
    walls, cpus, bests, colds = [], [], [], []
    errors, clamped, gaps, jerks, frames, labels = [], 0, [], [], 0, []
    joint_count = load_robot(robot).dof
    for clip in clips:
        passes = [retarget_motion(clip, robot, progress=False) for _ in range(args.repeats)]
        instances = len(passes[0].instances)
        wall = np.array([p.meta["timing"]["frame_ms"] for p in passes]) / instances
        cpu = np.array([p.meta["timing"]["frame_cpu_ms"] for p in passes]) / instances
        colds.append(float(wall[:, 0].mean()))
        walls.append(wall[:, 1:].ravel())
        cpus.append(cpu[:, 1:].ravel())
        bests.append(wall[:, 1:].min(axis=0))
        traj = passes[0]
        errors.append(traj.error_m)
        clamped += int((traj.status == "clamped").sum())
        frames += traj.num_frames
        gaps += [g for g in traj.meta["min_clearance_m"] if g is not None]
        # Jerk of the joint columns (not the root): finite third differences.
        cols = [i for i, n in enumerate(traj.joint_names) if "root_" not in n]
        jerks.append(np.abs(np.diff(traj.qpos[:, cols], 3, axis=0)).mean() * traj.fps ** 3)
        labels.append(clip.label)
    wall = np.concatenate(walls)
    return {
        "clips": labels,
        "frames": frames,
        "robots_per_frame": 2 if mode == "duet" else 1,
        "joints_per_robot": joint_count,
        "ms_per_robot_frame": _ms(wall),
        "cpu_ms_per_robot_frame": _ms(np.concatenate(cpus)),
        "best_of_repeats_ms_per_robot_frame": _ms(np.concatenate(bests)),
        "cold_first_frame_ms": round(float(np.mean(colds)), 3),
        "meets_2ms_target": bool(np.mean(np.concatenate(bests)) <= TARGET_MS_PER_FRAME),
        "keypoint_error_mm": _mm(np.concatenate(errors)),
        "clamped_fraction": round(clamped / max(frames, 1), 4),
        "min_clearance_mm": round(min(gaps) * 1e3, 2) if gaps else None,
        "jerk_joint_rad_s3": round(float(np.mean(jerks)), 1),
    }


def _reachable(robot_name: str, samples: int, seed: int) -> dict:
    """Random poses -> FK -> targets -> solve from a 0.15 rad perturbation."""
    from dyad.retarget.body_ik import BodyIK, BodyIKConfig
    from dyad.retarget.registry import load_robot

    ik = BodyIK(load_robot(robot_name),
                config=BodyIKConfig(clearance_weight=0.0, posture_weight=1e-9,
                                    first_frame_iterations=60))
    rng = np.random.default_rng(seed)
    points, rotations, iterations = [], [], []
    for _ in range(samples):
        q = ik.random_configuration(rng, spread_rad=0.5)
        ik.reset(ik.perturbed(q, rng, 0.15))
        ik.solve(ik.targets_of(q))
        points += list(ik.info.point_errors_m.values())
        rotations += list(ik.info.wrist_rotation_errors_rad.values())
        iterations.append(ik.info.iterations)
    return {"samples": samples, "point_error_mm": _mm(points, digits=4),
            "wrist_rotation_error_mrad": _mm(rotations, digits=3),
            "iterations_mean": round(float(np.mean(iterations)), 1)}


def run(args: argparse.Namespace) -> dict:
    """Measure every requested humanoid; see the module docstring."""
    from dyad.errors import DyadInputError

    if args.clips < 1 or args.repeats < 1 or args.reachable_samples < 0:
        raise DyadInputError("--clips and --repeats must be >= 1, --reachable-samples >= 0")
    results = {"target_ms_per_robot_frame": TARGET_MS_PER_FRAME,
               "load_average_1min": round(os.getloadavg()[0], 2), "robots": {}}
    for robot in args.robots:
        entry = {"bimanual": _mode(robot, "bimanual", args),
                 "duet": _mode(robot, "duet", args)}
        if args.reachable_samples:
            entry["reachable"] = _reachable(robot, args.reachable_samples, args.seed)
        results["robots"][robot] = entry
    results["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    return results


if __name__ == "__main__":
    import sys

    from dyad.cli import main

    sys.exit(main(["bench", NAME, *sys.argv[1:]]))
