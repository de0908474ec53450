"""``chatorch restore``: a backup (``dump_format``) checked whole, then written at once.

``check`` reads the entire file before anything is written: the header's format and
schema revision, every line a record of a known table with exactly its columns and
values of their types, each file's bytes complete and matching its row's size and
SHA-256, and the trailer's counts and checksum. A file that fails is refused with the
line where it broke.

``load`` then writes every row in one transaction, parents first as the file lists
them, and puts each file's bytes in the blob store as they come, before the commit: a
failure rolls back every row and leaves at most bytes no row names (as an interrupted
upload does). A row whose primary key the target already holds is skipped, kept as it
is there, so restoring a file twice writes nothing the second time.

A file restored ``ready`` is restored ``processing``: vectors are not in the backup, so
the next ``chatorch serve`` or ``worker`` reads it again from its bytes (as it reads an
upload) and indexes its chunks in the target's vector index.
"""

import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatorch.adapters.sql.dump import BATCH, KeyFor, Tracker, engine_for, revision_of
from chatorch.adapters.sql.dump_format import (
    ORDER,
    TABLES,
    BackupError,
    Blob,
    Header,
    Row,
    Trailer,
    lines,
    parse,
)
from chatorch.ports.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class FileFacts:
    owner_id: UUID
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Checked:
    """A backup that ``check`` found whole."""

    header: Header
    trailer: Trailer
    files: dict[UUID, FileFacts]


@dataclass(slots=True)
class Restored:
    added: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    kept: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    blobs: int = 0
    to_read: int = 0  # files restored processing, to be read (and indexed) again


def check(path: Path, tracker: Tracker, *, head: str) -> Checked:
    """The backup at ``path``, read to its end and found whole.

    Raises:
        BackupError: with the line where the file broke.
        OSError: it cannot be opened.
    """
    tracker.start("checking", None)
    state = _Check(head)
    last = 0
    for number, line in lines(path):
        last = number
        state.take(number, line)
        tracker.advance()
    if state.header is None:
        raise BackupError("empty: not a chatorch backup", line=1)
    if state.trailer is None:
        raise BackupError("the file ends without its trailer: it is truncated", line=last + 1)
    return Checked(state.header, state.trailer, state.files)


class _Check:
    """What reading so far has found; ``take`` each line in turn."""

    def __init__(self, head: str) -> None:
        self.head = head
        self.digest = hashlib.sha256()
        self.header: Header | None = None
        self.trailer: Trailer | None = None
        self.rows = dict.fromkeys(TABLES, 0)
        self.table = ""
        self.files: dict[UUID, FileFacts] = {}
        self.blob: _Bytes | None = None
        self.blobs: set[UUID] = set()

    def take(self, number: int, line: bytes) -> None:
        if self.trailer is not None:
            raise BackupError("more after the trailer", line=number)
        record = parse(number, line)
        if number == 1:
            self._header(record)
        elif isinstance(record, Row):
            self._row(number, record)
        elif isinstance(record, Blob):
            self._blob(number, record)
        elif isinstance(record, Trailer):
            self._trailer(number, record)
            return  # the checksum covers the lines before the trailer
        else:
            raise BackupError("a second header", line=number)
        self.digest.update(line)

    def _header(self, record: Any) -> None:
        if not isinstance(record, Header):
            raise BackupError("not a chatorch backup: its header is missing", line=1)
        if record.revision != self.head:
            raise BackupError(
                f"made at schema revision {record.revision} (chatorch {record.chatorch});"
                f" this chatorch restores revision {self.head}: restore it with the"
                " version that made it, migrate, and back up again",
                line=1,
            )
        self.header = record

    def _row(self, number: int, row: Row) -> None:
        if self.blobs:
            raise BackupError(f"a row of {row.table} after the files' bytes", line=number)
        if self.table and ORDER[row.table] < ORDER[self.table]:
            raise BackupError(f"a row of {row.table} after rows of {self.table}", line=number)
        self.table = row.table
        self.rows[row.table] += 1
        if row.table == "files":
            values = row.values
            facts = FileFacts(values["owner_id"], values["sha256"], values["size"])
            self.files[values["id"]] = facts

    def _blob(self, number: int, blob: Blob) -> None:
        current = self.blob
        if current is not None and current.file_id == blob.file_id:
            if blob.part != current.part + 1:
                raise BackupError(
                    f"part {blob.part} of file {blob.file_id}'s bytes after part {current.part}",
                    line=number,
                )
        else:
            self._finish()
            if blob.file_id not in self.files:
                raise BackupError(f"bytes of file {blob.file_id}, which has no row", line=number)
            if blob.file_id in self.blobs:
                raise BackupError(f"the bytes of file {blob.file_id} twice", line=number)
            if blob.part != 0:
                raise BackupError(f"file {blob.file_id}'s bytes start at part 0", line=number)
            self.blobs.add(blob.file_id)
            self.blob = current = _Bytes(blob.file_id)
        current.add(number, blob)

    def _finish(self) -> None:
        """Check the bytes of the file just read against its row."""
        current, self.blob = self.blob, None
        if current is None:
            return
        facts = self.files[current.file_id]
        if current.size != facts.size or current.digest.hexdigest() != facts.sha256:
            raise BackupError(
                f"the bytes of file {current.file_id} are not the ones its row names"
                f" ({current.size} bytes, {facts.size} expected)",
                line=current.line,
            )

    def _trailer(self, number: int, trailer: Trailer) -> None:
        self._finish()
        counted = self.rows | {"files' bytes": len(self.blobs)}
        said = trailer.rows | {"files' bytes": trailer.blobs}
        names = said | counted
        wrong = [
            f"{n}: {said.get(n)}, not {counted.get(n)}"
            for n in names
            if said.get(n) != counted.get(n)
        ]
        if wrong:
            raise BackupError(
                f"the trailer's counts are not the file's ({'; '.join(wrong)})", line=number
            )
        if trailer.sha256 != self.digest.hexdigest():
            raise BackupError(
                "the checksum does not match the records: the file was changed", line=number
            )
        self.trailer = trailer


class _Bytes:
    def __init__(self, file_id: UUID) -> None:
        self.file_id = file_id
        self.part = -1
        self.size = 0
        self.line = 0
        self.digest = hashlib.sha256()

    def add(self, number: int, blob: Blob) -> None:
        self.part, self.line = blob.part, number
        self.size += len(blob.data)
        self.digest.update(blob.data)


async def load(
    url: str,
    path: Path,
    checked: Checked,
    *,
    blobs: BlobStore,
    key_for: KeyFor,
    tracker: Tracker,
) -> Restored:
    """Write the ``checked`` backup at ``path`` into the database at ``url`` (at the
    backup's schema revision) and its bytes into ``blobs``: all of it, or no row.

    Raises:
        BackupError: a row conflicts with a different one in the target, or the file
            changed since it was checked; nothing was written.
    """
    trailer = checked.trailer
    tracker.start("restoring", sum(trailer.rows.values()) + trailer.blobs)
    restored = Restored()
    async with engine_for(url, create=True) as engine, engine.connect() as connection:
        await connection.execution_options(chatorch_writing=True)
        try:
            async with connection.begin():
                revision = await revision_of(connection)
                if revision != checked.header.revision:
                    raise BackupError(f"the database is at revision {revision}, not the backup's")
                await _load(connection, path, checked, blobs, key_for, tracker, restored)
        except IntegrityError as error:
            raise BackupError(
                "the target holds rows that conflict with the backup's (the same name or key"
                f" under another id): {error.orig}; nothing was written"
            ) from None
    return restored


async def _load(
    connection: AsyncConnection,
    path: Path,
    checked: Checked,
    blobs: BlobStore,
    key_for: KeyFor,
    tracker: Tracker,
    restored: Restored,
) -> None:
    digest = hashlib.sha256()
    # A checked file holds each table's rows, then each file's parts, together.
    for (table, file_id), group in groupby(_records(path, digest), key=_group):
        if file_id is None:
            batch: list[dict[str, Any]] = []
            for row in group:
                assert isinstance(row, Row)
                batch.append(row.values)
                if len(batch) == BATCH:
                    await _insert(connection, table, batch, restored, tracker)
                    batch = []
            await _insert(connection, table, batch, restored, tracker)
            continue
        facts = checked.files[file_id]
        await blobs.put(key_for(facts.owner_id, facts.sha256), _parts(group))
        restored.blobs += 1
        tracker.advance()
    if digest.hexdigest() != checked.trailer.sha256:
        raise BackupError("the file changed while it was restored; nothing was written")


def _records(path: Path, digest: Any) -> Iterator[Row | Blob]:
    """The rows and blob parts of an already checked file, hashing the lines read."""
    for number, line in lines(path):
        record = parse(number, line)
        if isinstance(record, Trailer):
            return
        digest.update(line)
        if isinstance(record, Row | Blob):
            yield record


def _group(record: Row | Blob) -> tuple[str, UUID | None]:
    return (record.table, None) if isinstance(record, Row) else ("", record.file_id)


async def _parts(group: Iterator[Row | Blob]) -> AsyncIterator[bytes]:
    for record in group:
        assert isinstance(record, Blob)
        yield record.data


async def _insert(
    connection: AsyncConnection,
    name: str,
    rows: list[dict[str, Any]],
    restored: Restored,
    tracker: Tracker,
) -> None:
    """Insert the rows the target lacks by primary key; count those it has."""
    if not rows:
        return
    table: Table = TABLES[name]
    key = list(table.primary_key.columns)
    by_key = {tuple(row[column.name] for column in key): row for row in rows}
    where = key[0].in_([k[0] for k in by_key]) if len(key) == 1 else tuple_(*key).in_(by_key)
    held = {tuple(found) for found in await connection.execute(select(*key).where(where))}
    new = [row for k, row in by_key.items() if k not in held]
    if name == "files":
        new = [_to_read(row, restored) for row in new]
    if new:
        columns = list(table.columns)
        await connection.execute(
            insert(table), [{c.key: row[c.name] for c in columns} for row in new]
        )
    restored.added[name] += len(new)
    restored.kept[name] += len(rows) - len(new)
    tracker.advance(len(rows))


def _to_read(row: dict[str, Any], restored: Restored) -> dict[str, Any]:
    if row["status"] != "ready":
        return row
    restored.to_read += 1
    return row | {"status": "processing"}
