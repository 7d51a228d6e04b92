"""Contact plans: which body parts a text asks to touch, and pulling them together while sampling.

**Planning.** A :class:`ContactPlanner` is a nearest-neighbour classifier over the training
captions: each prototype is a caption's sentence vector, tagged with the share of its training
clips that carry each contact pair (``A:right_palm ~ B:right_palm``, ``left:palm ~
right:palm``...). A text's ``k`` nearest prototypes of its mode vote (the nearest weigh most;
a pair votes with its variants, see **Alternatives**); pairs with at least ``min_agreement`` of
the vote are planned, provided the neighbours are similar enough to trust
(``min_similarity``). Nothing is hand-written: the pairs and the
touching distance of each (median distance between the parts' nearest joints inside the
training contact intervals) come from the training data, and the held-out test paraphrases
measure how well it generalises. It is stored in the checkpoint (``contact_planner``).

**Guidance.** While a chunk is sampled, after each flow step the network's clean estimate is
corrected where a planned pair has come within ``contact_far_m`` of touching (nearest joints):
each hand's wrist (the hand's other joints are stored relative to it, so the hand moves rigidly)
and, for a body, half as much its elbow, move along the line between the parts' centroids, by a
share of the nearest joints' remaining gap that grows from 0 at ``contact_far_m`` to 1 at
``contact_near_m``, so the parts come to touching and never deeper. Where that puts the wrist
beyond ``REACH`` of the arm's length from its shoulder, the shoulder is carried the rest of the
way and the spine bends after it, with the head and the other arm: a lean, as people lean into a
high five, up to ``MAX_LEAN_DEG`` from upright (further, a hug between bodies standing 1.2 m
apart arched both spines 40-50 degrees). The network's next step then fits the body around the
corrected hand. This completes contacts the motion already approaches; it does not invent an
approach (InterControl's joint-distance guidance, in a gradient-free form that costs no extra
network call).

**Alternatives.** A pair, its mirror image and both with the two people's roles exchanged vote
together, so a text whose neighbours disagree on the hand (two thirds of the high fives
right-handed, one third left-handed) or on who does it (A pats B's shoulder or B pats A's)
plans them all; where their shares add up to no more than one (no clip has two of them), those
are alternatives, and only the one that is nearest in the chunk is pulled, so a high five does
not become a double one. Pairs each of whose own vote is a majority (the double high five,
pat-a-cake, the hug), and variants that come together (both hands of a push), are all pulled.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from dyad.motion import MotionRecord
from dyad.skeletons import contact_part_joints, contact_parts

from .modes import MODE_SPECS

Pair = tuple[str, str, str, str]  # (agent_a, part_a, agent_b, part_b)
_VOTE_TEMPERATURE = 0.02  # cosine similarity: neighbours 0.02 further count e times less
_SHARE_SLACK = 0.05  # float16 shares and vote weights: "adds up to 1" within this
# A pulled wrist takes its elbow half along (ELBOW_SHARE). Where the wrist's target lies
# beyond REACH of the arm's length from its shoulder, the shoulder is carried the rest of the
# way and the spine bends after it in LEAN_SHARES (collar, spine3, spine2, spine1; the pelvis
# and legs stay): a lean, never past MAX_LEAN_DEG from upright (the shoulder's lead over the
# pelvis). Measured with the default model, 10 seeds, the pull fading out by 0.9 m: with the
# elbow only, high fives met in 0/10 seeds (median closest 0.11 m); leaning up to 15 degrees,
# 9/10 (10 degrees: 9/10, fist bumps 3/10 instead of 7/10).
ELBOW_SHARE = 0.5
REACH = 0.9
LEAN_SHARES = (0.8, 0.6, 0.3, 0.1)
MAX_LEAN_DEG = 15.0


def _is_hand(part: str) -> bool:
    """A part that belongs to a hand (``right_palm``, ``palm``, ``index_tip``...)."""
    name = part.split("_", 1)[1] if part.startswith(("left_", "right_")) else part
    return name in contact_parts("hand21")


def _mirror(pair: Pair) -> Pair:
    """The same contact with left and right swapped on both sides."""
    swap = {"left": "right", "right": "left"}

    def flip(name: str) -> str:
        head, _, rest = name.partition("_")
        return f"{swap[head]}_{rest}" if head in swap and rest else name

    a, pa, b, pb = pair
    if a in swap and b in swap:  # two free hands: the agents are the sides
        return _canonical_pair(swap[a], pa, swap[b], pb)
    return _canonical_pair(a, flip(pa), b, flip(pb))


def _swap_roles(pair: Pair) -> Pair:
    """The same contact with the two people's roles exchanged (B pats A instead of A pats B);
    two free hands have no roles beyond their sides (that is the mirror image)."""
    roles = {"A": "B", "B": "A"}
    a, pa, b, pb = pair
    return _canonical_pair(roles[a], pa, roles[b], pb) if a in roles and b in roles else pair


def _variants(pair: Pair) -> tuple[Pair, ...]:
    """The pair, its mirror image and both with the roles exchanged: the same contact as far
    as a text that names neither hand nor who does it is concerned (sorted, no repeats)."""
    return tuple(sorted({pair, _mirror(pair), _swap_roles(pair), _mirror(_swap_roles(pair))}))


def _canonical_pair(agent_a: str, part_a: str, agent_b: str, part_b: str) -> Pair:
    """The same contact however its two sides are ordered."""
    return min((agent_a, part_a, agent_b, part_b), (agent_b, part_b, agent_a, part_a))


@dataclass(frozen=True)
class PlannedContact:
    """One pair to pull together: agent indices and joint indices of each side, the
    distance between the two sides' nearest joints when they touch, and whether each side is a
    hand (only hands are moved: a hand goes to a body part, two hands meet halfway)."""

    agent_a: int
    joints_a: tuple[int, ...]
    agent_b: int
    joints_b: tuple[int, ...]
    touch_m: float
    name: str
    hand_a: bool = True
    hand_b: bool = True
    alternatives: str = ""


class ContactPlanner:
    """k-nearest-caption contact classifier (see the module docstring).

    Args:
        prototypes: (N, D) sentence vectors of training captions.
        modes: the mode of each prototype (N,).
        pairs: the contact pairs the votes refer to.
        shares: (N, P) share of each prototype's training clips that carry each pair.
        touch_m: (P,) distance between each pair's nearest joints when touching.
        k, min_similarity, min_agreement: the vote (see the module docstring).
    """

    def __init__(self, prototypes: torch.Tensor, modes: list[str], pairs: list[Pair],
                 shares: torch.Tensor, touch_m: torch.Tensor, k: int = 7,
                 min_similarity: float = 0.6, min_agreement: float = 0.6):
        self.prototypes = torch.nn.functional.normalize(prototypes.float(), dim=-1)
        self.modes = list(modes)
        self.pairs = [tuple(p) for p in pairs]
        self.shares = shares.float()
        self.touch_m = touch_m.float()
        self.k, self.min_similarity, self.min_agreement = k, min_similarity, min_agreement

    def plan(self, sentence: torch.Tensor, mode: str) -> list[tuple[Pair, float]]:
        """Planned pairs for a sentence vector (D,) in ``mode``: [(pair, vote share)]."""
        rows = [i for i, m in enumerate(self.modes) if m == mode]
        if not rows:
            return []
        protos = self.prototypes[rows]
        sim = protos @ torch.nn.functional.normalize(sentence.float().cpu(), dim=-1)
        top = torch.topk(sim, min(self.k, len(rows)))
        if float(top.values.mean()) < self.min_similarity:
            return []
        # The nearest captions count most: a near-verbatim match outweighs paraphrases of
        # neighbouring labels (a "double high five" next to a "high five").
        weights = torch.exp((top.values - top.values.max()) / _VOTE_TEMPERATURE)
        shares = self.shares[rows][top.indices]
        # A pair, its mirror image (the left-handed handshake) and both with the roles
        # exchanged (B pats A) vote together: which hand and who is the motion's choice, and
        # only the variant that comes nearest is pulled (``contacts``).
        index = {p: i for i, p in enumerate(self.pairs)}
        out = []
        for p, pair in enumerate(self.pairs):
            if not self._in_mode(pair, mode):
                continue
            group = [index[q] for q in _variants(pair) if q in index]
            vote = float((shares[:, group].sum(dim=1).clamp(max=1.0) * weights).sum()
                         / weights.sum())
            own = float((shares[:, p] * weights).sum() / weights.sum())
            if vote >= self.min_agreement and own >= self.min_agreement / 4:
                out.append((pair, own))
        return out

    @staticmethod
    def _in_mode(pair: Pair, mode: str) -> bool:
        agents = MODE_SPECS[mode].agents
        return pair[0] in agents and pair[2] in agents

    def contacts(self, sentence: torch.Tensor, mode: str) -> list[PlannedContact]:
        """The plan as joint indices of ``mode``'s skeleton."""
        spec = MODE_SPECS[mode]
        out = []
        plan = dict(self.plan(sentence, mode))
        for pair, own in plan.items():
            a, pa, b, pb = pair
            hand_a, hand_b = _is_hand(pa), _is_hand(pb)
            if not (hand_a or hand_b):
                continue  # bodies and forearms are the network's business
            # Variants of one contact planned together, not all on their own votes, and never
            # two in one clip (their shares add up to no more than all the clips): one of
            # them, whichever the motion comes nearest to. A two-handed push whose pusher
            # varies (each hand's share a half, four variants adding up to 2) pulls them all.
            variants = [q for q in _variants(pair) if q in plan]
            shares = [plan[q] for q in variants]
            group = "|".join(sum(variants, ())) if len(variants) > 1 and \
                min(shares) < self.min_agreement and sum(shares) <= 1.0 + _SHARE_SLACK else ""
            out.append(PlannedContact(
                spec.agents.index(a), tuple(contact_part_joints(spec.skeleton, pa)),
                spec.agents.index(b), tuple(contact_part_joints(spec.skeleton, pb)),
                float(self.touch_m[self.pairs.index(pair)]), f"{a}:{pa} ~ {b}:{pb}",
                hand_a, hand_b, group))
        return out

    def state(self) -> dict:
        """What a checkpoint stores (float16 prototypes)."""
        return {"prototypes": self.prototypes.half(), "modes": self.modes,
                "pairs": [list(p) for p in self.pairs], "shares": self.shares.half(),
                "touch_m": self.touch_m, "k": self.k, "min_similarity": self.min_similarity,
                "min_agreement": self.min_agreement}

    @classmethod
    def from_state(cls, state: dict) -> "ContactPlanner":
        return cls(state["prototypes"], list(state["modes"]), [tuple(p) for p in state["pairs"]],
                   state["shares"], state["touch_m"], int(state["k"]),
                   float(state["min_similarity"]), float(state["min_agreement"]))


def build_contact_planner(encoder, clips_by_mode: dict, max_per_mode: int = 2048,
                          seed: int = 0) -> ContactPlanner:
    """A planner from training clips (``training.motion_dataset.Clip``: ``texts``,
    ``contacts``, ``joints``), up to ``max_per_mode`` distinct captions per mode: the most
    used first (generic sentences such as "Two people give each other a high five." are
    shared by many clips and are what users type), then a seeded sample of the rest."""
    rng = np.random.default_rng(seed)
    pair_index: dict[Pair, int] = {}
    touch: dict[Pair, list[float]] = {}
    caption_pairs: dict[tuple[str, str], list[set[int]]] = {}
    for mode, clips in clips_by_mode.items():
        spec = MODE_SPECS[mode]
        for clip in clips:
            present = set()
            record = MotionRecord(joints=clip.joints, skeleton=spec.skeleton,
                                  agents=spec.agents) if clip.contacts else None
            for c in clip.contacts:
                pair = _canonical_pair(c.agent_a, c.part_a, c.agent_b, c.part_b)
                if pair not in pair_index:
                    pair_index[pair] = len(pair_index)
                present.add(pair_index[pair])
                if c.end > c.start:
                    dist = record.contact_distance(c)[c.start:c.end]
                    touch.setdefault(pair, []).append(float(np.median(dist)))
            for text in clip.texts:
                caption_pairs.setdefault((mode, text), []).append(present)
    pairs = sorted(pair_index, key=pair_index.get)
    modes, texts, shares = [], [], []
    for mode in clips_by_mode:
        keys = sorted(t for m, t in caption_pairs if m == mode)
        if len(keys) > max_per_mode:
            uses = np.array([len(caption_pairs[(mode, t)]) for t in keys])
            order = np.lexsort((rng.random(len(keys)), -uses))  # most used, ties at random
            keys = sorted(keys[i] for i in order[:max_per_mode])
        for text in keys:
            seen = caption_pairs[(mode, text)]
            row = np.zeros(len(pairs))
            for present in seen:
                row[list(present)] += 1.0
            shares.append(row / len(seen))
            modes.append(mode)
            texts.append(text)
    vectors = torch.stack([e.sentence for e in encoder.encode_many(texts)]) if texts else \
        torch.zeros(0, 384)
    return ContactPlanner(vectors, modes, pairs,
                          torch.tensor(np.array(shares).reshape(len(texts), len(pairs)),
                                       dtype=torch.float32),
                          torch.tensor([float(np.median(touch.get(p, [0.03]))) for p in pairs]))


def _anchors(spec, joints: tuple[int, ...]) -> list[int]:
    """The joints a part moves with: each part joint's reference, up to the last one below a
    root (a hand's wrist; the wrist itself for free hands)."""
    ref = spec.local_reference
    out = []
    for j in joints:
        anchor = j if ref[j] < 0 or ref[ref[j]] < 0 else ref[j]
        if anchor not in out:
            out.append(anchor)
    return out


@functools.lru_cache(maxsize=64)
def _follow_weights(mode: str, joint: int, shares: tuple[float, ...]) -> torch.Tensor:
    """(J,) share of ``joint``'s move that each joint takes: 1 for ``joint``, ``shares`` up its
    ancestors (never a root), and for every other joint the share of its nearest ancestor, so
    what hangs off a moved joint moves with it, in ``mode``'s skeleton. Cached: do not modify
    the result."""
    spec = MODE_SPECS[mode]
    taken = {joint: 1.0}
    above = spec.parents[joint]
    for share in shares:
        if above < 0 or spec.parents[above] < 0:
            break  # roots stay where the network put them
        taken[above] = share
        above = spec.parents[above]
    weights = torch.zeros(len(spec.parents))
    for j, parent in enumerate(spec.parents):  # parents come before their children
        weights[j] = taken.get(j, float(weights[parent]) if parent >= 0 else 0.0)
    return weights


def _move_hand(spec, pos: torch.Tensor, wrist: int, move: torch.Tensor) -> torch.Tensor:
    """(C, J, 3) shift of one agent's joints that moves its ``wrist`` by ``move`` (C, 3): the
    arm reaches (the elbow half along), and the body leans where the arm would have to stretch
    beyond ``REACH`` of its length (or beyond the stretch it has already)."""
    arm = _follow_weights(spec.name, wrist, (ELBOW_SHARE,)).to(pos)
    elbow = spec.parents[wrist]
    shoulder = spec.parents[elbow] if elbow >= 0 else -1
    if shoulder < 0 or spec.parents[shoulder] < 0:  # a free hand: nothing to lean
        return arm[None, :, None] * move[:, None, :]
    length = (pos[:, elbow] - pos[:, shoulder]).norm(dim=-1, keepdim=True) + \
        (pos[:, wrist] - pos[:, elbow]).norm(dim=-1, keepdim=True)
    target = pos[:, wrist] + move - pos[:, shoulder]
    distance = target.norm(dim=-1, keepdim=True)
    # The arm stretches to REACH of its length, or keeps the stretch the network gave it.
    reach = torch.maximum(REACH * length, (pos[:, wrist] - pos[:, shoulder]).norm(
        dim=-1, keepdim=True))
    lean = (distance - reach).clamp_min(0.0) * target / distance.clamp_min(1e-6)
    # No further than MAX_LEAN_DEG from upright: the shoulder's horizontal lead over the root
    # (the pelvis) in the lean's direction stays within tan(MAX_LEAN_DEG) of its height.
    root = shoulder
    while spec.parents[root] >= 0:
        root = spec.parents[root]
    above = pos[:, shoulder] - pos[:, root]
    level = lean.clone()
    level[:, 2] = 0.0
    ahead = level.norm(dim=-1, keepdim=True)
    lead = (above * level).sum(-1, keepdim=True) / ahead.clamp_min(1e-9)
    room = (math.tan(math.radians(MAX_LEAN_DEG)) * above[:, 2:3] - lead).clamp_min(0.0)
    lean = lean * (room / ahead.clamp_min(1e-9)).clamp(max=1.0)
    body = _follow_weights(spec.name, shoulder, LEAN_SHARES).to(pos)
    return arm[None, :, None] * (move - lean)[:, None, :] + body[None, :, None] * lean[:, None, :]


def _parts(pos: torch.Tensor, pc: PlannedContact) -> tuple[torch.Tensor, torch.Tensor]:
    """The two sides' joints (C, n, 3) of a contact in one batch row's positions (2, C, J, 3)."""
    return pos[pc.agent_a][:, list(pc.joints_a)], pos[pc.agent_b][:, list(pc.joints_b)]


def _gap(pa: torch.Tensor, pb: torch.Tensor, touch_m: float) -> torch.Tensor:
    """(C, 1) nearest-joint distance of two parts beyond touching, per frame."""
    return (torch.cdist(pa, pb).flatten(1).min(dim=1).values[:, None] - touch_m).clamp_min(0.0)


def _pulled(pos: torch.Tensor, planned: list[PlannedContact]) -> list[PlannedContact]:
    """The contacts to pull in one batch row: all but the farther alternatives."""
    nearest: dict[str, tuple[float, PlannedContact]] = {}
    for pc in planned:
        if pc.alternatives:
            gap = float(_gap(*_parts(pos, pc), pc.touch_m).min())
            if pc.alternatives not in nearest or gap < nearest[pc.alternatives][0]:
                nearest[pc.alternatives] = (gap, pc)
    keep = {id(pc) for _, pc in nearest.values()}
    return [pc for pc in planned if not pc.alternatives or id(pc) in keep]


def pull_contacts(model, mode: str, values: torch.Tensor,
                  contacts: list[list[PlannedContact]], strength: float, near_m: float,
                  far_m: float) -> torch.Tensor:
    """A chunk estimate (B, 2, C, F) in network units with planned contacts pulled together
    (see the module docstring); batch rows without a plan are returned unchanged.

    Args:
        contacts: per batch row, its planned contacts.
        strength: 0..1, the share of the gap closed where the parts are within ``near_m``.
        near_m, far_m: gap beyond the touching distance where the pull is full / starts.
    """
    from .features import features_to_positions, positions_to_features

    spec = MODE_SPECS[mode]
    pos = features_to_positions(model.denormalize(mode, values), spec)  # (B, 2, C, J, 3)
    shift = torch.zeros_like(pos)
    for b, planned in enumerate(contacts):
        for pc in _pulled(pos[b], planned):
            pa, pb = _parts(pos[b], pc)
            # Direction: centroid to centroid (steady); distance: the nearest joints' gap
            # beyond touching, so a pull never takes the parts deeper than touching.
            d = pb.mean(dim=1) - pa.mean(dim=1)
            direction = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            gap = _gap(pa, pb, pc.touch_m)
            u = ((far_m - gap) / max(far_m - near_m, 1e-6)).clamp(0.0, 1.0)
            move = strength * u * u * (3.0 - 2.0 * u) * gap * direction  # (C, 3)
            sides = [(agent, joints, sign) for agent, joints, sign, free in (
                (pc.agent_a, pc.joints_a, 1.0, pc.hand_a), (pc.agent_b, pc.joints_b, -1.0,
                                                            pc.hand_b)) if free]
            for agent, joints, sign in sides:
                sign = sign / len(sides)  # two hands meet halfway; a hand goes to a body
                for anchor in _anchors(spec, joints):
                    shift[b, agent] += _move_hand(spec, pos[b, agent], anchor, sign * move)
    # Joints stored relative to a reference take the difference of the two moves.
    std = getattr(model, f"feature_std_{mode}")[:, None]
    return values + positions_to_features(shift, spec) / std
