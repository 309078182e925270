"""The Litestar app factory: routes, dependencies and error mapping, no global state."""

from __future__ import annotations

import logging
import time

from litestar import Litestar, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import EXCEPTION_HANDLERS
from api.provider import ModelProvider
from api.schemas import (
    MAX_BODY_BYTES,
    BatchPredictRequest,
    BatchPredictResponse,
    ErrorBody,
    Health,
    ModelInfo,
    PredictRequest,
    PredictResponse,
)
from api.serving import ChampionSlot, check_reviews, model_info, score

logger = logging.getLogger(__name__)

_NO_MODEL = {
    503: ResponseSpec(
        ErrorBody,
        description="No champion can be served, or its feature store is unreachable; `detail` says why.",
    )
}
_BAD_REVIEW = {422: ResponseSpec(ErrorBody, description="A review text is only whitespace.")}


# Scoring and registry loads block, so these handlers run in a worker thread.
@post("/predict", status_code=HTTP_200_OK, sync_to_thread=True, responses=_NO_MODEL | _BAD_REVIEW)
def predict(data: JSONBody[PredictRequest], champion: NamedDependency[ChampionSlot]) -> PredictResponse:
    """Score one review."""
    check_reviews([data])
    return score(champion.get(), [data])[0]


@post("/predict/batch", status_code=HTTP_200_OK, sync_to_thread=True, responses=_NO_MODEL | _BAD_REVIEW)
def predict_batch(
    data: JSONBody[BatchPredictRequest], champion: NamedDependency[ChampionSlot]
) -> BatchPredictResponse:
    """Score several reviews in one model call; predictions keep the request's order."""
    check_reviews(data.reviews)
    return BatchPredictResponse(predictions=score(champion.get(), data.reviews))


@get("/health", sync_to_thread=False)
def health() -> Health:
    """Liveness: 200 whenever the process answers, with or without a model."""
    return Health()


@get("/ready", sync_to_thread=True, responses=_NO_MODEL)
def ready(champion: NamedDependency[ChampionSlot]) -> ModelInfo:
    """Readiness: 200 with the served model, 503 with the reason while there is none."""
    return model_info(champion.get())


@get("/model", sync_to_thread=True, responses=_NO_MODEL)
def model(champion: NamedDependency[ChampionSlot]) -> ModelInfo:
    """The model being served."""
    return model_info(champion.get())


@post("/model/reload", status_code=HTTP_200_OK, sync_to_thread=True, responses=_NO_MODEL)
def reload_model(champion: NamedDependency[ChampionSlot]) -> ModelInfo:
    """Load the registry's current champion, e.g. after a promotion; 503 keeps the old one."""
    return model_info(champion.reload())


def _log_latency(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        start = time.perf_counter()

        async def send_capturing_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_capturing_status)
        finally:
            elapsed_ms = (time.perf_counter() - start) * 1000
            logger.debug("%s %s -> %d in %.1f ms", scope.get("method"), scope["path"], status, elapsed_ms)

    return middleware


def create_app(provider: ModelProvider) -> Litestar:
    """Build the API around `provider`, the source of the model to serve.

    The champion is loaded at start-up; if there is none yet the app still starts,
    answers 503 with the reason, and tries again on the next request needing a model.
    """
    champion = ChampionSlot(provider)
    return Litestar(
        route_handlers=[predict, predict_batch, health, ready, model, reload_model],
        dependencies={"champion": Provide(lambda: champion, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[_log_latency],
        on_startup=[champion.warm_up],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(title="Spoiler Shield API", version="1.0.0"),
    )
