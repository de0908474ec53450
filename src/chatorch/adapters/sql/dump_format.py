"""The backup file (ADR 0022): gzip'd JSON Lines, one record a line, in this order:

* a header: ``{"format": "chatorch-backup", "version": 1, "chatorch": …, "revision": …,
  "created_at": …, "dialect": …}``;
* every row of every table, ``{"table": "users", "row": {column: value}}``, tables
  parents first (``TABLES``) so a restore can insert them as it reads them;
* the bytes of every file, ``{"blob": file_id, "part": n, "data": base64}``, parts of at
  most ``BLOB_PART`` bytes, in order;
* a trailer: ``{"trailer": {"rows": {table: count}, "blobs": count, "sha256": …}}``, the
  SHA-256 over every line before it, so a cut or edited file is detected.

Values are JSON as the columns hold them: a UUID or a timestamp (UTC, with its offset) as
its text, a JSON column as its JSON. ``decode_row`` checks every value against its
column's type, so a restore finds a bad value while reading, before writing anything.
"""

import base64
import binascii
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import JSON, Column, Integer, String, Table, Uuid

from chatorch.adapters.sql.models import Base, UTCDateTime

FORMAT = "chatorch-backup"
VERSION = 1
BLOB_PART = 1 << 20  # bytes of a file per line: 1.4 MB of base64
MAX_LINE = 4 << 20  # longer lines are refused unread: no valid record is near it
# Parents first: every foreign key points at a table listed earlier.
TABLES: dict[str, Table] = {str(table.name): table for table in Base.metadata.sorted_tables}
ORDER = {name: index for index, name in enumerate(TABLES)}


class BackupError(Exception):
    """A backup that cannot be made or restored; ``line``: where the file broke."""

    def __init__(self, detail: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {detail}" if line is not None else detail)
        self.line = line


@dataclass(frozen=True, slots=True)
class Header:
    chatorch: str
    revision: str
    created_at: str
    dialect: str


@dataclass(frozen=True, slots=True)
class Row:
    table: str
    values: dict[str, Any]  # by column name, decoded


@dataclass(frozen=True, slots=True)
class Blob:
    file_id: UUID
    part: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Trailer:
    rows: dict[str, int]
    blobs: int
    sha256: str


Record = Header | Row | Blob | Trailer


def line_of(record: dict[str, Any]) -> bytes:
    """One record as its line; UUIDs and aware datetimes become their text."""
    return orjson.dumps(record, default=_uuid_text) + b"\n"


def _uuid_text(value: Any) -> str:
    """asyncpg's UUID, a subclass orjson does not take for one."""
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def header_line(header: Header) -> bytes:
    fields = {"chatorch": header.chatorch, "revision": header.revision}
    fields |= {"created_at": header.created_at, "dialect": header.dialect}
    return line_of({"format": FORMAT, "version": VERSION} | fields)


def row_line(table: Table, row: dict[str, Any]) -> bytes:
    return line_of({"table": table.name, "row": row})


def blob_line(file_id: UUID, part: int, data: bytes) -> bytes:
    return line_of({"blob": file_id, "part": part, "data": base64.b64encode(data).decode()})


def trailer_line(trailer: Trailer) -> bytes:
    fields = {"rows": trailer.rows, "blobs": trailer.blobs, "sha256": trailer.sha256}
    return line_of({"trailer": fields})


def lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's lines, numbered from 1, each ending in its newline.

    Raises:
        BackupError: at the line where the gzip stream breaks or ends early, a line is
            cut short (no newline: the file was truncated) or is too long.
        OSError: the file cannot be opened.
    """
    with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
        number = 0
        while True:
            number += 1
            try:
                line = stream.readline(MAX_LINE + 1)
            except (EOFError, gzip.BadGzipFile, zlib.error) as error:
                detail = f"the file is truncated or damaged ({error})"
                raise BackupError(detail, line=number) from None
            if not line:
                return
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE:
                    raise BackupError(f"longer than {MAX_LINE} bytes", line=number)
                raise BackupError("cut short: the file is truncated", line=number)
            yield number, line


def parse(number: int, line: bytes) -> Record:
    """The record on line ``number``, every value checked; ``BackupError`` if it is none."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise BackupError(f"not JSON ({error})", line=number) from None
    try:
        return _record(record)
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        reason = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise BackupError(f"not a backup record: {reason}", line=number) from None


def _record(record: Any) -> Record:
    if not isinstance(record, dict):
        raise ValueError("a record is a JSON object")
    if "table" in record:
        name = _text(record["table"])
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}")
        if not isinstance(record["row"], dict):
            raise ValueError("a row is a JSON object")
        return Row(name, decode_row(TABLES[name], record["row"]))
    if "blob" in record:
        part = record["part"]
        if not isinstance(part, int) or isinstance(part, bool) or part < 0:
            raise ValueError("a blob's part is a number from 0")
        data = base64.b64decode(_text(record["data"]), validate=True)
        if not data or len(data) > BLOB_PART:
            raise ValueError(f"a blob's part holds 1 to {BLOB_PART} bytes")
        return Blob(UUID(_text(record["blob"])), part, data)
    if "trailer" in record:
        fields = record["trailer"]
        rows = fields["rows"]
        if not isinstance(rows, dict) or not all(_count(n) >= 0 for n in rows.values()):
            raise ValueError("a trailer's rows are counts by table")
        return Trailer(rows, _count(fields["blobs"]), _text(fields["sha256"]))
    if record.get("format") == FORMAT:
        if record.get("version") != VERSION:
            raise ValueError(f"format version {record.get('version')!r}; this reads {VERSION}")
        return Header(
            _text(record["chatorch"]),
            _text(record["revision"]),
            _text(record["created_at"]),
            _text(record["dialect"]),
        )
    raise ValueError("neither a header, a row, a blob nor a trailer")


def decode_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every value as its column's Python type, by column name."""
    names = {column.name for column in table.columns}
    if row.keys() != names:
        missing, extra = sorted(names - row.keys()), sorted(row.keys() - names)
        raise ValueError(f"{table.name}: missing columns {missing}, unknown columns {extra}")
    return {column.name: _value(column, row[column.name]) for column in table.columns}


def _value(column: Column[Any], value: Any) -> Any:
    where = f"{column.table.name}.{column.name}"
    if value is None:
        if not column.nullable:
            raise ValueError(f"{where} cannot be null")
        return None
    kind = column.type
    if isinstance(kind, UTCDateTime):
        moment = datetime.fromisoformat(_text(value))
        if moment.tzinfo is None:
            raise ValueError(f"{where}: a timestamp without its offset")
        return moment
    if isinstance(kind, Uuid):
        return UUID(_text(value))
    if isinstance(kind, JSON):
        return value
    if isinstance(kind, Integer):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{where} holds a whole number")
        return value
    if isinstance(kind, String):
        if not isinstance(value, str):
            raise ValueError(f"{where} holds text")
        if kind.length is not None and len(value) > kind.length:
            raise ValueError(f"{where} holds at most {kind.length} characters")
        return value
    raise TypeError(f"{where}: no backup encoding for {kind!r}")  # a new column type


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, not {type(value).__name__}")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("a count is a whole number")
    return value
