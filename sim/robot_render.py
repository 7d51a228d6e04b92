"""Offscreen MuJoCo video of a robot trajectory, with the gate's violations drawn in red.

The trajectory is played in its gate scene (so the video shows what the gate judged), rendered
headless (``MUJOCO_GL=egl`` by default) and written as ``.mp4`` (imageio-ffmpeg) or ``.gif``.
Bodies named by a violation (colliding bodies, the link of a joint past a limit) turn red on the
violation's frames; a caption strip gives the frame number and the violations in progress.

Speed (a software OpenGL renderer is the headless norm): the gate's one simulation gives both
the report and the poses drawn (:func:`gate_recording`); frames come from a render-only copy of
the scene's model with visual geoms only and meshes simplified to the pixel
(:mod:`dyad.sim.render_model`), through one reused renderer, without shadows or multisampling,
into an offscreen buffer of the video's size.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

# MuJoCo picks its OpenGL platform when first imported: headless EGL unless the user chose.
os.environ.setdefault("MUJOCO_GL", "egl")

from dyad.errors import DyadInputError
from dyad.retarget.trajectory import RobotTrajectory

from .playback import Recording
from .render_model import render_model
from .report import ValidationReport
from .scene import Scene, scene_for_trajectory
from .thresholds import Thresholds

RED = np.array([0.95, 0.1, 0.1, 1.0], dtype=np.float32)
CAMERA_DISTANCE_M = {"hand": 0.55, "two_hands": 0.8, "humanoid": 3.2, "duet": 4.2, "multi": 4.5}
# Meshes are simplified to a grid this many pixels wide at the camera's distance: the
# silhouette moves by under a pixel while a GR1 duet draws 4x fewer triangles (1.24M -> 0.32M).
MESH_CELL_PX = 1.0


def _violating_bodies(scene: Scene, report: ValidationReport | None, num_frames: int,
                      frame_start: int) -> list[set[int]]:
    """Per frame, the body ids a violation names."""
    import mujoco

    per_frame: list[set[int]] = [set() for _ in range(num_frames)]
    if report is None:
        return per_frame
    model = scene.model
    column_joint = {}
    for j, name in enumerate(scene.joint_names):
        inst = scene.instances[scene.joint_instance[j]]
        own = name[len(inst.name) + 1:] if len(scene.instances) > 1 else name
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, inst.prefix + own)
        column_joint[name] = int(model.jnt_bodyid[jid]) if jid >= 0 else -1
    for v in report.violations:
        bodies = set()
        for subject in v.subjects:
            if subject in column_joint and column_joint[subject] >= 0:
                bodies.add(column_joint[subject])
                continue
            b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, subject)
            if b >= 0:
                bodies.add(b)
        for f in range(max(v.frame_start, frame_start), min(v.frame_end, frame_start + num_frames)):
            per_frame[f - frame_start] |= bodies
    return per_frame


def render_trajectory_file(path: Path, out: Path, robot: str | None = None,
                           size: tuple[int, int] = (640, 480), fps: float | None = None,
                           check: bool = True, caption: bool = True) -> Path:
    """``dyad render`` for robot trajectory files: validate (to mark violations) and render.

    Args:
        path: the trajectory ``.npz``.
        out: the video to write.
        robot: registry robot to use instead of the file's (single-instance files only).
        check: run the gate first so violations are drawn in red.
    """
    traj = RobotTrajectory.load(path)
    if robot:
        if len(traj.instances) != 1:
            raise DyadInputError(f"{path}: --robot applies to single-robot trajectories; this "
                                 f"one has instances {[i for i, _ in traj.instances]}")
        traj.instances = ((traj.instances[0][0], robot),)
    traj.source = traj.source or str(path)
    report, recording = gate_recording(traj, check=check)
    return render_trajectory(traj, out, report, size=size, fps=fps, caption=caption,
                             recording=recording)


def gate_recording(traj: RobotTrajectory, thresholds: Thresholds | None = None,
                   load_robot=None, check: bool = True
                   ) -> tuple[ValidationReport | None, Recording]:
    """Play ``traj`` in its gate scene once; return the gate's verdict on it (as
    :func:`dyad.sim.gate.validate`; None when ``check`` is False) and the recording the video
    draws, so the two show the same simulation.

    Args:
        thresholds, load_robot: as for :func:`dyad.sim.gate.validate`.

    Raises:
        DyadInputError: a trajectory the gate cannot check.
    """
    from .gate import StreamingValidator, _check_input

    if check:
        _check_input(traj, min_frames=2)  # what validate() demands
    validator = StreamingValidator(thresholds, load_robot)
    commanded, base_pos, base_quat = validator.begin(traj)
    start = time.perf_counter()
    recording = validator.simulator.play(commanded, base_pos, base_quat, traj.start_frame)
    if not check:
        return None, recording
    validator.check_recorded(traj, recording, time.perf_counter() - start)
    return validator.finish(), recording


def _caption(image: np.ndarray, text: str, failing: bool) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.fromarray(image)
    draw = ImageDraw.Draw(img)
    height = 18
    draw.rectangle([0, 0, img.width, height], fill=(120, 20, 20) if failing else (30, 30, 30))
    draw.text((6, 3), text[:160], fill=(255, 255, 255))
    return np.asarray(img)


def render_trajectory(traj: RobotTrajectory, out_path: str | Path,
                      report: ValidationReport | None = None, *, size: tuple[int, int] = (640, 480),
                      fps: float | None = None, thresholds: Thresholds | None = None,
                      load_robot=None, azimuth_deg: float = 140.0, elevation_deg: float = -20.0,
                      caption: bool = True, recording: Recording | None = None,
                      mesh_cell_px: float = MESH_CELL_PX) -> Path:
    """Render ``traj`` played in its gate scene to a video.

    Args:
        traj: the robot trajectory.
        out_path: ``.mp4`` or ``.gif``.
        report: the gate's report; its violations are drawn in red (None: nothing marked).
        size: (width, height) in pixels (at most 1920 x 1080; even for mp4).
        fps: output frame rate (default: the trajectory's; frames are repeated or skipped).
        thresholds, load_robot: as for :func:`dyad.sim.gate.validate`.
        azimuth_deg, elevation_deg: camera direction around the scene centre.
        caption: draw the frame / violation strip.
        recording: the gate's recording of this trajectory (its simulated poses are drawn);
            None simulates it here.
        mesh_cell_px: mesh simplification grid in pixels at the camera's distance (see
            :mod:`dyad.sim.render_model`); 0 draws the meshes at full density.

    Returns:
        The path written.
    """
    import imageio.v2 as imageio
    import mujoco

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".mp4", ".gif"):
        raise DyadInputError(f"{out_path}: videos end in .mp4 or .gif")
    width, height = size
    if not (16 <= width <= 1920 and 16 <= height <= 1080):
        raise DyadInputError(f"video size {width}x{height} must be within 16x16..1920x1080")
    scene = scene_for_trajectory(traj, thresholds, load_robot)
    if recording is None:
        _, recording = gate_recording(traj, thresholds, load_robot, check=False)
    elif recording.num_frames != traj.num_frames:
        raise DyadInputError(f"recording has {recording.num_frames} frames; the trajectory "
                             f"has {traj.num_frames}")
    marked = _violating_bodies(scene, report, traj.num_frames, traj.start_frame)

    distance_m = CAMERA_DISTANCE_M.get(scene.layout, 3.0)
    model = _video_model(scene.model, width, height, distance_m, mesh_cell_px)
    data = mujoco.MjData(model)
    renderer = mujoco.Renderer(model, height, width)
    # Shadows draw every mesh a second time (into the shadow map) and add little at this
    # camera distance; multisampling's resolve in readPixels costs more than the frame itself
    # on a software renderer.
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.distance = distance_m
    camera.azimuth, camera.elevation = azimuth_deg, elevation_deg
    mocap_rows = np.array([inst.mocap_index for inst in scene.instances])
    robot_bodies = np.concatenate([inst.body_ids for inst in scene.instances])
    original_rgba = model.geom_rgba.copy()
    original_mat = model.geom_matid.copy()
    geom_body = model.geom_bodyid
    robots = ", ".join(dict.fromkeys(r for _, r in traj.instances))
    verdict = "" if report is None else ("PASS" if report.passed else "FAIL")
    violations = report.violations if report else []
    out_fps = fps or traj.fps
    frames = np.clip(np.round(np.arange(0, traj.num_frames / traj.fps, 1.0 / out_fps)
                              * traj.fps).astype(int), 0, traj.num_frames - 1)
    writer = (imageio.get_writer(out_path, fps=out_fps, macro_block_size=1)
              if out_path.suffix.lower() == ".mp4" else imageio.get_writer(out_path, mode="I",
                                                                           duration=1 / out_fps))
    shown_marks: frozenset[int] = frozenset()
    try:
        for f in frames:
            data.qpos[:] = recording.full_qpos[f]
            data.mocap_pos[mocap_rows] = recording.base_pos[f]
            data.mocap_quat[mocap_rows] = recording.base_quat[f]
            mujoco.mj_kinematics(model, data)
            # Keep the camera on the robots' centre of mass of the frame.
            camera.lookat[:] = data.xpos[robot_bodies].mean(axis=0)
            if marked[f] != shown_marks:
                shown_marks = frozenset(marked[f])
                model.geom_rgba[:] = original_rgba
                model.geom_matid[:] = original_mat
                hit = np.isin(geom_body, list(shown_marks))
                model.geom_rgba[hit] = RED
                model.geom_matid[hit] = -1  # a material's colour would win over rgba
            renderer.update_scene(data, camera)
            image = renderer.render()
            if caption:
                frame = traj.start_frame + int(f)
                active = sorted({v.kind for v in violations
                                 if v.frame_start <= frame < v.frame_end})
                text = f"{robots}  frame {frame}  {verdict}  " + ", ".join(active)
                image = _caption(image, text, bool(active))
            writer.append_data(image)
    finally:
        writer.close()
        renderer.close()
    return out_path


def _video_model(scene_model, width: int, height: int, distance_m: float, mesh_cell_px: float):
    """The render-only copy of the scene's model (visual geoms, meshes at the pixel scale) with
    the video's lighting and an offscreen buffer of the video's size."""
    fovy_rad = np.deg2rad(float(scene_model.vis.global_.fovy))
    pixel_m = 2.0 * distance_m * np.tan(fovy_rad / 2.0) / height
    model = render_model(scene_model, mesh_cell_px * pixel_m)
    model.vis.global_.offwidth, model.vis.global_.offheight = width, height
    model.vis.quality.offsamples = 0
    model.vis.headlight.ambient[:] = 0.45
    model.vis.headlight.diffuse[:] = 0.6
    return model
