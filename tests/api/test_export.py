"""Exporting a chat through the HTTP API: the whole chat, as Markdown or JSON, to save."""

import json
from pathlib import Path
from urllib.parse import unquote
from uuid import UUID

import httpx
import pytest

from chatorch.adapters.sql.store import connect
from chatorch.domain.entities import AccessRole, Message, Role, Status
from chatorch.domain.ids import new_id
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import ask, read_events, serve, settings_for
from tests.conftest import remember


async def _answered(client: httpx.AsyncClient, title: str, question: str) -> tuple[str, str]:
    """A chat titled ``title`` with ``question`` asked and answered; its id and the answer."""
    chat_id = (await client.post("/v1/chats", json={"title": title})).json()["id"]
    accepted = await ask(client, chat_id, question)
    events = await read_events(client, accepted["events_url"])
    assert events[-1].event == "done"
    history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
    answer: str = history[-1]["content"]
    return chat_id, answer


async def _cite(settings: Settings, chat_id: str) -> None:
    """Store a turn whose answer cites a file, as a retrieval answer records it."""
    store = await connect(settings.database_url)
    try:
        chat, response = UUID(chat_id), new_id()
        citation = {"file_id": str(new_id()), "name": "guide_[v2].pdf", "chunk": 3, "score": 0.8}
        async with store.transaction() as tx:
            await tx.chats.add_message(
                Message(chat, Role.USER, "what does the guide say?", response, Status.COMPLETE)
            )
            await tx.chats.add_message(
                Message(
                    chat,
                    Role.ASSISTANT,
                    "It says to read it twice.",
                    response,
                    Status.COMPLETE,
                    metadata={"citations": [citation], "model": "builtin"},
                )
            )
    finally:
        await store.close()


class TestMarkdown:
    async def test_the_chat_with_roles_times_tool_calls_and_sources(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path)
        async with serve(settings) as client:
            chat_id, answer = await _answered(client, "Homework", "what is 12*7?")
            await _cite(settings, chat_id)
            response = await client.get(f"/v1/chats/{chat_id}/export")
            history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/markdown; charset=utf-8"
        assert response.headers["content-disposition"].startswith('attachment; filename="homework-')
        text = response.text
        assert text.startswith("# Homework\n")
        stamp = history[0]["created_at"][:19].replace("T", " ")
        assert f"## User · {stamp} UTC\n\nwhat is 12*7?\n" in text
        assert "## Assistant · " in text
        assert answer in text
        assert "**Tool call** `calculator` (ok" in text
        assert '```json\n{\n  "expression": "12*7"\n}\n```' in text
        assert "```text\n84\n```" in text
        assert "**Sources**\n\n1. guide\\_\\[v2\\].pdf, part 4 (score 0.80)" in text
        positions = [text.index(m["content"]) for m in history]
        assert positions == sorted(positions)  # in conversation order

    async def test_a_title_never_escapes_the_file_name(self, client: httpx.AsyncClient) -> None:
        title = 'Ünïcode/../"evil"\\ notes'
        chat_id = (await client.post("/v1/chats", json={"title": title})).json()["id"]
        response = await client.get(f"/v1/chats/{chat_id}/export", params={"format": "md"})
        disposition = response.headers["content-disposition"]
        plain = disposition.split('filename="')[1].split('"')[0]
        day = response.text.split("started ")[1][:10]
        assert plain == f"unicode-evil-notes-{day}.md"
        written = unquote(disposition.split("filename*=UTF-8''")[1])
        assert written == f"Ünïcode .. evil notes {day}.md"


class TestJson:
    async def test_the_chat_and_every_message_with_its_metadata(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id, _ = await _answered(client, "Sums", "what is 6*7?")
        response = await client.get(f"/v1/chats/{chat_id}/export?format=json")
        chat = (await client.get(f"/v1/chats/{chat_id}")).json()
        history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["content-disposition"].startswith('attachment; filename="sums-')
        assert response.headers["content-disposition"].split(";")[1].endswith('.json"')
        exported = json.loads(response.content)
        assert exported["chat"] == chat
        assert exported["messages"] == history
        assert exported["messages"][1]["metadata"]["tool_calls"][0]["name"] == "calculator"
        assert exported["exported_at"] >= history[-1]["created_at"]


class TestRefusals:
    @pytest.mark.parametrize("format_", ["pdf", "MD", ""])
    async def test_another_format_is_a_422_problem(
        self, client: httpx.AsyncClient, format_: str
    ) -> None:
        chat_id = (await client.post("/v1/chats", json={})).json()["id"]
        response = await client.get(f"/v1/chats/{chat_id}/export", params={"format": format_})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "format" in response.json()["detail"]

    async def test_an_unknown_chat_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/v1/chats/{new_id()}/export")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_another_users_chat_is_a_404_as_if_it_did_not_exist(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True)
        async with store_only(settings) as auth:
            ada, _ = await auth.create_key(user_name="ada", role=AccessRole.USER)
            root, _ = await auth.create_key(user_name="root", role=AccessRole.ADMIN)
        as_ada = {"Authorization": f"Bearer {remember(ada)}"}
        as_root = {"Authorization": f"Bearer {remember(root)}"}
        async with serve(settings) as client:
            made = await client.post("/v1/chats", json={"title": "mine"}, headers=as_ada)
            chat_id = made.json()["id"]
            own = await client.get(f"/v1/chats/{chat_id}/export", headers=as_ada)
            for format_ in ("md", "json"):
                other = await client.get(
                    f"/v1/chats/{chat_id}/export?format={format_}", headers=as_root
                )
                assert other.status_code == 404
                assert "mine" not in other.text
        assert own.status_code == 200
