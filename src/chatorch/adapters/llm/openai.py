"""An ``LLMProvider`` for any OpenAI-compatible chat-completions server.

Works with api.openai.com and with local servers that speak the same protocol
(Ollama, vLLM, llama.cpp): text is streamed as it arrives, tool calls are assembled
from their streamed fragments, and every failure becomes an ``LLMError`` that
says whether retrying may help — without ever repeating the API key.

The SDK works out the URL and headers once; each call goes out on aiohttp
(``endpoint``); the stream is read raw (``sse``).
"""

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from openai import AsyncOpenAI
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from chatorch.adapters.llm import sse, transport
from chatorch.adapters.llm.endpoint import Endpoint
from chatorch.domain.errors import LLMError
from chatorch.domain.llm import Chunk, LLMRequest, ToolCall, ToolSpec, Turn, Usage
from chatorch.ports.llm import PROBE_TIMEOUT, Probe

_NO_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one


class OpenAIProvider:
    """Streams chat completions from an OpenAI-compatible endpoint.

    Retries are left to the caller (``max_retries=0``): the pipeline decides when to
    try again or fall back, guided by ``LLMError.retryable``.
    """

    def __init__(
        self, *, model: str, base_url: str | None, api_key: str | None, timeout: float
    ) -> None:
        self._model = model
        # The SDK's own variable, as every OpenAI user expects, when ours is not set.
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self._api_key = api_key or ""
        self._timeout = timeout
        self._client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            timeout=timeout,
            max_retries=0,
        )
        self._endpoint = Endpoint.of(self._client, "/chat/completions", timeout=timeout)
        self._official = self._client.base_url.host == "api.openai.com"
        self._url = str(self._client.base_url).rstrip("/")

    @property
    def name(self) -> str:
        return "openai"

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
                self._scrub(f"{self._label}: malformed stream chunk from {self._url}: {exc}"),
                retryable=True,
            ) from exc

    async def probe(self, *, timeout: float = PROBE_TIMEOUT) -> Probe:
        """``GET {base}/models`` with the key: the server answers and takes the key; the
        detail says whether it lists the model (OpenAI-compatible servers list what
        they serve)."""
        models = self._url + "/models"
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
        names = {str(entry.get("id")) for entry in data if isinstance(entry, dict)}
        if self._model in names:
            return f"reachable at {self._url}, the key is accepted, the model is listed"
        return (
            f"reachable at {self._url}, the key is accepted; the model is not among the "
            f"{len(names)} it lists"
        )

    async def close(self) -> None:
        await self._endpoint.close()
        await self._client.close()

    @property
    def _label(self) -> str:
        return f"openai {self._model}"

    async def _stream(self, request: LLMRequest) -> AsyncIterator[Chunk]:
        calls = _ToolCallAssembler(self._label)
        async with self._create(request) as response:
            async for batch in sse.data_batches(response):
                for chunk in self._chunks(batch, calls):
                    yield chunk
        if calls:  # the server ended without a finish_reason
            yield Chunk(tool_calls=calls.finish())

    def _chunks(self, batch: list[dict[str, Any]], calls: "_ToolCallAssembler") -> Iterator[Chunk]:
        """The chunks of one read's events: its text as one chunk, tool calls (assembled
        in ``calls``) at ``finish_reason``, usage at the end.

        Text is gathered as strings, not a chunk per token: a fast server sends dozens
        of events per read. Text that came before a failure goes out before it is raised.
        """
        text: list[str] = []
        try:
            for event in batch:
                if "error" in event:  # an error reported inside a healthy-looking stream
                    detail = sse.error_text(event["error"])
                    raise LLMError(self._scrub(f"{self._label}: {detail}"), retryable=True)
                for choice in event.get("choices") or ():
                    delta = choice.get("delta") or {}  # the finishing chunk's is empty
                    if content := delta.get("content"):
                        text.append(content)
                    if tool_calls := delta.get("tool_calls"):
                        calls.add(tool_calls)
                    if choice.get("finish_reason") is not None and calls:
                        finished = calls.finish()
                        yield from _said(text)
                        yield Chunk(tool_calls=finished)
                if usage := event.get("usage"):
                    yield from _said(text)
                    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
                    yield Chunk(usage=Usage(prompt or 0, completion or 0))
        except Exception:
            yield from _said(text)
            raise
        yield from _said(text)

    def _create(self, request: LLMRequest) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        # The messages are built as ChatCompletionMessageParam, so mypy checks their shape.
        body: dict[str, object] = {
            "model": self._model,
            "messages": [to_message(t) for t in request.turns],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = to_tools(request.tools)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            # api.openai.com wants the newer name; local servers know the older one.
            body["max_completion_tokens" if self._official else "max_tokens"] = request.max_tokens
        return self._endpoint.streamed(body)

    def _scrub(self, text: str) -> str:
        """Remove the API key from anything a server echoed back."""
        return text.replace(self._api_key, "***") if self._api_key else text


def _said(text: list[str]) -> Iterator[Chunk]:
    """The text gathered so far as one chunk, if there is any; ``text`` is emptied."""
    if text:
        joined = "".join(text)
        text.clear()
        yield Chunk(text=joined)


def to_message(turn: Turn) -> ChatCompletionMessageParam:
    """One domain turn in the chat-completions wire format."""
    if turn.role == "system":
        return {"role": "system", "content": turn.content}
    if turn.role == "user":
        return {"role": "user", "content": turn.content}
    if turn.role == "tool":
        return {"role": "tool", "tool_call_id": turn.tool_call_id or "", "content": turn.content}
    message: ChatCompletionAssistantMessageParam = {
        "role": "assistant",
        "content": turn.content if turn.content or not turn.tool_calls else None,
    }
    if turn.tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in turn.tool_calls]
    return message


def _tool_call(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def to_tools(specs: Iterable[ToolSpec]) -> list[ChatCompletionFunctionToolParam]:
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters,
            },
        }
        for spec in specs
    ]


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)


class _ToolCallAssembler:
    """Joins streamed tool-call fragments, keyed by their ``index``.

    Some servers send several whole calls under the same index; a new ``id`` at an
    index therefore starts a new call rather than corrupting the previous one.
    """

    def __init__(self, label: str) -> None:
        self._label = label
        self._calls: list[_PartialCall] = []
        self._by_index: dict[int, _PartialCall] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, deltas: Iterable[dict[str, Any]]) -> None:
        for delta in deltas:
            index = delta.get("index")
            if index is None:
                index = len(self._calls)
            call_id = delta.get("id")
            partial = self._by_index.get(index)
            if partial is None or (call_id and partial.id and call_id != partial.id):
                partial = _PartialCall()
                self._calls.append(partial)
                self._by_index[index] = partial
            partial.id = call_id or partial.id
            function = delta.get("function")
            if function:
                partial.name = function.get("name") or partial.name
                if arguments := function.get("arguments"):
                    partial.fragments.append(arguments)

    def finish(self) -> tuple[ToolCall, ...]:
        """The assembled calls; the assembler is empty again afterwards."""
        calls, self._calls, self._by_index = self._calls, [], {}
        return tuple(self._finish_one(partial) for partial in calls)

    def _finish_one(self, partial: _PartialCall) -> ToolCall:
        text = "".join(partial.fragments).strip() or "{}"
        try:
            arguments = json.loads(text)
        except ValueError:
            arguments = None
        if not partial.name or not isinstance(arguments, dict):
            raise LLMError(
                f"{self._label}: model sent malformed tool arguments for "
                f"{partial.name or 'an unnamed tool'}: {text[:200]!r}",
                retryable=True,
            )
        call_id = partial.id or f"call_{uuid.uuid4().hex[:12]}"
        return ToolCall(id=call_id, name=partial.name, arguments=arguments)
