"""The generator's API and CLI on a tiny random checkpoint: streaming, determinism, bad input."""

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from dyad.cli import main
from dyad.errors import DyadInputError
from dyad.generator.checkpoint import load_checkpoint, save_checkpoint
from dyad.generator.config import ModelConfig, SamplingOptions
from dyad.generator.errors import CheckpointError, NonFiniteMotionError, TextTruncatedWarning
from dyad.generator.mode_selector import build_mode_selector
from dyad.generator.model import ChunkFlowModel
from dyad.generator.streaming import MotionGenerator
from dyad.generator.text_encoder import shared_text_encoder
from dyad.motion import MotionRecord, record_from_chunks
from dyad.training.motion_dataset import load_clips
from dyad.training.toy_motion import write_toy_dataset
from dyad.training.train_generator import feature_statistics

TINY = ModelConfig(width=32, heads=2, denoiser_layers=1, context_layers=1, ff_mult=2,
                   chunk_frames=8, history_frames=4)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny untrained checkpoint whose weights are perturbed so outputs depend on inputs."""
    root = tmp_path_factory.mktemp("gen")
    torch.manual_seed(0)
    model = ChunkFlowModel(TINY, ("duet", "bimanual"))
    for mode in ("duet", "bimanual"):
        clips = load_clips(write_toy_dataset(root / mode, mode, {"train": 3}), "train")
        model.set_normalization(mode, *feature_statistics(clips, mode, TINY, windows=64))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    selector = build_mode_selector(shared_text_encoder("cpu", TINY.max_text_tokens),
                                   {"duet": [], "bimanual": []})
    return save_checkpoint(root / "tiny.pt", model, selector, SamplingOptions(steps=3))


@pytest.fixture(scope="module")
def gen(checkpoint):
    return MotionGenerator(checkpoint, device="cpu")


def test_stream_yields_contiguous_finite_chunks(gen):
    chunks = list(gen.stream("two people shake hands", seconds=1.0, seed=3))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert len(chunks) == math.ceil(30 / TINY.chunk_frames)
    assert [c.start_frame for c in chunks] == [8 * i for i in range(len(chunks))]
    assert [c.is_last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert sum(c.num_frames for c in chunks) == 30
    assert all(c.skeleton == "body22+hands" and c.agents == ("A", "B") for c in chunks)
    assert all(np.isfinite(c.joints).all() for c in chunks)
    record = record_from_chunks(chunks)
    assert record.joints.shape == (30, 2, 62, 3)


def test_stream_yields_before_the_motion_is_made(gen, monkeypatch):
    calls = []
    original = gen.model.encode_context
    monkeypatch.setattr(gen.model, "encode_context",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    it = gen.stream("the left hand claps the right hand", mode="bimanual", seconds=2.0, seed=1)
    assert calls == []  # nothing is sampled before the caller asks
    first = next(it)
    assert first.index == 0 and len(calls) == 1
    rest = list(it)
    assert len(calls) == 1 + len(rest) == math.ceil(60 / TINY.chunk_frames)


def test_same_seed_same_motion_other_seed_other_motion(gen):
    a = gen.generate("two people wave", mode="duet", seconds=0.8, seed=7).joints
    b = gen.generate("two people wave", mode="duet", seconds=0.8, seed=7).joints
    c = gen.generate("two people wave", mode="duet", seconds=0.8, seed=8).joints
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


def test_first_chunk_starts_at_the_origin_and_bones_keep_their_length(gen):
    rec = gen.generate("two people wave", mode="duet", seconds=1.5, seed=2)
    from dyad.skeletons import SKELETONS

    pelvis_a = rec.joints[0, 0, 0]
    # The first chunk is made in its own canonical frame, which is the world frame.
    assert np.abs(pelvis_a[:2]).max() < 2.0
    lengths = SKELETONS["body22+hands"].bone_lengths(rec.joints)  # (T, 2, bones)
    assert np.allclose(lengths, lengths[:1], atol=1e-4)


def test_mode_auto_explicit_and_agent_texts(gen):
    assert gen.prepare("two people shake hands").mode == "duet"
    req = gen.prepare("the left hand claps against the right hand")
    assert req.mode == "bimanual" and req.mode_source == "auto"
    assert set(req.mode_scores) == {"duet", "bimanual"}
    assert gen.prepare("two people shake hands", mode="bimanual").mode == "bimanual"
    req = gen.prepare("they greet", agent_texts={"A": "waves", "B": "  "})
    assert req.mode == "duet" and req.mode_source == "agent texts"
    assert req.condition.roles == ("overall", "agent0")
    chunks = list(gen.stream("hands", agent_texts={"left": "makes a fist",
                                                   "inter": "the hands touch"}, seconds=0.3,
                             seed=0))
    assert chunks[0].agents == ("left", "right")
    with pytest.raises(DyadInputError, match="accepted"):
        gen.prepare("x", mode="duet", agent_texts={"left": "waves"})


def test_text_encoding_is_cached(gen):
    gen.prepare("a fresh sentence about waving")
    before = gen.encoder.forward_count
    gen.prepare("a fresh sentence about waving", mode="duet")
    assert gen.encoder.forward_count == before


@pytest.mark.parametrize("kwargs,match", [
    ({"text": ""}, "empty"),
    ({"text": " \t\n "}, "empty"),
    ({"text": b"caf\xe9 dance"}, "UTF-8"),
    ({"text": "caf\udce9"}, "UTF-8"),
    ({"text": "wave", "seconds": 0}, "positive"),
    ({"text": "wave", "seconds": -2}, "positive"),
    ({"text": "wave", "seconds": float("nan")}, "positive"),
    ({"text": "wave", "seconds": 121}, "120"),
    ({"text": "wave", "seconds": "long"}, "number"),
    ({"text": "wave", "mode": "trio"}, "unknown mode"),
    ({"text": "wave", "seed": -1}, "seed"),
    ({"text": "wave", "steps": 20}, "steps"),
])
def test_bad_input_is_refused_with_a_clear_error(gen, kwargs, match):
    text = kwargs.pop("text")
    with pytest.raises(DyadInputError, match=match):
        gen.prepare(text, **kwargs)


def test_very_long_text_is_truncated_with_a_warning(gen):
    with pytest.warns(TextTruncatedWarning, match="10000 words"):
        req = gen.prepare("wave " * 10000, mode="duet", seconds=0.2, seed=0)
    assert len(req.text.split()) == 48
    assert len(list(gen.stream_request(req))) == 1


def test_non_finite_network_output_raises_with_the_step(gen, monkeypatch):
    original = gen.model.denoise
    calls = []

    def bad(ctx, mode, noisy, t):
        calls.append(1)
        out = original(ctx, mode, noisy, t)
        return out * float("nan") if len(calls) == 5 else out  # chunk 1, step 1 (3 steps)

    monkeypatch.setattr(gen.model, "denoise", bad)
    it = gen.stream("two people wave", mode="duet", seconds=1.0, seed=0)
    assert next(it).index == 0
    with pytest.raises(NonFiniteMotionError) as err:
        next(it)
    assert err.value.chunk == 1 and err.value.step == 1
    assert "chunk 1" in str(err.value) and "step 1" in str(err.value)


def test_missing_and_corrupt_checkpoints_name_the_file_and_the_fix(tmp_path, checkpoint):
    with pytest.raises(CheckpointError, match="no such file.*dyad train generator"):
        load_checkpoint(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a checkpoint" * 50)
    with pytest.raises(CheckpointError, match=f"{junk}.*not a readable"):
        load_checkpoint(junk)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_checkpoint(truncated)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a dyad-generator checkpoint"):
        load_checkpoint(other)
    bad_state = torch.load(checkpoint, weights_only=True)
    bad_state["state_dict"].pop("null_token")
    broken = tmp_path / "broken.pt"
    torch.save(bad_state, broken)
    with pytest.raises(CheckpointError, match="does not match the model code"):
        load_checkpoint(broken)


def test_half_precision_checkpoint_loads_and_generates(tmp_path, gen):
    half = save_checkpoint(tmp_path / "half.pt", gen.model, gen.loaded.selector,
                           gen.sampling, half=True)
    loaded = load_checkpoint(half)
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert half.stat().st_size < gen.loaded.path.stat().st_size


def test_cli_generate_json_and_file(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.npz"
    rc = main(["generate", "two people shake hands", "--checkpoint", str(checkpoint),
               "--seconds", "0.5", "--seed", "4", "--out", str(out), "--json",
               "--device", "cpu", "--agent-text", "A=reaches out"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mode"] == "duet" and summary["frames"] == 15 and summary["fps"] == 30.0
    assert summary["first_chunk_ms"] > 0 and summary["chunks"] == 2
    rec = MotionRecord.load(out)
    assert rec.num_frames == 15 and rec.agent_texts == {"A": "reaches out"}
    assert rec.meta["generator"]["seed"] == 4


@pytest.mark.parametrize("argv,match", [
    (["generate", "   "], "empty"),
    (["generate", "wave", "--seconds", "0"], "positive"),
    (["generate", "wave", "--seconds", "1000"], "120"),
    (["generate", "wave", "--mode", "crowd"], "unknown mode"),
    (["generate", "wave", "--out", "x.bvh"], ".npz"),
])
def test_cli_bad_input_exits_2_with_one_line(checkpoint, capsys, argv, match):
    rc = main(argv + ["--checkpoint", str(checkpoint), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and match in err and len(err.strip().splitlines()) == 1


def test_cli_missing_checkpoint_exits_2(tmp_path, capsys):
    rc = main(["generate", "wave", "--checkpoint", str(tmp_path / "gone.pt"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and "gone.pt" in err and "dyad train generator" in err


def test_help_does_not_import_torch():
    code = ("import sys; from dyad.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_bench_generate_reports_latency_speed_and_memory(checkpoint):
    import argparse

    from dyad.bench import generate as bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--checkpoint", str(checkpoint), "--devices", "cpu", "--runs", "2",
                              "--seconds", "0.6", "--repeats", "1", "--modes", "bimanual"])
    res = bench.run(args)
    cpu = res["devices"]["cpu"]
    fig = cpu["modes"]["bimanual"]
    assert fig["first_chunk_ms"]["n"] == 2 and fig["first_chunk_ms"]["p95"] > 0
    assert fig["realtime_factor"]["median"] > 0 and cpu["peak_rss_mb"] > 10
    assert set(fig["meets_targets"]) == {"first_chunk_ms_p50", "realtime_factor_median"}


def test_packaged_model_claps_and_the_record_lists_the_measured_contact():
    """The default model's clap makes the palms meet, and the generated record declares that
    contact (measured on its joints), so the retargeter and the gate expect the touch."""
    from dyad.generator.streaming import default_generator

    motion = default_generator(None, "cpu").generate("clap both hands twice", mode="bimanual",
                                                     seconds=3.0, seed=0)
    palms = [c for c in motion.contacts if {c.part_a, c.part_b} == {"palm"}]
    assert palms, motion.contacts
    c = palms[0]
    assert 0 <= c.start < c.end <= motion.num_frames
    assert motion.contact_distance(c)[c.start:c.end].min() < 0.05
    assert motion.meta["generator"]["contacts"] == "measured on the generated joints"


@pytest.mark.parametrize("text", ["two people give each other a high five",
                                  "one person pats the other on the shoulder"])
def test_packaged_model_completes_a_named_duet_contact(text):
    """The contact pull brings the hands of a high five together (the bodies lean in where the
    arms are short) and a pat's palm onto a shoulder (whoever pats): 3 seeds of 3, where the
    arm-only pull by 0.5 m met in none of them."""
    from dyad.bench.contact_prompts import PROMPTS
    from dyad.generator.streaming import default_generator
    from dyad.motion import ContactInterval

    pairs = {prompt: pairs for prompt, _, pairs in PROMPTS}[text]  # what the benchmark counts
    gen = default_generator(None, "cpu")
    assert gen.sampling.contact_far_m == pytest.approx(0.9)
    for seed in range(3):  # 4 s, as `dyad bench contact-prompts`
        motion = gen.generate(text, mode="duet", seconds=4.0, seed=seed)
        closest = min(float(motion.contact_distance(ContactInterval(*p, 0, 0)).min())
                      for p in pairs)
        assert closest < 0.05, (seed, closest, motion.meta["generator"]["contact_plan"])


def test_blend_boundary_continues_the_history_and_ends_where_the_network_put_it():
    """A chunk that starts 0.4 m off where the history was heading (a partner who jumped at a
    chunk boundary) is inertialised: its first frame continues the history at constant
    velocity, the offset fades out, the last frame is untouched, and no step is larger than
    the offset spread over the chunk."""
    from dyad.generator.sampler import blend_boundary

    velocity = torch.tensor([0.01, 0.0, 0.0])           # 0.3 m/s along X
    history = torch.stack([torch.zeros(2, 3, 3) + k * velocity for k in range(4)])[None]
    chunk = torch.stack([torch.zeros(2, 3, 3) + (4 + k) * velocity for k in range(16)])[None]
    chunk[:, :, 1] += torch.tensor([0.4, 0.0, 0.0])     # agent B 0.4 m off, whole chunk
    out = blend_boundary(chunk, history)
    torch.testing.assert_close(out[:, 0], 2 * history[:, -1] - history[:, -2])
    torch.testing.assert_close(out[:, -1], chunk[:, -1])
    steps = (out[:, 1:] - out[:, :-1]).norm(dim=-1)
    assert steps.max() < 0.01 + 1.6 * 0.4 / 15            # smoothstep peaks at 1.5x the mean
    # A chunk already continuing the history is left as it is.
    clean = torch.stack([torch.zeros(2, 3, 3) + (4 + k) * velocity for k in range(16)])[None]
    torch.testing.assert_close(blend_boundary(clean, history), clean)
