"""``BotRepository`` on SQL: bots with their ciphertexts (the vault encrypts before),
conversation links and sent parts, through the ORM (none of this is the message path)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import Uuid, delete, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from chatorch.adapters.sql.models import (
    BotChatRow,
    BotDeliveryRow,
    BotRow,
    BotSendRow,
    UTCDateTime,
)
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import KEEP, Bot, Keep, Message, Platform, utcnow
from chatorch.domain.events import WorkItem
from chatorch.ports.bots import BotRepository


class SqlBotRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def add_bot(self, bot: Bot, ciphertext: str) -> None:
        self._scope.session.add(
            BotRow(
                id=bot.id,
                owner_id=bot.owner_id,
                platform=bot.platform.value,
                name=bot.name,
                credentials=ciphertext,
                llm=bot.llm,
                tools=None if bot.tools is None else list(bot.tools),
                prompt=bot.prompt,
                created_at=bot.created_at,
            )
        )
        await self._scope.session.flush()

    @translated
    async def get_bot(self, bot_id: UUID) -> tuple[Bot, str] | None:
        row = await self._scope.get(BotRow, bot_id)
        return None if row is None else (_bot(row), row.credentials)

    @translated
    async def list_bots(self) -> Sequence[Bot]:
        query = select(BotRow).order_by(BotRow.id.desc())
        return [_bot(row) for row in await self._scope.session.scalars(query)]

    @translated
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
        row = await self._scope.get(BotRow, bot_id)
        if row is None:
            return None
        if name is not None:
            row.name = name
        if ciphertext is not None:
            row.credentials = ciphertext
        if not isinstance(llm, Keep):
            row.llm = llm
        if not isinstance(tools, Keep):
            row.tools = None if tools is None else list(tools)
        if not isinstance(prompt, Keep):
            row.prompt = prompt
        await self._scope.session.flush()
        return _bot(row)

    @translated
    async def delete_bot(self, bot_id: UUID) -> bool:
        # Its links and sends go by ON DELETE CASCADE, in one statement.
        result = await self._scope.session.execute(delete(BotRow).where(BotRow.id == bot_id))
        return bool(getattr(result, "rowcount", 0))

    @translated
    async def bot_ciphertexts(self) -> Sequence[tuple[UUID, str]]:
        query = select(BotRow.id, BotRow.credentials).order_by(BotRow.id)
        return [(row.id, row.credentials) for row in await self._scope.session.execute(query)]

    @translated
    async def put_bot_ciphertext(self, bot_id: UUID, ciphertext: str) -> None:
        row = await self._scope.get(BotRow, bot_id)
        if row is not None:
            row.credentials = ciphertext
            await self._scope.session.flush()

    @translated
    async def chat_for(self, bot_id: UUID, conversation: str) -> UUID | None:
        query = select(BotChatRow.chat_id).where(
            BotChatRow.bot_id == bot_id, BotChatRow.conversation == conversation
        )
        found: UUID | None = await self._scope.session.scalar(query)
        return found

    @translated
    async def link_chat(self, bot_id: UUID, conversation: str, chat_id: UUID) -> UUID:
        values = {
            "bot_id": bot_id,
            "conversation": conversation,
            "chat_id": chat_id,
            "created_at": utcnow(),
        }
        while True:
            if await self._scope.insert_unless_taken(
                BotChatRow, values, ["bot_id", "conversation"]
            ):
                return chat_id
            # Taken: ON CONFLICT waited for the other writer, so its row is committed and
            # this new statement reads it (unless it went again since: then try again).
            winner = await self.chat_for(bot_id, conversation)
            if winner is not None:
                return winner

    @translated
    async def conversation_of(self, chat_id: UUID) -> tuple[UUID, str] | None:
        query = select(BotChatRow.bot_id, BotChatRow.conversation).where(
            BotChatRow.chat_id == chat_id
        )
        row = (await self._scope.session.execute(query)).first()
        return None if row is None else (row.bot_id, row.conversation)

    @translated
    async def sends(self, response_id: UUID) -> Sequence[tuple[int, str]]:
        query = (
            select(BotSendRow.part, BotSendRow.message_id)
            .where(BotSendRow.response_id == response_id)
            .order_by(BotSendRow.part)
        )
        return [(row.part, row.message_id) for row in await self._scope.session.execute(query)]

    @translated
    async def record_send(
        self, bot_id: UUID, response_id: UUID, part: int, message_id: str
    ) -> bool:
        values = {
            "response_id": response_id,
            "part": part,
            "bot_id": bot_id,
            "message_id": message_id,
            "created_at": utcnow(),
        }
        return await self._scope.insert_unless_taken(BotSendRow, values, ["response_id", "part"])

    @translated
    async def owe(self, bot_id: UUID, question: Message) -> None:
        # INSERT … SELECT from the bot's row: a bot deleted meanwhile is owed nothing,
        # and the answer's transaction this runs in must not fail for it.
        source = select(
            literal(question.response_id, Uuid),
            BotRow.id,
            literal(question.id, Uuid),
            literal(question.chat_id, Uuid),
            literal(utcnow(), UTCDateTime),
        ).where(BotRow.id == bot_id)
        insert = pg_insert if self._scope.backend == "postgresql" else sqlite_insert
        columns = ["response_id", "bot_id", "message_id", "chat_id", "created_at"]
        statement = (
            insert(BotDeliveryRow)
            .from_select(columns, source)
            .on_conflict_do_nothing(index_elements=["response_id"])
        )
        await self._scope.session.execute(statement)

    @translated
    async def is_owed(self, response_id: UUID) -> bool:
        query = select(BotDeliveryRow.response_id).where(BotDeliveryRow.response_id == response_id)
        return await self._scope.session.scalar(query) is not None

    @translated
    async def settle(self, response_id: UUID) -> None:
        query = delete(BotDeliveryRow).where(BotDeliveryRow.response_id == response_id)
        await self._scope.session.execute(query)

    @translated
    async def owed(self, *, limit: int, after: UUID | None = None) -> Sequence[WorkItem]:
        query = select(BotDeliveryRow).order_by(BotDeliveryRow.response_id).limit(limit)
        if after is not None:
            query = query.where(BotDeliveryRow.response_id > after)
        return [
            WorkItem(row.message_id, row.chat_id, row.response_id)
            for row in await self._scope.session.scalars(query)
        ]


def _bot(row: BotRow) -> Bot:
    return Bot(
        id=row.id,
        owner_id=row.owner_id,
        platform=Platform(row.platform),
        name=row.name,
        llm=row.llm,
        tools=None if row.tools is None else list(row.tools),
        prompt=row.prompt,
        created_at=row.created_at,
    )


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlBotRepository) -> BotRepository:
        return repository
