"""``dyad render``: draw a file to a video, choosing the renderer from the file's content.

A motion file (a ``joints`` key) goes to the skeleton renderer (:mod:`dyad.sim.skeleton_render`).
A robot trajectory (a ``qpos`` key) goes to the MuJoCo renderer (:mod:`dyad.sim.robot_render`),
which runs the sim gate first and draws its violations in red. A new kind of file is one more
entry in ``RENDERERS``.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Callable

from dyad.errors import DyadInputError

VIEWS = ("auto", "front", "side", "top", "orbit")  # mirrors skeleton_render.VIEWS (kept light)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dyad render`` to the ``dyad`` command."""
    p = subparsers.add_parser(
        "render", help="draw a motion file (.npz) to an .mp4 or .gif, headless",
        description="Draw both agents' skeletons of a motion file to a video, without a display "
                    "or OpenGL. Contacts are drawn in red; a caption strip shows the text, the "
                    "frame and the active contacts. Prints the path written.",
    )
    p.add_argument("input", metavar="MOTION.npz", help="motion file or robot trajectory file")
    p.add_argument("--out", metavar="FILE.mp4|FILE.gif",
                   help="video to write; the suffix picks the format "
                        "(default: the input's name with .mp4)")
    p.add_argument("--robot", default=None, metavar="NAME",
                   help="robot trajectories: registry robot to draw (default: the file's)")
    p.add_argument("--fps", type=float, default=None,
                   help="output frame rate (default: the motion's); frames are interpolated")
    p.add_argument("--size", default="640x480", metavar="WxH",
                   help="frame size in pixels (default 640x480; even for .mp4)")
    p.add_argument("--view", choices=VIEWS, default="auto",
                   help="camera: auto (both agents side by side; over the shoulder for hands), "
                        "front (from +X), side (from -Y), top, orbit (default auto)")
    p.add_argument("--supersample", type=int, default=2, metavar="N",
                   help="anti-aliasing: draw at N times the size and shrink, 1..4 (default 2)")
    p.add_argument("--no-caption", action="store_true", help="leave out the caption strip")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: for long clips on a terminal)")
    p.set_defaults(func=run_render)


def file_kind(path: Path) -> str:
    """``"motion"`` or ``"robot"`` from the keys of an ``.npz`` file.

    Raises:
        DyadInputError: the file is missing, not an ``.npz``, or has neither ``joints`` nor
            ``qpos``.
    """
    import numpy as np

    if not path.is_file():
        raise DyadInputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DyadInputError(f"{path}: not an .npz file (expected a zip archive of arrays)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DyadInputError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") \
            from None
    if "joints" in keys:
        return "motion"
    if "qpos" in keys:
        return "robot"
    raise DyadInputError(f"{path}: neither a motion file (key 'joints') nor a robot trajectory "
                         f"(key 'qpos'); it has {', '.join(sorted(keys)) or 'no arrays'}")


def _render_motion_file(path: Path, out: Path, args: argparse.Namespace) -> Path:
    from dyad.sim.skeleton_render import parse_size, render_motion

    return render_motion(path, out, fps=args.fps, size=parse_size(args.size), view=args.view,
                         caption=not args.no_caption, supersample=args.supersample,
                         progress=args.progress)


def _render_robot_file(path: Path, out: Path, args: argparse.Namespace) -> Path:
    from dyad.sim.robot_render import render_trajectory_file
    from dyad.sim.skeleton_render import parse_size

    return render_trajectory_file(path, out, robot=args.robot, size=parse_size(args.size),
                                  fps=args.fps, caption=not args.no_caption)


RENDERERS: dict[str, Callable[[Path, Path, argparse.Namespace], Path]] = {
    "motion": _render_motion_file,
    "robot": _render_robot_file,
}


def run_render(args: argparse.Namespace) -> int:
    """The ``dyad render`` command."""
    from dyad.sim.skeleton_render import check_output_path

    path = Path(args.input)
    out = Path(args.out) if args.out else path.with_suffix(".mp4")
    check_output_path(out)  # before any work: a bad --out fails fast
    written = RENDERERS[file_kind(path)](path, out, args)
    print(written)
    return 0
