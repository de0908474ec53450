"""ChannelInbox: a platform's message becomes a turn, exactly once, in its own chat.

Every platform conversation is one chatorch chat, owned by the platform user who began
it; every platform user is one chatorch user per bot (``<platform>:<bot>:<user>``). The
message goes through the same RequestProcessor as the web API — stored, queued, answered
by a worker — keyed by the platform's event id, so a redelivered event (Slack's retries,
Telegram's resends, two deliveries at once) is the first one's turn again, never a second.
"""

from typing import Any
from uuid import UUID

from chatorch.domain.channels import Inbound
from chatorch.domain.entities import Bot, Chat, User
from chatorch.pipeline.request import RequestProcessor, Submission, title_from
from chatorch.ports.store import Store
from chatorch.services.bots import BotManager

MAX_TITLE = 60


class ChannelInbox:
    def __init__(self, store: Store, processor: RequestProcessor, bots: BotManager) -> None:
        self._store = store
        self._processor = processor
        self._bots = bots  # seals where the answer goes: it may carry a platform token

    async def accept(self, bot: Bot, inbound: Inbound) -> Submission:
        """The turn ``inbound`` asks for: a new one, or the one its first delivery made."""
        owner, chat_id = await self._chat(bot, inbound)
        origin: dict[str, Any] = {
            "bot_id": str(bot.id),
            "platform": bot.platform.value,
            "sender": inbound.sender,
            "reply": self._bots.seal_reply(inbound.reply),
            "llm": bot.llm,  # None: the server's chain and tools
            "tools": bot.tools,
            "prompt": bot.prompt,  # None: the server's system template
        }
        return await self._processor.submit(
            owner,
            chat_id,
            inbound.text,
            idempotency_key=f"{bot.platform.value}:{bot.id}:{inbound.event_id}"[:255],
            metadata={"channel": origin},
        )

    async def _chat(self, bot: Bot, inbound: Inbound) -> tuple[User, UUID]:
        """The conversation's chat and its owner, made on the conversation's first message.

        Two first messages at once both make a chat; the link decides which stays, and
        the loser's transaction rolls back with the chat it made.
        """
        name = f"{bot.platform.value}:{bot.id}:{inbound.sender}"
        for _ in range(2):
            try:
                async with self._store.transaction() as tx:
                    sender = await tx.users.ensure_user(name)
                    chat_id = await tx.bots.chat_for(bot.id, inbound.conversation)
                    if chat_id is None:
                        title = title_from(inbound.text, limit=MAX_TITLE)
                        chat = Chat(owner_id=sender.id, title=title)
                        await tx.chats.add_chat(chat)
                        if (
                            await tx.bots.link_chat(bot.id, inbound.conversation, chat.id)
                            != chat.id
                        ):
                            raise _LostRace
                        return sender, chat.id
                    found = await tx.chats.get_chat(chat_id)
                    owner = None if found is None else await tx.users.get_user(found.owner_id)
                    return owner or sender, chat_id
            except _LostRace:
                continue
        raise AssertionError("a conversation's chat was neither found nor made")


class _LostRace(Exception):
    """Another delivery linked the conversation to its chat first."""
