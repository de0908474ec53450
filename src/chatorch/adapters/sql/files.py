"""``FileRepository`` on SQL: file metadata (the bytes live in a blob store)."""

from typing import TYPE_CHECKING
from uuid import UUID

from chatorch.adapters.sql.models import FileRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import FileMeta
from chatorch.ports.files import FileRepository


class SqlFileRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def add_file(self, meta: FileMeta) -> None:
        self._scope.session.add(
            FileRow(
                id=meta.id,
                owner_id=meta.owner_id,
                chat_id=meta.chat_id,
                name=meta.name,
                media_type=meta.media_type,
                size=meta.size,
                sha256=meta.sha256,
                created_at=meta.created_at,
            )
        )
        await self._scope.session.flush()

    @translated
    async def get_file(self, file_id: UUID) -> FileMeta | None:
        row = await self._scope.get(FileRow, file_id)
        if row is None:
            return None
        return FileMeta(
            id=row.id,
            owner_id=row.owner_id,
            chat_id=row.chat_id,
            name=row.name,
            media_type=row.media_type,
            size=row.size,
            sha256=row.sha256,
            created_at=row.created_at,
        )


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlFileRepository) -> FileRepository:
        return repository
