"""An ``LLMProvider`` for Anthropic's Messages API: the SDK configures, aiohttp sends.

Works with api.anthropic.com and with local servers that speak the same protocol:
text is streamed as it arrives, ``tool_use`` blocks are assembled from their
``input_json_delta`` fragments, and every failure becomes an ``LLMError`` that
says whether retrying may help — without ever repeating the API key.

The SDK works out the URL and headers once and types the request body; each call goes
out on aiohttp (``endpoint``, ADR 0011), never through the SDK's own client; the
stream is read raw (``sse``): through the SDK, with a typed event per streamed token, a
streamed call cost 7.7 ms of CPU, read raw 1.7 ms (docs/performance.md).
"""

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from anthropic import AsyncAnthropic
from anthropic.types import (
    AssistantMessageParam,
    ContentBlockParam,
    MessageContentParam,
    MessageParam,
    ToolParam,
    UserMessageParam,
)

from chatorch.adapters.llm import sse, transport
from chatorch.adapters.llm.endpoint import Endpoint
from chatorch.domain.errors import LLMError
from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, ToolSpec, Turn, Usage
from chatorch.ports.llm import PROBE_TIMEOUT, Probe

_NO_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one
# Error types an in-stream ``error`` event may carry that no retry will fix.
_FINAL_ERRORS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
    }
)
Role = Literal["user", "assistant"]


class AnthropicProvider:
    """Streams messages from an Anthropic Messages endpoint.

    Retries are left to the caller (``max_retries=0``): the pipeline decides when to
    try again or fall back, guided by ``LLMError.retryable`` and ``retry_after``.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        max_tokens: int = 1024,
    ) -> None:
        self._model = model
        # The SDK's own variable, as every Anthropic user expects, when ours is not set.
        api_key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        self._api_key = api_key or ""
        self._timeout = timeout
        self._max_tokens = max_tokens
        # An explicit key also stops the SDK from looking for profiles on disk.
        self._client = AsyncAnthropic(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            timeout=timeout,
            max_retries=0,
        )
        self._endpoint = Endpoint.of(self._client, "/v1/messages", timeout=timeout)
        self._url = str(self._client.base_url).rstrip("/")

    @property
    def name(self) -> str:
        return "anthropic"

    @property
    def model(self) -> str:
        return self._model

    async def stream(self, request: LLMRequest) -> AsyncIterator[Chunk]:
        try:
            async for chunk in self._stream(request):
                yield chunk
        except (transport.StatusFailure, *transport.TransportError) as exc:
            raise transport.failure(
                exc, label=self._label, url=self._url, timeout=self._timeout, scrub=self._scrub
            ) from exc
        except json.JSONDecodeError as exc:
            raise LLMError(
                self._scrub(f"{self._label}: malformed stream event from {self._url}: {exc}"),
                retryable=True,
            ) from exc

    async def probe(self, *, timeout: float = PROBE_TIMEOUT) -> Probe:
        """``GET /v1/models`` with ``x-api-key`` and ``anthropic-version``: the server
        answers and takes the key. The model is not looked for: the list holds dated
        names, and the Messages API also takes aliases that it does not list."""
        models = self._url + "/v1/models"
        return await transport.probed(
            self._endpoint.fetched(models, timeout=timeout),
            label=self._label,
            url=models,
            timeout=timeout,
            scrub=self._scrub,
            judge=self._judge,
        )

    def _judge(self, answer: object) -> str:
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise ValueError("no model list (`data`) in its answer")
        return f"reachable at {self._url}, the key is accepted"

    async def close(self) -> None:
        await self._endpoint.close()
        await self._client.close()

    @property
    def _label(self) -> str:
        return f"anthropic {self._model}"

    async def _stream(self, request: LLMRequest) -> AsyncIterator[Chunk]:
        message = _MessageAssembler(self._label)
        async with self._create(request) as response:
            async for batch in sse.data_batches(response):
                # the text of one read goes out as one chunk
                for chunk in sse.joined(self._chunks(batch, message)):
                    yield chunk
        if not message.stopped:  # a cut connection must not pass for a whole answer
            detail = f"{self._label}: the stream from {self._url} ended before message_stop"
            raise LLMError(self._scrub(detail), retryable=True)

    def _chunks(self, batch: list[dict[str, Any]], message: "_MessageAssembler") -> Iterator[Chunk]:
        for event in batch:
            if event.get("type") == "error":  # inside a stream that began with 200
                raise self._event_error(event.get("error"))
            yield from message.feed(event)

    def _create(self, request: LLMRequest) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        system, messages = to_messages(request.turns)
        body: dict[str, object] = {
            "model": self._model,
            "messages": messages,
            "max_tokens": request.max_tokens or self._max_tokens,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = to_tools(request.tools)
        if request.temperature is not None:  # Anthropic takes 0–1, OpenAI 0–2: capped
            body["temperature"] = min(request.temperature, 1.0)
        return self._endpoint.streamed(body)

    def _event_error(self, error: object) -> LLMError:
        """Mid-stream failures (overloaded, api_error) are transient; bad requests are not."""
        kind = str(error.get("type") or "error") if isinstance(error, dict) else "error"
        text = sse.error_text(error)
        detail = f"{self._label}: {kind} in the stream from {self._url}: {text}"
        return LLMError(self._scrub(detail), retryable=kind not in _FINAL_ERRORS)

    def _scrub(self, text: str) -> str:
        """Remove the API key from anything a server echoed back."""
        return text.replace(self._api_key, "***") if self._api_key else text


# --- request ----------------------------------------------------------------------


def to_messages(turns: Iterable[Turn]) -> tuple[str, list[MessageParam]]:
    """The ``system`` text and the messages, in the Messages API's shape.

    Anthropic wants roles to alternate, so consecutive turns of one role (several
    tool results, above all) are merged into one message of content blocks.
    """
    system: list[str] = []
    merged: list[tuple[Role, list[ContentBlockParam]]] = []
    for turn in turns:
        if turn.role == "system":
            system.append(turn.content)
            continue
        role: Role = "assistant" if turn.role == "assistant" else "user"
        blocks = _blocks(turn)
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(blocks)
        elif blocks:
            merged.append((role, blocks))
    messages = [_message(role, blocks) for role, blocks in merged]
    return "\n\n".join(text for text in system if text), messages


def _blocks(turn: Turn) -> list[ContentBlockParam]:
    if turn.role == "tool":
        tool_use_id = turn.tool_call_id or ""
        return [{"type": "tool_result", "tool_use_id": tool_use_id, "content": turn.content}]
    blocks: list[ContentBlockParam] = []
    if turn.content:  # the API refuses empty text blocks
        blocks.append({"type": "text", "text": turn.content})
    for call in turn.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


def _message(role: Role, blocks: list[ContentBlockParam]) -> MessageParam:
    """A lone text block goes as a plain string, the form every compatible server knows."""
    only = blocks[0] if len(blocks) == 1 else None
    content: MessageContentParam = blocks
    if only is not None and only["type"] == "text":
        content = str(only["text"])
    if role == "assistant":
        return AssistantMessageParam(role="assistant", content=content)
    return UserMessageParam(role="user", content=content)


def to_tools(specs: Iterable[ToolSpec]) -> list[ToolParam]:
    return [
        {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}
        for spec in specs
    ]


# --- response ---------------------------------------------------------------------


@dataclass(slots=True)
class _PartialCall:
    id: str
    name: str
    fragments: list[str] = field(default_factory=list)


class _MessageAssembler:
    """Turns raw stream events into chunks: text at once, tool calls and usage at the end."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._calls: dict[int, _PartialCall] = {}
        self._usage = Usage()
        self.stopped = False

    def feed(self, event: dict[str, Any]) -> Iterable[Chunk]:
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "content_block_start":
            return self._start(event)
        if kind == "message_start":
            started = (event.get("message") or {}).get("usage") or {}
            self._usage = Usage(_input_tokens(started), started.get("output_tokens") or 0)
        elif kind == "message_delta":
            final = event.get("usage") or {}
            prompt = _input_tokens(final, self._usage.prompt_tokens)
            # cumulative, not a delta
            self._usage = Usage(prompt, final.get("output_tokens") or 0)
        elif kind == "message_stop":
            return self._stop()
        return ()  # ping, content_block_stop

    def _start(self, event: dict[str, Any]) -> Iterable[Chunk]:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            call = _PartialCall(block.get("id") or "", block.get("name") or "")
            self._calls[event.get("index", 0)] = call  # unnamed: refused when finished
        elif block.get("type") == "text" and block.get("text"):
            return (Chunk(text=block["text"]),)
        return ()

    def _delta(self, event: dict[str, Any]) -> Iterable[Chunk]:
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return (Chunk(text=delta["text"]),) if delta.get("text") else ()
        index = event.get("index", 0)
        if kind == "input_json_delta" and index in self._calls:
            self._calls[index].fragments.append(delta.get("partial_json") or "")
        return ()  # thinking, signatures and citations are not passed on

    def _stop(self) -> Iterable[Chunk]:
        self.stopped = True
        if self._calls:
            calls = [self._calls[index] for index in sorted(self._calls)]
            yield Chunk(tool_calls=tuple(self._finish_call(call) for call in calls))
            self._calls = {}
        yield Chunk(usage=self._usage)

    def _finish_call(self, partial: _PartialCall) -> ToolCall:
        text = "".join(partial.fragments).strip() or "{}"
        try:
            arguments = json.loads(text)
        except ValueError:
            arguments = None
        if not partial.name or not isinstance(arguments, dict):
            raise LLMError(
                f"{self._label}: model sent malformed tool input for "
                f"{partial.name or 'an unnamed tool'}: {text[:200]!r}",
                retryable=True,
            )
        call_id = partial.id or f"toolu_{uuid.uuid4().hex[:12]}"
        return ToolCall(id=call_id, name=partial.name, arguments=arguments)


def _input_tokens(usage: dict[str, Any], default: int = 0) -> int:
    """All prompt tokens: Anthropic counts cache writes and reads apart from the rest."""
    counted = usage.get("input_tokens")
    if counted is None:
        return default
    cached = (usage.get("cache_creation_input_tokens") or 0) + (
        usage.get("cache_read_input_tokens") or 0
    )
    return int(counted) + int(cached)
