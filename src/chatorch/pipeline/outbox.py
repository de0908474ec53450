"""OutboxRelay: sends the work items that did not reach the bus when accepted.

A message is stored before its work item is published. If the bus was down then (or
the process died in between), the message waits in the store unmarked; the relay
finds such messages and publishes them once the bus answers again.
"""

import asyncio

import structlog

from chatorch.pipeline.request import dispatch
from chatorch.ports.bus import Bus
from chatorch.ports.store import Store

log = structlog.get_logger(__name__)

GRACE = 5.0  # s a fresh message gets to be dispatched by the request that stored it
BATCH = 500


class OutboxRelay:
    def __init__(self, store: Store, bus: Bus, *, every: float = 2.0) -> None:
        self._store, self._bus = store, bus
        self._every = every  # s between sweeps

    async def sweep(self) -> int:
        """Publish what is overdue; return how many reached the bus."""
        async with self._store.transaction() as tx:
            overdue = await tx.work.undispatched(older_than=GRACE, limit=BATCH)
        sent = 0
        for message in overdue:
            if not await dispatch(self._store, self._bus, message):
                break  # still down: the next sweep tries again
            sent += 1
        if sent:
            log.info("outbox.relayed", messages=sent)
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.sweep()
            except Exception:  # the store may be down too; keep sweeping
                log.exception("outbox.sweep_failed")
