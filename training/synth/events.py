"""Kinematic events read from a clip's joints: what captions are made of.

HandX-style captioning (seeds/003) first turns raw joints into structured kinematic features
and time-stamped events, and only then into words. This module is that first step. It reads
the joint positions only: the clip's contact intervals contribute the *names* of the parts
worth watching, never their frames, so an event is reported when the joints show it.

Events, in frames of the clip (``start`` inclusive, ``end`` exclusive):

================  ========================================================================
kind              meaning
================  ========================================================================
``contact_on``    two named parts come within touching distance (``agent``/``part`` and
                  ``other_agent``/``other_part``); ``value``: closest distance in metres
``contact_off``   the same two parts separate again
``approach``      the agents (pelvises in duet, wrists in bimanual) get closer; ``value``:
                  change of distance in metres (negative)
``retreat``       they move apart; ``value``: change of distance (positive)
``close_hand``    a hand's mean finger curl goes from open to closed; ``value``: radians
``open_hand``     closed to open
``finger_curl``   one finger (``part``) curls while the rest of the hand does not close
``finger_extend`` one finger straightens while the rest of the hand does not open
================  ========================================================================

Besides events, :class:`ClipEvents` holds clip-wide figures: speed class from wrist speed,
which agent moves more (``lead``), who starts moving first, a repetition count, the hand
shapes at the key moment and the distance between the agents at start, end and closest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from dyad.motion import MotionRecord
from dyad.skeletons import FINGERS, contact_part_joints, get_skeleton

EVENT_KINDS: tuple[str, ...] = (
    "contact_on", "contact_off", "approach", "retreat", "close_hand", "open_hand",
    "finger_curl", "finger_extend",
)
SPEEDS: tuple[str, ...] = ("slow", "moderate", "fast")

# Surface offset of each contact part from its joint centres, metres: joints sit inside the
# flesh, so two parts touch when their joints are about the sum of these apart. ("head" holds
# the neck joint too, hence less than a head's half-width.)
PART_RADIUS_M: dict[str, float] = {
    "palm": 0.018, "fingers": 0.010, "fingertips": 0.008, "thumb_tip": 0.009,
    "index_tip": 0.008, "middle_tip": 0.008, "ring_tip": 0.008, "pinky_tip": 0.008,
    "hand": 0.012, "head": 0.07, "torso": 0.11, "shoulder": 0.05, "arm": 0.04,
    "forearm": 0.035, "foot": 0.04,
}
CONTACT_MARGIN_M = 0.015
"""Extra gap still counted as touching (joint noise, soft tissue)."""
CONTACT_RELEASE_M = 0.015
"""Hysteresis: a contact ends only once the gap exceeds the onset threshold by this much (or
by a quarter of the onset threshold, if less: fingertips pinching again and again open by
only a few centimetres)."""
MIN_CONTACT_FRAMES = 2
MAX_CONTACT_GAP_FRAMES = 2

# Mean curl (sum of the three joint bends, averaged over index..pinky) of an open and a closed
# hand: a relaxed hand is ~1.0 rad, a cupped one ~1.25, a grip ~2.6, a fist ~4.05.
HAND_OPEN_BELOW_RAD = 1.5
HAND_CLOSED_ABOVE_RAD = 2.4
FINGER_EXTENDED_BELOW_RAD = 0.9
FINGER_CURLED_ABOVE_RAD = 2.2


@dataclass(frozen=True)
class ModeThresholds:
    """Per-mode scales: a duet moves bodies across metres, a bimanual clip moves hands by cm.

    Attributes:
        approach_speed_mps: distance rate that counts as approaching or retreating.
        approach_min_change_m: smallest net distance change reported as an event.
        slow_below_mps: 90th-percentile wrist speed under which a clip is ``slow``.
        fast_above_mps: ... over which it is ``fast``.
        onset_speed_mps: mean joint speed at which an agent counts as moving.
        oscillation_min_m: smallest peak-to-peak swing counted as a repetition.
    """

    approach_speed_mps: float
    approach_min_change_m: float
    slow_below_mps: float
    fast_above_mps: float
    onset_speed_mps: float
    oscillation_min_m: float


# Speed classes split the procedural clips into rough thirds (90th-percentile wrist speed over
# 400 clips per mode: duet tertiles 0.9 / 1.65 m/s, bimanual 0.28 / 0.42 m/s); within a label,
# the measure follows the generator's tempo (correlation 0.6-0.7).
THRESHOLDS: dict[str, ModeThresholds] = {
    "duet": ModeThresholds(0.12, 0.25, 0.9, 1.65, 0.15, 0.08),
    "bimanual": ModeThresholds(0.04, 0.04, 0.28, 0.42, 0.05, 0.03),
}


@dataclass(frozen=True)
class KinematicEvent:
    """One event, frames ``[start, end)``; see the module docstring for kinds and values."""

    kind: str
    start: int
    end: int
    agent: str
    part: str = ""
    other_agent: str = ""
    other_part: str = ""
    value: float = 0.0

    def time_s(self, fps: float) -> float:
        """Start time in seconds."""
        return self.start / fps

    def as_dict(self) -> dict:
        d = asdict(self)
        d["value"] = round(float(self.value), 4)
        return d


@dataclass(frozen=True)
class DetectedContact:
    """Two parts touching during frames ``[start, end)``, as measured from the joints."""

    agent_a: str
    part_a: str
    agent_b: str
    part_b: str
    start: int
    end: int
    min_distance_m: float
    declared: bool
    """The pair was named by the clip's own contact list (rather than found by the scan)."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.agent_a, self.part_a, self.agent_b, self.part_b)


@dataclass(frozen=True)
class HandShape:
    """Finger state of one hand at the clip's key moment.

    Attributes:
        agent: agent that owns the hand (``A``, ``left``...).
        side: ``left`` or ``right``.
        extended: fingers (thumb..pinky) that are straight.
        curled: fingers that are curled.
        curl_rad: mean curl of index..pinky in radians.
        state: ``open``, ``closed`` or ``partly closed``.
    """

    agent: str
    side: str
    extended: tuple[str, ...]
    curled: tuple[str, ...]
    curl_rad: float
    state: str


@dataclass(frozen=True)
class ClipEvents:
    """Everything :func:`extract_events` measured on one clip."""

    mode: str
    fps: float
    num_frames: int
    agents: tuple[str, ...]
    events: tuple[KinematicEvent, ...]
    contacts: tuple[DetectedContact, ...]
    speed: str
    wrist_speed_mps: float
    lead: str
    """Agent that moves clearly more (path length), or ``both``."""
    activity_m: dict[str, float]
    """Mean joint path length of each agent in metres."""
    first_mover: str
    """Agent that starts moving first, or ``both``."""
    repetitions: int
    cycles: dict[str, int]
    """Repetition counts per channel (see :func:`_cycles`); ``repetitions`` picks one."""
    hand_shapes: tuple[HandShape, ...]
    distance_start_m: float
    distance_end_m: float
    distance_min_m: float
    key_frame: int

    def of_kind(self, *kinds: str) -> list[KinematicEvent]:
        """Events of the given kinds in time order."""
        return [e for e in self.events if e.kind in kinds]

    def as_dict(self) -> dict:
        """JSON-ready summary (stored in each clip's ``meta["kinematics"]``)."""
        return {
            "speed": self.speed, "wrist_speed_mps": round(self.wrist_speed_mps, 4),
            "lead": self.lead, "first_mover": self.first_mover,
            "activity_m": {k: round(v, 4) for k, v in self.activity_m.items()},
            "repetitions": self.repetitions, "cycles": dict(self.cycles),
            "distance_m": [round(self.distance_start_m, 4), round(self.distance_end_m, 4),
                           round(self.distance_min_m, 4)],
            "key_frame": self.key_frame,
            "hand_shapes": [{"agent": h.agent, "side": h.side, "state": h.state,
                             "extended": list(h.extended), "curl_rad": round(h.curl_rad, 3)}
                            for h in self.hand_shapes],
            "events": [e.as_dict() for e in self.events],
        }


# ---------------------------------------------------------------------------------------------
# helpers on 1-D signals


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge padding (keeps the length)."""
    n = x.shape[0]
    if window <= 1 or n < 3:
        return x
    window = min(window, n)
    window -= 1 - window % 2  # odd, so the average is centred
    half = window // 2
    xp = np.concatenate([np.repeat(x[:1], half, axis=0), x, np.repeat(x[-1:], half, axis=0)])
    c = np.cumsum(xp, axis=0, dtype=np.float64)
    out = np.empty((n,) + x.shape[1:])
    out[0] = c[window - 1]
    out[1:] = c[window:] - c[:-window]
    return out / window


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _merge(runs: list[tuple[int, int]], max_gap: int) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in runs:
        if out and s - out[-1][1] <= max_gap:
            out[-1][1] = e
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _hysteresis_runs(core: np.ndarray, extended: np.ndarray) -> list[tuple[int, int]]:
    """Schmitt trigger: from the first ``core`` frame of each run of ``extended`` to that
    run's end (onset at the strict threshold, release at the loose one)."""
    out = []
    for s, e in _runs(extended):
        hit = np.flatnonzero(core[s:e])
        if hit.size:
            out.append((s + int(hit[0]), e))
    return out


def _state_track(signal: np.ndarray, low: float, high: float) -> np.ndarray:
    """-1 below ``low``, +1 above ``high``, and in between the last state held (0 at first)."""
    raw = np.where(signal < low, -1, np.where(signal > high, 1, 0))
    idx = np.where(raw != 0, np.arange(raw.size), -1)
    idx = np.maximum.accumulate(idx)
    return np.where(idx >= 0, raw[np.maximum(idx, 0)], 0)


def _transitions(state: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(from_state, to_state, last frame of the old state, first frame of the new one)."""
    nz = np.flatnonzero(state != 0)
    if nz.size < 2:
        return []
    vals = state[nz]
    change = np.flatnonzero(vals[1:] != vals[:-1])
    return [(int(vals[k]), int(vals[k + 1]), int(nz[k]), int(nz[k + 1])) for k in change]


# ---------------------------------------------------------------------------------------------
# hands


def hand_joint_indices(skeleton: str) -> dict[str, np.ndarray]:
    """hand21-ordered joint indices of each hand (``left``/``right``) in one agent's joints.

    For ``hand21`` the one hand of the agent is returned under both keys.
    """
    skel = get_skeleton(skeleton)
    if skeleton == "hand21":
        idx = np.arange(21)
        return {"left": idx, "right": idx}
    if skeleton != "body22+hands":
        return {}
    out = {}
    for side, p in (("left", "l_"), ("right", "r_")):
        names = [f"{p}wrist"] + [f"{p}{f}_{j}" for f in FINGERS
                                 for j in (("cmc", "mcp", "ip", "tip") if f == "thumb"
                                           else ("mcp", "pip", "dip", "tip"))]
        out[side] = np.array([skel.index(n) for n in names])
    return out


def finger_curl(hand: np.ndarray) -> np.ndarray:
    """Curl (..., 5) in radians of thumb..pinky of hand21 points (..., 21, 3).

    A finger's curl is the sum of the bend angles between its consecutive bones, starting at
    the wrist-to-base bone: 0 for a straight finger, about 4 for a finger in a fist.
    """
    chains = np.array([[0, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f] for f in range(5)])
    pts = hand[..., chains, :]  # (..., 5, 5, 3)
    bones = np.diff(pts, axis=-2)
    bones = bones / np.maximum(np.linalg.norm(bones, axis=-1, keepdims=True), 1e-9)
    cos = np.clip((bones[..., :-1, :] * bones[..., 1:, :]).sum(-1), -1.0, 1.0)
    return np.arccos(cos).sum(-1)


def _hands(record: MotionRecord) -> list[tuple[str, str, np.ndarray]]:
    """(agent, side, (T, 21, 3) points) for every hand in the clip."""
    idx = hand_joint_indices(record.skeleton)
    if record.skeleton == "hand21":
        return [(a, a if a in ("left", "right") else "right", record.joints[:, i])
                for i, a in enumerate(record.agents)]
    return [(a, side, record.joints[:, i][:, idx[side]])
            for i, a in enumerate(record.agents) for side in ("left", "right") if side in idx]


def _hand_part(record: MotionRecord, side: str) -> str:
    return "hand" if record.skeleton == "hand21" else f"{side}_hand"


def _flexion_events(record: MotionRecord, curls: dict) -> list[KinematicEvent]:
    events: list[KinematicEvent] = []
    smooth = max(1, int(round(0.1 * record.fps)))
    for (agent, side), curl in curls.items():
        part = _hand_part(record, side)
        mean = _smooth(curl[:, 1:].mean(axis=1), smooth)
        hand_changes = []
        span = curl.max(axis=0) - curl.min(axis=0)
        if span.max() < FINGER_CURLED_ABOVE_RAD - FINGER_EXTENDED_BELOW_RAD:
            continue  # no finger changes state, so neither does the hand
        for old, new, last, first in _transitions(
                _state_track(mean, HAND_OPEN_BELOW_RAD, HAND_CLOSED_ABOVE_RAD)):
            kind = "close_hand" if new > old else "open_hand"
            hand_changes.append((kind, last, first))
            events.append(KinematicEvent(kind, last, first + 1, agent, part,
                                         value=float(mean[first] - mean[last])))
        window = int(round(0.4 * record.fps))
        for f, finger in enumerate(FINGERS):
            if span[f] < FINGER_CURLED_ABOVE_RAD - FINGER_EXTENDED_BELOW_RAD:
                continue
            track = _state_track(_smooth(curl[:, f], smooth),
                                 FINGER_EXTENDED_BELOW_RAD, FINGER_CURLED_ABOVE_RAD)
            for old, new, last, first in _transitions(track):
                kind = "finger_curl" if new > old else "finger_extend"
                whole = "close_hand" if new > old else "open_hand"
                # A whole-hand change already says it; per-finger events are for single digits.
                if any(k == whole and abs(first - hf) <= window for k, _, hf in hand_changes):
                    continue
                events.append(KinematicEvent(kind, last, first + 1, agent,
                                             f"{part}:{finger}",
                                             value=float(curl[first, f] - curl[last, f])))
    return events


def _hand_shapes(record: MotionRecord, curls: dict, frame: int) -> tuple[HandShape, ...]:
    shapes = []
    for (agent, side), curl in curls.items():
        c = curl[frame]
        mean = float(c[1:].mean())
        # Only clear cases count: a finger half bent is neither extended nor curled. The
        # thumb bends less than the fingers even when tucked, so its limits are looser.
        ext = [FINGERS[f] for f in range(5) if c[f] < (0.6 if f else 0.9)]
        cur = [FINGERS[f] for f in range(5) if c[f] > (2.4 if f else 1.4)]
        state = ("open" if mean < HAND_OPEN_BELOW_RAD else
                 "closed" if mean > HAND_CLOSED_ABOVE_RAD else "partly closed")
        shapes.append(HandShape(agent, side, tuple(ext), tuple(cur), mean, state))
    return tuple(shapes)


# ---------------------------------------------------------------------------------------------
# contacts


def _part_radius(part: str) -> float:
    base = part.split(":")[0]
    for side in ("left_", "right_"):
        if base.startswith(side):
            base = base[len(side):]
    return PART_RADIUS_M.get(base, 0.02)


def _region(skeleton: str, part: str) -> str:
    """Coarse body region of a part, to avoid reporting the same touch twice."""
    if skeleton == "hand21":
        return "hand" if part in ("palm", "fingertips", "hand", "fingers") else "digits"
    for side in ("left", "right"):
        if part.startswith(side + "_"):
            rest = part[len(side) + 1:]
            if rest == "arm":
                return f"{side}_arm"
            if rest == "forearm":  # it ends at the wrist: palms touching bring forearms close
                return f"{side}_hand"
            if rest in ("shoulder", "foot"):
                return part
            if rest in ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip"):
                return f"{side}_digits"
            return f"{side}_hand"
    return part


def scan_pairs(record: MotionRecord) -> list[tuple[str, str, str, str]]:
    """Part pairs checked for contact in every clip of this kind, in priority order."""
    agents = record.agents
    if len(agents) != 2:
        return []
    a, b = agents
    if record.skeleton == "hand21":
        # Thumb-index touches within each hand (pinch, OK sign) come after the two-hand pairs.
        return [(a, "palm", b, "palm"), (a, "fingertips", b, "fingertips"),
                (a, "hand", b, "hand"), (a, "thumb_tip", a, "index_tip"),
                (b, "thumb_tip", b, "index_tip")]
    if record.skeleton != "body22+hands":
        return []
    pairs = [(a, f"{sa}_hand", b, f"{sb}_hand") for sa in ("right", "left")
             for sb in ("right", "left")]
    pairs += [(x, f"{side}_thumb_tip", x, f"{side}_index_tip") for x in (a, b)
              for side in ("right", "left")]
    pairs += [(x, "left_palm", x, "right_palm") for x in (a, b)]  # clapping one's hands
    for x, y in ((a, b), (b, a)):
        for side in ("right", "left"):
            for target in ("right_shoulder", "left_shoulder", "torso", "head"):
                pairs.append((x, f"{side}_hand", y, target))
    pairs += [(a, f"{sa}_forearm", b, f"{sb}_forearm") for sa in ("right", "left")
              for sb in ("right", "left")]
    return pairs


@lru_cache(maxsize=None)
def _part_index(skeleton: str, part: str) -> np.ndarray:
    return np.asarray(contact_part_joints(skeleton, part))


def _pair_distance(record: MotionRecord, agent_a: str, part_a: str, agent_b: str,
                   part_b: str, cutoff_m: float = np.inf, cache: dict | None = None
                   ) -> np.ndarray:
    """(T,) smallest joint-to-joint distance between two parts; frames where the parts are
    certainly farther apart than ``cutoff_m`` may hold any value above it (they are skipped
    with a centroid bound, which keeps the scan of many pairs cheap)."""
    cache = {} if cache is None else cache

    def part(agent: str, name: str):
        key = (agent, name)
        if key not in cache:
            pts = record.joints[:, record.agent_index(agent)][:, _part_index(record.skeleton,
                                                                             name)]
            centre = pts.mean(axis=1)
            radius = np.sqrt(((pts - centre[:, None]) ** 2).sum(-1)).max(axis=1)
            cache[key] = (pts, centre, radius)
        return cache[key]

    pa, ca, ra = part(agent_a, part_a)
    pb, cb, rb = part(agent_b, part_b)
    lower = np.sqrt(((ca - cb) ** 2).sum(-1)) - ra - rb
    out = lower.astype(np.float64)
    near = np.flatnonzero(lower <= cutoff_m)
    if near.size:
        diff = pa[near][:, :, None, :] - pb[near][:, None, :, :]
        out[near] = np.sqrt((diff * diff).sum(-1).reshape(near.size, -1).min(axis=1))
    return out


def detect_contacts(record: MotionRecord) -> list[DetectedContact]:
    """Contacts measured from the joints: the clip's declared part pairs first, then a scan of
    :func:`scan_pairs`; a scanned touch of a region pair already reported at overlapping
    frames is dropped."""
    candidates: list[tuple[tuple[str, str, str, str], bool]] = []
    seen = set()
    for c in record.contacts:
        key = (c.agent_a, c.part_a, c.agent_b, c.part_b)
        if key not in seen:
            seen.add(key)
            candidates.append((key, True))
    for key in scan_pairs(record):
        rev = (key[2], key[3], key[0], key[1])
        if key not in seen and rev not in seen:
            seen.add(key)
            candidates.append((key, False))

    accepted: list[DetectedContact] = []
    taken: dict[tuple, list[tuple[int, int]]] = {}
    parts_cache: dict = {}
    for (aa, pa, ab, pb), declared in candidates:
        try:
            onset = _part_radius(pa) + _part_radius(pb) + CONTACT_MARGIN_M
            release = onset + min(CONTACT_RELEASE_M, 0.25 * onset)
            dist = _pair_distance(record, aa, pa, ab, pb, release, parts_cache)
        except KeyError:
            continue  # a declared part this skeleton cannot resolve: nothing to measure
        if float(dist.min()) >= onset:
            continue
        runs = _hysteresis_runs(dist < onset, dist < release)
        runs = [(s, e) for s, e in _merge(runs, MAX_CONTACT_GAP_FRAMES)
                if e - s >= MIN_CONTACT_FRAMES]
        if not declared:
            # A pair nobody said would touch must come clearly together (surfaces overlapping,
            # not merely within the margin) to be reported.
            runs = [(s, e) for s, e in runs if dist[s:e].min() <= onset - CONTACT_MARGIN_M]
        ends = [(aa, _region(record.skeleton, pa)), (ab, _region(record.skeleton, pb))]
        region = tuple(sorted(ends))
        # A scanned touch is also dropped where the same hand already touches the same other
        # agent then (a push on the chest is not also told as a touch of the shoulder).
        busy = [(agent, reg, other) for (agent, reg), other in zip(ends, (ab, aa))
                if reg.endswith("hand") and agent != other]
        for s, e in runs:
            keys = [region] + ([] if declared else busy)
            if any(s < e2 and s2 < e for k in keys for s2, e2 in taken.get(k, [])):
                continue
            for k in [region] + busy:
                taken.setdefault(k, []).append((s, e))
            accepted.append(DetectedContact(aa, pa, ab, pb, s, e, float(dist[s:e].min()),
                                            declared))
    accepted.sort(key=lambda c: (c.start, c.end))
    return accepted


# ---------------------------------------------------------------------------------------------
# distance, activity, speed, repetitions


def _anchor_positions(record: MotionRecord) -> np.ndarray:
    """(T, A, 3) the point that stands for each agent: pelvis in duet, wrist in bimanual."""
    return record.joints[:, :, 0]  # pelvis is joint 0 of body22(+hands); wrist of hand21


def _wrists(record: MotionRecord) -> np.ndarray:
    """(T, W, 3) every wrist, relative to the owner's pelvis for bodies (gesture, not gait)."""
    if record.skeleton == "hand21":
        return record.joints[:, :, 0]
    skel = get_skeleton(record.skeleton)
    w = [skel.index("l_wrist"), skel.index("r_wrist")]
    rel = record.joints[:, :, w] - record.joints[:, :, :1]
    return rel.reshape(rel.shape[0], -1, 3)


def _swings(signal: np.ndarray, min_swing: float) -> tuple[int, int]:
    """(peaks, dips) of a 1-D signal: turning points that stand out by ``min_swing`` from the
    turning point before (a zigzag filter, so a slow drift does not count). The start of the
    signal is not a turning point; the end is one if the signal got there by a full swing."""
    if signal.size < 2 or float(signal.max() - signal.min()) < min_swing:
        return 0, 0  # cannot hold a single swing (most channels of a still hand)
    kinds: list[int] = []  # +1 peak, -1 dip
    start = float(signal[0])
    hi = lo = start
    trend = 0
    for v in signal[1:].tolist():
        if trend >= 0 and v > hi:
            hi = v
        if trend <= 0 and v < lo:
            lo = v
        if trend >= 0 and hi - v >= min_swing and (trend == 1 or hi - start >= min_swing):
            kinds.append(1)
            trend, lo = -1, v
        elif trend <= 0 and v - lo >= min_swing and (trend == -1 or start - lo >= min_swing):
            kinds.append(-1)
            trend, hi = 1, v
        elif trend == 0 and abs(v - start) >= min_swing:
            trend = 1 if v > start else -1
            hi = lo = v
    if trend == 1:
        kinds.append(1)  # the swing up that the clip ends on
    elif trend == -1:
        kinds.append(-1)
    return kinds.count(1), kinds.count(-1)


def _principal(x: np.ndarray) -> np.ndarray:
    """(T,) a (T, 3) trajectory projected on its direction of largest spread."""
    c = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    return c @ vt[0]


def _cycles(record: MotionRecord, dist: np.ndarray, contacts, curls: dict,
            th: "ModeThresholds") -> dict[str, int]:
    """Repetition counts read from several channels of the clip (only the non-zero ones).

    ``contacts``: touches of the most-touched pair; ``distance``: dips of the distance between
    the agents; ``slide`` (bimanual): swings of one wrist past the other during the longest
    contact; per hand ``<agent>:<side>:wrist`` swings of the wrist (relative to the body),
    ``...:turn`` swings of the hand's orientation, ``...:curl`` closings of the hand,
    ``...:fingers`` bends of the finger that moves most, ``...:pinch`` dips of the
    thumb-index gap. (High-passed channels were tried and dropped: the start and end of a reach read as
    extra swings, so they confirm any count.)
    """
    out: dict[str, int] = {}
    per_pair = Counter((c.agent_a, _region(record.skeleton, c.part_a), c.agent_b,
                        _region(record.skeleton, c.part_b)) for c in contacts)
    if per_pair:
        out["contacts"] = max(per_pair.values())
    if dist.size > 2:
        out["distance"] = _swings(dist, th.approach_min_change_m)[1]
    longest = max(contacts, key=lambda c: c.end - c.start) if contacts else None
    if longest is not None and longest.end - longest.start >= 0.5 * record.fps:
        span = slice(longest.start, longest.end)
        if record.skeleton == "hand21":
            # One palm sliding over the other (rubbing) moves the wrists past each other
            # while they stay in contact.
            rel = (record.joints[span, 0, 0].astype(np.float64) - record.joints[span, 1, 0])
            out["slide"] = _swings(_principal(rel), 0.5 * th.oscillation_min_m)[0]
    smooth = max(1, int(round(0.1 * record.fps)))
    for agent, side, pts in _hands(record):
        pts = pts.astype(np.float64)
        key = f"{agent}:{side}"
        wrist = pts[:, 0]
        if record.skeleton != "hand21":
            wrist = wrist - record.joints[:, record.agent_index(agent), 0]
        per_finger = curls[(agent, side)]
        if float(np.ptp(wrist, axis=0).max()) < th.oscillation_min_m and \
                float(np.ptp(per_finger, axis=0).max()) < 0.5:
            continue  # a hand that hardly moves has nothing to count (saves most duet hands)
        out[f"{key}:wrist"] = _swings(_smooth(_principal(wrist), smooth), th.oscillation_min_m)[0]
        across = pts[:, 17] - pts[:, 5]  # index to pinky base: turns with the hand
        across /= np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-9)
        out[f"{key}:turn"] = _swings(_smooth(_principal(across), smooth), 0.25)[0]
        busiest = int(np.argmax(per_finger.max(axis=0) - per_finger.min(axis=0)))
        out[f"{key}:fingers"] = _swings(_smooth(per_finger[:, busiest], smooth), 0.5)[0]
        curl = curls[(agent, side)][:, 1:].mean(axis=1)
        out[f"{key}:curl"] = _swings(_smooth(curl, smooth), 0.6)[0]
        gap = np.linalg.norm(pts[:, 4] - pts[:, 8], axis=-1)
        out[f"{key}:pinch"] = _swings(_smooth(gap, smooth), 0.02)[1]
    return {k: int(v) for k, v in out.items() if v}


def extract_events(record: MotionRecord) -> ClipEvents:
    """Measure the kinematic events and clip-wide figures of one clip.

    Args:
        record: a duet (``body22+hands``, agents A and B) or bimanual (``hand21``, agents
            left and right) clip; other layouts get what applies (contacts need two agents).

    Returns:
        :class:`ClipEvents` with events in time order.
    """
    mode = record.mode if record.mode in THRESHOLDS else (
        "bimanual" if record.skeleton == "hand21" else "duet")
    th = THRESHOLDS[mode]
    fps = float(record.fps)
    t = record.num_frames
    joints = record.joints.astype(np.float64)
    smooth_n = max(1, int(round(0.15 * fps)))
    events: list[KinematicEvent] = []

    # Contacts.
    contacts = detect_contacts(record)
    for c in contacts:
        events.append(KinematicEvent("contact_on", c.start, c.start + 1, c.agent_a, c.part_a,
                                     c.agent_b, c.part_b, c.min_distance_m))
        if c.end < t:  # a touch that lasts to the last frame never ends inside the clip
            events.append(KinematicEvent("contact_off", c.end, c.end + 1, c.agent_a, c.part_a,
                                         c.agent_b, c.part_b, c.min_distance_m))

    # Approach / retreat from the distance between the agents' anchors.
    anchors = _anchor_positions(record).astype(np.float64)
    if record.skeleton != "hand21":
        anchors = anchors[..., :2]  # bodies: ground-plane distance, not crouching
    if anchors.shape[1] == 2:
        dist = _smooth(np.linalg.norm(anchors[:, 0] - anchors[:, 1], axis=-1), smooth_n)
    else:
        dist = np.zeros(t)
    rate = np.gradient(dist) * fps if t > 1 else np.zeros(t)
    for kind, mask in (("approach", rate < -th.approach_speed_mps),
                       ("retreat", rate > th.approach_speed_mps)):
        for s, e in _merge(_runs(mask), max(1, int(round(0.4 * fps)))):
            change = float(dist[min(e, t - 1)] - dist[s])
            if abs(change) >= th.approach_min_change_m:
                # Name who walked: the agent whose anchor covered most of the change.
                moved = np.linalg.norm(anchors[min(e, t - 1)] - anchors[s], axis=-1)
                who = record.agents[int(np.argmax(moved))] if anchors.shape[1] == 2 and \
                    moved.min() < 0.35 * moved.max() else ""
                events.append(KinematicEvent(kind, s, e, who, value=change,
                                             other_agent="" if not who else
                                             record.agents[1 - record.agent_index(who)]))

    # Fingers.
    hands = _hands(record)
    curls = {(agent, side): finger_curl(pts.astype(np.float64)) for agent, side, pts in hands}
    events += _flexion_events(record, curls)

    # Activity and lead: mean joint path length per agent, on lightly smoothed joints.
    sm = _smooth(joints, smooth_n)
    step = np.linalg.norm(np.diff(sm, axis=0), axis=-1) if t > 1 else np.zeros((1,) + sm.shape[1:3])
    activity = {a: float(step[:, i].sum(axis=0).mean()) for i, a in enumerate(record.agents)}
    lead = "both"
    if len(record.agents) == 2:
        (a0, v0), (a1, v1) = activity.items()
        if max(v0, v1) > 1.3 * min(v0, v1) + 1e-3:
            lead = a0 if v0 > v1 else a1
    elif record.agents:
        lead = record.agents[0]

    # First mover: first frame each agent's mean joint speed passes the onset speed.
    speed_agent = step.mean(axis=2) * fps  # (T-1, A)
    onsets = {}
    for i, a in enumerate(record.agents):
        moving = np.flatnonzero(speed_agent[:, i] > th.onset_speed_mps)
        onsets[a] = int(moving[0]) if moving.size else None
    first_mover = "both"
    started = {a: f for a, f in onsets.items() if f is not None}
    if len(started) == 1 and len(record.agents) == 2:
        first_mover = next(iter(started))
    elif len(started) == 2:
        (a0, f0), (a1, f1) = started.items()
        if abs(f0 - f1) >= max(2, int(round(0.15 * fps))):
            first_mover = a0 if f0 < f1 else a1

    # Speed class from the fastest wrist's 90th-percentile speed.
    wrists = _smooth(_wrists(record).astype(np.float64), smooth_n)
    if t > 1:
        wspeed = np.linalg.norm(np.diff(wrists, axis=0), axis=-1) * fps
        wrist_speed = float(np.percentile(wspeed, 90, axis=0).max())
    else:
        wrist_speed = 0.0
    speed = ("slow" if wrist_speed < th.slow_below_mps else
             "fast" if wrist_speed > th.fast_above_mps else "moderate")

    # Repetitions: touches of the most-touched pair; else the closings of a hand or pinches;
    # else the swings of the wrists and hands.
    cycles = _cycles(record, dist, contacts, curls, th)
    repetitions = cycles.get("contacts", 0)
    if not repetitions:
        fingers = [v for k, v in cycles.items() if k.endswith((":curl", ":pinch"))]
        swings = [v for k, v in cycles.items() if k.endswith((":wrist", ":turn"))]
        repetitions = max(fingers) if fingers and max(fingers) >= 2 else \
            max(swings + fingers + [1])
    repetitions = max(1, int(repetitions))

    # Key frame: the middle of the longest contact, else the frame of most finger curl change,
    # else the middle of the clip.
    if contacts:
        longest = max(contacts, key=lambda c: c.end - c.start)
        key_frame = (longest.start + longest.end - 1) // 2
    elif curls:
        dev = sum(np.abs(c[:, 1:].mean(1) - c[0, 1:].mean()) for c in curls.values())
        key_frame = int(np.argmax(dev)) if float(np.max(dev)) > 0.3 else t // 2
    else:
        key_frame = t // 2
    shapes = _hand_shapes(record, curls, key_frame)

    order = {k: i for i, k in enumerate(EVENT_KINDS)}
    events.sort(key=lambda e: (e.start, order.get(e.kind, 99), e.agent, e.part))
    return ClipEvents(
        mode=mode, fps=fps, num_frames=t, agents=tuple(record.agents), events=tuple(events),
        contacts=tuple(contacts), speed=speed, wrist_speed_mps=wrist_speed, lead=lead,
        activity_m=activity, first_mover=first_mover, repetitions=repetitions, cycles=cycles,
        hand_shapes=shapes, distance_start_m=float(dist[0]), distance_end_m=float(dist[-1]),
        distance_min_m=float(dist.min()), key_frame=int(key_frame),
    )
