from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from spoiler_assets.models.metrics import score_model, tune_threshold


@dataclass
class KeywordModel:
    """A fixed rule standing in for a trained model: 'dies' means spoiler."""

    threshold: float = 0.5
    name: str = "keyword"

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return reviews["review_text"].str.contains("dies").to_numpy(dtype=float) * 0.8 + 0.1


def test_threshold_maximises_f1() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    proba = np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    assert tune_threshold(labels, proba) == pytest.approx(0.35)


def test_score_of_a_perfect_rule() -> None:
    test = pd.DataFrame(
        {"review_text": ["he dies", "nice", "she dies", "fun"], "is_spoiler": [True, False, True, False]}
    )
    score, proba = score_model(KeywordModel(), test)
    assert (score.roc_auc, score.pr_auc, score.f1, score.rows) == (1.0, 1.0, 1.0, 4)
    assert score.latency_ms_p50 > 0 and score.size_mb > 0
    assert proba.tolist() == pytest.approx([0.9, 0.1, 0.9, 0.1])


def test_single_class_test_set_is_refused() -> None:
    test = pd.DataFrame({"review_text": ["a", "b"], "is_spoiler": [False, False]})
    with pytest.raises(ValueError, match="both spoilers and non-spoilers"):
        score_model(KeywordModel(), test)
