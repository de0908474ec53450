"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with no CDN.

Their scripts and styles come from the ``fastapi-offline`` package, which ships the
Swagger UI 5 and ReDoc 2 bundles; chatorch serves them under ``/docs/assets``, so the
pages work on a machine with no internet. Each page gets a Content-Security-Policy
that lets in this origin only, and of inline script just Swagger UI's own start-up,
by its hash.
"""

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"
_BUNDLES = files("fastapi_offline") / "static"  # swagger-ui-bundle.js, -ui.css, redoc, favicon
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets on ``app`` (made with ``docs_url=None``
    and ``redoc_url=None``, so FastAPI's CDN pages are off)."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=str(_BUNDLES)), name="docs-assets")


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="chatorch API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        oauth2_redirect_url=None,  # keys and tokens are typed in, never fetched by redirect
    )
    return _secured(page)


@router.get("/redoc", response_class=HTMLResponse)
async def redoc() -> HTMLResponse:
    page = get_redoc_html(
        openapi_url="/openapi.json",
        title="chatorch API",
        redoc_js_url=f"{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS}/favicon.png",
        with_google_fonts=False,
    )
    return _secured(page)


def _secured(page: HTMLResponse) -> HTMLResponse:
    """``page`` with a policy that runs its own inline script, by hash, and nothing else
    inline. Styles may be inline: both UIs set style attributes as they render. ReDoc
    runs its search in a worker made from a ``blob:`` URL."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body))
    )
    policy = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    page.headers["Content-Security-Policy"] = policy
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page
