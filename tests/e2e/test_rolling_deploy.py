"""A rolling deploy under load loses nothing: gateways, then workers, replaced by SIGTERM.

Two gateways and two workers on PostgreSQL, NATS and Redis; virtual users ask questions
and read the answers' streams without pause while one gateway is SIGTERMed and
replaced, and then one worker. A user whose request or stream breaks goes on with
another gateway — its POST again with the same ``Idempotency-Key``, its stream with
``Last-Event-ID`` — as docs/operations.md tells clients to. Every accepted question is
answered once, every stream shows the stored answer with no event missing, and no
request gets a 5xx (a ``503`` with ``Retry-After`` would be sent again, as documented).
"""

import asyncio
import json
import signal
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.api.conftest import Event, text_of
from tests.e2e.processes import Chatorch, chatorch, fake_openai
from tests.e2e.test_distributed import shared  # noqa: F401 - the deployment fixture

USERS = 6
SLOW = "openai:fake-slow-60-tokens-25"  # 25 tokens, 60 ms apart: an answer takes 1.5 s


@dataclass
class _Turn:
    chat_id: str
    question: str
    response_id: str = ""
    events: list[Event] = field(default_factory=list)


@dataclass
class _Load:
    """What the virtual users did, and what went wrong for them."""

    gateways: list[str]
    stopping: threading.Event = field(default_factory=threading.Event)
    turns: list[_Turn] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # 5xx but a draining 503
    resumed: int = 0  # streams that broke and went on from another gateway

    def gateway(self, n: int) -> str:
        live = list(self.gateways)
        return live[n % len(live)]


class TestRollingDeploy:
    @pytest.mark.timeout(240)  # five processes start on a busy machine
    def test_gateways_then_workers_replaced_under_load_lose_nothing(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            upstream = stack.enter_context(fake_openai())
            settings = {
                **shared,
                "llm": SLOW,
                "openai_base_url": upstream,
                "rate_messages": "10000/minute",
            }

            def start(role: str) -> Chatorch:
                return stack.enter_context(chatorch(tmp_path, role=role, **settings))

            old_gateway, other_gateway = start("gateway"), start("gateway")
            old_worker = start("worker")
            start("worker")
            load = _Load(gateways=[old_gateway.url, other_gateway.url])
            users = threading.Thread(target=asyncio.run, args=(_users(load),))
            users.start()
            try:
                time.sleep(2)
                load.gateways.append(start("gateway").url)
                # No preStop pause: its streams are open and its requests in flight.
                load.gateways.remove(old_gateway.url)
                _stop(old_gateway)
                time.sleep(2)
                start("worker")
                _stop(old_worker)
                time.sleep(2)
            finally:
                load.stopping.set()
                users.join(timeout=60)
            assert not users.is_alive(), "the virtual users did not finish"
            histories = asyncio.run(_histories(other_gateway.url, load.turns))
        assert not load.refused, load.refused
        assert load.resumed  # streams were open on the stopped gateway, and went on
        assert len(load.turns) > 3 * USERS  # load went on through both replacements
        for turn in load.turns:
            history = histories[turn.chat_id]
            asked = [m for m in history if m["role"] == "user" and m["content"] == turn.question]
            assert len(asked) == 1, f"{turn.question} stored {len(asked)} times"
            answers = [
                m
                for m in history
                if m["role"] == "assistant" and m["response_id"] == turn.response_id
            ]
            assert [a["status"] for a in answers] == ["complete"], turn.question
            seqs = [int(str(e.id).rsplit(":", 1)[1]) for e in turn.events]
            assert seqs == list(range(len(seqs))), f"{turn.question}: events missing"
            assert turn.events[-1].event == "done"
            assert answers[0]["content"] == text_of(turn.events)


def _stop(old: Chatorch) -> None:
    """SIGTERM, as Kubernetes stops a pod, and wait until it has gone (exit status 0)."""
    old.process.send_signal(signal.SIGTERM)
    assert old.process.wait(timeout=30) == 0, old.log.read_text()


async def _users(load: _Load) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as http:
        await asyncio.gather(*(_user(http, load, n) for n in range(USERS)))


async def _user(http: httpx.AsyncClient, load: _Load, n: int) -> None:
    """One virtual user: a chat of its own, a question at a time, each answer read."""
    created = await _send(http, load, n, "POST", "/v1/chats", json={})
    chat_id = created["id"]
    asked = 0
    while not load.stopping.is_set():
        turn = _Turn(chat_id, f"user {n} question {asked}")
        asked += 1
        load.turns.append(turn)
        accepted = await _send(
            http,
            load,
            n,
            "POST",
            f"/v1/chats/{chat_id}/messages",
            json={"content": turn.question},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        turn.response_id = accepted["response_id"]
        await _read(http, load, n, accepted["events_url"], turn.events)


async def _send(
    http: httpx.AsyncClient, load: _Load, n: int, method: str, path: str, **options: Any
) -> Any:
    """The request on a live gateway; again on another when one refuses or goes away."""
    for attempt in range(20):
        try:
            response = await http.request(method, load.gateway(n + attempt) + path, **options)
        except httpx.TransportError:
            continue
        if response.status_code == 503 and "Retry-After" in response.headers:
            await asyncio.sleep(0.1)
            continue
        if response.status_code >= 500:
            load.refused.append(f"{method} {path}: {response.status_code} {response.text}")
        response.raise_for_status()
        return response.json()
    raise AssertionError(f"{method} {path}: no gateway took it")


async def _read(
    http: httpx.AsyncClient, load: _Load, n: int, path: str, events: list[Event]
) -> None:
    """The answer's stream to its ``done``, resumed on another gateway when it breaks."""
    for attempt in range(20):
        headers = {"Last-Event-ID": str(events[-1].id)} if events else {}
        try:
            async with aconnect_sse(
                http, "GET", load.gateway(n + attempt) + path, headers=headers
            ) as source:
                if source.response.status_code >= 500:
                    if source.response.status_code != 503:
                        load.refused.append(f"GET {path}: {source.response.status_code}")
                    continue
                async for sse in source.aiter_sse():
                    if sse.data:
                        events.append(Event(sse.id, sse.event, json.loads(sse.data)))
                    if sse.event == "done":
                        return
        except httpx.TransportError:
            pass
        load.resumed += 1
    raise AssertionError(f"{path}: the stream never ended")


async def _histories(url: str, turns: list[_Turn]) -> dict[str, list[dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        chats = {turn.chat_id for turn in turns}
        return {
            chat: (await http.get(f"/v1/chats/{chat}/messages")).json() for chat in sorted(chats)
        }
