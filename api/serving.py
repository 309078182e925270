"""The served champion (loaded lazily until one exists) and the scoring of reviews."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np
import pandas as pd

from api.errors import NoChampionError
from api.provider import ModelProvider, ServedModel
from api.schemas import ModelInfo, PredictRequest, PredictResponse
from spoiler_assets.models.base import reviews_frame
from spoiler_assets.models.hybrid import FeatureStoreClassifier

logger = logging.getLogger(__name__)


class ChampionSlot:
    """Holds the model being served and loads it when a request first needs one.

    A failed load keeps its reason and is retried on the next request, so a champion
    registered after start-up is served without a restart.
    """

    def __init__(self, provider: ModelProvider) -> None:
        self._provider = provider
        self._served: ServedModel | None = None
        self._lock = threading.Lock()  # one registry load at a time, not one per request
        self._failure: NoChampionError | None = None  # why the last load failed

    def warm_up(self) -> None:
        """Load at start-up; without a champion the app still starts and answers 503."""
        try:
            self.get()
        except NoChampionError as exc:
            logger.warning("starting without a model: %s", exc.reason)

    def get(self) -> ServedModel:
        """The served model, loading it first if there is none yet.

        After a failed load, requests arriving while another one retries answer with the
        last failure at once instead of queueing behind a registry that may be down.
        """
        served = self._served
        if served is not None:
            return served
        failure = self._failure
        if failure is None:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            raise NoChampionError(f"{failure.reason} (a retry is under way)")
        try:
            if self._served is None:
                try:
                    self._served = self._provider.load()
                except NoChampionError as exc:
                    self._failure = exc
                    raise
                self._failure = None
                logger.info("serving %s", _describe(self._served))
            return self._served
        finally:
            self._lock.release()

    def reload(self) -> ServedModel:
        """Load the current champion again; on failure the previous model stays served."""
        with self._lock:
            try:
                fresh = self._provider.load()
            except NoChampionError as exc:
                if self._served is None:
                    raise
                raise NoChampionError(f"{exc.reason}; still serving {_describe(self._served)}") from exc
            self._served = fresh
            logger.info("serving %s", _describe(fresh))
            return fresh


def model_info(served: ServedModel) -> ModelInfo:
    return ModelInfo(
        model_name=served.model_name,
        model_version=served.model_version,
        run_id=served.run_id,
        classifier=served.classifier.name,
        threshold=float(served.classifier.threshold),
        loaded_at=served.loaded_at,
        artifact_digest=served.artifact_digest,
    )


def score(served: ServedModel, reviews: Sequence[PredictRequest]) -> list[PredictResponse]:
    """Score all `reviews` with one `predict_proba` call, keeping their order."""
    frame = reviews_frame(
        [r.review_text for r in reviews],
        [r.movie_id for r in reviews],
        [r.user_id for r in reviews],
    )
    if any(r.review_date is not None for r in reviews):
        frame["review_date"] = pd.to_datetime([r.review_date for r in reviews])
    missing: list[list[str]] | list[None] = [None] * len(reviews)
    if isinstance(served.classifier, FeatureStoreClassifier):
        # Enriched from the online store: the answer says which lookups came back empty.
        raw, missing = served.classifier.predict_with_missing(frame)
    else:
        raw = served.classifier.predict_proba(frame)
    proba = np.asarray(raw, dtype=float)
    if proba.shape != (len(reviews),) or not np.all((proba >= 0.0) & (proba <= 1.0)):
        # A broken model is a server fault: fail loudly (500, logged), never answer junk.
        raise ValueError(
            f"{_describe(served)} returned probabilities of shape {proba.shape} for "
            f"{len(reviews)} reviews, or values outside [0, 1]"
        )
    threshold = float(served.classifier.threshold)
    return [
        PredictResponse(
            is_spoiler=bool(p >= threshold),
            spoiler_probability=float(p),
            threshold=threshold,
            model_name=served.model_name,
            model_version=served.model_version,
            missing_features=names,
        )
        for p, names in zip(proba, missing, strict=True)
    ]


def _describe(served: ServedModel) -> str:
    return f"'{served.model_name}' version {served.model_version} ({served.classifier.name})"
