"""``ChatRepository`` on SQL: chats and messages, mostly through ``hot``'s prebuilt
statements, which run on the SQLite driver itself (ADR 0012)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy import exc as sa_exc

from chatorch.adapters.sql import hot
from chatorch.adapters.sql.models import BotSendRow, MessageRow
from chatorch.adapters.sql.scope import SqlRepository, SqlScope, translated
from chatorch.domain.entities import Chat, Message
from chatorch.domain.errors import ChatorchError, DuplicateAnswer, NotFound
from chatorch.domain.llm import Turn
from chatorch.ports.chats import ChatRepository

UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


class SqlChatRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def add_chat(self, chat: Chat) -> None:
        # A plain INSERT: the session's unit of work (add, then flush at commit) cost as
        # much as the rest of the request.
        await self._scope.run(hot.ADD_CHAT, hot.chat_params(chat))

    @translated
    async def get_chat(self, chat_id: UUID) -> Chat | None:
        row = (await self._scope.run(hot.GET_CHAT, {"b_id": chat_id})).first()
        return None if row is None else hot.chat_of(row)

    @translated
    async def list_chats(
        self,
        owner_id: UUID,
        *,
        limit: int,
        before: UUID | None = None,
        title_contains: str | None = None,
    ) -> Sequence[Chat]:
        # Ids are UUIDv7, so ordering by id is ordering by creation time.
        chats = hot.chats.c
        query = select(hot.chats).where(chats.owner_id == owner_id)
        if before is not None:
            query = query.where(chats.id < before)
        if title_contains:
            query = query.where(self._title_holds(title_contains))
        rows = await self._scope.connection.execute(query.order_by(chats.id.desc()).limit(limit))
        return [hot.chat_of(row) for row in rows]

    @translated
    async def enter_chat(self, chat_id: UUID, owner_id: UUID, *, title: str) -> Chat | None:
        params = {"b_id": chat_id, "b_owner": owner_id, "b_title": title}
        row = (await self._scope.run(hot.ENTER_CHAT, params)).first()
        return None if row is None else hot.chat_of(row)

    @translated
    async def rename_chat(self, chat_id: UUID, title: str) -> Chat | None:
        chats = hot.chats.c
        statement = update(hot.chats).where(chats.id == chat_id).values(title=title)
        row = (await self._scope.connection.execute(statement.returning(*chats))).first()
        return None if row is None else hot.chat_of(row)

    @translated
    async def delete_chat(self, chat_id: UUID) -> int | None:
        messages = hot.messages.c
        counted = select(func.count()).where(messages.chat_id == chat_id)
        count: int = (await self._scope.connection.execute(counted)).scalar_one()
        # What a bot posted is kept by answer, not by chat: it goes with the chat's turns.
        turns = select(messages.response_id).where(messages.chat_id == chat_id)
        await self._scope.connection.execute(
            delete(BotSendRow).where(BotSendRow.response_id.in_(turns))
        )
        # The rest goes by the foreign keys' ON DELETE CASCADE: messages (and with them
        # their search index rows, by trigger, and bots' undelivered answers), summary,
        # file attachments and bot links. Files stay their owner's (SET NULL).
        chats = hot.chats.c
        erased = delete(hot.chats).where(chats.id == chat_id).returning(chats.id)
        if (await self._scope.connection.execute(erased)).first() is None:
            return None
        return count

    @translated
    async def add_message(self, message: Message) -> None:
        await add_message(self._scope, message)

    @translated
    async def get_message(self, message_id: UUID) -> Message | None:
        row = (await self._scope.run(hot.GET_MESSAGE, {"b_id": message_id})).first()
        return None if row is None else hot.message_of(row)

    @translated
    async def chat_turn(
        self, chat_id: UUID, response_id: UUID
    ) -> tuple[Chat | None, Sequence[Message]]:
        params = {"b_chat": chat_id, "b_response": response_id}
        rows = (await self._scope.run(hot.CHAT_TURN, params)).all()
        if not rows:
            return None, []
        first = rows[0]
        chat = Chat(
            id=chat_id,
            owner_id=first.chat_owner_id,
            title=first.chat_title,
            created_at=first.chat_created_at,
        )
        return chat, [hot.message_of(row) for row in rows if row.id is not None]

    @translated
    async def list_messages(self, chat_id: UUID, *, limit: int | None = None) -> Sequence[Message]:
        return await self._latest(MessageRow.chat_id == chat_id, limit)

    @translated
    async def history_before(self, message: Message, *, limit: int) -> Sequence[Turn]:
        params = {"b_chat": message.chat_id, "b_response": message.response_id, "b_limit": limit}
        rows = (await self._scope.run(hot.HISTORY_BEFORE, params)).all()
        return [Turn(role=row.role, content=row.content) for row in reversed(rows)]

    def _title_holds(self, text: str) -> ColumnElement[bool]:
        """The chat's title holds ``text``, case aside. A position, not LIKE: every
        character of ``text`` is itself, no wildcard. SQLite's own lower() folds ASCII
        only, so the store gives its connections ``unicode_lower``."""
        if self._scope.backend == "sqlite":
            return func.instr(func.unicode_lower(hot.chats.c.title), func.unicode_lower(text)) > 0
        return func.strpos(func.lower(hot.chats.c.title), func.lower(text)) > 0

    async def _latest(self, condition: ColumnElement[bool], limit: int | None) -> Sequence[Message]:
        """The last ``limit`` messages matching ``condition``, in conversation order."""
        query = select(hot.messages).where(condition).order_by(*hot.CONVERSATION_DESC)
        rows = await self._scope.connection.execute(query.limit(limit))
        return [hot.message_of(row) for row in reversed(rows.all())]


async def add_message(scope: SqlScope, message: Message) -> None:
    """``hot.ADD_MESSAGE``, its outcomes as the port's errors.

    Raises:
        DuplicateAnswer: its turn already has a message of its role.
        NotFound: its chat was erased.
    """
    statement = hot.ADD_MESSAGE[scope.backend]
    try:
        added = (await scope.run(statement, hot.message_params(message))).first()
    except sa_exc.IntegrityError as error:
        # The conflict on (response_id, role) is skipped, not raised: only the chat's
        # foreign key is left to refuse, when the chat was erased meanwhile.
        meaning = refusal(error, message)
        if not isinstance(meaning, NotFound):
            raise
        raise meaning from error
    if added is None:
        raise _taken(message)


def refusal(error: sa_exc.IntegrityError, message: Message) -> ChatorchError | None:
    """What the database's refusal to add ``message`` means to the caller, if anything:
    its chat was erased, or its turn already has a message of its role."""
    if "foreign key" in str(error.orig).lower():
        return NotFound(f"chat {message.chat_id} does not exist")
    if getattr(error.orig, "sqlstate", None) == UNIQUE_VIOLATION:
        return _taken(message)
    return None


def _taken(message: Message) -> DuplicateAnswer:
    return DuplicateAnswer(f"turn {message.response_id} already has a {message.role.value} message")


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlChatRepository) -> ChatRepository:
        return repository
