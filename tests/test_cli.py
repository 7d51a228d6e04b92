import subprocess
import sys

from dyad.cli import COMMAND_MODULES, build_parser


def test_help_lists_every_registered_command():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices, "no subcommands registered"
    help_text = parser.format_help()
    for name in sub.choices:
        assert name in help_text
    assert len(COMMAND_MODULES) >= 1


def test_console_script_help_runs_without_heavy_imports():
    code = ("import sys; from dyad.cli import build_parser; build_parser().format_help(); "
            "print(','.join(m for m in ('torch', 'mujoco', 'pinocchio', 'rclpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_headless_machines_render_with_egl_unless_the_user_chose():
    code = ("import os; from dyad.cli import use_headless_gl; use_headless_gl(); "
            "print(os.environ.get('MUJOCO_GL'))")
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    assert out.stdout.strip() == "egl"
    env["MUJOCO_GL"] = "osmesa"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    assert out.stdout.strip() == "osmesa"
