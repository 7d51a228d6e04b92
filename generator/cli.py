"""``dyad generate``: text to a two-agent motion file, streamed chunk by chunk."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from dyad.errors import DyadInputError

MODE_NAMES = ("auto", "duet", "bimanual")


def _agent_text(value: str) -> tuple[str, str]:
    key, sep, text = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected AGENT=TEXT (e.g. A=\"waves\"), got {value!r}")
    return key.strip(), text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="generate two-person or two-hand motion from text",
        description="Generate motion for TEXT with the packaged text-to-motion model, chunk by "
                    "chunk (30 fps). Duet motion is body22+hands (62 joints) for persons A and "
                    "B; bimanual motion is hand21 for the left and right hand.")
    p.add_argument("text", help="what the motion shows, e.g. \"two people shake hands\"")
    p.add_argument("--mode", default="auto",
                   help="auto (chosen from the text), duet or bimanual (default auto)")
    p.add_argument("--seconds", type=float, default=4.0,
                   help="duration in seconds, up to 120 (default 4)")
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: random)")
    p.add_argument("--out", type=Path, default=None, help="write the motion to this .npz file")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--agent-text", dest="agent_texts", action="append", type=_agent_text,
                   default=[], metavar="AGENT=TEXT",
                   help="per-agent text: A=/B= for duet, left=/right= for bimanual, inter= "
                        "for their relation (repeatable)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="generator checkpoint (default: the packaged model)")
    p.add_argument("--steps", type=int, default=None, help="flow steps per chunk, 1-8")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale (1 = off)")
    p.add_argument("--contact-guidance", type=float, default=None, metavar="0..1",
                   help="how firmly contacts the text names (a handshake's palms) are pulled "
                        "together once the motion brings them close; 0 = the network alone; "
                        "setting it applies it to any mode (default: the checkpoint's, 1 for "
                        "duet and off for bimanual)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dyad.generator.errors import NonFiniteMotionError
    from dyad.generator.streaming import MotionGenerator

    if args.out is not None and args.out.suffix != ".npz":
        raise DyadInputError(f"--out {args.out}: motion files end in .npz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        gen = MotionGenerator(args.checkpoint, args.device)
        gen.warm_up()
        load_s = time.perf_counter() - t0
        t_start = time.perf_counter()
        request = gen.prepare(args.text, args.mode, args.seconds, args.seed,
                              dict(args.agent_texts), steps=args.steps, guidance=args.guidance,
                              contact_guidance=args.contact_guidance)
    for w in caught:
        print(f"dyad generate: warning: {w.message}", file=sys.stderr)
    chunks, first_chunk_ms = [], None
    try:
        for chunk in gen.stream_request(request):
            if first_chunk_ms is None:
                first_chunk_ms = (time.perf_counter() - t_start) * 1000.0
            chunks.append(chunk)
    except NonFiniteMotionError as exc:
        print(f"dyad generate: error: {exc}", file=sys.stderr)
        return 1
    total_s = time.perf_counter() - t_start
    record = gen.record(request, chunks)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        record.save(args.out)
    summary = {
        "mode": request.mode, "mode_source": request.mode_source,
        "mode_scores": {k: round(v, 4) for k, v in request.mode_scores.items()},
        "text": request.text, "agent_texts": request.agent_texts,
        "frames": record.num_frames, "fps": record.fps, "seconds": record.duration_s,
        "skeleton": record.skeleton, "agents": list(record.agents), "chunks": len(chunks),
        "seed": request.seed, "device": str(gen.device),
        "contact_plan": [c.name for c in request.contacts],
        "first_chunk_ms": round(first_chunk_ms, 2), "total_ms": round(total_s * 1000.0, 2),
        "realtime_factor": round(record.duration_s / total_s, 2) if total_s > 0 else None,
        "model_load_s": round(load_s, 3), "checkpoint": str(gen.loaded.path),
        "out": str(args.out) if args.out is not None else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['mode']} ({summary['mode_source']}): {record.num_frames} frames, "
              f"{record.duration_s:.2f} s at {record.fps:g} fps in {len(chunks)} chunks; first "
              f"chunk {first_chunk_ms:.0f} ms, {summary['realtime_factor']}x real time"
              + (f"; wrote {args.out}" if args.out else ""))
    return 0
