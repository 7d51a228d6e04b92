"""The ``dyad`` command.

Each stage contributes its subcommands through a ``register(subparsers)`` function in one of
the modules listed in ``COMMAND_MODULES``; heavy imports (torch, mujoco, pinocchio) happen
inside the command functions, so ``dyad --help`` stays fast and works with only the core
installed.

Exit codes: 0 success, 1 a check failed (e.g. validation), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import DyadInputError

# Modules that define ``register(subparsers)``. Order is the order in ``dyad --help``.
COMMAND_MODULES = (
    "dyad.demo",
    "dyad.training.cli",
    "dyad.generator.cli",
    "dyad.generator.serve_cli",
    "dyad.training.train_cli",
    "dyad.retarget.cli",
    "dyad.retarget.retarget_cli",
    "dyad.sim.render_cli",
    "dyad.sim.validate_cli",
    "dyad.bench.cli",
    "dyad.ros2.up_cli",
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The full ``dyad`` argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="dyad",
        description="Dyad: text to safe dexterous two-person and two-hand robot motion.",
        epilog="Run 'dyad COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", title="commands")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # a stage not present in this checkout
            raise
        module.register(sub)
    return parser


def use_headless_gl() -> None:
    """Let MuJoCo render offscreen (EGL, e.g. Mesa on the CPU) when there is no display, unless
    the user chose a backend; must run before anything imports mujoco."""
    if "MUJOCO_GL" not in os.environ and not (os.environ.get("DISPLAY")
                                              or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["MUJOCO_GL"] = "egl"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dyad`` console script."""
    use_headless_gl()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT if argv is None and len(sys.argv) > 1 else EXIT_OK
    try:
        return int(args.func(args) or 0)
    except DyadInputError as exc:
        print(f"dyad {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"dyad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
