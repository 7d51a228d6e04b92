"""Contact plans: which body parts a text asks to touch, and pulling them together while sampling.

**Planning.** A :class:`ContactPlanner` is a nearest-neighbour classifier over the training
captions: each prototype is a caption's sentence vector, tagged with the share of its training
clips that carry each contact pair (``A:right_palm ~ B:right_palm``, ``left:palm ~
right:palm``...). A text's ``k`` nearest prototypes of its mode vote (the nearest weigh most;
a pair and its mirror image vote together); pairs with at least ``min_agreement`` of the vote
are planned, provided the neighbours are
similar enough to trust (``min_similarity``). Nothing is hand-written: the pairs and the
touching distance of each (median distance between the parts' nearest joints inside the
training contact intervals) come from the training data, and the held-out test paraphrases
measure how well it generalises. It is stored in the checkpoint (``contact_planner``).

**Guidance.** While a chunk is sampled, after each flow step the network's clean estimate is
corrected where a planned pair has come within ``contact_far_m`` of touching (nearest joints):
each hand's wrist (the hand's other joints are stored relative to it, so the hand moves
rigidly) and, for a body, half as much its elbow, move along the line between the parts'
centroids, by a share of the nearest joints' remaining gap that grows from 0 at
``contact_far_m`` to 1 at ``contact_near_m``, so the parts come to touching and never deeper.
The network's next step then fits the arm around the corrected hand. This completes contacts
the motion already approaches; it does not invent an approach (InterControl's joint-distance
guidance, in a gradient-free form that costs no extra network call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dyad.motion import MotionRecord
from dyad.skeletons import contact_part_joints, contact_parts

from .modes import MODE_SPECS

Pair = tuple[str, str, str, str]  # (agent_a, part_a, agent_b, part_b)
_VOTE_TEMPERATURE = 0.02  # cosine similarity: neighbours 0.02 further count e times less


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
        # A pair and its mirror image (the left-handed handshake) vote together: which hands
        # meet is the motion's choice, and only parts that come close are pulled.
        index = {p: i for i, p in enumerate(self.pairs)}
        out = []
        for p, pair in enumerate(self.pairs):
            if not self._in_mode(pair, mode):
                continue
            mirror = index.get(_mirror(pair))
            group = shares[:, p] if mirror in (None, p) else \
                (shares[:, p] + shares[:, mirror]).clamp(max=1.0)
            vote = float((group * weights).sum() / weights.sum())
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
        for pair, _ in self.plan(sentence, mode):
            a, pa, b, pb = pair
            hand_a, hand_b = _is_hand(pa), _is_hand(pb)
            if not (hand_a or hand_b):
                continue  # bodies and forearms are the network's business
            out.append(PlannedContact(
                spec.agents.index(a), tuple(contact_part_joints(spec.skeleton, pa)),
                spec.agents.index(b), tuple(contact_part_joints(spec.skeleton, pb)),
                float(self.touch_m[self.pairs.index(pair)]), f"{a}:{pa} ~ {b}:{pb}",
                hand_a, hand_b))
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
    from .features import features_to_positions

    spec = MODE_SPECS[mode]
    pos = features_to_positions(model.denormalize(mode, values), spec)  # (B, 2, C, J, 3)
    shift = torch.zeros_like(pos)
    for b, planned in enumerate(contacts):
        for pc in planned:
            pa = pos[b, pc.agent_a][:, list(pc.joints_a)]
            pb = pos[b, pc.agent_b][:, list(pc.joints_b)]
            # Direction: centroid to centroid (steady); distance: the nearest joints' gap
            # beyond touching, so a pull never takes the parts deeper than touching.
            d = pb.mean(dim=1) - pa.mean(dim=1)
            direction = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            nearest = torch.cdist(pa, pb).flatten(1).min(dim=1).values[:, None]
            gap = (nearest - pc.touch_m).clamp_min(0.0)
            u = ((far_m - gap) / max(far_m - near_m, 1e-6)).clamp(0.0, 1.0)
            move = strength * u * u * (3.0 - 2.0 * u) * gap * direction
            sides = [(agent, joints, sign) for agent, joints, sign, free in (
                (pc.agent_a, pc.joints_a, 1.0, pc.hand_a), (pc.agent_b, pc.joints_b, -1.0,
                                                            pc.hand_b)) if free]
            for agent, joints, sign in sides:
                sign = sign / len(sides)  # two hands meet halfway; a hand goes to a body
                for anchor in _anchors(spec, joints):
                    shift[b, agent, :, anchor] += sign * move
                    parent = spec.parents[anchor]
                    if parent >= 0 and spec.local_reference[parent] >= 0:
                        shift[b, agent, :, parent] += 0.5 * sign * move  # the elbow, half
    std = getattr(model, f"feature_std_{mode}")[:, None]
    return values + shift.flatten(-2) / std
