"""Procedural duet interactions and the body kinematics behind them.

Every duet label is generated for a few seeds and checked against the motion contract and the
physical rules the generators promise: fixed bone lengths, feet on the floor, contacts that
really happen in the joints, no interpenetration, smooth starts and ends, real variation.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dyad.motion import MotionRecord
from dyad.skeletons import BODY22_HANDS_NAMES
from dyad.training.synth import duet
from dyad.training.synth.body_pose import (FOOT_REST_HEIGHT, JOINT, WRIST_DEVIATION_MAX,
                                           WRIST_FLEX_MAX, BodyPose, Proportions, bone_lengths,
                                           keyframes, plan_feet, ramp, travel, two_bone_ik,
                                           unit, wrist_bend)
from dyad.training.synth.types import DUET_LABELS, INTERACTIONS, interactions

SEEDS = (0, 1, 2)
META_KEYS = ("label", "mode", "speed", "amplitude", "repetitions", "offset_s", "distance_m",
             "handedness", "lead", "body_scale", "hand_scale", "phases")
NO_CONTACT = {"wave_to_each_other", "bow_to_each_other", "salute_each_other", "point_and_look",
              "beckon_and_approach", "applaud_partner"}


def _registered() -> list[str]:
    return [t.label for t in interactions("duet")]


_CACHE: dict[tuple[str, int], MotionRecord] = {}


def _clip(label: str, seed: int) -> MotionRecord:
    key = (label, seed)
    if key not in _CACHE:
        _CACHE[key] = INTERACTIONS[("duet", label)].generate(np.random.default_rng(seed))
    return _CACHE[key]


def _all_clips():
    return [(lab, s) for lab in _registered() for s in SEEDS]


# --------------------------------------------------------------------------- registry


def test_every_duet_label_is_registered_with_its_contact_flag():
    types = interactions("duet")
    assert [t.label for t in types] == list(DUET_LABELS)
    for t in types:
        assert t.mode == "duet"
        assert t.has_contact == (t.label not in NO_CONTACT), t.label


# --------------------------------------------------------------------------- every clip


@pytest.mark.parametrize("label,seed", _all_clips())
def test_clip_follows_the_contract(label, seed):
    rec = _clip(label, seed)
    T = rec.num_frames
    assert rec.joints.dtype == np.float32
    assert rec.joints.shape == (T, 2, 62, 3)
    assert 90 <= T <= 240, T  # 3 to 8 s at 30 fps
    assert rec.fps == 30.0 and rec.skeleton == "body22+hands" and rec.agents == ("A", "B")
    assert rec.label == label and rec.mode == "duet"
    assert np.isfinite(rec.joints).all()
    for key in META_KEYS:
        assert key in rec.meta, key
    m = rec.meta
    assert m["label"] == label and m["mode"] == "duet"
    assert m["handedness"] in ("left", "right") and m["lead"] in ("A", "B")
    assert len(m["body_scale"]) == 2 and len(m["hand_scale"]) == 2
    assert all(0.85 <= v <= 1.15 for v in m["body_scale"] + m["hand_scale"])
    assert m["speed"] > 0 and m["amplitude"] > 0 and m["repetitions"] >= 1
    assert m["distance_m"] > 0 and m["offset_s"] >= 0
    json.dumps(m)  # the record's file stores meta as JSON
    last = 0
    for ph in m["phases"]:
        assert set(ph) == {"name", "start", "end"}
        assert last <= ph["start"] < ph["end"] <= T, m["phases"]
        last = ph["start"]
    assert m["phases"], "every clip names its phases"


@pytest.mark.parametrize("label,seed", _all_clips())
def test_bone_lengths_are_the_agents_scaled_skeleton_in_every_frame(label, seed):
    rec = _clip(label, seed)
    J = rec.joints.astype(np.float64)
    for a in range(2):
        rest = Proportions(rec.meta["body_scale"][a], rec.meta["hand_scale"][a]).rest_joints()
        err = np.abs(bone_lengths(J[:, a]) - bone_lengths(rest)[None])
        assert err.max() < 2e-4, (a, BODY22_HANDS_NAMES[1 + int(err.max(0).argmax())])


@pytest.mark.parametrize("label,seed", _all_clips())
def test_feet_stay_on_the_floor(label, seed):
    rec = _clip(label, seed)
    J = rec.joints
    assert J[..., 2].min() >= 0.0
    feet = [JOINT["l_foot"], JOINT["r_foot"]]
    for a in range(2):
        rest_height = FOOT_REST_HEIGHT * rec.meta["body_scale"][a]
        lowest = J[:, a][:, feet, 2].min(axis=1)
        assert np.abs(lowest - rest_height).max() <= 0.03


@pytest.mark.parametrize("label,seed", _all_clips())
def test_contacts_really_happen_and_agents_never_interpenetrate(label, seed):
    rec = _clip(label, seed)
    has_contact = INTERACTIONS[("duet", label)].has_contact
    assert bool(rec.contacts) == has_contact
    for c in rec.contacts:
        assert {c.agent_a, c.agent_b} == {"A", "B"}
        assert 0 <= c.start < c.end <= rec.num_frames
        d = rec.contact_distance(c)[c.start:c.end]
        assert (d <= 0.05).mean() >= 0.8, (c, d.round(3))
    J = rec.joints.astype(np.float64)
    d = np.linalg.norm(J[:, 0, :, None] - J[:, 1, None, :], axis=-1)
    assert d.min() >= 0.015, (label, seed, float(d.min()))


@pytest.mark.parametrize("label,seed", _all_clips())
def test_motion_is_smooth_and_starts_and_ends_at_rest(label, seed):
    rec = _clip(label, seed)
    J = rec.joints.astype(np.float64)
    step = np.linalg.norm(np.diff(J, axis=0), axis=-1)  # (T-1, 2, 62) metres per frame
    assert step.max() < 0.25, "no joint teleports (7.5 m/s)"
    assert step[:2].max() < 0.02 and step[-2:].max() < 0.02, "clips begin and end at rest"
    # Standing relaxed at both ends: wrists below the shoulders, heads up.
    for f in (0, -1):
        for a in range(2):
            assert J[f, a, JOINT["l_wrist"], 2] < J[f, a, JOINT["l_shoulder"], 2] - 0.3
            assert J[f, a, JOINT["r_wrist"], 2] < J[f, a, JOINT["r_shoulder"], 2] - 0.3
            assert J[f, a, JOINT["head"], 2] > 1.3


@pytest.mark.parametrize("label", DUET_LABELS)
def test_generation_is_deterministic_and_varies_with_the_seed(label):
    again = INTERACTIONS[("duet", label)].generate(np.random.default_rng(SEEDS[0]))
    first = _clip(label, SEEDS[0])
    np.testing.assert_array_equal(again.joints, first.joints)
    assert again.meta == first.meta and again.contacts == first.contacts
    other = _clip(label, SEEDS[1])
    assert first.meta["speed"] != other.meta["speed"]
    assert first.meta["distance_m"] != other.meta["distance_m"]
    assert first.joints.shape != other.joints.shape or \
        not np.allclose(first.joints, other.joints, atol=1e-3)


def test_handedness_and_lead_vary_across_seeds_and_name_the_parts():
    recs = [INTERACTIONS[("duet", "handshake")].generate(np.random.default_rng(s))
            for s in range(12)]
    assert {r.meta["handedness"] for r in recs} == {"left", "right"}
    assert {r.meta["lead"] for r in recs} == {"A", "B"}
    for r in recs:
        side = r.meta["handedness"]
        assert all(c.part_a == f"{side}_palm" and c.part_b == f"{side}_palm" for c in r.contacts)
        assert r.contacts[0].agent_a == r.meta["lead"]
        # Agent A always stands at -X in a facing scene, whoever leads.
        assert r.joints[0, 0, 0, 0] < r.joints[0, 1, 0, 0]


def test_record_round_trips_through_a_file(tmp_path):
    rec = _clip("two_handed_handshake", 0)
    back = MotionRecord.load(rec.save(tmp_path / "clip.npz"))
    np.testing.assert_array_equal(back.joints, rec.joints)
    assert back.contacts == rec.contacts and back.meta == rec.meta


def test_min_separation_matches_brute_force():
    rng = np.random.default_rng(3)
    joints = rng.normal(size=(7, 2, 62, 3)) * 0.3
    joints[:, 1] += [0.2, 0.0, 0.0]
    brute = np.linalg.norm(joints[:, 0, :, None] - joints[:, 1, None, :], axis=-1).min()
    assert duet.min_separation_m(joints) == pytest.approx(brute, abs=1e-5)
    # A clip whose closest approach is the same over many frames (a held grip).
    held = np.repeat(joints[:1], 50, axis=0)
    first = np.linalg.norm(joints[0, 0, :, None] - joints[0, 1, None, :], axis=-1).min()
    assert duet.min_separation_m(held, within_m=1.0) == pytest.approx(first, abs=1e-5)
    # Farther apart than within_m, the answer is within_m itself (a lower bound).
    apart = joints.copy()
    apart[:, 1] += [5.0, 0.0, 0.0]
    assert duet.min_separation_m(apart) == 0.05


# --------------------------------------------------------------------------- body kinematics


def test_two_bone_ik_keeps_lengths_and_reaches_or_clamps():
    rng = np.random.default_rng(0)
    root = rng.normal(size=(50, 3))
    target = root + rng.normal(size=(50, 3)) * 0.4
    mid, end = two_bone_ik(root, target, 0.3, 0.25, np.array([0.0, 0.0, -1.0]))
    assert np.allclose(np.linalg.norm(mid - root, axis=1), 0.3)
    assert np.allclose(np.linalg.norm(end - mid, axis=1), 0.25)
    reach = np.linalg.norm(target - root, axis=1) < 0.55
    assert np.allclose(end[reach], target[reach])
    assert np.allclose(np.linalg.norm(end[~reach] - root[~reach], axis=1), 0.55, atol=1e-6)
    # The middle joint bends toward the hint.
    ahead = np.array([[0.0, 0.0, 0.0]]), np.array([[0.4, 0.0, 0.0]])
    mid, _ = two_bone_ik(*ahead, 0.3, 0.25, np.array([0.0, 0.0, -1.0]))
    assert mid[0, 2] < -0.05


def test_set_arm_swings_the_elbow_to_keep_the_wrist_in_range():
    # A palm pushed forward at chest height with the fingers up and the elbow hinted out to the
    # side (forearm level and sideways): the wrist would bend ~90 deg. Swinging the elbow down
    # about the shoulder-wrist line brings it into range; hand and wrist stay where asked.
    T = 60
    t = np.arange(T) / 30.0
    props = Proportions()
    kwargs = dict(fingers_dir=np.array([0.0, 0.0, 1.0]), palm_normal=np.array([1.0, 0.0, 0.0]),
                  orient_weight=ramp(t, 0.2, 1.0))
    poses = {}
    for keep in (False, True):
        pose = BodyPose(props, np.zeros((T, 2)), 0.0)
        target = pose.shoulder("right") + [0.3, -0.25, -0.15]
        pose.set_arm("right", target, elbow_hint=np.array([0.0, -1.0, 0.0]),
                     wrist_range=keep, **kwargs)
        poses[keep] = pose
        J = pose.joints()
        assert np.allclose(J[:, JOINT["r_wrist"]], target)
        assert np.allclose(bone_lengths(J), bone_lengths(props.rest_joints())[None], atol=1e-9)

    def bend(pose):
        elbow, wrist, rot, _ = pose._arms["right"]
        return wrist_bend(unit(wrist - elbow), rot, "right")

    flex_free, _ = bend(poses[False])
    flex, dev = bend(poses[True])
    assert np.abs(flex_free).max() > WRIST_FLEX_MAX + 0.2
    assert np.abs(flex).max() <= WRIST_FLEX_MAX + 0.02
    assert np.abs(dev).max() <= WRIST_DEVIATION_MAX + 0.02
    # Once fully turned, the hand is turned as asked either way; the elbow moves smoothly.
    held = t >= 1.0
    assert np.allclose(poses[True]._arms["right"][2][held], poses[False]._arms["right"][2][held],
                       atol=1e-9)
    elbow = poses[True].joint("r_elbow")
    assert np.linalg.norm(np.diff(elbow, axis=0), axis=1).max() < 0.03


def test_generated_duets_keep_wrists_nearer_a_humans_range():
    # Measured on the joints as the gate benchmark's clips are: the pushes asked for 107 deg
    # of wrist extension before the elbow swivel and the tipped fingers.
    for label in ("push", "shove_away", "handshake", "wave_to_each_other"):
        J = _clip(label, 3).joints
        for a in range(J.shape[1]):
            for s in "lr":
                f = unit(J[:, a, JOINT[f"{s}_wrist"]] - J[:, a, JOINT[f"{s}_elbow"]])
                h = unit(J[:, a, JOINT[f"{s}_middle_mcp"]] - J[:, a, JOINT[f"{s}_wrist"]])
                bent = np.degrees(np.arccos(np.clip((f * h).sum(-1), -1.0, 1.0)))
                assert bent.max() < 90.0, (label, a, s)


def test_feet_stay_planted_while_standing_and_alternate_while_walking():
    T = 150
    t = np.arange(T) / 30.0
    still = plan_feet(np.zeros((T, 2)), np.zeros(T))
    assert still.steps == 0 and np.ptp(still.ankle_m, axis=0).max() == 0.0
    root = np.stack([2.0 * travel(t, 0.5, 4.0), np.zeros(T)], -1)
    walk = plan_feet(root, np.zeros(T))
    assert walk.steps >= 4
    assert not ((walk.swing > 0.05).all(axis=1)).any(), "one foot is always down"
    assert (walk.swing[:, 0] > 0.5).any() and (walk.swing[:, 1] > 0.5).any()
    # Both feet end beside the root, under the hips.
    assert np.allclose(walk.ankle_m[-1, :, 0], root[-1, 0] - 0.01, atol=0.02)
    turn = plan_feet(np.zeros((T, 2)), 2 * np.pi * ramp(t, 0.5, 3.5))
    assert turn.steps >= 2


def test_body_pose_keeps_bones_and_plants_feet_under_any_curves():
    T = 120
    t = np.arange(T) / 30.0
    rng = np.random.default_rng(5)
    props = Proportions(1.07, 0.95)
    root = np.stack([0.8 * travel(t, 0.3, 2.5), 0.2 * np.sin(t)], -1)
    pose = BodyPose(props, root, 0.4 * np.sin(t), pelvis_pitch=0.4 * ramp(t, 2.5, 3.5),
                    spine_bend=0.3 * np.sin(2 * t), spine_twist=0.3 * np.cos(t),
                    spine_side=0.1 * np.sin(3 * t), head_pitch=0.2, head_yaw=-0.3)
    target = pose.shoulder("right") + rng.normal(size=(T, 3)) * 0.1 + [0.3, 0.0, 0.0]
    pose.set_arm("right", target, fingers=keyframes(t, [0, 2, 4], np.stack(
        [np.zeros((5, 4)), np.ones((5, 4)), np.zeros((5, 4))])))
    J = pose.joints()
    assert np.allclose(bone_lengths(J), bone_lengths(props.rest_joints())[None], atol=1e-9)
    lowest = J[:, [JOINT["l_foot"], JOINT["r_foot"]], 2].min(axis=1)
    assert np.allclose(lowest, FOOT_REST_HEIGHT * props.body_scale, atol=1e-6)
    reachable = np.linalg.norm(target - pose.shoulder("right"), axis=1) < 0.99 * props.arm_m
    assert np.allclose(J[reachable, JOINT["r_wrist"]], target[reachable])


def test_travel_and_keyframes_are_monotone_and_hit_their_ends():
    t = np.linspace(0, 3, 91)
    p = travel(t, 0.5, 2.5, 0.4)
    assert p[0] == 0.0 and p[-1] == pytest.approx(1.0) and (np.diff(p) >= -1e-12).all()
    k = keyframes(t, [0.0, 1.0, 2.0], [0.0, 2.0, 1.0])
    assert k[0] == 0.0 and k[30] == pytest.approx(2.0) and k[60] == pytest.approx(1.0)
