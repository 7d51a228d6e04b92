"""The sim gate fails deliberately bad trajectories with the right kind and frames, and passes
good ones. Trajectories are built in joint space (no IK) on registry robots."""

import json

import mujoco
import numpy as np
import pytest

from dyad.errors import DyadInputError
from dyad.motion import ContactInterval
from dyad.retarget.registry import load_robot
from dyad.retarget.trajectory import RobotTrajectory
from dyad.sim.gate import StreamingValidator, validate
from dyad.sim.report import ValidationReport
from dyad.sim.synthetic_trajectories import apply_mimic, facing_hands, finger_wave, open_pose
from dyad.sim.thresholds import default_thresholds

FPS = 30.0


def one_hand(robot, qpos):
    return RobotTrajectory(qpos, robot.joint_names, FPS, ((robot.name, robot.name),))


def test_still_and_slow_hand_pass(right):
    still = one_hand(right, np.tile(open_pose(right), (60, 1)))
    report = validate(still)
    assert report.passed, report.describe()
    assert report.summary["frames"] == 60
    wave = validate(one_hand(right, finger_wave(right, seconds=3.0)))
    assert wave.passed, wave.describe()
    assert wave.summary["max_tracking_error_rad"] > 0.0  # the servo really was simulated


def test_joint_past_its_limit_fails_on_those_frames(right):
    q = np.tile(open_pose(right), (90, 1))
    j = right.joint_names.index("joint_r_index_proximal")
    # Ramp slowly (inside velocity limits) past the upper limit on frames 40..59.
    ramp = np.clip(np.linspace(0.0, right.upper[j] + 0.25, 60), 0.0, None)
    q[:60, j] = ramp
    q[60:, j] = ramp[-1]
    q = apply_mimic(right, q)
    report = validate(one_hand(right, q))
    assert not report.passed
    limits = [v for v in report.of_kind("joint_position_limit")
              if v.subjects == ("joint_r_index_proximal",)]
    assert limits, report.describe()
    first_over = int(np.flatnonzero(q[:, j] > right.upper[j] + 0.005)[0])
    assert limits[0].frame_start == first_over
    assert limits[0].frame_end == 90
    assert limits[0].measured > limits[0].limit == pytest.approx(right.upper[j])


def test_fingers_driven_through_each_other_is_a_finger_finger_collision(right):
    names = list(right.joint_names)
    q = np.tile(open_pose(right), (60, 1))
    ramp = np.linspace(0.0, 1.0, 30)
    q[:30, names.index("joint_r_thumb_proximal_2")] = 0.68 * ramp
    q[30:, names.index("joint_r_thumb_proximal_2")] = 0.68
    q[:30, names.index("joint_r_index_proximal")] = 1.62 * ramp
    q[30:, names.index("joint_r_index_proximal")] = 1.62
    q = apply_mimic(right, q)
    report = validate(one_hand(right, q))
    hits = [v for v in report.of_kind("self_collision") if v.detail.startswith("finger-finger")]
    assert hits, report.describe()
    bodies = set(hits[0].subjects)
    assert any("thumb" in b for b in bodies) and any("index" in b for b in bodies)
    # The commanded poses interpenetrate from some frame on: the violation starts near it.
    first = _first_penetrating_frame(right, q)
    assert abs(hits[0].frame_start - first) <= 3
    assert hits[0].measured > 0.001
    assert report.summary["penetration_duration_ratio"] > 0.2


def _pinch(right, middle: float = 0.0) -> np.ndarray:
    """Thumb tip pressed 3 mm into the index tip by frame 30 (nothing else touching)."""
    names = list(right.joint_names)
    q = np.tile(open_pose(right), (60, 1))
    ramp = np.linspace(0.0, 1.0, 30)
    for joint, value in (("joint_r_thumb_proximal_1", 0.6), ("joint_r_thumb_proximal_2", 0.5),
                         ("joint_r_index_proximal", 0.9), ("joint_r_middle_proximal", middle)):
        q[:30, names.index(joint)] = value * ramp
        q[30:, names.index(joint)] = value
    return apply_mimic(right, q)


def test_a_declared_pinch_lets_only_those_two_fingers_touch(right):
    # The thumb-index closure above, declared as the hand's own contact (a pinch, an OK
    # sign): expected, so no collision; the two tips are measured touching. The exemption
    # is those two fingers only: a middle finger curled into the thumb still fails.
    pinch = [ContactInterval(right.name, "thumb_tip", right.name, "index_tip", 25, 60)]
    declared = one_hand(right, _pinch(right))
    declared = RobotTrajectory(declared.qpos, declared.joint_names, FPS, declared.instances,
                               contacts=pinch)
    report = validate(declared)
    assert report.passed, report.describe()
    ratio = report.summary["contact_ratios"][f"{right.name}:thumb_tip ~ {right.name}:index_tip "
                                             "[25, 60)"]
    assert ratio >= 0.9
    curled = one_hand(right, _pinch(right, middle=1.62))
    curled = RobotTrajectory(curled.qpos, curled.joint_names, FPS, curled.instances,
                             contacts=pinch)
    hits = validate(curled).of_kind("self_collision")
    assert hits and all(any("middle" in b for b in v.subjects) for v in hits)


def _first_penetrating_frame(robot, q, depth=0.001):
    model = mujoco.MjModel.from_xml_string(robot.model_xml)
    data = mujoco.MjData(model)
    adr = [model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n)]
           for n in robot.joint_names]
    for f in range(len(q)):
        data.qpos[adr] = q[f]
        mujoco.mj_kinematics(model, data)
        mujoco.mj_collision(model, data)
        if data.ncon and data.contact.dist[:data.ncon].min() < -depth:
            return f
    raise AssertionError("the commanded poses never penetrate")


def test_fingertip_touch_passes_and_counts_contact(left, right):
    gap = np.concatenate([np.linspace(0.12, 0.007, 45), np.full(45, 0.007)])
    touch = [ContactInterval("left", "middle_tip", "right", "middle_tip", 45, 90)]
    report = validate(facing_hands(left, right, gap, contacts=touch, mode="fingertips"))
    assert report.passed, report.describe()
    ratio = report.summary["contact_ratios"]["left:middle_tip ~ right:middle_tip [45, 90)"]
    assert ratio >= 0.9


def test_contact_that_never_happens_is_missed(left, right):
    clap = [ContactInterval("left", "palm", "right", "palm", 30, 75)]
    report = validate(facing_hands(left, right, np.full(90, 0.2), contacts=clap))
    missed = report.of_kind("missed_contact")
    assert len(missed) == 1, report.describe()
    assert (missed[0].frame_start, missed[0].frame_end) == (30, 75)
    assert missed[0].measured == 0.0
    assert set(missed[0].subjects) == {"left:palm", "right:palm"}
    assert "in the way" not in missed[0].detail  # nothing touched: nothing held them apart
    # Several robots: the verdict names each instance's robot.
    assert report.describe().splitlines()[0].startswith(
        "FAIL left=inspire_left, right=inspire_right frames 0-89")


def test_a_missed_contact_names_what_held_the_parts_apart(left, right):
    # Palms declared touching, but the hands meet fingertip to fingertip, palms down: the
    # index tips touch on every frame of the interval and the palms stay 6 cm apart.
    gap = np.concatenate([np.linspace(0.06, 0.0, 30), np.full(30, 0.0)])
    clap = [ContactInterval("left", "palm", "right", "palm", 30, 60)]
    report = validate(facing_hands(left, right, gap, contacts=clap, mode="fingertips"))
    [missed] = report.of_kind("missed_contact")
    assert "in the way: left/l_index_distal ~ right/r_index_distal, touching on 30 of the 30 " \
        "frames" in missed.detail, missed.detail


def test_palms_slammed_together_fail_on_approach_speed(left, right):
    # 1.5 m/s closing speed; the hands first touch in the frame the gap crosses ~9 cm (thumbs).
    gap = np.concatenate([np.linspace(0.35, 0.0, 8), np.full(37, 0.0)])
    clap = [ContactInterval("left", "palm", "right", "palm", 8, 45)]
    report = validate(facing_hands(left, right, gap, contacts=clap))
    slams = report.of_kind("contact_approach_speed")
    assert slams, report.describe()
    first = min(v.frame_start for v in slams)
    assert 4 <= first <= 8
    assert max(v.measured for v in slams) > 1.0
    assert all(s.startswith(("left/", "right/")) for v in slams for s in v.subjects)


def test_streaming_matches_whole_and_keeps_state(right):
    q = finger_wave(right, seconds=2.0, amplitude=0.3)
    j = right.joint_names.index("joint_r_middle_proximal")
    q[33:38, j] += 0.6  # a jerk straddling the chunk boundary at frame 35
    traj = one_hand(right, q)
    whole = validate(traj)
    stream = StreamingValidator()
    verdicts = [stream.check(traj.slice(s, s + 35)) for s in range(0, 60, 35)]
    final = stream.finish()
    assert [v.frame_start for v in verdicts] == [0, 35]
    assert not verdicts[0].passed
    key = lambda r: sorted((v.kind, v.frame_start, v.frame_end, v.subjects) for v in r.violations)
    assert key(final) == key(whole)
    with pytest.raises(DyadInputError, match="expects frame"):
        stream.check(traj.slice(0, 10))


def test_bad_input_is_rejected_never_passed(right):
    q = np.tile(open_pose(right), (10, 1))
    wrong = RobotTrajectory(q, tuple("x" + n for n in right.joint_names), FPS,
                            (("inspire_right", "inspire_right"),))
    with pytest.raises(DyadInputError, match="lacks joints"):
        validate(wrong)
    with pytest.raises(DyadInputError, match="unknown robot"):
        validate(RobotTrajectory(q, right.joint_names, FPS, (("nope", "nope"),)))
    with pytest.raises(DyadInputError, match="at least 2"):
        validate(one_hand(right, q[:1]))
    with pytest.raises(DyadInputError, match="fps"):
        validate(RobotTrajectory(q, right.joint_names, 5000.0, (("inspire_right",
                                                                  "inspire_right"),)))
    bad_contact = one_hand(right, q)
    bad_contact.contacts = [ContactInterval("ghost", "palm", "inspire_right", "palm", 0, 5)]
    with pytest.raises(DyadInputError, match="ghost"):
        validate(bad_contact)


def test_report_json_round_trip(right, tmp_path):
    q = np.tile(open_pose(right), (20, 1))
    q[5:8, 0] = right.upper[0] + 0.3
    report = validate(one_hand(right, q))
    path = report.save(tmp_path / "report.json")
    back = ValidationReport.load(path)
    assert back.passed is False
    assert [v.as_dict() for v in back.violations] == [v.as_dict() for v in report.violations]
    data = json.loads(path.read_text())
    assert {"passed", "violations", "summary"} <= set(data)
    assert {"kind", "frame_start", "frame_end", "subjects", "measured", "limit"} <= \
        set(data["violations"][0])


def test_humanoid_with_driven_base_standing_passes():
    from dyad.sim.scene import build_scene
    from dyad.sim.synthetic_trajectories import standing_humanoid

    robot = load_robot("gr1_inspire")
    base = build_scene([(robot.name, robot)], FPS).instances[0].default_base_pos
    columns, values = standing_humanoid(robot, 1.0, base)
    values[:, len(robot.joint_names)] += np.linspace(0.0, 0.1, len(values))  # walk 10 cm in x
    report = validate(RobotTrajectory(values, tuple(columns), FPS, ((robot.name, robot.name),)))
    assert report.passed, report.describe()
    assert report.summary["layout"] == "humanoid"
    assert report.summary["base_driven"] == {robot.name: True}


def test_thresholds_override_and_reject_unknown_keys(tmp_path, right):
    from dyad.sim.thresholds import ThresholdsError, load_thresholds

    path = tmp_path / "strict.yaml"
    path.write_text("limits:\n  velocity_rad_s: 0.05\nrobots:\n  inspire_*:\n"
                    "    acceleration: {'*': 1000.0}\n")
    strict = load_thresholds(path)
    assert strict["limits"]["velocity_rad_s"] == 0.05
    assert strict["tracking"]["tolerance_rad"] == load_thresholds()["tracking"]["tolerance_rad"]
    assert strict.robot_limit("inspire_right", "acceleration", "joint_r_index_proximal") == 1000
    report = validate(one_hand(right, finger_wave(right, seconds=1.0)), strict)
    assert "joint_velocity_limit" in report.kinds()
    (tmp_path / "typo.yaml").write_text("limits:\n  velocity_rad: 1.0\n")
    with pytest.raises(ThresholdsError, match="velocity_rad"):
        load_thresholds(tmp_path / "typo.yaml")


def test_contact_forces_are_simulated_only_for_declared_contacts(left, right):
    """Fingertips driven 8 mm into each other. Declared as a touch, the contact pushes the
    fingers back (the servos feel it) and the touch passes; undeclared, the trajectory plays in
    the contact-free model and the whole commanded overlap is a robot collision."""
    gap = np.concatenate([np.linspace(0.05, -0.008, 30), np.full(30, -0.008)])
    touch = [ContactInterval("left", "fingertips", "right", "fingertips", 20, 60)]
    declared = validate(facing_hands(left, right, gap, contacts=touch, mode="fingertips"))
    undeclared = validate(facing_hands(left, right, gap, mode="fingertips"))
    assert declared.passed, declared.describe()
    assert declared.summary["max_tracking_error_rad"] > 0.02  # pushed back by the contact
    hits = undeclared.of_kind("robot_collision")
    assert hits, undeclared.describe()
    assert 0.006 < max(v.measured for v in hits) < 0.015
    assert undeclared.summary["max_tracking_error_rad"] < 0.01  # nothing pushed back
    assert declared.summary["max_force_ratio"] > 2 * undeclared.summary["max_force_ratio"]


def test_contact_free_model_is_the_scene_without_geoms(right):
    import copy
    from dataclasses import replace

    from dyad.sim.playback import Simulator
    from dyad.sim.scene import build_scene

    scene = build_scene([(right.name, right)], FPS)
    free, full = scene.contact_free_model, scene.model
    assert free.ngeom == 0 and full.ngeom > 0
    assert (free.nq, free.nv, free.nu, free.nbody) == (full.nq, full.nv, full.nu, full.nbody)
    np.testing.assert_allclose(free.body_mass, full.body_mass, rtol=1e-12)
    np.testing.assert_allclose(free.body_inertia, full.body_inertia, rtol=1e-12)
    # The contact model steps finer (contacts between light finger links need it); the servos
    # are the same in both.
    assert full.opt.timestep <= default_thresholds()["simulation"]["contact_max_timestep_s"]
    assert free.opt.timestep == pytest.approx(1.0 / (FPS * scene.substeps))
    assert scene.contact_substeps > scene.substeps
    assert Simulator(scene, contacts=True).substeps == scene.contact_substeps
    assert Simulator(scene, contacts=False).substeps == scene.substeps
    np.testing.assert_array_equal(free.actuator_gainprm, full.actuator_gainprm)
    np.testing.assert_array_equal(free.actuator_biasprm, full.actuator_biasprm)
    # Without contacts both models move the same at the same step.
    no_contact = copy.copy(full)
    no_contact.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
    no_contact.opt.timestep = free.opt.timestep
    no_contact.eq_solref[:] = free.eq_solref
    reference = replace(scene, model=no_contact, contact_free_model=None)
    q = finger_wave(right, seconds=2.0, amplitude=0.5)
    base_pos = np.tile(scene.instances[0].default_base_pos, (len(q), 1, 1))
    base_quat = np.tile(scene.instances[0].default_base_quat, (len(q), 1, 1))
    a = Simulator(scene, contacts=False).play(q, base_pos, base_quat)
    b = Simulator(reference).play(q, base_pos, base_quat)
    assert np.abs(a.qpos - q).max() > 1e-3  # really simulated
    np.testing.assert_allclose(a.qpos, b.qpos, atol=1e-10)
    np.testing.assert_allclose(a.force[:, scene.actuated], b.force[:, scene.actuated],
                               atol=1e-9)


def test_gravity_load_is_mujocos_inverse_dynamics(right):
    """Scenes simulate without gravity (its compensation cancels it exactly); the load added to
    the recorded forces is MuJoCo's gravity bias force at each frame's pose."""
    from dyad.sim.gravity_load import GravityLoad
    from dyad.sim.scene import build_scene

    scene = build_scene([(right.name, right)], FPS)
    assert scene.gravity_offloaded and not scene.model.opt.gravity.any()
    rng = np.random.default_rng(3)
    t = 6
    q = rng.uniform(right.lower, right.upper, size=(t, right.dof))
    full_qpos = np.tile(scene.model.qpos0, (t, 1))
    full_qpos[:, scene.qpos_adr] = q
    base_pos = np.tile([0.0, 0.0, 1.0], (t, 1, 1))
    tilt = rng.normal(size=(t, 4))
    base_quat = (tilt / np.linalg.norm(tilt, axis=1, keepdims=True))[:, None]
    load = GravityLoad(scene).frames(full_qpos, base_pos, base_quat)
    model = mujoco.MjModel.from_xml_string(right.model_xml)  # gravity on, robot alone
    data = mujoco.MjData(model)
    adr = [model.joint(j).qposadr[0] for j in right.joint_names]
    dof = [model.joint(j).dofadr[0] for j in right.joint_names]
    bias = np.zeros(model.nv)
    for f in range(t):
        # The hand hangs from the base: turn gravity into the base frame instead.
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, base_quat[f, 0])
        model.opt.gravity[:] = rot.reshape(3, 3).T @ scene.gravity
        data.qpos[adr] = q[f]
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_rne(model, data, 0, bias)
        np.testing.assert_allclose(load[f], bias[dof], atol=1e-10)
    assert np.abs(load).max() > 1e-3


@pytest.mark.slow
def test_humanoid_feet_may_sink_into_the_floor_knees_may_not():
    from dyad.sim.scene import build_scene
    from dyad.sim.synthetic_trajectories import standing_humanoid

    robot = load_robot("gr1_inspire")
    base = build_scene([(robot.name, robot)], FPS).instances[0].default_base_pos
    columns, values = standing_humanoid(robot, 2.0, base)
    z = len(robot.joint_names) + 2  # root_z column
    sink = values.copy()
    sink[:, z] -= np.minimum(np.arange(len(values)) * 0.002, 0.02)  # feet 2 cm into the floor
    report = validate(RobotTrajectory(sink, tuple(columns), FPS, ((robot.name, robot.name),)))
    assert report.passed, report.describe()
    kneel = values.copy()
    kneel[:, z] -= np.minimum(np.arange(len(values)) * 0.01, 0.6)  # pelvis 60 cm down
    report = validate(RobotTrajectory(kneel, tuple(columns), FPS, ((robot.name, robot.name),)))
    floor = report.of_kind("floor_collision")
    assert floor, report.describe()
    assert not any("foot" in s or "ankle" in s for v in floor for s in v.subjects
                   if s != "world")


def test_a_hand_contact_covers_the_wrist_not_the_forearm():
    """During a declared hand contact the partner's wrist links (GR1's ``r_hand_yaw`` housing,
    which fingers wrapped around a hand in a handshake reach) are part of the expected contact;
    the forearm, the rest of the arm and the torso are not, and the contact itself is still
    measured on the declared part."""
    from dyad.sim.body_parts import PartResolver
    from dyad.sim.scene import build_scene

    robot = load_robot("gr1_inspire")
    scene = build_scene([("A", robot), ("B", robot)], FPS, default_thresholds())
    parts = PartResolver(scene)
    names = {scene.body_name(b) for b in parts.hand_of("B", "right_palm")}
    assert {"B/r_hand_yaw", "B/r_hand_roll", "B/r_palm", "B/r_index_distal"} <= names, names
    assert not names & {"B/r_lower_arm_pitch", "B/r_upper_arm_yaw", "B/torso_waist_roll_link",
                        "B/l_hand_yaw", "A/r_hand_yaw"}, names
    assert "B/r_hand_yaw" not in {scene.body_name(b) for b in parts.resolve("B", "right_palm")}
    # A whole-hand part is measured from the wrist down, as the human hand's joints are: a
    # handover's fingers resting on the partner's wrist housing touch that hand.
    hand = {scene.body_name(b) for b in parts.resolve("B", "right_hand")}
    assert {"B/r_hand_yaw", "B/r_palm", "B/r_index_distal"} <= hand, hand
    assert not hand & {"B/r_lower_arm_pitch", "B/l_hand_yaw"}, hand


def test_a_forearm_ends_in_its_wrist_links():
    """A forearm contact part (``left_forearm``: the human segment from ``l_elbow`` to
    ``l_wrist``) is the robot's lower arm and the wrist links where that segment ends (GR1's
    ``l_hand_yaw`` housing), not the hand, the upper arm or the other side."""
    from dyad.sim.body_parts import PartResolver
    from dyad.sim.scene import build_scene

    robot = load_robot("gr1_inspire")
    scene = build_scene([("A", robot), ("B", robot)], FPS, default_thresholds())
    parts = PartResolver(scene)
    names = {scene.body_name(b) for b in parts.resolve("A", "left_forearm")}
    assert {"A/l_lower_arm_pitch", "A/l_hand_yaw", "A/l_hand_roll"} <= names, names
    assert not names & {"A/l_palm", "A/l_index_distal", "A/l_upper_arm_yaw", "A/r_hand_yaw",
                        "A/r_lower_arm_pitch", "B/l_hand_yaw"}, names


def _raise_and_turn(robot, frames: int, hz: float) -> np.ndarray:
    """GR1 joint targets raising, turning and bending the right arm ``hz`` times a second."""
    t = np.arange(frames) / FPS
    q = np.tile(np.clip(np.zeros(len(robot.joint_names)), robot.lower, robot.upper), (frames, 1))
    for joint, amplitude in (("r_shoulder_pitch", -1.2), ("r_shoulder_roll", -0.8),
                             ("r_shoulder_yaw", 0.8), ("r_elbow_pitch", -0.6)):
        j = robot.joint_names.index(joint)
        q[:, j] = np.clip(amplitude * 0.5 * (1 - np.cos(2 * np.pi * hz * t)), robot.lower[j],
                          robot.upper[j])
    return q


def _arm_lag(robot, q: np.ndarray, feedforward: str):
    """Largest |simulated - commanded| per joint of one fixed-base GR1, its recording, scene."""
    from dyad.sim.playback import Simulator
    from dyad.sim.scene import build_scene

    thresholds = default_thresholds().with_overrides(
        {"simulation": {"servo_feedforward": feedforward}})
    scene = build_scene([(robot.name, robot)], FPS, thresholds, driven=[False])
    base = [np.tile(np.stack([getattr(i, f"default_base_{k}") for i in scene.instances])[None],
                    (len(q), 1, 1)) for k in ("pos", "quat")]
    # Without the gravity load (added to recorded forces otherwise): servo + feed-forward.
    recording = Simulator(scene, contacts=False).play(q, *base, gravity=False)
    return np.abs(recording.qpos - q).max(axis=0), recording, scene


@pytest.mark.slow
def test_servo_gains_hold_their_bandwidth_in_every_pose():
    """Gains come from each joint's largest inertia over sampled poses: the GR1 shoulder yaw,
    whose inertia grows ~50x from the hanging arm to a bent, raised one, keeps a 6 Hz servo
    with the arm raised (gains from the rest pose made it a ~1 Hz servo that rang after every
    wave), and an arm raised and turned once a second follows within 0.05 rad."""

    robot = load_robot("gr1_inspire")
    q = _raise_and_turn(robot, 60, 1.0)
    lag, _, scene = _arm_lag(robot, q, "none")
    yaw = robot.joint_names.index("r_shoulder_yaw")
    assert lag[yaw] < 0.05, lag[yaw]
    # The raised, bent arm of the motion above: the servo's kp covers its inertia at 6 Hz.
    model = scene.model
    data = mujoco.MjData(model)
    data.qpos[scene.qpos_adr] = q[30]
    mujoco.mj_forward(model, data)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, full)
    inertia = full[scene.dof_adr[yaw], scene.dof_adr[yaw]]
    omega = 2 * np.pi * default_thresholds().values["simulation"]["servo_bandwidth_hz"]
    assert scene.kp[yaw] >= inertia * omega ** 2 * 0.999, (scene.kp[yaw], inertia)


@pytest.mark.slow
def test_inverse_dynamics_feedforward_reduces_the_arm_lag_and_counts_as_force():
    """The same arm motion twice a second: the inverse-dynamics feed-forward cuts the shoulder
    yaw's and elbow's lag against the plain PD servo, and the recorded actuator force includes
    the feed-forward torque (sim/feedforward.py)."""
    from dyad.sim.feedforward import InverseDynamicsFeedforward

    robot = load_robot("gr1_inspire")
    q = _raise_and_turn(robot, 60, 2.0)
    joints = [robot.joint_names.index(j) for j in ("r_shoulder_yaw", "r_elbow_pitch")]
    plain, _, _ = _arm_lag(robot, q, "none")
    fed, recording, scene = _arm_lag(robot, q, "inverse_dynamics")
    assert np.all(fed[joints] < 0.8 * plain[joints]), (fed[joints], plain[joints])
    yaw = joints[0]
    tau = InverseDynamicsFeedforward(scene).torques(np.stack([q[0], q[0]]), q[1:])
    # The servo's own share is small once it tracks: the force is mostly the torque.
    share = np.abs(recording.force[1:, yaw] - tau[:, yaw]).mean() / np.abs(tau[:, yaw]).mean()
    assert share < 0.5, share


def test_bad_feedforward_choice_is_a_clear_error(right):
    from dyad.sim.thresholds import ThresholdsError

    bad = default_thresholds().with_overrides({"simulation": {"servo_feedforward": "magic"}})
    with pytest.raises(ThresholdsError, match="servo_feedforward"):
        validate(one_hand(right, np.tile(open_pose(right), (10, 1))), bad)


def test_a_physics_reset_is_reported_and_never_passed(right):
    """When MuJoCo resets a diverged simulation (its bad-acceleration warning) the clock goes
    back to zero: the recording marks that frame and the gate fails the chunk with
    ``simulation_diverged`` from there on, whatever the other checks say."""
    from mujoco import rollout

    from dyad.sim.playback import control_spec

    traj = one_hand(right, np.tile(open_pose(right), (10, 1)))
    validator = StreamingValidator()
    sim_args = validator.begin(traj)
    sim = validator.simulator
    prepared = sim.prepare(*sim_args)
    states, sensors = rollout.rollout(sim.model, sim.data, prepared.initial_state[None],
                                      prepared.control[None], control_spec=control_spec(mujoco),
                                      initial_warmstart=prepared.warmstart[None])
    states, sensors = states[0].copy(), sensors[0]
    # Row 0 is the start pose; row r ends at substep r * S - 1. Reset inside row 6.
    substeps = validator.scene.substeps
    k = 5 * substeps + 1
    states[k:, 0] -= states[k, 0]
    rec = sim.record(prepared, states, sensors, None, 0, gravity=False)
    assert rec.diverged == (6,)
    report = validator.check_recorded(traj, rec)
    assert not report.passed
    [diverged] = report.of_kind("simulation_diverged")
    assert (diverged.frame_start, diverged.frame_end) == (6, 10)
    assert "simulation_diverged at frames 6-9: 1 resets" in diverged.describe()
    assert report.describe().splitlines()[1].strip().startswith("simulation_diverged")
    # A backend that does not reset (MuJoCo Warp) leaves non-finite states: the same verdict.
    validator = StreamingValidator()
    validator.begin(traj)
    states, _ = rollout.rollout(validator.simulator.model, validator.simulator.data,
                                prepared.initial_state[None], prepared.control[None],
                                control_spec=control_spec(mujoco),
                                initial_warmstart=prepared.warmstart[None])
    states = states[0].copy()
    states[7 * substeps:, 1:] = np.nan
    rec = validator.simulator.record(prepared, states, sensors, None, 0, gravity=False)
    assert rec.diverged == (8, 9)
    # the same chunk, simulated as it is: no reset, a pass
    assert validate(traj).passed


@pytest.mark.slow
def test_a_retargeted_high_five_is_not_thrown_apart_by_its_own_contact():
    """Two GR1 hands meeting at 0.35 m/s in a synthetic high five (``dyad bench gate-pass``'s
    clip, seed 3) touch and stay together. Simulated at 4 substeps per frame the first finger
    contact stopped the arms in one 8 ms step, spun the wrists at 30 rad/s and threw the palms
    8 cm apart, and they came back at 2 m/s: a slam the command never made."""
    import argparse

    from dyad.bench import gate_pass
    from dyad.retarget.retarget_motion import RetargetConfig, retarget_motion

    args = argparse.Namespace(seed=3, clips=1, labels=["high_five"], data=None)
    [(_, clip_id, motion)] = list(gate_pass._clips("duet", args))
    assert clip_id == "duet_000001"
    config = RetargetConfig(time_scaling=default_thresholds().time_scaling_config())
    traj = retarget_motion(motion, "gr1_inspire", config=config, progress=False)
    report = validate(traj)
    assert traj.contacts and report.passed, report.describe()
    assert report.summary["substeps_per_frame"] >= 16


@pytest.mark.slow
def test_a_punch_blocked_on_the_wrist_end_of_the_forearm_is_the_expected_contact():
    """``punch_and_block`` (``dyad bench gate-pass``'s clip, seed 3) declares the punching
    hand against the blocker's forearm; the retargeted fist lands on the forearm's wrist end
    (GR1's ``l_hand_yaw`` housing). That is the declared touch, not a robot-robot collision
    and a missed contact (which the gate reported while a forearm was its lower-arm link
    alone)."""
    import argparse

    from dyad.bench import gate_pass
    from dyad.retarget.retarget_motion import RetargetConfig, retarget_motion

    args = argparse.Namespace(seed=3, clips=1, labels=["punch_and_block"], data=None)
    [(_, clip_id, motion)] = list(gate_pass._clips("duet", args))
    assert clip_id == "duet_000008"
    assert {(c.part_a, c.part_b) for c in motion.contacts} == {("right_hand", "left_forearm")}
    config = RetargetConfig(time_scaling=default_thresholds().time_scaling_config())
    traj = retarget_motion(motion, "gr1_inspire", config=config, progress=False)
    report = validate(traj)
    assert report.passed, report.describe()
    ratios = report.summary["contact_ratios"]
    assert ratios and min(ratios.values()) >= 0.6, ratios
