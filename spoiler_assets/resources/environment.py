"""Resources for the environment the settings describe: embedded default or production."""

from typing import Any, TypeVar, cast

import dagster as dg
from dagster_aws.s3 import S3Resource

from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.resources.feature_store import EmbeddingCacheResource, FeatureStoreResource
from spoiler_assets.resources.io_managers import LocalStorageIOManager, S3StorageIOManager
from spoiler_assets.resources.locations import (
    LandingZoneResource,
    QuarantineResource,
    ReportStoreResource,
    ReviewSourceResource,
)
from spoiler_assets.resources.ray_storage import RayStorageResource
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets.settings import Settings

_Value = TypeVar("_Value", str, str | None)


def _configured(settings: Settings, name: str, value: _Value) -> _Value:
    """`dg.EnvVar(name)` where the value came from the process environment (the UI shows
    the variable, the run resolves it); the value itself otherwise (defaults, tests)."""
    return cast(_Value, dg.EnvVar(name)) if name in settings.from_process_env else value


def build_resources(settings: Settings) -> dict[str, Any]:
    """Local disk and an SQLite MLflow store by default; S3 and a tracking server when set."""
    endpoint = _configured(settings, "AWS_ENDPOINT_URL", settings.s3_endpoint_url)
    if settings.uses_s3:
        s3 = S3Resource(endpoint_url=endpoint)
        io_manager: Any = S3StorageIOManager(
            s3=s3, s3_bucket=settings.s3_bucket or "", s3_prefix=settings.s3_prefix
        )
        quarantine_uri = f"s3://{settings.s3_bucket}/{settings.s3_prefix}/quarantine"
        reports_uri = f"s3://{settings.s3_bucket}/{settings.s3_prefix}/reports"
        ray_uri = f"s3://{settings.s3_bucket}/{settings.s3_prefix}/ray_results"
    else:
        io_manager = LocalStorageIOManager(base_dir=str(settings.storage_dir))
        quarantine_uri = str(settings.data_dir / "quarantine")
        reports_uri = str(settings.data_dir / "reports")
        ray_uri = str(settings.data_dir / "ray_results")
    return {
        "io_manager": io_manager,
        "review_source": ReviewSourceResource(
            base_uri=settings.source_uri,
            endpoint_url=endpoint,
            max_bad_line_share=settings.max_bad_line_share,
            max_line_bytes=settings.max_line_bytes,
        ),
        "landing_zone": LandingZoneResource(base_uri=settings.landing_uri, endpoint_url=endpoint),
        "ray_storage": RayStorageResource(base_uri=ray_uri, endpoint_url=endpoint),
        "report_store": ReportStoreResource(base_uri=reports_uri, endpoint_url=endpoint),
        "quarantine": QuarantineResource(base_uri=quarantine_uri, endpoint_url=endpoint),
        # Feast: parquet + registry beside the assets (disk or S3), online store in
        # SQLite or, with REDIS_URL, Redis; embeddings cached by text digest beside them.
        "feature_store": FeatureStoreResource.from_spec(
            FeatureStoreSpec.from_settings(settings),
            settings.feature_repo_dir,
            s3_endpoint_url=endpoint if settings.uses_s3 else None,
            redis_url=_configured(settings, "REDIS_URL", settings.redis_url),
        ),
        "embedding_cache": EmbeddingCacheResource(
            base_uri=f"{settings.feature_store_uri}/embedding_cache", endpoint_url=endpoint
        ),
        "mlflow_tracking": MlflowTrackingResource(
            tracking_uri=_configured(settings, "MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri),
            model_name=settings.model_name,
            artifact_location=str(settings.mlflow_artifact_dir) if settings.uses_local_mlflow else None,
        ),
    }
