"""Chats through the HTTP API."""

import httpx

from chatorch.domain.ids import new_id
from tests.api.conftest import new_chat


class TestChats:
    async def test_create_then_read(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/v1/chats", json={"title": "Plans"})
        assert created.status_code == 201
        chat = created.json()
        assert created.headers["location"] == f"/v1/chats/{chat['id']}"
        assert chat["title"] == "Plans"
        fetched = await client.get(f"/v1/chats/{chat['id']}")
        assert fetched.json() == {**chat, "summary": None}  # none until it idles with answers

    async def test_list_is_newest_first_and_pages(self, client: httpx.AsyncClient) -> None:
        ids = [await new_chat(client) for _ in range(3)]
        first = await client.get("/v1/chats", params={"limit": 2})
        assert [c["id"] for c in first.json()] == [ids[2], ids[1]]
        next_page = first.headers["link"].split(";")[0].strip("<>")
        second = await client.get(next_page)
        assert [c["id"] for c in second.json()] == [ids[0]]
        assert "link" not in second.headers

    async def test_the_first_message_titles_an_untitled_chat(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        long = "Plan a trip to Lisbon in May, with a day in Sintra and good food " * 3
        for content in (long, "a later message"):
            response = await client.post(f"/v1/chats/{chat_id}/messages", json={"content": content})
            assert response.status_code == 202
        title = (await client.get(f"/v1/chats/{chat_id}")).json()["title"]
        assert title == "Plan a trip to Lisbon in May, with a day in Sintra and…"
        titled = await client.post("/v1/chats", json={"title": "Mine"})
        chat = titled.json()["id"]
        await client.post(f"/v1/chats/{chat}/messages", json={"content": "hello"})
        assert (await client.get(f"/v1/chats/{chat}")).json()["title"] == "Mine"

    async def test_unknown_chat_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/v1/chats/{new_id()}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 404
        assert "no chat" in problem["detail"]

    async def test_malformed_chat_id_is_a_422_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/chats/not-a-uuid")
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "chat_id" in response.json()["detail"]

    async def test_unknown_fields_are_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/chats", json={"titel": "typo"})
        assert response.status_code == 422
        assert "titel" in response.json()["detail"]
        assert (await client.get("/v1/chats")).json() == []

    async def test_the_body_may_be_left_out_but_must_be_json(
        self, client: httpx.AsyncClient
    ) -> None:
        assert (await client.post("/v1/chats")).status_code == 201
        plain = await client.post(
            "/v1/chats", content=b"title", headers={"content-type": "text/plain"}
        )
        assert plain.status_code == 415
        assert len((await client.get("/v1/chats")).json()) == 1

    async def test_no_body_an_empty_object_or_a_title_each_create_a_chat(
        self, client: httpx.AsyncClient
    ) -> None:
        """A chat needs no field, so leaving the body out is as good as ``{}``."""
        json_type = {"content-type": "application/json"}
        responses = [
            await client.post("/v1/chats"),
            await client.post("/v1/chats", content=b"", headers=json_type),
            await client.post("/v1/chats", json={}),
            await client.post("/v1/chats", json={"title": "Named"}),
        ]
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        assert [r.json()["title"] for r in responses] == ["", "", "", "Named"]

    async def test_a_malformed_body_is_a_400_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/chats", content=b'{"title": "x"', headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "malformed_json"
        assert (await client.get("/v1/chats")).json() == []
