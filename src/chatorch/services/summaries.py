"""IdleSummaryManager: a chat that has been quiet for a while gets its summary written,
so that once its early turns no longer fit a prompt, their gist still does.

Every process that answers runs one; each chat is summarised by one of them at a time
(the lease in ``ports/summaries.py``), with the server's model chain and the
``summary`` prompt, folding the summary so far into the new one. It never holds up an
answer: it runs beside them, one chat at a time. A failure leaves the old summary in
place; the lease runs out and a later sweep tries again.
"""

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

import structlog

from chatorch.domain.entities import ChatSummary, Message, Role, Status, utcnow
from chatorch.domain.ids import id_at
from chatorch.domain.llm import LLMRequest, Source, Turn
from chatorch.ports.store import Store
from chatorch.services.llm import LLMManager
from chatorch.services.prompts import PromptManager

log = structlog.get_logger(__name__)

WINDOW = timedelta(days=1)  # how far back past the idle time chats are looked for
BATCH = 20  # chats summarised per sweep at most
LEASE = timedelta(minutes=5)  # how long one process holds a chat's summary
READ = 400  # latest messages read to write a summary


class IdleSummaryManager:
    def __init__(
        self,
        store: Store,
        llm: LLMManager,
        prompts: PromptManager,
        *,
        idle_after: float,
        max_chars: int,
    ) -> None:
        """``idle_after`` (s): how long a chat is quiet before it is summarised
        (CHATORCH_SUMMARY_IDLE_S); ``max_chars``: how much transcript one summary reads."""
        self._store, self._llm, self._prompts = store, llm, prompts
        self._idle = timedelta(seconds=idle_after)
        self._max_chars = max_chars

    async def run(self) -> None:
        """Sweep about every tenth of the idle time (at least each second, at most each
        minute) until cancelled."""
        every = min(max(self._idle.total_seconds() / 10, 1.0), 60.0)
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except Exception:  # the store may be down; the next sweep tries again
                log.exception("summary.sweep_failed")

    async def sweep(self) -> int:
        """Summarise the chats idle long enough with answers not summarised yet; return
        how many summaries were written."""
        now = utcnow()
        async with self._store.transaction(durable=False) as tx:
            idle = await tx.summaries.idle_chats(
                since=id_at(now - self._idle - WINDOW),
                idle_before=id_at(now - self._idle),
                limit=BATCH,
            )
        written = 0
        for chat_id, through in idle:
            async with self._store.transaction() as tx:
                if not await tx.summaries.lease(chat_id, until=now + LEASE, now=now):
                    continue  # another process has it
            try:
                written += await self._summarise(chat_id, through)
            except Exception as error:
                log.warning("summary.failed", chat_id=str(chat_id), error=str(error)[:300])
        return written

    async def _summarise(self, chat_id: UUID, through: UUID) -> int:
        async with self._store.transaction(durable=False) as tx:
            previous = await tx.summaries.get_summary(chat_id)
            messages = await tx.chats.list_messages(chat_id, limit=READ)
        after = previous.through_message_id if previous is not None else None
        transcript, window = _transcript(
            messages, after=after, through=through, limit=self._max_chars
        )
        if window is None:
            return 0
        await self._prompts.refresh("summary")
        earlier = previous.text if previous is not None else ""
        prompt = self._prompts.render("summary", summary=earlier)
        request = LLMRequest(
            turns=(Turn(role="system", content=prompt.text), Turn(role="user", content=transcript)),
            sources=(Source("the summary so far", earlier),) if earlier else (),
            task="summary",
        )
        text = await self._complete(request)
        if not text.strip():
            raise ValueError("the model wrote an empty summary")
        summary = ChatSummary(chat_id, text.strip(), prompt.ref, window)
        async with self._store.transaction() as tx:
            stored = await tx.summaries.put_summary(summary)
        log.info("summary.written", chat_id=str(chat_id), prompt=prompt.ref, chars=len(text))
        return int(stored)

    async def _complete(self, request: LLMRequest) -> str:
        text = ""
        async for chunk in self._llm.generate(request).chunks:
            text = chunk.text if chunk.restart else text + chunk.text
        return text


def _transcript(
    messages: Sequence[Message], *, after: UUID | None, through: UUID, limit: int
) -> tuple[str, UUID | None]:
    """The turns after ``after`` up to ``through`` as ``role: text`` lines, oldest first,
    as many as ``limit`` characters hold, and the last answer among them (None: none
    fit). What does not fit waits for the next sweep, which folds it in: a long backlog
    is summarised a window at a time, never cut off. Failed answers are left out."""
    lines: list[str] = []
    last: UUID | None = None
    for message in messages:
        if (after is not None and message.id <= after) or message.id > through:
            continue
        if message.role is Role.ASSISTANT and message.status is not Status.COMPLETE:
            continue
        line = f"{message.role.value}: {' '.join(message.content.split())}"
        if not lines:
            line = line[:limit]  # one very long turn still gets summarised, cut short
        limit -= len(line) + 1
        if limit < 0:
            break
        lines.append(line)
        if message.role is Role.ASSISTANT:
            last = message.id
    return "\n".join(lines), last
