import numpy as np
import pytest

from dyad.errors import MotionFileError
from dyad.motion import ContactInterval
from dyad.retarget.trajectory import RobotTrajectory


def two_hands(frames=10):
    names = [f"{side}/j{k}" for side in ("left", "right") for k in range(3)]
    qpos = np.linspace(0, 1, frames)[:, None] * np.ones(6)
    return RobotTrajectory(qpos=qpos, joint_names=names, fps=30.0,
                           instances=[("left", "inspire_left"), ("right", "inspire_right")],
                           contacts=[ContactInterval("left", "palm", "right", "palm", 2, 6)])


def test_round_trip_and_chunks(tmp_path):
    traj = two_hands()
    back = RobotTrajectory.load(traj.save(tmp_path / "t.npz"))
    assert np.array_equal(back.qpos, traj.qpos) and back.joint_names == traj.joint_names
    assert back.robot == "multi" and back.instances == traj.instances
    assert back.contacts == traj.contacts and list(back.status) == ["ok"] * 10
    chunk = back.slice(4, 8)
    assert chunk.start_frame == 4 and chunk.num_frames == 4
    assert np.array_equal(chunk.column("right/j2"), traj.qpos[4:8, 5])


def test_errors_name_file_frame_and_joint(tmp_path):
    path = two_hands().save(tmp_path / "t.npz")
    data = dict(np.load(path))
    data["qpos"][6, 4] = np.nan
    np.savez(path, **data)
    with pytest.raises(MotionFileError, match=r"t\.npz: non-finite joint position at frame 6, "
                                              r"joint right/j1"):
        RobotTrajectory.load(path)
    data["qpos"] = data["qpos"][:, :5]
    np.savez(path, **data)
    with pytest.raises(MotionFileError, match="5 columns but joint_names lists 6"):
        RobotTrajectory.load(path)


def test_unknown_status_is_refused():
    with pytest.raises(MotionFileError, match="unknown frame status"):
        RobotTrajectory(qpos=np.zeros((2, 1)), joint_names=["j"], fps=30.0,
                        instances=[("r", "r")], status=np.array(["ok", "fine"]))
