"""The API through Litestar's TestClient, with a fake model provider injected."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.errors import NoChampionError
from api.provider import ServedModel
from api.schemas import MAX_BATCH, MAX_BODY_BYTES, MAX_REVIEW_CHARS
from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets_tests.api.fake_models import KeywordClassifier

NO_CHAMPION = "no model registered as 'spoiler-shield@champion' yet"


def served(classifier: SpoilerClassifier, version: str = "1") -> ServedModel:
    return ServedModel(
        classifier,
        "spoiler-shield",
        version,
        run_id=f"run-{version}",
        loaded_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


class FakeProvider:
    """Fake registry: serves `champion`, or raises NoChampionError while it is None."""

    def __init__(self, champion: ServedModel | None) -> None:
        self.champion = champion
        self.loads = 0

    def load(self) -> ServedModel:
        self.loads += 1
        if self.champion is None:
            raise NoChampionError(NO_CHAMPION)
        return self.champion


class BrokenClassifier:
    """Fake model whose `predict_proba` returns `output`, or raises if it is an exception."""

    name = "broken-fake"
    threshold = 0.5

    def __init__(self, output: Any) -> None:
        self.output = output

    def predict_proba(self, reviews: pd.DataFrame) -> np.ndarray:
        if isinstance(self.output, Exception):
            raise self.output
        return np.asarray(self.output)


@pytest.fixture
def model() -> KeywordClassifier:
    return KeywordClassifier()


@pytest.fixture
def provider(model: KeywordClassifier) -> FakeProvider:
    return FakeProvider(served(model))


@pytest.fixture
def api_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # Litestar's logging config replaces the root handlers at start-up, so capture
    # the API's logger directly.
    logger = logging.getLogger("api")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture
def client(provider: FakeProvider) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(provider)) as test_client:  # runs the start-up hooks
        yield test_client


def review(text: str) -> dict[str, Any]:
    return {"review_text": text, "movie_id": "tt0111161", "user_id": "ur1"}


@pytest.mark.parametrize(
    ("text", "probability", "is_spoiler"),
    [
        ("A lovely film.", 0.0, False),
        ("The twist is great.", 0.25, False),
        ("The twist: the hero dies.", 0.5, True),  # exactly the threshold counts as spoiler
        ("Twist ending, the killer dies.", 1.0, True),
    ],
)
def test_predict_scores_against_threshold(
    client: TestClient[Any], text: str, probability: float, is_spoiler: bool
) -> None:
    response = client.post("/predict", json=review(text))

    assert response.status_code == 200
    assert response.json() == {
        "is_spoiler": is_spoiler,
        "spoiler_probability": probability,
        "threshold": 0.5,
        "model_name": "spoiler-shield",
        "model_version": "1",
    }


def test_predict_accepts_review_without_ids(client: TestClient[Any]) -> None:
    response = client.post("/predict", json={"review_text": "the killer dies"})

    assert response.status_code == 200
    assert response.json()["is_spoiler"] is True


def test_batch_keeps_order_in_one_model_call(client: TestClient[Any], model: KeywordClassifier) -> None:
    texts = ["killer dies", "nice", "twist ending dies", "the twist"]

    response = client.post("/predict/batch", json={"reviews": [review(t) for t in texts]})

    assert response.status_code == 200
    probabilities = [p["spoiler_probability"] for p in response.json()["predictions"]]
    assert probabilities == [0.5, 0.0, 0.75, 0.25]
    assert model.batch_sizes == [4]


TOO_LONG = "x" * (MAX_REVIEW_CHARS + 1)


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/predict", b'{"review_text": "unterminated', 400),
        ("/predict", b"", 400),
        ("/predict", b"[]", 400),
        ("/predict", {"review_text": 42}, 400),
        ("/predict", {"review_text": "fine", "movie_id": 7}, 400),
        ("/predict", {"movie_id": "tt1"}, 400),
        ("/predict", {"review_text": ""}, 400),
        ("/predict", {"review_text": TOO_LONG}, 400),
        ("/predict", {"review_text": " \n\t "}, 422),
        ("/predict/batch", {"reviews": []}, 400),
        ("/predict/batch", {"reviews": [review("a")] * (MAX_BATCH + 1)}, 400),
        ("/predict/batch", {"reviews": [review("a"), {"review_text": TOO_LONG}]}, 400),
        ("/predict/batch", {"reviews": [review("a"), review("   ")]}, 422),
        ("/predict/batch", {"review_text": "not a batch"}, 400),
        ("/predict", b"{" + b" " * MAX_BODY_BYTES + b"}", 413),
    ],
    ids=[
        "malformed-json",
        "empty-body",
        "not-an-object",
        "wrong-type",
        "wrong-id-type",
        "missing-text",
        "empty-text",
        "text-too-long",
        "whitespace-text",
        "empty-batch",
        "batch-too-large",
        "batch-text-too-long",
        "batch-whitespace-text",
        "batch-missing-field",
        "body-too-large",
    ],
)
def test_bad_input_gives_4xx_with_message(
    client: TestClient[Any], model: KeywordClassifier, path: str, body: Any, status: int
) -> None:
    if isinstance(body, bytes):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=body)

    assert response.status_code == status
    assert response.json()["detail"]
    assert model.batch_sizes == []


def test_validation_error_names_the_field(client: TestClient[Any]) -> None:
    response = client.post("/predict", json={"review_text": TOO_LONG})

    [error] = response.json()["extra"]
    assert error["key"] == "review_text"
    assert str(MAX_REVIEW_CHARS) in error["message"]


def test_whitespace_review_in_batch_is_named(client: TestClient[Any]) -> None:
    response = client.post("/predict/batch", json={"reviews": [review("a"), review(" ")]})

    assert "reviews[1].review_text" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/predict"), ("GET", "/ready"), ("GET", "/model")])
def test_no_champion_answers_503_with_reason(method: str, path: str) -> None:
    with TestClient(create_app(FakeProvider(None))) as client:
        response = client.request(method, path, json=review("the killer dies"))

    assert response.status_code == 503
    assert response.json()["detail"] == NO_CHAMPION


def test_health_is_200_without_champion() -> None:
    with TestClient(create_app(FakeProvider(None))) as client:
        response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_served_model(client: TestClient[Any]) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "model_name": "spoiler-shield",
        "model_version": "1",
        "run_id": "run-1",
        "classifier": "keyword-fake",
        "threshold": 0.5,
        "loaded_at": "2024-01-01T00:00:00Z",
    }


def test_champion_is_loaded_once_at_startup(client: TestClient[Any], provider: FakeProvider) -> None:
    for _ in range(3):
        client.post("/predict", json=review("twist"))

    assert provider.loads == 1


def test_champion_registered_later_is_served_on_next_request(model: KeywordClassifier) -> None:
    provider = FakeProvider(None)
    with TestClient(create_app(provider)) as client:
        assert client.post("/predict", json=review("dies")).status_code == 503
        provider.champion = served(model, version="3")

        response = client.post("/predict", json=review("dies"))

    assert response.status_code == 200
    assert response.json()["model_version"] == "3"


def test_reload_serves_newly_promoted_champion(client: TestClient[Any], provider: FakeProvider) -> None:
    provider.champion = served(KeywordClassifier(name="promoted", threshold=0.2), version="2")
    assert client.post("/predict", json=review("twist")).json()["model_version"] == "1"

    reloaded = client.post("/model/reload")
    prediction = client.post("/predict", json=review("twist")).json()

    assert reloaded.status_code == 200
    assert reloaded.json()["classifier"] == "promoted"
    assert (prediction["model_version"], prediction["is_spoiler"]) == ("2", True)


def test_failed_reload_keeps_previous_model(client: TestClient[Any], provider: FakeProvider) -> None:
    provider.champion = None

    reloaded = client.post("/model/reload")

    assert reloaded.status_code == 503
    assert NO_CHAMPION in reloaded.json()["detail"]
    assert client.get("/model").json()["model_version"] == "1"


@pytest.mark.parametrize(
    "output",
    [RuntimeError("secret internals"), [0.5, 0.5], [float("nan")], [1.5]],
    ids=["raises", "wrong-length", "nan", "out-of-range"],
)
def test_model_failure_gives_generic_500_and_is_logged(
    output: Any, api_log: pytest.LogCaptureFixture
) -> None:
    app = create_app(FakeProvider(served(BrokenClassifier(output))))
    with TestClient(app) as client:
        response = client.post("/predict", json=review("dies"))

    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.json()["detail"]
    assert any(r.name == "api.errors" and r.exc_info for r in api_log.records)


def test_openapi_documents_routes_and_limits(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()

    assert schema["info"]["title"] == "Spoiler Shield API"
    assert {"/predict", "/predict/batch", "/health", "/ready", "/model", "/model/reload"} <= set(
        schema["paths"]
    )
    components = schema["components"]["schemas"]
    text = components["PredictRequest"]["properties"]["review_text"]
    reviews = components["BatchPredictRequest"]["properties"]["reviews"]
    assert (text["minLength"], text["maxLength"]) == (1, MAX_REVIEW_CHARS)
    assert (reviews["minItems"], reviews["maxItems"]) == (1, MAX_BATCH)
    assert "503" in schema["paths"]["/predict"]["post"]["responses"]
