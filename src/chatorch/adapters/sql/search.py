"""``SearchIndex`` on SQL: the full-text index the database keeps beside ``messages``.

SQLite: an FTS5 table over ``messages`` (external content: it holds the index, not a
copy of the text), kept in step by triggers; ranked by bm25, extracts by ``snippet()``.
PostgreSQL: a GIN index on ``to_tsvector('simple', content)``; ranked by ``ts_rank``,
extracts by ``ts_headline``. Both made by migration 0008 (ADR 0017).

Both tokenise alike: words split on punctuation, folded to lower case, accents kept,
no stemming — the same query finds the same messages in either mode. The user's text
never reaches a query parser as syntax: FTS5 gets each word as a quoted string, and
PostgreSQL ``plainto_tsquery``, which has no operators.

Ownership is checked on ``chats``, never on anything the index holds.
"""

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Integer, String, Text, TextualSelect, Uuid, bindparam, text

from chatorch.adapters.sql.models import UTCDateTime
from chatorch.adapters.sql.scope import SqlRepository, translated
from chatorch.domain.entities import FileChunk, Role
from chatorch.ports.search import HIGHLIGHT, SearchHit, SearchIndex

SNIPPET_WORDS = 16  # at most, around the matches

# What migration 0008 made that no model describes, by name: the FTS5 table with its
# shadow tables, and PostgreSQL's expression index. Schema comparisons with the models
# (migrations/env.py, the migration tests) leave exactly these to the migration.
FULL_TEXT_OBJECTS = frozenset(
    {
        "messages_fts",
        "messages_fts_config",
        "messages_fts_data",
        "messages_fts_docsize",
        "messages_fts_idx",
        "ix_messages_search",
        "file_chunks_fts",  # migration 0009: the chunks of files, likewise
        "file_chunks_fts_config",
        "file_chunks_fts_data",
        "file_chunks_fts_docsize",
        "file_chunks_fts_idx",
        "ix_file_chunks_search",
    }
)


def described_by_models(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name``: whether the models are to describe this object."""
    return not (type_ in ("table", "index") and name in FULL_TEXT_OBJECTS)


_COLUMNS: dict[str, Any] = {
    "message_id": Uuid(),
    "chat_id": Uuid(),
    "chat_title": String(),
    "role": String(),
    "created_at": UTCDateTime(),
    "snippet": Text(),
}


def _statement(sql: str) -> TextualSelect:
    return text(sql).bindparams(bindparam("owner", type_=Uuid())).columns(**_COLUMNS)


# Every match of the words, then whether the words also stand as the phrase: bm25 alone
# would let a short message with the words apart outrank one holding the phrase.
_SQLITE = _statement(
    f"""
    SELECT m.id AS message_id, m.chat_id, c.title AS chat_title, m.role, m.created_at,
           snippet(messages_fts, 0, '{HIGHLIGHT}', '{HIGHLIGHT}', '…', {SNIPPET_WORDS})
             AS snippet
    FROM messages_fts
    JOIN messages AS m ON m.rowid = messages_fts.rowid
    JOIN chats AS c ON c.id = m.chat_id
    WHERE messages_fts MATCH :words AND c.owner_id = :owner
    ORDER BY m.rowid IN (SELECT rowid FROM messages_fts(:phrase)) DESC,
             bm25(messages_fts), m.id DESC
    LIMIT :limit OFFSET :offset
    """
)

# The WHERE clause repeats the indexed expression exactly, so the GIN index serves it;
# extracts are made for the page only, after ranking.
_POSTGRES = _statement(
    """
    SELECT hit.message_id, hit.chat_id, hit.chat_title, hit.role, hit.created_at,
           ts_headline('simple', hit.content, plainto_tsquery('simple', :query), :headline)
             AS snippet
    FROM (
        SELECT m.id AS message_id, m.chat_id, c.title AS chat_title, m.role,
               m.created_at, m.content,
               to_tsvector('simple', m.content) @@ phraseto_tsquery('simple', :query)
                 AS exact,
               ts_rank(to_tsvector('simple', m.content), plainto_tsquery('simple', :query), 1)
                 AS score
        FROM messages AS m JOIN chats AS c ON c.id = m.chat_id
        WHERE c.owner_id = :owner
          AND to_tsvector('simple', m.content) @@ plainto_tsquery('simple', :query)
        ORDER BY exact DESC, score DESC, m.id DESC
        LIMIT :limit OFFSET :offset
    ) AS hit
    ORDER BY hit.exact DESC, hit.score DESC, hit.message_id DESC
    """
)
_HEADLINE = (
    f'StartSel="{HIGHLIGHT}", StopSel="{HIGHLIGHT}", MaxWords={SNIPPET_WORDS}, MinWords=6,'
    ' MaxFragments=2, FragmentDelimiter=" … "'
)


def quoted(words: str) -> str:
    """``words`` as one FTS5 string: a phrase of the words it tokenises to, whatever
    characters it holds (a double quote is written twice)."""
    return '"' + words.replace('"', '""') + '"'


def fts5_queries(query: str) -> tuple[str, str] | None:
    """FTS5 queries for every word of ``query``, and for them as a phrase; None when
    ``query`` has no word. ``NEAR``, ``*``, ``-``, ``OR``, quotes: all plain text here."""
    words = query.split()
    if not words:
        return None
    return " ".join(quoted(word) for word in words), quoted(" ".join(words))


_WORD = re.compile(r"\w+")


def words_of(query: str) -> list[str]:
    """The distinct words of ``query``, lower-cased, in order, as FTS5's unicode61 splits
    them (PostgreSQL splits the query itself, with the parser that made its index)."""
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(query)))


def _passage_statement(sql: str, *, files: bool) -> TextualSelect:
    statement = text(sql).bindparams(bindparam("owner", type_=Uuid()))
    if files:
        statement = statement.bindparams(bindparam("files", type_=Uuid(), expanding=True))
    return statement.columns(
        file_id=Uuid(), number=Integer(), text=Text(), page=Integer(), heading=String()
    )


def _passages_sql(match: str, rank: str, *, files: bool) -> str:
    only = "AND f.id IN :files" if files else ""
    return f"""
        SELECT k.file_id, k.number, k.text, k.page, k.heading
        FROM file_chunks AS k JOIN files AS f ON f.id = k.file_id
        {match} AND f.owner_id = :owner AND f.status = 'ready' {only}
        ORDER BY {rank}, k.file_id, k.number
        LIMIT :limit
    """


_SQLITE_MATCH = (
    "JOIN file_chunks_fts ON file_chunks_fts.rowid = k.rowid WHERE file_chunks_fts MATCH :words"
)
# Any word of the query, each as the parser makes it of the query itself ("ERR-4471" is
# 'err' and '-4471' there), quoted: a lexeme is never read as an operator.
_ANY_WORD = """to_tsquery('simple', (
    SELECT string_agg(quote_literal(lexeme), ' | ')
    FROM unnest(to_tsvector('simple', :words))
))"""
_POSTGRES_MATCH = f"WHERE to_tsvector('simple', k.text) @@ {_ANY_WORD}"
_POSTGRES_RANK = f"ts_rank(to_tsvector('simple', k.text), {_ANY_WORD}) DESC"
_PASSAGES = {
    (backend, files): _passage_statement(
        _passages_sql(
            _SQLITE_MATCH if backend == "sqlite" else _POSTGRES_MATCH,
            "bm25(file_chunks_fts)" if backend == "sqlite" else _POSTGRES_RANK,
            files=files,
        ),
        files=files,
    )
    for backend in ("sqlite", "postgresql")
    for files in (False, True)
}


class SqlSearchIndex(SqlRepository):
    __slots__ = ()

    @translated
    async def search(
        self, owner_id: UUID, query: str, *, limit: int, offset: int = 0
    ) -> Sequence[SearchHit]:
        query = query.replace("\x00", " ")  # no message can hold a NUL to match
        page = {"owner": owner_id, "limit": limit, "offset": offset}
        if self._scope.backend == "sqlite":
            queries = fts5_queries(query)
            if queries is None:
                return []
            statement, params = _SQLITE, {"words": queries[0], "phrase": queries[1], **page}
        else:
            statement, params = _POSTGRES, {"query": query, "headline": _HEADLINE, **page}
        rows = await self._scope.connection.execute(statement, params)
        return [
            SearchHit(
                message_id=row.message_id,
                chat_id=row.chat_id,
                chat_title=row.chat_title,
                role=Role(row.role),
                snippet=row.snippet,
                created_at=row.created_at,
            )
            for row in rows
        ]

    @translated
    async def passages(
        self, owner_id: UUID, query: str, *, file_ids: Sequence[UUID] | None, limit: int
    ) -> Sequence[FileChunk]:
        words = words_of(query)
        if not words or (file_ids is not None and not file_ids):
            return []
        sqlite = self._scope.backend == "sqlite"
        either = " OR ".join(map(quoted, words)) if sqlite else query.replace("\x00", " ")
        params: dict[str, Any] = {"owner": owner_id, "words": either, "limit": limit}
        if file_ids is not None:
            params["files"] = list(file_ids)
        statement = _PASSAGES[("sqlite" if sqlite else "postgresql", file_ids is not None)]
        rows = await self._scope.connection.execute(statement, params)
        return [
            FileChunk(row.file_id, row.number, row.text, page=row.page, heading=row.heading)
            for row in rows
        ]


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port

    def _is_port(index: SqlSearchIndex) -> SearchIndex:
        return index
