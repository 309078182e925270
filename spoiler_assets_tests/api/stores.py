"""The feature tests' hand-made reviews (SYNTHETIC) with IMDB-shaped user ids, which the
API requires (`ur` and digits), and a feature store holding them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd

from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.resources.feature_store import FeatureStoreResource
from spoiler_assets.settings import DEFAULT_FEATURE_REPO
from spoiler_assets_tests.features import builders

USER_IDS = {"u1": "ur1", "u2": "ur2"}


def imdb_reviews() -> pd.DataFrame:
    """`builders.reviews()` with user ids in IMDB's shape."""
    frame = builders.reviews()
    return frame.assign(user_id=frame["user_id"].map(USER_IDS))


def imdb_feature_store(spec: FeatureStoreSpec) -> FeatureStoreResource:
    """A store at `spec` holding `builders.movies()` and `imdb_reviews()`, definitions applied."""
    store = FeatureStoreResource.from_spec(spec, DEFAULT_FEATURE_REPO)
    builders.write_sources(store, imdb_reviews())
    store.apply()
    return store


def temporary_spec(folder: Path, redis_url: str | None = None) -> FeatureStoreSpec:
    """A store spec under `folder` with a project of its own (no shared Redis keys)."""
    return FeatureStoreSpec(
        project=f"test_{uuid.uuid4().hex[:10]}",
        root_uri=str(folder / "offline"),
        local_dir=str(folder / "local"),
        redis_url=redis_url,
    )
