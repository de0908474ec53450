"""Bus: the work queue that feeds workers and the event stream that feeds clients."""

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from uuid import UUID

from chatorch.domain.events import Cursor, StreamEvent, WorkItem


class Subscription(Protocol):
    """A chat's events, one at a time as they come, or all that have come at once."""

    def __aiter__(self) -> "Subscription": ...

    async def __anext__(self) -> StreamEvent: ...

    def ready(self) -> list[StreamEvent]:
        """The events that have arrived and not been taken, in order, without waiting.

        A stream sends them in one write with the event it waited for. An adapter that
        cannot tell returns none; they then come one by one.
        """
        ...


class Delivery(Protocol):
    """A work item handed to one worker until it acks it or gives it back."""

    @property
    def item(self) -> WorkItem: ...

    @property
    def delivery_count(self) -> int:
        """1 on the first delivery, 2 after one redelivery, and so on."""
        ...

    @property
    def final(self) -> bool:
        """True when the bus will not deliver this item again, whatever happens to it."""
        ...

    async def ack(self) -> None:
        """Done with it: it is never delivered again."""
        ...

    async def nak(self, *, delay: float = 0.0) -> None:
        """Hand it back to be delivered again after ``delay`` seconds."""
        ...

    async def in_progress(self) -> None:
        """Still working on it: postpone redelivery (a long answer keeps its worker)."""
        ...


class Bus(Protocol):
    async def enqueue(self, item: WorkItem) -> None:
        """Queue work; an item whose ``message_id`` was queued before is dropped.

        Raises:
            BusUnavailable: the bus did not take it.
        """
        ...

    def deliveries(self, room: Callable[[], int] | None = None) -> AsyncGenerator[Delivery, None]:
        """Work for this worker, in queue order, until the bus closes. Closing the
        generator hands back what it fetched and did not yield yet.

        ``room`` says how many more items the caller can start now: the bus takes no
        more than that from a shared queue, so what one worker cannot start yet goes
        to another, and no item waits unheard while its ack wait runs out.
        """
        ...

    async def publish(self, event: StreamEvent) -> None:
        """Append an event to its chat's log and send it to the chat's live subscribers."""
        ...

    def subscribe(
        self, chat_id: UUID, *, after: Cursor | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Stream a chat's events: first those logged after ``after``, then live ones.

        Without ``after`` only live events come. If ``after`` names an event the log no
        longer holds, replay starts at the first logged event of that response that
        follows it. The iterator ends if the subscriber falls too far behind; the
        client then resumes from its last event. Waiting for the next event may be
        cancelled (e.g. by a timeout) without losing an event.
        """
        ...

    async def logged(
        self, chat_id: UUID, response_id: UUID, *, after_seq: int
    ) -> Sequence[StreamEvent]:
        """The events of one response the log holds after ``after_seq``, in order.

        Fills a gap a live stream noticed: an event that reached the log but not the
        subscriber.
        """
        ...

    async def confirm_logged(self, events: Sequence[StreamEvent], *, since: float) -> int:
        """Make sure the log holds ``events`` (one response's, in ``seq`` order, the first
        published at ``since``, a ``time.monotonic()``): those a broken connection lost
        are published again. Returns how many; costs nothing when the connection held.
        """
        ...

    async def last_seq(self, chat_id: UUID, response_id: UUID) -> int:
        """The highest ``seq`` logged for a response, or -1 if it has none."""
        ...

    async def forget(self, chat_ids: Sequence[UUID]) -> None:
        """Drop the logged events of ``chat_ids`` and end every subscription to them, in
        every process: what erasing their owner leaves of them on the bus."""
        ...

    async def announce(self, topic: str) -> None:
        """Tell every process (this one too) that what ``topic`` names has changed, so
        they drop what they keep of it. At most once and not kept: a process that is not
        connected misses it, so what it keeps must also expire by itself.

        Raises:
            BusUnavailable: the bus did not take it.
        """
        ...

    def on_announce(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with the topic of every announcement, from any process."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...
