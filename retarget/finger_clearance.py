"""Thumb clearance for the hand solver: the thumb's links kept off the other fingers and the
palm, on the sphere model of the links (``collision_spheres.robot_link_spheres``).

The hand solver's fingertip barrier only keeps non-thumb tips apart, because the thumb must
reach the fingertips to pinch. Robot thumbs are thick and sit where the human thumb does not:
closing a fist, an OK ring or a pinch on the robot drives thumb links into the index (a sim
gate ``self_collision``, finger-finger or finger-palm). :class:`ThumbClearance` adds one
one-sided residual per sphere pair closer than ``margin_m`` (surface to surface): the thumb may
touch the fingers and the palm, not go into them. A pinch still closes: its pull meets the
clearance at the surfaces. The thumb's first link and the palm it is hinged on are neighbours
(left out, as MoveIt leaves adjacent links out); sphere pairs that overlap in the rest pose are
left out too, and pairs closer than the margin at rest keep their rest gap.

Spheres are the "inside" ones (they stay within the link geometry) grown by ``grow_m`` toward
covering, so a kept margin leaves the real surfaces at most the remaining inside-to-covering
difference closer (a millimetre or two at edges).
"""

from __future__ import annotations

import numpy as np

from dyad.skeletons import FINGERTIPS

from .robot_model import HandMapping

# Link pairs whose bounds are farther apart than this at the start of a frame are skipped for
# the frame (its iterations move a fingertip by millimetres, a fast frame by a centimetre).
_BAND_M = 0.02
# A link whose spheres spread wider than this (a palm) gets a broad-phase bound per sphere.
_WIDE_LINK_M = 0.04


def _chain(model, joint: int) -> list[int]:
    out = []
    while joint > 0:
        out.append(joint)
        joint = model.parents[joint]
    return out


class ThumbClearance:
    """Residual rows that keep the thumb's sphere model ``margin_m`` off the other fingers and
    the palm of one hand.

    Args:
        model: the hand solver's (reduced) Pinocchio model.
        mapping: the hand's mapping (tip frames tell which links are the thumb's).
        link_spheres: body name -> (centres in the body frame, inside radii, covering radii).
        margin_m: surface gap kept.
        rest_q: the hand's rest configuration (pairs overlapping there are left out).
        grow_m: the inside spheres grow by this much (at most to covering): inside spheres
            leave a link's edges uncovered, and a thumb pressed on a finger's edge would sink
            into it by that much (2 mm halved the remaining penetrations on the synthetic
            finger gestures, more blocked pinches that should close).
    """

    def __init__(self, model, mapping: HandMapping, link_spheres: dict, margin_m: float,
                 rest_q: np.ndarray, grow_m: float = 0.002):
        import pinocchio as pin

        self._pin, self.model = pin, model
        self.margin_m = float(margin_m)
        chains = {}
        for k, tip in zip(FINGERTIPS, ("thumb", "index", "middle", "ring", "pinky")):
            frame = mapping.keypoint_frames.get(k)
            if frame is not None and model.existFrame(frame):
                chains[tip] = set(_chain(model, model.frames[model.getFrameId(frame)].parentJoint))
        thumb = chains.pop("thumb", set())
        others = set().union(*chains.values()) if chains else set()
        thumb_only, others_only = thumb - others, others - thumb
        frames, centres, radii, side = [], [], [], []  # side: 0 thumb, 1 fingers or palm
        for body, (c, r_inside, r_cover) in link_spheres.items():
            if not model.existFrame(body):
                continue
            fid = model.getFrameId(body)
            joint = model.frames[fid].parentJoint
            if joint in thumb_only:
                group = 0
            elif joint in others_only or joint == 0:
                group = 1
            else:
                continue  # a link the thumb and the fingers share: not a pair member
            if group == 0 and model.parents[joint] == 0 and joint > 0:
                group = 2  # the thumb's first link, hinged on the palm: paired with fingers only
            frames += [fid] * len(r_inside)
            centres.append(np.asarray(c, dtype=float))
            radii.append(np.minimum(np.asarray(r_inside, dtype=float) + grow_m, r_cover))
            side += [group] * len(r_inside)
        side_arr = np.array(side, dtype=int)
        self._frames = np.array(frames, dtype=int)
        self._local = np.concatenate(centres) if centres else np.zeros((0, 3))
        self._radii = np.concatenate(radii) if radii else np.zeros(0)
        self._unique = np.unique(self._frames)
        self._unique_list = [int(f) for f in self._unique]
        self._which = np.searchsorted(self._unique, self._frames)
        self._rot = np.zeros((len(self._unique), 3, 3))
        self._pos = np.zeros((len(self._unique), 3))
        palm = np.array([model.frames[f].parentJoint == 0 for f in frames], dtype=bool)
        a, b = np.meshgrid(np.flatnonzero(side_arr == 0), np.flatnonzero(side_arr == 1),
                           indexing="ij")
        base_a, base_b = np.meshgrid(np.flatnonzero(side_arr == 2),
                                     np.flatnonzero((side_arr == 1) & ~palm), indexing="ij")
        a = np.concatenate([a.ravel(), base_a.ravel()])
        b = np.concatenate([b.ravel(), base_b.ravel()])
        side_arr[side_arr == 2] = 0
        data = model.createData()
        pin.framesForwardKinematics(model, data, rest_q)
        rest_gap = self._gaps(self._centres(data), a, b)
        keep = rest_gap > 0.0
        a, b = a[keep], b[keep]
        # The thumb folds onto the palm by design (a fist, counting): it may rest on it (no
        # margin), not sink in; the margin is for the fingers it would be driven through.
        margin = np.where(palm[b], 0.0, self.margin_m)
        threshold = np.minimum(margin, rest_gap[keep])
        self.excluded_pairs = int((~keep).sum())
        """Sphere pairs left out because they overlap in the rest pose."""
        self.num_pairs = len(a)
        """Sphere pairs watched."""
        # Broad phase, once per frame (``new_frame``): a bounding sphere per link (per sphere
        # for a link as wide as a palm); the sphere pairs of two bounds within ``_BAND_M`` are
        # then watched for the frame's iterations (a few millimetres of motion each).
        unit_of = np.empty(len(self._local), dtype=int)
        unit_link, unit_local, unit_radius = [], [], []
        for k in range(len(self._unique)):
            rows = np.flatnonzero(self._which == k)
            centre = self._local[rows].mean(axis=0)
            radius = float((np.linalg.norm(self._local[rows] - centre, axis=1)
                            + self._radii[rows]).max())
            for group in ([rows] if radius <= _WIDE_LINK_M else [[r] for r in rows]):
                group = np.asarray(group)
                c = self._local[group].mean(axis=0)
                unit_of[group] = len(unit_link)
                unit_link.append(k)
                unit_local.append(c)
                unit_radius.append(float((np.linalg.norm(self._local[group] - c, axis=1)
                                          + self._radii[group]).max()))
        self._unit_link = np.array(unit_link, dtype=int)
        self._unit_local = np.array(unit_local).reshape(-1, 3)
        unit_a, unit_b = unit_of[a], unit_of[b]
        blocks = sorted(set(zip(unit_a.tolist(), unit_b.tolist())))
        block_of = {blk: i for i, blk in enumerate(blocks)}
        self._block_ua = np.array([blk[0] for blk in blocks], dtype=int)
        self._block_ub = np.array([blk[1] for blk in blocks], dtype=int)
        radius = np.array(unit_radius)
        self._block_reach = radius[self._block_ua] + radius[self._block_ub]
        self._pair_block = np.array([block_of[(x, y)] for x, y in
                                     zip(unit_a.tolist(), unit_b.tolist())], dtype=int)
        self._watch: tuple | None = None  # this frame's pairs (a, b, thresholds, links)
        self._a, self._b, self._threshold = a, b, threshold

    def _placements(self, data, links) -> None:
        placements = data.oMf
        for k in links:
            m = placements[self._unique_list[k]]
            self._rot[k] = m.rotation
            self._pos[k] = m.translation

    def _centres(self, data) -> np.ndarray:
        self._placements(data, range(len(self._unique_list)))
        return np.einsum("nij,nj->ni", self._rot[self._which], self._local) \
            + self._pos[self._which]

    def _gaps(self, centres: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = centres[a] - centres[b]
        return np.sqrt((d * d).sum(axis=1)) - self._radii[a] - self._radii[b]

    def new_frame(self) -> None:
        """A new frame's solve starts: the next :meth:`rows` redoes the broad phase."""
        self._watch = None

    def _broad_phase(self, data) -> tuple:
        self._placements(data, range(len(self._unique_list)))
        bounds = np.einsum("nij,nj->ni", self._rot[self._unit_link], self._unit_local) \
            + self._pos[self._unit_link]
        d = bounds[self._block_ua] - bounds[self._block_ub]
        near = np.sqrt((d * d).sum(axis=1)) - self._block_reach < self.margin_m + _BAND_M
        sel = near[self._pair_block]
        a, b = self._a[sel], self._b[sel]
        links = sorted(set(self._which[a].tolist()) | set(self._which[b].tolist()))
        return a, b, self._threshold[sel], links

    def rows(self, data, M: np.ndarray, sqrt_weight: float
             ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Jacobian rows (k, independent coordinates), residuals (k,) and cost of the pairs
        closer than their threshold, or None when none is. ``data`` must hold the joint
        Jacobians and frame placements of the current configuration."""
        if not self.num_pairs:
            return None
        fresh = self._watch is None
        if fresh:
            self._watch = self._broad_phase(data)
        a, b, threshold, links = self._watch
        if not len(a):
            return None
        if not fresh:
            self._placements(data, links)
        members = np.unique(np.concatenate([a, b]))
        centres = np.zeros((len(self._local), 3))
        k = self._which[members]
        centres[members] = np.einsum("nij,nj->ni", self._rot[k], self._local[members]) \
            + self._pos[k]
        gap = self._gaps(centres, a, b)
        hit = gap < threshold
        if not hit.any():
            return None
        pin, model = self._pin, self.model
        a, b, gap, threshold = a[hit], b[hit], gap[hit], threshold[hit]
        diff = centres[a] - centres[b]
        u = diff / np.maximum(np.sqrt((diff * diff).sum(axis=1)), 1e-9)[:, None]
        # a point on a frame moves as v = v_frame + w x (p - origin)
        point_jac = {}
        for k in set(self._which[a].tolist()) | set(self._which[b].tolist()):
            j6 = pin.getFrameJacobian(model, data, self._unique_list[k],
                                      pin.ReferenceFrame.LOCAL_WORLD_ALIGNED)
            point_jac[k] = (j6[:3], j6[3:])

        def jac(spheres: np.ndarray) -> np.ndarray:
            out = np.empty((len(spheres), 3, M.shape[0]))
            for i, sphere in enumerate(spheres):
                jv, jw = point_jac[self._which[sphere]]
                out[i] = jv - _skew(centres[sphere] - self._pos[self._which[sphere]]) @ jw
            return out

        jd = np.einsum("kd,kdn->kn", u, jac(a) - jac(b))
        pen = sqrt_weight * (threshold - gap)
        return -sqrt_weight * (jd @ M), pen, float(pen @ pen)


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


__all__ = ["ThumbClearance"]
