"""Domain errors of the API and the one place that turns exceptions into HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.status_codes import (
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandlersMap

from spoiler_assets.features.retrieval import FeatureStoreUnavailableError

logger = logging.getLogger(__name__)


class NoChampionError(Exception):
    """No model can be served: nothing is registered under the alias, the registry cannot
    be reached, loading failed, or the artifacts do not match their registered digest."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _detail(status_code: int, detail: str) -> Response[dict[str, Any]]:
    return Response({"status_code": status_code, "detail": detail}, status_code=status_code)


def _no_champion(_: Request[Any, Any, Any], exc: NoChampionError) -> Response[dict[str, Any]]:
    return _detail(HTTP_503_SERVICE_UNAVAILABLE, exc.reason)


def _feature_store_down(
    _: Request[Any, Any, Any], exc: FeatureStoreUnavailableError
) -> Response[dict[str, Any]]:
    logger.error("feature store unavailable", exc_info=exc)
    return _detail(HTTP_503_SERVICE_UNAVAILABLE, str(exc))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Registered under 500, so Litestar uses it for every exception that is neither an
    # HTTPException nor mapped above; the client learns nothing about the internals.
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _detail(HTTP_500_INTERNAL_SERVER_ERROR, "internal error while scoring; see server log")


# Litestar's own HTTPExceptions (400 validation, 404, 405, 413, ...) keep its default
# answer, which has the same `status_code` and `detail` keys plus `extra` for validation;
# api/bodies.py raises the same 400 for bodies that fail strict decoding.
EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    NoChampionError: _no_champion,
    FeatureStoreUnavailableError: _feature_store_down,
    HTTP_500_INTERNAL_SERVER_ERROR: _unexpected,
}
