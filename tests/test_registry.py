"""Robot registry: every robot loads identically in MuJoCo and Pinocchio, hands are found and
never mirrored, user YAMLs (MJCF and URDF) register, and bad input fails with a clear error."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")
pin = pytest.importorskip("pinocchio")

from dyad.errors import DyadInputError  # noqa: E402
from dyad.retarget import registry  # noqa: E402
from dyad.retarget.hand_geometry import HUMAN_HAND_LENGTH_M, TIP  # noqa: E402
from dyad.retarget.model_loading import ModelLoadError, package_dir  # noqa: E402
from dyad.retarget.registry import (  # noqa: E402
    RobotConfigError,
    UnknownRobotError,
    list_robots,
    load_robot,
    register_robot_yaml,
)
from dyad.skeletons import HAND21_NAMES  # noqa: E402

REQUIRED = ("inspire_left", "inspire_right", "fourier_left", "fourier_right", "ability_left",
            "ability_right", "svh_left", "svh_right", "shadow_right", "gr1_inspire",
            "gr1_fourier", "g1")
HUMANOIDS = ("gr1_inspire", "gr1_fourier", "g1")
# Composing a humanoid cold costs seconds of MuJoCo mesh processing: those cases are "slow".
ROBOTS = [pytest.param(n, marks=pytest.mark.slow) if n in HUMANOIDS else n for n in REQUIRED]
DEX_URDF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dex-urdf" / "hands"


@pytest.fixture(scope="module", autouse=True)
def fresh_cache(tmp_path_factory):
    """A cold disk cache, so the tests compose every robot themselves."""
    old = os.environ.get(registry.ENV_CACHE_DIR)
    os.environ[registry.ENV_CACHE_DIR] = str(tmp_path_factory.mktemp("dyad-cache"))
    registry._MODELS.clear()
    yield
    registry._MODELS.clear()
    if old is None:
        os.environ.pop(registry.ENV_CACHE_DIR, None)
    else:
        os.environ[registry.ENV_CACHE_DIR] = old


@pytest.fixture(autouse=True)
def keep_registrations():
    """Robots a test registers do not leak into the next test."""
    saved = dict(registry._REGISTERED)
    yield
    registry._REGISTERED.clear()
    registry._REGISTERED.update(saved)


_MJ_MODELS: dict[str, object] = {}


def _mj_model(robot):
    """MuJoCo's model of ``robot.model_xml`` (compiled once per text: GR1 meshes are slow)."""
    if robot.model_xml not in _MJ_MODELS:
        _MJ_MODELS[robot.model_xml] = mujoco.MjModel.from_xml_string(robot.model_xml)
    return _MJ_MODELS[robot.model_xml]


def _mj_frame_pos(model, data, name):
    sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)
    if sid >= 0:
        return data.site_xpos[sid]
    bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    assert bid >= 0, f"frame {name} is neither a MuJoCo site nor a body"
    return data.xpos[bid]


def _random_q(robot, rng):
    low = np.where(np.isfinite(robot.lower), robot.lower, -1.0)
    high = np.where(np.isfinite(robot.upper), robot.upper, 1.0)
    return rng.uniform(low, high)


def test_required_robots_are_registered():
    names = list_robots()
    assert set(REQUIRED) <= set(names)
    assert names == sorted(names)


def test_unknown_robot_lists_known_names():
    with pytest.raises(UnknownRobotError) as info:
        load_robot("no_such_robot")
    assert isinstance(info.value, DyadInputError)
    message = str(info.value)
    assert "no_such_robot" in message and "inspire_right" in message and "gr1_inspire" in message


@pytest.mark.parametrize("name", ROBOTS)
def test_mujoco_and_pinocchio_load_the_same_model(name):
    robot = load_robot(name)
    model = _mj_model(robot)
    pm = robot.pin_model
    assert model.nq == pm.nq
    # Joint order and limits: MuJoCo's qpos order is the trajectory contract.
    mj_joints = [model.joint(j).name for j in range(model.njnt)
                 if model.jnt_type[j] != mujoco.mjtJoint.mjJNT_FREE]
    assert tuple(mj_joints) == robot.joint_names
    assert robot.dof == len(robot.joint_names) == len(robot.lower) == len(robot.upper)
    for k, joint in enumerate(robot.joint_names):
        jid = model.joint(joint).id
        assert model.jnt_limited[jid], f"{name}: {joint} unlimited"
        np.testing.assert_allclose([robot.lower[k], robot.upper[k]], model.jnt_range[jid],
                                   atol=1e-6, err_msg=f"{name}: limits of {joint}")
    assert robot.floating_base == (name in HUMANOIDS)
    # Same kinematics: keypoint frames coincide at a random in-limit configuration.
    rng = np.random.default_rng(0)
    q_joints = _random_q(robot, rng)
    data = mujoco.MjData(model)
    q_pin = pin.neutral(pm)
    if robot.floating_base:
        data.qpos[:7] = [0.1, -0.2, 0.9, 1.0, 0.0, 0.0, 0.0]
        data.qpos[7:] = q_joints
        q_pin[:7] = [0.1, -0.2, 0.9, 0.0, 0.0, 0.0, 1.0]  # Pinocchio quaternion is x, y, z, w
        q_pin[7:] = q_joints
    else:
        data.qpos[:] = q_joints
        q_pin[:] = q_joints
    mujoco.mj_kinematics(model, data)
    pdata = pm.createData()
    pin.framesForwardKinematics(pm, pdata, q_pin)
    for hand in robot.hands.values():
        for frame in hand.keypoint_frames.values():
            p_pin = pdata.oMf[pm.getFrameId(frame)].translation
            np.testing.assert_allclose(p_pin, _mj_frame_pos(model, data, frame), atol=1e-6,
                                       err_msg=f"{name}: frame {frame}")


@pytest.mark.parametrize("name", ROBOTS)
def test_frame_names_are_unique(name):
    robot = load_robot(name)
    names = [f.name for f in robot.pin_model.frames]
    assert len(names) == len(set(names))


def _rest_frames(robot, q=None):
    pm = robot.pin_model
    data = pm.createData()
    q = registry.rest_configuration(robot) if q is None else q
    pin.framesForwardKinematics(pm, data, q)
    return data


@pytest.mark.parametrize("name", ROBOTS)
def test_hands_are_found_and_never_mirrored(name):
    robot = load_robot(name)
    expected_sides = {"left", "right"} if name in HUMANOIDS else {name.rsplit("_", 1)[1]}
    assert set(robot.hands) == expected_sides
    pm = robot.pin_model
    for side, hand in robot.hands.items():
        frames = hand.keypoint_frames
        five = name != "g1"
        tips = [TIP[f] for f in (TIP if five else ("thumb", "index", "middle"))]
        assert frames[0] == hand.wrist_frame
        assert set(tips) <= set(frames)
        for k in (5, 9):  # index and middle MCP frames are named for every hand
            assert k in frames, f"{name} {side}: no {HAND21_NAMES[k]} frame"
        for frame in frames.values():
            assert pm.existFrame(frame), frame
        assert hand.finger_joints and set(hand.finger_joints) <= set(robot.joint_names)

        rot = hand.rotation_hand_to_wrist
        np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-9)
        assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-9)

        data = _rest_frames(robot)
        wrist = data.oMf[pm.getFrameId(hand.wrist_frame)]

        def in_hand(frame, d=data, w=wrist):
            return rot.T @ w.actInv(d.oMf[pm.getFrameId(frame)].translation)

        origin = in_hand(hand.wrist_frame)
        np.testing.assert_allclose(origin, 0.0, atol=1e-12)
        middle_tip = in_hand(frames[12])
        # The rotated middle-finger direction points from the wrist to the middle fingertip.
        assert middle_tip[0] / np.linalg.norm(middle_tip) > 0.8
        # The thumb is on the thumb side: +Y for a right hand, -Y for a left one. (The Dex3-1
        # thumb opposes both its fingers from the palm side, barely off their midline.)
        thumb = in_hand(frames[4])
        margin = 0.01 if five else 0.002
        assert thumb[1] > margin if side == "right" else thumb[1] < -margin
        if not five:
            assert thumb[2] < -0.05
        # Starting to curl the non-thumb fingers (a quarter of the way toward the limit farther
        # from 0) moves the tips to the palm side (-Z) in the hand frame.
        q = registry.rest_configuration(robot)
        for joint in hand.finger_joints:
            j = pm.joints[pm.getJointId(joint)]
            low, high = pm.lowerPositionLimit[j.idx_q], pm.upperPositionLimit[j.idx_q]
            q[j.idx_q] += 0.25 * ((high if abs(high) >= abs(low) else low) - q[j.idx_q])
        curled = _rest_frames(robot, q)
        wrist_c = curled.oMf[pm.getFrameId(hand.wrist_frame)]
        for k in tips[1:]:
            rest = in_hand(frames[k])
            bent = rot.T @ wrist_c.actInv(curled.oMf[pm.getFrameId(frames[k])].translation)
            assert (bent - rest)[2] < -0.005, f"{name} {side}: {HAND21_NAMES[k]} curls to +Z"
        length = np.linalg.norm(middle_tip)
        assert hand.scale == pytest.approx(length / HUMAN_HAND_LENGTH_M, rel=1e-6)
        assert 0.5 < hand.scale < 1.6


@pytest.mark.parametrize("name", ROBOTS)
def test_fingertip_sites_sit_at_the_distal_mesh_end(name):
    """A generated tip site lies on the far end of its link: no mesh vertex of that link is
    more than 3 mm farther from the joint along the link."""
    robot = load_robot(name)
    model = _mj_model(robot)
    for side, hand in robot.hands.items():
        for finger, k in TIP.items():
            site = hand.keypoint_frames.get(k)
            if site != f"{side}_{finger}_tip":
                continue
            sid = model.site(site).id
            body = model.site_bodyid[sid]
            tip = model.site_pos[sid]
            verts = []
            for g in np.flatnonzero(model.geom_bodyid == body):
                if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
                    m = model.geom_dataid[g]
                    v = model.mesh_vert[model.mesh_vertadr[m]:][:model.mesh_vertnum[m]]
                    rot = np.zeros(9)
                    mujoco.mju_quat2Mat(rot, model.geom_quat[g])
                    verts.append(v @ rot.reshape(3, 3).T + model.geom_pos[g])
            verts = np.concatenate(verts)
            axis = tip / np.linalg.norm(tip)
            assert (verts @ axis).max() - tip @ axis < 0.003, f"{name}: {site}"
            assert np.linalg.norm(tip) > 0.01


@pytest.mark.parametrize("name", ROBOTS)
def test_mimic_couplings_fit_the_joint_limits(name):
    robot = load_robot(name)
    index = {j: k for k, j in enumerate(robot.joint_names)}
    for follower, leader, mult, offset in robot.mimic:
        assert follower in index and leader in index and follower != leader
        lo, hi = sorted(offset + mult * np.array([robot.lower[index[leader]],
                                                  robot.upper[index[leader]]]))
        f_lo, f_hi = robot.lower[index[follower]], robot.upper[index[follower]]
        overlap = min(hi, f_hi) - max(lo, f_lo)
        assert overlap > 0.5 * (f_hi - f_lo), f"{name}: {follower} vs {leader}"


def test_known_couplings_are_read_from_the_model():
    assert ("joint_r_index_distal", "joint_r_index_proximal", 1.06399, 0.0) in [
        (f, lead, round(m, 5), round(o, 5)) for f, lead, m, o in load_robot("inspire_right").mimic]
    shadow = {f: (lead, m) for f, lead, m, o in load_robot("shadow_right").mimic}
    # Tendon T_FFJ1c: 0.00705 * FFJ0 - 0.00805 * FFJ1 = 0.
    assert shadow["robot0:FFJ0"][0] == "robot0:FFJ1"
    assert shadow["robot0:FFJ0"][1] == pytest.approx(0.00805 / 0.00705)
    # The rest pose honours couplings: the Ability hand's distal links sit at the offset.
    ability = load_robot("ability_right")
    q = registry.rest_configuration(ability)
    q2 = ability.pin_model.joints[ability.pin_model.getJointId("index_q2")].idx_q
    assert q[q2] == pytest.approx(0.72349796)


@pytest.mark.slow
@pytest.mark.parametrize("name", HUMANOIDS)
def test_humanoid_hands_are_mounted_sensibly(name):
    """At rest the fingers continue the forearm and both palms face the body's midline."""
    robot = load_robot(name)
    pm = robot.pin_model
    data = _rest_frames(robot)
    elbow = {"gr1_inspire": "{}_elbow_pitch", "gr1_fourier": "{}_elbow_pitch",
             "g1": "{}_elbow_pitch_joint"}[name]
    for side, hand in robot.hands.items():
        wrist = data.oMf[pm.getFrameId(hand.wrist_frame)]
        axes = wrist.rotation @ hand.rotation_hand_to_wrist
        elbow_pos = data.oMi[pm.getJointId(elbow.format(side[0]))].translation
        forearm = wrist.translation - elbow_pos
        assert axes[:, 0] @ forearm / np.linalg.norm(forearm) > 0.9
        toward_midline = np.array([0.0, 1.0 if side == "right" else -1.0, 0.0])
        assert -axes[:, 2] @ toward_midline > 0.9
    # The hand joints keep their stand-alone names on the humanoid.
    hand_name = {"gr1_inspire": "inspire_right", "gr1_fourier": "fourier_right",
                 "g1": "g1_three_finger_right"}[name]
    assert load_robot(hand_name).hands["right"].finger_joints == \
        robot.hands["right"].finger_joints
    # Both hands' couplings carry over (12 on GR1 with Inspire hands, none on the others).
    assert len(robot.mimic) == sum(len(load_robot(h).mimic) for h in (
        hand_name, hand_name.replace("right", "left")))


@pytest.mark.slow
@pytest.mark.parametrize("name, hand_name", [("gr1_inspire", "inspire_right"),
                                             ("g1", "g1_three_finger_left")])
def test_attached_hand_keeps_its_physics(name, hand_name):
    """The hand on the humanoid has the stand-alone hand's joint, actuator and geom settings
    (default classes of both files have the same names; attaching must not mix them)."""
    whole, alone = _mj_model(load_robot(name)), _mj_model(load_robot(hand_name))
    for j in range(alone.njnt):
        jname = alone.joint(j).name
        jw, dw, da = whole.joint(jname).id, whole.jnt_dofadr[whole.joint(jname).id], \
            alone.jnt_dofadr[j]
        np.testing.assert_allclose(whole.jnt_range[jw], alone.jnt_range[j], atol=1e-5)
        for field in ("dof_damping", "dof_armature", "dof_frictionloss"):
            assert getattr(whole, field)[dw] == pytest.approx(getattr(alone, field)[da]), field

    def actuators(model):
        return {model.joint(model.actuator_trnid[a, 0]).name: (
            tuple(model.actuator_gainprm[a, :3]), tuple(model.actuator_biasprm[a, :3]),
            tuple(model.actuator_ctrlrange[a])) for a in range(model.nu)}

    hand_acts = actuators(alone)
    whole_acts = {k: v for k, v in actuators(whole).items() if k in hand_acts}
    assert whole_acts.keys() == hand_acts.keys()
    for joint, values in hand_acts.items():
        np.testing.assert_allclose(np.concatenate(whole_acts[joint]), np.concatenate(values),
                                   atol=1e-6, err_msg=joint)

    def geoms(model, body):
        ids = np.flatnonzero(model.geom_bodyid == model.body(body).id)
        return sorted((int(model.geom_type[g]), int(model.geom_contype[g]),
                       int(model.geom_conaffinity[g]), int(model.geom_group[g]),
                       round(float(model.geom_friction[g, 0]), 6)) for g in ids)

    for b in range(1, alone.nbody):
        body = alone.body(b).name
        assert geoms(whole, body) == geoms(alone, body), body


def test_composed_xml_is_cached_on_disk_and_in_memory():
    first = load_robot("svh_left")
    assert load_robot("svh_left") is first
    registry._MODELS.clear()
    second = load_robot("svh_left")
    assert second is not first and second.model_xml == first.model_xml
    assert second.mimic == first.mimic
    assert list(Path(os.environ[registry.ENV_CACHE_DIR], "robots").glob("svh_left-*.json"))


def test_robosuite_is_never_imported():
    load_robot("inspire_right")
    load_robot("ability_left")
    assert "robosuite" not in sys.modules and "robosuite_models" not in sys.modules


# ----------------------------------------------------------------------------- user configs


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _inspire_yaml(tmp_path, name="my_hand", side="right", extra=""):
    return _write(tmp_path / f"{name}.yaml", f"""
name: {name}
model: {{package: robosuite, file: models/assets/grippers/inspire_right_hand.xml}}
remove: {{bodies: [eef], sites: [ft_frame]}}
hands:
  {side}:
    wrist: r_palm
    fingers:
      thumb: {{distal: r_thumb_distal}}
      index: {{base: r_index_proximal, distal: r_index_distal}}
      middle: {{base: r_middle_proximal, distal: r_middle_distal}}
      pinky: {{base: r_pinky_proximal, distal: r_pinky_distal}}
{extra}""")


def test_user_yaml_registers_and_loads(tmp_path):
    path = _inspire_yaml(tmp_path, extra="    scale: 0.9\n")
    assert register_robot_yaml(path) == "my_hand"
    assert "my_hand" in list_robots()
    robot = load_robot("my_hand")
    assert robot.hands["right"].scale == 0.9
    assert 16 not in robot.hands["right"].keypoint_frames  # no ring finger named


def test_right_hand_declared_left_is_refused(tmp_path):
    register_robot_yaml(_inspire_yaml(tmp_path, name="mirrored", side="left"))
    with pytest.raises(RobotConfigError, match="left"):
        load_robot("mirrored")


def test_env_path_adds_robots_and_name_clash_is_an_error(tmp_path, monkeypatch):
    folder = tmp_path / "robots"
    folder.mkdir()
    _inspire_yaml(folder, name="env_hand")
    monkeypatch.setenv(registry.ENV_ROBOT_PATH, str(folder))
    assert "env_hand" in list_robots()
    clash = _inspire_yaml(tmp_path, name="inspire_right")
    with pytest.raises(RobotConfigError, match="already defined"):
        register_robot_yaml(clash)


@pytest.mark.parametrize("body, match", [
    ("name: x\nmodel: {file: hand.xml}\nhands: {right: {wrist: palm}}\ncolour: red\n",
     "unknown keys.*colour"),
    ("name: x\nmodel: {file: missing.xml}\n", "missing.xml"),
    ("name: x\nmodel: {file: hand.xml}\nhands: {middle: {wrist: palm}}\n", "side"),
    ("name: x\nmodel: {file: hand.xml}\nhands: {right: {wrist: nowhere, fingers: "
     "{thumb: {distal: b}, index: {distal: b}}}}\n", "nowhere"),
    ("name: x\nmodel: {file: hand.xml}\nhands: {right: {wrist: palm, keypoints: "
     "{knuckle: palm}}}\n", "hand21"),
    ("- just\n- a list\n", "must be a dict"),
    ("name: x\nmodel: {file: hand.xml}\nhands: {right: {wrist: palm, fingers: "
     "{thumb: {distal: b}, index: {distal: b}}}}\n", "fingertip.*no mesh"),
])
def test_bad_yaml_names_the_problem(tmp_path, body, match):
    _write(tmp_path / "hand.xml", "<mujoco><worldbody><body name='palm'><geom size='.01'/>"
           "<body name='b'><joint name='j'/><geom size='.01'/></body></body></worldbody>"
           "</mujoco>")
    path = _write(tmp_path / "bad.yaml", body)
    with pytest.raises(RobotConfigError, match=match) as info:
        register_robot_yaml(path)
        load_robot("x")
    assert isinstance(info.value, DyadInputError)


def test_hand_attached_with_a_pose_to_a_user_arm(tmp_path):
    """A user arm (MJCF) carrying a registry hand at a rotated, offset mount: both engines agree
    and the hand mapping is the stand-alone hand's."""
    _write(tmp_path / "arm.xml", """<mujoco><worldbody>
      <body name="shoulder" pos="0 0 1"><joint name="shoulder_pitch" axis="0 1 0"
          range="-2 2"/><geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/>
        <body name="forearm" pos="0.3 0 0"><joint name="elbow" axis="0 1 0" range="-2 2"/>
          <geom type="capsule" fromto="0 0 0 0.25 0 0" size="0.025"/>
          <body name="wrist_mount" pos="0.25 0 0"/></body></body></worldbody></mujoco>""")
    register_robot_yaml(_write(tmp_path / "arm.yaml", """
name: arm_inspire
model: {file: arm.xml}
attach:
  - {robot: inspire_right, body: wrist_mount, pos: [0.02, 0, 0], quat: [0.5, 0.5, -0.5, 0.5]}
"""))
    robot = load_robot("arm_inspire")
    hand = load_robot("inspire_right").hands["right"]
    assert robot.joint_names[:2] == ("shoulder_pitch", "elbow")
    assert robot.joint_names[2:] == load_robot("inspire_right").joint_names
    mapped = robot.hands["right"]
    np.testing.assert_allclose(mapped.rotation_hand_to_wrist, hand.rotation_hand_to_wrist,
                               atol=1e-5)
    assert mapped.scale == pytest.approx(hand.scale, rel=1e-4)
    model, data = _mj_model(robot), None
    data = mujoco.MjData(model)
    q = _random_q(robot, np.random.default_rng(1))
    data.qpos[:] = q
    mujoco.mj_kinematics(model, data)
    pdata = robot.pin_model.createData()
    pin.framesForwardKinematics(robot.pin_model, pdata, q)
    for frame in mapped.keypoint_frames.values():
        np.testing.assert_allclose(pdata.oMf[robot.pin_model.getFrameId(frame)].translation,
                                   _mj_frame_pos(model, data, frame), atol=1e-6)
    # The mount pose is honoured: the palm sits 2 cm beyond the wrist mount body.
    mount = data.xpos[model.body("wrist_mount").id]
    palm = data.xpos[model.body("r_palm").id]
    assert np.linalg.norm(palm - mount) == pytest.approx(0.02, abs=1e-6)


def test_model_file_that_does_not_load_names_the_file(tmp_path):
    _write(tmp_path / "broken.xml", "<mujoco><worldbody><body name='a'><joint type='bogus'/>"
           "</body></worldbody></mujoco>")
    register_robot_yaml(_write(tmp_path / "broken.yaml",
                               "name: broken\nmodel: {file: broken.xml}\n"))
    with pytest.raises(ModelLoadError, match="broken.xml"):
        load_robot("broken")


def test_missing_package_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="not installed"):
        package_dir("dyad_no_such_package")


def _urdf_yaml(tmp_path, name, urdf, wrist, tips, bases):
    fingers = "\n".join(
        f"      {f}: {{tip: {tips[f]}" + (f", base: {bases[f]}}}" if f in bases else "}")
        for f in tips)
    return _write(tmp_path / f"{name}.yaml", f"""
name: {name}
model: {{file: {urdf}}}
hands:
  right:
    wrist: {wrist}
    fingers:
{fingers}
""")


def _urdf_mimic(path: Path) -> dict[str, tuple[str, float, float]]:
    import xml.etree.ElementTree as ET

    out = {}
    for joint in ET.parse(path).getroot().iter("joint"):
        mimic = joint.find("mimic")
        if mimic is not None:
            out[joint.get("name")] = (mimic.get("joint"), float(mimic.get("multiplier", 1)),
                                      float(mimic.get("offset", 0)))
    return out


@pytest.mark.skipif(not DEX_URDF.is_dir(), reason=f"reference hands not found at {DEX_URDF}")
@pytest.mark.parametrize("hand, urdf, wrist, finger_names", [
    ("inspire", "inspire_hand/inspire_hand_right.urdf", "hand_base_link",
     {"index": "index_proximal", "middle": "middle_proximal"}),
    ("ability", "ability_hand/ability_hand_right.urdf", "base_link",
     {"index": "index_L1", "middle": "middle_L1"}),
])
def test_urdf_hand_through_yaml(tmp_path, hand, urdf, wrist, finger_names):
    path = DEX_URDF / urdf
    tips = {f: f"{f}_tip" for f in ("thumb", "index", "middle", "ring", "pinky")}
    name = f"urdf_{hand}"
    register_robot_yaml(_urdf_yaml(tmp_path, name, path, wrist, tips, finger_names))
    robot = load_robot(name)
    # Pinocchio's own URDF parser agrees on joints and limits (its order differs: MuJoCo's
    # depth-first order is the contract).
    native = pin.buildModelFromUrdf(str(path))
    native_limits = {native.names[j]: (native.lowerPositionLimit[native.joints[j].idx_q],
                                       native.upperPositionLimit[native.joints[j].idx_q])
                     for j in range(1, native.njoints)}
    assert set(robot.joint_names) == set(native_limits)
    for k, joint in enumerate(robot.joint_names):
        # spec.to_xml() writes six significant digits.
        np.testing.assert_allclose((robot.lower[k], robot.upper[k]), native_limits[joint],
                                   atol=1e-5)
    # URDF <mimic> tags arrive as couplings.
    mimic = {f: (lead, m, o) for f, lead, m, o in robot.mimic}
    expected = _urdf_mimic(path)
    assert set(mimic) == set(expected)
    for follower, (leader, mult, offset) in expected.items():
        assert mimic[follower][0] == leader
        assert mimic[follower][1:] == pytest.approx((mult, offset))
    model = _mj_model(robot)
    assert tuple(model.joint(j).name for j in range(model.njnt)) == robot.joint_names
    assert 0.5 < robot.hands["right"].scale < 1.6


def test_cli_lists_robots_as_json(capsys):
    from dyad.cli import main

    assert main(["robots", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(REQUIRED) <= set(rows)
    # GR1's 32 body joints plus two 12-joint Inspire hands, on a floating base.
    assert rows["gr1_inspire"]["dof"] == 32 + 2 * 12
    assert rows["gr1_inspire"]["floating_base"] is True
    assert rows["gr1_inspire"]["hands"] == ["left", "right"]
    assert "robosuite" in rows["gr1_inspire"]["source"]
    assert rows["svh_right"]["dof"] == load_robot("svh_right").dof
    assert rows["svh_right"]["floating_base"] is False


def test_cli_bad_robot_config_exits_2(tmp_path, capsys):
    from dyad.cli import main

    assert main(["robots", "--robot-config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


# ----------------------------------------------------------------------------- model text


@pytest.mark.parametrize("name", ROBOTS)
def test_model_xml_loads_in_both_engines_from_anywhere(name, tmp_path, monkeypatch):
    """``robot.model_xml`` is what the sim gate and the solvers load: MuJoCo's XML loader (not
    only ``MjSpec``) and Pinocchio's MJCF parser must both accept the text as it is, from any
    folder (asset paths are absolute and exist)."""
    robot = load_robot(name)
    monkeypatch.chdir(tmp_path)  # nothing may resolve against the working directory
    for path in re.findall(r'\bfile="([^"]+)"', robot.model_xml):
        assert os.path.isabs(path) and os.path.isfile(path), path
    model = mujoco.MjModel.from_xml_string(robot.model_xml)
    classes = re.findall(r'<default\s+class="([^"]+)"', robot.model_xml)
    assert len(classes) == len(set(classes)), f"repeated default classes in {name}"
    assert Path(robot.asset_dir).is_dir()
    xml_path = tmp_path / f"{name}.xml"
    xml_path.write_text(robot.model_xml)
    pm = pin.buildModelFromMJCF(str(xml_path))
    assert pm.nq == robot.pin_model.nq == model.nq
    assert [pm.names[j] for j in range(1, pm.njoints)] == \
        [robot.pin_model.names[j] for j in range(1, robot.pin_model.njoints)]


@pytest.mark.slow
def test_sim_scene_builds_for_g1():
    from dyad.sim.scene import build_scene

    robot = load_robot("g1")
    scene = build_scene([(robot.name, robot)], 30.0)
    assert scene.layout == "humanoid"
    assert scene.joint_names == robot.joint_names
    # A position servo, a velocity servo and a feed-forward motor each.
    assert scene.model.nu == 3 * int(scene.actuated.sum())


@pytest.mark.filterwarnings("ignore:.*Attach conflict")  # the Shadow file's <size>, <option>
def test_default_classes_never_clash_when_attaching(tmp_path):
    """A user arm whose own default classes are named like its hands' classes, and like those
    would be after prefixing (``left_visual``): every class stays distinct, each geom keeps its
    own file's class settings, ``childclass`` references follow (the Shadow hand's), and the
    text loads in MuJoCo and Pinocchio. (A repeated class once made the XML unloadable, and
    makes MuJoCo 4.0's ``spec.to_xml()`` crash.)"""
    _write(tmp_path / "arm.xml", """<mujoco><default>
        <default class="visual"><geom group="2" contype="0" conaffinity="0"/></default>
        <default class="left_visual"><geom group="4" contype="0" conaffinity="0"/></default>
        <default class="right_robot0:asset_class"><geom group="5"/></default>
      </default><worldbody>
      <body name="torso" pos="0 0 1"><joint name="torso_yaw" axis="0 0 1" range="-2 2"/>
        <geom type="box" size="0.05 0.15 0.2"/>
        <geom name="torso_shell" class="visual" type="sphere" size="0.04"/>
        <geom name="torso_label" class="left_visual" type="sphere" size="0.02"/>
        <geom name="torso_badge" class="right_robot0:asset_class" type="sphere" size="0.01"
              contype="0" conaffinity="0"/>
        <body name="left_mount" pos="0 0.4 0"/>
        <body name="right_mount" pos="0 -0.4 0"/></body></worldbody></mujoco>""")
    register_robot_yaml(_write(tmp_path / "arm.yaml", """
name: two_hand_arm
model: {file: arm.xml}
attach:
  - {robot: g1_three_finger_left, body: left_mount}
  - {robot: shadow_right, body: right_mount}
"""))
    robot = load_robot("two_hand_arm")
    classes = re.findall(r'<default\s+class="([^"]+)"', robot.model_xml)
    assert len(classes) == len(set(classes)), classes
    model = mujoco.MjModel.from_xml_string(robot.model_xml)
    assert [model.geom(n).group for n in ("torso_shell", "torso_label", "torso_badge")] == \
        [2, 4, 5]

    def geoms(m, body):
        return sorted((int(m.geom_group[g]), int(m.geom_contype[g]), int(m.geom_type[g]),
                       round(float(m.geom_friction[g, 0]), 6))
                      for g in np.flatnonzero(m.geom_bodyid == m.body(body).id))

    for hand_name in ("g1_three_finger_left", "shadow_right"):
        hand = _mj_model(load_robot(hand_name))
        for b in range(1, hand.nbody):
            name = hand.body(b).name
            assert geoms(model, name) == geoms(hand, name), (hand_name, name)
        for j in range(hand.njnt):
            jid = model.joint(hand.joint(j).name).id
            assert model.dof_damping[model.jnt_dofadr[jid]] == pytest.approx(
                hand.dof_damping[hand.jnt_dofadr[j]])
    xml_path = tmp_path / "two_hand_arm.xml"
    xml_path.write_text(robot.model_xml)
    assert pin.buildModelFromMJCF(str(xml_path)).nq == model.nq


def test_mesh_copied_once_and_geom_orientation_resolved():
    import mujoco

    from dyad.retarget.model_loading import copy_mesh_once, geom_quat

    spec = mujoco.MjSpec.from_string("""
<mujoco><compiler angle="degree"/>
  <asset><mesh name="tet" vertex="0 0 0  1 0 0  0 1 0  0 0 1"/></asset>
  <worldbody><body name="b">
    <geom name="a" type="mesh" mesh="tet" euler="0 0 90"/>
    <geom name="c" type="mesh" mesh="tet" quat="0 1 0 0"/>
  </body></worldbody></mujoco>""")
    a, c = spec.geom("a"), spec.geom("c")
    np.testing.assert_allclose(geom_quat(spec, a), [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)],
                               atol=1e-12)
    np.testing.assert_allclose(geom_quat(spec, c), [0, 1, 0, 0])
    mini, copied = mujoco.MjSpec(), set()
    assert copy_mesh_once(spec, "tet", mini, copied) == "tet"
    assert copy_mesh_once(spec, "tet", mini, copied) == "tet"
    assert [m.name for m in mini.meshes] == ["tet"] and copied == {"tet"}
    assert len(mini.mesh("tet").uservert) == 12
