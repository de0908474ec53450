"""Renaming and deleting chats through the HTTP API."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from structlog.testing import capture_logs

from chatorch.domain.entities import AccessRole
from chatorch.domain.ids import new_id
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import ask, new_chat, read_events, serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server


class TestRename:
    async def test_a_chat_is_renamed(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        renamed = await client.patch(f"/v1/chats/{chat_id}", json={"title": "  Trip to Lisbon "})
        assert renamed.status_code == 200
        assert renamed.json()["title"] == "Trip to Lisbon"
        assert renamed.json()["id"] == chat_id
        assert (await client.get(f"/v1/chats/{chat_id}")).json()["title"] == "Trip to Lisbon"
        listed = (await client.get("/v1/chats", params={"q": "lisbon"})).json()
        assert [chat["id"] for chat in listed] == [chat_id]

    async def test_a_renamed_chat_keeps_its_title_when_its_first_message_comes(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        await client.patch(f"/v1/chats/{chat_id}", json={"title": "Mine"})
        await ask(client, chat_id, "what is 2+2?")
        assert (await client.get(f"/v1/chats/{chat_id}")).json()["title"] == "Mine"

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"title": ""},
            {"title": "   "},
            {"title": "x" * 201},
            {"title": "a\x00b"},
            {"title": "ok", "colour": "red"},
            {"title": 7},
        ],
    )
    async def test_a_bad_title_is_a_422_and_changes_nothing(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        chat = (await client.post("/v1/chats", json={"title": "Plans"})).json()
        refused = await client.patch(f"/v1/chats/{chat['id']}", json=body)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert (await client.get(f"/v1/chats/{chat['id']}")).json()["title"] == "Plans"

    async def test_a_body_that_is_not_json_is_a_415(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        plain = await client.patch(
            f"/v1/chats/{chat_id}", content=b"title", headers={"content-type": "text/plain"}
        )
        assert plain.status_code == 415

    async def test_an_unknown_chat_is_a_404(self, client: httpx.AsyncClient) -> None:
        response = await client.patch(f"/v1/chats/{new_id()}", json={"title": "x"})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


class TestDelete:
    async def test_a_deleted_chat_is_gone_everywhere(self, client: httpx.AsyncClient) -> None:
        chat_id, kept = await new_chat(client), await new_chat(client)
        uploaded = await client.post(
            "/v1/files", files={"file": ("notes.txt", b"zebra notes", "text/plain")}
        )
        file_id = uploaded.json()["id"]
        accepted = (
            await client.post(
                f"/v1/chats/{chat_id}/messages",
                json={"content": "what is 12*7? xylophone", "file_ids": [file_id]},
            )
        ).json()
        assert (await read_events(client, accepted["events_url"]))[-1].event == "done"
        assert (await client.get("/v1/search", params={"q": "xylophone"})).json()["items"]

        deleted = await client.delete(f"/v1/chats/{chat_id}")
        assert deleted.status_code == 204
        assert deleted.content == b""
        for path in ("", "/messages", "/events", "/export", "/export?format=json"):
            gone = await client.get(f"/v1/chats/{chat_id}{path}")
            assert gone.status_code == 404, path
        assert (await client.get(accepted["events_url"])).status_code == 404
        posted = await client.post(f"/v1/chats/{chat_id}/messages", json={"content": "hi"})
        assert posted.status_code == 404
        assert (await client.patch(f"/v1/chats/{chat_id}", json={"title": "x"})).status_code == 404
        assert (await client.delete(f"/v1/chats/{chat_id}")).status_code == 404
        assert [c["id"] for c in (await client.get("/v1/chats")).json()] == [kept]
        assert (await client.get("/v1/search", params={"q": "xylophone"})).json()["items"] == []
        file = await client.get(f"/v1/files/{file_id}")  # the file stays its owner's
        assert file.status_code == 200
        assert file.json()["name"] == "notes.txt"

    async def test_deleting_ends_the_chats_open_streams(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        async with aconnect_sse(client, "GET", f"/v1/chats/{chat_id}/events") as source:
            assert source.response.status_code == 200
            assert (await client.delete(f"/v1/chats/{chat_id}")).status_code == 204

            async def drain() -> None:
                async for _ in source.aiter_sse():
                    pass

            await asyncio.wait_for(drain(), 5)  # the stream ended; it did not idle on

    async def test_an_unknown_chat_is_a_404(self, client: httpx.AsyncClient) -> None:
        response = await client.delete(f"/v1/chats/{new_id()}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


class TestAnswerInFlight:
    async def test_an_answer_in_flight_does_not_bring_its_deleted_chat_back(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        settings = settings_for(
            tmp_path, llm="openai:fake-slow-200-tokens-100", openai_base_url=fake.url
        )
        with capture_logs() as logs:
            async with serve(settings) as client:
                chat_id = await new_chat(client)
                accepted = await ask(client, chat_id, "tell me something")
                await _until_a_token(client, accepted["events_url"])  # the answer is under way
                assert (await client.delete(f"/v1/chats/{chat_id}")).status_code == 204
                # The 20 s answer stops at once, and what it said is not stored.
                await _until_logged(logs, "answer.chat_erased", within=3.0)
                assert (await client.get(f"/v1/chats/{chat_id}")).status_code == 404
                assert (await client.get(f"/v1/chats/{chat_id}/messages")).status_code == 404
                assert (await client.get("/v1/chats")).json() == []
                later = await new_chat(client)  # the worker goes on answering
                await _until_a_token(client, (await ask(client, later, "hi"))["events_url"])
                assert (await client.delete(f"/v1/chats/{later}")).status_code == 204
        assert [e for e in logs if e["log_level"] in ("error", "critical")] == []


async def _until_a_token(client: httpx.AsyncClient, url: str) -> None:
    async with aconnect_sse(client, "GET", url) as source:
        async for sse in source.aiter_sse():
            if sse.event == "token":
                return
    raise AssertionError("the answer ended before its first token")


async def _until_logged(logs: list[dict[str, Any]], event: str, *, within: float) -> None:
    for _ in range(int(within / 0.02)):
        if any(entry["event"] == event for entry in logs):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{event} was never logged; got {[e['event'] for e in logs]}")


@pytest.fixture
def secured(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, auth_required=True)


async def _bearer(
    settings: Settings, user: str, role: AccessRole = AccessRole.USER
) -> dict[str, str]:
    async with store_only(settings) as auth:
        key, _ = await auth.create_key(user_name=user, role=role)
    return {"Authorization": f"Bearer {remember(key)}"}


class TestOwnership:
    async def test_another_users_chat_can_be_neither_renamed_nor_deleted(
        self, secured: Settings
    ) -> None:
        ada, bob = await _bearer(secured, "ada"), await _bearer(secured, "bob")
        admin = await _bearer(secured, "root", AccessRole.ADMIN)
        async with serve(secured) as client:
            chat = (await client.post("/v1/chats", json={"title": "Ada's"}, headers=ada)).json()
            path = f"/v1/chats/{chat['id']}"
            assert (await client.patch(path, json={"title": "x"}, headers=bob)).status_code == 404
            assert (await client.delete(path, headers=bob)).status_code == 404
            assert (await client.delete(path, headers=admin)).status_code == 404
            assert (await client.get(path, headers=ada)).json()["title"] == "Ada's"
            assert (await client.delete(path, headers=ada)).status_code == 204
            audit = await client.get(
                "/v1/admin/audit", params={"action": "chat.deleted"}, headers=admin
            )
        [event] = audit.json()
        assert (event["actor"], event["target"]) == ("ada", chat["id"])
        assert event["detail"] == {"messages": 0}
