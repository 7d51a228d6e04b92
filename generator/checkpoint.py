"""Generator checkpoints: what they hold, where the default one lives, how they load.

A checkpoint is a ``torch.save`` dict read with ``weights_only=True`` (no pickled code):

=====================  ==================================================================
key                    content
=====================  ==================================================================
``format``             ``"dyad-generator"``
``version``            ``CHECKPOINT_VERSION``
``config``             :class:`~dyad.generator.config.ModelConfig` as a dict
``modes``              modes the model serves
``state_dict``         weights (the EMA weights for a trained model), float32 or float16
``mode_selector``      prototypes for mode ``auto`` (:class:`ModeSelector.state`)
``contact_planner``    optional: captions and their contacts (:class:`ContactPlanner.state`)
``sampling``           default :class:`SamplingOptions` as a dict
``info``               training summary (steps, data, losses), JSON-like
=====================  ==================================================================
"""

from __future__ import annotations

import zipfile
from dataclasses import asdict
from pathlib import Path

import torch

from .config import ModelConfig, SamplingOptions
from .contact_plan import ContactPlanner
from .errors import CheckpointError
from .mode_selector import ModeSelector
from .model import ChunkFlowModel

CHECKPOINT_FORMAT = "dyad-generator"
CHECKPOINT_VERSION = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default.pt"
"""The model ``dyad generate`` uses unless told otherwise."""
MAX_DEFAULT_CHECKPOINT_MB = 40.0


def checkpoint_dict(model: ChunkFlowModel, selector: ModeSelector, sampling: SamplingOptions,
                    info: dict | None = None, half: bool = False,
                    planner: ContactPlanner | None = None) -> dict:
    """The dict :func:`save_checkpoint` writes; ``half`` stores float weights as float16."""
    state = {k: (v.detach().cpu().half() if half and v.is_floating_point() else
                 v.detach().cpu().clone()) for k, v in model.state_dict().items()}
    out = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
           "config": model.config.as_dict(), "modes": list(model.modes), "state_dict": state,
           "mode_selector": selector.state(), "sampling": asdict(sampling),
           "info": info or {}}
    if planner is not None:
        out["contact_planner"] = planner.state()
    return out


def save_checkpoint(path: str | Path, model: ChunkFlowModel, selector: ModeSelector,
                    sampling: SamplingOptions, info: dict | None = None,
                    half: bool = False, planner: ContactPlanner | None = None) -> Path:
    """Write a checkpoint atomically (a partial file never appears at ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    torch.save(checkpoint_dict(model, selector, sampling, info, half, planner), tmp)
    tmp.replace(path)
    return path


class LoadedGenerator:
    """A model ready to sample: network (eval mode), mode selector, default sampling, and the
    contact planner when the checkpoint has one."""

    def __init__(self, model: ChunkFlowModel, selector: ModeSelector, sampling: SamplingOptions,
                 info: dict, path: Path | None, planner: ContactPlanner | None = None):
        self.model, self.selector, self.sampling, self.info, self.path = (
            model, selector, sampling, info, path)
        self.planner = planner


def load_checkpoint(path: str | Path | None = None, device: str | torch.device = "cpu"
                    ) -> LoadedGenerator:
    """Load a generator checkpoint (the packaged default when ``path`` is ``None``).

    Raises:
        CheckpointError: the file is missing, unreadable, not a generator checkpoint, or its
            weights do not fit the model code; the message names the file and the command that
            rebuilds it.
    """
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError,
            AttributeError, TypeError, IndexError) as exc:
        raise CheckpointError(path, f"not a readable checkpoint ({type(exc).__name__}: "
                                    f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    except Exception as exc:  # unpickling errors of corrupt files have many types
        raise CheckpointError(path, f"not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, f"not a {CHECKPOINT_FORMAT} checkpoint")
    if data.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(path, f"checkpoint version {data.get('version')} but this code "
                                    f"reads version {CHECKPOINT_VERSION}")
    try:
        config = ModelConfig.from_dict(data["config"])
        model = ChunkFlowModel(config, tuple(data["modes"]))
        state = {k: v.float() if v.is_floating_point() else v
                 for k, v in data["state_dict"].items()}
        model.load_state_dict(state, strict=True)
        selector = ModeSelector.from_state(data["mode_selector"])
        sampling = SamplingOptions(**data.get("sampling", {}))
        planner = ContactPlanner.from_state(data["contact_planner"]) \
            if "contact_planner" in data else None
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(path, f"does not match the model code ({type(exc).__name__}: "
                                    f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    model.to(device).eval().requires_grad_(False)
    return LoadedGenerator(model, selector, sampling, dict(data.get("info", {})), path, planner)
