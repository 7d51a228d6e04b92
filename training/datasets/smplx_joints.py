"""SMPL-X joint positions from pose parameters, with the user's own SMPL-X model file.

Joint positions of SMPL-X depend only on the shaped template's joints (``J_regressor`` applied
to ``v_template + shapedirs @ betas``; pose blend shapes move vertices, not joints) and the
kinematic tree, so forward kinematics over 55 joints needs no mesh skinning. The model file
itself (``SMPLX_NEUTRAL.npz`` from smpl-x.is.tue.mpg.de) is licensed and never shipped with
Dyad: the user passes its path.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dyad.errors import MotionFileError

SMPLX_POSE_JOINTS = 55
"""Joints SMPL-X poses: root, 21 body, jaw, left eye, right eye, 15 left hand, 15 right hand."""
_MODEL_KEYS = ("v_template", "shapedirs", "J_regressor", "kintree_table")


@dataclass(frozen=True)
class SmplxJointModel:
    """The parts of an SMPL-X model that place its joints.

    Attributes:
        template_joints_m: (55, 3) joints of the mean shape, metres, in the model's frame.
        shape_joint_dirs: (55, 3, B) joint displacement per unit of each shape coefficient.
        parents: (55,) parent index of each joint, -1 for the root; parents precede children.
        source: the model file, for messages.
    """

    template_joints_m: np.ndarray
    shape_joint_dirs: np.ndarray
    parents: np.ndarray
    source: str

    def rest_joints(self, betas: npt.ArrayLike | None = None) -> np.ndarray:
        """(55, 3) rest joints for shape ``betas`` (extra coefficients beyond the model's are
        ignored, missing ones are zero)."""
        joints = self.template_joints_m.copy()
        if betas is not None:
            b = np.asarray(betas, dtype=np.float64).reshape(-1)
            n = min(len(b), self.shape_joint_dirs.shape[-1])
            joints += self.shape_joint_dirs[..., :n] @ b[:n]
        return joints


def load_smplx_joint_model(path: str | Path) -> SmplxJointModel:
    """Read the joint-placing parts of an SMPL-X ``.npz`` model file (no pickles).

    Raises:
        MotionFileError: the file is missing, unreadable, lacks a key or has wrong shapes.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise MotionFileError(path, "SMPL-X model must be the .npz release (SMPLX_NEUTRAL.npz); "
                                    ".pkl models need chumpy and are not read")
    if not path.is_file():
        raise MotionFileError(path, "no such SMPL-X model file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _MODEL_KEYS if k not in npz.files]
            if missing:
                raise MotionFileError(path, f"not an SMPL-X model: missing {', '.join(missing)}")
            arrays = {k: np.asarray(npz[k], dtype=np.float64) for k in _MODEL_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionFileError(path, f"not a readable SMPL-X .npz ({type(exc).__name__}: "
                                    f"{exc})") from None
    v_template, shapedirs = arrays["v_template"], arrays["shapedirs"]
    regressor, kintree = arrays["J_regressor"], arrays["kintree_table"]
    vertices = v_template.shape[0]
    if (v_template.shape != (vertices, 3) or shapedirs.shape[:2] != (vertices, 3)
            or shapedirs.ndim != 3 or regressor.shape[1:] != (vertices,)
            or regressor.shape[0] < SMPLX_POSE_JOINTS or kintree.shape[0] != 2):
        raise MotionFileError(path, f"inconsistent SMPL-X model shapes: v_template "
                                    f"{v_template.shape}, shapedirs {shapedirs.shape}, "
                                    f"J_regressor {regressor.shape}, kintree_table {kintree.shape}")
    regressor = regressor[:SMPLX_POSE_JOINTS]
    parents = kintree[0, :SMPLX_POSE_JOINTS].astype(np.int64)
    parents[0] = -1  # the root's parent is stored as 2**32 - 1
    if np.any(parents[1:] >= np.arange(1, SMPLX_POSE_JOINTS)) or np.any(parents[1:] < 0):
        raise MotionFileError(path, "kintree_table does not list parents before children")
    return SmplxJointModel(
        template_joints_m=regressor @ v_template,
        shape_joint_dirs=np.einsum("jv,vcb->jcb", regressor, shapedirs),
        parents=parents, source=str(path),
    )


def rotvec_to_matrix(rotvecs: npt.ArrayLike) -> np.ndarray:
    """Axis-angle vectors (..., 3) to rotation matrices (..., 3, 3) (Rodrigues)."""
    rv = np.asarray(rotvecs, dtype=np.float64)
    angle = np.linalg.norm(rv, axis=-1, keepdims=True)
    axis = rv / np.where(angle < 1e-12, 1.0, angle)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(rv.shape + (3,))
    s = np.sin(angle)[..., None]
    c = np.cos(angle)[..., None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def smplx_joint_positions(model: SmplxJointModel, rotvecs: npt.ArrayLike,
                          translation_m: npt.ArrayLike, betas: npt.ArrayLike | None = None
                          ) -> np.ndarray:
    """Posed SMPL-X joints (T, 55, 3) in metres, as the body model's ``Jtr`` plus ``transl``.

    Args:
        model: from :func:`load_smplx_joint_model`.
        rotvecs: (T, 55, 3) axis-angle rotations of every joint relative to its parent (root
            orientation first), hand poses as stored (no hand mean added).
        translation_m: (T, 3) root translation.
        betas: shape coefficients, or None for the mean shape.
    """
    rot = rotvec_to_matrix(rotvecs)
    if rot.ndim != 4 or rot.shape[1] != SMPLX_POSE_JOINTS:
        raise ValueError(f"rotvecs: expected (T, {SMPLX_POSE_JOINTS}, 3), got "
                         f"{np.shape(rotvecs)}")
    rest = model.rest_joints(betas)
    frames = rot.shape[0]
    world_rot = np.empty_like(rot)
    world_pos = np.empty((frames, SMPLX_POSE_JOINTS, 3))
    for j, parent in enumerate(model.parents):
        if parent < 0:
            world_rot[:, j] = rot[:, j]
            world_pos[:, j] = rest[j]
        else:
            world_rot[:, j] = world_rot[:, parent] @ rot[:, j]
            world_pos[:, j] = world_pos[:, parent] + world_rot[:, parent] @ (rest[j] - rest[parent])
    return world_pos + np.asarray(translation_m, dtype=np.float64).reshape(frames, 1, 3)
