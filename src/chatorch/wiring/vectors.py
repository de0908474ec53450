"""The embedder named by CHATORCH_EMBEDDINGS and the vector index at CHATORCH_VECTOR_URL.

Which index, by mode:

* one process (``chatorch serve``, in-process bus): CHATORCH_VECTOR_URL, else Qdrant
  local mode in ``vectors/`` beside the SQLite database (``./data/vectors``);
* processes sharing work through NATS: CHATORCH_VECTOR_URL must name a Qdrant server.
  Unset, there is no vector index and files are searched by full text alone (said once,
  at start); a local folder is refused, since local mode locks it to one process.

Drivers and models are imported here only when chosen, so importing the wiring loads
no Qdrant or WordLlama.
"""

from contextlib import AsyncExitStack
from pathlib import PurePath
from urllib.parse import urlsplit

import structlog

from chatorch.domain.embeddings import SETTING as EMBEDDINGS_SETTING
from chatorch.domain.embeddings import EmbeddingsChoice, parse_embeddings
from chatorch.ports.embeddings import Embedder
from chatorch.ports.store import Store
from chatorch.ports.vectors import VectorIndex
from chatorch.services.secrets import Vault
from chatorch.settings import Settings
from chatorch.wiring.bus import in_process
from chatorch.wiring.llm import _provider_key
from chatorch.wiring.startup import StartupError, connecting

log = structlog.get_logger(__name__)

VECTOR_TIMEOUT = 10.0  # s for one call to a Qdrant server
_SETTING = "CHATORCH_VECTOR_URL"


def vector_location(settings: Settings) -> str | None:
    """Where the vector index is: a ``local:<folder>`` or a server URL; None for none.

    Raises:
        StartupError: a local folder for processes that share work through NATS.
    """
    url = settings.vector_url
    if url is None:
        if not in_process(settings):
            return None
        return f"local:{_beside_database(settings.database_url)}"
    if urlsplit(url).scheme == "local" and not in_process(settings):
        raise StartupError(
            f"{_SETTING}: {url} is Qdrant local mode, which one process holds; with "
            "CHATORCH_BUS_URL on NATS, name a Qdrant server (http://host:6333), or leave "
            "it unset to search files by full text only"
        )
    return url


async def build_retrieval(
    settings: Settings, stack: AsyncExitStack, *, store: Store, vault: Vault | None
) -> tuple[Embedder | None, VectorIndex | None]:
    """The embedder and the vector index of its space; both None without an index."""
    location = vector_location(settings)
    if location is None:
        log.warning(
            "vectors.off",
            detail=f"{_SETTING} is not set and work is shared through NATS: files are "
            "searched by full text only (set it to a Qdrant server for meaning too)",
        )
        return None, None
    choice = parse_embeddings(settings.embeddings)
    key = None  # read first: a key that does not decrypt names CHATORCH_SECRET_KEYS
    if choice.provider == "openai":
        key = await _provider_key(settings.openai_api_key, vault, "openai_api_key", store=store)
    embedder = await connecting(EMBEDDINGS_SETTING, _embedder(settings, choice, api_key=key))
    stack.push_async_callback(embedder.close)
    from chatorch.adapters.qdrant.vectors import QdrantVectorIndex, collection_for

    vector_key = settings.vector_api_key
    index = await connecting(
        _SETTING,
        QdrantVectorIndex.connect(
            location,
            collection=collection_for(settings.namespace, embedder.name, embedder.dimension),
            dimension=embedder.dimension,
            api_key=vector_key.get_secret_value() if vector_key else None,
            timeout=VECTOR_TIMEOUT,
        ),
    )
    stack.push_async_callback(index.close)
    return embedder, index


async def _embedder(
    settings: Settings, choice: EmbeddingsChoice, *, api_key: str | None
) -> Embedder:
    if choice.provider == "wordllama":
        from chatorch.adapters.embeddings.wordllama import WordLlamaEmbedder

        return WordLlamaEmbedder()  # its model is read on first use
    from chatorch.adapters.embeddings.openai import OpenAIEmbedder

    assert choice.model is not None
    return await OpenAIEmbedder.connect(
        model=choice.model,
        base_url=settings.openai_base_url,
        api_key=api_key,
        timeout=settings.llm_timeout,
        dimensions=choice.dimensions,
    )


def _beside_database(database_url: str) -> str:
    """``vectors`` in the SQLite database's folder; ``./data/vectors`` for PostgreSQL."""
    parts = urlsplit(database_url)
    if not parts.scheme.startswith("sqlite"):
        return "./data/vectors"
    # sqlite:///relative/chatorch.db, sqlite:////absolute/chatorch.db
    return str(PurePath(parts.path[1:]).parent / "vectors")
