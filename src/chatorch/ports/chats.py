"""Chats and their messages: the conversation aggregate, read and written in one unit of work."""

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import Chat, Message
from chatorch.domain.llm import Turn


class ChatRepository(Protocol):
    async def add_chat(self, chat: Chat) -> None: ...

    async def get_chat(self, chat_id: UUID) -> Chat | None: ...

    async def list_chats(
        self,
        owner_id: UUID,
        *,
        limit: int,
        before: UUID | None = None,
        title_contains: str | None = None,
    ) -> Sequence[Chat]:
        """Chats of ``owner_id``, newest first, optionally older than ``before``.

        ``title_contains``: only chats whose title holds this text, in any case.
        """
        ...

    async def enter_chat(self, chat_id: UUID, owner_id: UUID, *, title: str) -> Chat | None:
        """The chat if ``owner_id`` owns it, given ``title`` unless it has one already.

        What every submitted message needs from its chat, in one statement; None for
        a chat that is missing or someone else's.
        """
        ...

    async def rename_chat(self, chat_id: UUID, title: str) -> Chat | None:
        """Give the chat ``title``; None when there is no such chat."""
        ...

    async def delete_chat(self, chat_id: UUID) -> int | None:
        """Erase the chat with its messages, summary, file attachments (not the files)
        and bot links; None when there is no such chat, else how many messages it had."""
        ...

    async def add_message(self, message: Message) -> None:
        """Insert a message.

        Raises:
            DuplicateAnswer: the turn ``message.response_id`` already has a message of
                that role — an answer is never stored twice.
            NotFound: its chat is gone (erased while the answer was made).
        """
        ...

    async def get_message(self, message_id: UUID) -> Message | None: ...

    async def chat_turn(
        self, chat_id: UUID, response_id: UUID
    ) -> tuple[Chat | None, Sequence[Message]]:
        """The chat, and the turn's question and (once stored) answer in that order, in
        one read: what an event stream for one response checks first. No messages when
        the turn is not in that chat; (None, []) when the chat does not exist."""
        ...

    async def list_messages(self, chat_id: UUID, *, limit: int | None = None) -> Sequence[Message]:
        """The chat's messages in conversation order: each turn's question, then its answer.

        With ``limit``, the latest ``limit`` messages, still oldest first.
        """
        ...

    async def history_before(self, message: Message, *, limit: int) -> Sequence[Turn]:
        """What a prompt holds of the chat's turns before ``message``'s: their up to
        ``limit`` latest questions and completed answers (a failed answer's partial text
        would mislead), oldest first."""
        ...
