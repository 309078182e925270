"""A month scored by `batch_predictions` sees what each review's date knew: however fresh
the online store, none of the month's own labels reach its features."""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from spoiler_assets.assets.monitoring import build_monitoring_assets
from spoiler_assets.models.embeddings import EncoderSpec
from spoiler_assets.models.hybrid import HybridInputs, HybridPredictions
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets_tests.features.builders import feature_store, movies, reviews

MONTH = "2016-01-01"


class UserSpoilerShare(HybridPredictions):
    """Scores a review with its user's earlier spoiler share (-1 when unknown): shows
    exactly which user history the scoring path handed it."""

    name = "user_spoiler_share"
    threshold = 0.5

    def __init__(self, inputs: HybridInputs) -> None:
        self.inputs = inputs

    def score_inputs(self, features: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
        return features["user_prior_spoiler_share"].fillna(-1.0).to_numpy()


def _raw(frame: pd.DataFrame) -> pd.DataFrame:
    """The builders' reviews as `raw_reviews` rows of a landed month."""
    return frame.drop(columns=["review_id"]).assign(
        rating=7.0, review_summary="", source_line=np.arange(1, len(frame) + 1)
    )


def _earlier_share(frame: pd.DataFrame) -> list[float]:
    """Each review's user spoiler share over strictly earlier days (-1 when none)."""
    out = []
    for _, row in frame.iterrows():
        earlier = frame[(frame["user_id"] == row["user_id"]) & (frame["review_date"] < row["review_date"])]
        out.append(float(earlier["is_spoiler"].mean()) if len(earlier) else -1.0)
    return out


def test_a_month_with_labelled_history_is_scored_without_its_own_labels(tmp_path: Path) -> None:
    # The offline and online stores hold this very month's labels (a month landed, then
    # retrained on): serving reads them, scoring the month must not.
    store = feature_store(tmp_path)
    store.materialize(pd.Timestamp("2016-02-01", tz="UTC").to_pydatetime())
    tracking = MlflowTrackingResource(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "artifacts")
    )
    model = UserSpoilerShare(HybridInputs(store.spec(), EncoderSpec(max_seq_length=16)))
    with tracking.start_run("feature_echo"):
        uri = tracking.log_classifier(model)
    tracking.set_champion(tracking.register(uri, tags={}))
    months = dg.MonthlyPartitionsDefinition(start_date=MONTH, end_date="2016-02-01")
    batch_predictions = build_monitoring_assets(months)[0]

    output = batch_predictions(
        dg.build_asset_context(partition_key=MONTH),
        raw_reviews=_raw(reviews()),
        movie_details=movies().assign(plot_summary=""),
        mlflow_tracking=tracking,
        review_source=ReviewSourceResource(base_uri=str(tmp_path / "source")),
    )

    scored = output.value.sort_values(["review_date", "review_text"]).reset_index(drop=True)
    expected = _earlier_share(scored)
    assert scored["spoiler_probability"].tolist() == expected
    # u1's Jan 5 review: 2 spoilers in 3 earlier reviews; the online store's latest row
    # says 2 in 4, that review's own label included, which serving reads and this must not.
    jan5 = scored[scored["review_date"] == pd.Timestamp("2016-01-05")]
    assert jan5["spoiler_probability"].tolist() == [2 / 3]
    assert model.predict_proba(jan5).tolist() == [2 / 4]
