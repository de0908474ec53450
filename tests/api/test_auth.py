"""Identity and authorisation through the API: keys, JWTs, roles, isolation, audit."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from httpx_sse import aconnect_sse

from chatorch.domain.entities import AccessRole
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import JSON, read_events, serve, settings_for
from tests.conftest import remember

SECRET = remember("a-test-secret-that-is-long-enough-for-hs256")
ISSUER, AUDIENCE = "https://id.example.test/", "chatorch-tests"


@pytest.fixture
def secured(tmp_path: Path) -> Settings:
    return settings_for(
        tmp_path,
        auth_required=True,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_secret=SECRET,
    )


@pytest.fixture
async def client(secured: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(secured) as http:
        yield http


async def _key(settings: Settings, user: str, role: AccessRole = AccessRole.USER, **kw: Any) -> str:
    async with store_only(settings) as auth:
        key, _ = await auth.create_key(user_name=user, role=role, **kw)
    return remember(key)


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _token(**claims: Any) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "sam",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return remember(jwt.encode({**body, **claims}, SECRET, algorithm="HS256"))


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, _bearer("chk_nope")],
    )
    async def test_without_valid_credentials_every_v1_route_is_401(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/chats", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Bearer realm="chatorch"'
        assert response.json()["code"] == "unauthenticated"

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", "/v1/chats", b"{not json"),
            ("PUT", "/v1/admin/secrets/openai_api_key", b"{not json"),
            ("POST", "/v1/admin/keys", b"{not json"),
            ("POST", "/v1/admin/keys", b"[]"),
        ],
    )
    async def test_an_anonymous_body_is_refused_as_anonymous_not_as_a_bad_body(
        self, client: httpx.AsyncClient, method: str, path: str, body: bytes
    ) -> None:
        refused = await client.request(method, path, content=body, headers=JSON)
        assert refused.status_code == 401
        assert refused.json()["code"] == "unauthenticated"

    async def test_an_anonymous_body_is_not_read_before_the_401(
        self, client: httpx.AsyncClient
    ) -> None:
        url = client.base_url
        reader, writer = await asyncio.open_connection(url.host, url.port)
        try:
            writer.write(
                b"PUT /v1/admin/secrets/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"10000\r\n" + b" " * 0x10000 + b"\r\n"
            )  # one chunk of a body that never ends
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 401 ")

    async def test_probes_stay_open(self, client: httpx.AsyncClient) -> None:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200

    async def test_a_key_works_until_it_is_revoked(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        key = await _key(secured, "ada")
        assert (await client.get("/v1/chats", headers=_bearer(key))).status_code == 200
        admin = await _key(secured, "root", AccessRole.ADMIN)
        (listed,) = [
            k
            for k in (await client.get("/v1/admin/keys", headers=_bearer(admin))).json()
            if key.startswith(k["prefix"])
        ]
        revoked = await client.delete(f"/v1/admin/keys/{listed['id']}", headers=_bearer(admin))
        assert revoked.json()["revoked_at"] is not None
        refused = await client.get("/v1/chats", headers=_bearer(key))
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]

    async def test_a_key_revoked_by_another_process_is_refused_within_the_cache_time(
        self, tmp_path: Path
    ) -> None:
        settings = settings_for(tmp_path, auth_required=True, key_cache_seconds=1)
        key = await _key(settings, "ada")
        async with serve(settings) as http:
            assert (await http.get("/v1/chats", headers=_bearer(key))).status_code == 200
            async with store_only(settings) as elsewhere:  # `chatorch keys revoke`
                (listed,) = [k for k, _ in await elsewhere.list_keys()]
                await elsewhere.revoke_key(listed.id)
            believed = await http.get("/v1/chats", headers=_bearer(key))
            await asyncio.sleep(1.1)
            refused = await http.get("/v1/chats", headers=_bearer(key))
        assert believed.status_code == 200  # no store read for a key seen a moment ago
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]

    async def test_a_remembered_key_is_refused_once_it_expires(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True, key_cache_seconds=60)
        key = await _key(settings, "ada", expires_in=timedelta(seconds=1))
        async with serve(settings) as http:
            assert (await http.get("/v1/chats", headers=_bearer(key))).status_code == 200
            await asyncio.sleep(1.1)
            refused = await http.get("/v1/chats", headers=_bearer(key))
        assert refused.status_code == 401
        assert "expired" in refused.json()["detail"]

    async def test_an_expired_key_is_refused(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        key = await _key(secured, "ada", expires_in=timedelta(seconds=-1))
        refused = await client.get("/v1/chats", headers=_bearer(key))
        assert refused.status_code == 401
        assert "expired" in refused.json()["detail"]

    async def test_a_jwt_maps_its_subject_to_a_user(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/v1/chats", json={}, headers=_bearer(_token()))
        assert created.status_code == 201
        again = await client.get("/v1/chats", headers=_bearer(_token()))
        assert [c["id"] for c in again.json()] == [created.json()["id"]]

    @pytest.mark.parametrize(
        ("claims", "words"),
        [
            ({"exp": datetime.now(UTC) - timedelta(minutes=5)}, "expired"),
            ({"aud": "someone-else"}, "audience"),
            ({"iss": "https://evil.example/"}, "issuer"),
        ],
    )
    async def test_a_bad_jwt_is_refused_and_audited(
        self, client: httpx.AsyncClient, secured: Settings, claims: dict[str, Any], words: str
    ) -> None:
        token = _token(**claims)
        refused = await client.get("/v1/chats", headers=_bearer(token))
        assert refused.status_code == 401
        assert words in refused.json()["detail"]
        assert token not in refused.text
        admin = await _key(secured, "root", AccessRole.ADMIN)
        audit = await client.get(
            "/v1/admin/audit", params={"action": "auth."}, headers=_bearer(admin)
        )
        assert any(words in e["detail"]["reason"] for e in audit.json())
        assert all(token not in str(e) for e in audit.json())


class TestIsolation:
    async def test_another_users_chat_is_as_absent_as_none(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        ada, bob = _bearer(await _key(secured, "ada")), _bearer(await _key(secured, "bob"))
        chat = (await client.post("/v1/chats", json={}, headers=ada)).json()
        sent = await client.post(
            f"/v1/chats/{chat['id']}/messages", json={"content": "what is 1+1?"}, headers=ada
        )
        assert sent.status_code == 202
        for path in ("", "/messages", "/events"):
            response = await client.get(f"/v1/chats/{chat['id']}{path}", headers=bob)
            assert response.status_code == 404, path
        posted = await client.post(
            f"/v1/chats/{chat['id']}/messages", json={"content": "hi"}, headers=bob
        )
        assert posted.status_code == 404
        assert (await client.get("/v1/chats", headers=bob)).json() == []
        url = f"{sent.json()['events_url']}&access_token={ada['Authorization'][7:]}"
        events = await read_events(client, url)  # EventSource can only use the query
        assert events[-1].event == "done"

    async def test_a_token_in_the_query_opens_event_streams_only(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        token = (await _key(secured, "ada")).strip()
        chat = await client.post("/v1/chats", json={}, headers=_bearer(token))
        query = {"access_token": token}
        for path in ("/v1/chats", f"/v1/chats/{chat.json()['id']}/messages"):
            refused = await client.get(path, params=query)
            assert refused.status_code == 401, path
        assert (await client.post("/v1/chats", json={}, params=query)).status_code == 401


class TestErasure:
    async def test_an_admin_erases_a_user_and_everything_of_theirs(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        admin = _bearer(await _key(secured, "root", AccessRole.ADMIN))
        ada_key = await _key(secured, "ada")
        ada = _bearer(ada_key)
        chat = (await client.post("/v1/chats", json={}, headers=ada)).json()
        await client.post(f"/v1/chats/{chat['id']}/messages", json={"content": "x"}, headers=ada)
        erased = await client.delete(f"/v1/admin/users/{chat['owner_id']}", headers=admin)
        assert erased.status_code == 204
        assert (await client.get("/v1/chats", headers=ada)).status_code == 401  # key gone
        assert (await client.get(f"/v1/chats/{chat['id']}", headers=admin)).status_code == 404
        again = await client.delete(f"/v1/admin/users/{chat['owner_id']}", headers=admin)
        assert again.status_code == 404
        audit = await client.get(
            "/v1/admin/audit", params={"action": "user.deleted"}, headers=admin
        )
        assert audit.json()[0]["target"] == chat["owner_id"]

    async def test_erasing_a_user_ends_their_open_streams(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        admin = _bearer(await _key(secured, "root", AccessRole.ADMIN))
        ada = _bearer(await _key(secured, "ada"))
        chat = (await client.post("/v1/chats", json={}, headers=ada)).json()
        url = f"/v1/chats/{chat['id']}/events"
        async with aconnect_sse(client, "GET", url, headers=ada) as source:
            assert source.response.status_code == 200
            erased = await client.delete(f"/v1/admin/users/{chat['owner_id']}", headers=admin)
            assert erased.status_code == 204

            async def drain() -> None:
                async for _ in source.aiter_sse():
                    pass

            await asyncio.wait_for(drain(), 5)  # the stream ended; it did not idle on


class TestRoles:
    async def test_an_operator_sees_connections_but_not_keys_or_audit(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        operator = _bearer(await _key(secured, "olga", AccessRole.OPERATOR))
        user = _bearer(await _key(secured, "ursula"))
        assert (await client.get("/v1/admin/connections", headers=operator)).status_code == 200
        assert (await client.get("/v1/admin/connections", headers=user)).status_code == 403
        for path in ("/v1/admin/audit", "/v1/admin/keys"):
            refused = await client.get(path, headers=operator)
            assert refused.status_code == 403
            assert refused.json()["code"] == "forbidden"

    async def test_an_admin_creates_keys_and_the_audit_says_so(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        admin = _bearer(await _key(secured, "root", AccessRole.ADMIN))
        made = await client.post(
            "/v1/admin/keys", json={"user": "new-person", "role": "operator"}, headers=admin
        )
        assert made.status_code == 201
        key = made.json()["key"]
        assert remember(key).startswith("chk_")
        assert (await client.get("/v1/admin/connections", headers=_bearer(key))).status_code == 200
        audit = (
            await client.get("/v1/admin/audit", params={"action": "key.created"}, headers=admin)
        ).json()
        assert audit[0]["actor"] == "root"
        assert audit[0]["detail"]["user"] == "new-person"
        assert key not in str(audit)


class TestSecrets:
    async def test_an_admin_stores_a_secret_that_is_never_shown(self, tmp_path: Path) -> None:
        from chatorch.services.secrets import new_key

        settings = settings_for(tmp_path, auth_required=True, secret_keys=new_key())
        admin = _bearer(await _key(settings, "root", AccessRole.ADMIN))
        async with serve(settings) as client:
            stored = await client.put(
                "/v1/admin/secrets/openai_api_key",
                json={"value": remember("sk-live-123")},
                headers=admin,
            )
            names = await client.get("/v1/admin/secrets", headers=admin)
            audit = await client.get("/v1/admin/audit", params={"action": "secret."}, headers=admin)
        assert stored.status_code == 204
        assert names.json() == ["openai_api_key"]
        assert "sk-live-123" not in names.text + audit.text
        assert audit.json()[0]["target"] == "openai_api_key"
        async with store_only(settings) as auth, auth.store.transaction() as tx:
            raw = await tx.secrets.get_secret("openai_api_key")
        assert raw is not None
        assert "sk-live-123" not in raw

    async def test_without_keys_secrets_are_refused_clearly(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        admin = _bearer(await _key(secured, "root", AccessRole.ADMIN))
        refused = await client.put("/v1/admin/secrets/x", json={"value": "v"}, headers=admin)
        assert refused.status_code == 409
        assert "CHATORCH_SECRET_KEYS" in refused.json()["detail"]


class TestRoleClaims:
    """Identity providers send roles in many shapes: none of them is a 500."""

    @pytest.mark.parametrize(
        ("claim", "role"),
        [
            ("admin", "admin"),
            (["admin"], "admin"),
            (["user", "operator"], "operator"),
            (["offline_access", "operator", "admin", "uma"], "admin"),
            (["offline_access"], "user"),
            ({"admin": True}, "user"),
            (7, "user"),
            (None, "user"),
        ],
    )
    async def test_the_highest_known_role_wins_and_other_shapes_act_as_user(
        self, client: httpx.AsyncClient, claim: Any, role: str
    ) -> None:
        bearer = _bearer(_token(chatorch_role=claim))
        assert (await client.get("/v1/chats", headers=bearer)).status_code == 200
        operator_view = await client.get("/v1/admin/connections", headers=bearer)
        admin_view = await client.get("/v1/admin/keys", headers=bearer)
        seen = {"user": (403, 403), "operator": (200, 403), "admin": (200, 200)}[role]
        assert (operator_view.status_code, admin_view.status_code) == seen

    async def test_a_dotted_claim_reaches_into_keycloaks_realm_access(self, tmp_path: Path) -> None:
        settings = settings_for(
            tmp_path,
            auth_required=True,
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
            jwt_secret=SECRET,
            jwt_role_claim="realm_access.roles",
        )
        token = _token(realm_access={"roles": ["default-roles", "admin"]})
        async with serve(settings) as http:
            assert (await http.get("/v1/admin/keys", headers=_bearer(token))).status_code == 200


class TestSubjects:
    @pytest.mark.parametrize("subject", ["sam\x00root", "s" * 300])
    async def test_a_subject_no_user_name_can_hold_is_refused_plainly(
        self, client: httpx.AsyncClient, subject: str
    ) -> None:
        refused = await client.get("/v1/chats", headers=_bearer(_token(sub=subject)))
        assert refused.status_code == 401
        assert "subject" in refused.json()["detail"]


class TestGuessing:
    async def test_an_address_over_its_failures_is_refused_before_any_lookup(
        self, tmp_path: Path
    ) -> None:
        settings = settings_for(tmp_path, auth_required=True, rate_auth_failures="3/minute")
        good = _bearer(await _key(settings, "ada"))
        async with serve(settings) as http:
            codes = [
                (await http.get("/v1/chats", headers=_bearer(f"chk_guess{n}"))).status_code
                for n in range(4)
            ]
            assert codes == [401, 401, 401, 429]
            # Even a right key waits now: the address is guessing.
            blocked = await http.get("/v1/chats", headers=good)
            assert blocked.status_code == 429
            assert int(blocked.headers["retry-after"]) >= 1

    async def test_repeated_failures_from_one_address_write_one_audit_row(
        self, client: httpx.AsyncClient, secured: Settings
    ) -> None:
        for n in range(6):
            assert (await client.get("/v1/chats", headers=_bearer(f"chk_x{n}"))).status_code == 401
        admin = _bearer(await _key(secured, "root", AccessRole.ADMIN))
        audit = await client.get("/v1/admin/audit", params={"action": "auth.failed"}, headers=admin)
        assert len(audit.json()) == 1
