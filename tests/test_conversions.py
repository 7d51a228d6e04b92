import numpy as np
import pytest

from dyad.conversions import (
    MANO21_NAMES, OPENXR26_NAMES, body22_hands_to_smplx, hand21_to_mano, hand21_to_openxr,
    mano_to_hand21, openxr_to_hand21, smplx_to_body22, smplx_to_body22_hands, smplx_to_hand21,
)
from dyad.errors import DyadInputError
from dyad.skeletons import BODY22_HANDS_REST, HAND21_NAMES, HAND21_REST_RIGHT


@pytest.fixture
def hands():
    rng = np.random.default_rng(0)
    return HAND21_REST_RIGHT + 0.01 * rng.standard_normal((7, 21, 3))


def test_mano_round_trip_and_names(hands):
    mano = hand21_to_mano(hands)
    assert np.array_equal(mano_to_hand21(mano), hands)
    # Same joint under both names.
    for i, name in enumerate(MANO21_NAMES):
        h21 = {"index1": "index_mcp", "thumb1": "thumb_cmc", "pinky3": "pinky_dip",
               "ring_tip": "ring_tip", "wrist": "wrist"}.get(name)
        if h21:
            assert np.array_equal(mano[:, i], hands[:, HAND21_NAMES.index(h21)])


def test_openxr_round_trip(hands):
    xr = hand21_to_openxr(hands)
    assert xr.shape == (7, 26, 3)
    assert np.allclose(openxr_to_hand21(xr), hands)
    assert np.allclose(xr[:, OPENXR26_NAMES.index("index_proximal")], hands[:, 5])
    assert np.allclose(xr[:, OPENXR26_NAMES.index("little_tip")], hands[:, 20])


def test_smplx_round_trip_body_and_hands():
    rng = np.random.default_rng(1)
    pts = BODY22_HANDS_REST + 0.01 * rng.standard_normal((5, 62, 3))
    smplx = body22_hands_to_smplx(pts)
    assert smplx.shape == (5, 127, 3)
    assert np.allclose(smplx_to_body22_hands(smplx), pts)
    assert np.allclose(smplx_to_body22(smplx), pts[:, :22])
    assert np.isnan(smplx[:, 22]).all()  # jaw is not carried


def test_smplx_55_joints_extrapolates_tips_along_the_last_phalanx():
    smplx = body22_hands_to_smplx(BODY22_HANDS_REST)[:55]
    right = smplx_to_hand21(smplx, "right")
    true = np.concatenate([BODY22_HANDS_REST[[21]], BODY22_HANDS_REST[42:62]])
    non_tips = [i for i in range(21) if i not in (4, 8, 12, 16, 20)]
    assert np.allclose(right[non_tips], true[non_tips])
    assert np.abs(right[[4, 8, 12, 16, 20]] - true[[4, 8, 12, 16, 20]]).max() < 0.01


def test_bad_shapes_are_named():
    with pytest.raises(DyadInputError, match=r"OpenXR hand: expected shape \(\.\.\., 26, 3\)"):
        openxr_to_hand21(np.zeros((21, 3)))
    with pytest.raises(DyadInputError, match="side must be"):
        smplx_to_hand21(np.zeros((127, 3)), "middle")
