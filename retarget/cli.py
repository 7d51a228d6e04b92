"""``dyad robots``: list the robots the registry knows (name, DoF, source, hands)."""

from __future__ import annotations

import argparse
import json


def add_robot_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--robot-config PATH`` (repeatable): extra robot YAML files or folders."""
    parser.add_argument(
        "--robot-config", action="append", default=[], metavar="PATH",
        help="robot YAML file or folder of them to register (repeatable); see docs/robots.md")


def register_robot_configs(paths: list[str]) -> list[str]:
    """Register every YAML named by ``--robot-config``; returns the robot names added."""
    from pathlib import Path

    from .registry import RobotConfigError, register_robot_yaml

    names = []
    for entry in paths:
        path = Path(entry).expanduser()
        if path.is_dir():
            files = sorted(list(path.glob("*.yaml")) + list(path.glob("*.yml")))
        elif path.exists():
            files = [path]
        else:
            raise RobotConfigError(path, "robot config not found")
        names += [register_robot_yaml(f) for f in files]
    return names


def _cmd_robots(args: argparse.Namespace) -> int:
    from .registry import list_robots, load_robot, robot_summary

    if args.check:
        import mujoco

    register_robot_configs(args.robot_config)
    rows = []
    for name in list_robots():
        summary = robot_summary(name)
        row = {
            "name": summary.name,
            "dof": summary.dof,
            "floating_base": summary.floating_base,
            "hands": list(summary.hands),
            "source": summary.source,
            "description": summary.description,
            "config": summary.config_path,
        }
        if summary.error:
            row["error"] = summary.error
        if args.check and not summary.error:
            try:
                model = load_robot(name)  # builds the Pinocchio model
                mujoco.MjModel.from_xml_string(model.model_xml)
                row["hand_scale"] = {s: round(h.scale, 4) for s, h in model.hands.items()}
            except Exception as exc:  # report every robot, do not stop at the first
                row["error"] = str(exc)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        print(f"{'robot':<{width}}  {'DoF':>4}  {'hands':<11} source")
        for r in rows:
            dof = f"{r['dof']}{'+6' if r['floating_base'] else ''}"
            hands = ",".join(r["hands"]) or "-"
            tail = f"  UNAVAILABLE: {r['error']}" if "error" in r else ""
            print(f"{r['name']:<{width}}  {dof:>4}  {hands:<11} {r['source']}{tail}")
    failed = any("error" in r for r in rows)
    return 1 if failed and args.check else 0


def register(subparsers) -> None:
    """Add the ``robots`` subcommand to the ``dyad`` CLI."""
    parser = subparsers.add_parser(
        "robots", help="list the robots Dyad can retarget to",
        description="List every robot in the registry: name, joint count (DoF; '+6' marks a "
                    "floating base), hands, and the installed package its model comes from.")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true",
                        help="also load every robot in MuJoCo and Pinocchio (slower); exit 1 "
                             "if any fails")
    add_robot_config_option(parser)
    parser.set_defaults(func=_cmd_robots)
