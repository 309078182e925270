"""The API through Litestar's TestClient, with a fake model provider injected."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.errors import NoChampionError
from api.provider import ServedModel
from api.schemas import MAX_BATCH, MAX_BODY_BYTES, MAX_REVIEW_CHARS
from api.serving import ChampionSlot
from spoiler_assets.models.base import SpoilerClassifier
from spoiler_assets_tests.api.fake_models import KeywordClassifier
from spoiler_assets_tests.api.shield_fakes import served_pair

NO_CHAMPION = "no model registered as 'spoiler-shield@champion' yet"
ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def served(classifier: SpoilerClassifier, version: str = "1") -> ServedModel:
    return served_pair(classifier, None, version)


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
    with TestClient(create_app(provider, admin_token=ADMIN_TOKEN)) as test_client:  # runs the start-up hooks
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
        ("/predict", {"review_text": " \n\t\u3000 "}, 400),
        ("/predict", b'{"review_text": "caf\xe9 \xff"}', 400),
        ("/predict", {"review_text": "x", "review_date": "9999-12-31"}, 400),
        ("/predict", {"review_text": "x", "review_date": "0573-05-12"}, 400),
        ("/predict", {"review_text": "x", "review_date": "1989-12-31"}, 400),
        ("/predict", {"review_text": "x", "review_date": "2100-01-01"}, 400),
        ("/predict", {"review_text": "x", "movie_id": "tt" + "1" * 100_000}, 400),
        ("/predict", {"review_text": "x", "user_id": "ur" + "1" * 100_000}, 400),
        ("/predict", {"review_text": "x", "movie_id": "tt1\n"}, 400),
        ("/predict", {"review_text": "x", "movie_id": "tt\u0661\u0662"}, 400),
        ("/predict", {"review_text": "x", "user_id": "tt0111161"}, 400),
        ("/predict/batch", {"reviews": []}, 400),
        ("/predict/batch", {"reviews": [review("a")] * (MAX_BATCH + 1)}, 400),
        ("/predict/batch", {"reviews": [review("a"), {"review_text": TOO_LONG}]}, 400),
        ("/predict/batch", {"reviews": [review("a"), review("   ")]}, 400),
        (
            "/predict/batch",
            {"reviews": [review("a"), {"review_text": "b", "review_date": "9999-12-31"}]},
            400,
        ),
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
        "invalid-utf8",
        "date-past-pandas-range",
        "date-before-pandas-range",
        "date-before-1990",
        "date-after-2099",
        "movie-id-100k-chars",
        "user-id-100k-chars",
        "movie-id-trailing-newline",
        "movie-id-non-ascii-digits",
        "user-id-shaped-as-movie",
        "empty-batch",
        "batch-too-large",
        "batch-text-too-long",
        "batch-whitespace-text",
        "batch-date-out-of-range",
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


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ({"reviews": [review("a"), review(" ")]}, "reviews[1].review_text", "regex"),
        ({"reviews": [review("a"), {**review("b"), "movie_id": "x" * 99}]}, "reviews[1].movie_id", "<= 12"),
        ({"reviews": [{**review("a"), "user_id": "u1"}]}, "reviews[0].user_id", "ur"),
        # msgspec places the date check at the review; its message names the field.
        (
            {"reviews": [review("a"), {**review("b"), "review_date": "9999-12-31"}]},
            "reviews[1]",
            "review_date",
        ),
        # Litestar alone converts leniently (0 -> false); the schema says boolean.
        ({"reviews": [review("a")], "explain": 0}, "explain", "Expected `bool`, got `int`"),
        ({"reviews": [{**review("a"), "sentences": "true"}]}, "reviews[0].sentences", "Expected `bool`"),
    ],
    ids=["whitespace-text", "movie-id", "user-id", "review-date", "int-as-bool", "string-as-bool"],
)
def test_batch_validation_error_names_the_review_and_field(
    client: TestClient[Any], body: dict[str, Any], key: str, message: str
) -> None:
    response = client.post("/predict/batch", json=body)

    [error] = response.json()["extra"]
    assert (response.status_code, error["key"]) == (400, key)
    assert message in error["message"]


def test_invalid_utf8_is_a_client_error_not_logged_as_server_fault(
    client: TestClient[Any], api_log: pytest.LogCaptureFixture
) -> None:
    response = client.post(
        "/predict", content=b'{"review_text": "\xc3\x28"}', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["detail"]
    assert not [r for r in api_log.records if r.name == "api.errors"]


@pytest.mark.parametrize("day", ["1990-01-01", "2016-01-12", "2099-12-31"])
def test_dates_inside_the_window_are_scored(client: TestClient[Any], day: str) -> None:
    response = client.post("/predict", json={**review("the killer dies"), "review_date": day})

    assert response.status_code == 200


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
        "artifact_digest": None,  # the fake has no registered artifacts to verify
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

    reloaded = client.post("/model/reload", headers=ADMIN)
    prediction = client.post("/predict", json=review("twist")).json()

    assert reloaded.status_code == 200
    assert reloaded.json()["classifier"] == "promoted"
    assert (prediction["model_version"], prediction["is_spoiler"]) == ("2", True)


def test_failed_reload_keeps_previous_model(client: TestClient[Any], provider: FakeProvider) -> None:
    provider.champion = None

    reloaded = client.post("/model/reload", headers=ADMIN)

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
    for path in ("/predict", "/predict/batch"):
        assert {"200", "400", "413", "500", "503"} <= set(schema["paths"][path]["post"]["responses"])


def test_openapi_states_the_id_and_date_rules_the_server_enforces(client: TestClient[Any]) -> None:
    properties = client.get("/schema/openapi.json").json()["components"]["schemas"]["PredictRequest"][
        "properties"
    ]

    for field, good, bad in (("movie_id", "tt0111161", "ur0111161"), ("user_id", "ur27175177", "tt1")):
        pattern = properties[field]["pattern"]
        assert re.search(pattern, good) and not re.search(pattern, bad)
        assert properties[field]["maxLength"] == 12
    date_pattern = properties["review_date"]["pattern"]
    assert re.search(date_pattern, "1990-01-01") and re.search(date_pattern, "2099-12-31")
    assert not any(re.search(date_pattern, d) for d in ("1989-12-31", "2100-01-01", "9999-12-31"))
    assert not re.search(properties["review_text"]["pattern"], " \t\n\u3000")


def test_reload_with_the_admin_token(client: TestClient[Any]) -> None:
    assert client.post("/model/reload", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": b"Bearer caf\xc3\xa9"},
    ],
    ids=["missing", "wrong", "longer", "wrong-scheme", "no-scheme", "non-ascii"],
)
def test_reload_without_the_right_token_is_401(
    client: TestClient[Any], provider: FakeProvider, headers: dict[str, Any]
) -> None:
    response = client.post("/model/reload", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "SPOILER_ADMIN_TOKEN" in response.json()["detail"]
    assert provider.loads == 1  # only the start-up load: the registry was not asked again


@pytest.mark.parametrize("token", [None, ""])
def test_reload_is_disabled_without_a_configured_token(provider: FakeProvider, token: str | None) -> None:
    with TestClient(create_app(provider, admin_token=token)) as client:
        for headers in ({}, {"Authorization": "Bearer "}, ADMIN):
            response = client.post("/model/reload", headers=headers)
            assert response.status_code == 403
            assert "SPOILER_ADMIN_TOKEN" in response.json()["detail"]
        assert client.post("/predict", json=review("twist")).status_code == 200


def test_openapi_documents_the_admin_security_scheme(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()

    [scheme_name] = schema["components"]["securitySchemes"]
    assert schema["components"]["securitySchemes"][scheme_name] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "description": "",
    }
    reload = schema["paths"]["/model/reload"]["post"]
    assert reload["security"] == [{scheme_name: []}]
    assert {"200", "401", "403", "503"} <= set(reload["responses"])
    assert "security" not in schema["paths"]["/predict"]["post"]


def test_requests_during_a_retry_get_the_last_reason_at_once() -> None:
    """A registry that hangs must not queue every request behind one retry."""

    class HangingRegistry:
        def __init__(self) -> None:
            self.calls = 0
            self.retrying = threading.Event()
            self.release = threading.Event()

        def load(self) -> ServedModel:
            self.calls += 1
            if self.calls > 1:
                self.retrying.set()
                self.release.wait(30)
            raise NoChampionError(f"registry down (attempt {self.calls})")

    registry = HangingRegistry()
    slot = ChampionSlot(registry)
    slot.warm_up()  # attempt 1 fails: the app starts without a model
    retry = threading.Thread(target=lambda: pytest.raises(NoChampionError, slot.get))
    retry.start()
    assert registry.retrying.wait(10)  # attempt 2 is under way, holding the lock

    started = time.monotonic()
    with pytest.raises(NoChampionError, match=r"attempt 1\) \(a retry is under way\)"):
        slot.get()
    waited = time.monotonic() - started
    registry.release.set()
    retry.join(10)

    assert waited < 1 and registry.calls == 2
