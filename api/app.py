"""The Litestar app factory: routes, dependencies and error mapping, no global state."""

from __future__ import annotations

import logging
import time

from litestar import Litestar, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.admin import (
    ADMIN_RESPONSES,
    ADMIN_SECURITY,
    ADMIN_SECURITY_SCHEME,
    ADMIN_TOKEN_STATE,
    SECURITY_SCHEME_NAME,
    require_admin_token,
)
from api.bodies import decode_body_strictly
from api.errors import EXCEPTION_HANDLERS
from api.page import page_route_handlers
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
from api.sentences import shield
from api.serving import ChampionSlot, model_info, score

logger = logging.getLogger(__name__)

_NO_MODEL = {
    503: ResponseSpec(
        ErrorBody,
        description="No champion can be served (none registered, registry unreachable, artifacts"
        " failing their digest check), or its feature store is unreachable; `detail` says why.",
    )
}
# 400 (malformed JSON, invalid UTF-8, a field outside its schema; `extra` names the field)
# is documented by Litestar itself for every route with a body.
_TOO_LARGE = {413: ResponseSpec(ErrorBody, description=f"Request body over {MAX_BODY_BYTES} bytes.")}
_MODEL_FAULT = {
    500: ResponseSpec(
        ErrorBody,
        description="The model itself failed (raised, or returned no probability in [0, 1]);"
        " logged by the server, `detail` holds no internals.",
    )
}


# Scoring and registry loads block, so these handlers run in a worker thread.
@post(
    "/predict", status_code=HTTP_200_OK, sync_to_thread=True, responses=_NO_MODEL | _TOO_LARGE | _MODEL_FAULT
)
def predict(data: JSONBody[PredictRequest], champion: NamedDependency[ChampionSlot]) -> PredictResponse:
    """Score one review; `sentences` adds every sentence's span and score, `explain` the
    n-grams behind the score."""
    served = champion.get()
    return shield(served, [data], score(served, [data]))[0]


@post(
    "/predict/batch",
    status_code=HTTP_200_OK,
    sync_to_thread=True,
    responses=_NO_MODEL | _TOO_LARGE | _MODEL_FAULT,
)
def predict_batch(
    data: JSONBody[BatchPredictRequest], champion: NamedDependency[ChampionSlot]
) -> BatchPredictResponse:
    """Score several reviews in one model call; predictions keep the request's order."""
    served = champion.get()
    predictions = score(served, data.reviews)
    return BatchPredictResponse(
        predictions=shield(served, data.reviews, predictions, sentences=data.sentences, explain=data.explain)
    )


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


@post(
    "/model/reload",
    status_code=HTTP_200_OK,
    sync_to_thread=True,
    guards=[require_admin_token],
    security=ADMIN_SECURITY,
    responses=_NO_MODEL | ADMIN_RESPONSES,
)
def reload_model(champion: NamedDependency[ChampionSlot]) -> ModelInfo:
    """Load the registry's current champion, e.g. after a promotion; 503 keeps the old one.
    Admin: needs `Authorization: Bearer <SPOILER_ADMIN_TOKEN>`."""
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


def create_app(provider: ModelProvider, admin_token: str | None = None) -> Litestar:
    """Build the API around `provider`, the source of the model to serve.

    The champion is loaded at start-up; if there is none yet (or the registry does not
    answer) the app still starts, answers 503 with the reason, and tries again on the
    next request needing a model. `admin_token` enables the admin routes (see api/admin.py).
    """
    champion = ChampionSlot(provider)
    return Litestar(
        route_handlers=[predict, predict_batch, health, ready, model, reload_model, *page_route_handlers()],
        dependencies={"champion": Provide(lambda: champion, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=decode_body_strictly,
        middleware=[_log_latency],
        on_startup=[champion.warm_up],
        request_max_body_size=MAX_BODY_BYTES,
        state=State({ADMIN_TOKEN_STATE: admin_token or None}),
        openapi_config=OpenAPIConfig(
            title="Spoiler Shield API",
            version="1.0.0",
            components=Components(security_schemes={SECURITY_SCHEME_NAME: ADMIN_SECURITY_SCHEME}),
        ),
    )
