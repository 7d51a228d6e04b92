"""``dyad eval``: the generator's motion beside the held-out ground truth.

Text-motion metrics follow InterGen's protocol (tools/eval.py there), on the embeddings of
Dyad's contrastive evaluator (``evaluator.py``):

- R-precision top-1/2/3 and MM-Dist: the test set is shuffled and cut into batches of
  ``batch_size`` (32); within a batch each text ranks the batch's motions by Euclidean
  distance; MM-Dist is the mean distance of matching text-motion pairs.
- FID between the Gaussian statistics of generated and ground-truth motion embeddings (for
  the ground-truth row: between two random halves of the ground truth, a noise floor).
- Diversity: mean distance of ``diversity_times`` random pairs of motions.
- Multimodality: for ``mm_samples`` texts, ``mm_repeats`` motions each; mean distance of
  ``mm_times`` random pairs per text.
- Everything is repeated ``replications`` times (new generations, new shuffles) and reported
  as mean and 95 % confidence half-width (1.96 std / sqrt(replications)).

Physical figures (no evaluator involved), all in SI units:

- penetration between the two agents, with capsules around bones (duet: body bones and
  palms; bimanual: every hand bone): ``penetration_frequency`` (share of motions with any
  frame deeper than the tolerance), ``penetration_duration`` (mean share of frames),
  ``penetration_depth_m`` (mean deepest overlap on those frames);
- contact on the labelled contact intervals of the ground-truth clip: ``contact_ratio``
  (share of interval frames in which the two parts touch), ``contact_hit_rate`` (share of
  labelled contacts that happen at some frame of the motion, whatever the timing);
- ``foot_skate_mps`` / ``foot_skate_ratio`` (duet): horizontal speed of grounded toes, and the
  share of grounded toe frames sliding faster than 0.2 m/s;
- ``jerk_mps3``: mean magnitude of the third time derivative of joint positions.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dyad.motion import AGENTS, SKELETON_OF_MODE, ContactInterval, MotionRecord
from dyad.skeletons import BODY22_NAMES, get_skeleton

# -- embedding metrics (InterGen's definitions) --------------------------------------------


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) Euclidean distances between rows of ``a`` (N, E) and ``b`` (M, E)."""
    d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None]
    return np.sqrt(np.maximum(d2, 0.0))


def r_precision_hits(text_emb: np.ndarray, motion_emb: np.ndarray, top_k: int = 3
                     ) -> np.ndarray:
    """(top_k,) number of texts whose own motion is within the k nearest motions of the
    batch, for k = 1..top_k (cumulative, like InterGen's ``calculate_top_k``)."""
    dist = euclidean_distance_matrix(text_emb, motion_emb)
    rank = (dist < np.diag(dist)[:, None]).sum(1)
    return np.array([(rank < k).sum() for k in range(1, top_k + 1)], dtype=float)


def activation_statistics(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of embeddings (N, E)."""
    return emb.mean(0), np.cov(emb, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray
                     ) -> float:
    """Fréchet distance between two Gaussians; ``tr(sqrt(C1 C2))`` from the eigenvalues of
    ``C1 C2`` (real and non-negative for covariance matrices, up to rounding)."""
    eig = np.linalg.eigvals(cov1 @ cov2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0.0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt)


def diversity(emb: np.ndarray, times: int, rng: np.random.Generator) -> float:
    """Mean distance between ``times`` random pairs of embeddings (fewer if there are fewer
    embeddings, drawn without replacement as InterGen does)."""
    n = len(emb)
    times = min(times, n)
    if times < 1 or n < 2:
        return float("nan")
    first = rng.choice(n, times, replace=False)
    second = rng.choice(n, times, replace=False)
    return float(np.linalg.norm(emb[first] - emb[second], axis=1).mean())


def multimodality(emb: np.ndarray, times: int, rng: np.random.Generator) -> float:
    """Mean distance between ``times`` random pairs among the motions of each text.

    Args:
        emb: (texts, repeats, E) embeddings of several motions per text.
    """
    texts, repeats, _ = emb.shape
    times = min(times, repeats)
    if texts == 0 or repeats < 2:
        return float("nan")
    first = rng.choice(repeats, times, replace=False)
    second = rng.choice(repeats, times, replace=False)
    return float(np.linalg.norm(emb[:, first] - emb[:, second], axis=-1).mean())


# -- physical metrics ------------------------------------------------------------------------

_BODY_RADIUS_M = {  # by the child joint of each body22 bone
    "l_hip": 0.09, "r_hip": 0.09, "spine1": 0.11, "spine2": 0.11, "spine3": 0.11,
    "l_knee": 0.07, "r_knee": 0.07, "l_ankle": 0.05, "r_ankle": 0.05, "l_foot": 0.04,
    "r_foot": 0.04, "neck": 0.07, "l_collar": 0.06, "r_collar": 0.06, "head": 0.09,
    "l_shoulder": 0.05, "r_shoulder": 0.05, "l_elbow": 0.045, "r_elbow": 0.045,
    "l_wrist": 0.035, "r_wrist": 0.035,
}
PALM_RADIUS_M = 0.02
FINGER_RADIUS_M = 0.008
HAND_PALM_BONE_RADIUS_M = 0.015
PENETRATION_TOLERANCE_M = {"duet": 0.02, "bimanual": 0.01}
"""Overlap of two capsules tolerated before a frame counts as penetrating (capsules are a
coarse body model; soft tissue compresses at contact)."""
GROUND_BAND_M = 0.05
SKATE_SPEED_MPS = 0.2


@dataclass(frozen=True)
class Capsules:
    """Capsules of one agent: segments from joint ``start[k]`` to ``end[k]`` of ``radius[k]``."""

    start: np.ndarray
    end: np.ndarray
    radius: np.ndarray


def capsules_for(mode: str) -> Capsules:
    """The capsule body model of a mode's skeleton (see the module docstring)."""
    skel = get_skeleton(SKELETON_OF_MODE[mode])
    start, end, radius = [], [], []
    if mode == "duet":
        for child, parent in enumerate(skel.parents[:22]):
            if parent >= 0:
                start.append(parent)
                end.append(child)
                radius.append(_BODY_RADIUS_M[BODY22_NAMES[child]])
        for side in ("l", "r"):
            start.append(skel.index(f"{side}_wrist"))
            end.append(skel.index(f"{side}_middle_mcp"))
            radius.append(PALM_RADIUS_M)
    else:
        for child, parent in enumerate(skel.parents):
            if parent >= 0:
                start.append(parent)
                end.append(child)
                radius.append(HAND_PALM_BONE_RADIUS_M if parent == 0 else FINGER_RADIUS_M)
    return Capsules(np.array(start), np.array(end), np.array(radius))


def segment_distances(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray
                      ) -> np.ndarray:
    """Closest distance between segments p1-q1 and p2-q2 (broadcast over leading axes)."""
    eps = 1e-12
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = (d1 * d1).sum(-1)
    e = (d2 * d2).sum(-1)
    f = (d2 * r).sum(-1)
    c = (d1 * r).sum(-1)
    b = (d1 * d2).sum(-1)
    safe_a, safe_e = np.maximum(a, eps), np.maximum(e, eps)
    denom = a * e - b * b
    # General case (Ericson, Real-Time Collision Detection 5.1.9), then the clamped ends.
    s = np.where(denom > eps, np.clip((b * f - c * e) / np.maximum(denom, eps), 0, 1), 0.0)
    t = (b * s + f) / safe_e
    s = np.where(t < 0, np.clip(-c / safe_a, 0, 1), np.where(t > 1, np.clip((b - c) / safe_a,
                                                                           0, 1), s))
    t = np.clip(t, 0, 1)
    # Degenerate segments (points).
    point_b = e <= eps
    s = np.where(point_b, np.clip(-c / safe_a, 0, 1), s)
    t = np.where(point_b, 0.0, t)
    point_a = a <= eps
    s = np.where(point_a, 0.0, s)
    t = np.where(point_a, np.where(point_b, 0.0, np.clip(f / safe_e, 0, 1)), t)
    closest = (p1 + d1 * s[..., None]) - (p2 + d2 * t[..., None])
    return np.linalg.norm(closest, axis=-1)


def penetration_depth(joints: np.ndarray, mode: str) -> np.ndarray:
    """(T,) deepest overlap in metres between any capsule of agent 0 and any of agent 1
    (0 where none overlap)."""
    caps = capsules_for(mode)
    a, b = joints[:, 0], joints[:, 1]
    pa, qa = a[:, caps.start][:, :, None], a[:, caps.end][:, :, None]
    pb, qb = b[:, caps.start][:, None], b[:, caps.end][:, None]
    dist = segment_distances(pa, qa, pb, qb)  # (T, K, K)
    overlap = caps.radius[:, None] + caps.radius[None] - dist
    return np.maximum(overlap.reshape(len(joints), -1).max(1), 0.0)


def contact_threshold_m(part_a: str, part_b: str) -> float:
    """Joint distance under which two named parts touch, as the synthesiser labels contact."""
    from .synth.events import CONTACT_MARGIN_M, PART_RADIUS_M

    def radius(part: str) -> float:
        for side in ("left_", "right_"):
            if part.startswith(side):
                part = part[len(side):]
        return PART_RADIUS_M.get(part, 0.02)

    return radius(part_a) + radius(part_b) + CONTACT_MARGIN_M


def contact_figures(record: MotionRecord, contacts: list[ContactInterval]
                    ) -> tuple[list[float], list[bool]]:
    """Per labelled contact: share of its interval's frames in contact, and whether contact
    happens anywhere in ``record``."""
    ratios, hits = [], []
    for c in contacts:
        touching = record.contact_distance(c) <= contact_threshold_m(c.part_a, c.part_b)
        start, end = max(0, c.start), min(record.num_frames, c.end)
        if end > start:
            ratios.append(float(touching[start:end].mean()))
        hits.append(bool(touching.any()))
    return ratios, hits


def foot_skating(joints: np.ndarray, fps: float) -> tuple[float, float]:
    """(mean horizontal speed of grounded toes in m/s, share of grounded toe frames sliding
    faster than ``SKATE_SPEED_MPS``) for duet motion (T, 2, 62, 3)."""
    toes = joints[:, :, [BODY22_NAMES.index("l_foot"), BODY22_NAMES.index("r_foot")]]
    floor = toes[..., 2].min(axis=(0, 2), keepdims=True)
    grounded = (toes[..., 2] - floor) < GROUND_BAND_M
    both = grounded[1:] & grounded[:-1]
    speed = np.linalg.norm(np.diff(toes[..., :2], axis=0), axis=-1) * fps
    if not both.any():
        return 0.0, 0.0
    return float(speed[both].mean()), float((speed[both] > SKATE_SPEED_MPS).mean())


def mean_jerk(joints: np.ndarray, fps: float) -> float:
    """Mean magnitude of the third derivative of joint positions (m/s^3)."""
    if len(joints) < 4:
        return float("nan")
    return float(np.linalg.norm(np.diff(joints, n=3, axis=0), axis=-1).mean() * fps ** 3)


def physical_metrics(motions: list[np.ndarray], contacts: list[list[ContactInterval]],
                     mode: str, fps: float) -> dict[str, float]:
    """Physical figures of motions (T, 2, J, 3) of one mode; ``contacts[i]`` are the labelled
    contacts of the ground-truth clip that motion ``i`` was made for."""
    depth_any, duration, depths, ratios, hits, skate, skate_ratio, jerk = ([] for _ in range(8))
    tol = PENETRATION_TOLERANCE_M[mode]
    for joints, labelled in zip(motions, contacts):
        depth = penetration_depth(joints, mode)
        pen = depth > tol
        depth_any.append(pen.any())
        duration.append(pen.mean())
        if pen.any():
            depths.append(depth[pen].mean())
        if labelled:
            record = MotionRecord(joints=joints, fps=fps, skeleton=SKELETON_OF_MODE[mode],
                                  agents=AGENTS[mode])
            r, h = contact_figures(record, labelled)
            ratios += r
            hits += h
        if mode == "duet":
            s, sr = foot_skating(joints, fps)
            skate.append(s)
            skate_ratio.append(sr)
        jerk.append(mean_jerk(joints, fps))

    def mean(values) -> float:
        return float(np.mean(values)) if len(values) else float("nan")

    out = {"penetration_frequency": mean(depth_any), "penetration_duration": mean(duration),
           "penetration_depth_m": mean(depths), "contact_ratio": mean(ratios),
           "contact_hit_rate": mean(hits), "jerk_mps3": mean(jerk)}
    if mode == "duet":
        out["foot_skate_mps"] = mean(skate)
        out["foot_skate_ratio"] = mean(skate_ratio)
    return out


# -- the protocol ------------------------------------------------------------------------------


@dataclass
class EvalOptions:
    """Options of ``dyad eval`` (see the module docstring for the protocol)."""

    data: list
    evaluator: Path
    checkpoint: Path | None = None
    split: str = "test"
    replications: int = 20
    batch_size: int = 32
    diversity_times: int = 300
    mm_samples: int = 100
    mm_repeats: int = 30
    mm_times: int = 10
    max_clips: int | None = None
    steps: int | None = None
    guidance: float | None = None
    contact_guidance: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | str | None = "auto"
    generation_batch: int = 32


def summarize(values: list) -> dict:
    """Mean and 95 % confidence half-width of replicated values (scalars or vectors)."""
    arr = np.asarray(values, dtype=float)
    mean = arr.mean(0)
    ci = 1.96 * arr.std(0) / math.sqrt(len(arr))
    if arr.ndim == 1:
        return {"mean": float(mean), "ci95": float(ci)}
    return {"mean": mean.tolist(), "ci95": ci.tolist()}


def _batched_rprecision(text_emb, motion_emb, order, batch_size):
    hits, size, mm = np.zeros(3), 0, 0.0
    n = len(order)
    starts = range(0, n - batch_size + 1, batch_size) if n >= batch_size else [0]
    for s in starts:
        idx = order[s:s + batch_size] if n >= batch_size else order
        hits += r_precision_hits(text_emb[idx], motion_emb[idx])
        mm += np.linalg.norm(text_emb[idx] - motion_emb[idx], axis=1).sum()
        size += len(idx)
    return hits / size, mm / size


def evaluate(opts: EvalOptions) -> dict:
    """Run the protocol on every mode of the data; returns the report dict."""
    import torch

    from dyad.errors import DyadInputError
    from dyad.generator.device import resolve_device
    from dyad.generator.streaming import MotionGenerator

    from .evaluator import load_evaluator
    from .motion_dataset import load_folders
    from .text_cache import encode_texts
    from .training_run import set_cpu_threads

    for name in ("replications", "batch_size", "diversity_times", "mm_samples", "mm_repeats",
                 "mm_times"):
        value = getattr(opts, name)
        if not isinstance(value, int) or value < 1:
            raise DyadInputError(f"--{name.replace('_', '-')} must be a positive integer, "
                                 f"got {value!r}")
    if opts.mm_repeats < 2:
        raise DyadInputError("--mm-repeats must be at least 2")
    device = resolve_device(opts.device)
    threads = set_cpu_threads(opts.threads) if device.type == "cpu" else None
    evaluator = load_evaluator(opts.evaluator, device)
    gen = MotionGenerator(opts.checkpoint, device=str(device), cpu_threads=None)
    clips_by_mode = load_folders(opts.data, opts.split, opts.max_clips)
    report = {"protocol": {
        "split": opts.split, "replications": opts.replications,
        "r_precision_batch_size": opts.batch_size, "diversity_times": opts.diversity_times,
        "mm_samples": opts.mm_samples, "mm_repeats": opts.mm_repeats, "mm_times": opts.mm_times,
        "seed": opts.seed, "device": str(device), "cpu_threads": threads,
        "generator": str(gen.loaded.path), "evaluator": str(opts.evaluator),
        "sampling": {"steps": opts.steps or gen.sampling.steps,
                     "guidance": opts.guidance if opts.guidance is not None
                     else gen.sampling.guidance,
                     "contact_guidance": (opts.contact_guidance
                                          if opts.contact_guidance is not None
                                          else gen.sampling.contact_guidance)
                     if gen.loaded.planner is not None else 0.0,
                     "contact_guidance_modes": list(gen.modes)
                     if opts.contact_guidance is not None
                     else list(gen.sampling.contact_guidance_modes)},
        "embedding": "unit vectors of the Dyad evaluator (distances in [0, 2])"},
        "modes": {}}
    for mode, clips in clips_by_mode.items():
        if mode not in gen.modes or mode not in evaluator.modes:
            report["modes"][mode] = {"skipped": f"generator serves {gen.modes}, evaluator "
                                                f"serves {evaluator.modes}"}
            continue
        report["modes"][mode] = _evaluate_mode(mode, clips, gen, evaluator, opts, encode_texts,
                                               torch)
    return report


def _evaluate_mode(mode, clips, gen, evaluator, opts: EvalOptions, encode_texts, torch) -> dict:
    from dyad.generator.errors import TextTruncatedWarning
    from dyad.generator.prompt import clean_text
    from dyad.generator.sampler import ChunkStream
    from dyad.generator.text_conditioning import (TextCondition, build_condition,
                                                  collate_conditions)

    from .motion_dataset import ClipDataset, collate_clips

    device = next(evaluator.parameters()).device
    fps = float(gen.model.config.fps)
    with warnings.catch_warnings(record=True) as cut:
        warnings.simplefilter("always", TextTruncatedWarning)
        texts = [clean_text(c.texts[0]) for c in clips]
    frames = [c.num_frames for c in clips]
    contacts = [c.contacts for c in clips]
    options = gen.sampling
    if opts.steps is not None or opts.guidance is not None:
        options = replace(options, steps=opts.steps or options.steps,
                          guidance=opts.guidance if opts.guidance is not None
                          else options.guidance)
    if opts.contact_guidance is not None:
        options = replace(options, contact_guidance=opts.contact_guidance)
    plans = {t: gen.plan(t, mode) for t in sorted(set(texts))} \
        if options.pulls_contacts(mode, opts.contact_guidance is not None) else {}
    encodings = encode_texts(gen.encoder, sorted(set(texts)))

    @torch.no_grad()
    def embed_motions(motions: list[np.ndarray]) -> np.ndarray:
        out = []
        for s in range(0, len(motions), 64):
            items = [{"joints": m[:evaluator.config.max_frames],
                      "length": min(len(m), evaluator.config.max_frames), "text": "",
                      "index": 0} for m in motions[s:s + 64]]
            batch = collate_clips(items)
            out.append(evaluator.encode_motion(mode, batch["joints"].to(device),
                                               batch["mask"].to(device)).cpu().numpy())
        return np.concatenate(out)

    @torch.no_grad()
    def embed_texts(items: list[str]) -> np.ndarray:
        batch = collate_conditions([TextCondition({"overall": encodings[t]}) for t in items],
                                   evaluator.config.max_text_tokens).to(device)
        return evaluator.encode_text(batch).cpu().numpy()

    def generate(prompts: list[str], lengths: list[int], seed: int) -> list[np.ndarray]:
        out = []
        for s in range(0, len(prompts), opts.generation_batch):
            conds = [build_condition(gen.encoder, mode, t)
                     for t in prompts[s:s + opts.generation_batch]]
            batch = collate_conditions(conds, gen.model.config.max_text_tokens)
            rng = torch.Generator().manual_seed(seed * 1_000_003 + s)
            stream = ChunkStream(gen.model, mode, batch, options, rng,
                                 [plans.get(t, []) for t in prompts[s:s + opts.generation_batch]])
            part = lengths[s:s + opts.generation_batch]
            world = torch.cat(list(stream.run(max(part))), dim=1).cpu().numpy()
            out += [world[i, :n] for i, n in enumerate(part)]
        return out

    gt_motions = [c.joints for c in clips]
    gt_emb = embed_motions(gt_motions)
    text_emb = embed_texts(texts)
    gt_phys = physical_metrics(gt_motions, contacts, mode, fps)
    rows = {"ground_truth": {}, "generated": {}}

    def add(which: str, name: str, value) -> None:
        rows[which].setdefault(name, []).append(value)

    n = len(clips)
    for rep in range(opts.replications):
        rng = np.random.default_rng([opts.seed, rep])
        motions = generate(texts, frames, seed=opts.seed * 7919 + rep)
        gen_emb = embed_motions(motions)
        order = rng.permutation(n)
        for which, emb in (("ground_truth", gt_emb), ("generated", gen_emb)):
            rp, mm = _batched_rprecision(text_emb, emb, order, opts.batch_size)
            add(which, "r_precision", rp)
            add(which, "mm_dist", mm)
            add(which, "diversity", diversity(emb, opts.diversity_times, rng))
        half = rng.permutation(n)
        if n >= 4:
            add("ground_truth", "fid", frechet_distance(
                *activation_statistics(gt_emb[half[:n // 2]]),
                *activation_statistics(gt_emb[half[n // 2:]])))
        add("generated", "fid", frechet_distance(*activation_statistics(gt_emb),
                                                 *activation_statistics(gen_emb)))
        mm_idx = rng.choice(n, min(opts.mm_samples, n), replace=False)
        mm_prompts = [texts[i] for i in mm_idx for _ in range(opts.mm_repeats)]
        mm_lengths = [frames[i] for i in mm_idx for _ in range(opts.mm_repeats)]
        mm_emb = embed_motions(generate(mm_prompts, mm_lengths, seed=opts.seed * 104729 + rep))
        add("generated", "multimodality",
            multimodality(mm_emb.reshape(len(mm_idx), opts.mm_repeats, -1), opts.mm_times, rng))
        for k, v in physical_metrics(motions, contacts, mode, fps).items():
            add("generated", k, v)
        for k, v in gt_phys.items():
            add("ground_truth", k, v)
    out = {"clips": n, "labelled_contacts": int(sum(len(c) for c in contacts)),
           "texts_truncated": len(cut)}
    for which, metrics in rows.items():
        summary = {}
        for name, values in metrics.items():
            if name == "r_precision":
                s = summarize(values)
                for k in range(3):
                    summary[f"r_precision_top{k + 1}"] = {"mean": s["mean"][k],
                                                          "ci95": s["ci95"][k]}
            else:
                summary[name] = summarize(values)
        out[which] = summary
    return out


_ORDER = ("r_precision_top1", "r_precision_top2", "r_precision_top3", "fid", "mm_dist",
          "diversity", "multimodality", "penetration_frequency", "penetration_duration",
          "penetration_depth_m", "contact_ratio", "contact_hit_rate", "foot_skate_mps",
          "foot_skate_ratio", "jerk_mps3")


def format_report(report: dict) -> str:
    """A plain-text table: each metric with ground truth beside the generated motion."""
    p = report["protocol"]
    lines = [f"split {p['split']}, {p['replications']} replications, R-precision batch "
             f"{p['r_precision_batch_size']}, diversity {p['diversity_times']} pairs, "
             f"multimodality {p['mm_samples']} texts x {p['mm_repeats']} motions "
             f"({p['mm_times']} pairs), device {p['device']}"]
    for mode, res in report["modes"].items():
        if "skipped" in res:
            lines.append(f"\n[{mode}] skipped: {res['skipped']}")
            continue
        lines.append(f"\n[{mode}] {res['clips']} clips, {res['labelled_contacts']} labelled "
                     "contacts")
        lines.append(f"  {'metric':<24}{'ground truth':>22}{'generated':>22}")
        for name in _ORDER:
            cells = []
            for which in ("ground_truth", "generated"):
                v = res[which].get(name)
                cells.append("-" if v is None or not np.isfinite(v["mean"]) else
                             f"{v['mean']:.4f} ±{v['ci95']:.4f}")
            if cells != ["-", "-"]:
                lines.append(f"  {name:<24}{cells[0]:>22}{cells[1]:>22}")
    return "\n".join(lines)
