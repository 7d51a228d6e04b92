"""``dyad up``: start the ROS 2 graph as processes (what ``ros2 launch dyad dyad.launch.py`` does).

    dyad up                                   # generator, retarget, validator, playback, mock
    dyad up --command "the hands clap"        # ... and send one command once every node is ready
    dyad up --teleop --record bags/run1       # add the teleop node and a bag recorder
    dyad up --remote tcp://127.0.0.1:5555     # the generator runs in `dyad serve`

Each node runs as ``python -m dyad.ros2.<role>_node --ros-args --params-file ...`` with the
packaged parameters (``--params`` adds a file over them, ``--set ROLE.NAME=VALUE`` one value).
DDS discovery stays on this machine (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` unless set);
``--private-network`` runs the whole graph in a private network namespace with only loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from dyad.errors import DyadInputError

EXIT_OK, EXIT_FAILED = 0, 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="start the ROS 2 node graph as processes (no ros2 launch needed)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--roles", default=None,
                   help="comma-separated roles to start (default: generator, retarget, "
                        "validator, playback, mock_controller)")
    p.add_argument("--teleop", action="store_true", help="also start teleop_node")
    p.add_argument("--no-mock-controller", action="store_true",
                   help="leave the mock controller out (a real controller is listening)")
    p.add_argument("--record", type=Path, default=None, metavar="BAG_DIR",
                   help="record command, motion, chunks and verdicts to this rosbag2 MCAP folder")
    p.add_argument("--params", type=Path, action="append", default=[],
                   help="parameter file loaded over the packaged one (repeatable)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="ROLE.NAME=VALUE",
                   help="one parameter, e.g. generator.seconds=6 (value in YAML; repeatable)")
    p.add_argument("--remote", default=None, metavar="tcp://HOST:PORT",
                   help="use a `dyad serve` generator instead of loading the model here")
    p.add_argument("--checkpoint", type=Path, default=None, help="generator checkpoint")
    p.add_argument("--controller", choices=("joint_trajectory", "forward_position"), default=None,
                   help="controller interface of playback (default: the parameter file's)")
    p.add_argument("--command", default=None, metavar="TEXT",
                   help="publish this command on /dyad/command once the graph is ready")
    p.add_argument("--duration", type=float, default=None,
                   help="stop this many seconds after the graph is ready (and the command "
                        "answered); default: run until Ctrl-C")
    p.add_argument("--ready-timeout", type=float, default=120.0,
                   help="seconds to wait for every node to report ready (default 120)")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="write each node's output to LOG_DIR/ROLE.log instead of the terminal")
    p.add_argument("--private-network", action="store_true",
                   help="run in a private network namespace with only loopback (needs unshare)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=run)


def parse_sets(entries: list[str]) -> dict[str, dict]:
    """``["generator.seconds=6"]`` -> ``{"generator": {"seconds": 6}}``."""
    from .graph import ROLES

    out: dict[str, dict] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        role, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise DyadInputError(f"--set {entry!r}: expected ROLE.NAME=VALUE, e.g. "
                                 "generator.seconds=6")
        if role not in ROLES:
            raise DyadInputError(f"--set {entry!r}: unknown role {role!r}; roles: "
                                 f"{', '.join(ROLES)}")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as exc:
            raise DyadInputError(f"--set {entry!r}: value is not YAML ({exc})") from None
        out.setdefault(role, {})[name.strip()] = parsed
    return out


def private_network_argv(argv: list[str]) -> list[str]:
    """``argv`` run inside a new network namespace whose only interface, loopback, is up."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise DyadInputError("--private-network needs the unshare command (util-linux)")
    inner = " ".join(_quote(a) for a in argv)
    return [unshare, "-n", "sh", "-c", f"ip link set lo up && exec {inner}"]


def _quote(text: str) -> str:
    import shlex
    return shlex.quote(text)


def roles_of(args: argparse.Namespace) -> list[str]:
    from .graph import DEFAULT_ROLES, check_roles

    roles = list(DEFAULT_ROLES) if args.roles is None else [
        r.strip() for r in args.roles.split(",") if r.strip()]
    if args.no_mock_controller and "mock_controller" in roles:
        roles.remove("mock_controller")
    if args.teleop:
        roles.append("teleop")
    if args.record is not None:
        roles.append("bag_recorder")
    return list(check_roles(roles))


def run(args: argparse.Namespace) -> int:
    if args.private_network and os.environ.get("DYAD_PRIVATE_NETWORK") != "1":
        argv = [sys.executable, "-m", "dyad.cli"] + [a for a in sys.argv[1:]
                                                     if a != "--private-network"]
        env = dict(os.environ, DYAD_PRIVATE_NETWORK="1")
        return subprocess.call(private_network_argv(argv), env=env)
    roles = roles_of(args)
    params = parse_sets(args.sets)
    if args.remote:
        from dyad.generator.remote import check_endpoint
        params.setdefault("generator", {})["remote_endpoint"] = check_endpoint(args.remote)
    if args.checkpoint is not None:
        if not args.checkpoint.is_file():
            raise DyadInputError(f"--checkpoint {args.checkpoint}: no such file")
        params.setdefault("generator", {})["checkpoint"] = str(args.checkpoint.resolve())
    if args.controller:
        params.setdefault("playback", {})["controller"] = args.controller
    if args.record is not None:
        if args.record.exists():
            raise DyadInputError(f"--record {args.record}: already exists")
        params.setdefault("bag_recorder", {})["path"] = str(args.record.resolve())
    for path in args.params:
        if not path.is_file():
            raise DyadInputError(f"--params {path}: no such file")
    if args.duration is not None and args.duration <= 0:
        raise DyadInputError("--duration must be > 0")
    return _up(args, roles, params)


def _up(args: argparse.Namespace, roles: list[str], params: dict) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from .graph import PARAMS_FILE, ROLES, Graph
    from .graph_probe import GraphProbe, status_fields

    graph = Graph(roles, params_files=[PARAMS_FILE, *[p.resolve() for p in args.params]],
                  params=params, log_dir=args.log_dir)
    summary: dict = {"roles": roles}
    t_start = time.monotonic()
    graph.start()
    print(f"dyad up: started {', '.join(roles)}", file=sys.stderr, flush=True)
    rclpy.init(args=[])
    probe = GraphProbe("dyad_up")
    code = EXIT_OK
    try:
        states = probe.wait_ready(roles, args.ready_timeout)
        summary["states"] = states
        summary["ready_s"] = round(time.monotonic() - t_start, 2)
        for name, state in states.items():
            print(f"  {name:22s} {state}", file=sys.stderr)
        if any(not (s in ("ready", "idle", "recording")) for s in states.values()):
            code = EXIT_FAILED
        if args.command is not None:
            t0 = probe.send_command(args.command)

            def answered():  # a controller command, or the generator saying why not
                return bool(probe.rec.controller or probe.rec.forward) or any(
                    s.get("event") == "error"
                    for s in probe.statuses_since(t0, ROLES["generator"].node_name))

            probe.spin_for(10.0, answered)
            got = bool(probe.rec.controller or probe.rec.forward)
            first = (probe.rec.controller or probe.rec.forward)
            summary["first_command_ms"] = round((first[0].t - t0) * 1000, 1) if got else None
            print(f"dyad up: command sent; first controller command "
                  f"{'after %.0f ms' % summary['first_command_ms'] if got else 'not seen'}",
                  file=sys.stderr)
            for s in probe.statuses_since(t0):
                if s["level"] >= 2:
                    print(f"  {s['name']}: {s['message']}", file=sys.stderr)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            probe.spin_for(0.5 if deadline is None else min(0.5, deadline - time.monotonic()))
            if graph.exited():
                print(f"dyad up: node(s) exited: {graph.exited()}", file=sys.stderr)
                code = EXIT_FAILED
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        summary["controller_commands"] = len(probe.rec.controller) + len(probe.rec.forward)
        summary["verdicts"] = len(probe.rec.validation)
        summary["errors"] = [s["message"] for r in probe.rec.status for s in status_fields(r.msg)
                             if s["level"] >= 2 and s.get("event") == "error"][:20]
        probe.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        summary["exit_codes"] = graph.stop()
        print("dyad up: stopped", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    return code
