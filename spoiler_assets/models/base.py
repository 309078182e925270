"""The one interface every spoiler model implements, for training, comparison and serving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

# Columns a model may read from a batch of reviews. `movie_id` and `user_id` may be
# missing (None) at serving time; models must cope.
REVIEW_COLUMNS: tuple[str, ...] = ("review_text", "movie_id", "user_id")


@runtime_checkable
class SpoilerClassifier(Protocol):
    """A trained spoiler model with its tuned decision threshold."""

    name: str
    threshold: float

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        """Spoiler probability for each row of `reviews` (columns: REVIEW_COLUMNS)."""
        ...


@runtime_checkable
class PointInTimeClassifier(Protocol):
    """A model whose inputs change over time (features from a store). Labelled reviews
    (test split, incumbent re-scoring, drift reference) are scored with the inputs each
    review's own date saw, never with values written after it."""

    def predict_proba_as_of_review_dates(self, reviews: pd.DataFrame) -> np.ndarray:
        """Spoiler probabilities of dated reviews (REVIEW_COLUMNS + `review_date`)."""
        ...


def labelled_probabilities(model: SpoilerClassifier, reviews: pd.DataFrame) -> np.ndarray:
    """Probabilities of past, labelled reviews: point in time where the model's inputs
    change over time, plain `predict_proba` otherwise."""
    if isinstance(model, PointInTimeClassifier):
        return np.asarray(model.predict_proba_as_of_review_dates(reviews), dtype=float)
    return np.asarray(model.predict_proba(reviews), dtype=float)


def reviews_frame(
    texts: list[str], movie_ids: list[str | None] | None = None, user_ids: list[str | None] | None = None
) -> pd.DataFrame:
    """Build the batch frame that `SpoilerClassifier.predict_proba` takes."""
    n = len(texts)
    return pd.DataFrame(
        {
            "review_text": texts,
            "movie_id": movie_ids if movie_ids is not None else [None] * n,
            "user_id": user_ids if user_ids is not None else [None] * n,
        }
    )


@dataclass(frozen=True)
class TrainedModel:
    """What a model asset stores: the classifier and where MLflow keeps its run."""

    classifier: SpoilerClassifier
    run_id: str
    model_uri: str
    corpus: str
