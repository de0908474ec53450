"""Rate limits and caps: 429 problems with Retry-After, before anything is stored."""

from pathlib import Path
from uuid import uuid4

from httpx_sse import aconnect_sse

from tests.api.conftest import new_chat, serve, settings_for


class TestMessageRate:
    async def test_past_the_rate_a_message_is_refused_and_not_stored(self, tmp_path: Path) -> None:
        async with serve(settings_for(tmp_path, rate_messages="2/minute")) as client:
            chat_id = await new_chat(client)
            url = f"/v1/chats/{chat_id}/messages"
            statuses = [
                (await client.post(url, json={"content": f"m{n}"})).status_code for n in range(2)
            ]
            refused = await client.post(url, json={"content": "one too many"})
            history = (await client.get(url)).json()
        assert statuses == [202, 202]
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "one too many" not in [m["content"] for m in history]

    async def test_only_accepted_messages_count(self, tmp_path: Path) -> None:
        async with serve(settings_for(tmp_path, rate_messages="2/minute")) as client:
            chat_id = await new_chat(client)
            url = f"/v1/chats/{chat_id}/messages"
            missing = f"/v1/chats/{uuid4()}/messages"
            strays = [await client.post(missing, json={"content": "x"}) for _ in range(3)]
            assert [r.status_code for r in strays] == [404] * 3
            key = {"Idempotency-Key": "retry-me"}
            first = await client.post(url, json={"content": "once"}, headers=key)
            # A documented retry of the same request is its first answer, never a 429.
            retries = [
                await client.post(url, json={"content": "once"}, headers=key) for _ in range(3)
            ]
            second = await client.post(url, json={"content": "another"})
            over = await client.post(url, json={"content": "one too many"})
        assert first.status_code == 202
        assert [r.status_code for r in retries] == [202] * 3
        assert {r.json()["message"]["id"] for r in retries} == {first.json()["message"]["id"]}
        assert second.status_code == 202
        assert over.status_code == 429


class TestAuthFailures:
    async def test_repeated_failures_from_one_address_get_429(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True, rate_auth_failures="3/minute")
        async with serve(settings) as client:
            statuses = [
                (await client.get("/v1/chats", headers={"Authorization": "Bearer chk_x"}))
                for _ in range(4)
            ]
        assert [r.status_code for r in statuses] == [401, 401, 401, 429]
        assert "retry-after" in statuses[-1].headers


class TestStreamCap:
    async def test_one_stream_more_than_the_cap_is_refused(self, tmp_path: Path) -> None:
        async with serve(settings_for(tmp_path, max_streams_per_user=1)) as client:
            chat_id = await new_chat(client)
            url = f"/v1/chats/{chat_id}/events"
            async with aconnect_sse(client, "GET", url) as first:
                assert first.response.status_code == 200
                second = await client.get(url)
            assert second.status_code == 429
            assert second.json()["code"] == "rate_limited"
            async with aconnect_sse(client, "GET", url) as again:  # the first one closed
                assert again.response.status_code == 200


class TestHardening:
    async def test_a_body_over_the_limit_is_refused_before_it_is_read(self, tmp_path: Path) -> None:
        async with serve(settings_for(tmp_path, max_body_bytes=2048)) as client:
            chat_id = await new_chat(client)
            response = await client.post(
                f"/v1/chats/{chat_id}/messages", json={"content": "x" * 4000}
            )
            history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert response.status_code == 413
        assert response.json()["code"] == "body_too_large"
        assert history == []

    async def test_cors_answers_only_the_configured_origins(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, cors_origins=["https://app.example"])
        async with serve(settings) as client:
            allowed = await client.options(
                "/v1/chats",
                headers={
                    "Origin": "https://app.example",
                    "Access-Control-Request-Method": "POST",
                },
            )
            other = await client.get("/v1/chats", headers={"Origin": "https://evil.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-origin" not in other.headers

    async def test_cors_allows_every_method_the_api_uses(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, cors_origins=["https://app.example"])
        async with serve(settings) as client:
            for method in ("PUT", "PATCH", "DELETE"):
                preflight = await client.options(
                    "/v1/admin/secrets/x",
                    headers={
                        "Origin": "https://app.example",
                        "Access-Control-Request-Method": method,
                    },
                )
                assert preflight.status_code == 200, method
                assert method in preflight.headers["access-control-allow-methods"]
