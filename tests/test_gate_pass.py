"""``dyad bench gate-pass``: the retarget -> sim gate integration harness (clip selection,
per-label pass rates and violation kinds, dataset input, bad options)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from dyad.bench import gate_pass
from dyad.cli import main
from dyad.errors import DyadInputError
from dyad.sim.report import VIOLATION_KINDS


def _args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    gate_pass.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_harness_clips_are_the_datasets_clips(tmp_path):
    """Clip i of seed S in the harness is clip i of ``dyad data synth --seed S``."""
    from dyad.motion import MotionRecord
    from dyad.training.synth.dataset import read_index, synthesize_dataset

    synthesize_dataset("bimanual", 3, 5, tmp_path / "ds", progress=False)
    rows = read_index(tmp_path / "ds")
    args = _args(seed=5, clips=1, labels=[rows[2]["label"]])
    [(label, clip_id, record)] = list(gate_pass._clips("bimanual", args))
    assert (label, clip_id) == (rows[2]["label"], rows[2]["id"])
    stored = MotionRecord.load(tmp_path / "ds" / rows[2]["file"])
    np.testing.assert_array_equal(record.joints, stored.joints)


def test_pass_rates_per_label_add_up(tmp_path):
    args = _args(modes=["bimanual"], clips=1, labels=["thumbs_up", "clap"],
                 save=tmp_path / "out")
    results = gate_pass.run(args)
    mode = results["modes"]["bimanual"]
    assert results["robots"] == {"bimanual": "inspire"}
    assert set(mode["labels"]) == {"thumbs_up", "clap"}
    assert [c["label"] for c in mode["per_clip"]] == ["clap", "thumbs_up"]  # label order
    for label, summary in mode["labels"].items():
        clips = [c for c in mode["per_clip"] if c["label"] == label]
        assert summary["clips"] == len(clips) == 1
        assert summary["passed"] == sum(c["passed"] for c in clips)
        assert summary["pass_rate"] == summary["passed"] / summary["clips"]
    for clip in mode["per_clip"]:
        assert set(clip["violations"]) <= set(VIOLATION_KINDS)
        assert clip["passed"] == (not clip["violations"])
        # every clip's trajectory and report were written, and the report agrees
        report = json.loads((tmp_path / "out" / f"{clip['clip']}.json").read_text())
        assert report["passed"] == clip["passed"]
        assert (tmp_path / "out" / f"{clip['clip']}.npz").is_file()
    kinds = {k for c in mode["per_clip"] for k in c["violations"]}
    assert set(mode["violation_clips"]) == kinds
    assert results["overall"]["clips"] == 2
    assert results["overall"]["passed"] == mode["passed"]


def test_reads_clips_from_a_dataset_folder(tmp_path, capsys):
    from dyad.training.synth.dataset import synthesize_dataset

    synthesize_dataset("bimanual", 2, 0, tmp_path / "ds", progress=False)
    assert main(["bench", "gate-pass", "--json", "--data", str(tmp_path / "ds"), "--clips",
                 "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    results = report["results"]
    assert list(results["modes"]) == ["bimanual"]  # the dataset's mode only
    assert results["overall"]["clips"] == 2
    assert {c["clip"] for c in results["modes"]["bimanual"]["per_clip"]} == \
        {"bimanual_000000", "bimanual_000001"}


@pytest.mark.parametrize("overrides, message", [
    ({"clips": 0}, "--clips"),
    ({"labels": ["moonwalk"]}, "moonwalk"),
])
def test_bad_options_are_input_errors(overrides, message):
    with pytest.raises(DyadInputError, match=message):
        gate_pass.run(_args(**overrides))


def test_data_folder_must_be_a_dataset(tmp_path):
    with pytest.raises(DyadInputError, match="dataset.json"):
        gate_pass.run(_args(data=tmp_path))


def test_time_scaling_option_slows_fast_clips():
    """Synthetic claps meet at human speed (1-2 m/s): with --time-scaling they are stretched."""
    plain = gate_pass.run(_args(modes=["bimanual"], clips=1, labels=["clap"]))
    scaled = gate_pass.run(_args(modes=["bimanual"], clips=1, labels=["clap"],
                                 time_scaling=True))
    [before] = plain["modes"]["bimanual"]["per_clip"]
    [after] = scaled["modes"]["bimanual"]["per_clip"]
    assert before["frames"] == before["frames_in"] and before["max_slowdown"] == 1.0
    assert after["frames_in"] == before["frames"]
    assert after["frames"] > after["frames_in"] and after["max_slowdown"] > 1.0
