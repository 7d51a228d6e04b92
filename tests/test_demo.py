"""The README's main job end to end: text -> motion -> robots -> gate -> files (tiny model)."""

import json

import numpy as np
import pytest
from ros_tiny_generator import shared_tiny_checkpoint

from dyad.cli import main
from dyad.motion import MotionRecord
from dyad.retarget.trajectory import RobotTrajectory


@pytest.mark.slow
def test_demo_writes_motion_trajectory_and_verdict_for_both_modes(tmp_path_factory, tmp_path,
                                                                  capsys):
    tiny = shared_tiny_checkpoint(tmp_path_factory)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--checkpoint", str(tiny), "--seconds", "1",
                 "--no-video"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [p["mode"] for p in summary["prompts"]] == ["duet", "bimanual"]
    for prompt in summary["prompts"]:
        motion = MotionRecord.load(prompt["files"]["motion"])
        traj = RobotTrajectory.load(prompt["files"]["trajectory"])
        report = json.loads(open(prompt["files"]["report"]).read())
        assert motion.mode == prompt["mode"] and motion.text == prompt["text"]
        assert motion.num_frames == prompt["frames"] and traj.num_frames == prompt["robot_frames"]
        assert traj.num_frames >= motion.num_frames  # time scaling only ever slows down
        assert np.isfinite(traj.qpos).all()
        assert report["passed"] == prompt["passed"]
        # The gate's speed is the report's own (simulation and checks); the call's time also
        # builds the scene, so it is longer than the trajectory's duration over that speed.
        assert prompt["gate_realtime_factor"] == round(report["summary"]["real_time_factor"], 1)
        assert prompt["gate_s"] > traj.num_frames / traj.fps / prompt["gate_realtime_factor"]
        assert sorted({v["kind"] for v in report["violations"]}) == prompt["violations"]
    assert summary["prompts"][0]["robot"] == "gr1_inspire"
    assert {name for name, _ in RobotTrajectory.load(
        summary["prompts"][1]["files"]["trajectory"]).instances} == {"left", "right"}


def test_demo_refuses_an_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker / "demo"), "--no-video"]) == 2
    assert "cannot create" in capsys.readouterr().err
