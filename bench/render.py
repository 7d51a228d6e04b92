"""Skeleton rendering speed: frames per second drawing a synthetic two-agent clip.

The clip is built here from the rest poses of :mod:`dyad.skeletons` (arms and fingers moving,
a contact in the middle third, so the red-contact path is timed too). ``render_fps`` is the
renderer alone (one core: numpy + Pillow), ``render_cpu_fps`` the same per CPU-second (steady on
a busy machine); ``end_to_end_fps`` adds the encoder (ffmpeg may use more cores).

    dyad bench render [--frames 300] [--size 640x480] [--skeleton body22+hands|hand21]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

NAME = "render"
TARGET_RENDER_FPS = 100.0  # at 640x480 on one core (the README demo renders a clip)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench render``."""
    parser.add_argument("--frames", type=int, default=300, help="frames to draw (default 300)")
    parser.add_argument("--size", default="640x480", metavar="WxH", help="default 640x480")
    parser.add_argument("--skeleton", choices=("body22+hands", "hand21"), default="body22+hands",
                        help="duet of body22+hands (default) or bimanual hand21")
    parser.add_argument("--view", default="auto", help="camera view (default auto)")
    parser.add_argument("--supersample", type=int, default=2, help="anti-aliasing (default 2)")
    parser.add_argument("--encode", choices=("mp4", "gif", "none"), default="mp4",
                        help="also time writing the clip to this format (default mp4)")


def run(args: argparse.Namespace) -> dict:
    """Render the synthetic clip frame by frame, then (unless --encode none) write it."""
    from dyad.errors import DyadInputError
    from dyad.sim.skeleton_render import SkeletonRenderer, parse_size, render_motion

    from .stats import timing_stats

    if args.frames < 1:
        raise DyadInputError(f"--frames must be at least 1, got {args.frames}")
    size = parse_size(args.size)
    record = synthetic_clip(args.skeleton, args.frames)

    t0 = time.perf_counter()
    renderer = SkeletonRenderer(record, size=size, view=args.view, supersample=args.supersample)
    setup_ms = (time.perf_counter() - t0) * 1e3
    for i in range(min(3, renderer.num_frames)):  # warm caches (font, allocator)
        renderer.frame(i)
    frame_ms = np.empty(renderer.num_frames)
    t_all, cpu_all = time.perf_counter(), time.process_time()
    for i in range(renderer.num_frames):
        t = time.perf_counter()
        renderer.frame(i)
        frame_ms[i] = (time.perf_counter() - t) * 1e3
    render_s = time.perf_counter() - t_all
    render_cpu_s = time.process_time() - cpu_all

    results = {
        "skeleton": record.skeleton,
        "agents": len(record.agents),
        "frames": renderer.num_frames,
        "size": f"{size[0]}x{size[1]}",
        "setup_ms": setup_ms,
        "render_fps": renderer.num_frames / render_s,
        # Frames per CPU-second of this process: what one free core would give, read on a
        # busy machine where the wall clock also counts waiting for a core.
        "render_cpu_fps": renderer.num_frames / max(render_cpu_s, 1e-9),
        "target_render_fps": TARGET_RENDER_FPS,
        "frame_ms": timing_stats(frame_ms),
        "encode": args.encode,
        "end_to_end_fps": None,
        "video_bytes": None,
    }
    if args.encode != "none":
        with tempfile.TemporaryDirectory(prefix="dyad-bench-render-") as folder:
            out = Path(folder) / f"clip.{args.encode}"
            t = time.perf_counter()
            render_motion(record, out, size=size, view=args.view,
                          supersample=args.supersample, progress=False)
            results["end_to_end_fps"] = renderer.num_frames / (time.perf_counter() - t)
            results["video_bytes"] = out.stat().st_size
    return results


# --------------------------------------------------------------------------------------------
# The synthetic clip


def _rotation(axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about a fixed unit ``axis`` by (T,) angles (Rodrigues)."""
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.asarray(angle_rad, dtype=np.float64)[:, None, None]
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def _descendants(parents: tuple[int, ...], joint: int) -> list[int]:
    out, frontier = [], [joint]
    while frontier:
        children = [c for c, p in enumerate(parents) if p in frontier]
        out += children
        frontier = children
    return out


def _rotate_subtree(positions: np.ndarray, parents: tuple[int, ...], joint: int,
                    rotations: np.ndarray) -> None:
    """Turn every descendant of ``joint`` about it, in place. positions (T, J, 3)."""
    below = _descendants(parents, joint)
    pivot = positions[:, joint:joint + 1]
    positions[:, below] = np.einsum("tij,tkj->tki", rotations, positions[:, below] - pivot) + pivot


def _curl_fingers(positions: np.ndarray, parents: tuple[int, ...], names: tuple[str, ...],
                  prefix: str, axis: np.ndarray, curl_rad: np.ndarray) -> None:
    """Bend every finger joint (all but the tips) of one hand by ``curl_rad`` about ``axis``
    (rest-pose frame), tips first so that each bend carries the ones below it."""
    for finger in ("thumb", "index", "middle", "ring", "pinky"):
        joints = [j for j, n in enumerate(names) if n.startswith(f"{prefix}{finger}_")
                  and not n.endswith("_tip")]
        scale = 0.5 if finger == "thumb" else 1.0
        for j in reversed(joints):
            _rotate_subtree(positions, parents, j, _rotation(axis, scale * curl_rad))


def synthetic_clip(skeleton: str = "body22+hands", frames: int = 300, fps: float = 30.0):
    """A two-agent clip made from the rest poses: a duet (``body22+hands``: two people facing
    each other, arms swinging, then a right-hand shake) or a bimanual clip (``hand21``: two
    hands closing, opening and clapping). A contact interval covers the middle third.

    Args:
        skeleton: ``body22+hands`` or ``hand21``.
        frames: number of frames.
        fps: frame rate.

    Returns:
        A :class:`~dyad.motion.MotionRecord`.
    """
    from dyad.motion import ContactInterval, MotionRecord
    from dyad.skeletons import (HAND21_REST_LEFT, HAND21_REST_RIGHT, ROTATION_LEFT_HAND_TO_TPOSE,
                                ROTATION_RIGHT_HAND_TO_TPOSE, get_skeleton)

    skel = get_skeleton(skeleton)
    t = np.arange(frames) / fps
    phase = 2 * math.pi * t / max(frames / fps, 1e-6)  # one cycle over the clip
    contact_start, contact_end = frames // 3, max(frames // 3 + 1, 2 * frames // 3)
    x, y, z = np.eye(3)

    if skeleton == "hand21":
        agents = []
        for side, rest, sign in (("left", HAND21_REST_LEFT, 1.0), ("right", HAND21_REST_RIGHT,
                                                                    -1.0)):
            pos = np.repeat(rest[None], frames, axis=0).copy()
            # Fingers (hand-frame +X) bend toward the palm (-Z): a rotation about +Y.
            _curl_fingers(pos, skel.parents, skel.joint_names, "", y,
                          0.55 * (1 - np.cos(2 * phase)))
            # Roll the palms to face each other, then bring the hands together and apart.
            pos = np.einsum("tij,tkj->tki", _rotation(x, sign * 1.2 * np.ones(frames)), pos)
            gap = 0.16 - 0.12 * np.sin(phase / 2) ** 2
            pos += np.stack([0.05 * np.sin(phase), sign * gap, 1.0 + 0.03 * np.sin(2 * phase)],
                            axis=-1)[:, None, :]
            agents.append(pos)
        joints = np.stack(agents, axis=1)
        names, part = ("left", "right"), "palm"
        text = "two hands curl their fingers, open them and clap"
    elif skeleton == "body22+hands":
        agents = []
        for k, heading in enumerate((0.0, math.pi)):
            pos = np.repeat(skel.rest_positions_m[None], frames, axis=0).copy()
            for side, sign in (("l", 1.0), ("r", -1.0)):
                rotation_hand = (ROTATION_LEFT_HAND_TO_TPOSE if side == "l"
                                 else ROTATION_RIGHT_HAND_TO_TPOSE)
                curl_axis = rotation_hand @ y
                _curl_fingers(pos, skel.parents, skel.joint_names, f"{side}_", curl_axis,
                              0.5 * (1 + np.sin(phase + k)))
                # The elbow bends forward (about Z), the arm hangs from the T-pose (about X)
                # and swings forward and back (about Y); the right arms reach forward to shake.
                _rotate_subtree(pos, skel.parents, skel.index(f"{side}_elbow"),
                                _rotation(z, -sign * (0.3 + 0.5 * np.sin(phase / 2) ** 2)))
                _rotate_subtree(pos, skel.parents, skel.index(f"{side}_shoulder"),
                                _rotation(x, -sign * 1.35 * np.ones(frames)))
                reach = 0.8 * np.sin(phase / 2) ** 2 if side == "r" else 0.0
                _rotate_subtree(pos, skel.parents, skel.index(f"{side}_shoulder"),
                                _rotation(y, 0.3 * np.sin(phase + sign + k) * (1 - reach)
                                          - reach))
            pos = np.einsum("tij,tkj->tki", _rotation(z, heading + 0.15 * np.sin(phase)), pos)
            pos[..., 0] += -0.45 if k == 0 else 0.45
            pos[..., 2] += 0.01 * np.sin(4 * phase)[:, None]
            agents.append(pos)
        joints = np.stack(agents, axis=1)
        names, part = ("A", "B"), "right_palm"
        text = "two people face each other, swing their arms and shake right hands"
    else:
        raise ValueError(f"synthetic_clip makes body22+hands or hand21 clips, not {skeleton!r}")

    contact = ContactInterval(names[0], part, names[1], part, contact_start, contact_end)
    return MotionRecord(joints=joints.astype(np.float32), fps=fps, skeleton=skeleton,
                        agents=names, text=text, contacts=[contact],
                        label="handshake" if skeleton != "hand21" else "clap",
                        meta={"source": "dyad.bench.render.synthetic_clip"})
