"""Performance on a labelled review month: the champion's figures next to its test score.

Labels of a landed month arrive with the reviews (a reader flags a spoiler when writing),
so every labelled month is a fresh test set. The drop is measured on ROC-AUC by default:
PR-AUC moves with the month's spoiler share even when the ranking is as good as ever
(its chance level is the share), while ROC-AUC does not, so a month with more spoilers is
not mistaken for a worse model. PR-AUC and F1 are recorded beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from spoiler_assets.models.metrics import classification_figures

FIGURES = ("roc_auc", "pr_auc", "f1")


@dataclass(frozen=True)
class PerformanceConfig:
    metric: str = "roc_auc"
    # Points of `metric` below the champion's test score: a warning, then retraining.
    # A labelled month of a few hundred reviews moves ROC-AUC by about 0.03 by chance.
    warn_drop: float = 0.05
    retrain_drop: float = 0.10
    min_reviews: int = 100


@dataclass(frozen=True)
class PerformanceResult:
    judged: bool
    month: Mapping[str, float]  # FIGURES on the month (at the champion's threshold)
    reference: Mapping[str, float]  # the same figures on the champion's test split
    drop: float  # reference - month on `metric` (positive: worse); NaN when not judged
    warn: bool
    retrain: bool
    reason: str
    rows: int = 0


def reference_figures(tags: Mapping[str, str]) -> dict[str, float]:
    """The champion's test figures as the registry recorded them at promotion
    (`test_roc_auc`, `test_pr_auc`, `test_f1`); missing ones are left out."""
    return {name: float(tags[f"test_{name}"]) for name in FIGURES if f"test_{name}" in tags}


def performance_on_month(
    labels: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    reference: Mapping[str, float],
    config: PerformanceConfig = PerformanceConfig(),
) -> PerformanceResult:
    """Score the month's labelled reviews and compare with the champion's test figures."""
    labels = np.asarray(labels, dtype=bool)
    not_judged = PerformanceResult(False, {}, dict(reference), float("nan"), False, False, "", len(labels))
    if len(labels) < config.min_reviews:
        return _with_reason(not_judged, f"{len(labels)} labelled reviews, fewer than {config.min_reviews}")
    if labels.all() or not labels.any():
        return _with_reason(not_judged, "the month has a single class")
    if config.metric not in reference:
        return _with_reason(not_judged, f"the champion has no recorded test {config.metric}")
    month = {k: v for k, v in classification_figures(labels, proba, threshold).items() if k in FIGURES}
    drop = float(reference[config.metric] - month[config.metric])
    retrain, warn = drop > config.retrain_drop, drop > config.warn_drop
    verdict = "retraining requested" if retrain else "warning" if warn else "within tolerance"
    reason = (
        f"{config.metric} {month[config.metric]:.4f} on the month vs {reference[config.metric]:.4f} on test"
        f" (drop {drop:+.4f}; warn > {config.warn_drop}, retrain > {config.retrain_drop}): {verdict}"
    )
    return PerformanceResult(True, month, dict(reference), drop, warn, retrain, reason, len(labels))


def _with_reason(result: PerformanceResult, reason: str) -> PerformanceResult:
    return PerformanceResult(
        result.judged, result.month, result.reference, result.drop, False, False, f"not judged: {reason}",
        result.rows,
    )  # fmt: skip
