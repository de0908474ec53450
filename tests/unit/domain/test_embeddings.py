"""CHATORCH_EMBEDDINGS names an embedder, or is refused in one line naming it."""

import pytest

from chatorch.domain.embeddings import EmbeddingsChoice, parse_embeddings


@pytest.mark.parametrize(
    ("spec", "choice"),
    [
        ("wordllama", EmbeddingsChoice("wordllama")),
        (" wordllama ", EmbeddingsChoice("wordllama")),
        ("openai:text-embedding-3-small", EmbeddingsChoice("openai", "text-embedding-3-small")),
        (
            "openai:text-embedding-3-large@256",
            EmbeddingsChoice("openai", "text-embedding-3-large", 256),
        ),
        ("openai:nomic-embed-text:latest", EmbeddingsChoice("openai", "nomic-embed-text:latest")),
        ("openai:org@model", EmbeddingsChoice("openai", "org@model")),
    ],
)
def test_known_embedders(spec: str, choice: EmbeddingsChoice) -> None:
    assert parse_embeddings(spec) == choice


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("bert", "'bert' names no embedder"),
        ("wordllama:big", "'wordllama:big' names no embedder"),
        ("openai", "'openai' needs a model"),
        ("openai:", "'openai' needs a model"),
        ("openai:@64", "'openai' needs a model"),
        ("openai:text-embedding-3-small@0", "0 dimensions; from 1 to 65536"),
        ("openai:text-embedding-3-small@70000", "70000 dimensions"),
    ],
)
def test_anything_else_is_refused(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"^CHATORCH_EMBEDDINGS: ") as refused:
        parse_embeddings(spec)
    assert reason in str(refused.value)
