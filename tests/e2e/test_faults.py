"""Backing services failing under a running chatorch: what degrades, what refuses, what waits."""

import asyncio
import json
from pathlib import Path

import httpx

from chatorch.api.presence import REGISTER_AFTER
from tests.api.conftest import text_of
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import Chatorch
from tests.fixtures.fake_openai import fake_openai_server
from tests.fixtures.tcp_proxy import tcp_proxy
from tests.services import fresh_database, require


class TestRedisOutage:
    async def test_streams_flow_on_and_readiness_says_degraded(self, tmp_path: Path) -> None:
        require("Redis", "127.0.0.1", 6379)
        async with tcp_proxy("127.0.0.1", 6379) as proxy:
            settings = {
                "cache_url": f"redis://127.0.0.1:{proxy.port}/0",
                "log_level": "info",
                "namespace": "redis-outage",
            }
            server = await asyncio.to_thread(Chatorch, tmp_path, **settings)
            try:
                await proxy.cut()
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                    ready = await http.get("/readyz")
                    chat = (await http.post("/v1/chats", json={})).json()
                    body = {"content": "what is 9*9?"}
                    accepted = (
                        await http.post(f"/v1/chats/{chat['id']}/messages", json=body)
                    ).json()
                    events = await read_stream(server.url, accepted["events_url"])
                    # A stream open long enough to be registered: the registry is down,
                    # which is said once Redis' client gives up (it retries a few times).
                    async with http.stream("GET", f"/v1/chats/{chat['id']}/events") as held:
                        await anext(held.aiter_bytes())
                        await asyncio.sleep(REGISTER_AFTER)
                        for _ in range(150):
                            if '"registry.degraded"' in server.log.read_text():
                                break
                            await asyncio.sleep(0.1)
            finally:
                await asyncio.to_thread(server.stop)
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["registry"]["ok"] is False
        assert ready.json()["checks"]["store"]["ok"] is True
        assert "81" in text_of(events)
        logged = [
            json.loads(line) for line in server.log.read_text().splitlines() if line[:1] == "{"
        ]
        assert any(line["event"] == "registry.degraded" for line in logged)


class TestPostgresOutage:
    async def test_requests_get_503_and_nothing_is_half_written(self, tmp_path: Path) -> None:
        require("PostgreSQL", "127.0.0.1", 5432)
        async with fresh_database() as direct, tcp_proxy("127.0.0.1", 5432) as proxy:
            database_url = direct.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
            server = await asyncio.to_thread(Chatorch, tmp_path, database_url=database_url)
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
                    chat = (await http.post("/v1/chats", json={})).json()
                    url = f"/v1/chats/{chat['id']}/messages"
                    await proxy.cut()
                    refused = await http.post(url, json={"content": "hello"})
                    ready = await http.get("/readyz")
                    await proxy.restore()
                    history = await read_history(server.url, chat["id"])
                    again = await http.post(url, json={"content": "what is 2*2?"})
                events = await read_stream(server.url, again.json()["events_url"])
            finally:
                await asyncio.to_thread(server.stop)
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert "retry-after" in refused.headers
        assert refused.json()["code"] == "store_unavailable"
        assert ready.status_code == 503
        assert history == []  # the refused message left nothing behind
        assert again.status_code == 202
        assert "4" in text_of(events)


class TestPostgresOutageAtTheEnd:
    async def test_a_finished_answer_waits_for_the_store_instead_of_being_made_again(
        self, tmp_path: Path
    ) -> None:
        require("PostgreSQL", "127.0.0.1", 5432)
        model = "fake-slow-100-tokens-20"  # 2 s
        async with (
            fresh_database() as direct,
            tcp_proxy("127.0.0.1", 5432) as proxy,
            fake_openai_server() as fake,
        ):
            database_url = direct.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
            settings = {
                "database_url": database_url,
                "llm": f"openai:{model}",
                "openai_base_url": fake.url,
                "log_level": "info",
            }
            server = await asyncio.to_thread(Chatorch, tmp_path, **settings)
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                    chat = (await http.post("/v1/chats", json={})).json()
                    body = {"content": "tell me a story"}
                    accepted = (
                        await http.post(f"/v1/chats/{chat['id']}/messages", json=body)
                    ).json()
                    events = await read_stream(server.url, accepted["events_url"], count=3)
                    await proxy.cut()
                    await asyncio.sleep(3)  # the answer is finished, the store still down
                    await proxy.restore()
                    events += await read_stream(
                        server.url, accepted["events_url"], after=events[-1].id
                    )
                    history = await read_history(server.url, chat["id"])
            finally:
                await asyncio.to_thread(server.stop)
        assert events[-1].event == "done"
        assert history[-1]["content"] == text_of(events)
        assert [b["model"] for b in fake.requests].count(model) == 1  # made once
        log = server.log.read_text()
        assert log.count('"answer.store_waiting"') == 1
        assert "Traceback" not in log
