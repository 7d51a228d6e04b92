"""Headless skeleton rendering of a :class:`~dyad.motion.MotionRecord` to images and videos.

A small rasteriser in numpy + Pillow: no display, no OpenGL. A perspective camera looks at the
whole clip (framed once, so the camera never jitters), a floor grid gives the ground, bones are
drawn as lines far to near (painter's algorithm), one colour per agent (the agent's left side
lighter), farther bones fade toward the background. During a contact interval the joints of
the two touching parts are drawn in red, and a caption strip shows the text, the frame counter
and the active contacts.

Views (the contract's agents face +X, Z up):

- ``auto`` (default): across the line joining the two agents, so both are seen side by side,
  the first agent (``A``, the left hand) on the left of the image. Bimanual clips are seen
  from higher up (35 deg); for hands laid out as usual that is over their owner's shoulder.
- ``front``: from +X, looking back at an agent that faces +X.
- ``side``: from -Y (the agent's right), +X to the right of the image.
- ``top``: from above, +X up in the image.
- ``orbit``: starts at ``auto`` and turns around the scene (one turn per clip, at most 45 deg/s).

Videos are written atomically: frames go to a hidden temporary file beside the output that is
renamed into place only when the encoder has finished.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dyad.errors import DyadInputError
from dyad.motion import MotionRecord
from dyad.skeletons import FINGERTIPS, contact_part_joints, get_skeleton

VIEWS: tuple[str, ...] = ("auto", "front", "side", "top", "orbit")
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".gif")
DEFAULT_SIZE: tuple[int, int] = (640, 480)
MAX_SIDE_PX = 4096

BACKGROUND_RGB = (246, 246, 243)
GRID_RGB = (206, 206, 200)
STRIP_RGB = (34, 36, 40)
TEXT_RGB = (240, 240, 240)
COUNTER_RGB = (170, 174, 180)
CONTACT_RGB = (228, 16, 16)
# Okabe-Ito blue, orange, bluish green, reddish purple: far from the contact red, and told apart
# by colour-blind viewers.
AGENT_RGB: tuple[tuple[int, int, int], ...] = (
    (0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167),
)

VERTICAL_FOV_DEG = 35.0
FILL_FRACTION = 0.86  # share of the viewport the clip's bounding box may span
BODY_BONE_DIAMETER_M = 0.035
BODY_DOT_RADIUS_M = 0.022
HAND_BONE_DIAMETER_M = 0.006
HAND_DOT_RADIUS_M = 0.0045
LEFT_SIDE_LIGHTEN = 0.38  # blend of an agent's left-side bones toward white
MAX_FOG = 0.45  # the farthest bone is blended this far toward the background
FOG_LEVELS = 12
ORBIT_MAX_DEG_PER_S = 45.0
GIF_MAX_FPS = 50.0


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` -> ``(640, 480)``; raises :class:`DyadInputError` on anything else."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise DyadInputError(f"size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 640x480") \
            from None
    if not (16 <= width <= MAX_SIDE_PX and 16 <= height <= MAX_SIDE_PX):
        raise DyadInputError(f"size {text!r}: width and height must be 16..{MAX_SIDE_PX} pixels")
    return width, height


# --------------------------------------------------------------------------------------------
# Camera


@dataclass(frozen=True)
class Camera:
    """A pinhole camera.

    Attributes:
        rotation_world_to_camera: (3, 3) rows are the camera's right, down and forward axes
            in world coordinates.
        eye_m: (3,) camera position in the world, metres.
        focal_px: focal length in pixels.
        center_px: (u, v) principal point in pixels.
    """

    rotation_world_to_camera: np.ndarray
    eye_m: np.ndarray
    focal_px: float
    center_px: tuple[float, float]

    def to_camera(self, points_world_m: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera coordinates (x right, y down, z depth)."""
        return (np.asarray(points_world_m) - self.eye_m) @ self.rotation_world_to_camera.T

    def project(self, points_camera_m: np.ndarray) -> np.ndarray:
        """(..., 3) camera coordinates (z > 0) -> (..., 2) pixel coordinates (u, v)."""
        z = points_camera_m[..., 2:3]
        return self.focal_px * points_camera_m[..., :2] / z + np.asarray(self.center_px)


def view_rotation(azimuth_rad: float, elevation_rad: float) -> np.ndarray:
    """Rows right, down, forward of a camera whose eye sits at ``azimuth`` around +Z (0 = on
    +X) and ``elevation`` above the horizon, looking at the target.

    Looking straight down, image up points along the azimuth (+X for azimuth 0).
    """
    eye_dir = np.array([math.cos(elevation_rad) * math.cos(azimuth_rad),
                        math.cos(elevation_rad) * math.sin(azimuth_rad),
                        math.sin(elevation_rad)])
    forward = -eye_dir
    up_hint = np.array([0.0, 0.0, 1.0])
    if abs(forward @ up_hint) > 0.999:  # top view: the world Z hint is degenerate
        up_hint = np.array([math.cos(azimuth_rad), math.sin(azimuth_rad), 0.0])
    right = np.cross(forward, up_hint)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def fit_distance_m(points_from_target_m: np.ndarray, rotation: np.ndarray, tan_half_w: float,
                   tan_half_h: float) -> float:
    """Smallest eye-to-target distance at which every point projects inside the viewport.

    Args:
        points_from_target_m: (N, 3) points relative to the look-at target.
        rotation: (3, 3) world-to-camera rotation (rows right, down, forward).
        tan_half_w: tangent of half the horizontal field of view the points may fill.
        tan_half_h: the same, vertically.
    """
    cam = points_from_target_m @ rotation.T
    x, y, z = np.abs(cam[:, 0]), np.abs(cam[:, 1]), cam[:, 2]
    # A point at camera depth d + z projects inside when |x| / (d + z) <= tan_half_w.
    need = np.maximum(x / tan_half_w, y / tan_half_h) - z
    extent = float(np.ptp(points_from_target_m, axis=0).max()) if len(cam) else 1.0
    # Keep every point well in front of the eye even when the box is flat toward the camera.
    near = float((-z).max()) + 0.25 * max(extent, 1e-3)
    return max(float(need.max()), near, 0.05)


def _nice_step(value: float) -> float:
    """1, 2 or 5 times a power of ten, closest above ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= value:
            return m * power
    return 10.0 * power


# --------------------------------------------------------------------------------------------
# The renderer


class SkeletonRenderer:
    """Draws the frames of one motion record.

    Construction frames the camera and draws the static background once; :meth:`frame` then
    draws one output frame. Output frames are resampled from the record (linear interpolation)
    when ``fps`` differs from the record's.

    Args:
        record: the motion.
        size: (width, height) of the output images in pixels.
        view: one of :data:`VIEWS`.
        fps: output frame rate; ``None`` keeps the record's.
        caption: draw the caption strip (text, frame counter, contacts).
        supersample: draw at this multiple of the size and shrink (anti-aliasing); 1 is fastest.
    """

    def __init__(self, record: MotionRecord, size: tuple[int, int] = DEFAULT_SIZE,
                 view: str = "auto", fps: float | None = None, caption: bool = True,
                 supersample: int = 2):
        if view not in VIEWS:
            raise DyadInputError(f"unknown view {view!r}; views are {', '.join(VIEWS)}")
        width, height = (int(s) for s in size)
        if not (16 <= width <= MAX_SIDE_PX and 16 <= height <= MAX_SIDE_PX):
            raise DyadInputError(f"image size {width}x{height}: width and height must be "
                                 f"16..{MAX_SIDE_PX} pixels")
        if not (isinstance(supersample, (int, np.integer)) and 1 <= supersample <= 4):
            raise DyadInputError(f"supersample must be an integer 1..4, got {supersample!r}")
        self.fps = float(record.fps if fps is None else fps)
        if not (math.isfinite(self.fps) and 0 < self.fps <= 240):
            raise DyadInputError(f"fps must be in (0, 240], got {fps}")
        self.record = record
        self.size = (width, height)
        self.view = view
        self.supersample = int(supersample)
        self._skeleton = get_skeleton(record.skeleton)
        self._source_frames = record.num_frames
        self.num_frames = max(1, int(round(record.num_frames * self.fps / record.fps)))

        self._font_px = max(10, round(height / 32))
        self._strip_h = 0
        if caption:
            self._font = _load_font(self._font_px)
            self._line_h = round(self._font_px * 1.35)
            self._strip_h = 2 * self._line_h + round(self._font_px * 0.7)
        self._viewport_h = height - self._strip_h
        if self._viewport_h < 16:
            raise DyadInputError(f"image size {width}x{height} leaves no room beside the "
                                 "caption; make it taller or turn the caption off")

        self._prepare_skeleton_tables()
        self._prepare_contacts()
        self._frame_camera()
        self._background = None if self.view == "orbit" else self._draw_background(
            self._camera_at(0))
        self._strip = self._draw_strip_base() if caption else None

    @property
    def viewport_height(self) -> int:
        """Rows of the image above the caption strip (all of them without a caption)."""
        return self._viewport_h

    # ---------------------------------------------------------------- set-up

    def _prepare_skeleton_tables(self) -> None:
        skel = self._skeleton
        bones = np.array(skel.bones, dtype=np.int64).reshape(-1, 2)
        self._bones = bones
        names = skel.joint_names
        is_hand_joint = np.zeros(skel.num_joints, dtype=bool)
        if skel.name == "hand21":
            is_hand_joint[:] = True
        elif skel.name == "body22+hands":
            is_hand_joint[22:] = True
        self._bone_diam_m = np.where(is_hand_joint[bones[:, 1]], HAND_BONE_DIAMETER_M,
                                     BODY_BONE_DIAMETER_M)
        is_left = np.array([n.startswith("l_") for n in names])
        self._bone_side = is_left[bones[:, 1]].astype(np.int64)
        # Dots at body joints and fingertips (every hand joint in a hands-only clip).
        if skel.name == "hand21":
            dots = np.arange(skel.num_joints)
        else:
            dots = list(np.flatnonzero(~is_hand_joint))
            if skel.name == "body22+hands":
                dots += [22 + t - 1 for t in FINGERTIPS] + [42 + t - 1 for t in FINGERTIPS]
            dots = np.array(dots, dtype=np.int64)
        self._dots = dots
        self._dot_radius_m = np.where(is_hand_joint[dots], HAND_DOT_RADIUS_M, BODY_DOT_RADIUS_M)
        self._dot_side = is_left[dots].astype(np.int64)
        self._contact_radius_m = np.where(is_hand_joint, HAND_DOT_RADIUS_M * 1.5,
                                          BODY_DOT_RADIUS_M * 1.3)
        # colours[agent][side][fog level]
        self._colours = []
        for a in range(len(self.record.agents)):
            base = np.array(AGENT_RGB[a % len(AGENT_RGB)], dtype=float)
            sides = []
            for side in (0, 1):
                c = base + (255.0 - base) * (LEFT_SIDE_LIGHTEN if side else 0.0)
                levels = [tuple(int(round(v)) for v in
                                c + (np.array(BACKGROUND_RGB) - c) * MAX_FOG * k / (FOG_LEVELS - 1))
                          for k in range(FOG_LEVELS)]
                sides.append(levels)
            self._colours.append(sides)

    def _prepare_contacts(self) -> None:
        """Per source frame: which (agent, joint) to draw red, and the caption of contacts."""
        record = self.record
        t_src, a_count, j_count = record.joints.shape[:3]
        self._contact_mask = np.zeros((t_src, a_count, j_count), dtype=bool)
        self._contact_labels: list[tuple[int, int, str]] = []
        for c in record.contacts:
            start, end = max(0, int(c.start)), min(t_src, int(c.end))
            if end <= start:
                continue
            self._contact_labels.append(
                (start, end, f"{c.agent_a} {c.part_a} - {c.agent_b} {c.part_b}"))
            for agent, part in ((c.agent_a, c.part_a), (c.agent_b, c.part_b)):
                try:
                    a = record.agent_index(agent)
                    joints = contact_part_joints(record.skeleton, part)
                except KeyError:
                    continue  # an unknown agent or part still shows in the caption
                self._contact_mask[start:end, a, joints] = True

    def _frame_camera(self) -> None:
        joints = self.record.joints.reshape(-1, 3).astype(np.float64)
        lo, hi = joints.min(axis=0), joints.max(axis=0)
        extent_xy = float(max(hi[0] - lo[0], hi[1] - lo[1], 0.05))
        # The floor: z = 0 for bodies standing on it; under the lowest joint for hands (a table)
        # or for body data that floats far from z = 0.
        if self._skeleton.name != "hand21" and abs(lo[2]) < 0.3:
            self._floor_z = min(0.0, float(lo[2]))
        else:
            self._floor_z = float(lo[2]) - 0.02 * max(extent_xy, float(hi[2] - lo[2]))
        self._grid_step = _nice_step(max(extent_xy, float(hi[2] - lo[2])) / 6.0)
        # A square floor around the clip, reaching well beyond it on every side.
        half = 0.5 * extent_xy + max(0.5 * extent_xy, 2 * self._grid_step)
        middle = 0.5 * (lo[:2] + hi[:2])
        self._grid_lo = np.floor((middle - half) / self._grid_step) * self._grid_step
        self._grid_hi = np.ceil((middle + half) / self._grid_step) * self._grid_step

        # Frame the joints plus their footprint on the floor, so the ground stays in view.
        stride = max(1, len(joints) // 4000)
        sample = joints[::stride]
        footprint = sample.copy()
        footprint[:, 2] = self._floor_z
        points = np.concatenate([sample, footprint, lo[None], hi[None]])
        self._target = 0.5 * (points.min(axis=0) + points.max(axis=0))
        rel = points - self._target

        width = self.size[0]
        tan_half_h = math.tan(math.radians(VERTICAL_FOV_DEG) / 2)
        tan_half_w = tan_half_h * width / self._viewport_h
        self._focal_px = (self._viewport_h / 2) / tan_half_h
        self._azimuth0, self._elevation = self._view_angles()
        fit = (tan_half_w * FILL_FRACTION, tan_half_h * FILL_FRACTION)
        if self.view == "orbit":
            self._distance_m = max(
                fit_distance_m(rel, view_rotation(self._azimuth0 + k * math.pi / 8,
                                                  self._elevation), *fit)
                for k in range(16))
            period_s = max(self.num_frames / self.fps, 360.0 / ORBIT_MAX_DEG_PER_S)
            self._orbit_rad_per_frame = 2 * math.pi / (period_s * self.fps)
        else:
            self._distance_m = fit_distance_m(rel, view_rotation(self._azimuth0, self._elevation),
                                              *fit)
            self._orbit_rad_per_frame = 0.0
        # Depth range of the clip for fog: the framed points from the first camera.
        cam = self._camera_at(0).to_camera(points)
        radius = float(np.linalg.norm(rel, axis=1).max())
        self._fog_near = self._distance_m - radius
        self._fog_far = self._distance_m + radius if self.view == "orbit" else max(
            float(cam[:, 2].max()), self._fog_near + 1e-3)
        if self.view != "orbit":
            self._fog_near = float(cam[:, 2].min())

    def _view_angles(self) -> tuple[float, float]:
        """(azimuth, elevation) in radians of the eye around the target."""
        deg = math.radians
        if self.view == "front":
            return 0.0, deg(12)
        if self.view == "side":
            return -math.pi / 2, deg(10)
        if self.view == "top":
            return 0.0, math.pi / 2
        # auto and orbit: across the line joining the agents, the first agent on the left.
        joints = self.record.joints
        bimanual = self._skeleton.name == "hand21"
        azimuth = math.pi if bimanual else 0.0
        if joints.shape[1] >= 2:
            centres = joints.mean(axis=(0, 2))
            sep = centres[1, :2] - centres[0, :2]
            if np.linalg.norm(sep) > 1e-3:
                # Image right is (-sin az, cos az, 0); point it from the first agent to the
                # second.
                azimuth = math.atan2(float(sep[1]), float(sep[0])) - math.pi / 2
        return azimuth, deg(35) if bimanual else deg(12)

    def _camera_at(self, frame: int) -> Camera:
        azimuth = self._azimuth0 + self._orbit_rad_per_frame * frame
        rotation = view_rotation(azimuth, self._elevation)
        eye = self._target - self._distance_m * rotation[2]
        s = self.supersample
        return Camera(rotation, eye, self._focal_px * s,
                      (self.size[0] * s / 2, self._viewport_h * s / 2))

    def _draw_background(self, camera: Camera) -> Image.Image:
        s = self.supersample
        image = Image.new("RGB", (self.size[0] * s, self._viewport_h * s), BACKGROUND_RGB)
        draw = ImageDraw.Draw(image)
        step, (x0, y0), (x1, y1) = self._grid_step, self._grid_lo, self._grid_hi
        z = self._floor_z
        segments = [((x, y0, z), (x, y1, z)) for x in np.arange(x0, x1 + step / 2, step)]
        segments += [((x0, y, z), (x1, y, z)) for y in np.arange(y0, y1 + step / 2, step)]
        ends = camera.to_camera(np.array(segments, dtype=np.float64))  # (L, 2, 3)
        near = 0.05 * self._distance_m
        width = max(1, s)
        for a, b in ends:
            if a[2] < near and b[2] < near:
                continue
            # Clip the part behind the near plane so projections stay finite.
            if a[2] < near:
                a = b + (a - b) * (b[2] - near) / (b[2] - a[2])
            elif b[2] < near:
                b = a + (b - a) * (a[2] - near) / (a[2] - b[2])
            uv = camera.project(np.stack([a, b]))
            draw.line([tuple(uv[0]), tuple(uv[1])], fill=GRID_RGB, width=width)
        return image

    def _draw_strip_base(self) -> Image.Image:
        width = self.size[0]
        strip = Image.new("RGB", (width, self._strip_h), STRIP_RGB)
        text = self.record.text or self.record.label or ""
        if self.record.label and self.record.text:
            text = f"[{self.record.label}] {text}"
        pad = round(self._font_px * 0.6)
        text = _fit_text(self._font, text, width - 2 * pad)
        ImageDraw.Draw(strip).text((pad, round(self._font_px * 0.3)), text, font=self._font,
                                   fill=TEXT_RGB)
        return strip

    # ---------------------------------------------------------------- per frame

    def source_position(self, frame: int) -> float:
        """Position of output ``frame`` in the record's frames (fractional when resampling)."""
        if self.num_frames == self._source_frames:
            return float(frame)
        return min(frame * self.record.fps / self.fps, self._source_frames - 1.0)

    def _joints_at(self, frame: int) -> np.ndarray:
        pos = self.source_position(frame)
        i0 = int(math.floor(pos))
        i1 = min(i0 + 1, self._source_frames - 1)
        w = pos - i0
        joints = self.record.joints
        if w < 1e-9 or i1 == i0:
            return joints[i0].astype(np.float64)
        return (1.0 - w) * joints[i0].astype(np.float64) + w * joints[i1].astype(np.float64)

    def frame(self, frame: int) -> np.ndarray:
        """The RGB image (H, W, 3) uint8 of output frame ``frame`` (0-based)."""
        if not 0 <= frame < self.num_frames:
            raise DyadInputError(f"frame {frame} is outside the clip's {self.num_frames} frames")
        camera = self._camera_at(frame)
        image = (self._background.copy() if self._background is not None
                 else self._draw_background(camera))
        source = int(round(self.source_position(frame)))
        self._draw_skeletons(ImageDraw.Draw(image), camera, self._joints_at(frame), source)
        if self.supersample > 1:
            image = image.reduce(self.supersample)
        if self._strip is not None:
            canvas = Image.new("RGB", self.size)
            canvas.paste(image, (0, 0))
            canvas.paste(self._strip, (0, self._viewport_h))
            self._draw_counter(ImageDraw.Draw(canvas), frame, source)
            image = canvas
        return np.asarray(image)

    def frames(self) -> Iterator[np.ndarray]:
        """Every output frame in order."""
        for i in range(self.num_frames):
            yield self.frame(i)

    def _draw_skeletons(self, draw: ImageDraw.ImageDraw, camera: Camera, joints_m: np.ndarray,
                        source: int) -> None:
        a_count, j_count = joints_m.shape[:2]
        cam = camera.to_camera(joints_m.reshape(-1, 3))
        depth = cam[:, 2]
        visible = depth > 1e-3
        uv = camera.project(np.where(visible[:, None], cam, [0.0, 0.0, 1.0]))
        f = camera.focal_px
        n_bones, n_dots = len(self._bones), len(self._dots)
        offsets = (np.arange(a_count) * j_count)[:, None]
        bone_a = (self._bones[None, :, 0] + offsets).ravel()
        bone_b = (self._bones[None, :, 1] + offsets).ravel()
        bone_depth = 0.5 * (depth[bone_a] + depth[bone_b])
        bone_ok = visible[bone_a] & visible[bone_b]
        bone_w = np.clip(np.tile(self._bone_diam_m, a_count) * f / np.maximum(bone_depth, 1e-3),
                         1.0, 0.06 * f).astype(int)
        dot_j = (self._dots[None, :] + offsets).ravel()
        dot_depth = depth[dot_j] - 1e-4  # a joint's dot covers the ends of its bones
        dot_r = np.clip(np.tile(self._dot_radius_m, a_count) * f
                        / np.maximum(dot_depth, 1e-3), 0.75, 0.05 * f)
        fog = np.clip((np.concatenate([bone_depth, dot_depth]) - self._fog_near)
                      / max(self._fog_far - self._fog_near, 1e-6), 0.0, 1.0)
        fog_level = np.rint(fog * (FOG_LEVELS - 1)).astype(int).tolist()
        order = np.argsort(-np.concatenate([bone_depth, dot_depth]), kind="stable").tolist()
        ok = np.concatenate([bone_ok, visible[dot_j]]).tolist()
        contact = self._contact_mask[min(source, self._source_frames - 1)].ravel()
        red_bone = (contact[bone_a] & contact[bone_b]).tolist()

        u, v = uv[:, 0].tolist(), uv[:, 1].tolist()
        ba, bb, bw = bone_a.tolist(), bone_b.tolist(), bone_w.tolist()
        dj, dr = dot_j.tolist(), dot_r.tolist()
        bone_side = self._bone_side.tolist() * a_count
        dot_side = self._dot_side.tolist() * a_count
        colours = self._colours
        line, ellipse = draw.line, draw.ellipse
        total_bones = n_bones * a_count
        for k in order:
            if not ok[k]:
                continue
            if k < total_bones:
                agent = k // n_bones
                fill = CONTACT_RGB if red_bone[k] else colours[agent][bone_side[k]][fog_level[k]]
                p, q = ba[k], bb[k]
                line([(u[p], v[p]), (u[q], v[q])], fill=fill, width=bw[k])
            else:
                d = k - total_bones
                agent = d // n_dots
                j, r = dj[d], dr[d]
                ellipse([u[j] - r, v[j] - r, u[j] + r, v[j] + r],
                        fill=colours[agent][dot_side[d]][fog_level[k]])
        # Contact joints last, on top of everything: a touch must never hide behind a bone.
        if contact.any():
            radius_m = np.tile(self._contact_radius_m, a_count)
            for j in np.flatnonzero(contact & visible).tolist():
                r = max(1.5 * self.supersample, radius_m[j] * f / depth[j])
                ellipse([u[j] - r, v[j] - r, u[j] + r, v[j] + r], fill=CONTACT_RGB)

    def palette_rgb(self) -> list[tuple[int, int, int]]:
        """Every colour this renderer draws with, plus the blends its anti-aliasing makes
        (at most 256; the GIF palette)."""
        plain = [BACKGROUND_RGB, GRID_RGB, STRIP_RGB, TEXT_RGB, COUNTER_RGB, CONTACT_RGB]
        plain += [c for sides in self._colours for levels in sides for c in levels]
        blends = []
        edges = [(c, BACKGROUND_RGB) for c in [GRID_RGB, CONTACT_RGB] + [
            levels[k] for sides in self._colours for levels in sides
            for k in (0, FOG_LEVELS // 2, FOG_LEVELS - 1)]]
        edges += [(c, STRIP_RGB) for c in (TEXT_RGB, COUNTER_RGB, CONTACT_RGB)]
        for c, under in edges:
            for alpha in (0.25, 0.5, 0.75):
                blends.append(tuple(int(round(alpha * a + (1 - alpha) * b))
                                    for a, b in zip(c, under)))
        colours = list(dict.fromkeys(plain + blends))
        return colours[:256]

    def _draw_counter(self, draw: ImageDraw.ImageDraw, frame: int, source: int) -> None:
        pad = round(self._font_px * 0.6)
        y = round(self._font_px * 0.3) + self._line_h + self._viewport_h
        counter = (f"frame {source + 1}/{self._source_frames}  "
                   f"{source / self.record.fps:5.2f} s")
        draw.text((pad, y), counter, font=self._font, fill=COUNTER_RGB)
        active = [label for start, end, label in self._contact_labels if start <= source < end]
        if active:
            x0 = pad + self._font.getlength(counter) + 2 * pad
            text = _fit_text(self._font, "contact: " + "; ".join(active),
                             self.size[0] - x0 - pad)
            draw.text((x0, y), text, font=self._font, fill=CONTACT_RGB)


def _load_font(size_px: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size_px)
    except (TypeError, ValueError, OSError, ImportError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _fit_text(font, text: str, max_px: float) -> str:
    """``text`` cut with an ellipsis so that it is at most ``max_px`` wide."""
    text = " ".join(str(text).split())
    if font.getlength(text) <= max_px:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid] + "…") <= max_px:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…" if lo else ""


# --------------------------------------------------------------------------------------------
# Public functions


def render_frame(record: MotionRecord, t: int, size: tuple[int, int] = DEFAULT_SIZE,
                 view: str = "auto", caption: bool = True, supersample: int = 2) -> np.ndarray:
    """One frame of a motion as an RGB image, e.g. for a PNG preview.

    Args:
        record: the motion.
        t: frame index in the record, 0-based.
        size: (width, height) in pixels.
        view: one of :data:`VIEWS`.
        caption: draw the caption strip.
        supersample: anti-aliasing factor 1..4.

    Returns:
        (height, width, 3) uint8 image.
    """
    renderer = SkeletonRenderer(record, size=size, view=view, caption=caption,
                                supersample=supersample)
    return renderer.frame(int(t))


def render_motion(record: MotionRecord | str | Path, out_path: str | Path,
                  fps: float | None = None, size: tuple[int, int] = DEFAULT_SIZE,
                  view: str = "auto", caption: bool = True, supersample: int = 2,
                  progress: bool | None = None) -> Path:
    """Render a motion to an ``.mp4`` (H.264, yuv420p) or ``.gif`` file, atomically.

    Args:
        record: the motion, or the path of a motion ``.npz``.
        out_path: the video to write; its suffix picks the format.
        fps: output frame rate; ``None`` keeps the motion's (at most 50 for ``.gif``).
        size: (width, height) in pixels; even for ``.mp4``.
        view: one of :data:`VIEWS`.
        caption: draw the caption strip.
        supersample: anti-aliasing factor 1..4.
        progress: show a progress bar on stderr; ``None`` shows one for long clips on a terminal.

    Returns:
        The path written.

    Raises:
        DyadInputError: unknown suffix, odd size for ``.mp4``, a folder that cannot be written,
            an unreadable motion file, or an encoder failure.
    """
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    check_output_path(out_path)
    if suffix == ".gif" and fps is not None and fps > GIF_MAX_FPS:
        raise DyadInputError(f"fps {fps:g}: GIF players show at most {GIF_MAX_FPS:g} frames per "
                             "second (delays under 2 cs are slowed down); use .mp4 or a lower "
                             "--fps")
    if suffix == ".mp4" and (size[0] % 2 or size[1] % 2):
        raise DyadInputError(f"size {size[0]}x{size[1]}: .mp4 (H.264, yuv420p) needs an even "
                             "width and height, e.g. 640x480")
    if not isinstance(record, MotionRecord):
        record = MotionRecord.load(record)
    if suffix == ".gif" and fps is None and record.fps > GIF_MAX_FPS:
        fps = GIF_MAX_FPS  # a 60 or 120 fps capture still makes a GIF that plays in time
    renderer = SkeletonRenderer(record, size=size, view=view, fps=fps, caption=caption,
                                supersample=supersample)
    writer = _write_mp4 if suffix == ".mp4" else _write_gif
    frames = _with_progress(renderer.frames(), renderer.num_frames, progress)
    return write_atomically(out_path, lambda tmp: writer(tmp, frames, renderer))


def check_output_path(out_path: Path) -> None:
    """Raise :class:`DyadInputError` unless ``out_path`` is a video Dyad can write there."""
    if out_path.suffix.lower() not in VIDEO_SUFFIXES:
        raise DyadInputError(f"{out_path}: unknown video type {out_path.suffix or '(none)'!r}; "
                             f"use one of {', '.join(VIDEO_SUFFIXES)}")
    folder = out_path.parent
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise DyadInputError(f"cannot write {out_path}: {folder} {state}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DyadInputError(f"cannot write {out_path}: folder {folder} is not writable")
    if out_path.is_dir():
        raise DyadInputError(f"cannot write {out_path}: it is a folder")


def write_atomically(out_path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a hidden file beside ``out_path``, then rename it into place.

    On any failure (or Ctrl-C) the temporary file is removed and nothing appears at
    ``out_path``; an OS error becomes :class:`DyadInputError`.
    """
    tmp = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    try:
        write(tmp)
        tmp.replace(out_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DyadInputError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def _with_progress(frames: Iterator[np.ndarray], total: int,
                   progress: bool | None) -> Iterator[np.ndarray]:
    if progress is False or (progress is None and total < 150):
        return frames
    from tqdm import tqdm

    # disable=None: tqdm itself hides the bar when stderr is not a terminal.
    return iter(tqdm(frames, total=total, desc="render", unit="frame", file=sys.stderr,
                     leave=False, disable=None if progress is None else False))


def _write_mp4(path: Path, frames: Iterator[np.ndarray], renderer: SkeletonRenderer) -> None:
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path), renderer.size, fps=renderer.fps, codec="libx264", pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p", quality=None, macro_block_size=2, ffmpeg_log_level="error",
        output_params=["-crf", "20", "-preset", "veryfast", "-movflags", "+faststart"],
    )
    writer.send(None)  # start ffmpeg
    try:
        for image in frames:
            writer.send(np.ascontiguousarray(image))
    finally:
        writer.close()


def _write_gif(path: Path, frames: Iterator[np.ndarray], renderer: SkeletonRenderer) -> None:
    # One fixed palette made from the renderer's own colours: frames are indexed as they come
    # (no second pass, no per-frame palette flicker) and the contact red is always exact.
    palette = Image.new("P", (1, 1))
    flat = [v for rgb in renderer.palette_rgb() for v in rgb]
    palette.putpalette(flat + flat[-3:] * (256 - len(flat) // 3))
    indexed = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)
               for f in frames]
    # GIF delays are whole centiseconds: spread the rounding so the clip keeps its length
    # (30 fps plays as 3, 4, 3, 3, 4, 3 ... cs).
    ticks_cs = np.rint(np.arange(len(indexed) + 1) * 100.0 / renderer.fps).astype(int)
    indexed[0].save(path, format="GIF", save_all=True, append_images=indexed[1:],
                    duration=(np.diff(ticks_cs) * 10).tolist(), loop=0, optimize=False)
