"""The backup file's format and its check: every table of the schema is in a backup but
the derived full-text objects; every value comes back as its column's type; a file that
is not whole is refused at the line where it breaks, before anything is written."""

import asyncio
import gzip
import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import JSON, Integer, String, Uuid

from chatorch.adapters.sql.dump import head_revision
from chatorch.adapters.sql.dump_format import (
    TABLES,
    BackupError,
    Blob,
    Header,
    Row,
    Trailer,
    blob_line,
    header_line,
    parse,
    row_line,
    trailer_line,
)
from chatorch.adapters.sql.load import check
from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.models import UTCDateTime
from chatorch.adapters.sql.search import FULL_TEXT_OBJECTS

NOW = datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC)


class _Quiet:
    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


def _sample(column: Any) -> Any:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return NOW
    if isinstance(kind, Uuid):
        return uuid4()
    if isinstance(kind, JSON):
        return {"a": [1, "two", None], "ü": True}
    if isinstance(kind, Integer):
        return 7
    if isinstance(kind, String):
        return "ä ✓ 'quoted' \"text\""[: kind.length or 100]
    raise AssertionError(f"{column} has a type the test does not know")


class TestFormat:
    def test_the_backup_holds_every_table_but_the_derived_full_text_objects(
        self, tmp_path: Path
    ) -> None:
        upgrade(f"sqlite+aiosqlite:///{tmp_path}/all.db")
        with sqlite3.connect(tmp_path / "all.db") as db:
            tables = {
                name
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        left_out = tables - set(TABLES) - {"alembic_version"}
        assert "messages_fts" in left_out
        assert left_out <= FULL_TEXT_OBJECTS

    def test_every_value_of_every_column_comes_back_as_it_was(self) -> None:
        for table in TABLES.values():
            row = {str(column.name): _sample(column) for column in table.columns}
            record = parse(1, row_line(table, row))
            assert record == Row(table.name, row)

    def test_no_table_has_a_sequence_to_bump_after_a_restore(self) -> None:
        """Restored ids are written as they are; an integer key the database counts
        would need its sequence moved past them on PostgreSQL (ADR 0022)."""
        for table in TABLES.values():
            key = list(table.primary_key.columns)
            # SQLAlchemy makes a lone integer key SERIAL; or one says autoincrement=True.
            counted = [c for c in key if isinstance(c.type, Integer) and c.autoincrement is True]
            assert not counted, counted
            assert len(key) > 1 or not isinstance(key[0].type, Integer), key

    def test_a_value_of_the_wrong_type_is_refused_with_its_column(self) -> None:
        table = TABLES["messages"]
        row = {str(column.name): _sample(column) for column in table.columns}
        for column, bad, reason in (
            ("attempts", "7", "messages.attempts holds a whole number"),
            ("created_at", "2026-12-06T01:02:03", "without its offset"),
            ("chat_id", "not-a-uuid", "badly formed"),
            ("role", None, "messages.role cannot be null"),
            ("status", "x" * 17, "at most 16 characters"),
        ):
            line = row_line(table, row | {column: bad})
            with pytest.raises(BackupError, match=reason) as refused:
                parse(9, line)
            assert refused.value.line == 9


def _file(path: Path, body: list[bytes], *, trailer: Trailer | None = None) -> Path:
    digest = hashlib.sha256(b"".join(body)).hexdigest()
    rows = dict.fromkeys(TABLES, 0)
    for line in body[1:]:
        record = parse(0, line)
        if isinstance(record, Row):
            rows[record.table] += 1
    blobs = len({r.file_id for r in (parse(0, line) for line in body) if isinstance(r, Blob)})
    end = trailer_line(trailer or Trailer(rows, blobs, digest))
    with gzip.open(path, "wb") as stream:
        stream.write(b"".join([*body, end]))
    return path


def _header() -> bytes:
    return header_line(Header("0.0.0", head_revision(), NOW.isoformat(), "sqlite"))


def _user() -> tuple[UUID, bytes]:
    user = uuid4()
    return user, row_line(TABLES["users"], {"id": user, "name": "ann", "created_at": NOW})


def _file_row(owner: UUID, data: bytes) -> tuple[UUID, bytes]:
    file_id = uuid4()
    row = {
        "id": file_id,
        "owner_id": owner,
        "chat_id": None,
        "name": "a.txt",
        "media_type": "text/plain",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created_at": NOW,
        "status": "ready",
        "error": None,
    }
    return file_id, row_line(TABLES["files"], row)


class TestCheck:
    def test_a_whole_file_passes_with_its_files_bytes(self, tmp_path: Path) -> None:
        user, user_line = _user()
        file_id, file_line = _file_row(user, b"hello world")
        parts = [blob_line(file_id, 0, b"hello "), blob_line(file_id, 1, b"world")]
        checked = check(
            _file(tmp_path / "ok.gz", [_header(), user_line, file_line, *parts]),
            _Quiet(),
            head=head_revision(),
        )
        assert checked.trailer.rows["users"] == 1
        assert checked.files[file_id].size == 11

    @pytest.mark.parametrize(
        ("case", "line", "reason"),
        [
            ("wrong bytes", 4, "are not the ones its row names"),
            ("a part skipped", 5, "part 2 of file"),
            ("bytes of no file", 4, "which has no row"),
            ("a row after the bytes", 5, "a row of users after the files' bytes"),
            ("parents after children", 3, "a row of users after rows of files"),
            ("a second header", 3, "a second header"),
            ("another schema", 1, "made at schema revision 0001"),
        ],
    )
    def test_a_file_not_whole_is_refused_at_its_line(
        self, tmp_path: Path, case: str, line: int, reason: str
    ) -> None:
        user, user_line = _user()
        file_id, file_line = _file_row(user, b"hello world")
        body = {
            "wrong bytes": [_header(), user_line, file_line, blob_line(file_id, 0, b"hello")],
            "a part skipped": [
                _header(),
                user_line,
                file_line,
                blob_line(file_id, 0, b"hello "),
                blob_line(file_id, 2, b"world"),
            ],
            "bytes of no file": [_header(), user_line, user_line, blob_line(uuid4(), 0, b"x")],
            "a row after the bytes": [
                _header(),
                user_line,
                file_line,
                blob_line(file_id, 0, b"hello world"),
                _user()[1],
            ],
            "parents after children": [_header(), file_line, user_line],
            "a second header": [_header(), user_line, _header()],
            "another schema": [
                header_line(Header("0.0.0", "0001", NOW.isoformat(), "sqlite")),
                user_line,
            ],
        }[case]
        with pytest.raises(BackupError, match=reason) as refused:
            check(_file(tmp_path / "bad.gz", body), _Quiet(), head=head_revision())
        assert refused.value.line == line

    def test_more_after_the_trailer_is_refused(self, tmp_path: Path) -> None:
        path = _file(tmp_path / "ok.gz", [_header(), _user()[1]])
        with gzip.open(path, "ab") as stream:
            stream.write(_user()[1])
        with pytest.raises(BackupError, match="line 4: more after the trailer"):
            check(path, _Quiet(), head=head_revision())

    def test_a_file_that_is_not_gzip_is_refused_at_line_1(self, tmp_path: Path) -> None:
        path = tmp_path / "plain.jsonl"
        path.write_bytes(_header())
        with pytest.raises(BackupError, match="line 1: the file is truncated or damaged"):
            check(path, _Quiet(), head=head_revision())

    def test_an_empty_file_is_not_a_backup(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.gz"
        with gzip.open(path, "wb"):
            pass
        with pytest.raises(BackupError, match="line 1: empty"):
            check(path, _Quiet(), head=head_revision())


def test_head_revision_is_what_migrations_reach(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/head.db"
    upgrade(url)
    from chatorch.adapters.sql.migrate import current

    assert asyncio.run(asyncio.to_thread(current, url)) == head_revision()
