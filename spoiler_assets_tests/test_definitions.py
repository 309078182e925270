from pathlib import Path

import dagster as dg

from spoiler_assets.definitions import build_definitions
from spoiler_assets.resources.io_managers import LocalStorageIOManager, S3StorageIOManager
from spoiler_assets.settings import Settings

MONITORING_ASSETS = {"batch_predictions", "drift_report"}
LINEAGE_ASSETS = {
    "raw_reviews",
    "movie_details",
    "cleaned_reviews",
    "review_split",
    "baseline_model",
    "movie_feature_source",
    "user_history_source",
    "review_feature_source",
    "feature_registry",
    "online_features",
    "training_dataset",
    "review_embeddings",
    "xgboost_model",
    "mlp_model",
    "transformer_model",
    "model_comparison",
    "champion_model",
    "sentence_model",
    "sentence_evaluation",
}


def test_definitions_load_on_the_embedded_default(tmp_path: Path) -> None:
    defs = build_definitions(Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)}))
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == LINEAGE_ASSETS | MONITORING_ASSETS
    assert isinstance(defs.resources["io_manager"], LocalStorageIOManager)


def test_champion_job_covers_the_whole_lineage(tmp_path: Path) -> None:
    defs = build_definitions(Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)}))
    job = defs.resolve_job_def("champion_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == LINEAGE_ASSETS


def test_raw_reviews_partitions_follow_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(tmp_path),
            "SPOILER_FIRST_MONTH": "2015-03",
            "SPOILER_SOURCE": "/data",
            "SPOILER_LAST_MONTH": "2015-05",
        }
    )
    months = build_definitions(settings).resolve_assets_def("raw_reviews").partitions_def
    assert months is not None and months.get_partition_keys() == ["2015-03-01", "2015-04-01", "2015-05-01"]


def test_s3_bucket_switches_storage_to_s3(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(tmp_path),
            "SPOILER_S3_BUCKET": "b",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        }
    )
    assert isinstance(build_definitions(settings).resources["io_manager"], S3StorageIOManager)
