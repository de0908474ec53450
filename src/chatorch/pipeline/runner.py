"""Runner: the worker loop — takes work from the bus, keeps each chat in order.

Answers of different chats run concurrently (up to ``concurrency``); answers of one
chat run one after another in submission order, so each answer's context holds
every earlier answer of its chat.
"""

import asyncio
import contextlib
import functools
from uuid import UUID

import structlog

from chatorch.domain.events import WorkItem
from chatorch.pipeline.answer import AnswerPipeline
from chatorch.ports.bus import Bus, Delivery
from chatorch.ports.store import Store

log = structlog.get_logger(__name__)

RECOVER_BATCH = 1_000  # pending messages re-queued per store read on start


class Runner:
    def __init__(
        self,
        *,
        bus: Bus,
        store: Store,
        pipeline: AnswerPipeline,
        concurrency: int,
        progress_every: float,
    ) -> None:
        """``progress_every`` (s): how often a long answer tells the bus it is alive."""
        self._bus, self._store, self._pipeline = bus, store, pipeline
        self._slots = asyncio.Semaphore(concurrency)
        self._tails: dict[UUID, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._progress_every = progress_every

    async def recover(self) -> int:
        """Queue again every accepted message that has no answer yet; return how many."""
        async with self._store.transaction() as tx:
            pending = await tx.pending(limit=RECOVER_BATCH)
        for message in pending:
            await self._bus.enqueue(WorkItem(message.id, message.chat_id, message.response_id))
        if pending:
            log.info("runner.recovered", messages=len(pending))
        return len(pending)

    def start(self) -> None:
        self._loop = asyncio.create_task(self._consume(), name="chatorch-runner")

    async def stop(self, *, grace: float) -> None:
        """Stop taking work, give answers in flight ``grace`` seconds, then cancel them.

        A cancelled answer stays pending in the store and is answered after restart.
        """
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self._tasks:
            _, unfinished = await asyncio.wait(self._tasks, timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def _consume(self) -> None:
        async for delivery in self._bus.deliveries():
            await self._slots.acquire()
            chat_id = delivery.item.chat_id
            task = asyncio.create_task(self._handle(delivery, self._tails.get(chat_id)))
            self._tails[chat_id] = task
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._forget, chat_id=chat_id))

    def _forget(self, task: asyncio.Task[None], *, chat_id: UUID) -> None:
        self._tasks.discard(task)
        if self._tails.get(chat_id) is task:
            del self._tails[chat_id]

    async def _handle(self, delivery: Delivery, previous: asyncio.Task[None] | None) -> None:
        item = delivery.item
        structlog.contextvars.bind_contextvars(
            chat_id=str(item.chat_id), message_id=str(item.message_id)
        )
        try:
            if previous is not None:
                await asyncio.wait([previous])  # the chat's earlier answer comes first
            progress = asyncio.create_task(_keep_alive(delivery, self._progress_every))
            try:
                await self._pipeline.handle(item)
            finally:
                progress.cancel()
            await delivery.ack()
        except asyncio.CancelledError:
            await asyncio.shield(delivery.nak())
            raise
        except Exception:
            log.exception("runner.item_failed")
            await delivery.nak(delay=1.0)
        finally:
            self._slots.release()


async def _keep_alive(delivery: Delivery, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await delivery.in_progress()
