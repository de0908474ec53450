"""The OpenAI-compatible API, through the official ``openai`` SDK against a served app."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from chatorch.domain.entities import AccessRole
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_openai import fake_openai_server


@asynccontextmanager
async def sdk(settings: Settings, *, key: str = "unused") -> AsyncIterator[AsyncOpenAI]:
    """The SDK, pointed at a served app; it retries nothing, so refusals show at once."""
    async with serve(settings) as http:
        yield AsyncOpenAI(base_url=f"{http.base_url}/v1", api_key=key, max_retries=0)


async def _key(settings: Settings, user: str) -> str:
    async with store_only(settings) as auth:
        key, _ = await auth.create_key(user_name=user, role=AccessRole.USER)
    return remember(key)


async def _history(settings: Settings, chat_id: str) -> list[dict[str, Any]]:
    async with serve(settings) as http:
        response = await http.get(f"/v1/chats/{chat_id}/messages")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


class TestCompletions:
    async def test_an_answer_comes_whole_with_its_usage(self, tmp_path: Path) -> None:
        async with sdk(settings_for(tmp_path)) as client:
            completion = await client.chat.completions.create(
                model="chatorch", messages=[{"role": "user", "content": "what is 12*7?"}]
            )
        assert completion.object == "chat.completion"
        choice = completion.choices[0]
        assert choice.message.role == "assistant"
        assert "84" in (choice.message.content or "")
        assert choice.finish_reason == "stop"
        assert completion.usage is not None
        assert completion.usage.total_tokens == (
            completion.usage.prompt_tokens + completion.usage.completion_tokens
        )
        assert completion.usage.completion_tokens > 0

    async def test_a_streamed_answer_ends_with_its_usage(self, tmp_path: Path) -> None:
        async with sdk(settings_for(tmp_path)) as client:
            stream = await client.chat.completions.create(
                model="chatorch",
                messages=[{"role": "user", "content": "what is 12*7?"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
        assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
        assert len({chunk.id for chunk in chunks}) == 1
        assert chunks[0].choices[0].delta.role == "assistant"
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "84" in text
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert finishes[-1] == "stop"
        assert set(finishes[:-1]) == {None}
        last = chunks[-1]
        assert last.choices == []
        assert last.usage is not None
        assert last.usage.completion_tokens > 0
        assert all(c.usage is None for c in chunks[:-1])

    async def test_a_stream_without_include_usage_has_no_usage_chunk(self, tmp_path: Path) -> None:
        async with sdk(settings_for(tmp_path)) as client:
            stream = await client.chat.completions.create(
                model="chatorch", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            chunks = [chunk async for chunk in stream]
        assert all(chunk.choices for chunk in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"


class TestConversations:
    async def test_a_follow_up_continues_the_chat_it_extends(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path)
        first_question = {"role": "user", "content": "what is 12*7?"}
        async with sdk(settings) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="chatorch", messages=[first_question]
            )
            chat_id = raw.headers["X-Chatorch-Chat-Id"]
            answer = raw.parse().choices[0].message.content or ""
            follow_up = [
                first_question,
                {"role": "assistant", "content": answer},
                {"role": "user", "content": "and 6*7?"},
            ]
            again = await client.chat.completions.with_raw_response.create(
                model="chatorch", messages=follow_up
            )
            assert "42" in (again.parse().choices[0].message.content or "")
            assert again.headers["X-Chatorch-Chat-Id"] == chat_id
            # The same history with a different answer than the stored one is another
            # conversation: a new chat.
            edited = [first_question, {"role": "assistant", "content": "no idea"}, follow_up[2]]
            branch = await client.chat.completions.with_raw_response.create(
                model="chatorch", messages=edited
            )
            assert branch.headers["X-Chatorch-Chat-Id"] != chat_id
        history = await _history(settings, chat_id)
        assert [m["content"] for m in history[::2]] == ["what is 12*7?", "and 6*7?"]
        assert history[1]["content"] == answer

    async def test_history_a_client_brings_is_stored_as_the_new_chats_turns(
        self, tmp_path: Path
    ) -> None:
        settings = settings_for(tmp_path)
        messages = [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Hello Ada."},
            {"role": "user", "content": "what is 2+2?"},
        ]
        async with sdk(settings) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="chatorch", messages=messages
            )
        chat_id = raw.headers["X-Chatorch-Chat-Id"]
        history = await _history(settings, chat_id)
        said = [(m["role"], m["content"]) for m in history[:3]]
        assert said == [
            ("user", "My name is Ada."),
            ("assistant", "Hello Ada."),
            ("user", "what is 2+2?"),
        ]
        assert history[3]["role"] == "assistant"
        assert history[3]["status"] == "complete"
        assert history[2]["metadata"]["instructions"] == "You are terse."
        async with serve(settings) as http:
            chat = (await http.get(f"/v1/chats/{chat_id}")).json()
        assert chat["title"] == "My name is Ada."

    async def test_the_models_list_names_chatorch(self, tmp_path: Path) -> None:
        async with sdk(settings_for(tmp_path)) as client:
            models = [model async for model in client.models.list()]
        assert [(m.id, m.object, m.owned_by) for m in models] == [("chatorch", "model", "chatorch")]
        assert models[0].created > 0


class TestErrors:
    async def test_a_wrong_key_is_an_authentication_error(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, auth_required=True)
        key = await _key(settings, "ada")
        async with serve(settings) as http:
            base = f"{http.base_url}/v1"
            good = AsyncOpenAI(base_url=base, api_key=key, max_retries=0)
            bad = AsyncOpenAI(base_url=base, api_key="chk_wrong", max_retries=0)
            completion = await good.chat.completions.create(
                model="chatorch", messages=[{"role": "user", "content": "hi"}]
            )
            assert completion.choices[0].message.content
            with pytest.raises(openai.AuthenticationError) as refused:
                await bad.chat.completions.create(
                    model="chatorch", messages=[{"role": "user", "content": "hi"}]
                )
            with pytest.raises(openai.AuthenticationError):
                await bad.models.list()
            problem = await http.get("/v1/chats", headers={"Authorization": "Bearer chk_wrong"})
        assert refused.value.status_code == 401
        assert refused.value.code == "invalid_api_key"
        assert refused.value.type == "invalid_request_error"
        # The rest of the API still answers with problems.
        assert problem.headers["content-type"] == "application/problem+json"

    async def test_no_messages_is_a_bad_request(self, tmp_path: Path) -> None:
        async with sdk(settings_for(tmp_path)) as client:
            with pytest.raises(openai.BadRequestError) as empty:
                await client.chat.completions.create(model="chatorch", messages=[])
            with pytest.raises(openai.BadRequestError) as unanswerable:
                await client.chat.completions.create(
                    model="chatorch", messages=[{"role": "assistant", "content": "hi"}]
                )
            with pytest.raises(openai.BadRequestError) as many:
                await client.chat.completions.create(
                    model="chatorch", messages=[{"role": "user", "content": "hi"}], n=2
                )
        assert "messages" in empty.value.message
        assert "user" in unanswerable.value.message
        assert "n=1" in many.value.message

    async def test_an_unknown_model_is_not_found(self, tmp_path: Path) -> None:
        async with sdk(settings_for(tmp_path)) as client:
            with pytest.raises(openai.NotFoundError) as missing:
                await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                )
        assert missing.value.code == "model_not_found"

    async def test_past_the_message_rate_is_a_rate_limit_error(self, tmp_path: Path) -> None:
        async with sdk(settings_for(tmp_path, rate_messages="1/minute")) as client:
            question: Any = [{"role": "user", "content": "hi"}]
            await client.chat.completions.create(model="chatorch", messages=question)
            with pytest.raises(openai.RateLimitError) as limited:
                await client.chat.completions.create(model="chatorch", messages=question)
        assert int(limited.value.response.headers["Retry-After"]) >= 1
        assert limited.value.code == "rate_limit_exceeded"

    async def test_a_refused_question_leaves_no_chat_behind(self, tmp_path: Path) -> None:
        settings = settings_for(tmp_path, rate_messages="1/minute")
        history: Any = [
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "yes"},
            {"role": "user", "content": "now"},
        ]
        async with sdk(settings) as client:
            await client.chat.completions.create(model="chatorch", messages=history[2:])
            with pytest.raises(openai.RateLimitError):
                await client.chat.completions.create(model="chatorch", messages=history)
        async with serve(settings) as http:
            chats = (await http.get("/v1/chats")).json()
        assert len(chats) == 1


async def test_a_raw_error_body_is_openais_shape(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path)) as http:
        response = await http.post(
            "/v1/chat/completions", json={"model": "chatorch", "messages": "nope"}
        )
        missing = await http.post(
            "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert "messages" in error["message"]
    assert missing.status_code == 400
    assert "error" in missing.json()


class TestWhatTheModelSees:
    async def test_the_clients_system_message_and_history_reach_the_model(
        self, tmp_path: Path
    ) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(tmp_path, llm="openai:fake-tokens-3", openai_base_url=fake.url)
            async with sdk(settings) as client:
                completion = await client.chat.completions.create(
                    model="chatorch",
                    messages=[
                        {"role": "system", "content": "Answer in French."},
                        {"role": "user", "content": "My name is Ada."},
                        {"role": "assistant", "content": "Hello Ada."},
                        {"role": "user", "content": "What is my name?"},
                    ],
                )
        assert completion.choices[0].message.content == "tok0 tok1 tok2"
        sent = fake.requests[-1]["messages"]
        assert sent[0]["role"] == "system"
        assert sent[0]["content"].endswith("\n\nAnswer in French.")
        assert [(m["role"], m["content"]) for m in sent[1:]] == [
            ("user", "My name is Ada."),
            ("assistant", "Hello Ada."),
            ("user", "What is my name?"),
        ]


class TestFailedAnswers:
    async def test_a_failed_answer_is_a_server_error_whole_or_streamed(
        self, tmp_path: Path
    ) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(tmp_path, llm="openai:fake-error-401", openai_base_url=fake.url)
            async with sdk(settings) as client:
                question: Any = [{"role": "user", "content": "hi"}]
                with pytest.raises(openai.InternalServerError) as whole:
                    await client.chat.completions.create(model="chatorch", messages=question)
                stream = await client.chat.completions.create(
                    model="chatorch", messages=question, stream=True
                )
                with pytest.raises(openai.APIError) as streamed:
                    _ = [chunk async for chunk in stream]
        assert whole.value.status_code == 503
        assert whole.value.type == "server_error"
        assert streamed.value.type == "server_error"


class TestClientLeaves:
    """OpenAI stops generating when its client goes away; so does chatorch, and stores
    the partial answer as a cancelled one."""

    SLOW = "fake-slow-50-tokens-200"  # 200 tokens, 50 ms apart: 10 s in all

    @staticmethod
    async def _stored_answer(http: httpx.AsyncClient, chat_id: str) -> dict[str, Any]:
        for _ in range(30):
            answer: dict[str, Any] = (await http.get(f"/v1/chats/{chat_id}/messages")).json()[-1]
            if answer["role"] == "assistant" and answer["status"] == "complete":
                return answer
            await asyncio.sleep(0.1)
        raise AssertionError("the answer went on for 3 s after its client left")

    async def test_a_streaming_client_that_leaves_stops_its_answer(self, tmp_path: Path) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(tmp_path, llm=f"openai:{self.SLOW}", openai_base_url=fake.url)
            async with serve(settings) as http:
                client = AsyncOpenAI(base_url=f"{http.base_url}/v1", api_key="-", max_retries=0)
                raw = await client.chat.completions.with_raw_response.create(
                    model="chatorch",
                    messages=[{"role": "user", "content": "Tell me a long story."}],
                    stream=True,
                )
                chat_id = raw.headers["X-Chatorch-Chat-Id"]
                stream = raw.parse()
                seen = ""
                async for chunk in stream:
                    seen += chunk.choices[0].delta.content or ""
                    if "tok2" in seen:
                        break
                await stream.close()
                answer = await self._stored_answer(http, chat_id)
        assert answer["metadata"]["finish_reason"] == "cancelled"
        assert answer["content"].startswith("tok0 tok1 tok2")
        assert "tok199" not in answer["content"]

    async def test_a_whole_answer_whose_client_timed_out_is_stopped(self, tmp_path: Path) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(tmp_path, llm=f"openai:{self.SLOW}", openai_base_url=fake.url)
            async with serve(settings) as http:
                with pytest.raises(httpx.ReadTimeout):
                    await http.post(
                        "/v1/chat/completions",
                        json={"model": "chatorch", "messages": [{"role": "user", "content": "go"}]},
                        timeout=httpx.Timeout(10, read=0.5),
                    )
                chats = (await http.get("/v1/chats")).json()
                answer = await self._stored_answer(http, chats[0]["id"])
        assert answer["metadata"]["finish_reason"] == "cancelled"
        assert "tok199" not in answer["content"]
