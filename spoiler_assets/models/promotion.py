"""The promotion rule: floors every champion must clear, and no step back from the incumbent.

Without an incumbent the candidate still has to show it learned something: test ROC-AUC
above a floor and test PR-AUC above the test spoiler share (what a random ranking
scores) by a margin. With an incumbent it must also not be worse on the newest labelled
window (the current test split): PR-AUC at least the incumbent's minus a tolerance. The
paired bootstrap interval of the difference says how much of that comparison is noise;
it is recorded with the decision, the point estimate decides.

`judge_winner` applies the rule to a comparison's winner (re-scoring the incumbent on the
same test rows) and `registry_tags` says what its registered version carries; the
`champion_model` asset only loads, registers and reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import average_precision_score, roc_auc_score

from spoiler_assets.models.base import SpoilerClassifier, labelled_probabilities
from spoiler_assets.models.comparison import Comparison, test_fingerprint
from spoiler_assets.models.metrics import PRIMARY_METRIC
from spoiler_assets.seed import SEED


class GateParams(BaseModel):
    """The promotion gate's thresholds; `ChampionConfig` (its run config) inherits them."""

    model_config = ConfigDict(frozen=True)

    roc_auc_floor: float = Field(default=0.6, description="Test ROC-AUC every champion must exceed")
    pr_auc_margin: float = Field(
        default=0.05,
        description="Test PR-AUC must exceed the test spoiler share (a random ranking) by this much",
    )
    tolerance: float = Field(
        default=0.0,
        description="How much lower a new champion's test PR-AUC may be than the incumbent's",
    )
    bootstrap_samples: int = Field(
        default=1_000,
        description="Paired bootstrap resamples for the interval of the difference to the incumbent",
    )
    confidence: float = Field(default=0.95, description="Coverage of the bootstrap interval")
    seed: int = Field(default=SEED, description="Bootstrap seed")


DEFAULT_GATE = GateParams()


class StaleComparisonError(ValueError):
    """The comparison was scored on other test rows than the split has now."""


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap percentile interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    candidate: str
    candidate_score: float
    candidate_roc_auc: float
    positive_rate: float
    incumbent_version: str | None
    incumbent_score: float | None
    difference: Interval | None
    reason: str
    failed: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float | str]:
        """What the check's metadata records (NaN where there is no incumbent)."""
        nan = float("nan")
        diff = self.difference
        return {
            "candidate_pr_auc": self.candidate_score,
            "candidate_roc_auc": self.candidate_roc_auc,
            "test_positive_rate": self.positive_rate,
            "incumbent_version": self.incumbent_version or "none",
            "incumbent_pr_auc": nan if self.incumbent_score is None else self.incumbent_score,
            "pr_auc_difference": diff.estimate if diff else nan,
            "pr_auc_difference_low": diff.low if diff else nan,
            "pr_auc_difference_high": diff.high if diff else nan,
        }


def bootstrap_difference(
    labels: np.ndarray, candidate: np.ndarray, incumbent: np.ndarray, params: GateParams = DEFAULT_GATE
) -> Interval:
    """PR-AUC(candidate) - PR-AUC(incumbent) on the same rows, with a paired bootstrap
    percentile interval (rows resampled together for both models).

    A resample is a vector of row counts, so each model's ranking is sorted once and every
    resample costs O(rows): a thousand resamples of a 50,000-row test split take seconds.
    """
    labels = np.asarray(labels, dtype=bool)
    estimate = float(average_precision_score(labels, candidate) - average_precision_score(labels, incumbent))
    rankings = [_Ranking(labels, np.asarray(scores, dtype=float)) for scores in (candidate, incumbent)]
    rng = np.random.default_rng(params.seed)
    n = len(labels)
    differences = []
    for _ in range(params.bootstrap_samples):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        positives = float(weights[labels].sum())
        if positives == 0 or positives == weights.sum():  # PR-AUC needs both classes
            continue
        differences.append(rankings[0].average_precision(weights) - rankings[1].average_precision(weights))
    if not differences:
        return Interval(estimate, float("nan"), float("nan"))
    tail = (1 - params.confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high))


class _Ranking:
    """One model's scores sorted once; average precision under row weights (counts)."""

    def __init__(self, labels: np.ndarray, scores: np.ndarray) -> None:
        self.order = np.argsort(-scores, kind="stable")
        self.labels = labels[self.order].astype(float)
        ranked = scores[self.order]
        # The last row of each run of tied scores: one threshold per distinct score.
        self.cuts = np.r_[ranked[1:] != ranked[:-1], True]

    def average_precision(self, weights: np.ndarray) -> float:
        """sklearn's `average_precision_score(labels, scores, sample_weight=weights)`."""
        w = weights[self.order]
        tp = np.cumsum(w * self.labels)[self.cuts]
        seen = np.cumsum(w)[self.cuts]
        precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        recall = tp / tp[-1]
        return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def decide_promotion(
    candidate: str,
    labels: np.ndarray,
    candidate_proba: np.ndarray,
    incumbent_version: str | None,
    incumbent_proba: np.ndarray | None,
    params: GateParams = DEFAULT_GATE,
) -> PromotionDecision:
    """Decide on `candidate` from test probabilities (candidate's and, when there is a
    champion, the incumbent's, on the same rows)."""
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        raise ValueError("the promotion gate needs spoilers and non-spoilers in the test split")
    pr_auc = float(average_precision_score(labels, candidate_proba))
    roc_auc = float(roc_auc_score(labels, candidate_proba))
    positive_rate = float(labels.mean())
    pr_floor = positive_rate + params.pr_auc_margin
    failed = []
    if roc_auc <= params.roc_auc_floor:
        failed.append(f"ROC-AUC {roc_auc:.4f} not above the floor {params.roc_auc_floor}")
    if pr_auc <= pr_floor:
        failed.append(
            f"PR-AUC {pr_auc:.4f} not above the spoiler share {positive_rate:.4f} + {params.pr_auc_margin}"
        )
    incumbent_score: float | None = None
    difference: Interval | None = None
    if incumbent_proba is not None:
        incumbent_score = float(average_precision_score(labels, incumbent_proba))
        difference = bootstrap_difference(
            labels, np.asarray(candidate_proba), np.asarray(incumbent_proba), params
        )
        if pr_auc < incumbent_score - params.tolerance:
            failed.append(
                f"PR-AUC {pr_auc:.4f} below champion v{incumbent_version}'s {incumbent_score:.4f}"
                f" (tolerance {params.tolerance})"
            )
    promote = not failed
    against = (
        f"champion v{incumbent_version} PR-AUC {incumbent_score:.4f}, difference {difference.estimate:+.4f}"
        f" [{difference.low:+.4f}, {difference.high:+.4f}] ({params.confidence:.0%} bootstrap)"
        if difference is not None and incumbent_score is not None
        else "no current champion"
    )
    verdict = "promoted" if promote else "refused: " + "; ".join(failed)
    reason = (
        f"{candidate} {verdict}. Test PR-AUC {pr_auc:.4f}, ROC-AUC {roc_auc:.4f}, spoiler share"
        f" {positive_rate:.4f}; {against}"
    )
    return PromotionDecision(
        promote, candidate, pr_auc, roc_auc, positive_rate, incumbent_version, incumbent_score, difference,
        reason, failed,
    )  # fmt: skip


def ensure_same_test_rows(comparison: Comparison, test: pd.DataFrame) -> None:
    """Raise `StaleComparisonError` unless `test` holds the rows the comparison scored."""
    if test_fingerprint(test) != comparison.test_fingerprint:
        raise StaleComparisonError("review_split changed since model_comparison: re-run the comparison first")


def judge_winner(
    comparison: Comparison,
    test: pd.DataFrame,
    incumbent: tuple[str, SpoilerClassifier] | None,
    params: GateParams = DEFAULT_GATE,
) -> PromotionDecision:
    """The gate's decision on the comparison's winner: its test probabilities from the
    comparison against the incumbent's (`(version, classifier)`, None while there is no
    champion), re-scored here on the same `test` rows.

    Raises:
        StaleComparisonError: `test` is not the split the comparison was scored on.
    """
    ensure_same_test_rows(comparison, test)
    labels = test["is_spoiler"].to_numpy(dtype=bool)
    incumbent_version: str | None = None
    incumbent_proba: np.ndarray | None = None
    if incumbent is not None:
        incumbent_version, classifier = incumbent
        incumbent_proba = labelled_probabilities(classifier, test)
    candidate_proba = comparison.test_probabilities[comparison.winner]
    return decide_promotion(
        comparison.winner, labels, candidate_proba, incumbent_version, incumbent_proba, params
    )


def registry_tags(comparison: Comparison, decision: PromotionDecision) -> dict[str, str]:
    """What the registered candidate version carries: its figures on both splits, where
    they come from, and the gate's verdict."""
    figures = {
        f"{split}_{metric}": comparison.figure(comparison.winner, split, metric)
        for split in ("valid", "test")
        for metric in ("roc_auc", "pr_auc", "f1")
    }
    return {
        "asset": comparison.winner,
        PRIMARY_METRIC: f"{decision.candidate_score:.6f}",
        **{name: f"{value:.6f}" for name, value in figures.items()},
        "chosen_on": comparison.selection_split,
        "test_fingerprint": comparison.test_fingerprint,
        "corpus": comparison.corpus,
        "promotion": "promoted" if decision.promote else "refused",
    }
