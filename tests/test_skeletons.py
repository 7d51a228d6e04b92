import numpy as np
import pytest

from dyad.errors import UnknownSkeletonError
from dyad.skeletons import (
    BODY22_HANDS_NAMES, BODY22_NAMES, FINGERTIPS, HAND21_NAMES, HAND21_REST_LEFT, HAND21_REST_RIGHT,
    contact_part_joints, contact_parts, get_skeleton,
)


def test_contract_names_and_orders():
    assert BODY22_NAMES[0] == "pelvis" and BODY22_NAMES[-2:] == ("l_wrist", "r_wrist")
    assert len(BODY22_NAMES) == 22 and len(HAND21_NAMES) == 21
    assert [HAND21_NAMES[i] for i in FINGERTIPS] == [
        "thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip"]
    assert HAND21_NAMES[1:5] == ("thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip")
    assert BODY22_HANDS_NAMES[22] == "l_thumb_cmc" and BODY22_HANDS_NAMES[42] == "r_thumb_cmc"
    assert len(BODY22_HANDS_NAMES) == 62 == len(set(BODY22_HANDS_NAMES))


@pytest.mark.parametrize("name", ["body22", "hand21", "body22+hands"])
def test_parents_form_a_tree_rooted_at_zero(name):
    skel = get_skeleton(name)
    assert skel.parents[0] == -1
    for child, parent in enumerate(skel.parents[1:], start=1):
        assert 0 <= parent < child, f"{skel.joint_names[child]} parent {parent}"
    assert skel.rest_positions_m.shape == (skel.num_joints, 3)
    assert (skel.bone_lengths() > 0.005).all()


def test_standard_adult_proportions():
    body = get_skeleton("body22")
    rest = body.rest_positions_m
    head_z = rest[body.index("head"), 2]
    assert 1.45 < head_z < 1.65  # head joint of a ~1.75 m adult
    assert rest[:, 2].min() >= 0.0  # feet on the floor
    hand = get_skeleton("hand21").rest_positions_m
    assert 0.17 < np.linalg.norm(hand[12] - hand[0]) < 0.21  # wrist to middle tip


def test_hands_are_mirror_images_with_thumb_on_the_correct_side():
    # Right hand frame: +Y toward the thumb; the left hand mirrors it.
    assert HAND21_REST_RIGHT[4, 1] > 0.03 and HAND21_REST_LEFT[4, 1] < -0.03
    assert np.allclose(HAND21_REST_LEFT[:, [0, 2]], HAND21_REST_RIGHT[:, [0, 2]])


def test_body_with_hands_attaches_hands_palm_down_thumb_forward():
    skel = get_skeleton("body22+hands")
    rest = skel.rest_positions_m
    for side in "lr":
        thumb = rest[skel.index(f"{side}_thumb_tip")]
        wrist = rest[skel.index(f"{side}_wrist")]
        middle = rest[skel.index(f"{side}_middle_tip")]
        assert thumb[0] - wrist[0] > 0.05  # thumb points forward (+X) in the T-pose
        assert abs(middle[1]) > abs(wrist[1]) + 0.15  # fingers continue the arm outward
    assert np.allclose(skel.bone_lengths()[:21], get_skeleton("body22").bone_lengths())


def test_unknown_skeleton_lists_known_ones():
    with pytest.raises(UnknownSkeletonError, match="body22, hand21, body22\\+hands"):
        get_skeleton("smpl24")


def test_contact_parts_resolve_for_every_skeleton():
    for name in ("hand21", "body22+hands"):
        for part in contact_parts(name):
            assert contact_part_joints(name, part)
    assert contact_part_joints("body22+hands", "right_palm")[0] == BODY22_NAMES.index("r_wrist")
    with pytest.raises(KeyError, match="no contact part"):
        contact_part_joints("hand21", "torso")
