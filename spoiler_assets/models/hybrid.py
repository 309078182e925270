"""What the hybrid models (XGBoost, MLP) share: their inputs, built the serving way.

A hybrid model predicts from [Feast features of `hybrid_v1` + sentence embedding].
At prediction time (API, batch scoring) it builds them like the API does: online store
lookup by movie_id / user_id with the on-demand views computed by Feast, plus the
embedding of the text. Labelled past reviews (comparison, champion gate, drift
reference) read the same feature service from the offline store as of each review's
date (`predict_proba_as_of_review_dates`), so the online store can always hold the
latest values for serving without leaking them into an evaluation. A model pickles only specs (where the store
is, which encoder); the store and the encoder are re-opened from them after loading,
and the API can rebind the store to its own environment (`bind_feature_store`).

Missing features (unknown movie or user, first review of a user) are NaN; each model
handles them in its own way, and `predict_with_missing` says which ones were missing.

Batches (comparison, champion gate, batch endpoint) reuse the vectors this process
computed recently for the same text and encoder (the encoder is deterministic), so two
hybrid models scoring one test split encode it once; a single review is always encoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from spoiler_assets.features.retrieval import historical_features, missing_features, read_online_features
from spoiler_assets.features.schema import FEATURE_SERVICE, MODEL_FEATURES
from spoiler_assets.features.store import FeatureStoreSpec, open_store
from spoiler_assets.models.embeddings import (
    EncoderSpec,
    ReviewEmbeddings,
    encode,
    encode_remembered,
    lookup_embeddings,
    text_digest,
)
from spoiler_assets.models.metrics import ranking_scores


@runtime_checkable
class FeatureStoreClassifier(Protocol):
    """A `SpoilerClassifier` whose inputs come from the feature store."""

    name: str
    threshold: float

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray: ...

    def predict_with_missing(self, reviews: pd.DataFrame) -> tuple[np.ndarray, list[list[str]]]:
        """Probabilities and, per review, the features that were missing."""
        ...

    def bind_feature_store(self, spec: FeatureStoreSpec) -> None:
        """Read features from the store `spec` describes from now on."""
        ...


@dataclass
class HybridInputs:
    """Where a hybrid model's inputs come from at prediction time (specs only)."""

    store: FeatureStoreSpec
    encoder: EncoderSpec
    feature_service: str = FEATURE_SERVICE
    feature_names: tuple[str, ...] = field(default=MODEL_FEATURES)

    def build(self, reviews: pd.DataFrame, now: datetime | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Online features and embeddings of `reviews` (the serving path)."""
        self._check_layout()
        features = read_online_features(open_store(self.store), reviews, now)
        texts = reviews["review_text"].astype(str).tolist()
        if len(texts) == 1:  # the serving case: always encoded, so latency figures are real
            return features, encode(texts, self.encoder)
        return features, self._embeddings(texts)

    def build_as_of_review_dates(self, reviews: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Features of dated reviews as each review's date saw them (offline store, point
        in time) and embeddings: the same feature service the online path reads."""
        self._check_layout()
        features = historical_features(open_store(self.store), reviews)
        return features, self._embeddings(reviews["review_text"].astype(str).tolist())

    def _embeddings(self, texts: list[str]) -> np.ndarray:
        embeddings, _ = encode_remembered(texts, [text_digest(t) for t in texts], self.encoder)
        return embeddings

    def _check_layout(self) -> None:
        if self.feature_names != MODEL_FEATURES or self.feature_service != FEATURE_SERVICE:
            raise RuntimeError(
                f"model was trained on {self.feature_service} with a different layout than this code serves"
            )


def model_matrix(features: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
    """[features in `MODEL_FEATURES` order | embedding] as one float32 matrix (NaN kept)."""
    if len(features) != len(embeddings):
        raise ValueError(f"{len(features)} feature rows but {len(embeddings)} embeddings")
    return np.hstack([features[list(MODEL_FEATURES)].to_numpy(np.float32), embeddings.astype(np.float32)])


@dataclass(frozen=True)
class HybridSplit:
    """One split's inputs and labels, as training sees them."""

    features: pd.DataFrame
    embeddings: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def training_split(dataset: pd.DataFrame, embeddings: Sequence[ReviewEmbeddings], name: str) -> HybridSplit:
    """The rows of split `name` of the training dataset (features as of each review's
    date, `is_spoiler` labels) with their review embeddings."""
    rows = dataset[dataset["split"] == name]
    return HybridSplit(
        features=rows[list(MODEL_FEATURES)],
        embeddings=lookup_embeddings(embeddings, rows["review_id"].tolist()),
        labels=rows["is_spoiler"].to_numpy(dtype=bool),
    )


class HybridPredictions:
    """`predict_proba` / `predict_with_missing` on top of `score_inputs`."""

    inputs: HybridInputs

    def score_inputs(self, features: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_with_missing(self, reviews: pd.DataFrame) -> tuple[np.ndarray, list[list[str]]]:
        features, embeddings = self.inputs.build(reviews)
        return self.score_inputs(features, embeddings), missing_features(features)

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return self.predict_with_missing(reviews)[0]

    def predict_proba_as_of_review_dates(self, reviews: pd.DataFrame) -> np.ndarray:
        return self.score_inputs(*self.inputs.build_as_of_review_dates(reviews))

    def bind_feature_store(self, spec: FeatureStoreSpec) -> None:
        self.inputs.store = spec


def validation_scores(model: HybridPredictions, valid: HybridSplit) -> dict[str, float]:
    """`valid_pr_auc` and `valid_roc_auc` of `model` on the validation split's training
    inputs (historical features, not the online store)."""
    scores = ranking_scores(valid.labels, model.score_inputs(valid.features, valid.embeddings))
    return {"valid_pr_auc": scores["pr_auc"], "valid_roc_auc": scores["roc_auc"]}
