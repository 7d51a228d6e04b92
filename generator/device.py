"""Choosing the torch device from ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

import torch

from dyad.errors import DyadInputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device for ``device``; ``auto`` is CUDA when present, else CPU.

    Raises:
        DyadInputError: unknown name, or CUDA asked for but not available.
    """
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DyadInputError(f"device {device!r} asked for but CUDA is not available "
                                 "(use --device cpu or auto)")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise DyadInputError(f"bad CUDA device {device!r}") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DyadInputError(f"device {device!r}: only {torch.cuda.device_count()} CUDA "
                                 "device(s)")
        return dev
    raise DyadInputError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:N")
