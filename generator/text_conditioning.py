"""Texts by role, batched for the network.

A :class:`TextCondition` holds up to four encoded texts, one per role slot of
``modes.TEXT_ROLES``: the overall text and, optionally, a text per agent (``A``/``B`` or
``left``/``right``) and an inter-hand text. With only one text the network conditions on it
alone; the role of every text enters the network as a learned role embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .modes import MODE_SPECS, TEXT_ROLES
from .text_encoder import TEXT_DIM, TextEncoder, TextEncoding


@dataclass(frozen=True)
class TextCondition:
    """Encoded texts of one motion, keyed by role slot (``overall``, ``agent0``, ...)."""

    encodings: dict

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r in TEXT_ROLES if r in self.encodings)


def build_condition(encoder: TextEncoder, mode: str, text: str | None,
                    agent_texts: dict[str, str] | None = None) -> TextCondition:
    """Encode the overall text and the per-agent texts of one motion.

    Args:
        encoder: the text encoder (its cache makes repeated texts free).
        mode: ``duet`` or ``bimanual``; decides which agent keys are accepted.
        text: the overall text, already cleaned (may be ``None`` when agent texts exist).
        agent_texts: cleaned per-agent texts keyed by agent name (or ``inter``).
    """
    roles = MODE_SPECS[mode].text_roles
    items = [("overall", text)] if text else []
    items += [(roles[k], v) for k, v in (agent_texts or {}).items() if v]
    encs = encoder.encode_many([t for _, t in items])
    return TextCondition({role: e for (role, _), e in zip(items, encs)})


@dataclass
class TextBatch:
    """Padded text tensors for a batch.

    Attributes:
        tokens: (B, L, 384) word tokens of every text of an example, one text after another.
        token_mask: (B, L) True where a token exists.
        token_roles: (B, L) role slot index of each token.
        sentences: (B, R, 384) sentence vector per role slot (R = len(TEXT_ROLES)).
        sentence_mask: (B, R) True where the slot has a text.
        dropped: (B,) True for examples without text (the unconditional branch).
    """

    tokens: torch.Tensor
    token_mask: torch.Tensor
    token_roles: torch.Tensor
    sentences: torch.Tensor
    sentence_mask: torch.Tensor
    dropped: torch.Tensor

    def to(self, device) -> "TextBatch":
        return TextBatch(*(getattr(self, f).to(device) for f in
                           ("tokens", "token_mask", "token_roles", "sentences", "sentence_mask",
                            "dropped")))

    def drop(self, which: torch.Tensor) -> "TextBatch":
        """A copy with the examples where ``which`` is True made unconditional."""
        which = which.to(self.dropped.device)
        keep = ~which
        return replace(self, token_mask=self.token_mask & keep[:, None],
                       sentence_mask=self.sentence_mask & keep[:, None],
                       dropped=self.dropped | which)

    def drop_words(self, token_prob: float, all_prob: float,
                   generator: torch.Generator | None = None) -> "TextBatch":
        """A copy with word tokens hidden (a training augmentation; sentence vectors stay):
        each token with probability ``token_prob``, and all of an example's tokens with
        probability ``all_prob``, so the network cannot lean on one caption template's exact
        wording and learns to follow the sentence vectors too (which place paraphrases near
        each other)."""
        b, length = self.token_mask.shape
        device = self.token_mask.device
        keep = torch.rand(b, length, generator=generator).to(device) >= token_prob
        keep &= (torch.rand(b, generator=generator).to(device) >= all_prob)[:, None]
        return replace(self, token_mask=self.token_mask & keep)

    def repeat(self, times: int) -> "TextBatch":
        """The batch repeated ``times`` times along the batch axis."""
        return TextBatch(*(getattr(self, f).repeat(times, *([1] * (getattr(self, f).ndim - 1)))
                           for f in ("tokens", "token_mask", "token_roles", "sentences",
                                     "sentence_mask", "dropped")))


def collate_conditions(conditions: list[TextCondition | None],
                       max_tokens_per_text: int) -> TextBatch:
    """Pad a list of conditions (``None`` = no text) into a :class:`TextBatch`."""
    rows = []
    for cond in conditions:
        parts: list[tuple[int, TextEncoding]] = []
        if cond is not None:
            parts = [(TEXT_ROLES.index(r), cond.encodings[r]) for r in cond.roles]
        rows.append(parts)
    length = max([sum(min(len(e.tokens), max_tokens_per_text) for _, e in p) for p in rows] + [1])
    b, r = len(rows), len(TEXT_ROLES)
    tokens = torch.zeros(b, length, TEXT_DIM)
    token_mask = torch.zeros(b, length, dtype=torch.bool)
    token_roles = torch.zeros(b, length, dtype=torch.long)
    sentences = torch.zeros(b, r, TEXT_DIM)
    sentence_mask = torch.zeros(b, r, dtype=torch.bool)
    for i, parts in enumerate(rows):
        at = 0
        for role, enc in parts:
            toks = enc.tokens[:max_tokens_per_text]
            tokens[i, at:at + len(toks)] = toks
            token_mask[i, at:at + len(toks)] = True
            token_roles[i, at:at + len(toks)] = role
            at += len(toks)
            sentences[i, role] = enc.sentence
            sentence_mask[i, role] = True
    dropped = torch.tensor([not p for p in rows], dtype=torch.bool)
    return TextBatch(tokens, token_mask, token_roles, sentences, sentence_mask, dropped)
