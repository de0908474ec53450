"""The outbox: work items are published after their messages are stored, and marked.

A message is stored before its work item is published. If the bus was down then (or
the process died in between), the message waits in the store unmarked; the relay
(``OutboxRelay``) finds such messages and publishes them once the bus answers again.
Marks are written in batches, off the request's path (``DispatchMarks``).
"""

import asyncio
from uuid import UUID

import structlog

from chatorch.pipeline.request import dispatch
from chatorch.ports.bus import Bus
from chatorch.ports.store import Store

log = structlog.get_logger(__name__)

GRACE = 5.0  # s a fresh message gets to be dispatched by the request that stored it
BATCH = 500
MARK_EVERY = 0.05  # s: marks of the messages sent meanwhile go in one statement


class DispatchMarks:
    """Notes that messages' work items reached the bus, many to one statement.

    Marked one by one, on the request's path, each accepted message cost a transaction
    of its own (three round trips) before its ``202``. A mark lost with its process
    only makes the relay send the item again after ``GRACE``; the bus drops the
    duplicate by its message id.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[UUID] = []
        self._wake = asyncio.Event()

    def add(self, message_id: UUID) -> None:
        self._waiting.append(message_id)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(MARK_EVERY)
            await self.flush()

    async def flush(self) -> None:
        """Write the marks waiting now; on failure the relay sends those items again."""
        self._wake.clear()
        marks, self._waiting = self._waiting, []
        if not marks:
            return
        try:
            async with self._store.transaction(durable=False, atomic=False) as tx:
                await tx.work.mark_dispatched(marks)
        except Exception as error:  # the store is down: the relay covers them
            log.warning("outbox.marks_lost", messages=len(marks), error=repr(error)[:200])


class OutboxRelay:
    def __init__(self, store: Store, bus: Bus, marks: DispatchMarks, *, every: float = 2.0) -> None:
        self._store, self._bus, self._marks = store, bus, marks
        self._every = every  # s between sweeps

    async def sweep(self) -> int:
        """Publish what is overdue; return how many reached the bus."""
        async with self._store.transaction() as tx:
            overdue = await tx.work.undispatched(older_than=GRACE, limit=BATCH)
        sent = 0
        for message in overdue:
            if not await dispatch(self._bus, message, mark=self._marks.add):
                break  # still down: the next sweep tries again
            sent += 1
        if sent:
            await self._marks.flush()
            log.info("outbox.relayed", messages=sent)
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.sweep()
            except Exception:  # the store may be down too; keep sweeping
                log.exception("outbox.sweep_failed")
