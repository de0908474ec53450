"""SearchIndex: full-text search over the messages of one user's chats, and over the
chunks of their files (retrieval's lexical half: exact codes and names).

The index lives in the database beside the messages it covers, so it is written,
rolled back and erased with them (ADR 0017).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from chatorch.domain.entities import FileChunk, Role

HIGHLIGHT = "**"  # around each matched word of a snippet: Markdown bold


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message that matched, with a short extract of its text."""

    message_id: UUID
    chat_id: UUID
    chat_title: str
    role: Role
    snippet: str  # a few words around the matches, each match between HIGHLIGHTs
    created_at: datetime


class SearchIndex(Protocol):
    async def search(
        self, owner_id: UUID, query: str, *, limit: int, offset: int = 0
    ) -> Sequence[SearchHit]:
        """Messages of the chats ``owner_id`` owns that hold every word of ``query``.

        Best first: messages holding the words as the phrase ``query`` before the
        rest, then by relevance (how often the words occur, in how short a message).
        Words match whole and case-insensitively; any character of ``query`` is text,
        never an operator, so no input is a syntax error. A query without a word
        finds nothing.

        Args:
            owner_id: whose chats to search.
            query: the words to find.
            limit: at most this many hits.
            offset: skip this many of the best hits first (the earlier pages).
        """
        ...

    async def passages(
        self, owner_id: UUID, query: str, *, file_ids: Sequence[UUID] | None, limit: int
    ) -> Sequence[FileChunk]:
        """Chunks of ``owner_id``'s ready files holding any word of ``query``, the most
        relevant first (rarer words and more of them weigh more). ``file_ids``: only
        these files (empty: none); None: all the owner's. As ``search``, no input is a
        syntax error and a query without a word finds nothing."""
        ...
