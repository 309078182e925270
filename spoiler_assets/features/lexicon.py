"""Word lists for the offline sentiment and spoiler-cue features (written here; nothing
is downloaded).

Sentiment is a plain lexicon count: positive and negative review vocabulary, with a
negator ("not", "never", ...) flipping the polarity of the next sentiment word within
three tokens. Spoiler cues are words and short phrases that tend to announce plot
outcomes ("turns out", "dies", "the ending"); they are weak evidence alone, which is
why they are a feature and not a rule.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


POSITIVE: frozenset[str] = _words(
    """
    amazing astonishing awesome beautiful beautifully believable best bold brilliant
    brilliantly captivating charming clever compelling convincing delight delightful
    effective elegant emotional engaging enjoy enjoyable enjoyed entertaining epic
    excellent exceptional exciting exquisite fabulous fantastic fascinating favorite
    favourite fine flawless fresh fun funny genius gem good gorgeous gracious great
    gripping haunting heartfelt hilarious honest impressive incredible inspired
    inspiring intelligent intense interesting legendary likable lovable love loved
    lovely magical magnificent marvelous marvellous masterful masterpiece memorable
    moving natural nice perfect perfectly phenomenal pleasant poignant powerful
    refreshing remarkable rewarding rich riveting satisfying smart solid spectacular
    splendid strong stunning sublime superb superbly surprising sweet talented
    tender terrific thoughtful thrilling timeless touching tremendous triumph
    unforgettable unique uplifting well-acted well-made witty wonderful wonderfully
    worth worthwhile
    """
)

NEGATIVE: frozenset[str] = _words(
    """
    absurd annoying atrocious avoid awful awkward bad badly bland bore bored boring
    cheap cheesy clumsy clichéd cliche cliched confused confusing contrived crap
    crappy cringe cringeworthy dead-end dire disappoint disappointed disappointing
    disappointment disaster dreadful dull dumb embarrassing empty fail failed fails
    failure flat flawed forced forgettable garbage hate hated horrible horrid
    idiotic illogical implausible incoherent inept insult insulting irritating junk
    lame laughable lazy lifeless mediocre mess messy mindless miscast misguided
    nonsense obnoxious overacted overlong overrated painful pathetic pointless poor
    poorly predictable pretentious ridiculous rubbish sadly shallow silly sloppy
    slow stiff stupid sucks tedious terrible tiresome trash underwhelming unbearable
    unconvincing uneven uninspired uninteresting unfunny unwatchable waste wasted
    weak worse worst
    """
)

NEGATORS: frozenset[str] = _words(
    "not no never neither nor nothing hardly barely isn't wasn't aren't don't doesn't didn't can't"
    " couldn't won't wouldn't shouldn't"
)

SPOILER_CUES: frozenset[str] = _words(
    """
    ending end ends ended finale climax twist twists reveal reveals revealed revelation
    turns dies die died death dead killed kill kills killer murderer murder murdered
    betrays betrayed betrayal secretly secret truth actually survives survive
    sacrifice sacrifices ghost dream spoiler spoilers finally afterwards eventually
    identity disguise father mother
    """
)

# Two-word cues, matched on consecutive tokens.
SPOILER_BIGRAMS: frozenset[tuple[str, str]] = frozenset(
    {
        ("turns", "out"),
        ("turned", "out"),
        ("all", "along"),
        ("the", "end"),
        ("last", "scene"),
        ("final", "scene"),
        ("the", "killer"),
        ("whole", "time"),
    }
)
