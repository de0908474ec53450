"""Retriever: the passages of a user's files that best answer a question.

Hybrid, because neither half is enough alone: the vector index finds passages that
mean what the question asks in other words, and the database's full-text index finds
exact codes and names (``ERR-4471`` is not ``ERR-4417`` to it). Their rankings are
fused by rank (``domain/fusion.py``). Without a vector index (distributed, no Qdrant
server) or when it fails, the full-text half answers alone. ADR 0019 measures both.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from chatorch import tracing
from chatorch.domain.entities import FileChunk
from chatorch.domain.errors import ChatorchError
from chatorch.domain.fusion import reciprocal_rank_fusion
from chatorch.ports.embeddings import Embedder
from chatorch.ports.store import Store
from chatorch.ports.vectors import IndexedChunk, VectorIndex

log = structlog.get_logger(__name__)

PASSAGES = 4  # passages put in a prompt
BREADTH = 12  # candidates asked of each index before fusing
EMBED_BATCH = 64  # chunks embedded at a time while a file is indexed
# The span's attributes (GenAI semantic conventions); the query stays out of traces.
_RETRIEVAL = {"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "files"}


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk, the name of its file and its fused score (higher is better)."""

    chunk: FileChunk
    file_name: str
    score: float

    def citation(self) -> dict[str, Any]:
        """What an answer's ``metadata.citations`` lists for it."""
        return {
            "file_id": str(self.chunk.file_id),
            "name": self.file_name,
            "chunk": self.chunk.number,  # from 0; "part" chunk + 1 in the prompt
            "page": self.chunk.page,  # a PDF's, from 1; None for other files
            "heading": self.chunk.heading,
            "score": round(self.score, 4),
        }


class Retriever:
    def __init__(
        self,
        store: Store,
        *,
        embedder: Embedder | None,
        vectors: VectorIndex | None,
        passages: int = PASSAGES,
    ) -> None:
        self._store = store
        self._embedder = embedder if vectors is not None else None
        self._vectors = vectors
        self._passages = passages

    async def retrieve(
        self,
        owner_id: UUID,
        query: str,
        *,
        file_ids: Sequence[UUID] | None,
        limit: int | None = None,
    ) -> list[Passage]:
        """The best passages of ``owner_id``'s ready files for ``query``, best first.

        ``file_ids``: only these files (empty: none); None: all the owner's files.
        """
        if file_ids is not None and not file_ids:
            return []
        with tracing.span("retrieval files", attributes=_RETRIEVAL) as span:
            breadth = max(BREADTH, limit or 0)
            async with self._store.transaction(durable=False) as tx:
                lexical = await tx.search.passages(
                    owner_id, query, file_ids=file_ids, limit=breadth
                )
            dense = await self._nearest(owner_id, query, file_ids, breadth)
            chunks = {(c.file_id, c.number): c for c in [*dense, *lexical]}
            fused = reciprocal_rank_fusion(
                [[(c.file_id, c.number) for c in dense], [(c.file_id, c.number) for c in lexical]],
                limit=limit or self._passages,
            )
            names = await self._names({file_id for file_id, _ in chunks})
            if span.is_recording():
                span.set_attribute("chatorch.retrieval.lexical_hits", len(lexical))
                span.set_attribute("chatorch.retrieval.vector_hits", len(dense))
                span.set_attribute("chatorch.retrieval.passages", len(fused))
            return [Passage(chunks[key], names.get(key[0], ""), score) for key, score in fused]

    async def _nearest(
        self, owner_id: UUID, query: str, file_ids: Sequence[UUID] | None, limit: int
    ) -> list[FileChunk]:
        if self._embedder is None or self._vectors is None:
            return []
        try:
            (vector,) = await self._embedder.embed([query])
            hits = await self._vectors.query(
                vector, owner_id=owner_id, file_ids=file_ids, limit=limit
            )
        except ChatorchError as error:  # the full-text half still answers
            log.warning("retrieval.vectors_failed", detail=error.detail)
            return []
        return [hit.chunk for hit in hits]

    async def _names(self, file_ids: set[UUID]) -> dict[UUID, str]:
        async with self._store.transaction(durable=False) as tx:
            files = [await tx.files.get_file(file_id) for file_id in file_ids]
        return {file.id: file.name for file in files if file is not None}

    async def index(self, owner_id: UUID, chunks: Sequence[FileChunk]) -> None:
        """Store the chunks' vectors (nothing without a vector index).

        Raises:
            ChatorchError: the embedder or the index failed: the file is not ready yet.
        """
        if self._embedder is None or self._vectors is None:
            return
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            vectors = await self._embedder.embed([chunk.text for chunk in batch])
            await self._vectors.upsert(
                [IndexedChunk(owner_id, c, v) for c, v in zip(batch, vectors, strict=True)]
            )

    async def forget(self, file_id: UUID) -> None:
        """Remove a deleted file's vectors."""
        if self._vectors is not None:
            await self._vectors.delete_file(file_id)
