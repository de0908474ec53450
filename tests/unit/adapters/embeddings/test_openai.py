"""OpenAIEmbedder against the fake OpenAI server: what it sends, and how it fails.

What every embedder promises is the contract suite's: tests/contract/test_embeddings.py.
"""

from collections.abc import AsyncIterator

import pytest

from chatorch.adapters.embeddings.openai import BATCH, OpenAIEmbedder
from chatorch.domain.errors import EmbeddingsUnavailable
from tests.conftest import remember
from tests.fixtures.fake_openai import EMBEDDING_DIMENSIONS, FakeOpenAI, fake_openai_server

API_KEY = remember("sk-embeddings-very-secret-key")


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai_server() as server:
        yield server


async def connect(fake: FakeOpenAI, model: str, **options: object) -> OpenAIEmbedder:
    return await OpenAIEmbedder.connect(
        model=model, base_url=fake.url, api_key=API_KEY, timeout=5, retries=0, **options
    )


class TestRequests:
    async def test_the_length_of_the_vectors_is_learnt_at_connect(self, fake: FakeOpenAI) -> None:
        embedder = await connect(fake, "text-embedding-3-small")
        try:
            assert embedder.dimension == EMBEDDING_DIMENSIONS
            assert embedder.name == "openai:text-embedding-3-small"
            [probe] = fake.requests
            assert probe["model"] == "text-embedding-3-small"
            assert probe["encoding_format"] == "base64"  # the SDK's choice, decoded by it
            assert "dimensions" not in probe
            assert fake.headers[-1]["Authorization"] == f"Bearer {API_KEY}"
        finally:
            await embedder.close()

    async def test_dimensions_are_asked_for_when_chosen(self, fake: FakeOpenAI) -> None:
        embedder = await connect(fake, "text-embedding-3-large", dimensions=256)
        try:
            [vector] = await embedder.embed(["shorter vectors"])
            assert embedder.dimension == len(vector) == 256
            assert all(body["dimensions"] == 256 for body in fake.requests)
        finally:
            await embedder.close()

    async def test_texts_go_in_batches_and_blank_ones_not_at_all(self, fake: FakeOpenAI) -> None:
        embedder = await connect(fake, "text-embedding-3-small")
        try:
            fake.requests.clear()
            texts = ["", *(f"text {i}" for i in range(BATCH + 5)), "  "]
            vectors = await embedder.embed(texts)
            assert len(vectors) == len(texts)
            sent = [body["input"] for body in fake.requests]
            assert [len(batch) for batch in sent] == [BATCH, 5]
            assert sent[0][0] == "text 0"
        finally:
            await embedder.close()

    async def test_only_blank_texts_send_nothing(self, fake: FakeOpenAI) -> None:
        embedder = await connect(fake, "text-embedding-3-small")
        try:
            fake.requests.clear()
            assert await embedder.embed(["", " "]) == [[0.0] * EMBEDDING_DIMENSIONS] * 2
            assert not fake.requests
        finally:
            await embedder.close()


class TestFailures:
    async def test_a_refused_key_is_reported_without_the_key(self, fake: FakeOpenAI) -> None:
        with pytest.raises(EmbeddingsUnavailable) as caught:
            await connect(fake, "fake-error-401")
        assert "HTTP 401" in caught.value.detail
        assert "Incorrect API key provided: ***" in caught.value.detail
        assert API_KEY not in str(caught.value)
        assert caught.value.__cause__ is None  # the SDK's error repeats the key

    async def test_a_server_error(self, fake: FakeOpenAI) -> None:
        with pytest.raises(EmbeddingsUnavailable, match=r"HTTP 500 from http://127\.0\.0\.1"):
            await connect(fake, "fake-error-500")

    async def test_an_unreachable_server(self, closed_port: int) -> None:
        with pytest.raises(EmbeddingsUnavailable, match=r"cannot reach http://127\.0\.0\.1"):
            await OpenAIEmbedder.connect(
                model="text-embedding-3-small",
                base_url=f"http://127.0.0.1:{closed_port}/v1",
                api_key=API_KEY,
                timeout=2,
                retries=0,
            )

    async def test_a_server_that_ignores_dimensions_is_refused(self, fake: FakeOpenAI) -> None:
        with pytest.raises(EmbeddingsUnavailable, match="vectors of 1536 numbers, not 64"):
            await connect(fake, "fake-ignores-dimensions", dimensions=64)
