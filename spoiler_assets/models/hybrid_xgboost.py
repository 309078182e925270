"""Gradient-boosted trees on [Feast features + sentence embedding].

Imbalance: `scale_pos_weight` = negatives / positives of the training split. Missing
features stay NaN: XGBoost learns a default branch for them at every split, and the
training data has them where serving will (unknown movies, first reviews of users).
Early stopping on validation PR-AUC (the primary metric); the decision threshold
maximises F1 on validation. Trained on `n_jobs` threads, predicts on one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from xgboost import XGBClassifier

from spoiler_assets.models.hybrid import HybridInputs, HybridPredictions, HybridSplit, model_matrix
from spoiler_assets.models.metrics import tune_threshold
from spoiler_assets.seed import SEED


class XGBoostParams(BaseModel):
    """Hyper-parameters of the XGBoost model; `XGBoostConfig` (its run config) inherits them."""

    model_config = ConfigDict(frozen=True)

    n_estimators: int = Field(default=400, description="Most boosting rounds (early stopping on valid)")
    max_depth: int = Field(default=5, description="Tree depth")
    learning_rate: float = Field(default=0.05, description="Shrinkage")
    subsample: float = Field(default=0.8, description="Share of rows per tree")
    colsample_bytree: float = Field(default=0.5, description="Share of columns per tree")
    min_child_weight: float = Field(default=2.0, description="Least hessian sum in a leaf")
    early_stopping_rounds: int = Field(
        default=30, description="Rounds without a better validation PR-AUC before stopping"
    )
    n_jobs: int = Field(default=2, description="Training threads (prediction runs on one)")
    seed: int = Field(default=SEED, description="Random seed")


@dataclass
class XGBoostSpoilerModel(HybridPredictions):
    """A fitted XGBoost classifier, where its inputs come from, and its threshold."""

    classifier: XGBClassifier
    inputs: HybridInputs
    threshold: float
    name: str = "hybrid_xgboost"

    def score_inputs(self, features: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.classifier.predict_proba(model_matrix(features, embeddings))[:, 1], dtype=float
        )


def positive_weight(labels: np.ndarray) -> float:
    """Negatives per positive: the weight that balances the two classes."""
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        raise ValueError("training labels need both spoilers and non-spoilers")
    return (len(labels) - positives) / positives


def train_xgboost(
    train: HybridSplit, valid: HybridSplit, inputs: HybridInputs, params: XGBoostParams
) -> XGBoostSpoilerModel:
    classifier = XGBClassifier(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        min_child_weight=params.min_child_weight,
        scale_pos_weight=positive_weight(train.labels),
        eval_metric="aucpr",
        early_stopping_rounds=params.early_stopping_rounds,
        tree_method="hist",
        n_jobs=params.n_jobs,
        random_state=params.seed,
    )
    classifier.fit(
        model_matrix(train.features, train.embeddings),
        train.labels.astype(int),
        eval_set=[(model_matrix(valid.features, valid.embeddings), valid.labels.astype(int))],
        verbose=False,
    )
    # Predict single-threaded: serving scores one review at a time, and XGBoost's OpenMP
    # threads spinning beside PyTorch's (the encoder) slow both down on a 2-core CPU.
    classifier.set_params(n_jobs=1)
    model = XGBoostSpoilerModel(classifier=classifier, inputs=inputs, threshold=0.5)
    model.threshold = tune_threshold(valid.labels, model.score_inputs(valid.features, valid.embeddings))
    return model
