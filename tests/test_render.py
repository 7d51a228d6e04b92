"""Skeleton rendering: videos with the right frames and size, red contacts, atomic writes and
``dyad render``'s bad-input exits."""

from __future__ import annotations

import numpy as np
import pytest

imageio = pytest.importorskip("imageio.v3")

from dyad.cli import main  # noqa: E402
from dyad.errors import DyadInputError  # noqa: E402
from dyad.motion import ContactInterval, MotionRecord  # noqa: E402
from dyad.sim import render_cli, skeleton_render  # noqa: E402
from dyad.sim.skeleton_render import (  # noqa: E402
    BACKGROUND_RGB, SkeletonRenderer, render_frame, render_motion,
)
from dyad.skeletons import BODY22_HANDS_REST, HAND21_REST_LEFT, HAND21_REST_RIGHT  # noqa: E402

SIZE = (160, 120)
CONTACT = (4, 8)  # frames [4, 8) of the clips below


def _yaw(points: np.ndarray, angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return points @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T


def duet_record(frames: int = 12) -> MotionRecord:
    """Two rest-pose people facing each other, bobbing; right palms in contact in CONTACT."""
    a = BODY22_HANDS_REST + [-0.6, 0.0, 0.0]
    b = _yaw(BODY22_HANDS_REST, np.pi) + [0.6, 0.0, 0.0]
    joints = np.repeat(np.stack([a, b])[None], frames, axis=0)
    joints[..., 2] += 0.05 * np.sin(np.linspace(0, np.pi, frames))[:, None, None]
    return MotionRecord(joints, skeleton="body22+hands", agents=("A", "B"),
                        text="two people shake hands", label="handshake",
                        contacts=[ContactInterval("A", "right_palm", "B", "right_palm",
                                                  *CONTACT)])


def bimanual_record(frames: int = 12) -> MotionRecord:
    """Two rest-pose hands a table's height up, closing in; palms in contact in CONTACT."""
    gap = np.linspace(0.15, 0.05, frames)[:, None]
    left = HAND21_REST_LEFT[None] + np.stack([np.zeros(frames), gap[:, 0], np.ones(frames)],
                                             axis=-1)[:, None]
    right = HAND21_REST_RIGHT[None] + np.stack([np.zeros(frames), -gap[:, 0], np.ones(frames)],
                                               axis=-1)[:, None]
    return MotionRecord(np.stack([left, right], axis=1), skeleton="hand21",
                        agents=("left", "right"), text="clap",
                        contacts=[ContactInterval("left", "palm", "right", "palm", *CONTACT)])


def red_pixels(image: np.ndarray) -> int:
    """Pixels of the contact red (nothing else the renderer draws comes close)."""
    rgb = image[..., :3].astype(int)
    return int(((rgb[..., 0] > 170) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)).sum())


def agent_pixels(image: np.ndarray, agent: int) -> np.ndarray:
    """Mask of the first agent's blues or the second agent's oranges, at any fog level."""
    r, g, b = (image[..., k].astype(int) for k in range(3))
    if agent == 0:
        return b - r > 60
    return (r - b > 60) & (g > 100)


@pytest.fixture(params=["duet", "bimanual"])
def record(request) -> MotionRecord:
    return duet_record() if request.param == "duet" else bimanual_record()


def test_mp4_has_every_frame_at_the_asked_size(tmp_path, record):
    out = render_motion(record, tmp_path / "clip.mp4", size=SIZE)
    assert out == tmp_path / "clip.mp4"
    frames = imageio.imread(out, plugin="FFMPEG", index=None)
    assert frames.shape == (record.num_frames, SIZE[1], SIZE[0], 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temp file left


def test_gif_has_every_frame_at_the_asked_size_and_red_only_in_contact(tmp_path, record):
    out = render_motion(record, tmp_path / "clip.gif", size=SIZE)
    frames = imageio.imread(out, index=None)
    assert frames.shape[:3] == (record.num_frames, SIZE[1], SIZE[0])
    assert red_pixels(frames[CONTACT[0] + 1]) > 0
    assert red_pixels(frames[CONTACT[0] - 1]) == 0
    assert red_pixels(frames[CONTACT[1]]) == 0  # the interval's end is exclusive


def test_resampling_to_another_fps_changes_the_frame_count(tmp_path):
    out = render_motion(duet_record(12), tmp_path / "half.gif", size=SIZE, fps=15)
    assert imageio.imread(out, index=None).shape[0] == 6


def test_contact_joints_are_red_in_the_picture_not_only_the_caption(record):
    inside = render_frame(record, CONTACT[0], size=SIZE, caption=False)
    outside = render_frame(record, CONTACT[0] - 1, size=SIZE, caption=False)
    assert inside.shape == (SIZE[1], SIZE[0], 3) and inside.dtype == np.uint8
    assert red_pixels(inside) > 0
    assert red_pixels(outside) == 0


def test_caption_names_the_contact_in_red_in_the_strip():
    renderer = SkeletonRenderer(duet_record(), size=(320, 240))
    strip_top = renderer.viewport_height
    inside, outside = renderer.frame(CONTACT[0]), renderer.frame(0)
    assert red_pixels(inside[strip_top:]) > 0
    assert red_pixels(outside[strip_top:]) == 0
    assert not np.array_equal(inside[strip_top:], outside[strip_top:])  # counter moves


def test_hands_fill_the_frame_in_a_bimanual_clip():
    image = render_frame(bimanual_record(), 0, size=(320, 240), caption=False)
    drawn = np.abs(image.astype(int) - np.array(BACKGROUND_RGB)).sum(axis=-1) > 120
    cols = np.flatnonzero(drawn.any(axis=0))
    # The camera frames the 20 cm hands, so they span most of the width.
    assert cols.max() - cols.min() > 0.5 * image.shape[1]


@pytest.mark.parametrize("view", skeleton_render.VIEWS)
def test_every_view_draws_both_agents(view):
    image = render_frame(duet_record(), 0, size=SIZE, view=view, caption=False)
    for agent in (0, 1):
        assert agent_pixels(image, agent).sum() > 20, f"{view}: agent {agent} missing"


def test_views_differ_and_fixed_views_are_steady_while_orbit_turns():
    record = duet_record()
    record.joints[:] = record.joints[0]  # a still pose: only the camera can change the picture
    front = SkeletonRenderer(record, size=SIZE, view="front", caption=False)
    side = SkeletonRenderer(record, size=SIZE, view="side", caption=False)
    orbit = SkeletonRenderer(record, size=SIZE, view="orbit", caption=False)
    assert np.array_equal(front.frame(0), front.frame(11))
    assert not np.array_equal(front.frame(0), side.frame(0))
    assert not np.array_equal(orbit.frame(0), orbit.frame(11))


def test_auto_view_puts_the_first_agent_on_the_left():
    for record in (duet_record(), bimanual_record()):
        image = render_frame(record, 0, size=SIZE, caption=False)
        left, right = (np.flatnonzero(agent_pixels(image, k).any(axis=0)) for k in (0, 1))
        assert left.size and right.size
        assert left.mean() < right.mean()


def test_render_frame_outside_the_clip_is_bad_input():
    with pytest.raises(DyadInputError, match="outside"):
        render_frame(duet_record(), 12, size=SIZE)


def test_failed_render_leaves_no_file_and_keeps_an_old_one(tmp_path, monkeypatch):
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"previous video")
    calls = {"n": 0}
    original = SkeletonRenderer.frame

    def failing_frame(self, i):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("renderer broke mid-clip")
        return original(self, i)

    monkeypatch.setattr(SkeletonRenderer, "frame", failing_frame)
    with pytest.raises(RuntimeError, match="mid-clip"):
        render_motion(duet_record(), out, size=SIZE)
    assert out.read_bytes() == b"previous video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_renderer_rejects_bad_arguments():
    with pytest.raises(DyadInputError, match="view"):
        SkeletonRenderer(duet_record(), view="isometric")
    with pytest.raises(DyadInputError, match="supersample"):
        SkeletonRenderer(duet_record(), supersample=0)
    with pytest.raises(DyadInputError, match="fps"):
        SkeletonRenderer(duet_record(), fps=-1)
    with pytest.raises(DyadInputError, match="WIDTHxHEIGHT"):
        skeleton_render.parse_size("640by480")
    assert skeleton_render.parse_size("320x240") == (320, 240)


# ------------------------------------------------------------------------------- dyad render


def test_cli_renders_a_motion_file_and_prints_the_path(tmp_path, capsys):
    motion = duet_record().save(tmp_path / "duet.npz")
    out = tmp_path / "duet.gif"
    assert main(["render", str(motion), "--out", str(out), "--size", "160x120",
                 "--view", "top"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert imageio.imread(out, index=None).shape[:3] == (12, 120, 160)


def test_cli_views_match_the_renderer():
    assert render_cli.VIEWS == skeleton_render.VIEWS


@pytest.fixture
def motion_file(tmp_path):
    return str(duet_record().save(tmp_path / "duet.npz"))


@pytest.mark.parametrize("case", [
    "missing", "garbage", "not_npz_zip", "robot", "no_joints", "unknown_suffix", "no_folder",
    "folder_is_file", "odd_size", "bad_size", "bad_fps",
])
def test_cli_bad_input_exits_2_with_one_line(case, tmp_path, motion_file, capsys):
    out = str(tmp_path / "out.mp4")
    args = [motion_file, "--out", out]
    if case == "missing":
        args[0] = str(tmp_path / "absent.npz")
    elif case == "garbage":
        (tmp_path / "garbage.npz").write_bytes(b"\x00not a zip at all")
        args[0] = str(tmp_path / "garbage.npz")
    elif case == "not_npz_zip":
        import zipfile

        with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
            z.writestr("readme.txt", "hello")
        args[0] = str(tmp_path / "other.npz")
    elif case == "robot":
        np.savez(tmp_path / "traj.npz", qpos=np.zeros((5, 7)), fps=30.0)
        args[0] = str(tmp_path / "traj.npz")
    elif case == "no_joints":
        np.savez(tmp_path / "other.npz", positions=np.zeros((5, 3)))
        args[0] = str(tmp_path / "other.npz")
    elif case == "unknown_suffix":
        args[2] = str(tmp_path / "out.avi")
    elif case == "no_folder":
        args[2] = str(tmp_path / "absent" / "out.mp4")
    elif case == "folder_is_file":
        args[2] = str(tmp_path / "duet.npz" / "out.mp4")
    elif case == "odd_size":
        args += ["--size", "161x120"]
    elif case == "bad_size":
        args += ["--size", "big"]
    elif case == "bad_fps":
        args += ["--fps", "0"]
    assert main(["render", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dyad render: error:") and "\n" not in err
    if case == "robot":  # a robot trajectory goes to the MuJoCo renderer, which checks its keys
        assert "traj.npz: missing key(s) joint_names, robot" in err
    assert not any(p.suffix in (".mp4", ".gif", ".avi") for p in tmp_path.rglob("*"))
