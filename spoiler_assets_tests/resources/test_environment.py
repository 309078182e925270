"""Which resources the settings give, and how endpoints and secrets reach them."""

from pathlib import Path

import dagster as dg
import pytest

from spoiler_assets.resources.environment import build_resources
from spoiler_assets.settings import Settings

PRODUCTION = {
    "AWS_ENDPOINT_URL": "http://s3.internal:9000",
    "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000",
    "REDIS_URL": "redis://:s3cret@redis.internal:6379/0",
    "SPOILER_S3_BUCKET": "spoilers",
}


def test_endpoints_and_secrets_from_the_process_environment_become_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**PRODUCTION, "SPOILER_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    resources = build_resources(Settings.from_env())
    # What Dagster stores and shows: the variable's name, not the endpoint or password.
    assert isinstance(resources["mlflow_tracking"].tracking_uri, dg.EnvVar)
    assert isinstance(resources["feature_store"].redis_url, dg.EnvVar)
    assert isinstance(resources["quarantine"].endpoint_url, dg.EnvVar)
    # What a run gets: the values, resolved where it executes.
    chosen = {k: resources[k] for k in ("mlflow_tracking", "feature_store", "quarantine")}
    with dg.build_resources(chosen) as live:
        assert live.mlflow_tracking.tracking_uri == PRODUCTION["MLFLOW_TRACKING_URI"]
        assert live.quarantine.endpoint_url == PRODUCTION["AWS_ENDPOINT_URL"]
        assert live.feature_store.spec().redis_url == "redis://redis.internal:6379/0"


def test_settings_from_a_mapping_keep_plain_values(tmp_path: Path) -> None:
    resources = build_resources(Settings.from_env({**PRODUCTION, "SPOILER_DATA_DIR": str(tmp_path)}))
    assert not isinstance(resources["mlflow_tracking"].tracking_uri, dg.EnvVar)
    assert resources["mlflow_tracking"].tracking_uri == PRODUCTION["MLFLOW_TRACKING_URI"]
