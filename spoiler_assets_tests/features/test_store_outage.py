"""The online store fails fast: Redis killed or hung answers an error within seconds,
not after redis-py's retries (the API maps it to a 503)."""

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from feast import FeatureStore

from spoiler_assets.features.retrieval import FeatureStoreUnavailableError, read_online_features
from spoiler_assets.features.store import REDIS_SOCKET_TIMEOUT_S
from spoiler_assets_tests.features.builders import feature_store
from spoiler_assets_tests.servers import redis_server

pytestmark = pytest.mark.integration

REQUEST = pd.DataFrame({"review_text": ["Nice."], "movie_id": ["tt0000001"], "user_id": ["u1"]})


def _timed_failure(store: FeatureStore) -> float:
    started = time.monotonic()
    with pytest.raises(FeatureStoreUnavailableError, match="online feature store unavailable"):
        read_online_features(store, REQUEST)
    return time.monotonic() - started


def test_killed_redis_fails_within_two_seconds(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        resource = feature_store(tmp_path, redis_url=url)
        resource.materialize(pd.Timestamp("2016-01-10", tz="UTC").to_pydatetime())
        store = resource.store()
        assert read_online_features(store, REQUEST)["user_prior_reviews"].iloc[0] == 4.0  # pooled connection
    # the server is stopped: the pooled connection is dead and reconnecting is refused
    assert _timed_failure(store) < 2.0
    assert _timed_failure(store) < 2.0


@contextmanager
def _silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers, as a hung Redis does."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_hung_redis_fails_after_one_socket_timeout(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        resource = feature_store(tmp_path, redis_url=url)
    with _silent_server() as silent:
        hung = FeatureStore(config=replace(resource.spec(), redis_url=silent).repo_config())
        elapsed = _timed_failure(hung)
    assert REDIS_SOCKET_TIMEOUT_S - 0.5 < elapsed < REDIS_SOCKET_TIMEOUT_S + 2.0
