"""Vault: secrets (provider keys, channel tokens) stored encrypted with Fernet.

``CHATORCH_SECRET_KEYS`` holds one or more Fernet keys, comma-separated: the first
encrypts, every one decrypts. To rotate: put a new key first, run
``chatorch secrets rotate`` (everything is re-encrypted with it), then drop the old one.
"""

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from chatorch.domain.errors import InvalidInput, NotFound
from chatorch.ports.store import Store

NAME_PATTERN = r"^[a-z0-9_.-]{1,100}$"


class Vault:
    def __init__(self, store: Store, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        self._store = store
        self._box = MultiFernet([Fernet(key.strip().encode()) for key in keys])

    async def put(self, name: str, value: str) -> None:
        if not value:
            raise InvalidInput("a secret cannot be empty")
        ciphertext = self._box.encrypt(value.encode()).decode()
        async with self._store.transaction() as tx:
            await tx.secrets.put_secret(name, ciphertext)

    async def get(self, name: str) -> str | None:
        async with self._store.transaction() as tx:
            ciphertext = await tx.secrets.get_secret(name)
        if ciphertext is None:
            return None
        try:
            return self._box.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise _undecryptable(name) from None

    async def names(self) -> Sequence[str]:
        async with self._store.transaction() as tx:
            return await tx.secrets.secret_names()

    async def delete(self, name: str) -> None:
        async with self._store.transaction() as tx:
            if not await tx.secrets.delete_secret(name):
                raise NotFound(f"no secret {name!r}")

    async def rotate(self) -> int:
        """Re-encrypt every secret with the first key; return how many."""
        async with self._store.transaction() as tx:
            names = await tx.secrets.secret_names()
            for name in names:
                ciphertext = await tx.secrets.get_secret(name)
                if ciphertext is None:
                    continue
                try:
                    rotated = self._box.rotate(ciphertext.encode()).decode()
                except InvalidToken:
                    raise _undecryptable(name) from None  # and nothing is re-encrypted
                await tx.secrets.put_secret(name, rotated)
        return len(names)


def _undecryptable(name: str) -> InvalidInput:
    return InvalidInput(f"secret {name!r} was encrypted with a key not in CHATORCH_SECRET_KEYS")


def new_key() -> str:
    return Fernet.generate_key().decode()
