"""``VectorIndex`` on Qdrant: local mode in this process, or a Qdrant server.

``local:<folder>`` keeps the index in a folder, searched by qdrant-client itself; an
``http(s)://`` URL names a server. Both are the same client API, so one class serves
both. Local mode computes on the calling thread and locks its folder against any other
client: its calls go to a worker thread one at a time, off the event loop, and the
container holds the one index of the process. A server gets payload indexes on the
owner (a tenant index) and the file, which make its filtered searches fast; local mode
scans, and warns if asked for them.

Each point is one chunk: its id is derived from the file and the chunk's number, so
storing a chunk again replaces it.
"""

import asyncio
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit
from uuid import UUID, uuid5

from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.http.exceptions import ApiException

from chatorch.domain.entities import FileChunk
from chatorch.domain.errors import VectorsUnavailable
from chatorch.ports.vectors import ChunkHit, IndexedChunk

POINTS_PER_CALL = 256  # chunks per upsert: a few MB of JSON for a server
_FAILURES = (ApiException, OSError, RuntimeError, sqlite3.Error)  # RuntimeError: local closed


def collection_for(namespace: str, embedder: str, dimension: int) -> str:
    """The collection of one deployment's chunks in one embedder's vector space."""
    model = re.sub(r"[^A-Za-z0-9]+", "_", embedder).strip("_")
    return f"{namespace}_chunks_{model}_{dimension}"


def point_id(chunk: FileChunk) -> str:
    return str(uuid5(chunk.file_id, str(chunk.number)))


class QdrantVectorIndex:
    """The chunks of one embedder's space in one collection; build it with ``connect``."""

    def __init__(
        self,
        *,
        local: QdrantClient | None = None,
        remote: AsyncQdrantClient | None = None,
        collection: str,
        dimension: int,
        where: dict[str, str],
    ) -> None:
        self._local = local
        self._remote = remote
        self._collection = collection
        self._dimension = dimension
        self._where = where
        self._turn = threading.Lock()  # local mode: one call at a time, even if cancelled

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        collection: str,
        dimension: int,
        api_key: str | None = None,
        timeout: float = 10.0,
    ) -> Self:
        """The index at ``url`` (``local:<folder>`` or ``http(s)://host:port``), its
        collection made if it is new.

        Raises:
            VectorsUnavailable: the folder is in use or unusable, the server does not
                answer, or the collection holds vectors of another length.
        """
        parts = urlsplit(url)
        if parts.scheme == "local":
            client, folder = await asyncio.to_thread(_open_local, url.removeprefix("local:"))
            index = cls(
                local=client,
                collection=collection,
                dimension=dimension,
                where={"backend": "qdrant-local", "path": str(folder)},
            )
        else:
            remote = AsyncQdrantClient(
                url=url, api_key=api_key, timeout=max(1, round(timeout)), check_compatibility=False
            )
            netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
            where = {"backend": "qdrant", "url": f"{parts.scheme}://{netloc}"}
            index = cls(remote=remote, collection=collection, dimension=dimension, where=where)
        try:
            await index._prepare()
        except BaseException:
            await index.close()
            raise
        return index

    @property
    def dimension(self) -> int:
        return self._dimension

    async def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        points = [
            models.PointStruct(
                id=point_id(item.chunk), vector=self._checked(item.vector), payload=_payload(item)
            )
            for item in chunks
        ]
        for start in range(0, len(points), POINTS_PER_CALL):
            await self._call(
                "upsert",
                collection_name=self._collection,
                points=points[start : start + POINTS_PER_CALL],
                wait=True,
            )

    async def query(
        self,
        vector: Sequence[float],
        *,
        owner_id: UUID,
        file_ids: Sequence[UUID] | None = None,
        limit: int,
    ) -> list[ChunkHit]:
        query = self._checked(vector)
        if limit <= 0 or (file_ids is not None and not file_ids) or not any(query):
            return []
        must = [models.FieldCondition(key="owner_id", match=models.MatchValue(value=str(owner_id)))]
        if file_ids is not None:
            wanted = sorted({str(file_id) for file_id in file_ids})
            must.append(models.FieldCondition(key="file_id", match=models.MatchAny(any=wanted)))
        response = await self._call(
            "query_points",
            collection_name=self._collection,
            query=query,
            query_filter=models.Filter(must=must),
            limit=limit,
            with_payload=True,
        )
        return [ChunkHit(_chunk(point.payload), point.score) for point in response.points]

    async def delete_file(self, file_id: UUID) -> None:
        match = models.MatchValue(value=str(file_id))
        selector = models.FilterSelector(
            filter=models.Filter(must=[models.FieldCondition(key="file_id", match=match)])
        )
        await self._call(
            "delete", collection_name=self._collection, points_selector=selector, wait=True
        )

    async def ping(self) -> None:
        if not await self._call("collection_exists", collection_name=self._collection):
            raise VectorsUnavailable(f"qdrant: the collection {self._collection} is gone")

    async def close(self) -> None:
        if self._local is not None:
            local, self._local = self._local, None
            await asyncio.to_thread(self._in_turn, local.close)
        if self._remote is not None:
            remote, self._remote = self._remote, None
            await remote.close()

    def describe(self) -> dict[str, Any]:
        return {**self._where, "collection": self._collection, "dimension": self._dimension}

    async def _prepare(self) -> None:
        """Make the collection if it is new; check the length of its vectors if not."""
        name = self._collection
        if not await self._call("collection_exists", collection_name=name):
            params = models.VectorParams(size=self._dimension, distance=models.Distance.COSINE)
            try:
                await self._call("create_collection", collection_name=name, vectors_config=params)
            except VectorsUnavailable:  # another process made it first
                if not await self._call("collection_exists", collection_name=name):
                    raise
        info = await self._call("get_collection", collection_name=name)
        vectors = info.config.params.vectors
        size = vectors.size if isinstance(vectors, models.VectorParams) else None
        if size != self._dimension:
            raise VectorsUnavailable(
                f"qdrant: the collection {name} holds vectors of {size}, not {self._dimension}"
            )
        if self._remote is not None:
            tenant = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
            await self._call(
                "create_payload_index",
                collection_name=name,
                field_name="owner_id",
                field_schema=tenant,
                wait=True,
            )
            await self._call(
                "create_payload_index",
                collection_name=name,
                field_name="file_id",
                field_schema=models.PayloadSchemaType.KEYWORD,
                wait=True,
            )

    def _checked(self, vector: Sequence[float]) -> list[float]:
        if len(vector) != self._dimension:
            raise ValueError(
                f"a vector of {len(vector)} numbers; this index holds {self._dimension}"
            )
        return [float(x) for x in vector]

    async def _call(self, method: str, /, **arguments: Any) -> Any:
        """``method`` of the client, as a port error when Qdrant fails."""
        try:
            if self._remote is not None:
                return await getattr(self._remote, method)(**arguments)
            if self._local is None:
                raise RuntimeError("closed")
            call = getattr(self._local, method)
            return await asyncio.to_thread(self._in_turn, lambda: call(**arguments))
        except _FAILURES as error:
            detail = f"qdrant {self._where.get('url') or self._where.get('path')}: {method}"
            raise VectorsUnavailable(f"{detail}: {error}") from error

    def _in_turn(self, work: Callable[[], Any]) -> Any:
        with self._turn:
            return work()


def _open_local(path: str) -> tuple[QdrantClient, Path]:
    folder = Path(path).expanduser().absolute()  # a later chdir does not move it
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return QdrantClient(path=str(folder)), folder
    except RuntimeError as error:  # "already accessed by another instance"
        raise VectorsUnavailable(
            f"{folder} is in use by another Qdrant client: local mode belongs to one process"
            " (stop the other chatorch, or run a Qdrant server and point CHATORCH_VECTOR_URL"
            " at it)"
        ) from error
    except (OSError, sqlite3.Error) as error:
        raise VectorsUnavailable(f"cannot open {folder}: {error}") from error


def _payload(item: IndexedChunk) -> dict[str, Any]:
    chunk = item.chunk
    return {
        "owner_id": str(item.owner_id),
        "file_id": str(chunk.file_id),
        "number": chunk.number,
        "text": chunk.text,
        "page": chunk.page,
        "heading": chunk.heading,
    }


def _chunk(payload: dict[str, Any] | None) -> FileChunk:
    data = payload or {}
    return FileChunk(
        file_id=UUID(data["file_id"]),
        number=int(data["number"]),
        text=str(data["text"]),
        page=data.get("page"),
        heading=data.get("heading"),
    )
