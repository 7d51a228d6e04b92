"""Mode ``auto``: choose ``duet`` or ``bimanual`` from the text.

Each mode keeps a set of prototype sentence vectors: a few hand-written anchor sentences plus
captions of the training set, stored in the checkpoint. A text's score for a mode is the mean
cosine similarity of its ``k`` nearest prototypes of that mode; the best score wins. An
explicit mode always overrides this.
"""

from __future__ import annotations

import torch

ANCHOR_TEXTS: dict[str, tuple[str, ...]] = {
    "duet": (
        "two people shake hands",
        "one person hugs the other person",
        "person A waves at person B and B waves back",
        "two people walk toward each other and greet",
        "a person pushes another person away",
        "they dance together holding hands",
        "one person gives the other a high five",
        "the first person bows and the second person bows back",
        "someone pats their partner on the shoulder",
        "a man and a woman pass an object to each other",
    ),
    "bimanual": (
        "the left hand claps against the right hand",
        "both hands interlock their fingers",
        "the right hand pinches with the thumb and index finger",
        "rub the palms of both hands together",
        "both hands make fists",
        "the left hand taps the fingertips of the right hand",
        "press the palms together in front of the chest",
        "the right index finger points while the left hand stays open",
        "the hands form a heart shape with the fingers",
        "one hand passes a small object to the other hand",
    ),
}


class ModeSelector:
    """k-nearest-prototype mode classifier over unit sentence vectors.

    Args:
        prototypes: mode -> (N, 384) unit sentence vectors.
        k: neighbours averaged per mode.
    """

    def __init__(self, prototypes: dict[str, torch.Tensor], k: int = 5):
        if not prototypes:
            raise ValueError("a mode selector needs prototypes for at least one mode")
        self.prototypes = {m: torch.nn.functional.normalize(p.float(), dim=-1)
                           for m, p in prototypes.items()}
        self.k = k

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.prototypes)

    def scores(self, sentence: torch.Tensor) -> dict[str, float]:
        """Mean cosine similarity of the ``k`` nearest prototypes of each mode."""
        s = torch.nn.functional.normalize(sentence.float().reshape(-1), dim=0)
        out = {}
        for mode, protos in self.prototypes.items():
            sims = protos @ s
            out[mode] = float(sims.topk(min(self.k, len(sims))).values.mean())
        return out

    def select(self, sentence: torch.Tensor) -> tuple[str, dict[str, float]]:
        """(best mode, scores of every mode)."""
        scores = self.scores(sentence)
        return max(scores, key=scores.get), scores

    def state(self) -> dict:
        """What a checkpoint stores (float16 prototypes)."""
        return {"k": self.k, "prototypes": {m: p.half() for m, p in self.prototypes.items()}}

    @classmethod
    def from_state(cls, state: dict) -> "ModeSelector":
        return cls({m: p.float() for m, p in state["prototypes"].items()}, k=int(state["k"]))


def build_mode_selector(encoder, captions_by_mode: dict[str, list[str]],
                        max_per_mode: int = 512, seed: int = 0) -> ModeSelector:
    """Prototypes from the anchor sentences plus up to ``max_per_mode`` distinct captions of
    each mode's training set (a seeded sample when there are more).

    Args:
        encoder: a :class:`~dyad.generator.text_encoder.TextEncoder`.
        captions_by_mode: mode -> training captions; modes absent here are not selectable.
    """
    generator = torch.Generator().manual_seed(seed)
    prototypes = {}
    for mode, captions in captions_by_mode.items():
        distinct = sorted(set(captions))
        if len(distinct) > max_per_mode:
            pick = torch.randperm(len(distinct), generator=generator)[:max_per_mode]
            distinct = [distinct[i] for i in sorted(pick.tolist())]
        texts = list(ANCHOR_TEXTS.get(mode, ())) + distinct
        prototypes[mode] = torch.stack([e.sentence for e in encoder.encode_many(texts)])
    return ModeSelector(prototypes)
