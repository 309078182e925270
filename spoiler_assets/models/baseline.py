"""TF-IDF (hashed 1-2 grams) + logistic regression: the baseline every other model has to beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from spoiler_assets.models.metrics import tune_threshold
from spoiler_assets.seed import SEED


class BaselineParams(BaseModel):
    """Hyper-parameters of the baseline; `BaselineConfig` (its run config) inherits them."""

    model_config = ConfigDict(frozen=True)

    hash_bits: int = Field(default=20, description="log2 of the number of hashed TF-IDF features")
    ngram_max: int = Field(default=2, description="Longest word n-gram")
    c: float = Field(default=4.0, description="Inverse L2 regularisation strength")
    max_iter: int = Field(default=1_000, description="Most solver iterations")
    seed: int = Field(default=SEED, description="Random seed")


@dataclass
class TfidfLogisticModel:
    """A fitted TF-IDF + logistic regression pipeline and its decision threshold."""

    pipeline: Pipeline
    threshold: float
    name: str = "baseline_tfidf_lr"

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(reviews["review_text"].tolist())[:, 1]


def hashed_tfidf_steps(hash_bits: int, ngram_max: int) -> list[tuple[str, Any]]:
    """The "hashing" and "tfidf" steps shared by the review and the sentence models.

    Hashed counts keep memory flat on the full corpus: no vocabulary of millions of
    bigrams is ever built (2**20 columns, collisions are rare enough not to matter for a
    linear model). `models/explain.py` re-hashes n-grams through the "hashing" step."""
    return [
        (
            "hashing",
            HashingVectorizer(
                n_features=2**hash_bits,
                ngram_range=(1, ngram_max),
                alternate_sign=False,
                norm=None,
                strip_accents="unicode",
                dtype=np.float32,
            ),
        ),
        ("tfidf", TfidfTransformer(sublinear_tf=True)),
    ]


def train_baseline(train: pd.DataFrame, valid: pd.DataFrame, params: BaselineParams) -> TfidfLogisticModel:
    """Fit on `train` with balanced class weights; tune the threshold on `valid` (max F1)."""
    pipeline = Pipeline(
        [
            *hashed_tfidf_steps(params.hash_bits, params.ngram_max),
            (
                "lr",
                LogisticRegression(
                    C=params.c,
                    class_weight="balanced",
                    solver="lbfgs",
                    max_iter=params.max_iter,
                    random_state=params.seed,
                ),
            ),
        ]
    )
    pipeline.fit(train["review_text"].tolist(), train["is_spoiler"].to_numpy(dtype=int))
    model = TfidfLogisticModel(pipeline=pipeline, threshold=0.5)
    model.threshold = tune_threshold(valid["is_spoiler"].to_numpy(dtype=bool), model.predict_proba(valid))
    return model
