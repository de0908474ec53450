"""Vault: secrets (provider keys, bots' credentials) stored encrypted with Fernet.

``CHATORCH_SECRET_KEYS`` holds one or more Fernet keys, comma-separated: the first
encrypts, every one decrypts. To rotate: put a new key first, run
``chatorch secrets rotate`` (every secret and every bot's credentials are re-encrypted
with it), then drop the old one.
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

    def seal(self, value: str) -> str:
        """Encrypt ``value`` with the first key, for a caller that stores it itself."""
        return self._box.encrypt(value.encode()).decode()

    def unseal(self, ciphertext: str, *, what: str) -> str:
        """Decrypt what ``seal`` made, with any key.

        Raises:
            InvalidInput: no key decrypts it; the message calls it ``what``.
        """
        try:
            return self._box.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise _undecryptable(what) from None

    async def put(self, name: str, value: str) -> None:
        if not value:
            raise InvalidInput("a secret cannot be empty")
        ciphertext = self.seal(value)
        async with self._store.transaction() as tx:
            await tx.secrets.put_secret(name, ciphertext)

    async def get(self, name: str) -> str | None:
        async with self._store.transaction() as tx:
            ciphertext = await tx.secrets.get_secret(name)
        return None if ciphertext is None else self.unseal(ciphertext, what=f"secret {name!r}")

    async def names(self) -> Sequence[str]:
        async with self._store.transaction() as tx:
            return await tx.secrets.secret_names()

    async def delete(self, name: str) -> None:
        async with self._store.transaction() as tx:
            if not await tx.secrets.delete_secret(name):
                raise NotFound(f"no secret {name!r}")

    async def rotate(self) -> int:
        """Re-encrypt every secret and every bot's credentials with the first key, in
        one transaction; return how many. One that no key decrypts changes nothing."""
        async with self._store.transaction() as tx:
            names = await tx.secrets.secret_names()
            for name in names:
                ciphertext = await tx.secrets.get_secret(name)
                if ciphertext is not None:
                    rotated = self._rotated(ciphertext, what=f"secret {name!r}")
                    await tx.secrets.put_secret(name, rotated)
            bots = await tx.bots.bot_ciphertexts()
            for bot_id, ciphertext in bots:
                rotated = self._rotated(ciphertext, what=f"bot {bot_id}'s credentials")
                await tx.bots.put_bot_ciphertext(bot_id, rotated)
        return len(names) + len(bots)

    def _rotated(self, ciphertext: str, *, what: str) -> str:
        try:
            return self._box.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise _undecryptable(what) from None  # and the transaction re-encrypts nothing


def _undecryptable(what: str) -> InvalidInput:
    return InvalidInput(f"{what} was encrypted with a key not in CHATORCH_SECRET_KEYS")


def new_key() -> str:
    return Fernet.generate_key().decode()
