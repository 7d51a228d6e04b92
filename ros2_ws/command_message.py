"""What a ``/dyad/command`` string may say: plain text, or a JSON object with options.

Plain text is the motion's description::

    ros2 topic pub --once /dyad/command std_msgs/msg/String "data: 'two hands clap'"

A string that starts with ``{`` must be a JSON object with ``text`` and any of ``mode``,
``seconds``, ``seed``, ``agent_texts``, ``steps``, ``guidance``, ``noise_scale``::

    data: '{"text": "two people shake hands", "mode": "duet", "seconds": 6, "seed": 3}'

Anything else (empty, blank, control characters only, malformed JSON, unknown keys, wrong types,
an unknown mode, a duration that is not positive) raises :class:`~dyad.errors.DyadInputError`
with a message for the status topic, before the command can preempt the motion in progress.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from dyad.errors import DyadInputError
from dyad.generator.modes import parse_mode
from dyad.generator.prompt import clean_text

MAX_COMMAND_BYTES = 16384
_SAMPLING_KEYS = ("steps", "guidance", "noise_scale")
_KEYS = ("text", "mode", "seconds", "seed", "agent_texts") + _SAMPLING_KEYS


@dataclass(frozen=True)
class GenerationCommand:
    """One parsed command.

    Attributes:
        text: the description (cleaned).
        mode: ``auto``, ``duet`` or ``bimanual``.
        seconds: duration.
        seed: noise seed, None for random.
        agent_texts: per-agent texts.
        sampling: ``steps`` / ``guidance`` / ``noise_scale`` overrides.
    """

    text: str
    mode: str
    seconds: float
    seed: int | None = None
    agent_texts: dict = field(default_factory=dict)
    sampling: dict = field(default_factory=dict)


def _number(data: dict, key: str, kind):
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (kind is int and not isinstance(value, int)) or not math.isfinite(value):
        what = "an integer" if kind is int else "a number"
        raise DyadInputError(f"command key {key!r} must be {what}, got {value!r}")
    return kind(value)


def parse_command(data: str, default_mode: str = "auto", default_seconds: float = 4.0
                  ) -> GenerationCommand:
    """Parse one ``/dyad/command`` string (see the module docstring).

    Args:
        data: the message's ``data``.
        default_mode: mode when the command names none.
        default_seconds: duration when the command names none.

    Raises:
        DyadInputError: the command is empty or malformed (the message says how).
    """
    if not isinstance(data, str):
        raise DyadInputError(f"command must be a string, got {type(data).__name__}")
    if len(data.encode("utf-8", "surrogatepass")) > MAX_COMMAND_BYTES:
        raise DyadInputError(f"command is longer than {MAX_COMMAND_BYTES} bytes")
    stripped = data.strip()
    if not stripped.startswith("{"):
        return GenerationCommand(clean_text(data, what="command text"), default_mode,
                                 float(default_seconds))
    try:
        obj = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise DyadInputError(f"command starts with '{{' but is not JSON ({exc.msg} at character "
                             f"{exc.pos}); send plain text or a JSON object with 'text'") from None
    if not isinstance(obj, dict):
        raise DyadInputError("command JSON must be an object")
    unknown = sorted(set(obj) - set(_KEYS))
    if unknown:
        raise DyadInputError(f"command has unknown key(s) {', '.join(unknown)}; known: "
                             f"{', '.join(_KEYS)}")
    if "text" not in obj:
        raise DyadInputError("command JSON has no 'text'")
    text = clean_text(obj["text"], what="command text")
    mode = obj.get("mode", default_mode)
    if not isinstance(mode, str):
        raise DyadInputError(f"command key 'mode' must be a string, got {mode!r}")
    mode = parse_mode(mode)
    seconds = _number(obj, "seconds", float) if "seconds" in obj else float(default_seconds)
    if seconds <= 0:
        raise DyadInputError(f"command key 'seconds' must be positive, got {seconds:g}")
    seed = _number(obj, "seed", int) if obj.get("seed") is not None else None
    agent_texts = obj.get("agent_texts") or {}
    if not isinstance(agent_texts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in agent_texts.items()):
        raise DyadInputError("command key 'agent_texts' must map agent names to strings")
    sampling = {}
    for key in _SAMPLING_KEYS:
        if obj.get(key) is not None:
            sampling[key] = _number(obj, key, int if key == "steps" else float)
    return GenerationCommand(text, mode, seconds, seed, dict(agent_texts), sampling)
