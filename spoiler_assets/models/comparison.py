"""Comparing models: chosen on validation, reported on an untouched test split.

Every model is scored on the validation split and the winner is the best validation
PR-AUC; only then is the test split scored, so no test figure ever takes part in a
choice (model, epoch, threshold or winner). Thresholds come from validation (each model
tunes its own there); test F1, precision and recall are at that threshold. The table
shows both splits side by side.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets.models.metrics import PRIMARY_METRIC, score_model

SELECTION_SPLIT = "valid"
# Columns of the table, per split: figures at each model's validation threshold.
_SPLIT_FIGURES = ("roc_auc", "pr_auc", "f1", "precision", "recall")


@dataclass(frozen=True)
class Comparison:
    """Every model scored on validation and test; the winner by validation PR-AUC.

    `scores` has one row per model asset: `valid_<metric>` and `test_<metric>` for ROC-AUC,
    PR-AUC, F1, precision and recall, then threshold, latency, size and row counts.
    `test_labels` / `test_probabilities` are the test rows in `review_split` order, kept
    so that the promotion gate compares the champion with the incumbent on the same rows.
    """

    scores: pd.DataFrame
    winner: str
    primary_metric: str
    test_fingerprint: str
    corpus: str
    curves_png: bytes
    selection_split: str = SELECTION_SPLIT
    test_positive_rate: float = float("nan")
    test_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    test_probabilities: dict[str, np.ndarray] = field(default_factory=dict)

    def figure(self, asset: str, split: str, metric: str) -> float:
        """One model's figure on one split, e.g. `figure("baseline_model", "test", "pr_auc")`."""
        return float(self.scores.loc[asset, f"{split}_{metric}"])

    @property
    def winner_test_score(self) -> float:
        """The champion candidate's test score on the primary metric, measured after the choice."""
        return self.figure(self.winner, "test", self.primary_metric)


def test_fingerprint(test: pd.DataFrame) -> str:
    """Identifies a test set, so scores are only ever compared on the same rows."""
    ids = "\n".join(sorted(test["review_id"].astype(str)))
    return hashlib.blake2b(ids.encode(), digest_size=8).hexdigest()


def compare_models(
    models: Mapping[str, SpoilerClassifier], valid: pd.DataFrame, test: pd.DataFrame, corpus: str
) -> Comparison:
    """Choose the best validation PR-AUC among `models` (keyed by asset name), then score
    every model on `test` for the report."""
    if not models:
        raise ValueError("no models to compare")
    valid_scores = {key: score_model(model, valid, timing=False)[0] for key, model in models.items()}
    ranked = sorted(models, key=lambda k: getattr(valid_scores[k], PRIMARY_METRIC), reverse=True)
    winner = ranked[0]
    # The choice is made: from here on test figures are only reported.
    rows: dict[str, dict[str, float | int | str]] = {}
    probabilities: dict[str, np.ndarray] = {}
    for key in ranked:
        test_score, proba = score_model(models[key], test)
        probabilities[key] = proba
        valid_score = valid_scores[key]
        rows[key] = {
            "model": test_score.model,
            **{f"valid_{m}": float(getattr(valid_score, m)) for m in _SPLIT_FIGURES},
            **{f"test_{m}": float(getattr(test_score, m)) for m in _SPLIT_FIGURES},
            "threshold": test_score.threshold,
            "latency_ms_p50": test_score.latency_ms_p50,
            "size_mb": test_score.size_mb,
            "n_valid": valid_score.rows,
            "n_test": test_score.rows,
        }
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("asset")
    labels = test["is_spoiler"].to_numpy(dtype=bool)
    return Comparison(
        scores=table,
        winner=winner,
        primary_metric=PRIMARY_METRIC,
        test_fingerprint=test_fingerprint(test),
        corpus=corpus,
        curves_png=plot_curves(labels, probabilities, corpus),
        test_positive_rate=float(labels.mean()),
        test_labels=labels,
        test_probabilities=probabilities,
    )


def plot_curves(labels: np.ndarray, probabilities: dict[str, np.ndarray], corpus: str) -> bytes:
    """ROC and precision-recall curves of every model, as PNG bytes."""
    # A bare Figure, not pyplot: no global figure registry, no backend to choose, and
    # nothing to close; it renders to bytes with Agg.
    fig = Figure(figsize=(11, 4.5))
    roc_ax, pr_ax = fig.subplots(1, 2)
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
    fig.suptitle(f"Test split (reported, not used to choose): {corpus}", fontsize="medium")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def comparison_markdown(comparison: Comparison) -> str:
    """The comparison table, its data source and winner, as Markdown."""
    shown = comparison.scores.drop(columns=["model"]).round(4)
    return (
        f"**Data:** {comparison.corpus}  \n"
        f"**Primary metric:** {comparison.primary_metric}, chosen on **{comparison.selection_split}**;"
        f" **winner:** `{comparison.winner}` (test {comparison.primary_metric}"
        f" {comparison.winner_test_score:.4f}, measured after the choice; test spoiler share"
        f" {comparison.test_positive_rate:.4f})  \n"
        f"Thresholds tuned on validation; F1, precision and recall at that threshold.\n\n"
        f"{shown.to_markdown()}"
    )


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
