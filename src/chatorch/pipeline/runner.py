"""Runner: the worker loop — takes work from the bus, keeps each chat in order.

Answers of different chats run concurrently (up to ``concurrency``); answers of one
chat run one after another in submission order, so each answer's context holds
every earlier answer of its chat. Here, an answer waits for this process's answers
to earlier questions of its chat; the pipeline then waits for any still answered
elsewhere. Order is by question (response id), not by arrival: a redelivered
earlier question must not wait behind the later ones that wait for it. An uploaded
file to read (``WorkKind.INGEST``) is work too, in a lane of its own.
"""

import asyncio
import contextlib
import functools
from uuid import UUID

import structlog
from opentelemetry.trace import Span

from chatorch import tracing
from chatorch.domain.errors import StoreUnavailable
from chatorch.domain.events import WorkItem, WorkKind
from chatorch.pipeline.answer import AnswerPipeline
from chatorch.pipeline.persist import store_down
from chatorch.ports.bus import Bus, Delivery
from chatorch.ports.store import Store
from chatorch.services.artifacts import ArtifactManager

log = structlog.get_logger(__name__)

RECOVER_BATCH = 1_000  # pending messages re-queued per store read on start
STORE_DOWN_DELAY = 5.0  # s before work that met a store outage is tried again


class Runner:
    def __init__(
        self,
        *,
        bus: Bus,
        store: Store,
        pipeline: AnswerPipeline,
        artifacts: ArtifactManager,
        concurrency: int,
        progress_every: float,
    ) -> None:
        """``progress_every`` (s): how often a long answer tells the bus it is alive;
        ``artifacts`` reads the uploaded files the bus brings (``WorkKind.INGEST``)."""
        self._bus, self._store, self._pipeline = bus, store, pipeline
        self._artifacts = artifacts
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._chats: dict[UUID, dict[UUID, _Held]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._progress_every = progress_every

    async def recover(self) -> int:
        """Queue again every accepted message that has no answer yet, every answer still
        owed to a platform and every uploaded file not yet read; return how many."""
        count, after = 0, None
        while True:
            async with self._store.transaction() as tx:
                pending = await tx.work.pending(limit=RECOVER_BATCH, after=after)
            for message in pending:
                await self._bus.enqueue(WorkItem(message.id, message.chat_id, message.response_id))
            count += len(pending)
            if len(pending) < RECOVER_BATCH:
                break
            after = pending[-1].id
        owed = await self._recover_owed()
        files = await self._recover_files()
        if count or owed or files:
            log.info("runner.recovered", messages=count, owed_answers=owed, files=files)
        return count + owed + files

    async def _recover_files(self) -> int:
        """Queue again the uploaded files not yet read."""
        count, after = 0, None
        while True:
            async with self._store.transaction() as tx:
                unread = await tx.files.processing(limit=RECOVER_BATCH, after=after)
            for file_id in unread:
                await self._bus.enqueue(WorkItem.ingest(file_id))
            count += len(unread)
            if len(unread) < RECOVER_BATCH:
                return count
            after = unread[-1]

    async def _recover_owed(self) -> int:
        """Queue again the questions whose stored answers a platform has not shown: the
        pipeline finds them answered and shows the stored answer."""
        count, after = 0, None
        while True:
            async with self._store.transaction() as tx:
                owed = await tx.bots.owed(limit=RECOVER_BATCH, after=after)
            for item in owed:
                await self._bus.enqueue(item)
            count += len(owed)
            if len(owed) < RECOVER_BATCH:
                return count
            after = owed[-1].response_id

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
        # aclosing: a stop closes the deliveries at once, so what they hold goes back.
        deliveries = self._bus.deliveries(room=self._room)
        async with contextlib.aclosing(deliveries):
            while True:
                # Room first: an item taken from the bus starts at once, so it never
                # waits here, unheard, while the bus's ack wait runs out.
                await self._slots.acquire()
                delivery = await anext(deliveries, None)
                if delivery is None:
                    self._slots.release()
                    return
                self._take(delivery)

    def _room(self) -> int:
        """How many more items could start now."""
        return self._concurrency - len(self._tasks)

    def _take(self, delivery: Delivery) -> None:
        """Start ``delivery``'s work in the slot taken for it."""
        item = delivery.item
        answering = self._chats.setdefault(item.chat_id, {})
        held = answering.get(item.response_id)
        if held is not None:
            # Redelivered while still in hand here: the newest delivery is the one to
            # settle, and the answer already under way serves it.
            held.delivery = delivery
            self._slots.release()
            return
        earlier = [h.task for rid, h in answering.items() if rid < item.response_id]
        held = _Held(delivery)
        held.task = asyncio.create_task(self._handle(held, earlier))
        answering[item.response_id] = held
        self._tasks.add(held.task)
        held.task.add_done_callback(functools.partial(self._forget, item=item))

    def _forget(self, task: asyncio.Task[None], *, item: WorkItem) -> None:
        # The slot is free when the task is gone: ``_room`` counts tasks.
        self._tasks.discard(task)
        self._slots.release()
        answering = self._chats.get(item.chat_id, {})
        held = answering.get(item.response_id)
        if held is not None and held.task is task:
            del answering[item.response_id]
            if not answering:
                del self._chats[item.chat_id]

    async def _handle(self, held: "_Held", earlier: list[asyncio.Task[None]]) -> None:
        item = held.delivery.item
        structlog.contextvars.bind_contextvars(
            chat_id=str(item.chat_id), message_id=str(item.message_id)
        )
        with tracing.consuming(f"work {item.kind.value}", held.delivery) as span:
            tracing.note_turn(item.response_id)  # the streams of this process link to it
            await self._work(held, earlier, span)

    async def _work(self, held: "_Held", earlier: list[asyncio.Task[None]], span: Span) -> None:
        item = held.delivery.item
        progress = asyncio.create_task(self._keep_alive(held))
        try:
            if earlier:
                await asyncio.wait(earlier)  # the chat's earlier answers come first
            if item.kind is WorkKind.INGEST:
                await self._artifacts.ingest(item.message_id)
            else:
                await self._pipeline.handle(item)
            progress.cancel()
            await held.delivery.ack()
        except asyncio.CancelledError:
            await asyncio.shield(held.delivery.nak())
            raise
        except StoreUnavailable as error:  # the question waits in the store: nothing lost
            store_down(error)  # said once per outage, no traceback per item
            tracing.failed(span, error)
            await held.delivery.nak(delay=STORE_DOWN_DELAY)
        except Exception as error:
            log.exception("runner.item_failed")
            tracing.failed(span, error)
            if held.delivery.final:  # no delivery will follow: end it visibly
                if item.kind is WorkKind.INGEST:
                    await self._artifacts.give_up(item.message_id)
                else:
                    detail = "the answer failed on every delivery"
                    await self._pipeline.give_up(item, detail=detail)
                await held.delivery.ack()
            else:
                await held.delivery.nak(delay=1.0)
        finally:
            progress.cancel()

    async def _keep_alive(self, held: "_Held") -> None:
        """Tell the bus, while the item waits its turn or is answered, that it is in hand."""
        while True:
            await asyncio.sleep(self._progress_every)
            await held.delivery.in_progress()


class _Held:
    """A work item this process is answering, and the delivery to settle it with."""

    __slots__ = ("delivery", "task")

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.task: asyncio.Task[None]
