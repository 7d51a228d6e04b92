"""``dyad validate`` exit codes and JSON, and ``dyad render`` of a robot trajectory with its
violations in red."""

import json

import numpy as np
import pytest

from dyad.cli import main
from dyad.retarget.registry import load_robot
from dyad.retarget.trajectory import RobotTrajectory
from dyad.sim.synthetic_trajectories import finger_wave, open_pose


@pytest.fixture(scope="module")
def hand():
    return load_robot("inspire_right")


def _save(tmp_path, robot, q, name="traj.npz", fps=30.0):
    traj = RobotTrajectory(q, robot.joint_names, fps, ((robot.name, robot.name),))
    return str(traj.save(tmp_path / name))


def test_validate_exit_codes_and_json(hand, tmp_path, capsys):
    good = _save(tmp_path, hand, finger_wave(hand, seconds=1.0), "good.npz")
    assert main(["validate", good]) == 0
    assert "PASS" in capsys.readouterr().out

    q = np.tile(open_pose(hand), (30, 1))
    q[10:20, 0] = hand.upper[0] + 0.4
    bad = _save(tmp_path, hand, q, "bad.npz")
    report_path = tmp_path / "report.json"
    assert main(["validate", bad, "--json", str(report_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "joint_position_limit" in out
    data = json.loads(report_path.read_text())
    assert data["passed"] is False
    assert any(v["kind"] == "joint_position_limit" and v["frame_start"] == 10
               for v in data["violations"])


def test_validate_bad_input_exits_2_with_one_line(hand, tmp_path, capsys):
    q = np.tile(open_pose(hand), (30, 1))
    path = _save(tmp_path, hand, q)
    assert main(["validate", path, "--robot", "no_such_robot"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown robot" in err
    assert main(["validate", path, "--robot", "fourier_right"]) == 2
    assert "lacks joints" in capsys.readouterr().err
    np.savez(tmp_path / "nan.npz", qpos=np.full((5, hand.dof), np.nan),
             joint_names=np.array(hand.joint_names), fps=30.0, robot="inspire_right")
    assert main(["validate", str(tmp_path / "nan.npz")]) == 2
    assert "non-finite" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.npz")]) == 2


def test_render_robot_trajectory_marks_violations(hand, tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    q = np.tile(open_pose(hand), (12, 1))
    j = hand.joint_names.index("joint_r_index_proximal")  # a link the camera sees
    q[6:, j] = hand.upper[j] + 0.5
    path = _save(tmp_path, hand, q)
    out = tmp_path / "hand.gif"
    assert main(["render", path, "--out", str(out), "--size", "160x120"]) == 0
    frames = np.asarray(imageio.mimread(out))
    assert frames.shape[0] == 12 and frames.shape[1:3] == (120, 160)
    def red(frame):  # reddish pixels below the caption strip
        r, g, b = (frame[18:, :, c].astype(int) for c in range(3))
        return int(np.sum((r > 100) & (r > 2 * g) & (r > 2 * b)))

    assert red(frames[2]) == 0
    assert red(frames[9]) > 10  # the failing link is drawn red
