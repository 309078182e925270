"""Fakes for the shield's API and page tests: a provider serving a review model with a
sentence scorer, and a sentence scorer that flags sentences with spoiler words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from api.errors import NoChampionError
from api.provider import ServedModel
from api.sentences import SentenceScorer
from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets.models.sentences import sentence_spans
from spoiler_assets_tests.api.fake_models import SPOILER_WORDS


@dataclass
class KeywordSentenceScorer:
    """Fake: the real sentence spans; 0.9 for a sentence with a spoiler word, else 0.1."""

    name: str = "keyword-sentences-fake"
    threshold: float = 0.5

    def score_review(self, text: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        spans = sentence_spans(text)
        hits = [any(w in text[a:b].lower() for w in SPOILER_WORDS) for a, b in spans]
        return spans, np.where(hits, 0.9, 0.1)


def served_pair(
    classifier: SpoilerClassifier, scorer: SentenceScorer | None, version: str = "3"
) -> ServedModel:
    return ServedModel(
        classifier,
        "spoiler-shield",
        version,
        run_id=f"run-{version}",
        loaded_at=datetime(2024, 1, 1, tzinfo=UTC),
        sentence_scorer=scorer,
        sentence_model_version="7" if scorer is not None else None,
    )


class PairProvider:
    """Fake registry serving one review model and its sentence scorer (or no champion)."""

    def __init__(self, served: ServedModel | None) -> None:
        self.served = served

    def load(self) -> ServedModel:
        if self.served is None:
            raise NoChampionError("no model registered as 'spoiler-shield@champion' yet")
        return self.served
