"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Code written for OpenAI talks to chatorch unchanged (docs/openai.md). A completion is
an ordinary message of the caller: the request's conversation is matched to the chat
it continues, or stored as a new one (``services/threads.py``); its last user message
goes through the ``RequestProcessor`` like any other, and the answer's events on the
bus become ``chat.completion.chunk`` objects — or, collected, one ``chat.completion``.
Errors on these routes take OpenAI's shape, ``{"error": {"message", "type", "code"}}``,
so the official SDKs raise their own exceptions; the rest of the API keeps RFC 9457.
"""

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal
from uuid import UUID

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response, StreamingResponse

from chatorch.api import direct, problems
from chatorch.api.answers import AnswerFailed, answer_events
from chatorch.api.deps import OPENAI_PATHS, container_of, current_user
from chatorch.api.detach import until_disconnect
from chatorch.container import Container
from chatorch.domain.entities import Chat, User
from chatorch.domain.errors import (
    ChatorchError,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from chatorch.domain.events import EventKind, StreamEvent
from chatorch.pipeline.cancel import cancel_answer
from chatorch.pipeline.request import title_from
from chatorch.services.threads import Conversation, Threads, conversation, imported_turns

MODEL = "chatorch"
MODELS_PATH = "/v1/models"
COMPLETIONS_PATH = "/v1/chat/completions"
PATHS = OPENAI_PATHS
CHAT_HEADER = "X-Chatorch-Chat-Id"
_STARTED = int(time.time())  # the model's "created": when this process started

router = direct.router(tags=["openai"])
log = structlog.get_logger(__name__)


class ModelNotFound(NotFound):
    code = "model_not_found"


# ---- errors -------------------------------------------------------------------------


def error_response(error: ChatorchError) -> Response:
    """``error`` as OpenAI answers it: 422 becomes its 400, the rest keep their status."""
    status = 400 if error.status == 422 else error.status
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(max(1, round(error.retry_after_seconds + 0.49)))
    elif isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="chatorch"'
    code = error.reason if isinstance(error, AnswerFailed) else error.code
    body = {"error": _error_body(error.detail, code, status)}
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _error_body(message: str, code: str, status: int) -> dict[str, Any]:
    if status == 401:
        kind, code = "invalid_request_error", "invalid_api_key"
    elif status == 429:
        kind, code = "requests", "rate_limit_exceeded"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    return {"message": message, "type": kind, "param": None, "code": code}


async def render_error(request: Request, error: Exception) -> Response:
    """An error as these routes answer it, and as a problem anywhere else (for
    ``AuthenticateFirst``, which refuses before any route runs)."""
    if request.url.path in PATHS and isinstance(error, ChatorchError):
        return error_response(error)
    return await problems.render_error(request, error)


def _openai_errors(endpoint: direct.Endpoint) -> direct.Endpoint:
    @functools.wraps(endpoint)
    async def answered(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ChatorchError as error:
            return error_response(error)
        except RequestValidationError as error:
            detail = "; ".join(_said(each) for each in error.errors())
            return error_response(InvalidInput(detail))

    return answered


def _said(error: Any) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {error.get('msg', 'invalid')}"


# ---- bodies ---------------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, … are accepted, unused
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.type != "text" or part.text is None:
                raise InvalidInput(f"a {part.type!r} content part: only text is supported")
            parts.append(part.text)
        return "\n".join(parts)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class CompletionRequest(BaseModel):
    """OpenAI's request; sampling options (temperature, max_tokens, …) are accepted and
    left to chatorch's own settings."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description=f"{MODEL!r}, the one model GET /v1/models lists")
    messages: list[ChatMessage] = Field(json_schema_extra={"minItems": 1})
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(1, description="only 1", json_schema_extra={"minimum": 1, "maximum": 1})


def _inlined(extra: dict[str, Any]) -> dict[str, Any]:
    """The body's schema with its ``$defs`` in place: a ``#/$defs/…`` reference means
    nothing inside the OpenAPI document, where the schema is not the root."""
    schema = extra["requestBody"]["content"]["application/json"]["schema"]
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(each) for each in node]
        return node

    extra["requestBody"]["content"]["application/json"]["schema"] = inline(schema)
    return extra


# ---- routes ---------------------------------------------------------------------------


@router.get(MODELS_PATH, responses={200: {"description": "the models a completion may name"}})
@_openai_errors
async def list_models(request: Request) -> Response:
    """The models: ``chatorch``, which answers with chatorch's pipeline and settings."""
    await current_user(request)
    model = {"id": MODEL, "object": "model", "created": _STARTED, "owned_by": "chatorch"}
    body = {"object": "list", "data": [model]}
    return Response(orjson.dumps(body), media_type="application/json")


@router.post(
    COMPLETIONS_PATH,
    responses={
        200: {
            "description": "a chat.completion, or with stream a text/event-stream of chunks",
            "content": {"text/event-stream": {}},
        }
    },
    openapi_extra=_inlined(direct.documented(body=CompletionRequest)),
)
@_openai_errors
async def create_completion(request: Request) -> Response:
    """Answer the conversation in ``messages``, stored as a chat of the caller (named in
    ``X-Chatorch-Chat-Id``), as a ``chat.completion`` or a stream of chunks."""
    user = await current_user(request)
    c = container_of(request)
    body = direct.required(await direct.body(request, CompletionRequest))
    if body.model != MODEL:
        raise ModelNotFound(f"the model {body.model!r} does not exist; use {MODEL!r}")
    if body.n not in (None, 1):
        raise InvalidInput("n: only one choice (n=1) is supported")
    asked = conversation([(message.role, message.text()) for message in body.messages])
    threads = Threads(c.store)
    chat_id = await threads.find(user, asked)
    new_chat = None
    if chat_id is None:
        new_chat = Chat(owner_id=user.id, title=title_from(asked.title))
        chat_id = new_chat.id
    submission = await c.processor.submit(
        user,
        chat_id,
        asked.question,
        metadata=_metadata(asked),
        new_chat=new_chat,
        history=imported_turns(chat_id, asked.earlier) if new_chat is not None else (),
    )
    question = submission.message
    await threads.remember(user, asked, question)
    events = answer_events(c, question)
    completion = _Completion(
        f"chatcmpl-{question.response_id.hex}", int(question.created_at.timestamp())
    )
    headers = {CHAT_HEADER: str(chat_id)}
    abandon = functools.partial(_abandon, c, user, chat_id, question.response_id)
    if body.stream:
        usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(
            _stopped_if_left(completion.chunks(events, usage=usage), abandon),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await _collected_unless_left(request, completion.collect(events), abandon)
    if answer is None:  # nginx's "client closed request": for the metrics, no one reads it
        return Response(status_code=499)
    return Response(orjson.dumps(answer), headers=headers, media_type="application/json")


async def _collected_unless_left(
    request: Request, collecting: Awaitable[dict[str, Any]], abandon: Callable[[], None]
) -> dict[str, Any] | None:
    """The whole answer — or None when the client leaves first (a timeout), and then the
    answer is stopped."""
    collect = asyncio.ensure_future(collecting)
    left = asyncio.ensure_future(until_disconnect(request.receive))
    try:
        await asyncio.wait((collect, left), return_when=asyncio.FIRST_COMPLETED)
    finally:
        left.cancel()
        if not collect.done():
            collect.cancel()
            abandon()
    return collect.result() if collect.done() and not collect.cancelled() else None


async def _stopped_if_left(
    chunks: AsyncIterator[bytes], abandon: Callable[[], None]
) -> AsyncIterator[bytes]:
    """The chunks; when the client leaves before the last one, its answer is stopped."""
    ended = False
    try:
        async for chunk in chunks:
            yield chunk
        ended = True
    finally:
        if not ended:
            abandon()


_abandoning: set[asyncio.Task[None]] = set()  # held until done: the loop keeps weak refs


def _abandon(c: Container, user: User, chat_id: UUID, response_id: UUID) -> None:
    """OpenAI stops generating when its client goes away, and so does chatorch: the
    answer is cancelled, its partial text stored. A task of its own, because the
    request's task is being cancelled and can await nothing more."""

    async def cancel() -> None:
        try:
            await cancel_answer(c.store, c.bus, user, chat_id, response_id)
        except ChatorchError as error:  # the chat was deleted meanwhile, the store is down
            log.info("openai.abandon_failed", response_id=str(response_id), detail=error.detail)

    task = asyncio.get_running_loop().create_task(cancel())
    _abandoning.add(task)
    task.add_done_callback(_abandoning.discard)


def _metadata(asked: Conversation) -> dict[str, Any]:
    metadata: dict[str, Any] = {"via": "openai"}
    if asked.instructions:
        metadata["instructions"] = asked.instructions  # read into the system prompt
    return metadata


# ---- answers as OpenAI objects --------------------------------------------------------


class _Completion:
    """One completion's objects, from its answer's events."""

    def __init__(self, completion_id: str, created: int) -> None:
        self._id, self._created = completion_id, created

    def _object(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": kind,
            "created": self._created,
            "model": MODEL,
            "system_fingerprint": None,
            **fields,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _data(self._object("chat.completion.chunk", choices=[choice]))

    async def collect(self, events: AsyncIterator[StreamEvent]) -> dict[str, Any]:
        text = _Text()
        async for event in events:
            if event.kind is EventKind.ERROR:
                raise AnswerFailed(event.data)
            if event.kind is EventKind.RESET:
                text.reset()
            elif event.kind is EventKind.TOKEN:
                text.take(event.data["text"])
            elif event.kind is EventKind.DONE:
                text.settle(event)
                message = {"role": "assistant", "content": text.full, "refusal": None}
                choice = {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _finish(event),
                }
                return self._object("chat.completion", choices=[choice], usage=_usage(event))
        raise AnswerFailed({"code": "stream_ended", "detail": "the answer's stream ended early"})

    async def chunks(
        self, events: AsyncIterator[StreamEvent], *, usage: bool
    ) -> AsyncIterator[bytes]:
        """The answer as chunks; a failure, even of the bus or the store midway, ends
        them with an error chunk, as OpenAI ends a stream that fails."""
        yield self._chunk({"role": "assistant", "content": ""})
        text = _Text()
        try:
            async for event in events:
                if event.kind is EventKind.ERROR:
                    raise AnswerFailed(event.data)
                if event.kind is EventKind.RESET:
                    text.reset()
                elif event.kind is EventKind.TOKEN:
                    if fresh := text.take(event.data["text"]):
                        yield self._chunk({"content": fresh})
                elif event.kind is EventKind.DONE:
                    if fresh := text.settle(event):
                        yield self._chunk({"content": fresh})
                    yield self._chunk({}, _finish(event))
                    if usage:
                        end = self._object("chat.completion.chunk", choices=[], usage=_usage(event))
                        yield _data(end)
                    yield b"data: [DONE]\n\n"
                    return
        except ChatorchError as error:
            code = error.reason if isinstance(error, AnswerFailed) else error.code
            yield _data({"error": _error_body(error.detail, code, error.status)})


class _Text:
    """An answer's text as a client of chunks sees it: it cannot take back what it was
    sent, so after a ``reset`` (a new attempt, a fallback) the new text is sent from
    where the old one stopped — in full when they agree, which a retry mostly does."""

    def __init__(self) -> None:
        self.full = ""  # the current attempt's text
        self._sent = 0  # characters the client has

    def reset(self) -> None:
        self.full = ""

    def take(self, text: str) -> str:
        """Add a token; what the client has yet to see."""
        self.full += text
        if len(self.full) <= self._sent:
            return ""
        fresh = self.full[self._sent :]
        self._sent = len(self.full)
        return fresh

    def settle(self, done: StreamEvent) -> str:
        """Take the stored text a ``done`` made from the stored answer carries (its
        tokens never came); what the client has yet to see."""
        stored = done.data.get("content")
        if not isinstance(stored, str) or not stored.startswith(self.full):
            return ""
        return self.take(stored[len(self.full) :])


def _finish(event: StreamEvent) -> str:
    """OpenAI's finish_reason: a cancelled answer stopped too."""
    reason = event.data.get("finish_reason")
    return reason if reason in ("stop", "length") else "stop"


def _usage(event: StreamEvent) -> dict[str, int]:
    given = event.data.get("usage") or {}
    prompt, completion = int(given.get("prompt_tokens", 0)), int(given.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


# ---- the OpenAPI document -------------------------------------------------------------


def document(app: FastAPI) -> None:
    """Say in the OpenAPI schema that these routes' errors are OpenAI's JSON errors, not
    problems (``problems.document`` says problems for every ``/v1`` route)."""
    generate = app.openapi
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    }

    def openapi() -> dict[str, Any]:
        schema = generate()
        for path in PATHS:
            for operation in schema.get("paths", {}).get(path, {}).values():
                for status, response in operation.get("responses", {}).items():
                    if status.startswith(("4", "5")):
                        response["content"] = {"application/json": {"schema": error}}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
