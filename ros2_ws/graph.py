"""The node graph as processes: roles, their executables and command lines (no ROS imports).

``dyad up``, the graph tests and ``dyad bench pipeline`` start the same nodes that
``launch/dyad.launch.py`` starts, each as ``python -m dyad.ros2.<role>_node --ros-args ...``
with the packaged parameter file, so the graph behaves the same with or without ``ros2 launch``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import yaml

from dyad.errors import DyadInputError

PARAMS_FILE = Path(__file__).resolve().parent / "params" / "dyad.yaml"
"""The packaged parameters of the whole graph."""


@dataclass(frozen=True)
class Role:
    """One node of the graph: its executable (``ros2 run dyad EXECUTABLE``) and node name."""

    executable: str
    node_name: str

    @property
    def module(self) -> str:
        return f"dyad.ros2.{self.executable}"


ROLES: dict[str, Role] = {
    "generator": Role("generator_node", "dyad_generator"),
    "retarget": Role("retarget_node", "dyad_retarget"),
    "validator": Role("validator_node", "dyad_validator"),
    "playback": Role("playback_node", "dyad_playback"),
    "teleop": Role("teleop_node", "dyad_teleop"),
    "mock_controller": Role("mock_controller_node", "dyad_mock_controller"),
    "bag_recorder": Role("bag_recorder_node", "dyad_bag_recorder"),
}
DEFAULT_ROLES = ("generator", "retarget", "validator", "playback", "mock_controller")


def check_roles(roles: Sequence[str]) -> tuple[str, ...]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise DyadInputError(f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(ROLES)}")
    return tuple(dict.fromkeys(roles))


def write_overrides(path: Path, role: str, params: Mapping[str, object]) -> Path:
    """A parameter file setting ``params`` of one role's node.

    ``-p NAME:=VALUE`` on a command line counts as a ``/**`` entry, which loses to the
    node-specific entries of a parameter file; a file keyed by the node's name, loaded last,
    wins.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({ROLES[role].node_name: {"ros__parameters": dict(params)}}),
                    encoding="utf-8")
    return path


def node_argv(role: str, params_files: Sequence[Path] = (PARAMS_FILE,),
              remaps: Mapping[str, str] | None = None) -> list[str]:
    """The command line of one node (parameter files in order: later ones win)."""
    argv = [sys.executable, "-m", ROLES[role].module, "--ros-args"]
    for path in params_files:
        argv += ["--params-file", str(path)]
    for old, new in (remaps or {}).items():
        argv += ["-r", f"{old}:={new}"]
    return argv


@dataclass
class Graph:
    """The graph's nodes as child processes.

    Args:
        roles: roles to start.
        params_files: parameter files, later ones override earlier ones.
        params: role -> parameter overrides.
        remaps: role -> topic remappings.
        log_dir: each node's output goes to ``log_dir/ROLE.log`` (None: inherit the terminal).
        env: extra environment variables.
    """

    roles: Sequence[str]
    params_files: Sequence[Path] = (PARAMS_FILE,)
    params: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    remaps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    log_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _tmp: tempfile.TemporaryDirectory | None = None

    def start(self) -> None:
        """Start every role (in order); returns at once."""
        check_roles(self.roles)
        env = dict(os.environ)
        env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        if self.log_dir is not None:
            Path(self.log_dir).mkdir(parents=True, exist_ok=True)
        if self.params and self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dyad-graph-")
        for role in self.roles:
            files = list(self.params_files)
            if self.params.get(role):
                files.append(write_overrides(Path(self._tmp.name) / f"{role}.yaml", role,
                                             self.params[role]))
            argv = node_argv(role, files, self.remaps.get(role))
            out = None
            if self.log_dir is not None:
                out = open(Path(self.log_dir) / f"{role}.log", "w", encoding="utf-8")
            self.processes[role] = subprocess.Popen(argv, env=env, stdout=out,
                                                    stderr=subprocess.STDOUT if out else None)
            if out is not None:
                out.close()  # the child holds its own descriptor

    def exited(self) -> dict[str, int]:
        """Roles whose process has ended, with their exit codes."""
        return {r: p.returncode for r, p in self.processes.items() if p.poll() is not None}

    def stop(self, timeout_s: float = 10.0) -> dict[str, int]:
        """SIGINT every node (they finish cleanly: bags get their metadata), then SIGKILL what
        is left after ``timeout_s``; returns the exit codes. A node that is killed is first
        sent SIGUSR1, on which it prints its threads' Python stacks to its log, so the log says
        where it hung."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGUSR1)
                try:
                    proc.wait(timeout=1.0)  # SIGUSR1 does not end a node: only dumps stacks
                except subprocess.TimeoutExpired:
                    pass
                proc.kill()
                proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return {r: p.returncode for r, p in self.processes.items()}

    def __enter__(self) -> "Graph":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
