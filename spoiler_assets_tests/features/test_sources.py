import math
from pathlib import Path

import pandas as pd

from spoiler_assets.features.context import context_feature_columns, epoch_days
from spoiler_assets.features.repo import load_definitions
from spoiler_assets.features.retrieval import historical_features
from spoiler_assets.features.schema import MOVIE_FV_FIELDS
from spoiler_assets.features.sources import EPOCH, movie_feature_table, user_history_table
from spoiler_assets.features.store import FeatureStoreSpec, open_store
from spoiler_assets.resources.environment import build_resources
from spoiler_assets.settings import Settings
from spoiler_assets_tests.features.builders import feature_store, movies, reviews


def test_movie_features_encode_genres_and_keep_unknowns_missing() -> None:
    table = movie_feature_table(movies())
    assert list(table.columns) == ["movie_id", "event_timestamp", *MOVIE_FV_FIELDS]
    rows = table.set_index(["movie_id", "event_timestamp"])
    first = rows.loc[("tt0000001", pd.Timestamp("2015-06-01", tz="UTC"))]
    second = rows.loc[("tt0000002", EPOCH)]  # no release date: valid from the epoch
    assert (first["genre_drama"], first["genre_mystery"], first["genre_comedy"]) == (1.0, 1.0, 0.0)
    assert first["genre_count"] == 2 and first["release_year"] == 2015
    assert math.isnan(second["synopsis_words"]) and math.isnan(second["duration_minutes"])
    assert second["genre_comedy"] == 1.0


def test_movie_metadata_is_stamped_at_release_so_earlier_reviews_see_none() -> None:
    table = movie_feature_table(movies())
    first = table[table["movie_id"] == "tt0000001"].set_index("event_timestamp")
    assert list(first.index) == [EPOCH, pd.Timestamp("2015-06-01", tz="UTC")]
    assert first.loc[EPOCH, list(MOVIE_FV_FIELDS)].isna().all()  # before the release: unknown


def test_user_history_rows_only_count_earlier_days() -> None:
    table = user_history_table(reviews())
    u1 = table[table["user_id"] == "u1"].set_index("event_timestamp")
    # valid from the midnight after each review day: 1 review by Jan 2, 3 by Jan 3, 4 by Jan 6
    assert u1.loc[pd.Timestamp("2016-01-02", tz="UTC"), "user_prior_reviews"] == 1
    assert u1.loc[pd.Timestamp("2016-01-03", tz="UTC"), "user_prior_reviews"] == 3
    assert u1.loc[pd.Timestamp("2016-01-03", tz="UTC"), "user_prior_spoiler_share"] == 2 / 3
    assert u1.loc[pd.Timestamp("2016-01-06", tz="UTC"), "user_prior_reviews"] == 4
    assert u1.loc[EPOCH, ["user_prior_reviews", "user_prior_spoiler_share"]].isna().all()


def test_context_features_relate_review_and_movie() -> None:
    day = epoch_days(pd.Series(pd.to_datetime(["2016-06-01"]))).iloc[0]
    release = epoch_days(pd.Series(pd.to_datetime(["2015-06-01"]))).iloc[0]
    out = context_feature_columns(
        ["one two three four"] * 2, [day, day], [120.0, None], [2.0, None], [release, None]
    )
    assert out["words_per_movie_minute"][0] == 4 / 120 and out["words_per_synopsis_word"][0] == 2
    assert out["days_since_release"][0] == 366
    assert all(math.isnan(values[1]) for values in out.values())


def test_point_in_time_join_gives_a_review_before_the_release_no_movie_metadata(tmp_path: Path) -> None:
    store = feature_store(tmp_path)
    dated = reviews().head(2).assign(review_date=pd.to_datetime(["2015-05-31", "2015-06-02"]))
    features = historical_features(open_store(store.spec()), dated)
    before, after = features.iloc[0], features.iloc[1]
    assert math.isnan(before["release_year"]) and math.isnan(before["days_since_release"])
    assert after["release_year"] == 2015 and after["days_since_release"] == 1


def test_feast_object_names_differ_from_the_dagster_resource_keys(tmp_path: Path) -> None:
    settings = Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)})
    spec = FeatureStoreSpec.from_settings(settings)
    feast_names = {o.name for o in load_definitions(settings.feature_repo_dir, spec)}
    assert "review_stats_source" in feast_names
    assert not feast_names & set(build_resources(settings))
