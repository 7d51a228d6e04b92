"""Dataset synthesis, its folder layout, reproducibility, ``dyad data`` commands and stats.

Runs on the stand-in generators of test_captions.py (registered per test); the last tests use
the real duet/bimanual generators where they are registered.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from dyad.cli import main
from dyad.errors import DyadInputError, MotionFileError
from dyad.motion import MotionRecord
from dyad.training.synth import dataset as ds
from dyad.training.synth.phrasebook import words_of, words_only_in_test_book
from test_captions import (  # noqa: F401  (standin_registry is a fixture)
    BIMANUAL_STANDIN_LABELS, DUET_STANDIN_LABELS, standin_registry,
)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_layout_index_and_description(standin_registry, tmp_path):
    out = tmp_path / "duet"
    summary = ds.synthesize_dataset("duet", 30, 3, out, progress=False)
    assert summary.clips == 30 and summary.workers == 1
    desc = json.loads((out / "dataset.json").read_text())
    assert desc["format"] == "dyad-synth" and desc["mode"] == "duet" and desc["seed"] == 3
    assert desc["clips"] == 30 and sum(desc["label_counts"].values()) == 30
    counts = list(desc["label_counts"].values())
    assert set(desc["label_counts"]) == set(DUET_STANDIN_LABELS)
    assert max(counts) - min(counts) <= 1  # round-robin labels
    rows = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(30))
    for r in rows:
        assert r["file"] == f"{r['split']}/duet_{r['index']:06d}.npz"
        rec = MotionRecord.load(out / r["file"])
        assert rec.label == r["label"] and rec.text == r["caption"]
        assert len(rec.captions) >= 3 and set(rec.agent_texts) == {"A", "B"}
        assert rec.meta["split"] == r["split"] and rec.meta["kinematics"]["events"]
        assert rec.meta["book"] == ("test" if r["split"] == "test" else "train")
    assert sum(desc["split_counts"].values()) == 30
    assert not list(tmp_path.glob(".duet.partial*"))


def test_same_seed_gives_byte_identical_files_whatever_the_workers(standin_registry, tmp_path):
    n = ds.IN_PROCESS_BELOW + 4  # large enough for the worker pool
    ds.synthesize_dataset("bimanual", n, 11, tmp_path / "a", workers=2, progress=False)
    ds.synthesize_dataset("bimanual", n, 11, tmp_path / "b", workers=1, progress=False)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) == n + 2 and a == b
    # A shorter run with the same seed is a prefix of the longer one.
    ds.synthesize_dataset("bimanual", 10, 11, tmp_path / "c", progress=False)
    c = _files(tmp_path / "c")
    clips = [k for k in c if k.endswith(".npz")]
    assert len(clips) == 10 and all(c[k] == a[k] for k in clips)
    # Another seed changes the motion.
    ds.synthesize_dataset("bimanual", 10, 12, tmp_path / "d", progress=False)
    first_c, first_d = (ds.read_index(tmp_path / k)[0]["file"] for k in ("c", "d"))
    assert not np.array_equal(MotionRecord.load(tmp_path / "d" / first_d).joints,
                              MotionRecord.load(tmp_path / "c" / first_c).joints)


def test_splits_are_80_10_10_and_independent_of_run_length():
    splits = [ds.split_of(0, i) for i in range(20000)]
    for name, fraction in ds.SPLIT_FRACTIONS:
        assert splits.count(name) / len(splits) == pytest.approx(fraction, abs=0.015)
    assert [ds.split_of(5, i) for i in range(50)] == [ds.split_of(5, i) for i in range(50)]
    assert [ds.split_of(5, i) for i in range(50)] != [ds.split_of(6, i) for i in range(50)]


def test_output_folder_rules(standin_registry, tmp_path):
    out = tmp_path / "set"
    out.mkdir()
    ds.synthesize_dataset("duet", 6, 0, out, progress=False)  # an empty folder is fine
    with pytest.raises(DyadInputError, match="not empty.*--overwrite"):
        ds.synthesize_dataset("duet", 6, 0, out, progress=False)
    ds.synthesize_dataset("duet", 8, 1, out, progress=False, overwrite=True)
    assert json.loads((out / "dataset.json").read_text())["clips"] == 8
    assert len(list(out.rglob("*.npz"))) == 8  # the old clips are gone
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(DyadInputError, match="not a Dyad dataset"):
        ds.synthesize_dataset("duet", 6, 0, mine, progress=False, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DyadInputError, match="cannot create"):
        ds.synthesize_dataset("duet", 6, 0, blocker / "sub", progress=False)
    for bad in (dict(mode="trio"), dict(clips=0), dict(clips=-3), dict(seed=-1)):
        args = dict(mode="duet", clips=4, seed=0, out_dir=tmp_path / "x") | bad
        with pytest.raises(DyadInputError):
            ds.synthesize_dataset(**args, progress=False)


def _diverging(rng):
    raise ValueError("joint solver diverged")


def _nan_clip(rng):
    joints = np.zeros((5, 2, 62, 3))
    joints[2, 1, 7] = np.nan
    return MotionRecord(joints=joints)  # refused by the record itself (a MotionFileError)


@pytest.mark.parametrize("generate, cause", [(_diverging, "diverged"),
                                             (_nan_clip, "non-finite")])
def test_a_failing_generator_leaves_nothing_behind(standin_registry, tmp_path, generate,
                                                   cause):
    from dyad.training.synth import types as synth_types

    standin_registry[("duet", "hug")] = synth_types.InteractionType("hug", "duet", generate, True)
    out = tmp_path / "broken"
    # A generator bug is not bad user input: a RuntimeError naming the clip, not exit code 2.
    with pytest.raises(RuntimeError, match=rf"clip \d+ \(duet/hug, seed 0\).*{cause}"):
        ds.synthesize_dataset("duet", 12, 0, out, progress=False)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_stats_counts_and_checks(standin_registry, tmp_path):
    out = tmp_path / "bim"
    ds.synthesize_dataset("bimanual", 24, 2, out, progress=False)
    stats = ds.dataset_stats(out)
    rows = ds.read_index(out)
    assert stats["clips"] == 24 and sum(stats["labels"].values()) == 24
    assert set(stats["labels"]) == set(BIMANUAL_STANDIN_LABELS)
    assert stats["captions_per_clip_min"] >= 3 and stats["nonfinite"] == 0
    assert stats["splits"] == {s: sum(r["split"] == s for r in rows) for s in ds.SPLITS}
    assert stats["frames_total"] == sum(r["frames"] for r in rows)
    assert stats["duration_s"] == pytest.approx(stats["frames_total"] / 30.0, abs=1e-3)
    assert stats["contact_clips"] == 24 and stats["repetitions_confirmed"] == 1.0
    # Non-finite values in a clip are counted, not hidden.
    first = out / rows[0]["file"]
    data = dict(np.load(first))
    data["joints"][3, 0, 5, 1] = np.nan
    data["joints"][4, 1, 2, :] = np.inf
    np.savez(first, **data)
    assert ds.dataset_stats(out)["nonfinite"] == 4
    # A truncated clip file is an error naming the file.
    first.write_bytes(first.read_bytes()[:200])
    with pytest.raises(MotionFileError, match=re.escape(str(first))):
        ds.dataset_stats(out)


def test_stats_refuses_what_is_not_a_dataset(tmp_path):
    with pytest.raises(DyadInputError, match="no such dataset folder"):
        ds.dataset_stats(tmp_path / "absent")
    with pytest.raises(DyadInputError, match="not a Dyad dataset"):
        ds.dataset_stats(tmp_path)
    (tmp_path / "index.jsonl").write_text("")
    with pytest.raises(DyadInputError, match="incomplete"):
        ds.dataset_stats(tmp_path)
    (tmp_path / "dataset.json").write_text('{"format": "something-else"}')
    with pytest.raises(DyadInputError, match="not a Dyad dataset description"):
        ds.dataset_stats(tmp_path)


def test_cli_synth_and_stats(standin_registry, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["data", "synth", "--mode", "duet", "--clips", "12", "--seed", "4",
                 "--out", str(out), "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["clips"] == 12 and summary["mode"] == "duet"
    assert main(["data", "stats", str(out), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    for key in ("clips", "labels", "captions_per_clip_min", "nonfinite", "splits",
                "frames_total", "duration_s"):
        assert key in stats
    assert stats["clips"] == 12 and stats["nonfinite"] == 0


@pytest.mark.parametrize("argv, message", [
    (["synth", "--mode", "trio", "--clips", "5"], "unknown mode 'trio'"),
    (["synth", "--mode", "duet", "--clips", "0"], "--clips must be a positive"),
    (["synth", "--mode", "duet", "--clips", "-2"], "--clips must be a positive"),
    (["stats"], "not a Dyad dataset"),
])
def test_cli_bad_input_is_one_line_and_exit_2(standin_registry, tmp_path, capsys, argv,
                                              message):
    target = tmp_path / "target"
    target.mkdir()
    argv = ["data"] + argv + ([str(target)] if argv[0] == "stats" else ["--out", str(target)])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dyad data: error:") and message in err
    assert not list(tmp_path.glob(".target.partial*"))


def test_cli_refuses_unwritable_and_non_empty_output(standin_registry, tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["data", "synth", "--mode", "duet", "--clips", "3", "--out",
                 str(blocker / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(blocker / "out") in err
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    assert main(["data", "synth", "--mode", "duet", "--clips", "3", "--out", str(full),
                 "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_training_captions_of_a_dataset_never_use_test_only_words(standin_registry, tmp_path):
    only = words_only_in_test_book()
    for mode in ("duet", "bimanual"):
        out = tmp_path / mode
        ds.synthesize_dataset(mode, 40, 9, out, progress=False)
        rows = ds.read_index(out)
        assert {r["split"] for r in rows} == set(ds.SPLITS)
        for r in rows:
            texts = [*r["captions"], *r["agent_texts"].values(), r["inter_text"]]
            used = set().union(*(words_of(t) for t in texts)) & only
            if r["split"] == "test":
                assert all(words_of(t) & only for t in texts), r["id"]
            else:
                assert not used, (r["id"], sorted(used))


def _real_types(mode):
    from dyad.training.synth.types import interactions

    try:
        return interactions(mode)
    except ImportError:
        return []


@pytest.mark.parametrize("mode", ["duet", "bimanual"])
def test_real_generators_caption_and_detect_their_contacts(mode):
    """Every registered real generator: clips caption cleanly, and the contacts a generator
    declares are seen in its joints (inside a measured contact of the same parts) for nearly
    all of them. (Repeated pats may read as one touch: joints inside a shoulder or torso stay
    within touching distance while the hand lifts a few centimetres.)"""
    types = _real_types(mode)
    if not types:
        pytest.skip(f"no real {mode} generators registered in this checkout")
    matched = declared = 0
    only = words_only_in_test_book()
    for t in types:
        rec = ds.make_clip(t, 0, 123, "train")
        assert len(rec.captions) >= 3 and all(rec.captions) and rec.text
        assert set(rec.agent_texts) == set(rec.agents) and rec.meta["inter_text"]
        assert not set().union(*(words_of(c) for c in rec.captions)) & only
        events = rec.meta["kinematics"]["events"]
        spans = []  # measured [on, off) of each pair
        for e in events:
            key = (e["agent"], e["part"], e["other_agent"], e["other_part"])
            if e["kind"] == "contact_on":
                spans.append([key, e["start"], rec.num_frames])
            elif e["kind"] == "contact_off":
                next(sp for sp in reversed(spans) if sp[0] == key)[2] = e["start"]
        for c in rec.contacts:
            declared += 1
            key = (c.agent_a, c.part_a, c.agent_b, c.part_b)
            matched += any(k == key and on - 3 <= c.start and c.end <= off + 3
                           for k, on, off in spans)
    if declared:
        assert matched >= 0.8 * declared, f"{matched}/{declared} declared contacts found"


@pytest.mark.slow
def test_real_generators_same_bytes_from_a_threaded_process(tmp_path):
    """From a process that runs a thread the workers start clean (forkserver) and register
    the real generators themselves; the files are the same as in one process."""
    import threading

    if not _real_types("bimanual"):
        pytest.skip("no real bimanual generators registered in this checkout")
    n = ds.IN_PROCESS_BELOW + 2
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, name="test-waiter", daemon=True)
    waiter.start()
    try:
        ds.synthesize_dataset("bimanual", n, 5, tmp_path / "pool", workers=2, progress=False)
    finally:
        stop.set()
        waiter.join()
    ds.synthesize_dataset("bimanual", n, 5, tmp_path / "one", workers=1, progress=False)
    assert _files(tmp_path / "pool") == _files(tmp_path / "one")
