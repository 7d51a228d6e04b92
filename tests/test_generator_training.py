"""Training the chunk model: windows, objective, the loop with logs, resume and determinism."""

import json
import math

import numpy as np
import pytest
import torch

from dyad.errors import DatasetLayoutError, DyadInputError
from dyad.generator.checkpoint import load_checkpoint
from dyad.generator.config import ModelConfig
from dyad.generator.model import ChunkFlowModel
from dyad.generator.streaming import MotionGenerator
from dyad.generator.text_conditioning import TextCondition, collate_conditions
from dyad.generator.text_encoder import TextEncoding
from dyad.motion import MotionRecord
from dyad.training.generator_objective import GeneratorObjective
from dyad.training.motion_dataset import (ChunkWindowDataset, clip_from_record, collate_windows,
                                          load_clips, load_train_and_val)
from dyad.training.toy_motion import toy_record, write_toy_dataset
from dyad.training.training_run import (RunContext, joined_run, load_resume_state,
                                       save_resume_state, set_up_process)
from dyad.training.train_generator import (GeneratorTrainOptions, feature_statistics,
                                           train_generator)

TINY = ModelConfig(width=32, heads=2, denoiser_layers=1, context_layers=1, ff_mult=2,
                   chunk_frames=8, history_frames=4)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return {m: write_toy_dataset(root / m, m, {"train": 6, "val": 3}, frames=60)
            for m in ("duet", "bimanual")}


def test_load_clips_reads_texts_and_rejects_bad_folders(data, tmp_path):
    clips = load_clips(data["duet"], "train")
    assert len(clips) == 6 and clips[0].mode == "duet"
    assert clips[0].texts == ("two people wave at each other", "both persons wave hello")
    with pytest.raises(DatasetLayoutError, match="no such folder.*found splits: train, val"):
        load_clips(data["duet"], "test")
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetLayoutError, match="no .npz"):
        load_clips(tmp_path, "train")
    rec = toy_record("bimanual", 0)
    rec.meta["inter_text"] = "The palms touch."
    assert clip_from_record(rec).agent_texts == {"inter": "The palms touch."}


def test_windows_are_deterministic_and_cover_first_chunks(data):
    clips = load_clips(data["bimanual"], "train")
    ds = ChunkWindowDataset(clips, 4, 8, first_chunk_prob=0.3, seed=5, samples_per_epoch=64)
    a, b = ds[3], ds[3]
    assert np.array_equal(a["frames"], b["frames"]) and a["text"] == b["text"]
    items = [ds[i] for i in range(64)]
    first = [i for i in items if not i["history_valid"]]
    assert 5 < len(first) < 40
    assert all(i["start_frame"] == 0 for i in first)
    # A first-chunk window's chunk is the clip's first frames; its history is padding.
    clip_frames = {c.joints[:8].tobytes() for c in clips}
    assert all(i["frames"][4:12].tobytes() in clip_frames for i in first)
    assert all(i["frames"].shape == (20, 2, 21, 3) for i in items)
    ds.set_epoch(1)
    assert not np.array_equal(ds[3]["frames"], a["frames"]) or ds[3]["text"] != a["text"]
    # One-chunk windows reach the end of the clips: their last frames are targets too.
    plain = ChunkWindowDataset(clips, 4, 8, first_chunk_prob=0.0, seed=5, samples_per_epoch=400,
                               chunks=1)
    ends = [plain[i]["start_frame"] + 8 for i in range(400)]
    assert plain[0]["frames"].shape == (12, 2, 21, 3)
    assert max(ends) == clips[0].num_frames and min(ends) == 12


def _text(n):
    enc = TextEncoding(torch.randn(6, 384), torch.nn.functional.normalize(torch.randn(384), dim=0))
    return collate_conditions([TextCondition({"overall": enc})] * n, TINY.max_text_tokens)


@pytest.mark.parametrize("mode,rollout", [("duet", False), ("duet", True), ("bimanual", True)])
def test_objective_gives_finite_losses_and_gradients(data, mode, rollout):
    torch.manual_seed(0)
    clips = load_clips(data[mode], "train")
    model = ChunkFlowModel(TINY, ("duet", "bimanual"))
    model.set_normalization(mode, *feature_statistics(clips, mode, TINY, windows=64))
    # A fresh model outputs the last history frame (zero-initialised output layer): its feet
    # do not move, so the foot term would be zero whatever the mode; give it some motion.
    torch.nn.init.normal_(model.chunk_out[mode].weight, std=0.05)
    ds = ChunkWindowDataset(clips, 4, 8, first_chunk_prob=0.5, seed=1)
    batch = collate_windows([ds[i] for i in range(6)])
    losses = GeneratorObjective(model)(mode, batch["frames"], batch["history_valid"],
                                       batch["start_frame"], _text(6), rollout)
    assert set(losses) == {"loss", "flow", "position", "velocity", "bone", "foot",
                           "interaction", "contact"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert (losses["foot"] == 0) == (mode == "bimanual")
    losses["loss"].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads[f"chunk_out.{mode}.weight"].abs().sum() > 0
    other = "bimanual" if mode == "duet" else "duet"
    assert grads[f"chunk_out.{other}.weight"] is None


def _options(data, out, **kw):
    base = dict(data=[data["duet"], data["bimanual"]], out=out, steps=6, batch_size=4,
                model=TINY, device="cpu", threads=1, progress=False, log_every=2, val_every=4,
                checkpoint_every=3, rollout_from=0.5, rollout_prob=1.0, warmup_steps=2)
    base.update(kw)
    return GeneratorTrainOptions(**base)


def test_training_run_logs_checkpoints_resumes_and_is_deterministic(data, tmp_path):
    summary = train_generator(_options(data, tmp_path / "a"))
    assert summary["steps"] == 6 and summary["modes"] == ["duet", "bimanual"]
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text()
            .splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert all(math.isfinite(r["train/loss"]) for r in rows)
    assert "val/loss" in rows[1] and rows[-1]["rollout"] == 1.0  # rollouts in the second half
    assert (tmp_path / "a" / "metrics.png").stat().st_size > 1000
    loaded = load_checkpoint(tmp_path / "a" / "generator.pt")
    assert loaded.info["step"] == 6 and loaded.model.modes == ("duet", "bimanual")
    # The contact planner comes from the training clips' captions and contacts.
    assert ("left", "palm", "right", "palm") in loaded.planner.pairs
    assert set(loaded.planner.modes) == {"duet", "bimanual"}
    for mode in ("duet", "bimanual"):
        assert MotionRecord.load(tmp_path / "a" / "samples" / f"{mode}.npz").num_frames == 120

    # Resume continues the step count and the log.
    resumed = train_generator(_options(data, tmp_path / "a", steps=8, resume=True))
    assert resumed["steps"] == 8
    steps = [json.loads(line)["step"] for line in (tmp_path / "a" / "metrics.jsonl")
             .read_text().splitlines()]
    assert steps == [2, 4, 6, 8]

    # The same seed gives the same run.
    train_generator(_options(data, tmp_path / "b"))
    a = torch.load(tmp_path / "a" / "generator.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "generator.pt", weights_only=True)
    assert a["info"]["step"] == 8 and b["info"]["step"] == 6
    first_a = json.loads((tmp_path / "a" / "metrics.jsonl").read_text().splitlines()[0])
    first_b = json.loads((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()[0])
    assert first_a["train/loss"] == first_b["train/loss"]


def test_training_options_are_checked(data, tmp_path):
    with pytest.raises(DyadInputError, match="--steps"):
        train_generator(_options(data, tmp_path, steps=0))
    with pytest.raises(DyadInputError, match="rollout-prob"):
        train_generator(_options(data, tmp_path, rollout_prob=2.0))
    with pytest.raises(DyadInputError, match="nothing to resume"):
        train_generator(_options(data, tmp_path / "fresh", resume=True))
    with pytest.raises(DyadInputError, match="word-drop-prob"):
        train_generator(_options(data, tmp_path, word_drop_prob=-0.1))


def test_training_with_hidden_words_runs(data, tmp_path):
    summary = train_generator(_options(data, tmp_path / "w", steps=4, word_drop_prob=0.5,
                                       words_off_prob=0.5))
    assert summary["steps"] == 4
    assert math.isfinite(summary["final_metrics"]["train/loss"])
    run = json.loads((tmp_path / "w" / "run.json").read_text())
    assert run["options"]["word_drop_prob"] == 0.5 and run["options"]["words_off_prob"] == 0.5


@pytest.mark.slow
def test_trained_model_continues_seamlessly_across_chunks(data, tmp_path):
    """After a short training on smooth toy motion, the jump between chunks is no bigger than
    the motion inside chunks."""
    opts = _options({"duet": data["bimanual"], "bimanual": data["bimanual"]}, tmp_path / "c",
                    steps=300, batch_size=16, log_every=50, val_every=1000,
                    checkpoint_every=1000, rollout_from=0.6, rollout_prob=0.5)
    opts.data = [data["bimanual"]]
    train_generator(opts)
    gen = MotionGenerator(tmp_path / "c" / "generator.pt", device="cpu")
    rec = gen.generate("both hands wave up and down", mode="bimanual", seconds=4, seed=0)
    step = np.linalg.norm(np.diff(rec.joints, axis=0), axis=-1).mean(axis=(1, 2))  # (T-1,)
    c = TINY.chunk_frames
    boundary = step[c - 1::c]
    inside = np.delete(step, np.arange(c - 1, len(step), c))
    assert boundary.mean() < 3.0 * inside.mean()


@pytest.mark.slow
def test_torchrun_two_processes_train_one_model(data, tmp_path):
    """``torchrun`` with two CPU processes (Gloo): one run folder, world size 2."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={port}", "--master_addr=127.0.0.1", "-m", "dyad.cli", "train",
           "generator", "--data", str(data["bimanual"]), "--out", str(tmp_path / "ddp"),
           "--steps", "4", "--batch-size", "4", "--width", "32", "--denoiser-layers", "1",
           "--context-layers", "1", "--chunk-frames", "8", "--history-frames", "4",
           "--device", "cpu", "--threads", "1", "--no-progress", "--json"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["steps"] == 4
    assert json.loads((tmp_path / "ddp" / "run.json").read_text())["world_size"] == 2
    assert load_checkpoint(tmp_path / "ddp" / "generator.pt").info["step"] == 4


def test_time_budget_stops_the_run_and_install_default_writes_float16(data, tmp_path,
                                                                      monkeypatch):
    import dyad.training.train_generator as tg

    target = tmp_path / "pkg" / "default.pt"
    monkeypatch.setattr(tg, "DEFAULT_CHECKPOINT", target)
    summary = train_generator(_options(data, tmp_path / "budget", steps=100000,
                                       time_budget_min=0.05, install_default=True,
                                       log_every=1000))
    assert 0 < summary["steps"] < 100000
    assert summary["installed"] == str(target) and summary["installed_mb"] < 40
    state = torch.load(target, weights_only=True)
    assert state["state_dict"]["null_token"].dtype == torch.float16
    assert load_checkpoint(target).info["step"] == summary["steps"]


def test_validation_split_is_optional_and_resume_state_round_trips(tmp_path):
    only_train = write_toy_dataset(tmp_path / "toy", "duet", {"train": 2}, frames=30)
    train, val = load_train_and_val([only_train])
    assert [len(c) for c in train.values()] == [2] and val == {}
    with pytest.raises(DatasetLayoutError):
        load_train_and_val([tmp_path / "empty"])

    last = tmp_path / "run" / "last.pt"
    last.parent.mkdir()
    save_resume_state({"step": 3, "w": torch.arange(4)}, last)
    state = load_resume_state(last)
    assert state["step"] == 3 and torch.equal(state["w"], torch.arange(4))
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.pt"]


def test_single_process_run_and_per_rank_seeds(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with joined_run("cpu") as ctx:
        assert not ctx.distributed and ctx.is_main and ctx.device.type == "cpu"
    draws = []
    for rank in (0, 1, 0):
        used = set_up_process(RunContext(torch.device("cpu"), rank=rank, world_size=2), 1, 5)
        draws.append(torch.rand(3))
        assert used == 1
    assert torch.equal(draws[0], draws[2]) and not torch.equal(draws[0], draws[1])
