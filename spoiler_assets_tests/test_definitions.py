from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from spoiler_assets.definitions import build_definitions
from spoiler_assets.models.base import TrainedModel
from spoiler_assets.resources.io_managers import LocalStorageIOManager, S3StorageIOManager
from spoiler_assets.settings import MODEL_ASSETS, Settings

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


def _defs(tmp_path: Path, gpu: bool = False, **env: str) -> dg.Definitions:
    return build_definitions(Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path), **env}, gpu=gpu))


def _competing(defs: dg.Definitions, asset: str) -> set[str]:
    """The model assets among an asset's inputs."""
    keys = {k.to_user_string() for k in defs.resolve_assets_def(asset).dependency_keys}
    return keys & set(MODEL_ASSETS)


def _trained_in(defs: dg.Definitions, job: str) -> set[str]:
    keys = defs.resolve_job_def(job).asset_layer.executable_asset_keys
    return {k.to_user_string() for k in keys} & set(MODEL_ASSETS)


def test_definitions_load_on_the_embedded_default(tmp_path: Path) -> None:
    defs = build_definitions(Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)}))
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == LINEAGE_ASSETS | MONITORING_ASSETS
    assert isinstance(defs.resources["io_manager"], LocalStorageIOManager)


def test_champion_job_covers_the_whole_lineage(tmp_path: Path) -> None:
    defs = _defs(tmp_path, SPOILER_MODELS=",".join(MODEL_ASSETS))
    job = defs.resolve_job_def("champion_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == LINEAGE_ASSETS


def test_without_a_gpu_the_transformer_is_defined_but_does_not_compete(tmp_path: Path) -> None:
    defs = _defs(tmp_path, gpu=False)
    assert "transformer_model" in {
        k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()
    }
    competing = {"baseline_model", "xgboost_model", "mlp_model"}
    assert _competing(defs, "model_comparison") == _competing(defs, "champion_model") == competing
    assert _trained_in(defs, "champion_job") == _trained_in(defs, "retraining_job") == competing
    checks = {k.name for c in defs.asset_checks or [] for k in c.check_keys}
    assert "transformer_model_above_floor" not in checks and "mlp_model_above_floor" in checks


def test_with_a_gpu_every_model_competes(tmp_path: Path) -> None:
    defs = _defs(tmp_path, gpu=True)
    assert _competing(defs, "model_comparison") == _trained_in(defs, "champion_job") == set(MODEL_ASSETS)


def test_spoiler_models_puts_the_transformer_back_in_on_cpu(tmp_path: Path) -> None:
    defs = _defs(tmp_path, gpu=False, SPOILER_MODELS="baseline_model,transformer_model")
    assert _competing(defs, "model_comparison") == {"baseline_model", "transformer_model"}
    assert _trained_in(defs, "champion_job") == {"baseline_model", "transformer_model"}


def test_baseline_only_lineage_trains_the_baseline_alone(tmp_path: Path) -> None:
    defs = _defs(tmp_path, SPOILER_MODELS="baseline_model")
    assert _trained_in(defs, "champion_job") == {"baseline_model"}
    dg.Definitions.validate_loadable(defs)


class _KeywordModel:
    """Scores a review by whether it gives the ending away: enough to be compared."""

    name = "keyword"
    threshold = 0.5

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        return reviews["review_text"].str.contains("dies").to_numpy(dtype=float) * 0.8 + 0.1


def test_comparison_names_the_left_out_transformer_and_why(tmp_path: Path) -> None:
    defs = _defs(tmp_path, gpu=False, SPOILER_MODELS="", SPOILER_SOURCE=str(tmp_path / "source"))
    texts = ["the hero dies at the end", "great acting", "nice music", "she dies"] * 10
    split = pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(40)],
            "review_text": texts,
            "movie_id": "m1",
            "user_id": "u1",
            "review_date": pd.Timestamp("2016-01-01"),
            "is_spoiler": ["dies" in t for t in texts],
            "split": ["valid", "test"] * 20,
        }
    )
    model = TrainedModel(_KeywordModel(), run_id="r", model_uri="models:/m", corpus="c")
    resources = {k: defs.resources[k] for k in ("mlflow_tracking", "review_source", "feature_store")}

    output = defs.resolve_assets_def("model_comparison")(
        dg.build_asset_context(),
        review_split=split,
        baseline_model=model,
        xgboost_model=model,
        mlp_model=model,
        **resources,
    )

    assert set(output.value.scores.index) == {"baseline_model", "xgboost_model", "mlp_model"}
    assert set(output.metadata["left_out"].value) == {"transformer_model"}
    shown = output.metadata["comparison"].value
    assert "transformer_model left out: on CPU its default fine-tuning budget stays near chance" in shown
    assert "ROC-AUC 0.536 on the demo SYNTHETIC corpus" in shown and "SPOILER_MODELS" in shown


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
