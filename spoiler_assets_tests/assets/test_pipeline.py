"""The champion lineage end to end on temporary storage and a local MLflow store."""

from pathlib import Path

import pytest
from mlflow import MlflowClient

from api.provider import MlflowChampionProvider
from spoiler_assets.models.base import reviews_frame
from spoiler_assets.resources.locations import SYNTHETIC_LABEL
from spoiler_assets_tests.helpers import corpus_settings, run_champion_job

pytestmark = pytest.mark.slow
WORSE_BASELINE = {"ops": {"baseline_model": {"config": {"hash_bits": 3, "ngram_max": 1, "c": 0.0001}}}}


def test_synthetic_corpus_to_served_champion(tiny_corpus: Path, tmp_path: Path) -> None:
    settings = corpus_settings(tmp_path, tiny_corpus, "2016-01", "2016-12")
    result = run_champion_job(settings)
    assert result.success
    comparison = result.output_for_node("model_comparison")
    assert comparison.corpus == SYNTHETIC_LABEL
    assert comparison.scores.loc["baseline_model", "roc_auc"] > 0.6
    served = MlflowChampionProvider(settings.mlflow_tracking_uri, settings.model_name).load()
    assert served.model_version == result.output_for_node("champion_model").version
    proba = served.classifier.predict_proba(reviews_frame(["a review", "another"]))
    assert proba.shape == (2,)


def test_worse_candidate_is_refused_by_the_promotion_gate(tiny_corpus: Path, tmp_path: Path) -> None:
    settings = corpus_settings(tmp_path, tiny_corpus, "2016-01", "2016-12")
    assert run_champion_job(settings).success
    client = MlflowClient(settings.mlflow_tracking_uri)
    before = client.get_model_version_by_alias(settings.model_name, "champion").version

    result = run_champion_job(settings, run_config=WORSE_BASELINE)

    gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "promotion_gate"]
    assert [e.passed for e in gate] == [False]
    assert client.get_model_version_by_alias(settings.model_name, "champion").version == before
    refused = client.get_model_version(settings.model_name, str(int(before) + 1))
    assert refused.tags["promotion"] == "refused"


def test_real_kaggle_format_files_materialize_end_to_end(real_sample_dir: Path, tmp_path: Path) -> None:
    settings = corpus_settings(tmp_path, real_sample_dir, "1998-08", "2018-01")
    result = run_champion_job(settings)
    assert result.success
    assert result.output_for_node("cleaned_reviews").shape[0] == 283
    assert "IMDB" in result.output_for_node("model_comparison").corpus
