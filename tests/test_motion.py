import numpy as np
import pytest

from dyad.errors import DyadInputError, MotionFileError
from dyad.motion import ContactInterval, MotionChunk, MotionRecord, record_from_chunks
from dyad.skeletons import BODY22_HANDS_REST, HAND21_REST_LEFT, HAND21_REST_RIGHT


def duet(frames=12):
    joints = np.broadcast_to(BODY22_HANDS_REST, (frames, 2, 62, 3)).copy()
    joints[:, 1, :, 0] += 1.0  # B stands a metre ahead
    return MotionRecord(joints=joints, text="two people stand", agent_texts={"A": "stands"},
                        captions=["a", "b", "c"], label="stand",
                        contacts=[ContactInterval("A", "right_palm", "B", "left_palm", 2, 5)],
                        meta={"seed": 3})


def test_round_trip_keeps_everything(tmp_path):
    rec = duet()
    path = rec.save(tmp_path / "m.npz")
    back = MotionRecord.load(path)
    assert np.array_equal(back.joints, rec.joints)
    assert back.joints.dtype == np.float32
    assert (back.fps, back.skeleton, back.agents, back.text) == (30.0, "body22+hands", ("A", "B"),
                                                                 "two people stand")
    assert back.agent_texts == {"A": "stands"} and back.captions == ["a", "b", "c"]
    assert back.contacts == rec.contacts and back.meta == {"seed": 3} and back.mode == "duet"


def test_contact_distance_measures_joints():
    rec = duet()
    left = rec.part_positions("B", "left_palm")
    assert left.shape == (12, 6, 3)
    d = rec.contact_distance(rec.contacts[0])
    # A's right palm and B's left palm are ~1 m apart along X plus the body width along Y.
    assert d.shape == (12,) and 1.0 < d[0] < 2.2


def test_load_names_first_nonfinite_frame_agent_and_joint(tmp_path):
    rec = duet()
    path = rec.save(tmp_path / "m.npz")
    data = dict(np.load(path))
    data["joints"][7, 1, 21, 2] = np.nan
    np.savez(path, **data)
    with pytest.raises(MotionFileError, match=r"m\.npz: non-finite joint position at frame 7, "
                                              r"agent B, joint r_wrist"):
        MotionRecord.load(path)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(joints=d["joints"][:, :, :21]), "skeleton body22\\+hands has 62 joints"),
    (lambda d: d.update(skeleton=np.str_("smpl")), "unknown skeleton 'smpl'"),
    (lambda d: d.update(joints=d["joints"] * 1000.0), "units must be metres"),
    (lambda d: d.pop("fps"), "missing key\\(s\\) fps"),
    (lambda d: d.update(agents=np.array(["A"])), "2 agents but agents lists 1"),
])
def test_load_rejects_contract_breaks(tmp_path, change, message):
    path = duet().save(tmp_path / "m.npz")
    data = dict(np.load(path))
    change(data)
    np.savez(path, **data)
    with pytest.raises(MotionFileError, match=message):
        MotionRecord.load(path)


def test_truncated_and_missing_files_are_named(tmp_path):
    path = duet().save(tmp_path / "m.npz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(MotionFileError, match="m.npz: not a readable .npz"):
        MotionRecord.load(path)
    with pytest.raises(MotionFileError, match="nope.npz: no such file"):
        MotionRecord.load(tmp_path / "nope.npz")


def test_save_into_missing_folder_fails_cleanly_without_partial_file(tmp_path):
    with pytest.raises(DyadInputError, match="cannot write"):
        duet().save(tmp_path / "missing" / "m.npz")
    assert not any(tmp_path.rglob("*partial*"))


def test_chunks_join_and_gaps_are_refused():
    hands = np.stack([HAND21_REST_LEFT, HAND21_REST_RIGHT])
    chunks = [MotionChunk(np.broadcast_to(hands, (8, 2, 21, 3)), start_frame=8 * k, fps=30.0,
                          skeleton="hand21", agents=("left", "right"), index=k) for k in range(3)]
    rec = record_from_chunks(chunks, text="hands rest")
    assert rec.num_frames == 24 and rec.mode == "bimanual" and rec.text == "hands rest"
    with pytest.raises(DyadInputError, match="chunk 2 starts at frame 16, expected 8"):
        record_from_chunks([chunks[0], chunks[2]])


def test_chunk_errors_count_frames_from_the_clip_start():
    joints = np.zeros((8, 2, 21, 3), dtype=np.float32)
    joints[3, 0, 4] = np.inf
    with pytest.raises(MotionFileError, match="chunk 5: non-finite joint position at frame 43, "
                                              "agent left, joint thumb_tip"):
        MotionChunk(joints, start_frame=40, fps=30.0, skeleton="hand21", agents=("left", "right"),
                    index=5)
