"""MlflowChampionProvider against a real local MLflow store (SQLite + local artifacts)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.artifacts
import pytest
from litestar.testing import TestClient
from mlflow import MlflowClient

from api.app import create_app
from api.errors import NoChampionError
from api.provider import MlflowChampionProvider
from spoiler_assets.models.base import reviews_frame
from spoiler_assets.models.digest import DIGEST_TAG, directory_digest
from spoiler_assets.models.pyfunc import SpoilerPyfunc
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets_tests.api.fake_models import KeywordClassifier
from spoiler_assets_tests.servers import free_port

# A few seconds: logs two models into a real SQLite store.
pytestmark = pytest.mark.slow

MODEL_NAME = "spoiler-shield"


@dataclass(frozen=True)
class Registry:
    tracking_uri: str
    run_ids: dict[str, str]  # version -> run that logged it


def _tracking_uri(folder: Path) -> str:
    return f"sqlite:///{folder}/mlflow.db"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Two versions of MODEL_NAME: "champion" points at 1, the older one, "challenger" at 2."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = _tracking_uri(folder)
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(
        "spoiler-shield-api-test", artifact_location=(folder / "artifacts").as_uri()
    )
    run_ids: dict[str, str] = {}
    # `log_model` only logs to the global tracking URI; set it for the logging alone.
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        mlflow.set_tracking_uri(uri)
        try:
            for name, threshold in (("kw-v1", 0.3), ("kw-v2", 0.7)):
                with mlflow.start_run(experiment_id=experiment_id) as run:
                    info = mlflow.pyfunc.log_model(
                        name="model",
                        python_model=SpoilerPyfunc(KeywordClassifier(name=name, threshold=threshold)),
                        registered_model_name=MODEL_NAME,
                        pip_requirements=["mlflow"],  # skips slow requirement inference
                    )
                run_ids[str(info.registered_model_version)] = run.info.run_id
        finally:
            # None restores "unset" (env var or default); MLflow's annotation omits it.
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    client.set_registered_model_alias(MODEL_NAME, "champion", "1")
    client.set_registered_model_alias(MODEL_NAME, "challenger", "2")
    yield Registry(uri, run_ids)


def test_load_returns_the_champion_version(registry: Registry) -> None:
    served = MlflowChampionProvider(registry.tracking_uri, MODEL_NAME).load()

    assert (served.model_name, served.model_version) == (MODEL_NAME, "1")
    assert served.run_id == registry.run_ids["1"]
    assert (served.classifier.name, served.classifier.threshold) == ("kw-v1", 0.3)


def test_loaded_classifier_scores_reviews(registry: Registry) -> None:
    served = MlflowChampionProvider(registry.tracking_uri, MODEL_NAME).load()

    proba = served.classifier.predict_proba(reviews_frame(["the killer dies", "lovely"]))

    assert proba.tolist() == [0.5, 0.0]


def test_load_follows_the_given_alias(registry: Registry) -> None:
    served = MlflowChampionProvider(registry.tracking_uri, MODEL_NAME, alias="challenger").load()

    assert (served.model_version, served.classifier.name) == ("2", "kw-v2")


def test_missing_alias_raises_no_champion(registry: Registry) -> None:
    provider = MlflowChampionProvider(registry.tracking_uri, MODEL_NAME, alias="retired")

    with pytest.raises(NoChampionError, match=f"'{MODEL_NAME}@retired'"):
        provider.load()


def test_empty_registry_raises_no_champion(tmp_path: Path) -> None:
    provider = MlflowChampionProvider(_tracking_uri(tmp_path), MODEL_NAME)

    with pytest.raises(NoChampionError, match="materialize champion_model"):
        provider.load()


def test_load_leaves_global_tracking_uri_alone(registry: Registry) -> None:
    before = mlflow.get_tracking_uri()

    MlflowChampionProvider(registry.tracking_uri, MODEL_NAME).load()

    assert mlflow.get_tracking_uri() == before != registry.tracking_uri


def _register_with_digest(folder: Path, name: str) -> tuple[str, str]:
    """A champion registered the way `champion_model` does it (tracking resource, digest
    tag); returns the tracking URI and the version's artifact folder on disk."""
    uri = _tracking_uri(folder)
    tracking = MlflowTrackingResource(
        tracking_uri=uri,
        experiment_name="digest",
        model_name=name,
        artifact_location=str(folder / "artifacts"),
    )
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        try:
            with tracking.start_run("digest"):
                model_uri = mlflow.pyfunc.log_model(
                    name="model", python_model=SpoilerPyfunc(KeywordClassifier()), pip_requirements=[]
                ).model_uri
            version = tracking.register(model_uri, tags={})
        finally:
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    tracking.set_champion(version)
    source = MlflowClient(uri).get_model_version_download_uri(name, version.version)
    return uri, mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=uri)


def test_registration_records_the_digest_the_api_verifies(tmp_path: Path) -> None:
    uri, artifacts = _register_with_digest(tmp_path, MODEL_NAME)

    served = MlflowChampionProvider(uri, MODEL_NAME).load()

    tag = MlflowClient(uri).get_model_version(MODEL_NAME, served.model_version).tags[DIGEST_TAG]
    assert served.artifact_digest == tag == directory_digest(Path(artifacts))


def test_loading_a_version_in_the_pipeline_leaves_its_artifacts_as_registered(tmp_path: Path) -> None:
    """`champion_model` and monitoring load registered versions; on a local store MLflow's
    `models:/` loader writes into the version's folder, which once got champions refused."""
    uri, artifacts = _register_with_digest(tmp_path, MODEL_NAME)
    tracking = MlflowTrackingResource(tracking_uri=uri, experiment_name="digest", model_name=MODEL_NAME)
    version = tracking.champion_version()
    assert version is not None
    before = directory_digest(Path(artifacts))

    classifier = tracking.load_version(version)

    assert isinstance(classifier, KeywordClassifier)
    assert directory_digest(Path(artifacts)) == before == version.tags[DIGEST_TAG]
    assert MlflowChampionProvider(uri, MODEL_NAME).load().artifact_digest == before


@pytest.mark.parametrize("tamper", ["edit", "add"])
def test_tampered_artifacts_are_refused_naming_the_version(tmp_path: Path, tamper: str) -> None:
    uri, artifacts = _register_with_digest(tmp_path, MODEL_NAME)
    folder = Path(artifacts)
    stored = next(p for p in folder.rglob("*.pkl"))  # the pickled classifier
    if not stored.resolve().is_relative_to(tmp_path.resolve()):
        pytest.skip("the local store handed out a copy, not the stored file")
    if tamper == "edit":
        stored.write_bytes(stored.read_bytes() + b"\0")
    else:
        (folder / "extra.py").write_text("print('injected')\n")

    with pytest.raises(NoChampionError, match=f"'{MODEL_NAME}' version 1 refused: .*digest"):
        MlflowChampionProvider(uri, MODEL_NAME).load()
    with TestClient(create_app(MlflowChampionProvider(uri, MODEL_NAME))) as api:
        answer = api.post("/predict", json={"review_text": "the killer dies"})
    assert answer.status_code == 503 and "version 1 refused" in answer.json()["detail"]


def test_unreachable_registry_fails_fast_with_the_reason() -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()

    with pytest.raises(NoChampionError, match=f"MLflow registry at {uri} is unreachable"):
        MlflowChampionProvider(uri, MODEL_NAME).load()

    assert time.monotonic() - started < 10  # MLflow's own client retries for minutes


def test_credentials_in_the_tracking_uri_stay_out_of_the_reason() -> None:
    uri = f"http://admin:hunter2@127.0.0.1:{free_port()}"

    with pytest.raises(NoChampionError) as raised:
        MlflowChampionProvider(uri, MODEL_NAME).load()

    assert "hunter2" not in raised.value.reason and "admin" not in raised.value.reason
