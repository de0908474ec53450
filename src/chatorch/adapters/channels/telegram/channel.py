"""``TelegramChannel``: the Bot API through python-telegram-bot.

Webhooks carry the bot's ``secret_token`` in ``X-Telegram-Bot-Api-Secret-Token``
(compared in constant time before the body is read). Private chats are answered; in
groups, messages that reply to the bot or mention it (its @username, asked once with
``getMe``), without the mention. Updates without text are ignored (docs/channels.md).
The token is part of every call's URL: the HTTP client's log lines stay off
(``chatorch.logs.NEVER_BELOW_WARNING``).
"""

import hmac
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import orjson
import structlog
from telegram import Bot, Message, MessageEntity, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from chatorch.adapters.channels.telegram.markup import to_html
from chatorch.domain.channels import ChannelError, Inbound, Reception
from chatorch.domain.errors import Unauthenticated

log = structlog.get_logger(__name__)

# python-telegram-bot's time periods as timedelta, as its next major version has them: its
# int form warns on every 429 (and inside its own RetryAfter).
os.environ.setdefault("PTB_TIMEDELTA", "1")

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_CHARS = 4096  # Bot API: text of one message, after entity parsing
CALL_TIMEOUT = 10.0  # s for one Bot API call


class TelegramChannel:
    max_chars = MAX_CHARS
    edits = True

    def __init__(self, *, token: str, secret_token: str, api_url: str) -> None:
        self._secret = secret_token.encode()
        self._bot_id = token.partition(":")[0]
        self._name: str | None = None  # the bot's @username, once Telegram said it
        request = HTTPXRequest(
            connection_pool_size=8, read_timeout=CALL_TIMEOUT, connect_timeout=CALL_TIMEOUT
        )
        self._bot = Bot(token, base_url=f"{api_url.rstrip('/')}/bot", request=request)

    def verify(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> None:
        given = headers.get(SECRET_HEADER, "").encode()
        if method != "POST" or not hmac.compare_digest(given, self._secret):
            raise Unauthenticated("the Telegram secret token is missing or wrong")

    async def receive(
        self, *, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> Reception:
        try:
            update = Update.de_json(orjson.loads(body), self._bot)
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError) as error:
            # Acknowledged all the same: Telegram would redeliver it, and the bot's queue
            # would wait behind an update no redelivery makes readable.
            log.warning(
                "telegram.update_unreadable", error=f"{type(error).__name__}: {error}"[:200]
            )
            return Reception()
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return Reception()  # edits, channel posts, other bots: nothing to answer
        if message.text is None:
            return Reception()
        chat = message.chat
        text = message.text
        reply: dict[str, Any] = {"chat_id": chat.id}
        if chat.type != "private":
            addressed = await self._addressed(message)
            if addressed is None:
                return Reception()
            text, reply["reply_to"] = addressed, message.message_id
        inbound = Inbound(
            event_id=str(update.update_id),
            conversation=str(chat.id),
            sender=str(message.from_user.id),
            text=text,
            reply=reply,
        )
        return Reception(messages=(inbound,))

    async def _addressed(self, message: Message) -> str | None:
        """In a group: the text of a message that replies to the bot, or mentions it
        (``@name``, ``/command@name``, a mention of its user) without the mention; None
        for a message to others."""
        replied = message.reply_to_message
        if replied and replied.from_user and str(replied.from_user.id) == self._bot_id:
            return message.text
        text = message.text or ""
        names = {MessageEntity.MENTION, MessageEntity.BOT_COMMAND, MessageEntity.TEXT_MENTION}
        mentions = message.parse_entities(list(names))
        if not mentions:
            return None
        username = await self._username()
        ours = [
            (entity, said)
            for entity, said in mentions.items()
            if (entity.user is not None and str(entity.user.id) == self._bot_id)
            or (username is not None and said.lower().endswith(f"@{username.lower()}"))
        ]
        if not ours:
            return None
        for _, said in ours:
            text = text.replace(said, "", 1)
        return text.strip() or None  # a bare "/start@bot" asks nothing

    async def _username(self) -> str | None:
        """The bot's @username (asked once; None while Telegram cannot say)."""
        if self._name is None:
            try:
                self._name = (await self._bot.get_me()).username
            except TelegramError as error:
                log.warning("telegram.get_me_failed", error=str(error)[:200])
        return self._name

    async def send(self, reply: Mapping[str, Any], text: str) -> str:
        target = {"chat_id": reply["chat_id"], "reply_to_message_id": reply.get("reply_to")}
        try:
            sent = await self._formatted(self._bot.send_message, text, **target)
        except TelegramError as error:
            raise _failure("sendMessage", error) from None
        return str(sent.message_id)

    async def edit(self, reply: Mapping[str, Any], message_id: str, text: str) -> None:
        target = {"chat_id": reply["chat_id"], "message_id": int(message_id)}
        try:
            await self._formatted(self._bot.edit_message_text, text, **target)
        except BadRequest as error:
            if "not modified" not in str(error).lower():  # the same text again is fine
                raise _failure("editMessageText", error) from None
        except TelegramError as error:
            raise _failure("editMessageText", error) from None

    @staticmethod
    async def _formatted(call: Callable[..., Awaitable[Any]], text: str, **target: Any) -> Any:
        """``call`` with the Markdown rendered as Telegram's HTML; as plain text when
        Telegram cannot parse what was made (never a lost answer for its markup)."""
        try:
            return await call(text=to_html(text) or text, parse_mode=ParseMode.HTML, **target)
        except BadRequest as error:
            if "parse entities" not in str(error).lower():
                raise
            log.warning("telegram.markup_refused", error=str(error)[:200])
            return await call(text=text, **target)

    async def typing(self, reply: Mapping[str, Any]) -> None:
        try:
            await self._bot.send_chat_action(chat_id=reply["chat_id"], action=ChatAction.TYPING)
        except TelegramError as error:
            raise _failure("sendChatAction", error) from None

    async def register(self, url: str) -> None:
        """Point the bot's webhook at ``url``, with its secret token."""
        try:
            await self._bot.set_webhook(
                url=url, secret_token=self._secret.decode(), allowed_updates=["message"]
            )
        except TelegramError as error:
            raise _failure("setWebhook", error) from None

    async def close(self) -> None:
        await self._bot.shutdown()


def _failure(call: str, error: TelegramError) -> ChannelError:
    """What Telegram said, without the token (it is never in the message)."""
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return ChannelError(f"Telegram {call}: {error.message}", retry_after=seconds)
    return ChannelError(f"Telegram {call}: {error.message}")
