"""``dyad train generator``, ``dyad train evaluator`` and ``dyad eval``.

Distributed: run the same command under ``torchrun --nproc_per_node=N -m dyad.cli ...`` (or
``torchrun --nproc_per_node=N $(which dyad) ...``); ``WORLD_SIZE`` > 1 switches the loops to
``DistributedDataParallel``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def _common(p: argparse.ArgumentParser, default_out: str, default_steps: int) -> None:
    p.add_argument("--data", type=Path, action="append", required=True, metavar="DIR",
                   help="synthesised folder (DIR/train/*.npz, optional DIR/val); repeat for "
                        "several folders, e.g. one per mode")
    p.add_argument("--out", type=Path, default=Path(default_out),
                   help=f"run folder (default {default_out})")
    p.add_argument("--steps", type=int, default=None,
                   help=f"optimiser steps (default {default_steps}; when resuming, the run's "
                        "own; an upper bound with --time-budget-min)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="examples per step and rank (default 32 generator, 64 evaluator)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default 4e-4 generator, 3e-4 evaluator)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", default="auto",
                   help="CPU threads: a number, or auto = cores not busy with other work "
                        "(default auto)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--time-budget-min", type=float, default=None,
                   help="stop after this many minutes, fitting the schedule to it")
    p.add_argument("--max-clips", type=int, default=None,
                   help="use at most this many clips per folder and split (quick runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train the generator or the evaluator",
                           description="Train Dyad's networks on synthesised data.")
    tsub = train.add_subparsers(dest="what", metavar="WHAT")

    g = tsub.add_parser("generator", help="train the text-to-motion chunk model",
                        description="Train the text-to-motion chunk model (flow matching, "
                                    "rollout fine-tuning). Writes OUT/metrics.jsonl, "
                                    "OUT/metrics.png, OUT/last.pt, OUT/generator.pt.")
    _common(g, "runs/generator", 40000)
    g.add_argument("--width", type=int, default=None, help="transformer width")
    g.add_argument("--denoiser-layers", type=int, default=None)
    g.add_argument("--context-layers", type=int, default=None)
    g.add_argument("--chunk-frames", type=int, default=None, help="frames per chunk (8-16)")
    g.add_argument("--history-frames", type=int, default=None, help="history frames")
    g.add_argument("--rollout-from", type=float, default=None,
                   help="fraction of the run after which rollout batches start")
    g.add_argument("--rollout-prob", type=float, default=None,
                   help="share of rollout batches in that phase")
    g.add_argument("--word-drop-prob", type=float, default=None,
                   metavar="0..1", help="share of caption word tokens hidden while training "
                                        "(sentence vectors stay; default 0)")
    g.add_argument("--words-off-prob", type=float, default=None,
                   metavar="0..1", help="share of examples trained on sentence vectors only "
                                        "(default 0)")
    g.add_argument("--install-default", action="store_true",
                   help="also install the result as the packaged default model")
    g.set_defaults(func=run_train_generator)

    e = tsub.add_parser("evaluator", help="train the contrastive text-motion evaluator",
                        description="Train the text-motion evaluator used by 'dyad eval' "
                                    "(contrastive, on synthesised data). Writes "
                                    "OUT/evaluator.pt, OUT/metrics.jsonl, OUT/metrics.png.")
    _common(e, "runs/evaluator", 4000)
    e.set_defaults(func=run_train_evaluator)
    train.set_defaults(func=lambda args: train.print_help() or 2)

    ev = sub.add_parser("eval", help="evaluate the generator against held-out ground truth",
                        description="InterGen-style metrics (FID, R-precision, MM-Dist, "
                                    "diversity, multimodality) and physical figures of "
                                    "generated motion beside the ground truth of the test "
                                    "split.")
    ev.add_argument("--data", type=Path, action="append", required=True, metavar="DIR",
                    help="synthesised folder with a test split; repeat per mode")
    ev.add_argument("--evaluator", type=Path, default=Path("runs/evaluator/evaluator.pt"),
                    help="evaluator checkpoint (default runs/evaluator/evaluator.pt)")
    ev.add_argument("--checkpoint", type=Path, default=None,
                    help="generator checkpoint (default: the packaged model)")
    ev.add_argument("--split", default="test", help="split to evaluate (default test)")
    ev.add_argument("--replications", type=int, default=20,
                    help="repetitions of the whole protocol (default 20, as InterGen)")
    ev.add_argument("--batch-size", type=int, default=32,
                    help="R-precision batch size (default 32)")
    ev.add_argument("--diversity-times", type=int, default=300)
    ev.add_argument("--mm-samples", type=int, default=100,
                    help="texts used for multimodality (default 100)")
    ev.add_argument("--mm-repeats", type=int, default=30,
                    help="motions generated per multimodality text (default 30)")
    ev.add_argument("--mm-times", type=int, default=10,
                    help="pairs per text for multimodality (default 10)")
    ev.add_argument("--max-clips", type=int, default=None, help="evaluate at most N clips/mode")
    ev.add_argument("--steps", type=int, default=None, help="flow steps per chunk")
    ev.add_argument("--guidance", type=float, default=None, help="guidance scale")
    ev.add_argument("--contact-guidance", type=float, default=None, metavar="0..1",
                    help="pull of the contacts each text plans (0 = the network alone; "
                         "default: the checkpoint's)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.set_defaults(func=run_eval)


def _set(target: dict, key: str, value) -> None:
    if value is not None:
        target[key] = value


def run_train_generator(args: argparse.Namespace) -> int:
    from dyad.generator.config import ModelConfig
    from dyad.training.train_generator import GeneratorTrainOptions, train_generator

    model = {}
    for key in ("width", "denoiser_layers", "context_layers", "chunk_frames", "history_frames"):
        _set(model, key, getattr(args, key))
    kw = dict(data=args.data, out=args.out, seed=args.seed, device=args.device,
              threads=args.threads, resume=args.resume,
              time_budget_min=args.time_budget_min, max_clips=args.max_clips,
              progress=not args.no_progress,
              install_default=args.install_default, model=ModelConfig(**model))
    for key in ("steps", "batch_size", "lr", "rollout_from", "rollout_prob", "word_drop_prob",
                "words_off_prob"):
        _set(kw, key, getattr(args, key))
    summary = train_generator(GeneratorTrainOptions(**kw))
    _print(summary, args.json)
    return 0


def run_train_evaluator(args: argparse.Namespace) -> int:
    from dyad.training.train_evaluator import EvaluatorTrainOptions, train_evaluator

    kw = dict(data=args.data, out=args.out, seed=args.seed, device=args.device,
              threads=args.threads, resume=args.resume,
              time_budget_min=args.time_budget_min, max_clips=args.max_clips,
              progress=not args.no_progress)
    for key in ("steps", "batch_size", "lr"):
        _set(kw, key, getattr(args, key))
    summary = train_evaluator(EvaluatorTrainOptions(**kw))
    _print(summary, args.json)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from dyad.training.evaluation import EvalOptions, evaluate, format_report

    opts = EvalOptions(data=args.data, evaluator=args.evaluator, checkpoint=args.checkpoint,
                       split=args.split, replications=args.replications,
                       batch_size=args.batch_size, diversity_times=args.diversity_times,
                       mm_samples=args.mm_samples, mm_repeats=args.mm_repeats,
                       mm_times=args.mm_times, max_clips=args.max_clips, steps=args.steps,
                       guidance=args.guidance, contact_guidance=args.contact_guidance,
                       seed=args.seed, device=args.device)
    report = evaluate(opts)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _print(summary: dict, as_json: bool) -> None:
    if int(os.environ.get("RANK", "0")) != 0:
        return  # under torchrun only rank 0 reports
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    for key, value in summary.items():
        if key != "final_metrics":
            print(f"{key}: {value}")
