"""Labelled reviews are scored with what each review's date knew, however fresh the
online store that serving reads."""

from pathlib import Path

import numpy as np
import pandas as pd

from spoiler_assets.models.base import labelled_probabilities
from spoiler_assets.models.embeddings import EncoderSpec
from spoiler_assets.models.hybrid import HybridInputs, HybridPredictions
from spoiler_assets_tests.features.builders import feature_store, reviews


class _PriorReviews(HybridPredictions):
    """Scores a review by its user's number of earlier reviews: shows which inputs it got."""

    name = "prior_reviews"
    threshold = 0.5

    def __init__(self, inputs: HybridInputs) -> None:
        self.inputs = inputs

    def score_inputs(self, features: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
        return features["user_prior_reviews"].fillna(0.0).to_numpy()


def test_a_fresh_online_store_does_not_leak_into_scores_of_labelled_reviews(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    store.materialize(pd.Timestamp("2016-01-10", tz="UTC").to_pydatetime())  # serving: all of it
    labelled = reviews()
    model = _PriorReviews(HybridInputs(store.spec(), EncoderSpec(max_seq_length=16)))
    # r5 (u1, Jan 5) had 3 earlier reviews; the online store's latest row for u1 says 4,
    # r5 itself included: what serving should know now, not what r5's date knew.
    assert model.predict_proba(labelled)[4] == 4.0
    assert labelled_probabilities(model, labelled)[4] == 3.0
    as_of, _ = model.inputs.build_as_of_review_dates(labelled)
    pd.testing.assert_frame_equal(as_of, store.historical_features(labelled))
