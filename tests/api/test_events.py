"""The SSE contract: step, token, done; resume with Last-Event-ID; replay after the fact."""

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from httpx_sse import aconnect_sse

from chatorch.api.app import create_app
from chatorch.api.presence import REGISTER_AFTER
from chatorch.domain.events import EventKind, StreamEvent
from chatorch.domain.ids import new_id
from chatorch.pipeline.answer import ATTEMPT_SEQ_BLOCK
from tests.api.conftest import Event, ask, new_chat, read_events, settings_for, text_of


class TestAnswerStream:
    async def test_steps_tokens_then_done(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 12*7?")
        events = await read_events(client, accepted["events_url"])
        stages = [e.data["stage"] for e in events if e.event == "step"]
        assert stages[:3] == ["think", "act", "think"]
        assert stages[-1] == "respond"
        assert "84" in text_of(events)
        assert events[-1].event == "done"
        rid = accepted["response_id"]
        assert [e.id for e in events] == [f"{rid}:{n}" for n in range(len(events))]
        assert all(e.data["response_id"] == rid for e in events)
        act = next(e for e in events if e.event == "step" and e.data["stage"] == "act")
        (call,) = act.data["detail"]["calls"]
        assert call["name"] == "calculator"
        assert call["output"] == "84"

    async def test_done_comes_after_the_answer_is_stored(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 6*7?")
        events = await read_events(client, accepted["events_url"])
        history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert history[-1]["id"] == events[-1].data["message_id"]
        assert history[-1]["content"] == text_of(events)

    async def test_a_finished_answer_replays_from_its_first_event(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 3*3?")
        first = await read_events(client, accepted["events_url"])
        again = await read_events(client, accepted["events_url"])
        assert again == first


class TestResume:
    async def test_last_event_id_yields_exactly_the_later_events(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "tell me something")
        events = await read_events(client, accepted["events_url"])
        tokens = [e for e in events if e.event == "token"]
        assert len(tokens) >= 2
        middle = tokens[len(tokens) // 2]
        resumed = await read_events(
            client, accepted["events_url"], headers={"Last-Event-ID": middle.id}
        )
        assert resumed == events[events.index(middle) + 1 :]

    async def test_resuming_after_the_last_event_ends_at_once(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 1+1?")
        events = await read_events(client, accepted["events_url"])
        after_done = {"Last-Event-ID": events[-1].id}
        assert (
            await read_events(client, accepted["events_url"], headers=after_done, timeout=5) == []
        )

    async def test_the_query_parameter_works_like_the_header(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 1+1?")
        events = await read_events(client, accepted["events_url"])
        url = f"{accepted['events_url']}&last_event_id={events[1].id}"
        assert await read_events(client, url) == events[2:]

    async def test_a_malformed_last_event_id_is_refused(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        response = await client.get(
            f"/v1/chats/{chat_id}/events", headers={"Last-Event-ID": "nonsense"}
        )
        assert response.status_code == 422
        assert "nonsense" in response.json()["detail"]

    async def test_a_last_event_id_of_another_response_is_refused_at_once(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        first = await ask(client, chat_id, "what is 1+1?")
        events = await read_events(client, first["events_url"])
        second = await ask(client, chat_id, "what is 2+2?")
        refused = await asyncio.wait_for(
            client.get(second["events_url"], headers={"Last-Event-ID": events[0].id}), 5
        )
        assert refused.status_code == 404  # the stream has no such event: EventSource stops
        assert first["response_id"] in refused.json()["detail"]

    async def test_an_empty_last_event_id_is_no_last_event_id(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 1+1?")
        events = await read_events(client, accepted["events_url"])
        again = await read_events(client, accepted["events_url"], headers={"Last-Event-ID": ""})
        assert again == events


class TestChatStream:
    async def test_follows_every_answer_of_the_chat_live(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        events: list[Event] = []

        async def listen() -> None:
            url = f"/v1/chats/{chat_id}/events"
            async with aconnect_sse(client, "GET", url) as source:
                async for sse in source.aiter_sse():
                    if sse.data:
                        events.append(Event(sse.id, sse.event, json.loads(sse.data)))
                    if sum(e.event == "done" for e in events) == 2:
                        return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.2)  # let the stream open before the answers start
        first = await ask(client, chat_id, "what is 1+2?")
        second = await ask(client, chat_id, "what is 2+3?")
        await asyncio.wait_for(listener, 20)
        done = [e.data["response_id"] for e in events if e.event == "done"]
        assert done == [first["response_id"], second["response_id"]]

    async def test_unknown_chat_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/v1/chats/{new_id()}/events")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_an_open_stream_is_counted_and_registered(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        async with aconnect_sse(client, "GET", f"/v1/chats/{chat_id}/events") as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            assert source.response.headers["cache-control"] == "no-cache"
            metrics = (await client.get("/metrics")).text
            assert "chatorch_event_streams_open 1.0" in metrics
            young = (await client.get("/v1/admin/connections")).json()
            await asyncio.sleep(REGISTER_AFTER + 0.2)
            admin = (await client.get("/v1/admin/connections")).json()
            assert young["total"] == 0  # a stream open a moment costs the registry nothing
            assert admin["total"] == 1
            ((_pod, (conn,)),) = admin["pods"].items()
            assert conn["chat_id"] == chat_id
        await asyncio.sleep(0.1)  # the server notices the client left
        assert (await client.get("/v1/admin/connections")).json() == {"total": 0, "pods": {}}


class TestEndOfStream:
    async def test_a_response_stream_makes_few_writes(self, tmp_path: Path) -> None:
        """Each chunk is a socket write: ``retry`` goes with the first event, events that
        are ready together go together, and ``done`` carries the end of the body."""
        app = create_app(settings_for(tmp_path))
        async with app.router.lifespan_context(app):
            chat = json.loads((await _asgi(app, "POST", "/v1/chats", b"{}"))[-1]["body"])
            path = f"/v1/chats/{chat['id']}/messages"
            accepted = json.loads(
                (await _asgi(app, "POST", path, b'{"content": "hi"}'))[-1]["body"]
            )
            path, _, query = accepted["events_url"].partition("?")
            for _ in range(2):  # live, then replayed once answered
                sent = await _asgi(app, "GET", path, query=query.encode())
                bodies = [m for m in sent if m["type"] == "http.response.body"]
                assert b"event: done" in bodies[-1]["body"]
                assert bodies[-1]["more_body"] is False
                assert all(m["more_body"] for m in bodies[:-1])
            assert bodies[0]["body"].startswith(b"retry: 1000\n\nid: ")  # with the first event
            first = bodies[0]["body"].split(b"\n")[2].removeprefix(b"id: ")
            # What has arrived by the time the stream reads goes out as one chunk.
            after_first = ((b"last-event-id", first),)
            sent = await _asgi(app, "GET", path, query=query.encode(), headers=after_first)
            (only,) = [m for m in sent if m["type"] == "http.response.body"]
            assert only["body"].count(b"\nevent: ") >= 3  # the rest of the answer, done included
            assert b"event: done" in only["body"]
            assert only["more_body"] is False


async def _asgi(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    query: bytes = b"",
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> list[dict[str, Any]]:
    """One request straight to the ASGI app; every message it sent back."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays until the response ends
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return sent


class TestLostEvents:
    async def test_a_stream_that_skipped_a_lost_event_gets_the_whole_text_at_done(
        self, tmp_path: Path
    ) -> None:
        """A bus outage lost one event of an attempt for good: the stream goes on past
        the gap, and its ``done`` carries the stored text, so no client keeps a hole."""
        app = create_app(settings_for(tmp_path))
        async with app.router.lifespan_context(app):
            chat = json.loads((await _asgi(app, "POST", "/v1/chats", b"{}"))[-1]["body"])
            path = f"/v1/chats/{chat['id']}/messages"
            accepted = json.loads(
                (await _asgi(app, "POST", path, b'{"content": "what is 12*7?"}'))[-1]["body"]
            )
            events_path, _, query = accepted["events_url"].partition("?")
            first = await _asgi(app, "GET", events_path, query=query.encode())
            last_id = _frames(first)[-1]["id"]
            (_, answer) = json.loads((await _asgi(app, "GET", path))[-1]["body"])
            # A second attempt, as a worker sent it; the log never got its third event.
            chat_id, response_id = UUID(chat["id"]), UUID(accepted["response_id"])
            block = ATTEMPT_SEQ_BLOCK
            for seq, kind, data in [
                (block, EventKind.RESET, {"attempt": 2, "reason": "retry"}),
                (block + 1, EventKind.TOKEN, {"text": "12*7 "}),
                (block + 3, EventKind.TOKEN, {"text": "84."}),
                (block + 4, EventKind.DONE, {"message_id": answer["id"], "usage": {}}),
            ]:
                await app.state.container.bus.publish(
                    StreamEvent(kind, chat_id, response_id, seq, data)
                )
            resumed = await _asgi(
                app,
                "GET",
                events_path,
                query=query.encode(),
                headers=((b"last-event-id", last_id.encode()),),
            )
        frames = _frames(resumed)
        assert [f["event"] for f in frames] == ["reset", "token", "token", "done"]
        assert frames[-1]["data"]["content"] == answer["content"]  # whole, as stored


def _frames(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The SSE events in what an ASGI app sent: id, event and decoded data."""
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    frames = []
    for block in body.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            frames.append({**fields, "data": json.loads(fields["data"])})
    return frames
