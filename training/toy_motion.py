"""Tiny procedural clips for smoke tests of the training and evaluation loops.

These are not training data for a real model (``dyad data synth`` makes that); they exist so
that tests and quick checks can run every loop in seconds without the synthesiser. Each clip
moves rest poses of ``dyad.skeletons`` rigidly (an arm raised and waved, a body walked, two
hands brought together), so the motion is smooth, keeps its bone lengths and differs clearly
between texts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dyad.motion import AGENTS, SKELETON_OF_MODE, ContactInterval, MotionRecord
from dyad.skeletons import BODY22_HANDS_REST, HAND21_REST_LEFT, HAND21_REST_RIGHT, SKELETONS

TOY_ACTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "duet": (
        ("two people wave at each other", "both persons wave hello"),
        ("two people walk toward each other", "the pair approach one another"),
        ("person A raises both arms while person B stands still",
         "one person lifts their arms, the other waits"),
    ),
    "bimanual": (
        ("the hands clap together", "clap both hands"),
        ("both hands wave up and down", "the two hands bob up and down"),
        ("the left hand moves forward while the right hand stays still",
         "the left hand reaches forward"),
    ),
}


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _descendants(parents: tuple[int, ...], root: int) -> list[int]:
    out = [root]
    for j, p in enumerate(parents):
        if p in out:
            out.append(j)
    return out


_PARENTS = SKELETONS["body22+hands"].parents
_RIGHT_ARM = _descendants(_PARENTS, 17)  # r_shoulder and below
_LEFT_ARM = _descendants(_PARENTS, 16)


def _raise_arm(body: np.ndarray, arm: list[int], angle: float, sign: float) -> np.ndarray:
    out = body.copy()
    pivot = body[arm[0]]
    out[arm] = (body[arm] - pivot) @ _rot_x(sign * angle).T + pivot
    return out


def _duet_clip(action: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(frames) / 30.0
    speed = rng.uniform(0.8, 1.2)
    gap = rng.uniform(1.2, 1.8)
    joints = np.zeros((frames, 2, 62, 3))
    for f in range(frames):
        a = BODY22_HANDS_REST.copy()
        b = BODY22_HANDS_REST.copy()
        xa, xb = 0.0, gap
        if action == 0:  # wave: right arm up (~70 deg below horizontal to up) and swinging
            ang = 1.2 + 0.3 * np.sin(2 * np.pi * 1.5 * speed * t[f])
            a = _raise_arm(a, _RIGHT_ARM, ang, -1.0)
            b = _raise_arm(b, _RIGHT_ARM, ang, -1.0)
        elif action == 1:  # walk toward each other, with a bob
            step = min(t[f] * 0.4 * speed, gap / 2 - 0.35)
            xa, xb = step, gap - step
            bob = 0.02 * np.sin(2 * np.pi * 2 * speed * t[f])
            a[:, 2] += bob
            b[:, 2] += bob
        else:  # A raises both arms, B still
            ang = min(t[f] * speed, 1.4)
            a = _raise_arm(a, _RIGHT_ARM, ang, -1.0)
            a = _raise_arm(a, _LEFT_ARM, ang, 1.0)
        joints[f, 0] = a + [xa, 0.0, 0.0]
        joints[f, 1] = b @ _rot_z(np.pi).T + [xb, 0.0, 0.0]
    return joints


def _bimanual_clip(action: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(frames) / 30.0
    speed = rng.uniform(0.8, 1.2)
    spread = rng.uniform(0.12, 0.2)
    # Palms facing each other: fingers forward (+X), palm normal toward the other hand.
    rot_left = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]])   # left palm faces -Y
    rot_right = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])  # right palm faces +Y
    joints = np.zeros((frames, 2, 21, 3))
    for f in range(frames):
        yl, yr, zl, zr, xl = spread, -spread, 1.0, 1.0, 0.3
        if action == 0:
            gap = spread * (0.5 + 0.5 * np.cos(2 * np.pi * 1.2 * speed * t[f]))
            yl, yr = gap + 0.02, -gap - 0.02
        elif action == 1:
            zl = zr = 1.0 + 0.08 * np.sin(2 * np.pi * speed * t[f])
        else:
            xl = 0.3 + min(t[f] * 0.2 * speed, 0.25)
        joints[f, 0] = HAND21_REST_LEFT @ rot_left.T + [xl, yl, zl]
        joints[f, 1] = HAND21_REST_RIGHT @ rot_right.T + [0.3, yr, zr]
    return joints


def toy_record(mode: str, action: int, frames: int = 75, seed: int = 0) -> MotionRecord:
    """One toy clip of ``mode`` doing action ``action`` (index into ``TOY_ACTIONS[mode]``)."""
    rng = np.random.default_rng([seed, action])
    joints = (_duet_clip if mode == "duet" else _bimanual_clip)(action, frames, rng)
    texts = TOY_ACTIONS[mode][action]
    contacts = []
    if mode == "bimanual" and action == 0:
        contacts = [ContactInterval("left", "palm", "right", "palm", 0, frames)]
    return MotionRecord(joints=joints.astype(np.float32), skeleton=SKELETON_OF_MODE[mode],
                        agents=AGENTS[mode], text=texts[0], captions=list(texts[1:]),
                        label=f"toy_{action}", contacts=contacts, meta={"toy": True})


def write_toy_dataset(out_dir: str | Path, mode: str, clips_per_split: dict[str, int] | None = None,
                      frames: int = 75, seed: int = 0) -> Path:
    """Write ``out_dir/<split>/*.npz`` toy clips (the synthesiser's layout) and return
    ``out_dir``."""
    out_dir = Path(out_dir)
    clips_per_split = clips_per_split or {"train": 12, "val": 3, "test": 6}
    n_actions = len(TOY_ACTIONS[mode])
    for s_index, (split, count) in enumerate(clips_per_split.items()):
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            rec = toy_record(mode, i % n_actions, frames, seed=seed * 1000 + s_index * 100 + i)
            rec.save(folder / f"{mode}_{i:04d}.npz")
    (out_dir / "dataset.json").write_text(json.dumps({"mode": mode, "toy": True}))
    return out_dir
