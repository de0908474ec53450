"""``/docs`` and ``/redoc`` are served whole by chatorch: no CDN, a policy that runs them."""

import base64
import hashlib
import re

import httpx
import pytest

ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


class TestDocsPages:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_every_asset_is_served_here(self, client: httpx.AsyncClient, page: str) -> None:
        response = await client.get(page)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in response.text
        assert "cdn" not in response.text.lower()
        assets = _references(response.text)
        assert assets  # the UI's script, at least
        for url in assets:
            assert url.startswith("/docs/assets/"), url
            served = await client.get(url)
            assert served.status_code == 200, url
            expected = ASSET_TYPES[url[url.rindex(".") :]]
            assert served.headers["content-type"].startswith(expected), url
            assert len(served.content) > 1000, url  # the bundle, not a stub

    async def test_swagger_ui_runs_its_own_start_and_nothing_else_inline(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/docs")
        policy = response.headers["content-security-policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert "'unsafe-inline'" not in directives["script-src"]
        assert "'unsafe-eval'" not in directives["script-src"]
        (inline,) = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert directives["script-src"] == f"'self' 'sha256-{digest}'"
        assert directives["default-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"

    async def test_the_schema_is_where_the_pages_look(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        assert schema["info"]["title"] == "chatorch"
        assert "/v1/chats/{chat_id}" in schema["paths"]
