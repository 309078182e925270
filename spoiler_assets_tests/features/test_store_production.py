"""The production column of the feature store: parquet sources and the registry on S3
(moto's server over HTTP), the online store in a real Redis server."""

import pickle
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pandas as pd
import pytest
from feast import FeatureStore

from spoiler_assets.features.retrieval import read_online_features
from spoiler_assets_tests.features.builders import feature_store, reviews

pytestmark = pytest.mark.integration


def test_offline_store_and_registry_on_s3_online_store_in_redis(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, redis_url: str
) -> None:
    root = f"s3://{s3_bucket}/prefix/feature_store"
    store = feature_store(tmp_path, redis_url=redis_url, root_uri=root, endpoint=s3_endpoint)
    keys = {
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=s3_bucket)["Contents"]
    }
    assert {"prefix/feature_store/registry.pb", "prefix/feature_store/sources/user_history.parquet"} <= keys

    history = store.historical_features(reviews())
    assert history["user_prior_reviews"].iloc[4] == 3.0

    store.materialize(pd.Timestamp("2016-01-10", tz="UTC").to_pydatetime())
    request = pd.DataFrame({"review_text": ["Nice."], "movie_id": ["tt0000001"], "user_id": ["u1"]})
    # A new store object, as a process that unpickled a model opens it: registry from S3,
    # rows from Redis. The spec travels without the password; this process supplies its
    # own REDIS_URL, as the API binds its settings' spec.
    travelled = pickle.dumps(store.spec())
    password = urlparse(redis_url).password
    assert password is None or password.encode() not in travelled
    serving = replace(pickle.loads(travelled), redis_url=redis_url)
    features = read_online_features(FeatureStore(config=serving.repo_config()), request)
    assert features["user_prior_reviews"].iloc[0] == 4.0 and features["duration_minutes"].iloc[0] == 120.0
    assert store.spec().online_description.startswith("redis://127.0.0.1")
