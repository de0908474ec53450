"""An ``Embedder`` on WordLlama's ``l2_supercat`` model, which ships inside its wheel.

WordLlama averages token vectors trained from the codebooks of large language models
(a static embedding: no network, no GPU, ~3,500 chunks/s on one core). Its wheel
carries the 256-dimension weights and the tokenizer, so nothing is downloaded, ever:
a missing file is an error, not a request to Hugging Face (ADR 0019).

The model is loaded once per process, on first use (32 MB), and shared by every
embedder; embedding runs on a worker thread, off the event loop.
"""

import asyncio
import functools
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatorch.adapters.embeddings.unit import unit_rows
from chatorch.domain.errors import EmbeddingsUnavailable

MODEL = "l2_supercat"
DIMENSION = 256  # the weights the wheel carries
MAX_TOKENS = 512  # tokens of a text that count: a batch is padded to its longest text
MAX_CHARS = 8_000  # cut before tokenising: more than MAX_TOKENS tokens of any text
BATCH = 64  # texts tokenised and pooled at once

_loading = threading.Lock()


class WordLlamaEmbedder:
    """Offline embeddings, 256 numbers per text."""

    @property
    def name(self) -> str:
        return f"wordllama:{MODEL}"

    @property
    def dimension(self) -> int:
        return DIMENSION

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        # A blank text is made empty: WordLlama has vectors for spaces, which mean nothing.
        cut = [text[:MAX_CHARS] if text.strip() else "" for text in texts]
        return await asyncio.to_thread(_embed, cut)

    async def close(self) -> None:
        """Nothing to release: the model stays loaded for the process."""

    def describe(self) -> dict[str, Any]:
        return {"embedder": self.name, "dimension": DIMENSION}


def _embed(texts: list[str]) -> list[list[float]]:
    # Not normalised by WordLlama: its own division makes NaNs of an empty text.
    return unit_rows(_model().embed(texts, norm=False, batch_size=BATCH))


def _model() -> Any:
    with _loading:  # two first calls at once load it once
        return _load()


@functools.cache
def _load() -> Any:
    wordllama = _import_wordllama()
    folder = Path(str(wordllama.__file__)).parent
    try:
        # cache_dir is the package itself: 0.4.0.post1 looks for its tokenizer under
        # tokenizer/ but ships it in tokenizers/, and would download what it misses.
        model = wordllama.WordLlama.load(
            MODEL, cache_dir=folder, dim=DIMENSION, disable_download=True
        )
    except (OSError, ValueError) as error:
        raise EmbeddingsUnavailable(
            f"wordllama: cannot load {MODEL} ({DIMENSION}) from {folder}: {error}"
        ) from error
    model.tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return model


def _import_wordllama() -> Any:  # untyped: no py.typed
    """``wordllama``, imported without touching our logging.

    Importing it calls ``logging.basicConfig(level=INFO)``, which gives the root logger
    a stderr handler and the INFO level when it has no handler yet. A handler is there
    while it is imported, so the call does nothing.
    """
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        import wordllama
    finally:
        root.removeHandler(guard)
    return wordllama
