"""Admin routes (e.g. `/model/reload`) need `Authorization: Bearer <SPOILER_ADMIN_TOKEN>`.

No token configured: the routes are disabled (403), so a deployment that forgot the
secret is closed, not open. A missing or wrong token: 401. The comparison runs in
constant time, so response timing does not reveal how much of a guess was right.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import SecurityScheme

from api.schemas import ErrorBody

ADMIN_TOKEN_STATE = "admin_token"
SECURITY_SCHEME_NAME = "AdminToken"
ADMIN_SECURITY_SCHEME = SecurityScheme(
    type="http",
    scheme="bearer",
    description="The value of SPOILER_ADMIN_TOKEN on the server; admin routes are disabled without it.",
)
ADMIN_SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME_NAME: []}]
ADMIN_RESPONSES = {
    401: ResponseSpec(ErrorBody, description="Missing or wrong `Authorization: Bearer <token>`."),
    403: ResponseSpec(
        ErrorBody, description="Admin routes are disabled: the server has no SPOILER_ADMIN_TOKEN."
    ),
}


def require_admin_token(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Litestar guard: let the request through only with the configured bearer token."""
    expected: str | None = connection.app.state.get(ADMIN_TOKEN_STATE)
    if not expected:
        raise PermissionDeniedException("admin routes are disabled: set SPOILER_ADMIN_TOKEN on the server")
    scheme, _, presented = connection.headers.get("authorization", "").partition(" ")
    # Compared as bytes: compare_digest refuses non-ASCII str, and a header may hold any.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode("utf-8", "surrogateescape"), expected.encode("utf-8")
    ):
        raise NotAuthorizedException(
            "admin token missing or wrong: send Authorization: Bearer <SPOILER_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="spoiler-shield admin"'},
        )
