"""The vault keeps secrets encrypted in the store, and rotates its key."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatorch.adapters.sql.migrate import upgrade
from chatorch.adapters.sql.store import SqlStore, connect
from chatorch.domain.errors import InvalidInput
from chatorch.services.secrets import Vault, new_key


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    url = f"sqlite+aiosqlite:///{tmp_path}/vault.db"
    upgrade(url)
    adapter = await connect(url)
    yield adapter
    await adapter.close()


async def _raw(store: SqlStore, name: str) -> str | None:
    async with store.transaction() as tx:
        return await tx.secrets.get_secret(name)


class TestVault:
    async def test_values_are_stored_encrypted_and_read_back(self, store: SqlStore) -> None:
        vault = Vault(store, [new_key()])
        await vault.put("openai_api_key", "sk-very-secret")
        raw = await _raw(store, "openai_api_key")
        assert raw is not None
        assert "sk-very-secret" not in raw
        assert await vault.get("openai_api_key") == "sk-very-secret"
        assert await vault.get("missing") is None
        assert list(await vault.names()) == ["openai_api_key"]

    async def test_rotation_moves_every_secret_to_the_new_key(self, store: SqlStore) -> None:
        old, new = new_key(), new_key()
        await Vault(store, [old]).put("token", "t-1")
        before = await _raw(store, "token")
        assert await Vault(store, [new, old]).rotate() == 1
        assert await _raw(store, "token") != before
        assert await Vault(store, [new]).get("token") == "t-1"  # the old key can go

    async def test_a_secret_under_an_unknown_key_says_so(self, store: SqlStore) -> None:
        await Vault(store, [new_key()]).put("token", "t-1")
        with pytest.raises(InvalidInput, match="not in CHATORCH_SECRET_KEYS"):
            await Vault(store, [new_key()]).get("token")
