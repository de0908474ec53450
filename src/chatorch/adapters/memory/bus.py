"""InMemoryBus: a work queue and per-chat event logs inside one process."""

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from chatorch import tracing
from chatorch.adapters.fanout import Fanout
from chatorch.domain.errors import BusUnavailable
from chatorch.domain.events import Cursor, StreamEvent, WorkItem
from chatorch.ports.bus import Subscription

DEDUPE_WINDOW = 120.0  # s: as long as JetStream's default duplicate window
SUBSCRIBER_BACKLOG = 10_000  # events a slow subscriber may lag before it is cut off
LOG_EVENTS_TOTAL = 100_000  # events the log holds in all: about 60 MB
PRUNE_EVERY = 60.0  # s between sweeps for quiet chats' logs
_CLOSED = b""  # end-of-stream marker: no real message encodes to empty bytes


@dataclass(slots=True)
class _Logged:
    at: float  # monotonic s
    event: StreamEvent


@dataclass(slots=True)
class _Delivery:
    raw: bytes
    delivery_count: int
    bus: "InMemoryBus"
    trace_carrier: Mapping[str, str]  # the trace context it was queued in (chatorch.tracing)
    item: WorkItem = field(init=False)
    _settled: bool = False

    def __post_init__(self) -> None:
        self.item = WorkItem.from_json(self.raw)

    @property
    def final(self) -> bool:
        """Never: in-process work is retried until it is answered or given up on."""
        return False

    async def ack(self) -> None:
        self._settled = True

    async def nak(self, *, delay: float = 0.0) -> None:
        if self._settled:
            return
        self._settled = True
        self.bus._redeliver((self.raw, self.delivery_count + 1, self.trace_carrier), delay)

    async def in_progress(self) -> None:
        """Nothing to extend: an in-process item cannot be redelivered behind our back."""


class InMemoryBus:
    def __init__(
        self,
        *,
        log_seconds: float = 600.0,
        log_events_per_chat: int = 20_000,
        log_events_total: int = LOG_EVENTS_TOTAL,
    ) -> None:
        self._work: asyncio.Queue[tuple[bytes, int, Mapping[str, str]]] = asyncio.Queue()
        self._seen: dict[UUID, float] = {}
        # Each chat's events, the chat that published last at the end: quietest first.
        self._logs: OrderedDict[UUID, deque[_Logged]] = OrderedDict()
        self._logged = 0  # events in all the logs
        self._live: Fanout[UUID] = Fanout(limit=SUBSCRIBER_BACKLOG)
        self._log_seconds = log_seconds
        self._log_events = min(log_events_per_chat, log_events_total)  # one chat fits
        self._log_total = log_events_total
        self._closed = False
        self._pruned_at = time.monotonic()
        self._listeners: list[Callable[[str], None]] = []

    async def enqueue(self, item: WorkItem) -> None:
        if self._closed:
            raise BusUnavailable("the in-process bus is closed")
        now = time.monotonic()
        self._forget_seen(now)
        if item.message_id in self._seen:
            return
        self._seen[item.message_id] = now
        self._work.put_nowait((item.to_json(), 1, tracing.carrier()))

    def _forget_seen(self, now: float) -> None:
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < DEDUPE_WINDOW:
                break
            del self._seen[oldest]

    def _redeliver(self, queued: tuple[bytes, int, Mapping[str, str]], delay: float) -> None:
        if self._closed:
            return
        if delay <= 0:
            self._work.put_nowait(queued)
        else:
            asyncio.get_running_loop().call_later(delay, self._work.put_nowait, queued)

    async def deliveries(
        self, room: Callable[[], int] | None = None
    ) -> AsyncGenerator[_Delivery, None]:
        # ``room`` needs no heed: an item stays in the queue until it is yielded, and
        # no other process shares the queue.
        while True:
            raw, count, carrier = await self._work.get()
            if not raw:
                self._work.put_nowait((_CLOSED, 0, {}))  # wake the next consumer too
                return
            yield _Delivery(raw, count, self, carrier)

    async def publish(self, event: StreamEvent) -> None:
        now = time.monotonic()
        log = self._logs.get(event.chat_id)
        if log is None:
            log = self._logs[event.chat_id] = deque(maxlen=self._log_events)
        else:
            self._logs.move_to_end(event.chat_id)
        if len(log) == self._log_events:
            self._logged -= 1  # the append pushes the oldest out
        log.append(_Logged(now, event))
        self._logged += 1
        while log and now - log[0].at > self._log_seconds:
            log.popleft()
            self._logged -= 1
        if self._logged > self._log_total or now - self._pruned_at > PRUNE_EVERY:
            self._prune(now)
        self._live.deliver(event.chat_id, event)

    def _prune(self, now: float) -> None:
        """Forget the logs of the quietest chats: those quiet longer than the log keeps
        events, and more while the logs hold more than ``log_events_total`` events. A
        stream of an answered response then ends with the stored answer (api/events.py).
        """
        self._pruned_at = now
        while self._logs:
            log = next(iter(self._logs.values()))
            if now - log[-1].at <= self._log_seconds and self._logged <= self._log_total:
                break  # the rest published more recently
            self._logs.popitem(last=False)
            self._logged -= len(log)

    @asynccontextmanager
    async def subscribe(
        self, chat_id: UUID, *, after: Cursor | None = None
    ) -> AsyncIterator[Subscription]:
        # Replay and subscription happen in one step of the loop, so nothing falls between.
        box = self._live.open(chat_id, (logged.event for logged in self._replay(chat_id, after)))
        try:
            yield box
        finally:
            self._live.release(chat_id, box)

    def _replay(self, chat_id: UUID, after: Cursor | None) -> list[_Logged]:
        log = self._logs.get(chat_id)
        if after is None or not log:
            return []
        # From the newest back to the cursor's response only: the chat's earlier turns
        # come before it, and a turn's cost must not grow with the chat.
        entries: list[_Logged] = []
        for logged in reversed(log):
            if logged.event.response_id < after.response_id:
                break
            entries.append(logged)
        entries.reverse()
        for index, logged in enumerate(entries):
            if logged.event.cursor == after:
                return entries[index + 1 :]
        for index, logged in enumerate(entries):
            if after.precedes(logged.event):
                return entries[index:]
        return []

    async def logged(
        self, chat_id: UUID, response_id: UUID, *, after_seq: int
    ) -> list[StreamEvent]:
        return [
            logged.event
            for logged in self._logs.get(chat_id, ())
            if logged.event.response_id == response_id and logged.event.seq > after_seq
        ]

    async def confirm_logged(self, events: Sequence[StreamEvent], *, since: float) -> int:
        return 0  # a publish here is a function call: it cannot be lost

    async def last_seq(self, chat_id: UUID, response_id: UUID) -> int:
        # From the newest back to the chat's earlier turns only (ids grow with time): a
        # new response, which has no events yet, must not cost a walk of the whole log.
        for logged in reversed(self._logs.get(chat_id, ())):
            logged_response = logged.event.response_id
            if logged_response == response_id:
                return logged.event.seq
            if logged_response < response_id:
                break
        return -1

    async def forget(self, chat_ids: Sequence[UUID]) -> None:
        for chat_id in chat_ids:
            log = self._logs.pop(chat_id, None)
            if log is not None:
                self._logged -= len(log)
            self._live.end(chat_id)

    async def announce(self, topic: str) -> None:
        for listener in self._listeners:  # one process: its own listeners are all
            listener(topic)

    def on_announce(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    async def ping(self) -> None:
        if self._closed:
            raise BusUnavailable("the in-process bus is closed")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._work.put_nowait((_CLOSED, 0, {}))
        self._live.close()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "memory",
            "queued": self._work.qsize(),
            "chats_logged": len(self._logs),
            "events_logged": self._logged,
        }
