"""A robot hand's own frame, size and handedness, measured on its model at rest.

Dyad's hand frame (dyad/skeletons.py) has +X from the wrist toward the middle finger and +Z out
of the back of the hand. +Y is "left when the palm faces down and the fingers point forward":
the thumb side of a right hand, the little-finger side of a left hand (a left hand is the mirror
image of the right one). The rotation from that frame to a robot's wrist frame is measured on
the robot at rest:

- X: wrist -> middle-finger base (MCP), or -> middle tip when no base frame is named;
- Y: across the palm, index base -> little-finger base (or the outermost finger there is),
  negated for a left hand, made orthogonal to X;
- Z = X x Y.

Handedness is then checked independently: starting to curl the four fingers must move their
tips toward the palm (-Z), and the thumb tip must lie on the thumb side (+Y right, -Y left). A hand that
fails is declared with the wrong side (or mislabelled fingers) and is refused, never mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.skeletons import HAND21_NAMES, HAND21_REST_RIGHT

HUMAN_HAND_LENGTH_M: float = float(np.linalg.norm(
    HAND21_REST_RIGHT[HAND21_NAMES.index("middle_tip")] - HAND21_REST_RIGHT[0]))
"""Wrist to middle fingertip of Dyad's standard adult hand, metres."""

TIP = {f: HAND21_NAMES.index(f"{f}_tip") for f in ("thumb", "index", "middle", "ring", "pinky")}
BASE = {"thumb": HAND21_NAMES.index("thumb_cmc"),
        **{f: HAND21_NAMES.index(f"{f}_mcp") for f in ("index", "middle", "ring", "pinky")}}


class HandednessError(ValueError):
    """The measured hand geometry contradicts the declared side (it would come out mirrored)."""


@dataclass(frozen=True)
class HandGeometry:
    """What is measured on a robot hand at rest.

    Attributes:
        rotation_hand_to_wrist: (3, 3) Dyad hand frame -> robot wrist frame.
        length_m: wrist to middle fingertip (or the mean fingertip distance without a middle).
        points_hand_m: hand21 index -> (3,) position in Dyad's hand frame, metres.
        origin_wrist_m: (3,) the hand-frame origin (the wrist keypoint) in the wrist frame.
    """

    rotation_hand_to_wrist: np.ndarray
    length_m: float
    points_hand_m: dict[int, np.ndarray]
    origin_wrist_m: np.ndarray

    @property
    def scale(self) -> float:
        """Robot hand length / human hand length."""
        return self.length_m / HUMAN_HAND_LENGTH_M


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n < 1e-6:
        raise HandednessError(f"cannot measure the hand frame: {what} has zero length")
    return v / n


def measure_hand(points_wrist_m: dict[int, np.ndarray], side: str) -> HandGeometry:
    """Hand frame, length and hand21 points from keypoint positions in the wrist frame.

    Args:
        points_wrist_m: hand21 index -> (3,) position in the robot wrist frame at rest; must hold
            the wrist (0), the middle tip or base, and two finger bases or tips across the palm.
        side: ``left`` or ``right``.
    """
    pts = {k: np.asarray(v, dtype=float) for k, v in points_wrist_m.items()}
    origin = pts[0]
    toward = pts.get(BASE["middle"], pts.get(TIP["middle"]))
    if toward is None:
        fingers = [pts[TIP[f]] for f in ("index", "ring", "pinky") if TIP[f] in pts]
        if not fingers:
            raise HandednessError("cannot measure the hand frame: no finger besides the thumb")
        toward = np.mean(fingers, axis=0)
    x = _unit(toward - origin, "wrist -> middle finger")
    across = None
    for kind in (BASE, TIP):
        radial = pts.get(kind["index"])
        ulnar = next((pts[kind[f]] for f in ("pinky", "ring", "middle") if kind[f] in pts), None)
        if radial is not None and ulnar is not None:
            across = radial - ulnar
            break
    if across is None:
        raise HandednessError("cannot measure the hand frame: need the index and another "
                              "finger (base or tip) to tell the thumb side")
    if side == "left":
        across = -across
    y = _unit(across - x * (x @ across), "across the palm")
    z = np.cross(x, y)
    rotation = np.column_stack([x, y, z])
    if TIP["middle"] in pts:
        length = float(np.linalg.norm(pts[TIP["middle"]] - origin))
    else:
        length = float(np.mean([np.linalg.norm(pts[TIP[f]] - origin) for f in TIP
                                if f != "thumb" and TIP[f] in pts]))
    hand_pts = {k: rotation.T @ (p - origin) for k, p in pts.items()}
    return HandGeometry(rotation, length, hand_pts, origin)


def check_handedness(geometry: HandGeometry, curled_wrist_m: dict[int, np.ndarray], side: str,
                     where: str = "") -> None:
    """Refuse a hand whose geometry says it is the other side.

    Args:
        geometry: the measured frame (``measure_hand``).
        curled_wrist_m: hand21 tip index -> (3,) tip position in the wrist frame with the
            fingers partly curled (finger joints moved part of the way to flexion).
        side: declared side.
        where: robot / hand named in the error.

    Raises:
        HandednessError: tips curl toward the back of the hand, or the thumb sits on the
            little-finger side.
    """
    rot, origin, rest = (geometry.rotation_hand_to_wrist, geometry.origin_wrist_m,
                         geometry.points_hand_m)
    moves = [rot.T @ (np.asarray(curled_wrist_m[TIP[f]], dtype=float) - origin) - rest[TIP[f]]
             for f in ("index", "middle", "ring", "pinky")
             if TIP[f] in curled_wrist_m and TIP[f] in rest]
    if moves:
        z_motion = float(np.mean([m[2] for m in moves]))
        if z_motion >= 0:
            raise HandednessError(
                f"{where}: curling the fingers moves the tips out of the back of the hand "
                f"(mean +Z {z_motion * 1000:.1f} mm) for a hand declared {side!r}; the model is "
                "probably the other hand, or its fingers are mislabelled")
    thumb = rest.get(TIP["thumb"])
    if thumb is not None:
        sign = 1.0 if side == "right" else -1.0
        if sign * thumb[1] <= 0:
            raise HandednessError(
                f"{where}: the thumb tip is on the little-finger side (hand-frame y = "
                f"{thumb[1] * 1000:.1f} mm) of a hand declared {side!r}")
