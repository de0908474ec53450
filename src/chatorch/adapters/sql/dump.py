"""``chatorch backup``: every durable row and every file's bytes, from one snapshot, as the
file ``dump_format`` describes.

The snapshot is one read transaction: REPEATABLE READ READ ONLY on PostgreSQL, a single
BEGIN on SQLite (in WAL mode a reader keeps its view while writers go on). Rows stream
out table by table in primary-key order, so memory stays flat whatever the database
holds. The file is written beside its name and renamed over it once complete and
synced: an interrupted backup never leaves a file that looks like one.
"""

import gzip
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol
from uuid import UUID

import orjson
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from chatorch.adapters.sql import migrate
from chatorch.adapters.sql.dump_format import (
    BLOB_PART,
    TABLES,
    BackupError,
    Header,
    Trailer,
    blob_line,
    header_line,
    row_line,
    trailer_line,
)
from chatorch.adapters.sql.store import backend_of, ensure_sqlite_directory
from chatorch.domain.errors import BlobNotFound
from chatorch.ports.blobs import BlobStore

BATCH = 500  # rows fetched (and, restoring, written) at a time
KeyFor = Callable[[UUID, str], str]  # a file's owner and SHA-256 → its blob key


class Tracker(Protocol):
    """Where progress goes: a bar on a terminal, nowhere otherwise."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...


@dataclass(slots=True)
class Written:
    rows: dict[str, int]
    blobs: int
    missing: list[UUID] = field(default_factory=list)  # files whose bytes were gone


def head_revision() -> str:
    """The newest schema revision this chatorch knows."""
    head = ScriptDirectory.from_config(migrate.config("sqlite://")).get_current_head()
    assert head is not None
    return head


@asynccontextmanager
async def engine_for(url: str, *, create: bool) -> AsyncIterator[AsyncEngine]:
    """An engine of one connection at a time, whose transactions begin for real.

    SQLite's driver otherwise sends BEGIN only before a write, which would leave a
    backup's reads unisolated; here BEGIN comes first, so one snapshot holds all reads.
    Foreign keys are enforced on SQLite, as the store does.
    """
    parsed = make_url(url)
    if create:
        ensure_sqlite_directory(parsed)
    elif backend_of(parsed) == "sqlite" and not _sqlite_exists(parsed.database or ""):
        raise BackupError(f"there is no SQLite database at {parsed.database}")
    json: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
    engine = create_async_engine(parsed, poolclass=NullPool, hide_parameters=True, **json)
    if backend_of(engine.url) == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    try:
        yield engine
    finally:
        await engine.dispose()


def _sqlite_exists(database: str) -> bool:
    """Whether the file is there (a URI filename is left to SQLite to find)."""
    return database.startswith("file:") or Path(database).expanduser().exists()


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    writing = connection.get_execution_options().get("chatorch_writing", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


async def revision_of(connection: AsyncConnection) -> str | None:
    def read(sync: Connection) -> str | None:
        return MigrationContext.configure(sync).get_current_revision()

    return await connection.run_sync(read)


async def write_backup(
    url: str,
    path: Path,
    *,
    blobs: BlobStore,
    key_for: KeyFor,
    tracker: Tracker,
    chatorch_version: str,
) -> Written:
    """Write the backup of the database at ``url`` (and its files' bytes) to ``path``.

    Raises:
        BackupError: the database is not at this chatorch's schema, or a file's bytes
            are not the bytes its row names; no file is left at ``path``.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as raw:
            written = await _write(url, raw, blobs, key_for, tracker, chatorch_version)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written


async def _write(
    url: str, raw: IO[bytes], blobs: BlobStore, key_for: KeyFor, tracker: Tracker, version: str
) -> Written:
    async with engine_for(url, create=False) as engine, engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        async with connection.begin():
            revision, head = await revision_of(connection), head_revision()
            if revision != head:
                raise BackupError(
                    f"the database is at schema revision {revision or 'none'}, this chatorch"
                    f" at {head}: run `chatorch migrate` first (with this version)"
                )
            totals = {name: await _count(connection, name) for name in TABLES}
            tracker.start("backing up", sum(totals.values()) + totals["files"])
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as out:
                writer = _Writer(out)
                header = Header(version, head, _now(), engine.dialect.name)
                writer.write(header_line(header))
                files = await _rows(connection, writer, tracker)
                written = Written(writer.rows, 0)
                for file_id, owner_id, sha256 in files:
                    if await _blob(writer, blobs, key_for(owner_id, sha256), file_id, sha256):
                        written.blobs += 1
                    else:
                        written.missing.append(file_id)
                    tracker.advance()
                trailer = Trailer(writer.rows, written.blobs, writer.digest.hexdigest())
                out.write(trailer_line(trailer))
    return written


class _Writer:
    """Writes lines, hashing them and counting rows by table."""

    def __init__(self, out: gzip.GzipFile) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.rows: dict[str, int] = dict.fromkeys(TABLES, 0)

    def write(self, line: bytes) -> None:
        self.out.write(line)
        self.digest.update(line)


async def _count(connection: AsyncConnection, name: str) -> int:
    count = await connection.scalar(select(func.count()).select_from(TABLES[name]))
    return int(count or 0)


async def _rows(
    connection: AsyncConnection, writer: _Writer, tracker: Tracker
) -> list[tuple[UUID, UUID, str]]:
    """Every table's rows, parents first; the files' ids, owners and SHA-256s."""
    files: list[tuple[UUID, UUID, str]] = []
    for name, table in TABLES.items():
        names = [(str(column.name), column) for column in table.columns]  # not quoted_name
        query = select(table).order_by(*table.primary_key.columns)
        result = await connection.stream(query)
        async for batch in result.mappings().partitions(BATCH):
            for mapping in batch:
                row = {name: mapping[column] for name, column in names}
                if name == "chat_summaries":
                    row["leased_until"] = None  # a lease is its writer's, not the data's
                if name == "files":
                    files.append((row["id"], row["owner_id"], row["sha256"]))
                writer.write(row_line(table, row))
            writer.rows[name] += len(batch)
            tracker.advance(len(batch))
    return files


async def _blob(writer: _Writer, blobs: BlobStore, key: str, file_id: UUID, sha256: str) -> bool:
    """Write a file's bytes in parts; False when the blob store has none for it."""
    try:
        pieces = await blobs.open(key)
    except BlobNotFound:
        return False
    digest, part = hashlib.sha256(), 0
    async for piece in pieces:
        digest.update(piece)
        for start in range(0, len(piece), BLOB_PART):
            writer.write(blob_line(file_id, part, piece[start : start + BLOB_PART]))
            part += 1
    if digest.hexdigest() != sha256:
        raise BackupError(
            f"the bytes of file {file_id} in the blob store are not the ones uploaded "
            f"(SHA-256 {digest.hexdigest()}, not {sha256}); delete the file or restore them"
        )
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat()
