"""Hand retargeting speed and quality: Dyad's hand IK side by side with dex-retargeting.

For each robot hand of the dex-urdf collection (``shared/data/dex-urdf``), the real MediaPipe
clip ``shared/data/mediapipe_right_hand_621.npy`` (621 frames, operator frame) is retargeted
frame by frame, warm-started, by Dyad's :class:`~dyad.retarget.hand_ik.HandIK` and by
dex-retargeting's vector retargeting (its teleop config for the same hand, NLopt SLSQP, same
URDF, same scale, its low-pass filter off so both are compared raw). Both results are scored by
the same functions (``HandIK.errors``): fingertip and vector errors (mm), the thumb-index gap on
frames where the human tips touch, and jerk. A reachable-target test (random robot poses ->
forward kinematics -> targets -> solve from a perturbed start) measures accuracy apart from
reachability.

Run: ``dyad bench retarget --json`` (or ``python -m dyad.bench.retarget --json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAME = "retarget"
HELP = "hand retargeting: ms per frame, errors, pinch, jerk; vs dex-retargeting"

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FPS = 30.0


@dataclass(frozen=True)
class DexUrdfHand:
    """A right hand of the dex-urdf collection as Dyad maps it.

    Attributes:
        urdf: path under ``dex-urdf/hands``.
        dex_config: dex-retargeting's vector teleop config for the same hand.
        wrist_frame: robot frame for the human wrist (the configs' vector origin).
        keypoint_frames: hand21 index -> robot frame (the configs' vector tasks).
        scale: human-to-robot scale (the configs' ``scaling_factor``).
        locked_joints: joints held at zero (the Shadow hand's wrist: not a finger joint).
    """

    urdf: str
    dex_config: str
    wrist_frame: str
    keypoint_frames: dict
    scale: float
    locked_joints: tuple[str, ...] = ()


_TIPS5 = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")
DEX_URDF_HANDS: dict[str, DexUrdfHand] = {
    "ability_right": DexUrdfHand(
        "ability_hand/ability_hand_right.urdf", "ability_hand_right.yml", "base_link",
        dict(zip((4, 8, 12, 16, 20), _TIPS5)), 1.0),
    "allegro_right": DexUrdfHand(
        "allegro_hand/allegro_hand_right.urdf", "allegro_hand_right.yml", "wrist",
        {4: "link_15.0_tip", 8: "link_3.0_tip", 12: "link_7.0_tip", 16: "link_11.0_tip"}, 1.6),
    "inspire_right": DexUrdfHand(
        "inspire_hand/inspire_hand_right.urdf", "inspire_hand_right.yml", "base",
        dict(zip((4, 8, 12, 16, 20), _TIPS5)), 1.15),
    "leap_right": DexUrdfHand(
        "leap_hand/leap_hand_right.urdf", "leap_hand_right.yml", "base",
        {4: "thumb_tip_head", 8: "index_tip_head", 12: "middle_tip_head", 16: "ring_tip_head"},
        1.6),
    "schunk_svh_right": DexUrdfHand(
        "schunk_hand/schunk_svh_hand_right.urdf", "schunk_svh_hand_right.yml",
        "right_hand_base_link",
        {4: "thtip", 8: "fftip", 12: "mftip", 16: "rftip", 20: "lftip"}, 1.2),
    "shadow_right": DexUrdfHand(
        "shadow_hand/shadow_hand_right.urdf", "shadow_hand_right.yml", "palm",
        {4: "thtip", 8: "fftip", 12: "mftip", 16: "rftip", 20: "lftip",
         2: "thmiddle", 6: "ffmiddle", 10: "mfmiddle", 14: "rfmiddle", 18: "lfmiddle"},
        1.2, locked_joints=("WRJ1", "WRJ2")),
}


def load_dex_urdf_hand(name: str, data_dir: str | Path | None = None, config=None):
    """A :class:`HandIK` for one dex-urdf right hand.

    The dex-urdf hands are modelled in dex-retargeting's operator frame (their URDF root: z to
    the fingers, y to the thumb, x out of the palm), so the hand-to-wrist rotation is the
    operator rotation seen from the wrist frame.

    Args:
        name: a key of :data:`DEX_URDF_HANDS`.
        data_dir: the folder holding ``dex-urdf`` (default: ``shared/data`` beside the repo).
        config: a :class:`HandIKConfig`.
    """
    import pinocchio as pin

    from dyad.errors import DyadInputError
    from dyad.retarget.hand_ik import HandIK, parse_urdf_mimic
    from dyad.retarget.input_conventions import ROTATION_HAND_TO_OPERATOR
    from dyad.retarget.robot_model import HandMapping

    if name not in DEX_URDF_HANDS:
        raise DyadInputError(f"unknown dex-urdf hand {name!r}; known: {', '.join(DEX_URDF_HANDS)}")
    spec = DEX_URDF_HANDS[name]
    path = Path(data_dir or SHARED_DATA) / "dex-urdf" / "hands" / spec.urdf
    if not path.is_file():
        raise DyadInputError(f"dex-urdf hand {name!r}: {path} does not exist")
    model = pin.buildModelFromUrdf(str(path))
    data = model.createData()
    pin.framesForwardKinematics(model, data, pin.neutral(model))
    rot_world_from_wrist = data.oMf[model.getFrameId(spec.wrist_frame)].rotation
    fingers = tuple(n for n in list(model.names)[1:] if n not in spec.locked_joints)
    mapping = HandMapping(
        side="right", wrist_frame=spec.wrist_frame,
        keypoint_frames={0: spec.wrist_frame, **spec.keypoint_frames},
        finger_joints=fingers,
        rotation_hand_to_wrist=rot_world_from_wrist.T @ ROTATION_HAND_TO_OPERATOR,
        scale=spec.scale)
    return HandIK(model, mapping, parse_urdf_mimic(path.read_text()), config,
                  locked_qpos={j: 0.0 for j in spec.locked_joints})


# -------------------------------------------------------------------------------------------
# Measurements


def _stats(values) -> dict[str, float]:
    try:
        from dyad.bench.stats import timing_stats
        return timing_stats(values)
    except ImportError:  # the shared harness helpers are optional here
        v = np.asarray(values, dtype=float)
        p50, p95, p99 = np.percentile(v, [50, 95, 99])
        return {"n": int(v.size), "mean": float(v.mean()), "p50": float(p50),
                "p95": float(p95), "p99": float(p99), "max": float(v.max())}


def _mm(values, digits: int = 3) -> dict[str, float]:
    v = np.asarray(values, dtype=float) * 1e3
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "mean": round(float(v.mean()), digits),
            "p95": round(float(np.percentile(v, 95)), digits), "max": round(float(v.max()), digits)}


def _ms(stats: dict[str, float]) -> dict[str, float]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()
            if k in ("n", "mean", "p50", "p99", "max")}


def _time_passes(solve, reset, frames, repeats):
    """Per-frame milliseconds over ``repeats`` warm-started passes of the same frames.

    Returns wall times (every pass), thread-CPU times (every pass), the per-frame best wall time
    over the passes (the solver is deterministic, so this removes the pauses other processes
    cause and keeps the cost differences between frames), the cold first frame's mean wall
    time (a stream pays it once, so it is kept apart) and the first pass's joints.
    """
    wall = np.zeros((repeats, len(frames) - 1))
    cpu = np.zeros_like(wall)
    cold, qpos = [], []
    for rep in range(repeats):
        reset()
        for t, frame in enumerate(frames):
            w0, c0 = time.perf_counter(), time.thread_time()
            q = solve(frame)
            w1, c1 = time.perf_counter(), time.thread_time()
            if t == 0:
                cold.append((w1 - w0) * 1e3)
            else:
                wall[rep, t - 1] = (w1 - w0) * 1e3
                cpu[rep, t - 1] = (c1 - c0) * 1e3
            if rep == 0:
                qpos.append(np.array(q, dtype=float))
    return wall.ravel(), cpu.ravel(), wall.min(axis=0), float(np.mean(cold)), np.array(qpos)


def _timing(wall, cpu, best, cold) -> dict:
    return {"ms_per_frame": _ms(_stats(wall)), "cpu_ms_per_frame": _ms(_stats(cpu)),
            "best_of_repeats_ms_per_frame": _ms(_stats(best)),
            "cold_first_frame_ms": round(cold, 3)}


def _quality(ik, qpos, frames_hand, gap_human):
    """Errors (same definitions for every solver), pinch gaps and jerk of one solved clip."""
    errs = [ik.errors(q, f) for q, f in zip(qpos, frames_hand)]
    tips = np.array([ik.keypoints_of(q) for q in qpos])
    jerk_q = np.abs(np.diff(qpos, 3, axis=0)).mean() * FPS ** 3
    jerk_tip = np.linalg.norm(np.diff(tips, 3, axis=0), axis=-1).mean() * FPS ** 3
    pinch = gap_human < ik.config.pinch_enter_m
    return {
        "fingertip_error_mm": _mm([e["fingertip_error_m"] for e in errs]),
        "vector_error_mm": _mm([e["vector_error_m"] for e in errs]),
        "pinch_frames": int(pinch.sum()),
        "pinch_gap_mm": [round(e["thumb_index_gap_m"] * 1e3, 2)
                         for e, p in zip(errs, pinch) if p],
        "jerk_joint_rad_s3": round(float(jerk_q), 1),
        "jerk_tip_m_s3": round(float(jerk_tip), 3),
    }


def _sustained_pinch(solve, reset, set_start, frames_hand, order, ik, count=20):
    """Robot thumb-index gap after the human thumb tip moves onto the index tip (5 mm apart,
    15 frames) and stays (10 frames), from the ``count`` clip frames nearest a pinch."""
    gaps = []
    for f in order[:count]:
        reset()
        set_start(frames_hand[f])
        target = frames_hand[f][8] + np.array([0.0, 0.0, -0.005])
        for s in list(np.linspace(0.0, 1.0, 15)) + [1.0] * 10:
            human = frames_hand[f].copy()
            human[4] = (1 - s) * frames_hand[f][4] + s * target
            q = solve(human)
        gaps.append(ik.errors(q, human)["thumb_index_gap_m"])
    return _mm(gaps)


def _reachable(ik, samples: int, seed: int = 0) -> dict:
    """Random robot poses -> FK -> targets -> solve from a start perturbed by 0.1 rad (30
    iterations at most). Poses where a pinch or the fingertip barrier would change the target
    are drawn again: those are not reachable by design."""
    rng = np.random.default_rng(seed)
    cfg, kp = ik.config, list(ik.keypoint_indices)
    tips = [kp.index(t) for t in (8, 12, 16, 20) if t in kp]
    errors, iterations, drawn = [], [], 0
    while len(errors) < samples and drawn < 100 * samples:
        drawn += 1
        x = rng.uniform(ik.independent_lower, ik.independent_upper)
        robot = ik.keypoints_of(ik.qpos_from_independent(x))
        human = np.zeros((21, 3))
        human[ik.keypoint_indices] = robot / ik.scales[:, None]
        if 4 in kp and tips:
            thumb = np.linalg.norm(human[[kp[i] for i in tips]] - human[4], axis=1)
            if thumb.min() < cfg.pinch_exit_m:
                continue
        apart = [np.linalg.norm(robot[a] - robot[b]) for i, a in enumerate(tips)
                 for b in tips[i + 1:]]
        if apart and min(apart) < cfg.collision_min_distance_m:
            continue
        start = np.clip(x + rng.normal(0.0, 0.1, x.shape), ik.independent_lower,
                        ik.independent_upper)
        ik.reset(ik.qpos_from_independent(start))
        q = ik.solve(human, max_iterations=30)
        errors.append(ik.errors(q, human)["vector_error_m"])
        iterations.append(ik.info.iterations)
    return {"samples": len(errors), "vector_error_mm": _mm(errors, digits=6),
            "iterations_mean": round(float(np.mean(iterations)), 2)}


class _DexSolver:
    """dex-retargeting's vector retargeting for one dex-urdf hand, unfiltered."""

    def __init__(self, name: str, data_dir: Path, ik):
        import contextlib
        import io

        import dex_retargeting
        from dex_retargeting.retargeting_config import RetargetingConfig

        spec = DEX_URDF_HANDS[name]
        RetargetingConfig.set_default_urdf_dir(str(data_dir / "dex-urdf" / "hands"))
        config_path = Path(dex_retargeting.__file__).parent / "configs" / "teleop" / spec.dex_config
        override = {"low_pass_alpha": -1.0}  # compare raw solvers; filters are separate
        if spec.locked_joints:  # the same finger joints as Dyad's (the wrist held at zero)
            override["target_joint_names"] = list(ik.independent_joint_names)
        noise = io.StringIO()
        with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
            config = RetargetingConfig.load_from_file(config_path, override=override)
            self.retargeting = config.build()
        self.config = config
        indices = self.retargeting.optimizer.target_link_human_indices
        self.origin, self.task = indices[0], indices[1]
        names = list(self.retargeting.joint_names)
        # Joints dex-retargeting does not optimise (the Shadow wrist here) are held at zero.
        self.fixed_qpos = np.zeros(len(self.retargeting.optimizer.idx_pin2fixed))
        self.columns = np.array([names.index(n) for n in ik.joint_names])

    def refs(self, frames_operator: np.ndarray) -> np.ndarray:
        return frames_operator[:, self.task] - frames_operator[:, self.origin]

    def reset(self) -> None:
        self.retargeting.reset()

    def solve(self, ref: np.ndarray) -> np.ndarray:
        return self.retargeting.retarget(ref, fixed_qpos=self.fixed_qpos)[self.columns]


def _bench_hand(name: str, args, frames_operator: np.ndarray, frames_hand: np.ndarray) -> dict:
    from dyad.retarget.input_conventions import ROTATION_HAND_TO_OPERATOR

    ik = load_dex_urdf_hand(name, args.data_dir)
    gap_human = np.linalg.norm(frames_hand[:, 4] - frames_hand[:, 8], axis=1)
    order = np.argsort(gap_human)
    out: dict = {"joints": len(ik.joint_names), "independent_joints": ik.num_independent,
                 "keypoints": [int(k) for k in ik.keypoint_indices], "scale": float(ik.scales[0])}

    wall, cpu, best, cold, qpos = _time_passes(ik.solve, ik.reset, frames_hand, args.repeats)
    dyad = _timing(wall, cpu, best, cold)
    dyad.update(_quality(ik, qpos, frames_hand, gap_human))
    dyad["frames_with_a_joint_on_a_limit"] = int(sum(
        ((ik.independent_from_qpos(q) <= ik.independent_lower + 1e-9)
         | (ik.independent_from_qpos(q) >= ik.independent_upper - 1e-9)).any() for q in qpos))

    def start_dyad(frame):
        ik.solve(frame, max_iterations=ik.config.first_frame_iterations)

    dyad["sustained_pinch_gap_mm"] = _sustained_pinch(ik.solve, ik.reset, start_dyad,
                                                      frames_hand, order, ik)
    dyad["reachable"] = _reachable(ik, args.reachable_samples)
    out["dyad"] = dyad

    if args.no_dex:
        out["dex_retargeting"] = {"available": False, "reason": "--no-dex"}
        return out
    try:
        import torch
        torch.set_num_threads(1)  # one core, like Dyad's solver
        dex = _DexSolver(name, Path(args.data_dir), ik)
    except Exception as exc:  # not installed, or broken: report, do not fail the bench
        out["dex_retargeting"] = {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
        return out
    refs = dex.refs(frames_operator)
    wall_d, cpu_d, best_d, cold_d, qpos_d = _time_passes(dex.solve, dex.reset, refs,
                                                         args.repeats)
    dex_out = {"available": True, **_timing(wall_d, cpu_d, best_d, cold_d),
               "config": DEX_URDF_HANDS[name].dex_config, "filter": "off (low_pass_alpha=-1)"}
    dex_out.update(_quality(ik, qpos_d, frames_hand, gap_human))

    def solve_dex_hand(frame_hand):
        operator = frame_hand @ ROTATION_HAND_TO_OPERATOR.T
        return dex.solve(operator[dex.task] - operator[dex.origin])

    def start_dex(frame_hand):
        for _ in range(5):  # SLSQP converges within one call; a few settle it like Dyad's cold
            solve_dex_hand(frame_hand)

    dex_out["sustained_pinch_gap_mm"] = _sustained_pinch(solve_dex_hand, dex.reset, start_dex,
                                                         frames_hand, order, ik)
    out["dex_retargeting"] = dex_out
    out["speedup_vs_dex"] = {
        f"{label}_{stat}": round(dex_out[key][stat] / dyad[key][stat], 2)
        for label, key in (("wall", "ms_per_frame"), ("cpu", "cpu_ms_per_frame"),
                           ("best", "best_of_repeats_ms_per_frame"))
        for stat in ("mean", "p99")}
    out["vector_error_delta_mm"] = round(
        dyad["vector_error_mm"]["mean"] - dex_out["vector_error_mm"]["mean"], 3)
    out["fingertip_error_delta_mm"] = round(
        dyad["fingertip_error_mm"]["mean"] - dex_out["fingertip_error_mm"]["mean"], 3)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench retarget``."""
    parser.add_argument("--hands", nargs="+", default=list(DEX_URDF_HANDS),
                        choices=list(DEX_URDF_HANDS), metavar="HAND",
                        help=f"dex-urdf hands to measure (default: all: {', '.join(DEX_URDF_HANDS)})")
    parser.add_argument("--data-dir", default=str(SHARED_DATA.resolve()),
                        help="folder with dex-urdf/ and the clip (default: shared/data beside the "
                             "repository)")
    parser.add_argument("--frames", default=None,
                        help="(T, 21, 3) MediaPipe-order clip in the operator frame, .npy "
                             "(default: DATA_DIR/mediapipe_right_hand_621.npy)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed passes over the clip per solver (default 3)")
    parser.add_argument("--reachable-samples", type=int, default=200,
                        help="random reachable poses per hand (default 200)")
    parser.add_argument("--no-dex", action="store_true", help="skip dex-retargeting")


def run(args: argparse.Namespace) -> dict:
    """Measure every requested hand; see the module docstring for what is measured."""
    from dyad.errors import DyadInputError
    from dyad.retarget.input_conventions import to_hand_frame

    data_dir = Path(args.data_dir)
    clip = Path(args.frames) if args.frames else data_dir / "mediapipe_right_hand_621.npy"
    if not clip.is_file():
        raise DyadInputError(f"retarget bench: clip {clip} does not exist")
    if args.repeats < 1:
        raise DyadInputError(f"--repeats must be >= 1, got {args.repeats}")
    frames_operator = np.load(clip).astype(np.float64)
    if frames_operator.ndim != 3 or frames_operator.shape[1:] != (21, 3):
        raise DyadInputError(f"retarget bench: {clip} has shape {frames_operator.shape}, "
                             "expected (T, 21, 3)")
    frames_hand = to_hand_frame(frames_operator, "mediapipe_operator", "right")
    gap = np.linalg.norm(frames_hand[:, 4] - frames_hand[:, 8], axis=1)
    results = {
        "clip": {"path": str(clip), "frames": int(len(frames_hand)), "fps": FPS,
                 "human_thumb_index_gap_mm": _mm(gap) | {"min": round(float(gap.min()) * 1e3, 2)}},
        "timing": "per frame, warm-started, one thread; first frame of each pass (cold) apart",
        "error_definitions": {
            "fingertip_error": "mean over tips of |robot tip - scale * human tip|, wrist-relative",
            "vector_error": "mean over wrist->keypoint and thumb->fingertip vectors of "
                            "|robot - scale * human|",
            "pinch_gap": "robot thumb-index tip distance on frames whose human gap < 2 cm",
            "sustained_pinch_gap": "robot gap after the human thumb tip is brought onto the "
                                   "index tip (15 frames) and held (10 frames), 20 start frames",
            "jerk": "mean |third difference| * fps^3 of joints (rad/s^3) and tips (m/s^3)",
        },
        "hands": {},
    }
    for name in args.hands:
        print(f"retarget bench: {name}", file=sys.stderr)
        results["hands"][name] = _bench_hand(name, args, frames_operator, frames_hand)
    hands = list(results["hands"].values())
    worst = {}
    for key in ("ms_per_frame", "cpu_ms_per_frame", "best_of_repeats_ms_per_frame"):
        for stat in ("mean", "p99"):
            worst[f"dyad_{key}_{stat}_worst"] = max(h["dyad"][key][stat] for h in hands)
    worst["dyad_reachable_vector_error_mm_mean_worst"] = max(
        h["dyad"]["reachable"]["vector_error_mm"]["mean"] for h in hands)
    worst["dyad_reachable_vector_error_mm_p95_worst"] = max(
        h["dyad"]["reachable"]["vector_error_mm"]["p95"] for h in hands)
    worst["dyad_sustained_pinch_gap_mm_max_worst"] = max(
        h["dyad"]["sustained_pinch_gap_mm"]["max"] for h in hands)
    compared = [h for h in hands if "speedup_vs_dex" in h]
    if compared:
        for key in compared[0]["speedup_vs_dex"]:
            worst[f"speedup_vs_dex_{key}_min"] = min(h["speedup_vs_dex"][key] for h in compared)
        worst["vector_error_delta_mm_max"] = max(h["vector_error_delta_mm"] for h in compared)
        worst["fingertip_error_delta_mm_max"] = max(h["fingertip_error_delta_mm"]
                                                    for h in compared)
    results["summary"] = worst
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m dyad.bench.retarget``: the same as ``dyad bench retarget``."""
    parser = argparse.ArgumentParser(prog="dyad bench retarget", description=HELP)
    add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = run(args)
    print(json.dumps(results, indent=2 if not args.json else None, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
