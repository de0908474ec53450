"""Fan-out: a chat's events to every event stream open on it in this process.

Both buses deliver live events through it: the in-process bus straight from
``publish``, the NATS bus from one subscription per process. An open stream waits on
a :class:`Mailbox` — a list and at most one future, a few hundred bytes. An idle
stream costs what it holds: an ``asyncio.Queue`` is four deques (3 KB), and nats-py
makes a task for every wait on a subscription of its own.
"""

import asyncio
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

from chatorch.domain.events import StreamEvent

Key = TypeVar("Key", bound=Hashable)


class Mailbox:
    """One stream's undelivered events, oldest first.

    A subscriber that falls ``limit`` events behind is closed: its stream ends and the
    client resumes from the event log with ``Last-Event-ID``, rather than this process
    holding an unbounded backlog for it. A cancelled wait loses nothing.
    """

    __slots__ = ("_closed", "_items", "_limit", "_waiter")

    def __init__(self, limit: int, history: Iterable[StreamEvent] = ()) -> None:
        self._items: list[StreamEvent] = list(history)  # a replay, not held to the limit
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._limit = limit

    def put(self, event: StreamEvent) -> None:
        if self._closed:
            return
        if len(self._items) >= self._limit:
            self.close()
            return
        self._items.append(event)
        self._wake()

    def precede(self, replayed: list[StreamEvent]) -> None:
        """Put events read from the log before those that came live meanwhile."""
        if replayed:
            self._items[:0] = replayed
            self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> "Mailbox":
        return self

    def ready(self) -> list[StreamEvent]:
        items, self._items = self._items, []
        return items

    async def __anext__(self) -> StreamEvent:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class Fanout(Generic[Key]):
    """The mailboxes open on each chat (by whatever key the bus names chats with)."""

    def __init__(self, *, limit: int) -> None:
        self._boxes: dict[Key, set[Mailbox]] = {}
        self._limit = limit

    def open(self, key: Key, history: Iterable[StreamEvent] = ()) -> Mailbox:
        """A mailbox for ``key``'s events, starting with ``history`` (replayed events)."""
        box = Mailbox(self._limit, history)
        self._boxes.setdefault(key, set()).add(box)
        return box

    def release(self, key: Key, box: Mailbox) -> None:
        boxes = self._boxes.get(key)
        if boxes is not None:
            boxes.discard(box)
            if not boxes:
                del self._boxes[key]

    def watched(self, key: Key) -> bool:
        """Whether a stream here is open on ``key``: else its events need no decoding."""
        return key in self._boxes

    def deliver(self, key: Key, event: StreamEvent) -> None:
        for box in self._boxes.get(key, ()):
            box.put(event)

    def end(self, key: Key) -> None:
        """End the streams open on ``key`` (its chat is gone)."""
        for box in self._boxes.pop(key, ()):
            box.close()

    def close(self) -> None:
        """End every open stream (the bus is closing)."""
        for boxes in self._boxes.values():
            for box in boxes:
                box.close()

    def __len__(self) -> int:
        return sum(len(boxes) for boxes in self._boxes.values())
