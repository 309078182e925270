"""Statistics of a review's text: length, sentiment, spoiler cues, style.

One function computes them for the per-month `review_fv` source and for the
request-time `review_text_odfv`, so a stored review and a review arriving at the API
get the same numbers. Shares are per word, so they do not grow with length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from spoiler_assets.features.lexicon import NEGATIVE, NEGATORS, POSITIVE, SPOILER_BIGRAMS, SPOILER_CUES
from spoiler_assets.features.schema import TEXT_FEATURES

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_NEGATION_WINDOW = 3


def word_count(text: str) -> int:
    """Words as the models count them (whitespace-separated tokens)."""
    return len(text.split())


def _polarities(lower: Sequence[str]) -> list[int]:
    """+1 / -1 / 0 per lower-cased token: its lexicon polarity, flipped when a negator
    stands within `_NEGATION_WINDOW` tokens before it (a negator itself counts 0)."""
    polarities = []
    since_negator = _NEGATION_WINDOW + 1
    for token in lower:
        if token in NEGATORS:
            since_negator = 0
            polarities.append(0)
            continue
        since_negator += 1
        polarity = (token in POSITIVE) - (token in NEGATIVE)
        polarities.append(-polarity if since_negator <= _NEGATION_WINDOW else polarity)
    return polarities


def lexicon_sentiment(text: str) -> float:
    """Net lexicon sentiment per word, in [-1, 1]: (positive - negative) / words. The
    `sentiment` feature, and the sentiment that drift monitoring follows."""
    polarities = _polarities([t.lower() for t in _TOKEN.findall(text)])
    return sum(polarities) / max(word_count(text), 1)


def text_statistics(text: str) -> tuple[float, ...]:
    """The `TEXT_FEATURES` of one review, in that order."""
    words = text.split()
    n_words = max(len(words), 1)
    tokens = _TOKEN.findall(text)
    lower = [t.lower() for t in tokens]
    polarities = _polarities(lower)
    positive = sum(p > 0 for p in polarities)
    negative = sum(p < 0 for p in polarities)
    cues = sum(
        token not in NEGATORS
        and (token in SPOILER_CUES or (i > 0 and (lower[i - 1], token) in SPOILER_BIGRAMS))
        for i, token in enumerate(lower)
    )
    capitalized = sum(1 for t in tokens[1:] if t[0].isupper())  # the first word is always capitalised
    letters = sum(len(t) for t in tokens if not t.isdigit())
    n_alpha = max(sum(1 for t in tokens if not t.isdigit()), 1)
    return (
        float(len(words)),
        float(max(len(_SENTENCE_END.findall(text)), 1)),
        letters / n_alpha,
        (positive - negative) / n_words,
        positive / n_words,
        negative / n_words,
        cues / n_words,
        capitalized / n_words,
        text.count("!") / n_words,
        text.count("?") / n_words,
        sum(1 for t in tokens if t.isdigit()) / n_words,
    )


def text_feature_columns(texts: Iterable[str]) -> dict[str, list[float]]:
    """`TEXT_FEATURES` for many reviews, as columns (the shape Feast's python mode uses)."""
    rows = [text_statistics(t) for t in texts]
    return {name: [row[i] for row in rows] for i, name in enumerate(TEXT_FEATURES)}
