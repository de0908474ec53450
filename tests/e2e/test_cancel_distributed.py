"""Cancel across processes: the gateway that takes the cancel is neither the one that
streams the answer nor the worker that makes it (PostgreSQL, NATS, Redis)."""

import asyncio
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from tests.api.conftest import Event, text_of
from tests.e2e.client import read_history, read_stream
from tests.e2e.processes import chatorch, fake_openai
from tests.e2e.test_distributed import shared  # noqa: F401 - the deployment fixture

SLOW = "openai:fake-slow-50-tokens-200"  # 10 s of tokens


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
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {**shared, "llm": SLOW, "openai_base_url": upstream}
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
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {**shared, "llm": SLOW, "openai_base_url": upstream}
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
