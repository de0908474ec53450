"""BlobStore: the bytes of files, by key.

A key is one or more ``/``-separated parts of ``A-Z a-z 0-9 . _ -``, none starting
with a dot (at most 512 characters); the caller chooses it (``services.artifacts``
names bytes by their owner and SHA-256). A write is all or nothing: a reader sees the
old bytes or the new ones, never part of a write that failed or is still going.
"""

import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Protocol

KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
MAX_KEY = 512  # characters


def check_key(key: str) -> str:
    """``key``, if it is one; a ``ValueError`` otherwise (keys are made by chatorch)."""
    if len(key) > MAX_KEY or KEY.fullmatch(key) is None:
        raise ValueError(f"not a blob key: {key[:80]!r}")
    return key


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes | AsyncIterable[bytes]) -> int:
        """Store ``data`` under ``key``, replacing what was there; return its size.

        Raises:
            BlobUnavailable: the bytes could not be written; nothing was stored.
        """
        ...

    async def get(self, key: str) -> bytes:
        """All the bytes under ``key``.

        Raises:
            BlobNotFound: nothing is stored under ``key``.
            BlobUnavailable: they could not be read.
        """
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The bytes under ``key`` as they are read, in pieces.

        Raises ``BlobNotFound`` here, before the first piece, when there are none.
        """
        ...

    async def delete(self, key: str) -> bool:
        """Remove the bytes under ``key``; False when there were none."""
        ...

    async def ping(self) -> None:
        """Raise ``BlobUnavailable`` unless bytes can be stored."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What a readiness probe shows: the backend and where, never credentials."""
        ...
