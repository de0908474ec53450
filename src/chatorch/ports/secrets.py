"""Secrets as stored: already encrypted by the vault (``services.secrets``), by name."""

from collections.abc import Sequence
from typing import Protocol


class SecretRepository(Protocol):
    async def put_secret(self, name: str, ciphertext: str) -> None:
        """Store (or replace) an already encrypted secret."""
        ...

    async def get_secret(self, name: str) -> str | None: ...

    async def secret_names(self) -> Sequence[str]: ...

    async def delete_secret(self, name: str) -> bool: ...
