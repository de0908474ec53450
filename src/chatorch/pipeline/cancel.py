"""Cancel: a request to stop an answer, from whichever process takes it to the one
making the answer.

The cancel is first written on the question (``WorkRepository.request_cancel``), so an
answer not yet started — or one whose process missed the announcement — is stopped
anyway: when it starts, and by a poll while it runs. It is then announced on the bus
(``cancel:<response_id>``), which every process hears at once. The pipeline keeps a
``Stop`` for each answer it makes (``Cancellations``); hearing its response id sets it.

A ``Stop`` interrupts an answer only where it waits on the model or on tools: the model's
HTTP stream is closed and tool calls are abandoned, but an event being published is
never cut in half. The answer then ends as ``AnswerCancelled`` and its partial text is
stored, complete, with ``finish_reason: "cancelled"``.
"""

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar
from uuid import UUID

import structlog

from chatorch.domain.entities import Status, User
from chatorch.domain.errors import BusUnavailable, NotFound
from chatorch.pipeline.request import owned
from chatorch.ports.bus import Bus
from chatorch.ports.store import Store
from chatorch.ports.work import CANCEL_MARK

log = structlog.get_logger(__name__)

TOPIC = "cancel:"  # + the response id: the announcement every process hears
POLL_EVERY = 5.0  # s between store reads for a cancel whose announcement was missed
CANCELLED = "cancelled"  # the finish_reason of a cancelled answer

T = TypeVar("T")


class AnswerCancelled(Exception):
    """The answer's owner asked to stop it."""


class Stop:
    """One answer's cancel signal."""

    __slots__ = ("_interrupted", "_waiting", "requested")

    def __init__(self) -> None:
        self.requested = False
        self._waiting: asyncio.Task[object] | None = None  # the task waiting in ``wait_for``
        self._interrupted = False

    def request(self) -> None:
        """Stop the answer: at once if it is waiting on the model or tools, else at its
        next such wait."""
        if self.requested:
            return
        self.requested = True
        if self._waiting is not None:
            self._interrupted = True
            self._waiting.cancel()

    async def wait_for(self, work: Awaitable[T]) -> T:
        """``await work``, interrupted by a cancel.

        Raises:
            AnswerCancelled: the answer was cancelled before or during the wait.
        """
        if self.requested:
            if inspect.iscoroutine(work):
                work.close()
            raise AnswerCancelled
        task = asyncio.current_task()
        assert task is not None
        self._waiting = task
        try:
            return await work
        except asyncio.CancelledError:
            if self._interrupted:
                self._interrupted = False
                if task.uncancel() == 0:  # ours alone: not a shutdown that cancels too
                    raise AnswerCancelled from None
            raise
        finally:
            self._waiting = None

    async def chunks(self, inner: AsyncIterator[T]) -> AsyncIterator[T]:
        """``inner``'s items until a cancel; then ``inner`` (the model's stream) is closed."""
        try:
            while True:
                try:
                    item = await self.wait_for(anext(inner))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                await aclose()


class Cancellations:
    """The answers this process is making, each with its ``Stop``, set when the bus
    announces its cancel."""

    def __init__(self, bus: Bus) -> None:
        self._stops: dict[UUID, Stop] = {}
        bus.on_announce(self._heard)

    def _heard(self, topic: str) -> None:
        if not topic.startswith(TOPIC):
            return
        try:
            response_id = UUID(topic.removeprefix(TOPIC))
        except ValueError:
            return
        stop = self._stops.get(response_id)
        if stop is not None:
            stop.request()

    @contextlib.contextmanager
    def watching(self, response_id: UUID) -> Iterator[Stop]:
        """The ``Stop`` of an answer this process makes, while it makes it."""
        stop = self._stops[response_id] = Stop()
        try:
            yield stop
        finally:
            if self._stops.get(response_id) is stop:
                del self._stops[response_id]


async def poll(store: Store, message_id: UUID, stop: Stop) -> None:
    """Read the question every ``POLL_EVERY`` s, and stop the answer once it is marked:
    the announcement is lost when this process was reconnecting to the bus."""
    while not stop.requested:
        await asyncio.sleep(POLL_EVERY)
        async with store.transaction(durable=False) as tx:
            question = await tx.chats.get_message(message_id)
        if question is None or question.metadata.get(CANCEL_MARK):
            stop.request()


async def cancel_answer(
    store: Store, bus: Bus, user: User, chat_id: UUID, response_id: UUID
) -> bool:
    """Ask for ``response_id``'s answer to stop; False when it had finished already.

    Raises:
        NotFound: no such chat of ``user``'s, or no such response in it.
    """
    async with store.transaction() as tx:
        chat, turn = await tx.chats.chat_turn(chat_id, response_id)
        owned(chat, user, chat_id)
        if not turn:
            raise NotFound(f"no response {response_id} in chat {chat_id}")
        question = turn[0]
        if len(turn) > 1 or question.status is not Status.PENDING:
            return False
        await tx.work.request_cancel(question.id)
    try:
        await bus.announce(f"{TOPIC}{response_id}")
    except BusUnavailable as error:  # recorded: the answer's poll finds it
        log.warning("cancel.not_announced", response_id=str(response_id), detail=error.detail)
    log.info("answer.cancel_requested", response_id=str(response_id))
    return True
