import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from spoiler_assets.assets.evaluation import ChampionConfig
from spoiler_assets.models.comparison import Comparison
from spoiler_assets.models.comparison import test_fingerprint as fingerprint_of
from spoiler_assets.models.promotion import (
    GateParams,
    StaleComparisonError,
    bootstrap_difference,
    decide_promotion,
    judge_winner,
    registry_tags,
)
from spoiler_assets.seed import SEED

RNG = np.random.default_rng(0)
LABELS = RNG.random(400) < 0.25
# A model that ranks most spoilers first, and one at chance.
GOOD = np.clip(LABELS * 0.5 + RNG.random(400) * 0.6, 0, 1)
CHANCE = RNG.random(400)


def test_first_champion_that_learned_is_promoted() -> None:
    decision = decide_promotion("baseline_model", LABELS, GOOD, None, None)
    assert decision.promote and "no current champion" in decision.reason
    assert decision.candidate_roc_auc > 0.8 and decision.difference is None


def test_first_champion_at_chance_is_refused_without_an_incumbent() -> None:
    decision = decide_promotion("baseline_model", LABELS, CHANCE, None, None)
    assert not decision.promote
    assert any("ROC-AUC" in f for f in decision.failed) and any("spoiler share" in f for f in decision.failed)


def test_pr_auc_must_clear_the_spoiler_share_by_the_margin() -> None:
    # ROC-AUC is fine, but PR-AUC is judged against what a random ranking scores.
    decision = decide_promotion("m", LABELS, GOOD, None, None, GateParams(pr_auc_margin=0.9))
    assert not decision.promote and decision.failed == [next(f for f in decision.failed if "PR-AUC" in f)]


def test_worse_candidate_is_refused_with_the_interval_of_the_difference() -> None:
    decision = decide_promotion("m", LABELS, 0.5 * GOOD + 0.5 * CHANCE, "3", GOOD)
    assert not decision.promote and "below champion v3" in decision.reason
    assert decision.difference is not None
    assert decision.difference.low <= decision.difference.estimate <= decision.difference.high < 0
    assert decision.figures()["pr_auc_difference_high"] == decision.difference.high


def test_equal_or_within_tolerance_is_promoted() -> None:
    assert decide_promotion("m", LABELS, GOOD, "3", GOOD).promote
    slightly_worse = GOOD + RNG.normal(0, 0.05, 400)
    decision = decide_promotion("m", LABELS, slightly_worse, "3", GOOD, GateParams(tolerance=0.2))
    assert decision.promote and decision.incumbent_score is not None


def test_bootstrap_interval_covers_zero_for_the_same_model_and_is_seeded() -> None:
    same = bootstrap_difference(LABELS, GOOD, GOOD)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    noisy = GOOD + RNG.normal(0, 0.1, 400)
    first, second = bootstrap_difference(LABELS, noisy, GOOD), bootstrap_difference(LABELS, noisy, GOOD)
    assert first == second and first.low < first.high


def test_single_class_test_split_is_refused() -> None:
    with pytest.raises(ValueError, match="spoilers and non-spoilers"):
        decide_promotion("m", np.zeros(5, dtype=bool), np.zeros(5), None, None)


def test_fast_resampled_pr_auc_is_sklearns_weighted_average_precision() -> None:
    from sklearn.metrics import average_precision_score

    from spoiler_assets.models.promotion import _Ranking

    scores = np.round(GOOD, 1)  # ties, as thresholded or calibrated scores have
    weights = np.bincount(RNG.integers(0, 400, 400), minlength=400).astype(float)
    expected = average_precision_score(LABELS, scores, sample_weight=weights)
    assert _Ranking(LABELS, scores).average_precision(weights) == pytest.approx(expected)


# The test split of a comparison whose winner scored GOOD on it.
TEST = pd.DataFrame({"review_id": [f"r{i}" for i in range(400)], "is_spoiler": LABELS})
COMPARISON = Comparison(
    scores=pd.DataFrame(
        {f"{split}_{metric}": [0.8] for split in ("valid", "test") for metric in ("roc_auc", "pr_auc", "f1")},
        index=pd.Index(["xgboost_model"], name="asset"),
    ),
    winner="xgboost_model",
    primary_metric="pr_auc",
    test_fingerprint=fingerprint_of(TEST),
    corpus="SYNTHETIC",
    curves_png=b"",
    test_probabilities={"xgboost_model": GOOD},
)


class _ScoresById:
    """An incumbent whose probabilities are known per review."""

    name, threshold = "incumbent", 0.5

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = dict(zip(TEST["review_id"], scores, strict=True))

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return reviews["review_id"].map(self.scores).to_numpy(dtype=float)


def test_winner_without_a_champion_is_judged_on_its_comparison_probabilities() -> None:
    decision = judge_winner(COMPARISON, TEST, None)
    assert decision == decide_promotion("xgboost_model", LABELS, GOOD, None, None)
    assert decision.promote and decision.candidate == "xgboost_model"


def test_champion_is_re_scored_on_the_same_test_rows() -> None:
    decision = judge_winner(COMPARISON, TEST, ("4", _ScoresById(CHANCE)))
    assert decision.promote and decision.incumbent_version == "4"
    assert decision.incumbent_score == pytest.approx(average_precision_score(LABELS, CHANCE))
    refused = judge_winner(COMPARISON, TEST, ("4", _ScoresById(GOOD + 0.5 * LABELS)))
    assert not refused.promote and "below champion v4" in refused.reason


def test_comparison_of_other_test_rows_is_refused() -> None:
    with pytest.raises(StaleComparisonError, match="re-run the comparison"):
        judge_winner(COMPARISON, TEST.iloc[1:], None)


def test_registered_version_carries_its_figures_and_the_verdict() -> None:
    tags = registry_tags(COMPARISON, judge_winner(COMPARISON, TEST, None))
    assert tags["asset"] == "xgboost_model" and tags["promotion"] == "promoted"
    assert tags["valid_roc_auc"] == tags["test_f1"] == "0.800000"
    assert tags["pr_auc"] == f"{average_precision_score(LABELS, GOOD):.6f}"
    assert (tags["chosen_on"], tags["corpus"]) == ("valid", "SYNTHETIC")
    assert tags["test_fingerprint"] == COMPARISON.test_fingerprint


def test_champion_config_defaults_are_the_gate_params() -> None:
    assert ChampionConfig().params() == GateParams() and GateParams().seed == SEED
    assert ChampionConfig(tolerance=0.1).params().tolerance == 0.1
