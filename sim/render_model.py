"""A render-only copy of a scene's model: visual geoms only, meshes simplified to the pixel.

Robot meshes come at CAD density (a GR1 torso alone has 174k triangles, a duet of GR1s with
Inspire hands 1.7M), far more than a 640x480 frame can show: a software OpenGL renderer
(Mesa llvmpipe, the headless default) then spends almost all of a frame transforming vertices.
The copy keeps what a viewer sees and drops the rest:

- a body that has visual geoms (non-colliding, in a group drawn by default) shows only those;
  its collision geoms (often the same mesh again, or coloured boxes) are hidden, so nothing is
  drawn twice;
- every drawn mesh is simplified by vertex clustering: vertices in one cube of a grid of pitch
  ``cell_m`` merge into their mean, and triangles that collapse or repeat are dropped. A cell
  the size of a pixel at the camera's distance keeps the silhouette within a pixel;
- pure black materials (some hand models ship them, e.g. Inspire's) are drawn in MuJoCo's
  default grey: black shows no shading, so fingers would merge into one silhouette.

The scene's own model is never modified (the gate may share it).
"""

from __future__ import annotations

import copy

import numpy as np

HIDDEN_GROUP = 5  # a geom group the default visual options do not draw
DRAWN_GROUPS = 3  # groups 0..2 are drawn by default (mjvOption.geomgroup)
BLACK_MAX = 0.05  # a material whose colour channels all stay below this counts as black
DEFAULT_GREY = np.array([0.5, 0.5, 0.5], dtype=np.float32)  # MuJoCo's default geom colour


def visual_geom_mask(model) -> np.ndarray:
    """(ngeom,) True for geoms a viewer should see: every visual geom (non-colliding, drawn
    group) and the colliding geoms of bodies that have no visual geom (e.g. the floor)."""
    colliding = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    drawn = model.geom_group < DRAWN_GROUPS
    visual = ~colliding & drawn
    body_has_visual = np.zeros(model.nbody, dtype=bool)
    body_has_visual[model.geom_bodyid[visual]] = True
    return drawn & (visual | ~body_has_visual[model.geom_bodyid])


def cluster_mesh(vertices: np.ndarray, faces: np.ndarray, cell_m: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simplify one mesh by vertex clustering on a grid (anchored at its bounding box corner).

    Args:
        vertices: (V, 3) vertex positions in the mesh frame, metres.
        faces: (F, 3) vertex indices of each triangle.
        cell_m: grid pitch in metres.

    Returns:
        (V, 3) vertices (each cluster's first vertex moved to the cluster mean, the others
        unchanged and unused), (K, 3) triangles on the cluster representatives, and (K,) the
        index of each kept triangle in ``faces`` (for its per-corner normals).
    """
    cells = np.floor((vertices - vertices.min(axis=0)) / cell_m).astype(np.int64)
    extent = cells.max(axis=0) + 1
    if np.prod(extent.astype(np.float64)) < 2.0 ** 62:  # one int64 key per cell: fast unique
        key = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]
        _, first, cluster = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, cluster = np.unique(cells, axis=0, return_index=True, return_inverse=True)
    cluster = cluster.reshape(-1)
    count = np.bincount(cluster).astype(np.float64)
    out = vertices.copy()
    for axis in range(3):
        out[first, axis] = np.bincount(cluster, weights=vertices[:, axis]) / count
    tri = first[cluster[faces]]
    alive = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
    kept = np.flatnonzero(alive)
    tri = tri[kept]
    # Triangles that repeat (same corners, same winding) draw the same pixels: keep one.
    turn = np.argmin(tri, axis=1)
    rows = np.arange(len(tri))
    canon = np.stack([tri[rows, (turn + k) % 3] for k in range(3)], axis=1).astype(np.int64)
    n = np.int64(len(vertices))
    if float(n) ** 3 < 2.0 ** 62:
        _, unique = np.unique((canon[:, 0] * n + canon[:, 1]) * n + canon[:, 2],
                              return_index=True)
    else:
        _, unique = np.unique(canon, axis=0, return_index=True)
    unique.sort()
    return out, tri[unique], kept[unique]


def render_model(model, cell_m: float):
    """A copy of ``model`` for drawing: visual geoms only, drawn meshes clustered to ``cell_m``,
    black materials grey (see the module doc).

    Args:
        model: the scene's compiled ``MjModel`` (left unchanged).
        cell_m: clustering grid pitch in metres (0 keeps the meshes as they are).

    Returns:
        The copy; geoms a viewer should not see are moved to group ``HIDDEN_GROUP``.
    """
    import mujoco

    out = copy.copy(model)  # MjModel copies are deep
    shown = visual_geom_mask(out)
    out.geom_group[~shown] = HIDDEN_GROUP
    if out.nmat:
        black = np.all(out.mat_rgba[:, :3] < BLACK_MAX, axis=1)
        out.mat_rgba[black, :3] = DEFAULT_GREY
    is_mesh = out.geom_type == mujoco.mjtGeom.mjGEOM_MESH
    drawn = {int(m) for m in out.geom_dataid[is_mesh & shown]}
    for mesh in range(out.nmesh):
        face_adr, face_num = int(out.mesh_faceadr[mesh]), int(out.mesh_facenum[mesh])
        if mesh not in drawn:
            # The render context uploads every mesh; one triangle is enough for an unseen one.
            out.mesh_facenum[mesh] = min(face_num, 1)
            continue
        if cell_m <= 0:
            continue
        vert_adr, vert_num = int(out.mesh_vertadr[mesh]), int(out.mesh_vertnum[mesh])
        vertices = out.mesh_vert[vert_adr:vert_adr + vert_num]
        faces = out.mesh_face[face_adr:face_adr + face_num]
        moved, tri, kept = cluster_mesh(vertices, faces, cell_m)
        if len(tri) == 0:
            continue  # a mesh smaller than a cell keeps its own triangles
        k = len(tri)
        out.mesh_vert[vert_adr:vert_adr + vert_num] = moved
        # Per-corner normals (and texture coordinates) follow their triangles.
        out.mesh_facenormal[face_adr:face_adr + k] = out.mesh_facenormal[face_adr + kept]
        if out.mesh_texcoordnum[mesh] > 0:
            out.mesh_facetexcoord[face_adr:face_adr + k] = out.mesh_facetexcoord[face_adr + kept]
        out.mesh_face[face_adr:face_adr + k] = tri
        out.mesh_facenum[mesh] = k
    return out
