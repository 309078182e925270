"""Where the feature store lives: the spec built from settings, and what it carries."""

import pickle
from pathlib import Path

import pytest

from spoiler_assets.features.store import FeatureStoreSpec, redis_connection_string
from spoiler_assets.settings import Settings


def _spec(tmp_path: Path, redis_url: str) -> FeatureStoreSpec:
    return FeatureStoreSpec.from_settings(
        Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path), "REDIS_URL": redis_url})
    )


def test_redis_password_stays_in_the_process_not_in_the_spec(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "redis://:s3cret-pw@redis.internal:6380/2")
    assert spec.redis_url == "redis://redis.internal:6380/2"
    assert b"s3cret-pw" not in pickle.dumps(spec) and "s3cret-pw" not in repr(spec)
    # the process that read REDIS_URL still connects with it, also from an unpickled spec
    travelled = pickle.loads(pickle.dumps(spec))
    assert redis_connection_string(travelled.redis_url).startswith(
        "redis.internal:6380,db=2,password=s3cret-pw,"
    )


def test_redis_url_without_password_and_a_bad_url(tmp_path: Path) -> None:
    assert redis_connection_string(_spec(tmp_path, "redis://cache:6379").redis_url) == (
        "cache:6379,socket_connect_timeout=1.0,socket_timeout=2.0,retry=null"
    )
    with pytest.raises(ValueError, match="redis://host:6379/0"):
        _spec(tmp_path, "http://cache:6379/0")
