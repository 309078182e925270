import numpy as np
import pytest

from spoiler_assets.models.promotion import GateParams, bootstrap_difference, decide_promotion

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
