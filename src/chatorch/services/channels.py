"""Answers on messaging platforms: a bot's channel, and one answer's delivery to it.

``AnswerDelivery`` follows one response's events and shows the answer where the person
asked: grown by edits about once a second where the platform can edit, split at the
platform's limit without cutting a word when it can, sent whole when it is done
elsewhere (with the platform's typing indicator meanwhile). The final text is the
stored answer. A failed answer says so in one short message. A send the platform
refused with a wait is tried again after the wait; any other failed send is not, so a
lost reply never posts twice; parts already sent are kept per response
(``BotRepository.record_send``), so a second delivery edits them.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from chatorch.domain.channels import ChannelError
from chatorch.domain.entities import Bot, Message, Status
from chatorch.domain.errors import ChatorchError, NotFound
from chatorch.domain.events import Cursor, EventKind, StreamEvent
from chatorch.ports.bus import Bus
from chatorch.ports.channels import Channel
from chatorch.ports.store import Store
from chatorch.services.bots import BotManager

log = structlog.get_logger(__name__)

EDIT_EVERY = 1.0  # s between edits of one message: Telegram's and Discord's pace per chat
TYPING_EVERY = 20.0  # s between typing indicators: WhatsApp's lasts 25, Messenger's 20
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
        self._next_typing = 0.0  # monotonic s before which the indicator still shows

    async def run(self) -> None:
        """Deliver until the answer is done or failed; a platform failure is logged."""
        await self._delivering(self._follow())

    async def finish(self, text: str) -> None:
        """Show ``text``, the stored answer, at once: its question was answered by a
        process that died before the platform showed it all."""
        await self._delivering(self._show(text, final=True))

    async def _delivering(self, work: Awaitable[None]) -> None:
        async with self._store.transaction() as tx:
            self._ids = [message_id for _, message_id in await tx.bots.sends(self._response_id)]
        self._shown = [""] * len(self._ids)  # unknown: each is edited to its final text
        try:
            async with asyncio.timeout(DELIVERY_LIMIT):
                await work
        except (ChannelError, TimeoutError) as error:
            log.warning(
                "channel.delivery_failed",
                response_id=str(self._response_id),
                detail=getattr(error, "detail", "the answer took too long"),
            )

    async def _follow(self) -> None:
        text = ""
        after = Cursor(self._response_id, -1)
        await self._typing()
        async with self._bus.subscribe(self._chat_id, after=after) as events:
            async for event in events:
                if event.response_id != self._response_id:
                    continue
                if event.kind is EventKind.TOKEN:
                    text += event.data.get("text", "")
                    now = time.monotonic()
                    if self._channel.edits and now >= self._next_edit:
                        await self._show(text, final=False)
                    elif not self._channel.edits and now >= self._next_typing:
                        await self._typing()  # the answer comes whole: say it is coming
                elif event.kind is EventKind.RESET:
                    text = ""
                elif event.kind is EventKind.DONE:
                    await self._show(await self._stored(event, text), final=True)
                    return
                elif event.kind is EventKind.ERROR:
                    await self._show(FAILED_TEXT, final=True)
                    return

    async def _typing(self) -> None:
        """The platform's typing indicator; a refusal costs the indicator, not the answer."""
        self._next_typing = time.monotonic() + TYPING_EVERY
        try:
            await self._channel.typing(self._reply)
        except ChannelError as error:
            log.info("channel.typing_failed", detail=error.detail)

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
                if self._shown[number] != part and self._channel.edits:
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
        self._made: dict[UUID, _Made] = {}
        self._retired: list[Channel] = []  # replaced: closed at the end, a delivery may hold one

    async def get(self, bot_id: UUID) -> tuple[Bot, Channel] | None:
        """The bot and its channel; None for a bot that does not exist (any more)."""
        made = self._made.get(bot_id)
        if made is not None and time.monotonic() - made.at < self._keep_for:
            return made.bot, made.channel
        try:
            bot = await self._bots.get(bot_id)
            credentials = await self._bots.credentials(bot_id)
        except NotFound:
            self.forget(bot_id)
            return None
        if made is not None and made.credentials == credentials:  # what it learnt stays
            self._made[bot_id] = _Made(time.monotonic(), bot, credentials, made.channel)
            return bot, made.channel
        channel = self._make(bot, credentials)
        self.forget(bot_id)
        self._made[bot_id] = _Made(time.monotonic(), bot, credentials, channel)
        return bot, channel

    def forget(self, bot_id: UUID) -> None:
        """Make the bot's channel afresh next time (its credentials changed, or it is gone)."""
        made = self._made.pop(bot_id, None)
        if made is not None:
            self._retired.append(made.channel)

    async def deliver(self, *, bus: Bus, store: Store, question: Message) -> None:
        """Show ``question``'s answer where it was asked, as it is made; nothing for a
        bot gone since."""
        delivery = await self._delivery(bus, store, question)
        if delivery is not None:
            await delivery.run()

    async def show(self, *, bus: Bus, store: Store, question: Message, answer: Message) -> None:
        """Show ``question``'s stored ``answer`` (a failed one as ``FAILED_TEXT``)."""
        delivery = await self._delivery(bus, store, question)
        if delivery is not None:
            complete = answer.status is Status.COMPLETE
            await delivery.finish(answer.content if complete else FAILED_TEXT)

    async def _delivery(self, bus: Bus, store: Store, question: Message) -> AnswerDelivery | None:
        origin = question.metadata.get("channel") or {}
        try:
            found = await self.get(UUID(origin["bot_id"]))
            reply = self._bots.open_reply(origin.get("reply", {}))
        except ChatorchError as error:  # no vault key, undecryptable credentials…
            log.warning("channel.unavailable", bot_id=origin["bot_id"], detail=error.detail)
            return None
        if found is None:
            return None
        return AnswerDelivery(
            bus=bus,
            store=store,
            channel=found[1],
            reply=reply,
            bot_id=found[0].id,
            chat_id=question.chat_id,
            response_id=question.response_id,
        )

    async def close(self) -> None:
        channels = [made.channel for made in self._made.values()] + self._retired
        self._made.clear()
        self._retired.clear()
        await asyncio.gather(*(channel.close() for channel in channels), return_exceptions=True)


@dataclass(slots=True, frozen=True)
class _Made:
    """A bot's channel, the credentials it was made with, and when they were read."""

    at: float  # monotonic s
    bot: Bot
    credentials: Mapping[str, str]
    channel: Channel
