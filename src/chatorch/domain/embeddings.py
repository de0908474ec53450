"""Which embedder CHATORCH_EMBEDDINGS names.

``wordllama`` is the offline default: its weights ship inside its package (ADR 0019).
``openai:<model>`` is any OpenAI-compatible ``/v1/embeddings`` (OpenAI, Ollama, vLLM,
llama.cpp), reached at CHATORCH_OPENAI_BASE_URL; ``openai:<model>@<n>`` asks the model
for vectors of ``n`` dimensions (``text-embedding-3-*`` can shorten theirs).
"""

from dataclasses import dataclass
from typing import Literal

SETTING = "CHATORCH_EMBEDDINGS"
MAX_DIMENSIONS = 65_536  # the most a Qdrant collection's vectors may have


@dataclass(frozen=True, slots=True)
class EmbeddingsChoice:
    provider: Literal["wordllama", "openai"]
    model: str | None = None  # the OpenAI-compatible model; None for wordllama
    dimensions: int | None = None  # asked of the model; None: its own


def parse_embeddings(spec: str) -> EmbeddingsChoice:
    """The embedder ``spec`` names; a ``ValueError`` naming the setting otherwise."""
    provider, colon, model = spec.strip().partition(":")
    if provider == "wordllama" and not colon:
        return EmbeddingsChoice("wordllama")
    if provider != "openai":
        raise ValueError(
            f"{SETTING}: {spec!r} names no embedder; use 'wordllama' or "
            "'openai:<model>', e.g. openai:text-embedding-3-small"
        )
    name, at, size = model.rpartition("@")
    if not at or not size.isdigit():
        name, size = model, ""
    if not name.strip():
        raise ValueError(f"{SETTING}: 'openai' needs a model, e.g. openai:text-embedding-3-small")
    dimensions = int(size) if size else None
    if dimensions is not None and not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ValueError(f"{SETTING}: {dimensions} dimensions; from 1 to {MAX_DIMENSIONS}")
    return EmbeddingsChoice("openai", name.strip(), dimensions)
