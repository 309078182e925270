"""Where the feature store lives: the spec built from settings, and what it carries."""

import copy
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from spoiler_assets.features.store import FeatureStoreSpec, redis_connection_string
from spoiler_assets.settings import Settings


def _spec(tmp_path: Path, redis_url: str) -> FeatureStoreSpec:
    return FeatureStoreSpec.from_settings(
        Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path), "REDIS_URL": redis_url})
    )


def test_redis_password_stays_with_the_spec_never_in_its_url_repr_or_pickle(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "redis://:s3cret-pw@redis.internal:6380/2")
    assert spec.redis_url == "redis://redis.internal:6380/2"
    assert b"s3cret-pw" not in pickle.dumps(spec) and "s3cret-pw" not in repr(spec)
    # the spec made from REDIS_URL (and its copies) connects with the password
    for held in (spec, copy.deepcopy(spec), replace(spec, project="other")):
        assert held.repo_config().online_store.connection_string.startswith(
            "redis.internal:6380,db=2,password=s3cret-pw,"
        )
    assert spec.redis_url_with_password() == "redis://:s3cret-pw@redis.internal:6380/2"
    # an unpickled spec has none: the process that opens it binds its own (api/provider.py)
    travelled = pickle.loads(pickle.dumps(spec))
    assert travelled.redis_password is None and "password" not in redis_connection_string(travelled.redis_url)
    assert FeatureStoreSpec(project="p", root_uri="r", local_dir="l").redis_password is None


def test_redis_url_without_password_and_a_bad_url(tmp_path: Path) -> None:
    assert redis_connection_string(_spec(tmp_path, "redis://cache:6379").redis_url) == (
        "cache:6379,socket_connect_timeout=1.0,socket_timeout=2.0,retry=null"
    )
    with pytest.raises(ValueError, match="redis://host:6379/0"):
        _spec(tmp_path, "http://cache:6379/0")
