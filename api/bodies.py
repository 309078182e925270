"""JSON request bodies decoded strictly, before Litestar's own (lax) conversion.

Litestar converts a body to its type with `strict=False`, which accepts `0`, `1` and
`"true"` for a boolean: values the OpenAPI schema forbids. This hook decodes the raw
body with msgspec in strict mode against the route's body type first, so the server
accepts exactly what its schema documents, and turns every decoding failure (malformed
JSON, invalid UTF-8, a value outside its schema) into a 400 that names the field.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

# msgspec ends a validation message with " - at `$.reviews[1].movie_id`".
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<key>[^`]*)`)?$", re.DOTALL)


async def decode_body_strictly(request: Request[Any, Any, Any]) -> None:
    """Litestar `before_request` hook: refuse a body that is not exactly its route's type."""
    field = request.route_handler.parsed_data_field
    if field is None:
        return
    body = await request.body()  # cached: Litestar's own parsing reads it again for free
    where = f"{request.method} {request.url.path}"
    try:
        msgspec.json.decode(body, type=field.type_, strict=True)
    except msgspec.ValidationError as exc:
        match = _AT_PATH.match(str(exc))
        message, key = (match["message"], match["key"] or "data") if match else (str(exc), "data")
        raise ValidationException(
            detail=f"Validation failed for {where}",
            extra=[{"message": message, "key": key, "source": "body"}],
        ) from exc
    except msgspec.DecodeError as exc:
        raise ValidationException(detail=f"Body of {where} is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationException(
            detail=f"Body of {where} is not valid UTF-8: {exc.reason} at byte {exc.start}"
        ) from exc
