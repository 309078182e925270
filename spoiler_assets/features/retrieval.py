"""Features for a batch of reviews: one request layout, two retrieval paths.

Training calls `historical_features` (Feast point-in-time join on the offline store);
serving calls `read_online_features` (online store lookup). Both send the same entity keys
and request data (`request_columns`), both let Feast run the same on-demand views, and
both end in `feature_frame`, which fixes the column order (`MODEL_FEATURES`) and turns
whatever marks a missing value (None online, NaN offline) into NaN.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureService, FeatureStore
from redis.exceptions import RedisError

from spoiler_assets.features.context import epoch_days, today_epoch_days
from spoiler_assets.features.schema import (
    CONTEXT_FEATURES,
    ENTITY_KEYS,
    EVENT_TIMESTAMP,
    FEATURE_SERVICE,
    MODEL_FEATURES,
    MOVIE_FEATURES,
    USER_FEATURES,
)
from spoiler_assets.features.sources import utc_days

_ROW = "_row"
# Feast's online path shares one registry cache and one SQLite connection per store.
_ONLINE_LOCK = threading.Lock()
_SERVICES: dict[int, tuple[object, FeatureService]] = {}


def request_columns(reviews: pd.DataFrame, now: datetime | None = None) -> dict[str, list[Any]]:
    """Entity keys and request data for `reviews` (review_text, movie_id?, user_id?,
    review_date?). A missing id becomes "" (never a stored key: its features are
    missing); a missing review date means the review is written today."""
    n = len(reviews)
    columns: dict[str, list[Any]] = {}
    for key in ENTITY_KEYS:
        ids = reviews[key].tolist() if key in reviews else [None] * n
        columns[key] = ["" if v is None or v != v else str(v) for v in ids]
    columns["review_text"] = [str(t) for t in reviews["review_text"]]
    today = today_epoch_days(now)
    if "review_date" in reviews:
        columns["review_epoch_days"] = epoch_days(reviews["review_date"]).fillna(today).tolist()
    else:
        columns["review_epoch_days"] = [today] * n
    return columns


def _service(store: FeatureStore) -> FeatureService:
    # Rebuilding a FeatureService from the registry proto costs milliseconds per call:
    # keep one per store until Feast refreshes its registry cache.
    stamp = getattr(store.registry, "cached_registry_proto_created", None)
    cached = _SERVICES.get(id(store))
    if cached is not None and stamp is not None and cached[0] == stamp:
        return cached[1]
    service = store.get_feature_service(FEATURE_SERVICE, allow_cache=True)
    _SERVICES[id(store)] = (getattr(store.registry, "cached_registry_proto_created", None), service)
    return service


def _as_float(values: Sequence[object] | pd.Series) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def feature_frame(columns: Mapping[str, Sequence[object]] | pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """`MODEL_FEATURES` as float64 columns in model order; None becomes NaN."""
    absent = [name for name in MODEL_FEATURES if name not in columns]
    if absent:
        raise KeyError(f"feature service {FEATURE_SERVICE!r} returned no {absent}")
    return pd.DataFrame({name: _as_float(columns[name]) for name in MODEL_FEATURES}, index=index)


def historical_features(store: FeatureStore, reviews: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time features of labelled reviews, each as of its own review date.

    Feast's dask offline store keeps one entity row per (join keys, timestamp), so two
    reviews of one movie on one day would collapse into one. Each row's timestamp gets
    its row number in microseconds: far below the day resolution of every source, so
    the point-in-time join sees exactly what it would at midnight.
    """
    rows = np.arange(len(reviews))
    stamps = utc_days(reviews["review_date"]).reset_index(drop=True) + pd.to_timedelta(rows, unit="us")
    entity_df = pd.DataFrame(request_columns(reviews)).assign(**{EVENT_TIMESTAMP: stamps, _ROW: rows})
    service = store.get_feature_service(FEATURE_SERVICE)
    joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    joined = joined.sort_values(_ROW)
    if len(joined) != len(reviews) or not (joined[_ROW].to_numpy() == np.arange(len(reviews))).all():
        raise RuntimeError(f"historical retrieval returned {len(joined)} rows for {len(reviews)} reviews")
    return feature_frame(joined.reset_index(drop=True), reviews.index)


class FeatureStoreUnavailableError(RuntimeError):
    """The online store cannot be reached (Redis down, SQLite file unreadable)."""


def read_online_features(
    store: FeatureStore, reviews: pd.DataFrame, now: datetime | None = None
) -> pd.DataFrame:
    """The same features from the online store, for reviews arriving now."""
    rows = request_columns(reviews, now)
    try:
        with _ONLINE_LOCK:
            response = store.get_online_features(features=_service(store), entity_rows=rows).to_dict()
    except (RedisError, sqlite3.Error, OSError) as err:
        raise FeatureStoreUnavailableError(f"online feature store unavailable: {err}") from err
    return feature_frame(response, reviews.index)


def missing_shares(features: pd.DataFrame) -> dict[str, float]:
    """Share of rows without movie metadata (all missing), without user history (all
    missing) and with an incomplete context (any missing)."""
    return {
        "movie": float(features[list(MOVIE_FEATURES)].isna().all(axis=1).mean()),
        "user_history": float(features[list(USER_FEATURES)].isna().all(axis=1).mean()),
        "context": float(features[list(CONTEXT_FEATURES)].isna().any(axis=1).mean()),
    }


def missing_features(features: pd.DataFrame) -> list[list[str]]:
    """For each row, the names of the features that are missing (NaN)."""
    names = np.array(features.columns)
    mask = features.isna().to_numpy()
    return [names[row].tolist() for row in mask]
