"""Batch checking gives each trajectory the verdict it gets alone, on CPU rollout and on MuJoCo
Warp (Warp's CPU device here: slow, its kernels compile on first use)."""

import numpy as np
import pytest

from dyad.errors import DyadInputError
from dyad.retarget.registry import load_robot
from dyad.retarget.trajectory import RobotTrajectory
from dyad.sim.batch import get_backend, validate_batch
from dyad.sim.gate import validate
from dyad.sim.synthetic_trajectories import finger_wave


def _batch():
    robot = load_robot("inspire_right")
    trajs = []
    for k in range(4):
        q = finger_wave(robot, seconds=1.0 + 0.2 * k, amplitude=0.2 + 0.05 * k)
        if k == 2:
            q[10:15, 0] = robot.upper[0] + 0.3  # past the limit, and a jerk
        trajs.append(RobotTrajectory(q, robot.joint_names, 30.0, ((robot.name, robot.name),)))
    return trajs


def _key(report):
    return sorted((v.kind, v.frame_start, v.frame_end, v.subjects) for v in report.violations)


def test_cpu_batch_matches_single_validation():
    trajs = _batch()
    reports, summary = validate_batch(trajs, backend="cpu", check_threads=2)
    singles = [validate(t) for t in trajs]
    assert [r.passed for r in reports] == [s.passed for s in singles] == [True, True, False, True]
    for r, s in zip(reports, singles):
        assert _key(r) == _key(s)
        assert r.summary["frames"] == s.summary["frames"]
        assert r.summary["max_tracking_error_rad"] == pytest.approx(
            s.summary["max_tracking_error_rad"], abs=1e-9)
    assert summary["trajectories"] == 4 and summary["passed"] == 3
    assert 0.0 <= summary["penetration_frequency_ratio"] <= 1.0


def test_unknown_backends_are_named():
    with pytest.raises(DyadInputError, match="no Isaac backend"):
        get_backend("isaac")
    with pytest.raises(DyadInputError, match="unknown batch backend"):
        get_backend("gpu9000")


@pytest.mark.slow
def test_warp_backend_matches_cpu():
    pytest.importorskip("mujoco_warp")
    trajs = _batch()[:3]
    cpu, _ = validate_batch(trajs, backend="cpu")
    warp, summary = validate_batch(trajs, backend=get_backend("warp"))
    assert summary["backend"] == "warp"
    for a, b in zip(cpu, warp):
        assert _key(a) == _key(b)
        assert b.summary["max_tracking_error_rad"] == pytest.approx(
            a.summary["max_tracking_error_rad"], abs=1e-5)
