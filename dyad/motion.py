"""The motion record: Dyad's one typed hand-off for human motion, and its ``.npz`` file.

File layout (``.npz``, no pickles):

=================  ===========================================================================
key                content
=================  ===========================================================================
``joints``         float32 (T, agents, J, 3), metres, Z up, X forward
``fps``            float scalar
``skeleton``       str scalar: ``body22``, ``hand21`` or ``body22+hands``
``agents``         str (A,): ``A``/``B`` for duet, ``left``/``right`` for bimanual
``mode``           str scalar: ``duet`` or ``bimanual``
``text``           str scalar: the overall description
``agent_texts``    str (A,): per-agent texts, "" where absent
``captions``       str (C,): alternative captions at different levels of detail (optional)
``label``          str scalar: the interaction label (optional, "" if none)
``contact_parts``  str (K, 4): agent_a, part_a, agent_b, part_b for each contact interval
``contact_frames`` int64 (K, 2): first frame and one past the last frame of each interval
``meta_json``      str scalar: JSON object of anything else (synthesis parameters, source file)
=================  ===========================================================================
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import DyadInputError, MotionFileError
from .skeletons import SKELETONS, contact_part_joints, get_skeleton

MODES = ("duet", "bimanual")
AGENTS = {"duet": ("A", "B"), "bimanual": ("left", "right")}
SKELETON_OF_MODE = {"duet": "body22+hands", "bimanual": "hand21"}
DEFAULT_FPS = 30.0
# Largest coordinate accepted as metres: anything farther is almost surely centimetres or mm.
MAX_ABS_COORDINATE_M = 50.0
# Largest median bone length accepted as metres (a femur is ~0.4 m).
MAX_MEDIAN_BONE_M = 1.0


@dataclass(frozen=True)
class ContactInterval:
    """Two named parts of two agents (or one agent) touch during ``[start, end)`` frames."""

    agent_a: str
    part_a: str
    agent_b: str
    part_b: str
    start: int
    end: int

    def as_dict(self) -> dict:
        return {"agent_a": self.agent_a, "part_a": self.part_a, "agent_b": self.agent_b,
                "part_b": self.part_b, "start": self.start, "end": self.end}


@dataclass
class MotionRecord:
    """Human motion of one or two agents.

    Attributes:
        joints: float32 (T, A, J, 3) joint positions in metres (world frame, Z up).
        fps: frames per second.
        skeleton: skeleton name; J must match it.
        agents: agent names, one per entry of axis 1.
        text: the overall description.
        agent_texts: per-agent descriptions (agent name -> text); may be empty.
        captions: alternative captions of the same motion.
        label: interaction label, e.g. ``handshake``.
        contacts: contact intervals.
        meta: anything else, JSON-serialisable.
    """

    joints: np.ndarray
    fps: float = DEFAULT_FPS
    skeleton: str = "body22+hands"
    agents: tuple[str, ...] = ("A", "B")
    text: str = ""
    agent_texts: dict[str, str] = field(default_factory=dict)
    captions: list[str] = field(default_factory=list)
    label: str = ""
    contacts: list[ContactInterval] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.joints = np.asarray(self.joints, dtype=np.float32)
        self.agents = tuple(self.agents)
        validate_joints(self.joints, self.skeleton, self.agents, self.fps, where="motion")

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def mode(self) -> str:
        """``duet`` or ``bimanual``, from the agent names (``custom`` otherwise)."""
        for mode, agents in AGENTS.items():
            if self.agents == agents:
                return mode
        return "custom"

    def agent_index(self, agent: str) -> int:
        try:
            return self.agents.index(agent)
        except ValueError:
            raise KeyError(f"motion has no agent {agent!r}; agents are {self.agents}") from None

    def part_positions(self, agent: str, part: str) -> np.ndarray:
        """(T, P, 3) positions of the joints of a named contact part of one agent."""
        idx = contact_part_joints(self.skeleton, part)
        return self.joints[:, self.agent_index(agent)][:, idx]

    def contact_distance(self, contact: ContactInterval) -> np.ndarray:
        """(T,) smallest joint-to-joint distance in metres between the two parts of a contact,
        for every frame of the clip (not only the interval)."""
        a = self.part_positions(contact.agent_a, contact.part_a)
        b = self.part_positions(contact.agent_b, contact.part_b)
        d = np.linalg.norm(a[:, :, None, :] - b[:, None, :, :], axis=-1)
        return d.reshape(d.shape[0], -1).min(axis=1)

    def save(self, path: str | Path) -> Path:
        """Write the record to ``path`` (``.npz``) atomically: a partial file never appears."""
        path = Path(path)
        if path.suffix != ".npz":
            raise DyadInputError(f"{path}: motion files end in .npz")
        parts = np.array([[c.agent_a, c.part_a, c.agent_b, c.part_b] for c in self.contacts],
                         dtype=str).reshape(-1, 4)
        frames = np.array([[c.start, c.end] for c in self.contacts], dtype=np.int64).reshape(-1, 2)
        arrays = dict(
            joints=self.joints.astype(np.float32),
            fps=np.float64(self.fps),
            skeleton=np.str_(self.skeleton),
            agents=np.array(self.agents, dtype=str),
            mode=np.str_(self.mode),
            text=np.str_(self.text),
            agent_texts=np.array([self.agent_texts.get(a, "") for a in self.agents], dtype=str),
            captions=np.array(self.captions, dtype=str).reshape(-1),
            label=np.str_(self.label),
            contact_parts=parts,
            contact_frames=frames,
            meta_json=np.str_(json.dumps(self.meta, sort_keys=True)),
        )
        return atomic_savez(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> "MotionRecord":
        """Read and check a motion file.

        Raises:
            MotionFileError: the file is missing, not a readable ``.npz``, lacks a key, or its
                joints break the contract; the message names the file and, for joint data, the
                first offending frame, agent and joint.
        """
        path = Path(path)
        data = read_npz(path, required=("joints", "fps", "skeleton", "agents"))
        skeleton = str(data["skeleton"])
        if skeleton not in SKELETONS:
            raise MotionFileError(path, f"unknown skeleton {skeleton!r}; known: "
                                        f"{', '.join(SKELETONS)}")
        agents = tuple(str(a) for a in np.atleast_1d(data["agents"]))
        joints = data["joints"]
        try:
            fps = float(data["fps"])
        except (TypeError, ValueError):
            raise MotionFileError(path, f"fps must be a number, got {data['fps']!r}") from None
        validate_joints(joints, skeleton, agents, fps, where=path)
        texts = [str(t) for t in np.atleast_1d(data.get("agent_texts", np.array([], dtype=str)))]
        contacts = []
        parts = data.get("contact_parts", np.zeros((0, 4), dtype=str)).reshape(-1, 4)
        frames = data.get("contact_frames", np.zeros((0, 2), dtype=np.int64)).reshape(-1, 2)
        if len(parts) != len(frames):
            raise MotionFileError(path, f"{len(parts)} contact_parts rows but {len(frames)} "
                                        "contact_frames rows")
        for (aa, pa, ab, pb), (s, e) in zip(parts, frames):
            contacts.append(ContactInterval(str(aa), str(pa), str(ab), str(pb), int(s), int(e)))
        try:
            meta = json.loads(str(data.get("meta_json", "{}")))
        except json.JSONDecodeError as exc:
            raise MotionFileError(path, f"meta_json is not JSON ({exc})") from None
        return cls(
            joints=joints, fps=fps, skeleton=skeleton, agents=agents,
            text=str(data.get("text", "")),
            agent_texts={a: t for a, t in zip(agents, texts) if t},
            captions=[str(c) for c in np.atleast_1d(data.get("captions", np.array([], dtype=str)))],
            label=str(data.get("label", "")), contacts=contacts, meta=meta,
        )


@dataclass
class MotionChunk:
    """A piece of a motion stream: frames ``[start_frame, start_frame + T)`` of a clip.

    The generator yields these; ``MotionRecord.from_chunks`` joins them.
    """

    joints: np.ndarray
    start_frame: int
    fps: float
    skeleton: str
    agents: tuple[str, ...]
    index: int = 0
    is_last: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        self.joints = np.asarray(self.joints, dtype=np.float32)
        self.agents = tuple(self.agents)
        validate_joints(self.joints, self.skeleton, self.agents, self.fps,
                        where=f"chunk {self.index}", first_frame=self.start_frame)

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])


def record_from_chunks(chunks: Iterable[MotionChunk], **fields) -> MotionRecord:
    """Join consecutive chunks into one record; raises if a frame is missing or repeated."""
    chunks = list(chunks)
    if not chunks:
        raise DyadInputError("no chunks to join")
    expected = chunks[0].start_frame
    for c in chunks:
        if c.start_frame != expected:
            raise DyadInputError(f"chunk {c.index} starts at frame {c.start_frame}, "
                                 f"expected {expected}")
        expected += c.num_frames
    first = chunks[0]
    fields.setdefault("text", first.text)
    return MotionRecord(joints=np.concatenate([c.joints for c in chunks]), fps=first.fps,
                        skeleton=first.skeleton, agents=first.agents, **fields)


def validate_joints(joints: np.ndarray, skeleton: str, agents: tuple[str, ...], fps: float,
                    where, first_frame: int = 0) -> None:
    """Check joint data against the contract; raise :class:`MotionFileError` naming the place.

    Args:
        joints: (T, A, J, 3) array.
        skeleton: skeleton name.
        agents: agent names (A of them).
        fps: frame rate; must be positive and finite.
        where: the file or stream the data came from, for the message.
        first_frame: frame number of ``joints[0]`` in its clip, for the message.
    """
    skel = SKELETONS.get(skeleton)
    if skel is None:
        get_skeleton(skeleton)  # raises the standard message
    if joints.ndim != 4 or joints.shape[-1] != 3:
        raise MotionFileError(where, f"joints must have shape (T, agents, J, 3), got "
                                     f"{joints.shape}")
    t, a, j, _ = joints.shape
    if t == 0:
        raise MotionFileError(where, "joints has no frames")
    if a != len(agents):
        raise MotionFileError(where, f"joints has {a} agents but agents lists {len(agents)}: "
                                     f"{agents}")
    if j != skel.num_joints:
        raise MotionFileError(where, f"skeleton {skeleton} has {skel.num_joints} joints, "
                                     f"joints has {j}")
    if not (np.isfinite(fps) and fps > 0):
        raise MotionFileError(where, f"fps must be positive, got {fps}")
    bad = ~np.isfinite(joints).all(axis=-1)
    if bad.any():
        f, ag, jt = np.argwhere(bad)[0]
        raise MotionFileError(where, "non-finite joint position", frame=int(f) + first_frame,
                              agent=agents[ag], joint=skel.joint_names[jt])
    far = np.abs(joints).max(axis=-1) > MAX_ABS_COORDINATE_M
    if far.any():
        f, ag, jt = np.argwhere(far)[0]
        raise MotionFileError(
            where, f"coordinate beyond {MAX_ABS_COORDINATE_M} m (units must be metres; "
                   "centimetres or millimetres?)",
            frame=int(f) + first_frame, agent=agents[ag], joint=skel.joint_names[jt])
    median_bone = float(np.median(skel.bone_lengths(joints[0])))
    if median_bone > MAX_MEDIAN_BONE_M:
        raise MotionFileError(where, f"median bone length {median_bone:.3g} at frame "
                                     f"{first_frame} is not metres (expected < {MAX_MEDIAN_BONE_M})")


def read_npz(path: Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file without pickles; errors name the file and key."""
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
        raise MotionFileError(path, f"not a readable .npz file ({type(exc).__name__}: {exc})") \
            from None
    missing = [k for k in required if k not in data]
    if missing:
        raise MotionFileError(path, f"missing key(s) {', '.join(missing)}; has "
                                    f"{', '.join(sorted(data)) or 'nothing'}")
    return data


def atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write an ``.npz`` next to ``path`` and rename it into place, so readers never see half a
    file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial.npz")
    try:
        np.savez(tmp, **arrays)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DyadInputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
