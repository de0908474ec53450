"""Gateways and workers as separate processes on PostgreSQL, NATS and Redis."""

import asyncio
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatorch.api.presence import REGISTER_AFTER
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


def _env(settings: dict[str, str]) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", **{f"CHATORCH_{k.upper()}": v for k, v in settings.items()}}


@pytest.fixture
def shared() -> Iterator[dict[str, str]]:
    """What every process of one deployment shares: a database and a namespace of its own."""
    require("PostgreSQL", "127.0.0.1", 5432)
    require("NATS", "127.0.0.1", 4222)
    require("Redis", "127.0.0.1", 6379)
    suffix = secrets.token_hex(4)
    database = f"chatorch_e2e_{suffix}"
    asyncio.run(postgres_admin(f"CREATE DATABASE {database}"))
    settings = {
        "database_url": POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}",
        "bus_url": NATS_URL,
        "cache_url": REDIS_URL,
        "namespace": f"e2e-{suffix}",
    }
    try:
        subprocess.run(
            [str(CHATORCH), "migrate"], env=_env(settings), check=True, capture_output=True
        )
        yield settings
    finally:
        asyncio.run(drop_nats_streams(settings["namespace"]))
        asyncio.run(postgres_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))


class TestAcrossProcesses:
    def test_post_on_one_gateway_stream_from_another(
        self, tmp_path: Path, shared: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            first = stack.enter_context(chatorch(tmp_path, role="gateway", **shared))
            second = stack.enter_context(chatorch(tmp_path, role="gateway", **shared))
            stack.enter_context(chatorch(tmp_path, role="worker", **shared))
            events, history = asyncio.run(_ask_here_listen_there(first.url, second.url))
            status = subprocess.run(
                [str(CHATORCH), "status"],
                env=_env(shared),
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout
            watched = asyncio.run(_connections_seen_from(first.url, watch=second.url))
        roles = [line.split()[0] for line in status.splitlines()[1:]]
        assert roles == ["gateway", "gateway", "worker"]
        assert watched["total"] == 1, watched
        assert len(watched["pods"]) == 1  # the stream lives on the second gateway
        assert events[-1].event == "done"
        assert "84" in text_of(events)
        assert [m["role"] for m in history] == ["user", "assistant"]
        assert history[1]["content"] == text_of(events)


async def _connections_seen_from(url: str, *, watch: str) -> Any:
    """Open a chat stream on ``watch`` and read the admin view from ``url`` meanwhile."""
    async with httpx.AsyncClient(base_url=watch) as http:
        chat = (await http.post("/v1/chats", json={})).json()
        async with http.stream("GET", f"/v1/chats/{chat['id']}/events") as stream:
            chunks = stream.aiter_bytes()  # held: a dropped iterator would close the stream
            await anext(chunks)  # the stream is open
            await asyncio.sleep(REGISTER_AFTER + 0.3)  # and now registered
            async with httpx.AsyncClient(base_url=url) as other:
                return (await other.get("/v1/admin/connections")).json()


async def _ask_here_listen_there(here: str, there: str) -> tuple[list[Event], list[Any]]:
    async with httpx.AsyncClient(base_url=here) as http:
        chat = (await http.post("/v1/chats", json={})).json()
        body = {"content": "what is 12*7?"}
        accepted = (await http.post(f"/v1/chats/{chat['id']}/messages", json=body)).json()
    events = await read_stream(there, accepted["events_url"])
    return events, await read_history(there, chat["id"])


class TestPerChatOrder:
    def test_two_workers_answer_one_chat_in_order_with_full_context(
        self, tmp_path: Path, shared: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {**shared, "llm": "openai:fake-slow-20-recall", "openai_base_url": upstream}
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            for _ in range(2):
                stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            history = asyncio.run(_back_to_back(gateway.url, count=4))
        answers = [str(m["content"]).split()[0] for m in history if m["role"] == "assistant"]
        assert answers == ["answer1", "answer2", "answer3", "answer4"]
        assert [m["role"] for m in history] == ["user", "assistant"] * 4


async def _back_to_back(url: str, *, count: int) -> list[Any]:
    """Send ``count`` questions to one chat at once; wait for every answer."""
    async with httpx.AsyncClient(base_url=url) as http:
        chat = (await http.post("/v1/chats", json={})).json()
        sent = [
            (await http.post(f"/v1/chats/{chat['id']}/messages", json={"content": f"q{n}"})).json()
            for n in range(count)
        ]
    for accepted in sent:
        events = await read_stream(url, accepted["events_url"])
        assert events[-1].event == "done", events[-1]
    return await read_history(url, chat["id"])


SLOW = "openai:fake-slow-40-tokens-40"  # 40 tokens, 40 ms apart


def _tokens(events: list[Event]) -> list[str]:
    return text_of(events).split()


class TestFaults:
    def test_a_gateway_killed_mid_stream_is_resumed_on_another(
        self, tmp_path: Path, shared: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {**shared, "llm": SLOW, "openai_base_url": upstream}
            first = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            second = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            accepted = asyncio.run(_ask(first.url, "tell me a story"))
            before = asyncio.run(read_stream(second.url, accepted["events_url"], count=5))
            second.kill()
            after = asyncio.run(read_stream(first.url, accepted["events_url"], after=before[-1].id))
        ids = [e.id for e in before + after]
        assert len(ids) == len(set(ids))  # no event twice
        seqs = [int(i.rsplit(":", 1)[1]) for i in ids]
        assert seqs == list(range(len(seqs)))  # and none missing
        assert _tokens(before + after) == [f"tok{n}" for n in range(40)]
        assert after[-1].event == "done"

    def test_a_worker_killed_mid_answer_is_replaced_and_one_answer_stored(
        self, tmp_path: Path, shared: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            llm = "openai:fake-slow-150-tokens-40"  # 6 s
            settings = {**shared, "llm": llm, "openai_base_url": upstream, "ack_wait": "2"}
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            doomed = stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            accepted = asyncio.run(_ask(gateway.url, "tell me a story"))
            before = asyncio.run(read_stream(gateway.url, accepted["events_url"], count=5))
            # Killed before its replacement starts, however slowly the machine starts it.
            doomed.kill()
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            after = asyncio.run(
                read_stream(gateway.url, accepted["events_url"], after=before[-1].id)
            )
            history = asyncio.run(read_history(gateway.url, accepted["message"]["chat_id"]))
        resets = [e for e in after if e.event == "reset"]
        assert [e.data["attempt"] for e in resets] == [2]
        assert after[-1].event == "done"
        assert _tokens(after) == [f"tok{n}" for n in range(40)]
        assert [(m["role"], m["status"]) for m in history] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert history[1]["content"] == text_of(after)


async def _ask(url: str, content: str) -> Any:
    async with httpx.AsyncClient(base_url=url) as http:
        chat = (await http.post("/v1/chats", json={})).json()
        response = await http.post(f"/v1/chats/{chat['id']}/messages", json={"content": content})
        assert response.status_code == 202
        return response.json()


class TestUnderLoad:
    def test_200_messages_in_20_chats_survive_a_worker_crash(
        self, tmp_path: Path, shared: dict[str, str]
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            llm = "openai:fake-slow-5-tokens-10-recall"
            settings = {
                **shared,
                "llm": llm,
                "openai_base_url": upstream,
                "ack_wait": "2",
                "rate_messages": "1000/minute",  # one user sends all 200
            }
            gateway = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            doomed = stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            chats = asyncio.run(_flood(gateway.url, chats=20, per_chat=10))
            doomed.kill()
            stack.enter_context(chatorch(tmp_path, role="worker", **settings))
            histories = asyncio.run(_all_answered(gateway.url, chats, per_chat=10))
        for history in histories:
            assert [m["role"] for m in history] == ["user", "assistant"] * 10
            assert {m["status"] for m in history} == {"complete"}, [
                m["metadata"] for m in history if m["status"] == "failed"
            ]
            questions = [m["content"] for m in history[::2]]
            assert questions == [f"q{n}" for n in range(10)]
            answers = [str(m["content"]).split()[0] for m in history[1::2]]
            assert answers == [f"answer{n}" for n in range(1, 11)]


async def _flood(url: str, *, chats: int, per_chat: int) -> list[str]:
    """Create ``chats`` chats and send ``per_chat`` questions to each, chats in parallel."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def one_chat() -> str:
            chat_id: str = (await http.post("/v1/chats", json={})).json()["id"]
            for n in range(per_chat):
                body = {"content": f"q{n}"}
                response = await http.post(f"/v1/chats/{chat_id}/messages", json=body)
                assert response.status_code == 202
            return chat_id

        return list(await asyncio.gather(*(one_chat() for _ in range(chats))))


async def _all_answered(url: str, chats: list[str], *, per_chat: int) -> list[list[Any]]:
    """Wait (bounded) until every question has a stored answer; return the histories."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        async with asyncio.timeout(120):
            while True:
                histories = [
                    (await http.get(f"/v1/chats/{chat}/messages")).json() for chat in chats
                ]
                settled = [m for h in histories for m in h if m["status"] != "pending"]
                if len(settled) == 2 * per_chat * len(chats):
                    return histories
                await asyncio.sleep(0.5)


class TestSharedLimits:
    def test_the_message_rate_holds_across_two_gateways(
        self, tmp_path: Path, shared: dict[str, str]
    ) -> None:
        settings = {**shared, "rate_messages": "3/minute"}
        with ExitStack() as stack:
            first = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            second = stack.enter_context(chatorch(tmp_path, role="gateway", **settings))
            statuses = asyncio.run(_alternate_posts([first.url, second.url], count=4))
        assert statuses == [202, 202, 202, 429]


async def _alternate_posts(urls: list[str], *, count: int) -> list[int]:
    """Post ``count`` messages to one chat, alternating gateways; return the statuses."""
    async with httpx.AsyncClient(base_url=urls[0]) as http:
        chat = (await http.post("/v1/chats", json={})).json()
    statuses = []
    for n in range(count):
        async with httpx.AsyncClient(base_url=urls[n % len(urls)]) as http:
            body = {"content": f"q{n}"}
            response = await http.post(f"/v1/chats/{chat['id']}/messages", json=body)
            statuses.append(response.status_code)
    return statuses
