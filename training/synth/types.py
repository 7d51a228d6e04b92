"""The registry of procedural interaction types and the variation every clip samples.

``duet.py`` and ``bimanual.py`` register one :class:`InteractionType` per label with
:func:`interaction`; ``dataset.py`` samples them; ``captions.py`` describes them. A generator
returns a :class:`dyad.motion.MotionRecord` with ``label``, ``contacts`` and ``meta`` filled
(``text``/``captions`` are left empty: captioning is a separate step that reads the joints).

Keys every generator writes into ``MotionRecord.meta`` (captions rely on them):
``label``, ``mode``, ``speed`` (tempo multiplier, 1 = normal), ``amplitude``, ``repetitions``,
``offset_s`` (lag of the responding agent), ``distance_m`` (between bodies in duet, between
hands in bimanual), ``handedness`` (``left``/``right``: the hand that acts or leads), ``lead``
(agent that initiates), ``body_scale`` and ``hand_scale`` (lists, one per agent), and
``phases``: a list of ``{"name", "start", "end"}`` frame ranges (e.g. approach, contact,
retreat) in clip order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from dyad.motion import MotionRecord

DUET_LABELS: tuple[str, ...] = (
    "handshake", "high_five", "hug", "fist_bump", "wave_to_each_other", "bow_to_each_other",
    "push", "pull_by_hand", "punch_and_block", "pat_on_shoulder", "pass_object",
    "dance_holding_hands", "walk_up_and_greet", "double_high_five", "pat_a_cake", "elbow_bump",
    "salute_each_other", "point_and_look", "twirl_partner", "beckon_and_approach",
    "two_handed_handshake", "applaud_partner", "low_five", "hold_hands_side_by_side",
    "raise_joined_hands", "shove_away", "tap_on_back",
)
"""The duet labels (27); ``duet.py`` registers one generator for each."""

BIMANUAL_LABELS: tuple[str, ...] = (
    "clap", "rub_palms", "interlock_fingers", "make_fists", "point", "pinch", "thumbs_up",
    "ok_sign", "count_on_fingers", "tap_fingertips", "steeple", "pass_object", "wave",
    "spread_fingers", "prayer_hands", "knock_fists", "peace_sign", "rock_sign", "heart_shape",
    "finger_frame", "piano_fingers", "grab_wrist", "cup_hands", "open_close_hands", "shaka",
    "tap_index_fingers", "rotate_wrists",
)
"""The bimanual labels (27); ``bimanual.py`` registers one generator for each."""


@dataclass(frozen=True)
class InteractionType:
    """One procedural interaction.

    Attributes:
        label: unique within its mode, one of ``DUET_LABELS`` or ``BIMANUAL_LABELS``.
        mode: ``duet`` or ``bimanual``.
        generate: makes one clip from a random generator (deterministic for a given state).
        has_contact: the interaction implies contact, so its clips carry contact intervals.
    """

    label: str
    mode: str
    generate: Callable[[np.random.Generator], MotionRecord]
    has_contact: bool


INTERACTIONS: dict[tuple[str, str], InteractionType] = {}


def interaction(mode: str, label: str, has_contact: bool):
    """Decorator registering ``generate(rng) -> MotionRecord`` as an interaction type."""
    known = DUET_LABELS if mode == "duet" else BIMANUAL_LABELS
    if label not in known:
        raise ValueError(f"{label!r} is not a declared {mode} label")

    def wrap(fn: Callable[[np.random.Generator], MotionRecord]):
        INTERACTIONS[(mode, label)] = InteractionType(label, mode, fn, has_contact)
        return fn

    return wrap


def interactions(mode: str) -> list[InteractionType]:
    """Registered interaction types of ``mode`` in label order (imports the generators)."""
    if mode == "duet":
        from . import duet  # noqa: F401  (registers)
    elif mode == "bimanual":
        from . import bimanual  # noqa: F401  (registers)
    else:
        from dyad.errors import DyadInputError
        raise DyadInputError(f"unknown mode {mode!r}; modes are duet, bimanual")
    order = DUET_LABELS if mode == "duet" else BIMANUAL_LABELS
    return [INTERACTIONS[(mode, lab)] for lab in order if (mode, lab) in INTERACTIONS]
