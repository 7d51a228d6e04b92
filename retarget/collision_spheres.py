"""Sphere models of a robot's links, and the clearance terms the IK keeps between them.

Every collision geom of the model (``contype`` or ``conaffinity`` set, the geoms the MuJoCo sim
gate collides) is covered by spheres fitted to its bounding box in the geom's own frame: a
chain along the long axis when the cross-section is roundish (fingers, limbs), a grid over the
two long axes when the box is flat (palms). Corners of boxes stay outside the spheres; the
clearance margin absorbs that. Only the collision geoms are compiled (in a small model of their
own), so a humanoid's visual meshes cost nothing.

:class:`SphereClearance` keeps chosen groups of spheres (left hand, right forearm, trunk, ...)
apart: for every candidate pair closer than ``margin_m`` (surface to surface) it yields a
residual ``margin - distance`` and its Jacobian row from Pinocchio's frame Jacobians. Pairs
already closer than the margin in the rest pose (neighbouring links) are left out, as the sim
gate exempts them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .model_loading import compile_spec, copy_mesh_once, geom_quat
from .robot_model import RobotModel

_CACHE: dict[tuple[str, int], tuple[dict, dict]] = {}
_LOCK = threading.Lock()
# Spheres along an axis are this many radii apart: their surfaces overlap, so the axis and a
# band around it are covered without gaps.
_SPACING_RADII = 1.2
# A cross-section whose second half-size is at most this many times the smallest is covered by
# one chain of spheres of the second half-size; flatter boxes get a grid of the smallest.
_ROUND_RATIO = 1.6
# A group bounded by one sphere on one frame must fit in this radius (a hand does, a trunk
# whose legs swing does not and gets one bound per body).
_MAX_ANCHOR_RADIUS_M = 0.3
# A sphere in a mesh's box whose centre is less deep inside the mesh's hull than this fraction
# of its radius covers mostly empty space and is dropped.
_MIN_INSCRIBED_FRACTION = 0.4
# How much a "covering" sphere may exceed the inside one: enough for the edges of limb-sized
# boxes (a 4 cm square section needs 1.7 cm), not so much that a torso block grows by 6 cm.
_MAX_COVER_GROWTH_M = 0.01
# A thick box (GR1's 18 cm waist cube) gets a grid of spheres of at most this radius, up to
# _MAX_BOX_SPHERES of them: one 9 cm sphere, grown by the 1 cm cover cap, left its edges 2.7 cm
# and its corners 5.6 cm out, and thumbs went 1.5-3 cm into it where the solver saw clearance
# (a 3x3x3 grid: 1.1 and 2.7 cm, faces unchanged; those thumbs 0.3-1.1 cm).
_MAX_BOX_SPHERE_RADIUS_M = 0.05
_MAX_BOX_SPHERES = 27
# Sphere pairs closer than the margin plus this at rest count as quiet (see ``near_gap``).
_QUIET_AT_REST_M = 0.01


def fit_box_spheres(center_m: np.ndarray, half_sizes_m: np.ndarray, max_spheres: int = 12,
                    max_radius_m: float | None = None) -> tuple[np.ndarray, float, np.ndarray]:
    """Spheres for a box: (n, 3) centres in the box's frame, the radius of spheres that stay
    inside the box, and (n,) radii of spheres that cover each centre's share of it.

    The inside spheres leave the box's edges and corners out (a square section loses 1.7 cm
    of a 4 cm half-size at its edges); the covering ones stick out of its faces instead.

    Args:
        center_m: (3,) box centre.
        half_sizes_m: (3,) half sizes along the box axes.
        max_spheres: at most this many; the radius grows (up to the middle half-size) until
            they suffice.
        max_radius_m: no sphere larger than this (a grid instead of one big sphere, whose
            covering radius would leave a thick box's edges and corners far out).
    """
    h = np.asarray(half_sizes_m, dtype=float)
    order = np.argsort(h)  # smallest, middle, largest
    small, middle = max(h[order[0]], 1e-4), max(h[order[1]], 1e-4)
    radius = middle if middle <= _ROUND_RATIO * small else small
    largest = middle if max_radius_m is None else min(middle, max_radius_m)
    radius = min(radius, largest)
    while True:
        grids = []
        for axis in range(3):
            reach = max(h[axis] - radius, 0.0)
            n = 1 + int(np.ceil(2.0 * reach / (_SPACING_RADII * radius) - 1e-9)) if reach > 0 else 1
            grids.append(np.linspace(-reach, reach, n))
        count = int(np.prod([len(g) for g in grids]))
        if count <= max_spheres or radius >= largest:
            break
        radius = min(radius * 1.15, largest)
    mesh = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, 3)
    # Each centre's share: halfway to its neighbours along each axis, out to the box's faces.
    extent = np.empty_like(mesh)
    for axis, grid in enumerate(grids):
        half_step = (grid[1] - grid[0]) / 2.0 if len(grid) > 1 else 0.0
        c = mesh[:, axis]
        low = np.where(np.isclose(c, grid[0]), -h[axis], c - half_step)
        high = np.where(np.isclose(c, grid[-1]), h[axis], c + half_step)
        extent[:, axis] = np.maximum(c - low, high - c)
    covering = np.maximum(np.linalg.norm(extent, axis=1), radius)
    # Centres sit at least `radius` >= `small` inside every face: spheres of the smallest
    # half-size around them stay inside the box.
    return mesh + np.asarray(center_m, dtype=float), float(min(radius, small)), covering


def robot_link_spheres(robot: RobotModel
                       ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Body name -> ((n, 3) sphere centres in the body frame, (n,) inside radii, (n,)
    covering radii), for every body with collision geoms. Cached per robot (name and model
    text)."""
    return _link_shapes(robot)[0]


def robot_link_boxes(robot: RobotModel
                     ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Body name -> the body's box collision geoms: ((k, 3) centres and (k, 3, 3) rotations
    in the body frame, (k, 3) half sizes, and the (n,) index of the box each of the body's
    :func:`robot_link_spheres` spheres was fitted to, -1 for spheres of other geoms). Only
    bodies with box geoms are listed."""
    return _link_shapes(robot)[1]


def _link_shapes(robot: RobotModel) -> tuple[dict, dict]:
    key = (robot.name, hash(robot.model_xml))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            hit = _CACHE[key] = _fit_link_shapes(robot.model_xml, robot.name)
        return hit


def _fit_link_shapes(model_xml: str, source: str) -> tuple[dict, dict]:
    import mujoco

    spec = mujoco.MjSpec.from_string(model_xml)
    mini = mujoco.MjSpec()
    added: set[str] = set()
    owners: list[str] = []
    for body in spec.bodies:
        geoms = [g for g in body.geoms if g.contype or g.conaffinity]
        if not geoms or body.name == "world":
            continue
        target = mini.worldbody.add_body(name=body.name)
        for geom in geoms:
            kwargs = dict(type=geom.type, size=list(geom.size), pos=list(geom.pos),
                          quat=list(geom_quat(spec, geom)))
            if not np.isnan(geom.fromto[0]):
                kwargs["fromto"] = list(geom.fromto)
            if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
                kwargs["meshname"] = copy_mesh_once(spec, geom.meshname, mini, added)
            target.add_geom(**kwargs)
            owners.append(body.name)
    if not owners:
        return {}, {}
    model = compile_spec(mini, source)
    out: dict[str, list] = {}
    boxes: dict[str, list] = {}
    for g in range(model.ngeom):
        body = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(model.geom_bodyid[g]))
        box = model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX
        centres, radius, covering = fit_box_spheres(
            model.geom_aabb[g, :3], model.geom_aabb[g, 3:],
            max_spheres=_MAX_BOX_SPHERES if box else 12,
            max_radius_m=_MAX_BOX_SPHERE_RADIUS_M if box else None)
        radii = np.full(len(centres), radius)
        mesh = int(model.geom_dataid[g])
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and mesh >= 0:
            # A mesh rarely fills its box: shrink each sphere to fit inside the convex hull
            # (what MuJoCo collides), and drop those whose centre is outside or barely in;
            # covering radii reach the farthest vertex nearer to their centre than to others.
            depth = _hull_depth(model, mesh, centres)
            keep = depth >= _MIN_INSCRIBED_FRACTION * radius
            if keep.any():
                centres, radii = centres[keep], np.minimum(radii[keep], depth[keep])
            covering = _vertex_cover(model, mesh, centres, radii)
        rot = np.empty(9)
        mujoco.mju_quat2Mat(rot, model.geom_quat[g])
        rot = rot.reshape(3, 3)
        centres = model.geom_pos[g] + centres @ rot.T
        entry = out.setdefault(body, [[], [], [], []])
        entry[0].append(centres)
        entry[1].append(radii)
        entry[2].append(covering)
        which = -1
        if box:  # a box geom's own frame: its aabb is the box itself
            frames = boxes.setdefault(body, [])
            which = len(frames)
            frames.append((model.geom_pos[g] + rot @ model.geom_aabb[g, :3], rot,
                           model.geom_aabb[g, 3:].copy()))
        entry[3].append(np.full(len(centres), which))
    spheres = {b: (np.concatenate(c), np.concatenate(r), np.concatenate(v))
               for b, (c, r, v, _) in out.items()}
    box_table = {b: (np.array([f[0] for f in frames]), np.array([f[1] for f in frames]),
                     np.array([f[2] for f in frames]), np.concatenate(out[b][3]))
                 for b, frames in boxes.items()}
    return spheres, box_table


def _vertex_cover(model, mesh: int, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Per centre, the distance to the farthest mesh vertex closer to it than to any other
    centre (at least its inside radius): spheres that together cover every vertex."""
    verts = model.mesh_vert[model.mesh_vertadr[mesh]:model.mesh_vertadr[mesh]
                            + model.mesh_vertnum[mesh]]
    d = np.linalg.norm(verts[:, None, :] - centres[None, :, :], axis=-1)
    nearest = d.argmin(axis=1)
    out = radii.copy()
    np.maximum.at(out, nearest, d[np.arange(len(verts)), nearest])
    return out


def _hull_depth(model, mesh: int, points: np.ndarray) -> np.ndarray:
    """Depth of points (mesh frame) inside a mesh's convex hull: the distance to the nearest
    hull face, negative outside. Uses the hull MuJoCo computed (``mesh_graph``)."""
    verts = model.mesh_vert[model.mesh_vertadr[mesh]:model.mesh_vertadr[mesh]
                            + model.mesh_vertnum[mesh]]
    adr = model.mesh_graphadr[mesh]
    if adr < 0:  # no hull stored: fall back to the vertices' bounding box
        lo, hi = verts.min(axis=0), verts.max(axis=0)
        return np.minimum(points - lo, hi - points).min(axis=1)
    graph = model.mesh_graph
    numvert, numface = int(graph[adr]), int(graph[adr + 1])
    start = adr + 2 + 2 * numvert + numvert + 3 * numface
    faces = graph[start:start + 3 * numface].reshape(numface, 3)
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    normals = np.cross(b - a, c - a)
    area = np.linalg.norm(normals, axis=1)
    # Sliver faces (three almost collinear vertices) have no reliable normal.
    extent = float(np.ptp(verts, axis=0).max())
    good = area > 1e-6 * extent * extent
    normals, a = normals[good] / area[good, None], a[good]
    # Orient every normal away from the hull's centre.
    flip = ((a - verts.mean(axis=0)) * normals).sum(axis=1) < 0
    normals[flip] *= -1.0
    offsets = (normals * a).sum(axis=1)
    return (offsets[None, :] - points @ normals.T).min(axis=1)


@dataclass(frozen=True)
class SphereSet:
    """Spheres fixed to Pinocchio frames; some entries may be exact boxes instead.

    Attributes:
        frame_ids: (S,) frame of each sphere.
        centers_local_m: (S, 3) centres in those frames.
        radii_m: (S,) radii (0 for a box).
        group: (S,) group index of each sphere.
        group_names: name of each group.
        half_extents_m: (S, 3) half sizes of box entries along their axes, zero for spheres
            (None: all spheres).
        rotations_local: (S, 3, 3) box axes in the frame (None: identities).
    """

    frame_ids: np.ndarray
    centers_local_m: np.ndarray
    radii_m: np.ndarray
    group: np.ndarray
    group_names: tuple[str, ...]
    half_extents_m: np.ndarray | None = None
    rotations_local: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.radii_m)
        if self.half_extents_m is None:
            object.__setattr__(self, "half_extents_m", np.zeros((n, 3)))
        if self.rotations_local is None:
            object.__setattr__(self, "rotations_local", np.tile(np.eye(3), (n, 1, 1)))

    @property
    def is_box(self) -> np.ndarray:
        """(S,) which entries are boxes."""
        return (self.half_extents_m > 0.0).any(axis=1)

    @property
    def bound_radii_m(self) -> np.ndarray:
        """(S,) radius of a sphere around each entry's centre that holds it."""
        return self.radii_m + np.linalg.norm(self.half_extents_m, axis=1)


class Obstacles(NamedTuple):
    """World shapes that do not move during a solve (a partner robot where it stands).

    ``centres`` (P, 3) and ``radii`` (P,) of spheres; ``touchable`` (P,) flags of shapes the
    hands may touch; ``rotations`` (P, 3, 3) and ``half_extents`` (P, 3) make entries with a
    nonzero half size exact boxes (rotations: box axes in the world)."""

    centres: np.ndarray
    radii: np.ndarray
    touchable: np.ndarray | None = None
    rotations: np.ndarray | None = None
    half_extents: np.ndarray | None = None

    def subset(self, rows: np.ndarray) -> "Obstacles":
        return Obstacles(*(None if a is None else np.asarray(a)[rows] for a in self))


def box_distance(points: np.ndarray, centres: np.ndarray, rotations: np.ndarray,
                 half_extents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signed distances from points to boxes (negative inside), row by row.

    Args:
        points: (k, 3) world points.
        centres, rotations, half_extents: (k, 3), (k, 3, 3) (box axes as columns), (k, 3).

    Returns:
        (k,) signed distances, (k, 3) unit directions from the box toward the point (the
        nearest face's normal for a point inside) and (k, 3) the nearest points on the boxes'
        surfaces.
    """
    local = np.einsum("kji,kj->ki", rotations, points - centres)
    clamped = np.clip(local, -half_extents, half_extents)
    out = local - clamped
    dist = np.sqrt((out * out).sum(axis=1))
    normal_local = out / np.maximum(dist, 1e-12)[:, None]
    surface = clamped.copy()
    inside = dist <= 1e-12
    if inside.any():
        depth = half_extents[inside] - np.abs(local[inside])
        axis = depth.argmin(axis=1)
        rows = np.flatnonzero(inside)
        sign = np.where(local[rows, axis] >= 0.0, 1.0, -1.0)
        dist[rows] = -depth[np.arange(len(rows)), axis]
        normal_local[rows] = 0.0
        normal_local[rows, axis] = sign
        surface[rows, axis] = sign * half_extents[rows, axis]
    normal = np.einsum("kij,kj->ki", rotations, normal_local)
    nearest = centres + np.einsum("kij,kj->ki", rotations, surface)
    return dist, normal, nearest


def sphere_set(robot: RobotModel, groups: dict[str, list[str]],
               covering: tuple[str, ...] = (), full_cover: tuple[str, ...] = (),
               exact_boxes: tuple[str, ...] = ()) -> SphereSet:
    """The spheres of the bodies of each group (bodies without collision geoms add none).

    Args:
        robot: a registry robot (its Pinocchio model names frames like the MJCF bodies).
        groups: group name -> body names.
        covering: groups whose spheres grow toward covering their geoms' edges and corners
            (by at most 1 cm: conservative for limbs) instead of staying inside them (no
            false contact; what touching parts such as hands need).
        full_cover: groups whose spheres take their full covering radius (every vertex of
            the geom's mesh inside one): parts nothing should touch whose meshes the inside
            spheres under-cover by centimetres (GR1's thighs: a 4 cm chain inside a 6-7 cm
            thick shell), at the cost of keeping others up to that much farther off.
        exact_boxes: groups whose box geoms are kept as exact boxes instead of their grid of
            spheres (parts nothing should touch: a grid either leaves a box's edges and
            corners out or stands off its faces; GR1's trunk is made of boxes).
    """
    spheres = robot_link_spheres(robot)
    boxes = robot_link_boxes(robot) if exact_boxes else {}
    model = robot.pin_model
    fids, centres, radii, group, halves, rots = [], [], [], [], [], []
    for gi, (name, bodies) in enumerate(groups.items()):
        for body in bodies:
            if body not in spheres or not model.existFrame(body):
                continue
            c, r_in, r_cover = spheres[body]
            if name in exact_boxes and body in boxes:
                box_c, box_r, box_h, box_of = boxes[body]
                keep = box_of < 0
                c, r_in, r_cover = c[keep], r_in[keep], r_cover[keep]
                fids += [model.getFrameId(body)] * len(box_c)
                centres.append(box_c)
                radii.append(np.zeros(len(box_c)))
                group += [gi] * len(box_c)
                halves.append(box_h)
                rots.append(box_r)
            halves.append(np.zeros((len(r_in), 3)))
            rots.append(np.tile(np.eye(3), (len(r_in), 1, 1)))
            fids += [model.getFrameId(body)] * len(r_in)
            centres.append(c)
            # A covering sphere of a big cube would stick out of its faces by centimetres:
            # grow inside spheres by at most _MAX_COVER_GROWTH_M toward covering.
            if name in full_cover:
                radii.append(np.maximum(r_cover, r_in))
            elif name in covering:
                radii.append(np.minimum(r_cover, r_in + _MAX_COVER_GROWTH_M))
            else:
                radii.append(r_in)
            group += [gi] * len(r_in)
    return SphereSet(np.array(fids, dtype=int),
                     np.concatenate(centres) if centres else np.zeros((0, 3)),
                     np.concatenate(radii) if radii else np.zeros(0),
                     np.array(group, dtype=int), tuple(groups),
                     np.concatenate(halves) if halves else np.zeros((0, 3)),
                     np.concatenate(rots) if rots else np.zeros((0, 3, 3)))


class SphereClearance:
    """Keeps pairs of sphere groups of one robot ``margin_m`` apart (and away from obstacles).

    A broad phase runs first: each group is bounded by spheres on a few anchor frames (one for
    a hand, measured over its finger motion; one per body for a group that is not one compact
    subtree, such as a trunk with legs), and only the sphere pairs of anchors closer than
    ``activation_m`` are measured, so far-apart parts cost a handful of frame look-ups.

    Args:
        pin_model: the robot's Pinocchio model.
        spheres: the robot's spheres, grouped.
        pairs: group-name pairs to keep apart.
        margin_m: smallest surface-to-surface distance kept.
        rest_q: a configuration in which the pairs are apart by design; sphere pairs that
            overlap there (touching neighbours) are left out, and pairs closer than the margin
            keep their rest gap instead.
        columns: velocity columns of the solver's unknowns (Jacobian rows keep these).
        obstacle_groups: groups kept away from obstacle spheres given per solve.
        touch_groups: groups among ``obstacle_groups`` that ignore the obstacle spheres flagged
            touchable (a hand may grip the partner's forearm that the arm itself avoids).
        activation_m: anchor bounds farther apart than this skip the narrow phase.
        quiet_pairs: group pairs (among ``pairs``) that always sit close, such as a palm and its
            own forearm: they are kept apart like the others but left out of ``near_gap``, as
            are sphere pairs within 1 cm of the margin at rest.
        pair_margins: (group, group) -> a larger margin for that pair than ``margin_m``
            (parts whose spheres under-cover their meshes where they meet).
    """

    def __init__(self, pin_model, spheres: SphereSet, pairs: list[tuple[str, str]],
                 margin_m: float, rest_q: np.ndarray, columns: np.ndarray,
                 obstacle_groups: tuple[str, ...] = (), activation_m: float = 0.04,
                 quiet_pairs: tuple[tuple[str, str], ...] = (),
                 touch_groups: tuple[str, ...] = (),
                 pair_margins: dict[tuple[str, str], float] | None = None):
        import pinocchio as pin

        self._pin = pin
        self.model = pin_model
        self.data = pin_model.createData()
        self.spheres = spheres
        self._bound_radii = spheres.bound_radii_m
        self._is_box = spheres.is_box
        self.margin_m = float(margin_m)
        self.activation_m = float(activation_m)
        names = list(spheres.group_names)
        self._group_spheres = [np.flatnonzero(spheres.group == g) for g in range(len(names))]
        self._frames = sorted({int(f) for f in spheres.frame_ids})
        self._frame_row = {f: k for k, f in enumerate(self._frames)}
        self._frame_spheres = {f: np.flatnonzero(spheres.frame_ids == f) for f in self._frames}
        self._all_rows = np.concatenate([self._frame_spheres[f] for f in self._frames]) \
            if self._frames else np.zeros(0, dtype=int)
        self._all_which = np.repeat(np.arange(len(self._frames)),
                                    [len(self._frame_spheres[f]) for f in self._frames])
        self._sphere_frame = np.array([self._frame_row[int(f)] for f in spheres.frame_ids],
                                      dtype=int)
        # Column masks: a point moves with the joints above its frame only.
        columns = np.asarray(columns, dtype=int)
        self._masks = np.array([support_mask(pin_model, f, columns) for f in self._frames],
                               dtype=float).reshape(len(self._frames), len(columns))
        self._pin.framesForwardKinematics(pin_model, self.data, rest_q)
        rest_centres = self.world_centers(self.data)

        # Anchors: bounding spheres of parts of groups, and the sphere rows each covers.
        anchors = [self._group_anchors(g, rest_q) for g in range(len(names))]
        flat = [a for group in anchors for a in group]
        self._anchor_frame = [a[0] for a in flat]
        self._anchor_local = np.array([a[1] for a in flat]).reshape(-1, 3)
        self._anchor_radius = np.array([a[2] for a in flat])
        self._anchor_members = [a[3] for a in flat]
        self._anchor_frames = [sorted({int(f) for f in spheres.frame_ids[a[3]]}) for a in flat]
        starts = np.cumsum([0] + [len(group) for group in anchors])
        group_anchors = [range(int(starts[g]), int(starts[g + 1])) for g in range(len(names))]

        # Sphere pairs in blocks by anchor pair, without those touching at rest.
        self.excluded_pairs = 0
        """Sphere pairs left out because they are closer than the margin at rest."""
        blocks = []
        quiet = {tuple(p) for p in quiet_pairs}
        pair_margins = pair_margins or {}
        for a, b in pairs:
            loud = (a, b) not in quiet and (b, a) not in quiet
            margin = float(pair_margins.get((a, b), pair_margins.get((b, a), self.margin_m)))
            for ka in group_anchors[names.index(a)]:
                for kb in group_anchors[names.index(b)]:
                    ia, ib = np.meshgrid(self._anchor_members[ka], self._anchor_members[kb],
                                         indexing="ij")
                    ia, ib = ia.ravel(), ib.ravel()
                    rest_gap = self._pair_geometry(self.data, rest_centres, ia, ib)[0]
                    # Apart at rest: kept, at the margin or at their rest gap if closer.
                    keep = rest_gap > 0.0
                    self.excluded_pairs += int((~keep).sum())
                    if keep.any():
                        # Pairs that sit near each other at rest (a hanging hand by its
                        # thigh) are quiet too: near them is the robot's normal stance.
                        loud_pairs = loud & (rest_gap[keep] >= margin + _QUIET_AT_REST_M)
                        blocks.append((ka, kb, ia[keep], ib[keep],
                                       np.minimum(margin, rest_gap[keep]), loud_pairs))
        self._blocks = blocks
        self._block_a = np.array([blk[0] for blk in blocks], dtype=int)
        self._block_b = np.array([blk[1] for blk in blocks], dtype=int)
        boxed = [g for g in obstacle_groups if self._is_box[self._group_spheres[names.index(g)]]
                 .any()]
        if boxed:
            raise ValueError(f"obstacle groups are measured as spheres; {boxed} hold exact boxes")
        self._obstacle_anchors = np.array(
            [k for g in obstacle_groups for k in group_anchors[names.index(g)]], dtype=int)
        self._obstacle_touches = np.array(
            [g in touch_groups for g in obstacle_groups for _ in group_anchors[names.index(g)]],
            dtype=bool)

    @property
    def num_pairs(self) -> int:
        """Sphere pairs watched (rest contacts excluded)."""
        return int(sum(len(blk[2]) for blk in self._blocks))

    # --------------------------------------------------------------------------------------
    # Broad phase

    def _group_anchors(self, group: int, rest_q: np.ndarray) -> list[tuple]:
        """Bounding spheres (frame, centre in that frame, radius, sphere rows) of a group's
        spheres for any motion of the joints inside the group."""
        model = self.model
        idx = self._group_spheres[group]
        if len(idx) == 0:
            return []
        frames = sorted({int(f) for f in self.spheres.frame_ids[idx]})
        top = min(frames, key=lambda f: _depth(model, f))
        if all(_is_below(model, f, top) for f in frames):
            single = self._anchor_bounds([(top, idx)], rest_q)
            if single[0][2] <= _MAX_ANCHOR_RADIUS_M:
                return single
        # Not one compact subtree (a trunk with swinging legs): one bound per body.
        return self._anchor_bounds([(f, idx[self.spheres.frame_ids[idx] == f]) for f in frames],
                                   rest_q)

    def _anchor_bounds(self, groups, rest_q) -> list[tuple]:
        pin, model = self._pin, self.model
        rng = np.random.default_rng(0)
        lo = np.where(np.isfinite(model.lowerPositionLimit), model.lowerPositionLimit, -np.pi)
        hi = np.where(np.isfinite(model.upperPositionLimit), model.upperPositionLimit, np.pi)
        free = model.nq - model.nv  # a free flyer's position stays at rest
        data = model.createData()
        out = []
        for anchor, members in groups:
            member_frames = sorted({int(f) for f in self.spheres.frame_ids[members]})
            samples = [rest_q]
            for _ in range(16):
                q = rest_q.copy()
                start = 7 if free else 0
                q[start:] = rng.uniform(lo[start:], hi[start:])
                samples.append(q)
            local = []
            for q in samples:
                pin.framesForwardKinematics(model, data, q)
                m = data.oMf[anchor]
                c = self.world_centers(data, member_frames)[members]
                local.append((c - m.translation) @ m.rotation)
            local = np.stack(local)  # (samples, members, 3)
            centre = local[0].mean(axis=0)
            radius = float((np.linalg.norm(local - centre, axis=-1)
                            + self._bound_radii[members]).max())
            out.append((anchor, centre, radius + 0.01, members))
        return out

    def _bound_centres(self, placements) -> np.ndarray:
        """(A, 3) world centres of every anchor's bounding sphere."""
        rot = np.empty((len(self._anchor_frame), 3, 3))
        pos = np.empty((len(self._anchor_frame), 3))
        for k, fid in enumerate(self._anchor_frame):
            m = placements[fid]
            rot[k] = m.rotation
            pos[k] = m.translation
        return pos + np.einsum("kij,kj->ki", rot, self._anchor_local)

    def _candidates(self, data, obstacles, reuse: bool = False):
        """Sphere-pair blocks and (anchor, obstacle rows) whose bounds are near, the world
        centres of the spheres involved, and a lower bound of the gaps the broad phase
        skipped. ``reuse`` keeps the previous call's broad phase (same frame, a small step
        later: the activation distance covers the motion) and only refreshes the centres."""
        if reuse and getattr(self, "_last_broad", None) is not None:
            pairs, obstacle_blocks, frames, skipped = self._last_broad
            centres = self.world_centers(data, frames) if frames else None
            return pairs, obstacle_blocks, centres, skipped
        bc = self._bound_centres(data.oMf)
        skipped = float("inf")
        pairs, anchors = [], set()
        if len(self._blocks):
            d = bc[self._block_a] - bc[self._block_b]
            gaps = np.sqrt((d * d).sum(-1)) - self._anchor_radius[self._block_a] \
                - self._anchor_radius[self._block_b]
            near = gaps <= self.activation_m
            if (~near).any():
                skipped = float(gaps[~near].min())
            for k in np.flatnonzero(near):
                ka, kb, ia, ib, margins, loud = self._blocks[k]
                pairs.append((ia, ib, margins, loud))
                anchors.update((ka, kb))
        obstacle_blocks = []
        if obstacles is not None and len(obstacles.radii) and len(self._obstacle_anchors):
            rows = self._obstacle_anchors
            d = bc[rows][:, None, :] - obstacles.centres[None, :, :]
            og = np.sqrt((d * d).sum(-1)) - self._anchor_radius[rows][:, None] \
                - _obstacle_bounds(obstacles)[None, :]
            if obstacles.touchable is not None and self._obstacle_touches.any():
                touchable = np.asarray(obstacles.touchable, dtype=bool)
                og[np.ix_(self._obstacle_touches, touchable)] = np.inf
            for i, ka in enumerate(rows):
                close = np.flatnonzero(og[i] <= self.activation_m)
                if len(close) == 0:
                    skipped = min(skipped, float(og[i].min()))
                    continue
                obstacle_blocks.append((self._anchor_members[ka], close))
                anchors.add(int(ka))
        frames = sorted({f for k in anchors for f in self._anchor_frames[k]})
        self._last_broad = (pairs, obstacle_blocks, frames, skipped)
        centres = self.world_centers(data, frames) if frames else None
        return pairs, obstacle_blocks, centres, skipped

    # --------------------------------------------------------------------------------------
    # Narrow phase

    def world_centers(self, data, frames: list[int] | None = None) -> np.ndarray:
        """(S, 3) sphere centres in the world for ``data``'s frame placements (only the rows
        of spheres on ``frames`` are filled when given; the others are NaN)."""
        frames = self._frames if frames is None else frames
        placements = data.oMf
        rot = np.empty((len(frames), 3, 3))
        pos = np.empty((len(frames), 3))
        for k, fid in enumerate(frames):
            m = placements[fid]
            rot[k] = m.rotation
            pos[k] = m.translation
        if frames is self._frames:
            idx, which = self._all_rows, self._all_which
        else:
            rows = [self._frame_spheres[f] for f in frames]
            idx = np.concatenate(rows)
            which = np.repeat(np.arange(len(frames)), [len(r) for r in rows])
        out = np.full((len(self.spheres.radii_m), 3), np.nan)
        out[idx] = pos[which] + np.einsum("sij,sj->si", rot[which],
                                          self.spheres.centers_local_m[idx])
        return out

    def _pair_geometry(self, data, centres: np.ndarray, i: np.ndarray, j: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Surface gaps of entry pairs (i, j), unit directions from j toward i, and the points
        of i and j that move apart along them (sphere centres; a box's nearest surface point).
        Two boxes are compared as their bounding spheres (no group pair needs it)."""
        ci, cj = centres[i], centres[j]
        d = ci - cj
        dist = np.sqrt((d * d).sum(axis=1))
        r = self.spheres.radii_m
        gaps = dist - r[i] - r[j]
        u = d / np.maximum(dist, 1e-9)[:, None]
        pi, pj = ci, cj
        box_i, box_j = self._is_box[i], self._is_box[j]
        if (box_i | box_j).any():
            pi, pj = ci.copy(), cj.copy()
            both = box_i & box_j
            gaps[both] = dist[both] - self._bound_radii[i[both]] - self._bound_radii[j[both]]
            for rows, sphere, box, sign in ((np.flatnonzero(box_j & ~box_i), i, j, 1.0),
                                            (np.flatnonzero(box_i & ~box_j), j, i, -1.0)):
                if len(rows) == 0:
                    continue
                sd, normal, nearest = box_distance(
                    centres[sphere[rows]], centres[box[rows]],
                    self._world_rotations(data, box[rows]),
                    self.spheres.half_extents_m[box[rows]])
                gaps[rows] = sd - r[sphere[rows]]
                u[rows] = sign * normal
                (pj if sign > 0 else pi)[rows] = nearest
        return gaps, u, pi, pj

    def _world_rotations(self, data, idx: np.ndarray) -> np.ndarray:
        """(k, 3, 3) world axes of entries ``idx``."""
        ids, which = np.unique(self.spheres.frame_ids[idx], return_inverse=True)
        frames = np.array([data.oMf[int(f)].rotation for f in ids])
        return frames[which] @ self.spheres.rotations_local[idx]

    def world_boxes(self, data, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, 3, 3) world axes and (k, 3) half sizes of entries ``idx`` (zero for spheres)."""
        return self._world_rotations(data, idx), self.spheres.half_extents_m[idx]

    def _obstacle_gaps(self, centres, members, obstacles: "Obstacles"
                       ) -> tuple[np.ndarray, np.ndarray]:
        """(m, p) gaps between sphere entries ``members`` (obstacle groups hold no boxes) and
        obstacles, and (m, p, 3) unit directions from each obstacle toward the member."""
        pts, radii = obstacles.centres, obstacles.radii
        c = centres[members]
        d = c[:, None, :] - pts[None, :, :]
        dist = np.sqrt((d * d).sum(axis=-1))
        gaps = dist - self.spheres.radii_m[members][:, None] - radii[None, :]
        u = d / np.maximum(dist, 1e-9)[..., None]
        if obstacles.half_extents is not None:
            boxes = np.flatnonzero((obstacles.half_extents > 0.0).any(axis=1))
            if len(boxes):
                m, b = len(members), len(boxes)
                sd, normal, _ = box_distance(
                    np.repeat(c, b, axis=0), np.tile(pts[boxes], (m, 1)),
                    np.tile(obstacles.rotations[boxes], (m, 1, 1)),
                    np.tile(obstacles.half_extents[boxes], (m, 1)))
                gaps[:, boxes] = (sd - np.tile(radii[boxes], m)).reshape(m, b) \
                    - self.spheres.radii_m[members][:, None]
                u[:, boxes] = normal.reshape(m, b, 3)
        return gaps, u

    def min_gap(self, data, obstacles: "Obstacles | None" = None) -> float:
        """Smallest surface-to-surface distance over the watched pairs (and obstacles), metres;
        for parts the broad phase skipped, the gap between their bounds (a lower bound)."""
        obstacles = _as_obstacles(obstacles)
        pairs, obstacle_blocks, centres, best = self._candidates(data, obstacles)
        for ia, ib, _, _ in pairs:
            best = min(best, float(self._pair_geometry(data, centres, ia, ib)[0].min()))
        for members, close in obstacle_blocks:
            og, _ = self._obstacle_gaps(centres, members, obstacles.subset(close))
            best = min(best, float(og.min()))
        return best

    def rows(self, data, jacobian: np.ndarray, weight: float,
             obstacles: "Obstacles | tuple | None" = None, reuse: bool = False
             ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Residuals and Jacobian rows of the sphere pairs closer than the margin.

        Args:
            data: Pinocchio data with frame placements and joint Jacobians of one
                configuration (``computeJointJacobians`` + ``updateFramePlacements``).
            jacobian: (6, n) ``data.J`` restricted to the solver's columns.
            weight: weight of the squared penetration.
            obstacles: world shapes that do not move (:class:`Obstacles`, or a tuple of its
                fields: (P, 3) centres, (P,) radii, optionally (P,) touchable flags, ignored
                by ``touch_groups``, and box axes and half sizes).
            reuse: keep the previous call's broad phase (later iterations of one frame).

        Returns:
            (K,) residuals ``sqrt(weight) * (margin - gap)``, their (K, n) Jacobian, the
            smallest gap seen and the smallest gap outside the quiet pairs (metres; lower
            bounds where the broad phase skipped a pair).
        """
        obstacles = _as_obstacles(obstacles)
        pairs, obstacle_blocks, centres, min_gap = self._candidates(data, obstacles, reuse)
        near_gap = min_gap
        n = jacobian.shape[1]
        a_list, b_list, normals, pens, a_points, b_points = [], [], [], [], [], []
        if pairs:
            ia = np.concatenate([p[0] for p in pairs])
            ib = np.concatenate([p[1] for p in pairs])
            margins = np.concatenate([p[2] for p in pairs])
            loud = np.concatenate([p[3] for p in pairs])
            gaps, u, pa, pb = self._pair_geometry(data, centres, ia, ib)
            min_gap = min(min_gap, float(gaps.min()))
            if loud.any():
                near_gap = min(near_gap, float(gaps[loud].min()))
            hit = gaps < margins
            if hit.any():
                a_list.append(ia[hit])
                b_list.append(ib[hit])
                normals.append(u[hit])
                a_points.append(pa[hit])
                b_points.append(pb[hit])
                pens.append(margins[hit] - gaps[hit])
        n_pairs = int(sum(len(x) for x in a_list))
        for members, close in obstacle_blocks:
            og, ou = self._obstacle_gaps(centres, members, obstacles.subset(close))
            min_gap = min(min_gap, float(og.min()))
            near_gap = min(near_gap, float(og.min()))
            ro, co = np.nonzero(og < self.margin_m)
            if len(ro):
                a_list.append(members[ro])
                normals.append(ou[ro, co])
                a_points.append(centres[members[ro]])
                pens.append(self.margin_m - og[ro, co])  # the obstacle side stays put
        if not pens:
            return np.zeros(0), np.zeros((0, n)), min_gap, near_gap
        a_idx = np.concatenate(a_list)
        u = np.concatenate(normals)
        pen = np.concatenate(pens)
        jd = self._normal_jacobian(jacobian, np.concatenate(a_points), a_idx, u)
        if n_pairs:
            jd[:n_pairs] -= self._normal_jacobian(jacobian, np.concatenate(b_points),
                                                  np.concatenate(b_list), u[:n_pairs])
        sw = np.sqrt(weight)
        return sw * pen, -sw * jd, min_gap, near_gap

    def _normal_jacobian(self, jacobian, points, idx, u) -> np.ndarray:
        """(k, n) Jacobian of ``u_k . p_k`` for points ``p_k`` fixed to entry ``idx_k``'s frame
        (their velocity along u)."""
        jv, jw = jacobian[:3], jacobian[3:]
        # d(u.c) = u.(v + w x c) = u.v + (c x u).w  per column, masked to the frame's support.
        c = points
        cu = np.stack([c[:, 1] * u[:, 2] - c[:, 2] * u[:, 1],
                       c[:, 2] * u[:, 0] - c[:, 0] * u[:, 2],
                       c[:, 0] * u[:, 1] - c[:, 1] * u[:, 0]], axis=1)
        rows = u @ jv + cu @ jw
        return rows * self._masks[self._sphere_frame[idx]]


def _as_obstacles(obstacles) -> "Obstacles | None":
    if obstacles is None or isinstance(obstacles, Obstacles):
        return obstacles
    return Obstacles(*obstacles)


def _obstacle_bounds(obstacles: Obstacles) -> np.ndarray:
    """(P,) radius of a sphere around each obstacle's centre that holds it."""
    if obstacles.half_extents is None:
        return obstacles.radii
    return obstacles.radii + np.linalg.norm(obstacles.half_extents, axis=1)


def support_mask(model, frame_id: int, columns: np.ndarray) -> np.ndarray:
    """Which of ``columns`` (velocity indices of a Pinocchio ``model``) move frame ``frame_id``:
    the joints on the frame's path to the root."""
    moving = np.zeros(model.nv, dtype=bool)
    j = model.frames[frame_id].parentJoint
    while j > 0:
        joint = model.joints[j]
        moving[joint.idx_v:joint.idx_v + joint.nv] = True
        j = model.parents[j]
    return moving[columns]


def _depth(model, frame_id: int) -> int:
    d, f = 0, frame_id
    while f != 0 and model.frames[f].parentFrame != f:
        f = model.frames[f].parentFrame
        d += 1
    return d


def _is_below(model, frame_id: int, ancestor: int) -> bool:
    f = frame_id
    while True:
        if f == ancestor:
            return True
        parent = model.frames[f].parentFrame
        if parent == f or f == 0:
            return False
        f = parent
