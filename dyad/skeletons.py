"""The skeletons of Dyad's motion contract: ``body22``, ``hand21`` and ``body22+hands``.

Joint names and their order are part of the contract (docs/ARCHITECTURE.md). Rest poses are a
standard adult (about 1.75 m tall, hand length about 19 cm) in metres, Z up, X forward, Y left
(REP-103). The body stands in a T-pose facing +X with the pelvis above the origin.

The hand's own frame (used by ``HAND21_REST_RIGHT``): origin at the wrist, +X from the wrist
toward the middle finger, +Y toward the thumb side, +Z out of the back of the hand, so the
palm normal is -Z. A left hand is the mirror image (Y negated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UnknownSkeletonError

BODY22_NAMES: tuple[str, ...] = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle",
    "spine3", "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder",
    "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
)
BODY22_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
)

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
_FINGER_JOINTS = {"thumb": ("cmc", "mcp", "ip", "tip")}
for _f in FINGERS[1:]:
    _FINGER_JOINTS[_f] = ("mcp", "pip", "dip", "tip")

HAND21_NAMES: tuple[str, ...] = ("wrist",) + tuple(
    f"{f}_{j}" for f in FINGERS for j in _FINGER_JOINTS[f]
)
HAND21_PARENTS: tuple[int, ...] = (-1,) + tuple(
    0 if k == 0 else 1 + 4 * i + k - 1 for i in range(5) for k in range(4)
)
FINGERTIPS: tuple[int, ...] = (4, 8, 12, 16, 20)
"""hand21 indices of the thumb, index, middle, ring and pinky tips."""

# Standard adult body, T-pose, offsets from the parent joint in metres.
_BODY22_OFFSETS = {
    "pelvis": (0.0, 0.0, 0.93),
    "l_hip": (0.0, 0.09, -0.08), "r_hip": (0.0, -0.09, -0.08),
    "spine1": (-0.01, 0.0, 0.11),
    "l_knee": (0.0, 0.0, -0.40), "r_knee": (0.0, 0.0, -0.40),
    "spine2": (0.0, 0.0, 0.135),
    "l_ankle": (-0.01, 0.0, -0.38), "r_ankle": (-0.01, 0.0, -0.38),
    "spine3": (0.01, 0.0, 0.055),
    "l_foot": (0.13, 0.0, -0.05), "r_foot": (0.13, 0.0, -0.05),
    "neck": (0.0, 0.0, 0.21),
    "l_collar": (0.0, 0.07, 0.15), "r_collar": (0.0, -0.07, 0.15),
    "head": (0.03, 0.0, 0.09),
    "l_shoulder": (0.0, 0.11, 0.04), "r_shoulder": (0.0, -0.11, 0.04),
    "l_elbow": (0.0, 0.28, 0.0), "r_elbow": (0.0, -0.28, 0.0),
    "l_wrist": (0.0, 0.25, 0.0), "r_wrist": (0.0, -0.25, 0.0),
}

# Right hand in its own frame, straight flat fingers; positions (not offsets) in metres.
_HAND_MCP = {
    "index": (0.090, 0.024, 0.0), "middle": (0.094, 0.003, 0.0),
    "ring": (0.087, -0.017, 0.0), "pinky": (0.078, -0.035, 0.0),
}
_HAND_PHALANGES = {  # proximal, middle, distal lengths
    "index": (0.040, 0.024, 0.021), "middle": (0.045, 0.028, 0.023),
    "ring": (0.042, 0.026, 0.022), "pinky": (0.032, 0.019, 0.019),
}
_THUMB_CMC = (0.022, 0.020, -0.010)
_THUMB_LENGTHS = (0.042, 0.032, 0.027)  # CMC->MCP, MCP->IP, IP->tip
_THUMB_DIR = np.array([0.62, 0.76, -0.18])


def _hand21_rest_right() -> np.ndarray:
    pts = np.zeros((21, 3))
    pts[1] = _THUMB_CMC
    d = _THUMB_DIR / np.linalg.norm(_THUMB_DIR)
    for k, length in enumerate(_THUMB_LENGTHS):
        pts[2 + k] = pts[1 + k] + d * length
    for i, finger in enumerate(FINGERS[1:]):
        base = 5 + 4 * i
        pts[base] = _HAND_MCP[finger]
        for k, length in enumerate(_HAND_PHALANGES[finger]):
            pts[base + 1 + k] = pts[base + k] + np.array([length, 0.0, 0.0])
    return pts


HAND21_REST_RIGHT: np.ndarray = _hand21_rest_right()
"""(21, 3) right hand at rest in the hand frame (see the module docstring)."""
HAND21_REST_LEFT: np.ndarray = HAND21_REST_RIGHT * np.array([1.0, -1.0, 1.0])
"""(21, 3) left hand at rest: the mirror image of the right one."""


def _body22_rest() -> np.ndarray:
    pts = np.zeros((22, 3))
    for j, name in enumerate(BODY22_NAMES):
        parent = BODY22_PARENTS[j]
        offset = np.asarray(_BODY22_OFFSETS[name])
        pts[j] = offset if parent < 0 else pts[parent] + offset
    return pts


BODY22_REST: np.ndarray = _body22_rest()
"""(22, 3) standard adult in a T-pose, facing +X, feet on the floor."""

# In the T-pose the left arm points along +Y with the palm down: hand-frame X (fingers) maps
# to world +Y, hand-frame Y (thumb side of a left hand, which is -Y in the hand frame) to +X.
ROTATION_LEFT_HAND_TO_TPOSE = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
ROTATION_RIGHT_HAND_TO_TPOSE = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])

BODY22_HANDS_NAMES: tuple[str, ...] = (
    BODY22_NAMES
    + tuple(f"l_{n}" for n in HAND21_NAMES[1:])
    + tuple(f"r_{n}" for n in HAND21_NAMES[1:])
)


def _body22_hands_parents() -> tuple[int, ...]:
    parents = list(BODY22_PARENTS)
    for side_offset, wrist in ((22, BODY22_NAMES.index("l_wrist")),
                               (42, BODY22_NAMES.index("r_wrist"))):
        for h in range(1, 21):
            hp = HAND21_PARENTS[h]
            parents.append(wrist if hp == 0 else side_offset + hp - 1)
    return tuple(parents)


BODY22_HANDS_PARENTS = _body22_hands_parents()


def _body22_hands_rest() -> np.ndarray:
    body = BODY22_REST
    lw, rw = body[BODY22_NAMES.index("l_wrist")], body[BODY22_NAMES.index("r_wrist")]
    left = lw + HAND21_REST_LEFT[1:] @ ROTATION_LEFT_HAND_TO_TPOSE.T
    right = rw + HAND21_REST_RIGHT[1:] @ ROTATION_RIGHT_HAND_TO_TPOSE.T
    return np.concatenate([body, left, right], axis=0)


BODY22_HANDS_REST = _body22_hands_rest()


@dataclass(frozen=True)
class Skeleton:
    """A named joint tree with a rest pose.

    Attributes:
        name: the contract name (``body22``, ``hand21``, ``body22+hands``).
        joint_names: joint names in contract order.
        parents: index of each joint's parent, -1 for the root.
        rest_positions_m: (J, 3) rest pose in metres.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    rest_positions_m: np.ndarray = field(repr=False)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) index pairs, one per bone."""
        return [(p, c) for c, p in enumerate(self.parents) if p >= 0]

    def bone_lengths(self, positions_m: np.ndarray | None = None) -> np.ndarray:
        """Bone lengths in metres of ``positions_m`` (..., J, 3), or of the rest pose."""
        pos = self.rest_positions_m if positions_m is None else np.asarray(positions_m)
        par = np.array([p for p, _ in self.bones])
        chi = np.array([c for _, c in self.bones])
        return np.linalg.norm(pos[..., chi, :] - pos[..., par, :], axis=-1)

    def index(self, joint: str) -> int:
        """Index of a joint by name; raises ``KeyError`` naming the skeleton."""
        try:
            return self.joint_names.index(joint)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no joint {joint!r}") from None


SKELETONS: dict[str, Skeleton] = {
    "body22": Skeleton("body22", BODY22_NAMES, BODY22_PARENTS, BODY22_REST),
    "hand21": Skeleton("hand21", HAND21_NAMES, HAND21_PARENTS, HAND21_REST_RIGHT),
    "body22+hands": Skeleton("body22+hands", BODY22_HANDS_NAMES, BODY22_HANDS_PARENTS,
                             BODY22_HANDS_REST),
}


def get_skeleton(name: str) -> Skeleton:
    """The skeleton called ``name``; raises :class:`UnknownSkeletonError` listing known names."""
    try:
        return SKELETONS[name]
    except (KeyError, TypeError):
        raise UnknownSkeletonError(
            f"unknown skeleton {name!r}; known skeletons: {', '.join(SKELETONS)}"
        ) from None


# Named contact parts: groups of joints whose proximity means two body parts touch. Names are
# the same for both skeletons that carry hands; ``prefix`` is "" for hand21 and "l_"/"r_" for
# body22+hands.
_HAND_PARTS = {
    "palm": ("wrist", "index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp", "thumb_cmc"),
    "fingers": tuple(n for n in HAND21_NAMES if n.split("_")[0] in FINGERS[1:]),
    "fingertips": tuple(HAND21_NAMES[i] for i in FINGERTIPS),
    "thumb_tip": ("thumb_tip",), "index_tip": ("index_tip",), "middle_tip": ("middle_tip",),
    "ring_tip": ("ring_tip",), "pinky_tip": ("pinky_tip",),
    "hand": HAND21_NAMES,
}
_BODY_PARTS = {
    "head": ("head", "neck"),
    "torso": ("spine1", "spine2", "spine3", "neck", "l_collar", "r_collar"),
    "left_shoulder": ("l_shoulder", "l_collar"), "right_shoulder": ("r_shoulder", "r_collar"),
    "left_arm": ("l_shoulder", "l_elbow", "l_wrist"),
    "right_arm": ("r_shoulder", "r_elbow", "r_wrist"),
    "left_forearm": ("l_elbow", "l_wrist"), "right_forearm": ("r_elbow", "r_wrist"),
    "left_foot": ("l_ankle", "l_foot"), "right_foot": ("r_ankle", "r_foot"),
}


def contact_part_joints(skeleton: str, part: str) -> list[int]:
    """Joint indices of a named contact part (``palm``, ``right_palm``, ``torso``, ...).

    In ``hand21`` the hand parts have no side (``palm``, ``index_tip``); in ``body22+hands``
    they carry it (``right_palm``, ``left_index_tip``).
    """
    skel = get_skeleton(skeleton)
    if skeleton == "hand21":
        names = _HAND_PARTS.get(part)
    else:
        names = _BODY_PARTS.get(part)
        for side, prefix in (("left_", "l_"), ("right_", "r_")):
            if names is None and part.startswith(side) and part[len(side):] in _HAND_PARTS:
                names = tuple(
                    (prefix + n) if n != "wrist" else f"{prefix}wrist"
                    for n in _HAND_PARTS[part[len(side):]]
                )
        if names is not None and skeleton == "body22":
            names = tuple(n for n in names if n in BODY22_NAMES) or None
    if names is None:
        raise KeyError(f"skeleton {skeleton!r} has no contact part {part!r}")
    return [skel.index(n) for n in names]


def contact_parts(skeleton: str) -> list[str]:
    """Every contact part name that ``contact_part_joints`` accepts for ``skeleton``."""
    if skeleton == "hand21":
        return list(_HAND_PARTS)
    out = list(_BODY_PARTS)
    if skeleton == "body22+hands":
        out += [f"{s}_{p}" for s in ("left", "right") for p in _HAND_PARTS]
    return out
