"""The contact-prompt benchmark measures contacts on generated joints (plumbing on a tiny model;
the quality figure itself comes from the benchmark on the default model)."""

import argparse
import json

import numpy as np
import pytest

from dyad.bench import contact_prompts
from dyad.cli import main
from ros_tiny_generator import shared_tiny_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return shared_tiny_checkpoint(tmp_path_factory)


def test_counts_follow_the_measured_distances(tiny):
    args = argparse.Namespace(seeds=2, seconds=0.5, touch_m=0.05, checkpoint=str(tiny),
                              device="cpu", contact_guidance=None)
    out = contact_prompts.run(args)
    assert len(out["prompts"]) == len(contact_prompts.PROMPTS)
    for row in out["prompts"]:
        closest = np.array(row["closest_m_per_seed"])
        assert len(closest) == 2 and np.isfinite(closest).all()
        assert row["seeds_with_contact"] == int((closest <= 0.05).sum())
    # A text that names no hand counts either hand's contact: the closest of the pairs.
    hug = [r for r in out["prompts"] if r["text"] == "two people hug"][0]
    assert hug["contact"].count(" or ") == 3 and "B:left_hand ~ A:torso" in hug["contact"]
    # A looser touch distance can only count more seeds.
    loose = contact_prompts.run(argparse.Namespace(**{**vars(args), "touch_m": 10.0}))
    assert all(r["seeds_with_contact"] == 2 for r in loose["prompts"])


def test_cli_json_and_bad_seeds(tiny, capsys):
    assert main(["bench", "contact-prompts", "--json", "--seeds", "1", "--seconds", "0.5",
                 "--checkpoint", str(tiny)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["results"]["prompts"][0]["seeds"] == 1
    assert main(["bench", "contact-prompts", "--seeds", "0", "--checkpoint", str(tiny)]) == 2
