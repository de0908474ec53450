"""Answers on messaging platforms: a bot's channel, and one answer's delivery to it.

``AnswerDelivery`` follows one response's events and shows the answer where the person
asked: grown by edits about once a second where the platform can edit, split at the
platform's limit without cutting a word when it can, sent whole when it is done
elsewhere. The final text is the stored answer. A failed answer says so in one short
message. A send the platform refused with a wait is tried again after the wait; any
other failed send is not, so a lost reply never posts twice; parts already sent are
kept per response (``BotRepository.record_send``), so a second delivery edits them.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

import structlog

from chatorch.domain.channels import ChannelError
from chatorch.domain.entities import Bot, Message
from chatorch.domain.errors import ChatorchError, NotFound
from chatorch.domain.events import Cursor, EventKind, StreamEvent
from chatorch.ports.bus import Bus
from chatorch.ports.channels import Channel
from chatorch.ports.store import Store
from chatorch.services.bots import BotManager

log = structlog.get_logger(__name__)

EDIT_EVERY = 1.0  # s between edits of one message: Telegram's and Discord's pace per chat
SEND_TRIES = 5  # tries of one send the platform asked to wait for
DELIVERY_LIMIT = 600.0  # s one answer's delivery may take, from its first event to its last
FAILED_TEXT = "Sorry, something went wrong while answering. Please try again."

KEEP_CHANNEL = 60.0  # s a bot's channel is reused before its credentials are read again
Make = Callable[[Bot, Mapping[str, str]], Channel]


def split(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters whose join is ``text``: cut after
    a line break or a space in the part's second half when there is one, else at the limit."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        end = cut + 1 if cut >= limit // 2 else limit
        parts.append(text[:end])
        text = text[end:]
    return [*parts, text] if text or not parts else parts


class AnswerDelivery:
    """One response's answer, shown on one platform conversation."""

    def __init__(
        self,
        *,
        bus: Bus,
        store: Store,
        channel: Channel,
        reply: Mapping[str, Any],
        bot_id: UUID,
        chat_id: UUID,
        response_id: UUID,
        edit_every: float = EDIT_EVERY,
    ) -> None:
        self._bus, self._store, self._channel = bus, store, channel
        self._reply, self._chat_id, self._response_id = reply, chat_id, response_id
        self._bot_id = bot_id
        self._edit_every = edit_every
        self._ids: list[str] = []  # the platform's message ids, one per part shown
        self._shown: list[str] = []  # the text each part shows now
        self._next_edit = 0.0  # monotonic s before which no edit is made

    async def run(self) -> None:
        """Deliver until the answer is done or failed; a platform failure is logged."""
        async with self._store.transaction() as tx:
            self._ids = [message_id for _, message_id in await tx.bots.sends(self._response_id)]
        self._shown = [""] * len(self._ids)
        try:
            async with asyncio.timeout(DELIVERY_LIMIT):
                await self._follow()
        except (ChannelError, TimeoutError) as error:
            log.warning(
                "channel.delivery_failed",
                response_id=str(self._response_id),
                detail=getattr(error, "detail", "the answer took too long"),
            )

    async def _follow(self) -> None:
        text = ""
        after = Cursor(self._response_id, -1)
        async with self._bus.subscribe(self._chat_id, after=after) as events:
            async for event in events:
                if event.response_id != self._response_id:
                    continue
                if event.kind is EventKind.TOKEN:
                    text += event.data.get("text", "")
                    if self._channel.edits and time.monotonic() >= self._next_edit:
                        await self._show(text, final=False)
                elif event.kind is EventKind.RESET:
                    text = ""
                elif event.kind is EventKind.DONE:
                    await self._show(await self._stored(event, text), final=True)
                    return
                elif event.kind is EventKind.ERROR:
                    await self._show(FAILED_TEXT, final=True)
                    return

    async def _stored(self, done: StreamEvent, streamed: str) -> str:
        """The answer as stored: what the person finally reads is what history holds."""
        message_id = done.data.get("message_id")
        if message_id is None:
            return streamed
        async with self._store.transaction() as tx:
            answer = await tx.chats.get_message(UUID(str(message_id)))
        return streamed if answer is None else answer.content

    async def _show(self, text: str, *, final: bool) -> None:
        if not text.strip():
            return  # platforms refuse empty messages
        parts = split(text, self._channel.max_chars)
        for number, part in enumerate(parts):
            if number < len(self._ids):
                if self._shown[number] != part:
                    await self._tried(self._channel.edit, self._reply, self._ids[number], part)
                    self._shown[number] = part
            else:
                message_id = await self._tried(self._channel.send, self._reply, part)
                self._ids.append(message_id)
                self._shown.append(part)
                async with self._store.transaction(durable=False) as tx:
                    await tx.bots.record_send(self._bot_id, self._response_id, number, message_id)
        self._next_edit = time.monotonic() + self._edit_every
        if final:
            log.info("channel.delivered", response_id=str(self._response_id), parts=len(parts))

    async def _tried(self, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``call``, again after the wait the platform asked for; any other failure raises."""
        for attempt in range(SEND_TRIES):
            try:
                return await call(*args)
            except ChannelError as error:
                if error.retry_after is None or attempt == SEND_TRIES - 1:
                    raise
                await asyncio.sleep(error.retry_after)
        raise AssertionError("unreachable")


class BotChannels:
    """Each bot's channel, made from its decrypted credentials and reused for a while
    (a changed credential takes effect within ``KEEP_CHANNEL`` s on every process)."""

    def __init__(self, bots: BotManager, make: Make, *, keep_for: float = KEEP_CHANNEL) -> None:
        self._bots, self._make, self._keep_for = bots, make, keep_for
        self._made: dict[UUID, tuple[float, Bot, Channel]] = {}
        self._retired: list[Channel] = []  # replaced: closed at the end, a delivery may hold one

    async def get(self, bot_id: UUID) -> tuple[Bot, Channel] | None:
        """The bot and its channel; None for a bot that does not exist (any more)."""
        made = self._made.get(bot_id)
        if made is not None and time.monotonic() - made[0] < self._keep_for:
            return made[1], made[2]
        try:
            bot = await self._bots.get(bot_id)
            credentials = await self._bots.credentials(bot_id)
        except NotFound:
            self.forget(bot_id)
            return None
        channel = self._make(bot, credentials)
        self.forget(bot_id)
        self._made[bot_id] = (time.monotonic(), bot, channel)
        return bot, channel

    def forget(self, bot_id: UUID) -> None:
        """Make the bot's channel afresh next time (its credentials changed, or it is gone)."""
        made = self._made.pop(bot_id, None)
        if made is not None:
            self._retired.append(made[2])

    async def deliver(self, *, bus: Bus, store: Store, question: Message) -> None:
        """Show ``question``'s answer where it was asked; nothing for a bot gone since."""
        origin = question.metadata.get("channel") or {}
        try:
            found = await self.get(UUID(origin["bot_id"]))
        except ChatorchError as error:  # no vault key, undecryptable credentials…
            log.warning("channel.unavailable", bot_id=origin["bot_id"], detail=error.detail)
            return
        if found is None:
            return
        delivery = AnswerDelivery(
            bus=bus,
            store=store,
            channel=found[1],
            reply=origin.get("reply", {}),
            bot_id=found[0].id,
            chat_id=question.chat_id,
            response_id=question.response_id,
        )
        await delivery.run()

    async def close(self) -> None:
        channels = [made[2] for made in self._made.values()] + self._retired
        self._made.clear()
        self._retired.clear()
        await asyncio.gather(*(channel.close() for channel in channels), return_exceptions=True)
