"""Offscreen MuJoCo video of a robot trajectory, with the gate's violations drawn in red.

The trajectory is played in its gate scene (so the video shows what the gate judged), rendered
headless (``MUJOCO_GL=egl`` by default) and written as ``.mp4`` (imageio-ffmpeg) or ``.gif``.
Bodies named by a violation (colliding bodies, the link of a joint past a limit) turn red on the
violation's frames; a caption strip gives the frame number and the violations in progress.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# MuJoCo picks its OpenGL platform when first imported: headless EGL unless the user chose.
os.environ.setdefault("MUJOCO_GL", "egl")

from dyad.errors import DyadInputError
from dyad.retarget.trajectory import RobotTrajectory

from .report import ValidationReport
from .scene import Scene, scene_for_trajectory
from .thresholds import Thresholds

RED = np.array([0.95, 0.1, 0.1, 1.0], dtype=np.float32)
CAMERA_DISTANCE_M = {"hand": 0.55, "two_hands": 0.8, "humanoid": 3.2, "duet": 4.2, "multi": 4.5}


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
    from .gate import validate

    traj = RobotTrajectory.load(path)
    if robot:
        if len(traj.instances) != 1:
            raise DyadInputError(f"{path}: --robot applies to single-robot trajectories; this "
                                 f"one has instances {[i for i, _ in traj.instances]}")
        traj.instances = ((traj.instances[0][0], robot),)
    traj.source = traj.source or str(path)
    report = validate(traj) if check else None
    return render_trajectory(traj, out, report, size=size, fps=fps, caption=caption)


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
                      caption: bool = True) -> Path:
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

    Returns:
        The path written.
    """
    import imageio.v2 as imageio
    import mujoco

    from .gate import _base_poses
    from .playback import Simulator

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".mp4", ".gif"):
        raise DyadInputError(f"{out_path}: videos end in .mp4 or .gif")
    width, height = size
    if not (16 <= width <= 1920 and 16 <= height <= 1080):
        raise DyadInputError(f"video size {width}x{height} must be within 16x16..1920x1080")
    scene = scene_for_trajectory(traj, thresholds, load_robot)
    joint_cols, _ = scene.column_order(traj)
    base_pos, base_quat = _base_poses(scene, traj)
    rec = Simulator(scene).play(traj.qpos[:, joint_cols], base_pos, base_quat, traj.start_frame)
    marked = _violating_bodies(scene, report, traj.num_frames, traj.start_frame)

    model = scene.model
    data = mujoco.MjData(model)
    renderer = mujoco.Renderer(model, height, width)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.distance = CAMERA_DISTANCE_M.get(scene.layout, 3.0)
    camera.azimuth, camera.elevation = azimuth_deg, elevation_deg
    mocap_rows = np.array([inst.mocap_index for inst in scene.instances])
    original_rgba = model.geom_rgba.copy()
    original_mat = model.geom_matid.copy()
    model.vis.headlight.ambient[:] = 0.45
    model.vis.headlight.diffuse[:] = 0.6
    geom_body = model.geom_bodyid
    out_fps = fps or traj.fps
    frames = np.clip(np.round(np.arange(0, traj.num_frames / traj.fps, 1.0 / out_fps)
                              * traj.fps).astype(int), 0, traj.num_frames - 1)
    writer = (imageio.get_writer(out_path, fps=out_fps, macro_block_size=1)
              if out_path.suffix.lower() == ".mp4" else imageio.get_writer(out_path, mode="I",
                                                                           duration=1 / out_fps))
    try:
        for f in frames:
            data.qpos[:] = rec.full_qpos[f]
            data.mocap_pos[mocap_rows] = rec.base_pos[f]
            data.mocap_quat[mocap_rows] = rec.base_quat[f]
            mujoco.mj_kinematics(model, data)
            # Keep the camera on the robots' centre of mass of the frame.
            bodies = np.concatenate([inst.body_ids for inst in scene.instances])
            camera.lookat[:] = data.xpos[bodies].mean(axis=0)
            model.geom_rgba[:] = original_rgba
            model.geom_matid[:] = original_mat
            if marked[f]:
                hit = np.isin(geom_body, list(marked[f]))
                model.geom_rgba[hit] = RED
                model.geom_matid[hit] = -1  # a material's colour would win over rgba
            renderer.update_scene(data, camera)
            image = renderer.render()
            if caption:
                frame = traj.start_frame + int(f)
                active = sorted({v.kind for v in (report.violations if report else [])
                                 if v.frame_start <= frame < v.frame_end})
                verdict = "" if report is None else ("PASS" if report.passed else "FAIL")
                text = f"{traj.robot}  frame {frame}  {verdict}  " + ", ".join(active)
                image = _caption(image, text, bool(active))
            writer.append_data(image)
    finally:
        writer.close()
        model.geom_rgba[:] = original_rgba
        model.geom_matid[:] = original_mat
        renderer.close()
    return out_path
