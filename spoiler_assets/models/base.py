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
