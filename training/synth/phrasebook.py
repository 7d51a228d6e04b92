"""The words captions are made of, in two disjoint books: TRAIN and TEST.

Captions of training (and validation) clips are written only from the TRAIN book, captions of
test clips only from the TEST book. The TEST book words every label, subject, adverb, event
and sentence pattern differently ("shake hands" in training, "clasp each other's right hand in
greeting" in test), so a text-to-motion model evaluated on the test split is measured on
understanding, not on matching training templates. :func:`words_only_in_test_book` lists the words
that occur in the TEST book and nowhere in the TRAIN book; every TEST entry contains at least
one of them (``tests/test_captions.py`` checks both books and generated datasets).

Book entries are ``str.format`` patterns. Placeholders:

``{subj}``   the group (duet: "two people"; bimanual: the person, "someone")
``{a}``      duet: the agent who initiates; ``{b}``: the other one
``{other}``  in an agent or hand phrase: the other agent or hand
``{side}``   the side of the acting hand (duet: the hand that touches, else the generator's
             ``handedness``); ``{other_side}``: the other side
``{n}``      a count (a number word or digits); ``{t}``: seconds; ``{d}``: a distance
``{x}``/``{y}``  the two parts (or agents) of an event; ``{name}``: an agent; ``{hand}``: a hand

Duet clause patterns are complete clauses with ``{subj}`` (symmetric interactions, plural
verb) or ``{a}``/``{b}`` (one initiates). Bimanual clause patterns have a singular subject.
Agent and hand phrases are third-person singular verb phrases.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache

BOOKS: tuple[str, ...] = ("train", "test")


def book_of_split(split: str) -> str:
    """The book a dataset split is captioned from: ``test`` for test, ``train`` otherwise.

    Validation uses the TRAIN book, so no test phrasing is seen while developing a model.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}; splits are train, val, test")
    return "test" if split == "test" else "train"


@dataclass(frozen=True)
class LabelPhrases:
    """How one book words one interaction label.

    Attributes:
        clause: complete clauses (see the module docstring for placeholders).
        noun: noun phrases with their article ("a handshake").
        lead: verb phrases for the agent or hand that acts (3rd person singular).
        follow: verb phrases for the other one; empty means the same as ``lead``.
    """

    clause: tuple[str, ...]
    noun: tuple[str, ...]
    lead: tuple[str, ...]
    follow: tuple[str, ...] = ()

    @property
    def symmetric(self) -> bool:
        return not self.follow


def _lp(clause, noun, lead, follow=()) -> LabelPhrases:
    t = lambda x: (x,) if isinstance(x, str) else tuple(x)  # noqa: E731
    return LabelPhrases(t(clause), t(noun), t(lead), t(follow))


# ---------------------------------------------------------------------------------------------
# Labels: {label: (TRAIN, TEST)}

DUET_PHRASES: dict[str, tuple[LabelPhrases, LabelPhrases]] = {
    "handshake": (
        _lp(["{subj} shake hands", "{subj} shake each other's hand",
             "{subj} exchange a handshake", "{subj} greet each other with a handshake"],
            ["a handshake", "a firm handshake"],
            ["shakes hands with {other}", "reaches out and shakes {other}'s hand"]),
        _lp(["{subj} clasp each other's {side} hand in greeting",
             "{subj} grip {side} hands and pump them"],
            ["a greeting clasp of hands"],
            ["clasps {other}'s {side} hand in greeting", "grips and pumps {other}'s {side} hand"]),
    ),
    "high_five": (
        _lp(["{subj} give each other a high five", "{subj} high-five each other",
             "{subj} slap a high five"],
            ["a high five"], ["gives {other} a high five", "high-fives {other}"]),
        _lp(["{subj} smack raised palms together overhead",
             "{subj} meet with lifted open palms in celebration"],
            ["an overhead palm smack"],
            ["smacks a raised palm against {other}'s", "lifts an open palm to smack {other}'s"]),
    ),
    "hug": (
        _lp(["{subj} hug", "{subj} hug each other", "{subj} embrace each other",
             "{subj} give each other a hug"],
            ["a hug", "an embrace"], ["hugs {other}", "embraces {other}"]),
        _lp(["{subj} wrap their arms around one another",
             "{subj} squeeze one another in a warm clinch"],
            ["a warm clinch"], ["wraps both arms around {other}", "folds {other} into a tight clinch"]),
    ),
    "fist_bump": (
        _lp(["{subj} bump fists", "{subj} give each other a fist bump", "{subj} fist-bump"],
            ["a fist bump"], ["bumps fists with {other}", "gives {other} a fist bump"]),
        _lp(["{subj} rap their knuckles together",
             "{subj} clink balled knuckles against one another"],
            ["a knuckle tap"], ["raps knuckles with {other}", "clinks balled knuckles on {other}'s"]),
    ),
    "wave_to_each_other": (
        _lp(["{subj} wave to each other", "{subj} wave hello to each other",
             "{subj} exchange waves"],
            ["a wave", "a friendly wave"], ["waves to {other}", "waves a hand at {other}"]),
        _lp(["{subj} sway a lifted palm from side to side at one another",
             "{subj} signal hello to one another by swaying a lifted palm"],
            ["a sway of lifted palms"], ["sways a lifted palm at {other}",
                                        "signals hello to {other} with a swaying palm"]),
    ),
    "bow_to_each_other": (
        _lp(["{subj} bow to each other", "{subj} bow", "{subj} exchange bows"],
            ["a bow", "a polite bow"], ["bows to {other}", "bows toward {other}"]),
        _lp(["{subj} lean forward at the waist toward one another",
             "{subj} incline their upper bodies respectfully"],
            ["a respectful forward incline"], ["leans forward at the waist toward {other}",
                                               "inclines respectfully toward {other}"]),
    ),
    "push": (
        _lp(["{a} pushes {b}", "{a} gives {b} a push", "{b} gets pushed by {a}"],
            ["a push"], ["pushes {other}", "gives {other} a push"],
            ["is pushed back by {other}", "gets pushed by {other}"]),
        _lp(["{a} plants both palms on {b} and propels them backward",
             "{b} is propelled backward by {a}"],
            ["a two-palmed propelling"], ["propels {other} backward with both palms"],
            ["is propelled backward by {other}", "reels backward from {other}'s palms"]),
    ),
    "pull_by_hand": (
        _lp(["{a} pulls {b} by the hand", "{a} takes {b}'s hand and pulls",
             "{b} is pulled along by {a}"],
            ["a pull by the hand"], ["pulls {other} by the hand", "takes {other}'s hand and pulls"],
            ["is pulled along by {other}", "gets pulled by the hand"]),
        _lp(["{a} tugs {b} forward by the wrist", "{b} gets tugged forward by {a}"],
            ["a forward tug"], ["tugs {other} forward by the wrist"],
            ["gets tugged forward by {other}", "is towed along by {other}"]),
    ),
    "punch_and_block": (
        _lp(["{a} throws a punch and {b} blocks it", "{a} punches at {b}, who blocks",
             "{b} blocks a punch from {a}"],
            ["a punch and a block"], ["throws a punch at {other}", "punches at {other}"],
            ["blocks the punch", "blocks {other}'s punch"]),
        _lp(["{a} jabs at {b}, who parries the blow with a forearm",
             "{b} fends off a jab from {a}"],
            ["a jab and a parry"], ["jabs at {other}", "swings a jab toward {other}"],
            ["parries the blow", "fends off {other}'s jab"]),
    ),
    "pat_on_shoulder": (
        _lp(["{a} pats {b} on the shoulder", "{a} gives {b} a pat on the shoulder"],
            ["a pat on the shoulder"], ["pats {other} on the shoulder"],
            ["gets a pat on the shoulder from {other}", "receives a pat on the shoulder"]),
        _lp(["{a} thumps {b}'s shoulder lightly in encouragement",
             "{b} is thumped encouragingly on the shoulder by {a}"],
            ["an encouraging shoulder thump"], ["thumps {other}'s shoulder encouragingly"],
            ["is thumped on the shoulder by {other}", "accepts an encouraging thump"]),
    ),
    "pass_object": (
        _lp(["{a} hands an object to {b}", "{a} passes something to {b}",
             "{b} takes an object from {a}"],
            ["a handover of an object"], ["passes an object to {other}", "hands something to {other}"],
            ["takes the object from {other}", "receives the object"]),
        _lp(["{a} delivers an item into {b}'s grasp", "{b} accepts an item offered by {a}"],
            ["an item delivery"], ["delivers an item to {other}"],
            ["accepts the item from {other}", "grasps the offered item"]),
    ),
    "dance_holding_hands": (
        _lp(["{subj} dance while holding hands", "{subj} hold hands and dance together"],
            ["a dance holding hands"], ["dances with {other}, holding hands",
                                        "holds {other}'s hands and dances"]),
        _lp(["{subj} sway rhythmically hand in hand", "{subj} move to a beat hand in hand"],
            ["a rhythmic hand-in-hand sway"], ["sways rhythmically hand in hand with {other}"]),
    ),
    "walk_up_and_greet": (
        _lp(["{a} walks up to {b} and greets them", "{a} approaches {b} and says hello"],
            ["a walk-up hello"], ["walks up to {other} and greets them",
                                     "approaches {other} and says hello"],
            ["greets {other} back", "says hello back to {other}"]),
        _lp(["{a} strolls over to {b} to welcome them", "{a} comes across to welcome {b}"],
            ["a stroll-over welcome"], ["strolls over to welcome {other}"],
            ["returns the welcome", "welcomes {other} in return"]),
    ),
    "double_high_five": (
        _lp(["{subj} give each other a double high five", "{subj} high-five with both hands"],
            ["a double high five"], ["gives {other} a double high five",
                                     "high-fives {other} with both hands"]),
        _lp(["{subj} bring both lifted palms up to collide with the other's",
             "{subj} smack all four raised palms together"],
            ["a four-palm overhead smack"], ["smacks both raised palms against {other}'s"]),
    ),
    "pat_a_cake": (
        _lp(["{subj} play pat-a-cake", "{subj} play a clapping game",
             "{subj} clap each other's hands in a pat-a-cake rhythm"],
            ["a game of pat-a-cake"], ["plays pat-a-cake with {other}",
                                       "claps hands with {other} in a game"]),
        _lp(["{subj} run through a nursery rhyme of alternating palm slaps",
             "{subj} trade rhythmic palm strikes like a nursery rhyme"],
            ["a nursery-rhyme palm routine"], ["trades rhythmic palm strikes with {other}"]),
    ),
    "elbow_bump": (
        _lp(["{subj} bump elbows", "{subj} give each other an elbow bump"],
            ["an elbow bump"], ["bumps elbows with {other}"]),
        _lp(["{subj} nudge elbows together in salutation",
             "{subj} honor one another with a nudge of the elbows"],
            ["an elbow nudge"], ["nudges an elbow against {other}'s"]),
    ),
    "salute_each_other": (
        _lp(["{subj} salute each other", "{subj} give each other a salute"],
            ["a salute"], ["salutes {other}", "gives {other} a salute"]),
        _lp(["{subj} touch a flat hand to the brow in a military gesture",
             "{subj} honor one another with a crisp hand to the brow"],
            ["a military brow gesture"], ["touches a flat hand to the brow for {other}"]),
    ),
    "point_and_look": (
        _lp(["{a} points at something and {b} looks", "{a} points and {b} turns to look"],
            ["a point and a look"], ["points at something", "points somewhere for {other}"],
            ["turns to look", "looks where {other} points"]),
        _lp(["{a} indicates a spot with an outstretched finger and {b} follows the gaze",
             "{b} glances where {a} is gesturing"],
            ["a gesture and a glance"], ["indicates a spot with an outstretched finger"],
            ["glances toward the indicated spot", "follows {other}'s gesture with the gaze"]),
    ),
    "twirl_partner": (
        _lp(["{a} twirls {b}", "{a} spins {b} around under the arm"],
            ["a twirl"], ["twirls {other}", "spins {other} around"],
            ["turns under {other}'s arm", "spins around under {other}'s arm"]),
        _lp(["{a} leads {b} through a pirouette beneath a lifted arm",
             "{b} pirouettes beneath {a}'s lifted arm"],
            ["a pirouette"], ["guides {other} through a pirouette"],
            ["pirouettes beneath {other}'s arm"]),
    ),
    "beckon_and_approach": (
        _lp(["{a} beckons {b}, who walks over", "{a} waves {b} over and {b} comes closer"],
            ["a beckoning"], ["beckons {other} over", "waves {other} over"],
            ["walks over to {other}", "comes closer to {other}"]),
        _lp(["{a} summons {b} with a curling finger and {b} heads over",
             "{b} answers {a}'s come-here gesture by drawing near"],
            ["a summoning gesture"], ["summons {other} with a curling finger"],
            ["makes a beeline for {other}", "draws near in answer to {other}"]),
    ),
    "two_handed_handshake": (
        _lp(["{subj} shake hands using both hands", "{subj} do a two-handed handshake"],
            ["a two-handed handshake"], ["shakes {other}'s hand with both hands"]),
        _lp(["{subj} clasp one another's hand between both palms",
             "{subj} grip hands warmly with a second palm layered on top"],
            ["a two-palmed clasp"], ["clasps {other}'s hand between both palms"]),
    ),
    "applaud_partner": (
        _lp(["{a} applauds {b}", "{a} claps for {b}", "{b} is applauded by {a}"],
            ["a round of applause"], ["applauds {other}", "claps for {other}"],
            ["is applauded by {other}", "receives the applause"]),
        _lp(["{a} gives {b} an ovation", "{b} receives an ovation from {a}"],
            ["an ovation"], ["gives {other} an ovation"],
            ["receives the ovation", "accepts {other}'s ovation"]),
    ),
    "low_five": (
        _lp(["{subj} give each other a low five", "{subj} slap a low five"],
            ["a low five"], ["gives {other} a low five"]),
        _lp(["{subj} smack palms together down at hip height",
             "{subj} meet with lowered palms at hip level"],
            ["a hip-height palm smack"], ["smacks a lowered palm against {other}'s"]),
    ),
    "hold_hands_side_by_side": (
        _lp(["{subj} hold hands side by side", "{subj} stand next to each other holding hands"],
            ["a side-by-side hand hold"], ["holds hands with {other}", "stands beside {other} holding hands"]),
        _lp(["{subj} stand shoulder to shoulder with hands linked",
             "{subj} keep their hands linked while standing abreast"],
            ["a linked-hands stance"], ["keeps a hand linked with {other}'s"]),
    ),
    "raise_joined_hands": (
        _lp(["{subj} raise their joined hands", "{subj} lift their held hands up"],
            ["a raising of joined hands"], ["raises joined hands with {other}"]),
        _lp(["{subj} hoist their linked hands overhead in triumph",
             "{subj} elevate their linked hands victoriously"],
            ["a triumphant hoist of linked hands"], ["hoists linked hands with {other} overhead"]),
    ),
    "shove_away": (
        _lp(["{a} shoves {b} away", "{a} pushes {b} away roughly", "{b} gets shoved away by {a}"],
            ["a shove"], ["shoves {other} away", "pushes {other} away roughly"],
            ["staggers back", "gets shoved away by {other}"]),
        _lp(["{a} thrusts {b} off forcefully", "{b} is heaved aside by {a}"],
            ["a forceful thrust"], ["thrusts {other} off forcefully"],
            ["is heaved aside", "lurches away from {other}'s thrust"]),
    ),
    "tap_on_back": (
        _lp(["{a} taps {b} on the back", "{a} gives {b} a tap on the back"],
            ["a tap on the back"], ["taps {other} on the back"],
            ["gets a tap on the back", "is tapped on the back by {other}"]),
        _lp(["{a} raps lightly between {b}'s shoulder blades",
             "{b} feels a light rap between the shoulder blades from {a}"],
            ["a rap between the shoulder blades"], ["raps lightly on {other}'s upper back"],
            ["feels a light rap on the upper back"]),
    ),
}

BIMANUAL_PHRASES: dict[str, tuple[LabelPhrases, LabelPhrases]] = {
    "clap": (
        _lp(["{subj} claps", "{subj} claps their hands", "{subj} claps both hands together"],
            ["a clap", "a hand clap"], ["claps against {other}"]),
        _lp(["{subj} smacks both palms against each other sharply",
             "{subj} strikes the palms together"],
            ["a palm strike"], ["strikes against {other}"]),
    ),
    "rub_palms": (
        _lp(["{subj} rubs their palms together", "{subj} rubs their hands together"],
            ["a palm rub"], ["rubs against {other}"]),
        _lp(["{subj} chafes the palms against each other as if warming them",
             "{subj} scrubs one palm over the other"],
            ["a warming chafe of the palms"], ["chafes against {other}"]),
    ),
    "interlock_fingers": (
        _lp(["{subj} interlocks their fingers", "{subj} laces their fingers together"],
            ["interlocked fingers"], ["interlocks its fingers with {other}"]),
        _lp(["{subj} meshes the digits of both hands into a knot",
             "{subj} weaves the digits of one hand between those of the other"],
            ["a knot of meshed digits"], ["meshes its digits with {other}"]),
    ),
    "make_fists": (
        _lp(["{subj} makes fists with both hands", "{subj} closes both hands into fists"],
            ["a squeeze of both fists"], ["closes into a fist", "makes a fist"]),
        _lp(["{subj} balls up both hands tightly", "{subj} clenches both hands"],
            ["a pair of balled-up hands"], ["balls up tightly"]),
    ),
    "point": (
        _lp(["{subj} points with the {side} hand", "{subj} points forward with the {side} index finger"],
            ["a pointing gesture"], ["points forward", "points with the index finger"],
            ["stays still", "hangs still"]),
        _lp(["{subj} aims the {side} forefinger ahead", "{subj} singles out a target with the {side} forefinger"],
            ["a forefinger aimed ahead"], ["aims its forefinger ahead"],
            ["remains nearly motionless"]),
    ),
    "pinch": (
        _lp(["{subj} pinches with the {side} hand",
             "{subj} makes a pinching motion with the {side} hand"],
            ["a pinch"], ["pinches thumb and index finger together"],
            ["stays still", "hangs still"]),
        _lp(["{subj} nips the {side} thumb against the forefinger",
             "{subj} brings the {side} thumb and forefinger together in a nip"],
            ["a thumb-forefinger nip"], ["nips thumb against forefinger"],
            ["remains nearly motionless"]),
    ),
    "thumbs_up": (
        _lp(["{subj} gives a thumbs up with the {side} hand", "{subj} shows a thumbs-up"],
            ["a thumbs-up"], ["gives a thumbs up"], ["stays still", "hangs still"]),
        _lp(["{subj} signals approval with an upright {side} thumb",
             "{subj} hoists the {side} thumb skyward in approval"],
            ["an upright thumb of approval"], ["signals approval with an upright thumb"],
            ["remains nearly motionless"]),
    ),
    "ok_sign": (
        _lp(["{subj} makes an OK sign with the {side} hand", "{subj} forms an OK sign"],
            ["an OK sign"], ["makes an OK sign"], ["stays still", "hangs still"]),
        _lp(["{subj} rings the {side} thumb and forefinger into a circle to signal all is well",
             "{subj} signals all is well with a thumb-forefinger circle"],
            ["an all-is-well circle"], ["rings thumb and forefinger into a circle"],
            ["remains nearly motionless"]),
    ),
    "count_on_fingers": (
        _lp(["{subj} counts on their fingers", "{subj} counts with the {side} hand"],
            ["counting on the fingers"], ["counts on its fingers"],
            ["stays still", "hangs still"]),
        _lp(["{subj} tallies numbers by raising digits one after another",
             "{subj} tallies with the {side} digits"],
            ["a tally of digits"], ["tallies by raising digits one after another"],
            ["remains nearly motionless"]),
    ),
    "tap_fingertips": (
        _lp(["{subj} taps their fingertips together",
             "{subj} taps the fingertips of both hands against each other"],
            ["a fingertip tap"], ["taps its fingertips against {other}"]),
        _lp(["{subj} dabs matching fingertip pads against one another",
             "{subj} dabs the pads of the digits together"],
            ["a dabbing of fingertip pads"], ["dabs its fingertip pads against {other}"]),
    ),
    "steeple": (
        _lp(["{subj} steeples their fingers", "{subj} makes a steeple with their hands"],
            ["a steeple of fingers"], ["forms a steeple with {other}"]),
        _lp(["{subj} sets the fingertips against one another as a church spire",
             "{subj} builds a spire from the digits of both hands"],
            ["a church spire of digits"], ["builds a spire with {other}"]),
    ),
    "pass_object": (
        _lp(["{subj} passes an object from one hand to the other",
             "{subj} hands something from the {side} hand to the {other_side} hand"],
            ["a hand-to-hand pass"], ["passes an object to {other}"],
            ["takes the object", "receives the object"]),
        _lp(["{subj} transfers an item between the hands",
             "{subj} shifts an item from the {side} grasp to the {other_side} grasp"],
            ["an item transfer"], ["transfers an item to {other}"],
            ["accepts the item", "grasps the transferred item"]),
    ),
    "wave": (
        _lp(["{subj} waves with the {side} hand", "{subj} waves hello"],
            ["a wave"], ["waves", "waves hello"], ["stays still", "hangs still"]),
        _lp(["{subj} sways the {side} palm from side to side in salutation",
             "{subj} signals hello by swaying the {side} palm"],
            ["a swaying salutation"], ["sways from side to side in salutation"],
            ["remains nearly motionless"]),
    ),
    "spread_fingers": (
        _lp(["{subj} spreads their fingers wide", "{subj} opens both hands with fingers spread"],
            ["spread fingers"], ["spreads its fingers"]),
        _lp(["{subj} fans out every digit on both hands", "{subj} splays all ten digits"],
            ["a fan of splayed digits"], ["fans out its digits"]),
    ),
    "prayer_hands": (
        _lp(["{subj} puts their hands together in prayer",
             "{subj} presses their palms together in a prayer pose"],
            ["praying hands"], ["presses against {other} in prayer"]),
        _lp(["{subj} joins the palms before the sternum in a namaste",
             "{subj} holds a namaste"],
            ["a namaste"], ["joins {other} in a namaste"]),
    ),
    "knock_fists": (
        _lp(["{subj} knocks their fists together", "{subj} bumps both fists together"],
            ["a fist knock"], ["knocks against {other}"]),
        _lp(["{subj} raps the knuckles of both hands against each other",
             "{subj} clinks balled knuckles together"],
            ["a knuckle rap"], ["raps its knuckles on {other}"]),
    ),
    "peace_sign": (
        _lp(["{subj} makes a peace sign with the {side} hand", "{subj} shows a V sign"],
            ["a peace sign"], ["makes a peace sign"], ["stays still", "hangs still"]),
        _lp(["{subj} holds up the {side} forefinger and middle finger in a victory gesture",
             "{subj} flashes a victory gesture"],
            ["a victory gesture"], ["flashes a victory gesture"],
            ["remains nearly motionless"]),
    ),
    "rock_sign": (
        _lp(["{subj} makes a rock sign with the {side} hand", "{subj} throws up the horns"],
            ["a rock sign"], ["makes a rock sign"], ["stays still", "hangs still"]),
        _lp(["{subj} flashes a heavy-metal hand signal with the {side} hand",
             "{subj} hoists a heavy-metal signal of forefinger and pinky"],
            ["a heavy-metal hand signal"], ["flashes a heavy-metal signal"],
            ["remains nearly motionless"]),
    ),
    "heart_shape": (
        _lp(["{subj} makes a heart shape with both hands", "{subj} forms a heart with their hands"],
            ["a heart shape"], ["forms half of a heart with {other}"]),
        _lp(["{subj} curves both hands into a love symbol",
             "{subj} bends the digits of both hands into a love symbol"],
            ["a love symbol"], ["curves into half a love symbol with {other}"]),
    ),
    "finger_frame": (
        _lp(["{subj} makes a frame with their fingers", "{subj} frames a view with both hands"],
            ["a finger frame"], ["forms a corner of a frame"]),
        _lp(["{subj} holds up a rectangle of thumbs and forefingers like a camera viewfinder",
             "{subj} mimes a camera viewfinder"],
            ["a mimed viewfinder"], ["forms one corner of a viewfinder rectangle"]),
    ),
    "piano_fingers": (
        _lp(["{subj} plays an imaginary piano", "{subj} wiggles their fingers as if playing the piano"],
            ["piano playing in the air"], ["wiggles its fingers like playing piano"]),
        _lp(["{subj} drums the digits up and down over invisible keys",
             "{subj} mimes a keyboard recital"],
            ["a mimed keyboard recital"], ["drums its digits over invisible keys"]),
    ),
    "grab_wrist": (
        _lp(["{subj} holds the {other_side} wrist with the {side} hand",
             "{subj} grabs their own {other_side} wrist"],
            ["a wrist grab"], ["grabs the {other_side} wrist"],
            ["is held at the wrist", "gets grabbed at the wrist"]),
        _lp(["{subj} seizes the {other_side} wrist using the {side} hand",
             "{subj} encircles one wrist with the opposite hand"],
            ["a seizing of the wrist"], ["seizes the {other_side} wrist"],
            ["is seized at the wrist"]),
    ),
    "cup_hands": (
        _lp(["{subj} cups their hands together", "{subj} forms a bowl with both hands"],
            ["cupped hands"], ["cups together with {other}"]),
        _lp(["{subj} shapes the two palms into a scoop as if holding water",
             "{subj} makes a scoop for water out of both palms"],
            ["a palm scoop"], ["shapes a scoop with {other}"]),
    ),
    "open_close_hands": (
        _lp(["{subj} opens and closes their hands", "{subj} repeatedly opens and closes both hands"],
            ["opening and closing of the hands"], ["opens and closes"]),
        _lp(["{subj} alternately clenches and unfurls both hands",
             "{subj} pulses both hands between clenched and unfurled"],
            ["alternate clenching and unfurling"], ["alternately clenches and unfurls"]),
    ),
    "shaka": (
        _lp(["{subj} makes a shaka sign with the {side} hand", "{subj} gives a hang-loose sign"],
            ["a shaka sign"], ["makes a shaka sign"], ["stays still", "hangs still"]),
        _lp(["{subj} flashes a surfer salutation with the {side} hand",
             "{subj} extends thumb and pinky in a surfer salutation"],
            ["a surfer salutation"], ["flashes a surfer salutation"],
            ["remains nearly motionless"]),
    ),
    "tap_index_fingers": (
        _lp(["{subj} taps their index fingers together",
             "{subj} touches the two index fingers together repeatedly"],
            ["an index finger tap"], ["taps its index finger against {other}"]),
        _lp(["{subj} dabs both forefingers against each other",
             "{subj} bumps the forefingers together in quick dabs"],
            ["a forefinger dab"], ["dabs its forefinger against {other}"]),
    ),
    "rotate_wrists": (
        _lp(["{subj} rotates their wrists", "{subj} turns both wrists around"],
            ["wrist rotations"], ["rotates at the wrist"]),
        _lp(["{subj} swivels the two hands at the wrist joints",
             "{subj} pivots both hands about the wrists"],
            ["a swiveling of the wrists"], ["swivels at the wrist"]),
    ),
}

WALKING_ROLES: dict[str, str] = {"walk_up_and_greet": "lead", "beckon_and_approach": "follow"}
"""Duet labels whose lead or follow phrase already says that agent walks over, so its text
does not tell the approach a second time."""

COUNTABLE_LABELS: dict[str, frozenset[str]] = {
    "duet": frozenset({
        "handshake", "high_five", "fist_bump", "wave_to_each_other", "bow_to_each_other",
        "push", "punch_and_block", "pat_on_shoulder", "double_high_five", "pat_a_cake",
        "elbow_bump", "applaud_partner", "low_five", "tap_on_back", "twirl_partner"}),
    "bimanual": frozenset({
        "clap", "rub_palms", "make_fists", "point", "pinch", "thumbs_up", "tap_fingertips",
        "wave", "spread_fingers", "knock_fists", "rock_sign", "piano_fingers",
        "open_close_hands", "shaka", "tap_index_fingers", "rotate_wrists"}),
}
"""Labels whose clause reads right with a count ("clap 3 times"); others (a hug, counting
to three, a walk-up greeting) never get one, whatever the generator repeated inside them."""

# ---------------------------------------------------------------------------------------------
# Generic slots: {slot: (TRAIN, TEST)}

WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # Subjects and names.
    "duet.group": (("two people", "a pair of people", "the two people"),
                   ("two individuals", "both participants", "the two participants")),
    "duet.names": (("person A|person B", "the first person|the second person"),
                   ("participant A|participant B", "the first individual|the second individual")),
    "duet.anon": (("one person|the other", "someone|another person"),
                  ("one individual|the other individual", "one participant|the other participant")),
    "bimanual.subject": (("a person", "someone", "the person"),
                         ("an individual", "the participant", "the performer")),
    # Manner.
    "speed.slow": (("slowly", "at a slow pace", "gently"),
                   ("unhurriedly", "in a leisurely manner", "at a relaxed tempo")),
    "speed.moderate": (("at a moderate pace", "at a normal speed", "steadily"),
                       ("at an even tempo", "at a measured rate", "with an unremarkable tempo")),
    "speed.fast": (("quickly", "rapidly", "at a fast pace"),
                   ("briskly", "swiftly", "at a brisk tempo")),
    "count.many": (("{n} times", "{n} times in a row"), ("in {n} repetitions", "over {n} rounds")),
    "hand.using": (("with the {side} hand", "using the {side} hand"),
                   ("by way of the {side} hand", "employing the {side} hand")),
    "lead": (("{name} moves more", "{name} does most of the moving"),
             ("{name} is the more active one", "the bulk of the activity comes from {name}")),
    "first": (("{name} moves first", "{name} starts"),
              ("{name} initiates", "{name} takes the initiative")),
    "both_move.duet": (("both move about equally", "they move equally"),
                       ("the activity is evenly shared", "each contributes evenly")),
    "both_move.bimanual": (("both hands move about equally", "the two hands work evenly"),
                           ("each hand contributes evenly", "the hands share the activity evenly")),
    # Sequencing.
    "seq.first": (("First,", "At first,", "To start,"), ("To begin,", "Initially,", "At the outset,")),
    "seq.next": (("Then", "After that,", "Next,"), ("Subsequently,", "Afterwards,", "Following this,")),
    "seq.last": (("Finally,", "At the end,"), ("Lastly,", "Ultimately,", "To wrap up,")),
    "at_time": (("at {t} s", "at second {t}"), ("around the {t} s mark", "about {t} seconds in")),
    "agent.then": (("then", "and then"), ("subsequently", "and afterwards")),
    "agent.finally": (("and finally", "and at the end"), ("and lastly", "and ultimately")),
    # Events, described in the clip's overall caption (plural subjects).
    "ev.contact_on": (("{x} and {y} touch", "{x} and {y} meet", "contact is made between {x} and {y}"),
                      ("{x} and {y} connect", "{x} and {y} press together",
                       "{x} and {y} make a connection")),
    "ev.contact_off": (("{x} and {y} separate", "{x} and {y} come apart",
                        "contact between {x} and {y} ends"),
                       ("{x} and {y} drift apart", "{x} and {y} disengage",
                        "the touch between {x} and {y} is broken")),
    "ev.contact_many": (("{x} and {y} touch {count}", "{x} and {y} meet {count}"),
                        ("{x} and {y} connect {count}", "{x} and {y} press together {count}")),
    "ev.contact_hold": (("{x} and {y} stay in contact for {dt} s", "{x} and {y} remain touching for {dt} s"),
                        ("{x} and {y} keep pressing together for {dt} s",
                         "{x} and {y} linger together for {dt} s")),
    "ev.approach.duet.both": (("{subj} walk toward each other", "{subj} move closer together"),
                              ("{subj} close the gap", "{subj} draw near one another")),
    "ev.approach.duet.one": (("{name} walks toward {other}", "{name} approaches {other}"),
                             ("{name} strides up to {other}", "{name} draws near {other}")),
    "ev.retreat.duet.both": (("{subj} step apart", "{subj} move away from each other"),
                             ("{subj} widen the gap", "{subj} withdraw from one another")),
    "ev.retreat.duet.one": (("{name} steps back from {other}", "{name} moves away from {other}"),
                            ("{name} backs off from {other}", "{name} withdraws from {other}")),
    "ev.approach.bimanual": (("the hands move toward each other", "the hands come closer"),
                             ("the hands converge", "the hands draw in toward one another")),
    "ev.retreat.bimanual": (("the hands move apart", "the hands pull away from each other"),
                            ("the hands diverge", "the hands withdraw from one another")),
    "ev.close_hand": (("{hand} closes", "{hand} closes into a fist", "{hand} curls its fingers in"),
                      ("{hand} clenches", "{hand} folds its fingers shut")),
    "ev.open_hand": (("{hand} opens", "{hand} opens up", "{hand} straightens its fingers"),
                     ("{hand} unfurls", "{hand} uncurls its fingers")),
    "ev.close_hand.both": (("both {hands} close", "both {hands} close at the same time"),
                           ("both {hands} clench", "both {hands} clench in unison")),
    "ev.open_hand.both": (("both {hands} open", "both {hands} open at the same time"),
                          ("both {hands} unfurl", "both {hands} unfurl in unison")),
    "ev.open_close_many": (("{hands} close into fists {count}", "{hands} close {count}"),
                           ("{hands} clench {count}", "{hands} ball up {count}")),
    "ev.finger_curl_many": (("{finger} bends {count}", "{finger} curls {count}"),
                            ("{finger} folds down {count}", "{finger} tucks in {count}")),
    "ev.finger_curl": (("{finger} bends", "{finger} curls down"), ("{finger} folds down", "{finger} tucks in")),
    "ev.finger_extend": (("{finger} straightens", "{finger} extends"),
                         ("{finger} pops up", "{finger} unfolds")),
    # Agent (third person singular) phrases, for per-agent and per-hand texts.
    "ag.approach": (("walks toward {other}", "approaches {other}"),
                    ("strides up to {other}", "draws near {other}")),
    "ag.retreat": (("steps back", "steps away from {other}"), ("backs off", "withdraws from {other}")),
    "ag.close_hand": (("closes the {side} hand", "curls the {side} fingers in"),
                      ("clenches the {side} hand", "folds the {side} fingers shut")),
    "ag.open_hand": (("opens the {side} hand", "straightens the {side} fingers"),
                     ("unfurls the {side} hand", "uncurls the {side} fingers")),
    "ag.idle": (("stays mostly still", "barely moves"), ("remains nearly motionless", "hardly stirs")),
    "ag.touch": (("touches {other}'s {part} with the {own}", "puts the {own} on {other}'s {part}"),
                 ("rests the {own} upon {other}'s {part}", "connects the {own} with {other}'s {part}")),
    "hand.close": (("closes", "curls its fingers in"), ("clenches", "folds its fingers shut")),
    "hand.open": (("opens", "straightens its fingers"), ("unfurls", "uncurls its fingers")),
    "hand.open_close_many": (("closes into a fist {count}", "closes {count}"),
                             ("clenches {count}", "balls up {count}")),
    "ag.open_close_many": (("closes the {side} hand {count}", "makes a {side} fist {count}"),
                           ("clenches the {side} hand {count}", "balls up the {side} hand {count}")),
    "hand.finger_curl": (("bends the {finger}", "curls the {finger} down"),
                         ("folds the {finger} down", "tucks the {finger} in")),
    "hand.finger_extend": (("straightens the {finger}", "extends the {finger}"),
                           ("pops the {finger} up", "unfolds the {finger}")),
    "hand.self_touch": (("brings the thumb tip to the index fingertip {count}",
                         "touches the thumb and index tips together {count}"),
                        ("meets the thumb and forefinger tips {count}",
                         "joins the thumb pad to the forefinger pad {count}")),
    "hand.toward": (("moves toward {other}", "comes closer to {other}"),
                    ("converges on {other}", "draws in toward {other}")),
    "hand.away": (("moves away from {other}", "pulls back from {other}"),
                  ("diverges from {other}", "withdraws from {other}")),
    "hand.touch": (("touches {other} with the {own}", "meets {other} with the {own}"),
                   ("lays the {own} upon {other}", "connects with {other} through the {own}")),
    "hand.idle": (("stays mostly still", "barely moves"), ("remains nearly motionless", "hardly stirs")),
    # Hand shapes.
    "shape.fist": (("forms a fist", "is closed into a fist"), ("is balled up", "is clenched tight")),
    "shape.open": (("is held open and flat", "stays open"), ("is kept flat with the digits straight",
                                                            "is unfurled")),
    "shape.fingers": (("holds the {fingers} out straight", "keeps the {fingers} extended"),
                      ("keeps the {fingers} sticking out", "leaves the {fingers} unfolded")),
    # Clip-wide sentences.
    "short.noun.duet": (("{Noun} between {subj}", "{Noun} is performed by {subj}"),
                        ("{Noun} shared by {subj}", "{Noun} carried out by {subj}")),
    "short.noun.bimanual": (("{Noun} made with both hands", "{subj} performs {noun}"),
                            ("{Noun} executed by {subj}", "{subj} carries out {noun}")),
    "short.noun.bimanual.one": (("{Noun} made with the {side} hand",
                                 "{subj} shows {noun} with the {side} hand"),
                                ("{Noun} executed with the {side} hand",
                                 "{subj} presents {noun} employing the {side} hand")),
    "medium.tail": (("{main} {count} {speed}", "{Speed}, {main} {count}"),
                    ("{main} {speed} {count}", "{Speed}, {main} {count}")),
    "inter.distance.duet": (("they start {d0} m apart and end {d1} m apart",
                             "they are {d0} m apart at the start and {d1} m apart at the end"),
                            ("the initial separation is {d0} m and the final one {d1} m",
                             "their spacing is {d0} m initially and {d1} m eventually")),
    "inter.distance_min.duet": (("they start {d0} m apart, get as close as {dmin} m and end {d1} m apart",
                                 "they are {d0} m apart at the start, come within {dmin} m and finish {d1} m apart"),
                                ("their spacing goes from {d0} m down to {dmin} m and ends at {d1} m",
                                 "the separation shrinks from {d0} m to {dmin} m and settles at {d1} m")),
    "inter.distance.bimanual": (("the hands start {d0} cm apart and end {d1} cm apart",
                                 "the hands are {d0} cm apart at the start and {d1} cm apart at the end"),
                                ("the initial gap between the hands is {d0} cm and the final one {d1} cm",
                                 "the spacing of the hands is {d0} cm initially and {d1} cm eventually")),
    "inter.distance_min.bimanual": (("the hands start {d0} cm apart, come as close as {dmin} cm and end {d1} cm apart",
                                     "the hands are {d0} cm apart at the start, get within {dmin} cm and finish {d1} cm apart"),
                                    ("the spacing of the hands goes from {d0} cm down to {dmin} cm and ends at {d1} cm",
                                     "the gap between the hands shrinks from {d0} cm to {dmin} cm and settles at {d1} cm")),
    "inter.contact_span": (("{x} and {y} touch from {t0} s to {t1} s", "{x} and {y} are in contact from {t0} s to {t1} s"),
                           ("{x} and {y} linger together between {t0} s and {t1} s",
                            "{x} and {y} press together between {t0} s and {t1} s")),
    "inter.contact_count": (("{x} and {y} touch {count}", "{x} and {y} make contact {count}"),
                            ("{x} and {y} connect {count}", "{x} and {y} press together {count}")),
    "inter.no_contact": (("they never touch", "there is no contact"),
                         ("no physical contact occurs", "they remain untouched")),
    "inter.no_contact.bimanual": (("the hands never touch", "the hands do not touch"),
                                  ("the hands remain untouched", "no physical contact occurs")),
}

# Words shared by both books: anatomy, sides, numbers and the small words around them.
COMMON_WORDS: frozenset[str] = frozenset(
    "a an the and of with to at in on for from by as is are it its their them they each other "
    "left right hand hands palm palms finger fingers fingertip fingertips thumb thumbs tip tips "
    "index middle ring pinky wrist wrists forearm forearms elbow elbows arm arms shoulder "
    "shoulders head heads torso torsos foot feet s m cm A B "
    "zero one two three four five six seven eight nine ten eleven twelve".lower().split()
)

NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven",
                                 "eight", "nine", "ten", "eleven", "twelve")


class Book:
    """One book (TRAIN or TEST): the label phrases and generic slots of one vocabulary."""

    def __init__(self, name: str):
        if name not in BOOKS:
            raise ValueError(f"unknown book {name!r}; books are {', '.join(BOOKS)}")
        self.name = name
        self._i = BOOKS.index(name)

    def label(self, mode: str, label: str) -> LabelPhrases:
        """The phrases of ``label`` in ``mode``; raises ``KeyError`` naming both."""
        table = DUET_PHRASES if mode == "duet" else BIMANUAL_PHRASES
        try:
            return table[label][self._i]
        except KeyError:
            raise KeyError(f"the phrasebook has no {mode} label {label!r}") from None

    def words(self, slot: str) -> tuple[str, ...]:
        """The options of a generic slot."""
        return WORDS[slot][self._i]


@lru_cache(maxsize=None)
def book(name: str) -> Book:
    """The ``train`` or ``test`` book."""
    return Book(name)


_PLACEHOLDER = re.compile(r"\{[a-zA-Z_0-9]+\}")
_WORD = re.compile(r"[a-z]+")


def words_of(text: str) -> set[str]:
    """Lower-case words of a text or pattern (placeholders dropped; hyphens and apostrophes
    split words, so "pat-a-cake" is pat, a, cake)."""
    return set(_WORD.findall(_PLACEHOLDER.sub(" ", text).lower()))


def book_strings(name: str) -> list[str]:
    """Every pattern of one book (labels and slots), for vocabulary checks."""
    i = BOOKS.index(name)
    out: list[str] = []
    for table in (DUET_PHRASES, BIMANUAL_PHRASES):
        for pair in table.values():
            lp = pair[i]
            out += [*lp.clause, *lp.noun, *lp.lead, *lp.follow]
    for pair in WORDS.values():
        for s in pair[i]:
            out += s.split("|")
    return out


@lru_cache(maxsize=None)
def vocabulary(name: str) -> frozenset[str]:
    """All words of one book."""
    out: set[str] = set()
    for s in book_strings(name):
        out |= words_of(s)
    return frozenset(out)


@lru_cache(maxsize=None)
def words_only_in_test_book() -> frozenset[str]:
    """Words of the TEST book that occur nowhere in the TRAIN book nor in the common words."""
    return frozenset(vocabulary("test") - vocabulary("train") - COMMON_WORDS)


def number_text(n: int, rng_value: float) -> str:
    """``n`` as a word or as digits (the choice from ``rng_value`` in [0, 1))."""
    if 0 <= n < len(NUMBER_WORDS) and rng_value < 0.6:
        return NUMBER_WORDS[n]
    return str(n)


def capitalize(text: str) -> str:
    """First letter upper case, the rest untouched (keeps "person A")."""
    for i, ch in enumerate(text):
        if ch in string.ascii_letters:
            return text[:i] + ch.upper() + text[i + 1:]
    return text
