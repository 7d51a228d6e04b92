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

import numpy as np

from .model_loading import compile_spec, copy_mesh_once, geom_quat
from .robot_model import RobotModel

_CACHE: dict[tuple[str, int], dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
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
    key = (robot.name, hash(robot.model_xml))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            hit = _CACHE[key] = _fit_link_spheres(robot.model_xml, robot.name)
        return hit


def _fit_link_spheres(model_xml: str, source: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
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
        return {}
    model = compile_spec(mini, source)
    out: dict[str, list] = {}
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
        centres = model.geom_pos[g] + centres @ rot.reshape(3, 3).T
        entry = out.setdefault(body, [[], [], []])
        entry[0].append(centres)
        entry[1].append(radii)
        entry[2].append(covering)
    return {b: (np.concatenate(c), np.concatenate(r), np.concatenate(v))
            for b, (c, r, v) in out.items()}


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
    """Spheres fixed to Pinocchio frames.

    Attributes:
        frame_ids: (S,) frame of each sphere.
        centers_local_m: (S, 3) centres in those frames.
        radii_m: (S,) radii.
        group: (S,) group index of each sphere.
        group_names: name of each group.
    """

    frame_ids: np.ndarray
    centers_local_m: np.ndarray
    radii_m: np.ndarray
    group: np.ndarray
    group_names: tuple[str, ...]


def sphere_set(robot: RobotModel, groups: dict[str, list[str]],
               covering: tuple[str, ...] = (), full_cover: tuple[str, ...] = ()) -> SphereSet:
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
    """
    spheres = robot_link_spheres(robot)
    model = robot.pin_model
    fids, centres, radii, group = [], [], [], []
    for gi, (name, bodies) in enumerate(groups.items()):
        for body in bodies:
            if body not in spheres or not model.existFrame(body):
                continue
            c, r_in, r_cover = spheres[body]
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
                     np.array(group, dtype=int), tuple(groups))


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
                    rest_gap = self._gaps(rest_centres, ia, ib)
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
                            + self.spheres.radii_m[members]).max())
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
        if obstacles is not None and len(obstacles[1]) and len(self._obstacle_anchors):
            rows = self._obstacle_anchors
            d = bc[rows][:, None, :] - obstacles[0][None, :, :]
            og = np.sqrt((d * d).sum(-1)) - self._anchor_radius[rows][:, None] \
                - obstacles[1][None, :]
            if len(obstacles) > 2 and self._obstacle_touches.any():
                touchable = np.asarray(obstacles[2], dtype=bool)
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

    def _gaps(self, centres: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        d = centres[i] - centres[j]
        return np.sqrt((d * d).sum(axis=1)) - self.spheres.radii_m[i] - self.spheres.radii_m[j]

    def _obstacle_gaps(self, centres, members, obstacles):
        pts, radii = obstacles
        d = centres[members][:, None, :] - pts[None, :, :]
        dist = np.sqrt((d * d).sum(axis=-1))
        return dist - self.spheres.radii_m[members][:, None] - radii[None, :], d

    def min_gap(self, data, obstacles: tuple[np.ndarray, ...] | None = None) -> float:
        """Smallest surface-to-surface distance over the watched pairs (and obstacles), metres;
        for parts the broad phase skipped, the gap between their bounds (a lower bound)."""
        pairs, obstacle_blocks, centres, best = self._candidates(data, obstacles)
        for ia, ib, _, _ in pairs:
            best = min(best, float(self._gaps(centres, ia, ib).min()))
        for members, close in obstacle_blocks:
            og, _ = self._obstacle_gaps(centres, members, (obstacles[0][close],
                                                           obstacles[1][close]))
            best = min(best, float(og.min()))
        return best

    def rows(self, data, jacobian: np.ndarray, weight: float,
             obstacles: tuple[np.ndarray, ...] | None = None, reuse: bool = False
             ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Residuals and Jacobian rows of the sphere pairs closer than the margin.

        Args:
            data: Pinocchio data with frame placements and joint Jacobians of one
                configuration (``computeJointJacobians`` + ``updateFramePlacements``).
            jacobian: (6, n) ``data.J`` restricted to the solver's columns.
            weight: weight of the squared penetration.
            obstacles: ((P, 3) centres, (P,) radii) of world spheres that do not move, and
                optionally (P,) touchable flags (ignored by ``touch_groups``).
            reuse: keep the previous call's broad phase (later iterations of one frame).

        Returns:
            (K,) residuals ``sqrt(weight) * (margin - gap)``, their (K, n) Jacobian, the
            smallest gap seen and the smallest gap outside the quiet pairs (metres; lower
            bounds where the broad phase skipped a pair).
        """
        pairs, obstacle_blocks, centres, min_gap = self._candidates(data, obstacles, reuse)
        near_gap = min_gap
        n = jacobian.shape[1]
        a_list, b_list, diffs, pens = [], [], [], []
        if pairs:
            ia = np.concatenate([p[0] for p in pairs])
            ib = np.concatenate([p[1] for p in pairs])
            margins = np.concatenate([p[2] for p in pairs])
            loud = np.concatenate([p[3] for p in pairs])
            gaps = self._gaps(centres, ia, ib)
            min_gap = min(min_gap, float(gaps.min()))
            if loud.any():
                near_gap = min(near_gap, float(gaps[loud].min()))
            hit = gaps < margins
            if hit.any():
                a_list.append(ia[hit])
                b_list.append(ib[hit])
                diffs.append(centres[ia[hit]] - centres[ib[hit]])
                pens.append(margins[hit] - gaps[hit])
        n_pairs = int(sum(len(x) for x in a_list))
        for members, close in obstacle_blocks:
            og, od = self._obstacle_gaps(centres, members, (obstacles[0][close],
                                                            obstacles[1][close]))
            min_gap = min(min_gap, float(og.min()))
            near_gap = min(near_gap, float(og.min()))
            ro, co = np.nonzero(og < self.margin_m)
            if len(ro):
                a_list.append(members[ro])
                diffs.append(od[ro, co])
                pens.append(self.margin_m - og[ro, co])  # the obstacle side stays put
        if not pens:
            return np.zeros(0), np.zeros((0, n)), min_gap, near_gap
        a_idx = np.concatenate(a_list)
        diff = np.concatenate(diffs)
        pen = np.concatenate(pens)
        u = diff / np.maximum(np.linalg.norm(diff, axis=1), 1e-9)[:, None]
        jd = self._normal_jacobian(jacobian, centres, a_idx, u)
        if n_pairs:
            jd[:n_pairs] -= self._normal_jacobian(jacobian, centres, np.concatenate(b_list),
                                                  u[:n_pairs])
        sw = np.sqrt(weight)
        return sw * pen, -sw * jd, min_gap, near_gap

    def _normal_jacobian(self, jacobian, centres, idx, u) -> np.ndarray:
        """(k, n) Jacobian of ``u_k . c_idx_k`` (sphere centre velocity along u)."""
        jv, jw = jacobian[:3], jacobian[3:]
        # d(u.c) = u.(v + w x c) = u.v + (c x u).w  per column, masked to the frame's support.
        c = centres[idx]
        cu = np.stack([c[:, 1] * u[:, 2] - c[:, 2] * u[:, 1],
                       c[:, 2] * u[:, 0] - c[:, 0] * u[:, 2],
                       c[:, 0] * u[:, 1] - c[:, 1] * u[:, 0]], axis=1)
        rows = u @ jv + cu @ jw
        return rows * self._masks[self._sphere_frame[idx]]


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
