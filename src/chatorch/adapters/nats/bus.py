"""NatsBus: work on a JetStream work queue, events on a JetStream-logged subject tree.

* Work: stream ``<ns>_work`` (work-queue retention) on ``<ns>.work``; one durable pull
  consumer ``<ns>_workers`` shared by every worker. ``Nats-Msg-Id`` is the message id,
  so a repeated publish inside the duplicate window is dropped by the server.
* Events: stream ``<ns>_events`` (bounded age and size) on
  ``<ns>.events.<chat_id>.<response_id>``. Live subscribers share one subscription per
  process on ``<ns>.events.>`` that fans events out to the streams open on each chat
  (``adapters/fanout.py``): an idle stream then costs a mailbox, not a subscription and
  a waiting task of its own — every gateway receives every chat's events, which it
  drops unless a stream of its own follows that chat. A resuming subscriber uses an
  ordered consumer that replays the log and then follows it live.
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError, MsgAlreadyAckdError, NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import (
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError

from chatorch import tracing
from chatorch.adapters.fanout import Fanout
from chatorch.adapters.nats.pull import ConsumerGone, WorkPull
from chatorch.adapters.nats.watch import ConnectionWatch
from chatorch.domain.errors import BusUnavailable
from chatorch.domain.events import Cursor, StreamEvent, WorkItem
from chatorch.ports import bus as port

log = structlog.get_logger(__name__)

MAX_DELIVER = 50  # deliveries of one item, in-progress signals excluded
CONNECT_WAIT = 5.0  # s for the first connection at start
RECONNECT_WAIT = 0.5  # s between attempts to reach a server that went away
DUPLICATE_WINDOW = 120.0  # s a repeated publish of one message id is dropped
EVENT_LOG_BYTES = 1 << 30  # the event log's size bound
PUBLISH_WAIT = 2.0  # s for JetStream to confirm a work item before we call it lost
LOG_READ_WAIT = 1.0  # s to wait for the log's first event of a response
# Work items asked for at once: under load a request per eight items, not one per
# item; the runner starts each on arrival (adapters/nats/pull.py).
PULL_BATCH = 16
LIVE_BACKLOG = 10_000  # events a slow live subscriber may lag before it is cut off
FANOUT_BACKLOG = 1_000_000  # events the process's live subscription may hold unrouted
FANOUT_BACKLOG_BYTES = 1 << 30
# The last token of a chat's end-of-log marker, where a response id stands otherwise:
# logged after its events are purged, it ends every stream on the chat, live or replayed.
FORGOTTEN = "forgotten"
FORGET_AT_ONCE = 32  # chats purged concurrently while forgetting many


@dataclass(frozen=True, slots=True)
class Names:
    namespace: str

    @property
    def work_stream(self) -> str:
        return f"{self.namespace}_work"

    @property
    def work_subject(self) -> str:
        return f"{self.namespace}.work"

    @property
    def workers(self) -> str:
        return f"{self.namespace}_workers"

    @property
    def event_stream(self) -> str:
        return f"{self.namespace}_events"

    def events(self, chat_id: UUID | str, response_id: UUID | str = "*") -> str:
        return f"{self.namespace}.events.{chat_id}.{response_id}"

    @property
    def announcements(self) -> str:
        return f"{self.namespace}.announce"

    @property
    def all_events(self) -> str:
        return f"{self.namespace}.events.>"


class _NatsDelivery:
    __slots__ = ("_max_deliver", "_msg", "item", "trace_carrier")

    def __init__(self, msg: Msg, *, max_deliver: int) -> None:
        self._msg = msg
        self._max_deliver = max_deliver
        self.item = WorkItem.from_json(msg.data)
        self.trace_carrier = msg.headers  # traceparent, tracestate: chatorch.tracing

    @property
    def delivery_count(self) -> int:
        return int(self._msg.metadata.num_delivered)

    @property
    def final(self) -> bool:
        return self.delivery_count >= self._max_deliver

    async def ack(self) -> None:
        with contextlib.suppress(MsgAlreadyAckdError):  # settled once; later calls are moot
            await self._msg.ack()

    async def nak(self, *, delay: float = 0.0) -> None:
        with contextlib.suppress(MsgAlreadyAckdError):
            await self._msg.nak(delay=delay or None)

    async def in_progress(self) -> None:
        with contextlib.suppress(MsgAlreadyAckdError):
            await self._msg.in_progress()


class NatsBus:
    def __init__(
        self,
        client: Client,
        names: Names,
        *,
        log_seconds: float,
        ack_wait: float,
        max_deliver: int = MAX_DELIVER,
    ) -> None:
        self._nc = client
        self._js = client.jetstream()
        self._names = names
        self._log_seconds = log_seconds
        self._ack_wait = ack_wait
        self._max_deliver = max_deliver
        self._watch = ConnectionWatch()
        self._live: Fanout[str] = Fanout(limit=LIVE_BACKLOG)
        self._live_subscription: Subscription | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._announcements: Subscription | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        namespace: str,
        log_seconds: float,
        ack_wait: float = 3.0,
        max_deliver: int = MAX_DELIVER,
        name: str = "chatorch",
    ) -> "NatsBus":
        """Connect and make sure the streams exist as configured.

        ``ack_wait`` (s) is how long a silent worker keeps an item before the item goes
        to another worker; a working one signals progress well within it.
        """
        watch = ConnectionWatch()
        try:
            # Retrying forever rides out a NATS restart later on; the first connection
            # gets CONNECT_WAIT, so a wrong URL fails the start instead of hanging it.
            # Until it is made, ``watch`` keeps the attempts' errors to itself: the start
            # succeeds, or fails once, saying why.
            client = await asyncio.wait_for(
                nats.connect(
                    url,
                    name=name,
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=RECONNECT_WAIT,
                    allow_reconnect=True,
                    error_cb=watch.error,
                    disconnected_cb=watch.disconnected,
                    reconnected_cb=watch.reconnected,
                ),
                CONNECT_WAIT,
            )
        except (NoServersError, OSError, TimeoutError) as error:
            reason = watch.last_error or error
            said = str(reason) or "no answer"
            raise BusUnavailable(
                f"cannot connect to NATS at {url}: {said} (tried for {CONNECT_WAIT:g} s)"
            ) from error
        watch.connected = True
        bus = cls(
            client,
            Names(namespace),
            log_seconds=log_seconds,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
        )
        bus._watch = watch
        await bus._ensure_streams()
        # Core NATS, not JetStream: every process hears an announcement, none keeps it.
        bus._announcements = await client.subscribe(bus._names.announcements, cb=bus._announced)
        return bus

    @property
    def client(self) -> Client:
        return self._nc

    async def _ensure_streams(self) -> None:
        names = self._names
        await self._ensure_stream(
            StreamConfig(
                name=names.work_stream,
                subjects=[names.work_subject],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW,
            )
        )
        await self._ensure_stream(
            StreamConfig(
                name=names.event_stream,
                subjects=[names.events("*", "*")],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=self._log_seconds,
                max_bytes=EVENT_LOG_BYTES,
                discard=DiscardPolicy.OLD,
                allow_direct=True,
            )
        )

    async def _ensure_stream(self, config: StreamConfig) -> None:
        try:
            await self._js.add_stream(config)
        except BadRequestError:  # it exists with another configuration: bring it in line
            await self._js.update_stream(config)

    async def enqueue(self, item: WorkItem) -> None:
        if not self._nc.is_connected:  # reconnecting: fail now rather than after a timeout
            raise BusUnavailable("NATS is not connected")
        headers = {"Nats-Msg-Id": str(item.message_id), **tracing.carrier()}
        try:
            await self._js.publish(
                self._names.work_subject, item.to_json(), headers=headers, timeout=PUBLISH_WAIT
            )
        except (NatsTimeout, ConnectionClosedError, OSError, nats.errors.Error) as error:
            raise BusUnavailable(f"NATS did not take the work item: {error!r}") from error

    async def deliveries(
        self, room: Callable[[], int] | None = None
    ) -> AsyncGenerator[_NatsDelivery, None]:
        while not self._nc.is_closed:
            pull = await self._pull(room or (lambda: PULL_BATCH))
            try:
                while True:
                    try:
                        message = await pull.next()
                    except ConnectionClosedError:
                        return
                    except ConsumerGone:  # deleted by hand, or with NATS's state: made again
                        log.warning("nats.consumer_gone", consumer=self._names.workers)
                        break
                    yield _NatsDelivery(message, max_deliver=self._max_deliver)
            finally:
                await pull.close()  # what came and was not yielded goes back

    async def _pull(self, room: Callable[[], int]) -> WorkPull:
        """The workers' consumer, made or brought in line, and this worker's pull on it."""
        names = self._names
        config = ConsumerConfig(
            durable_name=names.workers,
            filter_subject=names.work_subject,
            ack_wait=self._ack_wait,
            max_deliver=self._max_deliver,
            max_ack_pending=10_000,
        )
        await self._js.add_consumer(names.work_stream, config)  # creates, or updates in place
        pull = WorkPull(
            self._nc,
            stream=names.work_stream,
            consumer=names.workers,
            batch=PULL_BATCH,
            room=room,
            hold=self._ack_wait / 2,  # the runner's first sign of life comes at a third
        )
        await pull.open()
        return pull

    async def publish(self, event: StreamEvent) -> None:
        subject = self._names.events(event.chat_id, event.response_id)
        # A plain publish: the stream logs it and live subscribers get it without
        # waiting for an ack per token; one connection keeps the events in order.
        await self._nc.publish(subject, event.to_json(), headers=tracing.event_headers(event.kind))
        if event.terminal:
            await self._nc.flush()

    @asynccontextmanager
    async def subscribe(
        self, chat_id: UUID, *, after: Cursor | None = None
    ) -> AsyncIterator[port.Subscription]:
        """Live events from the process's one subscription; with ``after``, those the log
        holds past it come first. Joined live before the log is read, so nothing falls
        between; what both bring twice, the stream's sequencer drops. A live event lost
        meanwhile (an outage) is a gap the stream fills from the log (``logged``)."""
        await self._follow_all_chats()
        key = str(chat_id)
        box = self._live.open(key)
        try:
            if after is not None:
                box.precede(await self._logged_since(chat_id, after))
            yield box
        finally:
            self._live.release(key, box)

    async def _first_logged(self, chat_id: UUID, response_id: UUID) -> int | None:
        """Where the response's events begin in the log (None: none logged yet), so a
        replay reads from there, not the whole chat: a turn's cost must not grow with
        the chat's length."""
        subject = self._names.events(chat_id, response_id)
        try:
            first = await self._js.get_msg(self._names.event_stream, 1, subject, next=True)
        except NotFoundError:
            return None
        return first.seq

    async def _follow_all_chats(self) -> None:
        """Subscribe once, at the first live stream, to every chat's events."""
        if self._live_subscription is None:
            self._live_subscription = await self._nc.subscribe(
                self._names.all_events,
                cb=self._route,
                pending_msgs_limit=FANOUT_BACKLOG,
                pending_bytes_limit=FANOUT_BACKLOG_BYTES,
            )

    async def _route(self, message: Msg) -> None:
        """Decoded once for all the streams open on its chat here, and only if any are."""
        _, chat, response = message.subject.rsplit(".", 2)  # <ns>.events.<chat>.<response>
        if not self._live.watched(chat):
            return
        if response == FORGOTTEN:
            self._live.end(chat)
            return
        try:
            event = StreamEvent.from_json(message.data)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("event.unreadable", subject=message.subject, error=repr(error)[:200])
            return
        tracing.note_turn(event.response_id, message.headers or {})  # streams link to it
        self._live.deliver(chat, event)

    async def logged(
        self, chat_id: UUID, response_id: UUID, *, after_seq: int
    ) -> list[StreamEvent]:
        subject = self._names.events(chat_id, response_id)
        logged = await self._read_log(subject, ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
        return [event for event in logged if event.seq > after_seq]

    async def _logged_since(self, chat_id: UUID, after: Cursor) -> list[StreamEvent]:
        """The chat's logged events past ``after``: read from where its response begins,
        not from the chat's start — a turn's cost must not grow with the chat."""
        start = await self._first_logged(chat_id, after.response_id)
        if start is None:
            return []  # nothing logged yet: it all comes live
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
        logged = await self._read_log(self._names.events(chat_id), config)
        return [e for e in logged if e.response_id != after.response_id or e.seq > after.seq]

    async def _read_log(self, subject: str, config: ConsumerConfig) -> list[StreamEvent]:
        """What the event log holds on ``subject`` now, read with a short-lived consumer."""
        found: list[StreamEvent] = []
        replay = await self._js.subscribe(
            subject, stream=self._names.event_stream, ordered_consumer=True, config=config
        )
        try:
            while True:
                try:
                    message = await replay.next_msg(timeout=LOG_READ_WAIT)
                except NatsTimeout:
                    break  # nothing (more) logged
                if not message.subject.endswith("." + FORGOTTEN):
                    event = StreamEvent.from_json(message.data)
                    tracing.note_turn(event.response_id, message.headers or {})
                    found.append(event)
                if message.metadata.num_pending == 0:
                    break
        finally:
            await _quietly(replay.unsubscribe())
        return found

    async def confirm_logged(self, events: Sequence[StreamEvent], *, since: float) -> int:
        """Plain publishes are not acknowledged one by one (that would cost a round trip
        per token): when the connection broke after ``since``, what the server had not
        logged yet is found in the log's own record of the response, and sent again."""
        if not events or self._watch.interrupted_at < since:
            return 0
        first = events[0]
        logged = await self.logged(first.chat_id, first.response_id, after_seq=first.seq - 1)
        have = {event.seq for event in logged}
        missing = [event for event in events if event.seq not in have]
        for event in missing:
            await self.publish(event)
        if missing:
            log.warning("events.relogged", response_id=str(first.response_id), count=len(missing))
        return len(missing)

    async def last_seq(self, chat_id: UUID, response_id: UUID) -> int:
        subject = self._names.events(chat_id, response_id)
        try:
            message = await self._js.get_last_msg(self._names.event_stream, subject)
        except NotFoundError:
            return -1
        return StreamEvent.from_json(message.data or b"").seq

    async def forget(self, chat_ids: Sequence[UUID]) -> None:
        try:
            for start in range(0, len(chat_ids), FORGET_AT_ONCE):
                batch = chat_ids[start : start + FORGET_AT_ONCE]
                await asyncio.gather(*(self._forget(chat_id) for chat_id in batch))
        except (NatsTimeout, ConnectionClosedError, OSError, nats.errors.Error) as error:
            raise BusUnavailable(f"NATS did not forget the chats: {error!r}") from error

    async def _forget(self, chat_id: UUID) -> None:
        """Purge the chat's events, then log its marker: it ends every stream on it."""
        await self._js.purge_stream(self._names.event_stream, subject=self._names.events(chat_id))
        await self._js.publish(self._names.events(chat_id, FORGOTTEN), b"", timeout=PUBLISH_WAIT)

    async def announce(self, topic: str) -> None:
        try:
            await self._nc.publish(self._names.announcements, topic.encode())
        except (ConnectionClosedError, OSError, nats.errors.Error) as error:
            raise BusUnavailable(f"NATS did not take the announcement: {error!r}") from error

    def on_announce(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    async def _announced(self, message: Msg) -> None:
        topic = message.data.decode(errors="replace")
        for listener in self._listeners:
            try:
                listener(topic)
            except Exception:  # one listener's bug must not silence the others
                log.exception("bus.announcement_failed", topic=topic)

    async def ping(self) -> None:
        if not self._nc.is_connected:
            raise BusUnavailable("NATS is not connected")
        try:
            await self._nc.flush(timeout=2)
        except (NatsTimeout, ConnectionClosedError) as error:
            raise BusUnavailable(f"NATS did not answer: {error!r}") from error

    async def close(self) -> None:
        self._watch.closing = True
        self._live.close()
        if not self._nc.is_closed:
            await self._nc.drain()

    def describe(self) -> dict[str, Any]:
        return {"backend": "nats", "namespace": self._names.namespace}


async def _quietly(work: Any) -> None:
    """Await ``work``; a connection already gone has nothing left to undo."""
    with contextlib.suppress(ConnectionClosedError, nats.errors.Error):
        await work
