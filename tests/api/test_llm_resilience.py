"""LLMManager through the API: retries, fallback, the circuit breaker, deadlines, the cache."""

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ask, new_chat, read_events, serve, settings_for, text_of
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server

QUICK = {"llm_backoff": 0.01}  # s: retries without waiting in tests


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


def _app(tmp_path: Path, fake: FakeOpenAI, llm: str, **overrides: Any) -> Any:
    return serve(
        settings_for(tmp_path, llm=llm, openai_base_url=fake.url, **{**QUICK, **overrides})
    )


async def _answer(client: Any, content: str = "hello") -> tuple[list[Any], dict[str, Any]]:
    chat_id = await new_chat(client)
    accepted = await ask(client, chat_id, content)
    events = await read_events(client, accepted["events_url"])
    history = (await client.get(f"/v1/chats/{chat_id}/messages")).json()
    return events, history[-1]


class TestRetries:
    async def test_a_failing_provider_is_retried_then_replaced(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(tmp_path, fake, "openai:fake-error-500,builtin", llm_retries=2) as client:
            events, answer = await _answer(client, "hello")
        assert len(fake.requests) == 3  # the first try and two retries
        assert answer["metadata"]["retries"] == 2
        assert answer["metadata"]["provider"] == "builtin"
        assert "No language model is configured" in answer["content"]
        assert "reset" not in [e.event for e in events]  # it failed before any token

    async def test_retry_after_is_honoured(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        async with _app(tmp_path, fake, "openai:fake-error-429,builtin", llm_retries=1) as client:
            started = time.monotonic()
            _, answer = await _answer(client)
            waited = time.monotonic() - started
        assert answer["metadata"]["retries"] == 1
        assert waited >= 0.9  # the fake says Retry-After: 1


class TestFallbackMidAnswer:
    async def test_a_stall_after_tokens_resets_and_the_next_provider_answers(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(
            tmp_path, fake, "openai:fake-stall,builtin", stall_timeout=0.5, llm_retries=0
        ) as client:
            events, answer = await _answer(client)
        kinds = [e.event for e in events]
        assert kinds.index("token") < kinds.index("reset") < len(kinds) - 1
        reset = next(e for e in events if e.event == "reset")
        assert reset.data["reason"] == "fallback"
        assert events[-1].event == "done"
        assert answer["metadata"]["provider"] == "builtin"
        assert answer["content"] == text_of(events)
        assert "tok0" not in answer["content"]

    async def test_the_call_deadline_bounds_a_slow_stream(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        llm = "openai:fake-slow-100-tokens-50,builtin"  # 5 s of tokens
        async with _app(tmp_path, fake, llm, llm_deadline=0.6, llm_retries=0) as client:
            events, answer = await _answer(client)
        assert "reset" in [e.event for e in events]
        assert answer["metadata"]["provider"] == "builtin"
        assert "deadline" in answer["metadata"]["fallbacks"][0]["error"]


class TestCircuitBreaker:
    async def test_an_open_breaker_skips_the_provider_and_shows_in_metrics(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(
            tmp_path, fake, "openai:fake-error-500,builtin", llm_retries=0, breaker_failures=1
        ) as client:
            await _answer(client)
            _, second = await _answer(client)
            metrics = (await client.get("/metrics")).text
        assert len(fake.requests) == 1  # the second answer never called it
        assert "circuit open" in second["metadata"]["fallbacks"][0]["error"]
        assert 'chatorch_llm_breaker_state{provider="openai:fake-error-500"} 1.0' in metrics
        assert (
            'chatorch_llm_calls_total{outcome="error",provider="openai:fake-error-500"}' in metrics
        )


class TestResponseCache:
    async def test_a_deterministic_request_is_answered_once(
        self, tmp_path: Path, fake: FakeOpenAI
    ) -> None:
        async with _app(
            tmp_path, fake, "openai:fake-tokens-5", response_cache_seconds=60, llm_temperature=0
        ) as client:
            _, first = await _answer(client, "same question")
            _, second = await _answer(client, "same question")
            metrics = (await client.get("/metrics")).text
        assert len(fake.requests) == 1
        assert second["content"] == first["content"] == "tok0 tok1 tok2 tok3 tok4"
        assert second["metadata"]["cached"] is True
        assert 'chatorch_llm_cache_total{result="hit"} 1.0' in metrics

    async def test_off_unless_asked_for(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        async with _app(tmp_path, fake, "openai:fake-tokens-5", llm_temperature=0) as client:
            await _answer(client, "same question")
            await _answer(client, "same question")
        assert len(fake.requests) == 2
