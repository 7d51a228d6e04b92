"""ROS 2 graph: command -> first checked trajectory, chunk rate vs playback, teleop rate/latency.

The graph (generator, retarget, validator, playback, teleop, mock controller) runs as separate
processes, as ``dyad up`` starts it, inside a private network namespace with only loopback
(``unshare -n``) when the machine allows it, else with DDS discovery limited to localhost.
A probe node publishes commands and keypoints and timestamps what reaches the controller topic.

- ``command_to_first_trajectory_ms``: ``/dyad/command`` published -> first checked
  JointTrajectory received on the controller topic (generation, retargeting, the gate and five
  DDS hops), over ``--commands`` commands after one warm-up.
- ``sustained``: one ``--seconds`` motion with the generator unpaced: checked frames per second
  versus the 30 fps playback rate, the smallest lead of a checked chunk over its playback time,
  and playback's underrun count (0 = never starved).
- ``teleop``: hand keypoints published at ``--teleop-hz`` for ``--teleop-seconds``: commands per
  second reaching the controller, and the end-to-end latency keypoints -> controller command
  (tracker topic, teleop_node, playback_node, controller topic: everything Dyad adds).

``--model default`` uses the packaged checkpoint; ``--model untrained`` builds a model of the
default architecture with untrained weights (identical compute, so identical timings, but
near-static motion), for machines without the trained checkpoint.

    dyad bench pipeline [--model default|untrained] [--checkpoint PATH] [--commands 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NAME = "pipeline"
TARGETS = {"command_to_first_trajectory_p95_ms": 400.0, "teleop_rate_hz": 100.0,
           "teleop_added_latency_p95_ms": 5.0, "playback_underruns": 0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench pipeline``."""
    parser.add_argument("--model", choices=("default", "untrained"), default="default",
                        help="packaged checkpoint, or the default architecture untrained")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="generator checkpoint (overrides --model)")
    parser.add_argument("--device", default="auto", help="generator device (default auto)")
    parser.add_argument("--commands", type=int, default=20,
                        help="commands timed for the first-trajectory latency (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of the sustained-rate motion (default 10)")
    parser.add_argument("--teleop-hz", type=float, default=100.0,
                        help="keypoint publishing rate (default 100)")
    parser.add_argument("--teleop-seconds", type=float, default=3.0,
                        help="teleop duration (default 3)")
    parser.add_argument("--no-namespace", action="store_true",
                        help="do not enter a private network namespace")
    parser.add_argument("--inner", type=Path, default=None, help=argparse.SUPPRESS)


def build_untrained_checkpoint(root: Path, config=None) -> Path:
    """A checkpoint of ``config`` (default: the default architecture) with untrained weights
    and the toy dataset's normalisation: well-formed, smooth, near-static motion.

    Args:
        root: folder for the toy data and ``untrained.pt``.
        config: a :class:`~dyad.generator.config.ModelConfig`.
    """
    import torch

    from dyad.generator.checkpoint import save_checkpoint
    from dyad.generator.config import ModelConfig, SamplingOptions
    from dyad.generator.mode_selector import build_mode_selector
    from dyad.generator.model import ChunkFlowModel
    from dyad.generator.text_encoder import shared_text_encoder
    from dyad.training.motion_dataset import load_clips
    from dyad.training.toy_motion import write_toy_dataset
    from dyad.training.train_generator import feature_statistics

    root = Path(root)
    config = config or ModelConfig()
    torch.manual_seed(0)
    model = ChunkFlowModel(config, ("duet", "bimanual"))
    for mode in ("duet", "bimanual"):
        clips = load_clips(write_toy_dataset(root / mode, mode, {"train": 3}), "train")
        model.set_normalization(mode, *feature_statistics(clips, mode, config, windows=64))
    with torch.no_grad():  # small weights everywhere, so the output depends on the input
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    selector = build_mode_selector(shared_text_encoder("cpu", config.max_text_tokens),
                                   {"duet": [], "bimanual": []})
    return save_checkpoint(root / "untrained.pt", model, selector,
                           SamplingOptions(steps=min(4, SamplingOptions().steps)))


def run(args: argparse.Namespace) -> dict:
    """Bring the graph up (in a namespace when possible), measure, bring it down."""
    from dyad.errors import DyadInputError

    if args.commands < 1 or args.seconds <= 0 or args.teleop_hz <= 0 or args.teleop_seconds <= 0:
        raise DyadInputError("--commands, --seconds, --teleop-hz and --teleop-seconds must be "
                             "positive")
    if args.inner is not None:
        return _measure(args)
    with tempfile.TemporaryDirectory(prefix="dyad-bench-pipeline-") as tmp:
        tmp = Path(tmp)
        checkpoint = _checkpoint(args, tmp)
        out = tmp / "results.json"
        inner = [sys.executable, "-m", "dyad.bench.pipeline", "--inner", str(out),
                 "--checkpoint", str(checkpoint), "--device", args.device,
                 "--commands", str(args.commands), "--seconds", str(args.seconds),
                 "--teleop-hz", str(args.teleop_hz), "--teleop-seconds",
                 str(args.teleop_seconds)]
        env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
        network = "localhost discovery"
        attempts = []
        if not args.no_namespace and shutil.which("unshare") and shutil.which("ip"):
            script = "ip link set lo up && exec " + " ".join(_quote(a) for a in inner)
            attempts += [(["unshare", "-n", "sh", "-c", script], "private namespace"),
                         (["unshare", "-rn", "sh", "-c", script], "private user namespace")]
        attempts.append((inner, network))
        for argv, where in attempts:
            proc = subprocess.run(argv, env=env, stdout=sys.stderr, stderr=sys.stderr)
            if out.exists():
                results = json.loads(out.read_text())
                results["network"] = where
                results["model"] = ("checkpoint " + str(args.checkpoint) if args.checkpoint
                                    else args.model)
                return results
            print(f"dyad bench pipeline: {where} run failed (rc {proc.returncode})",
                  file=sys.stderr)
        raise RuntimeError("the pipeline benchmark produced no results (see stderr)")


def _quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


def _checkpoint(args: argparse.Namespace, tmp: Path) -> Path:
    from dyad.errors import DyadInputError
    from dyad.generator.checkpoint import DEFAULT_CHECKPOINT

    if args.checkpoint is not None:
        if not args.checkpoint.is_file():
            raise DyadInputError(f"--checkpoint {args.checkpoint}: no such file")
        return args.checkpoint.resolve()
    if args.model == "default":
        if not DEFAULT_CHECKPOINT.is_file():
            raise DyadInputError(f"no packaged generator checkpoint at {DEFAULT_CHECKPOINT}; "
                                 "train one, pass --checkpoint, or time the untrained default "
                                 "architecture with --model untrained")
        return DEFAULT_CHECKPOINT
    print("dyad bench pipeline: building an untrained model of the default architecture",
          file=sys.stderr)
    return build_untrained_checkpoint(tmp / "model")


def _stats(values) -> dict | None:
    from dyad.bench.stats import timing_stats

    values = [v for v in values if v is not None]
    return {k: round(v, 3) for k, v in timing_stats(values).items()} if values else None


def _measure(args: argparse.Namespace) -> dict:
    """Inside the namespace: run the graph and the probe; write the results to ``--inner``."""
    import rclpy

    from dyad.ros2.conversions import seconds_of, stream_id
    from dyad.ros2.graph import Graph
    from dyad.ros2.graph_probe import GraphProbe, status_fields

    roles = ("generator", "retarget", "validator", "playback", "mock_controller", "teleop")
    params = {"generator": {"checkpoint": str(args.checkpoint), "device": args.device,
                            "mode": "bimanual", "max_lead_s": 0.0, "markers": True}}
    logs = Path(tempfile.mkdtemp(prefix="dyad-bench-logs-"))
    graph = Graph(roles, params=params, log_dir=logs)
    results: dict = {"cpu_cores_usable": len(os.sched_getaffinity(0)), "logs": str(logs)}
    t_start = time.monotonic()
    graph.start()
    rclpy.init(args=[])
    probe = GraphProbe("dyad_bench_probe")
    try:
        states = probe.wait_ready(roles, 180.0)
        results["states"] = states
        results["graph_ready_s"] = round(time.monotonic() - t_start, 2)
        if any(s not in ("ready", "idle") for s in states.values()):
            raise RuntimeError(f"graph not ready: {states}")

        def first_after(store, t):
            return next((r.t for r in store if r.t >= t and len(r.msg.points) > 1), None)

        # ---- command -> first checked trajectory on the controller topic
        latency, checked_latency = [], []
        for i in range(args.commands + 1):
            t0 = probe.send_command(json.dumps({"text": "both hands wave up and down",
                                                "seconds": 1.0, "seed": i}))
            probe.spin_for(5.0, lambda: first_after(probe.rec.controller, t0) is not None
                           and first_after(probe.rec.checked, t0) is not None)
            t_ctrl = first_after(probe.rec.controller, t0)
            t_chk = first_after(probe.rec.checked, t0)
            if i > 0:   # the first command is the warm-up
                latency.append(None if t_ctrl is None else (t_ctrl - t0) * 1000)
                checked_latency.append(None if t_chk is None else (t_chk - t0) * 1000)
            probe.spin_for(1.3)   # let the 1 s motion play out
        results["command_to_first_trajectory_ms"] = _stats(latency)
        results["command_to_first_checked_chunk_ms"] = _stats(checked_latency)
        results["commands_without_trajectory"] = sum(v is None for v in latency)

        # ---- sustained rate vs playback, starvation
        def underruns():
            for r in reversed(probe.rec.status):
                for s in status_fields(r.msg):
                    if s["name"] == "dyad_playback" and "underruns" in s:
                        return int(s["underruns"])
            return 0

        probe.spin_for(1.5)
        before = underruns()
        t0 = probe.send_command(json.dumps({"text": "both hands wave up and down",
                                            "seconds": args.seconds, "seed": 99}))
        frames_total = int(round(args.seconds * 30))

        def checked_since():
            return [r for r in probe.rec.checked if r.t >= t0 and r.msg.points]

        probe.spin_for(args.seconds + 15.0, lambda: sum(len(r.msg.points)
                                                        for r in checked_since()) >= frames_total)
        probe.spin_for(args.seconds + 1.0, lambda: False)   # play it out, heartbeats arrive
        chunks = checked_since()
        streams = {stream_id(r.msg.header.stamp) for r in chunks}
        frames = sum(len(r.msg.points) for r in chunks)
        t_first, t_last = chunks[0].t, chunks[-1].t
        fps = 30.0
        leads = [t_first + seconds_of(r.msg.points[0].time_from_start) - r.t for r in chunks]
        results["sustained"] = {
            "frames": frames, "chunks": len(chunks), "streams": len(streams),
            "checked_fps": round((frames - len(chunks[0].msg.points)) / (t_last - t_first), 1)
            if t_last > t_first else None,
            "playback_fps": fps,
            "realtime_factor": round((frames - len(chunks[0].msg.points)) / fps /
                                     (t_last - t_first), 2) if t_last > t_first else None,
            "min_chunk_lead_ms": round(min(leads[1:]) * 1000, 1) if len(leads) > 1 else None,
            "playback_underruns": underruns() - before,
        }

        def counter(node: str, key: str) -> int:
            """The latest value of a node's status counter."""
            for r in reversed(probe.rec.status):
                for st in status_fields(r.msg):
                    if st["name"] == node and key in st:
                        return int(float(st[key]))
            return 0

        # ---- teleop: rate and added latency
        from dyad.training.synth.bimanual import count_on_fingers

        clip = count_on_fingers(np.random.default_rng(0)).joints
        probe.spin_for(1.2)   # a heartbeat with the teleop counters before the run
        frames_before_run = counter("dyad_teleop", "frames")
        period = 1.0 / args.teleop_hz
        n = int(round(args.teleop_seconds * args.teleop_hz))
        sent: dict[float, float] = {}
        t_tel = time.monotonic()
        next_t = t_tel
        for i in range(n):
            stamp_before = probe.get_clock().now().nanoseconds
            t_send = probe.send_keypoints(clip[i % len(clip)].reshape(-1, 3))
            sent[stamp_before] = t_send
            next_t += period
            while time.monotonic() < next_t:
                rclpy.spin_once(probe, timeout_sec=max(0.0, next_t - time.monotonic()))
        t_end = time.monotonic()
        probe.spin_for(2.5)   # a heartbeat with the counters after the run
        out = [r for r in probe.rec.controller if r.t >= t_tel and len(r.msg.points) == 1]
        # The controller command carries the keypoints' stamp: match it to the send time.
        retargeted = counter("dyad_teleop", "frames")
        stamps = sorted(sent)
        lat = []
        for r in out:
            ns = r.msg.header.stamp.sec * 1_000_000_000 + r.msg.header.stamp.nanosec
            k = int(np.searchsorted(stamps, ns))
            near = [s for s in (stamps[k - 1] if k else None, stamps[k] if k < len(stamps)
                                else None) if s is not None]
            if near:
                s = min(near, key=lambda v: abs(v - ns))
                if abs(s - ns) < 1e6:   # the stamp was taken within 1 ms of the send
                    lat.append((r.t - sent[s]) * 1000)
        in_window = [r for r in out if r.t <= t_end + 0.05]
        results["teleop"] = {
            "published": n, "publish_rate_hz": round(n / (t_end - t_tel), 1),
            "retargeted_by_teleop_node": retargeted - frames_before_run,
            "controller_commands": len(out),
            "output_rate_hz": round(len(in_window) / (t_end - t_tel), 1),
            "added_latency_ms": _stats(lat),
        }
    finally:
        probe.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        results["exit_codes"] = graph.stop()
    lat95 = (results.get("command_to_first_trajectory_ms") or {}).get("p95")
    tel = results.get("teleop", {})
    tel95 = (tel.get("added_latency_ms") or {}).get("p95")
    results["targets"] = TARGETS
    results["met"] = {
        "command_to_first_trajectory_p95_ms": lat95 is not None and lat95 <= 400.0,
        "teleop_rate_hz": tel.get("output_rate_hz", 0) >= 0.97 * args.teleop_hz,
        "teleop_added_latency_p95_ms": tel95 is not None and tel95 <= 5.0,
        "playback_underruns": results.get("sustained", {}).get("playback_underruns") == 0,
    }
    Path(args.inner).write_text(json.dumps(results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    _measure_args = parser.parse_args()
    run(_measure_args)
