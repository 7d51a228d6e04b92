"""Kinematic events, the split phrasebook and captions, on stand-in clips these tests build.

The stand-ins are small generators made from ``dyad.skeletons`` rest poses and the synthesis
hand poses: a duet in which two people walk up, close their right hands on each other and part
again, and a bimanual clap. ``standin_registry`` registers them (test-locally, restored after
the test) under declared labels so the dataset pipeline can run without the real generators.
"""

from __future__ import annotations

import importlib
import re
import sys
import types as pytypes

import numpy as np
import pytest

from dyad.motion import ContactInterval, MotionRecord
from dyad.skeletons import BODY22_HANDS_REST, get_skeleton
from dyad.training.synth.captions import CAPTION_LEVELS, caption_clip
from dyad.training.synth.events import SPEEDS, extract_events, finger_curl
from dyad.training.synth.hand_pose import POSES, blend, hand_points, hand_rotation, place_hand
from dyad.training.synth.phrasebook import (
    BIMANUAL_PHRASES, COMMON_WORDS, DUET_PHRASES, WORDS, book, book_of_split, vocabulary,
    words_of, words_only_in_test_book,
)
from dyad.training.synth.types import BIMANUAL_LABELS, DUET_LABELS

SKEL = get_skeleton("body22+hands")
R_HAND = [SKEL.index("r_wrist")] + list(range(42, 62))


def _ramp(t: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.clip((t - a) / max(b - a, 1e-9), 0.0, 1.0)


def standin_duet(rng: np.random.Generator, label: str = "handshake") -> MotionRecord:
    """A and B walk from 2 m to 0.95 m apart, join right hands (closing them into a grip),
    hold for a second, let go and walk back. Contact frames follow from the design."""
    n = int(rng.integers(90, 110))
    t = np.arange(n, dtype=np.float64)
    reach = _ramp(t, 0.25 * n, 0.35 * n) * (1 - _ramp(t, 0.65 * n, 0.75 * n))
    dist = 2.0 - 1.05 * _ramp(t, 0.0, 0.3 * n) * (1 - _ramp(t, 0.7 * n, n - 1))
    joints = np.zeros((n, 2, 62, 3))
    face_back = np.diag([-1.0, -1.0, 1.0])
    for k, (sign, rot) in enumerate(((-1.0, np.eye(3)), (1.0, face_back))):
        joints[:, k] = (BODY22_HANDS_REST @ rot.T)[None]
        joints[:, k, :, 0] += (sign * dist / 2)[:, None]
    meet = np.array([0.0, 0.0, 1.0])
    for k, forward in enumerate((1.0, -1.0)):
        wrist0 = joints[:, k, SKEL.index("r_wrist")].copy()
        target = meet - np.array([0.09 * forward, 0.0, 0.0])
        wrist = (1 - reach)[:, None] * wrist0 + reach[:, None] * target
        pose = blend(POSES["flat"], POSES["grip"], _ramp(reach, 0.7, 1.0))
        rot = hand_rotation(np.array([forward, 0.0, 0.0]), np.array([0.0, forward, 0.0]))
        joints[:, k, R_HAND] = place_hand(hand_points(pose, "right"), rot, wrist)
        joints[:, k, SKEL.index("r_elbow")] = 0.5 * (joints[:, k, SKEL.index("r_shoulder")]
                                                     + wrist) - np.array([0.0, 0.0, 0.1])
    held = np.flatnonzero(reach > 0.999)
    contacts = [ContactInterval("A", "right_palm", "B", "right_palm", int(held[0]),
                                int(held[-1]) + 1)]
    meta = dict(label=label, mode="duet", speed=1.0, amplitude=1.0, repetitions=1,
                offset_s=0.0, distance_m=0.95, handedness="right", lead="A",
                body_scale=[1.0, 1.0], hand_scale=[1.0, 1.0],
                phases=[{"name": "approach", "start": 0, "end": int(0.3 * n)}])
    return MotionRecord(joints=joints, skeleton="body22+hands", agents=("A", "B"), label=label,
                        contacts=contacts, meta=meta)


def standin_clap(rng: np.random.Generator, label: str = "clap") -> MotionRecord:
    """Palms facing each other clap ``reps`` times (the gap closes to 2.6 cm each time)."""
    reps = int(rng.integers(2, 5))
    n = 24 * reps + 20
    t = np.arange(n, dtype=np.float64)
    phase = _ramp(t, 10, n - 10) * reps
    gap = 0.026 + 0.2 * (0.5 + 0.5 * np.cos(2 * np.pi * phase))
    joints = np.zeros((n, 2, 21, 3))
    for k, (side, sign) in enumerate((("left", 1.0), ("right", -1.0))):
        rot = hand_rotation(np.array([1.0, 0.0, 0.3]), np.array([0.0, -sign, 0.0]))
        wrist = np.stack([np.full(n, 0.3), sign * gap / 2, np.full(n, 1.1)], axis=-1)
        joints[:, k] = place_hand(hand_points(POSES["flat"], side), rot, wrist)
    closed = np.concatenate([[0], (gap < 0.03).astype(int), [0]])
    starts = np.flatnonzero(np.diff(closed) == 1)
    ends = np.flatnonzero(np.diff(closed) == -1)
    contacts = [ContactInterval("left", "palm", "right", "palm", int(s), int(e))
                for s, e in zip(starts, ends)]
    meta = dict(label=label, mode="bimanual", speed=1.0, amplitude=1.0, repetitions=reps,
                offset_s=0.0, distance_m=0.226, handedness="right", lead="right",
                body_scale=[1.0], hand_scale=[1.0, 1.0], phases=[])
    return MotionRecord(joints=joints, skeleton="hand21", agents=("left", "right"), label=label,
                        contacts=contacts, meta=meta)


def standin_fist(rng: np.random.Generator) -> MotionRecord:
    """The right hand closes from flat to a fist at frame ~30, then opens to pointing."""
    n = 90
    t = np.arange(n, dtype=np.float64)
    close = _ramp(t, 25, 35)
    point = _ramp(t, 60, 70)
    pose = blend(blend(POSES["flat"], POSES["fist"], close), POSES["point"], point)
    joints = np.zeros((n, 2, 21, 3))
    for k, side in enumerate(("left", "right")):
        rot = hand_rotation(np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0]))
        wrist = np.array([0.3, 0.15 if side == "left" else -0.15, 1.0])
        p = pose if side == "right" else POSES["relaxed"]
        joints[:, k] = place_hand(hand_points(p, side), rot, wrist)
    return MotionRecord(joints=joints, skeleton="hand21", agents=("left", "right"),
                        label="point", meta={"lead": "right", "handedness": "right"})


def _relabel(fn, label):
    def generate(rng):
        return fn(rng, label=label)
    return generate


DUET_STANDIN_LABELS = ("handshake", "high_five", "push", "hug", "pass_object", "fist_bump")
BIMANUAL_STANDIN_LABELS = ("clap", "rub_palms", "pinch", "grab_wrist", "wave", "steeple")


@pytest.fixture
def standin_registry(monkeypatch):
    """Replace the interaction registry by the stand-ins for the duration of one test."""
    from dyad.training.synth import types as synth_types

    for mode in ("duet", "bimanual"):
        name = f"dyad.training.synth.{mode}"
        try:  # a real module registers into the real registry before we swap it out
            importlib.import_module(name)
        except Exception:  # absent or mid-edit: an empty stand-in module keeps imports quiet
            monkeypatch.setitem(sys.modules, name, pytypes.ModuleType(name))
    fake = {}
    for label in DUET_STANDIN_LABELS:
        fake[("duet", label)] = synth_types.InteractionType(
            label, "duet", _relabel(standin_duet, label), True)
    for label in BIMANUAL_STANDIN_LABELS:
        fake[("bimanual", label)] = synth_types.InteractionType(
            label, "bimanual", _relabel(standin_clap, label), True)
    monkeypatch.setattr(synth_types, "INTERACTIONS", fake)
    return fake


def caption_words(texts) -> set[str]:
    out: set[str] = set()
    for t in texts:
        out |= words_of(t)
    return out


# ---------------------------------------------------------------------------------------------
# events


def test_duet_events_follow_the_joints_in_order():
    rec = standin_duet(np.random.default_rng(0))
    ev = extract_events(rec)
    kinds = [e.kind for e in ev.events]
    declared = rec.contacts[0]
    on = next(e for e in ev.events if e.kind == "contact_on")
    off = next(e for e in ev.events if e.kind == "contact_off")
    assert (on.agent, on.part, on.other_agent, on.other_part) == ("A", "right_palm", "B",
                                                                  "right_palm")
    assert abs(on.start - declared.start) <= 3 and abs(off.start - declared.end) <= 3
    approach = ev.of_kind("approach")[0]
    retreat = ev.of_kind("retreat")[-1]
    assert approach.start < on.start < off.start < retreat.end
    assert approach.value < -0.8 and retreat.value > 0.8  # metres of distance change
    closes = [e for e in ev.events if e.kind == "close_hand"]
    assert {(e.agent, e.part) for e in closes} == {("A", "right_hand"), ("B", "right_hand")}
    assert kinds.index("open_hand") > kinds.index("close_hand")
    assert ev.speed in SPEEDS and ev.lead == "both"
    assert ev.distance_start_m == pytest.approx(2.0, abs=0.02)
    assert ev.distance_min_m == pytest.approx(0.95, abs=0.02)
    shapes = {(h.agent, h.side): h.state for h in ev.hand_shapes}
    assert shapes[("A", "right")] == "closed" and shapes[("A", "left")] == "open"


def test_contacts_come_from_joints_not_from_the_declared_frames():
    rec = standin_duet(np.random.default_rng(1))
    declared = rec.contacts[0]
    # Without any declared contact the scan of hand pairs still finds the right hands touch.
    rec.contacts = []
    scanned = extract_events(rec).contacts
    assert len(scanned) == 1 and not scanned[0].declared
    assert {scanned[0].part_a, scanned[0].part_b} == {"right_hand"}
    assert abs(scanned[0].start - declared.start) <= 4
    # A declared contact the joints do not show (left palms never meet) produces no event.
    rec.contacts = [ContactInterval("A", "left_palm", "B", "left_palm", 10, 50)]
    ev = extract_events(rec)
    assert not any(c.declared for c in ev.contacts)


def test_clap_repetitions_equal_the_touches():
    for seed in range(3):
        rec = standin_clap(np.random.default_rng(seed))
        ev = extract_events(rec)
        assert len(ev.of_kind("contact_on")) == rec.meta["repetitions"] == len(rec.contacts)
        assert ev.repetitions == rec.meta["repetitions"]
        assert ev.cycles["distance"] == rec.meta["repetitions"]
        for det, dec in zip(ev.contacts, rec.contacts):
            assert abs(det.start - dec.start) <= 2


def test_finger_flexion_events_and_hand_shape():
    rec = standin_fist(np.random.default_rng(0))
    ev = extract_events(rec)
    right = [e for e in ev.events if e.agent == "right"]
    close = [e for e in right if e.kind == "close_hand"]
    assert len(close) == 1 and 24 <= close[0].start <= 36
    # Pointing afterwards straightens the index alone: a finger event, not a whole-hand one.
    extend = [e for e in right if e.kind == "finger_extend"]
    assert [e.part for e in extend] == ["hand:index"] and extend[0].start >= 58
    assert not [e for e in right if e.kind == "open_hand"]
    assert not [e for e in ev.events if e.agent == "left" and "hand" in e.kind]
    curl = finger_curl(rec.joints[:, 1].astype(np.float64))
    assert curl[0, 1:].mean() < 0.5 and curl[45, 1:].mean() > 3.5


# ---------------------------------------------------------------------------------------------
# phrasebook


def test_phrasebook_covers_every_label_in_both_books():
    assert set(DUET_PHRASES) == set(DUET_LABELS)
    assert set(BIMANUAL_PHRASES) == set(BIMANUAL_LABELS)
    for mode, labels in (("duet", DUET_LABELS), ("bimanual", BIMANUAL_LABELS)):
        for name in ("train", "test"):
            for label in labels:
                lp = book(name).label(mode, label)
                assert lp.clause and lp.noun and lp.lead, (mode, label, name)
    assert book_of_split("train") == book_of_split("val") == "train"
    assert book_of_split("test") == "test"


def test_every_test_phrase_has_a_word_training_never_uses():
    only = words_only_in_test_book()
    assert len(only) > 150
    missing = []
    for table in (DUET_PHRASES, BIMANUAL_PHRASES):
        for label, (_, test_lp) in table.items():
            for s in (*test_lp.clause, *test_lp.noun, *test_lp.lead, *test_lp.follow):
                if not words_of(s) & only:
                    missing.append((label, s))
    for slot, (_, test_opts) in WORDS.items():
        for s in test_opts:
            for part in s.split("|"):
                if words_of(part) and not words_of(part) & only:
                    missing.append((slot, part))
    assert not missing
    # The headline example: training shakes hands, test clasps right hands in greeting.
    assert {"clasp", "greeting"} <= only and "shake" not in only


# The words both books share (grammar and everyday verbs). Widening TRAIN with a TEST word would
# quietly drop it from the test-only words and let a paraphrase's wording leak into training:
# this list may only shrink.
SHARED_WITH_TEST = frozenset("""
about after against along another apart around away back bends between both brings bumps
close come comes contact corner down ends evenly extends first flat forms forward gesture gets
gives half hello holding holds if into keeps like make makes meet meets more move no open out
over pair raising receives remain second side squeeze stand straight takes tap together touch
touches toward up using where while who""".split())


def test_train_book_takes_no_word_from_the_test_book():
    shared = (vocabulary("train") & vocabulary("test")) - COMMON_WORDS
    assert shared <= SHARED_WITH_TEST, sorted(shared - SHARED_WITH_TEST)


# ---------------------------------------------------------------------------------------------
# captions


@pytest.mark.parametrize("make", [standin_duet, standin_clap])
def test_captions_levels_agent_texts_and_determinism(make):
    rec = make(np.random.default_rng(2))
    caps = caption_clip(rec, "train", np.random.default_rng(5))
    again = caption_clip(rec, "train", np.random.default_rng(5))
    assert caps == again
    assert len(caps.captions) >= 3 and caps.levels == CAPTION_LEVELS
    assert all(c and c[0].isupper() and c.endswith(".") for c in caps.captions)
    assert set(caps.agent_texts) == set(rec.agents) and all(caps.agent_texts.values())
    assert caps.inter_text
    short = caps.captions[caps.levels.index("short")]
    detailed = caps.captions[caps.levels.index("detailed")]
    assert len(detailed) > len(caps.text) > len(short) * 0.8
    # The detailed caption tells several events, the first and last with sequence words.
    sentences = [s for s in re.split(r"(?<=\.) ", detailed) if s]
    assert len(sentences) >= 3
    b = book("train")
    assert any(sentences[1].startswith(w) for w in b.words("seq.first"))
    assert any(sentences[-1].startswith(w) for w in b.words("seq.last"))


def test_agent_texts_name_the_other_agent_and_hands():
    rec = standin_duet(np.random.default_rng(3))
    caps = caption_clip(rec, "train", np.random.default_rng(0))
    a, b = caps.agent_texts["A"], caps.agent_texts["B"]
    assert ("person B" in a or "the second person" in a) and "right" in a
    assert "person A" in b or "the first person" in b
    bim = caption_clip(standin_clap(np.random.default_rng(0)), "test", np.random.default_rng(0))
    assert bim.agent_texts["left"].startswith("The left hand")
    assert bim.agent_texts["right"].startswith("The right hand")
    assert "palm" in bim.inter_text


def test_counts_are_stated_only_when_the_joints_show_them():
    rec = standin_clap(np.random.default_rng(0))
    n = rec.meta["repetitions"]
    number = {2: "two", 3: "three", 4: "four"}[n]
    stated = 0
    for seed in range(6):
        caps = caption_clip(rec, "train", np.random.default_rng(seed))
        medium = " ".join(caps.captions[2:4])
        stated += int(bool(re.search(rf"\b({number}|{n})\b", medium)))
    assert stated == 6
    rec.meta["repetitions"] = 7  # the generator claims more claps than the joints show
    for seed in range(6):
        caps = caption_clip(rec, "train", np.random.default_rng(seed))
        assert not re.search(r"\b(seven|7)\b", " ".join(caps.captions))


def test_test_captions_never_share_test_only_words_with_training_captions():
    """Every label, both books, many phrasings: training text never uses a test-only word
    and every test caption (and per-agent text) uses at least one."""
    only = words_only_in_test_book()
    train_words: set[str] = set()
    for mode, labels, make in (("duet", DUET_LABELS, standin_duet),
                               ("bimanual", BIMANUAL_LABELS, standin_clap)):
        base = make(np.random.default_rng(4))
        events = extract_events(base)
        for label in labels:
            base.label = label
            base.meta["label"] = label
            for seed in range(3):
                tr = caption_clip(base, "train", np.random.default_rng(seed), events=events)
                va = caption_clip(base, "val", np.random.default_rng(seed), events=events)
                te = caption_clip(base, "test", np.random.default_rng(seed), events=events)
                for c in (tr, va):
                    train_words |= caption_words([*c.captions, *c.agent_texts.values(),
                                                  c.inter_text])
                for text in (*te.captions, *te.agent_texts.values(), te.inter_text):
                    assert words_of(text) & only, (label, text)
                # The label's test clause is none of its training clauses, whoever fills them.
                for tc in book("train").label(mode, label).clause:
                    pattern = re.sub(r"\\\{[a-z_]+\\\}", ".+", re.escape(tc))
                    assert not re.search(pattern, te.captions[0], re.IGNORECASE), (
                        label, tc, te.captions[0])
    assert not train_words & only, sorted(train_words & only)
