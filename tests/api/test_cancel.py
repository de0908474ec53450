"""Cancel: POST /v1/chats/{chat}/responses/{response}/cancel stops an answer, embedded."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from chatorch.domain.entities import AccessRole
from chatorch.wiring import store_only
from tests.api.conftest import Event, ask, new_chat, read_events, serve, settings_for, text_of
from tests.conftest import remember
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server

SLOW = "fake-slow-50-tokens-200"  # 200 tokens, 50 ms apart: 10 s in all


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


@pytest.fixture
async def client(tmp_path: Path, fake: FakeOpenAI) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(tmp_path, llm=f"openai:{SLOW}", openai_base_url=fake.url)
    async with serve(settings) as http:
        yield http


def cancel_url(chat_id: str, response_id: str) -> str:
    return f"/v1/chats/{chat_id}/responses/{response_id}/cancel"


async def cancel_after_tokens(
    client: httpx.AsyncClient, chat_id: str, accepted: dict[str, Any], *, tokens: int
) -> tuple[list[Event], float]:
    """Read the answer's stream; cancel it after ``tokens`` token events; return every
    event and the seconds from the cancel to the stream's end."""
    events: list[Event] = []
    cancelled_at = 0.0
    async with aconnect_sse(client, "GET", accepted["events_url"]) as source:
        async for sse in source.aiter_sse():
            if not sse.data:
                continue
            events.append(Event(sse.id, sse.event, json.loads(sse.data)))
            if not cancelled_at and sum(e.event == "token" for e in events) == tokens:
                response = await client.post(cancel_url(chat_id, accepted["response_id"]))
                assert response.status_code == 202, response.text
                assert response.json()["state"] == "cancelling"
                cancelled_at = time.monotonic()
    return events, time.monotonic() - cancelled_at


class TestCancel:
    async def test_the_answer_stops_and_its_partial_text_is_stored(
        self, client: httpx.AsyncClient, fake: FakeOpenAI
    ) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "Tell me a long story.")
        events, took = await asyncio.wait_for(
            cancel_after_tokens(client, chat_id, accepted, tokens=3), 8
        )
        assert took < 1.0
        assert events[-1].event == "done"
        assert events[-1].data["finish_reason"] == "cancelled"
        shown = text_of(events)
        assert shown.startswith("tok0 tok1 tok2")
        assert "tok199" not in shown
        history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        answer = history[-1]
        assert answer["role"] == "assistant"
        assert answer["status"] == "complete"
        assert answer["content"] == shown  # stored once, as the client saw it
        assert answer["metadata"]["finish_reason"] == "cancelled"
        assert answer["id"] == events[-1].data["message_id"]
        for _ in range(50):  # the model's stream was closed, not read to its end
            if fake.abandoned:
                break
            await asyncio.sleep(0.02)
        assert list(fake.abandoned) == [SLOW]

    async def test_a_stream_opened_after_the_cancel_ends_the_same_way(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "Tell me a long story.")
        await asyncio.wait_for(cancel_after_tokens(client, chat_id, accepted, tokens=1), 8)
        replayed = await read_events(client, accepted["events_url"])
        assert replayed[-1].event == "done"
        assert replayed[-1].data["finish_reason"] == "cancelled"

    async def test_a_waiting_answer_cancelled_is_never_made(
        self, client: httpx.AsyncClient, fake: FakeOpenAI
    ) -> None:
        chat_id = await new_chat(client)
        first = await ask(client, chat_id, "First, a long story.")
        second = await ask(client, chat_id, "Then another.")  # waits for the first
        response = await client.post(cancel_url(chat_id, second["response_id"]))
        assert response.status_code == 202
        assert response.json()["state"] == "cancelling"
        await client.post(cancel_url(chat_id, first["response_id"]))
        events = await read_events(client, second["events_url"], timeout=8)
        assert events[-1].event == "done"
        assert events[-1].data["finish_reason"] == "cancelled"
        assert text_of(events) == ""
        history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert [m["status"] for m in history] == ["complete"] * 4
        assert history[-1]["metadata"]["finish_reason"] == "cancelled"
        assert len(fake.requests) == 1  # only the first answer reached the model

    async def test_cancelling_a_finished_answer_changes_nothing(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        settings = settings_for(tmp_path, llm="openai:fake-tokens-5", openai_base_url=fake.url)
        async with serve(settings) as client:
            chat_id = await new_chat(client)
            accepted = await ask(client, chat_id, "Short, please.")
            await read_events(client, accepted["events_url"])
            response = await client.post(cancel_url(chat_id, accepted["response_id"]))
            assert response.status_code == 202
            assert response.json() == {
                "response_id": accepted["response_id"],
                "state": "finished",
            }
            history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert history[-1]["content"] == "tok0 tok1 tok2 tok3 tok4"
        assert "finish_reason" not in history[-1]["metadata"]

    async def test_an_unknown_response_is_404(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "Hello.")
        other_chat = await new_chat(client)
        missing = await client.post(cancel_url(other_chat, accepted["response_id"]))
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        await client.post(cancel_url(chat_id, accepted["response_id"]))
        assert (await read_events(client, accepted["events_url"], timeout=8))[-1].event == "done"


class TestOwnership:
    async def test_someone_elses_answer_is_404_and_keeps_going(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        settings = settings_for(
            tmp_path, llm=f"openai:{SLOW}", openai_base_url=fake.url, auth_required=True
        )
        async with store_only(settings) as auth:
            alice, _ = await auth.create_key(user_name="alice", role=AccessRole.USER)
            mallory, _ = await auth.create_key(user_name="mallory", role=AccessRole.USER)
        as_alice = {"Authorization": f"Bearer {remember(alice)}"}
        as_mallory = {"Authorization": f"Bearer {remember(mallory)}"}
        async with serve(settings) as client:
            created = await client.post("/v1/chats", json={}, headers=as_alice)
            chat_id = created.json()["id"]
            accepted = await ask(client, chat_id, "A long story.", **as_alice)
            url = cancel_url(chat_id, accepted["response_id"])
            refused = await client.post(url, headers=as_mallory)
            assert refused.status_code == 404
            anonymous = await client.post(url)
            assert anonymous.status_code == 401
            events = await read_events(
                client, accepted["events_url"], headers=as_alice, count=8, timeout=8
            )
            assert [e.event for e in events].count("token") >= 5  # still answering
            await client.post(url, headers=as_alice)
            ended = await read_events(client, accepted["events_url"], headers=as_alice, timeout=8)
            assert ended[-1].data["finish_reason"] == "cancelled"
