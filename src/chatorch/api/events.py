"""The SSE event stream of a chat (ARCHITECTURE §5).

``?response_id=`` scopes the stream to one response: it replays that response from
its first event — even one that already finished — and ends after its ``done`` or
``error``. Without it the stream follows the whole chat live until the client leaves.
``Last-Event-ID`` (header, or ``last_event_id`` query for clients that cannot set
headers) resumes after that event, with nothing repeated and nothing skipped.
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from uuid import UUID

import orjson
import structlog
from fastapi import Request
from pydantic import BaseModel, Field

from chatorch import tracing
from chatorch.api import direct
from chatorch.api.deps import container_of, streaming_user
from chatorch.api.detach import DetachedStream, Last
from chatorch.api.messages import ChatPath
from chatorch.api.ordering import Sequencer
from chatorch.api.presence import Presence
from chatorch.container import Container
from chatorch.domain.entities import Connection, Message, Status
from chatorch.domain.errors import InvalidInput, NotFound, RateLimited
from chatorch.domain.events import Cursor, EventKind, StreamEvent
from chatorch.pipeline.request import owned
from chatorch.ports.bus import Subscription

log = structlog.get_logger(__name__)
direct_router = direct.router(tags=["events"])

_HEX = "[0-9a-fA-F]"
# An event id, or nothing: an empty Last-Event-ID is the same as none.
EVENT_ID = rf"^(?:{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}:[0-9]{{1,12}})?$"
RETRY_MS = 1_000  # what EventSource waits before reconnecting
STREAM_CAP_RETRY = 5.0  # s a client over its stream cap is told to wait
CLOSING_GRACE = 0.05  # s an admission over the cap waits for streams still closing
_PING = b": ping\n\n"


class StreamHub:
    """This process's open event streams, so a stopping gateway can end them at once.

    Each stream's wait for its next event is an ``asyncio.Timeout``; ``drain`` moves every
    deadline to now, and the streams end — the client reconnects (``retry:``) through the
    load balancer to another gateway and resumes with ``Last-Event-ID``.
    """

    def __init__(self) -> None:
        self.draining = False
        self._open: set[_Open] = set()
        self._per_user: Counter[UUID] = Counter()

    async def admit(self, user_id: UUID, *, cap: int) -> None:
        """Refuse a user one more stream than ``cap`` on this gateway.

        A stream whose client has just left is still being closed for a few turns of
        the loop; a client that closes one stream and opens the next at once (a page
        reload) waits that moment rather than being refused.
        """
        if self._per_user[user_id] >= cap:
            await asyncio.sleep(CLOSING_GRACE)
        if self._per_user[user_id] >= cap:
            raise RateLimited(
                f"you have {cap} event streams open here already; close one first",
                retry_after=STREAM_CAP_RETRY,
            )

    def open(self, chat_id: UUID, user_id: UUID) -> "_Open":
        """Count a stream in; ``close`` it when it ends (a plain pair, not a context
        manager: an idle stream holds what it awaits in, for hours)."""
        stream = _Open(chat_id, user_id)
        self._open.add(stream)
        self._per_user[user_id] += 1
        return stream

    def close(self, stream: "_Open") -> None:
        self._open.discard(stream)
        self._per_user[stream.user_id] -= 1
        if not self._per_user[stream.user_id]:
            del self._per_user[stream.user_id]

    def drain(self) -> None:
        self.draining = True
        now = asyncio.get_running_loop().time()
        for stream in self._open:
            if stream.wait is not None:  # waiting now; the others see `draining` next
                stream.wait.reschedule(now)


class _Open:
    __slots__ = ("chat_id", "ping", "user_id", "wait")

    def __init__(self, chat_id: UUID, user_id: UUID) -> None:
        self.chat_id = chat_id
        self.user_id = user_id
        self.wait: asyncio.Timeout | None = None  # the pending wait for the next event
        self.ping = False  # the last wait ended idle: send a heartbeat comment


def frame(event: StreamEvent) -> bytes:
    """One SSE message; its id lets the client resume right after it."""
    data = orjson.dumps(event.payload())
    return b"id: %s:%d\nevent: %s\ndata: %s\n\n" % (
        str(event.response_id).encode(),
        event.seq,
        event.kind.value.encode(),
        data,
    )


class EventsQuery(BaseModel):
    response_id: UUID | None = Field(None, description="replay and follow one response")
    last_event_id: str = Field(
        "",
        pattern=EVENT_ID,
        description="resume after this event (for clients without headers)",
    )


class EventsHeaders(BaseModel):
    last_event_id: str = Field(
        "", alias="last-event-id", pattern=EVENT_ID, description="resume after this event"
    )


@direct_router.get(
    "/v1/chats/{chat_id}/events",
    response_class=DetachedStream,
    status_code=200,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
    openapi_extra=direct.documented(path=ChatPath, query=EventsQuery, header=EventsHeaders),
)
async def stream_events(request: Request) -> DetachedStream:
    user = await streaming_user(request)
    c = container_of(request)
    chat_id = direct.parameters(request, "path", ChatPath).chat_id
    query = direct.parameters(request, "query", EventsQuery)
    last_event_id = direct.parameters(request, "header", EventsHeaders).last_event_id
    response_id = query.response_id
    after = resume_cursor(last_event_id or query.last_event_id, response_id)
    turn: Sequence[Message] = []
    async with c.store.transaction(durable=False, atomic=False) as tx:
        if response_id is None:
            chat = await tx.chats.get_chat(chat_id)
        else:
            chat, turn = await tx.chats.chat_turn(chat_id, response_id)
    owned(chat, user, chat_id)
    if response_id is not None and not turn:
        raise NotFound(f"no response {response_id} in chat {chat_id}")
    stored = turn[1] if len(turn) > 1 else None
    connection = Connection(chat_id=chat_id, user_id=user.id, pod_id=c.pod_id)
    hub: StreamHub = request.app.state.streams
    await hub.admit(user.id, cap=c.settings.max_streams_per_user)
    return DetachedStream(
        _sse(c, hub, connection, after=after, only=response_id, stored=stored),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def resume_cursor(last_event_id: str | None, response_id: UUID | None) -> Cursor | None:
    if last_event_id:
        cursor = Cursor.parse(last_event_id)
        if cursor is None:
            raise InvalidInput(
                f"Last-Event-ID {last_event_id!r} is not an event id '<response_id>:<seq>'"
            )
        if response_id is not None and cursor.response_id != response_id:
            # No event of this stream could ever follow it: say so instead of waiting.
            raise NotFound(
                f"Last-Event-ID names an event of response {cursor.response_id}, which is"
                f" not in this stream of response {response_id}; drop the header, or open"
                " the chat's stream"
            )
        return cursor
    return Cursor(response_id, -1) if response_id is not None else None


async def _fill_gaps(c: Container, chat_id: UUID, sequencer: Sequencer) -> list[StreamEvent]:
    """Fetch from the event log what live delivery missed; skip what the log lacks too."""
    ready: list[StreamEvent] = []
    for before_gap in sequencer.overdue():
        found = await c.bus.logged(chat_id, before_gap.response_id, after_seq=before_gap.seq)
        for event in found:
            ready.extend(sequencer.push(event))
    return ready + sequencer.expire()


def ending(answer: Message) -> StreamEvent:
    """The last event of a stored answer, for when the event log no longer holds it."""
    if answer.status is Status.COMPLETE:
        data = {"message_id": str(answer.id), "usage": answer.metadata.get("usage", {})}
        if (finish_reason := answer.metadata.get("finish_reason")) is not None:
            data["finish_reason"] = finish_reason  # cancelled
        return StreamEvent(EventKind.DONE, answer.chat_id, answer.response_id, 0, data)
    error = answer.metadata.get("error", {"code": "failed", "detail": "the answer failed"})
    data = {**error, "message_id": str(answer.id)}
    return StreamEvent(EventKind.ERROR, answer.chat_id, answer.response_id, 0, data)


async def whole(c: Container, done: StreamEvent) -> StreamEvent:
    """``done`` with the stored answer's text as ``content``: for a stream that gave up
    on a gap (events a bus outage lost), so its client shows the answer without a hole."""
    async with c.store.transaction(durable=False) as tx:
        answer = await tx.chats.get_message(UUID(done.data["message_id"]))
    if answer is None:  # erased meanwhile
        return done
    data = {**done.data, "content": answer.content}
    return StreamEvent(done.kind, done.chat_id, done.response_id, done.seq, data)


async def _sse(
    c: Container,
    hub: StreamHub,
    connection: Connection,
    *,
    after: Cursor | None,
    only: UUID | None,
    stored: Message | None,
) -> AsyncIterator[bytes]:
    """One client's stream: registered once it has been open a moment (``presence``),
    ended early when the gateway drains.

    What is ready goes out as one chunk. A chat's stream opens with ``retry:`` at once,
    its sign of life; a response's stream sends it with its first events, one write
    fewer, as does its last event with the end of the body (``Last``).
    """
    presence = Presence(c, connection)
    c.metrics.streams_open.inc()
    opening = b"retry: %d\n\n" % RETRY_MS
    try:
        if only is None:
            yield opening
            opening = b""
        stream = hub.open(connection.chat_id, connection.user_id)
        try:
            async with c.bus.subscribe(connection.chat_id, after=after) as events:
                if stored is not None:
                    ending = await _ending_of_answered(c, stored, after)
                    if ending is not None:
                        yield Last(opening + b"".join(ending))
                        return
                sequencer = Sequencer(after=after)
                links = tracing.StreamLinks()  # the stream's span → each turn's trace
                while not hub.draining:
                    frames = [opening] if opening else []
                    ended = False
                    for item in await next_ready(c, stream, events, sequencer):
                        if only is not None and item.response_id != only:
                            continue
                        if item.kind is EventKind.DONE and sequencer.skipped(item.response_id):
                            item = await whole(c, item)
                        links.see(item.response_id)
                        frames.append(frame(item))
                        if only is not None and item.terminal:
                            ended = True
                            break
                    if ended:
                        yield Last(b"".join(frames))
                        return
                    if stream.ping:
                        stream.ping = False
                        frames.append(_PING)
                    if frames:
                        yield b"".join(frames)
                        opening = b""
        finally:
            hub.close(stream)
    except StopAsyncIteration:
        return  # the bus cut us off: the client reconnects with Last-Event-ID
    finally:
        c.metrics.streams_open.dec()
        await presence.end()


async def _ending_of_answered(
    c: Container, stored: Message, after: Cursor | None
) -> list[bytes] | None:
    """For an answered response: what is left to send before the stream ends.

    None while the log still holds events the client lacks (stream them as usual); no
    frames when the client has the last one; a made-up last event when the log aged out
    or died with its process.
    """
    logged = await c.bus.last_seq(stored.chat_id, stored.response_id)
    if logged < 0:
        return [frame(ending(stored))]
    if after is not None and after.response_id == stored.response_id and after.seq >= logged:
        return []
    return None


async def next_ready(
    c: Container, stream: "_Open", events: Subscription, sequencer: Sequencer
) -> list[StreamEvent]:
    """Wait for the next event (or a gap's deadline, or the heartbeat); return it and
    every other event that has arrived meanwhile, in order."""
    deadline = sequencer.next_deadline()
    if deadline is None:
        wait = c.settings.heartbeat_seconds
    else:
        wait = max(0.0, deadline - time.monotonic())
    try:
        async with asyncio.timeout(wait) as stream.wait:
            event = await anext(events)
    except TimeoutError:
        stream.ping = deadline is None
        return await _fill_gaps(c, stream.chat_id, sequencer)
    finally:
        stream.wait = None  # only a wait in progress may be cut short by a drain
    ready = sequencer.push(event)
    for more in events.ready():
        ready.extend(sequencer.push(more))
    return ready
