"""``ThreadRepository`` on SQL: one ``chat_threads`` row per owner and fingerprint,
erased with its chat or its owner."""

from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from chatorch.adapters.sql.models import ChatThreadRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import utcnow
from chatorch.ports.threads import ThreadRepository


class SqlThreadRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def put_thread(
        self, owner_id: UUID, fingerprint: str, *, chat_id: UUID, response_id: UUID
    ) -> None:
        insert = pg_insert if self._scope.backend == "postgresql" else sqlite_insert
        values = {
            "owner_id": owner_id,
            "fingerprint": fingerprint,
            "chat_id": chat_id,
            "response_id": response_id,
            "created_at": utcnow(),
        }
        statement = insert(ChatThreadRow).values(**values)
        upsert = statement.on_conflict_do_update(
            index_elements=["owner_id", "fingerprint"],
            set_={
                name: statement.excluded[name] for name in ("chat_id", "response_id", "created_at")
            },
        )
        await self._scope.session.execute(upsert)

    @translated
    async def get_thread(self, owner_id: UUID, fingerprint: str) -> tuple[UUID, UUID] | None:
        query = select(ChatThreadRow.chat_id, ChatThreadRow.response_id).where(
            ChatThreadRow.owner_id == owner_id, ChatThreadRow.fingerprint == fingerprint
        )
        row = (await self._scope.session.execute(query)).first()
        return None if row is None else (row.chat_id, row.response_id)


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlThreadRepository) -> ThreadRepository:
        return repository
