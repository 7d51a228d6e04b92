"""``dyad up`` end to end in a private network namespace: a remote (``dyad serve``) generator
drives the graph, and a generator without a model fails clearly on the status topic."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _in_namespace(script: str, timeout_s: float = 150.0) -> subprocess.CompletedProcess:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare/ip not available")
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        proc = subprocess.run(prefix + ["sh", "-c", f"ip link set lo up && {script}"],
                              capture_output=True, text=True, timeout=timeout_s, env=env)
        if "Operation not permitted" not in proc.stderr[:300]:
            return proc
    pytest.skip("no permission for a network namespace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from ros_tiny_generator import shared_tiny_checkpoint

    return shared_tiny_checkpoint(tmp_path_factory)


def test_dyad_up_drives_the_graph_from_a_remote_generator(checkpoint, tmp_path):
    pytest.importorskip("rclpy")
    port = _free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    py = sys.executable
    serve = f"{py} -m dyad.cli serve --bind {endpoint} --checkpoint {checkpoint} --device cpu"
    up = (f"{py} -m dyad.cli up --roles generator,retarget,validator,playback,mock_controller "
          f"--remote {endpoint} --set generator.seconds=1.5 --command 'the hands clap' "
          f"--duration 3 --json --log-dir {tmp_path / 'logs'}")
    # the server first (it loads the model), then the graph; a background job of a script
    # ignores SIGINT, so the server is stopped with SIGTERM
    log = tmp_path / "serve.log"
    script = (f"{serve} 2> {log} & SERVE=$!; "
              f"for i in $(seq 600); do grep -q serving {log} && break; sleep 0.1; done; "
              f"{up}; RC=$?; kill -TERM $SERVE; wait $SERVE; exit $RC")
    proc = _in_namespace(script)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert set(summary["states"].values()) <= {"ready", "idle"}, summary
    assert summary["first_command_ms"] is not None, summary
    assert summary["controller_commands"] >= 3           # 45 frames in 16-frame chunks
    assert summary["errors"] == []
    generator_log = (tmp_path / "logs" / "generator.log").read_text()
    assert f"remote {endpoint}" in generator_log
    assert "stopped after 1 request" in log.read_text()


def test_a_generator_without_a_model_reports_why_and_stays_up(tmp_path):
    pytest.importorskip("rclpy")
    missing = tmp_path / "no_such_model.pt"
    script = (f"{sys.executable} -m dyad.cli up --roles generator --set "
              f"generator.checkpoint={missing} --command 'wave' --duration 1 --json")
    proc = _in_namespace(script)
    assert proc.returncode == 1                               # not every node became ready
    summary = json.loads(proc.stdout)
    assert summary["states"]["dyad_generator"] == "error: generator unavailable"
    assert summary["exit_codes"] == {"generator": 0}          # it stayed up until stopped
    assert any("generator unavailable" in e and "no such file" in e for e in summary["errors"])
    assert summary["controller_commands"] == 0                # nothing made up


def test_dyad_up_starts_and_stops_a_graph_in_a_private_network(tmp_path):
    pytest.importorskip("rclpy")
    proc = subprocess.run(
        [sys.executable, "-m", "dyad.cli", "up", "--roles", "playback,mock_controller",
         "--duration", "1", "--log-dir", str(tmp_path / "logs"), "--json",
         "--set", "playback.controller=forward_position", "--private-network"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST"))
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip("no permission for a network namespace")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["states"] == {"dyad_playback": "idle", "dyad_mock_controller": "ready"}
    assert summary["exit_codes"] == {"playback": 0, "mock_controller": 0}
    assert "forward_position" in (tmp_path / "logs" / "playback.log").read_text()
