"""The web chat page, served from the package's ``web`` folder."""

import re
from importlib.resources import files
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from chatorch.api.auth_config import provider

WEB = files("chatorch") / "web"

router = APIRouter(include_in_schema=False)
_HOST = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")  # nothing that could end a CSP directive

# The page loads nothing from elsewhere, so it may only talk to this origin — and, with
# single sign-on (CHATORCH_OIDC_*), to the provider's token endpoint, where it trades
# the code the provider sent back for tokens. The sign-in itself is a navigation.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY.format(connect="'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    headers = dict(SECURITY_HEADERS)
    metadata = await provider(request)
    if metadata is not None and (origin := _origin(metadata.token_endpoint)):
        connect = f"'self' {origin}"
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(connect=connect)
    return HTMLResponse(html, headers=headers)


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url``, as a CSP source; None if it is not one."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(host):
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(WEB))
