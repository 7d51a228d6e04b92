"""Captions from kinematic events: label + events + meta -> text at three levels of detail.

Following HandX (seeds/003), captions are written from measured kinematic events rather than
from the label alone, and come with per-agent texts: person A and person B in duet, the left
hand, the right hand and the inter-hand relation in bimanual (the inter text exists in duet
too: distance and contacts between the two people).

Levels (every clip gets all of them, :data:`CAPTION_LEVELS`):

* ``short``: the interaction in one clause ("Two people shake hands."), and a nominal or
  passive variant ("A handshake between two people.").
* ``medium``: who, which hand, how many times and how fast ("Person A moves first. Two people
  shake hands 3 times, quickly, with the right hand.").
* ``detailed``: the overview, then the events in time order ("First, ... Then ... Finally,
  ...").

All words come from one book of :mod:`dyad.training.synth.phrasebook`: TRAIN for the train
and val splits, TEST for the test split, so test captions are paraphrases that never occur
in training. Counts are stated only when the joints show them: for synthetic clips, the
generator's ``meta["repetitions"]`` when one of the measured repetition channels agrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from dyad.motion import MotionRecord

from .events import ClipEvents, DetectedContact, KinematicEvent, extract_events
from .phrasebook import (
    COUNTABLE_LABELS, WALKING_ROLES, Book, book, book_of_split, capitalize, number_text,
)

CAPTION_LEVELS: tuple[str, ...] = ("short", "short", "medium", "medium", "detailed")
"""Detail level of each caption, in the order :func:`caption_clip` returns them."""

_HAND_PART_ENDINGS = ("hand", "palm", "fingers", "fingertips", "_tip", "forearm")

FLEXION_LABELS = frozenset({"make_fists", "open_close_hands", "spread_fingers"})
"""Labels whose action is the hands opening or closing: per-hand texts tell the events only."""

MAX_STORY_ITEMS = 7
"""At most this many events in a detailed caption (the rest would read as a log)."""


@dataclass(frozen=True)
class ClipCaptions:
    """The texts of one clip.

    Attributes:
        captions: alternative descriptions, levels as in :data:`CAPTION_LEVELS`.
        levels: the level of each caption.
        agent_texts: one text per agent (duet: ``A``/``B``; bimanual: ``left``/``right``).
        inter_text: the relation between the two agents (distance, contacts).
        book: ``train`` or ``test``: the phrasebook the texts were written from.
    """

    captions: tuple[str, ...]
    levels: tuple[str, ...]
    agent_texts: dict[str, str]
    inter_text: str
    book: str

    @property
    def text(self) -> str:
        """The main description: the first medium caption."""
        return self.captions[self.levels.index("medium")]


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;])", r"\1", text)
    text = re.sub(r",\s*,", ",", text).strip(" ,")
    if not text:
        return ""
    text = capitalize(text)
    return text if text.endswith((".", "!", "?")) else text + "."


def _plural(noun: str) -> str:
    if noun.endswith("s"):
        return noun
    if noun.endswith("foot"):
        return noun[:-4] + "feet"
    return noun + "s"


def _part_words(part: str) -> str:
    """Readable words for a contact part or a ``hand:finger`` event part."""
    if ":" in part:
        hand, finger = part.split(":", 1)
        side = hand.split("_")[0] if hand.startswith(("left_", "right_")) else ""
        finger_words = "thumb" if finger == "thumb" else f"{finger} finger"
        return f"{side} {finger_words}".strip()
    words = part.replace("_", " ")
    return re.sub(r"\b(index|middle|ring|pinky) tip\b", r"\1 fingertip", words)


class _Writer:
    """Writes every text of one clip from one book with one random stream."""

    def __init__(self, record: MotionRecord, events: ClipEvents, book_: Book,
                 rng: np.random.Generator):
        self.record = record
        self.ev = events
        self.book = book_
        self.rng = rng
        self.mode = "bimanual" if record.skeleton == "hand21" else "duet"
        self.fps = float(record.fps)
        self.agents = tuple(record.agents)
        self.label = record.label or str(record.meta.get("label", ""))
        self.phrases = self.book.label(self.mode, self.label)
        meta = record.meta
        lead = meta.get("lead") if meta.get("lead") in self.agents else None
        if lead is None:
            lead = events.first_mover if events.first_mover in self.agents else (
                events.lead if events.lead in self.agents else self.agents[0])
        self.lead_agent = lead
        self.other_agent = self.agents[1 - self.agents.index(lead)] if len(self.agents) == 2 \
            else lead
        side = meta.get("handedness")
        if side not in ("left", "right"):
            side = lead if lead in ("left", "right") else "right"
        self.side = side
        self.other_side = "left" if side == "right" else "right"

    # -- small pieces ------------------------------------------------------------------------

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def words(self, slot: str) -> str:
        return self.pick(self.book.words(slot))

    def number(self, n: int) -> str:
        return number_text(n, float(self.rng.random()))

    def count_phrase(self, n: int) -> str:
        return self.words("count.many").format(n=self.number(n))

    def seconds(self, frame: int) -> str:
        return f"{frame / self.fps:.1f}"

    def names(self) -> dict[str, str]:
        """A naming style for the two agents: agent -> name."""
        if self.mode == "bimanual":
            return {a: f"the {a} hand" for a in self.agents}
        a_name, b_name = self.words("duet.names").split("|")
        return {self.agents[0]: a_name, self.agents[1]: b_name}

    def anon(self) -> tuple[str, str]:
        one, other = self.words("duet.anon").split("|")
        return one, other

    def subject(self) -> str:
        return self.words("duet.group" if self.mode == "duet" else "bimanual.subject")

    def part_phrase(self, agent: str, part: str, names: dict[str, str]) -> str:
        if self.mode == "bimanual":
            return f"the {agent} {_part_words(part)}"
        return f"{names[agent]}'s {_part_words(part)}"

    def pair_phrases(self, c, names: dict[str, str]) -> tuple[str, str]:
        """The two parts of a contact, collapsed to "their right palms" when alike."""
        aa, pa, ab, pb = (c.agent_a, c.part_a, c.agent_b, c.part_b) \
            if isinstance(c, DetectedContact) else (c.agent, c.part, c.other_agent, c.other_part)
        if aa != ab and pa == pb:
            words = _part_words(pa)
            if self.mode == "duet":
                return "their " + _plural(words), ""
            return (f"the {words} of both hands" if words.endswith("s")
                    else "both " + _plural(words)), ""
        if aa == ab and self.mode == "duet":  # one person's own fingers
            return self.part_phrase(aa, pa, names), _part_words(pb)
        return self.part_phrase(aa, pa, names), self.part_phrase(ab, pb, names)

    def pair_clause(self, slot: str, c, names: dict[str, str], **kw) -> str:
        x, y = self.pair_phrases(c, names)
        if not y:  # "their right palms touch": a plural subject on its own
            pattern = self.pick([p for p in self.book.words(slot) if p.startswith("{x} and {y}")]
                                or self.book.words(slot))
            return pattern.replace("{x} and {y}", x).format(x=x, y=x, **kw)
        return self.words(slot).format(x=x, y=y, **kw)

    def clause(self, names_style: str = "names") -> str:
        """The label's clause with subject or agents filled."""
        options = self.phrases.clause
        if names_style == "anon":
            # "one person ... the other": only where the initiator is named first.
            options = [p for p in options if "{b}" not in p or
                       ("{a}" in p and p.index("{a}") < p.index("{b}"))] or options
        pattern = self.pick(options)
        if self.mode == "bimanual":
            return pattern.format(subj=self.subject(), side=self.side,
                                  other_side=self.other_side)
        side = self.hand_used() or self.side
        if "{a}" in pattern or "{b}" in pattern:
            if names_style == "anon":
                a, b = self.anon()
            else:
                names = self.names()
                a, b = names[self.lead_agent], names[self.other_agent]
            return pattern.format(a=a, b=b, side=side)
        return pattern.format(subj=self.subject(), side=side)

    def speed_words(self) -> str:
        return self.words(f"speed.{self.ev.speed}")

    def repetitions(self) -> int:
        """The count to state, or 1 when there is nothing (reliable) to count."""
        meta_n = self.record.meta.get("repetitions")
        if isinstance(meta_n, (int, float)) and not isinstance(meta_n, bool):
            # A synthetic clip: state the designed count only where some channel of the joints
            # shows it; when they disagree, say nothing rather than something false.
            n = int(meta_n)
            return n if n == self.ev.repetitions or n in self.ev.cycles.values() else 1
        return self.ev.repetitions

    def cycling_hands(self) -> dict[tuple[str, str], int]:
        """(agent, hand part) -> closings, for hands that close two or more times."""
        closes: dict[tuple[str, str], int] = {}
        for e in self.ev.of_kind("close_hand"):
            closes[(e.agent, e.part)] = closes.get((e.agent, e.part), 0) + 1
        return {k: n for k, n in closes.items() if n >= 2}

    def hand_used(self) -> str | None:
        """Side of the lead agent's hand in its first contact (duet), if a hand touched."""
        for c in self.ev.contacts:
            if c.agent_a == c.agent_b:
                continue  # clapping one's own hands uses both
            for agent, part in ((c.agent_a, c.part_a), (c.agent_b, c.part_b)):
                if agent == self.lead_agent and part.startswith(("left_", "right_")) and \
                        part.split("_", 1)[1] in ("palm", "hand", "fingers", "fingertips"):
                    return part.split("_", 1)[0]
        return None

    # -- captions ----------------------------------------------------------------------------

    def short_captions(self) -> list[str]:
        first = _sentence(self.clause(self.pick(("names", "anon"))))
        noun = self.pick(self.phrases.noun)
        one_hand = self.mode == "bimanual" and not self.phrases.symmetric
        pattern = self.words(f"short.noun.{self.mode}" + (".one" if one_hand else ""))
        second = _sentence(pattern.format(Noun=capitalize(noun), noun=noun, subj=self.subject(),
                                          side=self.side))
        return [first, second]

    def who_sentence(self, names: dict[str, str]) -> str:
        ev = self.ev
        if ev.first_mover in names:
            return _sentence(self.words("first").format(name=names[ev.first_mover]))
        if ev.lead in names:
            return _sentence(self.words("lead").format(name=names[ev.lead]))
        return _sentence(self.words(f"both_move.{self.mode}"))

    def medium_caption(self) -> str:
        names = self.names()
        main = self.clause("names")
        n = self.repetitions() if self.label in COUNTABLE_LABELS[self.mode] else 1
        count = self.count_phrase(n) if n >= 2 else ""
        speed = self.speed_words()
        body = self.words("medium.tail").format(main=main, count=count, speed=speed,
                                               Speed=capitalize(speed))
        if self.mode == "duet":
            side = self.hand_used()
            if side and not re.search(rf"\b{side}\b", main):  # not twice
                body += ", " + self.words("hand.using").format(side=side)
        parts = [_sentence(body), self.who_sentence(names)]
        if self.rng.random() < 0.5:
            parts.reverse()
        return " ".join(p for p in parts if p)

    def story_items(self, names: dict[str, str]) -> list[tuple[int, str]]:
        """(frame, clause) for the events worth telling, in time order."""
        ev = self.ev
        items: list[tuple[int, str]] = []
        contacts = list(ev.contacts)
        # Group touches of the same pair: a repeated touch is told once, with its count.
        groups: dict[tuple, list[DetectedContact]] = {}
        for c in contacts:
            groups.setdefault(c.key, []).append(c)
        busy = (min(c.start for c in contacts), max(c.end for c in contacts)) \
            if any(len(g) > 1 for g in groups.values()) else None
        for group in groups.values():
            c0 = group[0]
            if len(group) > 1:
                items.append((c0.start, self.pair_clause(
                    "ev.contact_many", c0, names, count=self.count_phrase(len(group)))))
                continue
            items.append((c0.start, self.pair_clause("ev.contact_on", c0, names)))
            if c0.end < ev.num_frames and (c0.end - c0.start) / self.fps >= 0.3:
                items.append((c0.end, self.pair_clause("ev.contact_off", c0, names)))
        subj = self.subject()
        for e in ev.of_kind("approach", "retreat"):
            if busy and busy[0] <= e.start < busy[1]:
                continue  # the back-and-forth between repeated touches
            if self.mode == "bimanual":
                items.append((e.start, self.words(f"ev.{e.kind}.bimanual")))
            elif e.agent in names:
                items.append((e.start, self.words(f"ev.{e.kind}.duet.one").format(
                    name=names[e.agent], other=names[e.other_agent])))
            else:
                items.append((e.start, self.words(f"ev.{e.kind}.duet.both").format(subj=subj)))
        # A hand that closes and opens again and again is told once, with a count; then
        # simultaneous changes of like hands are told together.
        flex = ev.of_kind("close_hand", "open_hand")
        many = self.cycling_hands()
        if many:
            first = min(e.start for e in flex if (e.agent, e.part) in many)
            counts = set(many.values())
            if len(many) >= 2 and len(counts) == 1:
                side_words = {_part_words(part) for _, part in many}
                hands = "both " + (_plural(side_words.pop()) if len(side_words) == 1
                                   else "hands")
                items.append((first, self.words("ev.open_close_many").format(
                    hands=hands, count=self.count_phrase(counts.pop()))))
            else:
                for (agent, part), n in many.items():
                    items.append((first, self.part_phrase(agent, part, names) + " " +
                                  self.words("hand.open_close_many").format(
                                      count=self.count_phrase(n))))
            flex = [e for e in flex if (e.agent, e.part) not in many]
        used = set()
        for i, e in enumerate(flex):
            if i in used:
                continue
            mates = [j for j in range(i + 1, len(flex)) if j not in used and
                     flex[j].kind == e.kind and abs(flex[j].start - e.start) <= 3 and
                     flex[j].agent != e.agent]
            if mates:
                used.update(mates)
                side_words = {_part_words(flex[j].part) for j in [i] + mates}
                hands = _plural(side_words.pop()) if len(side_words) == 1 else "hands"
                items.append((e.start, self.words(f"ev.{e.kind}.both").format(hands=hands)))
            else:
                items.append((e.start, self.words(f"ev.{e.kind}").format(
                    hand=self.part_phrase(e.agent, e.part, names))))
        # A finger that bends again and again (beckoning, drumming) is told once, counted.
        fingers = ev.of_kind("finger_curl", "finger_extend")
        bends: dict[tuple[str, str], list[KinematicEvent]] = {}
        for e in fingers:
            if e.kind == "finger_curl":
                bends.setdefault((e.agent, e.part), []).append(e)
        repeated = {k: v for k, v in bends.items() if len(v) >= 2}
        for (agent, part), group in repeated.items():
            items.append((group[0].start, self.words("ev.finger_curl_many").format(
                finger=self.part_phrase(agent, part, names),
                count=self.count_phrase(len(group)))))
        for e in [e for e in fingers if (e.agent, e.part) not in repeated][:4]:
            items.append((e.start, self.words(f"ev.{e.kind}").format(
                finger=self.part_phrase(e.agent, e.part, names))))
        items.sort(key=lambda x: x[0])
        if len(items) > MAX_STORY_ITEMS:
            # Keep the first and last events and an even spread in between.
            keep = np.unique(np.linspace(0, len(items) - 1, MAX_STORY_ITEMS).round().astype(int))
            items = [items[k] for k in keep]
        return items

    def detailed_caption(self) -> str:
        names = self.names()
        overview = self.clause("names") + " " + self.speed_words()
        sentences = [_sentence(overview)]
        items = self.story_items(names)
        for k, (frame, text) in enumerate(items):
            if self.rng.random() < 0.4:
                text += " " + self.words("at_time").format(t=self.seconds(frame))
            if len(items) == 1:
                sentences.append(_sentence(text))
                continue
            slot = "seq.first" if k == 0 else "seq.last" if k == len(items) - 1 else "seq.next"
            sentences.append(_sentence(f"{self.words(slot)} {text}"))
        if not items:
            sentences.append(self.who_sentence(names))
        return " ".join(sentences)

    # -- per-agent texts ---------------------------------------------------------------------

    def _join_segments(self, subject: str, segments: list[tuple[int, str]]) -> str:
        segments = sorted(segments, key=lambda s: s[0])
        texts = [s for _, s in segments]
        if not texts:
            return ""
        if len(texts) == 1:
            return _sentence(f"{subject} {texts[0]}")
        head = ", ".join(texts[:-1])
        tail = self.words("agent.finally" if len(texts) >= 3 else "agent.then")
        comma = "," if len(texts) >= 3 or not tail.startswith("and") else ""
        return _sentence(f"{subject} {head}{comma} {tail} {texts[-1]}")

    def role_phrase(self, agent: str, other_name: str) -> str:
        lp = self.phrases
        options = lp.lead if lp.symmetric or agent == self.lead_agent else lp.follow
        side = (self.hand_used() or self.side) if self.mode == "duet" else self.side
        return self.pick(options).format(other=other_name, other_side=self.other_side,
                                         side=side)

    def agent_texts(self) -> dict[str, str]:
        names = self.names()
        out = {}
        for agent in self.agents:
            other = self.agents[1 - self.agents.index(agent)] if len(self.agents) == 2 else agent
            out[agent] = (self.duet_agent_text if self.mode == "duet" else self.hand_text)(
                agent, other, names)
        return out

    def _role_frame(self) -> int:
        return self.ev.contacts[0].start if self.ev.contacts else self.ev.key_frame

    def _is_idle(self, agent: str, other: str) -> bool:
        act = self.ev.activity_m
        return act.get(agent, 0.0) < 0.2 * max(act.get(other, 0.0), 1e-6)

    def duet_agent_text(self, agent: str, other: str, names: dict[str, str]) -> str:
        ev = self.ev
        segs: list[tuple[int, str]] = [(self._role_frame(), self.role_phrase(agent, names[other]))]
        role = "lead" if agent == self.lead_agent else "follow"
        walks_in_role = WALKING_ROLES.get(self.label) == role
        for e in ev.of_kind("approach", "retreat"):
            if e.agent in ("", agent) and not (walks_in_role and e.kind == "approach"):
                segs.append((e.start, self.words(f"ag.{e.kind}").format(other=names[other])))
        many = self.cycling_hands()
        for (who, part), n in many.items():
            if who == agent:
                first = min(e.start for e in ev.of_kind("close_hand")
                            if (e.agent, e.part) == (who, part))
                segs.append((first, self.words("ag.open_close_many").format(
                    side=part.split("_")[0], count=self.count_phrase(n))))
        for e in ev.of_kind("close_hand", "open_hand"):
            if e.agent == agent and (e.agent, e.part) not in many:
                segs.append((e.start, self.words(f"ag.{e.kind}").format(
                    side=e.part.split("_")[0])))
        for c in [c for c in ev.contacts if c.agent_a != c.agent_b][:1]:
            own, theirs = (c.part_a, c.part_b) if c.agent_a == agent else (c.part_b, c.part_a)
            # Told by the one whose hand touches; a torso does not "touch" a hand.
            if agent in (c.agent_a, c.agent_b) and own.endswith(_HAND_PART_ENDINGS):
                segs.append((c.start + 1, self.words("ag.touch").format(
                    own=_part_words(own), other=names[other], part=_part_words(theirs))))
        if len(segs) == 1 and self._is_idle(agent, other):
            segs.append((ev.num_frames, self.words("ag.idle")))
        # An event phrase that repeats the role's verb ("approaches ..., approaches ... and
        # says hello") adds nothing.
        role_verb = segs[0][1].split()[0]
        segs = segs[:1] + [sg for sg in segs[1:] if sg[1].split()[0] != role_verb]
        return self._join_segments(names[agent], segs)

    def hand_text(self, agent: str, other: str, names: dict[str, str]) -> str:
        ev = self.ev
        idle = self._is_idle(agent, other)
        segs: list[tuple[int, str]] = []
        role = self.role_phrase(agent, names[other])
        flex = [e for e in ev.of_kind("close_hand", "open_hand") if e.agent == agent]
        # Where the gesture is the opening and closing itself, the events say it better.
        if not (idle and not self.phrases.symmetric and agent != self.lead_agent) and \
                not (flex and self.label in FLEXION_LABELS):
            segs.append((self._role_frame(), role))
        shape = next((h for h in ev.hand_shapes if h.agent == agent), None)
        if shape is not None and not idle and not flex:
            fingers = [f for f in shape.extended if f != "thumb"]
            if shape.state == "closed" and not shape.extended:
                segs.append((ev.key_frame, self.words("shape.fist")))
            elif len(fingers) == 4:
                segs.append((ev.key_frame, self.words("shape.open")))
            elif shape.extended and shape.curled:
                words = [("thumb" if f == "thumb" else f"{f} finger") for f in shape.extended]
                listed = words[0] if len(words) == 1 else \
                    ", ".join(words[:-1]) + " and " + words[-1]
                segs.append((ev.key_frame, self.words("shape.fingers").format(fingers=listed)))
        closings = sum(e.kind == "close_hand" for e in flex)
        if closings >= 2:
            segs.append((flex[0].start, self.words("hand.open_close_many").format(
                count=self.count_phrase(closings))))
        else:
            for e in flex:
                segs.append((e.start, self.words("hand.close" if e.kind == "close_hand"
                                                  else "hand.open")))
        pinches = [c for c in ev.contacts if c.agent_a == c.agent_b == agent]
        if pinches:
            n = len(pinches)
            segs.append((pinches[0].start, self.words("hand.self_touch").format(
                count=self.count_phrase(n) if n >= 2 else "")))
        for e in ev.of_kind("finger_curl", "finger_extend")[:4]:
            if e.agent == agent:
                finger = _part_words(e.part)
                segs.append((e.start, self.words(f"hand.{e.kind}").format(finger=finger)))
        for c in [c for c in ev.contacts if c.agent_a != c.agent_b][:1]:
            if agent in (c.agent_a, c.agent_b):
                own = c.part_a if c.agent_a == agent else c.part_b
                segs.append((c.start + 1, self.words("hand.touch").format(
                    other=names[other], own=_part_words(own))))
        if not ev.contacts:
            for e in ev.of_kind("approach", "retreat")[:2]:
                slot = "hand.toward" if e.kind == "approach" else "hand.away"
                segs.append((e.start, self.words(slot).format(other=names[other])))
        if idle and len(segs) <= 1:
            segs.append((ev.num_frames, self.words("hand.idle")))
        return self._join_segments(capitalize(names[agent]), segs)

    def inter_text(self) -> str:
        ev = self.ev
        names = self.names()
        if self.mode == "duet":
            d0, d1, dmin = (f"{v:.1f}" for v in (ev.distance_start_m, ev.distance_end_m,
                                                  ev.distance_min_m))
            closer = ev.distance_min_m < min(ev.distance_start_m, ev.distance_end_m) - 0.1
        else:
            d0, d1, dmin = (f"{100 * v:.0f}" for v in (ev.distance_start_m, ev.distance_end_m,
                                                        ev.distance_min_m))
            closer = ev.distance_min_m < min(ev.distance_start_m, ev.distance_end_m) - 0.03
        slot = f"inter.distance_min.{self.mode}" if closer else f"inter.distance.{self.mode}"
        dist = self.words(slot).format(d0=d0, d1=d1, dmin=dmin)
        sentences = [_sentence(dist)]
        groups: dict[tuple, list[DetectedContact]] = {}
        for c in ev.contacts:
            if c.agent_a != c.agent_b:
                groups.setdefault(c.key, []).append(c)
        for group in list(groups.values())[:2]:
            c0 = group[0]
            if len(group) > 1:
                sentences.append(_sentence(self.pair_clause(
                    "inter.contact_count", c0, names, count=self.count_phrase(len(group)))))
            else:
                sentences.append(_sentence(self.pair_clause(
                    "inter.contact_span", c0, names, t0=self.seconds(c0.start),
                    t1=self.seconds(c0.end))))
        if not groups:
            slot = "inter.no_contact" if self.mode == "duet" else "inter.no_contact.bimanual"
            sentences.append(_sentence(self.words(slot)))
        return " ".join(sentences)


def caption_clip(record: MotionRecord, split: str, rng: np.random.Generator,
                 events: ClipEvents | None = None) -> ClipCaptions:
    """Write the captions and per-agent texts of one clip.

    Args:
        record: the clip; ``record.label`` (or ``meta["label"]``) must be a label of its mode.
        split: ``train``, ``val`` or ``test``: picks the phrasebook (test -> TEST book).
        rng: the random stream that picks phrasings (seeded per clip for reproducibility).
        events: the clip's kinematic events, extracted here when not given.

    Returns:
        :class:`ClipCaptions` with the captions in :data:`CAPTION_LEVELS` order.
    """
    events = extract_events(record) if events is None else events
    writer = _Writer(record, events, book(book_of_split(split)), rng)
    captions = writer.short_captions() + [writer.medium_caption(), writer.medium_caption(),
                                          writer.detailed_caption()]
    return ClipCaptions(captions=tuple(captions), levels=CAPTION_LEVELS,
                        agent_texts=writer.agent_texts(), inter_text=writer.inter_text(),
                        book=writer.book.name)


def describe_events(events: ClipEvents, fps: float) -> list[str]:
    """One plain line per event ("1.2 s contact_on A right_palm / B right_palm"), for logs."""
    out = []
    for e in events.events:
        who = e.agent + (f" {e.part}" if e.part else "")
        if e.other_agent:
            who += f" / {e.other_agent}" + (f" {e.other_part}" if e.other_part else "")
        out.append(f"{e.start / fps:.2f} s {e.kind} {who}".strip())
    return out


__all__ = ["CAPTION_LEVELS", "ClipCaptions", "caption_clip",
           "describe_events"]
