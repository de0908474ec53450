"""Which vector index and embedder the settings choose, and how a bad choice fails."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import SqlStore, connect
from chatorch.services.secrets import Vault, new_key
from chatorch.settings import Settings
from chatorch.wiring.startup import StartupError
from chatorch.wiring.vectors import build_retrieval, vector_location
from tests.conftest import remember
from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server

NATS = "nats://127.0.0.1:4222"
API_KEY = remember("sk-vault-kept-embeddings-key")


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    url = f"sqlite+aiosqlite:///{tmp_path}/chatorch.db"
    upgrade(url)
    adapter = await connect(url)
    yield adapter
    await adapter.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


class TestLocation:
    def test_one_process_keeps_vectors_beside_its_database(self) -> None:
        assert vector_location(settings()) == "local:data/vectors"
        absolute = settings(database_url="sqlite+aiosqlite:////srv/chat/chatorch.db")
        assert vector_location(absolute) == "local:/srv/chat/vectors"
        postgres = settings(database_url="postgresql+asyncpg://db/chatorch")
        assert vector_location(postgres) == "local:./data/vectors"

    def test_a_url_is_taken_as_it_is(self) -> None:
        assert vector_location(settings(vector_url="local:/tmp/v")) == "local:/tmp/v"
        server = settings(vector_url="http://qdrant:6333", bus_url=NATS)
        assert vector_location(server) == "http://qdrant:6333"

    def test_processes_sharing_work_have_none_unless_a_server_is_named(self) -> None:
        assert vector_location(settings(bus_url=NATS)) is None

    def test_they_cannot_share_a_local_folder(self) -> None:
        with pytest.raises(StartupError, match=r"^CHATORCH_VECTOR_URL: local:/tmp/v is Qdrant"):
            vector_location(settings(vector_url="local:/tmp/v", bus_url=NATS))


class TestBuild:
    async def test_embedded_wordllama_and_local_qdrant(
        self, tmp_path: Path, store: SqlStore
    ) -> None:
        chosen = settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/chatorch.db")
        async with AsyncExitStack() as stack:
            embedder, index = await build_retrieval(chosen, stack, store=store, vault=None)
            assert embedder is not None
            assert index is not None
            assert embedder.name == "wordllama:l2_supercat"
            assert index.describe() == {
                "backend": "qdrant-local",
                "path": str(tmp_path / "vectors"),
                "collection": "chatorch_chunks_wordllama_l2_supercat_256",
                "dimension": 256,
            }

    async def test_distributed_without_a_server_says_so_once(self, store: SqlStore) -> None:
        async with AsyncExitStack() as stack:
            with capture_logs() as logs:
                found = await build_retrieval(
                    settings(bus_url=NATS), stack, store=store, vault=None
                )
        assert found == (None, None)
        assert [(log["event"], log["log_level"]) for log in logs] == [("vectors.off", "warning")]
        assert "full text only" in logs[0]["detail"]

    async def test_openai_embeddings_with_the_key_from_the_vault(
        self, tmp_path: Path, store: SqlStore, fake: FakeOpenAI
    ) -> None:
        vault = Vault(store, [new_key()])
        await vault.put("openai_api_key", API_KEY)
        chosen = settings(
            vector_url=f"local:{tmp_path}/v",
            embeddings="openai:text-embedding-3-small@64",
            openai_base_url=fake.url,
            namespace="team-b",
        )
        async with AsyncExitStack() as stack:
            embedder, index = await build_retrieval(chosen, stack, store=store, vault=vault)
            assert embedder is not None
            assert index is not None
            assert (embedder.dimension, index.dimension) == (64, 64)
            assert (
                index.describe()["collection"] == "team-b_chunks_openai_text_embedding_3_small_64"
            )
        assert fake.headers[-1]["Authorization"] == f"Bearer {API_KEY}"

    async def test_an_embeddings_server_that_fails_names_the_setting(
        self, tmp_path: Path, store: SqlStore, fake: FakeOpenAI
    ) -> None:
        chosen = settings(
            vector_url=f"local:{tmp_path}/v",
            embeddings="openai:fake-error-401",
            openai_base_url=fake.url,
            openai_api_key="sk-x",
        )
        async with AsyncExitStack() as stack:
            with pytest.raises(StartupError, match=r"^CHATORCH_EMBEDDINGS: .*HTTP 401"):
                await build_retrieval(chosen, stack, store=store, vault=None)

    async def test_a_folder_in_use_names_the_setting(self, tmp_path: Path, store: SqlStore) -> None:
        chosen = settings(vector_url=f"local:{tmp_path}/v")
        async with AsyncExitStack() as stack:
            await build_retrieval(chosen, stack, store=store, vault=None)
            with pytest.raises(StartupError, match=r"^CHATORCH_VECTOR_URL: .* is in use"):
                await build_retrieval(chosen, stack, store=store, vault=None)
