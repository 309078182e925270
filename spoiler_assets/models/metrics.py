"""Scoring shared by every model: the same splits, the same figures."""

from __future__ import annotations

import pickle
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from spoiler_assets.models.base import SpoilerClassifier, labelled_probabilities

# Primary metric for choosing the champion: PR-AUC (average precision). Spoilers are the
# minority class (~26%) and the product cares about ranking them above clean reviews;
# ROC-AUC hides poor precision on the minority class.
PRIMARY_METRIC = "pr_auc"


@dataclass(frozen=True)
class ModelScore:
    model: str
    roc_auc: float
    pr_auc: float
    f1: float
    precision: float
    recall: float
    threshold: float
    latency_ms_p50: float
    size_mb: float
    rows: int

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def tune_threshold(labels: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut that maximises F1 on validation data."""
    precision, recall, thresholds = precision_recall_curve(labels, proba)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    # precision_recall_curve has one more (precision, recall) point than thresholds.
    best = int(np.nanargmax(f1[:-1])) if len(thresholds) else 0
    return float(thresholds[best]) if len(thresholds) else 0.5


def single_review_latency_ms(model: SpoilerClassifier, reviews: pd.DataFrame, n: int = 30) -> float:
    """Median wall time of one `predict_proba` call on a single review (CPU)."""
    rows = reviews.head(n)
    model.predict_proba(rows.iloc[:1])  # warm caches and lazy initialisation
    timings = []
    for i in range(len(rows)):
        start = time.perf_counter()
        model.predict_proba(rows.iloc[i : i + 1])
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.median(timings))


def serialized_size_mb(model: SpoilerClassifier) -> float:
    """Size of the pickled model, i.e. what it occupies on disk."""
    return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6


def score_model(
    model: SpoilerClassifier, frame: pd.DataFrame, timing: bool = True
) -> tuple[ModelScore, np.ndarray]:
    """Score `model` on the labelled `frame` at its own (validation-tuned) threshold;
    returns the figures and the probabilities. `timing=False` skips the latency and size
    measurements (they do not depend on the split)."""
    labels = frame["is_spoiler"].to_numpy(dtype=bool)
    if labels.all() or not labels.any():
        raise ValueError("a split needs both spoilers and non-spoilers to be scored")
    proba = labelled_probabilities(model, frame)
    figures = classification_figures(labels, proba, model.threshold)
    score = ModelScore(
        model=model.name,
        roc_auc=figures["roc_auc"],
        pr_auc=figures["pr_auc"],
        f1=figures["f1"],
        precision=figures["precision"],
        recall=figures["recall"],
        threshold=float(model.threshold),
        latency_ms_p50=single_review_latency_ms(model, frame) if timing else float("nan"),
        size_mb=serialized_size_mb(model) if timing else float("nan"),
        rows=len(frame),
    )
    return score, proba


def ranking_scores(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """ROC-AUC and PR-AUC of one labelled set: how well `proba` ranks spoilers first."""
    labels = np.asarray(labels, dtype=bool)
    return {
        "roc_auc": float(roc_auc_score(labels, proba)),
        "pr_auc": float(average_precision_score(labels, proba)),
    }


def classification_figures(labels: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC-AUC, PR-AUC and, at `threshold`, F1, precision and recall of one labelled set."""
    labels = np.asarray(labels, dtype=bool)
    predicted = np.asarray(proba) >= threshold
    return {
        **ranking_scores(labels, proba),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
    }
