"""Statistics of a review's text: length, sentiment, spoiler cues, style.

One function computes them for the per-month `review_fv` source and for the
request-time `review_text_odfv`, so a stored review and a review arriving at the API
get the same numbers. Shares are per word, so they do not grow with length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spoiler_assets.features.lexicon import NEGATIVE, NEGATORS, POSITIVE, SPOILER_BIGRAMS, SPOILER_CUES
from spoiler_assets.features.schema import TEXT_FEATURES

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_NEGATION_WINDOW = 3


def word_count(text: str) -> int:
    """Words as the models count them (whitespace-separated tokens)."""
    return len(text.split())


def text_statistics(text: str) -> tuple[float, ...]:
    """The `TEXT_FEATURES` of one review, in that order."""
    words = text.split()
    n_words = max(len(words), 1)
    tokens = _TOKEN.findall(text)
    lower = [t.lower() for t in tokens]
    positive = negative = cues = 0
    since_negator = _NEGATION_WINDOW + 1
    for i, token in enumerate(lower):
        if token in NEGATORS:
            since_negator = 0
            continue
        since_negator += 1
        polarity = (token in POSITIVE) - (token in NEGATIVE)
        if polarity and since_negator <= _NEGATION_WINDOW:
            polarity = -polarity
        positive += polarity > 0
        negative += polarity < 0
        cues += token in SPOILER_CUES or (i > 0 and (lower[i - 1], token) in SPOILER_BIGRAMS)
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
