"""The store named by CHATORCH_DATABASE_URL, its migrations, and the secrets vault on it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from chatorch.adapters.sql import migrate
from chatorch.adapters.sql.store import connect
from chatorch.domain.entities import User
from chatorch.ports.store import Store
from chatorch.services.auth import Authenticator
from chatorch.services.secrets import Vault
from chatorch.settings import Settings
from chatorch.wiring.startup import StartupError, connecting

LOCAL_USER = "local"  # who every request is when API keys are not required
_SETTING = "CHATORCH_DATABASE_URL"


async def build_store(settings: Settings, stack: AsyncExitStack, *, migrated: bool) -> Store:
    """The store, answering; ``migrated``: brought to the latest schema first."""
    if migrated:
        await connecting(_SETTING, asyncio.to_thread(migrate.upgrade, settings.database_url))
    connected = connect(settings.database_url, pool_size=settings.database_pool_size)
    store = await connecting(_SETTING, connected)
    stack.push_async_callback(store.close)
    await connecting(_SETTING, store.ping())
    return store


async def local_user(store: Store) -> User:
    async with store.transaction() as tx:
        return await tx.users.ensure_user(LOCAL_USER)


def vault_for(settings: Settings, store: Store) -> Vault | None:
    """The vault over ``store`` with CHATORCH_SECRET_KEYS; None when no key is set."""
    if settings.secret_keys is None:
        return None
    keys = [k for k in settings.secret_keys.get_secret_value().split(",") if k.strip()]
    try:
        return Vault(store, keys)
    except ValueError as error:
        raise StartupError(f"CHATORCH_SECRET_KEYS: not Fernet keys ({error})") from None


@asynccontextmanager
async def store_only(settings: Settings) -> AsyncIterator[Authenticator]:
    """Just the store (migrated) and what manages keys: for `chatorch keys`."""
    async with AsyncExitStack() as stack:
        store = await build_store(settings, stack, migrated=True)
        user = await local_user(store)
        yield Authenticator(store, verifier=None, required=True, local_user=user)


def migrate_database(url: str, *, downgrade: str | None = None) -> str | None:
    """Upgrade to the latest schema (or down to ``downgrade``); return the revision reached."""
    try:
        if downgrade is None:
            migrate.upgrade(url)
        else:
            migrate.downgrade(url, downgrade)
        return migrate.current(url)
    except Exception as error:
        raise StartupError(f"{_SETTING}: {type(error).__name__}: {error}") from error
