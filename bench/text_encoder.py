"""How well a text encoder reads the held-out paraphrases: test captions labelled from training ones.

The generator's R-precision is lost on the test split's paraphrases (docs/generator.md, "Where
R-precision is lost"), which use words the training captions never do. Before a text encoder
is worth a training run, this measures what its sentence vectors can tell apart: each test
caption gets the interaction label of its nearest training caption (cosine, ``nn_accuracy``)
and of a softmax probe fitted on the training captions' vectors (``probe_accuracy``), per
caption level and per label, next to the encoder's cost (one sentence on one CPU thread, and
batched captions per second). Nothing is downloaded: ``--model`` takes a local
sentence-transformers folder (for example one unpacked from a pip package); the default is the
shipped all-MiniLM-L6-v2.

    dyad bench text-encoder --json [--data DIR ...] [--model FOLDER ...] [--clips 1000]
                            [--seed 0] [--max-train N]

Without ``--data`` it synthesises ``--clips`` clips per mode (``dyad data synth``'s clips and
captions, seed ``--seed``) into a temporary folder and reads both modes from there.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

NAME = "text-encoder"
_PROBE_STEPS = 300
_PROBE_TEMPERATURE = 0.1
_PROBE_L2 = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench text-encoder``."""
    parser.add_argument("--data", type=Path, action="append", default=None, metavar="DIR",
                        help="dataset folder with train and test splits (repeatable; "
                             "default: synthesise both modes)")
    parser.add_argument("--model", action="append", default=None, metavar="FOLDER",
                        help="local sentence-transformers folder (repeatable; default: the "
                             "shipped all-MiniLM-L6-v2)")
    parser.add_argument("--clips", type=int, default=1000,
                        help="clips per mode to synthesise without --data (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="synthesis seed (default 0)")
    parser.add_argument("--max-train", type=int, default=None, metavar="N",
                        help="use the first N training clips' captions (default all)")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="captions per encoder batch (default 128)")


def label_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                   test_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per test vector, whether its nearest training vector (cosine) and a softmax probe fitted
    on the training vectors give its label. Vectors are rows; labels are integers.

    Returns:
        (nearest-neighbour hits, probe hits), boolean arrays of ``len(test)``.
    """
    import torch

    def unit(x):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        return torch.nn.functional.normalize(x, dim=-1)

    tr, te = unit(train), unit(test)
    y_tr = torch.as_tensor(np.asarray(train_labels, dtype=np.int64))
    y_te = torch.as_tensor(np.asarray(test_labels, dtype=np.int64))
    nn_hits = y_tr[(te @ tr.T).argmax(1)] == y_te
    classes = int(max(y_tr.max(), y_te.max())) + 1
    gen = torch.Generator().manual_seed(0)
    weight = (torch.randn(tr.shape[1], classes, generator=gen) * 1e-3).requires_grad_()
    bias = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=0.05)
    for _ in range(_PROBE_STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tr @ weight / _PROBE_TEMPERATURE + bias, y_tr)
        (loss + _PROBE_L2 * (weight ** 2).sum()).backward()
        opt.step()
    with torch.no_grad():
        probe_hits = (te @ weight / _PROBE_TEMPERATURE + bias).argmax(1) == y_te
    return nn_hits.numpy(), probe_hits.numpy()


def _captions(data: Path, max_train: int | None) -> tuple[str, list, list]:
    """(mode, [(label, caption, level)] of training clips, the same of test clips)."""
    from dyad.errors import DyadInputError
    from dyad.training.synth.dataset import read_description, read_index

    rows = read_index(data)
    mode = read_description(data).get("mode", data.name)
    train = [r for r in rows if r.get("split") == "train"][:max_train]
    test = [r for r in rows if r.get("split") == "test"]
    if not train or not test:
        raise DyadInputError(f"{data}: needs clips in both the train and the test split "
                             f"(has {len(train)} and {len(test)})")
    flat = [[(r["label"], c, k) for r in part for k, c in enumerate(r.get("captions") or [])]
            for part in (train, test)]
    if not flat[0] or not flat[1]:
        raise DyadInputError(f"{data}: its index.jsonl has no captions to compare")
    return mode, flat[0], flat[1]


def _encode_cost(model, sentence: str, repeats: int = 15) -> float:
    """Median ms to encode one sentence on one thread (after three warm-up calls)."""
    import torch

    from .stats import time_calls

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seconds = time_calls(lambda: model.encode([sentence]), repeats, warmup=3)
    finally:
        torch.set_num_threads(threads)
    return 1e3 * float(np.median(seconds))


def _load(folder: str | None):
    from dyad.errors import DyadInputError
    from dyad.generator.text_encoder import hf_offline, minilm_path

    hf_offline()
    from sentence_transformers import SentenceTransformer

    path = Path(folder) if folder else minilm_path()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise DyadInputError(f"--model {path}: not a sentence-transformers folder (no "
                             "modules.json or config.json)")
    name = "all-MiniLM-L6-v2 (shipped)" if folder is None else path.name
    try:
        return name, SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:  # a broken or foreign folder: say which, not a traceback
        raise DyadInputError(f"--model {path}: cannot load it as a sentence-transformers "
                             f"model ({type(exc).__name__}: {str(exc)[:200]})") from None


def _dimension(model) -> int:
    """Width of the sentence vectors (sentence-transformers renamed the getter in 5.x)."""
    getter = getattr(model, "get_embedding_dimension", None) \
        or model.get_sentence_embedding_dimension
    return int(getter())


def _score(model, mode: str, train: list, test: list, batch_size: int) -> dict:
    labels = sorted({lab for lab, _, _ in train} | {lab for lab, _, _ in test})
    index = {lab: i for i, lab in enumerate(labels)}
    t0 = time.perf_counter()
    vectors = model.encode([c for _, c, _ in train + test], batch_size=batch_size,
                           normalize_embeddings=True, convert_to_numpy=True)
    encode_s = time.perf_counter() - t0
    nn_hits, probe_hits = label_accuracy(
        vectors[:len(train)], np.array([index[lab] for lab, _, _ in train]),
        vectors[len(train):], np.array([index[lab] for lab, _, _ in test]))
    levels = np.array([k for _, _, k in test])
    level_ids = sorted(set(levels.tolist()))
    test_labels = np.array([lab for lab, _, _ in test])
    per_label = {lab: round(float(nn_hits[test_labels == lab].mean()), 3)
                 for lab in labels if (test_labels == lab).any()}
    return {
        "mode": mode, "labels": len(labels),
        "train_captions": len(train), "test_captions": len(test),
        "nn_accuracy": round(float(nn_hits.mean()), 4),
        "probe_accuracy": round(float(probe_hits.mean()), 4),
        "nn_accuracy_per_level": [round(float(nn_hits[levels == k].mean()), 3)
                                  for k in level_ids],
        "probe_accuracy_per_level": [round(float(probe_hits[levels == k].mean()), 3)
                                     for k in level_ids],
        "nn_accuracy_per_label": dict(sorted(per_label.items(), key=lambda kv: kv[1])),
        "chance": round(1.0 / len(labels), 4),
        "captions_per_s": round(len(vectors) / encode_s, 1),
    }


def run(args: argparse.Namespace) -> dict:
    """Score every model on every dataset."""
    from dyad.errors import DyadInputError
    from dyad.training.synth.dataset import synthesize_dataset

    if args.clips < 10:
        raise DyadInputError(f"--clips must be at least 10, got {args.clips}")
    if args.batch_size < 1:
        raise DyadInputError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_train is not None and args.max_train < 1:
        raise DyadInputError(f"--max-train must be at least 1, got {args.max_train}")
    models = [_load(m) for m in (args.model or [None])]
    with tempfile.TemporaryDirectory(prefix="dyad-text-encoder-") as tmp:
        folders = list(args.data or [])
        if not folders:
            for mode in ("duet", "bimanual"):
                synthesize_dataset(mode, args.clips, args.seed, Path(tmp) / mode,
                                   progress=False)
                folders.append(Path(tmp) / mode)
        datasets = [_captions(Path(d), args.max_train) for d in folders]
        results = []
        for name, model in models:
            entry = {"model": name,
                     "dimensions": _dimension(model),
                     "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
                     "one_sentence_ms": round(_encode_cost(
                         model, "two people shake hands, then one pats the other's shoulder"),
                         1),
                     "datasets": [_score(model, mode, train, test, args.batch_size)
                                  for mode, train, test in datasets]}
            results.append(entry)
    return {"data": [str(d) for d in args.data] if args.data else
            f"synthesised, {args.clips} clips per mode, seed {args.seed}",
            "models": results}
