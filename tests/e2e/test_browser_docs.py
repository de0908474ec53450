"""``/docs`` and ``/redoc`` in real Chromium, with every other host out of reach: the
pages render from chatorch's own assets, under their Content-Security-Policy."""

from typing import TYPE_CHECKING

import pytest

from chatorch import __version__

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = pytest.mark.browser


def _offline(page: "Page", server_url: str) -> list[str]:
    """Abort every request that leaves the server (as with no internet); the list of
    their URLs fills as the page tries."""
    elsewhere: list[str] = []

    def route(route: "Route") -> None:
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return elsewhere


def test_swagger_ui_renders_every_operation_offline(page: "Page", server_url: str) -> None:
    elsewhere = _offline(page, server_url)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(f"{server_url}/docs")
    page.locator(".opblock").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(path.replace("\u200b", "") == "/v1/chats/{chat_id}" for path in paths)
    assert elsewhere == []
    assert errors == []  # the policy let its start-up script run, and nothing else was refused


def test_redoc_renders_offline(page: "Page", server_url: str) -> None:
    _offline(page, server_url)  # ReDoc's own logo link is the one thing it would fetch
    page.goto(f"{server_url}/redoc")
    page.get_by_role("heading", name=f"chatorch ({__version__})").wait_for()
    assert page.get_by_text("Rename Chat").count() >= 1  # an operation, by its summary
