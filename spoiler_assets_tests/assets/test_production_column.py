"""The production column: source and asset storage on S3 (moto's HTTP server), runs and
registry on an MLflow tracking server process. Real servers, started by the suite."""

from pathlib import Path

import boto3
import pytest
from mlflow import MlflowClient

from api.provider import MlflowChampionProvider
from spoiler_assets.data.kaggle import DETAILS_FILE, REVIEWS_FILE, SYNTHETIC_MARKER
from spoiler_assets.settings import Settings
from spoiler_assets_tests.helpers import run_champion_job

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_champion_lineage_on_s3_and_mlflow_server(
    tiny_corpus: Path,
    tmp_path: Path,
    s3_endpoint: str,
    s3_bucket: str,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    for name in (REVIEWS_FILE, DETAILS_FILE, SYNTHETIC_MARKER):
        s3.upload_file(str(tiny_corpus / name), s3_bucket, f"landing/{name}")
    # Configured as a deployment is: through the process environment, so the endpoints
    # reach the resources as `dg.EnvVar`s that the run resolves.
    environment = {
        "SPOILER_DATA_DIR": str(tmp_path),
        "SPOILER_SOURCE": f"s3://{s3_bucket}/landing",
        "SPOILER_FIRST_MONTH": "2016-01",
        "SPOILER_LAST_MONTH": "2016-12",
        "SPOILER_S3_BUCKET": s3_bucket,
        "SPOILER_S3_PREFIX": "assets",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "MLFLOW_TRACKING_URI": mlflow_server,
        "SPOILER_MODEL_NAME": "spoiler-shield-s3",
        # The storage and the registry are under test, not the models: the baseline alone.
        "SPOILER_MODELS": "baseline_model",
    }
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    settings = Settings.from_env()
    assert {"AWS_ENDPOINT_URL", "MLFLOW_TRACKING_URI"} <= settings.from_process_env

    result = run_champion_job(settings)

    assert result.success
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="assets/")["Contents"]}
    assert {"assets/cleaned_reviews", "assets/champion_model", "assets/raw_reviews/2016-06-01"} <= stored
    assert not (tmp_path / "storage").exists()
    version = MlflowClient(mlflow_server).get_model_version_by_alias("spoiler-shield-s3", "champion")
    assert MlflowChampionProvider(mlflow_server, "spoiler-shield-s3").load().model_version == version.version
