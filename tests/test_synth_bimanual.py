"""The procedural two-hand interactions: every label's clips keep the motion contract, the hand
skeleton, the contacts they claim, clearance between the hands, reach, and show the gesture
their label names."""

import json

import numpy as np
import pytest

from dyad.motion import MotionRecord
from dyad.skeletons import HAND21_NAMES, get_skeleton
from dyad.training.synth import bimanual
from dyad.training.synth.hand_pose import hand_rotation
from dyad.training.synth.types import BIMANUAL_LABELS, interactions

TYPES = {t.label: t for t in interactions("bimanual")}
SEEDS = (0, 1, 2, 3)
META_KEYS = ("label", "mode", "speed", "amplitude", "repetitions", "offset_s", "distance_m",
             "handedness", "lead", "body_scale", "hand_scale", "phases")
CONTACT_PARTS = {
    "clap": {("palm", "palm")}, "rub_palms": {("palm", "palm")},
    "prayer_hands": {("palm", "palm")}, "interlock_fingers": {("fingers", "fingers")},
    "tap_fingertips": {("fingertips", "fingertips")}, "steeple": {("fingertips", "fingertips")},
    "tap_index_fingers": {("index_tip", "index_tip")}, "knock_fists": {("hand", "hand")},
    "cup_hands": {("hand", "hand")}, "pass_object": {("hand", "hand")},
    "heart_shape": {("index_tip", "index_tip"), ("thumb_tip", "thumb_tip")},
    "finger_frame": {("thumb_tip", "index_tip"), ("index_tip", "thumb_tip")},
    "grab_wrist": {("palm", "fingers"), ("fingers", "palm")},
}
TAPPING = ("clap", "tap_fingertips", "tap_index_fingers", "knock_fists")
FINGER_CHAINS = {"thumb": (1, 2, 3, 4), "index": (5, 6, 7, 8), "middle": (9, 10, 11, 12),
                 "ring": (13, 14, 15, 16), "pinky": (17, 18, 19, 20)}
_CLIPS: dict[tuple[str, int], MotionRecord] = {}


def clip(label: str, seed: int) -> MotionRecord:
    key = (label, seed)
    if key not in _CLIPS:
        _CLIPS[key] = TYPES[label].generate(np.random.default_rng(seed))
    return _CLIPS[key]


def joints64(record: MotionRecord) -> np.ndarray:
    return record.joints.astype(np.float64)


def straightness(hand: np.ndarray, finger: str) -> float:
    """Base-to-tip distance over the chain's length: 1 for a straight finger, ~0.5 curled."""
    chain = hand[list(FINGER_CHAINS[finger])]
    length = np.linalg.norm(np.diff(chain, axis=0), axis=-1).sum()
    return float(np.linalg.norm(chain[-1] - chain[0]) / length)


def phase(record: MotionRecord, name: str) -> dict:
    return next(p for p in record.meta["phases"] if p["name"] == name)


def back_normal(hand: np.ndarray, side: str) -> np.ndarray:
    """Unit normal out of the back of the hand from three joints, using the side's chirality."""
    n = np.cross(hand[5] - hand[17], hand[9] - hand[0])  # for a right hand: out of the palm
    n = -n if side == "right" else n
    return n / np.linalg.norm(n)


def test_every_label_has_one_generator_with_the_declared_contact_flag():
    assert list(TYPES) == list(BIMANUAL_LABELS)
    assert {lab for lab, t in TYPES.items() if t.has_contact} == set(CONTACT_PARTS)


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_clips_keep_the_contract_and_the_meta_keys(label):
    for seed in SEEDS:
        rec = clip(label, seed)
        assert rec.skeleton == "hand21" and rec.agents == ("left", "right") and rec.fps == 30.0
        assert rec.joints.dtype == np.float32 and rec.joints.shape[1:] == (2, 21, 3)
        assert 2.0 <= rec.duration_s <= 6.0 + 1e-9
        assert np.isfinite(rec.joints).all()
        assert rec.label == label and rec.text == "" and rec.captions == []
        meta = rec.meta
        assert all(k in meta for k in META_KEYS), [k for k in META_KEYS if k not in meta]
        assert meta["label"] == label and meta["mode"] == "bimanual"
        assert meta["handedness"] in ("left", "right") and meta["lead"] in ("left", "right")
        s = meta["hand_scale"]
        assert len(s) == 2 and s[0] == s[1] and 0.85 <= s[0] <= 1.15
        assert 0.3 < meta["speed"] < 3.0 and meta["amplitude"] > 0 and meta["repetitions"] >= 1
        assert meta["offset_s"] >= 0.0 and meta["distance_m"] > 0.0
        starts = [p["start"] for p in meta["phases"]]
        assert starts == sorted(starts) and len(starts) >= 3
        assert all(0 <= p["start"] < p["end"] <= rec.num_frames for p in meta["phases"])
        json.dumps(meta)  # plain JSON types only


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_generation_is_deterministic_and_seeds_differ(label):
    a = TYPES[label].generate(np.random.default_rng(7))
    b = TYPES[label].generate(np.random.default_rng(7))
    assert np.array_equal(a.joints, b.joints) and a.meta == b.meta and a.contacts == b.contacts
    c = clip(label, 0)
    assert a.joints.shape != c.joints.shape or not np.allclose(a.joints, c.joints)


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_bones_keep_the_scaled_rest_lengths_in_every_frame(label):
    skel = get_skeleton("hand21")
    for seed in SEEDS[:2]:
        rec = clip(label, seed)
        lengths = skel.bone_lengths(joints64(rec))  # (T, 2, 20)
        expected = rec.meta["hand_scale"][0] * skel.bone_lengths()
        assert np.abs(lengths - expected).max() < 2e-5


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_hands_never_interpenetrate(label):
    for seed in SEEDS:
        j = joints64(clip(label, seed))
        d = np.linalg.norm(j[:, 0, :, None] - j[:, 1, None, :], axis=-1).min(axis=(1, 2))
        assert d.min() >= bimanual.MIN_CLEARANCE_M, f"seed {seed} frame {d.argmin()}: {d.min()}"


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_contacts_are_present_exactly_when_implied_and_measured(label):
    for seed in SEEDS:
        rec = clip(label, seed)
        own = [c for c in rec.contacts if c.agent_a == c.agent_b]
        if label in ("pinch", "ok_sign"):
            # A hand's own thumb and index tips: once per pinch, held through the OK sign.
            side = rec.meta["handedness"]
            assert own and {(c.agent_a, c.part_a, c.part_b) for c in own} == \
                {(side, "thumb_tip", "index_tip")}
            assert len(own) == (rec.meta["repetitions"] if label == "pinch" else 1)
            for c in own:
                assert 0 <= c.start < c.end <= rec.num_frames
                d = rec.contact_distance(c)[c.start:c.end]  # tip joints, ~1 cm when touching
                assert d.min() <= 0.015 and (d <= d.min() + 0.012 + 1e-9).all(), c
        else:
            assert own == [], f"seed {seed}: {own}"
        if not TYPES[label].has_contact:
            assert rec.contacts == own
            continue
        assert rec.contacts, f"seed {seed}: no contact"
        pairs = {(c.part_a, c.part_b) for c in rec.contacts}
        assert pairs <= CONTACT_PARTS[label] and (label == "grab_wrist" or
                                                 pairs == CONTACT_PARTS[label])
        for c in rec.contacts:
            assert (c.agent_a, c.agent_b) == ("left", "right")
            assert 0 <= c.start < c.end <= rec.num_frames
            near = rec.contact_distance(c)[c.start:c.end] <= bimanual.CONTACT_M
            assert near.mean() >= 0.8, f"seed {seed} {c}"


@pytest.mark.parametrize("label", TAPPING)
def test_tapping_makes_one_contact_per_repetition_and_parts_separate_between(label):
    for seed in SEEDS:
        rec = clip(label, seed)
        contacts = sorted(rec.contacts, key=lambda c: c.start)
        assert len(contacts) == rec.meta["repetitions"]
        for a, b in zip(contacts, contacts[1:]):
            assert a.end <= b.start
            gap = rec.contact_distance(a)[a.end:b.start + 1]
            assert gap.max() > rec.contact_distance(a)[a.start:a.end].min() + 0.015


def test_repeated_claps_meet_at_a_realistic_speed():
    for seed in range(8):
        rec = clip("clap", seed) if seed < len(SEEDS) else TYPES["clap"].generate(
            np.random.default_rng(seed))
        j = joints64(rec)
        palm = [0, 5, 9, 13, 17]
        centre = j[:, :, palm].mean(axis=2)  # (T, 2, 3)
        gap = np.linalg.norm(centre[:, 0] - centre[:, 1], axis=-1)
        for c in rec.contacts:
            closing_m_s = (gap[c.start - 1] - gap[c.start]) * rec.fps
            assert 0.0 <= closing_m_s < 2.0


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_wrists_stay_within_reach_of_the_shoulders(label):
    for seed in SEEDS:
        j = joints64(clip(label, seed))
        for h, side in enumerate(("left", "right")):
            dist = np.linalg.norm(j[:, h, 0] - bimanual.SHOULDER_M[side], axis=-1)
            assert dist.max() <= bimanual.REACH_M
        # In front of the chest (clear of it), left hand on the left.
        assert (j[:, :, 0, 0] > 0.15).all() and (j[:, :, 0, 2] > 1.0).all()
        assert j[:, 0, 0, 1].mean() > j[:, 1, 0, 1].mean()


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_a_right_hand_is_a_right_hand(label):
    # (index_mcp - pinky_mcp) x (middle_mcp - wrist) points out of a right palm, toward the
    # thumb's CMC, which sits palm-side of the knuckles; a left hand is the mirror image.
    for seed in SEEDS[:2]:
        j = joints64(clip(label, seed))
        for h, sign in ((0, -1.0), (1, 1.0)):
            hand = j[:, h]
            n = np.cross(hand[:, 5] - hand[:, 17], hand[:, 9] - hand[:, 0])
            assert (sign * (n * (hand[:, 1] - hand[:, 0])).sum(-1) > 0).all()


@pytest.mark.parametrize("label", BIMANUAL_LABELS)
def test_clips_start_and_end_still_in_a_relaxed_pose(label):
    for seed in SEEDS[:2]:
        j = joints64(clip(label, seed))
        for frames in (j[:3], j[-3:]):
            speed = np.linalg.norm(np.diff(frames, axis=0), axis=-1).max() * 30.0
            assert speed < 0.1
            wrists = frames[-1, :, 0]
            assert (wrists[:, 2] < 1.2).all() and (np.abs(wrists[:, 1]) > 0.12).all()
        peak = np.linalg.norm(np.diff(j, axis=0), axis=-1).max() * 30.0
        assert peak < 3.0  # no teleporting


def test_clapping_palms_face_each_other_flat_with_thumbs_up():
    for seed in SEEDS:
        rec = clip("clap", seed)
        j = joints64(rec)
        for c in rec.contacts:
            f = (c.start + c.end - 1) // 2
            left, right = j[f, 0], j[f, 1]
            towards_left = left[[0, 5, 9, 13, 17]].mean(0) - right[[0, 5, 9, 13, 17]].mean(0)
            towards_left /= np.linalg.norm(towards_left)
            assert -back_normal(right, "right") @ towards_left > 0.9
            assert -back_normal(left, "left") @ -towards_left > 0.9
            for hand in (left, right):
                assert all(straightness(hand, f) > 0.97 for f in ("index", "middle", "ring"))
                assert hand[4, 2] > hand[20, 2]  # thumb above the little finger


# Finger states at the middle of the gesture: which fingers of the acting hand are straight.
SIGNS = {
    "point": {"index"}, "peace_sign": {"index", "middle"}, "rock_sign": {"index", "pinky"},
    "shaka": {"thumb", "pinky"}, "thumbs_up": {"thumb"},
    "ok_sign": {"middle", "ring", "pinky"},
}


@pytest.mark.parametrize("label", sorted(SIGNS))
def test_signs_show_the_right_fingers_with_the_acting_hand(label):
    for seed in SEEDS:
        rec = clip(label, seed)
        side = rec.meta["handedness"]
        h = 0 if side == "left" else 1
        p = rec.meta["phases"][1]
        hand = joints64(rec)[(p["start"] + p["end"]) // 2, h]
        straight = {f for f in FINGER_CHAINS if straightness(hand, f) > (0.97 if f == "thumb"
                                                                          else 0.95)}
        if label == "ok_sign":  # the thumb runs straight to the index tip: judge the ring
            straight.discard("thumb")
        assert straight == SIGNS[label], (seed, straight)
        if label == "ok_sign":
            assert np.linalg.norm(hand[4] - hand[8]) < 0.03
        if label == "thumbs_up":
            thumb = hand[4] - hand[2]
            assert thumb[2] / np.linalg.norm(thumb) > 0.7
        other = joints64(rec)[:, 1 - h, 0]
        assert np.ptp(other, axis=0).max() < 0.03  # the other hand rests
        assert np.linalg.norm(joints64(rec)[:, h, 0] - joints64(rec)[0, h, 0], axis=-1).max() > 0.06


def test_counting_shows_one_more_finger_each_step_up_to_the_count():
    for seed in range(6):
        rec = TYPES["count_on_fingers"].generate(np.random.default_rng(seed))
        h = 0 if rec.meta["handedness"] == "left" else 1
        p = phase(rec, "count")
        hand = joints64(rec)[p["end"] - 2, h]
        shown = sum(straightness(hand, f) > 0.95 for f in ("index", "middle", "ring", "pinky"))
        shown += rec.meta["count"] == 5 and straightness(hand, "thumb") > 0.97
        assert shown == rec.meta["count"] == rec.meta["repetitions"]


def test_pinch_closes_thumb_and_index_and_fists_close_both_hands():
    for seed in SEEDS:
        rec = clip("pinch", seed)
        h = 0 if rec.meta["handedness"] == "left" else 1
        hand = joints64(rec)[phase(rec, "pinch")["end"] - 2, h]
        assert np.linalg.norm(hand[4] - hand[8]) < 0.025
        rec = clip("make_fists", seed)
        for hand in joints64(rec)[phase(rec, "close")["end"] - 2]:
            assert max(straightness(hand, f) for f in ("index", "middle", "ring", "pinky")) < 0.6


def test_heart_and_frame_meet_where_the_shapes_need():
    for seed in SEEDS:
        rec = clip("heart_shape", seed)
        f = (rec.contacts[0].start + rec.contacts[0].end) // 2
        j = joints64(rec)[f]
        assert (j[:, 8, 2] > j[:, 4, 2] + 0.04).all()  # index tips above the thumb tips
        assert abs(j[0, 8, 1] - j[1, 8, 1]) < 0.03
        rec = clip("finger_frame", seed)
        f = (rec.contacts[0].start + rec.contacts[0].end) // 2
        j = joints64(rec)[f]
        # Right index points up, left index points down: the two L shapes close a frame.
        assert (j[1, 8] - j[1, 5])[2] > 0.05 and (j[0, 8] - j[0, 5])[2] < -0.05


def test_wave_swings_the_hand_side_to_side():
    for seed in SEEDS:
        rec = clip("wave", seed)
        h = 0 if rec.meta["handedness"] == "left" else 1
        p = phase(rec, "wave")
        j = joints64(rec)[p["start"]:p["end"], h]
        lateral = j[:, 12, 1] - j[:, 0, 1]
        assert np.ptp(lateral) > 0.05
        turns = np.sum(np.diff(np.sign(np.diff(lateral))) != 0)
        assert turns >= 2 * rec.meta["repetitions"] - 2


def test_grabbing_hand_wraps_the_other_forearm_from_above():
    for seed in SEEDS:
        rec = clip("grab_wrist", seed)
        act = rec.meta["handedness"]
        a, b = (1, 0) if act == "right" else (0, 1)
        c = rec.contacts[0]
        assert {c.part_a, c.part_b} == {"fingers", "palm"}
        assert (c.part_a == "fingers") == (act == "left")
        j = joints64(rec)[(c.start + c.end) // 2]
        assert j[a, [0, 5, 9, 13, 17], 2].mean() > j[b, 0, 2]  # grabbing palm above the wrist
        assert max(straightness(j[a], f) for f in ("index", "middle", "ring")) < 0.75


def test_variation_spans_handedness_tempo_size_and_repetitions():
    for label in ("clap", "point", "interlock_fingers", "piano_fingers"):
        recs = [TYPES[label].generate(np.random.default_rng(s)) for s in range(12)]
        assert {r.meta["handedness"] for r in recs} == {"left", "right"}
        for key in ("speed", "amplitude", "distance_m"):
            assert np.std([r.meta[key] for r in recs]) > 0.01 * np.mean([r.meta[key] for r in recs])
        assert np.std([r.meta["hand_scale"][0] for r in recs]) > 0.03
        assert len({r.num_frames for r in recs}) > 4
    claps = [TYPES["clap"].generate(np.random.default_rng(s)).meta["repetitions"]
             for s in range(20)]
    assert min(claps) == 1 and max(claps) == 5


def test_rotation_angles_mirror_between_hands_and_match_hand_rotation():
    rng = np.random.default_rng(0)
    mirror = np.diag([1.0, -1.0, 1.0])
    for angles in rng.uniform(-2.0, 2.0, (20, 4)):
        right = bimanual.hand_rotation_from_angles(angles, "right")
        left = bimanual.hand_rotation_from_angles(angles, "left")
        assert np.allclose(left, mirror @ right @ mirror)
        assert np.allclose(right.T @ right, np.eye(3)) and np.isclose(np.linalg.det(right), 1.0)
        again = hand_rotation(right[:, 0], -right[:, 2])
        assert np.allclose(again, right)
        for side, rot in (("right", right), ("left", left)):
            back = bimanual.angles_from_rotation(rot, side, near_rad=angles)
            assert np.allclose(bimanual.hand_rotation_from_angles(back, side), rot)


def test_clip_round_trips_through_a_motion_file(tmp_path):
    rec = clip("heart_shape", 0)
    loaded = MotionRecord.load(rec.save(tmp_path / "heart.npz"))
    assert np.array_equal(loaded.joints, rec.joints) and loaded.contacts == rec.contacts
    assert loaded.meta == rec.meta and loaded.label == "heart_shape"
    assert HAND21_NAMES[0] == "wrist"
