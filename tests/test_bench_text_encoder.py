"""``dyad bench text-encoder``: held-out captions labelled from training ones, per encoder."""

import argparse
import json

import numpy as np
import pytest

from dyad.bench import text_encoder
from dyad.errors import DyadInputError


def test_label_accuracy_counts_what_the_nearest_caption_and_the_probe_say():
    """Three labels along three axes: a test vector near its own label's training vectors is a
    hit for both scorers, one placed on another label's axis a miss for both."""
    rng = np.random.default_rng(0)
    axes = np.eye(3)
    train = np.concatenate([axes[k] + 0.05 * rng.standard_normal((10, 3)) for k in range(3)])
    train_labels = np.repeat(np.arange(3), 10)
    test = np.array([axes[0] + 0.1, axes[1], axes[2] * 2.0, axes[1]])
    test_labels = np.array([0, 1, 2, 0])  # the last one reads like label 1
    nn_hits, probe_hits = text_encoder.label_accuracy(train, train_labels, test, test_labels)
    assert nn_hits.tolist() == [True, True, True, False]
    assert probe_hits.tolist() == [True, True, True, False]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from dyad.training.synth.dataset import synthesize_dataset

    out = tmp_path_factory.mktemp("text-encoder") / "bimanual"
    synthesize_dataset("bimanual", 80, 0, out, progress=False)
    return out


def _args(**over):
    args = dict(data=None, model=None, clips=1000, seed=0, max_train=None, batch_size=64)
    args.update(over)
    return argparse.Namespace(**args)


def test_the_shipped_encoder_reads_held_out_captions_better_than_chance(tiny_dataset):
    from dyad.training.synth.dataset import read_index

    out = text_encoder.run(_args(data=[tiny_dataset]))
    [entry] = out["models"]
    [scores] = entry["datasets"]
    rows = read_index(tiny_dataset)
    test_rows = [r for r in rows if r["split"] == "test"]
    assert scores["mode"] == "bimanual" and entry["dimensions"] == 384
    assert scores["test_captions"] == sum(len(r["captions"]) for r in test_rows)
    assert len(scores["nn_accuracy_per_level"]) == 5
    # 27 labels: chance is 0.04; MiniLM names most held-out paraphrases' labels.
    assert scores["nn_accuracy"] > 3 * scores["chance"], scores
    assert 0.0 <= scores["probe_accuracy"] <= 1.0
    assert entry["one_sentence_ms"] > 0 and scores["captions_per_s"] > 0
    json.dumps(out)  # the report is JSON as it stands
    # Fewer training captions: counted as asked.
    fewer = text_encoder.run(_args(data=[tiny_dataset], max_train=5))
    assert fewer["models"][0]["datasets"][0]["train_captions"] == 25


def test_bad_model_folder_and_dataset_without_a_test_split_are_named(tmp_path, tiny_dataset):
    with pytest.raises(DyadInputError, match="not a sentence-transformers folder"):
        text_encoder.run(_args(data=[tiny_dataset], model=[str(tmp_path)]))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(DyadInputError, match="broken: cannot load it"):
        text_encoder.run(_args(data=[tiny_dataset], model=[str(broken)]))
    only_train = tmp_path / "only_train"
    only_train.mkdir()
    for name in ("dataset.json",):
        (only_train / name).write_text((tiny_dataset / name).read_text())
    rows = [line for line in (tiny_dataset / "index.jsonl").read_text().splitlines()
            if json.loads(line)["split"] == "train"]
    (only_train / "index.jsonl").write_text("\n".join(rows) + "\n")
    with pytest.raises(DyadInputError, match="test split"):
        text_encoder.run(_args(data=[only_train]))
    with pytest.raises(DyadInputError, match="--clips"):
        text_encoder.run(_args(clips=3))
    with pytest.raises(DyadInputError, match="--batch-size"):
        text_encoder.run(_args(batch_size=0))
