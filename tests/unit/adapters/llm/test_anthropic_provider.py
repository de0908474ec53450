"""AnthropicProvider against a fake server speaking the real Messages protocol.

What every provider promises (streaming, tool calls, retryability) is the contract suite's:
tests/contract/test_llm.py. Here: what only this provider does, and its wording.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from chatorch.adapters.llm.anthropic import AnthropicProvider, _MessageAssembler, to_messages
from chatorch.domain.errors import LLMError
from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, Turn, Usage
from chatorch.services.tools import builtin_tools
from tests.fixtures.fake_anthropic import FakeAnthropic, fake_anthropic_server

API_KEY = "sk-ant-test-very-secret-key"
HELLO = LLMRequest(turns=(Turn("system", "Be brief."), Turn("user", "hello there")))
TOOLS = tuple(tool.spec for tool in builtin_tools())
CALLS = (
    ToolCall("toolu_1", "calculator", {"expression": "12*7"}),
    ToolCall("toolu_2", "calculator", {"expression": "1+1"}),
)

Provide = Callable[..., AnthropicProvider]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with fake_anthropic_server() as server:
        yield server


@pytest.fixture
async def provider(fake: FakeAnthropic) -> AsyncIterator[Provide]:
    made: list[AnthropicProvider] = []

    def make(model: str, *, timeout: float = 5, max_tokens: int = 1024) -> AnthropicProvider:
        made.append(
            AnthropicProvider(
                model=model,
                base_url=fake.url,
                api_key=API_KEY,
                timeout=timeout,
                max_tokens=max_tokens,
            )
        )
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def collect(provider: AnthropicProvider, request: LLMRequest) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(request)]


async def failure(provider: AnthropicProvider, request: LLMRequest = HELLO) -> LLMError:
    with pytest.raises(LLMError) as caught:
        await collect(provider, request)
    return caught.value


async def test_names() -> None:
    provider = AnthropicProvider(model="claude-x", base_url=None, api_key=None, timeout=1)
    assert (provider.name, provider.model) == ("anthropic", "claude-x")
    await provider.close()


async def test_streams_text_and_usage(provider: Provide) -> None:
    chunks = await collect(provider("fake-tokens-5"), HELLO)
    # what one network read brought comes as one chunk: the whole text, in order
    assert "".join(chunk.text for chunk in chunks) == "tok0 tok1 tok2 tok3 tok4"
    assert chunks[-1].usage == Usage(prompt_tokens=4, completion_tokens=5)
    assert sum(chunk.usage is not None for chunk in chunks) == 1


async def test_assembles_a_tool_call(provider: Provide, fake: FakeAnthropic) -> None:
    request = LLMRequest(turns=(Turn("user", "what is (3+4)*2?"),), tools=TOOLS)
    chunks = await collect(provider("claude-fake"), request)
    calls = [call for chunk in chunks for call in chunk.tool_calls]
    assert len(calls) == 1
    assert (calls[0].name, calls[0].arguments) == ("calculator", {"expression": "(3+4)*2"})
    assert calls[0].id.startswith("toolu_")
    assert not any(chunk.text for chunk in chunks)
    assert chunks[-1].usage == Usage(prompt_tokens=3, completion_tokens=1)
    assert fake.requests[-1]["tools"][0] == {
        "name": "calculator",
        "description": TOOLS[0].description,
        "input_schema": TOOLS[0].parameters,
    }


async def test_sends_turns_in_anthropic_format(provider: Provide, fake: FakeAnthropic) -> None:
    request = LLMRequest(
        turns=(
            Turn("system", "Be brief."),
            Turn("user", "what is 12*7 and 1+1?"),
            Turn("assistant", "Let me compute.", tool_calls=CALLS),
            Turn("tool", "84", tool_call_id="toolu_1"),
            Turn("tool", "2", tool_call_id="toolu_2"),
        ),
        tools=TOOLS,
        temperature=0.2,
        max_tokens=100,
    )
    chunks = await collect(provider("claude-fake"), request)
    assert "".join(chunk.text for chunk in chunks) == "The answer is 2."
    sent = fake.requests[-1]
    assert sent["system"] == "Be brief."
    assert sent["messages"] == [
        {"role": "user", "content": "what is 12*7 and 1+1?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me compute."},
                *(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                    for call in CALLS
                ),
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "84"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "2"},
            ],
        },
    ]
    assert (sent["stream"], sent["temperature"], sent["max_tokens"]) == (True, 0.2, 100)


async def test_defaults_max_tokens_and_omits_empty_options(
    provider: Provide, fake: FakeAnthropic
) -> None:
    request = LLMRequest(turns=(Turn("user", "hi"),))
    await collect(provider("fake-tokens-1", max_tokens=77), request)
    sent = fake.requests[-1]
    assert sent["max_tokens"] == 77
    assert not {"system", "tools", "temperature"} & sent.keys()


def test_merges_consecutive_turns_of_one_role() -> None:
    system, messages = to_messages(
        (
            Turn("system", "One."),
            Turn("user", "a"),
            Turn("user", "b"),
            Turn("system", "Two."),
            Turn("assistant", ""),
        )
    )
    assert system == "One.\n\nTwo."
    text = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert messages == [{"role": "user", "content": text}]


async def test_malformed_tool_input_is_retryable(provider: Provide) -> None:
    request = LLMRequest(turns=(Turn("user", "what is 12*7?"),), tools=TOOLS)
    error = await failure(provider("fake-malformed-tool"), request)
    assert error.retryable
    assert "malformed tool input for calculator" in error.detail


async def test_overloaded_is_retryable(provider: Provide) -> None:
    error = await failure(provider("fake-overloaded"))
    assert error.retryable
    assert error.retry_after is None
    assert "anthropic fake-overloaded: HTTP 529 from http://127.0.0.1:" in error.detail


async def test_auth_error_is_final_and_hides_the_key(provider: Provide) -> None:
    error = await failure(provider("fake-error-401"))
    assert not error.retryable
    assert "HTTP 401" in error.detail
    assert "invalid x-api-key" in error.detail
    assert API_KEY not in str(error)


async def test_stream_error_event_is_retryable(provider: Provide) -> None:
    stream = provider("fake-stream-error").stream(HELLO)
    assert (await anext(stream)).text == "tok0 tok1 "  # what came before the failure
    with pytest.raises(LLMError, match="overloaded_error in the stream") as caught:
        await anext(stream)
    assert caught.value.retryable


async def test_a_stream_cut_before_message_stop_is_an_error(provider: Provide) -> None:
    stream = provider("fake-truncated").stream(HELLO)
    assert (await anext(stream)).text == "tok0 tok1 "  # what came before the failure
    with pytest.raises(LLMError, match="ended before message_stop") as caught:
        await anext(stream)
    assert caught.value.retryable


async def test_stall_blocks_after_the_first_tokens(provider: Provide) -> None:
    stream = provider("fake-stall").stream(HELLO)
    assert (await anext(stream)).text == "tok0 tok1 tok2 "
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), timeout=0.3)


async def test_fake_refuses_requests_without_a_key_or_version(fake: FakeAnthropic) -> None:
    body = {"model": "fake", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=fake.url) as client:
        anonymous = await client.post("/v1/messages", json=body)
        unversioned = await client.post("/v1/messages", json=body, headers={"x-api-key": "k"})
        versioned = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
        answered = await client.post("/v1/messages", json=body, headers=versioned)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"
    assert unversioned.status_code == 400
    assert answered.json()["content"][0]["text"].startswith("tok0 tok1")


def test_a_tool_call_without_a_name_is_refused_not_crashed_on() -> None:
    """What a half-compatible server might send: tool_use with neither id nor name."""
    message = _MessageAssembler("anthropic m")
    events = [
        {"type": "message_start", "message": None},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta"}},
    ]
    for event in events:
        assert list(message.feed(event)) == []
    with pytest.raises(LLMError, match="malformed tool input for an unnamed tool") as caught:
        list(message.feed({"type": "message_stop"}))
    assert caught.value.retryable
