"""Comparing models on the same test split: the table, the curves, the winner."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # headless: figures are only ever written to bytes

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets.models.metrics import PRIMARY_METRIC, ModelScore, score_model


@dataclass(frozen=True)
class Comparison:
    """Every model scored on one test set, and the winner by the primary metric."""

    scores: pd.DataFrame
    winner: str
    primary_metric: str
    test_fingerprint: str
    corpus: str
    curves_png: bytes


def test_fingerprint(test: pd.DataFrame) -> str:
    """Identifies a test set, so scores are only ever compared on the same rows."""
    ids = "\n".join(sorted(test["review_id"].astype(str)))
    return hashlib.blake2b(ids.encode(), digest_size=8).hexdigest()


def compare_models(models: dict[str, SpoilerClassifier], test: pd.DataFrame, corpus: str) -> Comparison:
    """Score each model (keyed by asset name) on `test` and pick the best by PR-AUC."""
    if not models:
        raise ValueError("no models to compare")
    scores: list[ModelScore] = []
    probabilities: dict[str, np.ndarray] = {}
    for key, model in models.items():
        score, proba = score_model(model, test)
        scores.append(score)
        probabilities[key] = proba
    table = pd.DataFrame([s.as_dict() for s in scores], index=list(models)).rename_axis("asset")
    table = table.sort_values(PRIMARY_METRIC, ascending=False)
    labels = test["is_spoiler"].to_numpy(dtype=bool)
    return Comparison(
        scores=table,
        winner=str(table.index[0]),
        primary_metric=PRIMARY_METRIC,
        test_fingerprint=test_fingerprint(test),
        corpus=corpus,
        curves_png=plot_curves(labels, probabilities, corpus),
    )


def plot_curves(labels: np.ndarray, probabilities: dict[str, np.ndarray], corpus: str) -> bytes:
    """ROC and precision-recall curves of every model, as PNG bytes."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, proba in probabilities.items():
        fpr, tpr, _ = roc_curve(labels, proba)
        precision, recall, _ = precision_recall_curve(labels, proba)
        roc_ax.plot(fpr, tpr, label=name)
        pr_ax.plot(recall, precision, label=name)
    roc_ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    pr_ax.axhline(labels.mean(), linestyle=":", color="grey", label="spoiler share")
    roc_ax.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    pr_ax.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    pr_ax.legend(loc="upper right", fontsize="small")
    fig.suptitle(f"Test split: {corpus}", fontsize="medium")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def comparison_markdown(comparison: Comparison) -> str:
    """The comparison table, its data source and winner, as Markdown."""
    shown = comparison.scores.drop(columns=["model"]).round(4)
    return (
        f"**Data:** {comparison.corpus}  \n"
        f"**Primary metric:** {comparison.primary_metric}; **winner:** `{comparison.winner}`\n\n"
        f"{shown.to_markdown()}"
    )


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
