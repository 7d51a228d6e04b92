"""Contact plans (generator/contact_plan.py): a text's contacts voted by its nearest training
captions, and the pull that completes them while sampling."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from dyad.generator.checkpoint import load_checkpoint, save_checkpoint
from dyad.generator.config import ModelConfig, SamplingOptions
from dyad.generator.contact_plan import (LEAN_SHARES, MAX_LEAN_DEG, ContactPlanner,
                                         PlannedContact, build_contact_planner, pull_contacts)
from dyad.generator.features import features_to_positions, positions_to_features
from dyad.generator.mode_selector import build_mode_selector
from dyad.generator.model import ChunkFlowModel
from dyad.generator.modes import MODE_SPECS
from dyad.generator.streaming import MotionGenerator
from dyad.generator.text_encoder import shared_text_encoder
from dyad.motion import ContactInterval
from dyad.skeletons import BODY22_HANDS_NAMES, BODY22_HANDS_REST, contact_part_joints
from dyad.training.motion_dataset import Clip

J = {n: i for i, n in enumerate(BODY22_HANDS_NAMES)}
RIGHT_PALM = contact_part_joints("body22+hands", "right_palm")
MODE_SPECS_DUET = MODE_SPECS["duet"]
TINY = ModelConfig(width=32, heads=2, denoiser_layers=1, context_layers=1, ff_mult=2,
                   chunk_frames=8, history_frames=4)


def _clip(texts, side: str | None, frames: int = 20, touch_m: float = 0.04) -> Clip:
    """Two standing agents; with ``side``, their ``side`` palms touch (centroids ``touch_m``
    apart) on frames 5..15."""
    joints = np.zeros((frames, 2, 62, 3), dtype=np.float32)
    joints[:, 1, :, 0] += 0.8
    contacts = []
    if side:
        part = contact_part_joints("body22+hands", f"{side}_palm")
        joints[5:15, 1, part] = joints[5:15, 0, part] + [touch_m, 0.0, 0.0]
        contacts.append(ContactInterval("A", f"{side}_palm", "B", f"{side}_palm", 5, 15))
    return Clip(joints=joints, mode="duet", texts=tuple(texts), contacts=contacts)


@pytest.fixture(scope="module")
def encoder():
    return shared_text_encoder("cpu", TINY.max_text_tokens)


@pytest.fixture(scope="module")
def planner(encoder):
    shake = ("two people shake hands", "a handshake between two people")
    clips = [_clip(shake, "right"), _clip(shake, "right"), _clip(shake, "left"),
             _clip(("two people wave at each other",), None),
             _clip(("two people wave at each other",), None)]
    return build_contact_planner(encoder, {"duet": clips})


def test_a_text_plans_the_contacts_its_nearest_captions_have(planner, encoder):
    def plan(text):
        return {pair for pair, _ in planner.plan(encoder.encode(text).sentence, "duet")}

    # Two of three handshakes were right-handed: the pair and its mirror image vote together.
    assert plan("two people shake hands") == {("A", "right_palm", "B", "right_palm"),
                                              ("A", "left_palm", "B", "left_palm")}
    assert plan("two people wave at each other") == set()
    assert plan("a recipe for tomato soup") == set()  # nothing near enough to trust
    assert plan("two people shake hands") == plan("two people shake hands")
    planned = planner.contacts(encoder.encode("two people shake hands").sentence, "duet")
    right = [c for c in planned if c.name == "A:right_palm ~ B:right_palm"][0]
    assert right.joints_a == tuple(RIGHT_PALM) == right.joints_b
    assert (right.agent_a, right.agent_b) == (0, 1)
    assert right.touch_m == pytest.approx(0.04, abs=1e-6)  # measured in the clips
    assert planner.contacts(encoder.encode("two people shake hands").sentence, "bimanual") == []
    again = ContactPlanner.from_state(planner.state())  # float16 prototypes
    a, b = (p.plan(encoder.encode("a handshake").sentence, "duet") for p in (again, planner))
    assert [pair for pair, _ in a] == [pair for pair, _ in b]
    assert np.allclose([v for _, v in a], [v for _, v in b], atol=1e-3)


def _model() -> ChunkFlowModel:
    model = ChunkFlowModel(TINY, ("duet",))
    model.set_normalization("duet", torch.zeros(2, 186), torch.ones(2, 186))
    return model


def test_pull_closes_near_gaps_moves_only_hands_and_leaves_far_ones():
    model = _model()
    frames = 8
    pos = torch.tensor(BODY22_HANDS_REST, dtype=torch.float32).repeat(2, 2, frames, 1, 1)
    pos[:, 1] = pos[:, 1] * torch.tensor([-1.0, -1.0, 1.0])  # B turned to face A
    # B's right palm moves from far (0.5 m gap) to near (1 cm) along the chunk.
    ca = pos[0, 0, :, RIGHT_PALM].mean(1)
    cb = pos[0, 1, :, RIGHT_PALM].mean(1)
    want = ca + torch.linspace(0.55, 0.06, frames)[:, None] * torch.tensor([1.0, 0.0, 0.0])
    right_hand = [J["r_wrist"]] + [j for j in range(42, 62)]
    pos[:, 1, :, right_hand] += (want - cb)[:, None]
    values = positions_to_features(pos, MODE_SPECS_DUET)
    touch = 0.05
    contact = PlannedContact(0, tuple(RIGHT_PALM), 1, tuple(RIGHT_PALM), touch, "r~r")
    out = pull_contacts(model, "duet", values, [[contact], []], 1.0, 0.05, 0.3)
    after = features_to_positions(out, MODE_SPECS_DUET)
    assert torch.equal(out[1], values[1])  # a row without a plan is untouched

    def nearest(p):
        return torch.cdist(p[0, 0, :, RIGHT_PALM], p[0, 1, :, RIGHT_PALM]).flatten(1).min(1).values

    gap, gap_after = nearest(pos), nearest(after)
    far, near, inside = gap - touch >= 0.3, (gap >= touch) & (gap - touch <= 0.05), gap < touch
    assert far.any() and near.any() and inside.any()
    assert torch.allclose(gap_after[far], gap[far], atol=1e-5)
    assert torch.allclose(gap_after[inside], gap[inside], atol=1e-5)  # touching already
    # Pulled along the centroid line: the nearest joints end at touching, never deeper.
    assert (gap_after[near] >= touch - 1e-5).all()
    assert torch.allclose(gap_after[near], torch.full_like(gap_after[near], touch), atol=0.005)
    assert (gap_after <= gap + 1e-6).all()
    # Hands move rigidly with their wrists, half each; the rest pose's arms are straight, so
    # the last bit is a lean (see the next test); pelvis and legs stay.
    legs = [J[n] for n in ("pelvis", "l_hip", "r_hip", "l_knee", "r_ankle", "l_foot")]
    for agent in (0, 1):
        moved = after[0, agent] - pos[0, agent]
        hand = moved[:, right_hand]
        assert torch.allclose(hand, hand[:, :1].expand_as(hand), atol=1e-5)
        assert torch.allclose(moved[:, legs], torch.zeros_like(moved[:, legs]), atol=1e-5)
    assert torch.allclose(after[0, 0, :, J["r_wrist"]] - pos[0, 0, :, J["r_wrist"]],
                          -(after[0, 1, :, J["r_wrist"]] - pos[0, 1, :, J["r_wrist"]]),
                          atol=1e-5)


def test_a_hand_beyond_reach_is_brought_by_a_lean():
    model = _model()
    pos = torch.tensor(BODY22_HANDS_REST, dtype=torch.float32).repeat(1, 2, 4, 1, 1)
    pos[:, 1] = pos[:, 1] * torch.tensor([-1.0, -1.0, 1.0]) + torch.tensor([1.0, 0.0, 0.0])
    # A (facing +x, toward B) holds its right arm straight out in front.
    shoulder = pos[0, 0, :, J["r_shoulder"]]
    hand = [J["r_wrist"]] + list(range(42, 62))
    wrist = shoulder + torch.tensor([0.53, 0.0, 0.0])
    pos[0, 0, :, hand] += (wrist - pos[0, 0, :, J["r_wrist"]])[:, None]
    pos[0, 0, :, J["r_elbow"]] = shoulder + torch.tensor([0.28, 0.0, 0.0])
    before = pos[0, 0].clone()
    palm = before[:, RIGHT_PALM]
    # A's right palm pulled to a body point of B (a hand goes to a body) 0.3 m further ahead:
    # more than the straight arm can give.
    pos[0, 1, :, J["spine3"]] = palm.mean(1) + torch.tensor([0.3, 0.0, 0.0])
    contact = PlannedContact(0, tuple(RIGHT_PALM), 1, (J["spine3"],), 0.0, "r~chest",
                             hand_b=False)

    def pull(p):  # the gap is within near_m: the whole of it is closed
        out = pull_contacts(model, "duet", positions_to_features(p, MODE_SPECS_DUET),
                            [[contact]], 1.0, 0.5, 1.0)
        return features_to_positions(out, MODE_SPECS_DUET)[0, 0]

    after = pull(pos)
    moved = after - before
    gap = torch.cdist(palm, pos[0, 1, :, J["spine3"]][:, None]).flatten(1).min(1).values
    assert torch.allclose(moved[:, J["r_wrist"]].norm(dim=-1), gap, atol=1e-4)  # all the way
    # The shoulder leads, up to MAX_LEAN_DEG from upright over the pelvis; the spine bends
    # after it in LEAN_SHARES, the head and the other arm go with the chest, the legs stay.
    lean = moved[:, J["r_shoulder"]]
    level = torch.nn.functional.normalize(lean * torch.tensor([1.0, 1.0, 0.0]), dim=-1)
    assert (level[:, 0] > 0.99).all()  # toward B
    above = before[:, J["r_shoulder"]] - before[:, J["pelvis"]]
    lead = ((after[:, J["r_shoulder"]] - after[:, J["pelvis"]]) * level).sum(-1)
    assert torch.allclose(lead, math.tan(math.radians(MAX_LEAN_DEG)) * above[:, 2], atol=1e-4)
    for name, share in zip(("r_collar", "spine3", "spine2", "spine1"), LEAN_SHARES):
        assert torch.allclose(moved[:, J[name]], share * lean, atol=1e-5), name
    for name in ("neck", "head", "l_collar", "l_shoulder", "l_wrist"):
        assert torch.allclose(moved[:, J[name]], moved[:, J["spine3"]], atol=1e-5), name
    legs = [J[n] for n in ("pelvis", "l_hip", "r_hip", "l_knee", "r_ankle", "l_foot")]
    assert torch.allclose(moved[:, legs], torch.zeros_like(moved[:, legs]), atol=1e-5)
    # A chest already that far ahead of the pelvis leans no further: only the arm reaches.
    leaning = pos.clone()
    upper = [j for j in range(62) if j not in legs + [J["spine1"], J["r_hip"], J["l_hip"],
                                                    J["l_ankle"], J["r_knee"], J["r_foot"]]]
    leaning[0, 0, :, upper] += torch.tensor([0.2, 0.0, 0.0])
    moved = pull(leaning) - leaning[0, 0]
    assert torch.allclose(moved[:, J["r_shoulder"]], torch.zeros(4, 3), atol=1e-5)
    assert (moved[:, J["r_wrist"]].norm(dim=-1) > 0.05).all()
    # Within reach (the hand drawn 15 cm in toward its own hip): the elbow goes half along,
    # nothing else moves.
    near = pos.clone()
    near[0, 1, :, J["spine3"]] = palm.mean(1) + 0.15 * torch.nn.functional.normalize(
        before[:, J["pelvis"]] - palm.mean(1), dim=-1)
    moved = pull(near) - before
    assert (moved[:, J["r_wrist"]].norm(dim=-1) > 0.05).all()
    assert torch.allclose(moved[:, J["r_elbow"]], 0.5 * moved[:, J["r_wrist"]], atol=1e-5)
    arm = [J["r_elbow"], J["r_wrist"]] + list(range(42, 62))
    still = [j for j in range(62) if j not in arm]
    assert torch.allclose(moved[:, still], torch.zeros_like(moved[:, still]), atol=1e-5)


def test_a_pair_and_its_mirror_planned_on_a_split_vote_are_alternatives(planner, encoder):
    # Two right-handed handshakes and one left-handed: one of the two pairs, not both.
    planned = planner.contacts(encoder.encode("two people shake hands").sentence, "duet")
    assert len(planned) == 2 and planned[0].alternatives
    assert planned[0].alternatives == planned[1].alternatives
    # Clips with both pairs at once (pat-a-cake): each on its own votes, both pulled.
    both = []
    for _ in range(3):
        clip = _clip(("two people play pat-a-cake",), "right")
        left = contact_part_joints("body22+hands", "left_palm")
        clip.joints[5:15, 1, left] = clip.joints[5:15, 0, left] + [0.04, 0.0, 0.0]
        clip.contacts.append(ContactInterval("A", "left_palm", "B", "left_palm", 5, 15))
        both.append(clip)
    together = build_contact_planner(encoder, {"duet": both})
    planned = together.contacts(encoder.encode("two people play pat-a-cake").sentence, "duet")
    assert len(planned) == 2 and not any(c.alternatives for c in planned)


def _contact_clip(text: str, *pairs: tuple[str, str, str, str]) -> Clip:
    """Two standing agents whose clip declares ``pairs`` on frames 5..15."""
    joints = np.zeros((20, 2, 62, 3), dtype=np.float32)
    joints[:, 1, :, 0] += 0.5
    return Clip(joints=joints, mode="duet", texts=(text,),
                contacts=[ContactInterval(*pair, 5, 15) for pair in pairs])


def test_who_does_it_is_an_alternative_too_but_hands_that_come_together_are_not(encoder):
    pat = "one person pats the other on the shoulder"
    push = "one person pushes the other away"
    clips = [_contact_clip(pat, ("A", "right_palm", "B", "left_shoulder")),
             _contact_clip(pat, ("A", "right_palm", "B", "left_shoulder")),
             _contact_clip(pat, ("B", "right_palm", "A", "left_shoulder"))]
    # Both hands at once, the pusher A in two clips and B in two: every variant has half the
    # votes and they add up to two, so they come together and are all pulled.
    for pusher, other in (("A", "B"), ("A", "B"), ("B", "A"), ("B", "A")):
        clips.append(_contact_clip(push, (pusher, "left_palm", other, "right_shoulder"),
                                   (pusher, "right_palm", other, "left_shoulder")))
    planner = build_contact_planner(encoder, {"duet": clips})
    pats = planner.contacts(encoder.encode(pat).sentence, "duet")
    assert {c.name for c in pats} == {"A:right_palm ~ B:left_shoulder",
                                      "A:left_shoulder ~ B:right_palm"}
    assert pats[0].alternatives and pats[0].alternatives == pats[1].alternatives
    pushes = planner.contacts(encoder.encode(push).sentence, "duet")
    assert len(pushes) == 4 and not any(c.alternatives for c in pushes)


def test_only_the_nearer_of_two_alternatives_is_pulled():
    model = _model()
    pos = torch.tensor(BODY22_HANDS_REST, dtype=torch.float32).repeat(1, 2, 8, 1, 1)
    pos[:, 1] = pos[:, 1] * torch.tensor([-1.0, -1.0, 1.0]) + torch.tensor([0.3, 0.0, 0.0])
    left = contact_part_joints("body22+hands", "left_palm")
    left_hand = [J["l_wrist"]] + list(range(22, 42))  # B's left hand 15 cm from A's left palm
    offset = pos[0, 0, :, left].mean(1) - pos[0, 1, :, left].mean(1) + torch.tensor(
        [0.15, 0.0, 0.0])
    pos[0, 1, :, left_hand] += offset[:, None]
    values = positions_to_features(pos, MODE_SPECS_DUET)
    gaps = {}
    for side, joints in (("right", RIGHT_PALM), ("left", left)):
        p = features_to_positions(values, MODE_SPECS_DUET)[0]
        gaps[side] = float(torch.cdist(p[0, :, joints], p[1, :, joints]).min())
    assert gaps["left"] < gaps["right"] - 0.05  # B's left hand is the nearer in this pose

    def pulled(*contacts):
        return pull_contacts(model, "duet", values, [list(contacts)], 1.0, 0.05, 3.0)

    right = PlannedContact(0, tuple(RIGHT_PALM), 1, tuple(RIGHT_PALM), 0.03, "r~r",
                           alternatives="hands")
    left_c = PlannedContact(0, tuple(left), 1, tuple(left), 0.03, "l~l", alternatives="hands")
    assert torch.equal(pulled(right, left_c), pulled(left_c))
    assert not torch.equal(pulled(left_c), values)
    both = pulled(replace(right, alternatives=""), replace(left_c, alternatives=""))
    assert not torch.equal(both, pulled(left_c))  # not alternatives: both pulled


def test_generator_plans_from_its_checkpoint_and_guidance_can_be_turned_off(
        planner, encoder, tmp_path):
    model = _model()
    selector = build_mode_selector(encoder, {"duet": []})
    path = save_checkpoint(tmp_path / "tiny.pt", model, selector, SamplingOptions(steps=2),
                           planner=planner)
    assert load_checkpoint(path).planner is not None
    gen = MotionGenerator(path, device="cpu")
    request = gen.prepare("two people shake hands", mode="duet", seconds=0.5, seed=1)
    assert {c.name for c in request.contacts} == {"A:right_palm ~ B:right_palm",
                                                  "A:left_palm ~ B:left_palm"}
    record = gen.record(request, list(gen.stream_request(request)))
    assert record.meta["generator"]["contact_plan"] == [c.name for c in request.contacts]
    off = gen.prepare("two people shake hands", mode="duet", seconds=0.5, seed=1,
                      contact_guidance=0.0)
    assert off.contacts == ()
    assert gen.prepare("two people wave at each other", mode="duet", seconds=0.5).contacts == ()
    # Modes left out of contact_guidance_modes pull only when a caller asks explicitly.
    quiet = MotionGenerator(path, device="cpu",
                            sampling=SamplingOptions(steps=2, contact_guidance_modes=[]))
    assert quiet.prepare("two people shake hands", mode="duet", seconds=0.5).contacts == ()
    assert len(quiet.prepare("two people shake hands", mode="duet", seconds=0.5,
                             contact_guidance=1.0).contacts) == 2
    # A checkpoint without a planner plans nothing (and still loads).
    bare = save_checkpoint(tmp_path / "bare.pt", model, selector, SamplingOptions(steps=2))
    assert MotionGenerator(bare, device="cpu").plan("two people shake hands", "duet") == []
    with pytest.raises(Exception, match="contact_guidance"):
        SamplingOptions(contact_guidance=1.5)
