"""Training loop of the text-to-motion chunk model (``dyad train generator``).

One run trains one model on one or more synthesised folders (one per mode); batches alternate
between the modes in proportion to their clip counts. The run folder gets:

- ``metrics.jsonl`` / ``metrics.png``: losses, learning rate, speed, validation losses;
- ``last.pt``: everything needed by ``--resume`` (weights, EMA weights, optimiser, step, RNG);
- ``generator.pt``: the inference checkpoint (EMA weights) that ``dyad generate --checkpoint``
  and ``dyad eval`` read; with ``--install-default`` it is also written, in float16, to the
  packaged default path;
- ``samples/``: one generated motion per mode at the end, as a quick look;
- ``text_cache.pt``: text encodings of the dataset.

Runs are reproducible for a given seed, device and world size.
"""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from dyad.errors import DyadInputError
from dyad.generator.canonical_frame import canonical_frame, to_canonical
from dyad.generator.checkpoint import (DEFAULT_CHECKPOINT, MAX_DEFAULT_CHECKPOINT_MB,
                                       save_checkpoint)
from dyad.generator.config import ModelConfig, SamplingOptions
from dyad.generator.features import positions_to_features
from dyad.generator.contact_plan import build_contact_planner
from dyad.generator.mode_selector import build_mode_selector
from dyad.generator.model import ChunkFlowModel, count_parameters
from dyad.generator.modes import MODE_SPECS
from dyad.generator.text_conditioning import TextCondition, collate_conditions
from dyad.generator.text_encoder import shared_text_encoder

from .generator_objective import GeneratorObjective, LossWeights
from .motion_dataset import (ChunkWindowDataset, Clip, all_texts, collate_windows,
                             load_train_and_val)
from .text_cache import encode_texts
from .training_run import (MetricsLog, check_positive, distributed_runner, joined_run,
                           load_resume_state, progress_bar, rng_state, save_resume_state,
                           set_rng_state, set_up_process, warmup_cosine)


DEFAULT_STEPS = 40000


@dataclass
class GeneratorTrainOptions:
    """Options of one training run (the CLI flags of ``dyad train generator``).

    Attributes:
        data: synthesised folders (``DIR/train/*.npz``; ``DIR/val`` used when present).
        out: run folder.
        steps: optimiser steps (an upper bound when ``time_budget_min`` is set); ``None``:
            ``DEFAULT_STEPS``, or the resumed run's own when resuming.
        time_budget_min: stop after this many minutes of training, planning the learning-rate
            schedule and the rollout phase to fit (``None``: no limit).
        rollout_from: fraction of the run after which batches may use the model's own history.
        rollout_prob: share of batches trained on rollouts once that phase starts.
        rollout_steps: Euler steps of those rollouts.
        text_drop_prob: share of examples without text (for classifier-free guidance).
        word_drop_prob: share of word tokens hidden from the network (sentence vectors
            stay): captions the model never saw word for word are then less foreign.
        words_off_prob: share of examples whose word tokens are all hidden (sentence
            vectors only).
        first_chunk_prob: share of windows that train a motion's first chunk.
        agent_text_prob: share of examples keeping their per-agent texts.
        install_default: also write the final model to the packaged default path.
    """

    data: list
    out: Path
    steps: int | None = None
    batch_size: int = 32
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup_steps: int = 300
    ema_decay: float = 0.999
    seed: int = 0
    device: str = "auto"
    threads: int | str | None = "auto"
    time_budget_min: float | None = None
    rollout_from: float = 0.5
    rollout_prob: float = 0.5
    rollout_steps: int = 4
    text_drop_prob: float = 0.1
    word_drop_prob: float = 0.0
    words_off_prob: float = 0.0
    first_chunk_prob: float = 0.2
    agent_text_prob: float = 0.5
    log_every: int = 25
    val_every: int = 500
    checkpoint_every: int = 500
    max_clips: int | None = None
    resume: bool = False
    install_default: bool = False
    progress: bool = True
    model: ModelConfig = field(default_factory=ModelConfig)
    weights: LossWeights = field(default_factory=LossWeights)
    sampling: SamplingOptions = field(default_factory=SamplingOptions)

    def check(self) -> None:
        if self.steps is not None:
            check_positive("--steps", self.steps)
        check_positive("--batch-size", self.batch_size)
        check_positive("--lr", self.lr, integer=False)
        if self.time_budget_min is not None:
            check_positive("--time-budget-min", self.time_budget_min, integer=False)
        for name in ("rollout_from", "rollout_prob", "text_drop_prob", "first_chunk_prob",
                     "agent_text_prob", "word_drop_prob", "words_off_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise DyadInputError(f"--{name.replace('_', '-')} must be within 0..1, "
                                     f"got {value}")
        if not self.data:
            raise DyadInputError("give at least one --data folder")

    def describe(self) -> dict:
        d = asdict(self)
        d["data"] = [str(p) for p in self.data]
        d["out"] = str(self.out)
        return d


def feature_statistics(clips: list[Clip], mode: str, config: ModelConfig, windows: int = 4000,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-agent mean and standard deviation (2, F) of the canonical features of training
    windows, both first-chunk windows and windows with a history."""
    spec = MODE_SPECS[mode]
    ds = ChunkWindowDataset(clips, config.history_frames, config.chunk_frames,
                            first_chunk_prob=0.2, seed=seed + 7919, chunks=1)
    feats = []
    h, c = config.history_frames, config.chunk_frames
    for start in range(0, windows, 256):
        items = [ds[i] for i in range(start, min(windows, start + 256))]
        batch = collate_windows(items)
        frames = batch["frames"].double()[:, :h + c]
        valid = batch["history_valid"]
        o_h, y_h = canonical_frame(frames[:, h - 1], spec)
        o_f, y_f = canonical_frame(frames[:, h], spec)
        origin = torch.where(valid[:, None], o_h, o_f)
        yaw = torch.where(valid, y_h, y_f)
        canon = to_canonical(frames, origin, yaw)
        # First-chunk windows only contribute their chunk (their history is padding).
        f = positions_to_features(canon.permute(0, 2, 1, 3, 4), spec)  # (B, 2, T, F)
        feats.append(f[valid].permute(1, 0, 2, 3).flatten(1, 2))
        feats.append(f[~valid][:, :, h:].permute(1, 0, 2, 3).flatten(1, 2))
    allf = torch.cat(feats, dim=1)  # (2, N, F)
    return allf.mean(dim=1).float(), allf.std(dim=1).float()


class _Batches:
    """Endless batches of one mode, split across ranks, reshuffled every pass."""

    def __init__(self, dataset: ChunkWindowDataset, batch_size: int, rank: int, world: int):
        self.dataset = dataset
        self.sampler = DistributedSampler(dataset, num_replicas=world, rank=rank,
                                          shuffle=False, drop_last=True) if world > 1 else None
        self.loader = DataLoader(dataset, batch_size=batch_size, sampler=self.sampler,
                                 shuffle=False, drop_last=True, collate_fn=collate_windows,
                                 num_workers=0)
        self.epoch = 0
        self._it = None

    def set_position(self, epoch: int) -> None:
        self.epoch = epoch
        self._it = None

    def next(self) -> dict:
        while True:
            if self._it is None:
                self.dataset.set_epoch(self.epoch)
                if self.sampler is not None:
                    self.sampler.set_epoch(self.epoch)
                self._it = iter(self.loader)
            try:
                return next(self._it)
            except StopIteration:
                self.epoch += 1
                self._it = None


def _text_batch(batch: dict, mode: str, encodings: dict, max_tokens: int,
                drop: np.ndarray):
    roles = MODE_SPECS[mode].text_roles
    conds = []
    for text, agents in zip(batch["text"], batch["agent_texts"]):
        encs = {"overall": encodings[text]}
        encs.update({roles[a]: encodings[t] for a, t in agents.items() if a in roles and t})
        conds.append(TextCondition(encs))
    tb = collate_conditions(conds, max_tokens)
    return tb.drop(torch.from_numpy(drop))


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)


def train_generator(opts: GeneratorTrainOptions) -> dict:
    """Run one training (see the module docstring); returns a summary dict."""
    opts.check()
    with joined_run(opts.device) as ctx:
        return _train(opts, ctx)


def _train(opts: GeneratorTrainOptions, ctx) -> dict:
    out = Path(opts.out)
    device, main = ctx.device, ctx.is_main
    threads = set_up_process(ctx, opts.threads, opts.seed)
    last_path = out / "last.pt"
    resume_state = None
    if opts.resume:
        resume_state = load_resume_state(last_path)
        saved = resume_state["options"]
        opts = replace(opts, model=ModelConfig.from_dict(saved["model"]),
                       steps=opts.steps or saved["steps"])
    opts = replace(opts, steps=opts.steps or DEFAULT_STEPS)
    if main:
        out.mkdir(parents=True, exist_ok=True)

    train, val = load_train_and_val(opts.data, opts.max_clips)
    modes = tuple(m for m in MODE_SPECS if m in train)
    if resume_state is None:
        # Elapsed time is clamped where the data end: a long stream then stays in the regime
        # of a clip's late part instead of feeding the network times it never saw.
        durations = [c.num_frames / opts.model.fps for m in modes for c in train[m]]
        opts = replace(opts, model=replace(
            opts.model, max_elapsed_s=max(1.0, round(float(np.percentile(durations, 95)) * 2)
                                          / 2)))
    cfg = opts.model
    encoder = shared_text_encoder(device, cfg.max_text_tokens)
    texts = all_texts([c for m in modes for c in train[m] + val.get(m, [])])
    encodings = encode_texts(encoder, texts, out / "text_cache.pt", write=main)

    model = ChunkFlowModel(cfg, modes)
    for mode in modes:
        mean, std = feature_statistics(train[mode], mode, cfg, seed=opts.seed,
                                       windows=min(4000, 100 * len(train[mode])))
        model.set_normalization(mode, mean, std)
    selector = build_mode_selector(encoder, {m: [t for c in train[m] for t in c.texts]
                                             for m in modes}, seed=opts.seed)
    planner = build_contact_planner(encoder, {m: train[m] for m in modes}, seed=opts.seed)
    model.to(device)
    ema = copy.deepcopy(model).requires_grad_(False).eval()
    objective = GeneratorObjective(model, opts.weights, opts.rollout_steps)
    runner = distributed_runner(objective, ctx)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in name or "null" in name or "start" in name
         else decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": opts.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=opts.lr, betas=(0.9, 0.99))

    # Plain batches need one chunk after the history, rollout batches two.
    batches = {(m, chunks): _Batches(
        ChunkWindowDataset(train[m], cfg.history_frames, cfg.chunk_frames,
                           opts.first_chunk_prob, opts.agent_text_prob,
                           samples_per_epoch=max(len(train[m]), opts.batch_size * 8),
                           seed=opts.seed + chunks, chunks=chunks),
        opts.batch_size, ctx.rank, ctx.world_size) for m in modes for chunks in (1, 2)}
    counts = np.array([len(train[m]) for m in modes], dtype=float)
    mode_prob = counts / counts.sum()
    step, planned = 0, opts.steps
    elapsed_before = 0.0
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        ema.load_state_dict(resume_state["ema"])
        optimizer.load_state_dict(resume_state["optimizer"])
        step = resume_state["step"]
        # A run planned to fit a time budget keeps its plan; otherwise --steps decides.
        planned = resume_state["planned_steps"] if opts.time_budget_min else opts.steps
        elapsed_before = resume_state.get("elapsed_s", 0.0)
        for key, b in batches.items():
            b.set_position(resume_state["epochs"].get(f"{key[0]}/{key[1]}", 0))
        set_rng_state(resume_state["rng"][ctx.rank] if ctx.rank < len(resume_state["rng"])
                      else resume_state["rng"][0])
    log = MetricsLog(out / "metrics.jsonl", resume_step=step if resume_state else None) \
        if main else None
    info = {"parameters": count_parameters(model), "modes": list(modes),
            "train_clips": {m: len(train[m]) for m in modes},
            "val_clips": {m: len(val.get(m, [])) for m in modes},
            "data": [str(d) for d in opts.data], "world_size": ctx.world_size,
            "cpu_threads": threads,
            "device": str(device), "options": opts.describe()}
    if main:
        (out / "run.json").write_text(json.dumps(info, indent=2))

    bar = progress_bar(main and opts.progress, planned, step, "train generator")
    t_start = t_step = time.perf_counter()
    step_times: deque[float] = deque(maxlen=20)
    first_step = step
    window: dict[str, list[float]] = {}
    replanned: set[int] = set()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t_start

    last = {"saved": -1}

    def save(final: bool = False) -> None:
        if not main or last["saved"] == step:
            return
        last["saved"] = step
        state = {"model": model.state_dict(), "ema": ema.state_dict(),
                 "optimizer": optimizer.state_dict(), "step": step, "planned_steps": planned,
                 "elapsed_s": elapsed(), "options": opts.describe(),
                 "epochs": {f"{m}/{c}": b.epoch for (m, c), b in batches.items()},
                 "rng": [rng_state()]}
        save_resume_state(state, last_path)
        save_checkpoint(out / "generator.pt", ema, selector, opts.sampling,
                        {**info, "step": step, "elapsed_s": round(elapsed(), 1),
                         "final": final}, planner=planner)
        log.plot_when_due(f"generator training ({', '.join(modes)})", final)

    model.train()
    while step < planned:
        rng = np.random.default_rng([opts.seed, step])
        mode = modes[int(rng.choice(len(modes), p=mode_prob))]
        rollout = (step >= opts.rollout_from * planned and rng.random() < opts.rollout_prob)
        batch = batches[(mode, 2 if rollout else 1)].next()
        drop = np.random.default_rng([opts.seed, step, ctx.rank]).random(
            len(batch["text"])) < opts.text_drop_prob
        text = _text_batch(batch, mode, encodings, cfg.max_text_tokens, drop)
        if opts.word_drop_prob or opts.words_off_prob:
            text = text.drop_words(opts.word_drop_prob, opts.words_off_prob,
                                   torch.Generator().manual_seed(
                                       int(np.random.default_rng([opts.seed, step, ctx.rank, 1])
                                           .integers(2**62))))
        text = text.to(device)
        lr = opts.lr * warmup_cosine(step, planned, opts.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        losses = runner(mode, batch["frames"].to(device), batch["history_valid"].to(device),
                        batch["start_frame"].to(device), text, rollout)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if not torch.isfinite(losses["loss"]):
            raise FloatingPointError(f"training loss is not finite at step {step} "
                                     f"({ {k: float(v) for k, v in losses.items()} })")
        optimizer.step()
        _ema_update(ema, model, min(opts.ema_decay, (1 + step) / (10 + step)))
        step += 1
        for k, v in losses.items():
            window.setdefault(f"{mode}/{k}", []).append(float(v.detach()))
        window.setdefault("grad_norm", []).append(float(grad_norm))
        window.setdefault("rollout", []).append(float(rollout))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(losses['loss'].detach()):.3f}", mode=mode[:3])

        now = time.perf_counter()
        step_times.append(now - t_step)
        t_step = now
        # Fit the schedule into the time budget: measure, then re-plan once early and once
        # after the (slower) rollout phase has started.
        if opts.time_budget_min is not None:
            rollout_start = int(opts.rollout_from * planned)
            for mark in (first_step + 20, rollout_start + 20):
                if step == mark and mark not in replanned and step < planned:
                    replanned.add(mark)
                    per_step = float(np.mean(step_times))
                    if step < rollout_start:
                        # A rollout batch costs about (1 + rollout_steps / 3) plain ones.
                        per_step *= 1 + opts.rollout_prob * (1 - opts.rollout_from) * \
                            opts.rollout_steps / 3
                    remaining = opts.time_budget_min * 60.0 - elapsed()
                    planned = min(opts.steps, step + max(int(remaining / per_step), 1))
                    if bar is not None:
                        bar.total = planned
                        bar.refresh()
            if elapsed() > opts.time_budget_min * 60.0:
                planned = step
        if step % opts.log_every == 0 or step >= planned:
            row = {"step": step, "lr": lr, "time_s": round(elapsed(), 2),
                   "steps_per_s": round(1.0 / max(float(np.mean(step_times)), 1e-9), 3)}
            row.update({k: float(np.mean(v)) for k, v in window.items()})
            row["train/loss"] = float(np.mean([v for k, vs in window.items()
                                               if k.endswith("/loss") for v in vs]))
            if val and (step % opts.val_every == 0 or step >= planned):
                row.update(_validate(ema, objective, val, modes, encodings, opts))
            window = {}
            if log is not None:
                log.write(row)
        if step % opts.checkpoint_every == 0 or step >= planned:
            save(final=step >= planned)
    if bar is not None:
        bar.close()
    summary = {"steps": step, "elapsed_s": round(elapsed(), 1), "out": str(out),
               "checkpoint": str(out / "generator.pt"), **{k: info[k] for k in
                                                           ("parameters", "modes",
                                                            "train_clips")}}
    if main:
        save(final=True)
        summary["samples"] = _write_samples(out, train, modes, device)
        if opts.install_default:
            path = save_checkpoint(DEFAULT_CHECKPOINT, ema, selector, opts.sampling,
                                   {**info, "step": step}, half=True, planner=planner)
            size_mb = path.stat().st_size / 1e6
            summary["installed"] = str(path)
            summary["installed_mb"] = round(size_mb, 2)
            if size_mb > MAX_DEFAULT_CHECKPOINT_MB:
                summary["warning"] = (f"default checkpoint is {size_mb:.1f} MB, over the "
                                      f"{MAX_DEFAULT_CHECKPOINT_MB:g} MB budget")
        rows = log.rows()
        summary["final_metrics"] = rows[-1] if rows else {}
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@torch.no_grad()
def _validate(ema: ChunkFlowModel, objective: GeneratorObjective, val: dict, modes, encodings,
              opts: GeneratorTrainOptions) -> dict:
    """Validation losses of the EMA weights on fixed windows (same every time)."""
    cfg = ema.config
    scorer = GeneratorObjective(ema, objective.weights, opts.rollout_steps)
    state = torch.get_rng_state()
    torch.manual_seed(opts.seed + 17)
    out = {}
    totals = []
    device = next(ema.parameters()).device
    for mode in modes:
        if not val.get(mode):
            continue
        ds = ChunkWindowDataset(val[mode], cfg.history_frames, cfg.chunk_frames,
                                opts.first_chunk_prob, opts.agent_text_prob, seed=opts.seed + 3,
                                chunks=1)
        items = [ds[i] for i in range(min(4 * opts.batch_size, max(len(ds), opts.batch_size)))]
        terms: dict[str, list[float]] = {}
        for start in range(0, len(items), opts.batch_size):
            batch = collate_windows(items[start:start + opts.batch_size])
            text = _text_batch(batch, mode, encodings, cfg.max_text_tokens,
                               np.zeros(len(batch["text"]), dtype=bool)).to(device)
            losses = scorer(mode, batch["frames"].to(device), batch["history_valid"].to(device),
                            batch["start_frame"].to(device), text, False)
            for k, v in losses.items():
                terms.setdefault(k, []).append(float(v))
        for k, v in terms.items():
            out[f"val/{mode}/{k}"] = float(np.mean(v))
        totals.append(out[f"val/{mode}/loss"])
    torch.set_rng_state(state)
    if totals:
        out["val/loss"] = float(np.mean(totals))
    return out


def _write_samples(out: Path, train: dict, modes, device) -> list[str]:
    """One generated motion per mode from a training caption, as a quick look."""
    from dyad.generator.streaming import MotionGenerator

    gen = MotionGenerator(out / "generator.pt", device=str(device))
    paths = []
    for mode in modes:
        text = train[mode][0].texts[0]
        record = gen.generate(text, mode=mode, seconds=4.0, seed=0)
        (out / "samples").mkdir(exist_ok=True)
        paths.append(str(record.save(out / "samples" / f"{mode}.npz")))
    return paths
