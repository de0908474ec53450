"""The web chat page, served from the package's ``web`` folder."""

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

WEB = files("chatorch") / "web"

router = APIRouter(include_in_schema=False)

# The page loads nothing from elsewhere, so it may only talk to this origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def page() -> HTMLResponse:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=SECURITY_HEADERS)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(WEB))
