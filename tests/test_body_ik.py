"""Humanoid retargeting (retarget/body_ik.py, body_targets.py, body_mapping.py,
collision_spheres.py): reachable targets, hard limits, clearance between the hands, sides,
floating base, rest-pose scaling, contact blending and bad set-ups."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pin = pytest.importorskip("pinocchio")
pytest.importorskip("mujoco")

from dyad.retarget.body_ik import BodyIK, BodyIKConfig  # noqa: E402
from dyad.retarget.body_mapping import BodyMappingError, body_mapping_for  # noqa: E402
from dyad.retarget.body_targets import (BodyTargets, HumanToRobot, TargetConfig,  # noqa: E402
                                        blend_contacts, hands_of)
from dyad.retarget.collision_spheres import Obstacles, box_distance, fit_box_spheres  # noqa: E402
from dyad.retarget.registry import load_robot  # noqa: E402
from dyad.retarget.wrist_limits import CLEARANCE_M as WRIST_CLEARANCE_M  # noqa: E402
from dyad.retarget.wrist_limits import wrist_clearance_limits  # noqa: E402
from dyad.skeletons import BODY22_HANDS_REST, BODY22_NAMES  # noqa: E402

B = {n: i for i, n in enumerate(BODY22_NAMES)}


@pytest.fixture(scope="module")
def gr1():
    return load_robot("gr1_inspire")


@pytest.fixture(scope="module")
def gr1_ik(gr1):
    return BodyIK(gr1)


@pytest.fixture(scope="module")
def gr1_exact(gr1):
    """No clearance and almost no posture pull: the optimum of reachable targets is exact."""
    return BodyIK(gr1, config=BodyIKConfig(clearance_weight=0.0, posture_weight=1e-9,
                                           first_frame_iterations=60))


def test_reachable_targets_are_recovered(gr1_exact):
    """Random robot poses -> forward kinematics -> targets -> solve from a perturbed start."""
    rng = np.random.default_rng(3)
    point_errors, rotation_errors = [], []
    for _ in range(6):
        q_true = gr1_exact.random_configuration(rng)
        gr1_exact.reset(gr1_exact.perturbed(q_true, rng, 0.15))
        gr1_exact.solve(gr1_exact.targets_of(q_true))
        point_errors += list(gr1_exact.info.point_errors_m.values())
        rotation_errors += list(gr1_exact.info.wrist_rotation_errors_rad.values())
    assert np.mean(point_errors) < 0.002, np.mean(point_errors)
    assert np.max(point_errors) < 0.01, np.max(point_errors)
    assert np.max(rotation_errors) < 0.03


def test_solution_stays_within_joint_limits_when_targets_are_out_of_reach(gr1_exact, gr1):
    rng = np.random.default_rng(4)
    q_true = gr1_exact.random_configuration(rng, spread_rad=0.2)
    targets = gr1_exact.targets_of(q_true)
    # Wrists two metres away from the shoulders: unreachable, the arms must stop at limits.
    targets.points_m["l_wrist"] = targets.points_m["l_wrist"] + np.array([0.0, 2.0, 0.5])
    targets.points_m["r_wrist"] = targets.points_m["r_wrist"] + np.array([2.0, -1.0, 0.0])
    gr1_exact.reset()
    q = gr1_exact.solve(targets)
    info = gr1_exact.info
    joints = gr1_exact.qpos(q)[7:]
    assert np.all(joints >= gr1.lower - 1e-9) and np.all(joints <= gr1.upper + 1e-9)
    assert info.point_errors_m["l_wrist"] > 0.5 and info.point_errors_m["r_wrist"] > 0.5
    # The residual is reported; the Huber loss keeps the far targets' pull bounded, so the
    # rest of the body leans toward them by centimetres, not metres.
    assert info.point_errors_m["l_knee"] < 0.1
    assert info.point_errors_m["pelvis"] < 0.1


def _hands_together(ik: BodyIK) -> BodyTargets:
    """Both wrist targets on one point in front of the chest, palms facing each other."""
    g = ik.geometry
    centre = 0.5 * (g.points_m["l_shoulder"] + g.points_m["r_shoulder"]) \
        + np.array([0.3, 0.0, -0.15 - g.floor_z_m])
    t = BodyTargets()
    t.points_m = {"l_wrist": centre.copy(), "r_wrist": centre.copy()}
    return t


def test_clearance_keeps_the_two_hands_apart(gr1):
    with_clearance = BodyIK(gr1, follow_body=False)
    without = BodyIK(gr1, config=BodyIKConfig(clearance_weight=0.0), follow_body=False)
    targets = _hands_together(with_clearance)
    with_clearance.solve(targets)
    without.solve(targets)
    gap_off = without.clearance  # clearance disabled: no sphere model at all
    assert gap_off is None
    assert with_clearance.info.min_clearance_m > -0.003
    # Measure the unprotected solution with the protected solver's sphere model.
    q_off = without.last_q
    data = with_clearance.model.createData()
    pin.framesForwardKinematics(with_clearance.model, data, q_off)
    assert with_clearance.clearance.min_gap(data) < -0.01
    # The hands moved apart instead: the wrists miss their common target.
    errors = with_clearance.info.point_errors_m
    assert errors["l_wrist"] + errors["r_wrist"] > 0.015


def test_sides_are_never_swapped(gr1_ik):
    """Raise the human's right arm only: the robot's right wrist rises, the left stays."""
    body = BODY22_HANDS_REST.copy()
    shoulder = body[B["r_shoulder"]]
    frames = []
    for angle in np.linspace(0.0, np.pi / 2, 20):  # T-pose -> straight up in 2/3 s
        pose = body.copy()
        for name in ("r_elbow", "r_wrist"):
            reach = np.linalg.norm(body[B[name]] - shoulder)
            pose[B[name]] = shoulder + reach * np.array([0.0, -np.cos(angle), np.sin(angle)])
        pose[42:62] += pose[B["r_wrist"]] - body[B["r_wrist"]]
        frames.append(pose)
    human = np.stack(frames)
    h2r = HumanToRobot(gr1_ik.robot, gr1_ik.geometry, human[:, :22])
    track = h2r.body_track(human[:, :22], hands_of(human))
    gr1_ik.reset()
    wrists = []
    for t in range(len(human)):
        gr1_ik.solve(track.frame(t))
        data = gr1_ik.data
        wrists.append({s: data.oMf[f].translation.copy() for s, f in gr1_ik._wrist_frames.items()})
    assert wrists[-1]["right"][2] - wrists[0]["right"][2] > 0.3
    assert abs(wrists[-1]["left"][2] - wrists[0]["left"][2]) < 0.03
    assert wrists[-1]["right"][1] < 0 < wrists[-1]["left"][1]  # right hand on the robot's right
    assert gr1_ik.info.point_errors_m["r_wrist"] < 0.02


def _yawed(body: np.ndarray, yaw: float, shift: np.ndarray) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return body @ rot.T + shift


def test_floating_base_follows_the_pelvis(gr1_ik):
    body = _yawed(BODY22_HANDS_REST, np.pi / 2, np.array([1.0, 0.5, 0.0]))[None]
    h2r = HumanToRobot(gr1_ik.robot, gr1_ik.geometry, body[:, :22])
    track = h2r.body_track(body[:, :22], hands_of(body))
    gr1_ik.reset()
    q = gr1_ik.solve(track.frame(0))
    root = gr1_ik.qpos(q)[:7]
    assert np.allclose(root[:2], [1.0, 0.5], atol=0.02)
    yaw = 2.0 * np.arctan2(root[6], root[3])  # w, z of a yaw-only quaternion
    assert abs(np.angle(np.exp(1j * (yaw - np.pi / 2)))) < 0.05
    # Standing: the soles rest on the floor, the pelvis at the robot's own standing height.
    assert abs(root[2] - gr1_ik.q_rest[2]) < 0.02
    assert gr1_ik.info.point_errors_m["l_ankle"] < 0.01


def test_scaling_is_calibrated_from_the_rest_pose(gr1_ik):
    g = gr1_ik.geometry
    rest = BODY22_HANDS_REST[None]
    h2r = HumanToRobot(gr1_ik.robot, g, rest[:, :22])
    # Each scale maps the human bone onto the robot bone measured at rest.
    for name, length in g.bone_lengths_m.items():
        parent = {"knee": "hip", "ankle": "knee", "foot": "ankle", "elbow": "shoulder",
                  "wrist": "elbow"}[name[2:]]
        human = np.linalg.norm(rest[0, B[name]] - rest[0, B[name[:2] + parent]])
        assert h2r.bone_scales[name] == pytest.approx(length / human)
    # A taller human (x1.1) standing still gives the same robot targets.
    tall = rest.copy()
    tall[..., 2] *= 1.1
    tall[..., :2] *= 1.1
    h2r_tall = HumanToRobot(gr1_ik.robot, g, tall[:, :22])
    assert h2r_tall.height_scale == pytest.approx(h2r.height_scale / 1.1, rel=1e-6)
    a = h2r.body_track(rest[:, :22], hands_of(rest))
    b = h2r_tall.body_track(tall[:, :22], hands_of(tall))
    assert a.pelvis_position_m[0, 2] == pytest.approx(g.pelvis_height_m, abs=1e-6)
    assert b.pelvis_position_m[0, 2] == pytest.approx(g.pelvis_height_m, abs=1e-6)
    for name in ("l_knee", "l_ankle", "r_elbow"):
        # Same pose, only bigger: horizontal offsets scale, limb geometry does not.
        assert np.allclose(a.points_m[name][0, 2], b.points_m[name][0, 2], atol=1e-6)


def test_warm_start_is_continuous(gr1_ik):
    body = BODY22_HANDS_REST[None].repeat(3, axis=0)
    body[1:, B["r_wrist"]] += np.array([0.0, 0.0, 0.01])
    body[1:, 42:62] += np.array([0.0, 0.0, 0.01])
    h2r = HumanToRobot(gr1_ik.robot, gr1_ik.geometry, body[:, :22])
    track = h2r.body_track(body[:, :22], hands_of(body))
    gr1_ik.reset()
    q0 = gr1_ik.solve(track.frame(0))
    cold_iterations = gr1_ik.info.iterations
    q1 = gr1_ik.solve(track.frame(1))
    assert gr1_ik.info.iterations <= gr1_ik.config.max_iterations + gr1_ik.config.contact_iterations
    assert gr1_ik.info.iterations < cold_iterations
    assert np.abs(pin.difference(gr1_ik.model, q0, q1)).max() < 0.1  # a 1 cm move: small step
    q2 = gr1_ik.solve(track.frame(2))
    assert np.abs(pin.difference(gr1_ik.model, q1, q2)).max() < 0.02  # same target: settles


def test_blend_contacts_keeps_touching_hands_together():
    cfg = TargetConfig(contact_near_m=0.1, contact_far_m=0.25)
    from dyad.retarget.body_targets import TargetTrack

    def track(point):
        t = TargetTrack(num_frames=2)
        t.points_m = {"r_wrist": np.array(point, dtype=float)}
        return t

    # Robot targets 10 cm apart though the humans' wrists touch (5 cm) in frame 0, not in 1.
    a, b = track([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]), track([[0.1, 0.0, 1.0], [0.1, 0.0, 1.0]])
    humans = [{"r_wrist": np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])},
              {"r_wrist": np.array([[0.05, 0.0, 1.0], [0.5, 0.0, 1.0]])}]
    blend_contacts([a, b], humans, cfg)
    assert np.allclose(b.points_m["r_wrist"][0] - a.points_m["r_wrist"][0], [0.05, 0.0, 0.0])
    assert np.allclose(0.5 * (a.points_m["r_wrist"][0] + b.points_m["r_wrist"][0]),
                       [0.05, 0.0, 1.0])
    assert np.allclose(a.points_m["r_wrist"][1], [0.0, 0.0, 1.0])  # far apart: untouched


def test_declared_hand_contacts_blend_by_the_hands_not_the_wrists():
    # A fist bump: the humans' knuckles touch while their wrists stay 18 cm apart, and the
    # robots' wrist targets are 30 cm apart (other arms). By wrist distance the blend is
    # partial and the robot fists would miss; declared, the hands' own distance (0) makes it
    # full, so the robot wrists keep the humans' 18 cm offset. Undeclared frames keep the old
    # rule.
    cfg = TargetConfig(contact_near_m=0.1, contact_far_m=0.25)
    from dyad.retarget.body_targets import TargetTrack

    def track(x):
        t = TargetTrack(num_frames=2)
        t.points_m = {"r_wrist": np.array([[x, 0.0, 1.0]] * 2)}
        return t

    def fist(wrist_x, toward):
        keypoints = np.zeros((2, 21, 3)) + [wrist_x, 0.0, 1.0]
        keypoints[:, 1:, 0] += toward * np.linspace(0.02, 0.09, 20)  # knuckles 9 cm out
        return keypoints

    humans = [{"r_wrist": np.array([[0.0, 0.0, 1.0]] * 2)},
              {"r_wrist": np.array([[0.18, 0.0, 1.0]] * 2)}]
    hands = [{"r_wrist": fist(0.0, 1.0)}, {"r_wrist": fist(0.18, -1.0)}]
    declared = [{"r_wrist": np.array([1.0, 0.0])}, {"r_wrist": np.array([1.0, 0.0])}]
    a, b = track(0.0), track(0.3)
    blend_contacts([a, b], humans, cfg, declared, hands)
    gap = b.points_m["r_wrist"][:, 0] - a.points_m["r_wrist"][:, 0]
    assert gap[0] == pytest.approx(0.18)
    # Frame 1 is not declared: by wrist distance (18 cm) the blend is partial.
    assert 0.2 < gap[1] < 0.29
    plain_a, plain_b = track(0.0), track(0.3)
    blend_contacts([plain_a, plain_b], humans, cfg)
    assert plain_b.points_m["r_wrist"][0, 0] - plain_a.points_m["r_wrist"][0, 0] == \
        pytest.approx(gap[1])


def test_box_spheres_inside_and_covering():
    rng = np.random.default_rng(0)
    for half in ([0.024, 0.041, 0.056], [0.007, 0.011, 0.023], [0.03, 0.03, 0.03],
                 [0.04, 0.04, 0.175]):
        half = np.array(half)
        centres, radius, covering = fit_box_spheres(np.zeros(3), half, max_spheres=12)
        assert len(centres) <= 12
        # Inside spheres never leave the box.
        assert np.all(np.abs(centres) + radius <= half + 1e-9)
        # Covering spheres contain every point of the box.
        points = rng.uniform(-half, half, (2000, 3))
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1)
                            for sz in (-1, 1)]) * half
        points = np.vstack([points, corners])
        d = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=-1)
        assert np.all((d <= covering[None, :] + 1e-9).any(axis=1))
        assert np.all(covering >= radius)


def test_a_thick_box_gets_a_grid_whose_capped_spheres_reach_its_edges():
    """GR1's 18 cm waist cube: one 9 cm sphere grown by the 1 cm cover cap left the cube's
    edges 2.7 cm and its corners 5.6 cm outside, where thumbs went in unseen. With spheres of
    at most 5 cm it is a 3x3x3 grid: inside the box, covering it, and capped at +1 cm its
    edges lie at most 1.1 cm and its corners 2.7 cm outside (faces reached, as before)."""
    half = np.full(3, 0.09)
    one, r_one, cover_one = fit_box_spheres(np.zeros(3), half)
    grid, r_grid, cover_grid = fit_box_spheres(np.zeros(3), half, max_spheres=27,
                                               max_radius_m=0.05)
    assert len(one) == 1 and len(grid) == 27 and r_grid <= 0.05
    assert np.all(np.abs(grid) + r_grid <= half + 1e-9)
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1)
                        for sz in (-1, 1)]) * half
    edges = np.array([[0.09, 0.09, 0.0], [0.09, 0.0, 0.09], [0.0, 0.09, 0.09]])

    def outside(points, centres, radius, cover):
        capped = np.minimum(cover, radius + 0.01)
        d = np.linalg.norm(points[:, None] - centres[None], axis=-1) - capped[None]
        return d.min(axis=1).max()

    assert outside(corners, one, r_one, cover_one) > 0.05
    assert outside(edges, one, r_one, cover_one) > 0.025
    assert outside(corners, grid, r_grid, cover_grid) < 0.028
    assert outside(edges, grid, r_grid, cover_grid) < 0.012
    from dyad.retarget.collision_spheres import robot_link_spheres

    assert len(robot_link_spheres(load_robot("gr1_inspire"))["torso_waist_roll_link"][1]) == 27


def test_hands_and_unmapped_humanoids_are_refused(gr1):
    with pytest.raises(BodyMappingError, match="not a humanoid"):
        body_mapping_for(load_robot("inspire_right"))
    other = dataclasses.replace(gr1, name="my_humanoid")
    with pytest.raises(BodyMappingError, match="gr1_inspire"):
        body_mapping_for(other)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gr1_fourier", "g1"])
def test_reachable_targets_other_humanoids(name):
    robot = load_robot(name)
    ik = BodyIK(robot, config=BodyIKConfig(clearance_weight=0.0, posture_weight=1e-9,
                                           first_frame_iterations=60))
    rng = np.random.default_rng(5)
    errors = []
    for _ in range(3):
        q_true = ik.random_configuration(rng, spread_rad=0.4)
        ik.reset(ik.perturbed(q_true, rng, 0.15))
        ik.solve(ik.targets_of(q_true))
        errors += list(ik.info.point_errors_m.values())
    assert np.mean(errors) < 0.003


def _min_distance_m(robot, q_row: np.ndarray, a, b) -> float:
    """Smallest MuJoCo signed distance between the geoms of bodies ``a(name)`` and ``b(name)``
    select (what the sim gate collides) for trajectory columns ``q_row`` of one robot."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(robot.model_xml)
    data = mujoco.MjData(model)
    for name, value in zip(robot.joint_names, q_row[7:]):
        data.qpos[model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)]] \
            = value
    mujoco.mj_kinematics(model, data)
    body = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(b)) for b in model.geom_bodyid]
    solid = (model.geom_contype > 0) | (model.geom_conaffinity > 0)
    geoms_a = [g for g in range(model.ngeom) if solid[g] and a(body[g])]
    geoms_b = [g for g in range(model.ngeom) if solid[g] and b(body[g])]
    assert geoms_a and geoms_b
    from_to = np.zeros(6)
    return min(mujoco.mj_geomDistance(model, data, ga, gb, 0.2, from_to)
               for ga in geoms_a for gb in geoms_b)


def _hand_thigh_distance_m(robot, q_row: np.ndarray) -> float:
    return _min_distance_m(robot, q_row, lambda n: "palm" in n or any(
        f in n for f in ("thumb", "index", "middle", "ring", "pinky")), lambda n: "thigh" in n)


def test_a_folded_elbow_keeps_the_wrist_off_its_upper_arm(gr1):
    # A salute folded past what the arm allows (elbow -2.9 rad): the wrist housing sinks 3 cm
    # into the upper arm (GR1's r_hand_yaw vs r_upper_arm_yaw). The solve keeps them apart
    # (covering spheres on both, as the inner ones saw a 5 mm gap there) and still places
    # the wrist near its target.
    ik = BodyIK(gr1, follow_body=False)
    delta = np.zeros_like(ik.q_rest)
    for joint, value in {"r_shoulder_pitch": -1.0, "r_shoulder_roll": -1.2,
                         "r_elbow_pitch": -2.9}.items():
        delta[ik.model.joints[ik.model.getJointId(joint)].idx_q] = value
    q_in = ik.q_rest + delta

    def wrist_to_upper_arm(q):
        return _min_distance_m(gr1, ik.qpos(q), lambda n: n in ("r_hand_yaw", "r_hand_roll"),
                               lambda n: n == "r_upper_arm_yaw")

    assert wrist_to_upper_arm(q_in) < -0.02
    ik.reset()
    q = ik.solve(ik.targets_of(q_in))
    assert wrist_to_upper_arm(q) > -0.001  # the gate's tolerance
    assert ik.info.point_errors_m["r_wrist"] < 0.04
    assert {"right_upper_arm", "right_wrist"} <= set(ik.sphere_groups)


def test_hanging_hands_stay_out_of_the_thighs(gr1):
    # A relaxed arms-down pose as the synthetic duets start (elbows a little bent, upper arms
    # and wrists turned so the fingers face the thighs, hips slightly flexed), moved toward
    # until the fingers sink into the thighs: the solve must keep them out.
    ik = BodyIK(gr1, follow_body=False)
    turn = {"shoulder_roll": 0.15, "shoulder_yaw": -1.16, "elbow_pitch": -0.38,
            "wrist_yaw": 0.91}
    sign = {"l": 1.0, "r": -1.0}
    delta = np.zeros_like(ik.q_rest)
    for s in "lr":
        for joint, value in turn.items():
            i = ik.model.joints[ik.model.getJointId(f"{s}_{joint}")].idx_q
            delta[i] = value if joint == "elbow_pitch" else sign[s] * value
        delta[ik.model.joints[ik.model.getJointId(f"{s}_leg_hip_pitch")].idx_q] = -0.13
    for scale in np.linspace(0.5, 1.5, 21):
        q_in = ik.q_rest + scale * delta
        if _hand_thigh_distance_m(gr1, ik.qpos(q_in)) < -0.005:
            break
    assert _hand_thigh_distance_m(gr1, ik.qpos(q_in)) < -0.005
    ik.reset()
    q = ik.solve(ik.targets_of(q_in))
    assert _hand_thigh_distance_m(gr1, ik.qpos(q)) > -0.001  # the gate's tolerance
    # Moved out, not thrown away.
    assert max(ik.info.point_errors_m[f"{s}_wrist"] for s in "lr") < 0.04


def test_feet_that_cross_are_kept_apart(gr1_ik, gr1):
    # Hips rolled inward put GR1's feet 7 cm into each other (a human's narrow stance or a
    # turn on the spot, played by the robot's wider feet): the solve keeps them apart, one
    # foot's spheres against the other's exact boxes, and moves the feet off their targets
    # by centimetres instead.
    q_in = _with_joints(gr1_ik, {"l_leg_hip_roll": -0.1, "r_leg_hip_roll": 0.1})

    def feet(q):
        return _min_distance_m(gr1, gr1_ik.qpos(q), lambda n: n.startswith("l_foot"),
                               lambda n: n.startswith("r_foot"))

    assert feet(q_in) < -0.05
    gr1_ik.reset()
    q = gr1_ik.solve(gr1_ik.targets_of(q_in))
    assert feet(q) > -0.001
    assert max(gr1_ik.info.point_errors_m[f"{s}_foot"] for s in "lr") < 0.1


def test_hands_may_touch_obstacles_flagged_touchable(gr1):
    # A partner's sphere where the left hand is asked to be: an obstacle pushes the hand off
    # its target; flagged touchable (a handshake's partner forearm) it lets the hand reach it.
    ik = BodyIK(gr1, follow_body=False)
    targets = ik.targets_of(ik.q_rest)
    data = ik.model.createData()
    pin.framesForwardKinematics(ik.model, data, ik.q_rest)
    palm = data.oMf[ik.model.getFrameId("l_palm")].translation
    obstacle = (palm[None, :] + [0.0, 0.0, -0.02], np.array([0.03]))
    errors = {}
    for touchable in (False, True):
        ik.reset()
        ik.solve(targets, (*obstacle, np.array([touchable])))
        errors[touchable] = ik.info.point_errors_m["l_wrist"]
    assert errors[False] > 0.02
    assert errors[True] < 0.005


def test_box_distance_matches_mujoco():
    # Signed distances from spheres to a turned box, outside (faces, edges, corners) and
    # inside, against MuJoCo's own sphere-box distance.
    import mujoco

    rng = np.random.default_rng(3)
    half = np.array([0.09, 0.05, 0.03])
    quat = np.array([0.9, 0.2, -0.3, 0.25])
    quat /= np.linalg.norm(quat)
    rot = np.empty(9)
    mujoco.mju_quat2Mat(rot, quat)
    rot = rot.reshape(3, 3)
    centre = np.array([0.1, -0.2, 0.5])
    radius = 0.01
    model = mujoco.MjModel.from_xml_string(f"""<mujoco><worldbody>
      <geom type="box" size="{half[0]} {half[1]} {half[2]}" pos="{centre[0]} {centre[1]}
        {centre[2]}" quat="{quat[0]} {quat[1]} {quat[2]} {quat[3]}"/>
      <body mocap="true"><geom type="sphere" size="{radius}"/></body>
    </worldbody></mujoco>""")
    data = mujoco.MjData(model)
    points = centre + rng.uniform(-0.15, 0.15, (200, 3))
    points[:20] = centre + (rng.uniform(-0.8, 0.8, (20, 3)) * half) @ rot.T
    n = len(points)
    dist, normal, nearest = box_distance(points, np.tile(centre, (n, 1)),
                                         np.tile(rot, (n, 1, 1)), np.tile(half, (n, 1)))
    expected = []
    for p in points:
        data.mocap_pos[0] = p
        mujoco.mj_kinematics(model, data)
        expected.append(mujoco.mj_geomDistance(model, data, 0, 1, 1.0, None))
    np.testing.assert_allclose(dist - radius, expected, atol=1e-6)
    assert (dist[:20] < 0).all() and (dist[20:] > -1e-12).any()
    np.testing.assert_allclose(np.linalg.norm(normal, axis=1), 1.0, atol=1e-9)
    # The nearest surface point lies the signed distance back along the normal.
    np.testing.assert_allclose(nearest + dist[:, None] * normal, points, atol=1e-9)


def test_box_obstacles_are_exact_not_their_bounding_spheres(gr1):
    # A thin wall 1 cm in front of the hanging right hand leaves it where it is (the sphere
    # bounding the wall, what a sphere model would see, pushes it 7 cm away); 1 cm into the
    # hand, it pushes the hand off.
    ik = BodyIK(gr1, follow_body=False)
    targets = ik.targets_of(ik.q_rest)
    data = ik.model.createData()
    pin.framesForwardKinematics(ik.model, data, ik.q_rest)
    spheres = ik.clearance.spheres
    rows = np.flatnonzero(spheres.group == spheres.group_names.index("right_hand"))
    centres = ik.clearance.world_centers(data)[rows]
    front = float((centres[:, 0] + spheres.radii_m[rows]).max())
    half = np.array([[0.005, 0.1, 0.1]])
    errors = {}
    for offset in (0.01, -0.01):
        at = np.array([[front + offset + half[0, 0], *centres[:, 1:].mean(axis=0)]])
        for name, wall in (("box", Obstacles(at, np.zeros(1), None, np.eye(3)[None], half)),
                           ("ball", Obstacles(at, np.linalg.norm(half, axis=1)))):
            ik.reset()
            ik.solve(targets, wall)
            errors[name, offset] = ik.info.point_errors_m["r_wrist"]
    assert errors["box", 0.01] < 1e-3
    assert errors["ball", 0.01] > 0.03
    assert errors["box", -0.01] > 0.005


def test_the_trunk_is_kept_as_exact_boxes(gr1_ik):
    # GR1's trunk is made of boxes (an 18 cm waist cube among them): the clearance terms
    # keep them as boxes, not as grids of spheres.
    spheres = gr1_ik.clearance.spheres
    trunk = spheres.group == spheres.group_names.index("trunk")
    waist = gr1_ik.model.getFrameId("torso_waist_roll_link")
    cube = trunk & (spheres.frame_ids == waist)
    assert cube.sum() == 1 and spheres.is_box[cube].all()
    np.testing.assert_allclose(spheres.half_extents_m[cube][0], 0.09, atol=1e-6)
    hands = np.isin(spheres.group, [spheres.group_names.index(f"{s}_hand")
                                    for s in ("left", "right")])
    assert not spheres.is_box[hands].any()


def _with_joints(ik: BodyIK, values: dict[str, float]) -> np.ndarray:
    q = ik.q_rest.copy()
    for joint, value in values.items():
        q[ik.model.joints[ik.model.getJointId(joint)].idx_q] = value
    return q


def _palm_to_housing_m(robot, q_row: np.ndarray, side: str = "r") -> float:
    return _min_distance_m(robot, q_row, lambda n: n == f"{side}_palm",
                           lambda n: n == f"{side}_hand_yaw")


def test_wrist_limits_keep_the_palm_off_its_housing(gr1):
    # GR1 allows +-1.5 rad of wrist pitch and roll; the Inspire palm meets the r_hand_yaw
    # housing from about 0.8 rad on. The measured clear region is what projection keeps.
    limits = {limit.joints: limit for limit in wrist_clearance_limits(gr1)}
    assert set(limits) == {("r_wrist_pitch", "r_wrist_roll"), ("l_wrist_pitch", "l_wrist_roll")}
    limit = limits[("r_wrist_pitch", "r_wrist_roll")]
    ik = BodyIK(gr1, follow_body=False)
    rng = np.random.default_rng(0)
    for values in rng.uniform(-1.5, 1.5, size=(12, 2)):
        inside = limit.project(values)
        q = _with_joints(ik, dict(zip(limit.joints, inside)))
        assert _palm_to_housing_m(gr1, ik.qpos(q)) >= WRIST_CLEARANCE_M - 5e-4
        assert np.allclose(limit.project(inside), inside)  # idempotent
        # Pulled straight back toward rest, never past it.
        assert abs(inside[0] * values[1] - inside[1] * values[0]) < 1e-9
        assert np.linalg.norm(inside) <= np.linalg.norm(values) + 1e-12
    folded = {"r_wrist_pitch": 1.2, "r_wrist_roll": 0.9}
    assert _palm_to_housing_m(gr1, ik.qpos(_with_joints(ik, folded))) < -0.005
    assert np.allclose(limit.project(np.array([0.3, -0.2])), [0.3, -0.2])
    # Robots with nothing above the hand (a hand on its own) have no such limit.
    assert wrist_clearance_limits(load_robot("inspire_right")) == ()


def test_body_ik_never_folds_the_palm_into_its_wrist_housing(gr1):
    # A wrist orientation only reachable with the palm in the housing, weighted to be met
    # exactly (without the clear region the solve ends 3 mm inside).
    config = BodyIKConfig(clearance_weight=0.0, posture_weight=1e-9, first_frame_iterations=60,
                          wrist_rotation_weight=1.0)
    ik = BodyIK(gr1, follow_body=False, config=config)
    q_in = _with_joints(ik, {"r_wrist_pitch": 1.2, "r_wrist_roll": 0.9})
    assert _palm_to_housing_m(gr1, ik.qpos(q_in)) < -0.005
    ik.reset()
    q = ik.solve(ik.targets_of(q_in))
    assert _palm_to_housing_m(gr1, ik.qpos(q)) >= WRIST_CLEARANCE_M - 5e-4
    assert ik.info.limit_hits >= 1
    # The rest of the arm still serves the hand: the wrist point stays near its target.
    assert ik.info.point_errors_m["r_wrist"] < 0.02


def test_hand_and_wrist_keep_a_wider_margin_from_their_own_upper_arm(gr1):
    """Waving folds the elbow until the wrist housing meets the upper arm, where the covering
    spheres still leave the meshes 5 mm closer than they say (a wave was commanded at 0 mm and
    the lagging simulated arm went 1.6-1.9 mm in). That pair keeps 10 mm of sphere gap; the
    rest keep ``clearance_m``."""
    import pinocchio as pin

    ik = BodyIK(gr1, follow_body=False)
    clearance, spheres = ik.clearance, ik.clearance.spheres
    names = list(spheres.group_names)
    wrist = np.flatnonzero(np.isin(spheres.group, [names.index("right_wrist"),
                                                   names.index("right_hand")]))
    upper = np.flatnonzero(spheres.group == names.index("right_upper_arm"))
    data = ik.model.createData()
    for elbow in np.linspace(-2.0, -2.5, 51):
        delta = np.zeros_like(ik.q_rest)
        for joint, value in {"r_shoulder_pitch": -1.0, "r_shoulder_roll": -1.2,
                             "r_elbow_pitch": elbow}.items():
            delta[ik.model.joints[ik.model.getJointId(joint)].idx_q] = value
        pin.computeJointJacobians(ik.model, data, ik.q_rest + delta)
        pin.updateFramePlacements(ik.model, data)
        c = clearance.world_centers(data)
        gap = float((np.linalg.norm(c[wrist][:, None] - c[upper][None], axis=-1)
                     - spheres.radii_m[wrist][:, None] - spheres.radii_m[upper][None]).min())
        if 0.006 < gap < 0.0095:
            break
    assert 0.006 < gap < 0.0095 and ik.config.clearance_m < 0.006
    pen, _, _, _ = clearance.rows(data, data.J[:, ik._cols], 1.0)
    assert len(pen) and pen.max() == pytest.approx(0.010 - gap, abs=2e-4)


def test_a_hand_keeps_a_centimetre_from_its_own_waist(gr1):
    """A salute's hand swinging down (the arm pose of a synthetic duet's frame, commanded with
    the thumb 2.7 cm inside GR1's 18 cm waist cube): the solve keeps the hand's geoms clear of
    its own trunk by more than the 5 mm the other pairs keep, since the inside spheres leave
    the thumb's edges out and the simulated arm lags on the way down (kept at 5 mm, the hand
    ended 3 mm off and went 5-7 mm in, in simulation)."""
    ik = BodyIK(gr1, follow_body=False)
    q_in = ik.q_rest.copy()
    for joint, value in {"r_shoulder_pitch": -0.456, "r_shoulder_roll": -1.016,
                         "r_shoulder_yaw": 1.585, "r_elbow_pitch": -2.073,
                         "r_wrist_yaw": -0.046, "r_wrist_roll": -0.563,
                         "r_wrist_pitch": 0.131}.items():
        q_in[ik.model.joints[ik.model.getJointId(joint)].idx_q] = value

    def hand_to_waist(q):
        return _min_distance_m(gr1, ik.qpos(q), lambda n: n.startswith("r_") and (
            "palm" in n or any(f in n for f in ("thumb", "index", "middle", "ring", "pinky"))),
            lambda n: n == "torso_waist_roll_link")

    assert hand_to_waist(q_in) < -0.02
    ik.reset()
    q = ik.solve(ik.targets_of(q_in))
    assert hand_to_waist(q) > 0.006
    assert ik.info.point_errors_m["r_wrist"] < 0.03
