"""Requests enriched from the feature store: which features were missing, and parity.

Parity: the same review gets the same feature vector from historical retrieval (the
training path) and from the online store through the API (the serving path), and the
API's probability is the model's score of the offline vector.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from litestar.testing import TestClient
from mlflow import MlflowClient

from api.app import create_app
from api.provider import MlflowChampionProvider, ServedModel
from spoiler_assets.features.retrieval import (
    FeatureStoreUnavailableError,
    missing_features,
    read_online_features,
)
from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.models.embeddings import EncoderSpec, encode
from spoiler_assets.models.hybrid import HybridInputs, HybridSplit
from spoiler_assets.models.hybrid_xgboost import XGBoostParams, XGBoostSpoilerModel, train_xgboost
from spoiler_assets.models.pyfunc import SpoilerPyfunc
from spoiler_assets.resources.feature_store import FeatureStoreResource
from spoiler_assets_tests.api.stores import imdb_feature_store, imdb_reviews, temporary_spec

NEW_REVIEWS = [  # after the online store's cutoff (Jan 10): known, unknown movie, unknown user
    {"review_text": "The detective is the killer!", "movie_id": "tt0000001", "user_id": "ur1"},
    {"review_text": "Lovely score.", "movie_id": "tt0000404", "user_id": "ur2"},
    {"review_text": "He dies in the end.", "movie_id": "tt0000002", "user_id": "ur404404"},
]
REVIEW_DAY = "2016-01-12"


class StaticProvider:
    def __init__(self, model: Any) -> None:
        self.model = model

    def load(self) -> ServedModel:
        return ServedModel(self.model, "spoiler-shield", "7", run_id=None, loaded_at=datetime.now(UTC))


def trained_model(store: FeatureStoreResource) -> XGBoostSpoilerModel:
    """A small XGBoost model trained on the store's historical features."""
    frame = imdb_reviews()
    features = store.historical_features(frame)
    split = HybridSplit(
        features, encode(frame["review_text"].tolist(), EncoderSpec()), frame["is_spoiler"].to_numpy()
    )
    inputs = HybridInputs(store=store.spec(), encoder=EncoderSpec())
    return train_xgboost(split, split, inputs, XGBoostParams(n_estimators=10, min_child_weight=0.0))


def new_reviews() -> pd.DataFrame:
    return pd.DataFrame(NEW_REVIEWS).assign(review_date=pd.Timestamp(REVIEW_DAY))


def assert_parity(client: TestClient[Any], store: FeatureStoreResource, model: XGBoostSpoilerModel) -> None:
    offline = store.historical_features(new_reviews())
    online = read_online_features(store.store(), new_reviews())
    pd.testing.assert_frame_equal(offline, online)  # NaN == NaN here

    body = {"reviews": [{**r, "review_date": REVIEW_DAY} for r in NEW_REVIEWS]}
    answers = client.post("/predict/batch", json=body).json()["predictions"]
    expected = model.score_inputs(
        offline, encode([r["review_text"] for r in NEW_REVIEWS], model.inputs.encoder)
    )
    np.testing.assert_allclose([a["spoiler_probability"] for a in answers], expected, rtol=1e-6)
    assert [a["missing_features"] for a in answers] == missing_features(offline)
    assert answers[0]["missing_features"] == []
    assert "duration_minutes" in answers[1]["missing_features"]
    assert "user_prior_reviews" in answers[2]["missing_features"]


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStoreResource:
    store = imdb_feature_store(temporary_spec(tmp_path_factory.mktemp("feature_store")))
    store.materialize(pd.Timestamp("2016-01-10", tz="UTC").to_pydatetime())
    return store


@pytest.fixture(scope="module")
def model(sqlite_store: FeatureStoreResource) -> XGBoostSpoilerModel:
    return trained_model(sqlite_store)


@pytest.fixture
def client(model: XGBoostSpoilerModel) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(StaticProvider(model))) as test_client:
        yield test_client


def test_training_and_serving_build_the_same_features(
    client: TestClient[Any], sqlite_store: FeatureStoreResource, model: XGBoostSpoilerModel
) -> None:
    assert_parity(client, sqlite_store, model)


def test_models_without_a_feature_store_report_no_missing_features() -> None:
    from spoiler_assets_tests.api.fake_models import KeywordClassifier

    with TestClient(create_app(StaticProvider(KeywordClassifier()))) as plain:
        answer = plain.post("/predict", json={"review_text": "the killer dies", "review_date": "2016-01-12"})
    assert answer.status_code == 200 and "missing_features" not in answer.json()


def test_unreachable_feature_store_answers_503() -> None:
    class DownModel:
        name, threshold = "down", 0.5

        def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
            raise AssertionError("the API must ask for missing features")

        def predict_with_missing(self, reviews: pd.DataFrame) -> tuple[np.ndarray, list[list[str]]]:
            raise FeatureStoreUnavailableError("online feature store unavailable: connection refused")

        def bind_feature_store(self, spec: FeatureStoreSpec) -> None: ...

    with TestClient(create_app(StaticProvider(DownModel()))) as down:
        answer = down.post("/predict", json={"review_text": "x"})
    assert answer.status_code == 503 and "connection refused" in answer.json()["detail"]


def test_bad_review_date_is_a_client_error(client: TestClient[Any]) -> None:
    answer = client.post("/predict", json={"review_text": "x", "review_date": "yesterday"})
    assert answer.status_code == 400


@pytest.mark.integration
def test_api_enriches_from_redis_with_the_registered_champion(
    tmp_path: Path, redis_url: str, model: XGBoostSpoilerModel
) -> None:
    """The model goes through the MLflow registry (pickled with its SQLite spec) and the
    API's provider rebinds it to the serving environment's Redis store."""
    redis_store = imdb_feature_store(temporary_spec(tmp_path / "redis", redis_url=redis_url))
    redis_store.materialize(pd.Timestamp("2016-01-10", tz="UTC").to_pydatetime())
    tracking_uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("enrichment", artifact_location=(tmp_path / "artifacts").as_uri())
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        mlflow.set_tracking_uri(tracking_uri)
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(
                name="model", python_model=SpoilerPyfunc(model), pip_requirements=[]
            )
        version = mlflow.register_model(info.model_uri, "spoiler-shield")
    client.set_registered_model_alias("spoiler-shield", "champion", version.version)
    provider = MlflowChampionProvider(tracking_uri, "spoiler-shield", feature_store=redis_store.spec())

    with TestClient(create_app(provider)) as api:
        served_store = provider.load().classifier.inputs.store  # type: ignore[attr-defined]
        assert served_store == redis_store.spec()  # the serving store, not the SQLite one it was pickled with
        assert_parity(api, redis_store, model)
