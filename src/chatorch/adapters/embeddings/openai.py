"""An ``Embedder`` for any OpenAI-compatible ``/v1/embeddings`` (OpenAI, Ollama, vLLM,
llama.cpp), through the official SDK.

The SDK asks for base64-encoded vectors and decodes them, as with every SDK user. The
length of the model's vectors is learnt at start from one short request (``connect``),
so any model works without a table of sizes; ``dimensions`` asks a model that can
shorten its vectors (``text-embedding-3-*``) for that many.
"""

import os
from collections.abc import Sequence
from typing import Any

import openai
from openai import AsyncOpenAI

from chatorch.adapters.embeddings.unit import unit_rows
from chatorch.domain.errors import EmbeddingsUnavailable

BATCH = 128  # texts per request: well under the API's 2,048 inputs and 300,000 tokens
MAX_CHARS = 8_000  # of one text: under the models' 8,192 tokens for any language
RETRIES = 2  # the SDK's, with its backoff, for connection errors, 408, 409, 429, 5xx
PROBE = "How long are your vectors?"
_NO_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one


class OpenAIEmbedder:
    """Vectors from a model server; build it with ``connect``."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        dimensions: int | None = None,
        retries: int = RETRIES,
    ) -> None:
        self._model = model
        # The SDK's own variable, as every OpenAI user expects, when ours is not set.
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self._api_key = api_key or ""
        self._timeout = timeout
        self._requested = dimensions
        self._dimension = dimensions or 0  # learnt by ``connect``
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or _NO_KEY, timeout=timeout, max_retries=retries
        )
        self._url = str(self._client.base_url).rstrip("/")

    @classmethod
    async def connect(
        cls,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        dimensions: int | None = None,
        retries: int = RETRIES,
    ) -> "OpenAIEmbedder":
        """An embedder whose server has answered, and whose vectors' length is known.

        Raises:
            EmbeddingsUnavailable: the server did not answer, or with vectors of another
                length than ``dimensions``.
        """
        embedder = cls(
            model=model,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            dimensions=dimensions,
            retries=retries,
        )
        try:
            [vector] = await embedder._create([PROBE])
        except BaseException:
            await embedder.close()
            raise
        embedder._dimension = len(vector)
        return embedder

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # The API refuses an empty input: those get zeros, as a text of no words does.
        vectors = [[0.0] * self._dimension for _ in texts]
        wanted = [(i, text[:MAX_CHARS]) for i, text in enumerate(texts) if text.strip()]
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            made = await self._create([text for _, text in batch])
            for (i, _), vector in zip(batch, made, strict=True):
                vectors[i] = vector
        return vectors

    async def close(self) -> None:
        await self._client.close()

    def describe(self) -> dict[str, Any]:
        return {"embedder": self.name, "dimension": self._dimension, "url": self._url}

    @property
    def _label(self) -> str:
        return f"embeddings openai:{self._model}"

    async def _create(self, texts: list[str]) -> list[list[float]]:
        options: dict[str, Any] = {}
        if self._requested is not None:
            options["dimensions"] = self._requested
        try:
            response = await self._client.embeddings.create(
                model=self._model, input=texts, **options
            )
        except openai.APIError as error:
            # Not chained: the SDK's error may repeat the key a server echoed.
            detail = self._scrub(f"{self._label}: {self._reason(error)}")
            raise EmbeddingsUnavailable(detail) from None
        except ValueError as error:  # the SDK's "No embedding data received"
            raise EmbeddingsUnavailable(f"{self._label}: {error} from {self._url}") from None
        data = sorted(response.data, key=lambda item: item.index)
        sizes = {len(item.embedding) for item in data}
        if len(data) != len(texts) or len(sizes) != 1 or 0 in sizes:
            raise EmbeddingsUnavailable(
                f"{self._label}: {self._url} answered {len(data)} vectors of lengths "
                f"{sorted(sizes)} for {len(texts)} texts"
            )
        if self._dimension and sizes != {self._dimension}:
            raise EmbeddingsUnavailable(
                f"{self._label}: vectors of {sizes.pop()} numbers, not {self._dimension}"
            )
        return unit_rows([item.embedding for item in data])

    def _reason(self, error: openai.APIError) -> str:
        if isinstance(error, openai.APIStatusError):
            return f"HTTP {error.status_code} from {self._url}: {error.message}"
        if isinstance(error, openai.APITimeoutError):
            return f"no answer from {self._url} within {self._timeout:g} s"
        if isinstance(error, openai.APIConnectionError):
            return f"cannot reach {self._url}: {error.__cause__ or error}"
        return f"{self._url}: {error.message}"

    def _scrub(self, text: str) -> str:
        """Remove the API key from anything a server echoed back."""
        return text.replace(self._api_key, "***") if self._api_key else text
