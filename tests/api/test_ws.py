"""The chat WebSocket, with a real WebSocket client (``websockets``) over real HTTP."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chatorch.api.protocol import bounded_protocol
from chatorch.domain.entities import AccessRole
from chatorch.wiring import store_only
from tests.api.conftest import new_chat, serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server

Frame = dict[str, Any]


def ws_url(client: httpx.AsyncClient, chat_id: str, query: str = "") -> str:
    return f"ws://{client.base_url.host}:{client.base_url.port}/v1/chats/{chat_id}/ws{query}"


async def receive(ws: ClientConnection, *, until: str = "done", timeout: float = 10) -> list[Frame]:
    """Frames until one whose event is ``until`` (or an event ``error``), inclusive."""
    frames: list[Frame] = []

    async def collect() -> None:
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if frame["event"] in (until, "error"):
                return

    await asyncio.wait_for(collect(), timeout)
    return frames


def text_of(frames: list[Frame]) -> str:
    text = ""
    for frame in frames:
        if frame["event"] == "reset":
            text = ""
        elif frame["event"] == "token":
            text += frame["data"]["text"]
    return text


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings_for(tmp_path)) as http:
        yield http


class TestMessages:
    async def test_a_message_is_accepted_and_its_answer_streams(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        async with connect(ws_url(client, chat_id)) as ws:
            await ws.send(json.dumps({"type": "message", "content": "what is 12*7?"}))
            frames = await receive(ws)
        accepted = next(f for f in frames if f["event"] == "accepted")
        assert accepted["id"] is None
        assert accepted["data"]["type"] == "message"
        assert accepted["data"]["message"]["content"] == "what is 12*7?"
        response_id = accepted["data"]["response_id"]
        events = [f for f in frames if f["event"] != "accepted"]
        assert {f["event"] for f in events} >= {"step", "token", "done"}
        assert all(f["id"].startswith(f"{response_id}:") for f in events)
        seqs = [int(f["id"].rsplit(":", 1)[1]) for f in events]
        assert seqs == sorted(seqs)
        assert "84" in text_of(frames)
        history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert history[-1]["content"] == text_of(frames)
        assert history[-1]["id"] == frames[-1]["data"]["message_id"]

    async def test_an_idempotency_key_replays_the_first_message(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        frame = {"type": "message", "content": "hello", "idempotency_key": "k-1"}
        async with connect(ws_url(client, chat_id)) as ws:
            await ws.send(json.dumps(frame))
            first = await receive(ws)
            await ws.send(json.dumps(frame))
            again = await receive(ws, until="accepted")
        accepted = next(f for f in first if f["event"] == "accepted")
        assert again[-1]["data"]["replayed"] is True
        assert again[-1]["data"]["response_id"] == accepted["data"]["response_id"]
        history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert len(history) == 2

    @pytest.mark.parametrize(
        ("sent", "says"),
        [
            ("{not json", "message, resume or cancel"),
            (json.dumps({"type": "shout", "content": "hi"}), "message, resume or cancel"),
            (json.dumps({"type": "message", "content": "   "}), "content is empty"),
        ],
    )
    async def test_a_bad_frame_is_answered_with_an_error_and_the_socket_stays(
        self, client: httpx.AsyncClient, sent: str, says: str
    ) -> None:
        chat_id = await new_chat(client)
        async with connect(ws_url(client, chat_id)) as ws:
            await ws.send(sent)
            (error,) = await receive(ws, until="error")
            await ws.send(json.dumps({"type": "message", "content": "still there?"}))
            frames = await receive(ws)
        assert error["id"] is None
        assert error["data"]["status"] in (413, 422)
        assert says in error["data"]["detail"]
        assert frames[-1]["event"] == "done"

    async def test_a_binary_frame_is_an_error(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        async with connect(ws_url(client, chat_id)) as ws:
            await ws.send(b"\x00\x01")
            (error,) = await receive(ws, until="error")
        assert "JSON text" in error["data"]["detail"]


class TestResume:
    async def test_resume_replays_after_the_given_event(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        async with connect(ws_url(client, chat_id)) as ws:
            await ws.send(json.dumps({"type": "message", "content": "what is 2+3?"}))
            frames = await receive(ws)
        events = [f for f in frames if f["event"] != "accepted"]
        response_id = events[0]["id"].split(":")[0]
        resume = {"type": "resume", "response_id": response_id, "last_event_id": events[0]["id"]}
        async with connect(ws_url(client, chat_id)) as ws:
            await ws.send(json.dumps(resume))
            replayed = await receive(ws)
        assert replayed[0]["event"] == "accepted"
        assert replayed[0]["data"] == {"type": "resume", "response_id": response_id}
        assert [f["id"] for f in replayed[1:]] == [f["id"] for f in events[1:]]

    async def test_resuming_an_unknown_response_is_an_error(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        resume = {"type": "resume", "response_id": "01a24865-32e4-7371-a3e8-2a14e9b18578"}
        async with connect(ws_url(client, chat_id)) as ws:
            await ws.send(json.dumps(resume))
            (error,) = await receive(ws, until="error")
        assert error["data"]["status"] == 404


class TestCancel:
    async def test_cancel_over_the_socket_ends_the_answer(self, tmp_path: Path) -> None:
        async with fake_openai_server() as fake:
            await self._cancel(tmp_path, fake)

    async def _cancel(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        model = "fake-slow-50-tokens-200"
        settings = settings_for(tmp_path, llm=f"openai:{model}", openai_base_url=fake.url)
        async with serve(settings) as client:
            chat_id = await new_chat(client)
            async with connect(ws_url(client, chat_id)) as ws:
                await ws.send(json.dumps({"type": "message", "content": "A long story."}))
                started = await receive(ws, until="token")
                response_id = started[-1]["id"].split(":")[0]
                await ws.send(json.dumps({"type": "cancel", "response_id": response_id}))
                rest = await receive(ws, timeout=2)
            history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        cancel = next(f for f in rest if f["event"] == "accepted")
        assert cancel["data"] == {
            "type": "cancel",
            "response_id": response_id,
            "state": "cancelling",
        }
        assert rest[-1]["event"] == "done"
        assert rest[-1]["data"]["finish_reason"] == "cancelled"
        assert history[-1]["content"] == text_of(started + rest)
        assert history[-1]["metadata"]["finish_reason"] == "cancelled"


class TestAccess:
    async def test_with_keys_on_a_socket_needs_a_key(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True)
        async with store_only(settings) as auth:
            key, _ = await auth.create_key(user_name="alice", role=AccessRole.USER)
            other, _ = await auth.create_key(user_name="mallory", role=AccessRole.USER)
        key, other = remember(key), remember(other)
        async with serve(settings) as client:
            created = await client.post(
                "/v1/chats", json={}, headers={"Authorization": f"Bearer {key}"}
            )
            chat_id = created.json()["id"]
            with pytest.raises(InvalidStatus) as refused:
                async with connect(ws_url(client, chat_id)):
                    pass
            assert refused.value.response.status_code == 401
            assert json.loads(refused.value.response.body)["code"] == "unauthenticated"
            with pytest.raises(InvalidStatus) as foreign:
                async with connect(ws_url(client, chat_id, f"?access_token={other}")):
                    pass
            assert foreign.value.response.status_code == 404
            async with connect(ws_url(client, chat_id, f"?access_token={key}")) as ws:
                await ws.send(json.dumps({"type": "message", "content": "hi"}))
                assert (await receive(ws))[-1]["event"] == "done"
            headers = {"Authorization": f"Bearer {key}"}
            async with connect(ws_url(client, chat_id), additional_headers=headers) as ws:
                await ws.send(json.dumps({"type": "message", "content": "hi again"}))
                assert (await receive(ws))[-1]["event"] == "done"

    async def test_a_cross_site_upgrade_is_refused(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(client, chat_id), origin="https://evil.example"):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
        own = f"http://{client.base_url.host}:{client.base_url.port}"
        async with connect(ws_url(client, chat_id), origin=own) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "message", "content": "hi"}))
            assert (await receive(ws))[-1]["event"] == "done"


class TestConnection:
    async def test_an_idle_socket_outlives_the_request_body_deadline(self, tmp_path: Path) -> None:
        protocol = bounded_protocol(body_idle_timeout=0.3)
        async with serve(settings_for(tmp_path), protocol=protocol) as client:
            chat_id = await new_chat(client)
            async with connect(ws_url(client, chat_id)) as ws:
                await asyncio.sleep(0.8)
                await ws.send(json.dumps({"type": "message", "content": "still open?"}))
                assert (await receive(ws))[-1]["event"] == "done"

    async def test_a_frame_over_the_body_limit_closes_the_socket(self, tmp_path: Path) -> None:
        async with serve(settings_for(tmp_path, max_body_bytes=2048)) as client:
            chat_id = await new_chat(client)
            async with connect(ws_url(client, chat_id)) as ws:
                await ws.send(json.dumps({"type": "message", "content": "x" * 4000}))
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1009  # message too big
