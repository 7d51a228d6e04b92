"""``dyad demo``: the README's main job, end to end on the default model and robots.

For each prompt (a two-person one and a two-hand one):

1. generate human motion from the text with the default generator (streamed chunk by chunk);
2. retarget it onto the default robot (two GR1 humanoids with Inspire hands for ``duet``, a
   pair of Inspire hands for ``bimanual``) with Pinocchio IK, slowed where it is faster than
   the gate's joint and touch speed limits (``--no-time-scaling`` keeps the human's speed);
3. play it in the MuJoCo gate and write the verdict with its reasons;
4. render the human skeletons and the robots (violations in red) to mp4.

Everything lands in ``--out``; a JSON summary is printed on stdout. ``--ros`` then brings up
the ROS 2 node graph (``dyad up``) in a private network namespace and sends the two-hand prompt
on ``/dyad/command`` (the live graph drives robot hands; humanoids are retargeted offline).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_PROMPTS = (
    ("two people shake hands", "duet", "gr1_inspire"),
    ("clap both hands twice", "bimanual", "inspire"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job: text -> motion -> robot -> gate -> videos",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("out/demo"),
                   help="folder for everything the demo writes (default: out/demo)")
    p.add_argument("--duet-text", default=DEFAULT_PROMPTS[0][0],
                   help=f"two-person prompt (default: {DEFAULT_PROMPTS[0][0]!r})")
    p.add_argument("--bimanual-text", default=DEFAULT_PROMPTS[1][0],
                   help=f"two-hand prompt (default: {DEFAULT_PROMPTS[1][0]!r})")
    p.add_argument("--duet-robot", default=DEFAULT_PROMPTS[0][2],
                   help="robot for the duet (default gr1_inspire; see `dyad robots`)")
    p.add_argument("--bimanual-robot", default=DEFAULT_PROMPTS[1][2],
                   help="robot (or hand family) for the two hands (default inspire)")
    p.add_argument("--seconds", type=float, default=4.0, help="motion length (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="generator device: auto, cpu or cuda")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="generator checkpoint (default: the packaged default model)")
    p.add_argument("--no-video", action="store_true", help="skip the videos")
    p.add_argument("--no-time-scaling", action="store_true",
                   help="retarget at the human's speed instead of slowing down to the gate's "
                        "joint and touch speed limits")
    p.add_argument("--ros", action="store_true",
                   help="afterwards, run the ROS 2 graph (dyad up --private-network) on the "
                        "two-hand prompt; the live graph drives hands (humanoids: offline only)")
    p.set_defaults(func=run)


def run_prompt(text: str, mode: str, robot: str, out: Path, seconds: float, seed: int,
               device: str, video: bool, checkpoint: Path | None = None,
               time_scaling: bool = True) -> dict:
    """Generate, retarget, validate and (optionally) render one prompt; returns a summary."""
    from dyad.generator.streaming import default_generator
    from dyad.retarget.retarget_motion import RetargetConfig, retarget_motion
    from dyad.sim.robot_render import gate_recording
    from dyad.sim.thresholds import default_thresholds

    gen = default_generator(checkpoint, device=device)
    start = time.perf_counter()
    chunks, first_chunk_ms = [], None
    request = gen.prepare(text, mode=mode, seconds=seconds, seed=seed)
    for chunk in gen.stream_request(request):
        if first_chunk_ms is None:
            first_chunk_ms = (time.perf_counter() - start) * 1e3
        chunks.append(chunk)
    # The record carries the contacts measured on the generated joints, which the retargeter
    # blends and the gate expects (a clap's touch is then not a collision).
    motion = gen.record(request, chunks)
    generate_s = time.perf_counter() - start
    stem = out / mode
    motion_path = motion.save(stem.with_name(f"{mode}_motion.npz"))

    start = time.perf_counter()
    # Offline, the motion may be slowed to what the robot is allowed to do (a human clap is
    # faster than a robot hand should slam); the trajectory then gets longer.
    config = RetargetConfig(time_scaling=default_thresholds().time_scaling_config()
                            if time_scaling else None)
    traj = retarget_motion(motion, robot, config=config, progress=False)
    retarget_ms = (time.perf_counter() - start) * 1e3 / motion.num_frames
    traj_path = traj.save(stem.with_name(f"{mode}_robot.npz"))

    start = time.perf_counter()
    # One simulation gives both the verdict and the poses the robot video draws.
    report, recording = gate_recording(traj)
    validate_s = time.perf_counter() - start
    report_path = stem.with_name(f"{mode}_report.json")
    report_path.write_text(report.to_json())

    summary = {
        "text": text, "mode": mode, "robot": robot, "frames": motion.num_frames,
        "robot_frames": traj.num_frames,
        "first_chunk_ms": round(first_chunk_ms or 0.0, 1),
        "generate_realtime_factor": round(motion.duration_s / generate_s, 1),
        "retarget_ms_per_frame": round(retarget_ms, 2),
        # The gate's own speed (simulation and checks) and, beside it, the whole call, which
        # also builds the scene (two model compiles, ~5 s for two humanoids).
        "gate_realtime_factor": round(report.summary["real_time_factor"], 1),
        "gate_s": round(validate_s, 2),
        "passed": report.passed,
        "violations": sorted({v.kind for v in report.violations}),
        "files": {"motion": str(motion_path), "trajectory": str(traj_path),
                  "report": str(report_path)},
    }
    if video:
        from dyad.sim.robot_render import render_trajectory
        from dyad.sim.skeleton_render import render_motion

        summary["files"]["motion_video"] = str(
            render_motion(motion, stem.with_name(f"{mode}_motion.mp4")))
        summary["files"]["robot_video"] = str(
            render_trajectory(traj, stem.with_name(f"{mode}_robot.mp4"), report,
                              recording=recording))
    return summary


def run(args: argparse.Namespace) -> int:
    from dyad.errors import DyadInputError

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DyadInputError(f"cannot create {out}: {exc.strerror or exc}") from None
    prompts = ((args.duet_text, "duet", args.duet_robot),
               (args.bimanual_text, "bimanual", args.bimanual_robot))
    results = []
    for text, mode, robot in prompts:
        print(f"[demo] {mode}: {text!r} -> {robot}", file=sys.stderr)
        result = run_prompt(text, mode, robot, out, args.seconds, args.seed, args.device,
                            video=not args.no_video, checkpoint=args.checkpoint,
                            time_scaling=not args.no_time_scaling)
        verdict = "PASS" if result["passed"] else "FAIL (" + ", ".join(result["violations"]) + ")"
        print(f"[demo]   gate: {verdict}; files in {out}", file=sys.stderr)
        results.append(result)
    summary = {"out": str(out), "prompts": results}
    if args.ros:
        summary["ros"] = _run_graph(args.bimanual_text, out)
    print(json.dumps(summary, indent=2))
    return 0


def _run_graph(text: str, out: Path) -> dict:
    """Run ``dyad up`` on ``text`` in a private network namespace and return its JSON."""
    import subprocess

    cmd = [sys.executable, "-m", "dyad.cli", "up", "--private-network", "--command", text,
           "--duration", "15", "--json", "--log-dir", str(out / "ros_logs")]
    print(f"[demo] ROS 2 graph: {' '.join(cmd[2:])}", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"ok": False, "exit_code": proc.returncode, "stderr": proc.stderr[-2000:]}
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"ok": True, "stdout": proc.stdout[-2000:]}
