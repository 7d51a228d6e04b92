"""Robot bodies behind Dyad's contact part names, and what kind of thing each body is.

Contact parts are the names of ``dyad.skeletons`` (``palm``, ``fingers``, ``fingertips``,
``index_tip``..., ``hand``; ``right_palm``, ``left_index_tip``... on humanoids). They map to
robot bodies through each robot's :class:`~dyad.retarget.robot_model.HandMapping`:

- ``hand``: the wrist body and everything below it, and the hand's wrist links (below);
- a finger: the bodies from its tip frame up to (not including) the bodies that do not move
  with finger joints; ``fingers`` is index to pinky (as in ``hand21``), ``fingertips`` the five
  tip bodies, ``<finger>_tip`` one of them;
- ``palm``: the hand's bodies that no finger joint moves, and the thumb's base link (the body
  of the ``thumb_cmc`` keypoint: the human palm includes the ball of the thumb).

A hand's *wrist* is the chain of bodies between the forearm and the hand (a humanoid's wrist
links, such as GR1's ``r_hand_yaw`` housing). The human ``hand`` and ``forearm`` parts both
include the wrist joint, so both take these links: a handover's fingers resting on the
partner's wrist housing touch that hand, and a punch blocked at the wrist end of a forearm
touches that forearm. Palms and fingers do not; contacts on the wrist links are still expected
during any contact interval of its hand (fingers wrapped around a partner's hand in a
handshake reach the wrist housing), within the same severe-penetration allowance.

Body parts of humanoids (``torso``, ``head``, ``left_arm``...) have no mapping in the registry;
they are matched by body-name patterns (``BODY_PART_PATTERNS``) and reported as unchecked when
nothing matches (a forearm adds its side's wrist links, above).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import numpy as np

from dyad.retarget.robot_model import HandParts
from dyad.skeletons import FINGERS

from .scene import Scene, SceneInstance

HAND_PARTS = ("palm", "fingers", "fingertips", "hand") + tuple(f"{f}_tip" for f in FINGERS)
BODY_PART_PATTERNS = {
    "head": ("*head*", "*neck*"),
    "torso": ("*torso*", "*waist*", "*chest*", "*pelvis*", "*trunk*", "*base_link*"),
    "left_shoulder": ("l_*shoulder*", "left_*shoulder*", "l_upper_arm*"),
    "right_shoulder": ("r_*shoulder*", "right_*shoulder*", "r_upper_arm*"),
    "left_arm": ("l_*arm*", "left_*arm*", "l_*shoulder*", "l_*elbow*", "left_*elbow*"),
    "right_arm": ("r_*arm*", "right_*arm*", "r_*shoulder*", "r_*elbow*", "right_*elbow*"),
    "left_forearm": ("l_lower_arm*", "l_*elbow*", "left_*elbow*", "l_*forearm*"),
    "right_forearm": ("r_lower_arm*", "r_*elbow*", "right_*elbow*", "r_*forearm*"),
    "left_foot": ("l_foot*", "left_foot*", "*left_ankle*", "l_*ankle*"),
    "right_foot": ("r_foot*", "right_foot*", "*right_ankle*", "r_*ankle*"),
}


@dataclass
class HandBodies:
    """Body ids of one robot hand in a scene.

    Attributes:
        side: ``left`` or ``right``.
        hand: every body of the hand (wrist body and below).
        palm: bodies no finger joint moves, and the thumb's base link.
        fingers: finger name -> its bodies (tip to base order not kept).
        tips: finger name -> the body carrying its tip frame.
        wrist: the bodies above the hand up to (not including) its forearm: ancestors of the
            wrist body that no forearm or arm name pattern (``BODY_PART_PATTERNS``) matches,
            stopping where the other hand's chain joins (a torso) or at the robot's root.
        parts: the robot's :class:`~dyad.retarget.robot_model.HandParts` (body names), which
            resolve contact parts.
        ids: the hand's body names -> this scene's body ids.
    """

    side: str
    hand: frozenset[int]
    palm: frozenset[int]
    fingers: dict[str, frozenset[int]]
    tips: dict[str, int]
    wrist: frozenset[int] = frozenset()
    parts: HandParts | None = None
    ids: dict[str, int] = field(default_factory=dict)


def hand_bodies(scene: Scene, instance: SceneInstance) -> dict[str, HandBodies]:
    """Every hand of ``instance``: side -> :class:`HandBodies` (the robot's
    :func:`~dyad.retarget.robot_model.hand_parts`, as this scene's body ids)."""
    import mujoco

    from dyad.retarget.robot_model import hand_parts

    model = scene.model

    def ids(names) -> frozenset[int]:
        found = (mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, instance.prefix + n)
                 for n in names)
        return frozenset(int(b) for b in found if b >= 0)

    out, wrists = {}, {}
    for side in instance.robot.hands:
        parts = hand_parts(instance.robot, side)
        wrist = ids([parts.wrist]) if parts is not None else frozenset()
        if not wrist:
            continue
        wrists[side] = next(iter(wrist))
        tips = {f: next(iter(ids([t]))) for f, t in parts.tips.items() if ids([t])}
        named = {n: next(iter(ids([n]))) for n in parts.hand if ids([n])}
        out[side] = HandBodies(side, ids(parts.hand), ids(parts.palm),
                               {f: ids(c) for f, c in parts.fingers.items() if f in tips}, tips,
                               parts=parts, ids=named)
    for side, bodies in out.items():
        shared = set().union(*[_ancestors(model, b) for s, b in wrists.items() if s != side])
        bodies.wrist = _wrist_chain(scene, instance, side, wrists[side], shared)
    return out


def _ancestors(model, body: int) -> set[int]:
    out = set()
    while body > 0:
        body = int(model.body_parentid[body])
        out.add(body)
    return out


def _wrist_chain(scene: Scene, instance: SceneInstance, side: str, wrist: int,
                 shared: set[int]) -> frozenset[int]:
    """Ancestors of a hand's wrist body that belong to its wrist (see :class:`HandBodies`);
    ``shared``: the other hands' ancestors."""
    model = scene.model
    arm = BODY_PART_PATTERNS[f"{side}_forearm"] + BODY_PART_PATTERNS[f"{side}_arm"]
    own = {int(b) for b in instance.body_ids}
    chain, b = set(), int(model.body_parentid[wrist])
    while b in own and b not in shared and model.body_parentid[b] in own:
        short = instance.unprefixed(scene.body_name(b))
        if any(fnmatch.fnmatchcase(short, p) for p in arm):
            break
        chain.add(b)
        b = int(model.body_parentid[b])
    return frozenset(chain)


class PartResolver:
    """Contact part names -> body-id sets for one scene (cached per instance)."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.hands = [hand_bodies(scene, inst) for inst in scene.instances]
        self._instance = {inst.name: k for k, inst in enumerate(scene.instances)}

    def instance_index(self, name: str) -> int | None:
        return self._instance.get(name)

    def resolve(self, instance: str, part: str) -> frozenset[int]:
        """Bodies of ``part`` on ``instance``; empty when the robot has no such part.

        Raises:
            KeyError: unknown instance.
        """
        k = self._instance[instance]
        hands = self.hands[k]
        side, name = None, part
        for prefix in ("left_", "right_"):
            if part.startswith(prefix) and part[len(prefix):] in HAND_PARTS:
                side, name = prefix[:-1], part[len(prefix):]
        if name in HAND_PARTS:
            if side is None:
                if len(hands) != 1:
                    return frozenset()  # "palm" on a two-handed robot is ambiguous
                side = next(iter(hands))
            hand = hands.get(side)
            if hand is None:
                return frozenset()
            if name == "hand":
                # The human hand's joints start at the wrist, where a humanoid's wrist links
                # sit (fingers resting on a partner's GR1 wrist housing touch that hand).
                return self._hand_part(hand, name) | hand.wrist
            return self._hand_part(hand, name)
        patterns = BODY_PART_PATTERNS.get(part, ())
        inst = self.scene.instances[k]
        out = set()
        for b in inst.body_ids:
            short = inst.unprefixed(self.scene.body_name(b))
            if any(fnmatch.fnmatchcase(short, p) for p in patterns):
                out.add(int(b))
        side, _, rest = part.partition("_")
        if out and rest == "forearm" and side in hands:
            # The human forearm runs from the elbow to the wrist joint; a humanoid's wrist
            # links (GR1's hand_yaw housing) sit where it ends.
            out |= hands[side].wrist
        return frozenset(out)

    @staticmethod
    def _hand_part(hand: HandBodies, name: str) -> frozenset[int]:
        return frozenset(hand.ids[b] for b in hand.parts.bodies(name) if b in hand.ids)

    def hand_of(self, instance: str, part: str) -> frozenset[int]:
        """The whole hand that ``part`` belongs to and its wrist (contacts anywhere on them are
        expected during an interval), or the part itself for body parts."""
        k = self._instance[instance]
        bodies = self.resolve(instance, part)
        for hand in self.hands[k].values():
            if bodies and bodies <= hand.hand:
                return hand.hand | hand.wrist
        return bodies

    def finger_of(self, instance: str, part: str) -> frozenset[int]:
        """The whole finger of a fingertip part (``thumb_tip``, ``left_index_tip``), else the
        part's own bodies."""
        bodies = self.resolve(instance, part)
        finger = part.rsplit("_", 2)[-2] if part.endswith("_tip") else None
        for hand in self.hands[self._instance[instance]].values():
            chain = hand.fingers.get(finger)
            if chain and bodies <= chain:
                return chain
        return bodies

    def body_roles(self) -> np.ndarray:
        """(nbody,) role code per body: 0 world/floor, 1 other robot body, 2 palm, 3 finger."""
        roles = np.zeros(self.scene.model.nbody, dtype=int)
        for k, inst in enumerate(self.scene.instances):
            roles[inst.body_ids] = 1
            for hand in self.hands[k].values():
                roles[list(hand.hand)] = 2
                for bodies in hand.fingers.values():
                    roles[list(bodies)] = 3
        return roles

    def body_hand(self) -> np.ndarray:
        """(nbody,) index of the hand each body is on (instance * 2 + side), -1 elsewhere."""
        out = np.full(self.scene.model.nbody, -1, dtype=int)
        for k in range(len(self.scene.instances)):
            for side, hand in self.hands[k].items():
                out[list(hand.hand)] = 2 * k + (0 if side == "left" else 1)
        return out
