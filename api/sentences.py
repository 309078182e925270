"""Sentence spans and n-gram explanations added to review scores, and where the sentence
model comes from: `<model name>-sentences@champion` in the same registry as the champion."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import mlflow.artifacts
import mlflow.pyfunc
import msgspec
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from api.errors import NoChampionError
from api.schemas import Explanation, NgramWeight, PredictRequest, PredictResponse, SentenceSpan
from spoiler_assets.models.digest import DIGEST_TAG, directory_digest
from spoiler_assets.models.explain import explainable_pipeline, top_spoiler_ngrams
from spoiler_assets.models.pyfunc import SpoilerPyfunc
from spoiler_assets.models.sentences import SENTENCE_MODEL_SUFFIX

if TYPE_CHECKING:
    from api.provider import ServedModel

EXPLAINED_NGRAMS = 5
_MISSING_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


@runtime_checkable
class SentenceScorer(Protocol):
    """Scores the sentences of one review (e.g. `spoiler_assets.models.sentences.SentenceModel`)."""

    name: str
    threshold: float

    def score_review(self, text: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Spans `[start, end)` tiling `text`, and each one's spoiler probability."""
        ...


def load_sentence_model(
    tracking_uri: str, model_name: str, alias: str = "champion"
) -> tuple[SentenceScorer, str] | None:
    """The sentence scorer registered as `<model_name>-sentences@alias` and its version,
    or None when none is registered yet (reviews are still scored; sentences answer 503)."""
    name = model_name + SENTENCE_MODEL_SUFFIX
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in _MISSING_CODES:
            return None
        raise
    source = client.get_model_version_download_uri(name, version.version)
    with tempfile.TemporaryDirectory(prefix="spoiler-sentences-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=tmp, tracking_uri=tracking_uri
        )
        # As for the champion: a pickle whose digest changed since registration is never loaded.
        expected = (version.tags or {}).get(DIGEST_TAG)
        if expected is not None and directory_digest(Path(local)) != expected:
            raise NoChampionError(
                f"'{name}' version {version.version} refused: its artifacts do not match the"
                f" digest recorded at registration ({DIGEST_TAG})"
            )
        try:
            python_model = mlflow.pyfunc.load_model(local).unwrap_python_model()
        except Exception as exc:  # unpickling runs arbitrary model code
            raise NoChampionError(
                f"'{name}' version {version.version} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
    scorer = python_model.classifier if isinstance(python_model, SpoilerPyfunc) else None
    if not isinstance(scorer, SentenceScorer):
        raise NoChampionError(f"'{name}' version {version.version} holds no sentence scorer")
    return scorer, str(version.version)


def shield(
    served: ServedModel,
    reviews: Sequence[PredictRequest],
    responses: list[PredictResponse],
    *,
    sentences: bool = False,
    explain: bool = False,
) -> list[PredictResponse]:
    """`responses` with sentence spans where `sentences` or the review asked for them, and
    explanations where `explain` or the review asked (the review-level answer unchanged).

    Raises NoChampionError (503) when sentences are asked for and no scorer is loaded.
    """
    scorer, scorer_version = served.sentence_scorer, served.sentence_model_version
    classifier = served.classifier
    sentence_model_name = served.model_name + SENTENCE_MODEL_SUFFIX
    out = []
    for review, response in zip(reviews, responses, strict=True):
        changes: dict[str, object] = {}
        if sentences or review.sentences:
            if scorer is None:
                raise NoChampionError(
                    f"no sentence model registered as '{sentence_model_name}@champion' yet: "
                    "materialize sentence_model (review scores work without it)"
                )
            changes |= {
                "sentences": sentence_spans(scorer, review.review_text),
                "sentence_threshold": float(scorer.threshold),
                "sentence_model_version": scorer_version,
            }
        if explain or review.explain:
            changes["explanation"] = explanation(classifier, review.review_text)
        out.append(msgspec.structs.replace(response, **changes) if changes else response)
    return out


def sentence_spans(scorer: SentenceScorer, text: str) -> list[SentenceSpan]:
    spans, proba = scorer.score_review(text)
    proba = np.asarray(proba, dtype=float)
    if len(proba) != len(spans) or not np.all((proba >= 0.0) & (proba <= 1.0)):
        raise ValueError(f"{scorer.name} returned {len(proba)} probabilities for {len(spans)} sentences")
    threshold = float(scorer.threshold)
    return [
        SentenceSpan(start=a, end=b, spoiler_probability=float(p), is_spoiler=bool(p >= threshold))
        for (a, b), p in zip(spans, proba, strict=True)
    ]


def explanation(classifier: object, text: str) -> Explanation:
    pipeline = explainable_pipeline(classifier)
    name = getattr(classifier, "name", type(classifier).__name__)
    if pipeline is None:
        return Explanation(
            available=False,
            ngrams=[],
            detail=f"{name} has no per-n-gram weights (only linear TF-IDF models explain themselves)",
        )
    ngrams = top_spoiler_ngrams(pipeline, text, EXPLAINED_NGRAMS)
    return Explanation(
        available=True,
        ngrams=[NgramWeight(ngram=n.ngram, weight=n.weight) for n in ngrams],
        detail=f"{name}: contribution of each n-gram to the spoiler log-odds (tf-idf x coefficient)",
    )
