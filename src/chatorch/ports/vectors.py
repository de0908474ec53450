"""VectorIndex: the chunks of users' files by the meaning of their text.

It answers "which chunks of this user's files are nearest this vector". It is
dense search only: words and codes are found by the full-text index in the database,
and the two rankings are fused (``domain.fusion``). One index holds the vectors of one
embedder (``ports/embeddings.py``); another embedder gets another collection, so
switching embedders never mixes vector spaces (the old one is left as it was).

A chunk is known by its file and number: storing it again replaces it, so an
ingestion that runs twice leaves one copy.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from chatorch.domain.entities import FileChunk


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    """A chunk of one owner's file with the vector of its text."""

    owner_id: UUID
    chunk: FileChunk
    vector: Sequence[float]


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A chunk near the query: ``score`` is the cosine of their vectors (1 = same)."""

    chunk: FileChunk
    score: float


class VectorIndex(Protocol):
    @property
    def dimension(self) -> int:
        """The length of the vectors it holds."""
        ...

    async def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        """Store the chunks, replacing any stored under the same file and number.

        Raises:
            ValueError: a vector is not ``dimension`` long (a bug, not an outage).
            VectorsUnavailable: the index could not be written.
        """
        ...

    async def query(
        self,
        vector: Sequence[float],
        *,
        owner_id: UUID,
        file_ids: Sequence[UUID] | None = None,
        limit: int,
    ) -> list[ChunkHit]:
        """The chunks of ``owner_id``'s files nearest ``vector``, nearest first.

        Args:
            vector: the query's vector; all zeros (a text of no known words) finds nothing.
            owner_id: only this user's chunks are searched.
            file_ids: only these files' chunks; None for all the owner's files, an empty
                sequence for none.
            limit: at most this many hits.

        Raises:
            VectorsUnavailable: the index could not be read.
        """
        ...

    async def delete_file(self, file_id: UUID) -> None:
        """Remove every chunk of the file (none: nothing happens)."""
        ...

    async def ping(self) -> None:
        """Raise ``VectorsUnavailable`` unless the index answers."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What a readiness probe shows: the backend, where, its collection; no key."""
        ...
