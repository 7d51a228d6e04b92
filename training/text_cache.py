"""Text encodings of a whole dataset, computed once and kept on disk beside a training run.

Encoding thousands of captions with all-MiniLM-L6-v2 takes minutes on a small CPU; the cache
file (``text_cache.pt`` in the run folder) makes restarts and resumed runs free. It is keyed by
the exact text and by the encoder's token limit.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dyad.generator.text_encoder import TextEncoder, TextEncoding


def encode_texts(encoder: TextEncoder, texts: list[str], cache_path: Path | None = None,
                 write: bool = True) -> dict[str, TextEncoding]:
    """Encodings of ``texts``, reading and extending the cache file when one is given.

    Word tokens are kept in float16 (a dataset of 8,000 clips has ~70,000 texts: 1.4 GB of
    tokens instead of 2.8); batches are assembled in float32 (``collate_conditions``).

    Args:
        encoder: the text encoder.
        texts: texts to encode.
        cache_path: the cache file (``None``: no file).
        write: whether this process may write the cache (rank 0 only under ``torchrun``).
    """
    cached: dict[str, TextEncoding] = {}
    if cache_path is not None and Path(cache_path).is_file():
        try:
            data = torch.load(cache_path, map_location="cpu", weights_only=True)
            if data.get("max_tokens") == encoder.max_tokens:
                cached = {t: TextEncoding(tok.half(), sen.float()) for t, tok, sen in
                          zip(data["texts"], data["tokens"], data["sentences"])}
        except Exception:  # a damaged cache is rebuilt, never trusted
            cached = {}
    missing = [t for t in dict.fromkeys(texts) if t not in cached]
    if missing:
        for text, enc in zip(missing, encoder.encode_many(missing)):
            cached[text] = TextEncoding(enc.tokens.half(), enc.sentence)
        if cache_path is not None and write:
            names = sorted(cached)
            tmp = Path(cache_path).with_name(f".{Path(cache_path).name}.partial")
            torch.save({"max_tokens": encoder.max_tokens, "texts": names,
                        "tokens": [cached[n].tokens for n in names],
                        "sentences": torch.stack([cached[n].sentence for n in names])}, tmp)
            tmp.replace(cache_path)
    return {t: cached[t] for t in texts}
