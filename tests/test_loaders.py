"""Dataset loaders on tiny fixtures written in each documented layout (docs/datasets.md).

Fixtures are built from Dyad's rest skeletons, re-expressed in each dataset's own frame by
explicit axis shuffles written here (not by the loaders' matrices), so the checks of "up",
"forward" and "left" after loading are independent of the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from dyad.conversions import body22_hands_to_smplx, hand21_to_mano
from dyad.errors import DatasetLayoutError, DyadInputError, MotionFileError
from dyad.skeletons import BODY22_HANDS_REST, BODY22_NAMES, HAND21_REST_RIGHT
from dyad.training.datasets import (
    BodyModelRequiredError, detect_layout, load_dataset, resample_to_fps,
)
from dyad.training.datasets.smplx_joints import (
    load_smplx_joint_model, rotvec_to_matrix, smplx_joint_positions,
)

PELVIS, HEAD = BODY22_NAMES.index("pelvis"), BODY22_NAMES.index("head")
L_HIP, R_HIP = BODY22_NAMES.index("l_hip"), BODY22_NAMES.index("r_hip")
L_ANKLE, L_FOOT = BODY22_NAMES.index("l_ankle"), BODY22_NAMES.index("l_foot")
# SMPL-H joints + tips inside SMPL-X's layout: InterHuman's 62 columns in order.
INTERHUMAN_ROWS = np.concatenate([np.arange(22), np.arange(25, 55), np.arange(66, 76)])
# Dyad (x fwd, y left, z up) -> SMPL Y-up (x left, y up, z fwd): take columns y, z, x.
DYAD_TO_YUP = [1, 2, 0]


def walking(frames: int, speed_m_s: float = 0.6, fps: float = 30.0) -> np.ndarray:
    """(T, 62, 3) body22+hands rest pose walking along Dyad +X, in Dyad's frame."""
    t = np.arange(frames) / fps
    joints = np.broadcast_to(BODY22_HANDS_REST, (frames, 62, 3)).copy()
    joints[..., 0] += speed_m_s * t[:, None]
    return joints


def yaw(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T


def smplx55(points_62: np.ndarray) -> np.ndarray:
    """Dyad body22+hands to SMPL-X's first 55 joints; jaw and eyes placed at the head."""
    smplx = body22_hands_to_smplx(points_62)[..., :55, :]
    smplx[..., 22:25, :] = points_62[..., [HEAD], :]
    return smplx


# ---------------------------------------------------------------- InterHuman


def write_interhuman(root, ids=("1", "2"), frames=20, split_in_folder=True, splits=("train",)):
    people = {}
    for n, person in enumerate(("person1", "person2")):
        folder = root / "motions_processed" / person
        folder.mkdir(parents=True, exist_ok=True)
        # Person 2 stands 1.5 m in front, the whole scene turned 40 degrees and shifted.
        joints = walking(frames) + np.array([1.5 * n, 0.0, 0.0])
        joints = yaw(joints, np.deg2rad(40.0)) + np.array([3.0, -2.0, 0.0])
        people[person] = joints
        rows = body22_hands_to_smplx(joints)[:, INTERHUMAN_ROWS].reshape(frames, 186)
        rot6d = np.tile([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], (frames, 51))
        for clip_id in ids:
            np.save(folder / f"{clip_id}.npy", np.concatenate([rows, rot6d], axis=1))
    (root / "annots").mkdir(exist_ok=True)
    for clip_id in ids:
        (root / "annots" / f"{clip_id}.txt").write_text(
            f"two people walk forward {clip_id}\nthey walk together\n\nthe second leads\n")
    split_dir = root / "split" if split_in_folder else root
    split_dir.mkdir(exist_ok=True)
    for split in splits:
        (split_dir / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    return people


@pytest.mark.parametrize("split_in_folder, variant", [(True, "split-folder"),
                                                      (False, "split-root")])
def test_interhuman_both_layouts_load_round_trip(tmp_path, split_in_folder, variant):
    people = write_interhuman(tmp_path, split_in_folder=split_in_folder)
    layout = detect_layout(tmp_path)
    assert (layout.dataset, layout.variant, layout.splits) == ("interhuman", variant, ("train",))
    clips = load_dataset("interhuman", tmp_path, "train", canonical=False)
    assert len(clips) == 2 and clips.keys == ["1", "2"]
    rec = clips[0]
    assert rec.joints.shape == (20, 2, 62, 3) and rec.fps == 30.0
    assert (rec.skeleton, rec.agents, rec.mode) == ("body22+hands", ("A", "B"), "duet")
    # Z-up source and SMPL-H hand order: every joint comes back where it was written.
    np.testing.assert_allclose(rec.joints[:, 0], people["person1"], atol=1e-5)
    np.testing.assert_allclose(rec.joints[:, 1], people["person2"], atol=1e-5)
    assert rec.text == "two people walk forward 1"
    assert rec.captions == ["two people walk forward 1", "they walk together", "the second leads"]
    assert rec.meta["clip_id"] == "1" and rec.meta["source_fps"] == 30.0


def test_interhuman_canonical_faces_x_with_floor_at_zero(tmp_path):
    write_interhuman(tmp_path, ids=("7",))
    rec = load_dataset("interhuman", tmp_path)[0]
    a0 = rec.joints[0, 0].astype(np.float64)
    assert np.allclose(a0[PELVIS, :2], 0.0, atol=1e-5)
    assert rec.joints[..., 2].min() == pytest.approx(0.0, abs=1e-5)
    assert a0[L_HIP, 1] > a0[R_HIP, 1] + 0.1  # left is +Y
    assert a0[L_FOOT, 0] > a0[L_ANKLE, 0] + 0.05  # toes point +X
    # The walk goes along +X and B, who stood ahead of A, still does.
    assert rec.joints[-1, 0, PELVIS, 0] > rec.joints[0, 0, PELVIS, 0] + 0.3
    assert rec.joints[0, 1, PELVIS, 0] == pytest.approx(1.5, abs=1e-4)
    transform = np.array(rec.meta["transform_source_to_dyad"])
    assert transform.shape == (4, 4) and np.allclose(transform[:3, :3] @ transform[:3, :3].T,
                                                     np.eye(3))


def test_interhuman_body22_option_and_ignore_list(tmp_path):
    write_interhuman(tmp_path, ids=("1", "2", "3"))
    (tmp_path / "ignore_list.txt").write_text("2\n")
    with pytest.warns(UserWarning, match="1 of 3 train clips skipped"):
        clips = load_dataset("interhuman", tmp_path, skeleton="body22")
    assert clips.keys == ["1", "3"] and clips.skipped[0][0] == "2"
    assert clips[1].joints.shape == (20, 2, 22, 3) and clips[1].skeleton == "body22"


def test_interhuman_layout_errors_name_folder_and_findings(tmp_path):
    (tmp_path / "motions_processed" / "person1").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match=r"no person2/ folder") as err:
        detect_layout(tmp_path)
    assert str(tmp_path) in str(err.value) and "motions_processed/" in str(err.value)
    (tmp_path / "motions_processed" / "person2").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"no split file.*looked for.*split/train.txt"):
        load_dataset("interhuman", tmp_path)
    write_interhuman(tmp_path, splits=("train",))
    with pytest.raises(DatasetLayoutError, match=r"no split 'val'; splits found: train"):
        load_dataset("interhuman", tmp_path, split="val")


def test_interhuman_corrupt_and_misshapen_files_name_the_file(tmp_path):
    write_interhuman(tmp_path, ids=("1", "2"))
    bad = tmp_path / "motions_processed" / "person2" / "1.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    clips = load_dataset("interhuman", tmp_path)
    with pytest.raises(MotionFileError, match="not a readable .npy") as err:
        clips[0]
    assert err.value.path == str(bad)
    np.save(bad, np.zeros((20, 100)))
    with pytest.raises(MotionFileError, match=r"\(T, 492\), got shape \(20, 100\)"):
        clips.load("1")
    np.save(bad, np.zeros((19, 492)))
    with pytest.raises(MotionFileError, match="19 frames"):
        clips.load("1")
    assert clips.load("2").num_frames == 20


def test_interhuman_y_up_copy_and_upside_down_warning(tmp_path):
    people = write_interhuman(tmp_path, ids=("1",))
    # The Z-up files read as Y up lay the bodies on their side: the loader warns.
    with pytest.warns(UserWarning, match="from vertical"):
        load_dataset("interhuman", tmp_path, up_axis="y", canonical=False)[0]
    # A genuinely Y-up re-export loads upright with up_axis="y".
    for person in ("person1", "person2"):
        joints = walking(20)[:, :, DYAD_TO_YUP]
        rows = body22_hands_to_smplx(joints)[:, INTERHUMAN_ROWS].reshape(20, 186)
        np.save(tmp_path / "motions_processed" / person / "1.npy",
                np.concatenate([rows, np.zeros((20, 306))], axis=1))
    rec = load_dataset("interhuman", tmp_path, up_axis="y", canonical=False)[0]
    assert (rec.joints[:, :, HEAD, 2] > rec.joints[:, :, PELVIS, 2] + 0.5).all()
    assert people  # the Z-up fixture was written


# ---------------------------------------------------------------- HumanML3D


def write_humanml3d(root, frames=41):
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    # HumanML3D frame: Y up, body facing +Z, its left along +X; 20 fps.
    joints = walking(frames, fps=20.0)[:, :22][:, :, DYAD_TO_YUP]
    np.save(root / "new_joints" / "000001.npy", joints.astype(np.float32))
    np.save(root / "new_joints" / "M000001.npy", joints.astype(np.float32))
    (root / "texts" / "000001.txt").write_text(
        "a person walks forward#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0\n"
        "someone strides ahead#someone/PRON stride/VERB ahead/ADV#nan#nan\n"
        "a person takes a step#a/DET person/NOUN take/VERB a/DET step/NOUN#1.0#2.0\n")
    (root / "texts" / "M000001.txt").write_text("mirrored walk#mirrored/ADJ walk/NOUN#0.0#0.0\n")
    (root / "train.txt").write_text("000001\nM000001\n")
    (root / "test.txt").write_text("000002\n")
    return joints


def test_humanml3d_resamples_converts_y_up_and_splits_spans(tmp_path):
    write_humanml3d(tmp_path)
    layout = detect_layout(tmp_path)
    assert (layout.dataset, layout.source_fps) == ("humanml3d", 20.0)
    clips = load_dataset("humanml3d", tmp_path, "train")
    assert clips.keys == ["000001", "000001@1-2", "M000001"]
    whole = clips[0]
    # 41 frames at 20 fps last 2.0 s: 61 frames at 30 fps.
    assert whole.joints.shape == (61, 1, 22, 3) and whole.fps == 30.0
    assert (whole.skeleton, whole.agents) == ("body22", ("A",))
    assert whole.captions == ["a person walks forward", "someone strides ahead"]
    j = whole.joints.astype(np.float64)
    assert (j[:, 0, HEAD, 2] > j[:, 0, PELVIS, 2] + 0.5).all()  # Y up became Z up
    assert j[0, 0, L_HIP, 1] > j[0, 0, R_HIP, 1]  # the body's left is +Y
    # Walking 0.6 m/s along the body's forward: +X, sampled every 1/30 s.
    np.testing.assert_allclose(j[:, 0, PELVIS, 0], 0.6 * np.arange(61) / 30.0, atol=1e-5)
    span = clips[1]
    # Frames int(1.0 * 20) to int(2.0 * 20): 20 source frames, 0.95 s -> 29 frames at 30 fps.
    assert span.num_frames == 29 and span.captions == ["a person takes a step"]
    assert span.meta["span_source_frames"] == [20, 40]
    assert [r.meta["mirrored"] for r in (whole, clips[2])] == [False, True]
    assert load_dataset("humanml3d", tmp_path, mirrored=False).keys == ["000001", "000001@1-2"]


def test_humanml3d_errors(tmp_path):
    write_humanml3d(tmp_path)
    with pytest.warns(UserWarning, match="skipped"), \
            pytest.raises(DatasetLayoutError, match="lists no loadable clip"):
        load_dataset("humanml3d", tmp_path, "test")
    (tmp_path / "texts" / "000001.txt").write_text("no hashes here\n")
    with pytest.raises(MotionFileError, match="000001.txt: line 1 has 1"):
        load_dataset("humanml3d", tmp_path, "train")
    np.save(tmp_path / "new_joints" / "M000001.npy", np.zeros((10, 24, 3)))
    (tmp_path / "texts" / "000001.txt").write_text("walk#walk/VERB#0.0#0.0\n")
    clips = load_dataset("humanml3d", tmp_path, "train")
    with pytest.raises(MotionFileError, match=r"M000001.npy.*\(T, 22, 3\), got shape"):
        clips.load("M000001")


# ---------------------------------------------------------------- Inter-X

SMPLX_PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
    + [20 if k % 3 == 0 else 25 + k - 1 for k in range(15)]
    + [21 if k % 3 == 0 else 40 + k - 1 for k in range(15)])


def write_smplx_model(path, rest_joints_yup):
    """A stand-in SMPL-X file: 55 'vertices' at the rest joints, J_regressor = identity, and
    one shape direction that scales the body up."""
    shapedirs = np.zeros((55, 3, 10))
    shapedirs[:, :, 0] = 0.1 * (rest_joints_yup - rest_joints_yup[0])
    kintree = np.stack([np.where(SMPLX_PARENTS < 0, 2**32 - 1, SMPLX_PARENTS),
                        np.arange(55)]).astype(np.int64)
    np.savez(path, v_template=rest_joints_yup, shapedirs=shapedirs, J_regressor=np.eye(55),
             kintree_table=kintree, f=np.zeros((1, 3), dtype=np.int32))
    return path


def rest_smplx_yup():
    rest = smplx55(BODY22_HANDS_REST)
    return rest[:, DYAD_TO_YUP]


def write_interx_raw(root, frames=121, with_joints=False):
    clip = root / "motions" / "G001T000A001R000"
    clip.mkdir(parents=True)
    t = np.arange(frames) / 120.0
    for n, person in enumerate(("P1", "P2")):
        trans = np.stack([np.zeros(frames), np.zeros(frames), 1.2 * n + 0.3 * t], axis=1)
        arrays = dict(root_orient=np.zeros((frames, 3)), pose_body=np.zeros((frames, 63)),
                      pose_lhand=np.zeros((frames, 45)), pose_rhand=np.zeros((frames, 45)),
                      trans=trans, betas=np.zeros((1, 10)), gender=np.str_("neutral"))
        if n == 1:  # P2 turned 180 degrees about the vertical (Y) to face P1
            arrays["root_orient"][:, 1] = np.pi
        if with_joints:
            arrays["joints"] = rest_smplx_yup()[None] + trans[:, None]
        np.savez(clip / f"{person}.npz", **arrays)
    (root / "splits").mkdir()
    (root / "splits" / "train.txt").write_text("G001T000A001R000\n")
    (root / "texts").mkdir()
    (root / "texts" / "G001T000A001R000.txt").write_text("one person shakes the other's hand\n")
    (root / "annots").mkdir()
    (root / "annots" / "action_setting.txt").write_text("Hug\nHandshake\nWave\n")


def test_interx_optitrack_skeletons_alone_are_explained(tmp_path):
    (tmp_path / "skeletons" / "G001T000A000R000").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="only skeletons/.*motions.zip"):
        load_dataset("interx", tmp_path)


def test_interx_raw_needs_the_body_model_and_says_so(tmp_path):
    write_interx_raw(tmp_path)
    assert detect_layout(tmp_path).variant == "raw"
    with pytest.raises(BodyModelRequiredError, match=r"smplx_model=.*SMPLX_NEUTRAL.npz") as err:
        load_dataset("interx", tmp_path)
    assert "joints" in str(err.value) and "_global.h5" in str(err.value)


def test_interx_raw_with_model_resamples_120_to_30(tmp_path):
    write_interx_raw(tmp_path)
    model = write_smplx_model(tmp_path / "SMPLX_NEUTRAL.npz", rest_smplx_yup())
    rec = load_dataset("interx", tmp_path, smplx_model=str(model), canonical=False)[0]
    # 121 frames at 120 fps = 1.0 s -> 31 frames at 30 fps.
    assert rec.joints.shape == (31, 2, 62, 3) and rec.meta["source_fps"] == 120.0
    assert rec.label == "Handshake" and rec.text == "one person shakes the other's hand"
    j = rec.joints.astype(np.float64)
    np.testing.assert_allclose(j[0, 0, :22], BODY22_HANDS_REST[:22], atol=1e-5)
    # SMPL-X translation +Z (the body's forward) is Dyad +X: 0.3 m/s over 1 s.
    assert j[-1, 0, PELVIS, 0] - j[0, 0, PELVIS, 0] == pytest.approx(0.3, abs=1e-5)
    # P2, 1.2 m ahead and turned about the up axis, faces back: its left hip is at -Y.
    assert j[0, 1, PELVIS, 0] == pytest.approx(1.2 + BODY22_HANDS_REST[PELVIS, 0], abs=1e-5)
    assert j[0, 1, L_HIP, 1] < j[0, 1, R_HIP, 1]
    assert (j[:, :, HEAD, 2] > j[:, :, PELVIS, 2] + 0.5).all()


def test_interx_raw_joints_variant_needs_no_model(tmp_path):
    write_interx_raw(tmp_path, with_joints=True)
    rec = load_dataset("interx", tmp_path, canonical=False, skeleton="body22")[0]
    assert rec.joints.shape == (31, 2, 22, 3)
    np.testing.assert_allclose(rec.joints[0, 0], BODY22_HANDS_REST[:22], atol=1e-5)


def write_interx_h5(root, frames=12):
    import h5py

    (root / "motions").mkdir(parents=True)
    rest = rest_smplx_yup()
    joints = np.broadcast_to(rest, (frames, 55, 3)).copy()
    joints[:, :, 2] += 0.02 * np.arange(frames)[:, None]
    person = np.concatenate([joints, np.zeros((frames, 55, 6))], axis=2)
    other = person.copy()
    other[:, :, 2] += 1.0
    with h5py.File(root / "motions" / "train_global.h5", "w") as f:
        f.create_dataset("G001T000A000R000", data=np.concatenate([person, other], axis=2))
    params = np.zeros((frames, 56, 6))
    params[:, 55, 5] = 1.0  # P2 one metre along SMPL-X +Z
    with h5py.File(root / "motions" / "train.h5", "w") as f:
        f.create_dataset("G001T000A000R000", data=params)
    (root / "texts_processed").mkdir()
    (root / "texts_processed" / "G001T000A000R000.txt").write_text(
        "two people hug#two/NUM people/NOUN hug/VERB#0.0#0.0\n")


def test_interx_h5_variants(tmp_path):
    write_interx_h5(tmp_path)
    layout = detect_layout(tmp_path)
    assert (layout.dataset, layout.variant) == ("interx", "joints-h5")
    assert any("params-h5" in n for n in layout.notes)
    rec = load_dataset("interx", tmp_path, canonical=False)[0]
    assert rec.joints.shape == (12, 2, 62, 3) and rec.captions == ["two people hug"]
    np.testing.assert_allclose(rec.joints[0, 0, :22], BODY22_HANDS_REST[:22], atol=1e-5)
    assert rec.joints[0, 1, PELVIS, 0] - rec.joints[0, 0, PELVIS, 0] == pytest.approx(1.0, 1e-5)
    with pytest.raises(BodyModelRequiredError, match="params-h5"):
        load_dataset("interx", tmp_path, variant="params-h5")
    model = write_smplx_model(tmp_path / "m.npz", rest_smplx_yup() - rest_smplx_yup()[0])
    rec = load_dataset("interx", tmp_path, variant="params-h5", smplx_model=str(model),
                       canonical=False)[0]
    assert rec.joints[0, 1, PELVIS, 0] - rec.joints[0, 0, PELVIS, 0] == pytest.approx(1.0, 1e-5)
    assert rec.meta["variant"] == "params-h5"


def test_smplx_forward_kinematics_is_rigid_and_uses_shape(tmp_path):
    rest = rest_smplx_yup()
    model = load_smplx_joint_model(write_smplx_model(tmp_path / "m.npz", rest))
    rng = np.random.default_rng(0)
    rotvecs = rng.normal(scale=0.6, size=(5, 55, 3))
    posed = smplx_joint_positions(model, rotvecs, np.zeros((5, 3)))
    bone = lambda p: np.linalg.norm(p[..., 1:, :] - p[..., SMPLX_PARENTS[1:], :], axis=-1)
    np.testing.assert_allclose(bone(posed), np.broadcast_to(bone(rest), (5, 54)), atol=1e-9)
    # Root rotation of 90 degrees about Y turns the body's left (+X) to -Z.
    turned = smplx_joint_positions(model, np.concatenate(
        [np.array([[[0.0, np.pi / 2, 0.0]]]), np.zeros((1, 54, 3))], axis=1), np.zeros((1, 3)))
    assert turned[0, L_HIP, 2] < turned[0, R_HIP, 2]
    taller = smplx_joint_positions(model, np.zeros((1, 55, 3)), np.zeros((1, 3)), betas=[1.0])
    assert bone(taller).sum() == pytest.approx(1.1 * bone(rest).sum())
    assert np.allclose(rotvec_to_matrix(np.zeros(3)), np.eye(3))


def test_smplx_model_file_errors(tmp_path):
    np.savez(tmp_path / "bad.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(MotionFileError, match="missing shapedirs, J_regressor, kintree_table"):
        load_smplx_joint_model(tmp_path / "bad.npz")
    with pytest.raises(MotionFileError, match=".pkl models"):
        load_smplx_joint_model(tmp_path / "SMPLX_NEUTRAL.pkl")


# ---------------------------------------------------------------- HandX


def handx_motion(frames=8):
    """(T, 2, 21, 3) in HandX's frame (X toward the right hand, Y along the fingers, Z up),
    MANO order; palms down, fingers forward, wrists 0.3 m apart."""
    # Hand frame (X to the middle finger, Y thumb side, Z back of hand) -> HandX frame.
    right = HAND21_REST_RIGHT @ np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T
    left = right * np.array([-1.0, 1.0, 1.0])  # mirror across the body's midplane
    hands = np.stack([left + [-0.15, 0.0, 0.0], right + [0.15, 0.0, 0.0]])
    motion = np.broadcast_to(hand21_to_mano(hands), (frames, 2, 21, 3)).copy()
    motion[:, :, :, 2] += 0.01 * np.arange(frames)[:, None, None]
    return motion


def write_handx(root, entries):
    root.mkdir(exist_ok=True)
    np.savez(root / "train_can_pos_all_wotextfeat.npz", **entries)
    np.savez(root / "test_can_pos_all_wotextfeat.npz", **{"9": handx_motion()})


def test_handx_loads_bimanual_with_texts(tmp_path):
    entry = {"motion": handx_motion(), "left_annotation": ["left pinches", "left holds"],
             "right_annotation": ["right taps", "right waits"],
             "interaction_annotation": ["the hands meet", "the hands touch"]}
    write_handx(tmp_path, {"0": entry})
    assert detect_layout(tmp_path).splits == ("train", "test")
    rec = load_dataset("handx", tmp_path)[0]
    assert rec.joints.shape == (8, 2, 21, 3)
    assert (rec.skeleton, rec.agents, rec.mode, rec.fps) == ("hand21", ("left", "right"),
                                                             "bimanual", 30.0)
    assert rec.text == "the hands meet" and rec.captions == ["the hands meet", "the hands touch"]
    assert rec.agent_texts == {"left": "left pinches", "right": "right taps"}
    assert rec.meta["annotations"][1]["right"] == "right waits"
    j = rec.joints.astype(np.float64)
    assert j[0, 0, 0, 1] == pytest.approx(0.15) and j[0, 1, 0, 1] == pytest.approx(-0.15)
    assert (j[0, :, 12, 0] > j[0, :, 0, 0] + 0.1).all()  # middle tips ahead (+X) of wrists
    assert j[-1, 0, 0, 2] - j[0, 0, 0, 2] == pytest.approx(0.07)  # HandX Z is up
    # Palm down, fingers forward in Dyad's frame is the hand frame itself.
    np.testing.assert_allclose(j[0, 1] - j[0, 1, 0], HAND21_REST_RIGHT, atol=1e-6)
    test = load_dataset("handx", tmp_path, "test")
    assert test.keys == ["9"] and test[0].text == ""


def test_handx_errors(tmp_path):
    write_handx(tmp_path, {"0": {"motion": np.zeros((8, 2, 20, 3))},
                           "1": {"motion": handx_motion(), "left_annotation": ["a"],
                                 "right_annotation": [], "interaction_annotation": ["c"]}})
    clips = load_dataset("handx", tmp_path)
    with pytest.raises(MotionFileError, match=r"train_can_pos_all_wotextfeat.npz\[0\].*\(T, 2, "
                                              r"21, 3\)"):
        clips[0]
    with pytest.raises(MotionFileError, match="annotation lists differ"):
        clips[1]
    with pytest.raises(DatasetLayoutError, match="no split 'val'"):
        load_dataset("handx", tmp_path, "val")
    only_mano = tmp_path / "mano"
    only_mano.mkdir()
    np.savez(only_mano / "train_mano.npz", x=np.zeros(1))
    with pytest.raises(DatasetLayoutError, match="only MANO parameter files"):
        detect_layout(only_mano)


# ---------------------------------------------------------------- shared


def test_wrong_folder_names_what_was_looked_for_and_found(tmp_path):
    with pytest.raises(DatasetLayoutError, match="looked for interhuman: .* found an empty "
                                                 "folder"):
        detect_layout(tmp_path)
    write_humanml3d(tmp_path / "hml")
    with pytest.raises(DatasetLayoutError) as err:
        load_dataset("interhuman", tmp_path / "hml")
    message = str(err.value)
    assert str(tmp_path / "hml") in message and "motions_processed/person1" in message
    assert "new_joints/" in message and "texts/" in message
    with pytest.raises(DatasetLayoutError, match=r"did you mean .*hml \(humanml3d\)"):
        detect_layout(tmp_path)
    with pytest.raises(DatasetLayoutError, match="not found"):
        detect_layout(tmp_path / "missing")
    with pytest.raises(DyadInputError, match="no option up_axis"):
        load_dataset("humanml3d", tmp_path / "hml", up_axis="z")
    with pytest.raises(DyadInputError, match="unknown dataset 'amass'"):
        load_dataset("amass", tmp_path)


def test_resample_to_fps_timing():
    t20 = np.arange(41) / 20.0
    out = resample_to_fps(np.stack([t20, t20**2], axis=1), 20.0)
    t30 = np.arange(61) / 30.0
    np.testing.assert_allclose(out[:, 0], t30, atol=1e-12)  # linear signals are exact
    assert np.all(np.abs(out[:, 1] - t30**2) <= 0.25 * (1 / 20) ** 2 + 1e-12)
    x120 = np.arange(121.0)
    np.testing.assert_array_equal(resample_to_fps(x120, 120.0), x120[::4])  # every 4th frame
    assert resample_to_fps(x120[:1], 120.0).shape == (1,)
