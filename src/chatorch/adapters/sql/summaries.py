"""``SummaryRepository`` on SQL: one ``chat_summaries`` row per chat, holding its summary
and the lease of the process writing the next one (an upsert that takes it only when
it is free, so two processes never both do)."""

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import ColumnElement, Text, Uuid, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute

from chatorch.adapters.sql import hot
from chatorch.adapters.sql.models import ChatRow, ChatSummaryRow, MessageRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import ChatSummary, Role, Status
from chatorch.ports.summaries import SummaryRepository


class SqlSummaryRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def get_summary(self, chat_id: UUID) -> ChatSummary | None:
        row = (await self._scope.run(hot.GET_SUMMARY, {"b_chat": chat_id})).first()
        if row is None or row.through_message_id is None or row.created_at is None:
            return None
        return ChatSummary(
            chat_id=row.chat_id,
            text=row.text,
            prompt=row.prompt,
            through_message_id=row.through_message_id,
            created_at=row.created_at,
        )

    @translated
    async def put_summary(self, summary: ChatSummary) -> bool:
        values = {
            "chat_id": summary.chat_id,
            "text": summary.text,
            "prompt": summary.prompt,
            "through_message_id": summary.through_message_id,
            "created_at": summary.created_at,
            "leased_until": None,
        }
        table = ChatSummaryRow.__table__
        # INSERT … SELECT from the chat's row: a chat deleted meanwhile gets none.
        source = select(
            *(literal(value, table.c[name].type) for name, value in values.items())
        ).where(select(ChatRow.id).where(ChatRow.id == summary.chat_id).exists())
        insert = pg_insert if self._scope.backend == "postgresql" else sqlite_insert
        statement = insert(ChatSummaryRow).from_select(list(values), source)
        upsert = statement.on_conflict_do_update(
            index_elements=["chat_id"],
            set_={name: statement.excluded[name] for name in values if name != "chat_id"},
            where=or_(
                table.c.through_message_id.is_(None),
                table.c.through_message_id < summary.through_message_id,
            ),
        ).returning(table.c.chat_id)
        return (await self._scope.session.execute(upsert)).first() is not None

    @translated
    async def lease(self, chat_id: UUID, *, until: datetime, now: datetime) -> bool:
        table = ChatSummaryRow.__table__
        source = select(ChatRow.id, literal(until, table.c.leased_until.type)).where(
            ChatRow.id == chat_id
        )
        insert = pg_insert if self._scope.backend == "postgresql" else sqlite_insert
        statement = insert(ChatSummaryRow).from_select(["chat_id", "leased_until"], source)
        upsert = statement.on_conflict_do_update(
            index_elements=["chat_id"],
            set_={"leased_until": until},
            where=or_(table.c.leased_until.is_(None), table.c.leased_until < now),
        ).returning(table.c.chat_id)
        return (await self._scope.session.execute(upsert)).first() is not None

    @translated
    async def idle_chats(
        self, *, since: UUID, idle_before: UUID, limit: int
    ) -> Sequence[tuple[UUID, UUID]]:
        answered = (
            select(MessageRow.chat_id, self._greatest(MessageRow.id).label("last_answer"))
            .where(
                MessageRow.id >= since,
                MessageRow.role == Role.ASSISTANT.value,
                MessageRow.status == Status.COMPLETE.value,
            )
            .group_by(MessageRow.chat_id)
            .subquery()
        )
        latest = (
            select(MessageRow.chat_id, self._greatest(MessageRow.id).label("last"))
            .where(MessageRow.id >= since)
            .group_by(MessageRow.chat_id)
            .subquery()
        )
        summaries = ChatSummaryRow.__table__.c
        query = (
            select(answered.c.chat_id, answered.c.last_answer)
            .join(latest, latest.c.chat_id == answered.c.chat_id)
            .outerjoin(ChatSummaryRow, ChatSummaryRow.chat_id == answered.c.chat_id)
            .where(
                latest.c.last < idle_before,
                or_(
                    summaries.through_message_id.is_(None),
                    summaries.through_message_id < answered.c.last_answer,
                ),
            )
            .order_by(latest.c.last)
            .limit(limit)
        )
        rows = await self._scope.session.execute(query)
        return [(row.chat_id, row.last_answer) for row in rows]

    def _greatest(self, column: InstrumentedAttribute[UUID]) -> ColumnElement[UUID]:
        """The largest id: PostgreSQL has no max() of uuid, but its text sorts the same."""
        if self._scope.backend == "postgresql":
            return cast(func.max(cast(column, Text)), Uuid)
        return func.max(column)


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlSummaryRepository) -> SummaryRepository:
        return repository
