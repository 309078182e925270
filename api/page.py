"""The review-checking web page at `/`: plain HTML, CSS and JavaScript from `api/static/`.

No build step and nothing fetched from elsewhere at run time: the page's Content Security
Policy allows only this origin, so a CDN link would not even load.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.enums import MediaType
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Only this origin: scripts, styles and requests; no inline script, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@get("/", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=False)
def shield_page() -> Response[bytes]:
    """Paste a review, see its spoiler sentences blurred."""
    return Response(
        (STATIC_DIR / "index.html").read_bytes(),
        media_type=MediaType.HTML,
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"},
    )


def page_route_handlers() -> list[ControllerRouterHandler]:
    """The page and its static files (`/static/...`), for `create_app`."""
    static = create_static_files_router(
        path="/static", directories=[STATIC_DIR], include_in_schema=False, name="static"
    )
    return [shield_page, static]
