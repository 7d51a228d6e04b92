"""Evaluation: embedding metrics, physical figures, the evaluator network and ``dyad eval``."""

import json
import math

import numpy as np
import pytest
import torch

from dyad.cli import main
from dyad.errors import DyadInputError
from dyad.generator.config import ModelConfig
from dyad.motion import MotionRecord
from dyad.skeletons import BODY22_HANDS_REST
from dyad.training.evaluation import (activation_statistics, diversity, euclidean_distance_matrix,
                                      foot_skating, frechet_distance, mean_jerk,
                                      multimodality, penetration_depth, physical_metrics,
                                      r_precision_hits, segment_distances)
from dyad.training.evaluator import (EvaluatorConfig, MotionTextEvaluator, load_evaluator,
                                     save_evaluator)
from dyad.training.toy_motion import toy_record, write_toy_dataset
from dyad.training.train_evaluator import EvaluatorTrainOptions, train_evaluator
from dyad.training.train_generator import GeneratorTrainOptions, train_generator


def test_distance_matrix_and_r_precision():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    brute = np.linalg.norm(a[:, None] - b[None], axis=-1)
    assert np.allclose(euclidean_distance_matrix(a, b), brute)
    emb = rng.normal(size=(32, 8))
    assert r_precision_hits(emb, emb).tolist() == [32, 32, 32]
    # Motions shifted by one: each text's motion is the next one's, so top-1 fails.
    shuffled = np.roll(emb, 1, axis=0)
    assert r_precision_hits(emb, shuffled)[0] < 32


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20000, 3))
    mu, cov = activation_statistics(x)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-9)
    # Diagonal Gaussians: |mu1 - mu2|^2 + sum (s1 - s2)^2.
    y = x * np.array([2.0, 1.0, 1.0]) + np.array([1.0, 0.0, 0.0])
    fid = frechet_distance(*activation_statistics(x), *activation_statistics(y))
    assert fid == pytest.approx(1.0 + 1.0, rel=0.05)


def test_diversity_and_multimodality():
    rng = np.random.default_rng(2)
    same = np.ones((50, 4))
    assert diversity(same, 30, rng) == 0.0
    two = np.concatenate([np.zeros((50, 2)), np.full((50, 2), 3.0)])
    assert 0.0 < diversity(two, 300, rng) < math.dist([0, 0], [3, 3])
    emb = np.zeros((4, 6, 3))
    assert multimodality(emb, 10, rng) == 0.0
    emb[:, :, 0] = np.arange(6)[None]
    assert multimodality(emb, 10, rng) > 0.0


def test_segment_distances_match_sampling():
    rng = np.random.default_rng(3)
    p1, q1, p2, q2 = (rng.normal(size=(200, 3)) for _ in range(4))
    q2[:20] = p2[:20]  # degenerate segments (points)
    q1[20:30] = p1[20:30] + (q2[20:30] - p2[20:30])  # parallel segments
    fast = segment_distances(p1, q1, p2, q2)
    s = np.linspace(0, 1, 201)
    a = p1[:, None] + (q1 - p1)[:, None] * s[None, :, None]
    b = p2[:, None] + (q2 - p2)[:, None] * s[None, :, None]
    brute = np.linalg.norm(a[:, :, None] - b[:, None], axis=-1).min(axis=(1, 2))
    assert np.all(fast <= brute + 1e-9)
    assert np.allclose(fast, brute, atol=0.02)


def _duet(gap_m):
    a = BODY22_HANDS_REST
    b = a * np.array([-1, -1, 1]) + np.array([gap_m, 0, 0])  # turned to face A
    return np.stack([a, b])[None].repeat(10, axis=0)


def test_penetration_detects_overlapping_bodies_only():
    assert penetration_depth(_duet(1.5), "duet").max() == 0.0
    deep = penetration_depth(_duet(0.1), "duet")
    assert deep.min() > 0.1  # torsos 10 cm apart overlap by ~12 cm
    figures = physical_metrics([_duet(1.5), _duet(0.1)], [[], []], "duet", 30.0)
    assert figures["penetration_frequency"] == 0.5
    assert figures["penetration_duration"] == 0.5
    assert figures["penetration_depth_m"] > 0.1


def test_contact_figures_on_labelled_intervals():
    clap = toy_record("bimanual", 0, frames=60)
    assert clap.contacts
    truth = physical_metrics([clap.joints], [clap.contacts], "bimanual", 30.0)
    apart = clap.joints.copy()
    apart[:, 0, :, 1] += 0.5  # left hand half a metre away: never touches
    moved = physical_metrics([apart], [clap.contacts], "bimanual", 30.0)
    assert 0.1 < truth["contact_ratio"] <= 1.0 and truth["contact_hit_rate"] == 1.0
    assert moved["contact_ratio"] == 0.0 and moved["contact_hit_rate"] == 0.0


def test_foot_skating_and_jerk():
    still = _duet(1.5).repeat(3, axis=0)
    assert foot_skating(still, 30.0) == (0.0, 0.0)
    sliding = still.copy()
    sliding[:, :, :, 0] += np.arange(len(still))[:, None, None] * 0.02  # 0.6 m/s
    speed, ratio = foot_skating(sliding, 30.0)
    assert speed == pytest.approx(0.6) and ratio == 1.0
    t = np.arange(30) / 30.0
    cubic = np.zeros((30, 2, 21, 3))
    cubic[..., 0] = (2.0 * t ** 3)[:, None, None]
    assert mean_jerk(cubic, 30.0) == pytest.approx(12.0, rel=1e-6)


def test_evaluator_embeddings_and_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = MotionTextEvaluator(EvaluatorConfig(width=32, heads=2, motion_layers=1,
                                                embed_dim=16), ("bimanual",)).eval()
    clap = torch.from_numpy(toy_record("bimanual", 0, frames=40).joints)[None].repeat(2, 1, 1,
                                                                                        1, 1)
    mask = torch.ones(2, 40, dtype=torch.bool)
    mask[1, 30:] = False
    emb = model.encode_motion("bimanual", clap, mask)
    assert emb.shape == (2, 16) and torch.allclose(emb.norm(dim=1), torch.ones(2))
    # Padding is ignored: a clip padded with its last frame embeds like the clip cut there.
    short = model.encode_motion("bimanual", clap[1:, :30], mask[1:, :30])
    assert torch.allclose(short, emb[1:], atol=1e-5)
    path = save_evaluator(tmp_path / "ev.pt", model)
    again = load_evaluator(path)
    assert torch.allclose(again.encode_motion("bimanual", clap, mask), emb, atol=1e-6)
    with pytest.raises(DyadInputError, match="dyad train evaluator"):
        load_evaluator(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(DyadInputError, match="unreadable"):
        load_evaluator(tmp_path / "bad.pt")
    with pytest.raises(DyadInputError, match="serves"):
        model.encode_motion("duet", clap, mask)


def test_train_evaluator_then_dyad_eval_reports_both_rows(tmp_path, capsys):
    data = write_toy_dataset(tmp_path / "toy", "bimanual", {"train": 6, "val": 3, "test": 6},
                             frames=45)
    tiny_eval = EvaluatorConfig(width=32, heads=2, motion_layers=1, embed_dim=16)
    ev = train_evaluator(EvaluatorTrainOptions(
        data=[data], out=tmp_path / "ev", steps=4, batch_size=4, device="cpu", threads=1,
        progress=False, log_every=2, val_every=2, model=tiny_eval))
    rows = [json.loads(x) for x in (tmp_path / "ev" / "metrics.jsonl").read_text().split("\n")
            if x]
    assert ev["steps"] == 4 and "val/bimanual/top1" in rows[-1]
    tiny_gen = ModelConfig(width=32, heads=2, denoiser_layers=1, context_layers=1, ff_mult=2,
                           chunk_frames=8, history_frames=4)
    train_generator(GeneratorTrainOptions(
        data=[data], out=tmp_path / "gen", steps=2, batch_size=4, model=tiny_gen,
        device="cpu", threads=1, progress=False))
    rc = main(["eval", "--data", str(data), "--evaluator", str(tmp_path / "ev" / "evaluator.pt"),
               "--checkpoint", str(tmp_path / "gen" / "generator.pt"), "--replications", "2",
               "--batch-size", "4", "--mm-samples", "2", "--mm-repeats", "3", "--mm-times", "2",
               "--device", "cpu", "--json", "--out", str(tmp_path / "report.json")])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["protocol"]["r_precision_batch_size"] == 4
    res = report["modes"]["bimanual"]
    assert res["clips"] == 6
    for row in ("ground_truth", "generated"):
        for key in ("r_precision_top1", "r_precision_top3", "mm_dist", "diversity", "fid",
                    "penetration_frequency", "contact_ratio", "jerk_mps3"):
            assert math.isfinite(res[row][key]["mean"]), (row, key)
    assert "multimodality" in res["generated"]
    assert res["ground_truth"]["contact_ratio"]["mean"] > 0.1
    assert json.loads((tmp_path / "report.json").read_text()) == report
    rc = main(["eval", "--data", str(data), "--evaluator", str(tmp_path / "nope.pt"),
               "--checkpoint", str(tmp_path / "gen" / "generator.pt"), "--device", "cpu"])
    assert rc == 2 and "nope.pt" in capsys.readouterr().err
