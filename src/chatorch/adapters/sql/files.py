"""``FileRepository`` on SQL: file metadata, chunks and chat links, through the ORM but
for the one read every answer makes (``hot``). The bytes live in a blob store."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import delete, insert, select, update

from chatorch.adapters.sql import hot
from chatorch.adapters.sql.inline_sqlite import InlineConnection
from chatorch.adapters.sql.models import ChatFileRow, FileChunkRow, FileRow
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import FileChunk, FileMeta, FileStatus, utcnow
from chatorch.ports.files import FileRepository


class SqlFileRepository(SqlRepository):
    __slots__ = ()

    @translated
    async def add_file(self, meta: FileMeta) -> FileMeta:
        values = {
            "id": meta.id,
            "owner_id": meta.owner_id,
            "chat_id": meta.chat_id,
            "name": meta.name,
            "media_type": meta.media_type,
            "size": meta.size,
            "sha256": meta.sha256,
            "created_at": meta.created_at,
            "status": meta.status.value,
            "error": meta.error,
        }
        # Two uploads of the same bytes at once: the second finds the first's row.
        if await self._scope.insert_unless_taken(FileRow, values, ["owner_id", "sha256"]):
            return meta
        found = await self.find_file(meta.owner_id, meta.sha256)
        assert found is not None, "the conflicting row is committed before ours proceeds"
        return found

    @translated
    async def get_file(self, file_id: UUID) -> FileMeta | None:
        row = await self._scope.get(FileRow, file_id)
        return None if row is None else _file(row)

    @translated
    async def find_file(self, owner_id: UUID, sha256: str) -> FileMeta | None:
        query = select(FileRow).where(FileRow.owner_id == owner_id, FileRow.sha256 == sha256)
        row = await self._scope.session.scalar(query.execution_options(populate_existing=True))
        return None if row is None else _file(row)

    @translated
    async def list_files(
        self, owner_id: UUID, *, limit: int, before: UUID | None = None
    ) -> Sequence[FileMeta]:
        # Ids are UUIDv7, so ordering by id is ordering by upload time.
        query = select(FileRow).where(FileRow.owner_id == owner_id)
        if before is not None:
            query = query.where(FileRow.id < before)
        query = query.order_by(FileRow.id.desc()).limit(limit)
        rows = await self._scope.session.scalars(query.execution_options(populate_existing=True))
        return [_file(row) for row in rows]

    @translated
    async def delete_file(self, file_id: UUID) -> bool:
        # Chunks and chat links go by ON DELETE CASCADE, in the same statement.
        result = await self._scope.session.execute(delete(FileRow).where(FileRow.id == file_id))
        return bool(getattr(result, "rowcount", 0))

    @translated
    async def mark_ready(self, file_id: UUID, chunks: Sequence[FileChunk]) -> bool:
        if not await self._settle(file_id, FileStatus.READY, None):
            return False
        # A processing file has no chunks; clear any anyway, so a file is never half-indexed.
        clear = delete(FileChunkRow).where(FileChunkRow.file_id == file_id)
        await self._scope.session.execute(clear)
        if chunks:
            await self._insert_many([_chunk_values(file_id, chunk) for chunk in chunks])
        return True

    async def _insert_many(self, rows: list[dict[str, Any]]) -> None:
        """One executemany: 40,000 chunks take a quarter of a second on SQLite (which
        runs on the event loop's thread), where multi-row INSERTs took twenty times that."""
        statement = insert(FileChunkRow)
        connection = self._scope.connection
        if isinstance(connection, InlineConnection):
            connection.sync.execute(statement, rows)
        else:
            await connection.execute(statement, rows)

    @translated
    async def mark_failed(self, file_id: UUID, error: str) -> bool:
        return await self._settle(file_id, FileStatus.FAILED, error)

    async def _settle(self, file_id: UUID, status: FileStatus, error: str | None) -> bool:
        """Move a processing file to ``status``. The conditional UPDATE locks the row
        (PostgreSQL) or the database (SQLite) until commit, so of two workers settling
        one file the second finds it settled and writes nothing."""
        statement = (
            update(FileRow)
            .where(FileRow.id == file_id, FileRow.status == FileStatus.PROCESSING.value)
            .values(status=status.value, error=error)
        )
        result = await self._scope.session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    @translated
    async def processing(self, *, limit: int, after: UUID | None = None) -> Sequence[UUID]:
        query = select(FileRow.id).where(FileRow.status == FileStatus.PROCESSING.value)
        if after is not None:
            query = query.where(FileRow.id > after)
        return list(await self._scope.session.scalars(query.order_by(FileRow.id).limit(limit)))

    @translated
    async def list_chunks(self, file_id: UUID) -> Sequence[FileChunk]:
        query = (
            select(FileChunkRow)
            .where(FileChunkRow.file_id == file_id)
            .order_by(FileChunkRow.number)
        )
        rows = await self._scope.session.scalars(query.execution_options(populate_existing=True))
        return [
            FileChunk(
                file_id=row.file_id,
                number=row.number,
                text=row.text,
                page=row.page,
                heading=row.heading,
            )
            for row in rows
        ]

    @translated
    async def attach_file(self, chat_id: UUID, file_id: UUID) -> bool:
        values = {"chat_id": chat_id, "file_id": file_id, "created_at": utcnow()}
        return await self._scope.insert_unless_taken(ChatFileRow, values, ["chat_id", "file_id"])

    @translated
    async def chat_files(self, chat_id: UUID) -> Sequence[FileMeta]:
        # Every answer asks: a prebuilt statement, plain rows (hot).
        rows = (await self._scope.run(hot.CHAT_FILES, {"b_chat": chat_id})).all()
        return [_file(row) for row in rows]


def _file(row: Any) -> FileMeta:
    """A ``files`` row, from the ORM or a plain one: the same attributes."""
    return FileMeta(
        id=row.id,
        owner_id=row.owner_id,
        chat_id=row.chat_id,
        name=row.name,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        status=FileStatus(row.status),
        error=row.error,
        created_at=row.created_at,
    )


def _chunk_values(file_id: UUID, chunk: FileChunk) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "number": chunk.number,
        "text": chunk.text,
        "page": chunk.page,
        "heading": chunk.heading,
    }


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(repository: SqlFileRepository) -> FileRepository:
        return repository
