"""Training loop of the contrastive text-motion evaluator (``dyad train evaluator``).

Batches hold distinct clips of one mode, each cut to at most ``max_frames`` from a random start
and paired with a random caption; the loss is symmetric InfoNCE (``evaluator.py``). Every
``val_every`` steps the retrieval accuracy (top-1 and top-3 among batches of 32, the
R-precision protocol) on the validation split is logged. Files: ``OUT/evaluator.pt``,
``OUT/last.pt`` (for ``--resume``), ``OUT/metrics.jsonl`` and ``OUT/metrics.png``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from dyad.errors import DyadInputError
from dyad.generator.text_conditioning import TextCondition, collate_conditions
from dyad.generator.text_encoder import shared_text_encoder

from .evaluator import EvaluatorConfig, MotionTextEvaluator, save_evaluator
from .motion_dataset import ClipDataset, Clip, collate_clips, load_train_and_val
from .text_cache import encode_texts
from .training_run import (MetricsLog, check_positive, distributed_runner, joined_run,
                           load_resume_state, progress_bar, rng_state, save_resume_state,
                           set_rng_state, set_up_process, warmup_cosine)

R_PRECISION_BATCH = 32
DEFAULT_STEPS = 4000


@dataclass
class EvaluatorTrainOptions:
    """Options of ``dyad train evaluator`` (see ``GeneratorTrainOptions`` for shared ones)."""

    data: list
    out: Path
    steps: int | None = None
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 200
    seed: int = 0
    device: str = "auto"
    threads: int | str | None = "auto"
    time_budget_min: float | None = None
    log_every: int = 25
    val_every: int = 250
    checkpoint_every: int = 500
    max_clips: int | None = None
    resume: bool = False
    progress: bool = True
    model: EvaluatorConfig = field(default_factory=EvaluatorConfig)

    def check(self) -> None:
        if self.steps is not None:
            check_positive("--steps", self.steps)
        check_positive("--batch-size", self.batch_size)
        check_positive("--lr", self.lr, integer=False)
        if self.batch_size < 2:
            raise DyadInputError("--batch-size must be at least 2 for a contrastive loss")
        if not self.data:
            raise DyadInputError("give at least one --data folder")


def text_batch(texts: list[str], encodings: dict, max_tokens: int):
    """Overall-text batch for the evaluator."""
    return collate_conditions([TextCondition({"overall": encodings[t]}) for t in texts],
                              max_tokens)


def same_text_matrix(texts: list[str]) -> torch.Tensor:
    arr = np.array(texts, dtype=object)
    return torch.from_numpy(arr[:, None] == arr[None, :])


def normalization_frames(model: MotionTextEvaluator, mode: str, clips: list[Clip],
                         max_clips: int = 300) -> torch.Tensor:
    """(N, 2, 2F) feature frames of up to ``max_clips`` clips for the statistics."""
    feats = []
    for clip in clips[:max_clips]:
        joints = torch.from_numpy(clip.joints[:model.config.max_frames])[None]
        feats.append(model.motion_features(mode, joints)[0])
    return torch.cat(feats)


def train_evaluator(opts: EvaluatorTrainOptions) -> dict:
    """Train the evaluator; returns a summary dict."""
    opts.check()
    with joined_run(opts.device) as ctx:
        return _train(opts, ctx)


def _train(opts: EvaluatorTrainOptions, ctx) -> dict:
    out = Path(opts.out)
    device, main = ctx.device, ctx.is_main
    set_up_process(ctx, opts.threads, opts.seed)
    last_path = out / "last.pt"
    resume_state = None
    if opts.resume:
        resume_state = load_resume_state(last_path)
        opts = replace(opts, model=EvaluatorConfig.from_dict(resume_state["config"]),
                       steps=opts.steps or resume_state["planned_steps"])
    opts = replace(opts, steps=opts.steps or DEFAULT_STEPS)
    if main:
        out.mkdir(parents=True, exist_ok=True)
    cfg = opts.model
    train, val = load_train_and_val(opts.data, opts.max_clips)
    modes = tuple(m for m in ("duet", "bimanual") if m in train)
    encoder = shared_text_encoder(device, cfg.max_text_tokens)
    texts = sorted({t for m in modes for c in train[m] + val.get(m, []) for t in c.texts})
    encodings = encode_texts(encoder, texts, out / "text_cache.pt", write=main)

    model = MotionTextEvaluator(cfg, modes)
    for mode in modes:
        model.set_normalization(mode, normalization_frames(model, mode, train[mode]))
    model.to(device)
    runner = distributed_runner(_Objective(model), ctx)
    optimizer = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    datasets = {m: ClipDataset(train[m], cfg.max_frames, seed=opts.seed) for m in modes}
    counts = np.array([len(train[m]) for m in modes], dtype=float)
    step, planned, elapsed_before = 0, opts.steps, 0.0
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        step, planned = resume_state["step"], opts.steps
        elapsed_before = resume_state.get("elapsed_s", 0.0)
        set_rng_state(resume_state["rng"])
    log = MetricsLog(out / "metrics.jsonl", resume_step=step if resume_state else None) \
        if main else None
    info = {"modes": list(modes), "train_clips": {m: len(train[m]) for m in modes},
            "parameters": sum(p.numel() for p in model.parameters()),
            "data": [str(d) for d in opts.data], "world_size": ctx.world_size}
    bar = progress_bar(main and opts.progress, planned, step, "train evaluator")
    t_start = time.perf_counter()
    first_step = step
    window: dict[str, list[float]] = {}

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t_start

    last = {"saved": -1}

    def save(final: bool = False) -> None:
        if not main or last["saved"] == step:
            return
        last["saved"] = step
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "step": step, "planned_steps": planned, "elapsed_s": elapsed(),
                 "config": asdict(cfg), "rng": rng_state()}
        save_resume_state(state, last_path)
        save_evaluator(out / "evaluator.pt", model, {**info, "step": step})
        log.plot_when_due("evaluator training", final)

    model.train()
    while step < planned:
        rng = np.random.default_rng([opts.seed, step])
        mode = modes[int(rng.choice(len(modes), p=counts / counts.sum()))]
        ds = datasets[mode]
        ds.set_epoch(step)
        n = min(opts.batch_size, len(ds))
        # Distinct clips per batch; ranks draw different clips of the same mode.
        picks = np.random.default_rng([opts.seed, step, ctx.rank]).permutation(len(ds))[:n]
        batch = collate_clips([ds[int(i)] for i in picks])
        text = text_batch(batch["text"], encodings, cfg.max_text_tokens).to(device)
        lr = opts.lr * warmup_cosine(step, planned, opts.warmup_steps)
        for g in optimizer.param_groups:
            g["lr"] = lr
        loss = runner(mode, batch["joints"].to(device), batch["mask"].to(device), text,
                      same_text_matrix(batch["text"]).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        window.setdefault(f"{mode}/loss", []).append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss):.3f}", mode=mode[:3])
        if opts.time_budget_min is not None:
            budget_s = opts.time_budget_min * 60
            if step == first_step + 20 and step < planned:
                # Fit the learning-rate schedule to the budget from the measured speed.
                per_step = (time.perf_counter() - t_start) / 20
                planned = min(opts.steps, step + max(int((budget_s - elapsed()) / per_step), 1))
                if bar is not None:
                    bar.total = planned
                    bar.refresh()
            if elapsed() > budget_s:
                planned = step
        if step % opts.log_every == 0 or step >= planned:
            row = {"step": step, "lr": lr, "time_s": round(elapsed(), 2),
                   "temperature": float(model.log_temperature.detach().exp())}
            row.update({k: float(np.mean(v)) for k, v in window.items()})
            row["train/loss"] = float(np.mean([v for vs in window.values() for v in vs]))
            window = {}
            if val and (step % opts.val_every == 0 or step >= planned):
                row.update(retrieval_accuracy(model, val, encodings, device))
                model.train()
            if log is not None:
                log.write(row)
        if step % opts.checkpoint_every == 0 or step >= planned:
            save(final=step >= planned)
    if bar is not None:
        bar.close()
    summary = {"steps": step, "elapsed_s": round(elapsed(), 1),
               "checkpoint": str(out / "evaluator.pt"), **info}
    if main:
        save(final=True)
        rows = log.rows()
        summary["final_metrics"] = rows[-1] if rows else {}
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


class _Objective(torch.nn.Module):
    """The evaluator's loss as one ``forward`` (so DDP sees every parameter use)."""

    def __init__(self, model: MotionTextEvaluator):
        super().__init__()
        self.model = model

    def forward(self, mode, joints, mask, text, same_text):
        return self.model.contrastive_loss(self.model.encode_text(text),
                                           self.model.encode_motion(mode, joints, mask),
                                           same_text)


@torch.no_grad()
def retrieval_accuracy(model: MotionTextEvaluator, clips_by_mode: dict, encodings: dict,
                       device) -> dict:
    """Top-1 / top-3 text-to-motion retrieval among consecutive batches of 32 validation clips
    (first caption, whole clip)."""
    model.eval()
    out = {}
    for mode, clips in clips_by_mode.items():
        if mode not in model.modes or len(clips) < 2:
            continue
        ds = ClipDataset(clips, model.config.max_frames, random_caption=False)
        hits1, hits3, total = 0, 0, 0
        for start in range(0, len(ds), R_PRECISION_BATCH):
            batch = collate_clips([ds[i] for i in range(start, min(len(ds),
                                                                   start + R_PRECISION_BATCH))])
            if len(batch["text"]) < 2:
                continue
            t = model.encode_text(text_batch(batch["text"], encodings,
                                             model.config.max_text_tokens).to(device))
            m = model.encode_motion(mode, batch["joints"].to(device), batch["mask"].to(device))
            dist = torch.cdist(t, m)
            rank = (dist < dist.diagonal()[:, None]).sum(1)
            hits1 += int((rank < 1).sum())
            hits3 += int((rank < 3).sum())
            total += len(rank)
        if total:
            out[f"val/{mode}/top1"] = hits1 / total
            out[f"val/{mode}/top3"] = hits3 / total
    return out
