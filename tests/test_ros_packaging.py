"""How the ROS 2 graph is started and installed: launch files, executables, parameters,
package.xml, ``dyad up``; and the rule that library code never imports ROS."""

from __future__ import annotations

import ast
import json
import os
import py_compile
import re
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from dyad.cli import main
from dyad.ros2.graph import DEFAULT_ROLES, PARAMS_FILE, ROLES, Graph, node_argv, write_overrides

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
SCRIPTS = ROOT / "ros2_ws" / "scripts"


def _launch_nodes(path: Path) -> list[dict]:
    """Keyword arguments (literals only) of every ``Node(...)`` call in a launch file."""
    nodes = []
    for call in ast.walk(ast.parse(path.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Node":
            nodes.append({k.arg: k.value.value for k in call.keywords
                          if isinstance(k.value, ast.Constant)})
    return nodes


def test_launch_files_compile_and_use_launch_ros_nodes(tmp_path):
    assert {p.name for p in LAUNCH_FILES} >= {"dyad.launch.py", "teleop.launch.py"}
    for path in LAUNCH_FILES:
        py_compile.compile(str(path), cfile=str(tmp_path / (path.name + "c")), doraise=True)
        text = path.read_text()
        assert "from launch_ros.actions import Node" in text
        assert "def generate_launch_description()" in text
        assert _launch_nodes(path), path


def test_launch_executables_exist_as_scripts_and_roles():
    executables = {role.executable: role.node_name for role in ROLES.values()}
    seen = set()
    for path in LAUNCH_FILES:
        for node in _launch_nodes(path):
            assert node["package"] == "dyad"
            exe = node["executable"]
            seen.add(exe)
            assert exe in executables, f"{path.name}: {exe} is not a dyad up role"
            assert node["name"] == executables[exe], "parameter file keys are node names"
            script = SCRIPTS / exe
            assert script.is_file() and os.access(script, os.X_OK), script
            assert f"from dyad.ros2.{exe} import main" in script.read_text()
    main_graph = {n["executable"] for n in _launch_nodes(ROOT / "launch" / "dyad.launch.py")}
    assert {ROLES[r].executable for r in DEFAULT_ROLES} <= main_graph


def test_every_role_and_console_script_names_a_module_with_main():
    import importlib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for role in ROLES.values():
        module = importlib.import_module(role.module)
        assert callable(module.main), role
        assert scripts[f"dyad-{role.executable.replace('_', '-')}"] == f"{role.module}:main"
    assert sorted(p.name for p in SCRIPTS.iterdir()) == sorted(r.executable
                                                               for r in ROLES.values())


def test_parameter_file_only_sets_declared_parameters():
    params = yaml.safe_load(PARAMS_FILE.read_text())
    node_names = {r.node_name: r for r in ROLES.values()}
    shared = set(params["/**"]["ros__parameters"])
    for key, body in params.items():
        if key == "/**":
            continue
        assert key in node_names, f"{key} is not a Dyad node"
        source = (ROOT / "ros2_ws" / f"{node_names[key].executable}.py").read_text()
        declared = set(re.findall(r'self\.param\(\s*"(\w+)"', source)) | {"status_period_s"}
        unknown = set(body["ros__parameters"]) - declared
        assert not unknown, f"{key}: {unknown} are not declared by the node"
    assert "robots" in shared


def test_package_xml_is_an_ament_python_package_with_the_message_dependencies():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3" and root.findtext("name") == "dyad"
    assert root.find("export/build_type").text == "ament_python"
    depends = {e.text for e in root.iter("exec_depend")}
    imported = set()
    for path in (ROOT / "ros2_ws").glob("*.py"):
        imported |= set(re.findall(r"^from (\w+_msgs|\w+_interfaces|rclpy|launch_ros)\b",
                                   path.read_text(), re.M))
    for path in LAUNCH_FILES:
        imported |= set(re.findall(r"^from (launch_ros|launch)\b", path.read_text(), re.M))
    assert imported - depends == set(), imported - depends
    assert (ROOT / "resource" / "dyad").is_file()


def test_graph_command_lines_and_overrides(tmp_path):
    argv = node_argv("playback", [PARAMS_FILE], {"/joint_trajectory_controller/joint_trajectory":
                                                 "/arm/jtc/joint_trajectory"})
    assert argv[1:4] == ["-m", "dyad.ros2.playback_node", "--ros-args"]
    assert argv[-2:] == ["-r", "/joint_trajectory_controller/joint_trajectory:="
                                "/arm/jtc/joint_trajectory"]
    path = write_overrides(tmp_path / "o.yaml", "generator", {"seconds": 6.0, "mode": "duet"})
    assert yaml.safe_load(path.read_text()) == {
        "dyad_generator": {"ros__parameters": {"seconds": 6.0, "mode": "duet"}}}


def test_ros_free_modules_do_not_import_ros():
    code = ("import sys; import dyad.ros2.command_limiter, dyad.ros2.playback_schedule, "
            "dyad.ros2.command_message, dyad.ros2.robot_set, dyad.ros2.chunk_retargeter, "
            "dyad.ros2.graph, dyad.ros2.up_cli, dyad.generator.remote; "
            "bad = [m for m in sys.modules if m.startswith(('rclpy', 'std_msgs', "
            "'trajectory_msgs'))]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_library_stages_never_import_ros():
    pattern = re.compile(r"^\s*(import|from)\s+(rclpy|\w+_msgs|launch_ros|rosbags)\b", re.M)
    for stage in ("generator", "retarget", "sim", "training"):
        for path in (ROOT / stage).rglob("*.py"):
            assert not pattern.search(path.read_text()), f"{path} imports ROS"


@pytest.mark.parametrize("argv, message", [
    (["up", "--roles", "generator,dancer"], "unknown role"),
    (["up", "--set", "generator.seconds"], "ROLE.NAME=VALUE"),
    (["up", "--set", "pilot.seconds=3"], "unknown role"),
    (["up", "--remote", "udp://x:1"], "tcp://HOST:PORT"),
    (["up", "--checkpoint", "/nonexistent/x.pt"], "no such file"),
    (["up", "--duration", "0"], "duration"),
])
def test_dyad_up_rejects_bad_options_before_starting_anything(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_dyad_up_refuses_to_overwrite_a_bag(tmp_path, capsys):
    (tmp_path / "bag").mkdir()
    assert main(["up", "--record", str(tmp_path / "bag")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_graph_refuses_unknown_roles():
    from dyad.errors import DyadInputError

    with pytest.raises(DyadInputError, match="unknown role"):
        Graph(["generator", "nope"]).start()


def test_graph_stop_asks_a_hung_node_for_its_stacks_before_killing_it(tmp_path):
    hung = ("import faulthandler, signal, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
            "print('up', flush=True)\n"
            "def stuck_in_teardown():\n"
            "    time.sleep(60)\n"
            "stuck_in_teardown()\n")
    log = tmp_path / "hung.log"
    graph = Graph([])
    with open(log, "w") as out:
        graph.processes["hung"] = subprocess.Popen([sys.executable, "-c", hung], stdout=out,
                                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while "up" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert graph.stop(timeout_s=0.5) == {"hung": -9}
    assert "stuck_in_teardown" in log.read_text()  # where it hung, in its log
