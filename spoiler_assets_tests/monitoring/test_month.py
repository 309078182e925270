"""What drift_report and batch_predictions compute for one month, without Dagster."""

import numpy as np
import pandas as pd
import pytest

from spoiler_assets.assets.monitoring import DriftReportConfig
from spoiler_assets.monitoring.drift import DriftConfig
from spoiler_assets.monitoring.month import (
    PREDICTION_COLUMNS,
    drift_of_month,
    held_out_reference,
    performance_of_month,
    predictions_frame,
)
from spoiler_assets.monitoring.performance import PerformanceConfig
from spoiler_assets.seed import SEED

WORDS = ["the", "film", "story", "scene", "plot", "music", "ending", "great", "bad", "actor"]


class LengthScorer:
    """Scores a review by its length: enough to tell which reviews it was handed."""

    name = "length"
    threshold = 0.5

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return np.clip(reviews["review_text"].str.len().to_numpy() / 500, 0, 1)


def _reviews(n: int, seed: int, **columns: object) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "review_id": [f"r{seed}-{i}" for i in range(n)],
            "review_date": pd.Timestamp("2017-01-01"),
            "movie_id": "tt1",
            "user_id": "u1",
            "review_text": [" ".join(rng.choice(WORDS, size=rng.integers(10, 60))) for _ in range(n)],
            "is_spoiler": rng.random(n) < 0.3,
            **columns,
        }
    )


def test_run_config_defaults_are_the_library_defaults_and_overrides_reach_them() -> None:
    assert DriftReportConfig().drift() == DriftConfig()
    assert DriftReportConfig().performance() == PerformanceConfig()
    assert DriftConfig().seed == SEED
    config = DriftReportConfig(sample_size=50, seed=3, performance_metric="pr_auc", performance_min_reviews=9)
    assert (config.drift().sample_size, config.drift().seed) == (50, 3)
    assert (config.performance().metric, config.performance().min_reviews) == ("pr_auc", 9)


def test_predictions_carry_the_decision_and_the_model_version() -> None:
    reviews = _reviews(3, 1)
    scored = predictions_frame(reviews, np.array([0.2, 0.5, 0.9]), 0.5, "spoiler", "4")
    assert list(scored.columns) == PREDICTION_COLUMNS
    assert scored["predicted_spoiler"].tolist() == [False, True, True]
    assert set(scored["model_version"]) == {"4"}


def test_reference_is_a_reproducible_sample_of_held_out_reviews() -> None:
    split = _reviews(90, 1, split=["train", "valid", "test"] * 30)
    first, again = held_out_reference(split, 40, SEED), held_out_reference(split, 40, SEED)
    assert len(first) == 40 and set(first["split"]) <= {"valid", "test"}
    assert first.index.tolist() == again.index.tolist()
    assert len(held_out_reference(split, 1_000, SEED)) == 60


def test_drift_of_month_scores_the_reference_with_the_champion() -> None:
    split = _reviews(400, 1, split="valid")
    month = _reviews(200, 2)
    month = month.assign(spoiler_probability=LengthScorer().predict_proba(month))
    config = DriftConfig(embedding_sample_size=0)
    result = drift_of_month(split, month, LengthScorer(), config)
    assert "embeddings" not in result.scores and not result.drift_detected, result.scores
    # the reference carries the champion's probabilities, so the same scorer shows no prediction drift
    assert result.scores["spoiler_probability"] < config.value_threshold


def test_performance_is_judged_only_on_a_labelled_month() -> None:
    month = _reviews(200, 2, spoiler_probability=0.4)
    month["spoiler_probability"] = np.where(month["is_spoiler"], 0.9, 0.1)
    judged = performance_of_month(month, 0.5, {"test_roc_auc": "0.9"}, PerformanceConfig())
    assert judged is not None and judged.judged and judged.month["roc_auc"] == pytest.approx(1.0)
    unlabelled = month.assign(is_spoiler=None)
    assert performance_of_month(unlabelled, 0.5, {"test_roc_auc": "0.9"}, PerformanceConfig()) is None
