"""The LLMProvider contract: builtin, OpenAI-compatible and Anthropic pass one suite.

The networked providers talk to local fakes that speak the real wire protocols
(``tests/fixtures/fake_openai.py``, ``fake_anthropic.py``); a request's model name picks
the fake's scenario. What can only go wrong over a network — error statuses, refused
and cut connections, timeouts, malformed streams — is asked of those two alone
(``TestFailures``): the builtin provider has no network to fail.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from chatorch.adapters.llm.anthropic import AnthropicProvider
from chatorch.adapters.llm.builtin import BuiltinProvider
from chatorch.adapters.llm.openai import OpenAIProvider
from chatorch.domain.errors import LLMError
from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, Turn
from chatorch.ports.llm import LLMProvider
from chatorch.services.tools import builtin_tools
from tests.conftest import remember
from tests.fixtures.fake_anthropic import fake_anthropic_server
from tests.fixtures.fake_openai import fake_openai_server
from tests.fixtures.tcp_proxy import tcp_proxy

API_KEY = remember("sk-contract-very-secret-key")
TOOLS = tuple(tool.spec for tool in builtin_tools())
HELLO = LLMRequest(turns=(Turn("system", "Be brief."), Turn("user", "hello there")))
QUESTION = LLMRequest(turns=(Turn("user", "what is (3+4)*2?"),), tools=TOOLS)
CALL = ToolCall("call_1", "calculator", {"expression": "(3+4)*2"})
ANSWERED = LLMRequest(
    turns=(
        *QUESTION.turns,
        Turn("assistant", tool_calls=(CALL,)),
        Turn("tool", "14", tool_call_id="call_1"),
    ),
    tools=TOOLS,
)
# The fakes' model names for what every provider can be asked to do; other names given
# to ``Providers.make`` are fake scenarios themselves (``fake-error-401``, ...).
SCENARIOS = {
    "answer": "fake-slow-5-tokens-8",  # a token per network read: a stream of several
    "slow": "fake-slow-200",  # 50 tokens, 10 s in all
    "tools": "fake",
}
SLOW_BUILTIN = 0.2  # s per word: the builtin answer takes as long as the fakes' slow one


@dataclass
class Providers:
    """Providers of one kind, made on demand; ``url`` is the fake's (none for builtin)."""

    kind: str
    url: str = ""
    made: list[LLMProvider] = field(default_factory=list)

    def make(self, scenario: str = "answer", *, timeout: float = 5, url: str = "") -> LLMProvider:
        provider: LLMProvider
        if self.kind == "builtin":
            provider = BuiltinProvider(delay=SLOW_BUILTIN if scenario == "slow" else 0.0)
        else:
            kind = OpenAIProvider if self.kind == "openai" else AnthropicProvider
            model = SCENARIOS.get(scenario, scenario)
            base_url = url or self.url
            provider = kind(model=model, base_url=base_url, api_key=API_KEY, timeout=timeout)
        self.made.append(provider)
        return provider

    def url_at(self, port: int) -> str:
        """The fake's URL with another port: a closed one, or a proxy in front."""
        return urlsplit(self.url)._replace(netloc=f"127.0.0.1:{port}").geturl()

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    async def close(self) -> None:
        for provider in self.made:
            await provider.close()


@asynccontextmanager
async def _providers(kind: str) -> AsyncIterator[Providers]:
    """Providers of ``kind``, with their fake server running; they close before it stops."""
    async with AsyncExitStack() as stack:
        providers = Providers(kind)
        if kind == "openai":
            providers.url = (await stack.enter_async_context(fake_openai_server())).url
        elif kind == "anthropic":
            providers.url = (await stack.enter_async_context(fake_anthropic_server())).url
        stack.push_async_callback(providers.close)
        yield providers


@pytest.fixture(params=["builtin", "openai", "anthropic"])
async def llm(request: pytest.FixtureRequest) -> AsyncIterator[Providers]:
    async with _providers(request.param) as providers:
        yield providers


@pytest.fixture(params=["openai", "anthropic"])
async def networked(request: pytest.FixtureRequest) -> AsyncIterator[Providers]:
    async with _providers(request.param) as providers:
        yield providers


async def _collect(provider: LLMProvider, request: LLMRequest) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(request)]


async def _failure(provider: LLMProvider, request: LLMRequest = HELLO) -> LLMError:
    with pytest.raises(LLMError) as caught:
        await _collect(provider, request)
    return caught.value


async def _drain(stream: AsyncIterator[Chunk]) -> None:
    async for _ in stream:
        pass


def _text(chunks: list[Chunk]) -> str:
    return "".join(chunk.text for chunk in chunks)


def _calls(chunks: list[Chunk]) -> list[ToolCall]:
    return [call for chunk in chunks for call in chunk.tool_calls]


class TestStreaming:
    async def test_the_name_is_the_provider_kind(self, llm: Providers) -> None:
        provider = llm.make()
        assert provider.name == llm.kind
        assert provider.model

    async def test_text_arrives_in_pieces_and_usage_once_at_the_end(self, llm: Providers) -> None:
        chunks = await _collect(llm.make("answer"), HELLO)
        pieces = [chunk.text for chunk in chunks if chunk.text]
        assert len(pieces) >= 3
        assert "".join(pieces).strip()
        assert [chunk.usage is not None for chunk in chunks] == [False] * len(pieces) + [True]
        usage = chunks[-1].usage
        assert usage is not None
        assert usage.prompt_tokens > 0
        assert usage.completion_tokens > 0
        assert not _calls(chunks)
        assert not any(chunk.restart for chunk in chunks)

    async def test_the_first_text_comes_long_before_the_answer_is_done(
        self, llm: Providers
    ) -> None:
        stream = aiter(llm.make("slow").stream(HELLO))
        try:
            first = await asyncio.wait_for(anext(stream), timeout=1)  # of a 10 s answer
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        assert first.text


class TestToolCalls:
    async def test_a_tool_call_arrives_whole_with_parsed_arguments(self, llm: Providers) -> None:
        chunks = await _collect(llm.make("tools"), QUESTION)
        [carrier] = [chunk for chunk in chunks if chunk.tool_calls]  # all in one chunk
        [call] = carrier.tool_calls
        assert (call.name, call.arguments) == ("calculator", {"expression": "(3+4)*2"})
        assert call.id
        assert _text(chunks) == ""

    async def test_usage_comes_once_after_the_tool_calls(self, llm: Providers) -> None:
        # OpenAI's finishing chunk carries ``"delta": {}`` beside its ``finish_reason``.
        chunks = await _collect(llm.make("tools"), QUESTION)
        assert [chunk.usage is not None for chunk in chunks][-1:] == [True]
        assert sum(chunk.usage is not None for chunk in chunks) == 1

    async def test_a_tool_result_is_answered_in_words(self, llm: Providers) -> None:
        chunks = await _collect(llm.make("tools"), ANSWERED)
        assert "14" in _text(chunks)
        assert not _calls(chunks)
        assert chunks[-1].usage is not None

    async def test_offered_tools_that_are_not_needed_are_not_called(self, llm: Providers) -> None:
        chunks = await _collect(llm.make("tools"), LLMRequest(HELLO.turns, tools=TOOLS))
        assert _text(chunks)
        assert not _calls(chunks)


class TestFailures:
    """What the caller's retries and fallback rely on: whether trying again may help."""

    @pytest.mark.parametrize(
        ("model", "status", "retryable"),
        [
            ("fake-error-401", 401, False),
            ("fake-error-429", 429, True),
            ("fake-error-500", 500, True),
        ],
    )
    async def test_an_error_status_says_whether_to_retry(
        self, networked: Providers, model: str, status: int, retryable: bool
    ) -> None:
        error = await _failure(networked.make(model))
        assert error.retryable is retryable
        assert error.detail.startswith(f"{networked.kind} {model}: HTTP {status} from ")
        assert networked.url in error.detail

    async def test_a_rate_limit_says_how_long_to_wait(self, networked: Providers) -> None:
        error = await _failure(networked.make("fake-error-429"))
        assert error.retry_after == 1.0
        assert error.detail.endswith("(retry after 1 s)")
        server_error = await _failure(networked.make("fake-error-500"))
        assert server_error.retry_after is None

    async def test_the_key_a_server_echoes_is_never_repeated(self, networked: Providers) -> None:
        error = await _failure(networked.make("fake-error-401"))  # the fakes quote the key
        assert API_KEY not in str(error)
        assert "***" in error.detail

    async def test_an_unreachable_server_is_retryable(
        self, networked: Providers, closed_port: int
    ) -> None:
        url = networked.url_at(closed_port)
        error = await _failure(networked.make("fake", url=url))
        assert error.retryable
        assert error.detail.startswith(f"{networked.kind} fake: cannot reach {url}")

    async def test_a_connection_cut_mid_answer_is_retryable(self, networked: Providers) -> None:
        async with tcp_proxy("127.0.0.1", networked.port) as proxy:
            url = networked.url_at(proxy.port)
            stream = aiter(networked.make("slow", url=url).stream(HELLO))
            first = await asyncio.wait_for(anext(stream), timeout=5)
            await proxy.cut()
            with pytest.raises(LLMError) as caught:
                await asyncio.wait_for(_drain(stream), timeout=5)
        assert first.text  # what came before the cut was handed on
        assert caught.value.retryable
        assert f"the connection to {url} broke" in caught.value.detail

    async def test_no_answer_within_the_timeout_is_retryable(self, networked: Providers) -> None:
        error = await _failure(networked.make("fake-stall", timeout=0.3))
        assert error.retryable
        assert "no answer from" in error.detail
        assert "within 0.3 s" in error.detail

    async def test_a_malformed_stream_is_retryable_after_the_text_before_it(
        self, networked: Providers
    ) -> None:
        stream = aiter(networked.make("fake-malformed").stream(HELLO))
        assert (await anext(stream)).text == "tok0 tok1 "
        with pytest.raises(LLMError, match="malformed stream") as caught:
            await anext(stream)
        assert caught.value.retryable

    async def test_malformed_tool_arguments_are_retryable(self, networked: Providers) -> None:
        error = await _failure(networked.make("fake-malformed-tool"), QUESTION)
        assert error.retryable
        assert "malformed tool" in error.detail
        assert "calculator" in error.detail


@asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers; yields the port."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def _keyed_fake(kind: str, key: str) -> AsyncIterator[str]:
    """A fake of ``kind`` that takes only ``key``; yields its URL."""
    if kind == "openai":
        async with fake_openai_server(api_key=key) as openai:
            yield openai.url
    else:
        async with fake_anthropic_server(api_key=key) as anthropic:
            yield anthropic.url


class TestProbe:
    """What `chatorch doctor`, /v1/admin/health and the start-up warning rely on: a cheap
    question (no generation) whose answer says whether the provider works."""

    async def test_a_working_provider_answers_its_probe(self, llm: Providers) -> None:
        probe = await llm.make().probe()
        assert probe.ok, probe.detail
        assert probe.status is None
        assert probe.latency_ms >= 0
        assert probe.detail.startswith(llm.kind)

    async def test_the_probe_asks_for_the_model_list_and_spends_no_tokens(self) -> None:
        async with fake_openai_server() as fake:
            provider = OpenAIProvider(model="fake", base_url=fake.url, api_key=API_KEY, timeout=5)
            try:
                probe = await provider.probe()
            finally:
                await provider.close()
        assert probe.ok
        assert "the model is listed" in probe.detail
        assert not fake.requests  # no completion was asked for

    async def test_a_model_the_server_does_not_list_is_said(self) -> None:
        async with fake_openai_server() as fake:
            provider = OpenAIProvider(
                model="gpt-nonexistent", base_url=fake.url, api_key=API_KEY, timeout=5
            )
            try:
                probe = await provider.probe()
            finally:
                await provider.close()
        assert probe.ok
        assert "the model is not among the" in probe.detail

    async def test_a_refused_key_is_a_failed_probe_that_never_repeats_the_key(
        self, networked: Providers
    ) -> None:
        async with _keyed_fake(networked.kind, "sk-the-right-one") as url:
            wrong = await networked.make("fake", url=url).probe()
            right_provider = (OpenAIProvider if networked.kind == "openai" else AnthropicProvider)(
                model="fake", base_url=url, api_key="sk-the-right-one", timeout=5
            )
            networked.made.append(right_provider)
            right = await right_provider.probe()
        assert not wrong.ok
        assert wrong.status == 401
        assert "HTTP 401" in wrong.detail
        assert API_KEY not in wrong.detail
        assert right.ok, right.detail

    async def test_an_unreachable_server_is_a_failed_probe(
        self, networked: Providers, closed_port: int
    ) -> None:
        url = networked.url_at(closed_port)
        probe = await networked.make("fake", url=url).probe()
        assert not probe.ok
        assert probe.status is None
        assert probe.detail.startswith(f"{networked.kind} fake: cannot reach")

    async def test_a_silent_server_fails_the_probe_within_its_timeout(
        self, networked: Providers
    ) -> None:
        async with _silent_server() as port:
            provider = networked.make("fake", url=networked.url_at(port), timeout=30)
            started = asyncio.get_running_loop().time()
            probe = await provider.probe(timeout=0.3)
            spent = asyncio.get_running_loop().time() - started
        assert not probe.ok
        assert "within 0.3 s" in probe.detail
        assert spent < 2
