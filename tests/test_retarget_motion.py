"""Offline retargeting of whole motions (retarget/retarget_motion.py) and ``dyad retarget``:
every mode onto hands and humanoids, limits, sides, contacts, held frames and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pinocchio")
pytest.importorskip("mujoco")

from dyad.cli import main  # noqa: E402
from dyad.motion import ContactInterval, MotionRecord  # noqa: E402
from dyad.retarget.input_conventions import HandSideError  # noqa: E402
from dyad.retarget.registry import UnknownRobotError, load_robot  # noqa: E402
from dyad.retarget.retarget_motion import (RetargetConfig, RetargetInputError, retarget_joints,  # noqa: E402
                                           retarget_motion, separate_hands)
from dyad.retarget.trajectory import FREE_JOINT_COLUMNS, RobotTrajectory  # noqa: E402
from dyad.skeletons import BODY22_NAMES  # noqa: E402

B = {n: i for i, n in enumerate(BODY22_NAMES)}


def _clip(mode: str, label: str, seed: int = 0) -> MotionRecord:
    from dyad.training.synth.types import interactions

    found = {i.label: i for i in interactions(mode)}
    return found[label].generate(np.random.default_rng(seed))


def _trim(motion: MotionRecord, start: int, stop: int) -> MotionRecord:
    """Frames [start, stop) with the contacts that overlap them, shifted."""
    contacts = [ContactInterval(c.agent_a, c.part_a, c.agent_b, c.part_b,
                                max(c.start, start) - start, min(c.end, stop) - start)
                for c in motion.contacts if c.start < stop and c.end > start]
    return MotionRecord(joints=motion.joints[start:stop], fps=motion.fps,
                        skeleton=motion.skeleton, agents=motion.agents, text=motion.text,
                        label=motion.label, contacts=contacts)


@pytest.fixture(scope="module")
def clap() -> MotionRecord:
    motion = _clip("bimanual", "clap")
    assert motion.contacts, "the clap generator should label its palm contact"
    c = motion.contacts[0]
    return _trim(motion, max(0, c.start - 25), min(motion.num_frames, c.end + 10))


@pytest.fixture(scope="module")
def high_five() -> MotionRecord:
    motion = _clip("duet", "high_five")
    assert motion.contacts
    c = motion.contacts[0]
    return _trim(motion, max(0, c.start - 20), min(motion.num_frames, c.end + 5))


@pytest.fixture(scope="module")
def clap_on_hands(clap) -> RobotTrajectory:
    return retarget_motion(clap, "inspire", progress=False)


@pytest.fixture(scope="module")
def clap_on_gr1(clap) -> RobotTrajectory:
    return retarget_motion(clap, "gr1_inspire", progress=False)


@pytest.fixture(scope="module")
def high_five_on_gr1(high_five) -> RobotTrajectory:
    return retarget_motion(high_five, "gr1_inspire", progress=False)


def _check_limits(traj: RobotTrajectory) -> None:
    assert np.isfinite(traj.qpos).all()
    multi = len(traj.instances) > 1
    for instance, robot_name in traj.instances:
        robot = load_robot(robot_name)
        prefix = f"{instance}/" if multi else ""
        cols = [traj.joint_names.index(prefix + j) for j in robot.joint_names]
        q = traj.qpos[:, cols]
        assert np.all(q >= robot.lower - 1e-6), robot_name
        assert np.all(q <= robot.upper + 1e-6), robot_name


# ----------------------------------------------------------------------------- bimanual


def test_bimanual_to_two_hand_robots(clap, clap_on_hands):
    traj = clap_on_hands
    assert traj.instances == (("left", "inspire_left"), ("right", "inspire_right"))
    assert traj.num_frames == clap.num_frames and traj.fps == clap.fps
    for side in ("left", "right"):
        assert all(f"{side}/{c}" in traj.joint_names for c in FREE_JOINT_COLUMNS)
    _check_limits(traj)
    assert set(traj.status) <= {"ok", "clamped"}
    assert np.nanmean(traj.error_m) < 0.03
    # Each hand's base sits on its own human wrist (never the other side's).
    for side in ("left", "right"):
        root = np.stack([traj.column(f"{side}/root_{a}") for a in "xyz"], axis=1)
        wrist = clap.joints[:, clap.agent_index(side), 0]
        assert np.median(np.linalg.norm(root - wrist, axis=1)) < 0.08
    assert np.mean(traj.column("left/root_y")) > np.mean(traj.column("right/root_y"))
    # Contacts carried over, agents renamed to the instances (here the same names).
    assert [(c.agent_a, c.part_a, c.agent_b, c.part_b) for c in traj.contacts] == \
        [(c.agent_a, c.part_a, c.agent_b, c.part_b) for c in clap.contacts]


def test_two_free_hands_do_not_pass_through_each_other(clap_on_hands):
    gaps = np.array([g for g in clap_on_hands.meta["min_clearance_m"] if g is not None])
    assert len(gaps) and gaps.min() > -0.002


def test_bimanual_to_one_humanoid(clap, clap_on_gr1):
    traj = clap_on_gr1
    robot = load_robot("gr1_inspire")
    assert traj.instances == (("gr1_inspire", "gr1_inspire"),)
    assert traj.joint_names == FREE_JOINT_COLUMNS + robot.joint_names  # one instance: no prefix
    _check_limits(traj)
    # The robot stands still: hands-only input moves waist and arms, not the base or legs.
    assert np.ptp(traj.qpos[:, :7], axis=0).max() < 1e-9
    legs = [traj.joint_names.index(j) for j in robot.joint_names if "leg" in j]
    assert np.ptp(traj.qpos[:, legs], axis=0).max() < 1e-9
    assert np.nanmean(traj.error_m) < 0.03
    # One instance plays both hands: contact parts get the side of the hand.
    (c,) = traj.contacts
    assert (c.agent_a, c.agent_b) == ("gr1_inspire", "gr1_inspire")
    assert {c.part_a, c.part_b} == {"left_palm", "right_palm"}


def test_humanoid_arms_follow_the_right_side(clap, clap_on_gr1):
    """The robot's right wrist goes where the human right hand goes (mirrored never)."""
    import pinocchio as pin

    robot = load_robot("gr1_inspire")
    model, data = robot.pin_model, robot.pin_model.createData()
    traj = clap_on_gr1
    t = 0  # hands apart at the start of the clip
    q = np.concatenate([traj.qpos[t, :3], traj.qpos[t, 4:7], traj.qpos[t, 3:4],
                        traj.qpos[t, 7:]])
    q_pin = pin.neutral(model)
    q_pin[:7] = q[:7]
    for j, name in enumerate(robot.joint_names):
        q_pin[model.joints[model.getJointId(name)].idx_q] = traj.qpos[t, 7 + j]
    pin.framesForwardKinematics(model, data, q_pin)
    left = data.oMf[model.getFrameId(robot.hands["left"].wrist_frame)].translation
    right = data.oMf[model.getFrameId(robot.hands["right"].wrist_frame)].translation
    human_left = clap.joints[t, clap.agent_index("left"), 0]
    human_right = clap.joints[t, clap.agent_index("right"), 0]
    assert (left[1] - right[1]) * (human_left[1] - human_right[1]) > 0
    assert left[1] > right[1]


# ----------------------------------------------------------------------------- duet


def test_duet_to_two_humanoids(high_five, high_five_on_gr1):
    traj = high_five_on_gr1
    assert traj.instances == (("A", "gr1_inspire"), ("B", "gr1_inspire"))
    _check_limits(traj)
    assert set(traj.status) <= {"ok", "clamped"}
    assert np.nanmean(traj.error_m) < 0.03
    for agent in ("A", "B"):
        # The floating base follows the pelvis (GR1's base frame is its pelvis).
        root = np.stack([traj.column(f"{agent}/root_{a}") for a in "xy"], axis=1)
        pelvis = high_five.joints[:, high_five.agent_index(agent), B["pelvis"], :2]
        assert np.abs(root - pelvis).max() < 0.03
    # A faces +X, B faces -X, as the humans do.
    yaw_a = 2 * np.arctan2(traj.column("A/root_qz"), traj.column("A/root_qw"))
    yaw_b = 2 * np.arctan2(traj.column("B/root_qz"), traj.column("B/root_qw"))
    assert np.abs(np.angle(np.exp(1j * yaw_a))).max() < 0.2
    assert np.abs(np.angle(np.exp(1j * (yaw_b - np.pi)))).max() < 0.2
    assert [(c.agent_a, c.part_a, c.agent_b, c.part_b, c.start, c.end) for c in traj.contacts] \
        == [(c.agent_a, c.part_a, c.agent_b, c.part_b, c.start, c.end)
            for c in high_five.contacts]
    assert traj.meta["scales"]["A"]["bones"]["l_knee"] > 0


def test_duet_hands_meet_where_the_humans_touch(high_five, high_five_on_gr1):
    """Contact blending: during the labelled high five the two robots' hands are close."""
    import pinocchio as pin

    traj = high_five_on_gr1
    c = high_five.contacts[0]
    robot = load_robot("gr1_inspire")
    model, data = robot.pin_model, robot.pin_model.createData()

    def palm(agent, side, t):
        q = pin.neutral(model)
        root = [traj.column(f"{agent}/root_{a}")[t] for a in ("x", "y", "z", "qx", "qy", "qz",
                                                              "qw")]
        q[:7] = root
        for name in robot.joint_names:
            q[model.joints[model.getJointId(name)].idx_q] = traj.column(f"{agent}/{name}")[t]
        pin.framesForwardKinematics(model, data, q)
        return data.oMf[model.getFrameId(robot.hands[side].wrist_frame)].translation.copy()

    side_a = c.part_a.split("_")[0]
    side_b = c.part_b.split("_")[0]
    mid = (c.start + c.end) // 2
    robot_gap = np.linalg.norm(palm(c.agent_a, side_a, mid) - palm(c.agent_b, side_b, mid))
    human_gap = np.linalg.norm(
        high_five.joints[mid, high_five.agent_index(c.agent_a), B[side_a[0] + "_wrist"]]
        - high_five.joints[mid, high_five.agent_index(c.agent_b), B[side_b[0] + "_wrist"]])
    assert robot_gap < human_gap + 0.06


# ----------------------------------------------------------------------------- bad input


def test_non_finite_frames_are_held(clap):
    joints = clap.joints.astype(np.float64).copy()
    joints[10:13, 1, 5] = np.nan  # right hand loses its index MCP for three frames
    traj = retarget_joints(joints, clap.skeleton, clap.agents, ["inspire_left", "inspire_right"],
                           fps=clap.fps, progress=False)
    assert list(traj.status[10:13]) == ["held"] * 3
    assert traj.status[9] != "held" and traj.status[13] != "held"
    right = [i for i, n in enumerate(traj.joint_names) if n.startswith("right/")]
    left = [i for i, n in enumerate(traj.joint_names) if n.startswith("left/")]
    assert np.array_equal(traj.qpos[10:13, right], np.repeat(traj.qpos[9:10, right], 3, 0))
    # The other hand is still solved on those frames.
    assert not np.array_equal(traj.qpos[10, left], traj.qpos[12, left]) or \
        np.allclose(clap.joints[10, 0], clap.joints[12, 0])
    assert np.isfinite(traj.qpos).all()


def test_non_finite_first_frames_hold_the_rest_pose(clap):
    joints = clap.joints.astype(np.float64).copy()
    joints[:2] = np.nan
    traj = retarget_joints(joints, clap.skeleton, clap.agents, "gr1_inspire", fps=clap.fps,
                           progress=False)
    assert list(traj.status[:2]) == ["held", "held"] and traj.status[2] != "held"
    assert np.isfinite(traj.qpos).all() and np.isnan(traj.error_m[:2]).all()
    with pytest.raises(RetargetInputError, match="every frame"):
        retarget_joints(np.full_like(joints, np.nan), clap.skeleton, clap.agents, "gr1_inspire")


def test_wrong_skeleton_for_the_robot(high_five):
    with pytest.raises(RetargetInputError, match="needs humanoid robots"):
        retarget_motion(high_five, "inspire_right", progress=False)


def test_unknown_robot_lists_the_known_ones(clap):
    with pytest.raises(UnknownRobotError, match="gr1_inspire"):
        retarget_motion(clap, "atlas", progress=False)


def test_a_hand_never_drives_the_other_sides_robot(clap):
    with pytest.raises(HandSideError):
        retarget_motion(clap, {"left": "inspire_right"}, progress=False)
    # A single right-hand robot takes the right hand only.
    traj = retarget_motion(clap, "inspire_right", progress=False)
    assert traj.instances == (("inspire_right", "inspire_right"),)
    assert traj.meta["contacts_dropped"] == len(clap.contacts)


def test_a_mirrored_clip_is_refused():
    fists = _clip("bimanual", "make_fists")  # curled fingers: chirality is unambiguous
    mirrored = fists.joints.copy()
    mirrored[..., 1] *= -1.0  # every hand now looks like the other side's
    for robot in ("inspire", "gr1_inspire"):
        with pytest.raises(HandSideError):
            retarget_joints(mirrored, fists.skeleton, fists.agents, robot, progress=False)


def test_malformed_arrays(clap):
    with pytest.raises(RetargetInputError, match="expected shape"):
        retarget_joints(clap.joints[:, :, :20], clap.skeleton, clap.agents, "inspire")
    with pytest.raises(RetargetInputError, match="left"):
        retarget_joints(clap.joints, "hand21", ("A", "B"), "inspire")


def test_separate_hands_does_not_throw_touching_hands_apart():
    # Two fingers side by side (touching) and one sphere pair whose centres nearly coincide
    # (cupped hands, pinky on pinky): a full Gauss-Newton step along that pair's unreliable
    # direction overshot to 3 cm; bounded steps end at the margin, about a sphere away.
    r = 0.0055
    left = (np.array([[x, 0.0, 0.0] for x in np.arange(0.0, 0.06, 0.006)]), np.full(10, r))
    right = (np.array([[x, 0.0105, 0.0] for x in np.arange(0.0, 0.06, 0.006)]
                      + [[0.03, 0.0015, 0.0005]]), np.full(11, r))
    d, gap = separate_hands(left, right, 0.0)
    assert gap == pytest.approx(0.0, abs=1e-5)
    assert np.linalg.norm(d) < 0.015


def test_separate_hands_moves_overlapping_sets_apart():
    left = (np.array([[0.0, 0.01, 0.0]]), np.array([0.02]))
    right = (np.array([[0.0, -0.01, 0.0]]), np.array([0.02]))
    d, gap = separate_hands(left, right, 0.005)
    assert gap == pytest.approx(0.005, abs=2e-4)
    assert d[1] > 0  # left moves to +Y, right to -Y
    d, gap = separate_hands((left[0] + [0.0, 0.2, 0.0], left[1]), right, 0.005)
    assert not d.any() and gap > 0.1


def test_progress_bar_on_request(clap, capsys):
    short = _trim(clap, 0, 5)
    retarget_motion(short, "inspire", progress=True)
    assert "retarget" in capsys.readouterr().err


# ----------------------------------------------------------------------------- CLI


def test_cli_writes_a_trajectory(clap, tmp_path, capsys):
    motion = tmp_path / "clap.npz"
    _trim(clap, 0, 20).save(motion)
    out = tmp_path / "clap_traj.npz"
    rc = main(["retarget", str(motion), "--robot", "inspire_left", "--robot", "inspire_right",
               "--out", str(out), "--json", "--no-progress"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    traj = RobotTrajectory.load(out)
    assert summary["frames"] == traj.num_frames == 20
    assert summary["instances"] == [["left", "inspire_left"], ["right", "inspire_right"]]
    assert traj.source == str(motion)


def test_cli_time_scaling_slows_a_fast_clap_down(clap, tmp_path, capsys):
    motion = tmp_path / "clap.npz"
    clap.save(motion)
    plain, scaled = tmp_path / "plain.npz", tmp_path / "scaled.npz"
    for out, extra in ((plain, []), (scaled, ["--time-scaling"])):
        assert main(["retarget", str(motion), "--robot", "inspire", "--out", str(out),
                     "--json", "--no-progress", *extra]) == 0
    capsys.readouterr()
    plain_traj, scaled_traj = RobotTrajectory.load(plain), RobotTrajectory.load(scaled)
    assert plain_traj.num_frames == clap.num_frames
    assert scaled_traj.num_frames > plain_traj.num_frames
    assert "time_scaling" in scaled_traj.meta and "time_scaling" not in plain_traj.meta


def test_cli_bad_input_is_one_line_and_exit_2(clap, high_five, tmp_path, capsys):
    motion = tmp_path / "duet.npz"
    _trim(high_five, 0, 5).save(motion)
    out = tmp_path / "t.npz"
    assert main(["retarget", str(motion), "--robot", "inspire", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "humanoid" in err
    assert main(["retarget", str(motion), "--robot", "atlas", "--out", str(out)]) == 2
    assert "known robots" in capsys.readouterr().err
    assert not out.exists()


def test_cli_holds_bad_frames_only_when_asked(clap, tmp_path, capsys):
    good = _trim(clap, 0, 12)
    path = tmp_path / "gappy.npz"
    good.save(path)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["joints"][4, 0, 3] = np.nan
    np.savez(path, **arrays)
    out = tmp_path / "gappy_traj.npz"
    assert main(["retarget", str(path), "--robot", "inspire", "--out", str(out)]) == 2
    assert "frame 4" in capsys.readouterr().err
    assert main(["retarget", str(path), "--robot", "inspire", "--out", str(out),
                 "--hold-bad-frames", "--no-progress"]) == 0
    traj = RobotTrajectory.load(out)
    assert traj.status[4] == "held" and traj.status[3] != "held"


@pytest.mark.slow
@pytest.mark.parametrize("robot", ["gr1_fourier", "g1"])
def test_duet_on_other_humanoids(high_five, robot):
    traj = retarget_motion(_trim(high_five, 0, 15), robot, progress=False)
    _check_limits(traj)
    assert np.nanmean(traj.error_m) < 0.06


@pytest.mark.slow
@pytest.mark.parametrize("robot", ["fourier", "ability", "svh", "g1_three_finger",
                                   "shadow_right"])
def test_bimanual_on_other_hands(clap, robot):
    traj = retarget_motion(_trim(clap, 0, 15), robot, progress=False)
    _check_limits(traj)
    assert np.nanmean(traj.error_m) < 0.05


@pytest.mark.slow
def test_humanoid_benchmark_reports_its_figures(capsys):
    rc = main(["bench", "retarget-humanoid", "--json", "--clips", "1", "--repeats", "1",
               "--reachable-samples", "2"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    gr1 = report["results"]["robots"]["gr1_inspire"]
    for mode in ("bimanual", "duet"):
        assert gr1[mode]["ms_per_robot_frame"]["mean"] > 0
        assert gr1[mode]["keypoint_error_mm"]["mean"] < 30
    assert gr1["duet"]["robots_per_frame"] == 2
    assert gr1["reachable"]["point_error_mm"]["max"] < 5


def test_a_partners_forearm_is_no_obstacle_only_around_a_hand_contact():
    from dyad.retarget.retarget_motion import _unshielded_forearms

    contacts = [ContactInterval("B", "right_palm", "A", "right_palm", 35, 126),
                ContactInterval("A", "left_hand", "B", "torso", 40, 60)]
    out = _unshielded_forearms(contacts, {"A": "A", "B": "B"}, num_frames=164,
                               slack_frames=9)
    # Both robots stop seeing the other's right forearm, slack included, and nothing else:
    # a hand on the partner's torso keeps the trunk an obstacle.
    for pair in (("A", "B"), ("B", "A")):
        frames = sorted(out[pair])
        assert frames[0] == 26 and frames[-1] == 134
        assert all(out[pair][t] == {"right_forearm"} for t in frames)
    assert 25 not in out[("A", "B")] and 135 not in out[("A", "B")]
    # An agent no robot plays, or a contact of one agent with itself, unshields nothing.
    assert _unshielded_forearms(contacts, {"A": "A"}, 164, 9) == {}
    self_contact = [ContactInterval("A", "left_palm", "A", "right_palm", 0, 10)]
    assert _unshielded_forearms(self_contact, {"A": "A"}, 164, 9) == {}


def test_obstacle_spheres_name_their_groups():
    from dyad.retarget.body_ik import BodyIK

    ik = BodyIK(load_robot("gr1_inspire"))
    ik.solve(ik.targets_of(ik.q_rest))
    shapes = ik.obstacle_spheres()
    groups = ik.obstacle_sphere_groups
    assert len(groups) == len(shapes.radii) == len(shapes.centres) == len(shapes.rotations) > 0
    assert set(groups) == {"left_forearm", "right_forearm", "trunk", "thighs"}
    # The trunk's boxes travel as boxes, with their world axes.
    boxes = (shapes.half_extents > 0).any(axis=1)
    assert boxes.any() and set(groups[boxes]) == {"trunk"}
    np.testing.assert_allclose(shapes.rotations @ shapes.rotations.transpose(0, 2, 1),
                               np.broadcast_to(np.eye(3), shapes.rotations.shape), atol=1e-9)


def test_free_hands_touch_where_the_humans_declare_a_contact(clap):
    """Free hands follow the human wrists, whose offset fits human hands, not the robot's:
    during the clap's declared palm contact the two robot hands are brought together until
    their collision geoms touch, where without the declaration they keep (nearly)
    ``hand_clearance_m`` apart; the gate then finds the palms touching over the interval."""
    from dyad.sim.gate import validate

    c = clap.contacts[0]
    undeclared = MotionRecord(joints=clap.joints, fps=clap.fps, skeleton=clap.skeleton,
                              agents=clap.agents, text=clap.text, label=clap.label, contacts=[])

    def gaps(traj):
        return np.array([np.nan if g is None else g for g in traj.meta["min_clearance_m"]])

    together = retarget_motion(clap, "inspire", progress=False)
    apart = retarget_motion(undeclared, "inspire", progress=False)
    assert np.nanmax(np.abs(gaps(together)[c.start:c.end])) < 0.001
    # Pairs opening square to the palms' line are not pushed (hand_pair.py): 3-5 mm.
    assert np.all((gaps(apart)[c.start:c.end] > 0.003) & (gaps(apart)[c.start:c.end] < 0.0055))
    assert not validate(together).of_kind("missed_contact")


def test_free_hands_close_the_named_parts_of_a_declared_contact(monkeypatch):
    """A finger frame joins one hand's index tip with the other's thumb tip. Closing the
    nearest sphere pair of the two hands (whatever fingers those are) left the named tips
    apart (contact ratio 0 in the gate); closing the nearest pair between the named parts
    makes them touch."""
    from dyad.retarget import retarget_motion as rm
    from dyad.sim.gate import validate

    motion = _clip("bimanual", "finger_frame")
    hand = rm._FreeHand(load_robot("inspire_right"), "right", None)
    thumb, tip = hand.part_mask("thumb"), hand.part_mask("thumb_tip")
    assert tip.any() and not (tip & ~thumb).any()
    # Palm and fingers cover the hand's spheres; only the thumb's base link is in two (palm
    # and thumb, as the gate counts it).
    split = np.stack([hand.part_mask(p) for p in ("palm", "thumb", "index", "middle", "ring",
                                                  "pinky")])
    assert (split.sum(axis=0) >= 1).all() and hand.part_mask("hand").all()
    assert 0 < (split.sum(axis=0) == 2).sum() < thumb.sum()
    named = validate(retarget_motion(motion, "inspire", progress=False))
    assert min(named.summary["contact_ratios"].values()) >= 0.9, named.describe()
    monkeypatch.setattr(rm._FreeHand, "part_mask", lambda self, part: None)
    nearest = validate(retarget_motion(motion, "inspire", progress=False))
    assert max(nearest.summary["contact_ratios"].values()) < 0.5


def test_arms_pressing_toward_a_partner_creep_instead_of_freezing_and_jumping():
    """A hug presses each robot's arms toward the partner's trunk, which the clearance terms
    keep them off. A step that would cross the margin is rejected and retried with more
    damping; with too few retries every step of a frame was rejected, the arms froze for a
    second or two (31 frames on this clip) and then jumped through the partner (sphere overlap
    -18 mm) once the targets had run far enough. Enough retries let them creep along."""
    motion = _clip("duet", "hug")
    traj = retarget_motion(motion, "gr1_inspire", progress=False)
    arms = [i for i, n in enumerate(traj.joint_names) if "shoulder" in n or "elbow" in n]
    still = np.all(np.abs(np.diff(traj.qpos[:, arms], axis=0)) < 1e-9, axis=1)
    longest = run = 0
    for frame_still in still:
        run = run + 1 if frame_still else 0
        longest = max(longest, run)
    assert longest <= 3, longest
    gaps = [g for g in traj.meta["min_clearance_m"] if g is not None]
    assert min(gaps) > -0.002, min(gaps)


def test_duet_hands_slide_so_their_thumbs_clear_in_a_double_high_five():
    """Each person's left palm meets the other's right one: the open Inspire thumbs stand on
    the same side of both palms. Without the slide the robots' thumbs are commanded 2.7 cm
    into each other while the palms touch (in simulation they hold the palms apart and the touch is
    missed); with it no pair but two palm geoms is commanded more than a few millimetres in,
    and the palms still meet."""
    import mujoco

    from dyad.retarget.hand_pair import HandPairClearance
    from dyad.retarget.registry import load_robot

    from dyad.training.synth.dataset import clip_seed
    from dyad.training.synth.types import interactions

    # The first double high five of `dyad bench gate-pass` (seed 3).
    types = interactions("duet")
    k = [t.label for t in types].index("double_high_five")
    motion = types[k].generate(np.random.default_rng(clip_seed(3, k).spawn(2)[0]))
    c = motion.contacts[0]
    robot = load_robot("gr1_inspire")
    inside = range(c.start + 2, c.end)

    def deepest(config):
        traj = retarget_motion(motion, robot, config=config, progress=False)
        rows = {a: traj.qpos[:, [traj.joint_names.index(f"{a}/{n}") for n in
                                 list(FREE_JOINT_COLUMNS) + list(robot.joint_names)]]
                for a in ("A", "B")}
        out = []
        for a_side, b_side in (("left", "right"), ("right", "left")):
            pair = HandPairClearance.for_robots(robot, robot, (a_side, b_side))
            m = pair.model
            palms = [[g for g in range(m.ngeom) if m.geom_contype[g] and mujoco.mj_id2name(
                m, mujoco.mjtObj.mjOBJ_BODY, int(m.geom_bodyid[g])) == f"{tag}/{side[0]}_palm"]
                for tag, side in (("L", a_side), ("R", b_side))]
            for t in inside:
                others, _ = pair.contacts(rows["A"][t], rows["B"][t], palms=False)
                palm_gap = min(mujoco.mj_geomDistance(m, pair.data, g1, g2, 0.1, None)
                               for g1 in palms[0] for g2 in palms[1])
                out.append((others.min() if len(others) else np.inf, palm_gap))
        return np.array(out)

    off = deepest(RetargetConfig(hand_overlap_m=None))
    on = deepest(RetargetConfig())
    assert np.median(off[:, 0]) < -0.02
    assert np.median(on[:, 0]) > -0.005
    assert np.all(on[:, 1] < 0.005)  # the palms still touch
