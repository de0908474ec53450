"""OpenAIProvider against a fake server speaking the real chat-completions protocol.

What every provider promises (streaming, tool calls, retryability) is the contract suite's:
tests/contract/test_llm.py. Here: what only this provider does, and its wording.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from chatorch.adapters.llm.openai import OpenAIProvider
from chatorch.domain.errors import LLMError
from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, ToolSpec, Turn, Usage
from chatorch.services.tools import builtin_tools
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server

API_KEY = "sk-test-very-secret-key"
HELLO = LLMRequest(turns=(Turn("system", "Be brief."), Turn("user", "hello there")))
TOOLS = tuple(tool.spec for tool in builtin_tools())

Provide = Callable[[str], OpenAIProvider]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


@pytest.fixture
async def provider(fake: FakeOpenAI) -> AsyncIterator[Provide]:
    made: list[OpenAIProvider] = []

    def make(model: str) -> OpenAIProvider:
        made.append(OpenAIProvider(model=model, base_url=fake.url, api_key=API_KEY, timeout=5))
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def collect(provider: OpenAIProvider, request: LLMRequest) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(request)]


async def failure(provider: OpenAIProvider, request: LLMRequest = HELLO) -> LLMError:
    with pytest.raises(LLMError) as caught:
        await collect(provider, request)
    return caught.value


async def test_names() -> None:
    provider = OpenAIProvider(model="gpt-4o-mini", base_url=None, api_key=None, timeout=1)
    assert (provider.name, provider.model) == ("openai", "gpt-4o-mini")
    await provider.close()


async def test_streams_the_whole_text_then_usage(provider: Provide) -> None:
    chunks = await collect(provider("fake-tokens-5"), HELLO)
    assert "".join(chunk.text for chunk in chunks) == "tok0 tok1 tok2 tok3 tok4"
    assert chunks[-1].usage == Usage(prompt_tokens=4, completion_tokens=5)


async def test_tokens_of_one_read_go_out_as_one_chunk(provider: Provide) -> None:
    """The fake writes 16 tokens per write without a delay: far fewer chunks than tokens."""
    chunks = await collect(provider("fake-tokens-200"), HELLO)
    texts = [chunk.text for chunk in chunks if chunk.text]
    assert "".join(texts) == " ".join(f"tok{i}" for i in range(200))
    assert len(texts) <= 200 // 16 + 1


async def test_a_slow_server_still_streams_token_by_token(provider: Provide) -> None:
    chunks = await collect(provider("fake-slow-20-tokens-4"), HELLO)
    assert [chunk.text for chunk in chunks if chunk.text] == ["tok0 ", "tok1 ", "tok2 ", "tok3"]


async def test_assembles_a_tool_call_from_deltas(provider: Provide, fake: FakeOpenAI) -> None:
    request = LLMRequest(turns=(Turn("user", "what is (3+4)*2?"),), tools=TOOLS)
    chunks = await collect(provider("gpt-fake"), request)
    calls = [call for chunk in chunks for call in chunk.tool_calls]
    assert len(calls) == 1
    assert calls[0].name == "calculator"
    assert calls[0].arguments == {"expression": "(3+4)*2"}
    assert calls[0].id.startswith("call_")
    assert not any(chunk.text for chunk in chunks)
    assert any(chunk.usage for chunk in chunks)
    sent_tools = fake.requests[-1]["tools"]
    assert sent_tools[0] == {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": TOOLS[0].description,
            "parameters": TOOLS[0].parameters,
        },
    }


async def test_sends_turns_in_openai_format(provider: Provide, fake: FakeOpenAI) -> None:
    call = ToolCall("call_1", "calculator", {"expression": "12*7"})
    request = LLMRequest(
        turns=(
            Turn("system", "Be brief."),
            Turn("user", "what is 12*7?"),
            Turn("assistant", tool_calls=(call,)),
            Turn("tool", "84", tool_call_id="call_1"),
        ),
        tools=TOOLS,
        temperature=0.2,
        max_tokens=100,
    )
    chunks = await collect(provider("gpt-fake"), request)
    assert "".join(chunk.text for chunk in chunks) == "The answer is 84."
    sent = fake.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "what is 12*7?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "12*7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "84"},
    ]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert (sent["temperature"], sent["max_tokens"]) == (0.2, 100)


async def test_no_tools_key_when_no_tools(provider: Provide, fake: FakeOpenAI) -> None:
    await collect(provider("fake-tokens-1"), HELLO)
    assert "tools" not in fake.requests[-1]


async def test_malformed_tool_arguments_are_retryable(provider: Provide) -> None:
    request = LLMRequest(turns=(Turn("user", "what is 12*7?"),), tools=TOOLS)
    error = await failure(provider("fake-malformed-tool"), request)
    assert error.retryable
    assert "model sent malformed tool arguments for calculator" in error.detail


async def test_auth_error_is_final_and_hides_the_key(provider: Provide) -> None:
    error = await failure(provider("fake-error-401"))
    assert not error.retryable
    assert "HTTP 401" in error.detail
    assert "Incorrect API key" in error.detail
    assert API_KEY not in error.detail
    assert API_KEY not in str(error)


async def test_an_error_page_that_is_not_json_is_quoted(provider: Provide) -> None:
    error = await failure(provider("fake-error-502"))  # a proxy's page, not the API's JSON
    assert error.retryable
    assert "HTTP 502 from http://127.0.0.1:" in error.detail
    assert "Bad gateway" in error.detail


async def test_every_call_carries_the_sdks_key_and_client_headers(
    provider: Provide, fake: FakeOpenAI
) -> None:
    made = provider("fake")
    for _ in range(2):  # worked out once, sent with every call
        await collect(made, HELLO)
    for headers in list(fake.headers)[-2:]:
        assert headers["Authorization"] == f"Bearer {API_KEY}"
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"].startswith("AsyncOpenAI/Python")
        assert "OpenAI-Organization" not in headers  # not set, so not sent


async def test_a_connection_cut_mid_stream_is_retryable(provider: Provide) -> None:
    stream = provider("fake-cut").stream(HELLO)
    assert (await anext(stream)).text == "tok0 tok1 "  # what came before the cut
    with pytest.raises(
        LLMError, match=r"the connection to http://127\.0\.0\.1:\d+/v1 broke"
    ) as cut:
        await anext(stream)
    assert cut.value.retryable


async def test_stall_blocks_after_the_first_tokens(provider: Provide) -> None:
    stream = provider("fake-stall").stream(HELLO)
    assert (await anext(stream)).text == "tok0 tok1 tok2 "
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), timeout=0.3)


async def test_tool_spec_roundtrip_minimal(provider: Provide, fake: FakeOpenAI) -> None:
    spec = ToolSpec("noop", "does nothing", {"type": "object", "properties": {}})
    await collect(provider("fake-tokens-2"), LLMRequest(turns=HELLO.turns, tools=(spec,)))
    assert fake.requests[-1]["tools"][0]["function"]["name"] == "noop"
