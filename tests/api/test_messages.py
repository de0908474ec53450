"""Submitting messages and reading history; bad input is refused and leaves nothing."""

import asyncio

import httpx
import pytest

from chatorch.domain.ids import new_id
from tests.api.conftest import JSON, ask, new_chat, read_events


async def _history(client: httpx.AsyncClient, chat_id: str) -> list[dict[str, object]]:
    response = await client.get(f"/v1/chats/{chat_id}/messages")
    assert response.status_code == 200
    messages: list[dict[str, object]] = response.json()
    return messages


class TestSubmit:
    async def test_accepted_with_events_url(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "hello")
        message = accepted["message"]
        assert message["role"] == "user"
        assert message["content"] == "hello"
        assert message["status"] == "pending"
        assert message["chat_id"] == chat_id
        assert accepted["response_id"] == message["response_id"]
        assert accepted["events_url"] == (
            f"/v1/chats/{chat_id}/events?response_id={accepted['response_id']}"
        )

    async def test_history_holds_question_and_answer(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        accepted = await ask(client, chat_id, "what is 12*7?")
        events = await read_events(client, accepted["events_url"])
        assert events[-1].event == "done"
        question, answer = await _history(client, chat_id)
        assert question["content"] == "what is 12*7?"
        assert question["status"] == "complete"
        assert answer["role"] == "assistant"
        assert answer["status"] == "complete"
        assert "84" in str(answer["content"])
        assert answer["id"] == events[-1].data["message_id"]
        metadata = answer["metadata"]
        assert isinstance(metadata, dict)
        assert metadata["provider"] == "builtin"
        assert metadata["prompt"] == "system@1"
        assert metadata["tool_calls"][0]["name"] == "calculator"
        assert set(metadata["timings_ms"]) == {"think", "act", "respond", "total"}
        assert metadata["usage"]["total_tokens"] > 0

    async def test_answers_keep_submission_order(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        sent = [await ask(client, chat_id, f"what is {n}+{n}?") for n in range(1, 6)]
        for accepted in sent:
            await read_events(client, accepted["events_url"])
        history = await _history(client, chat_id)
        assert [m["role"] for m in history] == ["user", "assistant"] * 5
        answers = [str(m["content"]) for m in history[1::2]]
        assert [a.split("=")[-1].strip(" .") for a in answers] == ["2", "4", "6", "8", "10"]


class TestIdempotency:
    async def test_a_repeated_post_yields_one_message_and_one_answer(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        first = await ask(client, chat_id, "what is 2*3?", **{"Idempotency-Key": "k-1"})
        again = await client.post(
            f"/v1/chats/{chat_id}/messages",
            json={"content": "what is 2*3?"},
            headers={"Idempotency-Key": "k-1"},
        )
        assert again.status_code == 202
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["message"]["id"] == first["message"]["id"]
        await read_events(client, first["events_url"])
        await asyncio.sleep(0.2)  # a second answer, if one were started, would land now
        history = await _history(client, chat_id)
        assert [m["role"] for m in history] == ["user", "assistant"]

    async def test_concurrent_twins_yield_one_message(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        url = f"/v1/chats/{chat_id}/messages"
        twins = await asyncio.gather(
            *(
                client.post(url, json={"content": "hi"}, headers={"Idempotency-Key": "twin"})
                for _ in range(5)
            )
        )
        assert {r.status_code for r in twins} == {202}
        assert len({r.json()["message"]["id"] for r in twins}) == 1

    async def test_the_same_key_with_another_body_is_a_conflict(
        self, client: httpx.AsyncClient
    ) -> None:
        chat_id = await new_chat(client)
        await ask(client, chat_id, "first", **{"Idempotency-Key": "k-2"})
        clash = await client.post(
            f"/v1/chats/{chat_id}/messages",
            json={"content": "second"},
            headers={"Idempotency-Key": "k-2"},
        )
        assert clash.status_code == 409
        assert clash.json()["code"] == "idempotency_key_reused"
        history = await _history(client, chat_id)
        assert [m["content"] for m in history if m["role"] == "user"] == ["first"]


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "headers", "status", "code", "words"),
        [
            (b'{"content": ""}', JSON, 422, "invalid_input", "empty"),
            (b'{"content": "   \\n"}', JSON, 422, "invalid_input", "empty"),
            (b'{"content": "x"', JSON, 400, "malformed_json", "not valid JSON: Invalid JSON: EOF"),
            (b"{}", JSON, 422, "invalid_input", "content"),
            (b'{"content": 5}', JSON, 422, "invalid_input", "content"),
            (b'{"content": "hi", "extra": 1}', JSON, 422, "invalid_input", "extra"),
            (b"content=hi", {"content-type": "text/plain"}, 415, "unsupported_media_type", "json"),
            (b'{"content": "hi"}', {}, 415, "unsupported_media_type", "json"),
            (b"", JSON, 422, "invalid_input", "body: field required"),
        ],
    )
    async def test_refused_with_a_problem_and_nothing_stored(
        self,
        client: httpx.AsyncClient,
        body: bytes,
        headers: dict[str, str],
        status: int,
        code: str,
        words: str,
    ) -> None:
        chat_id = await new_chat(client)
        response = await client.post(f"/v1/chats/{chat_id}/messages", content=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == code
        assert words.lower() in problem["detail"].lower()
        assert problem["request_id"] == response.headers["x-request-id"]
        assert await _history(client, chat_id) == []

    async def test_malformed_json_on_any_route_says_where_it_broke(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/v1/admin/keys", content=b'{"name": ', headers=JSON)
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert detail.startswith("the request body is not valid JSON: JSON decode error")
        assert "(character 9)" in detail

    async def test_content_over_the_limit_is_413(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        response = await client.post(
            f"/v1/chats/{chat_id}/messages", json={"content": "x" * 32_001}
        )
        assert response.status_code == 413
        assert "32000" in response.json()["detail"]
        assert await _history(client, chat_id) == []
        at_limit = await client.post(
            f"/v1/chats/{chat_id}/messages", json={"content": "x" * 32_000}
        )
        assert at_limit.status_code == 202

    async def test_unknown_chat_is_404_and_malformed_is_422(
        self, client: httpx.AsyncClient
    ) -> None:
        unknown = await client.post(f"/v1/chats/{new_id()}/messages", json={"content": "hi"})
        assert unknown.status_code == 404
        malformed = await client.post("/v1/chats/123/messages", json={"content": "hi"})
        assert malformed.status_code == 422
        assert (await client.get("/v1/chats")).json() == []

    async def test_an_oversized_idempotency_key_is_refused(self, client: httpx.AsyncClient) -> None:
        chat_id = await new_chat(client)
        response = await client.post(
            f"/v1/chats/{chat_id}/messages",
            json={"content": "hi"},
            headers={"Idempotency-Key": "k" * 256},
        )
        assert response.status_code == 422
        assert (
            "idempotency-key: string should have at most 255" in response.json()["detail"].lower()
        )
        assert await _history(client, chat_id) == []
