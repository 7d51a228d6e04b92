"""Text that names a contact gets it: for each prompt, over N seeds, do the named parts meet?

The generator issue's target: "shake hands" makes right hands meet and "clap" makes palms meet
in at least 8 of 10 seeds. A seed counts when, on some frame, the two parts' nearest joints are
within ``--touch-m`` (default 0.05 m: the contract's contact distance between joint centres,
which sit inside the hand) — measured on the generated joints, never read from a label; where
the text names no hand nor who does it (a fist bump, a hug, a pat), any of those contacts
counts. Run it with ``--contact-guidance 0`` too: the default pulls the contacts a text plans
together (``generator/contact_plan.py``), and the network alone is the other half of the story.

    dyad bench contact-prompts [--seeds 30] [--seconds 4] [--checkpoint FILE]
                               [--contact-guidance 0..1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

NAME = "contact-prompts"
TARGET_SEEDS_OF_10 = 8

# (prompt, mode, the contacts that count: any one of them, on any frame). A text that does not
# say which hand is met with either: the left-handed fist bump is a fist bump.
PROMPTS = (
    ("two people shake hands", "duet", (("A", "right_palm", "B", "right_palm"),)),
    ("clap both hands twice", "bimanual", (("left", "palm", "right", "palm"),)),
    ("two people give each other a high five", "duet",
     (("A", "right_palm", "B", "right_palm"),)),
    ("press the palms together in front of the chest", "bimanual",
     (("left", "palm", "right", "palm"),)),
    ("two people bump fists", "duet",
     (("A", "right_hand", "B", "right_hand"), ("A", "left_hand", "B", "left_hand"))),
    ("two people hug", "duet",
     tuple((a, f"{side}_hand", b, "torso") for a, b in (("A", "B"), ("B", "A"))
           for side in ("left", "right"))),
    ("one person pats the other on the shoulder", "duet",
     tuple((a, f"{hand}_palm", b, f"{shoulder}_shoulder") for a, b in (("A", "B"), ("B", "A"))
           for hand in ("left", "right") for shoulder in ("left", "right"))),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dyad bench contact-prompts``."""
    parser.add_argument("--seeds", type=int, default=30,
                        help="seeds per prompt (default 30: with 10, one model read 6/10 and "
                             "9/30 handshakes)")
    parser.add_argument("--seconds", type=float, default=4.0, help="motion length (default 4)")
    parser.add_argument("--touch-m", type=float, default=0.05,
                        help="joint distance that counts as touching (default 0.05 m)")
    parser.add_argument("--checkpoint", default=None, help="generator (default: the packaged one)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--contact-guidance", type=float, default=None, metavar="0..1",
                        help="pull of the contacts each text plans (0: the network alone; "
                             "default: the checkpoint's)")


def run(args: argparse.Namespace) -> dict:
    """Generate every prompt for every seed and measure the named contact."""
    from dyad.errors import DyadInputError
    from dyad.generator.streaming import default_generator
    from dyad.motion import ContactInterval

    if args.seeds < 1:
        raise DyadInputError(f"--seeds must be at least 1, got {args.seeds}")
    gen = default_generator(args.checkpoint, args.device)
    results = []
    for text, mode, pairs in PROMPTS:
        contacts = [ContactInterval(*pair, 0, 0) for pair in pairs]
        closest, t0 = [], time.perf_counter()
        for seed in range(args.seeds):
            motion = gen.generate(text, mode=mode, seconds=args.seconds, seed=seed,
                                  contact_guidance=args.contact_guidance)
            closest.append(min(float(motion.contact_distance(c).min()) for c in contacts))
        closest = np.array(closest)
        met = int((closest <= args.touch_m).sum())
        results.append({
            "text": text, "mode": mode,
            "contact": " or ".join(f"{a}:{pa} ~ {b}:{pb}" for a, pa, b, pb in pairs),
            "planned": motion.meta["generator"]["contact_plan"],
            "seeds_with_contact": met, "seeds": args.seeds,
            "closest_m_median": round(float(np.median(closest)), 4),
            "closest_m_per_seed": [round(float(c), 4) for c in closest],
            "passes_target": met >= TARGET_SEEDS_OF_10 * args.seeds / 10,
            "seconds_taken": round(time.perf_counter() - t0, 1),
        })
    return {"touch_m": args.touch_m, "seconds": args.seconds,
            "contact_guidance": gen.sampling.contact_guidance if args.contact_guidance is None
            else args.contact_guidance, "planner": gen.loaded.planner is not None,
            "prompts": results}
