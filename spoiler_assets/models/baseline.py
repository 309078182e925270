"""TF-IDF + logistic regression: the baseline every other model has to beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from spoiler_assets.models.metrics import tune_threshold


@dataclass(frozen=True)
class BaselineParams:
    max_features: int = 100_000
    ngram_max: int = 2
    min_df: int = 3
    c: float = 4.0
    max_iter: int = 1_000
    seed: int = 7


@dataclass
class TfidfLogisticModel:
    """A fitted TF-IDF + logistic regression pipeline and its decision threshold."""

    pipeline: Pipeline
    threshold: float
    name: str = "baseline_tfidf_lr"

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(reviews["review_text"].tolist())[:, 1]


def train_baseline(train: pd.DataFrame, valid: pd.DataFrame, params: BaselineParams) -> TfidfLogisticModel:
    """Fit on `train` with balanced class weights; tune the threshold on `valid` (max F1)."""
    pipeline = Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    max_features=params.max_features,
                    ngram_range=(1, params.ngram_max),
                    min_df=params.min_df,
                    sublinear_tf=True,
                    strip_accents="unicode",
                    dtype=np.float32,
                ),
            ),
            (
                "lr",
                LogisticRegression(
                    C=params.c,
                    class_weight="balanced",
                    solver="liblinear",
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
