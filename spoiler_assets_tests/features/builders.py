"""Small hand-made reviews and movies, and a feature store on temporary storage."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd

from spoiler_assets.features.sources import movie_feature_table, review_feature_table, user_history_table
from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.resources.feature_store import FeatureStoreResource
from spoiler_assets.settings import DEFAULT_FEATURE_REPO


def movies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "movie_id": ["tt0000001", "tt0000002"],
            "duration_minutes": [120.0, None],
            "movie_rating": [7.5, 6.0],
            "release_date": pd.to_datetime(["2015-06-01", None]),
            "genres": [["Drama", "Mystery"], ["Comedy"]],
            "plot_synopsis": ["A detective finds the killer in the end.", ""],
        }
    )


def reviews() -> pd.DataFrame:
    """u1 reviews on 2016-01-01 (spoiler), twice on 2016-01-02 (one spoiler), on 2016-01-05."""
    rows = [
        ("r1", "tt0000001", "u1", "2016-01-01", True, "The detective turns out to be the killer."),
        ("r2", "tt0000001", "u1", "2016-01-02", False, "Great acting and a moving score."),
        ("r3", "tt0000002", "u1", "2016-01-02", True, "In the end his brother dies, sadly."),
        ("r4", "tt0000001", "u2", "2016-01-02", False, "Not bad at all, I enjoyed it!"),
        ("r5", "tt0000001", "u1", "2016-01-05", False, "Beautiful photography, slow pacing."),
    ]
    frame = pd.DataFrame(
        rows, columns=["review_id", "movie_id", "user_id", "review_date", "is_spoiler", "review_text"]
    )
    return frame.assign(review_date=pd.to_datetime(frame["review_date"]))


def feature_store(
    tmp_path: Path, redis_url: str | None = None, root_uri: str | None = None, endpoint: str | None = None
) -> FeatureStoreResource:
    """A feature store holding `movies()` and `reviews()`, definitions applied.

    Each call gets its own Feast project, so stores never share Redis keys.
    """
    spec = FeatureStoreSpec(
        project=f"test_{uuid.uuid4().hex[:10]}",
        root_uri=root_uri or str(tmp_path / "offline"),
        local_dir=str(tmp_path / "local"),
        s3_endpoint_url=endpoint,
        redis_url=redis_url,
    )
    resource = FeatureStoreResource.from_spec(spec, DEFAULT_FEATURE_REPO)
    write_sources(resource, reviews())
    resource.apply()
    return resource


def write_sources(resource: FeatureStoreResource, frame: pd.DataFrame) -> None:
    resource.write_source("sources/movie_features.parquet", movie_feature_table(movies()))
    resource.write_source("sources/user_history.parquet", user_history_table(frame))
    resource.write_source("sources/review_features/2016-01.parquet", review_feature_table(frame))
