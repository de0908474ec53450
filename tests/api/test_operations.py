"""Health, readiness, metrics and the API's own documentation."""

import httpx

from tests.api.conftest import ask, new_chat, read_events


class TestProbes:
    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.json() == {"status": "ok", "checks": {}}

    async def test_readyz_reports_every_backing_service(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        checks = response.json()["checks"]
        assert set(checks) == {"store", "bus", "cache", "registry", "vectors"}
        assert all(check["ok"] for check in checks.values())
        assert checks["store"]["backend"] == "sqlite"
        assert checks["vectors"]["backend"] == "qdrant-local"
        assert checks["vectors"]["critical"] is False

    async def test_every_response_carries_a_request_id(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "trace-me"})
        assert response.headers["x-request-id"] == "trace-me"
        assert (await client.get("/healthz")).headers["x-request-id"]


class TestMetrics:
    async def test_stage_timings_and_outcomes_are_exported(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 12*7?")
        await read_events(client, accepted["events_url"])
        text = (await client.get("/metrics")).text
        for stage in ("think", "act", "respond", "total"):
            assert f'chatorch_stage_seconds_count{{stage="{stage}"}}' in text
        assert 'chatorch_responses_total{status="complete"} 1.0' in text
        assert 'chatorch_tool_calls_total{outcome="ok",tool="calculator"} 1.0' in text
        assert "chatorch_messages_accepted_total 1.0" in text


class TestDocs:
    async def test_openapi_describes_the_public_routes(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        paths = set(schema["paths"])
        assert {
            "/v1/chats",
            "/v1/chats/{chat_id}",
            "/v1/chats/{chat_id}/messages",
            "/v1/chats/{chat_id}/events",
            "/healthz",
            "/readyz",
            "/metrics",
        } <= paths
        assert (await client.get("/docs")).status_code == 200

    async def test_openapi_lists_what_each_message_path_route_reads(
        self, client: httpx.AsyncClient
    ) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]

        def reads(path: str, method: str) -> set[tuple[str, str, bool]]:
            listed = paths[path][method]["parameters"]
            return {(p["in"], p["name"], p["required"]) for p in listed}

        submit = paths["/v1/chats/{chat_id}/messages"]["post"]
        assert reads("/v1/chats/{chat_id}/messages", "post") == {
            ("path", "chat_id", True),
            ("header", "idempotency-key", False),
        }
        body = submit["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"]["required"] == ["content"]
        assert submit["responses"]["202"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Accepted"
        }
        assert reads("/v1/chats/{chat_id}/events", "get") == {
            ("path", "chat_id", True),
            ("query", "response_id", False),
            ("query", "last_event_id", False),
            ("header", "last-event-id", False),
        }
        assert paths["/v1/chats"]["post"]["requestBody"]["required"] is False

    async def test_openapi_says_how_to_authenticate(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        submit = schema["paths"]["/v1/chats/{chat_id}/messages"]["post"]
        assert {"bearer": []} in submit["security"]
        assert "security" not in schema["paths"]["/healthz"]["get"]

    async def test_the_web_page_answers_get_and_head(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert (await client.head("/")).status_code == 200

    async def test_unknown_route_is_a_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/nothing-here")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
