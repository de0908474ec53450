"""The WebSocket of a chat (docs/streaming.md, "WebSocket").

The server sends what the SSE stream sends — every event of the chat, live, in order,
gaps filled from the event log — one JSON text frame each:
``{"event": "token"|"step"|"reset"|"done"|"error", "id": "<response_id>:<seq>", "data"}``.
The client sends ``message``, ``resume`` and ``cancel`` frames; each is answered with an
``accepted`` frame, or an ``error`` frame (``id`` null, ``data`` a problem) that leaves
the socket open. A client that falls ``SEND_QUEUE`` frames behind is closed with 1013
(it reconnects and resumes), so a slow reader never grows the server's memory.
"""

import asyncio
import contextlib
from collections import deque
from typing import Annotated, Any, Literal, cast
from uuid import UUID

import orjson
import structlog
from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.websockets import WebSocketDisconnect, WebSocketState

from chatorch.api import problems
from chatorch.api.deps import authenticate, container_of
from chatorch.api.events import (
    EVENT_ID,
    StreamHub,
    ending,
    next_ready,
    whole,
)
from chatorch.api.events import resume_cursor as cursor_of
from chatorch.api.messages import MAX_KEY_CHARS
from chatorch.api.ordering import Sequencer
from chatorch.api.presence import Presence
from chatorch.api.schemas import MessageOut, NewMessage
from chatorch.container import Container
from chatorch.domain.entities import Connection, Message, User
from chatorch.domain.errors import ChatorchError, InvalidInput, NotFound
from chatorch.domain.events import Cursor, EventKind, StreamEvent
from chatorch.pipeline.cancel import cancel_answer
from chatorch.pipeline.request import owned, owned_chat

log = structlog.get_logger(__name__)
router = APIRouter(tags=["events"])

SEND_QUEUE = 256  # frames a client may be behind before it is disconnected
TOO_SLOW = 1013  # close code "try again later": reconnect, then resume
RESTARTING = 1012  # close code "service restart": the gateway drains; reconnect elsewhere
# What sending to or reading from a client that has left raises.
_GONE = (WebSocketDisconnect, OSError)


class SendMessage(NewMessage):
    type: Literal["message"]
    idempotency_key: str | None = Field(None, min_length=1, max_length=MAX_KEY_CHARS)


class Resume(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["resume"]
    response_id: UUID
    last_event_id: str = Field("", pattern=EVENT_ID)


class Cancel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["cancel"]
    response_id: UUID


ClientFrame = Annotated[SendMessage | Resume | Cancel, Field(discriminator="type")]
_CLIENT_FRAME: TypeAdapter[SendMessage | Resume | Cancel] = TypeAdapter(ClientFrame)


@router.websocket("/v1/chats/{chat_id}/ws")
async def chat_socket(websocket: WebSocket, chat_id: UUID) -> None:
    """Authenticated as the SSE stream is (``Authorization`` or ``?access_token=``); a
    refusal is an HTTP problem (401, 404, 429) before the upgrade."""
    # What authenticates and renders problems reads only what a WebSocket has too: its
    # headers, query, client, app and state.
    request = cast(Request, websocket)
    c = container_of(request)
    hub: StreamHub = websocket.app.state.streams
    try:
        user = (await authenticate(request, token_in_query=True)).user
        async with c.store.transaction() as tx:
            await owned_chat(tx, user, chat_id)
        await hub.admit(user.id, cap=c.settings.max_streams_per_user)
    except ChatorchError as error:
        try:
            await websocket.send_denial_response(await problems.render_error(request, error))
        except RuntimeError:  # a server without the denial extension: a bare refusal
            await websocket.close(1008)
        return
    await websocket.accept()
    await _Socket(websocket, c, hub, user, chat_id).run()


class Outbox:
    """The frames waiting for a client, at most ``bound``."""

    def __init__(self, bound: int) -> None:
        self._frames: deque[tuple[bool, str]] = deque()  # (is an event, frame)
        self._bound = bound
        self._ready = asyncio.Event()
        self.overflowed = False

    def put(self, frame: str, *, event: bool) -> bool:
        """Queue ``frame``; False (and ``overflowed``) when the client is ``bound`` behind."""
        if len(self._frames) >= self._bound:
            self.overflowed = True
            return False
        self._frames.append((event, frame))
        self._ready.set()
        return True

    def drop_events(self) -> None:
        """Forget the events not yet sent (a resume sends them again); keep replies."""
        self._frames = deque(item for item in self._frames if not item[0])

    async def take(self) -> str:
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        return self._frames.popleft()[1]

    def __len__(self) -> int:
        return len(self._frames)


class _Socket:
    def __init__(
        self, websocket: WebSocket, c: Container, hub: StreamHub, user: User, chat_id: UUID
    ) -> None:
        self._ws, self._c, self._hub = websocket, c, hub
        self._user, self._chat_id = user, chat_id
        self._out = Outbox(SEND_QUEUE)
        self._closing: tuple[int, str] | None = None
        self._closed = asyncio.Event()
        self._follow: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Serve the socket until the client leaves or the server closes it."""
        c = self._c
        connection = Connection(chat_id=self._chat_id, user_id=self._user.id, pod_id=c.pod_id)
        presence = Presence(c, connection)
        c.metrics.streams_open.inc()
        self._stream = self._hub.open(self._chat_id, self._user.id)
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._write()),
            asyncio.create_task(self._closed.wait()),
        ]
        self._restart(after=None, stored=None)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self._follow is not None:
                tasks.append(self._follow)
            for task in tasks:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, Exception) and not isinstance(outcome, _GONE):
                    log.error("ws.failed", error=repr(outcome))
            self._hub.close(self._stream)
            c.metrics.streams_open.dec()
            await presence.end()
        if self._closing is not None and self._ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(*_GONE):  # the client may have left meanwhile
                await self._ws.close(*self._closing)

    def _close(self, code: int, reason: str) -> None:
        if self._closing is None:
            self._closing = (code, reason)
            self._closed.set()

    def _send(self, frame: dict[str, Any], *, event: bool = False) -> None:
        if not self._out.put(orjson.dumps(frame).decode(), event=event):
            log.warning("ws.client_too_slow", behind=len(self._out))
            self._close(TOO_SLOW, f"over {SEND_QUEUE} frames behind; reconnect and resume")

    async def _write(self) -> None:
        while True:
            await self._ws.send_text(await self._out.take())

    async def _read(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            try:
                if text is None:
                    raise InvalidInput("send each frame as JSON text, not binary")
                try:
                    frame = _CLIENT_FRAME.validate_json(text)
                except ValidationError as error:
                    raise InvalidInput(_describe(error)) from None
                await self._handle(frame)
            except ChatorchError as error:
                self._send({"event": "error", "id": None, "data": _problem(error)})

    async def _handle(self, frame: SendMessage | Resume | Cancel) -> None:
        c, user, chat_id = self._c, self._user, self._chat_id
        if isinstance(frame, SendMessage):
            submission = await c.processor.submit(
                user,
                chat_id,
                frame.content,
                idempotency_key=frame.idempotency_key,
                file_ids=frame.file_ids,
            )
            message = submission.message
            data = {
                "type": "message",
                "message": MessageOut.of(message).model_dump(mode="json"),
                "response_id": str(message.response_id),
                "replayed": submission.replayed,
            }
        elif isinstance(frame, Cancel):
            stopping = await cancel_answer(c.store, c.bus, user, chat_id, frame.response_id)
            state = "cancelling" if stopping else "finished"
            data = {"type": "cancel", "response_id": str(frame.response_id), "state": state}
        else:
            after = cursor_of(frame.last_event_id, frame.response_id)
            async with c.store.transaction() as tx:
                chat, turn = await tx.chats.chat_turn(chat_id, frame.response_id)
            owned(chat, user, chat_id)
            if not turn:
                raise NotFound(f"no response {frame.response_id} in chat {chat_id}")
            self._out.drop_events()
            self._restart(after=after, stored=turn[1] if len(turn) > 1 else None)
            data = {"type": "resume", "response_id": str(frame.response_id)}
        self._send({"event": "accepted", "id": None, "data": data})

    def _restart(self, *, after: Cursor | None, stored: Message | None) -> None:
        """Follow the chat's events (again), from after ``after``."""
        if self._follow is not None:
            self._follow.cancel()  # a wait for the next event may be cancelled: none is lost
        self._follow = asyncio.create_task(self._follow_chat(after, stored))

    async def _follow_chat(self, after: Cursor | None, stored: Message | None) -> None:
        c, stream = self._c, self._stream
        try:
            async with c.bus.subscribe(self._chat_id, after=after) as events:
                if (
                    stored is not None
                    and await c.bus.last_seq(self._chat_id, stored.response_id) < 0
                ):
                    self._send(_event(ending(stored)), event=True)  # the log aged out
                sequencer = Sequencer(after=after)
                while not self._hub.draining:
                    for item in await next_ready(c, stream, events, sequencer):
                        if item.kind is EventKind.DONE and sequencer.skipped(item.response_id):
                            item = await whole(c, item)
                        self._send(_event(item), event=True)
                    stream.ping = False  # the protocol's own pings keep a socket alive
        except StopAsyncIteration:  # the bus cut this subscriber off: too far behind
            self._close(TOO_SLOW, "fell behind the chat's events; reconnect and resume")
            return
        self._close(RESTARTING, "this server is restarting; reconnect and resume")


def _event(event: StreamEvent) -> dict[str, Any]:
    return {
        "event": event.kind.value,
        "id": f"{event.response_id}:{event.seq}",
        "data": event.payload(),
    }


def _problem(error: ChatorchError) -> dict[str, Any]:
    return {
        "type": f"urn:chatorch:problem:{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "frame"
    return f"a frame must be a message, resume or cancel object; {where}: {first['msg']}"
