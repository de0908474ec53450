"""Cancel across processes: the gateway that takes the cancel is neither the one that
streams the answer nor the worker that makes it (PostgreSQL, NATS, Redis)."""

import asyncio
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.api.conftest import Event, text_of
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import CHATORCH, chatorch, fake_openai
from tests.services import (
    NATS_URL,
    POSTGRES_URL,
    REDIS_URL,
    drop_nats_streams,
    postgres_admin,
    require,
)

SLOW = "openai:fake-slow-50-tokens-200"  # 10 s of tokens


@pytest.fixture
def deployment() -> Iterator[dict[str, str]]:
    """The settings of one deployment: a database and a namespace of its own."""
    require("PostgreSQL", "127.0.0.1", 5432)
    require("NATS", "127.0.0.1", 4222)
    require("Redis", "127.0.0.1", 6379)
    suffix = secrets.token_hex(4)
    database = f"chatorch_cancel_{suffix}"
    asyncio.run(postgres_admin(f"CREATE DATABASE {database}"))
    settings = {
        "database_url": POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}",
        "bus_url": NATS_URL,
        "cache_url": REDIS_URL,
        "namespace": f"cancel-{suffix}",
    }
    env = {"PATH": "/usr/bin:/bin", **{f"CHATORCH_{k.upper()}": v for k, v in settings.items()}}
    try:
        subprocess.run([str(CHATORCH), "migrate"], env=env, check=True, capture_output=True)
        yield settings
    finally:
        asyncio.run(drop_nats_streams(settings["namespace"]))
        asyncio.run(postgres_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))


async def _submit(url: str, content: str) -> tuple[str, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        chat = (await http.post("/v1/chats", json={})).json()
        response = await http.post(f"/v1/chats/{chat['id']}/messages", json={"content": content})
        assert response.status_code == 202, response.text
        return chat["id"], response.json()


async def _cancel(url: str, chat_id: str, response_id: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post(f"/v1/chats/{chat_id}/responses/{response_id}/cancel")
        assert response.status_code == 202, response.text
        state: str = response.json()["state"]
        return state


async def _stream_there_cancel_here(
    streaming: str, cancelling: str
) -> tuple[list[Event], float, list[dict[str, object]]]:
    """Ask on ``cancelling``, stream from ``streaming``; after 3 tokens cancel on
    ``cancelling``. The events, the seconds from the cancel to the end, the history."""
    chat_id, accepted = await _submit(cancelling, "Tell me a long story.")
    events: list[Event] = []
    cancelled_at = 0.0
    async with (
        httpx.AsyncClient(base_url=streaming, timeout=30) as http,
        aconnect_sse(http, "GET", accepted["events_url"]) as source,
    ):
        async for sse in source.aiter_sse():
            if not sse.data:
                continue
            events.append(Event(sse.id, sse.event, json.loads(sse.data)))
            if not cancelled_at and sum(e.event == "token" for e in events) == 3:
                assert await _cancel(cancelling, chat_id, accepted["response_id"]) == "cancelling"
                cancelled_at = time.monotonic()
    took = time.monotonic() - cancelled_at
    return events, took, await read_history(streaming, chat_id)


class TestCancelAcrossProcesses:
    def test_a_cancel_on_one_gateway_stops_the_worker(
        self, tmp_path: Path, deployment: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {**deployment, "llm": SLOW, "openai_base_url": upstream}
            first = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            second = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            events, took, history = asyncio.run(
                asyncio.wait_for(_stream_there_cancel_here(second.url, first.url), 30)
            )
        assert took < 1.0
        assert events[-1].event == "done"
        assert events[-1].data["finish_reason"] == "cancelled"
        answer = history[-1]
        assert answer["status"] == "complete"
        assert answer["content"] == text_of(events)
        assert "tok199" not in text_of(events)
        metadata = answer["metadata"]
        assert isinstance(metadata, dict)
        assert metadata["finish_reason"] == "cancelled"

    def test_a_cancel_before_any_worker_runs_is_kept(
        self, tmp_path: Path, deployment: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {**deployment, "llm": SLOW, "openai_base_url": upstream}
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            chat_id, accepted = asyncio.run(_submit(gateway.url, "Tell me a long story."))
            # No worker hears the announcement: only the mark on the question remains.
            state = asyncio.run(_cancel(gateway.url, chat_id, accepted["response_id"]))
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            events = asyncio.run(
                asyncio.wait_for(read_stream(gateway.url, accepted["events_url"]), 30)
            )
            history = asyncio.run(read_history(gateway.url, chat_id))
        assert state == "cancelling"
        assert events[-1].event == "done"
        assert events[-1].data["finish_reason"] == "cancelled"
        assert text_of(events) == ""
        assert history[-1]["status"] == "complete"
        assert history[-1]["content"] == ""
