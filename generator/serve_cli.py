"""``dyad serve``: serve the generator over ZeroMQ (see ``generator/remote.py``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from dyad.errors import DyadInputError


def register(sub: argparse._SubParsersAction) -> None:
    from .remote import DEFAULT_ENDPOINT

    p = sub.add_parser(
        "serve", help="serve the motion generator to remote clients over ZeroMQ",
        description="Load the generator once and stream motion chunks to clients (the ROS "
                    "generator node with remote_endpoint set, or "
                    "dyad.generator.remote.RemoteGenerator). Binds 127.0.0.1 unless told "
                    "otherwise; the protocol has no authentication, so reach a remote machine "
                    "through an SSH tunnel.")
    p.add_argument("--bind", default=DEFAULT_ENDPOINT,
                   help=f"tcp://HOST:PORT to bind (default {DEFAULT_ENDPOINT})")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="generator checkpoint (default: the packaged model)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="drop a stream whose client stops reading for this many seconds")
    p.add_argument("--max-streams", type=int, default=8,
                   help="streams served at once (default 8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .remote import GeneratorServer, check_endpoint, is_loopback
    from .streaming import MotionGenerator

    check_endpoint(args.bind)
    if args.idle_timeout <= 0 or args.max_streams < 1:
        raise DyadInputError("--idle-timeout must be > 0 and --max-streams >= 1")
    if not is_loopback(args.bind):
        print(f"dyad serve: warning: {args.bind} is not a loopback address; anyone who can "
              "reach it can use the generator (no authentication)", file=sys.stderr)
    generator = MotionGenerator(args.checkpoint, args.device)
    generator.warm_up()
    config = generator.model.config
    info = {"modes": list(generator.modes), "device": str(generator.device),
            "checkpoint": str(generator.loaded.path), "fps": float(config.fps),
            "chunk_frames": int(config.chunk_frames)}
    server = GeneratorServer(generator, args.bind, args.idle_timeout, args.max_streams, info)
    stop = threading.Event()
    # SIGTERM (service managers, `kill`) stops as cleanly as Ctrl-C does. SIGINT is handled
    # here too, not left to Python's KeyboardInterrupt: Python installs that only where SIGINT
    # was not ignored at start, and a script's background job starts with it ignored (a test
    # runner launched that way left a server that never stopped).
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"dyad serve: serving {', '.join(generator.modes)} on {server.endpoint} "
          f"({generator.device}); Ctrl-C or SIGTERM stops", file=sys.stderr, flush=True)
    try:
        server.serve_forever(stop)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print(f"dyad serve: stopped after {server.requests_served} request(s)", file=sys.stderr)
    return 0
