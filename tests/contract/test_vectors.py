"""The VectorIndex contract, on Qdrant local mode in a fresh folder.

The server adapter is the same class speaking the same client API to
``CHATORCH_VECTOR_URL=http://…``; no Qdrant server runs here, so this suite runs on
local mode, where every call but the server's payload indexes takes the same path.
Small hand-made vectors test the bookkeeping (owners, files, replacing, deleting);
``TestRetrieval`` stores the retrieval set's passages with WordLlama's vectors.
"""

import json
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from chatorch.adapters.embeddings.wordllama import WordLlamaEmbedder
from chatorch.adapters.qdrant.vectors import QdrantVectorIndex
from chatorch.domain.entities import FileChunk
from chatorch.domain.ids import new_id
from chatorch.ports.vectors import IndexedChunk, VectorIndex

DIMENSION = 4
ALICE, BOB = new_id(), new_id()
Connect = Callable[..., Coroutine[Any, Any, VectorIndex]]


@pytest.fixture(params=["qdrant-local"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Connect:
    """Opens the index of one location: the same data each time it is reopened."""

    async def open_index(*, dimension: int = DIMENSION, collection: str = "chunks") -> VectorIndex:
        return await QdrantVectorIndex.connect(
            f"local:{tmp_path / 'vectors'}", collection=collection, dimension=dimension
        )

    return open_index


@pytest.fixture
async def index(connect: Connect) -> AsyncIterator[VectorIndex]:
    opened = await connect()
    yield opened
    await opened.close()


def unit(*values: float) -> list[float]:
    size = math.sqrt(sum(v * v for v in values))
    return [v / size for v in values]


def entry(
    owner: UUID, file_id: UUID, number: int, vector: list[float], text: str = ""
) -> IndexedChunk:
    chunk = FileChunk(file_id, number, text or f"chunk {number} of {file_id}", page=number + 1)
    return IndexedChunk(owner, chunk, vector)


class TestQuery:
    async def test_nearest_first_with_the_chunk_and_its_cosine(self, index: VectorIndex) -> None:
        doc = new_id()
        near = FileChunk(doc, 0, "near", page=3, heading="Guide > Setup")
        await index.upsert(
            [
                IndexedChunk(ALICE, near, unit(1, 0, 0, 0)),
                entry(ALICE, doc, 1, unit(1, 1, 0, 0)),
                entry(ALICE, doc, 2, unit(0, 0, 1, 0)),
            ]
        )
        hits = await index.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=10)
        assert [hit.chunk.number for hit in hits] == [0, 1, 2]
        assert hits[0].chunk == near
        assert [hit.score for hit in hits] == pytest.approx([1.0, math.sqrt(0.5), 0.0], abs=1e-5)

    async def test_at_most_limit_hits(self, index: VectorIndex) -> None:
        doc = new_id()
        await index.upsert([entry(ALICE, doc, n, unit(1, n, 0, 0)) for n in range(5)])
        assert len(await index.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=2)) == 2
        assert await index.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=0) == []

    async def test_a_vector_of_zeros_finds_nothing(self, index: VectorIndex) -> None:
        await index.upsert([entry(ALICE, new_id(), 0, unit(1, 0, 0, 0))])
        assert await index.query([0.0] * DIMENSION, owner_id=ALICE, limit=5) == []

    async def test_an_empty_index_finds_nothing(self, index: VectorIndex) -> None:
        assert await index.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=5) == []

    async def test_a_vector_of_another_length_is_a_bug(self, index: VectorIndex) -> None:
        with pytest.raises(ValueError, match="3 numbers"):
            await index.query([1.0, 0.0, 0.0], owner_id=ALICE, limit=5)
        with pytest.raises(ValueError, match="5 numbers"):
            await index.upsert([entry(ALICE, new_id(), 0, [1.0, 0, 0, 0, 0])])


class TestOwnersAndFiles:
    async def test_an_owner_never_sees_another_owners_chunks(self, index: VectorIndex) -> None:
        theirs = new_id()
        await index.upsert([entry(ALICE, theirs, 0, unit(1, 0, 0, 0))])
        assert await index.query(unit(1, 0, 0, 0), owner_id=BOB, limit=5) == []
        # Not even when naming the file.
        found = await index.query(unit(1, 0, 0, 0), owner_id=BOB, file_ids=[theirs], limit=5)
        assert found == []

    async def test_only_the_files_asked_for(self, index: VectorIndex) -> None:
        a, b, c = new_id(), new_id(), new_id()
        await index.upsert(
            [
                entry(ALICE, a, 0, unit(1, 0, 0, 0)),
                entry(ALICE, b, 0, unit(1, 0.1, 0, 0)),
                entry(ALICE, c, 0, unit(1, 0.2, 0, 0)),
            ]
        )
        query = unit(1, 0, 0, 0)
        files = [hit.chunk.file_id for hit in await index.query(query, owner_id=ALICE, limit=5)]
        assert files == [a, b, c]
        chosen = await index.query(query, owner_id=ALICE, file_ids=[c, b, c], limit=5)
        assert [hit.chunk.file_id for hit in chosen] == [b, c]
        assert await index.query(query, owner_id=ALICE, file_ids=[], limit=5) == []


class TestWrites:
    async def test_storing_a_chunk_again_replaces_it(self, index: VectorIndex) -> None:
        doc = new_id()
        await index.upsert([entry(ALICE, doc, 0, unit(1, 0, 0, 0), "first")])
        await index.upsert([entry(ALICE, doc, 0, unit(0, 1, 0, 0), "second")])
        hits = await index.query(unit(0, 1, 0, 0), owner_id=ALICE, limit=5)
        assert [(hit.chunk.text, round(hit.score, 4)) for hit in hits] == [("second", 1.0)]

    async def test_nothing_to_store(self, index: VectorIndex) -> None:
        await index.upsert([])
        assert await index.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=5) == []

    async def test_many_chunks_at_once(self, index: VectorIndex) -> None:
        doc = new_id()
        await index.upsert([entry(ALICE, doc, n, unit(1, n / 600, 0, 0)) for n in range(600)])
        hits = await index.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=600)
        assert len(hits) == 600
        assert hits[0].chunk.number == 0

    async def test_deleting_a_file_removes_its_chunks_only(self, index: VectorIndex) -> None:
        gone, kept = new_id(), new_id()
        await index.upsert(
            [
                entry(ALICE, gone, 0, unit(1, 0, 0, 0)),
                entry(ALICE, gone, 1, unit(1, 0, 0, 0)),
                entry(ALICE, kept, 0, unit(1, 0.5, 0, 0)),
            ]
        )
        await index.delete_file(gone)
        await index.delete_file(new_id())  # none: nothing happens
        hits = await index.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=5)
        assert [hit.chunk.file_id for hit in hits] == [kept]


class TestLifetime:
    async def test_chunks_outlive_a_restart(self, connect: Connect) -> None:
        doc = new_id()
        first = await connect()
        await first.upsert([entry(ALICE, doc, 0, unit(1, 0, 0, 0), "kept")])
        await first.close()
        second = await connect()
        try:
            [hit] = await second.query(unit(1, 0, 0, 0), owner_id=ALICE, limit=5)
            assert hit.chunk.text == "kept"
        finally:
            await second.close()

    async def test_another_space_is_another_collection(self, connect: Connect) -> None:
        four = await connect()
        await four.upsert([entry(ALICE, new_id(), 0, unit(1, 0, 0, 0))])
        await four.close()
        eight = await connect(dimension=8, collection="chunks_8")
        try:
            assert eight.dimension == 8
            assert await eight.query(unit(1, 0, 0, 0, 0, 0, 0, 0), owner_id=ALICE, limit=5) == []
        finally:
            await eight.close()

    async def test_it_answers_and_says_where_it_is(self, index: VectorIndex) -> None:
        await index.ping()
        described = index.describe()
        assert described["collection"] == "chunks"
        assert described["dimension"] == DIMENSION


RETRIEVAL_SET = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "retrieval_set.json").read_text(encoding="utf-8")
)


class TestRetrieval:
    """The retrieval set's passages, one file each, with WordLlama's vectors."""

    @pytest.fixture
    async def passages(
        self, connect: Connect
    ) -> AsyncIterator[tuple[VectorIndex, dict[UUID, str]]]:
        embedder = WordLlamaEmbedder()
        index = await connect(dimension=embedder.dimension)
        files = {new_id(): p for p in RETRIEVAL_SET["passages"]}
        vectors = await embedder.embed([p["text"] for p in files.values()])
        await index.upsert(
            [
                IndexedChunk(ALICE, FileChunk(file_id, 0, passage["text"]), vector)
                for (file_id, passage), vector in zip(files.items(), vectors, strict=True)
            ]
        )
        yield index, {file_id: passage["id"] for file_id, passage in files.items()}
        await index.close()

    @pytest.mark.parametrize(
        ("question", "passage"),
        [
            ("How do plants turn sunlight into food?", "p03"),
            ("my bread starter smells like nail polish remover", "p04"),
            ("is it safe to rewrite the history of a branch others already pulled", "p26"),
            ("amount due on INV-2024-0915", "p14"),
            ("printer shows E-502", "p28"),
        ],
    )
    async def test_a_question_finds_its_passage_first(
        self, passages: tuple[VectorIndex, dict[UUID, str]], question: str, passage: str
    ) -> None:
        index, names = passages
        [vector] = await WordLlamaEmbedder().embed([question])
        hits = await index.query(vector, owner_id=ALICE, limit=3)
        assert names[hits[0].chunk.file_id] == passage

    async def test_near_codes_are_in_the_first_three(
        self, passages: tuple[VectorIndex, dict[UUID, str]]
    ) -> None:
        """ERR-4471 and ERR-4417 are near in meaning; full text ranks the exact one first."""
        index, names = passages
        [vector] = await WordLlamaEmbedder().embed(["What does ERR-4471 mean?"])
        hits = await index.query(vector, owner_id=ALICE, limit=3)
        assert "p01" in [names[hit.chunk.file_id] for hit in hits]
        assert await index.query(vector, owner_id=BOB, limit=3) == []
