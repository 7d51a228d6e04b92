"""Sim gate speed: real-time factor per scene on one core, CPU batch and MuJoCo Warp throughput.

Scenes (synthetic joint-space motion, built without IK): one Inspire hand waving its fingers,
two Inspire hands touching fingertips, one GR1 humanoid with Inspire hands standing and moving
its arms, two of them facing each other (duet). Each is validated whole (simulation + every
check) ``--repeats`` times after one warm-up; the real-time factor is motion seconds per wall
second (median over repeats) and, beside it, per CPU second of this process: on a shared
machine the wall clock counts other jobs' time on the core too, CPU time does not. The batch
part validates many hand trajectories with ``validate_batch`` on the CPU (``mujoco.rollout``
threads) and, where a GPU is present (or ``--warp-device cpu`` is asked for), on MuJoCo Warp.

Run: ``dyad bench validate --json`` (or ``python -m dyad.bench.cli validate``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

NAME = "validate"
HELP = "sim gate: real-time factor per scene (1 core), CPU batch and MuJoCo Warp throughput"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="motion length per scene in seconds (default 20)")
    parser.add_argument("--scenes", default="hand,two_hands,humanoid,duet",
                        help="comma-separated scenes to time (default all four)")
    parser.add_argument("--max-timestep", type=float, default=None,
                        help="override simulation.max_timestep_s (0.0167: 2 substeps per frame)")
    parser.add_argument("--contact-max-timestep", type=float, default=None,
                        help="override simulation.contact_max_timestep_s, the step of "
                             "trajectories that declare contacts (default 0.002)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed validations per scene; medians are reported (default 3)")
    parser.add_argument("--all-cores", action="store_true",
                        help="do not pin the per-scene timings to one core")
    parser.add_argument("--batch", type=int, default=32,
                        help="trajectories in the CPU batch (0 skips it; default 32)")
    parser.add_argument("--batch-seconds", type=float, default=5.0,
                        help="length of each batch trajectory (default 5 s)")
    parser.add_argument("--warp-device", default=None,
                        help="MuJoCo Warp device (default: cuda:0 when present, else skipped; "
                             "'cpu' forces Warp's slow CPU device)")
    parser.add_argument("--warp-batch", type=int, default=1024,
                        help="worlds in the MuJoCo Warp batch (default 1024)")


def _scene_trajectory(scene: str, seconds: float):
    from dyad.motion import ContactInterval
    from dyad.retarget.registry import load_robot
    from dyad.retarget.trajectory import RobotTrajectory
    from dyad.sim.scene import build_scene
    from dyad.sim.synthetic_trajectories import facing_hands, finger_wave, standing_humanoid

    fps = 30.0
    t = int(round(seconds * fps))
    if scene == "hand":
        robot = load_robot("inspire_right")
        return RobotTrajectory(finger_wave(robot, seconds), robot.joint_names, fps,
                               ((robot.name, robot.name),))
    if scene == "two_hands":
        left, right = load_robot("inspire_left"), load_robot("inspire_right")
        phase = np.arange(t) / fps
        gap = 0.007 + 0.05 * (0.5 + 0.5 * np.cos(2 * np.pi * phase / 4.0))  # touch every 4 s
        # One expected touch per 4 s period, on the frames the tips are within 1.5 mm.
        near = np.concatenate([[False], gap < 0.0085, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(near))
        contacts = [ContactInterval("left", "middle_tip", "right", "middle_tip", int(s), int(e))
                    for s, e in zip(edges[0::2], edges[1::2])]
        return facing_hands(left, right, gap, contacts=contacts, mode="fingertips")
    robot = load_robot("gr1_inspire")
    if scene == "humanoid":
        base = build_scene([(robot.name, robot)], fps).instances[0].default_base_pos
        columns, values = standing_humanoid(robot, seconds, base)
        return RobotTrajectory(values, tuple(columns), fps, ((robot.name, robot.name),))
    if scene == "duet":
        placed = build_scene([("A", robot), ("B", robot)], fps).instances
        blocks, columns = [], []
        for inst, yaw in zip(placed, (0.0, np.pi)):
            cols, vals = standing_humanoid(robot, seconds, inst.default_base_pos, yaw=yaw,
                                           prefix=f"{inst.name}/")
            columns += cols
            blocks.append(vals)
        return RobotTrajectory(np.concatenate(blocks, axis=1), tuple(columns), fps,
                               (("A", robot.name), ("B", robot.name)))
    raise ValueError(f"unknown scene {scene!r}; use hand, two_hands, humanoid, duet")


def _time_scene(scene: str, seconds: float, thresholds=None, repeats: int = 3) -> dict:
    from dyad.sim.gate import validate

    traj = _scene_trajectory(scene, seconds)
    validate(traj.slice(0, min(traj.num_frames, 30)), thresholds)  # warm-up: scene, caches
    duration = traj.num_frames / traj.fps
    walls, cpus, shares = [], [], []
    for _ in range(max(1, repeats)):
        w0, c0 = time.perf_counter(), time.process_time()
        report = validate(traj, thresholds)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        s = report.summary
        shares.append(s["sim_wall_s"] / (s["sim_wall_s"] + s["check_wall_s"]))
    wall, cpu = float(np.median(walls)), float(np.median(cpus))
    return {
        "frames": traj.num_frames, "dof": int(traj.qpos.shape[1]), "repeats": len(walls),
        "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
        "real_time_factor": round(duration / wall, 1),
        "real_time_factor_cpu": round(duration / cpu, 1),
        "real_time_factor_range": [round(duration / max(walls), 1),
                                   round(duration / min(walls), 1)],
        "sim_share": round(float(np.median(shares)), 3),
        "substeps_per_frame": s["substeps_per_frame"], "passed": report.passed,
        "violations": len(report.violations), "kinds": sorted(report.kinds()),
        "max_tracking_error_rad": round(s["max_tracking_error_rad"], 4),
    }


def _batch(n: int, seconds: float, backend, threads: int | None = None) -> dict:
    from dyad.retarget.registry import load_robot
    from dyad.retarget.trajectory import RobotTrajectory
    from dyad.sim.batch import validate_batch
    from dyad.sim.synthetic_trajectories import finger_wave

    robot = load_robot("inspire_right")
    trajs = [RobotTrajectory(finger_wave(robot, seconds, amplitude=0.1 + 0.3 * k / max(1, n)),
                             robot.joint_names, 30.0, ((robot.name, robot.name),))
             for k in range(n)]
    validate_batch(trajs[:2], backend=backend, check_threads=threads)  # warm-up / compile
    _, summary = validate_batch(trajs, backend=backend, check_threads=threads)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()}


def run(args: argparse.Namespace) -> dict:
    from dyad.sim.batch import CpuRolloutBackend
    from dyad.sim.thresholds import default_thresholds

    overrides = {key: value for key, value in (
        ("max_timestep_s", args.max_timestep),
        ("contact_max_timestep_s", args.contact_max_timestep)) if value}
    thresholds = default_thresholds().with_overrides({"simulation": overrides})
    results: dict = {"scenes": {}, **{key: thresholds["simulation"][key] for key in (
        "max_timestep_s", "contact_max_timestep_s")}}
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinned = not args.all_cores and len(cores) > 1
    if pinned:
        os.sched_setaffinity(0, {cores[0]})
    try:
        for scene in [s.strip() for s in args.scenes.split(",") if s.strip()]:
            results["scenes"][scene] = _time_scene(scene, args.seconds, thresholds,
                                                   args.repeats)
    finally:
        if pinned:
            os.sched_setaffinity(0, set(cores))
    results["scenes_on_one_core"] = pinned or len(cores) == 1
    if args.batch > 0:
        threads = len(cores) or os.cpu_count() or 1
        results["cpu_batch"] = _batch(args.batch, args.batch_seconds,
                                      CpuRolloutBackend(threads), threads)
        results["cpu_batch"]["threads"] = threads
    device = args.warp_device
    if device is None:
        try:
            import warp as wp

            wp.config.quiet = True
            wp.init()
            device = "cuda:0" if wp.is_cuda_available() else None
        except ImportError:
            device = None
    if device:
        from dyad.sim.warp_backend import WarpBackend

        n = args.warp_batch if device != "cpu" else min(args.warp_batch, 8)
        results["warp_batch"] = _batch(n, args.batch_seconds, WarpBackend(device))
        results["warp_batch"]["device"] = device
    else:
        results["warp_batch"] = "skipped: no CUDA device (use --warp-device cpu to force)"
    return results
