"""The champion lineage end to end on temporary storage and a local MLflow store."""

import pickle
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest
from mlflow import MlflowClient

from api.provider import MlflowChampionProvider
from spoiler_assets.assets.evaluation import MODEL_ASSETS, ChampionConfig, champion_model
from spoiler_assets.definitions import build_definitions
from spoiler_assets.models.base import reviews_frame
from spoiler_assets.resources.locations import SYNTHETIC_LABEL
from spoiler_assets_tests.conftest import TrainedPlatform
from spoiler_assets_tests.helpers import corpus_settings, run_champion_job

pytestmark = pytest.mark.slow


def test_synthetic_corpus_to_served_champion(trained_platform: TrainedPlatform) -> None:
    settings, comparison = trained_platform.settings, trained_platform.comparison
    assert comparison.corpus == SYNTHETIC_LABEL
    assert set(comparison.scores.index) == set(MODEL_ASSETS)
    assert comparison.scores.loc["baseline_model", "roc_auc"] > 0.6
    served = MlflowChampionProvider(settings.mlflow_tracking_uri, settings.model_name).load()
    assert served.model_version == trained_platform.champion.version
    proba = served.classifier.predict_proba(reviews_frame(["a review", "another"]))
    assert proba.shape == (2,)


def test_worse_candidate_is_refused_by_the_promotion_gate(trained_platform: TrainedPlatform) -> None:
    settings = trained_platform.settings
    storage = settings.storage_dir
    models = {name: pickle.loads((storage / name).read_bytes()) for name in MODEL_ASSETS}
    worse = trained_platform.comparison.scores.copy()
    worse.loc[trained_platform.comparison.winner, "pr_auc"] = 0.01  # a candidate far below the champion
    comparison = replace(trained_platform.comparison, scores=worse)
    resources = build_definitions(settings).resources
    client = MlflowClient(settings.mlflow_tracking_uri)
    before = client.get_model_version_by_alias(settings.model_name, "champion").version

    events = list(
        champion_model(
            dg.build_asset_context(resources={"mlflow_tracking": resources["mlflow_tracking"]}),
            config=ChampionConfig(),
            model_comparison=comparison,
            review_split=pickle.loads((storage / "review_split").read_bytes()),
            **models,
        )
    )

    gate = next(e for e in events if isinstance(e, dg.AssetCheckResult))
    assert not gate.passed
    assert client.get_model_version_by_alias(settings.model_name, "champion").version == before
    refused = client.get_model_version(settings.model_name, events[0].value.candidate_version)
    assert refused.tags["promotion"] == "refused"


def test_real_kaggle_format_files_materialize_end_to_end(real_sample_dir: Path, tmp_path: Path) -> None:
    settings = corpus_settings(tmp_path, real_sample_dir, "1998-08", "2018-01")
    result = run_champion_job(settings)
    assert result.success
    assert result.output_for_node("cleaned_reviews").shape[0] == 283
    assert "IMDB" in result.output_for_node("model_comparison").corpus
