"""Bots as stored: each with its credentials already encrypted by the vault
(``services.bots``), the platform conversations linked to chats, and the messages sent.

A platform conversation (a Telegram chat, a Slack channel and thread, …) is one chatorch
chat: ``link_chat`` settles which, atomically. A sent part of an answer is recorded
under its response, so a retried answer posts nothing twice. An answer stored but not
yet shown is owed (``owe``) until its delivery ends (``settle``): a worker that dies in
between leaves the debt, and the question's next delivery shows the stored answer.
"""

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import KEEP, Bot, Keep, Message
from chatorch.domain.events import WorkItem


class BotRepository(Protocol):
    async def add_bot(self, bot: Bot, ciphertext: str) -> None:
        """Store a bot with its encrypted credentials."""
        ...

    async def get_bot(self, bot_id: UUID) -> tuple[Bot, str] | None:
        """The bot and its encrypted credentials; None when there is none."""
        ...

    async def list_bots(self) -> Sequence[Bot]:
        """Every bot, newest first."""
        ...

    async def update_bot(
        self,
        bot_id: UUID,
        *,
        name: str | None = None,
        ciphertext: str | None = None,
        llm: str | Keep | None = KEEP,
        tools: list[str] | Keep | None = KEEP,
        prompt: str | Keep | None = KEEP,
    ) -> Bot | None:
        """Change what is given (None for ``name`` and ``ciphertext``, ``KEEP`` for
        ``llm``, ``tools`` and ``prompt``, leaves it); the bot as it is now, None when
        there is none."""
        ...

    async def delete_bot(self, bot_id: UUID) -> bool:
        """Delete a bot with its links and sends; False when there was none."""
        ...

    async def bot_ciphertexts(self) -> Sequence[tuple[UUID, str]]:
        """Every bot's id and encrypted credentials, for re-encryption with a new key."""
        ...

    async def put_bot_ciphertext(self, bot_id: UUID, ciphertext: str) -> None:
        """Replace a bot's encrypted credentials (a rotated key)."""
        ...

    async def chat_for(self, bot_id: UUID, conversation: str) -> UUID | None:
        """The chat linked to the bot's platform conversation, if any."""
        ...

    async def link_chat(self, bot_id: UUID, conversation: str, chat_id: UUID) -> UUID:
        """Link the conversation to ``chat_id`` unless it is linked already; the chat it
        is linked to now. Two deliveries racing get the same answer: the one whose chat
        lost should drop that chat (roll its transaction back, or delete it).

        A conversation is at most 255 characters; ``chat_id`` must exist.
        """
        ...

    async def conversation_of(self, chat_id: UUID) -> tuple[UUID, str] | None:
        """The bot and platform conversation a chat is linked to, if any."""
        ...

    async def sends(self, response_id: UUID) -> Sequence[tuple[int, str]]:
        """The parts of an answer already sent: (part, the platform's message id),
        ordered by part."""
        ...

    async def record_send(
        self, bot_id: UUID, response_id: UUID, part: int, message_id: str
    ) -> bool:
        """Record that part ``part`` of the answer went out as ``message_id``; False
        (and nothing changed) when that part was recorded already."""
        ...

    async def owe(self, bot_id: UUID, question: Message) -> None:
        """Note that ``question``'s answer, stored in this transaction, is still to be
        shown on the bot's platform (nothing changes when it is noted already)."""
        ...

    async def is_owed(self, response_id: UUID) -> bool:
        """Whether the answer to ``response_id`` is stored but not yet shown."""
        ...

    async def settle(self, response_id: UUID) -> None:
        """The answer was shown, or showing it ended for good: nothing is owed."""
        ...

    async def owed(self, *, limit: int, after: UUID | None = None) -> Sequence[WorkItem]:
        """The questions whose answers are owed, by response id, after ``after``."""
        ...
