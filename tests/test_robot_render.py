"""Robot videos: the render-only model (visual geoms, meshes clustered to the pixel, black
materials grey), one simulation shared by the report and the video, and simplified frames that
match full-density ones."""

from __future__ import annotations

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from dyad.retarget.registry import load_robot  # noqa: E402
from dyad.retarget.trajectory import RobotTrajectory  # noqa: E402
from dyad.sim import robot_render  # noqa: E402
from dyad.sim.gate import validate  # noqa: E402
from dyad.sim.render_model import (  # noqa: E402
    DEFAULT_GREY, HIDDEN_GROUP, cluster_mesh, render_model, visual_geom_mask,
)
from dyad.sim.synthetic_trajectories import finger_wave  # noqa: E402


def uv_sphere(radius_m: float, rings: int, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed sphere: (V, 3) vertices and (F, 3) outward-wound triangles."""
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    vertices = radius_m * np.vstack([[0, 0, 1], ring, [0, 0, -1]])
    south = len(vertices) - 1

    def at(r, s):
        return 1 + r * segments + s % segments

    faces = []
    for s in range(segments):
        faces.append((0, at(0, s), at(0, s + 1)))
        faces.append((south, at(rings - 2, s + 1), at(rings - 2, s)))
        for r in range(rings - 2):
            faces.append((at(r, s), at(r + 1, s), at(r + 1, s + 1)))
            faces.append((at(r, s), at(r + 1, s + 1), at(r, s + 1)))
    return vertices.astype(np.float32), np.array(faces, dtype=np.int32)


def test_cluster_mesh_keeps_the_surface_within_a_cell():
    vertices, faces = uv_sphere(0.1, 120, 160)
    cell_m = 0.01
    moved, tri, kept = cluster_mesh(vertices, faces, cell_m)
    assert 0 < len(tri) < len(faces) / 10  # a sphere 20 cells across needs far fewer
    used = np.unique(tri)
    radius = np.linalg.norm(moved[used], axis=1)
    assert np.all(np.abs(radius - 0.1) < cell_m)  # cluster means stay near the surface
    assert np.all((tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2]))
    canon = {tuple(np.roll(t, -int(np.argmin(t)))) for t in tri}
    assert len(canon) == len(tri)  # no triangle twice
    # Kept triangles keep their winding: the outward normal still points outward.
    a, b, c = (moved[tri[:, k]].astype(float) for k in range(3))
    outward = np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c)
    assert np.mean(outward > 0) > 0.99
    # Each kept triangle's corners sit where the original triangle's did (so its per-corner
    # normals still fit).
    corner_shift = np.linalg.norm(moved[tri] - vertices[faces[kept]], axis=-1)
    assert corner_shift.max() < np.sqrt(3) * cell_m
    # A cell larger than the whole mesh leaves nothing to draw (the caller keeps the mesh).
    assert len(cluster_mesh(vertices, faces, 1.0)[1]) == 0


def _two_body_model():
    vertices, faces = uv_sphere(0.05, 60, 80)
    xml = f"""
    <mujoco>
      <asset>
        <mesh name="ball" vertex="{' '.join(map(str, vertices.ravel()))}"
              face="{' '.join(map(str, faces.ravel()))}"/>
        <material name="black" rgba="0 0 0 1"/>
        <material name="red" rgba="0.8 0.1 0.1 1"/>
      </asset>
      <worldbody>
        <geom name="floor" type="plane" size="1 1 0.1"/>
        <body name="seen" pos="0 0 0.5">
          <joint type="hinge"/>
          <geom name="ball_visual" type="mesh" mesh="ball" contype="0" conaffinity="0"
                group="1" material="black"/>
          <geom name="ball_collision" type="sphere" size="0.05" group="0"/>
        </body>
        <body name="bare" pos="0.3 0 0.5">
          <joint type="hinge"/>
          <geom name="bare_collision" type="box" size="0.03 0.03 0.03" material="red"/>
          <geom name="hidden_visual" type="sphere" size="0.01" contype="0" conaffinity="0"
                group="4"/>
        </body>
      </worldbody>
    </mujoco>"""
    return mujoco.MjModel.from_xml_string(xml)


def test_render_model_draws_visual_geoms_simplified_and_leaves_the_scene_model_alone():
    model = _two_body_model()
    geom = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g): g for g in range(model.ngeom)}
    shown = visual_geom_mask(model)
    assert shown[geom["floor"]] and shown[geom["ball_visual"]]
    assert not shown[geom["ball_collision"]]   # its body has a visual geom
    assert shown[geom["bare_collision"]]       # no drawn visual geom on this body
    assert not shown[geom["hidden_visual"]]    # group 4 is not drawn by default

    faces_before = int(model.mesh_facenum[0])
    groups_before = model.geom_group.copy()
    out = render_model(model, cell_m=0.01)
    assert out.geom_group[geom["ball_collision"]] == HIDDEN_GROUP
    assert out.geom_group[geom["bare_collision"]] == groups_before[geom["bare_collision"]]
    assert 0 < out.mesh_facenum[0] < faces_before / 5
    black = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_MATERIAL, "black")
    red = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_MATERIAL, "red")
    assert np.allclose(out.mat_rgba[black, :3], DEFAULT_GREY)
    assert np.allclose(out.mat_rgba[red], model.mat_rgba[red])
    # The scene's model (shared with the gate) is untouched.
    assert model.mesh_facenum[0] == faces_before
    assert np.array_equal(model.geom_group, groups_before)
    assert np.allclose(model.mat_rgba[black, :3], 0.0)
    # Zero cell: visual selection only, meshes at full density.
    assert render_model(model, cell_m=0.0).mesh_facenum[0] == faces_before


@pytest.fixture(scope="module")
def hand():
    return load_robot("inspire_right")


def _wave(hand) -> RobotTrajectory:
    q = finger_wave(hand, seconds=0.5)
    j = hand.joint_names.index("joint_r_index_proximal")
    q[8:, j] = hand.upper[j] + 0.5  # past its limit: a violation from frame 8
    return RobotTrajectory(q, hand.joint_names, 30.0, ((hand.name, hand.name),))


def test_gate_recording_is_the_gate_verdict_and_its_simulation(hand):
    traj = _wave(hand)
    report, recording = robot_render.gate_recording(traj)
    expected = validate(traj)
    assert report.passed == expected.passed is False
    assert [(v.kind, v.frame_start, v.frame_end, v.subjects) for v in report.violations] == \
        [(v.kind, v.frame_start, v.frame_end, v.subjects) for v in expected.violations]
    assert recording.full_qpos.shape[0] == traj.num_frames
    none, again = robot_render.gate_recording(traj, check=False)
    assert none is None and np.allclose(again.full_qpos, recording.full_qpos)


def test_simplified_frames_match_full_density_frames(hand, tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    q = finger_wave(hand, seconds=0.2)
    traj = RobotTrajectory(q, hand.joint_names, 30.0, ((hand.name, hand.name),))
    videos = {}
    for cell_px in (0.0, robot_render.MESH_CELL_PX, 4.0):
        out = robot_render.render_trajectory(traj, tmp_path / f"hand_{cell_px}.mp4",
                                             size=(320, 240), caption=False,
                                             mesh_cell_px=cell_px)
        videos[cell_px] = np.asarray(imageio.mimread(out))[..., :3].astype(int)
    full = videos[0.0]
    assert full.shape == (traj.num_frames, 240, 320, 3)
    floor = np.median(full[:, -10:], axis=(0, 1, 2))
    robot = np.abs(full - floor).max(-1) > 30
    robot[:, :30] = False  # the sky above the horizon
    assert robot.sum() > 500 * traj.num_frames  # the hand is in the picture

    def moved(cell_px):  # share of the hand's pixels that change by more than a shade
        return (np.abs(full - videos[cell_px]).max(-1) > 48).sum() / robot.sum()

    assert moved(robot_render.MESH_CELL_PX) < 0.03
    assert moved(4.0) > 2 * moved(robot_render.MESH_CELL_PX)  # the comparison can tell
