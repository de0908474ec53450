"""QdrantVectorIndex: what only this adapter does — its folder, its collections, its
failures. The port's behaviour is the contract suite's: tests/contract/test_vectors.py.
"""

from pathlib import Path

import pytest

from chatorch.adapters.qdrant.vectors import QdrantVectorIndex, collection_for, point_id
from chatorch.domain.entities import FileChunk
from chatorch.domain.errors import VectorsUnavailable
from chatorch.domain.ids import new_id


async def open_local(folder: Path, dimension: int = 4) -> QdrantVectorIndex:
    return await QdrantVectorIndex.connect(
        f"local:{folder}", collection="chunks", dimension=dimension
    )


class TestLocalMode:
    async def test_its_folder_is_made_with_its_parents(self, tmp_path: Path) -> None:
        index = await open_local(tmp_path / "data" / "vectors")
        try:
            assert (tmp_path / "data" / "vectors").is_dir()
            assert index.describe() == {
                "backend": "qdrant-local",
                "path": str(tmp_path / "data" / "vectors"),
                "collection": "chunks",
                "dimension": 4,
            }
        finally:
            await index.close()

    async def test_one_client_holds_a_folder(self, tmp_path: Path) -> None:
        index = await open_local(tmp_path)
        try:
            with pytest.raises(VectorsUnavailable, match="in use by another Qdrant client"):
                await open_local(tmp_path)
        finally:
            await index.close()
        await (await open_local(tmp_path)).close()  # free again once closed

    async def test_a_collection_of_another_length_is_refused(self, tmp_path: Path) -> None:
        await (await open_local(tmp_path, dimension=4)).close()
        with pytest.raises(VectorsUnavailable, match="holds vectors of 4, not 8"):
            await open_local(tmp_path, dimension=8)

    async def test_a_closed_index_is_unavailable(self, tmp_path: Path) -> None:
        index = await open_local(tmp_path)
        await index.close()
        await index.close()  # twice is fine
        with pytest.raises(VectorsUnavailable):
            await index.ping()


class TestServer:
    async def test_an_unreachable_server_fails_at_connect(self, closed_port: int) -> None:
        with pytest.raises(VectorsUnavailable, match=rf"qdrant http://127\.0\.0\.1:{closed_port}"):
            await QdrantVectorIndex.connect(
                f"http://user:secret@127.0.0.1:{closed_port}",
                collection="chunks",
                dimension=4,
                timeout=2,
            )


class TestNames:
    def test_a_collection_per_deployment_and_vector_space(self) -> None:
        assert collection_for("chatorch", "openai:text-embedding-3-small", 1536) == (
            "chatorch_chunks_openai_text_embedding_3_small_1536"
        )
        assert collection_for("team-b", "wordllama:l2_supercat", 256) == (
            "team-b_chunks_wordllama_l2_supercat_256"
        )

    def test_a_chunk_has_one_id_wherever_it_is_made(self) -> None:
        file_id = new_id()
        first = point_id(FileChunk(file_id, 3, "one text"))
        assert first == point_id(FileChunk(file_id, 3, "another text"))
        assert first != point_id(FileChunk(file_id, 4, "one text"))
