"""Embedder: texts in, vectors out, each near those of texts that mean the same.

Vectors are unit length, so a dot product is their cosine. Vectors of different
embedders (or of one model at different dimensions) are different spaces and must
never be compared: ``name`` and ``dimension`` say which space an embedder makes, and
the vector index keeps one collection per space (``ports/vectors.py``).
"""

from collections.abc import Sequence
from typing import Any, Protocol


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """The model, as ``<provider>:<model>``: ``wordllama:l2_supercat``, …"""
        ...

    @property
    def dimension(self) -> int:
        """How many numbers each vector has."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order; off the event loop.

        A blank text (empty, or only spaces) gets a vector of zeros, near nothing. Only
        the start of a very long text counts.

        Raises:
            EmbeddingsUnavailable: the model could not be loaded or did not answer.
        """
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What a readiness probe and the start line show: the model, never a key."""
        ...
