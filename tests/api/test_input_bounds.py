"""Text that no column can hold is refused with a 422 before the store, on SQLite and on
PostgreSQL alike (PostgreSQL cannot store NUL, and bounds its columns)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from chatorch.domain.entities import AccessRole
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.services import fresh_database

SECRET = remember("another-test-secret-long-enough-for-hs256")
ISSUER, AUDIENCE = "https://id.example.test/", "chatorch-bounds"


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.services),
    ]
)
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    common: dict[str, Any] = {
        "auth_required": True,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_secret": SECRET,
    }
    if request.param == "sqlite":
        yield settings_for(tmp_path, **common)
        return
    async with fresh_database() as url:
        vectors = f"local:{tmp_path / 'vectors'}"  # not ./data: one process holds a folder
        yield Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=url, vector_url=vectors, **common
        )


@pytest.fixture
async def admin(settings: Settings) -> dict[str, str]:
    async with store_only(settings) as auth:
        key, _ = await auth.create_key(user_name="root", role=AccessRole.ADMIN)
    return {"Authorization": f"Bearer {remember(key)}"}


@pytest.fixture
async def client(settings: Settings, admin: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as http:
        http.headers.update(admin)
        yield http


def _token(subject: str) -> str:
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "exp": now + timedelta(minutes=5)}
    return remember(jwt.encode(claims, SECRET, algorithm="HS256"))


class TestNul:
    async def test_a_title_with_nul_is_refused(self, client: httpx.AsyncClient) -> None:
        refused = await client.post("/v1/chats", json={"title": "a\x00b"})
        assert refused.status_code == 422
        assert "title" in refused.json()["detail"]
        assert (await client.get("/v1/chats")).json() == []

    async def test_content_with_nul_is_refused_and_nothing_is_stored(
        self, client: httpx.AsyncClient
    ) -> None:
        chat = (await client.post("/v1/chats", json={})).json()["id"]
        refused = await client.post(f"/v1/chats/{chat}/messages", json={"content": "hi\x00there"})
        assert refused.status_code == 422
        assert "NUL" in refused.json()["detail"]
        assert (await client.get(f"/v1/chats/{chat}/messages")).json() == []

    @pytest.mark.parametrize("field", ["user", "name"])
    async def test_a_key_field_with_nul_is_refused(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        body = {"user": "ada", field: "ad\x00a"}
        refused = await client.post("/v1/admin/keys", json=body)
        assert refused.status_code == 422
        assert field in refused.json()["detail"]

    @pytest.mark.parametrize("name", ["actor", "action"])
    async def test_an_audit_filter_with_nul_is_refused(
        self, client: httpx.AsyncClient, name: str
    ) -> None:
        refused = await client.get("/v1/admin/audit", params={name: "x\x00"})
        assert refused.status_code == 422

    async def test_a_token_subject_with_nul_is_a_401(self, client: httpx.AsyncClient) -> None:
        bearer = {"Authorization": "Bearer " + _token("sam\x00")}
        assert (await client.get("/v1/chats", headers=bearer)).status_code == 401


class TestLengths:
    async def test_an_overlong_title_is_refused(self, client: httpx.AsyncClient) -> None:
        refused = await client.post("/v1/chats", json={"title": "t" * 201})
        assert refused.status_code == 422

    async def test_an_overlong_token_subject_is_a_401(self, client: httpx.AsyncClient) -> None:
        bearer = {"Authorization": "Bearer " + _token("s" * 300)}
        assert (await client.get("/v1/chats", headers=bearer)).status_code == 401

    async def test_a_blank_key_user_is_refused_by_the_schema_and_spaces_are_trimmed(
        self, client: httpx.AsyncClient
    ) -> None:
        refused = await client.post("/v1/admin/keys", json={"user": "   "})
        assert refused.status_code == 422
        made = await client.post("/v1/admin/keys", json={"user": "  bob  "})
        assert made.status_code == 201
        remember(made.json()["key"])
        keys = (await client.get("/v1/admin/keys")).json()
        assert "bob" in {k["name"] for k in keys}
