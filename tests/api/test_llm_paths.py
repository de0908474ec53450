"""The pipeline with the real OpenAI SDK against the fake OpenAI-compatible server."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ask, new_chat, read_events, serve, settings_for, text_of
from tests.fixtures.fake_anthropic import fake_anthropic_server
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


async def _answer(client: httpx.AsyncClient, content: str) -> tuple[list[Any], list[Any]]:
    chat_id = await new_chat(client)
    accepted = await ask(client, chat_id, content)
    events = await read_events(client, accepted["events_url"])
    history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
    return events, history


def _app(tmp_path: Path, fake: FakeOpenAI, llm: str, **overrides: Any) -> Any:
    return serve(settings_for(tmp_path, llm=llm, openai_base_url=fake.url, **overrides))


class TestOpenAIProvider:
    async def test_streams_a_plain_answer(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        async with _app(tmp_path, fake, "openai:fake-tokens-30") as client:
            events, history = await _answer(client, "Say something.")
        tokens = [e for e in events if e.event == "token"]
        assert text_of(events) == " ".join(f"tok{n}" for n in range(30))
        assert history[-1]["content"] == text_of(events)
        assert history[-1]["metadata"]["provider"] == "openai"
        assert history[-1]["metadata"]["model"] == "fake-tokens-30"
        assert history[-1]["metadata"]["usage"]["completion_tokens"] == 30
        (latency,) = history[-1]["metadata"]["first_chunk_ms"]  # one model call
        assert latency > 0
        think = [e for e in events if e.event == "step" and e.data["stage"] == "think"]
        assert len(think) == 1  # no tool needed: one model call, no extra round trip
        assert len(fake.requests) == 1
        assert len(tokens) >= 1

    async def test_the_model_calls_the_calculator(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        async with _app(tmp_path, fake, "openai:gpt-fake") as client:
            events, history = await _answer(client, "what is 12*7?")
        assert text_of(events) == "The answer is 84."
        steps = [e.data["stage"] for e in events if e.event == "step"]
        assert steps == ["think", "act", "think", "respond"]
        assert [t["function"]["name"] for t in fake.requests[0]["tools"]] == [
            "calculator",
            "current_time",
            "knowledge_search",
        ]
        second = fake.requests[1]["messages"]
        assert second[-1] == {
            "role": "tool",
            "content": "84",
            "tool_call_id": second[-2]["tool_calls"][0]["id"],
        }
        assert history[-1]["metadata"]["tool_calls"][0]["output"] == "84"

    async def test_context_holds_the_earlier_turns(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        async with _app(tmp_path, fake, "openai:fake-tokens-3") as client:
            chat_id = await new_chat(client)
            for content in ("first question", "second question"):
                accepted = await ask(client, chat_id, content)
                await read_events(client, accepted["events_url"])
        sent = fake.requests[-1]["messages"]
        assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
        assert sent[1]["content"] == "first question"
        assert sent[2]["content"] == "tok0 tok1 tok2"
        assert sent[3]["content"] == "second question"


class TestFailures:
    async def test_a_failing_provider_falls_back_to_the_next(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(tmp_path, fake, "openai:fake-error-500,builtin") as client:
            events, history = await _answer(client, "what is 2*21?")
        assert "42" in text_of(events)
        assert events[-1].event == "done"
        metadata = history[-1]["metadata"]
        assert metadata["provider"] == "builtin"
        assert metadata["fallbacks"][0]["provider"] == "openai"
        assert "500" in metadata["fallbacks"][0]["error"]

    async def test_when_every_provider_fails_the_answer_is_stored_failed(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(tmp_path, fake, "openai:fake-error-500") as client:
            events, history = await _answer(client, "hello")
        assert events[-1].event == "error"
        assert "500" in events[-1].data["detail"]
        question, answer = history
        assert question["status"] == "failed"
        assert answer["status"] == "failed"
        assert answer["content"] == ""
        assert answer["id"] == events[-1].data["message_id"]
        assert answer["metadata"]["error"]["code"] == "llm_error"

    async def test_a_stalled_generation_ends_with_an_error(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(tmp_path, fake, "openai:fake-stall", stall_timeout=0.5) as client:
            events, history = await _answer(client, "hello")
        assert [e.event for e in events if e.event == "token"]  # it had started
        assert events[-1].event == "error"
        assert events[-1].data["code"] == "stalled"
        assert history[-1]["status"] == "failed"
        assert history[-1]["content"] == ""

    async def test_a_malformed_stream_fails_cleanly(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        async with _app(tmp_path, fake, "openai:fake-malformed") as client:
            events, history = await _answer(client, "hello")
        assert events[-1].event == "error"
        assert history[-1]["status"] == "failed"


class TestCoalescing:
    async def test_a_long_answer_is_streamed_in_fewer_events_and_kept_whole(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(tmp_path, fake, "openai:fake-slow-2-tokens-100") as client:
            events, history = await _answer(client, "Say a lot.")
        tokens = [e for e in events if e.event == "token"]
        assert 1 < len(tokens) < 100
        assert text_of(events) == history[-1]["content"]
        assert text_of(events).split() == [f"tok{n}" for n in range(100)]


class TestAnthropicProvider:
    async def test_answers_with_the_calculator_through_the_pipeline(self, tmp_path: Path) -> None:
        async with fake_anthropic_server() as anthropic:
            settings = settings_for(
                tmp_path, llm="anthropic:claude-fake", anthropic_base_url=anthropic.url
            )
            async with serve(settings) as client:
                events, history = await _answer(client, "what is 12*7?")
        assert text_of(events) == "The answer is 84."
        assert [e.data["stage"] for e in events if e.event == "step"] == [
            "think",
            "act",
            "think",
            "respond",
        ]
        assert history[-1]["metadata"]["provider"] == "anthropic"
        assert history[-1]["metadata"]["model"] == "claude-fake"
        second = anthropic.requests[1]
        assert second["system"].startswith("You are chatorch")
        assert second["messages"][-1]["content"][0]["type"] == "tool_result"

    async def test_falls_back_from_openai_to_anthropic(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with fake_anthropic_server() as anthropic:
            settings = settings_for(
                tmp_path,
                llm="openai:fake-error-401,anthropic:fake-tokens-3",
                openai_base_url=fake.url,
                anthropic_base_url=anthropic.url,
            )
            async with serve(settings) as client:
                events, history = await _answer(client, "hello")
        assert text_of(events) == "tok0 tok1 tok2"
        assert history[-1]["metadata"]["provider"] == "anthropic"
        assert history[-1]["metadata"]["fallbacks"][0]["provider"] == "openai"
