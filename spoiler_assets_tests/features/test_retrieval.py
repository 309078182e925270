"""Feast on temporary storage: point-in-time joins, online lookups, materialization."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spoiler_assets.features.repo import OnlineStoreAheadError, load_definitions
from spoiler_assets.features.retrieval import missing_features, missing_shares, read_online_features
from spoiler_assets.features.schema import CONTEXT_FEATURES, MODEL_FEATURES, MOVIE_FEATURES, USER_FEATURES
from spoiler_assets.features.sources import user_history_table
from spoiler_assets.settings import DEFAULT_FEATURE_REPO
from spoiler_assets_tests.features.builders import feature_store, reviews, write_sources

JAN = "2016-01-{:02d}"


def at(day: int, movie: str = "tt0000001", user: str = "u1", text: str = "A review.") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review_text": [text],
            "movie_id": [movie],
            "user_id": [user],
            "review_date": [pd.Timestamp(JAN.format(day))],
        }
    )


def test_user_features_ignore_reviews_at_or_after_the_event(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    history = store.historical_features(reviews())[list(USER_FEATURES)]
    # r1: first review, nothing earlier. r2 and r3 (Jan 2): only r1 - not each other,
    # not themselves. r4: u2's first. r5 (Jan 5): r1-r3, of which r1 and r3 are spoilers.
    assert history["user_prior_reviews"].tolist()[1:3] == [1.0, 1.0]
    assert history["user_prior_spoiler_share"].tolist()[1:3] == [1.0, 1.0]
    assert math.isnan(history["user_prior_reviews"].iloc[0]) and math.isnan(
        history["user_prior_reviews"].iloc[3]
    )
    assert history.iloc[4].tolist() == [3.0, pytest.approx(2 / 3)]
    # A naive join (each user's latest row) would give every review the final count,
    # including the review's own label and later ones.
    naive = user_history_table(reviews()).groupby("user_id").last()
    assert naive.loc["u1", "user_prior_reviews"] == 4 != history["user_prior_reviews"].iloc[4]


def test_reviews_of_one_movie_on_one_day_keep_their_own_rows(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    same_day = pd.concat([at(3, text="short"), at(3, text="a much longer review text")], ignore_index=True)
    words = store.historical_features(same_day)["review_words"].tolist()
    assert words == [1.0, 5.0]


def test_online_lookup_reports_unknown_movie_and_user_as_missing(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    store.materialize(pd.Timestamp("2016-01-10", tz="UTC").to_pydatetime())
    known = read_online_features(store.store(), at(10))
    unknown = read_online_features(store.store(), at(10, movie="tt9999999", user="nobody"))
    assert missing_features(known) == [[]]
    assert known["user_prior_reviews"].iloc[0] == 4
    missing = set(missing_features(unknown)[0])
    assert {"duration_minutes", "genre_drama", "user_prior_reviews", "days_since_release"} <= missing
    assert "review_words" not in missing and list(unknown.columns) == list(MODEL_FEATURES)


def test_materialization_is_incremental_and_never_goes_back(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    first = {v.name: v.status for v in store.materialize(pd.Timestamp(JAN.format(3), tz="UTC"))}
    again = {v.name: v.status for v in store.materialize(pd.Timestamp(JAN.format(3), tz="UTC"))}
    assert first == {"movie_fv": "reloaded", "review_fv": "loaded", "user_history_fv": "loaded"}
    assert again["user_history_fv"] == again["review_fv"] == "up to date"
    assert read_online_features(store.store(), at(10))["user_prior_reviews"].iloc[0] == 3  # cutoff Jan 3
    later = store.materialize(pd.Timestamp(JAN.format(8), tz="UTC"))
    assert {v.name: v.start for v in later}["user_history_fv"] == pd.Timestamp(JAN.format(3), tz="UTC")
    assert read_online_features(store.store(), at(10))["user_prior_reviews"].iloc[0] == 4
    with pytest.raises(OnlineStoreAheadError, match="full_refresh"):
        store.materialize(pd.Timestamp(JAN.format(4), tz="UTC"))


def test_new_month_of_reviews_reaches_the_online_store(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    store.materialize(pd.Timestamp(JAN.format(10), tz="UTC"))
    february = pd.DataFrame(
        {
            "review_id": ["r6"],
            "movie_id": ["tt0000002"],
            "user_id": ["u1"],
            "review_date": [pd.Timestamp("2016-02-01")],
            "is_spoiler": [True],
            "review_text": ["He dies."],
        }
    )
    write_sources(store, pd.concat([reviews(), february], ignore_index=True))
    store.materialize(pd.Timestamp("2016-02-10", tz="UTC"))
    features = read_online_features(store.store(), at(10))
    assert features[list(USER_FEATURES)].iloc[0].tolist() == [5.0, 0.6]


def test_definitions_declare_the_schema_names(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    objects = {o.name: o for o in load_definitions(DEFAULT_FEATURE_REPO, store.spec())}
    service = objects["hybrid_v1"]
    served = [f.name for projection in service.feature_view_projections for f in projection.features]
    assert sorted(served) == sorted(MODEL_FEATURES)
    assert objects["movie_source"].path == store.spec().source_uri("sources/movie_features.parquet")
    assert np.all([objects[name].description for name in ("movie_fv", "user_history_fv", "review_fv")])


def test_full_refresh_rebuilds_the_online_store_at_an_earlier_cutoff(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    store.materialize(pd.Timestamp(JAN.format(8), tz="UTC"))
    store.rebuild()
    store.materialize(pd.Timestamp(JAN.format(3), tz="UTC"))
    assert read_online_features(store.store(), at(10))["user_prior_reviews"].iloc[0] == 3


def test_missing_shares_count_rows_without_each_feature_group() -> None:
    features = pd.DataFrame(1.0, index=range(4), columns=list(MODEL_FEATURES))
    features.loc[0, list(MOVIE_FEATURES)] = np.nan  # no movie metadata
    features.loc[1, list(MOVIE_FEATURES)[0]] = np.nan  # one movie feature missing: not "no metadata"
    features.loc[2, list(USER_FEATURES)] = np.nan
    features.loc[3, list(CONTEXT_FEATURES)[0]] = np.nan
    assert missing_shares(features) == {"movie": 0.25, "user_history": 0.25, "context": 0.25}
