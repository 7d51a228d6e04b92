"""What the generator needs to know about each mode: skeleton, agents, text roles, root.

Both modes share one network; a :class:`ModeSpec` holds everything that differs between them
(joint count, how the canonical frame is found, which joints are feet, how joints are made
local for the feature vector).
"""

from __future__ import annotations

from dataclasses import dataclass

from dyad.errors import DyadInputError
from dyad.motion import AGENTS, SKELETON_OF_MODE
from dyad.skeletons import BODY22_NAMES, SKELETONS

TEXT_ROLES: tuple[str, ...] = ("overall", "agent0", "agent1", "inter")
"""Role slots of the text conditioning: the overall text, one text per agent, and the text
about their relation (the inter-hand text of bimanual motion; distance and contacts of a
duet)."""


@dataclass(frozen=True)
class ModeSpec:
    """Per-mode constants of the generator.

    Attributes:
        name: ``duet`` or ``bimanual``.
        skeleton: contract skeleton of each agent.
        agents: agent names in contract order.
        num_joints: joints per agent.
        parents: parent index of each joint (contract skeleton).
        text_roles: accepted ``agent_texts`` keys mapped to a role slot of ``TEXT_ROLES``
            (``inter`` is the text about the relation between the agents: distance, contacts).
        root_joints: (agent, joint) pairs whose mean, projected to the floor, is the origin of
            the canonical frame.
        heading_pairs: (left joint, right joint) pairs of agent 0 whose summed left-minus-right
            vectors give the facing direction; empty means the frame keeps the world yaw.
        foot_joints: joints that touch the floor (empty for hands).
        local_reference: for each joint the joint it is expressed relative to in the feature
            vector, -1 for joints kept in the canonical frame.
    """

    name: str
    skeleton: str
    agents: tuple[str, ...]
    num_joints: int
    parents: tuple[int, ...]
    text_roles: dict
    root_joints: tuple[tuple[int, int], ...]
    heading_pairs: tuple[tuple[int, int], ...]
    foot_joints: tuple[int, ...]
    local_reference: tuple[int, ...]

    @property
    def feature_dim(self) -> int:
        """Features per agent per frame."""
        return self.num_joints * 3


def _duet_reference() -> tuple[int, ...]:
    lw, rw = BODY22_NAMES.index("l_wrist"), BODY22_NAMES.index("r_wrist")
    return (-1,) + (0,) * 21 + (lw,) * 20 + (rw,) * 20


_BODY = {n: i for i, n in enumerate(BODY22_NAMES)}

MODE_SPECS: dict[str, ModeSpec] = {
    "duet": ModeSpec(
        name="duet", skeleton=SKELETON_OF_MODE["duet"], agents=AGENTS["duet"], num_joints=62,
        parents=SKELETONS["body22+hands"].parents,
        text_roles={"A": "agent0", "B": "agent1", "inter": "inter"},
        root_joints=((0, _BODY["pelvis"]),),
        heading_pairs=((_BODY["l_hip"], _BODY["r_hip"]),
                       (_BODY["l_shoulder"], _BODY["r_shoulder"])),
        foot_joints=(_BODY["l_ankle"], _BODY["r_ankle"], _BODY["l_foot"], _BODY["r_foot"]),
        local_reference=_duet_reference(),
    ),
    # Two floating hands have no body to face with; their frame keeps the world (viewer's)
    # yaw, so "left" and "right" in the text stay meaningful, and only the translation is
    # removed (see docs/generator.md).
    "bimanual": ModeSpec(
        name="bimanual", skeleton=SKELETON_OF_MODE["bimanual"], agents=AGENTS["bimanual"],
        num_joints=21, parents=SKELETONS["hand21"].parents,
        text_roles={"left": "agent0", "right": "agent1", "inter": "inter"},
        root_joints=((0, 0), (1, 0)), heading_pairs=(), foot_joints=(),
        local_reference=(-1,) + (0,) * 20,
    ),
}

MODE_CHOICES: tuple[str, ...] = ("auto",) + tuple(MODE_SPECS)


def parse_mode(mode: str, allow_auto: bool = True) -> str:
    """Check a mode name; raises :class:`DyadInputError` listing the accepted ones."""
    choices = MODE_CHOICES if allow_auto else tuple(MODE_SPECS)
    if not isinstance(mode, str) or mode.strip().lower() not in choices:
        raise DyadInputError(f"unknown mode {mode!r}; expected one of {', '.join(choices)}")
    return mode.strip().lower()
