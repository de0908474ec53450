"""An ``LLMProvider`` for Anthropic's Messages API, through the official SDK.

Works with api.anthropic.com and with local servers that speak the same protocol:
text is streamed as it arrives, ``tool_use`` blocks are assembled from their
``input_json_delta`` fragments, and every SDK exception becomes an ``LLMError`` that
says whether retrying may help — without ever repeating the API key.
"""

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import anthropic
import httpx2
from anthropic import AsyncAnthropic, AsyncStream, omit
from anthropic.types import (
    AssistantMessageParam,
    ContentBlockParam,
    InputJSONDelta,
    MessageContentParam,
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    TextDelta,
    ToolParam,
    ToolUseBlock,
    UserMessageParam,
)

from chatorch.adapters.llm import transport
from chatorch.domain.errors import LLMError
from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, ToolSpec, Turn, Usage

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
            base_url=base_url, api_key=api_key or _NO_KEY, timeout=timeout, max_retries=0
        )
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
        except anthropic.APIError as exc:
            raise self._error(exc) from exc
        except httpx2.TransportError as exc:  # the SDK does not wrap a failing stream read
            raise self._transport_error(exc) from exc
        except json.JSONDecodeError as exc:
            raise LLMError(
                self._scrub(f"{self._label}: malformed stream event from {self._url}: {exc}"),
                retryable=True,
            ) from exc

    async def close(self) -> None:
        await self._client.close()

    @property
    def _label(self) -> str:
        return f"anthropic {self._model}"

    async def _stream(self, request: LLMRequest) -> AsyncIterator[Chunk]:
        events = await self._create(request)
        message = _MessageAssembler(self._label)
        async with events:
            async for event in events:
                for chunk in message.feed(event):
                    yield chunk
        if not message.stopped:  # a cut connection must not pass for a whole answer
            detail = f"{self._label}: the stream from {self._url} ended before message_stop"
            raise LLMError(self._scrub(detail), retryable=True)

    async def _create(self, request: LLMRequest) -> AsyncStream[RawMessageStreamEvent]:
        system, messages = to_messages(request.turns)
        return await self._client.messages.create(
            model=self._model,
            system=system or omit,
            messages=messages,
            tools=to_tools(request.tools) or omit,
            max_tokens=request.max_tokens or self._max_tokens,
            extra_body=_sampling(request),
            stream=True,
        )

    def _error(self, exc: anthropic.APIError) -> LLMError:
        if isinstance(exc, anthropic.APIConnectionError):  # timeouts included
            cause = exc.__cause__
            if isinstance(cause, httpx2.TransportError):
                return self._transport_error(cause)
            detail = f"{self._label}: cannot reach {self._url}: {cause or exc.message}"
            return LLMError(self._scrub(detail), retryable=True)
        if isinstance(exc, anthropic.APIStatusError):
            if exc.status_code < 400:  # an ``error`` event inside a 200 stream
                return self._event_error(exc)
            return self._status_error(exc)
        return LLMError(self._scrub(f"{self._label}: {exc.message}"), retryable=True)

    def _transport_error(self, exc: httpx2.TransportError) -> LLMError:
        detail = transport.describe(exc, url=self._url, timeout=self._timeout)
        return LLMError(self._scrub(f"{self._label}: {detail}"), retryable=True)

    def _status_error(self, exc: anthropic.APIStatusError) -> LLMError:
        status = exc.status_code
        text = str(exc.api_message or exc.message)[:500]
        detail = f"{self._label}: HTTP {status} from {self._url}: {text}"
        retry_after = None
        if status == 429:
            retry_after = transport.retry_after_seconds(exc.response.headers.get("retry-after"))
            if retry_after is not None:
                detail += f" (retry after {retry_after:g} s)"
        retryable = status in (408, 409, 429) or status >= 500  # 529: overloaded
        return LLMError(self._scrub(detail), retryable=retryable, retry_after=retry_after)

    def _event_error(self, exc: anthropic.APIStatusError) -> LLMError:
        """Mid-stream failures (overloaded, api_error) are transient; bad requests are not."""
        kind = exc.type or "error"
        text = str(exc.api_message or exc.message)[:500]
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


def _sampling(request: LLMRequest) -> dict[str, float] | None:
    """``temperature``, which SDK 2.x no longer types but the wire protocol still takes.

    Anthropic accepts 0–1, so a higher setting (meant for OpenAI's 0–2) is capped at 1.
    """
    if request.temperature is None:
        return None
    return {"temperature": min(request.temperature, 1.0)}


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

    def feed(self, event: RawMessageStreamEvent) -> Iterable[Chunk]:
        if isinstance(event, RawContentBlockDeltaEvent):
            return self._delta(event)
        if isinstance(event, RawContentBlockStartEvent):
            return self._start(event)
        if isinstance(event, RawMessageStartEvent):
            started = event.message.usage
            prompt = _input_tokens(started.input_tokens, started)
            self._usage = Usage(prompt, started.output_tokens)
        elif isinstance(event, RawMessageDeltaEvent):
            final = event.usage
            prompt = _input_tokens(final.input_tokens, final, self._usage.prompt_tokens)
            self._usage = Usage(prompt, final.output_tokens)  # cumulative, not a delta
        elif isinstance(event, RawMessageStopEvent):
            return self._stop()
        return ()

    def _start(self, event: RawContentBlockStartEvent) -> Iterable[Chunk]:
        block = event.content_block
        if isinstance(block, ToolUseBlock):
            self._calls[event.index] = _PartialCall(block.id, block.name)
        elif block.type == "text" and block.text:
            return (Chunk(text=block.text),)
        return ()

    def _delta(self, event: RawContentBlockDeltaEvent) -> Iterable[Chunk]:
        delta = event.delta
        if isinstance(delta, TextDelta):
            return (Chunk(text=delta.text),) if delta.text else ()
        if isinstance(delta, InputJSONDelta) and event.index in self._calls:
            self._calls[event.index].fragments.append(delta.partial_json)
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


class _InputUsage(Protocol):
    """The fields of the SDK's two usage types that count toward the prompt."""

    cache_creation_input_tokens: int | None
    cache_read_input_tokens: int | None


def _input_tokens(counted: int | None, usage: _InputUsage, default: int = 0) -> int:
    """All prompt tokens: Anthropic counts cache writes and reads apart from the rest."""
    if counted is None:
        return default
    cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
    return counted + cached
