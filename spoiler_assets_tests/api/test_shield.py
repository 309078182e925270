"""`"sentences": true` and `"explain": true` on /predict and /predict/batch, the page's
routes, and the sentence model registered and loaded beside the champion (embedded MLflow)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.errors import NoChampionError
from api.page import STATIC_DIR
from api.provider import MlflowChampionProvider
from spoiler_assets.assets.evaluation import Champion
from spoiler_assets.assets.sentences import DEFAULT_SENTENCE_LABELS, sentence_evaluation, sentence_model
from spoiler_assets.data.cleaning import normalize_text
from spoiler_assets.data.formats import REVIEWS_FILE
from spoiler_assets.models.base import TrainedModel
from spoiler_assets.models.baseline import BaselineParams, TfidfLogisticModel, train_baseline
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets_tests.api.fake_models import KeywordClassifier
from spoiler_assets_tests.api.shield_fakes import KeywordSentenceScorer, PairProvider, served_pair

GOODREADS = DEFAULT_SENTENCE_LABELS
REVIEW = "Great cast, lovely score. Then the brother dies at the end! I cried.\n\nWorth it 😀 10/10"


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    with TestClient(create_app(PairProvider(served_pair(KeywordClassifier(), KeywordSentenceScorer())))) as c:
        yield c


def _tiles(text: str, sentences: list[dict[str, Any]]) -> bool:
    chars = list(text)  # code points, as the API counts them
    ends = [s["start"] for s in sentences[1:]] + [len(chars)]
    return sentences[0]["start"] == 0 and all(s["end"] == e for s, e in zip(sentences, ends, strict=True))


def test_sentences_come_with_spans_that_tile_the_text(client: TestClient[Any]) -> None:
    plain = client.post("/predict", json={"review_text": REVIEW}).json()

    answer = client.post("/predict", json={"review_text": REVIEW, "sentences": True}).json()

    sentences = answer.pop("sentences")
    assert _tiles(REVIEW, sentences)
    assert [REVIEW[s["start"] : s["end"]] for s in sentences] == [
        "Great cast, lovely score. ",
        "Then the brother dies at the end! ",
        "I cried.\n\n",
        "Worth it 😀 10/10",
    ]
    assert [s["is_spoiler"] for s in sentences] == [False, True, False, False]
    assert sentences[1]["spoiler_probability"] == pytest.approx(0.9)
    assert answer.pop("sentence_threshold") == 0.5 and answer.pop("sentence_model_version") == "7"
    assert answer == plain  # the review-level answer is unchanged


def test_batch_sentences_for_every_review_or_per_review(client: TestClient[Any]) -> None:
    reviews = [{"review_text": "He dies. Fine."}, {"review_text": "Lovely.", "sentences": True}]

    per_review = client.post("/predict/batch", json={"reviews": reviews}).json()["predictions"]
    every = client.post("/predict/batch", json={"reviews": reviews, "sentences": True}).json()["predictions"]

    assert "sentences" not in per_review[0] and len(per_review[1]["sentences"]) == 1
    assert [[s["is_spoiler"] for s in p["sentences"]] for p in every] == [[True, False], [False]]


def test_sentences_without_a_sentence_model_answer_503_and_reviews_still_score() -> None:
    with TestClient(create_app(PairProvider(served_pair(KeywordClassifier(), None)))) as c:
        assert c.post("/predict", json={"review_text": REVIEW}).status_code == 200
        refused = c.post("/predict", json={"review_text": REVIEW, "sentences": True})

    assert refused.status_code == 503
    assert "spoiler-shield-sentences@champion" in refused.json()["detail"]


def test_a_model_without_ngram_weights_says_it_cannot_explain(client: TestClient[Any]) -> None:
    answer = client.post("/predict", json={"review_text": REVIEW, "explain": True}).json()

    assert answer["explanation"]["available"] is False and answer["explanation"]["ngrams"] == []
    assert "keyword-fake" in answer["explanation"]["detail"]


@pytest.fixture(scope="module")
def tiny_split(tiny_corpus: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    reviews = pd.read_json(tiny_corpus / REVIEWS_FILE, lines=True)
    reviews["review_text"] = normalize_text(reviews["review_text"])
    cut = int(0.85 * len(reviews))
    return reviews.iloc[:cut], reviews.iloc[cut:]


@pytest.fixture(scope="module")
def baseline(tiny_split: tuple[pd.DataFrame, pd.DataFrame]) -> TfidfLogisticModel:
    return train_baseline(*tiny_split, BaselineParams(hash_bits=16))  # small: seconds, not tens


def test_the_tfidf_baseline_explains_with_its_own_ngrams(baseline: TfidfLogisticModel) -> None:
    text = "The acting is fine. In the end the detective was the killer all along and the brother dies."
    with TestClient(create_app(PairProvider(served_pair(baseline, None)))) as c:
        answer = c.post("/predict", json={"review_text": text, "explain": True}).json()

    explanation = answer["explanation"]
    weights = [n["weight"] for n in explanation["ngrams"]]
    assert explanation["available"] is True and 0 < len(weights) <= 5
    assert weights == sorted(weights, reverse=True) and min(weights) > 0
    words = re.findall(r"\w\w+", text.lower())
    bigrams = {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    assert {n["ngram"] for n in explanation["ngrams"]} <= set(words) | bigrams


def test_the_page_and_its_files_are_served_from_this_origin_only(client: TestClient[Any]) -> None:
    page = client.get("/")
    script = client.get("/static/app.js")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/static/app.js"' in page.text and '<label for="review-text">' in page.text
    assert script.status_code == 200 and "/predict" in script.text
    for path in STATIC_DIR.iterdir():
        # No CDN, no font service, nothing fetched from elsewhere at run time.
        assert not re.search(r"https?://|//cdn|@import", path.read_text()), path.name
    assert "/" not in client.get("/schema/openapi.json").json()["paths"]


def test_openapi_documents_the_new_fields(client: TestClient[Any]) -> None:
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    request, response = schemas["PredictRequest"], schemas["PredictResponse"]

    assert {"sentences", "explain"} <= set(request["properties"])
    assert {"sentences", "explanation", "sentence_model_version"} <= set(response["properties"])


def test_provider_loads_the_sentence_model_registered_beside_the_champion(
    tmp_path: Path, baseline: TfidfLogisticModel, tiny_split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The sentence_model asset registers `<name>-sentences@champion`; the API's registry
    provider then serves the pair; sentence_evaluation scores it on real sentences."""

    tracking = MlflowTrackingResource(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "artifacts")
    )
    with tracking.start_run("baseline_model"):
        uri = tracking.log_classifier(baseline)
    champion = tracking.register(uri, tags={})
    tracking.set_champion(champion)
    train, valid = tiny_split
    split = pd.concat([train.assign(split="train"), valid.assign(split="valid")])

    champion_version = str(champion.version)

    @dg.asset(name="review_split")
    def split_stub() -> pd.DataFrame:
        return split

    @dg.asset(name="champion_model")
    def champion_stub() -> Champion:
        return Champion(
            model_name="spoiler-shield",
            version=champion_version,
            asset="baseline_model",
            promoted=True,
            reason="first champion",
            candidate_version=champion_version,
        )

    @dg.asset(name="baseline_model")
    def baseline_stub() -> TrainedModel:
        return TrainedModel(baseline, run_id="", model_uri=uri, corpus="SYNTHETIC")

    labels = GOODREADS if (GOODREADS / "validation_10000.json").exists() else tmp_path / "absent"

    result = dg.materialize(
        [split_stub, champion_stub, baseline_stub, sentence_model, sentence_evaluation],
        resources={
            "mlflow_tracking": tracking,
            "review_source": ReviewSourceResource(base_uri=str(tmp_path)),
        },
        run_config={
            "ops": {
                "sentence_model": {"config": {"epochs": 5, "mil_rounds": 2}},
                "sentence_evaluation": {"config": {"labels_dir": str(labels), "max_sentences": 1_500}},
            }
        },
    )
    registered = result.output_for_node("sentence_model")
    metadata = result.asset_materializations_for_node("sentence_model")[0].metadata
    served = MlflowChampionProvider(tracking.tracking_uri, "spoiler-shield").load()

    assert registered.registered_name == "spoiler-shield-sentences"
    assert metadata["served_as_champion"].value is True
    assert served.sentence_model_version == registered.version
    assert served.sentence_scorer is not None
    with TestClient(create_app(PairProvider(served))) as c:
        text = "Nice photography. The detective was the killer all along."
        answer = c.post("/predict", json={"review_text": text, "sentences": True, "explain": True}).json()
    assert _tiles(text, answer["sentences"]) and answer["explanation"]["available"] is True
    evaluations = result.asset_materializations_for_node("sentence_evaluation")
    if labels == GOODREADS:
        scores = result.output_for_node("sentence_evaluation")
        # The champion is the baseline here: one naive row, not the same one twice.
        assert set(scores["approach"]) == {
            "sentence_model (MIL)",
            f"naive: champion v{champion_version} (baseline_model)",
        }
        assert scores["roc_auc"].between(0, 1).all() and (scores["n_sentences"] == 1_500).all()
        assert "CROSS-DOMAIN" in evaluations[0].metadata["sentence_scores"].value
    else:
        assert evaluations == []  # no labels here: skipped, never a made-up figure

    # Like the champion, a sentence model whose artifacts changed since registration is refused.
    source = tracking.client().get_model_version_download_uri(registered.registered_name, registered.version)
    mlmodel = Path(urllib.parse.urlparse(source).path) / "MLmodel"
    mlmodel.write_text(mlmodel.read_text() + "\n# edited after registration\n")
    with pytest.raises(NoChampionError, match="'spoiler-shield-sentences' version 1 refused"):
        MlflowChampionProvider(tracking.tracking_uri, "spoiler-shield").load()
