"""Two free hands measured on their collision geometry (retarget/hand_pair.py), the palm the
gate expects contacts on (sim/body_parts.py), and what both do to a clap."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pinocchio")
pytest.importorskip("mujoco")

from dyad.retarget.hand_pair import MAX_PUSH_M, HandPairClearance  # noqa: E402
from dyad.retarget.registry import load_robot  # noqa: E402
from dyad.retarget.trajectory import FREE_JOINT_COLUMNS  # noqa: E402
from dyad.sim.synthetic_trajectories import facing_hands  # noqa: E402


@pytest.fixture(scope="module")
def pair():
    left, right = load_robot("inspire_left"), load_robot("inspire_right")
    return left, right, HandPairClearance.for_robots(left, right)


def _rows(traj, robot, name: str) -> np.ndarray:
    cols = [f"{name}/{c}" for c in FREE_JOINT_COLUMNS] + [f"{name}/{j}" for j in robot.joint_names]
    return traj.qpos[:, [traj.joint_names.index(c) for c in cols]]


def _palms(left, right, gaps):
    traj = facing_hands(left, right, np.asarray(gaps, dtype=float))
    return _rows(traj, left, "left"), _rows(traj, right, "right")


def test_contacts_measure_the_collision_geoms(pair):
    """The distances are MuJoCo's on the geoms the gate collides: open palms facing
    across a shrinking gap (the open Inspire thumbs stand 4 cm out of the palms and meet
    first) overlap once the palm centres come closer than the thumbs reach, and the reported
    direction opens the pair (moving the hands along it a little increases the distance)."""
    left, right, hp = pair
    rows_l, rows_r = _palms(left, right, [0.2, 0.09, 0.085])
    far, _ = hp.contacts(rows_l[0], rows_r[0])
    assert len(far) == 0  # nothing within reach
    near, _ = hp.contacts(rows_l[2], rows_r[2])
    assert len(near) and near.min() < -0.002
    dist, u = hp.contacts(rows_l[1], rows_r[1])
    i = int(np.argmin(dist))
    moved_l, moved_r = rows_l[1].copy(), rows_r[1].copy()
    moved_l[:3] += 0.0005 * u[i]
    moved_r[:3] -= 0.0005 * u[i]
    assert hp.contacts(moved_l, moved_r)[0].min() > dist[i]


@pytest.mark.parametrize("margin", [0.0, 0.004])
def test_separate_opens_overlapping_palms_to_the_margin(pair, margin):
    left, right, hp = pair
    rows_l, rows_r = _palms(left, right, [0.085])
    assert hp.contacts(rows_l[0], rows_r[0])[0].min() < -0.002
    d, gap = hp.separate(rows_l[0], rows_r[0], margin)
    assert gap == pytest.approx(margin, abs=3e-4)
    # Along the line between the palms (here world Y: the left hand sits at +Y).
    assert d[1] > 0.0 and abs(d[0]) < 1e-3 and abs(d[2]) < 1e-3
    moved_l, moved_r = rows_l[0].copy(), rows_r[0].copy()
    moved_l[:3] += 0.5 * d
    moved_r[:3] -= 0.5 * d
    assert hp.contacts(moved_l, moved_r)[0].min() == pytest.approx(gap, abs=1e-6)
    # Hands already clear stay where they are.
    clear_d, clear_gap = hp.separate(moved_l, moved_r, margin)
    assert np.linalg.norm(clear_d) < 1e-4 and clear_gap >= margin - 3e-4


def test_separate_never_pushes_farther_than_its_cap(pair):
    left, right, hp = pair
    rows_l, rows_r = _palms(left, right, [0.085])
    d, gap = hp.separate(rows_l[0], rows_r[0], 0.0, max_push_m=0.002)
    assert np.linalg.norm(d) == pytest.approx(0.002, abs=1e-6)
    assert gap < -0.001  # still overlapping: left for the gate to judge
    assert MAX_PUSH_M >= 0.015  # Inspire palms clapping need ~1.3 cm (thumb bases)


def test_the_palm_holds_the_thumb_base():
    """Dyad's palm part includes the thumb's carpometacarpal joint; on the robot that is the
    body of the ``thumb_cmc`` keypoint (Inspire's thumb base, which stands out of the palm),
    not the rest of the thumb or the other fingers."""
    from dyad.sim.body_parts import PartResolver
    from dyad.sim.scene import scene_for_trajectory

    left, right = load_robot("inspire_left"), load_robot("inspire_right")
    scene = scene_for_trajectory(facing_hands(left, right, np.full(4, 0.1)))
    palm = {scene.body_name(b) for b in PartResolver(scene).resolve("right", "palm")}
    assert {"right/r_palm", "right/r_thumb_proximal_1"} <= palm, palm
    assert not palm & {"right/r_thumb_proximal_2", "right/r_thumb_distal",
                       "right/r_index_proximal"}, palm


def test_a_retargeted_clap_commands_no_hand_through_the_other(pair):
    """Free hands brought together for a clap are held apart by their collision geometry
    (inside spheres alone left Inspire thumbs 2-6 mm inside the other palm, and the gate
    squeezed them past their joint limits): during the contact the commanded hands overlap by
    at most what the push cap leaves, and the gate finds the palms touching."""
    from dyad.retarget.retarget_motion import retarget_motion
    from dyad.sim.gate import validate
    from dyad.training.synth.types import interactions

    clap = {i.label: i for i in interactions("bimanual")}["clap"].generate(
        np.random.default_rng(0))
    traj = retarget_motion(clap, "inspire", progress=False)
    left, right, hp = pair
    rows_l, rows_r = _rows(traj, left, "left"), _rows(traj, right, "right")
    deepest = []
    for c in clap.contacts:
        for f in range(c.start, c.end):
            dist, _ = hp.contacts(rows_l[f], rows_r[f])
            deepest.append(dist.min() if len(dist) else np.inf)
    assert np.min(deepest) > -0.001, np.min(deepest)
    # Touching (the gate's 1 cm) on most frames of the contacts.
    assert np.mean(np.array(deepest) < 0.01) > 0.8
    report = validate(traj)
    assert not report.of_kind("missed_contact"), report.describe()
    assert not report.of_kind("robot_collision"), report.describe()


def test_slide_clears_what_stands_out_of_the_palms_within_their_plane(pair):
    """Palms facing 8.5 cm apart: the open thumbs stand into each other. The slide found lies
    in the palm's plane (square to the palms' line, world Y here), and after it no pair but
    two palm geoms is deeper than the margin; far apart there is nothing to slide."""
    left, right, hp = pair
    rows_l, rows_r = _palms(left, right, [0.2, 0.085])
    shift, gap = hp.slide(rows_l[0], rows_r[0], 0.003)
    assert not shift.any() and gap == np.inf
    assert hp.contacts(rows_l[1], rows_r[1], palms=False)[0].min() < -0.003
    shift, gap = hp.slide(rows_l[1], rows_r[1], 0.003)
    assert shift is not None and 0.0 < np.linalg.norm(shift) <= 0.04 + 1e-9
    assert abs(shift[1]) < 0.2 * np.linalg.norm(shift)
    moved = rows_r[1].copy()
    moved[:3] += shift
    after = hp.contacts(rows_l[1], moved, palms=False)[0]
    assert after.min() >= -0.003 and gap == pytest.approx(after.min())
    # Along a direction that cannot clear (straight into the other palm): nothing.
    into, _ = hp.slide(rows_l[1], rows_r[1], 0.003, direction=np.array([0.0, 1.0, 0.0]))
    assert into is None


def test_palm_pairs_can_be_left_out(pair):
    """Palms pressed 1 cm into each other are a palm pair; the thumbs, standing out, are not."""
    left, right, hp = pair
    rows_l, rows_r = _palms(left, right, [0.085])
    every, _ = hp.contacts(rows_l[0], rows_r[0])
    no_palms, _ = hp.contacts(rows_l[0], rows_r[0], palms=False)
    assert 0 < len(no_palms) < len(every)
