"""Hand retargeting: accuracy on reachable targets, limits, mimic joints, pinch, collisions,
input conventions, streaming and the offline clip API.

Uses the dex-urdf hands and the real MediaPipe clip from ``shared/data`` (beside the repo);
skips when that folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pin = pytest.importorskip("pinocchio")

from dyad.conversions import hand21_to_mano, hand21_to_openxr  # noqa: E402
from dyad.errors import DyadInputError  # noqa: E402
from dyad.skeletons import HAND21_REST_LEFT, HAND21_REST_RIGHT  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
URDF_DIR = DATA / "dex-urdf" / "hands"
CLIP = DATA / "mediapipe_right_hand_621.npy"
needs_data = pytest.mark.skipif(
    not (URDF_DIR.is_dir() and CLIP.is_file()),
    reason=f"reference data not found at {DATA} (shared/data beside the repository)")


def _hand(name, **config):
    from dyad.bench.retarget import load_dex_urdf_hand
    from dyad.retarget.hand_ik import HandIKConfig
    return load_dex_urdf_hand(name, DATA, HandIKConfig(**config) if config else None)


@pytest.fixture(scope="module")
def clip_hand_frame():
    from dyad.retarget.input_conventions import to_hand_frame
    return to_hand_frame(np.load(CLIP), "mediapipe_operator", "right")


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _reachable_samples(ik, rng, count):
    """Random robot poses whose points the full cost can match exactly: no pinch term on and
    fingertips apart by more than the collision barrier. Returns (x, human keypoints) pairs."""
    cfg, kp = ik.config, list(ik.keypoint_indices)
    out = []
    while len(out) < count:
        x = rng.uniform(ik.independent_lower, ik.independent_upper)
        robot = ik.keypoints_of(ik.qpos_from_independent(x))
        human = np.zeros((21, 3))
        human[ik.keypoint_indices] = robot / ik.scales[:, None]
        tips = [kp.index(t) for t in (8, 12, 16, 20) if t in kp]
        thumb = np.linalg.norm(human[[kp[i] for i in tips]] - human[4], axis=1)
        apart = [np.linalg.norm(robot[a] - robot[b]) for i, a in enumerate(tips)
                 for b in tips[i + 1:]]
        if thumb.min() > cfg.pinch_exit_m and min(apart) > cfg.collision_min_distance_m:
            out.append((x, human))
    return out


@needs_data
@pytest.mark.parametrize("name", ["inspire_right", "shadow_right", "allegro_right"])
def test_reachable_targets_are_reached(name):
    ik = _hand(name)
    rng = np.random.default_rng(7)
    errors = []
    for x, human in _reachable_samples(ik, rng, 40):
        start = np.clip(x + rng.normal(0.0, 0.1, x.shape), ik.independent_lower,
                        ik.independent_upper)
        ik.reset(ik.qpos_from_independent(start))
        q = ik.solve(human, max_iterations=30)
        errors.append(ik.errors(q, human)["vector_error_m"])
    errors_mm = np.array(errors) * 1e3
    assert errors_mm.mean() <= 0.5, errors_mm
    assert np.percentile(errors_mm, 95) <= 2.0, errors_mm


@needs_data
@pytest.mark.parametrize("name", ["inspire_right", "schunk_svh_right", "leap_right"])
def test_joint_limits_never_exceeded(name, clip_hand_frame):
    ik = _hand(name)
    rng = np.random.default_rng(3)
    frames = list(clip_hand_frame[::6])
    # Far out of reach: a giant hand, and noise-scrambled hands.
    frames += [clip_hand_frame[100] * 3.0] + [
        clip_hand_frame[50] + rng.normal(0, 0.05, (21, 3)) for _ in range(20)]
    qs = np.array([ik.solve(f) for f in frames])
    assert (qs >= ik.lower - 1e-9).all() and (qs <= ik.upper + 1e-9).all()
    assert any(ik.solve(f) is not None and ik.info.limit_hits > 0 for f in frames[-5:])


@needs_data
def test_mimic_joints_follow_their_leaders(clip_hand_frame):
    ik = _hand("inspire_right")
    urdf = (URDF_DIR / "inspire_hand" / "inspire_hand_right.urdf").read_text()
    from dyad.retarget.hand_ik import parse_urdf_mimic
    mimic = parse_urdf_mimic(urdf)
    assert len(mimic) == 6
    # Solved in reduced coordinates: followers are not free variables.
    assert ik.num_independent == len(ik.joint_names) - len(mimic)
    qs = np.array([ik.solve(f) for f in clip_hand_frame[::10]])
    names = list(ik.joint_names)
    for follower, leader, mult, offset in mimic:
        np.testing.assert_allclose(qs[:, names.index(follower)],
                                   mult * qs[:, names.index(leader)] + offset, atol=1e-12)


def _pinch_ramp(ik, frame, steps=15, hold=10):
    """Move the human thumb tip onto the index tip (5 mm apart) and hold it there."""
    ik.reset()
    ik.solve(frame, max_iterations=40)
    target = frame[8] + np.array([0.0, 0.0, -0.005])
    for s in list(np.linspace(0.0, 1.0, steps)) + [1.0] * hold:
        human = frame.copy()
        human[4] = (1 - s) * frame[4] + s * target
        q = ik.solve(human)
    return ik.errors(q, human)["thumb_index_gap_m"]


@needs_data
@pytest.mark.parametrize("name", ["inspire_right", "allegro_right"])
def test_pinch_closes_the_robot_tips(name, clip_hand_frame):
    frames = [clip_hand_frame[i] for i in (0, 200, 400)]
    gaps = [_pinch_ramp(_hand(name), f) for f in frames]
    assert max(gaps) <= 0.01, gaps
    # Without the pinch term (plain vectors) the same human pinch leaves the tips further apart.
    plain = [_pinch_ramp(_hand(name, pinch_weight=0.1, pinch_enter_m=0.0, pinch_exit_m=1e-6), f)
             for f in frames]
    assert np.mean(plain) > np.mean(gaps) + 0.002, (plain, gaps)


@needs_data
def test_collision_barrier_keeps_fingertips_apart(clip_hand_frame):
    human = clip_hand_frame[0].copy()
    human[8] = human[12]  # the human index tip on the middle tip: crossed fingers
    dist = {}
    for label, dmin in (("barrier", 0.015), ("none", 0.0)):
        ik = _hand("shadow_right", collision_min_distance_m=dmin)
        ik.solve(human, max_iterations=60)
        robot = ik.keypoints_of(ik.solve(human, max_iterations=60))
        kp = list(ik.keypoint_indices)
        dist[label] = np.linalg.norm(robot[kp.index(8)] - robot[kp.index(12)])
    assert dist["barrier"] >= 0.015 - 0.002, dist
    assert dist["none"] < dist["barrier"] - 0.003, dist


@needs_data
def test_warm_start_tracks_the_clip_and_calibration_scales(clip_hand_frame):
    ik = _hand("inspire_right")
    errs = [ik.errors(ik.solve(f), f)["fingertip_error_m"] for f in clip_hand_frame[:60]]
    assert ik.info.iterations <= ik.config.max_iterations
    assert np.mean(errs) < 0.05
    # An operator with a hand 0.8x the standard one gets scales 1/0.8x larger.
    base = ik.calibrate(HAND21_REST_RIGHT)
    small = ik.calibrate(HAND21_REST_RIGHT * 0.8)
    np.testing.assert_allclose(small, base / 0.8, rtol=1e-9)
    with pytest.raises(DyadInputError):
        ik.calibrate(np.zeros((21, 3)))


# ---------------------------------------------------------------------------------------------
# Input conventions and sides


def test_conventions_agree_and_never_mirror():
    from dyad.retarget.input_conventions import (ROTATION_HAND_TO_OPERATOR, chirality_score,
                                                 to_hand_frame)
    rng = np.random.default_rng(0)
    # A relaxed hand: fingers flexed a little toward the palm (-Z).
    hand = HAND21_REST_RIGHT.copy()
    hand[[3, 4, 8, 12, 16, 20], 2] -= 0.02
    rot, shift = _random_rotation(rng), rng.normal(size=3)
    world = hand @ rot.T + shift
    reference = to_hand_frame(world, "hand21_world", "right")
    np.testing.assert_allclose(reference[..., 0, :], 0.0, atol=1e-12)
    for convention, points in (("mano", hand21_to_mano(world)),
                               ("openxr", hand21_to_openxr(world)),
                               ("mediapipe_world", world)):
        np.testing.assert_allclose(to_hand_frame(points, convention, "right"), reference,
                                   atol=1e-9)
    # Rotating into the operator frame and back is exact.
    operator = hand @ ROTATION_HAND_TO_OPERATOR.T
    np.testing.assert_allclose(to_hand_frame(operator, "mediapipe_operator", "right"), hand,
                               atol=1e-12)
    assert np.linalg.det(ROTATION_HAND_TO_OPERATOR) == pytest.approx(1.0)
    # The right hand stays a right hand: thumb on +Y, fingers flexed to -Z.
    assert reference[4, 1] > 0 and chirality_score(reference) > 0
    # SMPL-X: the right hand's joints placed in a 127-joint array.
    from dyad.conversions import SMPLX_RIGHT_HAND, SMPLX_RIGHT_TIPS
    smplx = np.full((127, 3), np.nan)
    mano = hand21_to_mano(world)
    smplx[21], smplx[SMPLX_RIGHT_HAND], smplx[SMPLX_RIGHT_TIPS] = mano[0], mano[1:16], mano[16:]
    np.testing.assert_allclose(to_hand_frame(smplx, "smplx", "right"), reference, atol=1e-9)


def test_mirrored_and_wrong_side_hands_are_errors():
    from dyad.retarget.input_conventions import HandSideError, check_hand_side, to_hand_frame
    hand = HAND21_REST_RIGHT.copy()
    hand[[3, 4, 8, 12, 16, 20], 2] -= 0.03
    mirrored = hand * np.array([1.0, -1.0, 1.0])  # a left hand
    with pytest.raises(HandSideError, match="look like a left hand"):
        to_hand_frame(mirrored, "hand21_world", "right")
    with pytest.raises(HandSideError, match="look like a right hand"):
        to_hand_frame(hand, "hand21", "left")
    left = to_hand_frame(mirrored, "hand21_world", "left")
    assert left[4, 1] < 0  # a left hand keeps its thumb on -Y: no silent mirroring
    with pytest.raises(HandSideError, match="left human hand was given to the right hand"):
        check_hand_side("left", "right", "inspire_right")
    with pytest.raises(DyadInputError, match="unknown hand convention"):
        to_hand_frame(hand, "kinect", "right")
    with pytest.raises(DyadInputError, match=r"\(\.\.\., 21, 3\)"):
        to_hand_frame(np.zeros((20, 3)), "hand21", "right")


@needs_data
def test_left_human_hand_for_right_robot_is_refused(clip_hand_frame):
    from dyad.retarget.input_conventions import HandSideError
    from dyad.retarget.streaming import HandStreamer, retarget_hand_motion
    ik = _hand("inspire_right")
    with pytest.raises(HandSideError):
        HandStreamer(ik, "hand21", side="left")
    with pytest.raises(HandSideError):
        retarget_hand_motion(clip_hand_frame[:5], ik, "hand21", side="left")
    # A right clip that was mirrored somewhere upstream is caught too.
    with pytest.raises(HandSideError):
        retarget_hand_motion(clip_hand_frame[:20] * np.array([1.0, -1.0, 1.0]), ik,
                             "hand21_world")


@needs_data
def test_left_robot_hand_follows_a_left_human_hand(clip_hand_frame):
    """The mirror of the right clip, declared left, on the left Inspire hand: same errors."""
    from dyad.bench.retarget import DEX_URDF_HANDS
    from dyad.retarget.hand_ik import HandIK
    from dyad.retarget.input_conventions import ROTATION_HAND_TO_OPERATOR, to_hand_frame
    from dyad.retarget.robot_model import HandMapping
    spec = DEX_URDF_HANDS["inspire_right"]
    mapping = HandMapping("left", spec.wrist_frame, {0: "base", **spec.keypoint_frames},
                          (), ROTATION_HAND_TO_OPERATOR, spec.scale)
    urdf = URDF_DIR / "inspire_hand" / "inspire_hand_left.urdf"
    model = pin.buildModelFromUrdf(str(urdf))
    mapping = HandMapping(**{**mapping.__dict__, "finger_joints": tuple(model.names[1:])})
    left_ik = HandIK.from_urdf(urdf, mapping)
    right_ik = _hand("inspire_right")
    raw = np.load(CLIP)[:120:4]
    left_clip = to_hand_frame(raw * np.array([1.0, -1.0, 1.0]), "mediapipe_operator", "left")
    right_clip = clip_hand_frame[:120:4]
    assert np.median(left_clip[:, 4, 1]) < 0  # the left thumb sits on -Y
    e_left = np.mean([left_ik.errors(left_ik.solve(f), f)["vector_error_m"] for f in left_clip])
    e_right = np.mean([right_ik.errors(right_ik.solve(f), f)["vector_error_m"]
                       for f in right_clip])
    assert e_left == pytest.approx(e_right, rel=0.15)


# ---------------------------------------------------------------------------------------------
# Errors, streaming and the offline API


@needs_data
def test_wrong_shapes_and_bad_values_are_errors_offline():
    from dyad.retarget.hand_ik import HandIKError
    from dyad.retarget.streaming import retarget_hand_motion
    ik = _hand("inspire_right")
    with pytest.raises(HandIKError, match=r"expected shape \(21, 3\)"):
        ik.solve(np.zeros((20, 3)))
    bad = HAND21_REST_RIGHT.copy()
    bad[8, 0] = np.nan
    with pytest.raises(HandIKError, match="index_tip"):
        ik.solve(bad)
    with pytest.raises(DyadInputError, match=r"\(T, J, 3\)"):
        retarget_hand_motion(np.zeros((21, 3)), ik)
    with pytest.raises(DyadInputError, match=r"21, 3"):
        retarget_hand_motion(np.zeros((4, 20, 3)), ik)


@needs_data
def test_streaming_holds_and_flags_bad_frames(clip_hand_frame):
    from dyad.retarget.streaming import FrameStatus, HandStreamer
    streamer = HandStreamer(_hand("inspire_right"), "hand21")
    first = streamer.step(clip_hand_frame[0])
    assert streamer.last_status is FrameStatus.OK
    nan_frame = clip_hand_frame[1].copy()
    nan_frame[12] = np.nan
    bad_frames = [
        (nan_frame, FrameStatus.HELD_MISSING),
        (None, FrameStatus.HELD_MISSING),
        (np.zeros((20, 3)), FrameStatus.HELD_BAD_SHAPE),
        ("not keypoints", FrameStatus.HELD_BAD_SHAPE),
        (clip_hand_frame[1] * np.array([1.0, -1.0, 1.0]), FrameStatus.HELD_MIRRORED),
        (np.repeat(clip_hand_frame[1][:1], 21, axis=0), FrameStatus.HELD_IMPLAUSIBLE),
        (clip_hand_frame[1] * 1000.0, FrameStatus.HELD_IMPLAUSIBLE),  # millimetres
    ]
    for frame, expected in bad_frames:
        held = streamer.step(frame)  # never raises
        assert streamer.last_status is expected, streamer.last_reason
        assert streamer.last_reason
        np.testing.assert_array_equal(held, first)
    after = streamer.step(clip_hand_frame[2])
    assert streamer.last_status is FrameStatus.OK
    assert not np.array_equal(after, first)
    assert streamer.frames_held == len(bad_frames)
    # Calibration through the streamer takes the tracker's convention.
    scales = streamer.calibrate(HAND21_REST_RIGHT * 0.9)
    np.testing.assert_allclose(scales, streamer.ik.calibrate(HAND21_REST_RIGHT) / 0.9)


@needs_data
def test_retarget_hand_motion_reports_every_frame(clip_hand_frame):
    from dyad.retarget.streaming import retarget_hand_motion
    ik = _hand("schunk_svh_right")
    raw = np.load(CLIP)[:40].astype(np.float64)
    raw[7, 4] = np.nan
    result = retarget_hand_motion(raw, ik, "mediapipe_operator")
    assert result.qpos.shape == (40, len(ik.joint_names))
    assert result.status[7] == "held_missing" and 7 in result.reasons
    np.testing.assert_array_equal(result.qpos[7], result.qpos[6])
    assert np.isnan(result.vector_error_m[7]) and result.ok.sum() == 39
    good = result.ok
    assert np.all(result.vector_error_m[good] < 0.1)
    assert result.limit_hits.dtype.kind == "i" and (result.limit_hits >= 0).all()
    assert (result.qpos >= ik.lower - 1e-9).all() and (result.qpos <= ik.upper + 1e-9).all()


@needs_data
def test_from_robot_model_uses_the_registry_record():
    from dyad.retarget.hand_ik import HandIK, HandIKError, parse_urdf_mimic
    from dyad.retarget.input_conventions import ROTATION_HAND_TO_OPERATOR
    from dyad.retarget.robot_model import HandMapping, RobotModel
    urdf = URDF_DIR / "inspire_hand" / "inspire_hand_right.urdf"
    text = urdf.read_text()
    model = pin.buildModelFromUrdf(str(urdf))
    names = tuple(model.names[1:])
    leaders = tuple(n for n in names if n not in {m[0] for m in parse_urdf_mimic(text)})
    hand = HandMapping("right", "base", {0: "base", 4: "thumb_tip", 8: "index_tip",
                                         12: "middle_tip"}, leaders,
                       ROTATION_HAND_TO_OPERATOR, 1.15)
    robot = RobotModel("inspire_right", "test", text, "urdf", str(urdf.parent), names,
                       model.lowerPositionLimit, model.upperPositionLimit, {"right": hand},
                       mimic=parse_urdf_mimic(text))
    ik = HandIK.from_robot_model(robot, "right")
    assert set(ik.joint_names) == set(names)  # followers come in through the mimic list
    assert ik.num_independent == len(leaders)
    with pytest.raises(HandIKError, match="no left hand"):
        HandIK.from_robot_model(robot, "left")
    bad = HandMapping("right", "base", {0: "base", 4: "no_such_frame"}, leaders)
    with pytest.raises(HandIKError, match="no_such_frame"):
        HandIK(model, bad)
    mirror = HandMapping("right", "base", {0: "base", 4: "thumb_tip"}, leaders,
                         np.diag([1.0, -1.0, 1.0]))
    with pytest.raises(HandIKError, match="mirror"):
        HandIK(model, mirror)


def test_rest_hand_is_a_right_hand():
    from dyad.retarget.input_conventions import chirality_score
    assert chirality_score(HAND21_REST_RIGHT) > 0
    assert chirality_score(HAND21_REST_LEFT) > 0  # in its own (mirrored) frame


@needs_data
def test_bench_retarget_reports_both_solvers_on_a_short_clip(tmp_path):
    import argparse

    from dyad.bench import retarget as bench
    clip = tmp_path / "clip.npy"
    np.save(clip, np.load(CLIP)[:40])
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--hands", "inspire_right", "--data-dir", str(DATA), "--frames",
                              str(clip), "--repeats", "1", "--reachable-samples", "5"])
    out = bench.run(args)
    hand = out["hands"]["inspire_right"]
    dyad = hand["dyad"]
    assert dyad["ms_per_frame"]["n"] == 39 and dyad["best_of_repeats_ms_per_frame"]["p99"] > 0
    assert dyad["reachable"]["samples"] == 5
    assert dyad["reachable"]["vector_error_mm"]["mean"] < 0.5
    assert dyad["sustained_pinch_gap_mm"]["max"] < 10.0
    dex = hand["dex_retargeting"]
    if dex["available"]:  # same error definitions: both finite, both scored on 40 frames
        assert dex["vector_error_mm"]["n"] == 40 and hand["speedup_vs_dex"]["cpu_mean"] > 0
    else:
        assert dex["reason"]
    args.no_dex = True
    assert bench.run(args)["hands"]["inspire_right"]["dex_retargeting"]["available"] is False
