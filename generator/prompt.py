"""Checking and cleaning the texts a user gives the generator.

Rules: text must be UTF-8 (``bytes`` are decoded strictly; ``str`` from a command line whose
bytes were not UTF-8 carries lone surrogates and is refused), must not be blank, and is cut to
``MAX_WORDS`` words with a :class:`TextTruncatedWarning`. Control characters become spaces.
"""

from __future__ import annotations

import re
import unicodedata
import warnings

from dyad.errors import DyadInputError

from .errors import TextTruncatedWarning
from .modes import MODE_SPECS

MAX_WORDS = 48
"""Words kept per text: about the 64 word-pieces the encoder reads (``max_text_tokens``)."""

_SPACES = re.compile(r"\s+")


def clean_text(text: str | bytes, what: str = "text") -> str:
    """A usable prompt from ``text``, or :class:`DyadInputError` saying what is wrong.

    Args:
        text: the prompt, ``str`` or UTF-8 ``bytes``.
        what: how to name the text in messages (``text``, ``agent text for B``).
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DyadInputError(f"{what} is not valid UTF-8 (byte 0x{text[exc.start]:02x} at "
                                 f"offset {exc.start})") from None
    if not isinstance(text, str):
        raise DyadInputError(f"{what} must be a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raw = f"0x{ord(bad) - 0xDC00:02x}" if 0xDC80 <= ord(bad) <= 0xDCFF else repr(bad)
        raise DyadInputError(f"{what} is not valid UTF-8 (byte {raw} at character "
                             f"{exc.start})") from None
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    words = _SPACES.split(text.strip())
    if not words or words == [""]:
        raise DyadInputError(f"{what} is empty; describe the motion, e.g. "
                             "\"two people shake hands\"")
    if len(words) > MAX_WORDS:
        warnings.warn(f"{what} has {len(words)} words; only the first {MAX_WORDS} are used",
                      TextTruncatedWarning, stacklevel=3)
        words = words[:MAX_WORDS]
    return " ".join(words)


def clean_agent_texts(agent_texts: dict | None, mode: str) -> dict[str, str]:
    """Check per-agent texts for ``mode`` (keys ``A``/``B``, or ``left``/``right``/``inter``).

    Blank entries are dropped; unknown keys are an error naming the accepted ones.
    """
    if not agent_texts:
        return {}
    if not isinstance(agent_texts, dict):
        raise DyadInputError(f"agent texts must be a mapping of agent to text, got "
                             f"{type(agent_texts).__name__}")
    roles = MODE_SPECS[mode].text_roles
    out = {}
    for key, value in agent_texts.items():
        if key not in roles:
            raise DyadInputError(f"{mode} has no agent text {key!r}; accepted: "
                                 f"{', '.join(roles)}")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[key] = clean_text(value, what=f"agent text for {key}")
    return out
