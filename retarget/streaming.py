"""Hand retargeting frame by frame (teleoperation) and over a whole clip (offline).

:class:`HandStreamer` turns one tracker frame into robot finger joints with
``step(keypoints) -> qpos``. It never raises on a bad frame: a frame with missing (NaN) keypoints,
the wrong shape, a mirrored-looking hand or a solver failure returns the last good pose and is
flagged in ``last_status``. Errors of set-up (a left hand for a right robot, an unknown
convention) raise when the streamer is built.

:func:`retarget_hand_motion` runs a whole clip through the same path and returns qpos, errors,
limit hits and a status per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from dyad.errors import DyadInputError
from dyad.skeletons import HAND21_NAMES

from .filters import LowPassFilter, OneEuroFilter
from .hand_ik import HandIK
from .input_conventions import (CONVENTIONS, MIRRORED_SCORE, HandSideError, check_hand_side,
                                chirality_score, hand_frame_rotation, to_hand_frame)


PALM_LENGTH_RANGE_M = (0.03, 0.3)
"""Accepted wrist-to-middle-MCP distance of a tracked hand (a child's hand to a generous glove)."""


class FrameStatus(str, Enum):
    """What happened to one frame."""

    OK = "ok"
    HELD_MISSING = "held_missing"        # no keypoints, or a NaN / inf one
    HELD_BAD_SHAPE = "held_bad_shape"    # not the convention's (J, 3) array
    HELD_MIRRORED = "held_mirrored"      # the hand looks like the other side's
    HELD_IMPLAUSIBLE = "held_implausible"  # collapsed keypoints or not metres (palm size)
    HELD_SOLVER_ERROR = "held_solver_error"  # the solver raised or returned non-finite joints


class HandStreamer:
    """Streaming retargeting of one tracked human hand onto one robot hand.

    Args:
        ik: the solver of the robot hand (its ``mapping.side`` is the robot hand's side).
        convention: input convention (see ``retarget/input_conventions.py``).
        side: which human hand the tracker follows (default: the robot hand's side); must
            match the robot hand.
        smoothing: optional :class:`LowPassFilter` or :class:`OneEuroFilter` on the solved
            joints (applied to the independent coordinates, so mimic couplings stay exact).
        check_mirrored: hold frames whose hand looks like the other side's.
    """

    def __init__(self, ik: HandIK, convention: str = "hand21", side: str | None = None,
                 smoothing: LowPassFilter | OneEuroFilter | None = None,
                 check_mirrored: bool = True):
        if convention not in CONVENTIONS:
            raise DyadInputError(f"unknown hand convention {convention!r}; known: "
                                 f"{', '.join(CONVENTIONS)}")
        self.ik = ik
        self.convention = convention
        self.side = side or ik.mapping.side
        check_hand_side(self.side, ik.mapping.side, robot="this robot")
        self.smoothing = smoothing
        self.check_mirrored = check_mirrored
        self.rest_qpos = ik.qpos_from_independent(ik.independent_rest)
        """What is returned before the first good frame."""
        self.last_qpos = self.rest_qpos.copy()
        self.last_status = FrameStatus.OK
        self.last_reason = ""
        """Why the last frame was held (empty when it was not)."""
        self.frames_seen = 0
        self.frames_held = 0

    def reset(self) -> None:
        """Start over: forget the warm start, the filter and the last pose."""
        self.ik.reset()
        if self.smoothing is not None:
            self.smoothing.reset()
        self.last_qpos = self.rest_qpos.copy()
        self.last_status = FrameStatus.OK
        self.last_reason = ""

    def calibrate(self, rest_keypoints: npt.ArrayLike) -> np.ndarray:
        """Per-finger scales from the operator's open flat hand, given in the streamer's
        convention (see :meth:`HandIK.calibrate`); raises on a bad pose (set-up, not a frame)."""
        return self.ik.calibrate(to_hand_frame(rest_keypoints, self.convention, self.side))

    def _hold(self, status: FrameStatus, reason: str) -> np.ndarray:
        self.last_status = status
        self.last_reason = reason
        self.frames_held += 1
        return self.last_qpos.copy()

    def hand_frame(self, keypoints: npt.ArrayLike) -> np.ndarray:
        """One frame converted to hand21 in Dyad's hand frame (raises on a bad frame)."""
        return to_hand_frame(keypoints, self.convention, self.side, check_mirrored=False)

    def step(self, keypoints: npt.ArrayLike | None) -> np.ndarray:
        """Robot hand joints (``ik.joint_names`` order) for one tracker frame.

        Never raises on the frame's content: a bad frame returns the last good pose and sets
        ``last_status`` (and ``last_reason``) accordingly.

        Args:
            keypoints: one frame in the streamer's convention, metres; ``None`` for a frame the
                tracker lost.
        """
        self.frames_seen += 1
        if keypoints is None:
            return self._hold(FrameStatus.HELD_MISSING, "no keypoints (tracker lost the hand)")
        try:
            raw = np.asarray(keypoints, dtype=np.float64)
            hand = self.hand_frame(raw)
        except (DyadInputError, ValueError, TypeError) as exc:
            return self._hold(FrameStatus.HELD_BAD_SHAPE, str(exc))
        if hand.shape != (21, 3):
            return self._hold(FrameStatus.HELD_BAD_SHAPE,
                              f"one frame expected, got keypoints of shape {np.shape(keypoints)}")
        # Any non-finite keypoint holds the frame: a tracker that loses one joint is unsure of
        # the others, and the palm frame estimate mixes several.
        finite = np.isfinite(hand).all(axis=1)
        if not finite.all():
            missing = [HAND21_NAMES[j] for j in np.flatnonzero(~finite)]
            return self._hold(FrameStatus.HELD_MISSING, f"non-finite keypoints {missing}")
        # Wrist to middle-finger base is ~0.08-0.10 m on adults; a collapsed detection (every
        # keypoint at the wrist) or centimetres/millimetres would drive the robot to nonsense.
        palm_m = float(np.linalg.norm(hand[9] - hand[0]))
        if not PALM_LENGTH_RANGE_M[0] <= palm_m <= PALM_LENGTH_RANGE_M[1]:
            return self._hold(FrameStatus.HELD_IMPLAUSIBLE,
                              f"wrist to middle MCP is {palm_m:.4g} m, expected "
                              f"{PALM_LENGTH_RANGE_M[0]}-{PALM_LENGTH_RANGE_M[1]} m (keypoints "
                              "collapsed, or not in metres)")
        if self.check_mirrored:
            local = hand @ hand_frame_rotation(hand, self.side)
            score = float(chirality_score(local))
            if score < MIRRORED_SCORE:
                return self._hold(FrameStatus.HELD_MIRRORED,
                                  f"hand looks mirrored (palm-side score {score:.2f})")
        try:
            qpos = self.ik.solve(hand, check=False)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not stop a teleop loop
            self.ik.reset(self.last_qpos)
            return self._hold(FrameStatus.HELD_SOLVER_ERROR, f"{type(exc).__name__}: {exc}")
        if not np.isfinite(qpos).all():
            self.ik.reset(self.last_qpos)
            return self._hold(FrameStatus.HELD_SOLVER_ERROR, "solver returned non-finite joints")
        if self.smoothing is not None:
            x = self.smoothing(self.ik.independent_from_qpos(qpos))
            qpos = self.ik.qpos_from_independent(x)
        self.last_qpos = qpos
        self.last_status = FrameStatus.OK
        self.last_reason = ""
        return qpos.copy()


@dataclass
class HandMotionResult:
    """A clip retargeted onto one robot hand.

    Attributes:
        qpos: (T, n) joints, ``joint_names`` order (held frames repeat the last good pose).
        joint_names: robot hand joint names.
        fps: frame rate of the clip.
        status: (T,) :class:`FrameStatus` values as strings.
        vector_error_m: (T,) mean vector error of each frame (NaN on held frames).
        fingertip_error_m: (T,) mean fingertip error of each frame (NaN on held frames).
        limit_hits: (T,) number of independent joints on a limit after each solve.
        reasons: frame index -> why it was held.
    """

    qpos: np.ndarray
    joint_names: tuple[str, ...]
    fps: float
    status: np.ndarray
    vector_error_m: np.ndarray
    fingertip_error_m: np.ndarray
    limit_hits: np.ndarray
    reasons: dict[int, str]

    @property
    def ok(self) -> np.ndarray:
        """(T,) True where the frame was solved, not held."""
        return self.status == FrameStatus.OK.value


def retarget_hand_motion(keypoints: npt.ArrayLike, ik: HandIK, convention: str = "hand21",
                         side: str | None = None, fps: float = 30.0,
                         smoothing: LowPassFilter | OneEuroFilter | None = None
                         ) -> HandMotionResult:
    """Retarget a whole clip of one hand, frame after frame with warm starts.

    The clip as a whole must be well formed (shape, side, not mirrored: those raise); single
    bad frames (NaN keypoints) are held and flagged, as in streaming.

    Args:
        keypoints: (T, J, 3) frames in ``convention``, metres.
        ik: the robot hand's solver (reset first: the clip starts cold).
        convention: input convention (see ``retarget/input_conventions.py``).
        side: which human hand this is (default: the robot hand's side).
        fps: frame rate of the clip.
        smoothing: optional filter on the solved joints.

    Raises:
        DyadInputError: wrong shape, unknown convention.
        HandSideError: a hand of the other side, or a clip that looks mirrored.
    """
    arr = np.asarray(keypoints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3 or arr.shape[0] == 0:
        raise DyadInputError(f"hand clip: expected shape (T, J, 3) with T >= 1, got {arr.shape}")
    side = side or ik.mapping.side
    check_hand_side(side, ik.mapping.side, robot="this robot")
    # Whole-clip checks: shape for the convention and chirality (median over good frames).
    good = np.isfinite(arr).all(axis=(1, 2))
    if good.any():
        to_hand_frame(arr[good], convention, side, check_mirrored=True)
    else:
        to_hand_frame(np.nan_to_num(arr[:1]), convention, side, check_mirrored=False)
    ik.reset()
    streamer = HandStreamer(ik, convention, side, smoothing, check_mirrored=False)
    T = arr.shape[0]
    qpos = np.zeros((T, len(ik.joint_names)))
    status = np.empty(T, dtype=object)
    vec_err = np.full(T, np.nan)
    tip_err = np.full(T, np.nan)
    hits = np.zeros(T, dtype=int)
    reasons: dict[int, str] = {}
    for t in range(T):
        qpos[t] = streamer.step(arr[t])
        status[t] = streamer.last_status.value
        if streamer.last_status is FrameStatus.OK:
            hand = streamer.hand_frame(arr[t])
            errors = ik.errors(qpos[t], hand)
            vec_err[t] = errors["vector_error_m"]
            tip_err[t] = errors["fingertip_error_m"]
            hits[t] = ik.info.limit_hits
        else:
            reasons[t] = streamer.last_reason
    return HandMotionResult(qpos, ik.joint_names, float(fps), status.astype(str), vec_err,
                            tip_err, hits, reasons)


__all__ = ["FrameStatus", "HandStreamer", "HandMotionResult", "retarget_hand_motion",
           "HandSideError"]
