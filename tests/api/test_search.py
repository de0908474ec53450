"""Search through the HTTP API: the caller's messages by their words, in pages, and their
chats by title."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatorch.domain.entities import AccessRole
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import ask, new_chat, read_events, serve, settings_for
from tests.conftest import remember


async def _chat(client: httpx.AsyncClient, title: str, **headers: str) -> str:
    response = await client.post("/v1/chats", json={"title": title}, headers=headers)
    assert response.status_code == 201, response.text
    chat_id: str = response.json()["id"]
    return chat_id


async def _search(client: httpx.AsyncClient, q: str, **params: Any) -> httpx.Response:
    return await client.get("/v1/search", params={"q": q, **params})


class TestSearch:
    async def test_finds_the_question_and_its_answer(self, client: httpx.AsyncClient) -> None:
        chat_id = await _chat(client, "Sums")
        accepted = await ask(client, chat_id, "what is 12*7? asking for homework")
        done = (await read_events(client, accepted["events_url"]))[-1]
        assert done.event == "done"

        found = await _search(client, "homework")
        assert found.status_code == 200
        (item,) = found.json()["items"]
        assert item == {
            "chat_id": chat_id,
            "message_id": accepted["message"]["id"],
            "chat_title": "Sums",
            "role": "user",
            "snippet": "what is 12*7? asking for **homework**",
            "created_at": accepted["message"]["created_at"],
        }
        assert found.json()["next"] is None
        answers = (await _search(client, "84")).json()["items"]
        assert [(i["message_id"], i["role"]) for i in answers] == [
            (done.data["message_id"], "assistant")
        ]

    async def test_pages_link_the_next_until_the_last(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        sent = [await ask(client, chat_id, f"tram stop number {n}") for n in range(5)]
        for accepted in sent:
            await read_events(client, accepted["events_url"])
        seen: list[str] = []
        page = await _search(client, "tram stop", limit=2)
        while True:
            assert page.status_code == 200, page.text
            body = page.json()
            seen += [item["message_id"] for item in body["items"]]
            if body["next"] is None:
                assert "link" not in page.headers
                break
            assert page.headers["link"] == f'<{body["next"]}>; rel="next"'
            page = await client.get(body["next"])
        assert sorted(seen) == sorted(accepted["message"]["id"] for accepted in sent)

    @pytest.mark.parametrize("q", ['"', "NEAR(", "-x OR *", "a:b", "🚀", "' OR 1=1 --"])
    async def test_any_text_is_a_query(self, client: httpx.AsyncClient, q: str) -> None:
        response = await _search(client, q)
        assert response.status_code == 200
        assert response.json() == {"items": [], "next": None}

    @pytest.mark.parametrize(
        ("params", "says"),
        [
            ({}, "q: Field required"),
            ({"q": ""}, "q: String should have at least 1 character"),
            ({"q": "   "}, "q: must hold a character that is not a space"),
            ({"q": "x" * 501}, "q: String should have at most 500 characters"),
            ({"q": "x", "limit": 0}, "limit"),
            ({"q": "x", "cursor": "o-1"}, "cursor: String should match pattern"),
        ],
    )
    async def test_a_bad_request_is_a_422_problem(
        self, client: httpx.AsyncClient, params: dict[str, Any], says: str
    ) -> None:
        response = await client.get("/v1/search", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert says in response.json()["detail"]


@pytest.fixture
def secured(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, auth_required=True)


@pytest.fixture
async def secured_client(secured: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(secured) as http:
        yield http


async def _bearer(settings: Settings, user: str) -> dict[str, str]:
    async with store_only(settings) as auth:
        key, _ = await auth.create_key(user_name=user, role=AccessRole.USER)
    return {"Authorization": f"Bearer {remember(key)}"}


class TestOwnMessagesOnly:
    async def test_no_one_finds_another_users_messages_or_chats(
        self, secured: Settings, secured_client: httpx.AsyncClient
    ) -> None:
        client = secured_client
        ada, bob = await _bearer(secured, "ada"), await _bearer(secured, "bob")
        adas = await _chat(client, "Ada's secret plans", **ada)
        await client.post(f"/v1/chats/{adas}/messages", json={"content": "my secret"}, headers=ada)
        bobs = await _chat(client, "Bob's secret plans", **bob)
        await client.post(
            f"/v1/chats/{bobs}/messages", json={"content": "bob's secret"}, headers=bob
        )

        found = await client.get("/v1/search", params={"q": "secret"}, headers=ada)
        assert [item["chat_id"] for item in found.json()["items"]] == [adas]
        titled = await client.get("/v1/chats", params={"q": "secret"}, headers=ada)
        assert [chat["id"] for chat in titled.json()] == [adas]


class TestChatsByTitle:
    async def test_q_keeps_the_chats_whose_title_holds_it_in_any_case(
        self, client: httpx.AsyncClient
    ) -> None:
        lisbon = await _chat(client, "Trip to LISBON")
        await _chat(client, "Groceries")
        über = await _chat(client, "Über den Wolken")
        percent = await _chat(client, "100% done_")
        assert [c["id"] for c in (await client.get("/v1/chats?q=lisbon")).json()] == [lisbon]
        assert [c["id"] for c in (await client.get("/v1/chats?q=ÜBER")).json()] == [über]
        # LIKE's wildcards are only characters here
        assert [c["id"] for c in (await client.get("/v1/chats?q=%25 d")).json()] == [percent]
        assert (await client.get("/v1/chats?q=_")).json()[0]["id"] == percent
        assert (await client.get("/v1/chats?q=nowhere")).json() == []
        assert len((await client.get("/v1/chats?q=")).json()) == 4

    async def test_pages_of_a_filtered_list_keep_the_filter(
        self, client: httpx.AsyncClient
    ) -> None:
        trips = [await _chat(client, f"trip {n}") for n in range(3)]
        await _chat(client, "not this one")
        first = await client.get("/v1/chats", params={"q": "Trip", "limit": 2})
        assert [c["id"] for c in first.json()] == [trips[2], trips[1]]
        second = await client.get(first.headers["link"].split(";")[0].strip("<>"))
        assert [c["id"] for c in second.json()] == [trips[0]]

    async def test_a_nul_in_q_is_a_422_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/chats", params={"q": "a\x00b"})
        assert response.status_code == 422
        assert "NUL" in response.json()["detail"]
