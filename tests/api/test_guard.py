"""Host and Origin checks: no DNS rebinding onto the local admin, no cross-site writes."""

from pathlib import Path

import httpx

from chatorch.domain.entities import AccessRole
from chatorch.wiring import store_only
from tests.api.conftest import serve, settings_for
from tests.conftest import remember

FOREIGN = {"Host": "attacker.example"}


def _port(client: httpx.AsyncClient) -> int:
    port = client.base_url.port
    assert port is not None
    return port


class TestHostsWithoutKeys:
    async def test_a_foreign_host_is_refused_on_every_route_but_the_probes(
        self, client: httpx.AsyncClient
    ) -> None:
        refused = await client.get("/v1/chats", headers=FOREIGN)
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "host_not_allowed"
        assert "CHATORCH_ALLOWED_HOSTS" in refused.json()["detail"]
        minted = await client.post("/v1/admin/keys", json={"user": "eve"}, headers=FOREIGN)
        assert minted.status_code == 400
        assert (await client.get("/healthz", headers=FOREIGN)).status_code == 200
        assert (await client.get("/metrics", headers=FOREIGN)).status_code == 200

    async def test_loopback_names_are_served(self, client: httpx.AsyncClient) -> None:
        port = _port(client)
        for host in (f"localhost:{port}", "127.0.0.2", "[::1]:80", "app.localhost"):
            assert (await client.get("/v1/chats", headers={"Host": host})).status_code == 200, host

    async def test_allowed_hosts_are_served_too(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, allowed_hosts=["chat.example.com", "*.corp.example"])
        async with serve(settings) as client:
            for host in ("chat.example.com", "a.corp.example:8443"):
                response = await client.get("/v1/chats", headers={"Host": host})
                assert response.status_code == 200, host
            assert (await client.get("/v1/chats", headers=FOREIGN)).status_code == 400


class TestHostsWithKeys:
    async def test_any_host_is_served_unless_hosts_are_listed(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True)
        async with store_only(settings) as auth:
            key, _ = await auth.create_key(user_name="ada", role=AccessRole.USER)
        bearer = {"Authorization": f"Bearer {remember(key)}"}
        async with serve(settings) as client:
            response = await client.get("/v1/chats", headers={**bearer, "Host": "api.example"})
            assert response.status_code == 200
        listed = settings_for(tmp_path, auth_required=True, allowed_hosts=["api.example"])
        async with serve(listed) as client:
            ok = await client.get("/v1/chats", headers={**bearer, "Host": "api.example"})
            other = await client.get("/v1/chats", headers={**bearer, **FOREIGN})
        assert ok.status_code == 200
        assert other.status_code == 400


class TestOrigins:
    async def test_a_cross_site_write_is_refused_and_changes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        # What a form on another site submits: an empty body, its own Origin.
        refused = await client.post("/v1/chats", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "cross_site_request"
        assert (await client.get("/v1/chats")).json() == []
        opaque = await client.post("/v1/chats", json={}, headers={"Origin": "null"})
        assert opaque.status_code == 403

    async def test_origins_and_hosts_that_name_no_port_are_refused_not_crashed(
        self, client: httpx.AsyncClient
    ) -> None:
        for origin in ("http://localhost:99999", "http://a:b", "http://[::1"):
            refused = await client.post("/v1/chats", json={}, headers={"Origin": origin})
            assert refused.status_code == 403, origin
        odd_host = {"Host": "localhost:abc", "Origin": "http://localhost"}
        assert (await client.post("/v1/chats", json={}, headers=odd_host)).status_code in (
            400,
            403,
        )

    async def test_the_servers_own_origin_writes_and_any_origin_reads(
        self, client: httpx.AsyncClient
    ) -> None:
        own = {"Origin": f"http://127.0.0.1:{_port(client)}"}
        assert (await client.post("/v1/chats", json={}, headers=own)).status_code == 201
        elsewhere = {"Origin": "https://evil.example"}
        assert (await client.get("/v1/chats", headers=elsewhere)).status_code == 200

    async def test_a_cors_origin_may_write(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, cors_origins=["https://app.example"])
        async with serve(settings) as client:
            made = await client.post(
                "/v1/chats", json={}, headers={"Origin": "https://app.example"}
            )
        assert made.status_code == 201


class TestProxies:
    async def _audited_address(self, tmp_path: Path, **settings: object) -> str:
        configured = settings_for(tmp_path, auth_required=True, **settings)
        async with store_only(configured) as auth:
            key, _ = await auth.create_key(user_name="root", role=AccessRole.ADMIN)
        admin = {"Authorization": f"Bearer {remember(key)}"}
        async with serve(configured) as client:
            forged = {"Authorization": "Bearer chk_wrong", "X-Forwarded-For": "203.0.113.9"}
            assert (await client.get("/v1/chats", headers=forged)).status_code == 401
            audit = await client.get(
                "/v1/admin/audit", params={"action": "auth.failed"}, headers=admin
            )
        (event,) = audit.json()
        address: str = event["ip"]
        return address

    async def test_forwarded_for_is_ignored_from_an_untrusted_peer(self, tmp_path: Path) -> None:
        assert await self._audited_address(tmp_path) == "127.0.0.1"

    async def test_forwarded_for_is_believed_from_a_trusted_proxy(self, tmp_path: Path) -> None:
        address = await self._audited_address(tmp_path, trusted_proxies=["127.0.0.0/8"])
        assert address == "203.0.113.9"
